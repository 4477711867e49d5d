// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the adapter's vhost-user front-end against a hostile peer.
 *
 * A thread plays the back-end on the other end of a socketpair: it behaves
 * until a chosen request, then misbehaves in one way (hangs up, answers
 * another request, sends an oversized or short or fd-carrying reply, stops
 * mid-message, never answers, reports failure, sends unsolicited data).
 * Each case checks the exact negative errno, that an error line was
 * recorded, and that no fd leaked (/proc/self/fd before and after).
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "helpers.h"
#include "vhost_user_frontend.h"
#include "vlb_log.h"

/*
 * The bound on every reply. Cases that expect -ETIMEDOUT wait for all of
 * it; the others must not reach it even on a loaded machine (300 ms did).
 */
#define SHORT_TIMEOUT_MS	1500
#define MEM_SIZE		(1U << 20)

enum bad {
	BAD_NONE,
	BAD_CLOSE,		/* hang up instead of answering */
	BAD_WRONG_REQUEST,	/* answer with another request number */
	BAD_OVERSIZE,		/* size field larger than any payload */
	BAD_SILENT,		/* never answer */
	BAD_SHORT,		/* 4-byte payload where 8 are due */
	BAD_NO_REPLY_FLAG,	/* reply without VHOST_USER_REPLY_MASK */
	BAD_VERSION,		/* protocol version 2 */
	BAD_FDS,		/* an fd attached to the reply */
	BAD_NACK,		/* REPLY_ACK with a non-zero status */
	BAD_PARTIAL,		/* header, half the payload, then nothing */
	BAD_CONFIG_EMPTY,	/* GET_CONFIG answered with size 0 */
	BAD_CONFIG_SIZE,	/* GET_CONFIG answered with fewer bytes */
	BAD_CONFIG_LARGE,	/* GET_CONFIG answered with more bytes */
	BAD_QUEUES_ZERO,	/* GET_QUEUE_NUM answered with 0 */
	BAD_QUEUES_HUGE,	/* GET_QUEUE_NUM answered with 2^40 */
	BAD_VRING_INDEX,	/* GET_VRING_BASE answered for another queue */
	BAD_UNSOLICITED,	/* after SET_OWNER: a message nobody asked for */
	BAD_HANGUP_IDLE,	/* after SET_OWNER: hang up */
	BAD_INFLIGHT_NOFD,	/* GET_INFLIGHT_FD: a size and no fd */
	BAD_INFLIGHT_SMALL,	/* GET_INFLIGHT_FD: too small for the queue */
	BAD_INFLIGHT_EOF,	/* GET_INFLIGHT_FD: a size past the end of the file */
	BAD_INFLIGHT_NONE,	/* GET_INFLIGHT_FD: size 0, no fd (no record: fine) */
};

struct peer {
	int fd;
	int backend_fd;
	uint64_t features;
	uint64_t protocol;
	uint32_t bad_request;
	enum bad bad;
	bool backend_script;	/* after SET_OWNER: talk on the channel */
	bool change_in_reply;	/* a config change before acking SET_OWNER */
	bool failed;		/* the peer saw something wrong */
	bool inflight;		/* offer INFLIGHT_SHMFD */
	bool inflight_set;	/* SET_INFLIGHT_FD came, with an fd, before a ring */
	pthread_t thread;
};

static int peer_send(int fd, uint32_t request, uint32_t flags,
		     const void *payload, uint32_t size, int pass_fd)
{
	struct vhost_user_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.request = request;
	m.hdr.flags = flags;
	m.hdr.size = size;
	if (size)
		memcpy(&m.payload, payload, size);
	if (pass_fd >= 0) {
		m.fds[0] = pass_fd;
		m.nfds = 1;
	}
	return vlb_msg_send(fd, &m);
}

static int peer_reply_u64(struct peer *p, uint32_t request, uint64_t v)
{
	return peer_send(p->fd, request, VHOST_USER_VERSION |
			 VHOST_USER_REPLY_MASK, &v, sizeof(v), -1);
}

/* Talk on the back-end channel: a config change, an unknown request, EOF. */
static void peer_backend_script(struct peer *p)
{
	struct vhost_user_msg m;
	int ret;

	ret = peer_send(p->backend_fd, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
			VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, NULL,
			0, -1);
	if (!ret)
		ret = vlb_msg_recv(p->backend_fd, &m);
	if (ret || m.hdr.request != VHOST_USER_BACKEND_CONFIG_CHANGE_MSG ||
	    !(m.hdr.flags & VHOST_USER_REPLY_MASK) || m.hdr.size != 8 ||
	    m.payload.u64 != 0) {
		fprintf(stderr, "peer: CONFIG_CHANGE_MSG not acked with 0 (ret %d)\n",
			ret);
		p->failed = true;
	}

	ret = peer_send(p->backend_fd, 99,
			VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, NULL,
			0, -1);
	if (!ret)
		ret = vlb_msg_recv(p->backend_fd, &m);
	if (ret || m.hdr.request != 99 || m.hdr.size != 8 ||
	    m.payload.u64 == 0) {
		fprintf(stderr, "peer: unknown request not refused (ret %d)\n",
			ret);
		p->failed = true;
	}
	close(p->backend_fd);
	p->backend_fd = -1;
}

/* Misbehave on @m as configured. Returns false to stop serving. */
static bool peer_misbehave(struct peer *p, const struct vhost_user_msg *m)
{
	uint32_t rflags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	struct vhost_user_header h;
	uint64_t zero = 0;
	int efd;

	switch (p->bad) {
	case BAD_CLOSE:
		return false;
	case BAD_WRONG_REQUEST:
		peer_send(p->fd, m->hdr.request + 1, rflags, &zero, 8, -1);
		return true;
	case BAD_OVERSIZE:
		h = (struct vhost_user_header) {
			.request = m->hdr.request, .flags = rflags,
			.size = 0x10000,
		};
		if (write(p->fd, &h, sizeof(h)) != sizeof(h))
			p->failed = true;
		return true;
	case BAD_SILENT:
		return true;
	case BAD_SHORT:
		peer_send(p->fd, m->hdr.request, rflags, &zero, 4, -1);
		return true;
	case BAD_NO_REPLY_FLAG:
		peer_send(p->fd, m->hdr.request, VHOST_USER_VERSION, &zero, 8,
			  -1);
		return true;
	case BAD_VERSION:
		peer_send(p->fd, m->hdr.request, 0x2 | VHOST_USER_REPLY_MASK,
			  &zero, 8, -1);
		return true;
	case BAD_FDS:
		efd = eventfd(0, EFD_CLOEXEC);
		peer_send(p->fd, m->hdr.request, rflags, &zero, 8, efd);
		close(efd);
		return true;
	case BAD_NACK:
		peer_reply_u64(p, m->hdr.request, 1);
		return true;
	case BAD_PARTIAL:
		h = (struct vhost_user_header) {
			.request = m->hdr.request, .flags = rflags, .size = 8,
		};
		if (write(p->fd, &h, sizeof(h)) != sizeof(h) ||
		    write(p->fd, &zero, 4) != 4)
			p->failed = true;
		return true;
	case BAD_CONFIG_EMPTY:
		peer_send(p->fd, m->hdr.request, rflags, NULL, 0, -1);
		return true;
	case BAD_CONFIG_SIZE: {
		struct vhost_user_config c = { .size = 4 };

		peer_send(p->fd, m->hdr.request, rflags, &c,
			  VHOST_USER_CONFIG_HDR_SIZE + 4, -1);
		return true;
	}
	case BAD_CONFIG_LARGE: {
		struct vhost_user_config c = { .size = m->payload.config.size + 4 };

		peer_send(p->fd, m->hdr.request, rflags, &c,
			  VHOST_USER_CONFIG_HDR_SIZE + c.size, -1);
		return true;
	}
	case BAD_QUEUES_ZERO:
		peer_reply_u64(p, m->hdr.request, 0);
		return true;
	case BAD_QUEUES_HUGE:
		peer_reply_u64(p, m->hdr.request, 1ULL << 40);
		return true;
	case BAD_VRING_INDEX: {
		struct vhost_user_vring_state s = {
			.index = m->payload.state.index + 5,
		};

		peer_send(p->fd, m->hdr.request, rflags, &s, sizeof(s), -1);
		return true;
	}
	default:
		return true;
	}
}

/* GET_INFLIGHT_FD: a record as the spec lays it out, or one way to spoil it. */
static void peer_inflight(struct peer *p, struct vhost_user_msg *m)
{
	uint32_t rflags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	struct vhost_user_inflight *in = &m->payload.inflight;
	uint64_t size = ((16 + 16ULL * in->queue_size + 63) & ~63ULL) * in->num_queues;
	int fd = -1;

	in->mmap_offset = 0;
	in->mmap_size = size;
	if (p->bad == BAD_INFLIGHT_NONE) {
		in->mmap_size = 0;
	} else if (p->bad != BAD_INFLIGHT_NOFD) {
		fd = memfd_create("peer-inflight", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, p->bad == BAD_INFLIGHT_EOF ? 0 : (off_t)size))
			p->failed = true;
		if (p->bad == BAD_INFLIGHT_SMALL)
			in->mmap_size = 64;
	}
	peer_send(p->fd, m->hdr.request, rflags, in, sizeof(*in), fd);
	if (fd >= 0)
		close(fd);
}

/* Answer @m as a well-behaved back-end would. */
static void peer_answer(struct peer *p, struct vhost_user_msg *m)
{
	bool need_reply = m->hdr.flags & VHOST_USER_NEED_REPLY_MASK;
	uint32_t rflags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;

	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		peer_reply_u64(p, m->hdr.request, p->features);
		return;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		peer_reply_u64(p, m->hdr.request, p->protocol);
		return;
	case VHOST_USER_GET_QUEUE_NUM:
		peer_reply_u64(p, m->hdr.request, 1);
		return;
	case VHOST_USER_GET_CONFIG:
		memset(m->payload.config.region, 0x11, m->payload.config.size);
		peer_send(p->fd, m->hdr.request, rflags, &m->payload,
			  m->hdr.size, -1);
		return;
	case VHOST_USER_GET_VRING_BASE:
		m->payload.state.num = 0;
		peer_send(p->fd, m->hdr.request, rflags, &m->payload.state,
			  sizeof(m->payload.state), -1);
		return;
	case VHOST_USER_GET_INFLIGHT_FD:
		peer_inflight(p, m);
		return;
	case VHOST_USER_SET_INFLIGHT_FD:
		p->inflight_set = m->nfds == 1 && m->payload.inflight.mmap_size &&
				  m->payload.inflight.num_queues == 1;
		break;
	case VHOST_USER_SET_VRING_NUM:
		if (p->inflight && p->bad == BAD_NONE && !p->inflight_set) {
			fprintf(stderr, "peer: a ring before SET_INFLIGHT_FD\n");
			p->failed = true;
		}
		break;
	case VHOST_USER_SET_BACKEND_REQ_FD:
		if (m->nfds == 1 && p->backend_fd < 0) {
			p->backend_fd = m->fds[0];
			m->nfds = 0;
		}
		break;
	default:
		break;
	}
	if (need_reply)
		peer_reply_u64(p, m->hdr.request, 0);
}

/*
 * Like libvhost-user's vu_config_change_msg(): announce a config change and
 * block until it is acked, while the front-end waits for our SET_OWNER ack.
 */
static void peer_change_in_reply(struct peer *p)
{
	struct vhost_user_msg m;
	int ret;

	ret = peer_send(p->backend_fd, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
			VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, NULL,
			0, -1);
	if (!ret)
		ret = vlb_msg_recv(p->backend_fd, &m);
	if (ret || m.hdr.size != 8 || m.payload.u64 != 0) {
		fprintf(stderr, "peer: config change not acked during a reply wait (ret %d)\n",
			ret);
		p->failed = true;
	}
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct vhost_user_msg m;

	while (vlb_msg_recv(p->fd, &m) == 0) {
		if (p->change_in_reply && p->backend_fd >= 0 &&
		    m.hdr.request == VHOST_USER_SET_OWNER)
			peer_change_in_reply(p);
		if (p->bad != BAD_NONE && m.hdr.request == p->bad_request) {
			vlb_msg_close_fds(&m);
			if (!peer_misbehave(p, &m))
				break;
			continue;
		}
		peer_answer(p, &m);
		vlb_msg_close_fds(&m);
		if (m.hdr.request == VHOST_USER_SET_OWNER) {
			if (p->backend_script && p->backend_fd >= 0)
				peer_backend_script(p);
			if (p->bad == BAD_UNSOLICITED)
				peer_reply_u64(p, VHOST_USER_GET_FEATURES, 0);
			if (p->bad == BAD_HANGUP_IDLE)
				break;
		}
	}
	if (p->backend_fd >= 0)
		close(p->backend_fd);
	close(p->fd);
	return NULL;
}

/* What the front-end does in a case. */
typedef int (*front_fn)(struct vuf *f);

static int front_negotiate(struct vuf *f)
{
	return vuf_negotiate(f);
}

static int front_get_config(struct vuf *f)
{
	uint8_t buf[8];
	int ret = vuf_negotiate(f);
	uint32_t got = 0;

	if (ret)
		return ret;
	ret = vuf_get_config(f, buf, sizeof(buf), true, &got);
	if (!ret && (got != sizeof(buf) || buf[0] != 0x11 || buf[7] != 0x11))
		return -EBADMSG;	/* not an errno the front-end returns */
	return ret;
}

/* Negotiate, start one ring (at @desc), stop. */
static int front_start_stop_at(struct vuf *f, uint64_t desc)
{
	struct vuf_vring vr = {
		.num = 8, .desc = desc, .avail = 0x2000, .used = 0x3000,
	};
	struct vuf_mem mem = {
		.nregions = 1,
		.regions[0] = { .iova = 0, .size = MEM_SIZE },
	};
	int memfd, ret;

	ret = vuf_negotiate(f);
	if (ret)
		return ret;
	memfd = memfd_create("vla-peer-mem", MFD_CLOEXEC);
	vr.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vr.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (memfd < 0 || vr.kick_fd < 0 || vr.call_fd < 0 ||
	    ftruncate(memfd, MEM_SIZE)) {
		ret = -errno;
		goto out;
	}
	mem.regions[0].fd = memfd;
	ret = vuf_start(f, 1ULL << VIRTIO_F_VERSION_1, 0x0f, &mem, &vr, 1);
	if (!ret && !f->running)
		ret = -EBADMSG;
	if (!ret)
		ret = vuf_stop(f);
	else
		vuf_stop(f);	/* undo a partial start; the peer may be gone */
out:
	if (memfd >= 0)
		close(memfd);
	if (vr.kick_fd >= 0)
		close(vr.kick_fd);
	if (vr.call_fd >= 0)
		close(vr.call_fd);
	return ret;
}

static int front_start_stop(struct vuf *f)
{
	return front_start_stop_at(f, 0x1000);
}

static int front_ring_outside(struct vuf *f)
{
	return front_start_stop_at(f, MEM_SIZE - 64);
}

static int config_changes;

static int count_config_change(void *opaque)
{
	(void)opaque;
	config_changes++;
	return 0;
}

/* Serve the back-end channel until the peer closes it. */
static int front_backend_channel(struct vuf *f)
{
	int ret = vuf_negotiate(f), i;

	if (ret)
		return ret;
	config_changes = 0;
	for (i = 0; i < 3; i++) {
		struct pollfd pfd = { .fd = f->backend_fd, .events = POLLIN };

		if (poll(&pfd, 1, 2000) != 1)
			return -EBADMSG;
		ret = vuf_handle_backend_req(f, count_config_change, NULL);
		if (ret)
			break;
	}
	if (ret != -ECONNRESET || i != 2 || f->backend_fd != -1 ||
	    config_changes != 1) {
		fprintf(stderr, "back-end channel: ret %d after %d messages, fd %d, %d config changes\n",
			ret, i, f->backend_fd, config_changes);
		return -EBADMSG;
	}
	return 0;
}

/* The change acked during SET_OWNER's wait is handled afterwards, once. */
static int front_change_in_reply(struct vuf *f)
{
	int ret = vuf_negotiate(f);

	if (ret)
		return ret;
	if (!f->config_changed)
		return -EBADMSG;
	config_changes = 0;
	ret = vuf_handle_backend_req(f, count_config_change, NULL);
	if (!ret)
		ret = vuf_handle_backend_req(f, count_config_change, NULL);
	if (ret || config_changes != 1 || f->config_changed) {
		fprintf(stderr, "config change in reply: ret %d, %d changes\n",
			ret, config_changes);
		return -EBADMSG;
	}
	return 0;
}

/* Negotiate, then wait for the socket to become readable while idle. */
static int front_idle(struct vuf *f)
{
	struct pollfd pfd;
	int ret = vuf_negotiate(f);

	if (ret)
		return ret;
	pfd = (struct pollfd) { .fd = f->sock, .events = POLLIN };
	if (poll(&pfd, 1, 2000) != 1)
		return -EBADMSG;
	return vuf_check_idle(f);
}

struct tcase {
	const char *name;
	front_fn front;
	uint32_t bad_request;
	enum bad bad;
	int expect;
};

/* The same with a back-end that keeps an inflight record. */
static int front_inflight(struct vuf *f)
{
	return front_start_stop_at(f, 0x1000);
}

static const struct tcase cases[] = {
	{ "happy handshake", front_negotiate, 0, BAD_NONE, 0 },
	{ "happy start and stop", front_start_stop, 0, BAD_NONE, 0 },
	{ "happy config", front_get_config, 0, BAD_NONE, 0 },
	{ "back-end channel", front_backend_channel, 0, BAD_NONE, 0 },
	{ "config change during a reply wait", front_change_in_reply, 0,
	  BAD_NONE, 0 },
	{ "hang-up at GET_FEATURES", front_negotiate,
	  VHOST_USER_GET_FEATURES, BAD_CLOSE, -ECONNRESET },
	{ "hang-up at SET_OWNER", front_negotiate,
	  VHOST_USER_SET_OWNER, BAD_CLOSE, -ECONNRESET },
	{ "hang-up at SET_VRING_KICK", front_start_stop,
	  VHOST_USER_SET_VRING_KICK, BAD_CLOSE, -ECONNRESET },
	{ "wrong request number", front_negotiate,
	  VHOST_USER_GET_FEATURES, BAD_WRONG_REQUEST, -EPROTO },
	{ "oversized size field", front_negotiate,
	  VHOST_USER_GET_PROTOCOL_FEATURES, BAD_OVERSIZE, -EPROTO },
	{ "no reply within the timeout", front_negotiate,
	  VHOST_USER_GET_QUEUE_NUM, BAD_SILENT, -ETIMEDOUT },
	{ "no ack within the timeout", front_start_stop,
	  VHOST_USER_SET_MEM_TABLE, BAD_SILENT, -ETIMEDOUT },
	{ "reply stops mid-payload", front_negotiate,
	  VHOST_USER_GET_FEATURES, BAD_PARTIAL, -ETIMEDOUT },
	{ "short reply", front_negotiate,
	  VHOST_USER_GET_FEATURES, BAD_SHORT, -EPROTO },
	{ "reply without REPLY flag", front_negotiate,
	  VHOST_USER_GET_PROTOCOL_FEATURES, BAD_NO_REPLY_FLAG, -EPROTO },
	{ "reply with version 2", front_negotiate,
	  VHOST_USER_GET_FEATURES, BAD_VERSION, -EPROTO },
	{ "reply carrying an fd", front_negotiate,
	  VHOST_USER_GET_QUEUE_NUM, BAD_FDS, -EPROTO },
	{ "ack carrying an fd", front_negotiate,
	  VHOST_USER_SET_OWNER, BAD_FDS, -EPROTO },
	{ "SET_OWNER refused", front_negotiate,
	  VHOST_USER_SET_OWNER, BAD_NACK, -EIO },
	{ "SET_VRING_ADDR refused", front_start_stop,
	  VHOST_USER_SET_VRING_ADDR, BAD_NACK, -EIO },
	{ "GET_CONFIG refused", front_get_config,
	  VHOST_USER_GET_CONFIG, BAD_CONFIG_EMPTY, -EIO },
	{ "GET_CONFIG short", front_get_config,
	  VHOST_USER_GET_CONFIG, BAD_CONFIG_SIZE, -EPROTO },
	{ "GET_CONFIG larger than asked", front_get_config,
	  VHOST_USER_GET_CONFIG, BAD_CONFIG_LARGE, -EPROTO },
	{ "no queues", front_negotiate,
	  VHOST_USER_GET_QUEUE_NUM, BAD_QUEUES_ZERO, -EPROTO },
	{ "2^40 queues", front_negotiate,
	  VHOST_USER_GET_QUEUE_NUM, BAD_QUEUES_HUGE, -EPROTO },
	{ "GET_VRING_BASE for another queue", front_start_stop,
	  VHOST_USER_GET_VRING_BASE, BAD_VRING_INDEX, -EPROTO },
	{ "ring outside the region", front_ring_outside, 0, BAD_NONE, -EINVAL },
	{ "unsolicited message", front_idle, 0, BAD_UNSOLICITED, -EPROTO },
	{ "hang-up while idle", front_idle, 0, BAD_HANGUP_IDLE, -ECONNRESET },
	{ "happy inflight record", front_inflight, 0, BAD_NONE, 0 },
	{ "inflight record: no record offered", front_inflight, 0, BAD_INFLIGHT_NONE, 0 },
	{ "inflight record without an fd", front_inflight, 0, BAD_INFLIGHT_NOFD, -EPROTO },
	{ "inflight record too small", front_inflight, 0, BAD_INFLIGHT_SMALL, -EPROTO },
	{ "inflight record past its file", front_inflight, 0, BAD_INFLIGHT_EOF, -EPROTO },
};

static int test_case(const struct tcase *c)
{
	struct peer p = {
		.backend_fd = -1,
		.features = (1ULL << VIRTIO_F_VERSION_1) |
			    (1ULL << VHOST_USER_F_PROTOCOL_FEATURES),
		.protocol = (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
			    (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			    (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ) |
			    (1ULL << VHOST_USER_PROTOCOL_F_CONFIG),
		.bad_request = c->bad_request,
		.bad = c->bad,
		.backend_script = c->front == front_backend_channel,
		.inflight = c->front == front_inflight,
		.change_in_reply = c->front == front_change_in_reply,
	};
	int fds = t_count_fds(), sv[2], ret, after;
	struct vuf f;

	if (p.inflight)
		p.protocol |= 1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		fprintf(stderr, "%s: socketpair: %s\n", c->name,
			strerror(errno));
		return T_EXIT_FAIL;
	}
	vuf_init(&f, SHORT_TIMEOUT_MS);
	ret = vuf_attach(&f, sv[0], "peer");
	if (ret) {
		close(sv[1]);
		fprintf(stderr, "%s: vuf_attach: %d\n", c->name, ret);
		return T_EXIT_FAIL;
	}
	p.fd = sv[1];
	if (pthread_create(&p.thread, NULL, peer_main, &p)) {
		vuf_close(&f);
		close(sv[1]);
		fprintf(stderr, "%s: pthread_create failed\n", c->name);
		return T_EXIT_FAIL;
	}

	ret = c->front(&f);
	vuf_close(&f);
	pthread_join(p.thread, NULL);

	after = t_count_fds();
	if (ret != c->expect) {
		fprintf(stderr, "%s: returned %d (%s), expected %d (%s); err: %s\n",
			c->name, ret, strerror(-ret), c->expect,
			strerror(-c->expect), f.err);
		return T_EXIT_FAIL;
	}
	if (c->expect && !f.err[0]) {
		fprintf(stderr, "%s: failed without an error line\n", c->name);
		return T_EXIT_FAIL;
	}
	if (p.inflight && !c->expect && p.inflight_set != (c->bad == BAD_NONE)) {
		fprintf(stderr, "%s: SET_INFLIGHT_FD %s\n", c->name,
			p.inflight_set ? "sent without a record" : "missing");
		return T_EXIT_FAIL;
	}
	if (p.failed) {
		fprintf(stderr, "%s: the peer saw a protocol violation\n",
			c->name);
		return T_EXIT_FAIL;
	}
	if (after != fds) {
		fprintf(stderr, "%s: fd leak: %d before, %d after\n", c->name,
			fds, after);
		return T_EXIT_FAIL;
	}
	if (getenv("VLA_TEST_VERBOSE"))
		fprintf(stderr, "%s: ok (%s)\n", c->name,
			c->expect ? f.err : "success");
	return T_EXIT_PASS;
}

int main(void)
{
	unsigned int i, failed = 0;

	signal(SIGPIPE, SIG_IGN);
	vlb_log_init("test_adapter_peer",
		     getenv("VLA_TEST_VERBOSE") ? VLB_DBG_ALL : 0);

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (test_case(&cases[i]) != T_EXIT_PASS)
			failed++;
	if (failed) {
		fprintf(stderr, "%u of %zu cases failed\n", failed,
			ARRAY_SIZE(cases));
		return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}
