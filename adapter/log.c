// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback adapter: logging to stderr.
 *
 * Each message is formatted into one buffer and written with one call, so
 * lines from the adapter never interleave with themselves mid-line.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static bool vla_verbose;

void vla_log_set_verbose(bool verbose)
{
	vla_verbose = verbose;
}

bool vla_log_verbose(void)
{
	return vla_verbose;
}

static void vla_vlog(const char *level, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s: %s", VLA_PROG, level);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void vla_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vla_vlog("", fmt, ap);
	va_end(ap);
}

void vla_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vla_vlog("", fmt, ap);
	va_end(ap);
}

void vla_dbg(const char *fmt, ...)
{
	va_list ap;

	if (!vla_verbose)
		return;
	va_start(ap, fmt);
	vla_vlog("debug: ", fmt, ap);
	va_end(ap);
}
