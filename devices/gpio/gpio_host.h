/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host GPIO chip behind vhost-user-gpio: the kernel's GPIO character
 * device, uAPI v2 (<linux/gpio.h>, Linux >= 5.10). One line request per
 * line the driver uses, so each line is configured and released on its
 * own; its fd carries the line's edge events.
 *
 * Everything returns 0 (or a value) or a negative errno. The unit test
 * (tests/unit/test_dev_gpio.c) replaces these functions with a model chip.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef GPIO_HOST_H
#define GPIO_HOST_H

#include <stdbool.h>
#include <stdint.h>

/* Longest line name (GPIO_MAX_NAME_SIZE) including its NUL. */
#define GPIO_HOST_NAME_SIZE	32

/* What a line request asks for. */
enum gpio_host_mode {
	GPIO_HOST_AS_IS,	/* leave the direction alone (a one-off read) */
	GPIO_HOST_INPUT,
	GPIO_HOST_OUTPUT,
};

/* Edges a line in GPIO_HOST_INPUT reports on its fd. */
#define GPIO_HOST_EDGE_RISING	0x1U
#define GPIO_HOST_EDGE_FALLING	0x2U

/**
 * struct gpio_host_chip - an open GPIO chip
 * @fd: the /dev/gpiochipN fd
 * @path: its path, for messages
 * @name: the kernel's name of the chip ("gpiochip0")
 * @label: its label ("gpio-sim.0-node0")
 * @lines: number of lines
 */
struct gpio_host_chip {
	int fd;
	const char *path;
	char name[GPIO_HOST_NAME_SIZE];
	char label[GPIO_HOST_NAME_SIZE];
	unsigned int lines;
};

/**
 * gpio_host_open() - open a GPIO chip and read its chip info
 * @path: /dev/gpiochipN; must outlive @chip
 * @chip: filled in
 * Returns: 0, -ENOTTY when @path is no GPIO chip, another -errno.
 */
int gpio_host_open(const char *path, struct gpio_host_chip *chip);

/** gpio_host_close() - close what gpio_host_open() opened */
void gpio_host_close(struct gpio_host_chip *chip);

/**
 * gpio_host_line_info() - a line's name and direction as the host sees it
 * @chip: the chip
 * @offset: line offset on the chip
 * @name: GPIO_HOST_NAME_SIZE bytes, set to the name ("" for none)
 * @output: set when the line is an output
 * Returns: 0 or -errno
 */
int gpio_host_line_info(const struct gpio_host_chip *chip, unsigned int offset,
			char *name, bool *output);

/**
 * gpio_host_request() - take one line for ourselves
 * @chip: the chip
 * @offset: line offset
 * @mode: direction to set
 * @edges: GPIO_HOST_EDGE_* to report (GPIO_HOST_INPUT only)
 * @value: initial value (GPIO_HOST_OUTPUT only)
 * @fdp: set to the line request fd (close-on-exec, non-blocking)
 * Returns: 0; -EBUSY when another consumer holds the line; another -errno.
 */
int gpio_host_request(const struct gpio_host_chip *chip, unsigned int offset,
		      enum gpio_host_mode mode, unsigned int edges, int value,
		      int *fdp);

/**
 * gpio_host_release() - give a line back
 * @fd: line request fd from gpio_host_request(); closed
 */
void gpio_host_release(int fd);

/**
 * gpio_host_reconfigure() - change a requested line in place, with no
 * moment where it is released
 * @fd: line request fd
 * @mode: GPIO_HOST_INPUT or GPIO_HOST_OUTPUT
 * @edges: as for gpio_host_request()
 * @value: as for gpio_host_request()
 * Returns: 0 or -errno
 */
int gpio_host_reconfigure(int fd, enum gpio_host_mode mode, unsigned int edges,
			  int value);

/**
 * gpio_host_get() - read a requested line
 * @fd: line request fd
 * Returns: 0 or 1, or -errno
 */
int gpio_host_get(int fd);

/**
 * gpio_host_set() - drive a requested output line
 * @fd: line request fd
 * @value: 0 or 1
 * Returns: 0 or -errno
 */
int gpio_host_set(int fd, int value);

/**
 * gpio_host_read_event() - take the next edge event of a line
 * @fd: line request fd
 * @rising: set to true for a rising edge, false for a falling one
 * Returns: 1 with an event, 0 when none is waiting, or -errno
 */
int gpio_host_read_event(int fd, bool *rising);

#endif /* GPIO_HOST_H */
