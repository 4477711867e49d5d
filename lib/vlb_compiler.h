/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vlb_compiler: the kernel's spellings of a few compiler helpers, for
 * kernel-style user space. Shared by lib/ and adapter/; not part of the
 * library's public API (vlb.h does not include it).
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLB_COMPILER_H
#define VLB_COMPILER_H

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#endif /* VLB_COMPILER_H */
