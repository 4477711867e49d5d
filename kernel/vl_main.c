// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback: virtio devices served by user-space vhost-user back-ends.
 *
 * Control node /dev/virtio-loopback (misc device, mode 0600). Each open
 * file is a session; VIRTIO_LOOPBACK_CREATE makes it the owner of one
 * device, which lives until the file is released (close, or the owner
 * dying): that removes the device like a hot-unplug. The contract is
 * include/uapi/linux/virtio_loopback.h.
 *
 * A device created with VIRTIO_LOOPBACK_CREATE_F_PERSIST outlives its
 * session: when the file is released it is detached (see "Adapter
 * restart" below) and a new session takes it over with
 * VIRTIO_LOOPBACK_ATTACH, or it is removed when its persist timeout ends.
 *
 * Each device is a class device /sys/class/virtio-loopback/vl<id> (the
 * parent and DMA device of the virtio device) with its attributes and a
 * queues/<n>/ directory per queue.
 *
 * Module parameters:
 *   msg_timeout_ms     how long the driver waits for the adapter to answer
 *                      DRIVER_OK or reset (default 10000, at least 100; a
 *                      timeout breaks the device), and how long a close
 *                      waits for the driver to let go of the device (then
 *                      the removal finishes in the background)
 *   teardown_grace_ms  how long a back-end still running gets to finish its
 *                      requests when the session closes (default 2000)
 *
 * Every session holds a reference on the module (fops owner), and so does
 * a removal still under way after its session closed, so rmmod is refused
 * while any device exists.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kmod.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "vl_compat.h"
#include "vl_device.h"
#include "vl_dma.h"

#define CREATE_TRACE_POINTS
#include "vl_trace.h"

/* Devices at once (names vl0..vl<N-1>). */
#define VL_MAX_DEVICES		4096
/* Bounds of msg_timeout_ms: 0 must not mean "forever", nor ~0 weeks. */
#define VL_MIN_MSG_TIMEOUT_MS	100
#define VL_MAX_MSG_TIMEOUT_MS	600000
/* Smallest struct virtio_loopback_create accepted (API version 1). */
#define VL_CREATE_SIZE_V1	offsetofend(struct virtio_loopback_create, reserved)
/* Smallest struct virtio_loopback_attach accepted. */
#define VL_ATTACH_SIZE_V1	offsetofend(struct virtio_loopback_attach, reserved)

/* Bits of vl_device.driver_req: the steps vl_driver_work() has to do. */
enum {
	VL_DRV_REGISTER,	/* register the virtio device (CREATE) */
	VL_DRV_UNPLUG,		/* unregister it, send EV_UNPLUGGED (UNPLUG) */
	VL_DRV_DESTROY,		/* the session is gone: finish the removal */
	VL_DRV_UNPLUG_ASKED,	/* UNPLUG was called: -EALREADY from now on */
};

unsigned int vl_msg_timeout_ms = 10000;
module_param_named(msg_timeout_ms, vl_msg_timeout_ms, uint, 0644);
MODULE_PARM_DESC(msg_timeout_ms,
		 "Wait for the adapter's answer to DRIVER_OK/reset, and close() for the driver, ms (100..600000)");

unsigned int vl_teardown_grace_ms = 2000;
module_param_named(teardown_grace_ms, vl_teardown_grace_ms, uint, 0644);
MODULE_PARM_DESC(teardown_grace_ms,
		 "Time a running back-end gets to finish requests at removal, ms (max 30000)");

static struct class *vl_class;
/* Runs every device's @driver_work (see "Removal" below). */
static struct workqueue_struct *vl_wq;
/* Device numbers; the ida has its own lock. */
static DEFINE_IDA(vl_ida);
/* Devices not yet freed; module exit waits for their releases. */
static atomic_t vl_live = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(vl_live_wq);
/*
 * Every device from CREATE until its removal begins, for ATTACH to find
 * by name. vl_devs_lock (a mutex, process context only) protects the list
 * and each device's @persist_state; the list holds no reference.
 */
static LIST_HEAD(vl_devs);
static DEFINE_MUTEX(vl_devs_lock);

static void vl_persist_work(struct work_struct *work);

/**
 * struct vl_session - one open file of the control node
 * @lock: serialises VIRTIO_LOOPBACK_CREATE (process context)
 * @vl: the device, set once by CREATE (store-release, read with
 *      load-acquire by the other file operations)
 */
struct vl_session {
	struct mutex lock;
	struct vl_device *vl;
};

static struct vl_device *vl_session_device(struct file *file)
{
	struct vl_session *s = file->private_data;

	/* Pairs with the release in vl_ioctl_create(): the device is built. */
	return smp_load_acquire(&s->vl);
}

static bool vl_is_registered(struct vl_device *vl)
{
	/* Pairs with vl_set_registered(): vdev.index/features are valid. */
	return smp_load_acquire(&vl->registered);
}

static bool vl_core_live(struct vl_device *vl)
{
	/* Pairs with the release in vl_reset(). */
	return smp_load_acquire(&vl->core_live);
}

static void vl_set_registered(struct vl_device *vl, bool registered)
{
	/* Publishes the virtio core's initialisation of vl->vdev. */
	smp_store_release(&vl->registered, registered);
}

/* msg_timeout_ms in jiffies, within its bounds whatever was written to it. */
static unsigned long vl_msg_timeout(void)
{
	return msecs_to_jiffies(clamp(READ_ONCE(vl_msg_timeout_ms),
				      VL_MIN_MSG_TIMEOUT_MS, VL_MAX_MSG_TIMEOUT_MS));
}

/* ------------------------------------------------------------------ */
/* Events for the adapter                                               */
/* ------------------------------------------------------------------ */

static const char *vl_event_name(u32 type)
{
	switch (type) {
	case VIRTIO_LOOPBACK_EV_DRIVER_OK:
		return "DRIVER_OK";
	case VIRTIO_LOOPBACK_EV_RESET:
		return "RESET";
	case VIRTIO_LOOPBACK_EV_CONFIG_WRITE:
		return "CONFIG_WRITE";
	case VIRTIO_LOOPBACK_EV_FAILED:
		return "FAILED";
	case VIRTIO_LOOPBACK_EV_UNPLUGGED:
		return "UNPLUGGED";
	}
	return "?";
}

/* Answer every waiting sender with @result; drop unread plain events. */
static void vl_events_cancel(struct vl_device *vl, int result, struct list_head *drop)
{
	struct vl_event *e, *tmp;

	lockdep_assert_held(&vl->ev_lock);
	list_for_each_entry_safe(e, tmp, &vl->ev_waiting, node) {
		list_del_init(&e->node);
		e->result = result;
		complete(&e->done);
	}
	list_for_each_entry_safe(e, tmp, &vl->ev_pending, node) {
		if (e->waiter) {
			list_del_init(&e->node);
			e->result = result;
			complete(&e->done);
		} else if (drop) {
			list_move_tail(&e->node, drop);
		}
	}
}

int vl_event_send(struct vl_device *vl, const struct virtio_loopback_event *ev,
		  gfp_t gfp)
{
	bool reply = ev->flags & VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY;
	unsigned long flags;
	struct vl_event *e;
	long left;
	int ret;

	e = kmalloc(sizeof(*e), gfp);
	if (!e) {
		/* GFP_ATOMIC callers (FAILED status): the adapter misses this one. */
		dev_warn_ratelimited(&vl->parent, "event %s dropped\n",
				     vl_event_name(ev->type));
		trace_vl_error(&vl->parent, vl_event_name(ev->type), "dropped", -ENOMEM);
		return -ENOMEM;
	}
	e->ev = *ev;
	init_completion(&e->done);
	e->result = 0;
	e->waiter = reply;

	spin_lock_irqsave(&vl->ev_lock, flags);
	if (vl->gone || vl->broken) {
		ret = vl->gone ? 0 : -EIO;
		spin_unlock_irqrestore(&vl->ev_lock, flags);
		kfree(e);
		return ret;
	}
	e->ev.seq = ++vl->seq;
	list_add_tail(&e->node, &vl->ev_pending);
	spin_unlock_irqrestore(&vl->ev_lock, flags);
	wake_up_interruptible(&vl->ev_wq);
	if (!reply)
		return 0;

	left = wait_for_completion_killable_timeout(&e->done, vl_msg_timeout());

	/* Whoever answered took the event off the lists under the lock. */
	spin_lock_irqsave(&vl->ev_lock, flags);
	if (list_empty(&e->node)) {
		ret = e->result;
	} else {
		list_del(&e->node);
		ret = left < 0 ? (int)left : -ETIMEDOUT;
	}
	spin_unlock_irqrestore(&vl->ev_lock, flags);
	kfree(e);

	if (ret == -ETIMEDOUT || ret == -ERESTARTSYS) {
		dev_err_ratelimited(&vl->parent, "%s: no answer from the adapter (%s)\n",
				    vl_event_name(ev->type),
				    ret == -ETIMEDOUT ? "timed out" : "killed");
		trace_vl_error(&vl->parent, vl_event_name(ev->type),
			       "no answer from the adapter", ret);
		vl_device_break(vl, VL_BROKEN_TIMEOUT);
	} else if (ret < 0 && ret != -EIO) {
		dev_err_ratelimited(&vl->parent, "%s: adapter answered %d\n",
				    vl_event_name(ev->type), ret);
		trace_vl_error(&vl->parent, vl_event_name(ev->type), "adapter refused", ret);
		vl_device_break(vl, VL_BROKEN_REFUSED);
	}
	return ret;
}

void vl_device_break(struct vl_device *vl, int why)
{
	const char *reason = why == VL_BROKEN_TIMEOUT ? "adapter timed out" :
			     why == VL_BROKEN_REFUSED ? "adapter refused" :
			     why == VL_BROKEN_RING ? "ring state not trusted" :
			     "back-end wrote an invalid used entry";
	unsigned long flags;
	bool first;

	spin_lock_irqsave(&vl->ev_lock, flags);
	first = !vl->broken;
	if (first)
		vl->broken = why;
	/* Nobody waits on a broken device. */
	vl_events_cancel(vl, -EIO, NULL);
	spin_unlock_irqrestore(&vl->ev_lock, flags);
	if (first) {
		wake_up_interruptible(&vl->ev_wq);
		dev_err_ratelimited(&vl->parent, "device broken (%s)\n", reason);
		trace_vl_error(&vl->parent, "break", reason, -EIO);
	}
	/* Both actions are idempotent; a later reason may need the other. */
	if (why == VL_BROKEN_RING)
		virtio_break_device(&vl->vdev);
	else
		vl_transport_fail(vl, reason);
}

static void vl_break_work(struct work_struct *work)
{
	struct vl_device *vl = container_of(work, struct vl_device, break_work);

	vl_device_break(vl, VL_BROKEN_RING);
}

static void vl_garbage_work(struct work_struct *work)
{
	struct vl_device *vl = container_of(work, struct vl_device, garbage_work);

	vl_device_break(vl, VL_BROKEN_BACKEND);
}

/* The session is closing: nothing is queued or waited for any more. */
static void vl_events_shutdown(struct vl_device *vl)
{
	struct vl_event *e, *tmp;
	unsigned long flags;
	LIST_HEAD(drop);

	spin_lock_irqsave(&vl->ev_lock, flags);
	vl->gone = true;
	vl_events_cancel(vl, 0, &drop);
	spin_unlock_irqrestore(&vl->ev_lock, flags);
	list_for_each_entry_safe(e, tmp, &drop, node)
		kfree(e);
	wake_up_interruptible(&vl->ev_wq);
}

static bool vl_readable(struct vl_device *vl)
{
	return !list_empty_careful(&vl->ev_pending) || READ_ONCE(vl->broken);
}

static ssize_t vl_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct vl_device *vl = vl_session_device(file);
	struct virtio_loopback_event ev;
	struct vl_event *e;
	bool waiter;
	int ret;

	if (!vl)
		return -ENODEV;
	if (count < sizeof(ev)) {
		trace_vl_error(&vl->parent, "read", "buffer smaller than an event", -EINVAL);
		return -EINVAL;
	}

	for (;;) {
		spin_lock_irq(&vl->ev_lock);
		if (vl->broken) {
			spin_unlock_irq(&vl->ev_lock);
			return -EIO;
		}
		e = list_first_entry_or_null(&vl->ev_pending, struct vl_event, node);
		if (e)
			break;
		spin_unlock_irq(&vl->ev_lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(vl->ev_wq, vl_readable(vl));
		if (ret)
			return ret;
	}
	/* A waiter's event may be freed once the lock is dropped: copy it. */
	ev = e->ev;
	waiter = e->waiter;
	list_del_init(&e->node);
	if (waiter)
		list_add_tail(&e->node, &vl->ev_waiting);
	spin_unlock_irq(&vl->ev_lock);

	if (copy_to_user(buf, &ev, sizeof(ev))) {
		/* Put it back so that the next read() sees it again. */
		spin_lock_irq(&vl->ev_lock);
		if (!waiter) {
			list_add(&e->node, &vl->ev_pending);
		} else {
			list_for_each_entry(e, &vl->ev_waiting, node) {
				if (e->ev.seq == ev.seq) {
					list_move(&e->node, &vl->ev_pending);
					break;
				}
			}
		}
		spin_unlock_irq(&vl->ev_lock);
		return -EFAULT;
	}
	if (!waiter)
		kfree(e);
	return sizeof(ev);
}

static ssize_t vl_write(struct file *file, const char __user *buf, size_t count,
			loff_t *ppos)
{
	struct vl_device *vl = vl_session_device(file);
	struct virtio_loopback_reply r;
	struct vl_event *e;
	int ret = 0;

	if (!vl)
		return -ENODEV;
	if (count != sizeof(r))
		ret = -EINVAL;
	else if (copy_from_user(&r, buf, sizeof(r)))
		ret = -EFAULT;
	else if (r.reserved[0] || r.reserved[1] || r.result > 0 || r.result < -MAX_ERRNO)
		ret = -EINVAL;
	if (ret) {
		trace_vl_error(&vl->parent, "reply", "size, reserved or result", ret);
		return ret;
	}

	ret = -ENOENT;
	spin_lock_irq(&vl->ev_lock);
	if (vl->broken) {
		ret = -EIO;
	} else {
		list_for_each_entry(e, &vl->ev_waiting, node) {
			if (e->ev.seq == r.seq) {
				list_del_init(&e->node);
				e->result = r.result;
				complete(&e->done);
				ret = 0;
				break;
			}
		}
	}
	spin_unlock_irq(&vl->ev_lock);
	if (ret)
		trace_vl_error(&vl->parent, "reply", ret == -EIO ? "device broken" :
			       "no event waits for this seq", ret);
	return ret ? ret : sizeof(r);
}

static __poll_t vl_poll(struct file *file, poll_table *wait)
{
	struct vl_device *vl = vl_session_device(file);
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	if (!vl)
		return EPOLLERR;
	poll_wait(file, &vl->ev_wq, wait);
	spin_lock_irq(&vl->ev_lock);
	if (vl->broken)
		mask |= EPOLLERR;
	if (!list_empty(&vl->ev_pending))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock_irq(&vl->ev_lock);
	return mask;
}

/* ------------------------------------------------------------------ */
/* sysfs                                                                */
/* ------------------------------------------------------------------ */

#define VL_ATTR_RO(name, fmt, expr)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct vl_device *vl = vl_from_parent(dev);			\
									\
	return sysfs_emit(buf, fmt "\n", expr);				\
}									\
static DEVICE_ATTR_RO(name)

VL_ATTR_RO(device_id, "%u", vl->device_id);
VL_ATTR_RO(vendor_id, "0x%08x", vl->vendor_id);
VL_ATTR_RO(owner_pid, "%d", vl->owner_tgid);
VL_ATTR_RO(mem_mode, "%s",
	   vl->mem_mode == VIRTIO_LOOPBACK_MEM_ISOLATED ? "isolated" : "zero-copy");
VL_ATTR_RO(mem_size, "%llu", vl->mem_size);
VL_ATTR_RO(device_features, "0x%016llx", vl->device_features);
VL_ATTR_RO(driver_features, "0x%016llx",
	   vl_core_live(vl) ? vl->vdev.features : 0ULL);
VL_ATTR_RO(status, "0x%02x", READ_ONCE(vl->status));
VL_ATTR_RO(virtio_index, "%d",
	   vl_core_live(vl) ? (int)vl->vdev.index : -1);
VL_ATTR_RO(broken, "%d", READ_ONCE(vl->broken) ? 1 : 0);
VL_ATTR_RO(persist_timeout_ms, "%u", vl->persist ? vl->persist_timeout_ms : 0);

/* "off", or the persistent device's state: attached, detached, removing. */
static ssize_t persist_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	static const char * const names[] = {
		[VL_OWNED] = "attached",
		[VL_DETACHED] = "detached",
		[VL_REMOVING] = "removing",
	};
	struct vl_device *vl = vl_from_parent(dev);
	int state = READ_ONCE(vl->persist_state);

	if (!vl->persist)
		return sysfs_emit(buf, "off\n");
	return sysfs_emit(buf, "%s\n", state >= 0 && state < ARRAY_SIZE(names) ?
			  names[state] : "?");
}
static DEVICE_ATTR_RO(persist);

#define VL_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct vl_device *vl = vl_from_parent(dev);			\
	struct vl_mem_stats st;						\
									\
	vl_mem_get_stats(vl->mem, &st);					\
	return sysfs_emit(buf, "%llu\n", st.name);			\
}									\
static DEVICE_ATTR_RO(name)

VL_STAT_ATTR(bytes_bounced);
VL_STAT_ATTR(bytes_shared);
VL_STAT_ATTR(maps);
VL_STAT_ATTR(map_failures);
VL_STAT_ATTR(held_maps);
VL_STAT_ATTR(backend_faults);
VL_STAT_ATTR(revocations);
VL_STAT_ATTR(revocation_batches);
VL_STAT_ATTR(revocations_pending);
VL_STAT_ATTR(pages_in_use);
VL_STAT_ATTR(pages_total);
VL_STAT_ATTR(pages_shared);

static struct attribute *vl_dev_attrs[] = {
	&dev_attr_device_id.attr,
	&dev_attr_vendor_id.attr,
	&dev_attr_owner_pid.attr,
	&dev_attr_mem_mode.attr,
	&dev_attr_mem_size.attr,
	&dev_attr_device_features.attr,
	&dev_attr_driver_features.attr,
	&dev_attr_status.attr,
	&dev_attr_virtio_index.attr,
	&dev_attr_broken.attr,
	&dev_attr_persist.attr,
	&dev_attr_persist_timeout_ms.attr,
	&dev_attr_bytes_bounced.attr,
	&dev_attr_bytes_shared.attr,
	&dev_attr_maps.attr,
	&dev_attr_map_failures.attr,
	&dev_attr_held_maps.attr,
	&dev_attr_backend_faults.attr,
	&dev_attr_revocations.attr,
	&dev_attr_revocation_batches.attr,
	&dev_attr_revocations_pending.attr,
	&dev_attr_pages_in_use.attr,
	&dev_attr_pages_total.attr,
	&dev_attr_pages_shared.attr,
	NULL
};
ATTRIBUTE_GROUPS(vl_dev);

/*
 * queues/<n>/: a kobject per queue. kobject_del() waits for readers, so
 * the show functions may use the queue until then.
 */
struct vl_queue_kobj {
	struct kobject kobj;
	struct vl_vq *q;
};

#define VL_QUEUE_ATTR(name, expr)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	struct vl_vq *q = container_of(kobj, struct vl_queue_kobj, kobj)->q; \
									\
	return sysfs_emit(buf, "%llu\n", (unsigned long long)(expr));	\
}									\
static struct kobj_attribute vl_queue_attr_##name = __ATTR_RO(name)

VL_QUEUE_ATTR(max_size, q->max_size);
VL_QUEUE_ATTR(size, READ_ONCE(q->num));
VL_QUEUE_ATTR(kicks, READ_ONCE(q->kicks));
VL_QUEUE_ATTR(interrupts, READ_ONCE(q->interrupts));
VL_QUEUE_ATTR(relayed_bytes, READ_ONCE(q->relay.bytes_relayed));
VL_QUEUE_ATTR(relay_dropped_bytes, READ_ONCE(q->relay.bytes_dropped));

static struct attribute *vl_queue_attrs[] = {
	&vl_queue_attr_max_size.attr,
	&vl_queue_attr_size.attr,
	&vl_queue_attr_kicks.attr,
	&vl_queue_attr_interrupts.attr,
	&vl_queue_attr_relayed_bytes.attr,
	&vl_queue_attr_relay_dropped_bytes.attr,
	NULL
};
ATTRIBUTE_GROUPS(vl_queue);

static void vl_queue_kobj_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct vl_queue_kobj, kobj));
}

static const struct kobj_type vl_queue_ktype = {
	.release	= vl_queue_kobj_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= vl_queue_groups,
};

static void vl_sysfs_del_queues(struct vl_device *vl)
{
	u32 i;

	for (i = 0; i < vl->num_queues; i++) {
		if (!vl->vqs[i].kobj)
			continue;
		kobject_del(vl->vqs[i].kobj);
		kobject_put(vl->vqs[i].kobj);
		vl->vqs[i].kobj = NULL;
	}
	if (vl->queues_kobj) {
		kobject_del(vl->queues_kobj);
		kobject_put(vl->queues_kobj);
		vl->queues_kobj = NULL;
	}
}

static int vl_sysfs_add_queues(struct vl_device *vl)
{
	u32 i;
	int ret;

	vl->queues_kobj = kobject_create_and_add("queues", &vl->parent.kobj);
	if (!vl->queues_kobj)
		return -ENOMEM;
	for (i = 0; i < vl->num_queues; i++) {
		struct vl_queue_kobj *qk = kzalloc(sizeof(*qk), GFP_KERNEL);

		if (!qk) {
			ret = -ENOMEM;
			goto err;
		}
		qk->q = &vl->vqs[i];
		ret = kobject_init_and_add(&qk->kobj, &vl_queue_ktype, vl->queues_kobj,
					   "%u", i);
		if (ret) {
			kobject_put(&qk->kobj);
			goto err;
		}
		vl->vqs[i].kobj = &qk->kobj;
	}
	return 0;
err:
	vl_sysfs_del_queues(vl);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Device creation and removal                                          */
/* ------------------------------------------------------------------ */

/*
 * Frees everything; handles a device that failed half-way through
 * creation. Process context (the last put_device() of the parent).
 */
static void vl_parent_release(struct device *dev)
{
	struct vl_device *vl = vl_from_parent(dev);
	u32 i;

	for (i = 0; vl->vqs && i < vl->num_queues; i++) {
		struct vl_vq *q = &vl->vqs[i];

		vl_vq_unhook_call(q);
		irq_work_sync(&q->kick_work);
		if (q->call)
			eventfd_ctx_put(q->call);
		if (q->kick)
			eventfd_ctx_put(q->kick);
	}
	if (vl->mem)
		vl_mem_put(vl->mem);
	if (vl->id >= 0)
		ida_free(&vl_ida, vl->id);
	kfree(vl->config);
	kfree(vl->vqs);
	kfree(vl);
	if (atomic_dec_and_test(&vl_live))
		wake_up(&vl_live_wq);
}

static void vl_vdev_release(struct device *dev)
{
	struct vl_device *vl = vl_from_vdev(dev_to_virtio(dev));

	put_device(&vl->parent);
}

/*
 * Removal
 *
 * Closing the session (close(), or its owner dying) must not wait for ever
 * on anything but this device, let alone without a way to kill it. A
 * driver's probe and remove can wait for another device, though. Debian's
 * 6.1 hwrng core does (found by vl-uapi-fuzz): its kernel thread reads the
 * current rng holding reading_mutex and waits for that device's answer as
 * long as it takes (nothing interrupts a kernel thread); virtio-rng's probe
 * (hwrng_register() -> add_early_randomness()) and the removal of the
 * current rng (hwrng_unregister() -> add_early_randomness() of the next)
 * both take that mutex. So a process owning an rng device that it does not
 * serve holds up every other rng device's probe and removal, and if it
 * closes one of those before the first, close() waits for that probe while
 * the session it waits for stays open: a hang no signal ends.
 *
 * So removal has two halves:
 *
 *  1. vl_device_destroy(), in the closing task: what depends on this
 *     device alone and is bounded. Fail the waits for the adapter
 *     (vl_events_shutdown()), let a running back-end finish (bounded grace
 *     period), revoke its memory and complete every outstanding request
 *     (vl_transport_teardown()). From then on whatever waits on this
 *     device goes on: its own probe, an unplug under way, and whoever else
 *     waits for one of its requests (the hwrng thread above).
 *  2. @driver_work (on vl_wq): unregister the virtio device -- the
 *     driver's remove -- then delete the class device. The closing task
 *     waits for this at most msg_timeout_ms (killable); normally the
 *     device is gone when close() returns, as before. A driver stuck on
 *     another device keeps the work waiting, not the closing task; the
 *     removal then ends in the background as soon as the driver lets go
 *     (when the device it waits for is served or its session closes).
 *
 * The closing task does not call unregister_virtio_device() itself because
 * it calls into the driver, which may block on another device, and only
 * another context can be waited for with a bound.
 *
 * @driver_work does every step that calls into the virtio core or the
 * driver -- register (CREATE), unplug (VIRTIO_LOOPBACK_UNPLUG), the end of
 * the removal -- for one device in that order, one at a time: the bits of
 * @driver_req say which are asked for. A step asked for while the work
 * runs re-queues it, and the running instance or the next one does it. No
 * step waits for another in a second kworker (an unplug does not
 * flush_work() a stuck probe), and a removal asked for during a stuck probe
 * follows it in the same run. vl_wq is unbound with the largest
 * max_active, so stuck devices do not hold back other devices' steps
 * (unless WQ_MAX_ACTIVE of them are stuck at once).
 *
 * Lifetime: every queued run holds a reference on @parent, dropped at its
 * end (vl_driver_queue()), so @vl outlives every run; vl_device_destroy()
 * keeps the session's reference until its wait on @destroyed is over, so
 * the completion outlives the wait. vl_device_destroy() also takes a
 * module reference before it asks for the removal; the run that
 * finishes the removal drops it as its very last action, so rmmod is
 * refused ("in use") while a removal goes on in the background. The return
 * from vl_driver_work() after that module_put() is safe: vl_exit()
 * destroys vl_wq, which waits for the function to return, before the
 * module's memory goes.
 */

/* Ask @driver_work for @step; a reference on @parent for the run queued. */
static void vl_driver_queue(struct vl_device *vl, int step)
{
	set_bit(step, &vl->driver_req);
	get_device(&vl->parent);
	/* Already queued (not yet running): that run does @step. */
	if (!queue_work(vl_wq, &vl->driver_work))
		put_device(&vl->parent);
}

/*
 * Outside the CREATE ioctl: probe runs inside register_virtio_device() and
 * waits for the adapter (DRIVER_OK), and virtio-blk's probe reads the
 * partition table, which only completes once the adapter -- the ioctl's
 * caller -- has started the back-end.
 */
static void vl_register(struct vl_device *vl)
{
	int ret;

	ret = register_virtio_device(&vl->vdev);
	if (ret) {
		dev_err_ratelimited(&vl->parent, "register_virtio_device: %d\n", ret);
		trace_vl_error(&vl->parent, "register", "register_virtio_device", ret);
		/* Ownership passed to the core: its release drops our ref. */
		put_device(&vl->vdev.dev);
		return;
	}
	vl_set_registered(vl, true);

	/*
	 * No driver took it: ask for one by the alias the virtio bus reports
	 * (virtio_uevent()), as udev would, for systems without udev
	 * (embedded, the lab). Once loaded, the driver probes the device.
	 * Not waiting keeps this worker free; a loaded driver never gets
	 * here, so 64 devices of one type start at most a few modprobes.
	 * dev.driver is read unlocked: a hint only.
	 */
	if (!READ_ONCE(vl->vdev.dev.driver))
		request_module_nowait("virtio:d%08Xv%08X", vl->device_id, vl->vendor_id);
}

/*
 * VIRTIO_LOOPBACK_UNPLUG: the driver goes while the adapter still serves
 * (its flush and reset reach the back-end), then EV_UNPLUGGED. After the
 * registration, which the adapter's loop lets finish.
 */
static void vl_unplug(struct vl_device *vl)
{
	struct virtio_loopback_event ev = {
		.type = VIRTIO_LOOPBACK_EV_UNPLUGGED,
	};

	if (vl_is_registered(vl)) {
		ev.index = vl->vdev.index;
		unregister_virtio_device(&vl->vdev);
		vl_set_registered(vl, false);
	}
	vl_event_send(vl, &ev, GFP_KERNEL);
}

/* The second half of the removal; the session is gone, the transport dead. */
static void vl_destroy_finish(struct vl_device *vl)
{
	if (vl_is_registered(vl)) {
		unregister_virtio_device(&vl->vdev);
		vl_set_registered(vl, false);
	}
	cancel_work_sync(&vl->break_work);
	cancel_work_sync(&vl->garbage_work);
	vl_sysfs_del_queues(vl);
	device_del(&vl->parent);
	trace_vl_remove(vl);
	complete_all(&vl->destroyed);
}

static void vl_driver_work(struct work_struct *work)
{
	struct vl_device *vl = container_of(work, struct vl_device, driver_work);
	bool destroyed = false;

	if (test_and_clear_bit(VL_DRV_REGISTER, &vl->driver_req)) {
		/* Removed before it was registered: the virtio device's ref. */
		if (test_bit(VL_DRV_DESTROY, &vl->driver_req))
			put_device(&vl->parent);
		else
			vl_register(vl);
	}
	if (test_and_clear_bit(VL_DRV_UNPLUG, &vl->driver_req))
		vl_unplug(vl);
	if (test_and_clear_bit(VL_DRV_DESTROY, &vl->driver_req)) {
		vl_destroy_finish(vl);
		destroyed = true;
	}
	/* This run's reference (vl_driver_queue()); may free @vl. */
	put_device(&vl->parent);
	/* Taken by vl_device_destroy(); see "Removal" for why this is safe. */
	if (destroyed)
		module_put(THIS_MODULE);
}

/*
 * Segments a request may have: enough for a 1 MiB request made of
 * scattered pages, the common case for user buffers.
 */
#define VL_BLK_SEG_MAX		256

/*
 * A virtio-blk request must fit in the bounce region in one piece: a
 * mapping failure is -ENOMEM to virtio_ring, and virtio-blk retries it
 * forever. Bound a request to a quarter of the region through our copy of
 * the config space, seg_max * size_max <= quarter, with both fields also
 * within the back-end's own limits when it gives them.
 *
 * The product is split in favour of many small segments: a request of
 * scattered pages has one page per segment, so seg_max is what limits it
 * (4 segments of 4 MiB would cut a 1 MiB O_DIRECT read of such a buffer
 * into 64 requests). seg_max is at most VL_BLK_SEG_MAX, then size_max is
 * what is left of the quarter per segment, a page at least and at most
 * one mapping. A size_max of 0 is never left: 6.1 reads it as one page,
 * 6.12 as 64 KiB. The two feature bits are offered to the driver even
 * when the back-end did not offer them; the back-end never sees them.
 * Any context; the caller holds config_lock once the device is visible.
 */
static void vl_blk_bound_request(struct vl_device *vl)
{
	const size_t seg_off = offsetof(struct virtio_blk_config, seg_max);
	const size_t size_off = offsetof(struct virtio_blk_config, size_max);
	u64 quarter = max_t(u64, vl->mem_size / 4, PAGE_SIZE);
	u64 seg = vl_mem_max_mapping(vl->mem);
	u64 seg_max = min_t(u64, VL_BLK_SEG_MAX, quarter >> PAGE_SHIFT);
	__le32 v;

	if (vl->device_id != VIRTIO_ID_BLOCK || vl->config_size < seg_off + sizeof(v))
		return;
	if (vl->device_features & BIT_ULL(VIRTIO_BLK_F_SEG_MAX)) {
		memcpy(&v, vl->config + seg_off, sizeof(v));
		/* virtio-blk reads 0 as 1. */
		seg_max = min_t(u64, seg_max, le32_to_cpu(v) ?: 1);
	}
	seg = min_t(u64, seg, div64_u64(quarter, seg_max));
	if (vl->device_features & BIT_ULL(VIRTIO_BLK_F_SIZE_MAX)) {
		memcpy(&v, vl->config + size_off, sizeof(v));
		if (le32_to_cpu(v))
			seg = min_t(u64, seg, le32_to_cpu(v));
	}
	/* The block layer never makes a segment smaller than a page. */
	seg = max_t(u64, round_down(seg, PAGE_SIZE), PAGE_SIZE);
	v = cpu_to_le32(seg);
	memcpy(vl->config + size_off, &v, sizeof(v));
	v = cpu_to_le32(seg_max);
	memcpy(vl->config + seg_off, &v, sizeof(v));
	WRITE_ONCE(vl->quirk_features, vl->quirk_features |
		   BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX));
}

/*
 * Every field is checked against a named limit before anything is created;
 * *@why names the field that failed (the vl_error tracepoint).
 * On success *@qi holds the queue array (kfree() it).
 */
static int vl_validate_create(const struct virtio_loopback_create *c,
			      struct virtio_loopback_queue_info **qi,
			      const char **why)
{
	struct virtio_loopback_queue_info *q;
	u32 i;

	*qi = NULL;
	*why = "device_id";
	if (!c->device_id)
		return -EINVAL;
	*why = "num_queues";
	if (!c->num_queues || c->num_queues > VIRTIO_LOOPBACK_MAX_QUEUES)
		return -EINVAL;
	*why = "config_size";
	if (c->config_size > VIRTIO_LOOPBACK_MAX_CONFIG_SIZE)
		return -EINVAL;
	*why = "flags or reserved";
	if (c->flags & ~VIRTIO_LOOPBACK_CREATE_F_PERSIST || c->reserved0 ||
	    memchr_inv(c->reserved, 0, sizeof(c->reserved)))
		return -EINVAL;
	*why = "persist_timeout_ms";
	if (c->persist_timeout_ms &&
	    (!(c->flags & VIRTIO_LOOPBACK_CREATE_F_PERSIST) ||
	     c->persist_timeout_ms > VIRTIO_LOOPBACK_MAX_PERSIST_TIMEOUT_MS))
		return -EINVAL;
	*why = "device_features without VERSION_1";
	if (!(c->device_features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return -EINVAL;
	*why = "mem_size";
	if (c->mem_size &&
	    (!PAGE_ALIGNED(c->mem_size) ||
	     c->mem_size < VIRTIO_LOOPBACK_MIN_MEM_SIZE ||
	     c->mem_size > VIRTIO_LOOPBACK_MAX_MEM_SIZE))
		return -EINVAL;
	*why = "mem_mode";
	if (c->mem_mode != VIRTIO_LOOPBACK_MEM_ISOLATED &&
	    c->mem_mode != VIRTIO_LOOPBACK_MEM_ZERO_COPY)
		return -EINVAL;

	*why = "queues";
	q = memdup_array_user(u64_to_user_ptr(c->queues), c->num_queues, sizeof(*q));
	if (IS_ERR(q))
		return PTR_ERR(q);
	for (i = 0; i < c->num_queues; i++) {
		if (!q[i].max_size || !is_power_of_2(q[i].max_size) ||
		    q[i].max_size > VIRTIO_LOOPBACK_MAX_QUEUE_SIZE ||
		    q[i].reserved0 || q[i].reserved1 ||
		    q[i].kick_fd < 0 || q[i].call_fd < 0) {
			*why = "queue max_size, reserved or fds";
			kfree(q);
			return -EINVAL;
		}
	}
	*qi = q;
	return 0;
}

/*
 * Build the device from a validated request: queues and eventfds, config,
 * memory, id, class device, sysfs. Not yet registered with the virtio core.
 * From device_initialize() on, every failure ends in put_device(), whose
 * release undoes whatever was done.
 */
static struct vl_device *vl_device_create(const struct virtio_loopback_create *c,
					  const struct virtio_loopback_queue_info *qi,
					  struct virtio_loopback_create __user *uc,
					  const char **why)
{
	struct vl_device *vl;
	u32 i;
	int ret;

	*why = "device allocation";
	vl = kzalloc(sizeof(*vl), GFP_KERNEL);
	if (!vl)
		return ERR_PTR(-ENOMEM);
	vl->id = -1;
	atomic_inc(&vl_live);
	device_initialize(&vl->parent);
	vl->parent.release = vl_parent_release;
	vl->parent.class = vl_class;
	vl->parent.groups = vl_dev_groups;
	vl->parent.dma_parms = &vl->dma_parms;

	vl->device_id = c->device_id;
	vl->vendor_id = c->vendor_id;
	vl->owner_tgid = task_tgid_nr(current);
	vl->device_features = c->device_features;
	vl->mem_mode = c->mem_mode;
	vl->mem_size = c->mem_size ?: VIRTIO_LOOPBACK_DEFAULT_MEM_SIZE;
	spin_lock_init(&vl->config_lock);
	spin_lock_init(&vl->ev_lock);
	INIT_LIST_HEAD(&vl->ev_pending);
	INIT_LIST_HEAD(&vl->ev_waiting);
	init_waitqueue_head(&vl->ev_wq);
	INIT_WORK(&vl->driver_work, vl_driver_work);
	init_completion(&vl->destroyed);
	INIT_WORK(&vl->break_work, vl_break_work);
	INIT_WORK(&vl->garbage_work, vl_garbage_work);
	INIT_LIST_HEAD(&vl->node);
	INIT_DELAYED_WORK(&vl->persist_work, vl_persist_work);
	vl->persist = c->flags & VIRTIO_LOOPBACK_CREATE_F_PERSIST;
	vl->persist_timeout_ms = c->persist_timeout_ms ?:
				 VIRTIO_LOOPBACK_DEFAULT_PERSIST_TIMEOUT_MS;

	ret = -ENOMEM;
	vl->vqs = kcalloc(c->num_queues, sizeof(*vl->vqs), GFP_KERNEL);
	if (!vl->vqs)
		goto err_put;
	vl->num_queues = c->num_queues;
	/* Every queue initialised before any can fail: release walks them all. */
	for (i = 0; i < vl->num_queues; i++) {
		vl_vq_init(vl, &vl->vqs[i], i);
		vl->vqs[i].max_size = qi[i].max_size;
	}
	for (i = 0; i < vl->num_queues; i++) {
		struct vl_vq *q = &vl->vqs[i];

		*why = "kick_fd";
		q->kick = eventfd_ctx_fdget(qi[i].kick_fd);
		if (IS_ERR(q->kick)) {
			ret = PTR_ERR(q->kick);
			q->kick = NULL;
			goto err_put;
		}
		*why = "call_fd";
		ret = vl_vq_hook_call(q, qi[i].call_fd);
		if (ret)
			goto err_put;
	}

	*why = "config";
	ret = -ENOMEM;
	vl->config = kzalloc(max_t(u32, c->config_size, 1), GFP_KERNEL);
	if (!vl->config)
		goto err_put;
	ret = -EFAULT;
	if (c->config_size &&
	    copy_from_user(vl->config, u64_to_user_ptr(c->config), c->config_size))
		goto err_put;
	vl->config_size = c->config_size;

	*why = "memory region";
	vl->mem = vl_mem_create(vl->mem_size, vl->mem_mode);
	if (IS_ERR(vl->mem)) {
		ret = PTR_ERR(vl->mem);
		vl->mem = NULL;
		goto err_put;
	}
	vl_blk_bound_request(vl);

	*why = "device number";
	ret = ida_alloc_max(&vl_ida, VL_MAX_DEVICES - 1, GFP_KERNEL);
	if (ret < 0)
		goto err_put;
	vl->id = ret;
	ret = -EFAULT;
	if (put_user(vl->id, &uc->id))
		goto err_put;
	*why = "class device";
	ret = dev_set_name(&vl->parent, "vl%d", vl->id);
	if (ret)
		goto err_put;
	ret = vl_mem_attach_dma(vl->mem, &vl->parent);
	if (ret)
		goto err_put;
	ret = device_add(&vl->parent);
	if (ret)
		goto err_put;
	*why = "sysfs";
	ret = vl_sysfs_add_queues(vl);
	if (ret)
		goto err_del;

	vl->vdev.id.device = vl->device_id;
	vl->vdev.id.vendor = vl->vendor_id;
	vl->vdev.config = &vl_config_ops;
	vl->vdev.dev.parent = &vl->parent;
	vl->vdev.dev.release = vl_vdev_release;
	return vl;

err_del:
	device_del(&vl->parent);
err_put:
	put_device(&vl->parent);
	return ERR_PTR(ret);
}

/*
 * Hot-unplug, the same path whatever made the session end: fail the waits,
 * let the transport complete what the back-end owes, have @driver_work
 * unbind the driver and remove sysfs, drop the session's reference. Waits
 * for the driver at most msg_timeout_ms ("Removal" above).
 */
static void vl_device_destroy(struct vl_device *vl)
{
	long left;

	mutex_lock(&vl_devs_lock);
	WRITE_ONCE(vl->persist_state, VL_REMOVING);
	list_del_init(&vl->node);
	mutex_unlock(&vl_devs_lock);

	vl_events_shutdown(vl);
	vl_transport_teardown(vl);

	/* Dropped by the run that finishes the removal. */
	__module_get(THIS_MODULE);
	vl_driver_queue(vl, VL_DRV_DESTROY);
	left = wait_for_completion_killable_timeout(&vl->destroyed, vl_msg_timeout());
	if (left <= 0) {
		dev_warn_ratelimited(&vl->parent,
				     "driver still busy (%s): removal goes on in the background\n",
				     left ? "close killed" : "timed out");
		trace_vl_error(&vl->parent, "remove", "driver still busy",
			       left ? (int)left : -ETIMEDOUT);
	}
	/* The session's reference; the completion is not touched again. */
	put_device(&vl->parent);
}

/*
 * Adapter restart
 *
 * A persistent device (CREATE_F_PERSIST) whose session closes is detached
 * instead of removed: nothing changes for the driver. Its rings, eventfds,
 * memory and in-flight requests stay as they are, so a back-end still
 * running (qemu-storage-daemon finishes what it started when its front-end
 * goes) keeps completing into the rings and the interrupts still arrive.
 * Events the dead adapter read but did not answer go back to the queue;
 * senders keep waiting (bounded by msg_timeout_ms, as always). The session's
 * device reference and a module reference pass to the detached state, and
 * @persist_work is queued with the persist timeout.
 *
 * VIRTIO_LOOPBACK_ATTACH on a fresh session takes both references over
 * (vl_devs_lock decides between attachers and against the timeout: the
 * first to change @persist_state wins) and hands the data path to the new
 * adapter (vl_transport_attach()). When @persist_work runs first, the
 * device is removed exactly as when a non-persistent session closes.
 *
 * Not detached: a broken device, one whose transport already failed, one
 * whose session asked for VIRTIO_LOOPBACK_UNPLUG (orderly removal).
 */
static bool vl_persist_detach(struct vl_device *vl)
{
	unsigned long flags;
	bool detach;

	mutex_lock(&vl_devs_lock);
	detach = vl->persist && vl->persist_state == VL_OWNED &&
		 !READ_ONCE(vl->broken) && !READ_ONCE(vl->dead) &&
		 !test_bit(VL_DRV_UNPLUG_ASKED, &vl->driver_req);
	if (detach) {
		/* Under the lock: no ATTACH installs new kicks meanwhile. */
		vl_transport_detach(vl);
		WRITE_ONCE(vl->persist_state, VL_DETACHED);
		WRITE_ONCE(vl->owner_tgid, 0);
		/* The detached device pins the module (rmmod: "in use"). */
		__module_get(THIS_MODULE);
		/* Read by the dead adapter, never answered: for the next one. */
		spin_lock_irqsave(&vl->ev_lock, flags);
		list_splice_init(&vl->ev_waiting, &vl->ev_pending);
		spin_unlock_irqrestore(&vl->ev_lock, flags);
		queue_delayed_work(vl_wq, &vl->persist_work,
				   msecs_to_jiffies(vl->persist_timeout_ms));
	}
	mutex_unlock(&vl_devs_lock);
	if (detach) {
		dev_info(&vl->parent, "adapter gone: waiting %u ms for another to attach\n",
			 vl->persist_timeout_ms);
	}
	return detach;
}

static void vl_persist_work(struct work_struct *work)
{
	struct vl_device *vl = container_of(to_delayed_work(work), struct vl_device,
					    persist_work);
	bool expired;

	mutex_lock(&vl_devs_lock);
	expired = vl->persist_state == VL_DETACHED;
	if (expired)
		WRITE_ONCE(vl->persist_state, VL_REMOVING);
	mutex_unlock(&vl_devs_lock);
	/* Attached meanwhile: the new session owns the device. */
	if (!expired)
		return;
	dev_warn(&vl->parent, "no adapter attached within %u ms: removing the device\n",
		 vl->persist_timeout_ms);
	trace_vl_error(&vl->parent, "persist", "no adapter attached", -ETIMEDOUT);
	/* Drops the reference the closed session left to the detached state. */
	vl_device_destroy(vl);
	/*
	 * The detached state's module reference. vl_exit() destroys vl_wq,
	 * which waits for this function to return, before the module goes.
	 */
	module_put(THIS_MODULE);
}

/* ------------------------------------------------------------------ */
/* ioctls                                                               */
/* ------------------------------------------------------------------ */

/*
 * An extensible ioctl argument: @usize (its first field, set by user space)
 * says how much of it the caller knows. At least @min bytes, at most a
 * page; bytes past @size must be zero (copy_struct_from_user()).
 */
static int vl_copy_sized(void *dst, size_t size, size_t min,
			 const void __user *src, const u32 __user *usize)
{
	u32 n;

	if (get_user(n, usize))
		return -EFAULT;
	if (n < min)
		return -EINVAL;
	if (n > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(dst, size, src, n);
}

static long vl_ioctl_create(struct vl_session *s,
			    struct virtio_loopback_create __user *uc,
			    const char **why)
{
	struct virtio_loopback_queue_info *qi;
	struct virtio_loopback_create c;
	struct vl_device *vl;
	long ret;

	mutex_lock(&s->lock);
	*why = "session owns a device";
	ret = -EBUSY;
	if (s->vl)
		goto out;
	*why = "size";
	ret = vl_copy_sized(&c, sizeof(c), VL_CREATE_SIZE_V1, uc, &uc->size);
	if (ret)
		goto out;
	ret = vl_validate_create(&c, &qi, why);
	if (ret)
		goto out;
	vl = vl_device_create(&c, qi, uc, why);
	kfree(qi);
	if (IS_ERR(vl)) {
		ret = PTR_ERR(vl);
		goto out;
	}
	mutex_lock(&vl_devs_lock);
	list_add_tail(&vl->node, &vl_devs);
	mutex_unlock(&vl_devs_lock);
	/* Publish the device to the other file operations. */
	smp_store_release(&s->vl, vl);
	/* The virtio device's reference, dropped by its release. */
	get_device(&vl->parent);
	trace_vl_add(vl);
	vl_driver_queue(vl, VL_DRV_REGISTER);
	ret = 0;
out:
	mutex_unlock(&s->lock);
	return ret;
}

/* The new eventfds of an ATTACH, taken before anything changes. */
struct vl_attach_fds {
	u32 n;
	struct eventfd_ctx **kicks;
	struct file **calls;
};

static void vl_attach_fds_put(struct vl_attach_fds *f)
{
	u32 i;

	for (i = 0; i < f->n; i++) {
		if (f->kicks && !IS_ERR_OR_NULL(f->kicks[i]))
			eventfd_ctx_put(f->kicks[i]);
		if (f->calls && !IS_ERR_OR_NULL(f->calls[i]))
			fput(f->calls[i]);
	}
	kfree(f->kicks);
	kfree(f->calls);
}

static int vl_attach_fds_get(struct vl_attach_fds *f,
			     const struct virtio_loopback_attach *a,
			     struct virtio_loopback_queue_info **qi)
{
	struct virtio_loopback_queue_info *q;
	u32 i;

	*qi = NULL;
	q = memdup_array_user(u64_to_user_ptr(a->queues), a->num_queues, sizeof(*q));
	if (IS_ERR(q))
		return PTR_ERR(q);
	*qi = q;
	for (i = 0; i < a->num_queues; i++)
		if (q[i].reserved0 || q[i].reserved1 || q[i].kick_fd < 0 || q[i].call_fd < 0)
			return -EINVAL;
	f->kicks = kcalloc(a->num_queues, sizeof(*f->kicks), GFP_KERNEL);
	f->calls = kcalloc(a->num_queues, sizeof(*f->calls), GFP_KERNEL);
	if (!f->kicks || !f->calls)
		return -ENOMEM;
	f->n = a->num_queues;
	for (i = 0; i < a->num_queues; i++) {
		f->kicks[i] = eventfd_ctx_fdget(q[i].kick_fd);
		if (IS_ERR(f->kicks[i]))
			return PTR_ERR(f->kicks[i]);
		/* -EBADF, or -EINVAL when not an eventfd. */
		f->calls[i] = eventfd_fget(q[i].call_fd);
		if (IS_ERR(f->calls[i]))
			return PTR_ERR(f->calls[i]);
	}
	return 0;
}

/* Under vl_devs_lock: the device named @name that ATTACH may take. */
static struct vl_device *vl_attach_find(const struct virtio_loopback_attach *a,
					const struct virtio_loopback_queue_info *qi)
{
	struct vl_device *vl;
	u32 i;

	lockdep_assert_held(&vl_devs_lock);
	list_for_each_entry(vl, &vl_devs, node) {
		if (strcmp(dev_name(&vl->parent), a->name))
			continue;
		if (vl->persist_state == VL_REMOVING)
			return ERR_PTR(-ENOENT);
		if (!vl->persist)
			return ERR_PTR(-EPERM);
		if (vl->persist_state != VL_DETACHED)
			return ERR_PTR(-EBUSY);
		if (READ_ONCE(vl->broken))
			return ERR_PTR(-EIO);
		if (a->device_id != vl->device_id || a->num_queues != vl->num_queues)
			return ERR_PTR(-EINVAL);
		for (i = 0; i < vl->num_queues; i++)
			if (qi[i].max_size != vl->vqs[i].max_size)
				return ERR_PTR(-EINVAL);
		return vl;
	}
	return ERR_PTR(-ENOENT);
}

static long vl_ioctl_attach(struct vl_session *s,
			    struct virtio_loopback_attach __user *ua,
			    const char **why)
{
	struct virtio_loopback_queue_info *qi = NULL;
	struct vl_attach_fds fds = { 0 };
	struct virtio_loopback_attach a;
	struct vl_device *vl;
	long ret;

	mutex_lock(&s->lock);
	*why = "session owns a device";
	ret = -EBUSY;
	if (s->vl)
		goto out;
	*why = "size";
	ret = vl_copy_sized(&a, sizeof(a), VL_ATTACH_SIZE_V1, ua, &ua->size);
	if (ret)
		goto out;
	*why = "flags, reserved, name or num_queues";
	ret = -EINVAL;
	if (a.flags || a.reserved0 || memchr_inv(a.reserved, 0, sizeof(a.reserved)) ||
	    !memchr(a.name, 0, sizeof(a.name)) || !a.name[0] ||
	    !a.num_queues || a.num_queues > VIRTIO_LOOPBACK_MAX_QUEUES)
		goto out;
	*why = "queues or their fds";
	ret = vl_attach_fds_get(&fds, &a, &qi);
	if (ret)
		goto out;
	*why = "no detached device of that name and shape";

	mutex_lock(&vl_devs_lock);
	vl = vl_attach_find(&a, qi);
	if (!IS_ERR(vl)) {
		/* Ours: the timeout and any other attacher see this first. */
		WRITE_ONCE(vl->persist_state, VL_OWNED);
		WRITE_ONCE(vl->owner_tgid, task_tgid_nr(current));
	}
	mutex_unlock(&vl_devs_lock);
	if (IS_ERR(vl)) {
		ret = PTR_ERR(vl);
		goto out;
	}
	/* A run already under way finds VL_OWNED and returns. */
	cancel_delayed_work(&vl->persist_work);
	vl_transport_attach(vl, fds.kicks, fds.calls);
	/* The detached state's references pass to the session. */
	smp_store_release(&s->vl, vl);
	module_put(THIS_MODULE);
	dev_info(&vl->parent, "adapter attached (pid %d)\n", task_tgid_nr(current));

	a.device_features = vl->device_features;
	a.driver_features = vl_driver_features(vl);
	a.mem_size = vl->mem_size;
	a.status = READ_ONCE(vl->status);
	a.id = vl->id;
	a.index = vl_core_live(vl) ? vl->vdev.index : ~0U;
	a.mem_mode = vl->mem_mode;
	a.persist_timeout_ms = vl->persist_timeout_ms;
	ret = copy_to_user(ua, &a, sizeof(a)) ? -EFAULT : 0;
out:
	vl_attach_fds_put(&fds);
	kfree(qi);
	mutex_unlock(&s->lock);
	return ret;
}

static long vl_ioctl_get_vq_info(struct vl_device *vl,
				 struct virtio_loopback_vq_info __user *uinfo,
				 const char **why)
{
	struct virtio_loopback_vq_info info;
	unsigned long flags;
	struct vl_vq *q;

	if (copy_from_user(&info, uinfo, sizeof(info)))
		return -EFAULT;
	*why = "index";
	if (info.index >= vl->num_queues)
		return -EINVAL;
	q = &vl->vqs[array_index_nospec(info.index, vl->num_queues)];
	info = (struct virtio_loopback_vq_info){ .index = info.index };
	spin_lock_irqsave(&q->lock, flags);
	if (q->vq) {
		info.ready = 1;
		/* The ring the back-end serves: the relay's, if any. */
		info.num = q->relay.mem ? q->relay.num : q->num;
		info.desc = q->desc_iova;
		info.avail = q->avail_iova;
		info.used = q->used_iova;
	}
	spin_unlock_irqrestore(&q->lock, flags);
	if (copy_to_user(uinfo, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long vl_ioctl_rewind_vq(struct vl_device *vl,
			       struct virtio_loopback_vq_rewind __user *ur,
			       const char **why)
{
	struct virtio_loopback_vq_rewind rw;
	u32 outstanding = 0;
	struct vl_vq *q;
	u16 base = 0;
	int ret;

	if (copy_from_user(&rw, ur, sizeof(rw)))
		return -EFAULT;
	*why = "index, flags or reserved";
	if (rw.index >= vl->num_queues || (rw.flags & ~VIRTIO_LOOPBACK_REWIND_F_QUERY) ||
	    rw.reserved[0] || rw.reserved[1])
		return -EINVAL;
	q = &vl->vqs[array_index_nospec(rw.index, vl->num_queues)];
	ret = vl_vq_rewind(q, rw.flags & VIRTIO_LOOPBACK_REWIND_F_QUERY, &base, &outstanding);
	trace_vl_queue_rewind(q, base, outstanding, ret);
	*why = "queue not set up, failing or not tracked";
	if (ret)
		return ret;
	rw.base = base;
	rw.outstanding = outstanding;
	if (copy_to_user(ur, &rw, sizeof(rw)))
		return -EFAULT;
	return 0;
}

/* The fd is installed only once the answer reached user space. */
static long vl_ioctl_get_mem_region(struct vl_device *vl,
				    struct virtio_loopback_mem_region __user *ur,
				    const char **why)
{
	struct virtio_loopback_mem_region r;
	struct file *file;
	int fd;

	if (copy_from_user(&r, ur, sizeof(r)))
		return -EFAULT;
	*why = "flags or reserved";
	if (r.flags || r.reserved)
		return -EINVAL;
	*why = "fd";
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	*why = "region";
	file = vl_mem_open_region(vl->mem, &r);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	r.fd = fd;
	if (copy_to_user(ur, &r, sizeof(r))) {
		fput(file);
		put_unused_fd(fd);
		return -EFAULT;
	}
	fd_install(fd, file);
	return 0;
}

static long vl_ioctl_set_config(struct vl_device *vl,
				struct virtio_loopback_config __user *ucfg,
				const char **why)
{
	u8 data[VIRTIO_LOOPBACK_MAX_CONFIG_SIZE];
	struct virtio_loopback_config cfg;
	unsigned long flags;
	bool notify;

	if (copy_from_user(&cfg, ucfg, sizeof(cfg)))
		return -EFAULT;
	*why = "flags or reserved";
	if (cfg.flags & ~VIRTIO_LOOPBACK_CONFIG_F_NOTIFY || cfg.reserved0 ||
	    cfg.reserved[0] || cfg.reserved[1])
		return -EINVAL;
	*why = "offset or len beyond config_size";
	if (cfg.offset > vl->config_size || cfg.len > vl->config_size - cfg.offset)
		return -EINVAL;
	if (copy_from_user(data, u64_to_user_ptr(cfg.data), cfg.len))
		return -EFAULT;

	spin_lock_irqsave(&vl->config_lock, flags);
	memcpy(vl->config + cfg.offset, data, cfg.len);
	vl_blk_bound_request(vl);
	vl->config_gen++;
	spin_unlock_irqrestore(&vl->config_lock, flags);

	/*
	 * Before the core knows the device, probe will read the new copy; during
	 * probe the core defers the change until the driver is ready.
	 */
	notify = (cfg.flags & VIRTIO_LOOPBACK_CONFIG_F_NOTIFY) && vl_core_live(vl);
	trace_vl_config(vl, cfg.offset, cfg.len, false, notify);
	if (notify)
		virtio_config_changed(&vl->vdev);
	return 0;
}

/* The request's name in the vl_error tracepoint. */
static const char *vl_ioctl_name(unsigned int cmd)
{
	switch (cmd) {
	case VIRTIO_LOOPBACK_GET_API_VERSION:
		return "GET_API_VERSION";
	case VIRTIO_LOOPBACK_CREATE:
		return "CREATE";
	case VIRTIO_LOOPBACK_ATTACH:
		return "ATTACH";
	case VIRTIO_LOOPBACK_GET_VQ_INFO:
		return "GET_VQ_INFO";
	case VIRTIO_LOOPBACK_SET_CONFIG:
		return "SET_CONFIG";
	case VIRTIO_LOOPBACK_GET_MEM_FD:
		return "GET_MEM_FD";
	case VIRTIO_LOOPBACK_GET_MEM_REGION:
		return "GET_MEM_REGION";
	case VIRTIO_LOOPBACK_UNPLUG:
		return "UNPLUG";
	case VIRTIO_LOOPBACK_REWIND_VQ:
		return "REWIND_VQ";
	}
	return "ioctl";
}

/*
 * Device ioctls before CREATE fail with -ENODEV; on a broken device with
 * -EIO. Unknown commands: -ENOIOCTLCMD (the VFS returns -ENOTTY). *@why
 * names what failed, when the errno alone does not.
 */
static long vl_ioctl_cmd(struct file *file, unsigned int cmd, void __user *argp,
			 const char **why)
{
	struct vl_session *s = file->private_data;
	struct vl_device *vl;

	switch (cmd) {
	case VIRTIO_LOOPBACK_GET_API_VERSION:
		return put_user((u64)VIRTIO_LOOPBACK_API_VERSION, (u64 __user *)argp);
	case VIRTIO_LOOPBACK_CREATE:
		return vl_ioctl_create(s, argp, why);
	case VIRTIO_LOOPBACK_ATTACH:
		return vl_ioctl_attach(s, argp, why);
	case VIRTIO_LOOPBACK_GET_VQ_INFO:
	case VIRTIO_LOOPBACK_SET_CONFIG:
	case VIRTIO_LOOPBACK_GET_MEM_FD:
	case VIRTIO_LOOPBACK_GET_MEM_REGION:
	case VIRTIO_LOOPBACK_UNPLUG:
	case VIRTIO_LOOPBACK_REWIND_VQ:
		break;
	default:
		*why = "unknown command";
		return -ENOIOCTLCMD;
	}

	vl = vl_session_device(file);
	*why = "no device (before CREATE)";
	if (!vl)
		return -ENODEV;
	/* Also a broken device may be removed in order. */
	if (cmd == VIRTIO_LOOPBACK_UNPLUG) {
		*why = "already asked";
		if (test_and_set_bit(VL_DRV_UNPLUG_ASKED, &vl->driver_req))
			return -EALREADY;
		vl_driver_queue(vl, VL_DRV_UNPLUG);
		return 0;
	}
	*why = "device broken";
	if (READ_ONCE(vl->broken))
		return -EIO;
	*why = NULL;
	switch (cmd) {
	case VIRTIO_LOOPBACK_GET_VQ_INFO:
		return vl_ioctl_get_vq_info(vl, argp, why);
	case VIRTIO_LOOPBACK_SET_CONFIG:
		return vl_ioctl_set_config(vl, argp, why);
	case VIRTIO_LOOPBACK_GET_MEM_REGION:
		return vl_ioctl_get_mem_region(vl, argp, why);
	case VIRTIO_LOOPBACK_REWIND_VQ:
		return vl_ioctl_rewind_vq(vl, argp, why);
	default:
		return vl_mem_get_fd(vl->mem);
	}
}

static long vl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const char *why = NULL;
	struct vl_device *vl;
	long ret;

	ret = vl_ioctl_cmd(file, cmd, (void __user *)arg, &why);
	if (ret < 0 && trace_vl_error_enabled()) {
		/* A failed CREATE or ATTACH has no device: "-". */
		vl = vl_session_device(file);
		trace_vl_error(vl ? &vl->parent : NULL, vl_ioctl_name(cmd),
			       ret == -EFAULT ? "copy from or to user space" : why ?: "-",
			       ret);
	}
	return ret;
}

static int vl_open(struct inode *inode, struct file *file)
{
	struct vl_session *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->lock);
	file->private_data = s;
	return 0;
}

static int vl_release(struct inode *inode, struct file *file)
{
	struct vl_session *s = file->private_data;
	struct vl_device *vl = s->vl;

	if (vl && !vl_persist_detach(vl)) {
		/* A timeout run that lost against this session's ATTACH. */
		cancel_delayed_work_sync(&vl->persist_work);
		vl_device_destroy(vl);
	}
	mutex_destroy(&s->lock);
	kfree(s);
	return 0;
}

static const struct file_operations vl_fops = {
	.owner		= THIS_MODULE,
	.open		= vl_open,
	.release	= vl_release,
	.read		= vl_read,
	.write		= vl_write,
	.poll		= vl_poll,
	.unlocked_ioctl	= vl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "virtio-loopback",
	.fops	= &vl_fops,
	.mode	= 0600,
};

/* ------------------------------------------------------------------ */
/* Module                                                               */
/* ------------------------------------------------------------------ */

static int __init vl_init(void)
{
	int ret;

	ret = vl_mem_init();
	if (ret)
		return ret;
	vl_class = vl_class_create("virtio-loopback");
	if (IS_ERR(vl_class)) {
		ret = PTR_ERR(vl_class);
		goto err_mem;
	}
	/* The largest max_active: a stuck device holds one worker, no more. */
	vl_wq = alloc_workqueue("virtio-loopback", WQ_UNBOUND, WQ_MAX_ACTIVE);
	if (!vl_wq) {
		ret = -ENOMEM;
		goto err_class;
	}
	ret = misc_register(&vl_misc);
	if (ret)
		goto err_wq;
	return 0;

err_wq:
	destroy_workqueue(vl_wq);
err_class:
	class_destroy(vl_class);
err_mem:
	vl_mem_exit();
	return ret;
}

static void __exit vl_exit(void)
{
	misc_deregister(&vl_misc);
	/*
	 * No session and no removal is left (each pins the module); wait for
	 * late releases. destroy_workqueue() also waits for the last
	 * vl_driver_work() to return after its module_put().
	 */
	wait_event(vl_live_wq, !atomic_read(&vl_live));
	destroy_workqueue(vl_wq);
	class_destroy(vl_class);
	vl_mem_exit();
	ida_destroy(&vl_ida);
}

module_init(vl_init);
module_exit(vl_exit);

MODULE_DESCRIPTION("virtio transport for devices served by vhost-user back-ends");
MODULE_LICENSE("GPL");
