// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host GPIO chip through the kernel's GPIO character device, uAPI v2.
 *
 * Why the ioctls and not libgpiod: Debian bookworm's libgpiod is 1.6, which
 * speaks only uAPI v1. There a line that reports edges is a separate
 * "event" request that is input-only and whose edges are fixed, so every
 * change the driver asks for (input to output, enabling or changing an
 * interrupt) would mean releasing the line and requesting it again: a
 * window in which another consumer can take it and edges are lost. v2
 * changes direction and edge detection of a held line in place
 * (GPIO_V2_LINE_SET_CONFIG_IOCTL), and libgpiod 2.x, which wraps v2, has
 * an API incompatible with 1.6. The five ioctls used here are a stable
 * kernel ABI and keep the back-ends on libc only.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/gpio.h>

#include "gpio_host.h"

/* Consumer label of our line requests, as gpioinfo shows it. */
#define GPIO_HOST_CONSUMER	"vhost-user-gpio"

int gpio_host_open(const char *path, struct gpio_host_chip *chip)
{
	struct gpiochip_info info;
	int ret;

	memset(chip, 0, sizeof(*chip));
	chip->path = path;
	chip->fd = open(path, O_RDWR | O_CLOEXEC);
	if (chip->fd < 0)
		return -errno;
	if (ioctl(chip->fd, GPIO_GET_CHIPINFO_IOCTL, &info) < 0) {
		ret = -errno;
		close(chip->fd);
		chip->fd = -1;
		return ret == -EINVAL ? -ENOTTY : ret;
	}
	memcpy(chip->name, info.name, sizeof(chip->name));
	chip->name[sizeof(chip->name) - 1] = '\0';
	memcpy(chip->label, info.label, sizeof(chip->label));
	chip->label[sizeof(chip->label) - 1] = '\0';
	chip->lines = info.lines;
	return 0;
}

void gpio_host_close(struct gpio_host_chip *chip)
{
	if (chip->fd >= 0)
		close(chip->fd);
	chip->fd = -1;
}

int gpio_host_line_info(const struct gpio_host_chip *chip, unsigned int offset,
			char *name, bool *output)
{
	struct gpio_v2_line_info info;

	memset(&info, 0, sizeof(info));
	info.offset = offset;
	if (ioctl(chip->fd, GPIO_V2_GET_LINEINFO_IOCTL, &info) < 0)
		return -errno;
	memcpy(name, info.name, GPIO_HOST_NAME_SIZE);
	name[GPIO_HOST_NAME_SIZE - 1] = '\0';
	*output = info.flags & GPIO_V2_LINE_FLAG_OUTPUT;
	return 0;
}

static void gpio_host_config(struct gpio_v2_line_config *c, enum gpio_host_mode mode,
			     unsigned int edges, int value)
{
	memset(c, 0, sizeof(*c));
	if (mode == GPIO_HOST_OUTPUT) {
		c->flags = GPIO_V2_LINE_FLAG_OUTPUT;
		/* The value goes with the direction: no glitch to the old one. */
		c->num_attrs = 1;
		c->attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
		c->attrs[0].attr.values = value ? 1 : 0;
		c->attrs[0].mask = 1;
	} else if (mode == GPIO_HOST_INPUT) {
		c->flags = GPIO_V2_LINE_FLAG_INPUT;
		if (edges & GPIO_HOST_EDGE_RISING)
			c->flags |= GPIO_V2_LINE_FLAG_EDGE_RISING;
		if (edges & GPIO_HOST_EDGE_FALLING)
			c->flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
	}
}

int gpio_host_request(const struct gpio_host_chip *chip, unsigned int offset,
		      enum gpio_host_mode mode, unsigned int edges, int value,
		      int *fdp)
{
	struct gpio_v2_line_request req;

	memset(&req, 0, sizeof(req));
	req.offsets[0] = offset;
	req.num_lines = 1;
	memcpy(req.consumer, GPIO_HOST_CONSUMER, sizeof(GPIO_HOST_CONSUMER));
	gpio_host_config(&req.config, mode, edges, value);
	if (ioctl(chip->fd, GPIO_V2_GET_LINE_IOCTL, &req) < 0)
		return -errno;
	/* The kernel gives the fd O_CLOEXEC but blocking reads. */
	if (fcntl(req.fd, F_SETFL, O_NONBLOCK) < 0) {
		int ret = -errno;

		close(req.fd);
		return ret;
	}
	*fdp = req.fd;
	return 0;
}

void gpio_host_release(int fd)
{
	close(fd);
}

int gpio_host_reconfigure(int fd, enum gpio_host_mode mode, unsigned int edges,
			  int value)
{
	struct gpio_v2_line_config c;

	gpio_host_config(&c, mode, edges, value);
	return ioctl(fd, GPIO_V2_LINE_SET_CONFIG_IOCTL, &c) < 0 ? -errno : 0;
}

int gpio_host_get(int fd)
{
	struct gpio_v2_line_values v = { .mask = 1 };

	if (ioctl(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v) < 0)
		return -errno;
	return v.bits & 1;
}

int gpio_host_set(int fd, int value)
{
	struct gpio_v2_line_values v = { .bits = value ? 1 : 0, .mask = 1 };

	return ioctl(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v) < 0 ? -errno : 0;
}

int gpio_host_read_event(int fd, bool *rising)
{
	struct gpio_v2_line_event ev;
	ssize_t n;

	do {
		n = read(fd, &ev, sizeof(ev));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n != sizeof(ev))
		return -EIO;
	*rising = ev.id == GPIO_V2_LINE_EVENT_RISING_EDGE;
	return 1;
}
