// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback adapter: the front-end side of the vhost-user-gpu display
 * protocol (QEMU docs/interop/vhost-user-gpu.rst; QEMU's own front-end is
 * hw/display/vhost-user-gpu.c).
 *
 * The back-end speaks first on the display socket; the adapter answers the
 * requests that want an answer (GET_PROTOCOL_FEATURES, GET_DISPLAY_INFO,
 * GET_EDID, DMABUF_UPDATE) and applies the others to a framebuffer it keeps
 * per scanout. Pixels arrive two ways:
 *
 *  - SCANOUT + UPDATE: the back-end copies each changed rectangle into the
 *    message (QEMU's vhost-user-gpu without a render node or udmabuf);
 *  - DMABUF_SCANOUT + DMABUF_UPDATE: the back-end shares the resource as a
 *    dmabuf (with /dev/udmabuf, e.g. on Linux 6.12); the adapter maps it
 *    read-only and copies the changed rectangle out of it.
 *
 * Nothing from the back-end is trusted: every size, offset, scanout id and
 * fd count is checked before it is used; a message that fails a check is
 * logged (the first VLA_GPU_MAX_DROP_LOGS of them) and dropped, its payload
 * skipped so the stream stays in step, its fds closed, and answered when it
 * wants an answer, so the back-end never waits for us.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/virtio_gpu.h>
#include <linux/virtio_ids.h>

#include <png.h>

#include "gpu_display.h"
#include "vhost_user.h"
#include "vlb_compiler.h"
#include "vlb_log.h"
#include "vlb_msg_dump.h"

/* Display protocol requests (vhost-user-gpu.rst, "Message types"). */
enum vla_gpu_request {
	VLA_GPU_GET_PROTOCOL_FEATURES = 1,
	VLA_GPU_SET_PROTOCOL_FEATURES = 2,
	VLA_GPU_GET_DISPLAY_INFO = 3,
	VLA_GPU_CURSOR_POS = 4,
	VLA_GPU_CURSOR_POS_HIDE = 5,
	VLA_GPU_CURSOR_UPDATE = 6,
	VLA_GPU_SCANOUT = 7,
	VLA_GPU_UPDATE = 8,
	VLA_GPU_DMABUF_SCANOUT = 9,
	VLA_GPU_DMABUF_UPDATE = 10,
	VLA_GPU_GET_EDID = 11,
	VLA_GPU_DMABUF_SCANOUT2 = 12,
};

/* Header flag of every reply. */
#define VLA_GPU_FLAG_REPLY		0x4U

/* Display protocol features. DMABUF2 (modifiers) is never offered. */
#define VLA_GPU_PROTOCOL_F_EDID		0
#define VLA_GPU_PROTOCOL_FEATURES	(1ULL << VLA_GPU_PROTOCOL_F_EDID)

#define VLA_GPU_CURSOR_DIM		64
/* Bytes per pixel of every format the protocol carries (x8r8g8b8). */
#define VLA_GPU_BPP			4
/* DRM fourccs a dmabuf scanout may have: XR24 and AR24. */
#define VLA_GPU_FOURCC_XRGB8888		0x34325258
#define VLA_GPU_FOURCC_ARGB8888		0x34325241
/* A dmabuf larger than this is refused (8192 x 8192 x 4 is 256 MiB). */
#define VLA_GPU_MAX_DMABUF_SIZE		(512ULL << 20)
/* Most fds kept from one message; more are closed on arrival. */
#define VLA_GPU_MAX_FDS			4
/* Invalid messages logged one by one before the log goes quiet. */
#define VLA_GPU_MAX_DROP_LOGS		20
/* Chunk in which unwanted payload is read and thrown away. */
#define VLA_GPU_SKIP_CHUNK		65536

struct vla_gpu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes that follow */
} __attribute__((packed));

struct vla_gpu_cursor_pos {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
} __attribute__((packed));

struct vla_gpu_cursor_update {
	struct vla_gpu_cursor_pos pos;
	uint32_t hot_x;
	uint32_t hot_y;
	uint32_t data[VLA_GPU_CURSOR_DIM * VLA_GPU_CURSOR_DIM];	/* a8r8g8b8 */
} __attribute__((packed));

struct vla_gpu_scanout_msg {
	uint32_t scanout_id;
	uint32_t width;
	uint32_t height;
} __attribute__((packed));

/* UPDATE (followed by width * height x8r8g8b8 pixels) and DMABUF_UPDATE. */
struct vla_gpu_update {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
	uint32_t width;
	uint32_t height;
} __attribute__((packed));

struct vla_gpu_dmabuf_scanout {
	uint32_t scanout_id;
	uint32_t x;		/* the scanout's place in the dmabuf */
	uint32_t y;
	uint32_t width;
	uint32_t height;
	uint32_t fd_width;
	uint32_t fd_height;
	uint32_t fd_stride;
	uint32_t fd_flags;
	int32_t fd_drm_fourcc;
} __attribute__((packed));

struct vla_gpu_edid_req {
	uint32_t scanout_id;
} __attribute__((packed));

/* Every fixed-size request payload; UPDATE pixels never land here. */
union vla_gpu_payload {
	uint64_t u64;
	struct vla_gpu_cursor_pos cursor_pos;
	struct vla_gpu_cursor_update cursor_update;
	struct vla_gpu_scanout_msg scanout;
	struct vla_gpu_update update;
	struct vla_gpu_dmabuf_scanout dmabuf_scanout;
	struct vla_gpu_edid_req edid_req;
};

/**
 * struct vla_gpu_scanout - one scanout as the adapter shows it
 * @width: size; 0 when disabled
 * @height: size; 0 when disabled
 * @fb: width * height pixels, 0x00RRGGBB (x8r8g8b8), row after row
 * @map: the dmabuf mapping of a DMABUF_SCANOUT, or NULL
 * @map_size: its length
 * @stride: bytes per row in the dmabuf
 * @x: the scanout's column in the dmabuf
 * @y: the scanout's row in the dmabuf
 */
struct vla_gpu_scanout {
	uint32_t width;
	uint32_t height;
	uint32_t *fb;
	void *map;
	size_t map_size;
	uint32_t stride;
	uint32_t x;
	uint32_t y;
};

/**
 * struct vla_gpu - the display
 * @opts: the options
 * @sock: our end of the display socket, or -1
 * @stop_efd: vla_gpu_close() tells the thread to stop (eventfd), or -1
 * @fail_efd: the thread tells the adapter the display failed, or -1
 * @sig_fd: signalfd for SIGUSR1 (screenshot), or -1
 * @thread: the display thread, when @thread_started
 * @thread_started: vla_gpu_open() started it
 * @error: 0, or the -errno the display stopped with (set by the thread,
 *         read by the adapter's thread)
 * @fds: fds that came with the message being read
 * @nfds: how many
 * @fds_lost: some fds of that message did not fit and were discarded
 * @protocol_features: what the back-end set
 * @scanouts: the scanouts
 * @cursor: the cursor image (a8r8g8b8, premultiplied), hot spot, place
 * @cursor_visible: CURSOR_POS or CURSOR_UPDATE came after the last HIDE
 * @updates: updates applied
 * @dropped: messages dropped
 * @rx: payload of the message being served
 */
struct vla_gpu {
	struct vla_gpu_opts opts;
	int sock;
	int stop_efd;
	int fail_efd;
	int sig_fd;
	pthread_t thread;
	bool thread_started;
	atomic_int error;
	int fds[VLA_GPU_MAX_FDS];
	unsigned int nfds;
	bool fds_lost;
	uint64_t protocol_features;
	struct vla_gpu_scanout scanouts[VLA_GPU_NUM_SCANOUTS];
	struct vla_gpu_cursor_update cursor;
	bool cursor_visible;
	uint64_t updates;
	uint64_t dropped;
	union vla_gpu_payload rx;
};

static const char *vla_gpu_request_name(uint32_t request)
{
	static const char *const names[] = {
		[VLA_GPU_GET_PROTOCOL_FEATURES] = "GPU_GET_PROTOCOL_FEATURES",
		[VLA_GPU_SET_PROTOCOL_FEATURES] = "GPU_SET_PROTOCOL_FEATURES",
		[VLA_GPU_GET_DISPLAY_INFO] = "GPU_GET_DISPLAY_INFO",
		[VLA_GPU_CURSOR_POS] = "GPU_CURSOR_POS",
		[VLA_GPU_CURSOR_POS_HIDE] = "GPU_CURSOR_POS_HIDE",
		[VLA_GPU_CURSOR_UPDATE] = "GPU_CURSOR_UPDATE",
		[VLA_GPU_SCANOUT] = "GPU_SCANOUT",
		[VLA_GPU_UPDATE] = "GPU_UPDATE",
		[VLA_GPU_DMABUF_SCANOUT] = "GPU_DMABUF_SCANOUT",
		[VLA_GPU_DMABUF_UPDATE] = "GPU_DMABUF_UPDATE",
		[VLA_GPU_GET_EDID] = "GPU_GET_EDID",
		[VLA_GPU_DMABUF_SCANOUT2] = "GPU_DMABUF_SCANOUT2",
	};

	if (request < ARRAY_SIZE(names) && names[request])
		return names[request];
	return "UNKNOWN";
}

static const char *vla_gpu_name(const struct vla_gpu *g)
{
	return g->opts.name ? g->opts.name : "gpu display";
}

/*
 * A message failed a check: count it, log it (the first few), and return 0
 * so the caller goes on with the next message.
 */
static __printf(3, 4) int
vla_gpu_drop(struct vla_gpu *g, const struct vla_gpu_hdr *hdr,
	     const char *fmt, ...)
{
	char what[256];
	va_list ap;

	g->dropped++;
	if (g->dropped > VLA_GPU_MAX_DROP_LOGS)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	vlb_err(vla_gpu_name(g), "display socket: dropped %s (request %u, %u bytes): %s%s",
		vla_gpu_request_name(hdr->request), hdr->request, hdr->size,
		what, g->dropped == VLA_GPU_MAX_DROP_LOGS ?
		" (further dropped messages are not logged)" : "");
	return 0;
}

int vla_gpu_parse_mode(const char *s, uint32_t *width, uint32_t *height)
{
	unsigned long w, h;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	w = strtoul(s, &end, 10);
	if (errno || (*end != 'x' && *end != 'X'))
		return -EINVAL;
	s = end + 1;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	h = strtoul(s, &end, 10);
	if (errno || *end || w == 0 || h == 0 || w > VLA_GPU_MAX_DIM ||
	    h > VLA_GPU_MAX_DIM)
		return -EINVAL;
	*width = w;
	*height = h;
	return 0;
}

void vla_gpu_fixup_config(uint8_t *config, uint32_t size)
{
	struct virtio_gpu_config c;

	if (size < sizeof(c))
		return;
	memcpy(&c, config, sizeof(c));
	c.events_read = 0;
	c.events_clear = 0;
	c.num_scanouts = htole32(VLA_GPU_NUM_SCANOUTS);
	memcpy(config, &c, sizeof(c));
}

struct vla_gpu *vla_gpu_new(const struct vla_gpu_opts *opts)
{
	struct vla_gpu *g = calloc(1, sizeof(*g));
	unsigned int i;

	if (!g) {
		vlb_err(opts->name, "gpu display: out of memory");
		return NULL;
	}
	g->opts = *opts;
	if (!g->opts.width || g->opts.width > VLA_GPU_MAX_DIM ||
	    !g->opts.height || g->opts.height > VLA_GPU_MAX_DIM) {
		g->opts.width = VLA_GPU_DEFAULT_WIDTH;
		g->opts.height = VLA_GPU_DEFAULT_HEIGHT;
	}
	if (g->opts.timeout_ms <= 0)
		g->opts.timeout_ms = 10000;
	g->sock = -1;
	g->stop_efd = -1;
	g->fail_efd = -1;
	g->sig_fd = -1;
	for (i = 0; i < VLA_GPU_MAX_FDS; i++)
		g->fds[i] = -1;
	return g;
}

/* ---- Socket I/O ---------------------------------------------------- */

static int vla_gpu_set_timeouts(struct vla_gpu *g, int fd)
{
	struct timeval tv = {
		.tv_sec = g->opts.timeout_ms / 1000,
		.tv_usec = (g->opts.timeout_ms % 1000) * 1000,
	};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

static void vla_gpu_close_fds(struct vla_gpu *g)
{
	unsigned int i;

	for (i = 0; i < g->nfds; i++)
		if (g->fds[i] >= 0)
			close(g->fds[i]);
	for (i = 0; i < VLA_GPU_MAX_FDS; i++)
		g->fds[i] = -1;
	g->nfds = 0;
	g->fds_lost = false;
}

/* Keep the fds of one control message (up to VLA_GPU_MAX_FDS). */
static void vla_gpu_take_fds(struct vla_gpu *g, struct msghdr *mh)
{
	struct cmsghdr *c;

	if (mh->msg_flags & MSG_CTRUNC)
		g->fds_lost = true;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (g->nfds < VLA_GPU_MAX_FDS) {
				g->fds[g->nfds++] = fd;
			} else {
				close(fd);
				g->fds_lost = true;
			}
		}
	}
}

/*
 * Read exactly @len bytes (each wait bounded by SO_RCVTIMEO), keeping any
 * fds that come along. Returns 0, -ECONNRESET on EOF, -ETIMEDOUT, -errno.
 */
static int vla_gpu_recv(struct vla_gpu *g, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * VLA_GPU_MAX_FDS)];
		} cb;
		struct iovec iov = { .iov_base = p, .iov_len = len };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cb.buf,
			.msg_controllen = sizeof(cb.buf),
		};
		ssize_t n;

		n = recvmsg(g->sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -ETIMEDOUT;
			return -errno;
		}
		vla_gpu_take_fds(g, &mh);
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

/* Read and throw away @len bytes of payload we do not want. */
static int vla_gpu_skip(struct vla_gpu *g, uint64_t len)
{
	char buf[4096];
	int ret;

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		ret = vla_gpu_recv(g, buf, n);
		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}

/* Send one reply: header and @size bytes of payload. */
static int vla_gpu_reply(struct vla_gpu *g, uint32_t request,
			 const void *payload, uint32_t size)
{
	struct vla_gpu_hdr hdr = {
		.request = request,
		.flags = VLA_GPU_FLAG_REPLY,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	vlb_dbg(VLB_DBG_MSG, vla_gpu_name(g), "display -> reply %s size %u",
		vla_gpu_request_name(request), size);
	while (iov[0].iov_len || iov[1].iov_len) {
		ssize_t n = sendmsg(g->sock, &mh, MSG_NOSIGNAL);
		size_t done;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -ETIMEDOUT;
			return -errno;
		}
		/* A short write: go on from where it stopped. */
		done = n;
		while (done && mh.msg_iovlen) {
			size_t k = done < mh.msg_iov->iov_len ?
				   done : mh.msg_iov->iov_len;

			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= k;
			done -= k;
			if (!mh.msg_iov->iov_len) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
		if (!mh.msg_iovlen)
			break;
	}
	return 0;
}

/* ---- Scanouts ------------------------------------------------------- */

static void vla_gpu_unmap(struct vla_gpu_scanout *s)
{
	if (s->map)
		munmap(s->map, s->map_size);
	s->map = NULL;
	s->map_size = 0;
}

static void vla_gpu_disable(struct vla_gpu_scanout *s)
{
	vla_gpu_unmap(s);
	free(s->fb);
	s->fb = NULL;
	s->width = 0;
	s->height = 0;
}

/* Give @s a framebuffer of @w x @h; the old picture stays if the size does. */
static int vla_gpu_resize(struct vla_gpu *g, struct vla_gpu_scanout *s,
			  uint32_t w, uint32_t h)
{
	uint32_t *fb;

	if (s->fb && s->width == w && s->height == h)
		return 0;
	fb = calloc((size_t)w * h, sizeof(*fb));
	if (!fb) {
		vlb_err(vla_gpu_name(g), "display: no memory for a %ux%u framebuffer",
			w, h);
		return -ENOMEM;
	}
	free(s->fb);
	s->fb = fb;
	s->width = w;
	s->height = h;
	return 0;
}

/* Is [x, x + w) x [y, y + h) inside a @sw x @sh area? No overflow. */
static bool vla_gpu_rect_ok(uint32_t x, uint32_t y, uint32_t w, uint32_t h,
			    uint32_t sw, uint32_t sh)
{
	return x <= sw && w <= sw - x && y <= sh && h <= sh - y;
}

/* Copy a rectangle of the dmabuf into the framebuffer (checked before). */
static void vla_gpu_copy_dmabuf(struct vla_gpu_scanout *s, uint32_t x,
				uint32_t y, uint32_t w, uint32_t h)
{
	uint32_t r;

	for (r = 0; r < h; r++) {
		const char *src = (const char *)s->map +
				  (size_t)(s->y + y + r) * s->stride +
				  (size_t)(s->x + x) * VLA_GPU_BPP;

		memcpy(s->fb + (size_t)(y + r) * s->width + x, src,
		       (size_t)w * VLA_GPU_BPP);
	}
}

/* ---- Requests ------------------------------------------------------- */

/*
 * Read a fixed-size payload into g->rx. A payload of another size is
 * skipped; returns 1 then (the caller drops the message).
 */
static int vla_gpu_read_payload(struct vla_gpu *g,
				const struct vla_gpu_hdr *hdr, size_t want)
{
	int ret;

	if (hdr->size != want) {
		ret = vla_gpu_skip(g, hdr->size);
		return ret ? ret : 1;
	}
	return vla_gpu_recv(g, &g->rx, want);
}

static int vla_gpu_get_display_info(struct vla_gpu *g)
{
	struct virtio_gpu_resp_display_info info;

	memset(&info, 0, sizeof(info));
	info.hdr.type = htole32(VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	info.pmodes[0].r.x = 0;
	info.pmodes[0].r.y = 0;
	info.pmodes[0].r.width = htole32(g->opts.width);
	info.pmodes[0].r.height = htole32(g->opts.height);
	info.pmodes[0].enabled = htole32(1);
	return vla_gpu_reply(g, VLA_GPU_GET_DISPLAY_INFO, &info, sizeof(info));
}

/* Pack a 3-letter manufacturer id, 5 bits a letter (EDID 1.4, 3.4.1). */
static uint16_t vla_gpu_edid_vendor(const char id[3])
{
	return ((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@');
}

/*
 * An EDID 1.4 base block for one mode: the mode as the preferred detailed
 * timing (reduced blanking, 60 Hz where the pixel clock field allows),
 * sRGB, a 96 dpi physical size and a monitor name. Returns its size (128),
 * or 0 when the mode does not fit a detailed timing (12-bit sizes).
 */
static size_t vla_gpu_make_edid(uint8_t *e, uint32_t w, uint32_t h)
{
	/* sRGB primaries and D65 white, CIE x/y times 1024 (red, green, blue, white). */
	static const uint16_t chroma[8] = {
		655, 338, 307, 614, 154, 61, 320, 337,
	};
	static const char name[13] = "vl-display\n  ";
	const uint32_t hfront = 48, hsync = 32, hblank = 160;
	const uint32_t vfront = 3, vsync = 4, vblank = 30;
	uint32_t wmm = w * 254 / 960, hmm = h * 254 / 960;
	uint64_t clock;
	uint16_t vendor = vla_gpu_edid_vendor("VLB");
	uint8_t *d, sum = 0;
	unsigned int i;

	if (w > 4095 || h > 4095)
		return 0;
	memset(e, 0, 128);
	e[1] = e[2] = e[3] = e[4] = e[5] = e[6] = 0xff;
	e[8] = vendor >> 8;
	e[9] = vendor & 0xff;
	e[10] = 1;			/* product code 1 */
	e[16] = 1;			/* week 1 of */
	e[17] = 2026 - 1990;		/* 2026 */
	e[18] = 1;			/* EDID 1.4 */
	e[19] = 4;
	e[20] = 0x80;			/* digital input */
	e[21] = (wmm + 5) / 10 > 255 ? 255 : (wmm + 5) / 10;	/* cm */
	e[22] = (hmm + 5) / 10 > 255 ? 255 : (hmm + 5) / 10;
	e[23] = 120;			/* gamma 2.2 */
	e[24] = 0x06;			/* sRGB, preferred timing is native */
	e[25] = (chroma[0] & 3) << 6 | (chroma[1] & 3) << 4 |
		(chroma[2] & 3) << 2 | (chroma[3] & 3);
	e[26] = (chroma[4] & 3) << 6 | (chroma[5] & 3) << 4 |
		(chroma[6] & 3) << 2 | (chroma[7] & 3);
	for (i = 0; i < 8; i++)
		e[27 + i] = chroma[i] >> 2;
	for (i = 38; i < 54; i++)	/* no standard timings */
		e[i] = 1;

	/* Detailed timing descriptor 1: the mode (EDID 1.4, 3.10.2). */
	d = e + 54;
	clock = (uint64_t)(w + hblank) * (h + vblank) * 60 / 10000;
	if (clock > 0xffff)
		clock = 0xffff;
	if (clock == 0)
		clock = 1;
	d[0] = clock & 0xff;
	d[1] = clock >> 8;
	d[2] = w & 0xff;
	d[3] = hblank & 0xff;
	d[4] = (w >> 8) << 4 | (hblank >> 8);
	d[5] = h & 0xff;
	d[6] = vblank & 0xff;
	d[7] = (h >> 8) << 4 | (vblank >> 8);
	d[8] = hfront & 0xff;
	d[9] = hsync & 0xff;
	d[10] = (vfront & 0xf) << 4 | (vsync & 0xf);
	d[11] = (hfront >> 8) << 6 | (hsync >> 8) << 4 |
		(vfront >> 4) << 2 | (vsync >> 4);
	d[12] = wmm & 0xff;
	d[13] = hmm & 0xff;
	d[14] = ((wmm >> 8) & 0xf) << 4 | ((hmm >> 8) & 0xf);
	d[17] = 0x1e;			/* digital separate sync, +h +v */

	/* Descriptor 2: the monitor name; 3 and 4: dummies (tag 0x10). */
	d = e + 72;
	d[3] = 0xfc;
	memcpy(d + 5, name, sizeof(name));
	e[90 + 3] = 0x10;
	e[108 + 3] = 0x10;

	for (i = 0; i < 127; i++)
		sum += e[i];
	e[127] = (uint8_t)(0x100 - sum);
	return 128;
}

static int vla_gpu_get_edid(struct vla_gpu *g, const struct vla_gpu_hdr *hdr)
{
	struct virtio_gpu_resp_edid resp;
	int ret;

	memset(&resp, 0, sizeof(resp));
	ret = vla_gpu_read_payload(g, hdr, sizeof(g->rx.edid_req));
	if (ret < 0)
		return ret;
	if (ret > 0 || g->rx.edid_req.scanout_id >= VLA_GPU_NUM_SCANOUTS) {
		/* Answer anyway: the back-end waits for it. */
		if (ret > 0)
			vla_gpu_drop(g, hdr, "payload is not %zu bytes",
				     sizeof(g->rx.edid_req));
		else
			vla_gpu_drop(g, hdr, "scanout %u of %u",
				     g->rx.edid_req.scanout_id,
				     VLA_GPU_NUM_SCANOUTS);
		resp.hdr.type = htole32(VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	} else {
		size_t n = vla_gpu_make_edid(resp.edid, g->opts.width,
					     g->opts.height);

		resp.hdr.type = htole32(n ? VIRTIO_GPU_RESP_OK_EDID :
					VIRTIO_GPU_RESP_ERR_UNSPEC);
		resp.size = htole32(n);
	}
	return vla_gpu_reply(g, VLA_GPU_GET_EDID, &resp, sizeof(resp));
}

static int vla_gpu_cursor(struct vla_gpu *g, const struct vla_gpu_hdr *hdr)
{
	bool update = hdr->request == VLA_GPU_CURSOR_UPDATE;
	const struct vla_gpu_cursor_pos *pos = &g->rx.cursor_pos;
	int ret;

	ret = vla_gpu_read_payload(g, hdr, update ?
				   sizeof(g->rx.cursor_update) :
				   sizeof(g->rx.cursor_pos));
	if (ret < 0)
		return ret;
	if (ret > 0)
		return vla_gpu_drop(g, hdr, "payload is not %zu bytes",
				    update ? sizeof(g->rx.cursor_update) :
				    sizeof(g->rx.cursor_pos));
	if (pos->scanout_id >= VLA_GPU_NUM_SCANOUTS)
		return vla_gpu_drop(g, hdr, "scanout %u of %u",
				    pos->scanout_id, VLA_GPU_NUM_SCANOUTS);
	if (update) {
		if (g->rx.cursor_update.hot_x >= VLA_GPU_CURSOR_DIM ||
		    g->rx.cursor_update.hot_y >= VLA_GPU_CURSOR_DIM)
			return vla_gpu_drop(g, hdr, "hot spot %u,%u outside the %ux%u cursor",
					    g->rx.cursor_update.hot_x,
					    g->rx.cursor_update.hot_y,
					    VLA_GPU_CURSOR_DIM,
					    VLA_GPU_CURSOR_DIM);
		g->cursor = g->rx.cursor_update;
	} else {
		g->cursor.pos = *pos;
	}
	g->cursor_visible = hdr->request != VLA_GPU_CURSOR_POS_HIDE;
	return 0;
}

static int vla_gpu_scanout(struct vla_gpu *g, const struct vla_gpu_hdr *hdr)
{
	const struct vla_gpu_scanout_msg *m = &g->rx.scanout;
	struct vla_gpu_scanout *s;
	int ret;

	ret = vla_gpu_read_payload(g, hdr, sizeof(*m));
	if (ret < 0)
		return ret;
	if (ret > 0)
		return vla_gpu_drop(g, hdr, "payload is not %zu bytes",
				    sizeof(*m));
	if (m->scanout_id >= VLA_GPU_NUM_SCANOUTS)
		return vla_gpu_drop(g, hdr, "scanout %u of %u", m->scanout_id,
				    VLA_GPU_NUM_SCANOUTS);
	s = &g->scanouts[m->scanout_id];
	if (!m->width || !m->height) {
		vlb_dbg(VLB_DBG_DEV, vla_gpu_name(g), "display: scanout %u disabled",
			m->scanout_id);
		vla_gpu_disable(s);
		return 0;
	}
	if (m->width > VLA_GPU_MAX_DIM || m->height > VLA_GPU_MAX_DIM)
		return vla_gpu_drop(g, hdr, "size %ux%u above %ux%u",
				    m->width, m->height, VLA_GPU_MAX_DIM,
				    VLA_GPU_MAX_DIM);
	vla_gpu_unmap(s);
	if (vla_gpu_resize(g, s, m->width, m->height))
		return vla_gpu_drop(g, hdr, "no framebuffer");
	vlb_dbg(VLB_DBG_DEV, vla_gpu_name(g), "display: scanout %u is %ux%u",
		m->scanout_id, m->width, m->height);
	return 0;
}

static int vla_gpu_update(struct vla_gpu *g, const struct vla_gpu_hdr *hdr)
{
	const struct vla_gpu_update *u = &g->rx.update;
	struct vla_gpu_scanout *s;
	uint64_t pixels;
	uint32_t r;
	int ret;

	if (hdr->size < sizeof(*u)) {
		ret = vla_gpu_skip(g, hdr->size);
		return ret ? ret : vla_gpu_drop(g, hdr, "shorter than its %zu-byte header",
						sizeof(*u));
	}
	ret = vla_gpu_recv(g, &g->rx, sizeof(*u));
	if (ret)
		return ret;
	pixels = hdr->size - sizeof(*u);
	if (u->scanout_id >= VLA_GPU_NUM_SCANOUTS) {
		ret = vla_gpu_skip(g, pixels);
		return ret ? ret : vla_gpu_drop(g, hdr, "scanout %u of %u",
						u->scanout_id,
						VLA_GPU_NUM_SCANOUTS);
	}
	s = &g->scanouts[u->scanout_id];
	if (!s->fb || !vla_gpu_rect_ok(u->x, u->y, u->width, u->height,
				       s->width, s->height) ||
	    pixels != (uint64_t)u->width * u->height * VLA_GPU_BPP) {
		ret = vla_gpu_skip(g, pixels);
		if (ret)
			return ret;
		if (!s->fb)
			return vla_gpu_drop(g, hdr, "scanout %u is disabled",
					    u->scanout_id);
		return vla_gpu_drop(g, hdr, "%ux%u at %u,%u with %llu bytes of pixels does not fit scanout %u (%ux%u)",
				    u->width, u->height, u->x, u->y,
				    (unsigned long long)pixels, u->scanout_id,
				    s->width, s->height);
	}
	/* Checked: straight into the framebuffer, row by row. */
	for (r = 0; r < u->height; r++) {
		ret = vla_gpu_recv(g, s->fb + (size_t)(u->y + r) * s->width +
				   u->x, (size_t)u->width * VLA_GPU_BPP);
		if (ret)
			return ret;
	}
	g->updates++;
	return 0;
}

static int vla_gpu_dmabuf_scanout(struct vla_gpu *g,
				  const struct vla_gpu_hdr *hdr)
{
	const struct vla_gpu_dmabuf_scanout *m = &g->rx.dmabuf_scanout;
	struct vla_gpu_scanout *s;
	uint64_t size;
	off_t end;
	void *map;
	int ret, fd;

	ret = vla_gpu_read_payload(g, hdr, sizeof(*m));
	if (ret < 0)
		return ret;
	if (ret > 0)
		return vla_gpu_drop(g, hdr, "payload is not %zu bytes",
				    sizeof(*m));
	if (m->scanout_id >= VLA_GPU_NUM_SCANOUTS)
		return vla_gpu_drop(g, hdr, "scanout %u of %u", m->scanout_id,
				    VLA_GPU_NUM_SCANOUTS);
	s = &g->scanouts[m->scanout_id];
	if (!m->width || !m->height) {
		if (g->nfds)
			return vla_gpu_drop(g, hdr, "disables the scanout but carries %u fds",
					    g->nfds);
		vla_gpu_disable(s);
		return 0;
	}
	if (g->nfds != 1 || g->fds_lost)
		return vla_gpu_drop(g, hdr, "carries %u fds%s, expected one dmabuf",
				    g->nfds, g->fds_lost ? " (and lost some)" : "");
	if (m->fd_drm_fourcc != VLA_GPU_FOURCC_XRGB8888 &&
	    m->fd_drm_fourcc != VLA_GPU_FOURCC_ARGB8888)
		return vla_gpu_drop(g, hdr, "format fourcc 0x%08x is not XR24 or AR24",
				    (uint32_t)m->fd_drm_fourcc);
	if (!m->fd_width || !m->fd_height || m->fd_width > VLA_GPU_MAX_DIM ||
	    m->fd_height > VLA_GPU_MAX_DIM ||
	    m->fd_stride / VLA_GPU_BPP < m->fd_width ||
	    !vla_gpu_rect_ok(m->x, m->y, m->width, m->height, m->fd_width,
			     m->fd_height))
		return vla_gpu_drop(g, hdr, "%ux%u at %u,%u does not fit the %ux%u dmabuf (stride %u)",
				    m->width, m->height, m->x, m->y,
				    m->fd_width, m->fd_height, m->fd_stride);
	size = (uint64_t)m->fd_stride * m->fd_height;
	if (size > VLA_GPU_MAX_DMABUF_SIZE)
		return vla_gpu_drop(g, hdr, "dmabuf of %llu bytes",
				    (unsigned long long)size);

	fd = g->fds[0];
	/* A dmabuf knows its size: it must hold every row we will read. */
	end = lseek(fd, 0, SEEK_END);
	if (end >= 0 && (uint64_t)end < size)
		return vla_gpu_drop(g, hdr, "dmabuf has %lld bytes, %ux%u with stride %u needs %llu",
				    (long long)end, m->fd_width, m->fd_height,
				    m->fd_stride, (unsigned long long)size);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return vla_gpu_drop(g, hdr, "mmap of the dmabuf: %s",
				    strerror(errno));
	vla_gpu_unmap(s);
	if (vla_gpu_resize(g, s, m->width, m->height)) {
		munmap(map, size);
		return vla_gpu_drop(g, hdr, "no framebuffer");
	}
	s->map = map;
	s->map_size = size;
	s->stride = m->fd_stride;
	s->x = m->x;
	s->y = m->y;
	vla_gpu_copy_dmabuf(s, 0, 0, s->width, s->height);
	vlb_dbg(VLB_DBG_DEV, vla_gpu_name(g), "display: scanout %u is %ux%u of a %ux%u dmabuf",
		m->scanout_id, m->width, m->height, m->fd_width, m->fd_height);
	return 0;
}

/* Apply a DMABUF_UPDATE read into g->rx; false when it was dropped. */
static bool vla_gpu_apply_dmabuf_update(struct vla_gpu *g,
					const struct vla_gpu_hdr *hdr)
{
	const struct vla_gpu_update *u = &g->rx.update;
	struct vla_gpu_scanout *s;

	if (u->scanout_id >= VLA_GPU_NUM_SCANOUTS) {
		vla_gpu_drop(g, hdr, "scanout %u of %u", u->scanout_id,
			     VLA_GPU_NUM_SCANOUTS);
		return false;
	}
	s = &g->scanouts[u->scanout_id];
	if (!s->map) {
		vla_gpu_drop(g, hdr, "scanout %u shows no dmabuf",
			     u->scanout_id);
		return false;
	}
	if (!vla_gpu_rect_ok(u->x, u->y, u->width, u->height, s->width,
			     s->height)) {
		vla_gpu_drop(g, hdr, "%ux%u at %u,%u outside scanout %u (%ux%u)",
			     u->width, u->height, u->x, u->y, u->scanout_id,
			     s->width, s->height);
		return false;
	}
	vla_gpu_copy_dmabuf(s, u->x, u->y, u->width, u->height);
	g->updates++;
	return true;
}

static int vla_gpu_dmabuf_update(struct vla_gpu *g,
				 const struct vla_gpu_hdr *hdr)
{
	int ret;

	ret = vla_gpu_read_payload(g, hdr, sizeof(g->rx.update));
	if (ret < 0)
		return ret;
	if (ret > 0)
		vla_gpu_drop(g, hdr, "payload is not %zu bytes",
			     sizeof(g->rx.update));
	else
		vla_gpu_apply_dmabuf_update(g, hdr);
	/* The back-end stops until it has this (empty) answer, valid or not. */
	return vla_gpu_reply(g, VLA_GPU_DMABUF_UPDATE, NULL, 0);
}

static int vla_gpu_dispatch(struct vla_gpu *g, const struct vla_gpu_hdr *hdr)
{
	int ret;

	switch (hdr->request) {
	case VLA_GPU_GET_PROTOCOL_FEATURES: {
		uint64_t features = VLA_GPU_PROTOCOL_FEATURES;

		ret = vla_gpu_skip(g, hdr->size);
		if (ret)
			return ret;
		if (hdr->size)
			vla_gpu_drop(g, hdr, "payload is not empty (answered anyway)");
		return vla_gpu_reply(g, hdr->request, &features,
				     sizeof(features));
	}
	case VLA_GPU_SET_PROTOCOL_FEATURES:
		ret = vla_gpu_read_payload(g, hdr, sizeof(g->rx.u64));
		if (ret < 0)
			return ret;
		if (ret > 0)
			return vla_gpu_drop(g, hdr, "payload is not 8 bytes");
		if (g->rx.u64 & ~VLA_GPU_PROTOCOL_FEATURES)
			return vla_gpu_drop(g, hdr, "features 0x%llx were not offered",
					    (unsigned long long)g->rx.u64);
		g->protocol_features = g->rx.u64;
		return 0;
	case VLA_GPU_GET_DISPLAY_INFO:
		ret = vla_gpu_skip(g, hdr->size);
		if (ret)
			return ret;
		if (hdr->size)
			vla_gpu_drop(g, hdr, "payload is not empty (answered anyway)");
		return vla_gpu_get_display_info(g);
	case VLA_GPU_GET_EDID:
		return vla_gpu_get_edid(g, hdr);
	case VLA_GPU_CURSOR_POS:
	case VLA_GPU_CURSOR_POS_HIDE:
	case VLA_GPU_CURSOR_UPDATE:
		return vla_gpu_cursor(g, hdr);
	case VLA_GPU_SCANOUT:
		return vla_gpu_scanout(g, hdr);
	case VLA_GPU_UPDATE:
		return vla_gpu_update(g, hdr);
	case VLA_GPU_DMABUF_SCANOUT:
		return vla_gpu_dmabuf_scanout(g, hdr);
	case VLA_GPU_DMABUF_UPDATE:
		return vla_gpu_dmabuf_update(g, hdr);
	default:
		/* DMABUF_SCANOUT2 included: DMABUF2 is never negotiated. */
		ret = vla_gpu_skip(g, hdr->size);
		return ret ? ret : vla_gpu_drop(g, hdr, "unknown or not negotiated");
	}
}

static int vla_gpu_fail(struct vla_gpu *g, int ret, const char *what)
{
	const char *cause;

	switch (ret) {
	case -ECONNRESET:
		cause = "the back-end closed the display socket";
		break;
	case -ETIMEDOUT:
		cause = "the back-end stopped in the middle of a message";
		break;
	default:
		cause = strerror(-ret);
		break;
	}
	vlb_err(vla_gpu_name(g), "display socket: %s: %s", what, cause);
	close(g->sock);
	g->sock = -1;
	return ret;
}

int vla_gpu_handle(struct vla_gpu *g)
{
	struct pollfd pfd = { .fd = g->sock, .events = POLLIN };
	struct vla_gpu_hdr hdr;
	char what[96];
	int ret;

	if (g->sock < 0)
		return -ENOTCONN;
	/* Wait for a message without a bound; once it starts, it must end. */
	while (poll(&pfd, 1, -1) < 0) {
		if (errno != EINTR)
			return vla_gpu_fail(g, -errno, "poll");
	}
	ret = vla_gpu_recv(g, &hdr, sizeof(hdr));
	if (ret) {
		vla_gpu_close_fds(g);
		return vla_gpu_fail(g, ret, "reading a message");
	}
	vlb_dbg(VLB_DBG_MSG, vla_gpu_name(g), "display <- %s flags 0x%x size %u fds %u",
		vla_gpu_request_name(hdr.request), hdr.flags, hdr.size, g->nfds);
	/*
	 * The flags of a request mean nothing: QEMU's vhost-user-gpu leaves
	 * them uninitialised in UPDATE (7.2 sends 0x5 and the like), and
	 * QEMU's front-end ignores them.
	 */
	ret = vla_gpu_dispatch(g, &hdr);
	/* fds a handler did not take (it sets them to -1) are closed here. */
	vla_gpu_close_fds(g);
	if (ret) {
		snprintf(what, sizeof(what), "%s (%u bytes)",
			 vla_gpu_request_name(hdr.request), hdr.size);
		return vla_gpu_fail(g, ret, what);
	}
	return 0;
}

int vla_gpu_attach(struct vla_gpu *g, int sock)
{
	int ret;

	if (g->sock >= 0) {
		close(sock);
		return -EBUSY;
	}
	g->sock = sock;
	ret = vla_gpu_set_timeouts(g, sock);
	if (ret) {
		vlb_err(vla_gpu_name(g), "display socket: setsockopt: %s",
			strerror(-ret));
		close(sock);
		g->sock = -1;
	}
	return ret;
}

/* ---- Screenshot ----------------------------------------------------- */

/* Draw the cursor over a row of RGB bytes (premultiplied a8r8g8b8 over). */
static void vla_gpu_blend_cursor(const struct vla_gpu *g, uint32_t y,
				 uint8_t *rgb, uint32_t width)
{
	const struct vla_gpu_cursor_update *c = &g->cursor;
	int64_t cy = (int64_t)y - c->pos.y + c->hot_y;
	int64_t x0 = (int64_t)c->pos.x - c->hot_x;
	int64_t i;

	if (!g->cursor_visible || c->pos.scanout_id != 0 || cy < 0 ||
	    cy >= VLA_GPU_CURSOR_DIM)
		return;
	for (i = 0; i < VLA_GPU_CURSOR_DIM; i++) {
		uint32_t p = c->data[cy * VLA_GPU_CURSOR_DIM + i];
		uint32_t a = p >> 24;
		int64_t x = x0 + i;
		unsigned int k;

		if (x < 0 || x >= width || !a)
			continue;
		for (k = 0; k < 3; k++) {
			uint32_t src = (p >> (16 - 8 * k)) & 0xff;
			uint8_t *dst = &rgb[x * 3 + k];
			uint32_t v = src + *dst * (255 - a) / 255;

			*dst = v > 255 ? 255 : v;
		}
	}
}

/*
 * libpng reports errors by longjmp: everything this function changes after
 * setjmp() lives in memory it owns through @rows, so nothing is clobbered.
 */
static int vla_gpu_png_encode(struct vla_gpu *g, FILE *f,
			      const struct vla_gpu_scanout *s, uint8_t *row)
{
	png_structp png;
	png_infop info;
	uint32_t x, y;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (!png)
		return -ENOMEM;
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -EIO;
	}
	png_init_io(png, f);
	/* Fast to write and to read: the machine may be emulated. */
	png_set_compression_level(png, 1);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_set_IHDR(png, info, s->width, s->height, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (y = 0; y < s->height; y++) {
		const uint32_t *src = s->fb + (size_t)y * s->width;

		for (x = 0; x < s->width; x++) {
			row[x * 3] = src[x] >> 16;
			row[x * 3 + 1] = src[x] >> 8;
			row[x * 3 + 2] = src[x];
		}
		vla_gpu_blend_cursor(g, y, row, s->width);
		png_write_row(png, row);
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	return 0;
}

int vla_gpu_write_png(struct vla_gpu *g, const char *path)
{
	const struct vla_gpu_scanout *s = &g->scanouts[0];
	char tmp[4096];
	uint8_t *row;
	FILE *f;
	int ret;

	if (!s->fb)
		return -ENODATA;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		vlb_err(path, "screenshot: path too long");
		return -ENAMETOOLONG;
	}
	row = malloc((size_t)s->width * 3);
	if (!row) {
		vlb_err(path, "screenshot: out of memory");
		return -ENOMEM;
	}
	f = fopen(tmp, "wbe");
	if (!f) {
		ret = -errno;
		vlb_err(tmp, "screenshot: %s", strerror(-ret));
		free(row);
		return ret;
	}
	ret = vla_gpu_png_encode(g, f, s, row);
	free(row);
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		vlb_err(path, "screenshot: writing the PNG: %s", strerror(-ret));
		unlink(tmp);
		return ret;
	}
	vlb_dbg(VLB_DBG_DEV, path, "screenshot of scanout 0 (%ux%u)", s->width,
		s->height);
	return 0;
}

static void vla_gpu_screenshot(struct vla_gpu *g, const char *when)
{
	if (!g->opts.screenshot)
		return;
	if (vla_gpu_write_png(g, g->opts.screenshot) == -ENODATA)
		vlb_log(g->opts.screenshot, "screenshot %s: scanout 0 is disabled, nothing written",
			when);
}

/* ---- The display thread ---------------------------------------------- */

static void *vla_gpu_thread(void *arg)
{
	enum { PFD_SOCK, PFD_STOP, PFD_SIG, NPFD };
	struct vla_gpu *g = arg;

	for (;;) {
		struct pollfd pfd[NPFD] = {
			[PFD_SOCK] = { .fd = g->sock, .events = POLLIN },
			[PFD_STOP] = { .fd = g->stop_efd, .events = POLLIN },
			[PFD_SIG] = { .fd = g->sig_fd, .events = POLLIN },
		};
		int ret;

		if (poll(pfd, NPFD, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			vlb_err(vla_gpu_name(g), "display thread: poll: %s",
				strerror(-ret));
			atomic_store(&g->error, ret);
			break;
		}
		if (pfd[PFD_STOP].revents)
			return NULL;
		if (pfd[PFD_SIG].revents) {
			struct signalfd_siginfo si;

			if (read(g->sig_fd, &si, sizeof(si)) == sizeof(si))
				vla_gpu_screenshot(g, "on SIGUSR1");
		}
		if (pfd[PFD_SOCK].revents) {
			ret = vla_gpu_handle(g);
			if (ret) {
				atomic_store(&g->error, ret);
				break;
			}
		}
	}
	/* Tell the adapter's loop; it decides what a dead display means. */
	if (eventfd_write(g->fail_efd, 1))
		vlb_err(vla_gpu_name(g), "display thread: eventfd: %s",
			strerror(errno));
	return NULL;
}

int vla_gpu_open(struct vla_gpu *g, int vhost_sock)
{
	struct vhost_user_msg msg;
	sigset_t set, old;
	int sv[2], ret;

	g->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g->fail_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->stop_efd < 0 || g->fail_efd < 0) {
		ret = -errno;
		vlb_err(vla_gpu_name(g), "display: eventfd: %s", strerror(-ret));
		return ret;
	}
	if (g->opts.screenshot) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		ret = -pthread_sigmask(SIG_BLOCK, &set, NULL);
		if (ret) {
			vlb_err(vla_gpu_name(g), "display: pthread_sigmask: %s",
				strerror(-ret));
			return ret;
		}
		g->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
		if (g->sig_fd < 0) {
			ret = -errno;
			vlb_err(vla_gpu_name(g), "display: signalfd: %s",
				strerror(-ret));
			return ret;
		}
	}

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		vlb_err(vla_gpu_name(g), "display: socketpair: %s",
			strerror(-ret));
		return ret;
	}
	ret = vla_gpu_attach(g, sv[0]);
	if (ret) {
		close(sv[1]);
		return ret;
	}

	/* No NEED_REPLY: SET_SOCKET has no reply (QEMU sends it the same way). */
	memset(&msg, 0, sizeof(msg));
	msg.hdr.request = VHOST_USER_GPU_SET_SOCKET;
	msg.hdr.flags = VHOST_USER_VERSION;
	msg.hdr.size = 0;
	msg.fds[0] = sv[1];
	msg.nfds = 1;
	vlb_msg_dbg(vla_gpu_name(g), "->", &msg, false, VIRTIO_ID_GPU);
	ret = vlb_msg_send(vhost_sock, &msg);
	close(sv[1]);
	if (ret) {
		vlb_err(vla_gpu_name(g), "%s: %s",
			vlb_request_name(VHOST_USER_GPU_SET_SOCKET),
			ret == -EPIPE ? "back-end closed the connection" :
			strerror(-ret));
		return ret;
	}

	/*
	 * The thread takes no signal: SIGINT/SIGTERM belong to the adapter's
	 * signalfd, SIGUSR1 reaches the thread through its own.
	 */
	sigfillset(&set);
	ret = -pthread_sigmask(SIG_SETMASK, &set, &old);
	if (ret) {
		vlb_err(vla_gpu_name(g), "display: pthread_sigmask: %s",
			strerror(-ret));
		return ret;
	}
	ret = -pthread_create(&g->thread, NULL, vla_gpu_thread, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		vlb_err(vla_gpu_name(g), "display: pthread_create: %s",
			strerror(-ret));
		return ret;
	}
	g->thread_started = true;
	return 0;
}

int vla_gpu_fd(const struct vla_gpu *g)
{
	return g->fail_efd;
}

int vla_gpu_error(struct vla_gpu *g)
{
	return atomic_load(&g->error);
}

void vla_gpu_get_stats(const struct vla_gpu *g, struct vla_gpu_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->updates = g->updates;
	st->dropped = g->dropped;
	st->width = g->scanouts[0].width;
	st->height = g->scanouts[0].height;
	st->dmabuf = g->scanouts[0].map != NULL;
	st->cursor_visible = g->cursor_visible;
	st->cursor_x = g->cursor.pos.x;
	st->cursor_y = g->cursor.pos.y;
	st->protocol_features = g->protocol_features;
}

uint32_t vla_gpu_pixel(const struct vla_gpu *g, uint32_t x, uint32_t y)
{
	const struct vla_gpu_scanout *s = &g->scanouts[0];

	if (!s->fb || x >= s->width || y >= s->height)
		return 0;
	return s->fb[(size_t)y * s->width + x] & 0xffffff;
}

void vla_gpu_close(struct vla_gpu *g)
{
	unsigned int i;

	if (!g)
		return;
	if (g->thread_started) {
		if (eventfd_write(g->stop_efd, 1))
			vlb_err(vla_gpu_name(g), "display: eventfd: %s",
				strerror(errno));
		pthread_join(g->thread, NULL);
		g->thread_started = false;
		vla_gpu_screenshot(g, "at exit");
	}
	if (g->sock >= 0)
		close(g->sock);
	vla_gpu_close_fds(g);
	for (i = 0; i < VLA_GPU_NUM_SCANOUTS; i++)
		vla_gpu_disable(&g->scanouts[i]);
	if (g->stop_efd >= 0)
		close(g->stop_efd);
	if (g->fail_efd >= 0)
		close(g->fail_efd);
	if (g->sig_fd >= 0)
		close(g->sig_fd);
	free(g);
}
