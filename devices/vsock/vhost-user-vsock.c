// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-vsock: a virtio socket device (virtio spec 5.10, device id 19)
 * served over vhost-user, bridged to unix sockets the way Firecracker's and
 * rust-vmm's "hybrid vsock" does it.
 *
 *	vhost-user-vsock --socket-path /run/vsock.sock --guest-cid 3 \
 *		--uds-path /run/vsock.uds
 *	virtio-loopback-adapter --socket /run/vsock.sock --device vsock
 *
 * The driver's machine gets the CID of --guest-cid (config space, le64
 * guest_cid) and reaches the host, CID 2, only:
 *
 *	driver connects to (2, P)	we connect to the unix socket PATH_P
 *					(PATH is --uds-path), or answer RST
 *	a host program connects to	it sends "CONNECT P\n"; we send REQUEST
 *	PATH				to port P of the driver; on RESPONSE it
 *					reads "OK <our port>\n" and the stream
 *					follows; a refusal or a bad line is
 *					"ERR <why>\n" and the socket closed
 *
 * Queues (5.10.2): 0 rx (device -> driver), 1 tx (driver -> device),
 * 2 event. Only stream sockets (no VIRTIO_VSOCK_F_SEQPACKET).
 *
 * Flow control (5.10.6.3): every packet carries the sender's buf_alloc and
 * fwd_cnt. Toward the driver, we read a unix socket only while the
 * driver's credit (its buf_alloc minus what we sent and it did not
 * forward yet) has room, so the driver's buffer is never overrun; bytes
 * wait in the stream socket, not here. From the driver, we accept what
 * our credit allowed (VSOCK_BUF_ALLOC per connection) and forward it to
 * the unix socket as it drains, announcing the new fwd_cnt
 * (CREDIT_UPDATE) before the driver can run out. A driver that sends
 * beyond its credit is reset: nothing it sent is dropped silently.
 *
 * Bad packets from the driver (short header, length beyond the buffer,
 * wrong type, unknown op, payload on a control op, a source CID that is
 * not the driver's) are counted and answered with RST when an answer can
 * be addressed, or dropped (a wrong source CID, an RST); the counters are
 * logged when the front-end leaves.
 *
 * All sockets (the PATH listener, every connection, a 1 s timer for the
 * timeouts) are in one epoll fd, which is the device's one watch in the
 * library's event loop: any number of connections, one thread.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vlb.h"
#include "vlb_compiler.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

/* virtio spec 5.10.2 */
#define VSOCK_RXQ		0
#define VSOCK_TXQ		1
#define VSOCK_EVQ		2
#define VSOCK_QUEUES		3

/* 5.10.4: struct virtio_vsock_config { le64 guest_cid; } */
#define VSOCK_CFG_SIZE		8

/* Well-known CIDs (include/uapi/linux/vm_sockets.h). */
#define VSOCK_HOST_CID		2U
#define VSOCK_MAX_GUEST_CID	0xfffffffeU	/* u32 in Linux, -1 is ANY */
#define VSOCK_PORT_ANY		0xffffffffU

/* 5.10.6: struct virtio_vsock_hdr, 44 bytes, little-endian, packed. */
#define VSOCK_HDR_SIZE		44
#define VSOCK_TYPE_STREAM	1
#define VSOCK_OP_INVALID	0
#define VSOCK_OP_REQUEST	1
#define VSOCK_OP_RESPONSE	2
#define VSOCK_OP_RST		3
#define VSOCK_OP_SHUTDOWN	4
#define VSOCK_OP_RW		5
#define VSOCK_OP_CREDIT_UPDATE	6
#define VSOCK_OP_CREDIT_REQUEST	7
#define VSOCK_SHUTDOWN_RCV	1U
#define VSOCK_SHUTDOWN_SEND	2U
#define VSOCK_SHUTDOWN_BOTH	(VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)

/* 5.10.6.5: struct virtio_vsock_event { le32 id; } */
#define VSOCK_EVENT_TRANSPORT_RESET	0
#define VSOCK_EVENT_SIZE		4

/* Largest payload of one packet (Linux: VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT		(64 * 1024)

/* Our receive buffer per connection: the buf_alloc we announce. */
#define VSOCK_BUF_ALLOC		(256 * 1024)

/* Bytes read from a stream socket, waiting for rx buffers and credit. */
#define VSOCK_STAGE		(64 * 1024)

/* Longest "CONNECT <port>\n" line a host program may send. */
#define VSOCK_LINE_MAX		64

/* Open connections at most; more are refused (RST, or "ERR"). */
#define VSOCK_MAX_CONNS		1024

/* Seconds for a CONNECT line, and for the driver to answer a REQUEST. */
#define VSOCK_LINE_TIMEOUT	10
#define VSOCK_CONNECT_TIMEOUT	10

/* Host-side ports of host-initiated connections start here. */
#define VSOCK_LOCAL_PORT_BASE	0x40000000U

/* Chains served per queue_kick before yielding to the event loop. */
#define VSOCK_BUDGET		256

/* Bad-packet lines logged in full; after that, every 1000th. */
#define VSOCK_LOG_FIRST		20

/* epoll tags besides connection pointers. */
#define VSOCK_TAG_LISTEN	1
#define VSOCK_TAG_TIMER		2

/**
 * struct vsock_hdr - a packet header, decoded to host byte order
 * (fields as in virtio spec 5.10.6)
 */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

/* What to do with a packet from the driver (vsock_pkt_check). */
enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_DROP,		/* count, answer nothing */
	VSOCK_PKT_RST,		/* count, answer RST */
};

enum conn_state {
	CONN_LINE,		/* host program connected, CONNECT line due */
	CONN_CONNECTING,	/* REQUEST to the driver pending or sent */
	CONN_ESTABLISHED,
	CONN_DEAD,		/* socket closed; an RST is due, then freed */
};

/* Packets a connection owes the driver (struct conn.pending). */
#define P_REQUEST		0x01U
#define P_RESPONSE		0x02U
#define P_SHUTDOWN		0x04U
#define P_CREDIT_UPDATE		0x08U
#define P_CREDIT_REQUEST	0x10U
#define P_RST			0x20U

/**
 * struct conn - one stream between a driver socket and a unix socket
 * @next: list of all connections (struct vsock.conns)
 * @rx_next: list of connections with something for the driver
 * @on_rx: on that list
 * @gone: freed at the end of the current handler (struct vsock.graveyard)
 * @fd: the unix stream socket, or -1 once closed
 * @ev: events @fd is registered for in epoll
 * @in_epoll: @fd is in epoll
 * @hup: epoll reported HUP: the socket is closed both ways, @fd left epoll
 * @state: enum conn_state
 * @host_initiated: a host program connected to PATH (else the driver)
 * @local_port: our (host, CID 2) port
 * @peer_port: the driver's port
 * @pending: P_* packets owed to the driver
 * @deadline: CLOCK_MONOTONIC second by which @state must move on, or 0
 * @stage: bytes read from @fd for the driver, @st_len of them at @st_off
 * @tx_cnt: payload bytes sent to the driver
 * @peer_buf_alloc: the driver's buf_alloc (from its last packet)
 * @peer_fwd_cnt: the driver's fwd_cnt (from its last packet)
 * @credit_asked: CREDIT_REQUEST sent since the credit last changed
 * @host_eof: @fd reached end of file (the host program shut its writes)
 * @shut_sent: SHUTDOWN(SEND) sent or queued after @host_eof
 * @out: ring of VSOCK_BUF_ALLOC bytes from the driver for @fd, @out_len
 *	of them at @out_head; allocated at the first payload
 * @fwd_cnt: bytes from the driver written to @fd
 * @fwd_cnt_sent: the @fwd_cnt the driver last heard of
 * @rx_cnt: payload bytes received from the driver
 * @peer_shut: VSOCK_SHUTDOWN_* the driver announced
 * @shut_wr: shutdown(SHUT_WR) done on @fd after the driver's SHUTDOWN(SEND)
 */
struct conn {
	struct conn *next;
	struct conn *rx_next;
	bool on_rx;
	bool gone;
	int fd;
	uint32_t ev;
	bool in_epoll;
	bool hup;
	enum conn_state state;
	bool host_initiated;
	uint32_t local_port;
	uint32_t peer_port;
	uint32_t pending;
	time_t deadline;
	uint8_t *stage;
	size_t st_off;
	size_t st_len;
	uint32_t tx_cnt;
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	bool credit_asked;
	bool host_eof;
	bool shut_sent;
	uint8_t *out;
	size_t out_head;
	size_t out_len;
	uint32_t fwd_cnt;
	uint32_t fwd_cnt_sent;
	uint32_t rx_cnt;
	uint32_t peer_shut;
	bool shut_wr;
};

/**
 * struct vsock_stats - counters logged when the front-end leaves
 * @bad_pkts: malformed packets from the driver (answered RST or dropped)
 * @bad_rx_bufs: rx or event buffers too small to use
 * @overruns: payload beyond the credit we gave
 * @conns: connections opened, either way
 * @refused: connections refused, either way
 */
struct vsock_stats {
	uint64_t bad_pkts;
	uint64_t bad_rx_bufs;
	uint64_t overruns;
	uint64_t conns;
	uint64_t refused;
};

/**
 * struct vsock - the device
 * @guest_cid: --guest-cid
 * @uds_path: --uds-path
 * @dev: the library's device (set in setup)
 * @epfd: epoll fd of every socket and the timer; the one library watch
 * @listen_fd: the listening socket at @uds_path
 * @timer_fd: 1 s periodic timerfd
 * @conns: every connection
 * @nr_conns: their number
 * @rx_head: FIFO of connections with something for the driver
 * @rx_tail: its last entry
 * @graveyard: connections to free at the end of the handler
 * @rst_q: RST answers to packets of no connection, @rst_n of them
 * @event_pending: a TRANSPORT_RESET event is due on the event queue
 * @next_port: next host-side port to try for a host-initiated connection
 * @stats: counters
 * @logged: @stats when last logged
 */
struct vsock {
	uint64_t guest_cid;
	const char *uds_path;
	struct vlb_dev *dev;
	int epfd;
	int listen_fd;
	int timer_fd;
	struct conn *conns;
	unsigned int nr_conns;
	struct conn *rx_head;
	struct conn *rx_tail;
	struct conn *graveyard;
	struct vsock_hdr rst_q[64];
	unsigned int rst_n;
	bool event_pending;
	uint32_t next_port;
	struct vsock_stats stats;
	struct vsock_stats logged;
};

static struct vsock vsock = {
	.guest_cid = 3,
	.epfd = -1,
	.listen_fd = -1,
	.timer_fd = -1,
	.next_port = VSOCK_LOCAL_PORT_BASE,
};

/* Packets ------------------------------------------------------------------ */

static void vsock_hdr_decode(const uint8_t *b, struct vsock_hdr *h)
{
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	memcpy(&v64, b + 0, 8);
	h->src_cid = le64toh(v64);
	memcpy(&v64, b + 8, 8);
	h->dst_cid = le64toh(v64);
	memcpy(&v32, b + 16, 4);
	h->src_port = le32toh(v32);
	memcpy(&v32, b + 20, 4);
	h->dst_port = le32toh(v32);
	memcpy(&v32, b + 24, 4);
	h->len = le32toh(v32);
	memcpy(&v16, b + 28, 2);
	h->type = le16toh(v16);
	memcpy(&v16, b + 30, 2);
	h->op = le16toh(v16);
	memcpy(&v32, b + 32, 4);
	h->flags = le32toh(v32);
	memcpy(&v32, b + 36, 4);
	h->buf_alloc = le32toh(v32);
	memcpy(&v32, b + 40, 4);
	h->fwd_cnt = le32toh(v32);
}

static void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t *b)
{
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	v64 = htole64(h->src_cid);
	memcpy(b + 0, &v64, 8);
	v64 = htole64(h->dst_cid);
	memcpy(b + 8, &v64, 8);
	v32 = htole32(h->src_port);
	memcpy(b + 16, &v32, 4);
	v32 = htole32(h->dst_port);
	memcpy(b + 20, &v32, 4);
	v32 = htole32(h->len);
	memcpy(b + 24, &v32, 4);
	v16 = htole16(h->type);
	memcpy(b + 28, &v16, 2);
	v16 = htole16(h->op);
	memcpy(b + 30, &v16, 2);
	v32 = htole32(h->flags);
	memcpy(b + 32, &v32, 4);
	v32 = htole32(h->buf_alloc);
	memcpy(b + 36, &v32, 4);
	v32 = htole32(h->fwd_cnt);
	memcpy(b + 40, &v32, 4);
}

/*
 * Judge a packet from the driver: @h its header, @payload the bytes after
 * the header in its buffers. Sets *@why for a bad one. An RST is never
 * answered with an RST (5.10.6.4), and a packet whose source is not the
 * driver cannot be answered at all.
 */
static enum vsock_verdict vsock_pkt_check(const struct vsock_hdr *h,
					  size_t payload, uint64_t guest_cid,
					  const char **why)
{
	enum vsock_verdict bad = h->op == VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST;

	*why = NULL;
	if (h->src_cid != guest_cid) {
		*why = "source CID is not the driver's";
		return VSOCK_PKT_DROP;
	}
	if (h->dst_cid != VSOCK_HOST_CID)
		*why = "destination CID is not the host (2)";
	else if (h->type != VSOCK_TYPE_STREAM)
		*why = "type is not STREAM";
	else if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST)
		*why = "unknown op";
	else if (h->len > payload)
		*why = "length beyond the buffer";
	else if (h->len > VSOCK_MAX_PKT)
		*why = "length above 64 KiB";
	else if (h->op != VSOCK_OP_RW && h->len)
		*why = "payload on a control packet";
	else if (h->op == VSOCK_OP_SHUTDOWN && (h->flags & ~VSOCK_SHUTDOWN_BOTH))
		*why = "unknown SHUTDOWN flags";
	return *why ? bad : VSOCK_PKT_OK;
}

/*
 * Parse a host program's "CONNECT <port>" line (without its '\n'; a final
 * '\r' is allowed). Returns 0 and sets *@port, or -EINVAL.
 */
static int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	uint64_t v = 0;
	size_t i;

	if (len && line[len - 1] == '\r')
		len--;
	if (len <= sizeof(verb) - 1 || memcmp(line, verb, sizeof(verb) - 1))
		return -EINVAL;
	for (i = sizeof(verb) - 1; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		v = v * 10 + (line[i] - '0');
		if (v >= VSOCK_PORT_ANY)
			return -EINVAL;
	}
	*port = v;
	return 0;
}

/* Payload bytes the driver can take now: its credit (5.10.6.3.1). */
static uint32_t conn_peer_credit(const struct conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Logging ------------------------------------------------------------------ */

static void vsock_bad_pkt(struct vsock *v, const struct vsock_hdr *h,
			  const char *why)
{
	v->stats.bad_pkts++;
	if (v->stats.bad_pkts <= VSOCK_LOG_FIRST || !(v->stats.bad_pkts % 1000))
		vlb_err(vlb_dev_name(v->dev),
			"tx: bad packet #%" PRIu64 " (op %u type %u %" PRIu64 ":%u -> %" PRIu64 ":%u len %u): %s",
			v->stats.bad_pkts, h->op, h->type, h->src_cid, h->src_port,
			h->dst_cid, h->dst_port, h->len, why);
}

static time_t vsock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Connections -------------------------------------------------------------- */

static void conn_rx_queue(struct vsock *v, struct conn *c)
{
	if (c->on_rx || c->gone)
		return;
	c->on_rx = true;
	c->rx_next = NULL;
	if (v->rx_tail)
		v->rx_tail->rx_next = c;
	else
		v->rx_head = c;
	v->rx_tail = c;
}

static void conn_close_fd(struct vsock *v, struct conn *c)
{
	if (c->fd < 0)
		return;
	if (c->in_epoll)
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->ev = 0;
	c->in_epoll = false;
}

/* Unlink @c and put it in the graveyard (freed by vsock_reap). */
static void conn_free(struct vsock *v, struct conn *c)
{
	struct conn **pp;

	if (c->gone)
		return;
	conn_close_fd(v, c);
	for (pp = &v->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->on_rx) {
		struct conn *prev = NULL, *it;

		for (it = v->rx_head; it; prev = it, it = it->rx_next) {
			if (it != c)
				continue;
			if (prev)
				prev->rx_next = c->rx_next;
			else
				v->rx_head = c->rx_next;
			if (v->rx_tail == c)
				v->rx_tail = prev;
			break;
		}
		c->on_rx = false;
	}
	v->nr_conns--;
	c->gone = true;
	c->next = v->graveyard;
	v->graveyard = c;
}

static void vsock_reap(struct vsock *v)
{
	while (v->graveyard) {
		struct conn *c = v->graveyard;

		v->graveyard = c->next;
		free(c->stage);
		free(c->out);
		free(c);
	}
}

/* Tell a host program why it got nothing, best effort, and close. */
static void conn_refuse_host(struct vsock *v, struct conn *c, const char *why)
{
	char line[128];
	int n;

	n = snprintf(line, sizeof(line), "ERR %s\n", why);
	if (c->fd >= 0 && n > 0)
		(void)!send(c->fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	v->stats.refused++;
}

/*
 * End a connection: close the unix socket, and when the driver knows the
 * connection, owe it an RST (then the connection is freed once sent).
 */
static void conn_abort(struct vsock *v, struct conn *c, const char *why)
{
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(v->dev), "conn %u<->%u: reset: %s",
		c->local_port, c->peer_port, why);
	conn_close_fd(v, c);
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
	c->st_len = 0;
	if (c->state == CONN_LINE ||
	    (c->state == CONN_CONNECTING && (c->pending & P_REQUEST))) {
		conn_free(v, c);
		return;
	}
	c->state = CONN_DEAD;
	c->pending = P_RST;
	conn_rx_queue(v, c);
}

static struct conn *conn_new(struct vsock *v, int fd, enum conn_state state)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->stage = malloc(VSOCK_STAGE);
	if (!c->stage) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->state = state;
	c->next = v->conns;
	v->conns = c;
	v->nr_conns++;
	v->stats.conns++;
	return c;
}

static struct conn *conn_find(struct vsock *v, uint32_t local_port,
			      uint32_t peer_port)
{
	struct conn *c;

	for (c = v->conns; c; c = c->next)
		if (c->state != CONN_LINE && c->local_port == local_port &&
		    c->peer_port == peer_port)
			return c;
	return NULL;
}

static bool conn_local_port_used(struct vsock *v, uint32_t port)
{
	struct conn *c;

	for (c = v->conns; c; c = c->next)
		if (c->local_port == port)
			return true;
	return false;
}

/* Whether to read @fd now: room in the stage and in the driver's credit. */
static bool conn_want_read(const struct conn *c)
{
	if (c->state == CONN_LINE)
		return c->st_len < VSOCK_LINE_MAX;
	if (c->state != CONN_ESTABLISHED || c->host_eof ||
	    (c->peer_shut & VSOCK_SHUTDOWN_RCV))
		return false;
	return c->st_len < VSOCK_STAGE && conn_peer_credit(c) > c->st_len;
}

static void conn_read(struct vsock *v, struct conn *c);
static void conn_write(struct vsock *v, struct conn *c);

/*
 * After anything changed on @c: move the half-closes along, register the
 * epoll events it needs now, and act at once on a socket whose HUP took
 * it out of epoll.
 */
static void conn_update(struct vsock *v, struct conn *c)
{
	struct epoll_event ee = { .data.ptr = c };
	uint32_t ev = 0;

	if (c->gone || c->state == CONN_DEAD)
		return;
	if (c->state == CONN_ESTABLISHED) {
		/* The driver shut its writes: pass it on once all is out. */
		if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && !c->out_len && !c->shut_wr) {
			c->shut_wr = true;
			shutdown(c->fd, SHUT_WR);
		}
		if (c->peer_shut & VSOCK_SHUTDOWN_RCV)
			c->st_len = 0;
		/* The host program shut its writes: tell the driver after the data. */
		if (c->host_eof && !c->st_len && !c->shut_sent) {
			c->shut_sent = true;
			c->pending |= P_SHUTDOWN;
			conn_rx_queue(v, c);
		}
		/* The driver closed its socket (both ways): finish with RST. */
		if (c->peer_shut == VSOCK_SHUTDOWN_BOTH && !c->out_len) {
			conn_abort(v, c, "closed by the driver");
			return;
		}
		/* No credit for what waits: ask once per credit change. */
		if (c->st_len && !conn_peer_credit(c) && !c->credit_asked) {
			c->credit_asked = true;
			c->pending |= P_CREDIT_REQUEST;
			conn_rx_queue(v, c);
		}
	}
	if (c->hup) {
		if (conn_want_read(c))
			conn_read(v, c);
		return;
	}
	if (conn_want_read(c))
		ev |= EPOLLIN;
	if (c->out_len)
		ev |= EPOLLOUT;
	if (c->in_epoll && ev == c->ev)
		return;
	ee.events = ev;
	if (epoll_ctl(v->epfd, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ee)) {
		vlb_err(vlb_dev_name(v->dev), "conn %u<->%u: epoll_ctl: %s",
			c->local_port, c->peer_port, strerror(errno));
		conn_abort(v, c, "epoll_ctl");
		return;
	}
	c->ev = ev;
	c->in_epoll = true;
}

/* A complete "CONNECT P" line: send REQUEST for port P of the driver. */
static void conn_line_done(struct vsock *v, struct conn *c, size_t nl)
{
	uint32_t port;

	if (vsock_parse_connect((const char *)c->stage, nl, &port)) {
		vlb_err(v->uds_path, "host connection: bad line \"%.*s\" (expected \"CONNECT <port>\")",
			(int)nl, (const char *)c->stage);
		conn_refuse_host(v, c, "expected \"CONNECT <port>\"");
		conn_free(v, c);
		return;
	}
	/* What followed the line is the first data for the driver. */
	c->st_off = nl + 1;
	c->st_len -= nl + 1;
	while (conn_local_port_used(v, v->next_port) || v->next_port == VSOCK_PORT_ANY)
		v->next_port = v->next_port == VSOCK_PORT_ANY ?
			       VSOCK_LOCAL_PORT_BASE : v->next_port + 1;
	c->local_port = v->next_port++;
	c->peer_port = port;
	c->state = CONN_CONNECTING;
	c->deadline = vsock_now() + VSOCK_CONNECT_TIMEOUT;
	c->pending = P_REQUEST;
	conn_rx_queue(v, c);
	vlb_dbg(VLB_DBG_DEV, v->uds_path, "host connection %u -> driver port %u",
		c->local_port, port);
}

static void conn_read(struct vsock *v, struct conn *c)
{
	size_t room, want;
	ssize_t n;
	uint8_t *nl;

	if (c->state == CONN_LINE) {
		n = recv(c->fd, c->stage + c->st_len, VSOCK_LINE_MAX - c->st_len,
			 MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* The host program left before its line. */
			conn_free(v, c);
			return;
		}
		c->st_len += n;
		nl = memchr(c->stage, '\n', c->st_len);
		if (nl) {
			conn_line_done(v, c, nl - c->stage);
		} else if (c->st_len >= VSOCK_LINE_MAX) {
			vlb_err(v->uds_path, "host connection: no end of line in %d bytes",
				VSOCK_LINE_MAX);
			conn_refuse_host(v, c, "line too long, expected \"CONNECT <port>\"");
			conn_free(v, c);
		}
		return;
	}
	if (c->st_off && c->st_off + c->st_len > VSOCK_STAGE / 2) {
		memmove(c->stage, c->stage + c->st_off, c->st_len);
		c->st_off = 0;
	}
	if (!c->st_len)
		c->st_off = 0;
	room = VSOCK_STAGE - c->st_off - c->st_len;
	want = conn_peer_credit(c);
	if (want <= c->st_len)
		return;
	want -= c->st_len;
	if (want > room)
		want = room;
	if (!want)
		return;
	n = recv(c->fd, c->stage + c->st_off + c->st_len, want, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_abort(v, c, strerror(errno));
		return;
	}
	if (!n)
		c->host_eof = true;
	c->st_len += n;
	conn_rx_queue(v, c);
}

/* Forward the driver's bytes to the unix socket; announce the room made. */
static void conn_write(struct vsock *v, struct conn *c)
{
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov };
	size_t first;
	uint32_t seen;
	ssize_t n;

	while (c->out_len) {
		first = VSOCK_BUF_ALLOC - c->out_head;
		if (first > c->out_len)
			first = c->out_len;
		iov[0].iov_base = c->out + c->out_head;
		iov[0].iov_len = first;
		iov[1].iov_base = c->out;
		iov[1].iov_len = c->out_len - first;
		msg.msg_iovlen = iov[1].iov_len ? 2 : 1;
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_abort(v, c, strerror(errno));
			return;
		}
		c->out_head = (c->out_head + n) % VSOCK_BUF_ALLOC;
		c->out_len -= n;
		c->fwd_cnt += n;
	}
	/*
	 * The driver believes it may still send VSOCK_BUF_ALLOC minus what it
	 * sent since the fwd_cnt it last heard. Tell it more before that
	 * falls under half (bulk senders never stall on us), not after every
	 * write (a small packet would cost a whole rx buffer each time).
	 */
	seen = c->rx_cnt - c->fwd_cnt_sent;
	if (c->fwd_cnt != c->fwd_cnt_sent && seen > VSOCK_BUF_ALLOC / 2) {
		c->pending |= P_CREDIT_UPDATE;
		conn_rx_queue(v, c);
	}
}

/* The host program side -------------------------------------------------- */

static void vsock_accept(struct vsock *v)
{
	struct conn *c;
	int fd;

	for (;;) {
		fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				vlb_err(v->uds_path, "accept: %s", strerror(errno));
			return;
		}
		if (v->nr_conns >= VSOCK_MAX_CONNS) {
			vlb_err(v->uds_path, "host connection refused: %d connections open",
				VSOCK_MAX_CONNS);
			(void)!send(fd, "ERR too many connections\n", 25,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			v->stats.refused++;
			continue;
		}
		c = conn_new(v, fd, CONN_LINE);
		if (!c) {
			vlb_err(v->uds_path, "host connection: out of memory");
			close(fd);
			continue;
		}
		c->host_initiated = true;
		/* Invalid until the line is parsed; never matches a packet. */
		c->local_port = VSOCK_PORT_ANY;
		c->peer_port = VSOCK_PORT_ANY;
		c->deadline = vsock_now() + VSOCK_LINE_TIMEOUT;
		conn_update(v, c);
	}
}

static void vsock_timer(struct vsock *v)
{
	struct conn *c, *next;
	uint64_t ticks;
	time_t now = vsock_now();

	(void)!read(v->timer_fd, &ticks, sizeof(ticks));
	for (c = v->conns; c; c = next) {
		next = c->next;
		if (!c->deadline || c->deadline > now)
			continue;
		if (c->state == CONN_LINE) {
			vlb_err(v->uds_path, "host connection: no CONNECT line in %d s",
				VSOCK_LINE_TIMEOUT);
			conn_refuse_host(v, c, "timeout waiting for \"CONNECT <port>\"");
			conn_free(v, c);
		} else if (c->state == CONN_CONNECTING) {
			vlb_err(v->uds_path, "host connection to driver port %u: no answer in %d s",
				c->peer_port, VSOCK_CONNECT_TIMEOUT);
			conn_refuse_host(v, c, "timeout");
			conn_abort(v, c, "timeout");
		}
	}
}

static void vsock_rx_run(struct vsock *v);

static void vsock_conn_event(struct vsock *v, struct conn *c, uint32_t revents)
{
	if (c->gone || c->fd < 0)
		return;
	if (revents & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (c->state == CONN_LINE)
			conn_free(v, c);
		else
			conn_abort(v, c, err ? strerror(err) : "socket error");
		return;
	}
	if (c->out_len && (revents & (EPOLLOUT | EPOLLHUP)))
		conn_write(v, c);
	if (c->gone || c->fd < 0)
		return;
	if (revents & (EPOLLIN | EPOLLHUP)) {
		if (conn_want_read(c))
			conn_read(v, c);
	}
	if (c->gone || c->fd < 0)
		return;
	if ((revents & EPOLLHUP) && !c->hup) {
		/* Level-triggered HUP never clears: leave epoll, poll by hand. */
		c->hup = true;
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->ev = 0;
		c->in_epoll = false;
		if (c->state == CONN_LINE || c->state == CONN_CONNECTING) {
			conn_abort(v, c, "host program left");
			return;
		}
		/* Writing to a closed peer fails: what is queued cannot go. */
		if (c->out_len) {
			conn_abort(v, c, "host program left");
			return;
		}
	}
	conn_update(v, c);
}

static void vsock_epoll_cb(struct vlb_dev *dev, int fd, short revents,
			   void *opaque)
{
	struct vsock *v = opaque;
	struct epoll_event evs[64];
	int i, n;

	(void)dev;
	(void)fd;
	(void)revents;
	n = epoll_wait(v->epfd, evs, ARRAY_SIZE(evs), 0);
	if (n < 0 && errno != EINTR)
		vlb_err(vlb_dev_name(v->dev), "epoll_wait: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == VSOCK_TAG_LISTEN)
			vsock_accept(v);
		else if (evs[i].data.u64 == VSOCK_TAG_TIMER)
			vsock_timer(v);
		else
			vsock_conn_event(v, evs[i].data.ptr, evs[i].events);
	}
	vsock_rx_run(v);
	vsock_reap(v);
}

/* The driver side: rx ------------------------------------------------------ */

/*
 * Write the next packet @c owes the driver into @elem. Returns the bytes
 * written (0: nothing was due). Sets *@done when @c is to be freed.
 */
static uint32_t conn_emit(struct vsock *v, struct conn *c,
			  const struct vlb_vq_elem *elem, size_t room,
			  bool *done)
{
	struct vsock_hdr h = {
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = v->guest_cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.type = VSOCK_TYPE_STREAM,
		.buf_alloc = VSOCK_BUF_ALLOC,
		.fwd_cnt = c->fwd_cnt,
	};
	uint8_t hb[VSOCK_HDR_SIZE];
	uint32_t credit = conn_peer_credit(c);

	*done = false;
	if (c->pending & P_RST) {
		h.op = VSOCK_OP_RST;
		*done = true;
	} else if (c->pending & P_REQUEST) {
		h.op = VSOCK_OP_REQUEST;
		c->pending &= ~P_REQUEST;
	} else if (c->pending & P_RESPONSE) {
		h.op = VSOCK_OP_RESPONSE;
		c->pending &= ~P_RESPONSE;
	} else if (c->state == CONN_ESTABLISHED && c->st_len && credit) {
		h.op = VSOCK_OP_RW;
		h.len = c->st_len;
		if (h.len > credit)
			h.len = credit;
		if (h.len > room - VSOCK_HDR_SIZE)
			h.len = room - VSOCK_HDR_SIZE;
		if (h.len > VSOCK_MAX_PKT)
			h.len = VSOCK_MAX_PKT;
		vlb_iov_from_buf(elem->in_sg, elem->in_num, VSOCK_HDR_SIZE,
				 c->stage + c->st_off, h.len);
		c->st_off += h.len;
		c->st_len -= h.len;
		c->tx_cnt += h.len;
	} else if (c->pending & P_SHUTDOWN) {
		/* Queued only once the stage is empty: after the data. */
		h.op = VSOCK_OP_SHUTDOWN;
		h.flags = VSOCK_SHUTDOWN_SEND;
		c->pending &= ~P_SHUTDOWN;
	} else if (c->pending & P_CREDIT_REQUEST) {
		h.op = VSOCK_OP_CREDIT_REQUEST;
	} else if (c->pending & P_CREDIT_UPDATE) {
		h.op = VSOCK_OP_CREDIT_UPDATE;
	} else {
		return 0;
	}
	/* Every packet carries our credit; a request was asked by this one too. */
	c->pending &= ~(P_CREDIT_UPDATE | P_CREDIT_REQUEST);
	c->fwd_cnt_sent = c->fwd_cnt;
	vsock_hdr_encode(&h, hb);
	vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, hb, sizeof(hb));
	return VSOCK_HDR_SIZE + h.len;
}

static bool conn_has_rx_work(const struct conn *c)
{
	if (c->pending)
		return true;
	return c->state == CONN_ESTABLISHED && c->st_len && conn_peer_credit(c);
}

/* Move packets owed to the driver into its rx buffers. */
static void vsock_rx_run(struct vsock *v)
{
	struct vlb_vq *vq = vlb_dev_vq(v->dev, VSOCK_RXQ);
	struct vlb_vq_elem *elem;
	unsigned int served = 0;
	int ret;

	if (!vlb_vq_ready(vq))
		return;
	while (v->rst_n || v->rx_head) {
		struct conn *c = NULL;
		uint32_t len = 0;
		size_t room;
		bool done = false;

		/* Queued, but nothing is due after all (say, end of file). */
		c = v->rx_head;
		if (!v->rst_n && !conn_has_rx_work(c)) {
			v->rx_head = c->rx_next;
			if (!v->rx_head)
				v->rx_tail = NULL;
			c->on_rx = false;
			conn_update(v, c);
			continue;
		}
		c = NULL;
		if (served == VSOCK_BUDGET) {
			vlb_vq_kick_later(vq);
			break;
		}
		ret = vlb_vq_pop(vq, &elem);
		if (ret == -EAGAIN) {
			/*
			 * Out of buffers with packets due: the driver must kick
			 * when it adds one. Publish avail_event (a fence), then
			 * look once more: one added in between sends no kick.
			 */
			vlb_vq_set_notification(vq, true);
			if (!vlb_vq_empty(vq))
				continue;
			break;
		}
		if (ret) {
			if (ret == -ENOMEM)
				vlb_err(vlb_dev_name(v->dev), "rx: %s", strerror(-ret));
			break;
		}
		served++;
		room = vlb_iov_size(elem->in_sg, elem->in_num);
		if (room < VSOCK_HDR_SIZE) {
			v->stats.bad_rx_bufs++;
			if (v->stats.bad_rx_bufs == 1)
				vlb_err(vlb_dev_name(v->dev), "rx: a buffer of %zu bytes, under a header: returned unused",
					room);
			vlb_vq_push(vq, elem, 0);
			free(elem);
			continue;
		}
		if (v->rst_n) {
			uint8_t hb[VSOCK_HDR_SIZE];

			vsock_hdr_encode(&v->rst_q[--v->rst_n], hb);
			len = vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, hb, sizeof(hb));
		} else {
			c = v->rx_head;
			len = conn_emit(v, c, elem, room, &done);
			/* Off the head; back at the tail if more is due. */
			v->rx_head = c->rx_next;
			if (!v->rx_head)
				v->rx_tail = NULL;
			c->on_rx = false;
		}
		vlb_vq_push(vq, elem, len);
		free(elem);
		if (!c)
			continue;
		if (done) {
			conn_free(v, c);
			continue;
		}
		if (conn_has_rx_work(c))
			conn_rx_queue(v, c);
		/* Data left the stage: maybe read more, maybe SHUTDOWN now. */
		conn_update(v, c);
	}
	if (!served)
		return;
	vlb_vq_flush(vq);
	ret = vlb_vq_notify(vq);
	if (ret)
		vlb_err(vlb_dev_name(v->dev), "rx: call eventfd: %s", strerror(-ret));
}

/* The driver side: tx ------------------------------------------------------ */

static void vsock_queue_rst(struct vsock *v, const struct vsock_hdr *to)
{
	struct vsock_hdr *h;

	if (to->op == VSOCK_OP_RST)
		return;
	if (v->rst_n == ARRAY_SIZE(v->rst_q)) {
		/* The driver floods us with strays faster than it reads: drop. */
		v->stats.bad_pkts++;
		return;
	}
	h = &v->rst_q[v->rst_n++];
	memset(h, 0, sizeof(*h));
	h->src_cid = to->dst_cid;
	h->dst_cid = to->src_cid;
	h->src_port = to->dst_port;
	h->dst_port = to->src_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = VSOCK_OP_RST;
}

/* The driver connects to host port @h->dst_port: connect PATH_<port>. */
static void vsock_guest_connect(struct vsock *v, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *c;
	int fd, n;

	if (v->nr_conns >= VSOCK_MAX_CONNS) {
		vlb_err(v->uds_path, "driver port %u -> %u refused: %d connections open",
			h->src_port, h->dst_port, VSOCK_MAX_CONNS);
		goto refuse;
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds_path, h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		vlb_err(v->uds_path, "driver port %u -> %u refused: socket path too long",
			h->src_port, h->dst_port);
		goto refuse;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		vlb_err(v->uds_path, "socket: %s", strerror(errno));
		goto refuse;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		vlb_dbg(VLB_DBG_DEV, sa.sun_path, "driver port %u: connect: %s",
			h->src_port, strerror(errno));
		close(fd);
		goto refuse;
	}
	c = conn_new(v, fd, CONN_ESTABLISHED);
	if (!c) {
		vlb_err(sa.sun_path, "driver connection: out of memory");
		close(fd);
		goto refuse;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending = P_RESPONSE;
	conn_rx_queue(v, c);
	conn_update(v, c);
	vlb_dbg(VLB_DBG_DEV, sa.sun_path, "driver port %u connected", h->src_port);
	return;
refuse:
	v->stats.refused++;
	vsock_queue_rst(v, h);
}

/* Append a RW payload to @c's ring for the unix socket. */
static int conn_take_payload(struct vsock *v, struct conn *c,
			     const struct vlb_vq_elem *elem, uint32_t len)
{
	size_t tail, chunk, done = 0;

	if (len > VSOCK_BUF_ALLOC - c->out_len) {
		v->stats.overruns++;
		vlb_err(vlb_dev_name(v->dev), "conn %u<->%u: driver sent %u bytes with %zu of credit left: reset",
			c->local_port, c->peer_port, len, VSOCK_BUF_ALLOC - c->out_len);
		return -ENOSPC;
	}
	if (!c->out) {
		c->out = malloc(VSOCK_BUF_ALLOC);
		if (!c->out) {
			vlb_err(vlb_dev_name(v->dev), "conn %u<->%u: out of memory",
				c->local_port, c->peer_port);
			return -ENOMEM;
		}
		c->out_head = 0;
	}
	while (done < len) {
		tail = (c->out_head + c->out_len) % VSOCK_BUF_ALLOC;
		chunk = VSOCK_BUF_ALLOC - tail;
		if (chunk > len - done)
			chunk = len - done;
		vlb_iov_to_buf(elem->out_sg, elem->out_num, VSOCK_HDR_SIZE + done,
			       c->out + tail, chunk);
		c->out_len += chunk;
		done += chunk;
	}
	c->rx_cnt += len;
	return 0;
}

/* One packet from the driver for a connection we know. */
static void conn_pkt(struct vsock *v, struct conn *c, const struct vsock_hdr *h,
		     const struct vlb_vq_elem *elem)
{
	if (c->state == CONN_DEAD)
		return;		/* our RST is on its way */
	if (c->peer_buf_alloc != h->buf_alloc || c->peer_fwd_cnt != h->fwd_cnt)
		c->credit_asked = false;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (c->state == CONN_CONNECTING) {
		char line[32];
		int n;

		if (h->op == VSOCK_OP_RESPONSE && !(c->pending & P_REQUEST)) {
			n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);
			if (send(c->fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
				conn_abort(v, c, "could not send OK");
				return;
			}
			c->state = CONN_ESTABLISHED;
			c->deadline = 0;
			if (c->st_len)
				conn_rx_queue(v, c);
			vlb_dbg(VLB_DBG_DEV, v->uds_path, "host connection %u -> driver port %u: OK",
				c->local_port, c->peer_port);
			conn_update(v, c);
		} else if (h->op == VSOCK_OP_RST) {
			vlb_dbg(VLB_DBG_DEV, v->uds_path, "driver port %u refused the connection",
				c->peer_port);
			conn_refuse_host(v, c, "connection refused");
			conn_free(v, c);
		} else {
			vsock_bad_pkt(v, h, "not RESPONSE or RST to our REQUEST");
			conn_refuse_host(v, c, "protocol error");
			conn_abort(v, c, "protocol error");
		}
		return;
	}
	switch (h->op) {
	case VSOCK_OP_RW:
		if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
			vsock_bad_pkt(v, h, "data after SHUTDOWN(SEND)");
			conn_abort(v, c, "data after shutdown");
			return;
		}
		if (conn_take_payload(v, c, elem, h->len)) {
			conn_abort(v, c, "credit overrun");
			return;
		}
		conn_write(v, c);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		conn_rx_queue(v, c);
		break;
	case VSOCK_OP_SHUTDOWN:
		c->peer_shut |= h->flags;
		break;
	case VSOCK_OP_RST:
		conn_close_fd(v, c);
		conn_free(v, c);
		return;
	default:	/* REQUEST or RESPONSE on an open connection */
		vsock_bad_pkt(v, h, "REQUEST or RESPONSE on an open connection");
		conn_abort(v, c, "protocol error");
		return;
	}
	if (c->gone || c->state == CONN_DEAD)
		return;
	if (conn_has_rx_work(c))
		conn_rx_queue(v, c);
	conn_update(v, c);
}

static void vsock_tx_pkt(struct vsock *v, const struct vlb_vq_elem *elem)
{
	size_t size = vlb_iov_size(elem->out_sg, elem->out_num);
	uint8_t hb[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	const char *why;
	struct conn *c;

	if (size < VSOCK_HDR_SIZE) {
		v->stats.bad_pkts++;
		if (v->stats.bad_pkts <= VSOCK_LOG_FIRST)
			vlb_err(vlb_dev_name(v->dev), "tx: packet of %zu bytes, under a header: dropped",
				size);
		return;
	}
	vlb_iov_to_buf(elem->out_sg, elem->out_num, 0, hb, sizeof(hb));
	vsock_hdr_decode(hb, &h);
	switch (vsock_pkt_check(&h, size - VSOCK_HDR_SIZE, v->guest_cid, &why)) {
	case VSOCK_PKT_OK:
		break;
	case VSOCK_PKT_RST:
		vsock_bad_pkt(v, &h, why);
		c = h.dst_cid == VSOCK_HOST_CID ? conn_find(v, h.dst_port, h.src_port) : NULL;
		if (c)
			conn_abort(v, c, "bad packet");
		else
			vsock_queue_rst(v, &h);
		return;
	case VSOCK_PKT_DROP:
		vsock_bad_pkt(v, &h, why);
		return;
	}
	c = conn_find(v, h.dst_port, h.src_port);
	if (c) {
		conn_pkt(v, c, &h, elem);
		return;
	}
	if (h.op == VSOCK_OP_REQUEST)
		vsock_guest_connect(v, &h);
	else
		vsock_queue_rst(v, &h);	/* not for RST itself */
}

/* vlb_vq_handle_cb of tx: a packet is consumed at once (used length 0). */
static int64_t vsock_tx_handle(struct vlb_dev *dev, unsigned int qidx,
			       struct vlb_vq_elem *elem, void *opaque)
{
	(void)dev;
	(void)qidx;
	vsock_tx_pkt(opaque, elem);
	return 0;
}

/* The driver side: event queue ------------------------------------------- */

/*
 * A new back-end knows none of the driver's connections: the first event
 * buffer gets TRANSPORT_RESET, so the driver resets its connected sockets
 * (listeners stay) and reads the CID again (5.10.6.6).
 */
static void vsock_event_run(struct vsock *v)
{
	struct vlb_vq *vq = vlb_dev_vq(v->dev, VSOCK_EVQ);
	struct vlb_vq_elem *elem;
	uint32_t ev = htole32(VSOCK_EVENT_TRANSPORT_RESET);
	int ret;

	while (v->event_pending && vlb_vq_pop(vq, &elem) == 0) {
		if (vlb_iov_size(elem->in_sg, elem->in_num) < VSOCK_EVENT_SIZE) {
			v->stats.bad_rx_bufs++;
			vlb_vq_push(vq, elem, 0);
		} else {
			vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, &ev, sizeof(ev));
			vlb_vq_push(vq, elem, sizeof(ev));
			v->event_pending = false;
		}
		free(elem);
		vlb_vq_flush(vq);
		ret = vlb_vq_notify(vq);
		if (ret)
			vlb_err(vlb_dev_name(v->dev), "event: call eventfd: %s", strerror(-ret));
	}
}

/* Device callbacks --------------------------------------------------------- */

static uint64_t vsock_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

static int vsock_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			    uint32_t len)
{
	struct vsock *v = vlb_dev_priv(dev);
	uint64_t cid = htole64(v->guest_cid);

	if (offset > VSOCK_CFG_SIZE || len > VSOCK_CFG_SIZE - offset)
		return -EINVAL;
	memcpy(buf, (uint8_t *)&cid + offset, len);
	return 0;
}

static void vsock_queue_set_started(struct vlb_dev *dev, unsigned int qidx,
				    bool started)
{
	struct vsock *v = vlb_dev_priv(dev);

	if (qidx == VSOCK_EVQ && started)
		v->event_pending = true;
}

static void vsock_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vsock *v = vlb_dev_priv(dev);

	if (qidx == VSOCK_TXQ)
		vlb_vq_serve(dev, qidx, VSOCK_BUDGET, vsock_tx_handle, v);
	else if (qidx == VSOCK_EVQ)
		vsock_event_run(v);
	vsock_rx_run(v);
	vsock_reap(v);
}

/* The front-end left or reset the device: every connection ends. */
static void vsock_reset(struct vlb_dev *dev)
{
	struct vsock *v = vlb_dev_priv(dev);
	const struct vsock_stats *s = &v->stats;

	if (v->nr_conns || memcmp(s, &v->logged, sizeof(*s)))
		vlb_log(vlb_dev_name(dev), "reset: %u connections closed; so far %" PRIu64 " connections, %" PRIu64 " refused, %" PRIu64 " bad packets, %" PRIu64 " credit overruns, %" PRIu64 " bad rx buffers",
			v->nr_conns, s->conns, s->refused, s->bad_pkts, s->overruns,
			s->bad_rx_bufs);
	v->logged = *s;
	while (v->conns) {
		struct conn *c = v->conns;

		if (c->state == CONN_LINE || c->state == CONN_CONNECTING)
			conn_refuse_host(v, c, "device reset");
		conn_free(v, c);
	}
	v->rx_head = v->rx_tail = NULL;
	v->rst_n = 0;
	vsock_reap(v);
}

static const struct vlb_dev_iface vsock_iface = {
	.get_features		= vsock_get_features,
	.get_config		= vsock_get_config,
	.set_config		= vlb_config_read_only,
	.queue_set_started	= vsock_queue_set_started,
	.queue_kick		= vsock_queue_kick,
	.reset			= vsock_reset,
};

/* Program ------------------------------------------------------------------ */

static const struct vlb_backend_option vsock_options[] = {
	{ "guest-cid", "N", "the driver's CID (config space), 3 to 4294967294; default 3" },
	{ "uds-path", "PATH", "host side: listen on PATH (\"CONNECT <port>\\n\"); the driver's connections to port P go to PATH_P" },
	{ NULL, NULL, NULL },
};

static int vsock_parse_option(void *priv, const char *name, const char *arg)
{
	struct vsock *v = priv;
	unsigned long long cid;
	char *end;

	if (!strcmp(name, "uds-path")) {
		if (!*arg) {
			vlb_err(NULL, "--uds-path: empty path");
			return -EINVAL;
		}
		v->uds_path = arg;
		return 0;
	}
	errno = 0;
	cid = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || cid <= VSOCK_HOST_CID ||
	    cid > VSOCK_MAX_GUEST_CID) {
		vlb_err(arg, "--guest-cid: not a number from 3 to %u", VSOCK_MAX_GUEST_CID);
		return -EINVAL;
	}
	v->guest_cid = cid;
	return 0;
}

static void vsock_teardown(struct vlb_dev *dev)
{
	struct vsock *v = vlb_dev_priv(dev);

	vsock_reset(dev);
	if (v->epfd >= 0) {
		vlb_dev_remove_watch(dev, v->epfd);
		close(v->epfd);
	}
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->uds_path);
	}
	v->epfd = v->timer_fd = v->listen_fd = -1;
}

static int vsock_setup(struct vlb_dev *dev)
{
	struct vsock *v = vlb_dev_priv(dev);
	struct itimerspec its = {
		.it_interval = { .tv_sec = 1 },
		.it_value = { .tv_sec = 1 },
	};
	struct epoll_event ee = { .events = EPOLLIN };
	int ret;

	v->dev = dev;
	if (!v->uds_path) {
		vlb_err(NULL, "--uds-path is required (see --help)");
		return -EINVAL;
	}
	/* PATH_<port> must fit too: room for "_4294967295". */
	if (strlen(v->uds_path) + 11 >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		vlb_err(v->uds_path, "--uds-path: too long for PATH_<port>");
		return -ENAMETOOLONG;
	}
	ret = vlb_listen_unix(v->uds_path, &v->listen_fd);
	if (ret) {
		vlb_err(v->uds_path, "listen: %s", ret == -EEXIST ?
			"exists and is not a socket" : strerror(-ret));
		return ret;
	}
	if (fcntl(v->listen_fd, F_SETFL, O_NONBLOCK)) {
		ret = -errno;
		vlb_err(v->uds_path, "fcntl: %s", strerror(errno));
		goto fail;
	}
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epfd < 0) {
		ret = -errno;
		vlb_err(NULL, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer_fd < 0 || timerfd_settime(v->timer_fd, 0, &its, NULL)) {
		ret = -errno;
		vlb_err(NULL, "timerfd: %s", strerror(errno));
		goto fail;
	}
	ee.data.u64 = VSOCK_TAG_LISTEN;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &ee)) {
		ret = -errno;
		vlb_err(v->uds_path, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	ee.data.u64 = VSOCK_TAG_TIMER;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd, &ee)) {
		ret = -errno;
		vlb_err(NULL, "epoll_ctl timerfd: %s", strerror(errno));
		goto fail;
	}
	ret = vlb_dev_add_watch(dev, v->epfd, POLLIN, vsock_epoll_cb, v);
	if (ret) {
		vlb_err(NULL, "watch: %s", strerror(-ret));
		goto fail;
	}
	vlb_log(v->uds_path, "guest CID %" PRIu64 ": host programs connect here, the driver reaches %s_<port>",
		v->guest_cid, v->uds_path);
	return 0;
fail:
	vsock_teardown(dev);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct vlb_backend be = {
		.name		= "vhost-user-vsock",
		.type		= "vsock",
		.version	= VLB_VERSION,
		.iface		= &vsock_iface,
		.nr_vqs		= VSOCK_QUEUES,
		.priv		= &vsock,
		.options	= vsock_options,
		.parse_option	= vsock_parse_option,
		.setup		= vsock_setup,
		.teardown	= vsock_teardown,
	};

	return vlb_backend_main(&be, argc, argv);
}
