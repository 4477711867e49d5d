// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-gpio: a virtio GPIO device (virtio spec 5.20, device id 41)
 * served over vhost-user, forwarding the lines of a real host GPIO chip.
 *
 *	vhost-user-gpio --socket-path /run/gpio.sock --chip /dev/gpiochip0 \
 *		[--lines 0-7,12]
 *	virtio-loopback-adapter --socket /run/gpio.sock --device gpio
 *
 * The driver's line i is the i-th host line of --lines (default: every
 * line of the chip). The config space gives their number and the size of
 * their names (GET_NAMES returns the host lines' names). The host side is
 * gpio_host.c (the GPIO character device, uAPI v2).
 *
 * A line is the driver's while it has a direction: SET_DIRECTION in or
 * out requests the host line (consumer "vhost-user-gpio"), NONE releases
 * it and forgets its state (5.20.6.1). SET_VALUE on a line that is not an
 * output is kept for when it becomes one. GET_DIRECTION of a line the
 * driver has not configured reports the host's direction; GET_VALUE of it
 * reads the line without changing its direction.
 *
 * Interrupts (VIRTIO_GPIO_F_IRQ): SET_IRQ_TYPE makes the line an input
 * that reports edges; each line's request fd is in one epoll fd, the
 * device's watch in the library's event loop. The driver unmasks a line by
 * posting a buffer on the eventq; we return it VALID when the interrupt
 * fires. An edge seen while the line is masked is latched and delivered
 * when the buffer comes; a level interrupt (the cdev only reports edges)
 * fires when the buffer comes and the line is at the level, or at the
 * edge that brings it there. Disabling the interrupt returns the buffer
 * INVALID, as does a buffer for a line whose interrupt is not enabled.
 *
 * Malformed requests (short buffers, unknown type, gpio >= ngpio, a bad
 * direction, value or irq type) are answered VIRTIO_GPIO_STATUS_ERR, or
 * returned unused when there is not even room for a status, and counted.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <linux/virtio_gpio.h>

#include "vlb.h"
#include "vlb_compiler.h"
#include "gpio_host.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

/* virtio spec 5.20.2 */
#define GPIO_REQUESTQ		0
#define GPIO_EVENTQ		1
#define GPIO_QUEUES		2

/* ngpio is an le16. */
#define GPIO_MAX_LINES		0xffffU

/* Requests served per queue_kick before yielding to the event loop. */
#define GPIO_BUDGET		256

/* Edge events read per line per wake-up; the rest waits in the kernel. */
#define GPIO_EVENT_BUDGET	64

/* Bad requests and host failures logged one by one; then only counted. */
#define GPIO_LOG_FIRST		16

/* The irq types of 5.20.6.6, as a bit mask of their values. */
#define GPIO_IRQ_TYPES		((1U << VIRTIO_GPIO_IRQ_TYPE_NONE) |		\
				 (1U << VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING) |	\
				 (1U << VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING) |	\
				 (1U << VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH) |	\
				 (1U << VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH) |	\
				 (1U << VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW))

/**
 * struct gpio_line - one line of the device
 * @offset: its offset on the host chip
 * @fd: our request of the host line, or -1 while the driver leaves it alone
 * @dir: direction the driver set (VIRTIO_GPIO_DIRECTION_*)
 * @value: value of the last SET_VALUE, driven whenever @dir is out
 * @irq_type: VIRTIO_GPIO_IRQ_TYPE_* the driver enabled
 * @latched: an edge of @irq_type came while the line was masked
 * @irq_elem: the driver's eventq buffer (the line is unmasked), or NULL
 */
struct gpio_line {
	unsigned int offset;
	int fd;
	uint8_t dir;
	uint8_t value;
	uint8_t irq_type;
	bool latched;
	struct vlb_vq_elem *irq_elem;
};

/**
 * struct gpio_stats - counters, logged when the front-end leaves
 * @requests: requests served
 * @bad_requests: requests answered ERR because they were malformed
 * @host_errors: requests answered ERR because the host chip refused
 * @irqs: interrupts delivered (VALID)
 * @bad_irq_bufs: malformed or duplicate eventq buffers
 */
struct gpio_stats {
	uint64_t requests;
	uint64_t bad_requests;
	uint64_t host_errors;
	uint64_t irqs;
	uint64_t bad_irq_bufs;
};

/**
 * struct gpio - the device program
 * @chip_path: --chip
 * @offsets: --lines, parsed: host offsets in the driver's order
 * @nlines: number of lines the driver sees (ngpio)
 * @chip: the host chip
 * @lines: @nlines lines
 * @names: the GET_NAMES block, @names_size bytes (NULL when no line has a
 *	name: gpio_names_size 0)
 * @names_size: its size
 * @epfd: epoll fd of every line request fd, or -1
 * @dev: the device (for the epoll callback)
 * @stats: counters
 * @logged: @stats when last logged
 */
struct gpio {
	const char *chip_path;
	unsigned int *offsets;
	unsigned int nlines;
	struct gpio_host_chip chip;
	struct gpio_line *lines;
	char *names;
	uint32_t names_size;
	int epfd;
	struct vlb_dev *dev;
	struct gpio_stats stats;
	struct gpio_stats logged;
};

static struct gpio gpio = { .chip = { .fd = -1 }, .epfd = -1 };

/* Helpers ------------------------------------------------------------------ */

static bool gpio_log_now(uint64_t count)
{
	return count <= GPIO_LOG_FIRST;
}

static void gpio_bad(struct gpio *g, const char *what, unsigned int n)
{
	g->stats.bad_requests++;
	if (gpio_log_now(g->stats.bad_requests))
		vlb_err(vlb_dev_name(g->dev), "bad request: %s (%u)%s", what, n,
			g->stats.bad_requests == GPIO_LOG_FIRST ?
			"; further ones are only counted" : "");
}

static void gpio_host_error(struct gpio *g, const struct gpio_line *l,
			    const char *what, int err)
{
	g->stats.host_errors++;
	if (gpio_log_now(g->stats.host_errors))
		vlb_err(g->chip_path, "line %u: %s: %s%s", l->offset, what, strerror(-err),
			g->stats.host_errors == GPIO_LOG_FIRST ?
			"; further failures are only counted" : "");
}

/* Edges the host must report for an interrupt type. */
static unsigned int gpio_irq_edges(uint8_t type)
{
	switch (type) {
	case VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING:
	case VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH:
		return GPIO_HOST_EDGE_RISING;
	case VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING:
	case VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW:
		return GPIO_HOST_EDGE_FALLING;
	case VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH:
		return GPIO_HOST_EDGE_RISING | GPIO_HOST_EDGE_FALLING;
	default:
		return 0;
	}
}

static bool gpio_irq_is_level(uint8_t type)
{
	return type == VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH ||
	       type == VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW;
}

/* Host lines ----------------------------------------------------------------- */

/* Have the host line as @mode (edges for interrupts), requesting it if needed. */
static int gpio_line_hold(struct gpio *g, struct gpio_line *l, enum gpio_host_mode mode,
			  unsigned int edges)
{
	struct epoll_event ee = { .events = EPOLLIN };
	int fd, ret;

	if (l->fd >= 0)
		return gpio_host_reconfigure(l->fd, mode, edges, l->value);
	ret = gpio_host_request(&g->chip, l->offset, mode, edges, l->value, &fd);
	if (ret)
		return ret;
	ee.data.u32 = l - g->lines;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ee)) {
		ret = -errno;
		gpio_host_release(fd);
		return ret;
	}
	l->fd = fd;
	return 0;
}

/* Read and forget the edge events waiting on a line. */
static void gpio_line_drain(struct gpio_line *l)
{
	unsigned int n;
	bool rising;

	for (n = 0; l->fd >= 0 && n < GPIO_EVENT_BUDGET; n++)
		if (gpio_host_read_event(l->fd, &rising) != 1)
			break;
}

static void gpio_line_release(struct gpio *g, struct gpio_line *l)
{
	if (l->fd < 0)
		return;
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, l->fd, NULL);
	gpio_host_release(l->fd);
	l->fd = -1;
}

/* Interrupts --------------------------------------------------------------- */

/* Return a line's eventq buffer with @status. */
static void gpio_irq_complete(struct gpio *g, struct gpio_line *l, uint8_t status)
{
	struct vlb_vq *vq = vlb_dev_vq(g->dev, GPIO_EVENTQ);
	struct vlb_vq_elem *elem = l->irq_elem;
	int ret;

	l->irq_elem = NULL;
	vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, &status, 1);
	vlb_vq_push(vq, elem, 1);
	free(elem);
	if (status == VIRTIO_GPIO_IRQ_STATUS_VALID)
		g->stats.irqs++;
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(g->dev), "line %u: irq %s", (unsigned int)(l - g->lines),
		status == VIRTIO_GPIO_IRQ_STATUS_VALID ? "valid" : "invalid");
	vlb_vq_flush(vq);
	ret = vlb_vq_notify(vq);
	if (ret)
		vlb_err(vlb_dev_name(g->dev), "vq %u: call eventfd: %s", GPIO_EVENTQ,
			strerror(-ret));
}

/* Fire the interrupt if it is unmasked and active (5.20.7). */
static void gpio_irq_check(struct gpio *g, struct gpio_line *l)
{
	int v;

	if (!l->irq_elem || l->irq_type == VIRTIO_GPIO_IRQ_TYPE_NONE)
		return;
	if (!gpio_irq_is_level(l->irq_type)) {
		if (l->latched) {
			l->latched = false;
			gpio_irq_complete(g, l, VIRTIO_GPIO_IRQ_STATUS_VALID);
		}
		return;
	}
	v = gpio_host_get(l->fd);
	if (v < 0) {
		gpio_host_error(g, l, "reading the level", v);
		return;
	}
	if (v == (l->irq_type == VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH))
		gpio_irq_complete(g, l, VIRTIO_GPIO_IRQ_STATUS_VALID);
}

/* The interrupt is off: no latch, and the buffer goes back INVALID. */
static void gpio_irq_disable(struct gpio *g, struct gpio_line *l)
{
	l->irq_type = VIRTIO_GPIO_IRQ_TYPE_NONE;
	l->latched = false;
	if (l->irq_elem)
		gpio_irq_complete(g, l, VIRTIO_GPIO_IRQ_STATUS_INVALID);
}

/* Edge events of the lines' request fds. */
static void gpio_line_events(struct gpio *g, struct gpio_line *l)
{
	unsigned int n, edges = gpio_irq_edges(l->irq_type);
	bool rising;
	int ret = 0;

	for (n = 0; l->fd >= 0 && n < GPIO_EVENT_BUDGET; n++) {
		ret = gpio_host_read_event(l->fd, &rising);
		if (ret != 1)
			break;
		vlb_dbg(VLB_DBG_DEV, g->chip_path, "line %u: %s edge", l->offset,
			rising ? "rising" : "falling");
		/* Level types are judged by the line's value below. */
		if (!gpio_irq_is_level(l->irq_type) &&
		    (edges & (rising ? GPIO_HOST_EDGE_RISING : GPIO_HOST_EDGE_FALLING)))
			l->latched = true;
	}
	if (ret < 0)
		gpio_host_error(g, l, "reading edge events", ret);
	gpio_irq_check(g, l);
}

static void gpio_epoll_cb(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct gpio *g = opaque;
	struct epoll_event ev[32];
	int n, i;

	(void)dev;
	(void)revents;
	n = epoll_wait(fd, ev, ARRAY_SIZE(ev), 0);
	for (i = 0; i < n; i++)
		if (ev[i].data.u32 < g->nlines)
			gpio_line_events(g, &g->lines[ev[i].data.u32]);
}

/*
 * vlb_vq_handle_cb of the eventq: the driver unmasks interrupts by posting
 * buffers (5.20.7). A line's buffer is kept until its interrupt fires
 * (gpio_irq_complete() pushes it); the others go back INVALID.
 */
static int64_t gpio_eventq_handle(struct vlb_dev *dev, unsigned int qidx,
				  struct vlb_vq_elem *elem, void *opaque)
{
	struct gpio *g = opaque;
	size_t out = vlb_iov_size(elem->out_sg, elem->out_num);
	size_t in = vlb_iov_size(elem->in_sg, elem->in_num);
	uint8_t status = VIRTIO_GPIO_IRQ_STATUS_INVALID;
	struct gpio_line *l = NULL;
	uint16_t gpio_le;
	unsigned int nr = 0;

	(void)qidx;
	if (in >= sizeof(struct virtio_gpio_irq_response) &&
	    out >= sizeof(struct virtio_gpio_irq_request)) {
		vlb_iov_to_buf(elem->out_sg, elem->out_num, 0, &gpio_le, sizeof(gpio_le));
		nr = le16toh(gpio_le);
		l = nr < g->nlines ? &g->lines[nr] : NULL;
	}
	if (l && !l->irq_elem && l->irq_type != VIRTIO_GPIO_IRQ_TYPE_NONE) {
		l->irq_elem = elem;
		gpio_irq_check(g, l);
		return VLB_VQ_KEPT;
	}
	/* Not enabled (5.20.6.1: returned INVALID), or malformed. */
	if (!l || l->irq_elem) {
		g->stats.bad_irq_bufs++;
		if (gpio_log_now(g->stats.bad_irq_bufs))
			vlb_err(vlb_dev_name(dev), "eventq: %s (%zu/%zu bytes, gpio %u)%s",
				!l ? "malformed buffer" : "second buffer for a line",
				out, in, nr, g->stats.bad_irq_bufs == GPIO_LOG_FIRST ?
				"; further ones are only counted" : "");
	}
	if (in)
		vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, &status, 1);
	return in ? 1 : 0;
}

/* Requests ----------------------------------------------------------------- */

static uint8_t gpio_set_direction(struct gpio *g, struct gpio_line *l, uint32_t dir)
{
	int ret;

	switch (dir) {
	case VIRTIO_GPIO_DIRECTION_NONE:
		gpio_irq_disable(g, l);
		gpio_line_release(g, l);
		l->dir = VIRTIO_GPIO_DIRECTION_NONE;
		l->value = 0;
		return VIRTIO_GPIO_STATUS_OK;
	case VIRTIO_GPIO_DIRECTION_OUT:
		/* 5.20.6: no interrupt on an output. */
		if (l->irq_type != VIRTIO_GPIO_IRQ_TYPE_NONE) {
			gpio_bad(g, "output with its interrupt enabled", l - g->lines);
			return VIRTIO_GPIO_STATUS_ERR;
		}
		ret = gpio_line_hold(g, l, GPIO_HOST_OUTPUT, 0);
		break;
	case VIRTIO_GPIO_DIRECTION_IN:
		ret = gpio_line_hold(g, l, GPIO_HOST_INPUT, gpio_irq_edges(l->irq_type));
		break;
	default:
		gpio_bad(g, "unknown direction", dir);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	if (ret) {
		gpio_host_error(g, l, dir == VIRTIO_GPIO_DIRECTION_OUT ?
				"setting output" : "setting input", ret);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	l->dir = dir;
	return VIRTIO_GPIO_STATUS_OK;
}

static uint8_t gpio_get_direction(struct gpio *g, struct gpio_line *l, uint8_t *value)
{
	char name[GPIO_HOST_NAME_SIZE];
	bool output;
	int ret;

	if (l->dir != VIRTIO_GPIO_DIRECTION_NONE) {
		*value = l->dir;
		return VIRTIO_GPIO_STATUS_OK;
	}
	/* Not the driver's yet: what the host has it as. */
	ret = gpio_host_line_info(&g->chip, l->offset, name, &output);
	if (ret) {
		gpio_host_error(g, l, "line info", ret);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	*value = output ? VIRTIO_GPIO_DIRECTION_OUT : VIRTIO_GPIO_DIRECTION_IN;
	return VIRTIO_GPIO_STATUS_OK;
}

static uint8_t gpio_get_value(struct gpio *g, struct gpio_line *l, uint8_t *value)
{
	int fd = l->fd, ret;

	/* A line the driver has not configured: read it as it is. */
	if (fd < 0) {
		ret = gpio_host_request(&g->chip, l->offset, GPIO_HOST_AS_IS, 0, 0, &fd);
		if (ret) {
			gpio_host_error(g, l, "request to read", ret);
			return VIRTIO_GPIO_STATUS_ERR;
		}
	}
	ret = gpio_host_get(fd);
	if (fd != l->fd)
		gpio_host_release(fd);
	if (ret < 0) {
		gpio_host_error(g, l, "reading", ret);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	*value = ret;
	return VIRTIO_GPIO_STATUS_OK;
}

static uint8_t gpio_set_value(struct gpio *g, struct gpio_line *l, uint32_t value)
{
	int ret;

	if (value > 1) {
		gpio_bad(g, "value not 0 or 1", value);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	/* 5.20.6.5: kept for when the line becomes an output. */
	if (l->dir == VIRTIO_GPIO_DIRECTION_OUT) {
		ret = gpio_host_set(l->fd, value);
		if (ret) {
			gpio_host_error(g, l, "setting the value", ret);
			return VIRTIO_GPIO_STATUS_ERR;
		}
	}
	l->value = value;
	return VIRTIO_GPIO_STATUS_OK;
}

static uint8_t gpio_set_irq_type(struct gpio *g, struct gpio_line *l, uint32_t type)
{
	int ret;

	if (!(vlb_dev_features(g->dev) & (1ULL << VIRTIO_GPIO_F_IRQ))) {
		gpio_bad(g, "SET_IRQ_TYPE without VIRTIO_GPIO_F_IRQ", type);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	if (type > 31 || !(GPIO_IRQ_TYPES & (1U << type))) {
		gpio_bad(g, "unknown irq type", type);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	if (type == VIRTIO_GPIO_IRQ_TYPE_NONE) {
		if (l->irq_type != VIRTIO_GPIO_IRQ_TYPE_NONE && l->dir == VIRTIO_GPIO_DIRECTION_IN) {
			ret = gpio_host_reconfigure(l->fd, GPIO_HOST_INPUT, 0, 0);
			if (ret)
				gpio_host_error(g, l, "stopping edge detection", ret);
			gpio_line_drain(l);
		}
		gpio_irq_disable(g, l);
		return VIRTIO_GPIO_STATUS_OK;
	}
	if (l->dir == VIRTIO_GPIO_DIRECTION_OUT) {
		gpio_bad(g, "interrupt on an output", l - g->lines);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	if (type == l->irq_type)
		return VIRTIO_GPIO_STATUS_OK;
	/* An interrupt makes the line an input if the driver had not. */
	ret = gpio_line_hold(g, l, GPIO_HOST_INPUT, gpio_irq_edges(type));
	if (ret) {
		gpio_host_error(g, l, "enabling edge detection", ret);
		return VIRTIO_GPIO_STATUS_ERR;
	}
	/* Edges of the old type are not events of the new one. */
	gpio_line_drain(l);
	l->dir = VIRTIO_GPIO_DIRECTION_IN;
	l->irq_type = type;
	l->latched = false;
	gpio_irq_check(g, l);
	return VIRTIO_GPIO_STATUS_OK;
}

/*
 * Serve one requestq chain: struct virtio_gpio_request in, the response
 * (struct virtio_gpio_response, or status + names for GET_NAMES) out.
 * Returns the bytes written into the chain's device-writable part.
 */
static uint32_t gpio_request(struct gpio *g, const struct vlb_vq_elem *elem)
{
	size_t out = vlb_iov_size(elem->out_sg, elem->out_num);
	size_t in = vlb_iov_size(elem->in_sg, elem->in_num);
	uint8_t resp[2] = { VIRTIO_GPIO_STATUS_ERR, 0 };
	struct virtio_gpio_request req;
	struct gpio_line *l = NULL;
	uint16_t type = 0, nr = 0;
	uint32_t value = 0;

	g->stats.requests++;
	if (in < 1) {
		gpio_bad(g, "no room for a status, buffer returned unused", in);
		return 0;
	}
	if (out != sizeof(req)) {
		gpio_bad(g, "request not 8 bytes", out);
		goto reply;
	}
	vlb_iov_to_buf(elem->out_sg, elem->out_num, 0, &req, sizeof(req));
	type = le16toh(req.type);
	nr = le16toh(req.gpio);
	value = le32toh(req.value);
	if (type == VIRTIO_GPIO_MSG_GET_NAMES) {
		if (!g->names_size) {
			gpio_bad(g, "GET_NAMES, but no line has a name", 0);
		} else if (in < 1 + (size_t)g->names_size) {
			gpio_bad(g, "GET_NAMES buffer too small", in);
		} else {
			resp[0] = VIRTIO_GPIO_STATUS_OK;
			vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, resp, 1);
			vlb_iov_from_buf(elem->in_sg, elem->in_num, 1, g->names, g->names_size);
			return 1 + g->names_size;
		}
		goto reply;
	}
	if (nr >= g->nlines) {
		gpio_bad(g, "gpio beyond ngpio", nr);
		goto reply;
	}
	l = &g->lines[nr];
	if (in < sizeof(resp)) {
		gpio_bad(g, "response buffer too small", in);
		goto reply;
	}
	switch (type) {
	case VIRTIO_GPIO_MSG_GET_DIRECTION:
		resp[0] = gpio_get_direction(g, l, &resp[1]);
		break;
	case VIRTIO_GPIO_MSG_SET_DIRECTION:
		resp[0] = gpio_set_direction(g, l, value);
		break;
	case VIRTIO_GPIO_MSG_GET_VALUE:
		resp[0] = gpio_get_value(g, l, &resp[1]);
		break;
	case VIRTIO_GPIO_MSG_SET_VALUE:
		resp[0] = gpio_set_value(g, l, value);
		break;
	case VIRTIO_GPIO_MSG_IRQ_TYPE:
		resp[0] = gpio_set_irq_type(g, l, value);
		break;
	default:
		gpio_bad(g, "unknown request type", type);
		break;
	}
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(g->dev), "request %u gpio %u value %u: status %u value %u",
		type, nr, value, resp[0], resp[1]);
reply:
	if (resp[0] != VIRTIO_GPIO_STATUS_OK)
		resp[1] = 0;
	return vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, resp, sizeof(resp));
}

/* vlb_vq_handle_cb of the requestq: every request is answered at once. */
static int64_t gpio_requestq_handle(struct vlb_dev *dev, unsigned int qidx,
				    struct vlb_vq_elem *elem, void *opaque)
{
	(void)dev;
	(void)qidx;
	return gpio_request(opaque, elem);
}

/* Device callbacks --------------------------------------------------------- */

static uint64_t gpio_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VIRTIO_GPIO_F_IRQ) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

static int gpio_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			   uint32_t len)
{
	struct gpio *g = vlb_dev_priv(dev);
	struct virtio_gpio_config c = {
		.ngpio = htole16(g->nlines),
		.gpio_names_size = htole32(g->names_size),
	};

	if (offset > sizeof(c) || len > sizeof(c) - offset)
		return -EINVAL;
	memcpy(buf, (uint8_t *)&c + offset, len);
	return 0;
}

/* Buffers of a stopped queue are no longer the driver's to get back. */
static void gpio_queue_set_started(struct vlb_dev *dev, unsigned int qidx, bool started)
{
	struct gpio *g = vlb_dev_priv(dev);
	unsigned int i;

	if (qidx != GPIO_EVENTQ || started)
		return;
	for (i = 0; i < g->nlines; i++) {
		free(g->lines[i].irq_elem);
		g->lines[i].irq_elem = NULL;
	}
}

static void gpio_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct gpio *g = vlb_dev_priv(dev);

	vlb_vq_serve(dev, qidx, GPIO_BUDGET, qidx == GPIO_REQUESTQ ?
		     gpio_requestq_handle : gpio_eventq_handle, g);
}

/* Release every host line and forget every line's state; returns how many were held. */
static unsigned int gpio_release_all(struct gpio *g)
{
	unsigned int i, held = 0;

	for (i = 0; i < g->nlines; i++) {
		struct gpio_line *l = &g->lines[i];

		held += l->fd >= 0;
		free(l->irq_elem);
		l->irq_elem = NULL;
		gpio_line_release(g, l);
		l->dir = VIRTIO_GPIO_DIRECTION_NONE;
		l->value = 0;
		l->irq_type = VIRTIO_GPIO_IRQ_TYPE_NONE;
		l->latched = false;
	}
	return held;
}

/* A new driver finds every host line released (virtio spec 2.4). */
static void gpio_reset(struct vlb_dev *dev)
{
	struct gpio *g = vlb_dev_priv(dev);
	const struct gpio_stats *s = &g->stats;
	unsigned int held = gpio_release_all(g);

	if (held || memcmp(s, &g->logged, sizeof(*s)))
		vlb_log(vlb_dev_name(dev), "reset: %u lines released; so far %" PRIu64 " requests, %" PRIu64 " interrupts, %" PRIu64 " bad requests, %" PRIu64 " host failures, %" PRIu64 " bad eventq buffers",
			held, s->requests, s->irqs, s->bad_requests, s->host_errors,
			s->bad_irq_bufs);
	g->logged = *s;
}

static const struct vlb_dev_iface gpio_iface = {
	.get_features		= gpio_get_features,
	.get_config		= gpio_get_config,
	.set_config		= vlb_config_read_only,
	.queue_set_started	= gpio_queue_set_started,
	.queue_kick		= gpio_queue_kick,
	.reset			= gpio_reset,
};

/* Program ------------------------------------------------------------------ */

static const struct vlb_backend_option gpio_options[] = {
	{ "chip", "PATH", "the host GPIO chip to forward (/dev/gpiochipN); required" },
	{ "lines", "LIST", "host lines the driver sees, in order: offsets and ranges, e.g. 0-7,12; default all" },
	{ NULL, NULL, NULL },
};

static int gpio_parse_uint(const char **s, unsigned int *v)
{
	unsigned long n;
	char *end;

	if (**s < '0' || **s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoul(*s, &end, 10);
	if (errno || n >= GPIO_MAX_LINES)
		return -ERANGE;
	*v = n;
	*s = end;
	return 0;
}

/* --lines: "N", "N-M", comma-separated, each host line once. */
static int gpio_parse_lines(struct gpio *g, const char *arg)
{
	unsigned int a, b, i, j, *grown;
	const char *s = arg;

	free(g->offsets);
	g->offsets = NULL;
	g->nlines = 0;
	do {
		if (gpio_parse_uint(&s, &a))
			goto bad;
		b = a;
		if (*s == '-') {
			s++;
			if (gpio_parse_uint(&s, &b) || b < a)
				goto bad;
		}
		if (*s && *s != ',')
			goto bad;
		if (g->nlines + (b - a + 1) > GPIO_MAX_LINES) {
			vlb_err(arg, "--lines: more than %u lines", GPIO_MAX_LINES);
			return -EINVAL;
		}
		grown = realloc(g->offsets, (g->nlines + (b - a + 1)) * sizeof(*grown));
		if (!grown) {
			vlb_err(NULL, "--lines: out of memory");
			return -ENOMEM;
		}
		g->offsets = grown;
		for (i = a; i <= b; i++) {
			for (j = 0; j < g->nlines; j++) {
				if (g->offsets[j] == i) {
					vlb_err(arg, "--lines: line %u given twice", i);
					return -EINVAL;
				}
			}
			g->offsets[g->nlines++] = i;
		}
	} while (*s++ == ',');
	return 0;
bad:
	vlb_err(arg, "--lines: not a list of offsets and ranges such as 0-7,12");
	return -EINVAL;
}

static int gpio_parse_option(void *priv, const char *name, const char *arg)
{
	struct gpio *g = priv;

	if (!strcmp(name, "chip")) {
		g->chip_path = arg;
		return 0;
	}
	return gpio_parse_lines(g, arg);
}

/*
 * The GET_NAMES block (5.20.6.1): each line's name and a NUL, in order.
 * Names must be unique and 7-bit ASCII: a repeated name is left out, other
 * bytes become '?'. No name at all: gpio_names_size 0.
 */
static int gpio_build_names(struct gpio *g)
{
	char (*n)[GPIO_HOST_NAME_SIZE];
	unsigned int i, j, named = 0;
	size_t size = 0;
	bool output;
	char *p;
	int ret;

	n = calloc(g->nlines, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = 0; i < g->nlines; i++) {
		ret = gpio_host_line_info(&g->chip, g->lines[i].offset, n[i], &output);
		if (ret) {
			vlb_err(g->chip_path, "line %u: line info: %s", g->lines[i].offset,
				strerror(-ret));
			free(n);
			return ret;
		}
		for (p = n[i]; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		for (j = 0; j < i && n[i][0]; j++) {
			if (!strcmp(n[i], n[j])) {
				vlb_err(g->chip_path, "line %u: name \"%s\" repeated; the driver gets none",
					g->lines[i].offset, n[i]);
				n[i][0] = '\0';
			}
		}
		named += !!n[i][0];
		size += strlen(n[i]) + 1;
	}
	if (named) {
		g->names = malloc(size);
		if (!g->names) {
			free(n);
			return -ENOMEM;
		}
		for (i = 0, p = g->names; i < g->nlines; i++)
			p = stpcpy(p, n[i]) + 1;
		g->names_size = size;
	}
	free(n);
	return 0;
}

static void gpio_teardown(struct vlb_dev *dev)
{
	struct gpio *g = vlb_dev_priv(dev);

	if (g->lines)
		gpio_release_all(g);
	if (g->epfd >= 0) {
		vlb_dev_remove_watch(dev, g->epfd);
		close(g->epfd);
		g->epfd = -1;
	}
	gpio_host_close(&g->chip);
	free(g->lines);
	free(g->names);
	free(g->offsets);
	g->lines = NULL;
	g->names = NULL;
	g->offsets = NULL;
	g->names_size = 0;
}

static int gpio_setup(struct vlb_dev *dev)
{
	struct gpio *g = vlb_dev_priv(dev);
	unsigned int i;
	int ret;

	g->dev = dev;
	if (!g->chip_path) {
		vlb_err(NULL, "--chip PATH is required (see --help)");
		return -EINVAL;
	}
	ret = gpio_host_open(g->chip_path, &g->chip);
	if (ret) {
		vlb_err(g->chip_path, "%s", ret == -ENOTTY ? "not a GPIO chip" : strerror(-ret));
		return ret;
	}
	if (!g->chip.lines) {
		vlb_err(g->chip_path, "the chip has no lines");
		ret = -ENODEV;
		goto fail;
	}
	if (!g->offsets) {
		g->nlines = g->chip.lines < GPIO_MAX_LINES ? g->chip.lines : GPIO_MAX_LINES;
		g->offsets = calloc(g->nlines, sizeof(*g->offsets));
		if (!g->offsets) {
			ret = -ENOMEM;
			vlb_err(NULL, "out of memory");
			goto fail;
		}
		for (i = 0; i < g->nlines; i++)
			g->offsets[i] = i;
	}
	g->lines = calloc(g->nlines, sizeof(*g->lines));
	if (!g->lines) {
		ret = -ENOMEM;
		vlb_err(NULL, "out of memory");
		goto fail;
	}
	for (i = 0; i < g->nlines; i++)
		g->lines[i].fd = -1;
	for (i = 0; i < g->nlines; i++) {
		if (g->offsets[i] >= g->chip.lines) {
			vlb_err(g->chip_path, "--lines: line %u is beyond the chip's %u lines (0-%u)",
				g->offsets[i], g->chip.lines, g->chip.lines - 1);
			ret = -ERANGE;
			goto fail;
		}
		g->lines[i].offset = g->offsets[i];
	}
	ret = gpio_build_names(g);
	if (ret) {
		if (ret == -ENOMEM)
			vlb_err(NULL, "out of memory");
		goto fail;
	}
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->epfd < 0) {
		ret = -errno;
		vlb_err(NULL, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	ret = vlb_dev_add_watch(dev, g->epfd, POLLIN, gpio_epoll_cb, g);
	if (ret) {
		vlb_err(NULL, "watch: %s", strerror(-ret));
		goto fail;
	}
	vlb_log(g->chip_path, "%s \"%s\": %u of its %u lines, %s", g->chip.name, g->chip.label,
		g->nlines, g->chip.lines, g->names_size ? "named" : "no names");
	return 0;
fail:
	gpio_teardown(dev);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct vlb_backend be = {
		.name		= "vhost-user-gpio",
		.type		= "gpio",
		.version	= VLB_VERSION,
		.iface		= &gpio_iface,
		.nr_vqs		= GPIO_QUEUES,
		.priv		= &gpio,
		.options	= gpio_options,
		.parse_option	= gpio_parse_option,
		.setup		= gpio_setup,
		.teardown	= gpio_teardown,
	};

	return vlb_backend_main(&be, argc, argv);
}
