/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-side driver and front-end for the libvlb tests: a split ring laid out
 * in a memfd the way a virtio driver would, and a minimal vhost-user
 * front-end speaking through lib/vhost_user.h framing.
 *
 * The front-end either talks to a back-end process over a socket, or (when
 * t_fe.dev is set) to a struct vlb_dev in this process: after each message
 * it runs vlb_dev_dispatch() itself, so the tests need no threads.
 */
#ifndef VLB_TESTS_T_VHOST_H
#define VLB_TESTS_T_VHOST_H

#include <endian.h>
#include <stdbool.h>

#include "../helpers.h"
#include "vhost_user.h"

#define T_DESC_F_NEXT		1
#define T_DESC_F_WRITE		2
#define T_DESC_F_INDIRECT	4

/**
 * struct t_ring - the driver's view of one split ring in shared memory
 * @mem: the test's mapping of the memory region (guest address 0 = @mem)
 * @num: ring size
 * @desc: guest address of the descriptor table
 * @avail: guest address of the avail ring
 * @used: guest address of the used ring
 * @avail_idx: next avail index the driver will publish
 * @used_seen: used entries the driver has consumed
 */
struct t_ring {
	uint8_t *mem;
	uint16_t num;
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint16_t avail_idx;
	uint16_t used_seen;
};

static inline void t_ring_init(struct t_ring *r, void *mem, uint16_t num,
			       uint64_t desc, uint64_t avail, uint64_t used)
{
	r->mem = mem;
	r->num = num;
	r->desc = desc;
	r->avail = avail;
	r->used = used;
	r->avail_idx = 0;
	r->used_seen = 0;
	memset(r->mem + desc, 0, 16 * num);
	memset(r->mem + avail, 0, 6 + 2 * num);
	memset(r->mem + used, 0, 6 + 8 * num);
}

static inline void t_put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static inline uint16_t t_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t t_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* Write a descriptor into a table at guest address @table. */
static inline void t_desc_write(struct t_ring *r, uint64_t table, unsigned int i,
				uint64_t addr, uint32_t len, uint16_t flags,
				uint16_t next)
{
	uint8_t *d = r->mem + table + 16 * (uint64_t)i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	t_put16(d + 12, flags);
	t_put16(d + 14, next);
}

static inline void t_ring_desc(struct t_ring *r, unsigned int i, uint64_t addr,
			       uint32_t len, uint16_t flags, uint16_t next)
{
	t_desc_write(r, r->desc, i, addr, len, flags, next);
}

/* Make chain @head available (no kick). */
static inline void t_ring_post(struct t_ring *r, uint16_t head)
{
	t_put16(r->mem + r->avail + 4 + 2 * (r->avail_idx % r->num), head);
	r->avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	t_put16(r->mem + r->avail + 2, r->avail_idx);
}

static inline void t_ring_set_avail_idx(struct t_ring *r, uint16_t idx)
{
	t_put16(r->mem + r->avail + 2, idx);
}

static inline void t_ring_set_avail_flags(struct t_ring *r, uint16_t flags)
{
	t_put16(r->mem + r->avail, flags);
}

static inline void t_ring_set_used_event(struct t_ring *r, uint16_t v)
{
	t_put16(r->mem + r->avail + 4 + 2 * r->num, v);
}

static inline uint16_t t_ring_used_idx(struct t_ring *r)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return t_get16(r->mem + r->used + 2);
}

/* Next used entry: 0 with @id and @len, or -EAGAIN when there is none. */
static inline int t_ring_get_used(struct t_ring *r, uint32_t *id, uint32_t *len)
{
	const uint8_t *e;

	if (t_ring_used_idx(r) == r->used_seen)
		return -EAGAIN;
	e = r->mem + r->used + 4 + 8 * (r->used_seen % r->num);
	*id = t_get32(e);
	*len = t_get32(e + 4);
	r->used_seen++;
	return 0;
}

/**
 * struct t_fe - minimal vhost-user front-end
 * @sock: connected socket
 * @dev: back-end in this process, or NULL
 * @dispatch: run by t_fe_call() after each message when @dev is set
 *	(a wrapper around vlb_dev_dispatch())
 * @reply_ack: set NEED_REPLY on requests without a reply
 * @dispatch_ret: what the last @dispatch returned
 */
struct t_fe {
	int sock;
	void *dev;
	int (*dispatch)(void *dev);
	bool reply_ack;
	int dispatch_ret;
};

static inline bool t_req_has_reply(uint32_t req)
{
	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_GET_STATUS:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_INFLIGHT_FD:
		return true;
	default:
		return false;
	}
}

/**
 * t_fe_call() - send one request and read its reply or acknowledgement
 * @fe: front-end
 * @req: request
 * @payload: @size bytes of payload, or NULL
 * @size: payload bytes
 * @fds: @nfds fds to pass (not closed)
 * @nfds: number of fds
 * @reply: filled with the reply when there is one (may be NULL)
 *
 * Returns: 0; -EIO when the back-end acknowledged with a failure;
 * -ETIMEDOUT or -ECONNRESET when no reply came; -EPROTO for a reply that
 * does not match; another -errno.
 */
static inline int t_fe_call(struct t_fe *fe, uint32_t req, const void *payload,
			    uint32_t size, const int *fds, unsigned int nfds,
			    struct vhost_user_msg *reply)
{
	struct vhost_user_msg msg = { .hdr = { .request = req, .flags = VHOST_USER_VERSION,
					       .size = size } };
	struct vhost_user_msg r;
	bool has_reply = t_req_has_reply(req);
	bool ack = fe->reply_ack && !has_reply;
	int ret;

	if (size > sizeof(msg.payload) || nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	if (size)
		memcpy(&msg.payload, payload, size);
	if (nfds)
		memcpy(msg.fds, fds, nfds * sizeof(int));
	msg.nfds = nfds;
	if (ack)
		msg.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	ret = vlb_msg_send(fe->sock, &msg);
	if (ret)
		return ret;
	if (fe->dev)
		fe->dispatch_ret = fe->dispatch(fe->dev);
	if (!has_reply && !ack)
		return fe->dev ? fe->dispatch_ret : 0;

	ret = t_wait_readable(fe->sock, fe->dev ? 0 : T_WAIT_MS);
	if (ret)
		return fe->dev && fe->dispatch_ret ? fe->dispatch_ret : ret;
	ret = vlb_msg_recv(fe->sock, &r);
	if (ret)
		return ret;
	/* Only GET_INFLIGHT_FD answers with an fd (the caller's then). */
	if ((r.nfds && req != VHOST_USER_GET_INFLIGHT_FD) || r.hdr.request != req ||
	    r.hdr.flags != (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK)) {
		vlb_msg_close_fds(&r);
		return -EPROTO;
	}
	if (reply)
		*reply = r;
	if (ack)
		return r.hdr.size == 8 && r.payload.u64 == 0 ? 0 : -EIO;
	return 0;
}

static inline int t_fe_get_u64(struct t_fe *fe, uint32_t req, uint64_t *val)
{
	struct vhost_user_msg r;
	int ret = t_fe_call(fe, req, NULL, 0, NULL, 0, &r);

	if (ret)
		return ret;
	if (r.hdr.size != 8)
		return -EPROTO;
	*val = r.payload.u64;
	return 0;
}

static inline int t_fe_set_u64(struct t_fe *fe, uint32_t req, uint64_t val)
{
	return t_fe_call(fe, req, &val, sizeof(val), NULL, 0, NULL);
}

static inline int t_fe_set_state(struct t_fe *fe, uint32_t req, uint32_t index,
				 uint32_t num)
{
	struct vhost_user_vring_state s = { .index = index, .num = num };

	return t_fe_call(fe, req, &s, sizeof(s), NULL, 0, NULL);
}

/* SET_VRING_KICK/CALL/ERR with @fd, or NOFD when @fd < 0. */
static inline int t_fe_set_vring_fd(struct t_fe *fe, uint32_t req,
				    uint32_t index, int fd)
{
	uint64_t v = index | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

	return t_fe_call(fe, req, &v, sizeof(v), &fd, fd < 0 ? 0 : 1, NULL);
}

/* One memory region: guest address 0, front-end address @qva. */
static inline int t_fe_set_mem(struct t_fe *fe, int memfd, uint64_t size,
			       uint64_t qva)
{
	struct vhost_user_mem_table t = {
		.nregions = 1,
		.regions[0] = {
			.guest_phys_addr = 0,
			.memory_size = size,
			.userspace_addr = qva,
			.mmap_offset = 0,
		},
	};

	return t_fe_call(fe, VHOST_USER_SET_MEM_TABLE, &t,
			 offsetof(struct vhost_user_mem_table, regions) + sizeof(t.regions[0]),
			 &memfd, 1, NULL);
}

/* NUM, BASE, ADDR (front-end addresses = @qva + guest address), KICK, CALL. */
static inline int t_fe_start_ring(struct t_fe *fe, unsigned int index,
				  const struct t_ring *r, uint64_t qva,
				  int kick, int call)
{
	struct vhost_user_vring_addr a = {
		.index = index,
		.desc_user_addr = qva + r->desc,
		.used_user_addr = qva + r->used,
		.avail_user_addr = qva + r->avail,
	};
	int ret;

	ret = t_fe_set_state(fe, VHOST_USER_SET_VRING_NUM, index, r->num);
	if (!ret)
		ret = t_fe_set_state(fe, VHOST_USER_SET_VRING_BASE, index, 0);
	if (!ret)
		ret = t_fe_call(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL);
	if (!ret)
		ret = t_fe_set_vring_fd(fe, VHOST_USER_SET_VRING_CALL, index, call);
	if (!ret)
		ret = t_fe_set_vring_fd(fe, VHOST_USER_SET_VRING_KICK, index, kick);
	return ret;
}

#endif /* VLB_TESTS_T_VHOST_H */
