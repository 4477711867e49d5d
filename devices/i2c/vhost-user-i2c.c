// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-i2c: a virtio I2C adapter (virtio spec 5.19, device id 34)
 * served over vhost-user and forwarded to a host I2C adapter through
 * i2c-dev, for the 7-bit addresses it is allowed to reach:
 *
 *	vhost-user-i2c --socket-path /run/i2c.sock --adapter /dev/i2c-1 \
 *		--address 0x1c,0x50
 *	virtio-loopback-adapter --socket /run/i2c.sock --device i2c
 *
 * One request queue (5.19.2). A request is one I2C message: an 8-byte
 * header (le16 addr, the 7-bit address shifted left by one as the Linux
 * driver sends it; le16 padding; le32 flags), the message's buffer
 * (device-readable for a write, device-writable for a read, absent for a
 * zero-length message: VIRTIO_I2C_F_ZERO_LENGTH_REQUEST), and one status
 * byte. FAIL_NEXT chains requests into a group, one i2c_transfer() of the
 * driver; a group is sent to the host adapter as one transaction, so a
 * write+read keeps its repeated start:
 *
 *	adapter with I2C_FUNC_I2C	one I2C_RDWR ioctl per group
 *	SMBus-only adapter (i2c-stub,	the group is translated to the SMBus
 *	most PC SMBus controllers)	transaction with the same bytes on the
 *					wire (quick, byte, byte/word data,
 *					I2C block); other shapes fail
 *
 * A group is checked whole before the bus is touched: a malformed request
 * (short header, unknown flags, a buffer in the wrong direction or above
 * 8192 bytes, a zero-length message the driver did not negotiate) or an
 * address not given with --address fails every request of its group with
 * VIRTIO_I2C_MSG_ERR and nothing reaches the bus. When the bus fails
 * message k, k and the rest of the group fail (FAIL_NEXT). A group whose
 * end has not arrived yet (the driver is still adding it) is held until
 * its last request comes, at most VI2C_HOLD_MS, then sent as it is.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <linux/virtio_i2c.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vlb.h"
#include "vlb_compiler.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

#define VI2C_REQ_Q		0
#define VI2C_QUEUES		1

/* struct virtio_i2c_out_hdr and struct virtio_i2c_in_hdr on the wire. */
#define VI2C_OUT_HDR_SIZE	8
#define VI2C_IN_HDR_SIZE	1
#define VI2C_KNOWN_FLAGS	(VIRTIO_I2C_FLAGS_FAIL_NEXT | VIRTIO_I2C_FLAGS_M_RD)

/* i2c-dev refuses longer messages in I2C_RDWR. */
#define VI2C_MAX_MSG_LEN	8192

/* i2c-dev's bound on the messages of one I2C_RDWR. */
#define VI2C_MAX_GROUP		I2C_RDWR_IOCTL_MAX_MSGS

/* How long an unfinished group waits for its last request. */
#define VI2C_HOLD_MS		100

/* Requests served per queue_kick before yielding to the event loop. */
#define VI2C_BUDGET		64

/* Bad-request lines logged in full; after that, every 1000th. */
#define VI2C_LOG_FIRST		20

/**
 * struct vi2c_req - one request of the current group
 * @elem: the descriptor chain
 * @addr: 7-bit address
 * @read: VIRTIO_I2C_FLAGS_M_RD
 * @fail_next: VIRTIO_I2C_FLAGS_FAIL_NEXT
 * @len: bytes of the message (0 for a zero-length request)
 * @ok: the bus carried the message
 * @buf: the message's bytes: copied from the driver for a write, to it
 *	for a read
 */
struct vi2c_req {
	struct vlb_vq_elem *elem;
	uint16_t addr;
	bool read;
	bool fail_next;
	uint32_t len;
	bool ok;
	uint8_t buf[VI2C_MAX_MSG_LEN];
};

/**
 * struct vi2c_bus_ops - the host adapter (i2c-dev ioctls; tests fake it)
 * @rdwr: I2C_RDWR of @n messages; returns how many the adapter carried
 *	(all when it succeeded) or -errno
 * @smbus: one SMBus transaction with @addr (I2C_SLAVE, I2C_SMBUS);
 *	returns 0 or -errno
 */
struct vi2c_bus_ops {
	int (*rdwr)(void *ctx, struct i2c_msg *msgs, unsigned int n);
	int (*smbus)(void *ctx, uint16_t addr, uint8_t rw, uint8_t cmd,
		     uint32_t size, union i2c_smbus_data *data);
};

/**
 * struct vi2c_stats - counters logged when the front-end leaves
 * @groups: groups sent to the bus
 * @bus_errors: groups the bus failed (at least one message)
 * @bad: malformed requests
 * @denied: requests for an address not given with --address
 * @unsupported: groups a SMBus-only adapter cannot carry
 */
struct vi2c_stats {
	uint64_t groups;
	uint64_t bus_errors;
	uint64_t bad;
	uint64_t denied;
	uint64_t unsupported;
};

/**
 * struct vi2c - the device
 * @adapter: --adapter path
 * @allowed: --address bitmap, one bit per 7-bit address
 * @nr_allowed: addresses in @allowed
 * @fd: the open adapter
 * @funcs: its I2C_FUNCS
 * @bus: how to reach it
 * @bus_ctx: passed to @bus
 * @dev: the library's device (set in setup)
 * @timer_fd: fires VI2C_HOLD_MS after a group was left unfinished
 * @group: requests of the group being collected, @nr of them
 * @nr: see @group
 * @failing: a request of the current group failed before the group
 *	ended: its remaining requests fail as they arrive
 * @stats: counters
 * @logged: bad-request lines logged
 */
struct vi2c {
	const char *adapter;
	uint8_t allowed[128 / 8];
	unsigned int nr_allowed;
	int fd;
	unsigned long funcs;
	const struct vi2c_bus_ops *bus;
	void *bus_ctx;
	struct vlb_dev *dev;
	int timer_fd;
	struct vi2c_req group[VI2C_MAX_GROUP];
	unsigned int nr;
	bool failing;
	struct vi2c_stats stats;
	uint64_t logged;
};

static struct vi2c vi2c_dev = {
	.fd = -1,
	.timer_fd = -1,
};

/* Host adapter ------------------------------------------------------------ */

static int vi2c_dev_rdwr(void *ctx, struct i2c_msg *msgs, unsigned int n)
{
	struct i2c_rdwr_ioctl_data d = { .msgs = msgs, .nmsgs = n };
	struct vi2c *v = ctx;
	int ret;

	ret = ioctl(v->fd, I2C_RDWR, &d);
	return ret < 0 ? -errno : ret;
}

static int vi2c_dev_smbus(void *ctx, uint16_t addr, uint8_t rw, uint8_t cmd,
			  uint32_t size, union i2c_smbus_data *data)
{
	struct i2c_smbus_ioctl_data d = {
		.read_write = rw, .command = cmd, .size = size, .data = data,
	};
	struct vi2c *v = ctx;

	/* I2C_SLAVE, not _FORCE: an address a host driver owns stays its. */
	if (ioctl(v->fd, I2C_SLAVE, (unsigned long)addr) < 0)
		return -errno;
	return ioctl(v->fd, I2C_SMBUS, &d) < 0 ? -errno : 0;
}

static const struct vi2c_bus_ops vi2c_dev_bus = {
	.rdwr	= vi2c_dev_rdwr,
	.smbus	= vi2c_dev_smbus,
};

/* Requests ---------------------------------------------------------------- */

static bool vi2c_allowed(const struct vi2c *v, uint16_t addr)
{
	return addr < 128 && (v->allowed[addr / 8] & (1U << (addr % 8)));
}

static void __printf(3, 4) vi2c_bad(struct vi2c *v, const struct vlb_vq_elem *elem,
				    const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	v->logged++;
	if (v->logged > VI2C_LOG_FIRST && v->logged % 1000)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vlb_err(v->dev ? vlb_dev_name(v->dev) : "i2c", "request %u: %s (%llu so far)",
		elem->index, msg, (unsigned long long)v->logged);
}

/*
 * Decode a chain into @r. Returns 0, -EINVAL for a malformed request
 * (logged) or -EACCES for an address not allowed. @r->fail_next is set
 * whenever the header could be read, also for a bad request, so the
 * rest of its group fails with it.
 */
static int vi2c_parse(struct vi2c *v, struct vlb_vq_elem *elem, bool zero_len_ok,
		      struct vi2c_req *r)
{
	size_t out = vlb_iov_size(elem->out_sg, elem->out_num);
	size_t in = vlb_iov_size(elem->in_sg, elem->in_num);
	uint8_t hdr[VI2C_OUT_HDR_SIZE];
	uint16_t addr;
	uint32_t flags;
	size_t len;

	r->elem = elem;
	r->fail_next = false;
	r->ok = false;
	r->len = 0;
	if (out < VI2C_OUT_HDR_SIZE) {
		vi2c_bad(v, elem, "out header of %zu bytes, not %d", out, VI2C_OUT_HDR_SIZE);
		return -EINVAL;
	}
	vlb_iov_to_buf(elem->out_sg, elem->out_num, 0, hdr, sizeof(hdr));
	addr = hdr[0] | hdr[1] << 8;
	flags = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
		(uint32_t)hdr[7] << 24;
	r->fail_next = flags & VIRTIO_I2C_FLAGS_FAIL_NEXT;
	r->read = flags & VIRTIO_I2C_FLAGS_M_RD;
	r->addr = addr >> 1;
	len = r->read ? in - (in > 0) : out - VI2C_OUT_HDR_SIZE;
	if (in < VI2C_IN_HDR_SIZE) {
		vi2c_bad(v, elem, "no room for the status byte");
		return -EINVAL;
	}
	if (flags & ~VI2C_KNOWN_FLAGS) {
		vi2c_bad(v, elem, "unknown flags 0x%x", flags);
		return -EINVAL;
	}
	/* Bit 0 and the high byte would be a 10-bit address: not supported. */
	if (addr & ~0xfeU) {
		vi2c_bad(v, elem, "address field 0x%04x is not a 7-bit address", addr);
		return -EINVAL;
	}
	if (r->read && out != VI2C_OUT_HDR_SIZE) {
		vi2c_bad(v, elem, "read request with %zu device-readable bytes after the header",
			 out - VI2C_OUT_HDR_SIZE);
		return -EINVAL;
	}
	if (!r->read && in != VI2C_IN_HDR_SIZE) {
		vi2c_bad(v, elem, "write request with %zu device-writable bytes before the status",
			 in - VI2C_IN_HDR_SIZE);
		return -EINVAL;
	}
	if (len > VI2C_MAX_MSG_LEN) {
		vi2c_bad(v, elem, "buffer of %zu bytes, above %d", len, VI2C_MAX_MSG_LEN);
		return -EINVAL;
	}
	if (!len && !zero_len_ok) {
		vi2c_bad(v, elem, "zero-length request, ZERO_LENGTH_REQUEST not negotiated");
		return -EINVAL;
	}
	r->len = len;
	if (!vi2c_allowed(v, r->addr)) {
		v->stats.denied++;
		vlb_dbg(VLB_DBG_DEV, v->dev ? vlb_dev_name(v->dev) : "i2c",
			"request %u: address 0x%02x not allowed", elem->index, r->addr);
		return -EACCES;
	}
	if (!r->read)
		vlb_iov_to_buf(elem->out_sg, elem->out_num, VI2C_OUT_HDR_SIZE, r->buf, len);
	return 0;
}

/*
 * Carry a group on a SMBus-only adapter: the shapes i2c_smbus_xfer_emulated()
 * makes of each SMBus transaction, translated back. Returns the number of
 * messages carried (0 or all), or -EOPNOTSUPP for another shape.
 */
static int vi2c_smbus_group(struct vi2c *v, struct vi2c_req *g, unsigned int n)
{
	union i2c_smbus_data d;
	unsigned long f = v->funcs;
	uint8_t rw = I2C_SMBUS_WRITE, cmd = 0;
	uint32_t size, len = 0;
	uint8_t *rbuf = NULL;
	int ret;

	memset(&d, 0, sizeof(d));
	if (n == 1 && !g[0].len && (f & I2C_FUNC_SMBUS_QUICK)) {
		size = I2C_SMBUS_QUICK;
		rw = g[0].read ? I2C_SMBUS_READ : I2C_SMBUS_WRITE;
	} else if (n == 1 && g[0].read && g[0].len == 1 && (f & I2C_FUNC_SMBUS_READ_BYTE)) {
		size = I2C_SMBUS_BYTE;
		rw = I2C_SMBUS_READ;
		rbuf = g[0].buf;
		len = 1;
	} else if (n == 1 && !g[0].read && g[0].len == 1 && (f & I2C_FUNC_SMBUS_WRITE_BYTE)) {
		size = I2C_SMBUS_BYTE;
		cmd = g[0].buf[0];
	} else if (n == 1 && !g[0].read && g[0].len == 2 &&
		   (f & I2C_FUNC_SMBUS_WRITE_BYTE_DATA)) {
		size = I2C_SMBUS_BYTE_DATA;
		cmd = g[0].buf[0];
		d.byte = g[0].buf[1];
	} else if (n == 1 && !g[0].read && g[0].len == 3 &&
		   (f & I2C_FUNC_SMBUS_WRITE_WORD_DATA)) {
		size = I2C_SMBUS_WORD_DATA;
		cmd = g[0].buf[0];
		d.word = g[0].buf[1] | g[0].buf[2] << 8;
	} else if (n == 1 && !g[0].read && g[0].len >= 2 &&
		   g[0].len <= I2C_SMBUS_BLOCK_MAX + 1 && (f & I2C_FUNC_SMBUS_WRITE_I2C_BLOCK)) {
		size = I2C_SMBUS_I2C_BLOCK_DATA;
		cmd = g[0].buf[0];
		d.block[0] = g[0].len - 1;
		memcpy(&d.block[1], &g[0].buf[1], g[0].len - 1);
	} else if (n == 2 && !g[0].read && g[0].len == 1 && g[1].read &&
		   g[0].addr == g[1].addr && g[1].len >= 1 &&
		   g[1].len <= I2C_SMBUS_BLOCK_MAX) {
		/* Register write, repeated start, read: the read half of the
		 * data transactions.
		 */
		rw = I2C_SMBUS_READ;
		cmd = g[0].buf[0];
		rbuf = g[1].buf;
		len = g[1].len;
		if (len == 1 && (f & I2C_FUNC_SMBUS_READ_BYTE_DATA)) {
			size = I2C_SMBUS_BYTE_DATA;
		} else if (len == 2 && (f & I2C_FUNC_SMBUS_READ_WORD_DATA)) {
			size = I2C_SMBUS_WORD_DATA;
		} else if (f & I2C_FUNC_SMBUS_READ_I2C_BLOCK) {
			size = I2C_SMBUS_I2C_BLOCK_DATA;
			d.block[0] = len;
		} else {
			return -EOPNOTSUPP;
		}
	} else {
		return -EOPNOTSUPP;
	}
	ret = v->bus->smbus(v->bus_ctx, g[0].addr, rw, cmd, size, &d);
	if (ret)
		return ret;
	if (size == I2C_SMBUS_I2C_BLOCK_DATA && rw == I2C_SMBUS_READ) {
		/* An adapter that returned less than asked failed the read. */
		if (d.block[0] < len)
			return -EIO;
		memcpy(rbuf, &d.block[1], len);
	} else if (size == I2C_SMBUS_WORD_DATA && rbuf) {
		rbuf[0] = d.word & 0xff;
		rbuf[1] = d.word >> 8;
	} else if (rbuf) {
		rbuf[0] = d.byte;
	}
	return n;
}

/* Send the collected group to the bus; marks the messages it carried. */
static void vi2c_run_group(struct vi2c *v)
{
	struct i2c_msg msgs[VI2C_MAX_GROUP];
	unsigned int i;
	int ret;

	if (!v->nr)
		return;
	v->stats.groups++;
	if (v->funcs & I2C_FUNC_I2C) {
		for (i = 0; i < v->nr; i++) {
			msgs[i].addr = v->group[i].addr;
			msgs[i].flags = v->group[i].read ? I2C_M_RD : 0;
			msgs[i].len = v->group[i].len;
			msgs[i].buf = v->group[i].buf;
		}
		ret = v->bus->rdwr(v->bus_ctx, msgs, v->nr);
	} else {
		ret = vi2c_smbus_group(v, v->group, v->nr);
		if (ret == -EOPNOTSUPP)
			v->stats.unsupported++;
	}
	if (ret < (int)v->nr)
		v->stats.bus_errors++;
	for (i = 0; i < v->nr && (int)i < ret; i++)
		v->group[i].ok = true;
}

/*
 * Answer one request: a read's bytes (zeros when it failed), then the
 * status. Returns the used length.
 */
static uint32_t vi2c_complete(struct vlb_vq_elem *elem, bool read, const uint8_t *buf,
			      uint32_t len, bool ok)
{
	size_t in = vlb_iov_size(elem->in_sg, elem->in_num);
	uint8_t status = ok ? VIRTIO_I2C_MSG_OK : VIRTIO_I2C_MSG_ERR;

	if (!in)
		return 0;
	if (read && ok)
		vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, buf, len);
	else if (in > 1)
		vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, NULL, in - 1);
	vlb_iov_from_buf(elem->in_sg, elem->in_num, in - 1, &status, 1);
	return in;
}

/* Push the group's answers and forget it. */
static void vi2c_finish_group(struct vi2c *v, struct vlb_vq *vq)
{
	unsigned int i;

	for (i = 0; i < v->nr; i++) {
		struct vi2c_req *r = &v->group[i];

		vlb_vq_push(vq, r->elem, vi2c_complete(r->elem, r->read, r->buf, r->len, r->ok));
		free(r->elem);
		r->elem = NULL;
	}
	v->nr = 0;
}

/* Fail one request that belongs to no collected group. */
static void vi2c_fail_one(struct vlb_vq *vq, struct vlb_vq_elem *elem)
{
	vlb_vq_push(vq, elem, vi2c_complete(elem, false, NULL, 0, false));
	free(elem);
}

/*
 * Take one request of the driver. Returns true when it ended a group (so
 * nothing is held any more).
 */
static bool vi2c_handle(struct vi2c *v, struct vlb_vq *vq, struct vlb_vq_elem *elem,
			bool zero_len_ok)
{
	struct vi2c_req *r;
	int ret;

	if (v->failing) {
		/* A request of this group failed already (FAIL_NEXT). */
		struct vi2c_req tmp;

		ret = vi2c_parse(v, elem, zero_len_ok, &tmp);
		if (ret == -EINVAL)
			v->stats.bad++;
		v->failing = tmp.fail_next;
		vi2c_fail_one(vq, elem);
		return !v->failing;
	}
	if (v->nr == VI2C_MAX_GROUP) {
		vi2c_bad(v, elem, "group longer than %d requests", VI2C_MAX_GROUP);
		v->stats.bad++;
		vi2c_finish_group(v, vq);
		v->failing = true;
		return vi2c_handle(v, vq, elem, zero_len_ok);
	}
	r = &v->group[v->nr++];
	ret = vi2c_parse(v, elem, zero_len_ok, r);
	if (ret) {
		/* Nothing of the group reaches the bus. */
		if (ret == -EINVAL)
			v->stats.bad++;
		v->failing = r->fail_next;
		vi2c_finish_group(v, vq);
		return !v->failing;
	}
	if (r->fail_next)
		return false;
	vi2c_run_group(v);
	vi2c_finish_group(v, vq);
	return true;
}

/* Drop what is held without answering: the rings are gone. */
static void vi2c_drop(struct vi2c *v)
{
	unsigned int i;

	for (i = 0; i < v->nr; i++) {
		free(v->group[i].elem);
		v->group[i].elem = NULL;
	}
	v->nr = 0;
	v->failing = false;
}

static void vi2c_arm_hold(struct vi2c *v, bool on)
{
	struct itimerspec its = { 0 };

	if (v->timer_fd < 0)
		return;
	if (on)
		its.it_value.tv_nsec = VI2C_HOLD_MS * 1000000L;
	if (timerfd_settime(v->timer_fd, 0, &its, NULL))
		vlb_err(v->adapter, "timerfd_settime: %s", strerror(errno));
}

static void vi2c_publish(struct vlb_dev *dev, struct vlb_vq *vq)
{
	int ret;

	vlb_vq_flush(vq);
	ret = vlb_vq_notify(vq);
	if (ret)
		vlb_err(vlb_dev_name(dev), "call eventfd: %s", strerror(-ret));
}

/* Device ------------------------------------------------------------------ */

static uint64_t vi2c_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VIRTIO_I2C_F_ZERO_LENGTH_REQUEST) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

/*
 * vlb_vq_handle_cb: requests are held until their group is complete;
 * vi2c_handle() pushes and frees them.
 */
static int64_t vi2c_handle_cb(struct vlb_dev *dev, unsigned int qidx,
			      struct vlb_vq_elem *elem, void *opaque)
{
	bool zero_len_ok = vlb_dev_features(dev) & (1ULL << VIRTIO_I2C_F_ZERO_LENGTH_REQUEST);

	vi2c_handle(opaque, vlb_dev_vq(dev, qidx), elem, zero_len_ok);
	return VLB_VQ_KEPT;
}

static void vi2c_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vi2c *v = vlb_dev_priv(dev);

	vlb_vq_serve(dev, qidx, VI2C_BUDGET, vi2c_handle_cb, v);
	/* The driver adds a group before it kicks: the rest is on its way. */
	vi2c_arm_hold(v, v->nr || v->failing);
}

/* The hold ran out: send the unfinished group as it is. */
static void vi2c_hold_expired(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct vi2c *v = opaque;
	struct vlb_vq *vq;
	uint64_t n;

	(void)revents;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	if (!v->nr && !v->failing)
		return;
	vq = vlb_dev_vq(dev, VI2C_REQ_Q);
	if (!vlb_vq_ready(vq)) {
		vi2c_drop(v);
		return;
	}
	vlb_err(vlb_dev_name(dev), "group of %u requests unfinished after %d ms, sent as it is",
		v->nr, VI2C_HOLD_MS);
	v->failing = false;
	vi2c_run_group(v);
	vi2c_finish_group(v, vq);
	vi2c_publish(dev, vq);
}

static void vi2c_queue_set_started(struct vlb_dev *dev, unsigned int qidx, bool started)
{
	struct vi2c *v = vlb_dev_priv(dev);

	(void)qidx;
	if (!started) {
		vi2c_drop(v);
		vi2c_arm_hold(v, false);
	}
}

static void vi2c_reset(struct vlb_dev *dev)
{
	struct vi2c *v = vlb_dev_priv(dev);
	const struct vi2c_stats *s = &v->stats;

	vi2c_drop(v);
	vi2c_arm_hold(v, false);
	if (s->groups || s->bad || s->denied)
		vlb_log(vlb_dev_name(dev),
			"%llu transfers (%llu failed on the bus, %llu not possible on SMBus), %llu requests denied, %llu malformed",
			(unsigned long long)s->groups, (unsigned long long)s->bus_errors,
			(unsigned long long)s->unsupported, (unsigned long long)s->denied,
			(unsigned long long)s->bad);
	memset(&v->stats, 0, sizeof(v->stats));
}

static const struct vlb_dev_iface vi2c_iface = {
	.get_features		= vi2c_get_features,
	.queue_set_started	= vi2c_queue_set_started,
	.queue_kick		= vi2c_queue_kick,
	.reset			= vi2c_reset,
};

/* Program ----------------------------------------------------------------- */

static const struct vlb_backend_option vi2c_options[] = {
	{ "adapter", "DEV", "host I2C adapter to forward to (/dev/i2c-N)" },
	{ "address", "A[,A...]", "7-bit addresses the driver may reach, 0x08..0x77 (repeatable)" },
	{ NULL, NULL, NULL },
};

/* Parse "0x1c,0x50,..." into the allow list. Returns 0 or -EINVAL (logged). */
static int vi2c_parse_addresses(struct vi2c *v, const char *arg)
{
	const char *p = arg;

	do {
		unsigned long a;
		char *end;

		errno = 0;
		a = strtoul(p, &end, 0);
		if (errno || end == p || (*end && *end != ',') || *p == '-' || *p == '+' ||
		    a < 0x08 || a > 0x77) {
			vlb_err(arg, "--address: not a list of 7-bit addresses in 0x08..0x77");
			return -EINVAL;
		}
		if (!vi2c_allowed(v, a))
			v->nr_allowed++;
		v->allowed[a / 8] |= 1U << (a % 8);
		p = *end ? end + 1 : end;
	} while (*p);
	if (p != arg && p[-1] == ',') {
		vlb_err(arg, "--address: not a list of 7-bit addresses in 0x08..0x77");
		return -EINVAL;
	}
	return 0;
}

static int vi2c_parse_option(void *priv, const char *name, const char *arg)
{
	struct vi2c *v = priv;

	if (!strcmp(name, "adapter")) {
		v->adapter = arg;
		return 0;
	}
	return vi2c_parse_addresses(v, arg);
}

static int vi2c_setup(struct vlb_dev *dev)
{
	struct vi2c *v = vlb_dev_priv(dev);
	const char *kind;
	int ret;

	v->dev = dev;
	if (!v->adapter) {
		vlb_err(vlb_dev_name(dev), "no --adapter given");
		return -EINVAL;
	}
	if (!v->nr_allowed) {
		vlb_err(vlb_dev_name(dev), "no --address given: the driver could reach nothing");
		return -EINVAL;
	}
	v->fd = open(v->adapter, O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		ret = -errno;
		vlb_err(v->adapter, "--adapter: %s", strerror(-ret));
		return ret;
	}
	if (ioctl(v->fd, I2C_FUNCS, &v->funcs) < 0) {
		ret = -errno;
		vlb_err(v->adapter, "--adapter: I2C_FUNCS: %s (not an i2c-dev node?)",
			strerror(-ret));
		goto err_close;
	}
	if (v->funcs & I2C_FUNC_I2C) {
		kind = "I2C_RDWR";
	} else if (v->funcs & (I2C_FUNC_SMBUS_QUICK | I2C_FUNC_SMBUS_BYTE |
			       I2C_FUNC_SMBUS_BYTE_DATA | I2C_FUNC_SMBUS_WORD_DATA |
			       I2C_FUNC_SMBUS_I2C_BLOCK)) {
		kind = "SMBus";
	} else {
		vlb_err(v->adapter, "--adapter: functionality 0x%lx has neither I2C nor SMBus transfers",
			v->funcs);
		ret = -EOPNOTSUPP;
		goto err_close;
	}
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer_fd < 0) {
		ret = -errno;
		vlb_err(v->adapter, "timerfd_create: %s", strerror(-ret));
		goto err_close;
	}
	ret = vlb_dev_add_watch(dev, v->timer_fd, POLLIN, vi2c_hold_expired, v);
	if (ret) {
		vlb_err(v->adapter, "watching the timer: %s", strerror(-ret));
		goto err_timer;
	}
	v->bus = &vi2c_dev_bus;
	v->bus_ctx = v;
	vlb_log(v->adapter, "functionality 0x%lx, forwarding with %s to %u address%s", v->funcs,
		kind, v->nr_allowed, v->nr_allowed == 1 ? "" : "es");
	return 0;

err_timer:
	close(v->timer_fd);
	v->timer_fd = -1;
err_close:
	close(v->fd);
	v->fd = -1;
	return ret;
}

static void vi2c_teardown(struct vlb_dev *dev)
{
	struct vi2c *v = vlb_dev_priv(dev);

	vi2c_drop(v);
	vlb_dev_remove_watch(dev, v->timer_fd);
	close(v->timer_fd);
	v->timer_fd = -1;
	close(v->fd);
	v->fd = -1;
}

int main(int argc, char **argv)
{
	static const struct vlb_backend i2c = {
		.name		= "vhost-user-i2c",
		.type		= "i2c",
		.version	= VLB_VERSION,
		.iface		= &vi2c_iface,
		.nr_vqs		= VI2C_QUEUES,
		.priv		= &vi2c_dev,
		.options	= vi2c_options,
		.parse_option	= vi2c_parse_option,
		.setup		= vi2c_setup,
		.teardown	= vi2c_teardown,
	};

	return vlb_backend_main(&i2c, argc, argv);
}
