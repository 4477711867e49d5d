// SPDX-License-Identifier: GPL-2.0
/*
 * Description: vhost-user message framing (lib/vhost_user_msg.c).
 *
 * Round trip of a message with fds over a socketpair, then garbage from a
 * raw peer: an oversized size field, a truncated header and payload, too
 * many fds, a peer that hangs up mid-message or writes in pieces. Each case
 * checks the exact error and that no fd leaked (counted in /proc/self/fd).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "helpers.h"
#include "vhost_user.h"

static int sp[2] = { -1, -1 };

static int open_pair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	return 0;
}

static void close_pair(void)
{
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	sp[0] = sp[1] = -1;
}

/* Send raw bytes with @nfds copies of fd @fd attached. */
static int raw_send(int sock, const void *buf, size_t len, int fd, unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 32)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned int i;

	if (nfds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		for (i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EIO;
}

static int test_round_trip(void)
{
	struct vhost_user_msg m = { 0 }, r;
	uint64_t v = 0;
	int efd[2], ret, i;

	efd[0] = eventfd(0, EFD_CLOEXEC);
	efd[1] = eventfd(0, EFD_CLOEXEC);
	if (efd[0] < 0 || efd[1] < 0 || open_pair())
		return t_fail("setup: %s", strerror(errno));

	m.hdr.request = VHOST_USER_SET_VRING_KICK;
	m.hdr.flags = VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK;
	m.hdr.size = sizeof(m.payload.addr);
	m.payload.addr.index = 3;
	m.payload.addr.desc_user_addr = 0x1122334455667788ULL;
	m.payload.addr.log_guest_addr = 0xdeadbeefULL;
	m.fds[0] = efd[0];
	m.fds[1] = efd[1];
	m.nfds = 2;
	ret = vlb_msg_send(sp[0], &m);
	if (ret)
		return t_fail("round trip: send: %s", strerror(-ret));
	ret = vlb_msg_recv(sp[1], &r);
	if (ret)
		return t_fail("round trip: recv: %s", strerror(-ret));
	if (memcmp(&r.hdr, &m.hdr, sizeof(m.hdr)) ||
	    memcmp(&r.payload, &m.payload, sizeof(m.payload.addr)) || r.nfds != 2)
		return t_fail("round trip: header, payload or fd count differ (nfds %u)", r.nfds);
	for (i = 0; i < 2; i++) {
		uint64_t one = 1;

		if (fcntl(r.fds[i], F_GETFD) != FD_CLOEXEC)
			return t_fail("round trip: received fd %d lacks FD_CLOEXEC", i);
		/* Same eventfd on both sides: write here, read there. */
		if (write(r.fds[i], &one, 8) != 8 || read(efd[i], &v, 8) != 8 || v != 1)
			return t_fail("round trip: fd %d is not the eventfd sent", i);
	}
	vlb_msg_close_fds(&r);
	if (r.nfds != 0)
		return t_fail("vlb_msg_close_fds left nfds %u", r.nfds);

	/* A message without payload or fds. */
	m.hdr.size = 0;
	m.nfds = 0;
	if (vlb_msg_send(sp[0], &m) || vlb_msg_recv(sp[1], &r) || r.hdr.size || r.nfds)
		return t_fail("round trip without payload");

	close(efd[0]);
	close(efd[1]);
	close_pair();
	return 0;
}

static int test_send_rejects(void)
{
	struct vhost_user_msg m = { .hdr = { .request = 1, .flags = 1 } };
	int ret;

	if (open_pair())
		return t_fail("socketpair: %s", strerror(errno));
	m.hdr.size = VHOST_USER_MAX_PAYLOAD + 1;
	ret = vlb_msg_send(sp[0], &m);
	if (ret != -EINVAL)
		return t_fail("send oversized: got %d, want -EINVAL", ret);
	m.hdr.size = 0;
	m.nfds = VHOST_USER_MAX_FDS + 1;
	ret = vlb_msg_send(sp[0], &m);
	if (ret != -EINVAL)
		return t_fail("send too many fds: got %d, want -EINVAL", ret);
	m.nfds = 0;
	close(sp[1]);
	sp[1] = -1;
	ret = vlb_msg_send(sp[0], &m);
	if (ret != -EPIPE)
		return t_fail("send to a closed peer: got %d, want -EPIPE", ret);
	close_pair();
	return 0;
}

/* The peer writes @len raw bytes (with @nfds fds) and closes. */
static int expect_recv(const char *what, const void *buf, size_t len,
		       unsigned int nfds, bool hangup, int want)
{
	struct vhost_user_msg r;
	int efd, ret;

	if (open_pair())
		return t_fail("%s: socketpair: %s", what, strerror(errno));
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return t_fail("%s: eventfd: %s", what, strerror(errno));
	if (len && raw_send(sp[0], buf, len, efd, nfds))
		return t_fail("%s: raw send failed", what);
	close(efd);
	if (hangup) {
		close(sp[0]);
		sp[0] = -1;
	}
	ret = vlb_msg_recv(sp[1], &r);
	if (ret != want)
		return t_fail("%s: got %d (%s), want %d (%s)", what, ret, strerror(-ret),
			      want, strerror(-want));
	if (!ret)
		vlb_msg_close_fds(&r);
	else if (r.nfds)
		return t_fail("%s: failed but left %u fds in the message", what, r.nfds);
	close_pair();
	return 0;
}

static int test_garbage(void)
{
	struct {
		struct vhost_user_header h;
		uint8_t payload[VHOST_USER_MAX_PAYLOAD + 16];
	} __attribute__((packed)) raw = { .h = { .request = 5, .flags = 1 } };
	int ret;

	ret = expect_recv("clean EOF", NULL, 0, 0, true, -ECONNRESET);
	if (ret)
		return ret;
	ret = expect_recv("truncated header", &raw, 6, 1, true, -EPROTO);
	if (ret)
		return ret;
	raw.h.size = 8;
	ret = expect_recv("truncated payload", &raw, sizeof(raw.h) + 4, 2, true, -EPROTO);
	if (ret)
		return ret;
	raw.h.size = VHOST_USER_MAX_PAYLOAD + 1;
	ret = expect_recv("oversized size field", &raw, sizeof(raw.h) + 16, 3, false, -EPROTO);
	if (ret)
		return ret;
	raw.h.size = 0xffffffff;
	ret = expect_recv("size field 0xffffffff", &raw, sizeof(raw.h), 0, false, -EPROTO);
	if (ret)
		return ret;
	raw.h.size = 8;
	ret = expect_recv("too many fds", &raw, sizeof(raw.h) + 8,
			  VHOST_USER_MAX_FDS + 1, false, -EPROTO);
	if (ret)
		return ret;
	ret = expect_recv("many more fds", &raw, sizeof(raw.h) + 8, 32, false, -EPROTO);
	if (ret)
		return ret;
	ret = expect_recv("exactly the most fds", &raw, sizeof(raw.h) + 8,
			  VHOST_USER_MAX_FDS, false, 0);
	if (ret)
		return ret;
	raw.h.size = VHOST_USER_MAX_PAYLOAD;
	return expect_recv("largest payload", &raw, sizeof(raw.h) + VHOST_USER_MAX_PAYLOAD,
			   0, false, 0);
}

/* A child writes one message a few bytes at a time: short reads. */
static int test_short_reads(void)
{
	struct vhost_user_msg r;
	struct {
		struct vhost_user_header h;
		uint64_t u64;
	} __attribute__((packed)) raw = {
		.h = { .request = VHOST_USER_SET_FEATURES, .flags = 1, .size = 8 },
		.u64 = 0x0123456789abcdefULL,
	};
	int status, ret;
	pid_t pid;

	if (open_pair())
		return t_fail("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return t_fail("fork: %s", strerror(errno));
	if (!pid) {
		const uint8_t *p = (const uint8_t *)&raw;
		size_t off;

		for (off = 0; off < sizeof(raw); off += 3) {
			size_t n = sizeof(raw) - off < 3 ? sizeof(raw) - off : 3;

			if (write(sp[0], p + off, n) != (ssize_t)n)
				_exit(1);
			usleep(2000);
		}
		_exit(0);
	}
	ret = vlb_msg_recv(sp[1], &r);
	waitpid(pid, &status, 0);
	if (ret)
		return t_fail("short reads: %s", strerror(-ret));
	if (r.hdr.request != VHOST_USER_SET_FEATURES || r.payload.u64 != raw.u64)
		return t_fail("short reads: message differs");
	close_pair();
	return 0;
}

static int test_names(void)
{
	if (strcmp(vlb_request_name(VHOST_USER_SET_MEM_TABLE), "SET_MEM_TABLE") ||
	    strcmp(vlb_request_name(VHOST_USER_GET_STATUS), "GET_STATUS") ||
	    strcmp(vlb_request_name(35), "UNKNOWN") ||
	    strcmp(vlb_request_name(VHOST_USER_REQUEST_MAX), "UNKNOWN") ||
	    strcmp(vlb_request_name(0xffffffff), "UNKNOWN") ||
	    strcmp(vlb_backend_request_name(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG),
		   "CONFIG_CHANGE_MSG") ||
	    strcmp(vlb_backend_request_name(99), "UNKNOWN"))
		return t_fail("request names");
	return 0;
}

int main(void)
{
	int fds = t_count_fds();

	if (test_round_trip() || test_send_rejects() || test_garbage() ||
	    test_short_reads() || test_names())
		return T_EXIT_FAIL;
	if (t_count_fds() != fds)
		return t_fail("fd leak: %d open before, %d after", fds, t_count_fds());
	return T_EXIT_PASS;
}
