// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vlb_log: program/object-prefixed messages on stderr with a debug mask.
 *
 * Each message is formatted into one buffer and written with one write(), so
 * lines from several processes sharing a terminal or log do not interleave.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vlb_log.h"

#define VLB_LOG_LINE_MAX	1024

unsigned int vlb_dbg_mask;
static const char *vlb_prog;

void vlb_log_init(const char *prog, unsigned int dbg_mask)
{
	if (prog)
		vlb_prog = prog;
	vlb_dbg_mask = dbg_mask;
}

const char *vlb_log_prog(void)
{
	return vlb_prog ? vlb_prog : program_invocation_short_name;
}

static void vlb_vlog(const char *level, const char *obj, const char *fmt,
		     va_list ap)
{
	char line[VLB_LOG_LINE_MAX];
	int saved_errno = errno;
	size_t len;
	int n;

	n = snprintf(line, sizeof(line), "%s: %s%s%s", vlb_log_prog(), level,
		     obj ? obj : "", obj ? ": " : "");
	len = n < 0 ? 0 : ((size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* Nothing sensible to do if stderr is gone. */
	if (write(STDERR_FILENO, line, len) < 0)
		(void)0;
	errno = saved_errno;
}

void vlb_err(const char *obj, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlb_vlog("", obj, fmt, ap);
	va_end(ap);
}

void vlb_log(const char *obj, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlb_vlog("", obj, fmt, ap);
	va_end(ap);
}

void vlb_log_dbg(const char *obj, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlb_vlog("debug: ", obj, fmt, ap);
	va_end(ap);
}
