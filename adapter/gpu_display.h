/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-loopback adapter: the front-end side of the vhost-user-gpu display
 * protocol (QEMU docs/interop/vhost-user-gpu.rst).
 *
 * A vhost-user-gpu back-end renders into its own resources and shows the
 * result to its front-end over a second unix socket, handed over with
 * VHOST_USER_GPU_SET_SOCKET: it asks for the display layout
 * (GET_DISPLAY_INFO, GET_EDID), announces scanouts (SCANOUT,
 * DMABUF_SCANOUT) and sends the changed rectangles (UPDATE with the pixels,
 * DMABUF_UPDATE pointing into a shared dmabuf). The adapter plays the
 * display: one scanout of a fixed mode, a framebuffer per scanout, and a PNG
 * screenshot of scanout 0 on request.
 *
 * Life cycle in the adapter:
 *   vla_gpu_fixup_config()  on the config space read from the back-end
 *   vla_gpu_open()          after the vhost-user handshake: sends
 *                           SET_SOCKET and serves the display socket from a
 *                           thread of its own (a back-end blocked sending
 *                           a large UPDATE must never block the adapter's
 *                           vhost-user round trips, nor the reverse)
 *   vla_gpu_fd()            polled by the adapter's loop: readable once the
 *                           display failed; vla_gpu_error() says how
 *   vla_gpu_close()         stops the thread, writes the last screenshot
 *
 * Tests drive the same code without the thread: vla_gpu_attach() and
 * vla_gpu_handle() one message at a time, vla_gpu_write_png().
 *
 * Every function returns 0 or a negative errno and prints its own error
 * line (via vlb_log). Messages from the back-end are validated field by
 * field against the scanout; a bad one is logged and dropped (its payload
 * skipped, its fds closed, a reply sent when one is due), never trusted.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLA_GPU_DISPLAY_H
#define VLA_GPU_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>

/* The mode offered when --gpu-mode is not given. */
#define VLA_GPU_DEFAULT_WIDTH	1024
#define VLA_GPU_DEFAULT_HEIGHT	768
/* Largest mode accepted (the virtio-gpu driver's own limit is 8192). */
#define VLA_GPU_MAX_DIM		8192
/* Scanouts the adapter offers (config space num_scanouts). */
#define VLA_GPU_NUM_SCANOUTS	1

/**
 * struct vla_gpu_opts - how the display looks
 * @width: width of the mode offered in GET_DISPLAY_INFO, 1..VLA_GPU_MAX_DIM
 * @height: its height
 * @screenshot: PNG path written on SIGUSR1 and at close, or NULL
 * @name: label for messages (the back-end's socket path)
 * @timeout_ms: bound on reading the rest of a message once it started,
 *              and on each reply write
 */
struct vla_gpu_opts {
	uint32_t width;
	uint32_t height;
	const char *screenshot;
	const char *name;
	int timeout_ms;
};

struct vla_gpu;

/**
 * vla_gpu_parse_mode() - parse "WIDTHxHEIGHT" (--gpu-mode)
 * @s: the string, e.g. "1024x768"
 * @width: (out) width, 1..VLA_GPU_MAX_DIM
 * @height: (out) height, 1..VLA_GPU_MAX_DIM
 *
 * Returns: 0 or -EINVAL (nothing printed: the caller names the option).
 */
int vla_gpu_parse_mode(const char *s, uint32_t *width, uint32_t *height);

/**
 * vla_gpu_fixup_config() - set the fields a vhost-user-gpu front-end owns
 * @config: struct virtio_gpu_config as read from the back-end (GET_CONFIG)
 * @size: its size; nothing is done when it is smaller than the struct
 *
 * num_scanouts, events_read and events_clear belong to the front-end (the
 * back-end only knows num_capsets); QEMU's front-end overwrites them the
 * same way. num_scanouts becomes VLA_GPU_NUM_SCANOUTS, the events 0.
 */
void vla_gpu_fixup_config(uint8_t *config, uint32_t size);

/**
 * vla_gpu_new() - allocate a display; nothing is opened
 * @opts: the options (copied; the strings must outlive the display)
 *
 * Returns: the display, or NULL when out of memory (error printed).
 */
struct vla_gpu *vla_gpu_new(const struct vla_gpu_opts *opts);

/**
 * vla_gpu_open() - hand the back-end a display socket and serve it
 * @g: a new display
 * @vhost_sock: the connected vhost-user socket, after the handshake
 *
 * Creates a socketpair, sends VHOST_USER_GPU_SET_SOCKET (request 33) with
 * one end (without NEED_REPLY: the request has no reply, as from QEMU),
 * blocks SIGUSR1 in the calling thread (before the display thread exists,
 * so every thread has it blocked) when a screenshot path is set, and starts
 * the display thread, which writes the screenshot on each SIGUSR1.
 *
 * Returns: 0 or -errno.
 */
int vla_gpu_open(struct vla_gpu *g, int vhost_sock);

/**
 * vla_gpu_fd() - an fd for the adapter's poll(): readable once the display
 *                failed (the back-end closed the display socket, or broke
 *                its framing)
 * @g: an opened display
 * Returns: the fd (owned by @g), or -1 when not opened
 */
int vla_gpu_fd(const struct vla_gpu *g);

/**
 * vla_gpu_error() - why the display stopped
 * @g: the display
 * Returns: 0 while it runs, else the -errno it stopped with (its error
 *          line was printed then)
 */
int vla_gpu_error(struct vla_gpu *g);

/**
 * vla_gpu_attach() - serve an already connected display socket, no thread
 * @g: a new display
 * @sock: our end of the display socket; owned by @g from now on
 *
 * For tests: messages are then served by vla_gpu_handle().
 * Returns: 0 or -errno.
 */
int vla_gpu_attach(struct vla_gpu *g, int sock);

/**
 * vla_gpu_handle() - read and serve one message from the display socket
 * @g: an attached display (blocks until a message arrives)
 *
 * Returns: 0 when served or dropped as invalid; -ECONNRESET when the
 * back-end closed the socket; -EPROTO when the stream cannot be followed
 * (truncated message); -ETIMEDOUT when a message stopped midway; another
 * -errno. After an error the socket is closed.
 */
int vla_gpu_handle(struct vla_gpu *g);

/**
 * vla_gpu_write_png() - write scanout 0 as an 8-bit RGB PNG
 * @g: the display
 * @path: the file; written to PATH.tmp and renamed, so a reader never sees
 *        half a file
 *
 * Returns: 0, -ENODATA when scanout 0 is disabled (nothing written), or
 * -errno.
 */
int vla_gpu_write_png(struct vla_gpu *g, const char *path);

/**
 * struct vla_gpu_stats - what the display has seen, for tests and logs
 * @updates: UPDATE and DMABUF_UPDATE messages applied
 * @dropped: messages dropped as invalid
 * @width: current size of scanout 0 (0 when disabled)
 * @height: its height
 * @dmabuf: scanout 0 shows a dmabuf
 * @cursor_visible: the cursor is shown
 * @cursor_x: its position
 * @cursor_y: its position
 * @protocol_features: protocol features the back-end set
 */
struct vla_gpu_stats {
	uint64_t updates;
	uint64_t dropped;
	uint32_t width;
	uint32_t height;
	bool dmabuf;
	bool cursor_visible;
	uint32_t cursor_x;
	uint32_t cursor_y;
	uint64_t protocol_features;
};

/**
 * vla_gpu_get_stats() - copy the counters (not while the thread runs)
 * @g: the display
 * @st: (out) the counters
 */
void vla_gpu_get_stats(const struct vla_gpu *g, struct vla_gpu_stats *st);

/**
 * vla_gpu_pixel() - one pixel of scanout 0 as 0x00RRGGBB (tests)
 * @g: the display
 * @x: column
 * @y: row
 * Returns: the pixel, or 0 outside the scanout
 */
uint32_t vla_gpu_pixel(const struct vla_gpu *g, uint32_t x, uint32_t y);

/**
 * vla_gpu_close() - stop the thread, write the last screenshot, free
 * @g: the display, or NULL
 */
void vla_gpu_close(struct vla_gpu *g);

#endif /* VLA_GPU_DISPLAY_H */
