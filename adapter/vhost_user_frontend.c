// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback adapter: a vhost-user front-end.
 *
 * The front-end's half of QEMU's docs/interop/vhost-user.rst, in the order
 * QEMU's hw/virtio/vhost-user.c and hw/virtio/vhost.c use on a real VM, so
 * that back-ends written and tested against QEMU see nothing new. It knows
 * nothing about the kernel: memory fd, ring IOVAs and eventfds come from the
 * caller.
 *
 * Every reply is checked before it is used: request number, REPLY flag and
 * version, exact payload size, no fds. Every wait is bounded (poll() with
 * the reply timeout, and SO_RCVTIMEO/SO_SNDTIMEO for a peer that stops in
 * the middle of a message).
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vhost_user_frontend.h"
#include "vlb_compiler.h"
#include "vlb_log.h"
#include "vlb_msg_dump.h"

/* Sizes of the ring parts (virtio spec 2.7: split virtqueues). */
#define VUF_DESC_SIZE(num)	(16ULL * (num))
#define VUF_AVAIL_SIZE(num)	(6ULL + 2ULL * (num))
#define VUF_USED_SIZE(num)	(6ULL + 8ULL * (num))

/* Payload of SET_MEM_TABLE with one region: QEMU sends only the regions used. */
#define VUF_MEM_TABLE_SIZE(n) \
	(offsetof(struct vhost_user_mem_table, regions) + \
	 (n) * sizeof(struct vhost_user_mem_region))

static const char *vuf_errstr(int ret)
{
	switch (ret) {
	case -ETIMEDOUT:
		return "no answer in time";
	case -ECONNRESET:
	case -EPIPE:
		return "back-end closed the connection";
	case -EPROTO:
		return "protocol error";
	default:
		return strerror(-ret);
	}
}

/* Queue index a vring request is about, or -1. */
static int vuf_msg_queue(const struct vhost_user_msg *m)
{
	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		return m->payload.state.index;
	case VHOST_USER_SET_VRING_ADDR:
		return m->payload.addr.index;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return m->payload.u64 & VHOST_USER_VRING_IDX_MASK;
	default:
		return -1;
	}
}

/*
 * Record one failure: "<socket>: <REQUEST> queue <n>: <what>: <cause>".
 * @req may be NULL. Returns @ret so callers can "return vuf_fail(...)".
 */
static __printf(4, 5) int
vuf_fail(struct vuf *f, int ret, const struct vhost_user_msg *req,
	 const char *fmt, ...)
{
	char what[256];
	char where[64] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	if (req) {
		int q = vuf_msg_queue(req);

		if (q >= 0)
			snprintf(where, sizeof(where), "%s queue %d: ",
				 vlb_request_name(req->hdr.request), q);
		else
			snprintf(where, sizeof(where), "%s: ",
				 vlb_request_name(req->hdr.request));
	}
	snprintf(f->err, sizeof(f->err), "%s: %s%s%s%s", f->name, where, what,
		 *what ? ": " : "", vuf_errstr(ret));
	return ret;
}

int64_t vuf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int vuf_serve_backend_req(struct vuf *f);

/*
 * Wait (bounded) until @fd is readable, then read one message. While we
 * wait for a reply on the vhost-user socket, requests on the back-end
 * channel are answered: a single-threaded back-end that sent one with
 * NEED_REPLY will not answer us before it has our ack.
 * Returns: 0, -ETIMEDOUT, -ECONNRESET, -EPROTO or -errno.
 */
static int vuf_recv(struct vuf *f, int fd, struct vhost_user_msg *m)
{
	int64_t deadline = vuf_now_ms() + f->timeout_ms;
	int ret;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = fd == f->sock ? f->backend_fd : -1,
			  .events = POLLIN },
		};
		int64_t left = deadline - vuf_now_ms();

		if (left < 0)
			left = 0;
		ret = poll(pfd, 2, (int)left);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (ret == 0)
			return -ETIMEDOUT;
		if (pfd[0].revents)
			break;
		/* A channel failure is the channel's: keep waiting for @fd. */
		if (pfd[1].revents)
			vuf_serve_backend_req(f);
	}

	ret = vlb_msg_recv(fd, m);
	if (ret == -EAGAIN || ret == -EWOULDBLOCK)
		ret = -ETIMEDOUT;	/* SO_RCVTIMEO: stopped mid-message */
	return ret;
}

static int vuf_send(struct vuf *f, int fd, struct vhost_user_msg *m,
		    bool backend_channel)
{
	int ret;

	vlb_msg_dbg(f->name, "->", m, backend_channel, f->device_id);
	ret = vlb_msg_send(fd, m);
	if (ret == -EAGAIN || ret == -EWOULDBLOCK)
		ret = -ETIMEDOUT;	/* SO_SNDTIMEO: the peer stopped reading */
	return ret;
}

/*
 * Send @msg and wait for what it needs back.
 * @reply: NULL for a request without a reply payload; when REPLY_ACK was
 *         negotiated it is sent with NEED_REPLY and the ack is checked.
 * @min_size, @max_size: accepted payload sizes of @reply.
 */
static int vuf_call_fd(struct vuf *f, struct vhost_user_msg *msg,
		       struct vhost_user_msg *reply, uint32_t min_size,
		       uint32_t max_size, unsigned int max_fds)
{
	bool ack = !reply &&
		   vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_REPLY_ACK);
	struct vhost_user_msg ackmsg;
	struct vhost_user_msg *r = reply ? reply : &ackmsg;
	int ret;

	if (f->sock < 0)
		return vuf_fail(f, -ENOTCONN, msg, "not connected");

	msg->hdr.flags = VHOST_USER_VERSION;
	if (ack)
		msg->hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	ret = vuf_send(f, f->sock, msg, false);
	if (ret)
		return vuf_fail(f, ret, msg, "send");
	if (!reply && !ack)
		return 0;

	ret = vuf_recv(f, f->sock, r);
	if (ret == -ETIMEDOUT)
		return vuf_fail(f, ret, msg, "waited %d ms for the reply",
				f->timeout_ms);
	if (ret == -EPROTO)
		return vuf_fail(f, ret, msg,
				"malformed or oversized reply (limit %zu bytes)",
				VHOST_USER_MAX_PAYLOAD);
	if (ret)
		return vuf_fail(f, ret, msg, "waiting for the reply");
	vlb_msg_dbg(f->name, "<-", r, false, f->device_id);

	if (r->nfds > max_fds) {
		unsigned int n = r->nfds;

		vlb_msg_close_fds(r);
		return vuf_fail(f, -EPROTO, msg, "reply carries %u fds", n);
	}
	if (r->hdr.request != msg->hdr.request) {
		vlb_msg_close_fds(r);
		return vuf_fail(f, -EPROTO, msg, "reply is for request %u (%s)",
				r->hdr.request,
				vlb_request_name(r->hdr.request));
	}
	if ((r->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    !(r->hdr.flags & VHOST_USER_REPLY_MASK)) {
		vlb_msg_close_fds(r);
		return vuf_fail(f, -EPROTO, msg, "bad reply flags 0x%x",
				r->hdr.flags);
	}

	if (ack) {
		if (r->hdr.size != sizeof(r->payload.u64))
			return vuf_fail(f, -EPROTO, msg,
					"ack of %u bytes, expected %zu",
					r->hdr.size, sizeof(r->payload.u64));
		if (r->payload.u64)
			return vuf_fail(f, -EIO, msg,
					"back-end reports failure %llu",
					(unsigned long long)r->payload.u64);
		return 0;
	}

	if (r->hdr.size < min_size || r->hdr.size > max_size) {
		vlb_msg_close_fds(r);
		if (min_size == max_size)
			return vuf_fail(f, -EPROTO, msg,
					"reply of %u bytes, expected %u",
					r->hdr.size, min_size);
		return vuf_fail(f, -EPROTO, msg,
				"reply of %u bytes, expected %u..%u",
				r->hdr.size, min_size, max_size);
	}
	return 0;
}

static int vuf_call(struct vuf *f, struct vhost_user_msg *msg,
		    struct vhost_user_msg *reply, uint32_t min_size,
		    uint32_t max_size)
{
	return vuf_call_fd(f, msg, reply, min_size, max_size, 0);
}

static void vuf_msg_init(struct vhost_user_msg *m, uint32_t request,
			 uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = request;
	m->hdr.size = size;
}

static int vuf_get_u64(struct vuf *f, uint32_t request, uint64_t *val)
{
	struct vhost_user_msg msg, reply;
	int ret;

	vuf_msg_init(&msg, request, 0);
	ret = vuf_call(f, &msg, &reply, sizeof(reply.payload.u64),
		       sizeof(reply.payload.u64));
	if (ret)
		return ret;
	*val = reply.payload.u64;
	return 0;
}

static int vuf_set_u64(struct vuf *f, uint32_t request, uint64_t val)
{
	struct vhost_user_msg msg;

	vuf_msg_init(&msg, request, sizeof(msg.payload.u64));
	msg.payload.u64 = val;
	return vuf_call(f, &msg, NULL, 0, 0);
}

static int vuf_set_state(struct vuf *f, uint32_t request, uint32_t index,
			 uint32_t num)
{
	struct vhost_user_msg msg;

	vuf_msg_init(&msg, request, sizeof(msg.payload.state));
	msg.payload.state.index = index;
	msg.payload.state.num = num;
	return vuf_call(f, &msg, NULL, 0, 0);
}

/* SET_VRING_KICK / SET_VRING_CALL: queue index in the u64, the fd attached. */
static int vuf_set_vring_fd(struct vuf *f, uint32_t request, uint32_t index,
			    int fd)
{
	struct vhost_user_msg msg;

	vuf_msg_init(&msg, request, sizeof(msg.payload.u64));
	msg.payload.u64 = index & VHOST_USER_VRING_IDX_MASK;
	msg.fds[0] = fd;
	msg.nfds = 1;
	return vuf_call(f, &msg, NULL, 0, 0);
}

static int vuf_request0(struct vuf *f, uint32_t request)
{
	struct vhost_user_msg msg;

	vuf_msg_init(&msg, request, 0);
	return vuf_call(f, &msg, NULL, 0, 0);
}

void vuf_init(struct vuf *f, int timeout_ms)
{
	memset(f, 0, sizeof(*f));
	f->sock = -1;
	f->backend_fd = -1;
	f->timeout_ms = timeout_ms > 0 ? timeout_ms : VUF_DEFAULT_TIMEOUT_MS;
	f->protocol_wanted = VUF_PROTOCOL_FEATURES;
	f->inflight_fd = -1;
	snprintf(f->name, sizeof(f->name), "back-end");
}

/* Bound every blocking send/recv on @fd by the reply timeout. */
static int vuf_set_sock_timeouts(struct vuf *f, int fd)
{
	struct timeval tv = {
		.tv_sec = f->timeout_ms / 1000,
		.tv_usec = (f->timeout_ms % 1000) * 1000,
	};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

int vuf_attach(struct vuf *f, int sock, const char *name)
{
	int ret;

	if (name)
		snprintf(f->name, sizeof(f->name), "%s", name);
	if (f->sock >= 0) {
		close(sock);
		return vuf_fail(f, -EBUSY, NULL, "already connected");
	}
	f->sock = sock;
	ret = vuf_set_sock_timeouts(f, sock);
	if (ret) {
		vuf_close(f);
		return vuf_fail(f, ret, NULL, "setsockopt");
	}
	return 0;
}

int vuf_connect(struct vuf *f, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int sock, ret;

	snprintf(f->name, sizeof(f->name), "%s", path);
	if (strlen(path) >= sizeof(sun.sun_path))
		return vuf_fail(f, -ENAMETOOLONG, NULL, "socket path");
	memcpy(sun.sun_path, path, strlen(path) + 1);

	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return vuf_fail(f, -errno, NULL, "socket");
	if (connect(sock, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		close(sock);
		if (ret == -ECONNREFUSED)
			return vuf_fail(f, ret, NULL,
					"connect (is the back-end running?)");
		return vuf_fail(f, ret, NULL, "connect");
	}
	return vuf_attach(f, sock, NULL);
}

/* Give the back-end one end of a socketpair for its own requests. */
static int vuf_setup_backend_channel(struct vuf *f)
{
	struct vhost_user_msg msg;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return vuf_fail(f, -errno, NULL, "socketpair");

	ret = vuf_set_sock_timeouts(f, sv[0]);
	if (ret) {
		close(sv[0]);
		close(sv[1]);
		return vuf_fail(f, ret, NULL, "setsockopt");
	}

	if (f->backend_fd >= 0)		/* negotiated again */
		close(f->backend_fd);
	f->backend_fd = -1;

	vuf_msg_init(&msg, VHOST_USER_SET_BACKEND_REQ_FD, 0);
	msg.fds[0] = sv[1];
	msg.nfds = 1;
	ret = vuf_call(f, &msg, NULL, 0, 0);
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		return ret;
	}
	f->backend_fd = sv[0];
	return 0;
}

int vuf_negotiate(struct vuf *f)
{
	uint64_t offered;
	int ret;

	f->protocol_features = 0;
	f->queue_num = 0;

	ret = vuf_get_u64(f, VHOST_USER_GET_FEATURES, &f->features);
	if (ret)
		return ret;

	if (f->features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)) {
		uint64_t proto;

		ret = vuf_get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES, &offered);
		if (ret)
			return ret;
		proto = offered & f->protocol_wanted & VUF_PROTOCOL_FEATURES;
		/*
		 * No REPLY_ACK on this one: it is the message that
		 * negotiates REPLY_ACK (QEMU does the same).
		 */
		ret = vuf_set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, proto);
		if (ret)
			return ret;
		f->protocol_features = proto;
	}

	if (vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_MQ)) {
		struct vhost_user_msg msg = { .hdr.request = VHOST_USER_GET_QUEUE_NUM };
		uint64_t num;

		ret = vuf_get_u64(f, VHOST_USER_GET_QUEUE_NUM, &num);
		if (ret)
			return ret;
		if (num == 0 || num > UINT32_MAX)
			return vuf_fail(f, -EPROTO, &msg,
					"back-end reports %llu queues",
					(unsigned long long)num);
		f->queue_num = num;
	}

	if (vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_BACKEND_REQ)) {
		ret = vuf_setup_backend_channel(f);
		if (ret)
			return ret;
	}

	return vuf_request0(f, VHOST_USER_SET_OWNER);
}

int vuf_get_config(struct vuf *f, uint8_t *buf, uint32_t size, bool exact,
		   uint32_t *got)
{
	struct vhost_user_msg msg, reply;
	uint32_t n;
	int ret;

	vuf_msg_init(&msg, VHOST_USER_GET_CONFIG,
		     VHOST_USER_CONFIG_HDR_SIZE + size);
	if (!vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_CONFIG))
		return vuf_fail(f, -EOPNOTSUPP, &msg,
				"CONFIG protocol feature not negotiated");
	if (size == 0 || size > VHOST_USER_MAX_CONFIG_SIZE)
		return vuf_fail(f, -EINVAL, &msg, "config size %u", size);
	msg.payload.config.offset = 0;
	msg.payload.config.size = size;
	msg.payload.config.flags = 0;

	/* Sizes are checked here: an empty reply means "refused". */
	ret = vuf_call(f, &msg, &reply, 0, VHOST_USER_CONFIG_HDR_SIZE + size);
	if (ret)
		return ret;
	if (reply.hdr.size <= VHOST_USER_CONFIG_HDR_SIZE &&
	    (reply.hdr.size == 0 || reply.payload.config.size == 0))
		return vuf_fail(f, -EIO, &msg,
				"back-end refused %u bytes of config space",
				size);
	if (reply.hdr.size < VHOST_USER_CONFIG_HDR_SIZE)
		return vuf_fail(f, -EPROTO, &msg, "reply of %u bytes",
				reply.hdr.size);
	n = reply.hdr.size - VHOST_USER_CONFIG_HDR_SIZE;
	if (exact && n != size)
		return vuf_fail(f, -EPROTO, &msg,
				"reply carries %u bytes of config, expected %u",
				n, size);
	if (reply.payload.config.size != n || reply.payload.config.offset)
		return vuf_fail(f, -EPROTO, &msg,
				"reply says offset %u size %u but carries %u bytes",
				reply.payload.config.offset,
				reply.payload.config.size, n);
	memcpy(buf, reply.payload.config.region, n);
	if (got)
		*got = n;
	return 0;
}

int vuf_set_config(struct vuf *f, uint32_t offset, const void *data,
		   uint32_t len)
{
	struct vhost_user_msg msg;

	vuf_msg_init(&msg, VHOST_USER_SET_CONFIG,
		     VHOST_USER_CONFIG_HDR_SIZE + len);
	if (!vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_CONFIG))
		return vuf_fail(f, -EOPNOTSUPP, &msg,
				"CONFIG protocol feature not negotiated");
	if (len == 0 || len > VHOST_USER_MAX_CONFIG_SIZE ||
	    offset > VHOST_USER_MAX_CONFIG_SIZE - len)
		return vuf_fail(f, -EINVAL, &msg, "offset %u length %u",
				offset, len);
	/* Flags 0: a driver's write, not live migration (spec: SET_CONFIG). */
	msg.payload.config.offset = offset;
	msg.payload.config.size = len;
	msg.payload.config.flags = 0;
	memcpy(msg.payload.config.region, data, len);
	return vuf_call(f, &msg, NULL, 0, 0);
}

/* Does [iova, iova + len) lie inside a region of @size bytes? */
static bool vuf_in_region(uint64_t iova, uint64_t len, uint64_t size)
{
	return iova <= size && len <= size - iova;
}

static int vuf_check_vring(struct vuf *f, unsigned int i,
			   const struct vuf_vring *vr, uint64_t mem_size)
{
	struct vhost_user_msg msg;

	vuf_msg_init(&msg, VHOST_USER_SET_VRING_NUM,
		     sizeof(msg.payload.state));
	msg.payload.state.index = i;
	if (vr->num > VUF_MAX_QUEUE_SIZE || (vr->num & (vr->num - 1)))
		return vuf_fail(f, -EINVAL, &msg, "ring size %u", vr->num);
	if (!vuf_in_region(vr->desc, VUF_DESC_SIZE(vr->num), mem_size) ||
	    !vuf_in_region(vr->avail, VUF_AVAIL_SIZE(vr->num), mem_size) ||
	    !vuf_in_region(vr->used, VUF_USED_SIZE(vr->num), mem_size))
		return vuf_fail(f, -EINVAL, &msg,
				"ring (desc 0x%llx avail 0x%llx used 0x%llx) outside the 0x%llx-byte region",
				(unsigned long long)vr->desc,
				(unsigned long long)vr->avail,
				(unsigned long long)vr->used,
				(unsigned long long)mem_size);
	if (vr->kick_fd < 0 || vr->call_fd < 0)
		return vuf_fail(f, -EBADF, &msg, "no kick or call eventfd");
	return 0;
}

static int vuf_set_mem_table(struct vuf *f, const struct vuf_mem *mem)
{
	struct vhost_user_msg msg;
	unsigned int i;

	vuf_msg_init(&msg, VHOST_USER_SET_MEM_TABLE,
		     VUF_MEM_TABLE_SIZE(mem->nregions));
	msg.payload.memory.nregions = mem->nregions;
	for (i = 0; i < mem->nregions; i++) {
		struct vhost_user_mem_region *r = &msg.payload.memory.regions[i];

		r->guest_phys_addr = mem->regions[i].iova;
		r->memory_size = mem->regions[i].size;
		r->userspace_addr = VUF_MEM_UADDR + mem->regions[i].iova;
		r->mmap_offset = 0;
		msg.fds[i] = mem->regions[i].fd;
	}
	msg.nfds = mem->nregions;
	return vuf_call(f, &msg, NULL, 0, 0);
}

/* Regions sane: region 0 at IOVA 0, none empty, none overlapping. */
static bool vuf_mem_valid(const struct vuf_mem *mem)
{
	uint64_t end = 0;
	unsigned int i;

	if (mem->nregions == 0 || mem->nregions > VUF_MAX_MEM_REGIONS ||
	    mem->regions[0].iova != 0)
		return false;
	for (i = 0; i < mem->nregions; i++) {
		const struct vuf_mem_region *r = &mem->regions[i];

		if (r->fd < 0 || r->size == 0 || r->iova < end ||
		    r->size > UINT64_MAX - VUF_MEM_UADDR - r->iova)
			return false;
		end = r->iova + r->size;
	}
	return true;
}

static int vuf_start_vring(struct vuf *f, unsigned int i,
			   const struct vuf_vring *vr)
{
	struct vhost_user_msg msg;
	int ret;

	ret = vuf_set_state(f, VHOST_USER_SET_VRING_NUM, i, vr->num);
	if (ret)
		return ret;
	ret = vuf_set_state(f, VHOST_USER_SET_VRING_BASE, i, vr->base);
	if (ret)
		return ret;

	vuf_msg_init(&msg, VHOST_USER_SET_VRING_ADDR, sizeof(msg.payload.addr));
	msg.payload.addr.index = i;
	msg.payload.addr.flags = 0;
	msg.payload.addr.desc_user_addr = VUF_MEM_UADDR + vr->desc;
	msg.payload.addr.used_user_addr = VUF_MEM_UADDR + vr->used;
	msg.payload.addr.avail_user_addr = VUF_MEM_UADDR + vr->avail;
	msg.payload.addr.log_guest_addr = 0;
	ret = vuf_call(f, &msg, NULL, 0, 0);
	if (ret)
		return ret;

	/*
	 * CALL before KICK: a back-end starts the ring on SET_VRING_KICK and
	 * may complete a request at once; its interrupt must not be lost.
	 */
	ret = vuf_set_vring_fd(f, VHOST_USER_SET_VRING_CALL, i, vr->call_fd);
	if (ret)
		return ret;
	f->started |= 1ULL << i;
	return vuf_set_vring_fd(f, VHOST_USER_SET_VRING_KICK, i, vr->kick_fd);
}

/* Inflight records ----------------------------------------------------------- */

/* The spec's split-ring record: 16-byte header, 16 bytes per entry, 64-aligned. */
#define VUF_INFLIGHT_HDR	16ULL
#define VUF_INFLIGHT_DESC	16ULL

static uint64_t vuf_inflight_stride(unsigned int qsize)
{
	return (VUF_INFLIGHT_HDR + VUF_INFLIGHT_DESC * qsize + 63) & ~63ULL;
}

void vuf_inflight_free(struct vuf *f)
{
	if (f->inflight_map)
		munmap(f->inflight_map, f->inflight_size);
	if (f->inflight_fd >= 0)
		close(f->inflight_fd);
	f->inflight_map = NULL;
	f->inflight_fd = -1;
	f->inflight_size = 0;
	f->inflight_queues = 0;
	f->inflight_qsize = 0;
}

bool vuf_inflight_active(const struct vuf *f)
{
	return f->inflight_fd >= 0 &&
	       vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
}

unsigned int vuf_inflight_owed(const struct vuf *f, unsigned int index)
{
	const uint8_t *q;
	unsigned int i, n = 0;

	if (!f->inflight_map || index >= f->inflight_queues)
		return 0;
	q = f->inflight_map + index * vuf_inflight_stride(f->inflight_qsize);
	/* Entry i's inflight byte; at most the entries we mapped room for. */
	for (i = 0; i < f->inflight_qsize; i++)
		n += __atomic_load_n(q + VUF_INFLIGHT_HDR + i * VUF_INFLIGHT_DESC,
				     __ATOMIC_RELAXED) == 1;
	return n;
}

/*
 * GET_INFLIGHT_FD: the back-end makes the record; we check and keep it.
 * A back-end may answer mmap_size 0 (no record): then none is used.
 */
static int vuf_get_inflight(struct vuf *f, unsigned int nqueues, unsigned int qsize)
{
	struct vhost_user_msg msg, reply;
	const struct vhost_user_inflight *in = &reply.payload.inflight;
	uint64_t need = vuf_inflight_stride(qsize) * nqueues;
	struct stat st;
	void *p;
	int ret, fd;

	vuf_msg_init(&msg, VHOST_USER_GET_INFLIGHT_FD, sizeof(msg.payload.inflight));
	msg.payload.inflight.num_queues = nqueues;
	msg.payload.inflight.queue_size = qsize;
	ret = vuf_call_fd(f, &msg, &reply, VHOST_USER_INFLIGHT_MIN_SIZE,
			  sizeof(reply.payload.inflight), 1);
	if (ret)
		return ret;
	if (!in->mmap_size && !reply.nfds)
		return 0;
	fd = reply.nfds ? reply.fds[0] : -1;
	if (fd < 0) {
		return vuf_fail(f, -EPROTO, &msg, "reply of %llu bytes without an fd",
				(unsigned long long)in->mmap_size);
	}
	if (in->mmap_size < need || in->mmap_size > VUF_INFLIGHT_MAX_SIZE ||
	    in->mmap_offset % (uint64_t)sysconf(_SC_PAGESIZE)) {
		close(fd);
		return vuf_fail(f, -EPROTO, &msg,
				"record of %llu bytes at 0x%llx for %u queues of %u (need %llu, at most %llu, page aligned)",
				(unsigned long long)in->mmap_size,
				(unsigned long long)in->mmap_offset, nqueues, qsize,
				(unsigned long long)need,
				(unsigned long long)VUF_INFLIGHT_MAX_SIZE);
	}
	if (fstat(fd, &st) < 0 || st.st_size < 0 ||
	    in->mmap_offset > (uint64_t)st.st_size ||
	    in->mmap_size > (uint64_t)st.st_size - in->mmap_offset) {
		close(fd);
		return vuf_fail(f, -EPROTO, &msg, "record of %llu bytes at 0x%llx past the end of its file",
				(unsigned long long)in->mmap_size,
				(unsigned long long)in->mmap_offset);
	}
	p = mmap(NULL, in->mmap_size, PROT_READ, MAP_SHARED, fd, (off_t)in->mmap_offset);
	if (p == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return vuf_fail(f, ret, &msg, "mmap of the record: %s", strerror(-ret));
	}
	vuf_inflight_free(f);
	f->inflight_fd = fd;
	f->inflight_map = p;
	f->inflight_size = in->mmap_size;
	f->inflight_offset = in->mmap_offset;
	f->inflight_queues = nqueues;
	f->inflight_qsize = qsize;
	return 0;
}

/* Before the rings, at every start: the record (made at the first one). */
static int vuf_setup_inflight(struct vuf *f, const struct vuf_vring *vrings,
			      unsigned int nvrings)
{
	struct vhost_user_msg msg;
	unsigned int i, qsize = 0;
	int ret;

	if (!vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return 0;
	if (f->inflight_fd < 0 || f->inflight_queues < nvrings) {
		for (i = 0; i < nvrings; i++)
			if (vrings[i].num > qsize)
				qsize = vrings[i].num;
		ret = vuf_get_inflight(f, nvrings, qsize);
		if (ret || f->inflight_fd < 0)
			return ret;
	}
	vuf_msg_init(&msg, VHOST_USER_SET_INFLIGHT_FD, sizeof(msg.payload.inflight));
	msg.payload.inflight.mmap_size = f->inflight_size;
	msg.payload.inflight.mmap_offset = f->inflight_offset;
	msg.payload.inflight.num_queues = f->inflight_queues;
	msg.payload.inflight.queue_size = f->inflight_qsize;
	msg.fds[0] = f->inflight_fd;
	msg.nfds = 1;
	return vuf_call(f, &msg, NULL, 0, 0);
}

int vuf_start(struct vuf *f, uint64_t features, uint8_t status,
	      const struct vuf_mem *mem, const struct vuf_vring *vrings,
	      unsigned int nvrings)
{
	bool proto = f->features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	unsigned int i, ready = 0;
	int ret;

	if (f->running)
		return vuf_fail(f, -EBUSY, NULL, "start: already started");
	if (nvrings == 0 || nvrings > VUF_MAX_QUEUES)
		return vuf_fail(f, -EINVAL, NULL, "start: %u queues", nvrings);
	if (!vuf_mem_valid(mem))
		return vuf_fail(f, -EINVAL, NULL,
				"start: bad memory regions (%u, first fd %d size 0x%llx)",
				mem->nregions, mem->regions[0].fd,
				(unsigned long long)mem->regions[0].size);
	for (i = 0; i < nvrings; i++) {
		if (!vrings[i].num)
			continue;
		ret = vuf_check_vring(f, i, &vrings[i], mem->regions[0].size);
		if (ret)
			return ret;
		ready++;
	}
	if (!ready)
		return vuf_fail(f, -EINVAL, NULL, "start: no queue is ready");

	f->running = true;
	f->started = 0;
	f->mem_size = mem->regions[0].size;

	features &= f->features & ~VUF_VHOST_ONLY_FEATURES;
	if (proto)
		features |= 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	ret = vuf_set_u64(f, VHOST_USER_SET_FEATURES, features);
	if (ret)
		return ret;

	ret = vuf_set_mem_table(f, mem);
	if (ret)
		return ret;

	ret = vuf_setup_inflight(f, vrings, nvrings);
	if (ret)
		return ret;

	for (i = 0; i < nvrings; i++) {
		if (!vrings[i].num)
			continue;
		ret = vuf_start_vring(f, i, &vrings[i]);
		if (ret)
			return ret;
	}

	/*
	 * With VHOST_USER_F_PROTOCOL_FEATURES rings start disabled
	 * (spec: "Starting and stopping rings").
	 */
	if (proto) {
		for (i = 0; i < nvrings; i++) {
			if (!vrings[i].num || vrings[i].disabled)
				continue;
			ret = vuf_set_state(f, VHOST_USER_SET_VRING_ENABLE, i, 1);
			if (ret)
				return ret;
		}
	}

	if (vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_STATUS))
		return vuf_set_u64(f, VHOST_USER_SET_STATUS, status);
	return 0;
}

int vuf_set_vring_enable(struct vuf *f, unsigned int index, bool enable)
{
	if (!(f->features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)) ||
	    !f->running || index >= VUF_MAX_QUEUES ||
	    !(f->started & (1ULL << index)))
		return 0;
	return vuf_set_state(f, VHOST_USER_SET_VRING_ENABLE, index, enable);
}

static int vuf_get_vring_base(struct vuf *f, unsigned int i)
{
	struct vhost_user_msg msg, reply;
	int ret;

	vuf_msg_init(&msg, VHOST_USER_GET_VRING_BASE, sizeof(msg.payload.state));
	msg.payload.state.index = i;
	ret = vuf_call(f, &msg, &reply, sizeof(reply.payload.state),
		       sizeof(reply.payload.state));
	if (ret)
		return ret;
	if (reply.payload.state.index != i)
		return vuf_fail(f, -EPROTO, &msg, "reply is for queue %u",
				reply.payload.state.index);
	return 0;
}

int vuf_stop(struct vuf *f)
{
	bool proto = f->features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	uint64_t started = f->started;
	unsigned int i;
	int ret = 0;

	if (!f->running)
		return 0;
	f->running = false;
	f->started = 0;
	/* The driver resets: its next rings start from nothing. */
	vuf_inflight_free(f);

	for (i = 0; proto && i < VUF_MAX_QUEUES; i++) {
		if (!(started & (1ULL << i)))
			continue;
		ret = vuf_set_state(f, VHOST_USER_SET_VRING_ENABLE, i, 0);
		if (ret)
			return ret;
	}

	if (vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_STATUS)) {
		ret = vuf_set_u64(f, VHOST_USER_SET_STATUS, 0);
		if (ret)
			return ret;
	}

	if (vuf_has_protocol_feature(f, VHOST_USER_PROTOCOL_F_RESET_DEVICE))
		return vuf_request0(f, VHOST_USER_RESET_DEVICE);

	/* GET_VRING_BASE stops the ring (spec: "Starting and stopping rings"). */
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		if (!(started & (1ULL << i)))
			continue;
		ret = vuf_get_vring_base(f, i);
		if (ret)
			return ret;
	}
	return 0;
}

int vuf_check_idle(struct vuf *f)
{
	struct vhost_user_msg msg;
	char c;
	ssize_t n;
	int ret;

	if (f->sock < 0)
		return vuf_fail(f, -ENOTCONN, NULL, "not connected");

	n = recv(f->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return vuf_fail(f, -ECONNRESET, NULL, "%s", "");
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -EAGAIN;
		return vuf_fail(f, -errno, NULL, "recv");
	}

	ret = vuf_recv(f, f->sock, &msg);
	if (ret)
		return vuf_fail(f, ret == -ECONNRESET ? ret : -EPROTO, NULL,
				"unsolicited data");
	vlb_msg_dbg(f->name, "<-", &msg, false, f->device_id);
	vlb_msg_close_fds(&msg);
	return vuf_fail(f, -EPROTO, NULL, "unsolicited message %u (%s)",
			msg.hdr.request, vlb_request_name(msg.hdr.request));
}

/* Answer a back-end request that asked for it (REPLY_ACK semantics). */
static int vuf_backend_reply(struct vuf *f, const struct vhost_user_msg *req,
			     uint64_t result)
{
	struct vhost_user_msg reply;
	int ret;

	if (!(req->hdr.flags & VHOST_USER_NEED_REPLY_MASK))
		return 0;
	vuf_msg_init(&reply, req->hdr.request, sizeof(reply.payload.u64));
	reply.hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	reply.payload.u64 = result;
	ret = vuf_send(f, f->backend_fd, &reply, true);
	if (ret)
		return vuf_fail(f, ret, NULL, "back-end request channel: reply to %s",
				vlb_backend_request_name(req->hdr.request));
	return 0;
}

static void vuf_close_backend_channel(struct vuf *f)
{
	if (f->backend_fd >= 0)
		close(f->backend_fd);
	f->backend_fd = -1;
}

/*
 * Read and answer one back-end request. A config change is acked at once
 * and remembered in f->config_changed; the caller fetches the new config
 * when no request of ours is outstanding.
 */
static int vuf_serve_backend_req(struct vuf *f)
{
	struct vhost_user_msg msg;
	int ret;

	if (f->backend_fd < 0)
		return vuf_fail(f, -EBADF, NULL, "no back-end request channel");

	ret = vuf_recv(f, f->backend_fd, &msg);
	if (ret) {
		/* The stream is out of step or gone: stop listening to it. */
		vuf_close_backend_channel(f);
		return vuf_fail(f, ret, NULL, "back-end request channel");
	}
	vlb_msg_dbg(f->name, "<-", &msg, true, f->device_id);

	if (msg.nfds || (msg.hdr.flags & VHOST_USER_VERSION_MASK) !=
			VHOST_USER_VERSION ||
	    (msg.hdr.flags & VHOST_USER_REPLY_MASK)) {
		vlb_dbg(VLB_DBG_MSG, f->name, "refused back-end request %s: flags 0x%x, %u fds",
			vlb_backend_request_name(msg.hdr.request),
			msg.hdr.flags, msg.nfds);
		vlb_msg_close_fds(&msg);
		return vuf_backend_reply(f, &msg, 1);
	}

	switch (msg.hdr.request) {
	case VHOST_USER_BACKEND_CONFIG_CHANGE_MSG:
		/*
		 * Ack first: a single-threaded back-end waits for the ack
		 * before it reads our GET_CONFIG.
		 */
		ret = vuf_backend_reply(f, &msg, 0);
		if (!ret)
			f->config_changed = true;
		return ret;
	default:
		vlb_dbg(VLB_DBG_MSG, f->name, "refused back-end request %u (%s)",
			msg.hdr.request, vlb_backend_request_name(msg.hdr.request));
		return vuf_backend_reply(f, &msg, 1);
	}
}

int vuf_flush_config_change(struct vuf *f, vuf_config_change_cb config_change,
			    void *opaque)
{
	if (!f->config_changed)
		return 0;
	f->config_changed = false;
	return config_change ? config_change(opaque) : 0;
}

int vuf_handle_backend_req(struct vuf *f, vuf_config_change_cb config_change,
			   void *opaque)
{
	struct pollfd pfd = { .fd = f->backend_fd, .events = POLLIN };
	int ret;

	/*
	 * The caller's poll() result may be stale: a request it saw may
	 * have been served while we waited for a reply. Never block here.
	 */
	if (f->backend_fd >= 0 && poll(&pfd, 1, 0) == 1) {
		ret = vuf_serve_backend_req(f);
		if (ret)
			return ret;
	}
	return vuf_flush_config_change(f, config_change, opaque);
}

void vuf_close(struct vuf *f)
{
	vuf_close_backend_channel(f);
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
	f->running = false;
	f->started = 0;
}
