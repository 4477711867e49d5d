/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vlb_log: the one place user-space messages of the back-end library and
 * our device programs are formatted. Every line reads
 *
 *	PROGRAM: OBJECT: message
 *
 * where OBJECT names what the message is about (a socket path, "vq 0", a
 * request name). Errors and notices always print; debug lines print when
 * their bit is set in the debug mask (--verbose sets all bits).
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLB_LOG_H
#define VLB_LOG_H

/* Debug mask bits. */
#define VLB_DBG_MSG	0x1U	/* every vhost-user request and reply, either side */
#define VLB_DBG_VQ	0x2U	/* ring state changes, kicks, pops, notifies */
#define VLB_DBG_MEM	0x4U	/* memory table changes */
#define VLB_DBG_DEV	0x8U	/* device-specific tracing */
#define VLB_DBG_ALL	0xffffffffU

/* Current debug mask; read by vlb_dbg(), set through vlb_log_init(). */
extern unsigned int vlb_dbg_mask;

/**
 * vlb_log_init() - set the program name and the debug mask
 * @prog: name printed first on every line (not copied; must stay valid);
 *        NULL keeps the default, the basename of argv[0]
 * @dbg_mask: VLB_DBG_* bits to enable
 */
void vlb_log_init(const char *prog, unsigned int dbg_mask);

/**
 * vlb_log_prog() - the program name lines start with
 * Returns: a string owned by the log module
 */
const char *vlb_log_prog(void);

/**
 * vlb_err() - print an error line on stderr
 * @obj: object the message is about, or NULL
 * @fmt: printf format of the message, without trailing newline
 */
void vlb_err(const char *obj, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * vlb_log() - print an informational line on stderr
 * @obj: object the message is about, or NULL
 * @fmt: printf format of the message, without trailing newline
 */
void vlb_log(const char *obj, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * vlb_log_dbg() - print a debug line unconditionally; use vlb_dbg()
 * @obj: object the message is about, or NULL
 * @fmt: printf format of the message, without trailing newline
 */
void vlb_log_dbg(const char *obj, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Debug line, printed only when a bit of @bit is in vlb_dbg_mask. */
#define vlb_dbg(bit, obj, fmt, ...)					\
	do {								\
		if (vlb_dbg_mask & (bit))				\
			vlb_log_dbg(obj, fmt, ##__VA_ARGS__);		\
	} while (0)

#endif /* VLB_LOG_H */
