// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the adapter's vhost-user-gpu display (adapter/gpu_display.c)
 * against a test playing the back-end on the display socket.
 *
 * Good traffic: protocol features, display info, EDID, SCANOUT + UPDATE,
 * DMABUF_SCANOUT + DMABUF_UPDATE (a memfd stands in for the dmabuf),
 * cursor; the PNG screenshot read back with libpng must equal the
 * framebuffer. Bad traffic: every size, offset and id out of range, wrong
 * payload sizes, missing or extra fds, unknown requests; each is dropped,
 * counted, leaves the picture alone, keeps the stream in step and gets its
 * reply when one is due; request flags are ignored (QEMU 7.2 sends
 * garbage). Then the threaded mode: SET_SOCKET on the vhost-user socket, a
 * full-screen UPDATE larger than a socket buffer, SIGUSR1 screenshot, the
 * back-end closing the display socket (the failure fd fires), a message
 * stopping midway, and no fd leaks.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/virtio_gpu.h>

#include <png.h>

#include "gpu_display.h"
#include "helpers.h"
#include "vhost_user.h"
#include "vlb_log.h"

#define SHORT_TIMEOUT_MS	300
#define REPLY			0x4U

enum {
	GET_PROTOCOL_FEATURES = 1,
	SET_PROTOCOL_FEATURES = 2,
	GET_DISPLAY_INFO = 3,
	CURSOR_POS = 4,
	CURSOR_POS_HIDE = 5,
	CURSOR_UPDATE = 6,
	SCANOUT = 7,
	UPDATE = 8,
	DMABUF_SCANOUT = 9,
	DMABUF_UPDATE = 10,
	GET_EDID = 11,
};

struct hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

static char tmpdir[] = "/tmp/test_adapter_gpu.XXXXXX";

/* Send header + payload (+ one fd when fd >= 0) in one sendmsg. */
static int send_msg(int sock, uint32_t req, uint32_t flags, const void *p,
		    uint32_t size, int fd)
{
	struct hdr h = { req, flags, size };
	struct iovec iov[2] = {
		{ &h, sizeof(h) }, { (void *)p, size },
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cb;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	size_t want = sizeof(h) + size, done = 0;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (done < want) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0)
			return -errno;
		done += n;
		if (done < want) {
			/* Rest of a large payload: plain writes. */
			const char *rest = (const char *)p + (done - sizeof(h));

			if (done < sizeof(h))
				return -EIO;
			while (done < want) {
				n = write(sock, rest, want - done);
				if (n < 0)
					return -errno;
				done += n;
				rest += n;
			}
		}
	}
	return 0;
}

static int recv_all(int sock, void *buf, size_t len)
{
	char *p = buf;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	while (len) {
		ssize_t n;

		if (poll(&pfd, 1, T_WAIT_MS) != 1)
			return -ETIMEDOUT;
		n = read(sock, p, len);
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

/* Read one reply; its payload must be @size bytes. */
static int recv_reply(int sock, uint32_t req, void *payload, uint32_t size)
{
	struct hdr h;
	int ret = recv_all(sock, &h, sizeof(h));

	if (ret)
		return t_fail("reply to %u: %s", req, strerror(-ret));
	if (h.request != req || h.flags != REPLY || h.size != size)
		return t_fail("reply to %u: request %u flags 0x%x size %u, expected size %u",
			      req, h.request, h.flags, h.size, size);
	if (size && recv_all(sock, payload, size))
		return t_fail("reply to %u: short payload", req);
	return 0;
}

/* Nothing may be waiting on @sock (no stray reply). */
static int expect_quiet(int sock, const char *what)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	if (poll(&pfd, 1, 0) != 0)
		return t_fail("%s: unexpected data from the display", what);
	return 0;
}

static uint64_t dropped(struct vla_gpu *g)
{
	struct vla_gpu_stats st;

	vla_gpu_get_stats(g, &st);
	return st.dropped;
}

/* Send one message and let the display serve it. */
static int serve(struct vla_gpu *g, int peer, uint32_t req, uint32_t flags,
		 const void *p, uint32_t size, int fd)
{
	int ret = send_msg(peer, req, flags, p, size, fd);

	if (ret)
		return t_fail("send %u: %s", req, strerror(-ret));
	ret = vla_gpu_handle(g);
	if (ret)
		return t_fail("request %u (%u bytes): vla_gpu_handle %s", req,
			      size, strerror(-ret));
	return 0;
}

/* A message that must be dropped: counter up, nothing else changes. */
static int serve_bad(struct vla_gpu *g, int peer, const char *what,
		     uint32_t req, uint32_t flags, const void *p,
		     uint32_t size, int fd)
{
	uint64_t before = dropped(g);

	if (serve(g, peer, req, flags, p, size, fd))
		return t_fail("%s: not served", what);
	if (dropped(g) != before + 1)
		return t_fail("%s: dropped %llu -> %llu, expected one more",
			      what, (unsigned long long)before,
			      (unsigned long long)dropped(g));
	return 0;
}

struct update {
	uint32_t scanout_id, x, y, w, h;
	uint32_t px[];
} __attribute__((packed));

static struct update *make_update(uint32_t id, uint32_t x, uint32_t y,
				  uint32_t w, uint32_t h, uint32_t color,
				  uint32_t *size)
{
	struct update *u;
	size_t i, n = (size_t)w * h;

	*size = sizeof(*u) + n * 4;
	u = malloc(*size);
	if (!u)
		abort();
	*u = (struct update) { id, x, y, w, h };
	for (i = 0; i < n; i++)
		u->px[i] = color ? color : (uint32_t)(i * 2654435761U) & 0xffffff;
	return u;
}

static int send_update(struct vla_gpu *g, int peer, uint32_t x, uint32_t y,
		       uint32_t w, uint32_t h, uint32_t color)
{
	uint32_t size;
	struct update *u = make_update(0, x, y, w, h, color, &size);
	int ret = serve(g, peer, UPDATE, 0, u, size, -1);

	free(u);
	return ret;
}

/* Read a PNG back as RGB bytes; caller frees *bufp. */
static int read_png(const char *path, uint32_t *w, uint32_t *h,
		    uint8_t **bufp)
{
	png_image img;
	uint8_t *buf;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, path))
		return t_fail("%s: %s", path, img.message);
	img.format = PNG_FORMAT_RGB;
	buf = malloc(PNG_IMAGE_SIZE(img));
	if (!buf)
		abort();
	if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
		free(buf);
		return t_fail("%s: %s", path, img.message);
	}
	*w = img.width;
	*h = img.height;
	*bufp = buf;
	return 0;
}

static uint32_t png_px(const uint8_t *buf, uint32_t w, uint32_t x, uint32_t y)
{
	const uint8_t *p = buf + ((size_t)y * w + x) * 3;

	return p[0] << 16 | p[1] << 8 | p[2];
}

/*
 * Compare a PNG with the framebuffer, except one pixel (@skip_x, @skip_y;
 * -1 for none) that must be @skip_val (the cursor).
 */
static int check_png(struct vla_gpu *g, const char *path, uint32_t w,
		     uint32_t h, int64_t skip_x, int64_t skip_y,
		     uint32_t skip_val)
{
	uint32_t x, y, pw, ph;
	uint8_t *buf;
	int ret = 0;

	if (read_png(path, &pw, &ph, &buf))
		return T_EXIT_FAIL;
	if (pw != w || ph != h) {
		free(buf);
		return t_fail("%s: %ux%u, expected %ux%u", path, pw, ph, w, h);
	}
	for (y = 0; y < h && !ret; y++) {
		for (x = 0; x < w; x++) {
			uint32_t got = png_px(buf, w, x, y);
			uint32_t want = vla_gpu_pixel(g, x, y);

			if (x == skip_x && y == skip_y)
				want = skip_val;
			if (got != want) {
				ret = t_fail("%s: pixel %u,%u is 0x%06x, expected 0x%06x",
					     path, x, y, got, want);
				break;
			}
		}
	}
	free(buf);
	return ret;
}

static int pixel_is(struct vla_gpu *g, uint32_t x, uint32_t y, uint32_t want,
		    const char *what)
{
	uint32_t got = vla_gpu_pixel(g, x, y);

	if (got != (want & 0xffffff))
		return t_fail("%s: pixel %u,%u is 0x%06x, expected 0x%06x", what,
			      x, y, got, want & 0xffffff);
	return 0;
}

static struct vla_gpu *new_display(uint32_t w, uint32_t h, const char *png,
				   int timeout_ms)
{
	struct vla_gpu_opts o = {
		.width = w, .height = h, .screenshot = png,
		.name = "test-gpu", .timeout_ms = timeout_ms,
	};

	return vla_gpu_new(&o);
}

static int test_requests(void)
{
	struct virtio_gpu_resp_display_info info;
	struct virtio_gpu_resp_edid edid;
	struct vla_gpu_stats st;
	struct vla_gpu *g;
	uint64_t features;
	uint32_t id;
	int sv[2], ret = T_EXIT_FAIL;
	uint8_t sum = 0;
	unsigned int i;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return t_fail("socketpair: %s", strerror(errno));
	g = new_display(640, 480, NULL, 0);
	if (!g || vla_gpu_attach(g, sv[0]))
		return t_fail("attach");

	if (serve(g, sv[1], GET_PROTOCOL_FEATURES, 0, NULL, 0, -1) ||
	    recv_reply(sv[1], GET_PROTOCOL_FEATURES, &features, 8))
		goto out;
	if (features != 1) {
		t_fail("protocol features 0x%llx, expected EDID only",
		       (unsigned long long)features);
		goto out;
	}
	if (serve(g, sv[1], SET_PROTOCOL_FEATURES, 0, &features, 8, -1))
		goto out;
	features = 2;
	if (serve_bad(g, sv[1], "SET_PROTOCOL_FEATURES not offered",
		      SET_PROTOCOL_FEATURES, 0, &features, 8, -1))
		goto out;
	vla_gpu_get_stats(g, &st);
	if (st.protocol_features != 1) {
		t_fail("protocol features set 0x%llx",
		       (unsigned long long)st.protocol_features);
		goto out;
	}

	if (serve(g, sv[1], GET_DISPLAY_INFO, 0, NULL, 0, -1) ||
	    recv_reply(sv[1], GET_DISPLAY_INFO, &info, sizeof(info)))
		goto out;
	if (info.hdr.type != VIRTIO_GPU_RESP_OK_DISPLAY_INFO ||
	    info.pmodes[0].r.width != 640 || info.pmodes[0].r.height != 480 ||
	    info.pmodes[0].enabled != 1 || info.pmodes[1].enabled) {
		t_fail("display info: type 0x%x %ux%u enabled %u",
		       info.hdr.type, info.pmodes[0].r.width,
		       info.pmodes[0].r.height, info.pmodes[0].enabled);
		goto out;
	}

	id = 0;
	if (serve(g, sv[1], GET_EDID, 0, &id, 4, -1) ||
	    recv_reply(sv[1], GET_EDID, &edid, sizeof(edid)))
		goto out;
	for (i = 0; i < 128; i++)
		sum += edid.edid[i];
	if (edid.hdr.type != VIRTIO_GPU_RESP_OK_EDID || edid.size != 128 ||
	    sum != 0 || edid.edid[0] != 0 || edid.edid[1] != 0xff ||
	    edid.edid[56] != (640 & 0xff) || (edid.edid[58] >> 4) != (640 >> 8) ||
	    edid.edid[59] != (480 & 0xff) || (edid.edid[61] >> 4) != (480 >> 8)) {
		t_fail("EDID: type 0x%x size %u checksum %u or mode wrong",
		       edid.hdr.type, edid.size, sum);
		goto out;
	}
	/* A bad EDID request is dropped but still answered. */
	id = 9;
	if (serve_bad(g, sv[1], "GET_EDID scanout 9", GET_EDID, 0, &id, 4, -1) ||
	    recv_reply(sv[1], GET_EDID, &edid, sizeof(edid)))
		goto out;
	if (edid.hdr.type != VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID) {
		t_fail("EDID for scanout 9: type 0x%x", edid.hdr.type);
		goto out;
	}
	if (serve_bad(g, sv[1], "GET_EDID 2 bytes", GET_EDID, 0, &id, 2, -1) ||
	    recv_reply(sv[1], GET_EDID, &edid, sizeof(edid)))
		goto out;
	ret = expect_quiet(sv[1], "requests");
out:
	vla_gpu_close(g);
	close(sv[1]);
	return ret;
}

static int test_scanout_update(void)
{
	struct {
		uint32_t id, w, h;
	} so;
	struct vla_gpu_stats st;
	struct update *u;
	struct vla_gpu *g;
	char png[256];
	uint32_t size, buf[64];
	int sv[2], ret = T_EXIT_FAIL;

	snprintf(png, sizeof(png), "%s/shot.png", tmpdir);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return t_fail("socketpair: %s", strerror(errno));
	g = new_display(640, 480, NULL, 0);
	if (!g || vla_gpu_attach(g, sv[0]))
		return t_fail("attach");

	if (vla_gpu_write_png(g, png) != -ENODATA) {
		t_fail("screenshot of a disabled scanout did not say ENODATA");
		goto out;
	}
	/* UPDATE before any SCANOUT: dropped. */
	u = make_update(0, 0, 0, 2, 2, 0xff0000, &size);
	ret = serve_bad(g, sv[1], "UPDATE without scanout", UPDATE, 0, u, size, -1);
	free(u);
	if (ret)
		goto out;
	ret = T_EXIT_FAIL;

	so.id = 0; so.w = 64; so.h = 48;
	if (serve(g, sv[1], SCANOUT, 0, &so, sizeof(so), -1))
		goto out;
	vla_gpu_get_stats(g, &st);
	if (st.width != 64 || st.height != 48) {
		t_fail("scanout is %ux%u after SCANOUT 64x48", st.width, st.height);
		goto out;
	}
	/* Flags of a request are ignored (QEMU 7.2 leaves them uninitialised). */
	u = make_update(0, 0, 0, 1, 1, 0x0000ff, &size);
	ret = serve(g, sv[1], UPDATE, 0xdeadbeef, u, size, -1);
	free(u);
	if (ret || pixel_is(g, 0, 0, 0x0000ff, "UPDATE with garbage flags"))
		goto out;
	ret = T_EXIT_FAIL;
	if (send_update(g, sv[1], 0, 0, 64, 48, 0) ||
	    send_update(g, sv[1], 5, 6, 10, 3, 0x00ff00) ||
	    pixel_is(g, 5, 6, 0x00ff00, "rect") ||
	    pixel_is(g, 14, 8, 0x00ff00, "rect corner") ||
	    pixel_is(g, 0, 0, 0, "pattern origin") ||
	    pixel_is(g, 63, 47, (uint32_t)(3071 * 2654435761U), "pattern end"))
		goto out;

	/* Outside the scanout, in every way; the picture must not change. */
	{
		static const struct {
			const char *what;
			uint32_t id, x, y, w, h;
		} bad[] = {
			{ "x + w beyond width", 0, 60, 0, 5, 1 },
			{ "y + h beyond height", 0, 0, 47, 1, 2 },
			{ "x beyond width", 0, 65, 0, 0, 0 },
			{ "x + w wraps", 0, 0xfffffffe, 0, 4, 1 },
			{ "y + h wraps", 0, 0, 0xffffffff, 1, 2 },
			{ "scanout 1", 1, 0, 0, 1, 1 },
			{ "scanout 0xffffffff", 0xffffffff, 0, 0, 1, 1 },
		};
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			uint32_t n = bad[i].w * bad[i].h;

			u = make_update(bad[i].id, bad[i].x, bad[i].y, n ? 1 : 0,
					n, 0x123456, &size);
			u->w = bad[i].w;
			u->h = bad[i].h;
			ret = serve_bad(g, sv[1], bad[i].what, UPDATE, 0, u,
					size, -1);
			free(u);
			if (ret)
				goto out;
		}
		ret = T_EXIT_FAIL;
	}
	/* Pixel bytes that do not match w x h: too few, too many. */
	u = make_update(0, 0, 0, 4, 4, 0x654321, &size);
	if (serve_bad(g, sv[1], "UPDATE 4x4 with 15 pixels", UPDATE, 0, u,
		      size - 4, -1) ||
	    serve_bad(g, sv[1], "UPDATE 4x4 with 63 bytes of pixels", UPDATE, 0, u,
		      size - 1, -1)) {
		free(u);
		goto out;
	}
	free(u);
	memset(buf, 0, sizeof(buf));
	if (serve_bad(g, sv[1], "UPDATE shorter than its header", UPDATE, 0,
		      buf, 8, -1) ||
	    pixel_is(g, 0, 0, 0, "after bad updates") ||
	    pixel_is(g, 5, 6, 0x00ff00, "after bad updates"))
		goto out;

	so.w = VLA_GPU_MAX_DIM + 1;
	if (serve_bad(g, sv[1], "SCANOUT too wide", SCANOUT, 0, &so,
		      sizeof(so), -1))
		goto out;
	so.id = 3; so.w = 64;
	if (serve_bad(g, sv[1], "SCANOUT 3", SCANOUT, 0, &so, sizeof(so), -1) ||
	    serve_bad(g, sv[1], "SCANOUT 8 bytes", SCANOUT, 0, &so, 8, -1) ||
	    serve_bad(g, sv[1], "CURSOR_POS 16 bytes", CURSOR_POS, 0, buf, 16, -1) ||
	    serve_bad(g, sv[1], "unknown request 99", 99, 0, buf, sizeof(buf), -1) ||
	    serve_bad(g, sv[1], "DMABUF_UPDATE without dmabuf", DMABUF_UPDATE, 0,
		      buf, 20, -1) ||
	    recv_reply(sv[1], DMABUF_UPDATE, NULL, 0) ||
	    serve_bad(g, sv[1], "SCANOUT of 4 bytes with an fd", SCANOUT, 0, buf, 4, sv[1]))
		goto out;

	/* Cursor: opaque white pixel at its hot spot, drawn in the PNG. */
	{
		struct {
			uint32_t id, x, y, hot_x, hot_y;
			uint32_t data[64 * 64];
		} __attribute__((packed)) cu;

		memset(&cu, 0, sizeof(cu));
		cu.x = 20; cu.y = 30; cu.hot_x = 1; cu.hot_y = 2;
		cu.data[2 * 64 + 1] = 0xffffffff;
		if (serve(g, sv[1], CURSOR_UPDATE, 0, &cu, sizeof(cu), -1))
			goto out;
		vla_gpu_get_stats(g, &st);
		if (!st.cursor_visible || st.cursor_x != 20 || st.cursor_y != 30) {
			t_fail("cursor after CURSOR_UPDATE: visible %d at %u,%u",
			       st.cursor_visible, st.cursor_x, st.cursor_y);
			goto out;
		}
		cu.hot_x = 64;
		if (serve_bad(g, sv[1], "cursor hot spot outside", CURSOR_UPDATE,
			      0, &cu, sizeof(cu), -1))
			goto out;
		cu.hot_x = 1;
		if (vla_gpu_write_png(g, png))
			goto out;
		/* The PNG shows the cursor at 20,30; the framebuffer does not. */
		if (check_png(g, png, 64, 48, 20, 30, 0xffffff))
			goto out;
		if (serve(g, sv[1], CURSOR_POS_HIDE, 0, &cu, 12, -1))
			goto out;
		vla_gpu_get_stats(g, &st);
		if (st.cursor_visible) {
			t_fail("cursor visible after CURSOR_POS_HIDE");
			goto out;
		}
	}
	if (vla_gpu_write_png(g, png) || check_png(g, png, 64, 48, -1, -1, 0))
		goto out;

	/* Disable: the screenshot has nothing to show. */
	so.id = 0; so.w = 0; so.h = 0;
	if (serve(g, sv[1], SCANOUT, 0, &so, sizeof(so), -1))
		goto out;
	if (vla_gpu_write_png(g, png) != -ENODATA) {
		t_fail("screenshot after the scanout was disabled");
		goto out;
	}
	ret = expect_quiet(sv[1], "scanout/update");
out:
	vla_gpu_close(g);
	close(sv[1]);
	return ret;
}

struct dmabuf_scanout {
	uint32_t id, x, y, w, h, fd_w, fd_h, stride, flags;
	int32_t fourcc;
} __attribute__((packed));

static int test_dmabuf(void)
{
	const uint32_t fw = 40, fh = 20, stride = 40 * 4 + 16;
	struct dmabuf_scanout ds = {
		0, 4, 2, 32, 16, fw, fh, stride, 0, 0x34325258,
	};
	struct { uint32_t id, x, y, w, h; } up;
	struct vla_gpu_stats st;
	struct vla_gpu *g;
	uint32_t *px;
	void *map;
	int sv[2], mfd, small, ret = T_EXIT_FAIL;
	uint32_t x, y;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return t_fail("socketpair: %s", strerror(errno));
	if (t_memfd(16384, &mfd, &map))
		return t_fail("memfd");
	small = memfd_create("small", MFD_CLOEXEC);
	if (small < 0 || ftruncate(small, 2048))
		return t_fail("memfd small");
	for (y = 0; y < fh; y++) {
		px = (uint32_t *)((char *)map + y * stride);
		for (x = 0; x < fw; x++)
			px[x] = y << 8 | x;
	}
	g = new_display(640, 480, NULL, 0);
	if (!g || vla_gpu_attach(g, sv[0]))
		return t_fail("attach");

	if (serve_bad(g, sv[1], "DMABUF_SCANOUT without fd", DMABUF_SCANOUT, 0,
		      &ds, sizeof(ds), -1))
		goto out;
	ds.stride = fw * 4 - 1;
	if (serve_bad(g, sv[1], "DMABUF_SCANOUT stride too small",
		      DMABUF_SCANOUT, 0, &ds, sizeof(ds), mfd))
		goto out;
	ds.stride = stride;
	ds.x = 9;
	if (serve_bad(g, sv[1], "DMABUF_SCANOUT beyond the dmabuf",
		      DMABUF_SCANOUT, 0, &ds, sizeof(ds), mfd))
		goto out;
	ds.x = 4;
	ds.fourcc = 0x34325241 + 1;
	if (serve_bad(g, sv[1], "DMABUF_SCANOUT fourcc", DMABUF_SCANOUT, 0, &ds,
		      sizeof(ds), mfd))
		goto out;
	ds.fourcc = 0x34325258;
	if (serve_bad(g, sv[1], "DMABUF_SCANOUT on a 2 KiB file", DMABUF_SCANOUT,
		      0, &ds, sizeof(ds), small))
		goto out;

	if (serve(g, sv[1], DMABUF_SCANOUT, 0, &ds, sizeof(ds), mfd))
		goto out;
	vla_gpu_get_stats(g, &st);
	if (!st.dmabuf || st.width != 32 || st.height != 16) {
		t_fail("after DMABUF_SCANOUT: dmabuf %d %ux%u", st.dmabuf,
		       st.width, st.height);
		goto out;
	}
	/* The scanout starts at 4,2 of the dmabuf. */
	if (pixel_is(g, 0, 0, 2 << 8 | 4, "dmabuf origin") ||
	    pixel_is(g, 31, 15, 17 << 8 | 35, "dmabuf end"))
		goto out;
	/* New content, then an update of a 3x2 rectangle only. */
	for (y = 0; y < fh; y++) {
		px = (uint32_t *)((char *)map + y * stride);
		for (x = 0; x < fw; x++)
			px[x] = 0xabcdef;
	}
	up = (typeof(up)) { 0, 1, 1, 3, 2 };
	if (serve(g, sv[1], DMABUF_UPDATE, 0, &up, sizeof(up), -1) ||
	    recv_reply(sv[1], DMABUF_UPDATE, NULL, 0) ||
	    pixel_is(g, 1, 1, 0xabcdef, "updated") ||
	    pixel_is(g, 3, 2, 0xabcdef, "updated corner") ||
	    pixel_is(g, 4, 2, 4 << 8 | 8, "outside the update") ||
	    pixel_is(g, 0, 0, 2 << 8 | 4, "outside the update"))
		goto out;
	up = (typeof(up)) { 0, 30, 0, 3, 1 };
	if (serve_bad(g, sv[1], "DMABUF_UPDATE outside", DMABUF_UPDATE, 0, &up,
		      sizeof(up), -1) ||
	    recv_reply(sv[1], DMABUF_UPDATE, NULL, 0) ||
	    serve_bad(g, sv[1], "DMABUF_UPDATE 12 bytes", DMABUF_UPDATE, 0, &up,
		      12, -1) ||
	    recv_reply(sv[1], DMABUF_UPDATE, NULL, 0))
		goto out;
	/* Disabling with an fd attached is dropped; without, it works. */
	ds.w = 0;
	if (serve_bad(g, sv[1], "DMABUF_SCANOUT disable with fd", DMABUF_SCANOUT,
		      0, &ds, sizeof(ds), mfd) ||
	    serve(g, sv[1], DMABUF_SCANOUT, 0, &ds, sizeof(ds), -1))
		goto out;
	vla_gpu_get_stats(g, &st);
	if (st.width || st.dmabuf) {
		t_fail("scanout still %ux%u after disable", st.width, st.height);
		goto out;
	}
	ret = expect_quiet(sv[1], "dmabuf");
out:
	vla_gpu_close(g);
	close(sv[1]);
	close(small);
	munmap(map, 16384);
	close(mfd);
	return ret;
}

/* Broken streams: the display stops with the right error. */
static int test_broken(void)
{
	struct hdr h = { UPDATE, 0, 1000 };
	struct vla_gpu *g;
	int sv[2], ret;

	/* Closed socket. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return t_fail("socketpair: %s", strerror(errno));
	g = new_display(0, 0, NULL, SHORT_TIMEOUT_MS);
	if (!g || vla_gpu_attach(g, sv[0]))
		return t_fail("attach");
	close(sv[1]);
	ret = vla_gpu_handle(g);
	vla_gpu_close(g);
	if (ret != -ECONNRESET)
		return t_fail("closed socket: %d, expected -ECONNRESET", ret);

	/* A message that stops midway. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return t_fail("socketpair: %s", strerror(errno));
	g = new_display(0, 0, NULL, SHORT_TIMEOUT_MS);
	if (!g || vla_gpu_attach(g, sv[0]))
		return t_fail("attach");
	if (write(sv[1], &h, sizeof(h)) != sizeof(h) ||
	    write(sv[1], &h, 8) != 8)
		return t_fail("write");
	ret = vla_gpu_handle(g);
	vla_gpu_close(g);
	close(sv[1]);
	if (ret != -ETIMEDOUT)
		return t_fail("stalled message: %d, expected -ETIMEDOUT", ret);

	/* Half a header, then gone. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return t_fail("socketpair: %s", strerror(errno));
	g = new_display(0, 0, NULL, SHORT_TIMEOUT_MS);
	if (!g || vla_gpu_attach(g, sv[0]))
		return t_fail("attach");
	if (write(sv[1], &h, 6) != 6)
		return t_fail("write");
	close(sv[1]);
	ret = vla_gpu_handle(g);
	vla_gpu_close(g);
	if (ret != -ECONNRESET)
		return t_fail("half a header: %d, expected -ECONNRESET", ret);
	return 0;
}

static int wait_file(const char *path)
{
	struct stat st;
	int i;

	for (i = 0; i < T_WAIT_MS / 10; i++) {
		if (!stat(path, &st))
			return 0;
		usleep(10000);
	}
	return t_fail("%s never appeared", path);
}

/* The adapter's way: SET_SOCKET, a thread, SIGUSR1, failure fd. */
static int test_threaded(void)
{
	struct virtio_gpu_resp_display_info info;
	struct { uint32_t id, w, h; } so = { 0, 800, 600 };
	struct vhost_user_msg msg;
	struct vla_gpu *g;
	struct pollfd pfd;
	char png[256];
	uint32_t size;
	struct update *u;
	int vs[2], disp, ret;

	snprintf(png, sizeof(png), "%s/thread.png", tmpdir);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, vs))
		return t_fail("socketpair: %s", strerror(errno));
	g = new_display(800, 600, png, 0);
	if (!g)
		return t_fail("vla_gpu_new");
	ret = vla_gpu_open(g, vs[0]);
	if (ret)
		return t_fail("vla_gpu_open: %s", strerror(-ret));
	ret = vlb_msg_recv(vs[1], &msg);
	if (ret || msg.hdr.request != VHOST_USER_GPU_SET_SOCKET ||
	    msg.nfds != 1 || msg.hdr.size != 0 ||
	    (msg.hdr.flags & VHOST_USER_NEED_REPLY_MASK))
		return t_fail("SET_SOCKET: ret %d request %u fds %u size %u flags 0x%x",
			      ret, msg.hdr.request, msg.nfds, msg.hdr.size,
			      msg.hdr.flags);
	disp = msg.fds[0];

	/* 800x600 is 1.9 MB: more than a socket buffer, the thread reads on. */
	if (send_msg(disp, SCANOUT, 0, &so, sizeof(so), -1))
		return t_fail("send SCANOUT");
	u = make_update(0, 0, 0, 800, 600, 0, &size);
	ret = send_msg(disp, UPDATE, 0, u, size, -1);
	free(u);
	if (ret)
		return t_fail("send UPDATE: %s", strerror(-ret));
	/* A round trip: everything before it has been applied. */
	if (send_msg(disp, GET_DISPLAY_INFO, 0, NULL, 0, -1) ||
	    recv_reply(disp, GET_DISPLAY_INFO, &info, sizeof(info)))
		return T_EXIT_FAIL;
	unlink(png);
	if (kill(getpid(), SIGUSR1))
		return t_fail("kill: %s", strerror(errno));
	if (wait_file(png))
		return T_EXIT_FAIL;

	/* The back-end goes away: the failure fd fires, with -ECONNRESET. */
	close(disp);
	pfd = (struct pollfd) { .fd = vla_gpu_fd(g), .events = POLLIN };
	if (poll(&pfd, 1, T_WAIT_MS) != 1)
		return t_fail("failure fd did not fire after the display socket closed");
	if (vla_gpu_error(g) != -ECONNRESET)
		return t_fail("display error %d, expected -ECONNRESET",
			      vla_gpu_error(g));
	/* Stopped thread: close still writes the last picture. */
	unlink(png);
	vla_gpu_close(g);
	if (wait_file(png))
		return T_EXIT_FAIL;
	{
		uint32_t w, h, i;
		uint8_t *buf;

		if (read_png(png, &w, &h, &buf))
			return T_EXIT_FAIL;
		ret = 0;
		if (w != 800 || h != 600)
			ret = t_fail("last screenshot is %ux%u", w, h);
		for (i = 0; !ret && i < 800 * 600; i += 997)
			if (png_px(buf, 800, i % 800, i / 800) !=
			    ((i * 2654435761U) & 0xffffff))
				ret = t_fail("last screenshot: pixel %u differs", i);
		free(buf);
	}
	close(vs[0]);
	close(vs[1]);
	return ret;
}

int main(void)
{
	int fds, ret;

	vlb_log_init("test_adapter_gpu", 0);
	if (!mkdtemp(tmpdir))
		return t_fail("mkdtemp: %s", strerror(errno));
	fds = t_count_fds();

	ret = test_requests();
	if (!ret)
		ret = test_scanout_update();
	if (!ret)
		ret = test_dmabuf();
	if (!ret)
		ret = test_broken();
	if (!ret)
		ret = test_threaded();
	if (!ret && t_count_fds() != fds)
		ret = t_fail("%d fds open before, %d after", fds, t_count_fds());

	{
		char path[256];

		snprintf(path, sizeof(path), "%s/shot.png", tmpdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/thread.png", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
	if (!ret)
		t_log("PASS");
	return ret;
}
