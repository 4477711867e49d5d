/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every LINUX_VERSION_CODE guard of the module lives here, wrapping whole
 * helpers, so the rest of the code reads the same on 6.1 and 6.12.
 */
#ifndef VL_COMPAT_H
#define VL_COMPAT_H

#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/version.h>

#if !defined(CONFIG_DMA_OPS) && !defined(CONFIG_ARCH_HAS_DMA_OPS)
#error "virtio_loopback needs per-device DMA operations (CONFIG_DMA_OPS / CONFIG_ARCH_HAS_DMA_OPS)"
#endif

/* 6.8 dropped the count argument and the return value of eventfd_signal(). */
static inline void vl_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* 6.3 made vma->vm_flags const; only ->mmap may change the flags. */
static inline void vl_vm_flags_mod(struct vm_area_struct *vma,
				   vm_flags_t set, vm_flags_t clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/* 6.11: find_vqs() takes struct virtqueue_info[] instead of parallel arrays. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define VL_HAVE_VQS_INFO 1
#endif

/* 6.4: class_create() lost its owner argument. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define vl_class_create(name) class_create(name)
#else
#define vl_class_create(name) class_create(THIS_MODULE, name)
#endif

/* 6.4: vhost workers became user workers (never back in user space). */
#ifndef PF_USER_WORKER
#define PF_USER_WORKER 0
#endif

/* 6.10: __assign_str() takes its source from __string() alone (tracepoints). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define vl_assign_str(dst, src) __assign_str(dst)
#else
#define vl_assign_str(dst, src) __assign_str(dst, src)
#endif

#endif /* VL_COMPAT_H */
