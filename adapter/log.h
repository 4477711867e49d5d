/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-loopback adapter: logging.
 *
 * One line per message on stderr, prefixed with the program name, so every
 * failure the adapter reports reads "virtio-loopback-adapter: <object>:
 * <what>: <strerror>". Debug lines (each vhost-user message, decoded) are
 * printed only with --verbose.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLA_LOG_H
#define VLA_LOG_H

#include <stdbool.h>

#define VLA_PROG	"virtio-loopback-adapter"

/* The kernel's spellings, for kernel-style user space. */
#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/**
 * vla_log_set_verbose() - enable or disable debug lines
 * @verbose: true to print vla_dbg() lines
 */
void vla_log_set_verbose(bool verbose);

/**
 * vla_log_verbose() - whether debug lines are printed
 * Returns: the value last given to vla_log_set_verbose()
 */
bool vla_log_verbose(void);

/**
 * vla_err() - print one error line on stderr
 * @fmt: printf format of the message, without a trailing newline
 */
__printf(1, 2) void vla_err(const char *fmt, ...);

/**
 * vla_info() - print one informational line on stderr
 * @fmt: printf format of the message, without a trailing newline
 */
__printf(1, 2) void vla_info(const char *fmt, ...);

/**
 * vla_dbg() - print one debug line on stderr when verbose
 * @fmt: printf format of the message, without a trailing newline
 */
__printf(1, 2) void vla_dbg(const char *fmt, ...);

#endif /* VLA_LOG_H */
