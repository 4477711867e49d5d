// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: the adapter's front-end (adapter/vhost_user_frontend.c)
 * reading whatever a back-end sends.
 *
 * Every reply goes through vuf_call()'s checks (request, flags, fds, size)
 * and then the caller's (queue counts, config offset and size, ring
 * indices); back-end requests through vuf_serve_backend_req(). The harness
 * drives the public API the way the adapter does, over a socketpair whose
 * far end is the "back-end". The input:
 *
 *	u8 opts		bits 0-1: protocol features wanted (all, none, no
 *			REPLY_ACK, no CONFIG), bit 2: exact config size,
 *			bits 3-4: queues - 1, bit 5: SET_CONFIG, bit 6:
 *			SET_VRING_ENABLE, bit 7: the last queue left unset
 *	u8 cfgsize	config bytes asked for, minus one
 *	u16 len		bytes of the reply stream
 *	len bytes	the reply stream: queued on the vhost-user socket
 *			before the first request, then EOF
 *	the rest	the back-end request stream, queued on the channel
 *			SET_BACKEND_REQ_FD handed over (when negotiated)
 *
 * As in the adapter, each step runs only if the one before succeeded:
 * vuf_negotiate(), vuf_get_config(), vuf_set_config(), vuf_start(),
 * vuf_set_vring_enable(), vuf_handle_backend_req() until it stops; after
 * a successful negotiation vuf_stop() and vuf_check_idle() always run.
 * Nothing waits: every reply is there or the stream has ended.
 *
 * Checked beyond ASan/UBSan: a failed call leaves one error line in
 * f->err; vuf_get_config() never reports more bytes than were asked; no
 * fd leaks.
 */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "fuzz_common.h"
#include "vhost_user_frontend.h"
#include "vlb_log.h"

#define MEM_SIZE	(64 * 1024)

static int memfd = -1;
static int evfd[2] = { -1, -1 };

struct fz_ctx {
	struct vuf *f;
	uint32_t cfgsize;
	bool exact;
	unsigned int changes;
};

static void fz_expect_err(const struct vuf *f, int ret, const char *what)
{
	if (ret && !f->err[0])
		fz_bug("%s failed (%d) without an error message", what, ret);
}

/* What the adapter does on a config change: read the config again. */
static int fz_config_change(void *opaque)
{
	struct fz_ctx *c = opaque;
	uint8_t buf[VHOST_USER_MAX_CONFIG_SIZE];
	uint32_t got = 0;
	int ret;

	c->changes++;
	ret = vuf_get_config(c->f, buf, c->cfgsize, c->exact, &got);
	if (!ret && (got == 0 || got > c->cfgsize))
		fz_bug("config change: %u bytes for %u asked", got, c->cfgsize);
	return ret;
}

/*
 * Read what the front-end sent so far; keep the first fd of
 * SET_BACKEND_REQ_FD (its end of the back-end channel), close the rest.
 */
static int fz_take_requests(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct vhost_user_msg m;
	int chan = -1;

	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		if (vlb_msg_recv(sock, &m))
			break;
		if (m.hdr.request == VHOST_USER_SET_BACKEND_REQ_FD && m.nfds && chan < 0) {
			chan = m.fds[0];
			m.fds[0] = -1;
		}
		vlb_msg_close_fds(&m);
	}
	return chan;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vlb_log_init("fuzz_frontend_reply", 0);
	/* As vlb_backend_main() and the adapter do: EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	memfd = memfd_create("fuzz-fe", MFD_CLOEXEC);
	evfd[0] = eventfd(0, EFD_CLOEXEC);
	evfd[1] = eventfd(0, EFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, MEM_SIZE) || evfd[0] < 0 || evfd[1] < 0)
		fz_bug("setup: %s", strerror(errno));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[4] = {
		VUF_PROTOCOL_FEATURES,
		0,
		VUF_PROTOCOL_FEATURES & ~(1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK),
		VUF_PROTOCOL_FEATURES & ~(1ULL << VHOST_USER_PROTOCOL_F_CONFIG),
	};
	struct fz_in in = { data, size };
	uint8_t opts = fz_u8(&in);
	uint32_t cfgsize = fz_u8(&in) + 1;
	size_t len = fz_u16(&in);
	int base_fd = fz_lowest_free_fd();
	struct vuf_vring vr[4] = { 0 };
	struct vuf_mem mem = {
		.nregions = 1,
		.regions[0] = { .iova = 0, .size = MEM_SIZE, .fd = memfd },
	};
	unsigned int nvr = ((opts >> 3) & 3) + 1, i;
	struct fz_ctx c = { .cfgsize = cfgsize, .exact = opts & 4 };
	uint8_t cfg[VHOST_USER_MAX_CONFIG_SIZE];
	struct vuf f;
	int sp[2], chan, ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		fz_bug("socketpair: %s", strerror(errno));
	if (len > in.left)
		len = in.left;
	if (len && send(sp[1], in.p, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		fz_bug("queueing %zu reply bytes: %s", len, strerror(errno));
	in.p += len;
	in.left -= len;
	shutdown(sp[1], SHUT_WR);

	vuf_init(&f, 1000);
	c.f = &f;
	f.protocol_wanted = wanted[opts & 3];
	if (vuf_attach(&f, sp[0], "fuzz"))
		fz_bug("vuf_attach: %s", f.err);

	ret = vuf_negotiate(&f);
	fz_expect_err(&f, ret, "vuf_negotiate");
	chan = fz_take_requests(sp[1]);
	if (chan >= 0) {
		/* EPIPE: a failed negotiation closed the front-end's end. */
		if (in.left)
			send(chan, in.p, in.left, MSG_DONTWAIT | MSG_NOSIGNAL);
		shutdown(chan, SHUT_WR);
	}
	if (ret)
		goto out;

	if (vuf_has_protocol_feature(&f, VHOST_USER_PROTOCOL_F_CONFIG)) {
		uint32_t got = 0;

		f.err[0] = 0;
		ret = vuf_get_config(&f, cfg, cfgsize, c.exact, &got);
		fz_expect_err(&f, ret, "vuf_get_config");
		if (!ret && (got == 0 || got > cfgsize || (c.exact && got != cfgsize)))
			fz_bug("vuf_get_config: %u bytes for %u asked", got, cfgsize);
		if (ret == -EIO)	/* refused: the adapter asks for less */
			ret = 0;
		if (!ret && (opts & 0x20)) {
			memset(cfg, 0xa5, sizeof(cfg));
			ret = vuf_set_config(&f, 0, cfg, cfgsize);
			fz_expect_err(&f, ret, "vuf_set_config");
		}
		if (ret)
			goto out;
	}

	for (i = 0; i < nvr; i++) {
		if ((opts & 0x80) && i == nvr - 1 && i)
			continue;
		vr[i] = (struct vuf_vring){
			.num = 256, .desc = 0x1000 * (3 * i),
			.avail = 0x1000 * (3 * i + 1), .used = 0x1000 * (3 * i + 2),
			.kick_fd = evfd[0], .call_fd = evfd[1], .disabled = i == 1,
		};
	}
	f.err[0] = 0;
	ret = vuf_start(&f, ~0ULL, 0x0f, &mem, vr, nvr);
	fz_expect_err(&f, ret, "vuf_start");
	if (!ret && (opts & 0x40)) {
		ret = vuf_set_vring_enable(&f, 1, true);
		fz_expect_err(&f, ret, "vuf_set_vring_enable");
	}
	for (i = 0; i < 64 && f.backend_fd >= 0; i++) {
		f.err[0] = 0;
		if (vuf_handle_backend_req(&f, fz_config_change, &c))
			break;
	}
	f.err[0] = 0;
	ret = vuf_stop(&f);
	fz_expect_err(&f, ret, "vuf_stop");
	/* Idle now: what is left of the stream is unsolicited. */
	f.err[0] = 0;
	ret = vuf_check_idle(&f);
	if (ret != -EAGAIN)
		fz_expect_err(&f, ret, "vuf_check_idle");

out:
	vuf_close(&f);
	if (chan >= 0)
		close(chan);
	/* What the front-end sent after negotiation (fds included) goes too. */
	close(sp[1]);
	if (fz_lowest_free_fd() != base_fd)
		fz_bug("fd leak");
	return 0;
}
