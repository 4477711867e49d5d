// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback transport: virtio_config_ops, virtqueues and data path.
 *
 * The kernel answers config and status reads from its own copy; only
 * DRIVER_OK, reset, FAILED and driver config writes become events for the
 * adapter (vl_event_send() in vl_main.c). Rings are allocated through the
 * device's DMA operations (vl_dma.c) in the memory region the back-end
 * maps, so every address in them is an IOVA.
 *
 * Data path, no user-space hop:
 *  - kick: vl_notify() signals the queue's kick eventfd (atomic context);
 *  - call: the call eventfd's wait queue is hooked like KVM's irqfd; a
 *    signal queues an irq_work that runs vring_interrupt().
 *  - relayed queues (a driver that spins for its buffer): the transport
 *    completes the chain in notify and hands the bytes to the back-end
 *    through a ring of its own (see "Relayed queues").
 *
 * In-flight tracking (struct vl_shadow): every notify and every interrupt
 * scans the used and avail rings from where the last scan stopped, so the
 * transport knows which descriptor chains the back-end still owes. When the
 * session closes, the back-end gets a short grace period, loses the memory
 * (vl_mem_revoke()), and the transport completes what is left with an
 * error, then keeps doing so for new chains ("dead mode") until the driver
 * is unbound; receive and event buffers it keeps, as a silent device would. A later issue uses the same tracking to resubmit requests to
 * a restarted back-end.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/delay.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/nospec.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <uapi/linux/virtio_blk.h>
#include <uapi/linux/virtio_ids.h>

#include "vl_compat.h"
#include "vl_device.h"
#include "vl_dma.h"
#include "vl_trace.h"

/* Ring alignment of the split ring's used ring (as virtio-mmio). */
#define VL_VRING_ALIGN		PAGE_SIZE

/*
 * Transport feature bits (28..41 on 6.12, 28..40 on 6.1). Of these we
 * implement only the ones below; everything else in the range (packed
 * ring, ring reset, notification data, in-order, SR-IOV, platform order,
 * admin vq) is masked before the driver sees it.
 */
#define VL_TRANSPORT_F_FIRST	28
#define VL_TRANSPORT_F_LAST	41
#define VL_TRANSPORT_F_MASK	GENMASK_ULL(VL_TRANSPORT_F_LAST, VL_TRANSPORT_F_FIRST)
#define VL_TRANSPORT_F_KEEP	(BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) | \
				 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) | \
				 BIT_ULL(VIRTIO_F_VERSION_1))

/* Teardown: how often and how long to watch a back-end finishing. */
#define VL_GRACE_POLL_MS	10
#define VL_GRACE_STALL_MS	200
/* Dead mode: passes of complete-then-recheck per notify (see below). */
#define VL_DEAD_PASSES		4
/* Dead mode: receive buffers posted after the failure wait this long. */
#define VL_DEAD_RX_DELAY_MS	100

/* Sizes of the split ring parts, event index fields included. */
static size_t vl_desc_bytes(u32 num)
{
	return sizeof(struct vring_desc) * num;
}

static size_t vl_avail_bytes(u32 num)
{
	return sizeof(struct vring_avail) + sizeof(__virtio16) * (num + 1);
}

static size_t vl_used_bytes(u32 num)
{
	return sizeof(struct vring_used) +
	       sizeof(struct vring_used_elem) * num + sizeof(__virtio16);
}

/* ------------------------------------------------------------------ */
/* In-flight tracking                                                   */
/* ------------------------------------------------------------------ */

static void vl_shadow_count(struct vl_shadow *s, u32 head, int delta)
{
	s16 old = s->count[head];
	s16 new = old + delta;

	if (old)
		s->outstanding--;
	if (new)
		s->outstanding++;
	if (old != 0 && old != 1)
		s->bad--;
	if (new != 0 && new != 1)
		s->bad++;
	s->count[head] = new;
}

static void vl_shadow_reset(struct vl_shadow *s, u16 idx)
{
	memset(s->count, 0, sizeof(*s->count) * s->num);
	s->last_avail = idx;
	s->last_used = idx;
	s->outstanding = 0;
	s->bad = 0;
	s->lost = false;
}

static void vl_shadow_lose(struct vl_vq *q, const char *why)
{
	/* Normal with a polling back-end: said when it matters (failure). */
	if (!q->shadow.lost)
		dev_dbg(&q->vl->parent, "queue %u: lost track of in-flight requests (%s)\n",
			q->index, why);
	q->shadow.lost = true;
}

static void vl_shadow_garbage(struct vl_vq *q, const char *why)
{
	if (!q->garbage) {
		dev_err_ratelimited(&q->vl->parent, "queue %u: %s: failing the device\n",
				    q->index, why);
		trace_vl_error(&q->vl->parent, "ring", why, -EIO);
	}
	q->garbage = true;
}

/*
 * Bring the shadow up to date with the ring.
 *
 * Used entries are counted before avail entries: a chain the back-end put
 * in the used ring before we read used->idx was made available before that,
 * so the avail pass of the same scan counts it, and at the end of a scan
 * every count is 0 or 1 (virtio spec 2.7.8: the driver publishes avail->idx
 * after the entries, the device publishes used->idx after the entries; we
 * read the index, then rmb, then the entries).
 *
 * Entries between two scans must fit in the ring, else slots were reused
 * and the shadow is lost; it is re-synchronised the next time the ring is
 * seen empty. Everything read here is untrusted (the back-end can write the
 * whole region): every head is bounds-checked.
 */
static void vl_shadow_scan(struct vl_vq *q)
{
	struct vl_shadow *s = &q->shadow;
	u32 mask = s->num - 1;
	u16 used_idx, avail_idx;

	lockdep_assert_held(&q->lock);
	if (!q->vq)
		return;

	used_idx = le16_to_cpu(READ_ONCE(q->used->idx));
	virtio_rmb(true);
	/*
	 * A device never completes more than was made available: read after
	 * used->idx, avail->idx is at most a ring ahead of it and never
	 * behind. Anything else is garbage from the back-end, which is not a
	 * reason to lose track: the shadow stops before it, the driver is kept
	 * from seeing it, and the device fails (vl_irq_work()), which completes
	 * what is outstanding.
	 */
	avail_idx = le16_to_cpu(READ_ONCE(q->avail->idx));
	if (!q->garbage && (u16)(avail_idx - used_idx) > s->num)
		vl_shadow_garbage(q, "used ring index moved past the available ring");
	if (s->lost) {
		if (avail_idx == used_idx && !q->garbage)
			vl_shadow_reset(s, used_idx);
		return;
	}
	/*
	 * A back-end that polls (DPDK: no kicks) and a driver that takes few
	 * interrupts can move the ring a whole turn between two scans. Not
	 * after garbage: the shadow must stay usable to repair the ring.
	 */
	if (!q->garbage && (u16)(used_idx - s->last_used) > s->num) {
		vl_shadow_lose(q, "used ring wrapped between scans");
		return;
	}
	for (; !q->garbage && s->last_used != used_idx; s->last_used++) {
		u32 id = le32_to_cpu(READ_ONCE(q->used->ring[s->last_used & mask].id));

		if (id >= s->num) {
			vl_shadow_garbage(q, "used id out of range");
			break;
		}
		vl_shadow_count(s, id, -1);
	}

	avail_idx = le16_to_cpu(READ_ONCE(q->avail->idx));
	virtio_rmb(true);
	if ((u16)(avail_idx - s->last_avail) > s->num) {
		vl_shadow_lose(q, "avail ring wrapped");
		return;
	}
	for (; s->last_avail != avail_idx; s->last_avail++) {
		u16 head = le16_to_cpu(READ_ONCE(q->avail->ring[s->last_avail & mask]));

		if (head >= s->num) {
			vl_shadow_lose(q, "avail head out of range");
			return;
		}
		vl_shadow_count(s, head, 1);
	}

	if (s->bad || s->outstanding != (u16)(s->last_avail - s->last_used))
		vl_shadow_lose(q, "counts disagree with the ring");
}

/* ------------------------------------------------------------------ */
/* Completing chains without the back-end                               */
/* ------------------------------------------------------------------ */

/*
 * Call @fn on every descriptor of the chain at @head, following one level
 * of indirection (virtio spec 2.7.5.3: no nested indirect tables). Every
 * index and address is checked. Returns false if the chain is malformed
 * (@fn may have been called for part of it).
 */
static bool vl_chain_walk(struct vl_vq *q, u32 head,
			  void (*fn)(void *ctx, u64 addr, u32 len, u16 flags),
			  void *ctx)
{
	struct vring_desc *table = q->desc;
	u32 size = q->num, i = head, steps = 0;

	for (;;) {
		u16 flags;
		u64 a;
		u32 l;

		if (i >= size || ++steps > size)
			return false;
		flags = le16_to_cpu(READ_ONCE(table[i].flags));
		a = le64_to_cpu(READ_ONCE(table[i].addr));
		l = le32_to_cpu(READ_ONCE(table[i].len));
		if (flags & VRING_DESC_F_INDIRECT) {
			if (table != q->desc || !l || l % sizeof(*table))
				return false;
			table = vl_mem_iova_to_virt(q->vl->mem, a, l);
			if (!table)
				return false;
			size = l / sizeof(*table);
			i = 0;
			steps = 0;
			continue;
		}
		fn(ctx, a, l, flags);
		if (!(flags & VRING_DESC_F_NEXT))
			return true;
		i = le16_to_cpu(READ_ONCE(table[i].next));
	}
}

struct vl_last_writable {
	u64 addr;
	u32 len;
	bool found;
};

static void vl_note_writable(void *ctx, u64 addr, u32 len, u16 flags)
{
	struct vl_last_writable *w = ctx;

	if ((flags & VRING_DESC_F_WRITE) && len) {
		w->addr = addr;
		w->len = len;
		w->found = true;
	}
}

/* The last device-writable descriptor of the chain at @head. */
static bool vl_chain_last_writable(struct vl_vq *q, u32 head, u64 *addr, u32 *len)
{
	struct vl_last_writable w = { };

	if (!vl_chain_walk(q, head, vl_note_writable, &w) || !w.found)
		return false;
	*addr = w.addr;
	*len = w.len;
	return true;
}

/*
 * virtio-blk: the status byte is the last byte the device writes
 * (struct virtblk_req's in_hdr, after any zone-append sector). Setting it to
 * IOERR makes the request fail instead of "succeeding" with whatever the
 * bounce page held.
 */
static void vl_fail_blk(struct vl_vq *q, u32 head)
{
	u64 addr;
	u32 len;
	u8 *status;

	if (!vl_chain_last_writable(q, head, &addr, &len) ||
	    addr + len - 1 < addr)
		return;
	status = vl_mem_iova_to_virt(q->vl->mem, addr + len - 1, 1);
	if (status)
		WRITE_ONCE(*status, VIRTIO_BLK_S_IOERR);
}

/*
 * Per device type: how to make a chain the transport completes itself read
 * as an error to the driver. Types not listed get a used length of 0, which
 * their drivers treat as "no data".
 */
static const struct {
	u32 device_id;
	void (*fail)(struct vl_vq *q, u32 head);
} vl_fail_policies[] = {
	{ VIRTIO_ID_BLOCK, vl_fail_blk },
};

static void vl_fail_chain(struct vl_vq *q, u32 head)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vl_fail_policies); i++)
		if (vl_fail_policies[i].device_id == q->vl->device_id)
			vl_fail_policies[i].fail(q, head);
}

static void vl_note_readable(void *ctx, u64 addr, u32 len, u16 flags)
{
	bool *readable = ctx;

	if (!(flags & VRING_DESC_F_WRITE))
		*readable = true;
}

/*
 * A chain of device-writable buffers only (a receive or event buffer) is
 * the device's to fill when it has something to say. When the device dies,
 * the ones outstanding are completed at once (empty), so that a reader
 * waiting for one wakes up (virtio-rng); ones the driver posts after that
 * are completed VL_DEAD_RX_DELAY_MS later (vl_dead_work()): a driver that
 * re-posts each completion at once (virtio-snd's and virtio-input's event
 * queues) would otherwise spin with us in interrupt context, and one that
 * waits for the buffer must not wait for ever (virtio-rng's hwrng thread
 * holds a mutex the probe of every other rng device needs). A chain we
 * cannot walk is completed.
 */
static bool vl_chain_is_request(struct vl_vq *q, u32 head)
{
	bool readable = false;

	if (!vl_chain_walk(q, head, vl_note_readable, &readable))
		return true;
	return readable;
}

/*
 * Act as the device for every request still outstanding (with @all, every
 * chain): fail it, put it in the used ring with length 0, publish used->idx
 * after the entries. Only called once the back-end can no longer write the
 * ring (dead mode). Returns false if the shadow cannot be trusted.
 */
static bool vl_vq_complete_all(struct vl_vq *q, bool all)
{
	struct vl_shadow *s = &q->shadow;
	u32 mask = s->num - 1, head;
	u16 used_idx;

	lockdep_assert_held(&q->lock);
	vl_shadow_scan(q);
	if (s->lost)
		return false;
	used_idx = s->last_used;
	for (head = 0; head < s->num && s->outstanding; head++) {
		if (s->count[head] != 1 || (!all && !vl_chain_is_request(q, head)))
			continue;
		vl_fail_chain(q, head);
		WRITE_ONCE(q->used->ring[used_idx & mask].id, cpu_to_le32(head));
		WRITE_ONCE(q->used->ring[used_idx & mask].len, 0);
		used_idx++;
		vl_shadow_count(s, head, -1);
	}
	if (used_idx == s->last_used)
		return true;
	virtio_wmb(true);
	WRITE_ONCE(q->used->idx, cpu_to_le16(used_idx));
	s->last_used = used_idx;
	return true;
}

/*
 * Dead mode: complete, then ask for a notification on the next chain
 * (clear VRING_USED_F_NO_NOTIFY, avail_event = what we have seen), full
 * barrier, and look again: a driver that added a chain before it could see
 * the new avail_event may not notify (virtio spec 2.7.10).
 */
static bool vl_vq_dead_process(struct vl_vq *q, bool all)
{
	__le16 *avail_event = (__le16 *)&q->used->ring[q->num];
	int pass;

	lockdep_assert_held(&q->lock);
	for (pass = 0; pass < VL_DEAD_PASSES; pass++) {
		if (!vl_vq_complete_all(q, all))
			return false;
		WRITE_ONCE(q->used->flags, 0);
		WRITE_ONCE(*avail_event, cpu_to_le16(q->shadow.last_avail));
		virtio_mb(true);
		if (le16_to_cpu(READ_ONCE(q->avail->idx)) == q->shadow.last_avail)
			break;
	}
	/* Receive buffers kept: handed back empty a little later. */
	if (!all && q->shadow.outstanding)
		schedule_delayed_work(&q->dead_work, msecs_to_jiffies(VL_DEAD_RX_DELAY_MS));
	return true;
}

static void vl_dead_work(struct work_struct *work)
{
	struct vl_vq *q = container_of(to_delayed_work(work), struct vl_vq, dead_work);
	bool ok = true, deliver;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	deliver = q->vq && q->dead;
	if (deliver)
		ok = vl_vq_dead_process(q, true);
	spin_unlock_irqrestore(&q->lock, flags);
	if (!ok)
		queue_work(system_wq, &q->vl->break_work);
	if (deliver)
		irq_work_queue(&q->irq_work);
}

/* ------------------------------------------------------------------ */
/* Relayed queues                                                       */
/* ------------------------------------------------------------------ */

/*
 * Some drivers wait for a transmitted buffer by spinning with a lock held,
 * often with interrupts off: virtio_console's put_chars() (hvc console,
 * under the hvc port lock) and its control messages. In a VM the device
 * runs on a CPU of the host. Here it is a process that needs a CPU of this
 * machine, and the other CPUs may be spinning too: virtio_console's
 * receive interrupt takes the same hvc lock. A 2-CPU machine stopped at the
 * first write to /dev/hvc0, and again whenever the back-end fell behind.
 *
 * So for these queues the transport is the device of the driver's ring
 * and never keeps a chain: on notify it copies the chain's bytes into a
 * FIFO in the region and completes the chain at once. The back-end is
 * given a ring of the transport's own whose entries point at spans of the
 * FIFO, posted as entries come back. Bytes keep their order. Flow control:
 * while the FIFO is nearly full, mappings towards the device fail
 * (vl_mem_hold_to_device()), so put_chars() returns 0 and the hvc layer
 * keeps the bytes and retries, and a writer blocks. What still does not fit
 * is dropped and counted (sysfs relay_dropped_bytes): a back-end that stops
 * reading must not be able to stop a CPU. QEMU's vhost-vdpa shadow
 * virtqueue is the same idea.
 */
static const struct {
	u32 device_id;
	u32 index;
} vl_relayed_queues[] = {
	{ VIRTIO_ID_CONSOLE, 1 },	/* port 0 transmitq: put_chars() */
	{ VIRTIO_ID_CONSOLE, 3 },	/* control transmitq (MULTIPORT) */
};

static bool vl_queue_is_relayed(struct vl_device *vl, u32 index)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vl_relayed_queues); i++)
		if (vl_relayed_queues[i].device_id == vl->device_id &&
		    vl_relayed_queues[i].index == index)
			return true;
	return false;
}

/*
 * Process context: the FIFO and the ring, in the region; a quarter of the
 * region at most.
 */
static int vl_relay_alloc(struct vl_vq *q)
{
	struct vl_relay *r = &q->relay;
	u16 num = rounddown_pow_of_two(min_t(u32, VL_RELAY_NUM, q->max_size));
	u32 fifo = rounddown_pow_of_two(min_t(u64, VL_RELAY_FIFO, q->vl->mem_size / 4));
	size_t avail_off = fifo + vl_desc_bytes(num);
	size_t used_off = ALIGN(avail_off + vl_avail_bytes(num), 4);
	size_t bytes = used_off + vl_used_bytes(num);
	dma_addr_t iova;
	u8 *mem;

	/* Zeroed: no flags, event indexes 0. */
	mem = dma_alloc_coherent(&q->vl->parent, bytes, &iova, GFP_KERNEL);
	if (!mem)
		return -ENOMEM;
	*r = (struct vl_relay){
		.mem = mem,
		.iova = iova,
		.bytes = bytes,
		.desc = (struct vring_desc *)(mem + fifo),
		.avail = (struct vring_avail *)(mem + avail_off),
		.used = (struct vring_used *)(mem + used_off),
		.desc_iova = iova + fifo,
		.avail_iova = iova + avail_off,
		.used_iova = iova + used_off,
		.num = num,
		.fifo_size = fifo,
	};
	return 0;
}

static void vl_relay_free(struct vl_device *vl, struct vl_relay *r)
{
	if (r->mem)
		dma_free_coherent(&vl->parent, r->bytes, r->mem, r->iova);
}

struct vl_relay_copy {
	struct vl_vq *q;
	u32 copied;		/* bytes put in the FIFO */
	u32 dropped;		/* bytes that did not fit */
	bool writable;		/* a device-writable descriptor */
	bool unreachable;	/* a buffer outside the region */
};

/* Append one readable descriptor's bytes to the FIFO, as far as it has room. */
static void vl_relay_copy_desc(void *ctx, u64 addr, u32 len, u16 flags)
{
	struct vl_relay_copy *c = ctx;
	struct vl_relay *r = &c->q->relay;
	u32 room = r->fifo_size - (r->head - r->tail);
	const u8 *src;

	if (flags & VRING_DESC_F_WRITE) {
		c->writable = true;
		return;
	}
	src = vl_mem_iova_to_virt(c->q->vl->mem, addr, len);
	if (!src) {
		c->unreachable = true;
		return;
	}
	if (len > room) {
		c->dropped += len - room;
		len = room;
	}
	c->copied += len;
	while (len) {
		u32 off = r->head & (r->fifo_size - 1);
		u32 n = min(len, r->fifo_size - off);

		memcpy(r->mem + off, src, n);
		src += n;
		len -= n;
		r->head += n;
	}
}

/* Copy a chain of the driver into the FIFO and complete it. */
static void vl_relay_chain(struct vl_vq *q, u16 head)
{
	struct vl_relay *r = &q->relay;
	struct vl_relay_copy c = { .q = q };
	u32 mask = q->num - 1;
	bool ok;

	ok = vl_chain_walk(q, head, vl_relay_copy_desc, &c);
	r->bytes_dropped += c.dropped;
	if (c.dropped) {
		dev_warn_ratelimited(&q->vl->parent,
				     "queue %u: back-end not reading, %u bytes dropped\n",
				     q->index, c.dropped);
		trace_vl_error(&q->vl->parent, "relay", "back-end not reading: bytes dropped",
			       -ENOBUFS);
	}
	if (!ok || c.writable || c.unreachable) {
		const char *why = !ok ? "malformed chain" :
				  c.writable ? "device-writable part" : "outside the region";

		dev_err_ratelimited(&q->vl->parent,
				    "queue %u: a buffer the transport cannot relay (%s)\n",
				    q->index, why);
		trace_vl_error(&q->vl->parent, "relay", why, -EINVAL);
	}
	WRITE_ONCE(q->used->ring[r->driver_used & mask].id, cpu_to_le32(head));
	WRITE_ONCE(q->used->ring[r->driver_used & mask].len, 0);
	r->driver_used++;
}

/* Hold mappings towards the device while the FIFO has little room left. */
static void vl_relay_update_hold(struct vl_vq *q)
{
	struct vl_relay *r = &q->relay;
	u32 room = r->fifo_size - (r->head - r->tail);

	vl_mem_hold_to_device(q->vl->mem, q->index,
			      room < min_t(u32, VL_RELAY_HOLD, r->fifo_size / 2));
}

/*
 * Post the FIFO's unposted bytes in ring entries, as far as entries are
 * free. Returns true if any were posted.
 */
static bool vl_relay_post(struct vl_relay *r)
{
	u16 start = r->next_avail;

	while (r->posted != r->head && (u16)(r->next_avail - r->oldest) < r->num) {
		u16 b = r->next_avail & (r->num - 1);
		u32 off = r->posted & (r->fifo_size - 1);
		u32 len = min3(r->head - r->posted, r->fifo_size - off, (u32)VL_RELAY_SPAN);

		/* The back-end can write the table: rewrite the whole entry. */
		WRITE_ONCE(r->desc[b].addr, cpu_to_le64(r->iova + off));
		WRITE_ONCE(r->desc[b].len, cpu_to_le32(len));
		WRITE_ONCE(r->desc[b].flags, 0);
		WRITE_ONCE(r->desc[b].next, 0);
		WRITE_ONCE(r->avail->ring[b], cpu_to_le16(b));
		__set_bit(b, r->busy);
		r->posted += len;
		r->span_end[b] = r->posted;
		r->bytes_relayed += len;
		r->next_avail++;
	}
	if (r->next_avail == start)
		return false;
	virtio_wmb(true);
	WRITE_ONCE(r->avail->idx, cpu_to_le16(r->next_avail));
	return true;
}

/*
 * Take back the entries the back-end used, free their bytes in order, and
 * ask it (event index) for a call at the next one. Its used ring is checked
 * like any it writes.
 */
static void vl_relay_reclaim(struct vl_vq *q)
{
	struct vl_relay *r = &q->relay;
	__le16 *used_event = &r->avail->ring[r->num];
	u16 used_idx;
	u32 id;

	lockdep_assert_held(&q->lock);
	for (;;) {
		used_idx = le16_to_cpu(READ_ONCE(r->used->idx));
		virtio_rmb(true);
		if ((u16)(used_idx - r->last_used) > (u16)(r->next_avail - r->last_used)) {
			vl_shadow_garbage(q, "relay ring: used index moved past the available ring");
			return;
		}
		if (used_idx == r->last_used)
			break;
		for (; r->last_used != used_idx; r->last_used++) {
			id = le32_to_cpu(READ_ONCE(r->used->ring[r->last_used & (r->num - 1)].id));
			if (id >= r->num || !__test_and_clear_bit(id, r->busy)) {
				vl_shadow_garbage(q, "relay ring: used id not in flight");
				return;
			}
		}
		while (r->oldest != r->next_avail &&
		       !test_bit(r->oldest & (r->num - 1), r->busy))
			r->tail = r->span_end[r->oldest++ & (r->num - 1)];
		WRITE_ONCE(*used_event, cpu_to_le16(r->last_used));
		virtio_mb(true);
	}
}

/*
 * Be the device of the driver's ring: relay and complete every chain the
 * driver made available, then ask for a notification on the next chain
 * and look again (as in dead mode). Returns true if entries were posted to
 * the relay ring (kick the back-end); *@completed tells whether the driver
 * has new used entries.
 */
static bool vl_relay_pump(struct vl_vq *q, bool *completed)
{
	struct vl_relay *r = &q->relay;
	__le16 *avail_event = (__le16 *)&q->used->ring[q->num];
	u16 used = r->driver_used, avail_idx, head;
	int pass;

	lockdep_assert_held(&q->lock);
	for (pass = 0; pass < VL_DEAD_PASSES && !q->garbage; pass++) {
		avail_idx = le16_to_cpu(READ_ONCE(q->avail->idx));
		virtio_rmb(true);
		/* The driver's ring is in the region too: checked as well. */
		if ((u16)(avail_idx - r->driver_avail) > q->num) {
			vl_shadow_garbage(q, "relayed queue: avail index out of range");
			break;
		}
		for (; r->driver_avail != avail_idx; r->driver_avail++) {
			head = le16_to_cpu(READ_ONCE(q->avail->ring[r->driver_avail & (q->num - 1)]));
			if (head >= q->num) {
				vl_shadow_garbage(q, "relayed queue: avail head out of range");
				break;
			}
			vl_relay_chain(q, head);
		}
		virtio_wmb(true);
		WRITE_ONCE(q->used->idx, cpu_to_le16(r->driver_used));
		WRITE_ONCE(*avail_event, cpu_to_le16(r->driver_avail));
		virtio_mb(true);
		if (le16_to_cpu(READ_ONCE(q->avail->idx)) == r->driver_avail)
			break;
	}
	*completed = r->driver_used != used;
	vl_relay_update_hold(q);
	return !q->garbage && vl_relay_post(r);
}

/* ------------------------------------------------------------------ */
/* Kick and call                                                        */
/* ------------------------------------------------------------------ */

/*
 * @q->kick is dropped when the adapter of a persistent device goes
 * (vl_transport_detach(): NULL until one attaches) and replaced when one
 * attaches (vl_transport_attach()): readers signal inside an RCU read-side
 * section, and the old context is put after a grace period. Any context.
 */
static void vl_kick_signal(struct vl_vq *q)
{
	struct eventfd_ctx *kick;

	rcu_read_lock();
	kick = READ_ONCE(q->kick);
	if (kick)
		vl_eventfd_signal(kick);
	rcu_read_unlock();
}

static void vl_kick_work(struct irq_work *work)
{
	struct vl_vq *q = container_of(work, struct vl_vq, kick_work);

	vl_kick_signal(q);
}

/*
 * A kick from inside an eventfd wake-up (e.g. a callback run synchronously
 * by someone's eventfd) would be dropped by eventfd_signal(): defer it.
 */
static void vl_kick_backend(struct vl_vq *q)
{
	if (eventfd_signal_allowed())
		vl_kick_signal(q);
	else
		irq_work_queue(&q->kick_work);
}

/*
 * The interrupt: runs in hard-IRQ context on x86 (irq_work self-IPI), as a
 * real device's handler would. The shadow sees the used entries before the
 * driver can reap and recycle them.
 */
static void vl_irq_work(struct irq_work *work)
{
	struct vl_vq *q = container_of(work, struct vl_vq, irq_work);
	bool swept = test_and_clear_bit(VL_VQ_SWEPT, &q->flags);
	bool ok = true, garbage = false, kick = false, completed;
	struct virtqueue *vq;
	unsigned long flags;

	/*
	 * Zero-copy: the back-end may still map pages of buffers it completed;
	 * take them away (it sleeps) before the driver can get them back.
	 */
	if (!swept && vl_mem_needs_sweep(q->vl->mem)) {
		queue_work(vl_mem_wq, &q->sweep_work);
		return;
	}

	spin_lock_irqsave(&q->lock, flags);
	vq = q->vq;
	/* Nothing to sweep: the next sweep starts from here. */
	if (vq && !swept)
		q->swept_used = le16_to_cpu(READ_ONCE(q->used->idx));
	if (vq) {
		if (q->dead) {
			ok = vl_vq_dead_process(q, false);
		} else if (q->relay.mem) {
			/* A call on a relayed queue: room for what waits. */
			vl_relay_reclaim(q);
			kick = vl_relay_pump(q, &completed);
			vl_shadow_scan(q);
		} else {
			vl_shadow_scan(q);
		}
		/* Until dead mode rewrites the ring, the driver must not look. */
		garbage = q->garbage && !q->dead;
		q->interrupts++;
		trace_vl_interrupt(q);
	}
	spin_unlock_irqrestore(&q->lock, flags);
	if (kick)
		vl_kick_backend(q);
	if (!ok)
		queue_work(system_wq, &q->vl->break_work);
	if (garbage)
		queue_work(system_wq, &q->vl->garbage_work);
	else if (vq)
		vring_interrupt(0, vq);
}

static void vl_sweep_desc(void *ctx, u64 addr, u32 len, u16 flags)
{
	vl_mem_sweep_mark(ctx, addr, len);
}

/*
 * Mark the buffers of the chains completed since the last sweep. Returns
 * false when the used ring moved by more than its size: sweep everything.
 */
static bool vl_vq_mark_used(struct vl_vq *q)
{
	unsigned long flags;
	u16 used_idx, n;
	bool ok = true;
	u32 id;

	spin_lock_irqsave(&q->lock, flags);
	if (!q->vq || q->dead)
		goto out;
	used_idx = le16_to_cpu(READ_ONCE(q->used->idx));
	virtio_rmb(true);
	n = used_idx - q->swept_used;
	if (n > q->num) {
		ok = false;
		q->swept_used = used_idx;
		goto out;
	}
	for (; n; n--, q->swept_used++) {
		id = le32_to_cpu(READ_ONCE(q->used->ring[q->swept_used & (q->num - 1)].id));
		if (id < q->num)
			vl_chain_walk(q, id, vl_sweep_desc, q->vl->mem);
	}
out:
	spin_unlock_irqrestore(&q->lock, flags);
	return ok;
}

/* Process context: sweep, then deliver the interrupt as usual. */
static void vl_vq_sweep(struct vl_vq *q)
{
	struct vl_mem *mem = q->vl->mem;

	vl_mem_sweep_begin(mem);
	vl_mem_sweep_end(mem, !vl_vq_mark_used(q));
	set_bit(VL_VQ_SWEPT, &q->flags);
	irq_work_queue(&q->irq_work);
}

static void vl_sweep_work(struct work_struct *work)
{
	vl_vq_sweep(container_of(work, struct vl_vq, sweep_work));
}

/*
 * Runs in the back-end thread that signalled the call, on its way back to
 * user space (or in its exit). The device reference taken when it was
 * queued keeps @q and the region alive; after teardown the sweep finds
 * nothing to mark and the interrupt finds no virtqueue. The flag is
 * cleared first so a call arriving meanwhile queues a sweep of its own.
 */
static void vl_sweep_task_work(struct callback_head *cb)
{
	struct vl_vq *q = container_of(cb, struct vl_vq, sweep_tw);
	struct vl_device *vl = q->vl;

	clear_bit(VL_VQ_SWEEP_TW, &q->flags);
	/* Clear before reading the used index: a later call queues anew. */
	smp_mb__after_atomic();
	vl_vq_sweep(q);
	put_device(&vl->parent);
}

/*
 * Zero-copy, from the call's wake-up: when a user-space thread signalled
 * the call, have it sweep before it returns to user space. That saves a
 * worker's wake-up and two context switches per completion, and the zap's
 * TLB flush is for the current mm (no IPI to the CPU the back-end runs
 * on). Anything else (a kernel thread, an interrupt, a task on its way
 * out) falls back to @irq_work and @sweep_work, as does the parameter
 * below (measured: the worker costs 6-16 % of buffered ext4 writes in the
 * lab; docs/memory.md). Returns true when the sweep, and the interrupt
 * after it, will happen.
 */
static bool vl_zc_sweep_in_caller = true;
module_param_named(zero_copy_sweep_in_caller, vl_zc_sweep_in_caller, bool, 0644);
MODULE_PARM_DESC(zero_copy_sweep_in_caller,
		 "Zero-copy: the back-end thread that signals a completion sweeps (default); off: a worker does");

static bool vl_sweep_in_caller(struct vl_vq *q)
{
	if (!READ_ONCE(vl_zc_sweep_in_caller) || !in_task() || !current->mm ||
	    (current->flags & (PF_KTHREAD | PF_IO_WORKER | PF_USER_WORKER | PF_EXITING)))
		return false;
	/* Queued already: that sweep reads the used index when it runs. */
	if (test_and_set_bit(VL_VQ_SWEEP_TW, &q->flags))
		return true;
	get_device(&q->vl->parent);
	init_task_work(&q->sweep_tw, vl_sweep_task_work);
	if (!task_work_add(current, &q->sweep_tw, TWA_RESUME))
		return true;
	clear_bit(VL_VQ_SWEEP_TW, &q->flags);
	put_device(&q->vl->parent);
	return false;
}

/*
 * Wake-up of the call eventfd: runs with the eventfd's wqh lock held and
 * IRQs off, possibly inside the back-end's write(). Consume the count and
 * defer; never call vring_interrupt() here (the driver's callback may kick,
 * and a kick from inside an eventfd wake-up would be dropped).
 * EPOLLHUP means the eventfd's last file was closed: nothing more can come
 * from user space; we keep our context reference and stay hooked until
 * vl_vq_unhook_call().
 */
static int vl_call_wake(wait_queue_entry_t *wait, unsigned int mode, int sync, void *key)
{
	struct vl_vq *q = container_of(wait, struct vl_vq, call_wait);
	__poll_t events = key_to_poll(key);
	u64 cnt;

	if (events & EPOLLIN) {
		eventfd_ctx_do_read(q->call, &cnt);
		if (!(vl_mem_needs_sweep(q->vl->mem) && vl_sweep_in_caller(q)))
			irq_work_queue(&q->irq_work);
	}
	return 0;
}

static void vl_call_ptable(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct vl_vq *q = container_of(pt, struct vl_vq, call_pt);

	add_wait_queue(wqh, &q->call_wait);
}

/* @file is an eventfd's (eventfd_fget()); the caller keeps its reference. */
static int vl_vq_hook_file(struct vl_vq *q, struct file *file)
{
	struct eventfd_ctx *ctx;

	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	q->call = ctx;
	init_waitqueue_func_entry(&q->call_wait, vl_call_wake);
	init_poll_funcptr(&q->call_pt, vl_call_ptable);
	/* A count already pending is picked up by the next signal. */
	vfs_poll(file, &q->call_pt);
	q->call_hooked = true;
	return 0;
}

int vl_vq_hook_call(struct vl_vq *q, int fd)
{
	struct file *file;
	int ret;

	file = eventfd_fget(fd);
	if (IS_ERR(file))
		return PTR_ERR(file);
	ret = vl_vq_hook_file(q, file);
	fput(file);
	return ret;
}

void vl_vq_unhook_call(struct vl_vq *q)
{
	u64 cnt;

	if (q->call_hooked) {
		eventfd_ctx_remove_wait_queue(q->call, &q->call_wait, &cnt);
		q->call_hooked = false;
	}
	/* The irq_work may queue a sweep, and the sweep the irq_work again. */
	irq_work_sync(&q->irq_work);
	cancel_work_sync(&q->sweep_work);
	irq_work_sync(&q->irq_work);
}

void vl_vq_init(struct vl_device *vl, struct vl_vq *q, u32 index)
{
	q->vl = vl;
	q->index = index;
	spin_lock_init(&q->lock);
	init_irq_work(&q->kick_work, vl_kick_work);
	init_irq_work(&q->irq_work, vl_irq_work);
	INIT_WORK(&q->sweep_work, vl_sweep_work);
	INIT_DELAYED_WORK(&q->dead_work, vl_dead_work);
}

/*
 * Any context, IRQs maybe off, driver locks held: a spinlock at most, no
 * allocation. On a relayed queue the driver's chains are completed here,
 * before it returns to its spin loop; the interrupt follows (irq_work).
 */
static bool vl_notify(struct virtqueue *vq)
{
	struct vl_vq *q = vq->priv;
	bool dead, ok = true, kick = true, completed = false;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->kicks++;
	dead = q->dead;
	if (dead) {
		ok = vl_vq_dead_process(q, false);
	} else if (q->relay.mem) {
		kick = vl_relay_pump(q, &completed);
		vl_shadow_scan(q);
	} else {
		vl_shadow_scan(q);
	}
	trace_vl_kick(q);
	spin_unlock_irqrestore(&q->lock, flags);

	if (dead) {
		if (!ok)
			queue_work(system_wq, &q->vl->break_work);
		irq_work_queue(&q->irq_work);
		return true;
	}
	if (kick)
		vl_kick_backend(q);
	if (completed)
		irq_work_queue(&q->irq_work);
	return true;
}

/* ------------------------------------------------------------------ */
/* Configuration interface                                              */
/* ------------------------------------------------------------------ */

static void vl_get(struct virtio_device *vdev, unsigned int offset, void *buf,
		   unsigned int len)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	unsigned long flags;
	unsigned int n = 0;

	spin_lock_irqsave(&vl->config_lock, flags);
	if (offset < vl->config_size) {
		n = min(len, vl->config_size - offset);
		memcpy(buf, vl->config + offset, n);
	}
	spin_unlock_irqrestore(&vl->config_lock, flags);
	/* Beyond what the back-end described reads as zero. */
	memset(buf + n, 0, len - n);
}

/*
 * A config write waits (bounded) until the adapter has passed it to the
 * back-end and refreshed our copy from it: a driver may read right after
 * writing and expect the device's answer (virtio-input's select/subsel).
 * Config accessors may sleep: virtio-ccw's wait for channel I/O too, and
 * every driver writes config from process context (probe, work, sysfs).
 */
static void vl_set(struct virtio_device *vdev, unsigned int offset,
		   const void *buf, unsigned int len)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	struct virtio_loopback_event ev = {
		.type = VIRTIO_LOOPBACK_EV_CONFIG_WRITE,
		.flags = VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY,
		.index = vdev->index,
	};
	unsigned long flags;
	unsigned int n = 0;

	might_sleep();
	spin_lock_irqsave(&vl->config_lock, flags);
	if (offset < vl->config_size) {
		n = min(len, vl->config_size - offset);
		memcpy(vl->config + offset, buf, n);
		vl->config_gen++;
	}
	spin_unlock_irqrestore(&vl->config_lock, flags);
	if (!n) {
		dev_warn_ratelimited(&vl->parent,
				     "driver wrote config at %u+%u, beyond %u bytes\n",
				     offset, len, vl->config_size);
		trace_vl_error(&vl->parent, "config write", "beyond config_size", -EINVAL);
		return;
	}
	trace_vl_config(vl, offset, n, true, false);
	ev.config_offset = offset;
	ev.config_len = n;
	memcpy(ev.config, buf, n);
	vl_event_send(vl, &ev, GFP_KERNEL);
}

static u32 vl_generation(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);

	return READ_ONCE(vl->config_gen);
}

static u8 vl_get_status(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);

	return READ_ONCE(vl->status);
}

u64 vl_driver_features(struct vl_device *vl)
{
	/* Pairs with the release in vl_reset(): vdev.features is the core's. */
	if (!smp_load_acquire(&vl->core_live))
		return 0;
	return vl->vdev.features & vl->device_features &
	       (~VL_TRANSPORT_F_MASK | VL_TRANSPORT_F_KEEP);
}

/*
 * DRIVER_OK waits (bounded) for the adapter to start the back-end: only
 * then may the driver expect its requests to be served. The features
 * reported are those the back-end offered, so VIRTIO_F_ACCESS_PLATFORM,
 * which the transport adds for itself, does not leak.
 */
static void vl_set_status(struct virtio_device *vdev, u8 status)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	u8 old = READ_ONCE(vl->status);
	struct virtio_loopback_event ev = {
		.index = vdev->index,
		.status = status,
	};

	WRITE_ONCE(vl->status, status);
	trace_vl_status(vl, old, status);
	if ((status & VIRTIO_CONFIG_S_FAILED) && !(old & VIRTIO_CONFIG_S_FAILED)) {
		ev.type = VIRTIO_LOOPBACK_EV_FAILED;
		vl_event_send(vl, &ev, GFP_ATOMIC);
	}
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		ev.type = VIRTIO_LOOPBACK_EV_DRIVER_OK;
		ev.flags = VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY;
		/*
		 * Only what the back-end offered and the driver was offered:
		 * ACCESS_PLATFORM is ours (a back-end that offers it too must
		 * not be told the driver expects an IOMMU from it).
		 */
		ev.features = vl_driver_features(vl);
		vl->started = true;
		vl_event_send(vl, &ev, GFP_KERNEL);
	}
}

/*
 * The driver frees the rings once reset returns, so the back-end must have
 * stopped using them: wait (bounded) for the adapter. Nothing to stop if
 * the back-end was never started (register_virtio_device() resets first).
 */
static void vl_reset(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	struct virtio_loopback_event ev = {
		.type = VIRTIO_LOOPBACK_EV_RESET,
		.flags = VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY,
		.index = vdev->index,
	};

	/* Publishes vdev->index and the core's locks (see vl_core_live()). */
	smp_store_release(&vl->core_live, true);
	if (vl->started) {
		vl->started = false;
		vl_event_send(vl, &ev, GFP_KERNEL);
	}
	trace_vl_status(vl, READ_ONCE(vl->status), 0);
	WRITE_ONCE(vl->status, 0);
}

/* ------------------------------------------------------------------ */
/* Transport interface                                                  */
/* ------------------------------------------------------------------ */

static void vl_del_vqs(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	u32 i;

	for (i = 0; i < vl->num_queues; i++) {
		struct vl_vq *q = &vl->vqs[i];
		struct virtqueue *vq;
		struct vl_relay relay;
		unsigned long flags;
		s16 *count;

		spin_lock_irqsave(&q->lock, flags);
		vq = q->vq;
		count = q->shadow.count;
		relay = q->relay;
		memset(&q->relay, 0, sizeof(q->relay));
		q->vq = NULL;
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		q->num = 0;
		q->desc_iova = 0;
		q->avail_iova = 0;
		q->used_iova = 0;
		memset(&q->shadow, 0, sizeof(q->shadow));
		spin_unlock_irqrestore(&q->lock, flags);
		if (!vq)
			continue;
		trace_vl_queue_del(q);
		/* An interrupt already past the check above still uses vq. */
		cancel_delayed_work_sync(&q->dead_work);
		irq_work_sync(&q->irq_work);
		irq_work_sync(&q->kick_work);
		if (relay.mem)
			vl_mem_hold_to_device(vl->mem, i, false);
		vl_relay_free(vl, &relay);
		vring_del_virtqueue(vq);
		kvfree(count);
	}
}

static int vl_setup_vq(struct vl_device *vl, u32 index, vq_callback_t *callback,
		       const char *name, bool ctx, struct virtqueue **out)
{
	struct vl_vq *q;
	struct virtqueue *vq;
	void *desc, *avail, *used;
	unsigned long flags;
	s16 *count;
	u32 num;
	int ret;

	if (index >= vl->num_queues)
		return -ENOENT;
	q = &vl->vqs[array_index_nospec(index, vl->num_queues)];
	if (WARN_ON_ONCE(q->vq))
		return -EBUSY;

	vq = vring_create_virtqueue(index, q->max_size, VL_VRING_ALIGN, &vl->vdev,
				    true, true, ctx, vl_notify, callback, name);
	if (!vq)
		return -ENOMEM;
	num = virtqueue_get_vring_size(vq);
	if (!is_power_of_2(num)) {
		ret = -EINVAL;
		goto err_del;
	}

	desc = vl_mem_iova_to_virt(vl->mem, virtqueue_get_desc_addr(vq), vl_desc_bytes(num));
	avail = vl_mem_iova_to_virt(vl->mem, virtqueue_get_avail_addr(vq), vl_avail_bytes(num));
	used = vl_mem_iova_to_virt(vl->mem, virtqueue_get_used_addr(vq), vl_used_bytes(num));
	if (!desc || !avail || !used) {
		dev_err_ratelimited(&vl->parent, "queue %u: ring outside the memory region\n",
				    index);
		trace_vl_error(&vl->parent, "setup_vq", "ring outside the memory region", -EINVAL);
		ret = -EINVAL;
		goto err_del;
	}
	count = kvcalloc(num, sizeof(*count), GFP_KERNEL);
	if (!count) {
		ret = -ENOMEM;
		goto err_del;
	}
	if (vl_queue_is_relayed(vl, index)) {
		ret = vl_relay_alloc(q);
		if (ret) {
			kvfree(count);
			goto err_del;
		}
	}

	vq->priv = q;
	spin_lock_irqsave(&q->lock, flags);
	q->num = num;
	if (q->relay.mem) {
		q->desc_iova = q->relay.desc_iova;
		q->avail_iova = q->relay.avail_iova;
		q->used_iova = q->relay.used_iova;
	} else {
		q->desc_iova = virtqueue_get_desc_addr(vq);
		q->avail_iova = virtqueue_get_avail_addr(vq);
		q->used_iova = virtqueue_get_used_addr(vq);
	}
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->shadow.count = count;
	q->shadow.num = num;
	q->swept_used = 0;
	q->garbage = false;
	vl_shadow_reset(&q->shadow, 0);
	q->dead = READ_ONCE(vl->dead);
	q->vq = vq;
	trace_vl_queue_setup(q);
	spin_unlock_irqrestore(&q->lock, flags);
	*out = vq;
	return 0;

err_del:
	vring_del_virtqueue(vq);
	return ret;
}

/*
 * Entries without a name get no queue and consume no queue index (as in
 * virtio-mmio); the queue index counts the named entries before it.
 */
#ifdef VL_HAVE_VQS_INFO
static int vl_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
		       struct virtqueue *vqs[], struct virtqueue_info vqs_info[],
		       struct irq_affinity *desc)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	u32 i, queue_idx = 0;
	int ret;

	for (i = 0; i < nvqs; i++) {
		vqs[i] = NULL;
		if (!vqs_info[i].name)
			continue;
		ret = vl_setup_vq(vl, queue_idx++, vqs_info[i].callback,
				  vqs_info[i].name, vqs_info[i].ctx, &vqs[i]);
		if (ret)
			goto err;
	}
	return 0;
err:
	trace_vl_error(&vl->parent, "find_vqs", vqs_info[i].name, ret);
	vl_del_vqs(vdev);
	return ret;
}
#else
static int vl_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
		       struct virtqueue *vqs[], vq_callback_t *callbacks[],
		       const char * const names[], const bool *ctx,
		       struct irq_affinity *desc)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	u32 i, queue_idx = 0;
	int ret;

	for (i = 0; i < nvqs; i++) {
		vqs[i] = NULL;
		if (!names[i])
			continue;
		ret = vl_setup_vq(vl, queue_idx++, callbacks[i], names[i],
				  ctx ? ctx[i] : false, &vqs[i]);
		if (ret)
			goto err;
	}
	return 0;
err:
	trace_vl_error(&vl->parent, "find_vqs", names[i], ret);
	vl_del_vqs(vdev);
	return ret;
}
#endif

static void vl_synchronize_cbs(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	u32 i;

	for (i = 0; i < vl->num_queues; i++)
		irq_work_sync(&vl->vqs[i].irq_work);
}

/*
 * What the driver is offered: the back-end's device features, the
 * transport features we implement, VERSION_1, and ACCESS_PLATFORM so that
 * the ring uses the DMA API, i.e. our bounce operations.
 */
static u64 vl_get_features(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);
	u64 f = vl->device_features | READ_ONCE(vl->quirk_features);

	f &= ~VL_TRANSPORT_F_MASK | VL_TRANSPORT_F_KEEP;
	return f | BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_ACCESS_PLATFORM);
}

static int vl_finalize_features(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);

	vring_transport_features(vdev);
	if (!__virtio_test_bit(vdev, VIRTIO_F_VERSION_1)) {
		dev_err_ratelimited(&vl->parent, "driver did not accept VIRTIO_F_VERSION_1\n");
		trace_vl_error(&vl->parent, "finalize_features", "VERSION_1 not accepted",
			       -EINVAL);
		return -EINVAL;
	}
	/* vring_use_dma_api() is evaluated when each queue is created. */
	__virtio_set_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

static const char *vl_bus_name(struct virtio_device *vdev)
{
	struct vl_device *vl = vl_from_vdev(vdev);

	return dev_name(&vl->parent);
}

const struct virtio_config_ops vl_config_ops = {
	.get			= vl_get,
	.set			= vl_set,
	.generation		= vl_generation,
	.get_status		= vl_get_status,
	.set_status		= vl_set_status,
	.reset			= vl_reset,
	.find_vqs		= vl_find_vqs,
	.del_vqs		= vl_del_vqs,
	.synchronize_cbs	= vl_synchronize_cbs,
	.get_features		= vl_get_features,
	.finalize_features	= vl_finalize_features,
	.bus_name		= vl_bus_name,
};

/* ------------------------------------------------------------------ */
/* Handing a queue to a new back-end                                    */
/* ------------------------------------------------------------------ */

/* The relay ring starts again at what the old back-end gave back. */
static void vl_relay_rewind(struct vl_vq *q, u16 *base, u32 *outstanding)
{
	struct vl_relay *r = &q->relay;

	vl_relay_reclaim(q);
	bitmap_zero(r->busy, VL_RELAY_NUM);
	r->next_avail = r->last_used;
	r->oldest = r->last_used;
	r->posted = r->tail;
	vl_relay_post(r);
	*base = r->last_used;
	*outstanding = (u16)(r->next_avail - r->last_used);
}

/*
 * Put the outstanding heads into the avail ring just before the scanned
 * avail index, newest last. The window of the last @num entries gives the
 * order (a head's latest appearance); heads older than the window go first.
 * Slots before the scanned index are never written by the driver again
 * while that many chains are outstanding, and it never reads them back.
 */
static int vl_vq_rewrite_avail(struct vl_vq *q, unsigned long *seen, u16 *heads)
{
	struct vl_shadow *s = &q->shadow;
	u32 mask = s->num - 1, k = s->outstanding, pos = k, i;
	u16 end = s->last_avail;

	for (i = 1; i <= s->num && pos; i++) {
		u16 h = le16_to_cpu(READ_ONCE(q->avail->ring[(u16)(end - i) & mask]));

		if (h < s->num && s->count[h] == 1 && !__test_and_set_bit(h, seen))
			heads[--pos] = h;
	}
	for (i = 0; i < s->num && pos; i++)
		if (s->count[i] == 1 && !__test_and_set_bit(i, seen))
			heads[--pos] = i;
	if (pos)
		return -ESTALE;	/* counts and heads disagree: not trusted */
	for (i = 0; i < k; i++)
		WRITE_ONCE(q->avail->ring[(u16)(end - k + i) & mask], cpu_to_le16(heads[i]));
	/* The new back-end reads the entries after it reads avail->idx. */
	virtio_wmb(true);
	return 0;
}

int vl_vq_rewind(struct vl_vq *q, bool query, u16 *base, u32 *outstanding)
{
	unsigned long *seen, flags;
	u16 *heads;
	int ret = 0;

	/* q->num never exceeds max_size: allocate before taking the lock. */
	seen = bitmap_zalloc(q->max_size, GFP_KERNEL);
	heads = kvmalloc_array(q->max_size, sizeof(*heads), GFP_KERNEL);
	if (!seen || !heads) {
		ret = -ENOMEM;
		goto out;
	}
	spin_lock_irqsave(&q->lock, flags);
	if (!q->vq) {
		ret = -ENOENT;
	} else if (q->dead || q->garbage) {
		ret = -EIO;
	} else if (q->relay.mem && query) {
		/* The relay ring as the old back-end left it: its record knows. */
		vl_relay_reclaim(q);
		ret = q->garbage ? -EIO : 0;
		*base = q->relay.last_used;
		*outstanding = (u16)(q->relay.next_avail - q->relay.last_used);
	} else if (q->relay.mem) {
		vl_relay_rewind(q, base, outstanding);
	} else {
		vl_shadow_scan(q);
		if (q->shadow.lost || q->garbage)
			ret = -ESTALE;
		else if (!query)
			ret = vl_vq_rewrite_avail(q, seen, heads);
		if (!ret) {
			*outstanding = q->shadow.outstanding;
			*base = query ? q->shadow.last_used :
				q->shadow.last_avail - *outstanding;
		}
	}
	spin_unlock_irqrestore(&q->lock, flags);
out:
	kvfree(heads);
	bitmap_free(seen);
	return ret;
}

/* ------------------------------------------------------------------ */
/* A new adapter                                                        */
/* ------------------------------------------------------------------ */

/* Install @kicks (NULL: none), and put the old contexts; sleeps. */
static void vl_swap_kicks(struct vl_device *vl, struct eventfd_ctx **kicks)
{
	u32 i;

	/*
	 * Swap, wait until no notify can still use an old context, then drop
	 * them. @kicks takes the old contexts for that.
	 */
	for (i = 0; i < vl->num_queues; i++) {
		struct vl_vq *q = &vl->vqs[i];
		struct eventfd_ctx *old;
		unsigned long flags;

		spin_lock_irqsave(&q->lock, flags);
		old = q->kick;
		WRITE_ONCE(q->kick, kicks[i]);
		spin_unlock_irqrestore(&q->lock, flags);
		kicks[i] = old;
	}
	synchronize_rcu();
	for (i = 0; i < vl->num_queues; i++) {
		irq_work_sync(&vl->vqs[i].kick_work);
		if (kicks[i])
			eventfd_ctx_put(kicks[i]);
		kicks[i] = NULL;
	}
}

void vl_transport_detach(struct vl_device *vl)
{
	struct eventfd_ctx **none;

	none = kcalloc(vl->num_queues, sizeof(*none), GFP_KERNEL | __GFP_NOFAIL);
	vl_swap_kicks(vl, none);
	kfree(none);
}

void vl_transport_attach(struct vl_device *vl, struct eventfd_ctx **kicks,
			 struct file **calls)
{
	u32 i;

	vl_swap_kicks(vl, kicks);

	/*
	 * Zero-copy: the old back-end may still map pages of buffers in
	 * flight; take every one away (the new back-end faults them in again
	 * through its own mapping). Before the new call eventfd is hooked:
	 * nothing it completes can be delivered before the zap.
	 */
	vl_mem_sweep_begin(vl->mem);
	vl_mem_sweep_end(vl->mem, true);

	for (i = 0; i < vl->num_queues; i++) {
		struct vl_vq *q = &vl->vqs[i];

		vl_vq_unhook_call(q);
		if (q->call)
			eventfd_ctx_put(q->call);
		q->call = NULL;
		/* An eventfd's file (checked by the caller): cannot fail. */
		WARN_ON_ONCE(vl_vq_hook_file(q, calls[i]));
		/* Completions signalled on the old eventfd meanwhile. */
		irq_work_queue(&q->irq_work);
	}
}

/* ------------------------------------------------------------------ */
/* Teardown                                                             */
/* ------------------------------------------------------------------ */

/*
 * Let a back-end that is still running finish what it has: stop when every
 * ring is drained, when no used index moved for VL_GRACE_STALL_MS, or after
 * teardown_grace_ms. The scans keep the shadows fresh meanwhile.
 */
static void vl_grace_period(struct vl_device *vl)
{
	unsigned long end = jiffies +
		msecs_to_jiffies(min(READ_ONCE(vl_teardown_grace_ms),
				     VL_MAX_TEARDOWN_GRACE_MS));
	unsigned long progress = jiffies;
	u32 last_sig = 0;
	bool first = true;

	while (time_before(jiffies, end)) {
		bool busy = false;
		u32 sig = 0, i;

		for (i = 0; i < vl->num_queues; i++) {
			struct vl_vq *q = &vl->vqs[i];
			unsigned long flags;
			bool kick = false;

			spin_lock_irqsave(&q->lock, flags);
			if (q->vq) {
				u16 u = le16_to_cpu(READ_ONCE(q->used->idx));
				u16 a = le16_to_cpu(READ_ONCE(q->avail->idx));

				vl_shadow_scan(q);
				busy |= a != u;
				sig = sig * 31 + u;
				/* Relayed bytes the back-end has not taken yet. */
				if (q->relay.mem && !q->garbage) {
					vl_relay_reclaim(q);
					kick = vl_relay_post(&q->relay);
					busy |= q->relay.tail != q->relay.head;
					sig = sig * 31 + q->relay.last_used;
				}
			}
			spin_unlock_irqrestore(&q->lock, flags);
			if (kick)
				vl_kick_backend(q);
		}
		if (!busy)
			return;
		if (first || sig != last_sig) {
			first = false;
			last_sig = sig;
			progress = jiffies;
		} else if (time_after(jiffies, progress + msecs_to_jiffies(VL_GRACE_STALL_MS))) {
			return;
		}
		msleep(VL_GRACE_POLL_MS);
	}
}

/*
 * Become the device on every queue: complete the outstanding chains with an
 * error, and new ones as they are notified (dead mode). Returns false if
 * some queue's in-flight set is unknown; those chains are left alone.
 */
static bool vl_transport_go_dead(struct vl_device *vl)
{
	bool trusted = true;
	u32 i;

	WRITE_ONCE(vl->dead, true);
	for (i = 0; i < vl->num_queues; i++) {
		struct vl_vq *q = &vl->vqs[i];
		unsigned long flags;
		bool ok = true;

		spin_lock_irqsave(&q->lock, flags);
		q->dead = true;
		if (q->vq)
			ok = vl_vq_dead_process(q, true);
		/* Dead mode completes everything: nothing to hold back. */
		if (q->relay.mem)
			vl_mem_hold_to_device(vl->mem, q->index, false);
		spin_unlock_irqrestore(&q->lock, flags);
		if (!ok)
			trusted = false;
		irq_work_queue(&q->irq_work);
	}
	return trusted;
}

void vl_transport_fail(struct vl_device *vl, const char *why)
{
	/* From here on the back-end cannot read or write the rings. */
	vl_mem_revoke(vl->mem);
	if (!vl_transport_go_dead(vl)) {
		/*
		 * Completing unknown chains would corrupt the driver's state;
		 * a broken queue at least fails new requests.
		 */
		dev_err_ratelimited(&vl->parent,
				    "in-flight requests unknown (%s); breaking the virtqueues\n",
				    why);
		trace_vl_error(&vl->parent, "fail", "in-flight requests unknown", -EIO);
		virtio_break_device(&vl->vdev);
	}
}

void vl_transport_teardown(struct vl_device *vl)
{
	u32 i;

	/* A device already failed over has cut its back-end off. */
	if (!READ_ONCE(vl->dead))
		vl_grace_period(vl);
	vl_transport_fail(vl, "removal");
	for (i = 0; i < vl->num_queues; i++)
		vl_vq_unhook_call(&vl->vqs[i]);
}
