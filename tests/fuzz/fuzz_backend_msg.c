// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: vhost-user requests as a libvlb back-end receives them.
 *
 * The input is a series of records, each sent as one sendmsg() on the
 * front-end end of a socketpair:
 *
 *	u8 ctl		bits 0-3: fds attached (0..15; more than
 *			VHOST_USER_MAX_FDS truncates the control data),
 *			bits 4-6: their kind (see fz_make_fd())
 *	12 bytes	vhost_user_header, as is
 *	payload		min(header.size, what is left) bytes
 *
 * then the socket is shut down for writing, and vlb_dev_dispatch() (the
 * one entry point a back-end has: receive, vlb_msg_check(), the handler,
 * the reply) runs until it refuses or sees the end, with what vlb_dev_run()
 * does between two messages: pending kicks, readable kick fds. The device
 * has two queues, config space and a queue_kick that pops, touches and
 * returns every chain. A memfd handed over holds one ready chain at the
 * layout the seeds use (desc 0x0, avail 0x1000, used 0x2000), so the rings
 * are reachable from here too.
 *
 * Checked beyond ASan/UBSan: a refused request or chain leaves the device
 * broken, a broken device takes no further message, and no fd leaks.
 */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "fuzz_common.h"
#include "vhost_user.h"
#include "vlb.h"
#include "vlb_log.h"

#define FZ_NR_VQS	2
#define FZ_MAX_RECORDS	64
#define FZ_MEM_SIZE	(64 * 1024)
#define FZ_SMALL_SIZE	4096
#define FZ_CONFIG_SIZE	64

struct fz_dev {
	uint8_t config[FZ_CONFIG_SIZE];
	int mem;		/* the input's template memfd */
};

/* The memory a front-end hands over: one chain ready on a ring at 0/0x1000/0x2000. */
static int fz_make_memfd(size_t size)
{
	static const uint8_t desc[16] = {
		0x00, 0x30, 0, 0, 0, 0, 0, 0,	/* addr 0x3000 */
		0x40, 0, 0, 0,			/* len 64 */
		0x03, 0,			/* NEXT | WRITE */
		0x01, 0,			/* next 1 */
	};
	static const uint8_t desc1[16] = {
		0x00, 0x31, 0, 0, 0, 0, 0, 0,	/* addr 0x3100 */
		0x10, 0, 0, 0,			/* len 16 */
		0x02, 0, 0, 0,			/* WRITE */
	};
	static const uint8_t avail[6] = { 0, 0, 1, 0, 0, 0 };	/* idx 1, ring[0] 0 */
	int fd = memfd_create("fuzz-mem", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, size))
		fz_bug("memfd: %s", strerror(errno));
	if (size >= 0x4000) {
		pwrite(fd, desc, sizeof(desc), 0);
		pwrite(fd, desc1, sizeof(desc1), 16);
		pwrite(fd, avail, sizeof(avail), 0x1000);
	}
	return fd;
}

/* One fd of kind @kind, as a front-end might send it. */
static int fz_make_fd(struct fz_dev *d, unsigned int kind)
{
	char path[64];
	int fd, p[2];

	switch (kind) {
	case 0:		/* guest memory */
		fd = fcntl(d->mem, F_DUPFD_CLOEXEC, 0);
		break;
	case 1:		/* kick/call eventfd, readable */
		fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	case 2:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case 3:		/* pipe at EOF */
		if (pipe2(p, O_CLOEXEC))
			return -1;
		close(p[1]);
		fd = p[0];
		break;
	case 4:		/* memory smaller than the seeds' regions */
		fd = fz_make_memfd(FZ_SMALL_SIZE);
		break;
	case 5:		/* a socket whose peer is gone */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
			return -1;
		close(p[1]);
		fd = p[0];
		break;
	case 6:		/* memory that cannot be mapped writable */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", d->mem);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		break;
	default:
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		break;
	}
	if (fd < 0)
		fz_bug("creating fd kind %u: %s", kind, strerror(errno));
	return fd;
}

static uint64_t fz_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) | (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VLB_F_EVENT_IDX);
}

static int fz_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset, uint32_t len)
{
	struct fz_dev *d = vlb_dev_priv(dev);

	if (offset > FZ_CONFIG_SIZE || len > FZ_CONFIG_SIZE - offset)
		return -EINVAL;
	memcpy(buf, d->config + offset, len);
	return 0;
}

static int fz_set_config(struct vlb_dev *dev, const uint8_t *buf, uint32_t offset,
			 uint32_t len, uint32_t flags)
{
	struct fz_dev *d = vlb_dev_priv(dev);

	(void)flags;
	if (offset > FZ_CONFIG_SIZE || len > FZ_CONFIG_SIZE - offset)
		return -EINVAL;
	memcpy(d->config + offset, buf, len);
	return 0;
}

/* What a device does on a kick: take every chain, use its buffers, return it. */
static void fz_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);
	struct vlb_vq_elem *e;
	uint8_t buf[256];
	int ret, n = 0;

	while (n++ < 64 && (ret = vlb_vq_pop(vq, &e)) == 0) {
		size_t in = vlb_iov_size(e->in_sg, e->in_num);

		vlb_iov_to_buf(e->out_sg, e->out_num, 0, buf, sizeof(buf));
		vlb_iov_from_buf(e->in_sg, e->in_num, 0, NULL, in);
		vlb_vq_push(vq, e, in);
		free(e);
	}
	if (n <= 64 && ret == -EIO && !vlb_dev_broken(dev))
		fz_bug("vq %u: chain refused, device not broken", qidx);
	vlb_vq_flush(vq);
	vlb_vq_notify(vq);
}

static const struct vlb_dev_iface fz_iface = {
	.get_features	= fz_get_features,
	.get_config	= fz_get_config,
	.set_config	= fz_set_config,
	.queue_kick	= fz_queue_kick,
};

/* Send one record: header and payload bytes with @nfds fds of @kind. */
static void fz_send_record(struct fz_dev *d, int sock, const uint8_t *buf, size_t len,
			   unsigned int nfds, unsigned int kind)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[16];
	unsigned int i;

	if (!len)
		return;
	for (i = 0; i < nfds; i++)
		fds[i] = fz_make_fd(d, kind);
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		fz_bug("sendmsg of %zu bytes: %s", len, strerror(errno));
	/* In flight now: the kernel holds its own references. */
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Throw away the back-end's replies (recv() drops an inflight fd unseen). */
static void fz_drain(int sock)
{
	char buf[4096];

	while (recv(sock, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* What vlb_dev_run() does between messages: kicks that are due. */
static void fz_serve_kicks(struct vlb_dev *dev)
{
	unsigned int i;
	int n = 0;

	while (n++ < 4 && vlb_dev_pending_kicks(dev))
		;
	for (i = 0; i < FZ_NR_VQS && !vlb_dev_broken(dev); i++) {
		int fd = vlb_vq_kick_fd(vlb_dev_vq(dev, i));
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
			vlb_dev_handle_kick(dev, i);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vlb_log_init("fuzz_backend_msg", 0);
	/* As vlb_backend_main() and the adapter do: EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct fz_dev d = { .mem = -1 };
	struct vlb_dev *dev;
	int base_fd = fz_lowest_free_fd();
	int sp[2], ret, i, fd;

	for (i = 0; i < FZ_CONFIG_SIZE; i++)
		d.config[i] = i;
	d.mem = fz_make_memfd(FZ_MEM_SIZE);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		fz_bug("socketpair: %s", strerror(errno));
	if (vlb_dev_new(&fz_iface, FZ_NR_VQS, &d, "fuzz", &dev) ||
	    vlb_dev_attach(dev, sp[1]))
		fz_bug("creating the device");

	for (i = 0; i < FZ_MAX_RECORDS && in.left; i++) {
		uint8_t rec[sizeof(struct vhost_user_header) + VHOST_USER_MAX_PAYLOAD + 64];
		struct vhost_user_header h;
		uint8_t ctl = fz_u8(&in);
		size_t n = fz_take(&in, rec, sizeof(h));
		size_t pay;

		memcpy(&h, rec, sizeof(h));
		pay = h.size;
		if (pay > sizeof(rec) - sizeof(h))
			pay = sizeof(rec) - sizeof(h);
		if (n == sizeof(h))
			n += fz_take(&in, rec + sizeof(h), pay < in.left ? pay : in.left);
		fz_send_record(&d, sp[0], rec, n, ctl & 15, (ctl >> 4) & 7);
	}
	shutdown(sp[0], SHUT_WR);

	for (i = 0; i < 2 * FZ_MAX_RECORDS; i++) {
		bool was_broken = vlb_dev_broken(dev);

		ret = vlb_dev_dispatch(dev);
		fz_drain(sp[0]);
		if (ret) {
			/* A protocol error always leaves the device broken. */
			if (ret == -EPROTO && !vlb_dev_broken(dev))
				fz_bug("dispatch returned -EPROTO, device not broken");
			break;
		}
		if (was_broken)
			fz_bug("a broken device accepted a message");
		fz_serve_kicks(dev);
	}

	vlb_dev_free(dev);
	close(sp[0]);
	close(d.mem);
	fd = fz_lowest_free_fd();
	if (fd != base_fd)
		fz_bug("fd leak: lowest free fd %d, was %d", fd, base_fd);
	return 0;
}
