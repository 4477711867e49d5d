/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of virtio_loopback.ko: system "virtio_loopback" in tracefs
 * (events/virtio_loopback/), perf (-e 'virtio_loopback:*') and trace-cmd.
 * docs/tracing.md describes every event and field.
 *
 * Every event names the device (vl<id>, "-" for a CREATE or ATTACH that
 * failed before a device existed). The hot-path events (vl_kick,
 * vl_interrupt) take the queue and read their fields in TP_fast_assign, so
 * a disabled tracepoint costs a patched-out branch and nothing else.
 *
 * vl_main.c defines CREATE_TRACE_POINTS before including this file; the
 * module is built out of tree, so Kbuild adds its own directory to that
 * file's include path (TRACE_INCLUDE_PATH is relative to it).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM virtio_loopback

#if !defined(VL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define VL_TRACE_H

#include <linux/device.h>
#include <linux/tracepoint.h>
#include <linux/virtio_config.h>
#include <uapi/linux/virtio_ids.h>
#include <uapi/linux/virtio_loopback.h>

#include "vl_compat.h"

/*
 * Only the file that creates the tracepoints dereferences these (in
 * TP_fast_assign), and it includes vl_device.h first.
 */
struct vl_device;
struct vl_vq;

#define vl_show_device_id(id)					\
	__print_symbolic(id,					\
		{ VIRTIO_ID_NET,		"net" },	\
		{ VIRTIO_ID_BLOCK,		"blk" },	\
		{ VIRTIO_ID_CONSOLE,		"console" },	\
		{ VIRTIO_ID_RNG,		"rng" },	\
		{ VIRTIO_ID_SCSI,		"scsi" },	\
		{ VIRTIO_ID_GPU,		"gpu" },	\
		{ VIRTIO_ID_INPUT,		"input" },	\
		{ VIRTIO_ID_VSOCK,		"vsock" },	\
		{ VIRTIO_ID_FS,			"fs" },		\
		{ VIRTIO_ID_SOUND,		"sound" },	\
		{ VIRTIO_ID_I2C_ADAPTER,	"i2c" },	\
		{ VIRTIO_ID_GPIO,		"gpio" })

#define vl_show_mem_mode(mode)					\
	__print_symbolic(mode,					\
		{ VIRTIO_LOOPBACK_MEM_ISOLATED,	"isolated" },	\
		{ VIRTIO_LOOPBACK_MEM_ZERO_COPY, "zero-copy" })

#define vl_show_status(status)					\
	__print_flags(status, "|",				\
		{ VIRTIO_CONFIG_S_ACKNOWLEDGE,	"ACKNOWLEDGE" },\
		{ VIRTIO_CONFIG_S_DRIVER,	"DRIVER" },	\
		{ VIRTIO_CONFIG_S_FEATURES_OK,	"FEATURES_OK" },\
		{ VIRTIO_CONFIG_S_DRIVER_OK,	"DRIVER_OK" },	\
		{ VIRTIO_CONFIG_S_NEEDS_RESET,	"NEEDS_RESET" },\
		{ VIRTIO_CONFIG_S_FAILED,	"FAILED" })

TRACE_EVENT(vl_add,

	TP_PROTO(const struct vl_device *vl),

	TP_ARGS(vl),

	TP_STRUCT__entry(
		__string(dev, dev_name(&vl->parent))
		__field(u32, device_id)
		__field(u32, mem_mode)
		__field(u64, mem_size)
		__field(u32, num_queues)
		__field(pid_t, owner)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&vl->parent));
		__entry->device_id = vl->device_id;
		__entry->mem_mode = vl->mem_mode;
		__entry->mem_size = vl->mem_size;
		__entry->num_queues = vl->num_queues;
		__entry->owner = vl->owner_tgid;
	),

	TP_printk("dev=%s device_id=%u (%s) mem_mode=%s mem_size=%llu queues=%u owner=%d",
		  __get_str(dev), __entry->device_id,
		  vl_show_device_id(__entry->device_id),
		  vl_show_mem_mode(__entry->mem_mode),
		  __entry->mem_size, __entry->num_queues, __entry->owner)
);

TRACE_EVENT(vl_remove,

	TP_PROTO(const struct vl_device *vl),

	TP_ARGS(vl),

	TP_STRUCT__entry(
		__string(dev, dev_name(&vl->parent))
		__field(u32, device_id)
		__field(u32, mem_mode)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&vl->parent));
		__entry->device_id = vl->device_id;
		__entry->mem_mode = vl->mem_mode;
	),

	TP_printk("dev=%s device_id=%u (%s) mem_mode=%s",
		  __get_str(dev), __entry->device_id,
		  vl_show_device_id(__entry->device_id),
		  vl_show_mem_mode(__entry->mem_mode))
);

TRACE_EVENT(vl_status,

	TP_PROTO(const struct vl_device *vl, u8 old, u8 new),

	TP_ARGS(vl, old, new),

	TP_STRUCT__entry(
		__string(dev, dev_name(&vl->parent))
		__field(u8, old)
		__field(u8, new)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&vl->parent));
		__entry->old = old;
		__entry->new = new;
	),

	TP_printk("dev=%s old=0x%02x new=0x%02x (%s)",
		  __get_str(dev), __entry->old, __entry->new,
		  __entry->new ? vl_show_status(__entry->new) :
				 "RESET")
);

/* Under the queue's lock, after its rings were scanned (see vl_shadow). */
DECLARE_EVENT_CLASS(vl_queue_event,

	TP_PROTO(const struct vl_vq *q),

	TP_ARGS(q),

	TP_STRUCT__entry(
		__string(dev, dev_name(&q->vl->parent))
		__field(u32, queue)
		__field(u16, avail)
		__field(u16, used)
		__field(u32, inflight)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&q->vl->parent));
		__entry->queue = q->index;
		__entry->avail = q->shadow.last_avail;
		__entry->used = q->shadow.last_used;
		__entry->inflight = q->shadow.outstanding;
	),

	TP_printk("dev=%s queue=%u avail=%u used=%u inflight=%u",
		  __get_str(dev), __entry->queue, __entry->avail, __entry->used,
		  __entry->inflight)
);

/* The driver notified a queue. */
DEFINE_EVENT(vl_queue_event, vl_kick,
	TP_PROTO(const struct vl_vq *q),
	TP_ARGS(q)
);

/* The transport runs the driver's interrupt handler for a queue. */
DEFINE_EVENT(vl_queue_event, vl_interrupt,
	TP_PROTO(const struct vl_vq *q),
	TP_ARGS(q)
);

TRACE_EVENT(vl_config,

	TP_PROTO(const struct vl_device *vl, u32 offset, u32 len, bool by_driver,
		 bool notify),

	TP_ARGS(vl, offset, len, by_driver, notify),

	TP_STRUCT__entry(
		__string(dev, dev_name(&vl->parent))
		__field(u32, offset)
		__field(u32, len)
		__field(u32, generation)
		__field(bool, by_driver)
		__field(bool, notify)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&vl->parent));
		__entry->offset = offset;
		__entry->len = len;
		__entry->generation = READ_ONCE(vl->config_gen);
		__entry->by_driver = by_driver;
		__entry->notify = notify;
	),

	TP_printk("dev=%s by=%s offset=%u len=%u generation=%u notify=%d",
		  __get_str(dev), __entry->by_driver ? "driver" : "adapter",
		  __entry->offset, __entry->len, __entry->generation,
		  __entry->notify)
);

TRACE_EVENT(vl_queue_setup,

	TP_PROTO(const struct vl_vq *q),

	TP_ARGS(q),

	TP_STRUCT__entry(
		__string(dev, dev_name(&q->vl->parent))
		__field(u32, queue)
		__field(u32, num)
		__field(u64, desc)
		__field(u64, avail)
		__field(u64, used)
		__field(bool, relayed)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&q->vl->parent));
		__entry->queue = q->index;
		__entry->num = q->num;
		__entry->desc = q->desc_iova;
		__entry->avail = q->avail_iova;
		__entry->used = q->used_iova;
		__entry->relayed = q->relay.mem;
	),

	TP_printk("dev=%s queue=%u num=%u desc=0x%llx avail=0x%llx used=0x%llx relayed=%d",
		  __get_str(dev), __entry->queue, __entry->num, __entry->desc,
		  __entry->avail, __entry->used, __entry->relayed)
);

/* The driver deleted a queue (reset, removal, a failed find_vqs). */
TRACE_EVENT(vl_queue_del,

	TP_PROTO(const struct vl_vq *q),

	TP_ARGS(q),

	TP_STRUCT__entry(
		__string(dev, dev_name(&q->vl->parent))
		__field(u32, queue)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&q->vl->parent));
		__entry->queue = q->index;
	),

	TP_printk("dev=%s queue=%u", __get_str(dev), __entry->queue)
);

/* VIRTIO_LOOPBACK_REWIND_VQ: a queue handed to a new back-end. */
TRACE_EVENT(vl_queue_rewind,

	TP_PROTO(const struct vl_vq *q, u16 base, u32 outstanding, int err),

	TP_ARGS(q, base, outstanding, err),

	TP_STRUCT__entry(
		__string(dev, dev_name(&q->vl->parent))
		__field(u32, queue)
		__field(u16, base)
		__field(u32, outstanding)
		__field(int, err)
	),

	TP_fast_assign(
		vl_assign_str(dev, dev_name(&q->vl->parent));
		__entry->queue = q->index;
		__entry->base = base;
		__entry->outstanding = outstanding;
		__entry->err = err;
	),

	TP_printk("dev=%s queue=%u base=%u outstanding=%u err=%d",
		  __get_str(dev), __entry->queue, __entry->base,
		  __entry->outstanding, __entry->err)
);

/*
 * Something failed that user space or the driver hears of (an errno, a
 * refused mapping, a broken device): @device is the device's struct device
 * (the class device vl<id>), NULL before one exists; @op the request or
 * operation, @what the rule or step that failed.
 */
TRACE_EVENT(vl_error,

	TP_PROTO(const struct device *device, const char *op, const char *what, int err),

	TP_ARGS(device, op, what, err),

	TP_STRUCT__entry(
		__string(dev, device ? dev_name(device) : "-")
		__string(op, op)
		__string(what, what)
		__field(int, err)
	),

	TP_fast_assign(
		vl_assign_str(dev, device ? dev_name(device) : "-");
		vl_assign_str(op, op);
		vl_assign_str(what, what);
		__entry->err = err;
	),

	TP_printk("dev=%s op=%s what=%s err=%d",
		  __get_str(dev), __get_str(op), __get_str(what), __entry->err)
);

#endif /* VL_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vl_trace
#include <trace/define_trace.h>
