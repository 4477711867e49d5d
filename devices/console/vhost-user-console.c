// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-console: a virtio console device (virtio spec 5.3, device
 * id 3) served over vhost-user, its one port bridged to a host-side stream.
 *
 * One port, no MULTIPORT: queue 0 is receiveq (host -> driver, the driver
 * posts device-writable buffers), queue 1 is transmitq (driver -> host).
 * Linux makes such a port a console: /dev/hvc0 (the first one). The host
 * side is chosen on the command line:
 *
 *	--unix PATH	listen on a unix stream socket; one client at a time
 *			is the other end of the line (socat, a terminal
 *			program); the next one waits in the backlog until
 *			the current one leaves
 *	--pty		create a pseudo-terminal and print "pty /dev/pts/N"
 *			on stdout; open that path to talk to the driver
 *
 *	vhost-user-console --socket-path /run/con.sock --unix /run/con.line \
 *		--cols 132 --rows 43
 *	virtio-loopback-adapter --socket /run/con.sock --device console
 *	socat -,raw,echo=0 UNIX-CONNECT:/run/con.line
 *
 * --cols and --rows offer VIRTIO_CONSOLE_F_SIZE with that window size in
 * the config space (the library answers GET_CONFIG from con_get_config).
 * Linux reads the size only on a config-change interrupt, and its hvc
 * layer applies it only to an open tty, so the size is announced
 * (VHOST_USER_BACKEND_CONFIG_CHANGE_MSG) when the driver starts, each time
 * a --unix client connects, and on SIGWINCH (with --pty, the size the
 * pty's user set, TIOCSWINSZ on /dev/pts/N, wins when it is non-zero).
 *
 * Flow control, no byte dropped: bytes from the host side are read only
 * while the receive buffer has room, and leave it only into buffers the
 * driver posted. Bytes of the driver are taken off transmitq into the
 * transmit buffer only while it holds less than CON_TX_LIMIT; beyond that
 * chains stay in the ring until the host side reads. Chains are copied
 * and completed at once rather than held: Linux's console path (hvc
 * put_chars) spins with interrupts off until its chain comes back, so a
 * held chain would stall a CPU of the driver's machine. When a --unix
 * client leaves, what it had not read yet stays for the next one. With
 * --pty the back-end keeps the pty's other side open itself, so bytes wait
 * in the pty while nobody has it open and its raw mode stays set.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "vlb.h"
#include "vlb_compiler.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

/* virtio spec 5.3.2 and 5.3.3 */
#define CON_RXQ			0	/* receiveq(port0) */
#define CON_TXQ			1	/* transmitq(port0) */
#define CON_QUEUES		2
#define CON_F_SIZE		0	/* VIRTIO_CONSOLE_F_SIZE */

/* virtio spec 5.3.4: struct virtio_console_config, little-endian. */
#define CON_CFG_COLS		0
#define CON_CFG_ROWS		2
#define CON_CFG_MAX_NR_PORTS	4
#define CON_CFG_EMERG_WR	8
#define CON_CFG_SIZE		12

/* Bytes read from the host side, waiting for receive buffers. */
#define CON_RX_CAP		(64 * 1024)

/*
 * Transmit chains are taken off the ring while fewer bytes than this wait
 * for the host side. Large enough that a slow reader never stalls the
 * driver's console writes (see above), small enough to bound our memory.
 */
#define CON_TX_LIMIT		(1024 * 1024)

/*
 * Longest transmit chain accepted. Linux sends at most a page per console
 * write and 32 KiB per port write; longer is a driver gone wrong.
 */
#define CON_TX_CHAIN_MAX	(1024 * 1024)

/* Chains served per queue_kick before yielding to the event loop. */
#define CON_BUDGET		256

/**
 * struct con - the console device
 * @unix_path: --unix PATH, or NULL
 * @pty: --pty given
 * @cols: --cols, 0 when not given
 * @rows: --rows, 0 when not given
 * @dev: the library's device (set in setup)
 * @obj: object name of the host side in log lines
 * @listen_fd: --unix listening socket, or -1
 * @listening: @listen_fd is watched (no client connected)
 * @peer_fd: the host side: the pty master or the connected client; or -1
 * @peer_events: what @peer_fd is watched for; 0 when not watched
 * @pty_slave: our own fd of the pty's other side (see the header), or -1
 * @pty_name: its path
 * @winch_fd: signalfd of SIGWINCH, or -1
 * @size_pending: announce the window size at the next receiveq kick
 * @rx_buf: bytes from the host side, @rx_len of them at @rx_off
 * @tx_buf: bytes for the host side, @tx_len of them at @tx_off; @tx_cap
 *	bytes allocated
 * @rx_total: bytes delivered to the driver, for the log
 * @tx_total: bytes written to the host side, for the log
 */
struct con {
	const char *unix_path;
	bool pty;
	uint16_t cols;
	uint16_t rows;
	struct vlb_dev *dev;
	const char *obj;
	int listen_fd;
	bool listening;
	int peer_fd;
	short peer_events;
	int pty_slave;
	char pty_name[64];
	int winch_fd;
	bool size_pending;
	uint8_t rx_buf[CON_RX_CAP];
	size_t rx_off;
	size_t rx_len;
	uint8_t *tx_buf;
	size_t tx_cap;
	size_t tx_off;
	size_t tx_len;
	uint64_t rx_total;
	uint64_t tx_total;
};

static struct con con = {
	.listen_fd = -1,
	.peer_fd = -1,
	.pty_slave = -1,
	.winch_fd = -1,
};

static void con_peer_cb(struct vlb_dev *dev, int fd, short revents, void *opaque);
static void con_listen_cb(struct vlb_dev *dev, int fd, short revents, void *opaque);

/* Host side ---------------------------------------------------------------- */

/* Watch the host side for what we can do now: read with room, write with data. */
static void con_peer_watch(struct con *c)
{
	short ev = 0;
	int ret;

	if (c->peer_fd < 0)
		return;
	if (c->rx_len < CON_RX_CAP)
		ev |= POLLIN;
	if (c->tx_len)
		ev |= POLLOUT;
	if (ev == c->peer_events)
		return;
	/*
	 * Not watching at all while there is nothing to do: a hung-up peer
	 * reports POLLHUP whatever we ask for, and we would spin on it.
	 */
	if (c->peer_events)
		vlb_dev_remove_watch(c->dev, c->peer_fd);
	c->peer_events = 0;
	if (!ev)
		return;
	ret = vlb_dev_add_watch(c->dev, c->peer_fd, ev, con_peer_cb, c);
	if (ret)
		vlb_err(c->obj, "watch: %s", strerror(-ret));
	else
		c->peer_events = ev;
}

static void con_listen_watch(struct con *c, bool on)
{
	int ret;

	if (c->listen_fd < 0 || c->listening == on)
		return;
	if (!on) {
		vlb_dev_remove_watch(c->dev, c->listen_fd);
		c->listening = false;
		return;
	}
	ret = vlb_dev_add_watch(c->dev, c->listen_fd, POLLIN, con_listen_cb, c);
	if (ret)
		vlb_err(c->obj, "watch: %s", strerror(-ret));
	else
		c->listening = true;
}

/* The host side left or failed; @why is the reason for the log. */
static void con_peer_close(struct con *c, const char *why)
{
	if (c->peer_events)
		vlb_dev_remove_watch(c->dev, c->peer_fd);
	c->peer_events = 0;
	close(c->peer_fd);
	c->peer_fd = -1;
	if (c->listen_fd < 0) {
		vlb_err(c->obj, "%s; the console has no host side any more", why);
		return;
	}
	vlb_log(c->obj, "client disconnected (%s); %zu bytes kept for the next client, %zu bytes from it not yet delivered",
		why, c->tx_len, c->rx_len);
	con_listen_watch(c, true);
}

/*
 * Tell the driver to re-read the window size. Only with F_SIZE negotiated
 * and a running driver; the front-end may also lack the back-end channel.
 */
static void con_announce_size(struct con *c)
{
	int ret;

	if (!(vlb_dev_features(c->dev) & (1ULL << CON_F_SIZE)) ||
	    vlb_dev_socket(c->dev) < 0 ||
	    !vlb_vq_ready(vlb_dev_vq(c->dev, CON_RXQ)))
		return;
	ret = vlb_dev_config_changed(c->dev);
	if (ret)
		vlb_log(vlb_dev_name(c->dev), "window size %ux%u not announced: %s",
			c->cols, c->rows, strerror(-ret));
	else
		vlb_dbg(VLB_DBG_DEV, vlb_dev_name(c->dev), "window size %ux%u announced",
			c->cols, c->rows);
}

/* Receive path (host -> driver) ------------------------------------------- */

/* Copy waiting host bytes into the driver's receive buffers. */
static void con_rx_run(struct con *c)
{
	struct vlb_vq *vq = vlb_dev_vq(c->dev, CON_RXQ);
	struct vlb_vq_elem *elem;
	unsigned int served = 0;
	int ret = 0;

	while (c->rx_len && served < CON_BUDGET &&
	       (ret = vlb_vq_pop(vq, &elem)) == 0) {
		uint32_t done = 0;
		unsigned int i;

		for (i = 0; i < elem->in_num && c->rx_len; i++) {
			size_t n = elem->in_sg[i].iov_len;

			if (n > c->rx_len)
				n = c->rx_len;
			memcpy(elem->in_sg[i].iov_base, c->rx_buf + c->rx_off, n);
			c->rx_off += n;
			c->rx_len -= n;
			done += n;
		}
		if (!elem->in_num)
			vlb_err(vlb_dev_name(c->dev), "vq %u: receive chain %u has no device-writable buffer",
				CON_RXQ, elem->index);
		vlb_vq_push(vq, elem, done);
		free(elem);
		c->rx_total += done;
		served++;
	}
	if (!c->rx_len)
		c->rx_off = 0;
	if (c->rx_len && served == CON_BUDGET)
		vlb_vq_kick_later(vq);
	if (ret == -ENOMEM)
		vlb_err(vlb_dev_name(c->dev), "vq %u: %s", CON_RXQ, strerror(-ret));
	if (served) {
		vlb_vq_flush(vq);
		ret = vlb_vq_notify(vq);
		if (ret)
			vlb_err(vlb_dev_name(c->dev), "vq %u: call eventfd: %s", CON_RXQ,
				strerror(-ret));
	}
	con_peer_watch(c);
}

/* The host side is readable: take what fits. */
static void con_peer_read(struct con *c)
{
	ssize_t n;

	if (c->rx_off && c->rx_off + c->rx_len == CON_RX_CAP) {
		memmove(c->rx_buf, c->rx_buf + c->rx_off, c->rx_len);
		c->rx_off = 0;
	}
	if (c->rx_off + c->rx_len == CON_RX_CAP)
		return;
	n = read(c->peer_fd, c->rx_buf + c->rx_off + c->rx_len,
		 CON_RX_CAP - c->rx_off - c->rx_len);
	if (n > 0) {
		c->rx_len += n;
		con_rx_run(c);
		return;
	}
	if (n == 0) {
		con_peer_close(c, "end of stream");
	} else if (errno != EAGAIN && errno != EINTR) {
		char why[80];

		snprintf(why, sizeof(why), "read: %s", strerror(errno));
		con_peer_close(c, why);
	}
}

/* Transmit path (driver -> host) ------------------------------------------ */

/* Room for @n more bytes in the transmit buffer; returns 0 or -ENOMEM. */
static int con_tx_reserve(struct con *c, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (c->tx_off + c->tx_len + n <= c->tx_cap)
		return 0;
	if (c->tx_len)
		memmove(c->tx_buf, c->tx_buf + c->tx_off, c->tx_len);
	c->tx_off = 0;
	if (c->tx_len + n <= c->tx_cap)
		return 0;
	cap = c->tx_cap ? c->tx_cap : 64 * 1024;
	while (cap < c->tx_len + n)
		cap *= 2;
	p = realloc(c->tx_buf, cap);
	if (!p)
		return -ENOMEM;
	c->tx_buf = p;
	c->tx_cap = cap;
	return 0;
}

/* Append the device-readable part of @elem to the transmit buffer. */
static void con_tx_take(struct con *c, const struct vlb_vq_elem *elem)
{
	const char *name = vlb_dev_name(c->dev);
	size_t total = 0;
	unsigned int i;

	for (i = 0; i < elem->out_num; i++) {
		if (elem->out_sg[i].iov_len > CON_TX_CHAIN_MAX - total) {
			vlb_err(name, "vq %u: transmit chain %u longer than %u bytes: refused",
				CON_TXQ, elem->index, CON_TX_CHAIN_MAX);
			return;
		}
		total += elem->out_sg[i].iov_len;
	}
	if (!total)
		return;
	if (con_tx_reserve(c, total)) {
		vlb_err(name, "vq %u: transmit chain %u: %zu bytes lost: %s",
			CON_TXQ, elem->index, total, strerror(ENOMEM));
		return;
	}
	for (i = 0; i < elem->out_num; i++) {
		memcpy(c->tx_buf + c->tx_off + c->tx_len, elem->out_sg[i].iov_base,
		       elem->out_sg[i].iov_len);
		c->tx_len += elem->out_sg[i].iov_len;
	}
}

/*
 * Take transmit chains while the buffer is under its limit. Returns true
 * when chains were taken. Kicks stay off while we stop for the limit: the
 * writer calls us again when the host side has read.
 */
static bool con_tx_pull(struct con *c)
{
	struct vlb_vq *vq = vlb_dev_vq(c->dev, CON_TXQ);
	struct vlb_vq_elem *elem;
	unsigned int served = 0;
	int ret;

	if (!vlb_vq_ready(vq))
		return false;
	vlb_vq_set_notification(vq, false);
	for (;;) {
		if (c->tx_len >= CON_TX_LIMIT)
			break;
		if (served == CON_BUDGET) {
			vlb_vq_kick_later(vq);
			break;
		}
		ret = vlb_vq_pop(vq, &elem);
		if (ret == -EAGAIN) {
			/* Look once more after enabling: a chain may have slipped in. */
			vlb_vq_set_notification(vq, true);
			if (vlb_vq_empty(vq))
				break;
			vlb_vq_set_notification(vq, false);
			continue;
		}
		if (ret) {
			if (ret == -ENOMEM)
				vlb_err(vlb_dev_name(c->dev), "vq %u: %s", CON_TXQ,
					strerror(-ret));
			break;
		}
		con_tx_take(c, elem);
		/* Transmit buffers are only read: the used length is 0. */
		vlb_vq_push(vq, elem, 0);
		free(elem);
		served++;
	}
	if (!served)
		return false;
	vlb_vq_flush(vq);
	ret = vlb_vq_notify(vq);
	if (ret)
		vlb_err(vlb_dev_name(c->dev), "vq %u: call eventfd: %s", CON_TXQ,
			strerror(-ret));
	return true;
}

/* Write what the host side takes now; returns true on progress. */
static bool con_peer_write(struct con *c)
{
	ssize_t n;

	if (c->peer_fd < 0 || !c->tx_len)
		return false;
	n = write(c->peer_fd, c->tx_buf + c->tx_off, c->tx_len);
	if (n > 0) {
		c->tx_off += n;
		c->tx_len -= n;
		c->tx_total += n;
		if (!c->tx_len)
			c->tx_off = 0;
		return true;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		char why[80];

		snprintf(why, sizeof(why), "write: %s", strerror(errno));
		con_peer_close(c, why);
	}
	return false;
}

/* Move bytes from the ring to the host side until neither moves. */
static void con_tx_run(struct con *c)
{
	bool progress;

	do {
		progress = con_tx_pull(c);
		progress |= con_peer_write(c);
	} while (progress && c->peer_fd >= 0);
	con_peer_watch(c);
}

/* Watches ------------------------------------------------------------------ */

static void con_peer_cb(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct con *c = opaque;

	(void)dev;
	(void)fd;
	if (revents & POLLOUT)
		con_tx_run(c);
	/* Read on hang-up too: what the peer sent before leaving counts. */
	if (c->peer_fd >= 0 && (revents & (POLLIN | POLLHUP | POLLERR))) {
		if (c->rx_len < CON_RX_CAP)
			con_peer_read(c);
		else
			con_peer_watch(c);
	}
}

static void con_listen_cb(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct con *c = opaque;
	int conn;

	(void)dev;
	(void)revents;
	conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (conn < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			vlb_err(c->obj, "accept: %s", strerror(errno));
		return;
	}
	c->peer_fd = conn;
	con_listen_watch(c, false);
	vlb_log(c->obj, "client connected; %zu bytes waiting for it", c->tx_len);
	con_announce_size(c);
	con_tx_run(c);
	con_peer_watch(c);
}

/* SIGWINCH: announce the size again; a pty's own size wins when set. */
static void con_winch_cb(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct con *c = opaque;
	struct signalfd_siginfo si;
	struct winsize ws;

	(void)dev;
	(void)revents;
	while (read(fd, &si, sizeof(si)) == sizeof(si))
		;
	if (c->pty_slave >= 0 && ioctl(c->pty_slave, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col && ws.ws_row) {
		c->cols = ws.ws_col;
		c->rows = ws.ws_row;
	}
	con_announce_size(c);
}

/* Device callbacks ----------------------------------------------------------- */

static uint64_t con_get_features(struct vlb_dev *dev)
{
	struct con *c = vlb_dev_priv(dev);
	uint64_t f = (1ULL << VLB_F_VERSION_1) |
		     (1ULL << VLB_F_EVENT_IDX) |
		     (1ULL << VLB_F_INDIRECT_DESC) |
		     (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);

	if (c->cols)
		f |= 1ULL << CON_F_SIZE;
	return f;
}

static int con_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			  uint32_t len)
{
	struct con *c = vlb_dev_priv(dev);
	uint8_t cfg[CON_CFG_SIZE] = { 0 };

	if (offset > CON_CFG_SIZE || len > CON_CFG_SIZE - offset)
		return -EINVAL;
	cfg[CON_CFG_COLS] = c->cols & 0xff;
	cfg[CON_CFG_COLS + 1] = c->cols >> 8;
	cfg[CON_CFG_ROWS] = c->rows & 0xff;
	cfg[CON_CFG_ROWS + 1] = c->rows >> 8;
	/* Meaningful only with MULTIPORT, which we do not offer. */
	cfg[CON_CFG_MAX_NR_PORTS] = 1;
	memcpy(buf, cfg + offset, len);
	return 0;
}

static void con_queue_set_started(struct vlb_dev *dev, unsigned int qidx,
				  bool started)
{
	struct con *c = vlb_dev_priv(dev);

	/* The driver (re)started: its tty has the size after the next kick. */
	if (qidx == CON_RXQ && started)
		c->size_pending = true;
}

static void con_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct con *c = vlb_dev_priv(dev);

	if (qidx == CON_RXQ) {
		if (c->size_pending) {
			c->size_pending = false;
			con_announce_size(c);
		}
		con_rx_run(c);
	} else {
		con_tx_run(c);
	}
}

static const struct vlb_dev_iface con_iface = {
	.get_features		= con_get_features,
	.get_config		= con_get_config,
	/* Nothing in the config space is writable (no F_EMERG_WRITE). */
	.set_config		= vlb_config_read_only,
	.queue_set_started	= con_queue_set_started,
	.queue_kick		= con_queue_kick,
};

/* Program ------------------------------------------------------------------ */

static const struct vlb_backend_option con_options[] = {
	{ "unix", "PATH", "host side: listen on this unix socket, one client at a time" },
	{ "pty", NULL, "host side: a new pty; prints \"pty /dev/pts/N\" on stdout" },
	{ "cols", "N", "window width (with --rows): offers VIRTIO_CONSOLE_F_SIZE" },
	{ "rows", "N", "window height (with --cols)" },
	{ NULL, NULL, NULL },
};

static int con_parse_size(const char *name, const char *arg, uint16_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > UINT16_MAX) {
		vlb_err(arg, "--%s: not a number from 1 to %u", name, UINT16_MAX);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int con_parse_option(void *priv, const char *name, const char *arg)
{
	struct con *c = priv;

	if (!strcmp(name, "unix")) {
		c->unix_path = arg;
		return 0;
	}
	if (!strcmp(name, "pty")) {
		c->pty = true;
		return 0;
	}
	if (!strcmp(name, "cols"))
		return con_parse_size(name, arg, &c->cols);
	return con_parse_size(name, arg, &c->rows);
}

/* A pty in raw mode; we keep its other side open (see the header). */
static int con_open_pty(struct con *c)
{
	struct termios t;
	int fd;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		vlb_err("pty", "posix_openpt: %s", strerror(errno));
		return -errno;
	}
	c->peer_fd = fd;
	if (grantpt(fd) || unlockpt(fd) ||
	    ptsname_r(fd, c->pty_name, sizeof(c->pty_name))) {
		vlb_err("pty", "grantpt/unlockpt/ptsname: %s", strerror(errno));
		return -errno;
	}
	c->pty_slave = open(c->pty_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pty_slave < 0) {
		vlb_err(c->pty_name, "open: %s", strerror(errno));
		return -errno;
	}
	if (tcgetattr(c->pty_slave, &t)) {
		vlb_err(c->pty_name, "tcgetattr: %s", strerror(errno));
		return -errno;
	}
	cfmakeraw(&t);
	if (tcsetattr(c->pty_slave, TCSANOW, &t)) {
		vlb_err(c->pty_name, "tcsetattr: %s", strerror(errno));
		return -errno;
	}
	if (c->cols) {
		struct winsize ws = { .ws_row = c->rows, .ws_col = c->cols };

		if (ioctl(c->pty_slave, TIOCSWINSZ, &ws)) {
			vlb_err(c->pty_name, "TIOCSWINSZ: %s", strerror(errno));
			return -errno;
		}
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK)) {
		vlb_err(c->pty_name, "fcntl: %s", strerror(errno));
		return -errno;
	}
	c->obj = c->pty_name;
	printf("pty %s\n", c->pty_name);
	if (fflush(stdout)) {
		vlb_err("stdout", "%s", strerror(errno));
		return -EIO;
	}
	vlb_log(c->pty_name, "host side of the console");
	return 0;
}

static int con_open_unix(struct con *c)
{
	int ret;

	ret = vlb_listen_unix(c->unix_path, &c->listen_fd);
	if (ret) {
		vlb_err(c->unix_path, "listen: %s", ret == -EEXIST ?
			"exists and is not a socket" : strerror(-ret));
		return ret;
	}
	if (fcntl(c->listen_fd, F_SETFL, O_NONBLOCK)) {
		vlb_err(c->unix_path, "fcntl: %s", strerror(errno));
		return -errno;
	}
	c->obj = c->unix_path;
	vlb_log(c->unix_path, "host side of the console: waiting for a client");
	return 0;
}

/* SIGWINCH through a signalfd; blocked so that it does not interrupt. */
static int con_open_winch(struct con *c)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		vlb_err("SIGWINCH", "sigprocmask: %s", strerror(errno));
		return -errno;
	}
	c->winch_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->winch_fd < 0) {
		vlb_err("SIGWINCH", "signalfd: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static void con_teardown(struct vlb_dev *dev)
{
	struct con *c = vlb_dev_priv(dev);

	if (c->tx_len)
		vlb_log(c->obj, "exiting with %zu bytes the host side never read", c->tx_len);
	if (c->peer_fd >= 0)
		close(c->peer_fd);
	if (c->pty_slave >= 0)
		close(c->pty_slave);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->unix_path);
	}
	if (c->winch_fd >= 0)
		close(c->winch_fd);
	c->peer_fd = c->pty_slave = c->listen_fd = c->winch_fd = -1;
	free(c->tx_buf);
	c->tx_buf = NULL;
}

static int con_setup(struct vlb_dev *dev)
{
	struct con *c = vlb_dev_priv(dev);
	int ret;

	c->dev = dev;
	if (!c->unix_path == !c->pty) {
		vlb_err(NULL, "exactly one of --unix and --pty is required (see --help)");
		return -EINVAL;
	}
	if (!c->cols != !c->rows) {
		vlb_err(NULL, "--cols and --rows go together");
		return -EINVAL;
	}
	ret = c->pty ? con_open_pty(c) : con_open_unix(c);
	if (!ret)
		ret = con_open_winch(c);
	if (!ret) {
		ret = vlb_dev_add_watch(dev, c->winch_fd, POLLIN, con_winch_cb, c);
		if (ret)
			vlb_err("SIGWINCH", "watch: %s", strerror(-ret));
	}
	if (!ret && c->listen_fd >= 0)
		con_listen_watch(c, true);
	if (!ret)
		con_peer_watch(c);
	if (ret)
		con_teardown(dev);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct vlb_backend console = {
		.name		= "vhost-user-console",
		.type		= "console",
		.version	= VLB_VERSION,
		.iface		= &con_iface,
		.nr_vqs		= CON_QUEUES,
		.priv		= &con,
		.options	= con_options,
		.parse_option	= con_parse_option,
		.setup		= con_setup,
		.teardown	= con_teardown,
	};

	return vlb_backend_main(&console, argc, argv);
}
