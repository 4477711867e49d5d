/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal objects of virtio_loopback.ko, shared by vl_main.c (control
 * node, sessions, events, sysfs) and vl_transport.c (virtio_config_ops,
 * virtqueues, eventfds, in-flight tracking, teardown).
 *
 * Lifetime: one struct vl_device per device, embedded struct device
 * @parent is its reference count (the parent's release frees it). The
 * owning session holds the initial reference; the registered virtio
 * device holds one more (dropped in its own release), and so does every
 * queued run of @driver_work (dropped at the end of that run).
 */
#ifndef VL_DEVICE_H
#define VL_DEVICE_H

#include <linux/completion.h>
#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/irq_work.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/virtio.h>
#include <linux/virtio_ring.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/virtio_loopback.h>

struct vl_mem;
struct vl_device;

/**
 * struct vl_shadow - which descriptor chains of a split ring are in flight
 * @count: per head: times seen in the avail ring minus times seen in the
 *         used ring; 0 or 1 when consistent. Signed counters rather than a
 *         bitmap, so that a chain made available and used between two scans
 *         (or recycled by a polling driver) nets out whatever the order.
 * @num: ring size (entries in @count)
 * @last_avail: avail ring index up to which entries were counted
 * @last_used: used ring index up to which entries were counted
 * @outstanding: heads with a non-zero count
 * @bad: heads whose count is neither 0 nor 1
 * @lost: tracking is not trustworthy (more than @num entries passed between
 *        two scans, an out-of-range head, or counts that disagree with the
 *        ring); cleared again when the ring is seen empty
 *
 * This is the unit a back-end restart will use to resubmit requests.
 * Protected by the owning struct vl_vq's @lock.
 */
struct vl_shadow {
	s16 *count;
	u32 num;
	u16 last_avail;
	u16 last_used;
	u32 outstanding;
	u32 bad;
	bool lost;
};

/* Relay: ring entries, bytes of its FIFO at most, bytes per entry at most. */
#define VL_RELAY_NUM	64
#define VL_RELAY_FIFO	(256 * 1024)
#define VL_RELAY_SPAN	(16 * 1024)
/* Below this much room in the FIFO, mappings towards the device wait. */
#define VL_RELAY_HOLD	(4 * PAGE_SIZE)

/**
 * struct vl_relay - the ring a back-end serves instead of the driver's
 * @mem: kernel address of the allocation: the FIFO, then the descriptor
 *       table, avail and used rings (coherent, in the region)
 * @iova: IOVA of @mem (and of the FIFO)
 * @bytes: size of the allocation
 * @desc: descriptor table
 * @avail: avail ring
 * @used: used ring (written by the back-end: untrusted)
 * @desc_iova: IOVA of @desc
 * @avail_iova: IOVA of @avail
 * @used_iova: IOVA of @used
 * @num: ring entries (power of two, at most VL_RELAY_NUM)
 * @fifo_size: bytes of the FIFO (power of two)
 * @head: FIFO position (free-running) where the next driver byte goes
 * @posted: FIFO position up to which bytes are in posted ring entries
 * @tail: FIFO position up to which the back-end gave the bytes back
 * @span_end: per ring entry, the FIFO position after its bytes
 * @busy: ring entries the back-end has not given back
 * @next_avail: the next avail ring index we publish
 * @oldest: the oldest ring entry whose bytes are not released (@tail)
 * @last_used: used ring index up to which entries were taken back
 * @driver_avail: the driver's avail ring index up to which chains were
 *                relayed and completed
 * @driver_used: the next used ring index we write in the driver's ring
 * @bytes_relayed: bytes handed to the back-end (sysfs)
 * @bytes_dropped: bytes dropped because the FIFO was full (sysfs)
 *
 * See "Relayed queues" in vl_transport.c. Protected by the owning
 * struct vl_vq's @lock.
 */
struct vl_relay {
	u8 *mem;
	dma_addr_t iova;
	size_t bytes;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	u64 desc_iova;
	u64 avail_iova;
	u64 used_iova;
	u16 num;
	u32 fifo_size;
	u32 head;
	u32 posted;
	u32 tail;
	u32 span_end[VL_RELAY_NUM];
	DECLARE_BITMAP(busy, VL_RELAY_NUM);
	u16 next_avail;
	u16 oldest;
	u16 last_used;
	u16 driver_avail;
	u16 driver_used;
	u64 bytes_relayed;
	u64 bytes_dropped;
};

/**
 * struct vl_vq - one virtqueue of a device
 * @vl: owning device
 * @index: queue index
 * @max_size: largest ring the back-end accepts (from CREATE)
 * @kick: eventfd signalled by vl_notify()
 * @call: eventfd whose wake-ups are used-buffer interrupts
 * @call_wait: our entry on @call's wait queue (irqfd pattern)
 * @call_pt: poll table used once to add @call_wait
 * @call_hooked: @call_wait is on the wait queue (process context only)
 * @kick_work: signals @kick when vl_notify() runs inside an eventfd wake-up
 * @irq_work: runs vring_interrupt() in hard-IRQ-like context
 * @sweep_work: zero-copy: zaps the back-end's mappings of completed
 *              buffers before @irq_work may deliver the interrupt (on
 *              vl_mem_wq)
 * @sweep_tw: zero-copy: the same sweep, run by the back-end thread that
 *            signalled the call on its way back to user space (no
 *            context switch, and the TLB flush of the zap stays local)
 * @dead_work: dead mode: hands back, empty, the receive buffers posted
 *             after the failure (see vl_chain_is_request())
 * @flags: VL_VQ_* bits (atomic bitops)
 * @lock: protects every member below. Taken with irqsave from the notify
 *        path (any context), the call wake-up (eventfd wqh lock held,
 *        IRQs off), @irq_work (hard IRQ), find_vqs/del_vqs and teardown
 *        (process). Never held across vring_interrupt() or an eventfd
 *        signal of a kick.
 * @vq: the virtio core's queue, NULL when not set up
 * @num: ring size the driver chose
 * @desc_iova: IOVA of the descriptor table the back-end serves (the
 *             driver's, or @relay's)
 * @avail_iova: IOVA of the avail ring the back-end serves
 * @used_iova: IOVA of the used ring the back-end serves
 * @desc: kernel address of the descriptor table (in the bounce region)
 * @avail: kernel address of the avail ring
 * @used: kernel address of the used ring
 * @shadow: in-flight tracking
 * @relay: the transport completes the driver's chains itself and hands
 *         the bytes to the back-end through a ring of its own (@relay.mem
 *         non-NULL); see vl_queue_is_relayed()
 * @swept_used: used index up to which completed chains were swept (zero-copy)
 * @garbage: the back-end wrote a used entry no device may write; the shadow
 *           stops before it and the driver never gets to see it
 * @dead: teardown mode: vl_notify() completes new chains with an error
 * @kicks: notifications from the driver (sysfs)
 * @interrupts: vring_interrupt() calls (sysfs)
 * @kobj: queues/<index> directory in sysfs, NULL if none
 */
/* Bits of struct vl_vq.flags. */
#define VL_VQ_SWEPT	0	/* @sweep_work ran: @irq_work delivers at once */
#define VL_VQ_SWEEP_TW	1	/* @sweep_tw is queued on a task */

struct vl_vq {
	struct vl_device *vl;
	u32 index;
	u16 max_size;
	struct eventfd_ctx *kick;
	struct eventfd_ctx *call;
	wait_queue_entry_t call_wait;
	poll_table call_pt;
	bool call_hooked;
	struct irq_work kick_work;
	struct irq_work irq_work;
	struct work_struct sweep_work;
	struct callback_head sweep_tw;
	struct delayed_work dead_work;
	unsigned long flags;

	spinlock_t lock;
	struct virtqueue *vq;
	u32 num;
	u64 desc_iova;
	u64 avail_iova;
	u64 used_iova;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vl_shadow shadow;
	struct vl_relay relay;
	u16 swept_used;
	bool garbage;
	bool dead;
	u64 kicks;
	u64 interrupts;

	struct kobject *kobj;
};

/**
 * struct vl_event - an event queued for the adapter
 * @node: on &vl_device.ev_pending (not read yet) or &vl_device.ev_waiting
 *        (read, reply expected)
 * @ev: what read() returns
 * @done: completed when a reply arrives or the wait is cancelled
 * @result: the reply's result (or -ENODEV when the adapter went away)
 * @waiter: a sleeping thread owns (and frees) this event; otherwise the
 *          reader frees it once copied out
 */
struct vl_event {
	struct list_head node;
	struct virtio_loopback_event ev;
	struct completion done;
	int result;
	bool waiter;
};

/* Why a device was broken (reported in sysfs "broken"). */
enum vl_broken {
	VL_OK = 0,
	VL_BROKEN_TIMEOUT,	/* the adapter did not answer in time */
	VL_BROKEN_REFUSED,	/* the adapter answered with an error */
	VL_BROKEN_RING,		/* ring state we cannot trust */
	VL_BROKEN_BACKEND,	/* the back-end wrote an invalid used entry */
};

/**
 * struct vl_device - one virtio-loopback device
 * @parent: class device vl<id>; DMA device of the rings; reference count
 *          of this struct (its release frees it). Its drvdata belongs to
 *          vl_dma.c.
 * @vdev: the virtio device registered with the core (vdev.dev.parent =
 *        @parent)
 * @id: number from vl_ida (the name vl<id>), -1 if none
 * @device_id: virtio device id
 * @vendor_id: virtio vendor id
 * @owner_tgid: tgid of the process that created the device
 * @device_features: features the back-end offered, as given to CREATE
 * @quirk_features: device features the transport offers the driver on top
 *                  of @device_features (never reported to the back-end)
 * @mem: memory region (rings and bounce buffers)
 * @mem_mode: VIRTIO_LOOPBACK_MEM_*
 * @mem_size: bytes in @mem
 * @num_queues: entries in @vqs
 * @vqs: per-queue state
 * @queues_kobj: the queues/ directory in sysfs
 * @dma_parms: DMA limits of @parent, the device drivers map through
 *             (virtio-gpu sets its segment size, which WARNs without them)
 * @config_lock: protects @config and @config_gen; irqsave (driver get/set
 *               may run in atomic context; SET_CONFIG ioctl)
 * @config: the kernel's copy of the config space
 * @config_size: bytes in @config
 * @config_gen: bumped on every update of @config
 * @status: device status; written only by the virtio core's set_status and
 *          reset callbacks (serialised by the core), read locklessly
 * @started: an EV_DRIVER_OK was queued since the last reset
 * @ev_lock: protects @ev_pending, @ev_waiting, @seq, @gone and @broken;
 *           irqsave (config writes queue events from atomic context)
 * @ev_pending: events queued for read()
 * @ev_waiting: events read but not answered yet
 * @seq: last sequence number handed out
 * @gone: the session is closing: nothing is queued, nobody waits
 * @broken: enum vl_broken; non-zero makes read() fail with -EIO
 * @ev_wq: readers and pollers of the session
 * @driver_work: everything that calls into the virtio core and the driver
 *               (register, VIRTIO_LOOPBACK_UNPLUG, the end of the removal),
 *               one step at a time, outside the ioctl and release paths
 *               (see "Removal" in vl_main.c)
 * @driver_req: steps @driver_work has to do (VL_DRV_* bits in vl_main.c,
 *              atomic bitops)
 * @destroyed: completed by @driver_work once the removal is done
 * @break_work: breaks the device from process context (ring errors are
 *              found in atomic context, virtio_break_device() wants none)
 * @garbage_work: fails the device (memory revoked, requests completed with
 *                errors) after the back-end wrote an invalid used entry
 * @registered: @vdev is registered (set and cleared by @driver_work;
 *              read locklessly with acquire semantics)
 * @core_live: the virtio core has initialised @vdev (index assigned,
 *             config_lock ready): set with release semantics by the first
 *             reset(), which register_virtio_device() calls before probing
 * @dead: teardown reached the point where the transport completes chains
 *        itself; queues set up from now on start dead
 * @node: on the list of devices ATTACH looks in (vl_devs in vl_main.c),
 *        under vl_devs_lock
 * @persist: created with VIRTIO_LOOPBACK_CREATE_F_PERSIST
 * @persist_timeout_ms: how long a detached device waits for ATTACH
 * @persist_state: enum vl_persist_state; under vl_devs_lock
 * @persist_work: removes a detached device when nobody attached in time
 *                (on vl_wq, as the driver steps)
 */
struct vl_device {
	struct device parent;
	struct virtio_device vdev;
	int id;
	u32 device_id;
	u32 vendor_id;
	pid_t owner_tgid;
	u64 device_features;
	u64 quirk_features;
	struct vl_mem *mem;
	u32 mem_mode;
	u64 mem_size;
	u32 num_queues;
	struct vl_vq *vqs;
	struct kobject *queues_kobj;
	struct device_dma_parameters dma_parms;

	spinlock_t config_lock;
	u8 *config;
	u32 config_size;
	u32 config_gen;

	u8 status;
	bool started;

	spinlock_t ev_lock;
	struct list_head ev_pending;
	struct list_head ev_waiting;
	u32 seq;
	bool gone;
	int broken;
	wait_queue_head_t ev_wq;

	struct work_struct driver_work;
	unsigned long driver_req;
	struct completion destroyed;
	struct work_struct break_work;
	struct work_struct garbage_work;
	bool registered;
	bool core_live;
	bool dead;

	struct list_head node;
	bool persist;
	u32 persist_timeout_ms;
	int persist_state;
	struct delayed_work persist_work;
};

/* Who owns a device (struct vl_device.persist_state). */
enum vl_persist_state {
	VL_OWNED = 0,	/* a session owns it */
	VL_DETACHED,	/* persistent, its session closed: waits for ATTACH */
	VL_REMOVING,	/* being removed: ATTACH finds nothing */
};

static inline struct vl_device *vl_from_vdev(struct virtio_device *vdev)
{
	return container_of(vdev, struct vl_device, vdev);
}

static inline struct vl_device *vl_from_parent(struct device *dev)
{
	return container_of(dev, struct vl_device, parent);
}

/* vl_main.c */
#define VL_MAX_TEARDOWN_GRACE_MS 30000
extern unsigned int vl_msg_timeout_ms;
extern unsigned int vl_teardown_grace_ms;

/**
 * vl_event_send() - queue an event for the adapter, optionally wait
 * @vl: device
 * @ev: event to send (type, flags, payload); seq is filled in
 * @gfp: allocation flags (GFP_ATOMIC in atomic context)
 *
 * With VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY the caller sleeps (process
 * context) for at most msg_timeout_ms, killable. A timeout, a signal or a
 * negative reply breaks the device.
 * Returns: the reply's result, 0 when no reply is needed or nobody is
 * there to answer (session closing), or a negative errno.
 */
int vl_event_send(struct vl_device *vl, const struct virtio_loopback_event *ev,
		  gfp_t gfp);

/**
 * vl_device_break() - mark the device broken (process context, sleeps)
 * @vl: device
 * @why: enum vl_broken reason; the first one sticks
 *
 * Fails every wait and wakes readers (read() -EIO, poll() EPOLLERR, device
 * ioctls -EIO). When the adapter timed out or refused, the back-end is cut
 * off and the transport completes every request with an error from now on
 * (vl_transport_fail()): merely breaking the virtqueues would leave
 * requests that were queued, or that a driver thinks it queued (virtio-rng
 * ignores a failed add), waiting for ever, and the driver's removal with
 * them. When the rings themselves cannot be trusted, the virtqueues are
 * broken instead.
 */
void vl_device_break(struct vl_device *vl, int why);

/* vl_transport.c */
extern const struct virtio_config_ops vl_config_ops;

/**
 * vl_vq_hook_call() - hook a queue's call eventfd (irqfd pattern)
 * @q: queue, @q->vl set
 * @fd: the call eventfd
 *
 * Process context. Returns: 0, -EBADF or -EINVAL (not an eventfd).
 */
int vl_vq_hook_call(struct vl_vq *q, int fd);

/** vl_vq_unhook_call() - undo vl_vq_hook_call(); sleeps; idempotent */
void vl_vq_unhook_call(struct vl_vq *q);

/** vl_vq_init() - initialise the locks and irq_works of a queue */
void vl_vq_init(struct vl_device *vl, struct vl_vq *q, u32 index);

/**
 * vl_vq_rewind() - hand a queue to a new back-end
 * @q: queue
 * @query: change nothing; @base is the used index
 * @base: (out) avail index the new back-end starts at
 * @outstanding: (out) chains it finds again before the avail index
 *
 * See VIRTIO_LOOPBACK_REWIND_VQ. Process context (allocates).
 * Returns: 0, -ENOENT (queue not set up), -EIO (device failing or
 * garbage seen), -ESTALE (in-flight set unknown) or -ENOMEM.
 */
int vl_vq_rewind(struct vl_vq *q, bool query, u16 *base, u32 *outstanding);

/**
 * vl_driver_features() - the features the driver accepted, as reported to
 * the adapter in EV_DRIVER_OK (0 before the core knows the device)
 * @vl: device
 */
u64 vl_driver_features(struct vl_device *vl);

/**
 * vl_transport_detach() - the adapter of a persistent device went away
 * @vl: device, detached
 *
 * Stops kicking the old back-end: it finishes (and completes, through the
 * call eventfds still hooked) what it took, but is not woken for new
 * requests, which wait in the rings for the next back-end. A back-end
 * kicked for new work after its front-end left may take it while it
 * winds down (qemu-storage-daemon 7.2 aborts then). Sleeps.
 */
void vl_transport_detach(struct vl_device *vl);

/**
 * vl_transport_attach() - hand a detached device's data path to a new
 * adapter
 * @vl: device, owned again by the attaching session (no teardown can run)
 * @kicks: per queue, the new kick eventfd (the reference moves to @vl)
 * @calls: per queue, the new call eventfd's file (the caller keeps its
 *         reference)
 *
 * Replaces the eventfds (the old ones are released), in ZERO_COPY mode
 * takes every page shared in place away from the old back-end's mappings,
 * and runs each queue's interrupt once for completions that came while the
 * call eventfd changed. Sleeps.
 */
void vl_transport_attach(struct vl_device *vl, struct eventfd_ctx **kicks,
			 struct file **calls);

/**
 * vl_transport_fail() - cut the back-end off, complete requests ourselves
 * @vl: device
 * @why: for the log
 *
 * Revokes the memory region, then completes every outstanding chain with
 * an error and keeps doing so for new ones (dead mode); breaks the
 * virtqueues if the in-flight set is unknown. Sleeps; idempotent.
 */
void vl_transport_fail(struct vl_device *vl, const char *why);

/**
 * vl_transport_teardown() - make the device's requests complete without
 * the back-end
 * @vl: device whose session is closing; no event is waited for any more
 *
 * Grace period for a back-end still running, revocation of the memory,
 * call hooks detached, every outstanding chain completed with an error
 * and dead mode entered. Sleeps.
 */
void vl_transport_teardown(struct vl_device *vl);

#endif /* VL_DEVICE_H */
