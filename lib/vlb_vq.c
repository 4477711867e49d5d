// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvlb split virtqueue processing (virtio spec 2.7).
 *
 * The rings live in memory the front-end shares with us and the driver
 * writes concurrently, so nothing read from them is trusted: each
 * descriptor is copied once into a local variable, then checked, then used
 * (no double fetch), and every buffer is translated through the memory
 * table with its whole length inside a region before an iovec points at it.
 * A violation is a protocol error (vlb_panic()): the driver is buggy or
 * hostile and the ring cannot be trusted any more.
 *
 * Ordering: avail->idx is read with acquire semantics before the entries
 * it covers; used entries are written before used->idx is stored with
 * release semantics; a full fence separates publishing used->idx from
 * reading the driver's notification suppression (used_event / flags), and
 * writing ours from re-checking the avail ring.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vlb_priv.h"

/* Most iovecs one element may have: every descriptor split at most twice. */
#define VLB_VQ_MAX_IOV		(2 * VLB_VQ_MAX_SIZE)

/*
 * An element and its iovecs in one allocation, so free() releases both.
 * @gen is the ring generation the element was popped in: an element held
 * across a stop/start must not land in the new ring's used entries.
 */
struct vlb_vq_elem_alloc {
	struct vlb_vq_elem elem;
	unsigned int gen;
	struct iovec sg[];
};

static uint16_t vlb_load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void vlb_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static uint16_t *vlb_used_event(struct vlb_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *vlb_avail_event(struct vlb_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

void vlb_vq_init(struct vlb_dev *dev, struct vlb_vq *vq, unsigned int index)
{
	memset(vq, 0, sizeof(*vq));
	vq->dev = dev;
	vq->index = index;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

/*
 * One part of a ring: NULL (and the device broken) unless it lies whole
 * inside one region of the memory table.
 */
static void *vq_map_part(struct vlb_vq *vq, const char *what, uint64_t qva, uint64_t size)
{
	uint64_t len = size;
	void *p = vlb_qva_to_va(vq->dev, qva, &len);

	if (p && len == size)
		return p;
	vlb_panic(vq->dev, "vq %u: %s 0x%llx+%llu outside the memory table",
		  vq->index, what, (unsigned long long)qva, (unsigned long long)size);
	return NULL;
}

/*
 * Translate the three rings (SET_VRING_ADDR gives front-end virtual
 * addresses) and check that each lies whole inside one region and is
 * aligned as the spec requires (2.7: desc 16, avail 2, used 4).
 */
int vlb_vq_map(struct vlb_vq *vq)
{
	struct vlb_dev *dev = vq->dev;
	bool event = vlb_has_feature(dev, VLB_F_EVENT_IDX);
	uint64_t desc_len = 16ULL * vq->num;
	uint64_t avail_len = 4 + 2ULL * vq->num + (event ? 2 : 0);
	uint64_t used_len = 4 + 8ULL * vq->num + (event ? 2 : 0);
	void *desc, *avail, *used;

	vq->mapped = false;
	if (!vq->num || !vq->addr_set)
		return vlb_panic(dev, "vq %u: started before SET_VRING_NUM and SET_VRING_ADDR",
				 vq->index);

	desc = vq_map_part(vq, "descriptor table", vq->addr.desc_user_addr, desc_len);
	if (!desc)
		return -EIO;
	avail = vq_map_part(vq, "avail ring", vq->addr.avail_user_addr, avail_len);
	if (!avail)
		return -EIO;
	used = vq_map_part(vq, "used ring", vq->addr.used_user_addr, used_len);
	if (!used)
		return -EIO;
	if ((uintptr_t)desc % 16 || (uintptr_t)avail % 2 || (uintptr_t)used % 4)
		return vlb_panic(dev, "vq %u: misaligned ring (desc 0x%llx avail 0x%llx used 0x%llx)",
				 vq->index, (unsigned long long)vq->addr.desc_user_addr,
				 (unsigned long long)vq->addr.avail_user_addr,
				 (unsigned long long)vq->addr.used_user_addr);

	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->mapped = true;
	vlb_dbg(VLB_DBG_VQ, dev->name, "vq %u: mapped, num %u", vq->index, vq->num);
	return 0;
}

/* SET_VRING_KICK: the ring starts; SET_VRING_BASE gave last_avail_idx. */
int vlb_vq_start(struct vlb_vq *vq)
{
	int ret;

	vq->started = true;
	ret = vlb_vq_map(vq);
	if (ret)
		return ret;
	vq->used_idx = vlb_load16(&vq->used->idx);
	/* An inflight record overrides SET_VRING_BASE's last_avail_idx. */
	ret = vlb_inflight_start(vq);
	if (ret)
		return ret;
	vq->shadow_avail_idx = vq->last_avail_idx;
	/* Ask for kicks: an earlier session may have left them off. */
	vq->notify = true;
	if (vlb_has_feature(vq->dev, VLB_F_EVENT_IDX))
		vlb_store16(vlb_avail_event(vq), vq->last_avail_idx);
	else
		vlb_store16(&vq->used->flags, 0);
	vq->signalled_used_valid = false;
	vq->pending = 0;
	vq->inuse = 0;
	vq->gen++;
	vlb_vq_update_ready(vq);
	return 0;
}

/* GET_VRING_BASE, reset, disconnect: no more processing, kick fd dropped. */
void vlb_vq_stop(struct vlb_vq *vq)
{
	vq->started = false;
	vq->mapped = false;
	vq->gen++;
	vlb_inflight_stop(vq);
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	vq->kick_fd = -1;
	vlb_vq_update_ready(vq);
}

void vlb_vq_reset(struct vlb_vq *vq)
{
	unsigned int gen;

	vlb_vq_stop(vq);
	gen = vq->gen;
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	vlb_vq_init(vq->dev, vq, vq->index);
	vq->gen = gen;
}

void vlb_vq_update_ready(struct vlb_vq *vq)
{
	struct vlb_dev *dev = vq->dev;
	bool ready = vq->started && vq->enabled && vq->mapped && !dev->broken;

	if (ready == vq->ready)
		return;
	vq->ready = ready;
	vq->kick_pending = ready;
	vlb_dbg(VLB_DBG_VQ, dev->name, "vq %u: %s", vq->index, ready ? "ready" : "stopped");
	if (dev->iface->queue_set_started)
		dev->iface->queue_set_started(dev, vq->index, ready);
}

bool vlb_vq_ready(const struct vlb_vq *vq)
{
	return vq->ready && vq->mapped && !vq->dev->broken;
}

unsigned int vlb_vq_index(const struct vlb_vq *vq)
{
	return vq->index;
}

int vlb_vq_kick_fd(const struct vlb_vq *vq)
{
	return vq->kick_fd;
}

/* Read avail->idx; a value more than num ahead of us is a protocol error. */
static int vlb_vq_read_avail_idx(struct vlb_vq *vq)
{
	uint16_t idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));

	if ((uint16_t)(idx - vq->last_avail_idx) > vq->num)
		return vlb_panic(vq->dev, "vq %u: avail idx %u is more than %u ahead of %u",
				 vq->index, idx, vq->num, vq->last_avail_idx);
	vq->shadow_avail_idx = idx;
	return 0;
}

void vlb_vq_kick_later(struct vlb_vq *vq)
{
	vq->kick_pending = true;
}

bool vlb_vq_empty(struct vlb_vq *vq)
{
	if (!vlb_vq_ready(vq))
		return true;
	if (vq->resubmit_next < vq->resubmit_num)
		return false;
	if (vq->shadow_avail_idx != vq->last_avail_idx)
		return false;
	if (vlb_vq_read_avail_idx(vq))
		return true;
	return vq->shadow_avail_idx == vq->last_avail_idx;
}

/* The iovecs of the element being built. */
struct vlb_sg {
	struct iovec *iov;
	unsigned int n;
	unsigned int cap;
	unsigned int out;	/* device-readable entries, all before the rest */
	bool writable;		/* a device-writable descriptor was seen */
};

/* Append the buffer of descriptor @d (already copied out of the ring). */
static int vlb_sg_add(struct vlb_vq *vq, struct vlb_sg *sg,
		      const struct vlb_vring_desc *d)
{
	struct vlb_dev *dev = vq->dev;
	uint64_t addr = d->addr;
	uint64_t left = d->len;

	if (d->flags & VLB_DESC_F_WRITE)
		sg->writable = true;
	else if (sg->writable)
		return vlb_panic(dev, "vq %u: device-readable descriptor after a writable one",
				 vq->index);
	if (addr + left < addr)
		return vlb_panic(dev, "vq %u: descriptor 0x%llx+%u overflows",
				 vq->index, (unsigned long long)addr, d->len);

	while (left) {
		uint64_t len = left;
		void *p = vlb_gpa_to_va(dev, addr, &len);

		if (!p)
			return vlb_panic(dev, "vq %u: buffer 0x%llx+%u outside the memory table",
					 vq->index, (unsigned long long)d->addr, d->len);
		if (sg->n == sg->cap) {
			unsigned int cap = sg->cap ? 2 * sg->cap : 16;
			struct iovec *iov;

			if (sg->n >= VLB_VQ_MAX_IOV)
				return vlb_panic(dev, "vq %u: more than %u buffers in one chain",
						 vq->index, VLB_VQ_MAX_IOV);
			iov = realloc(sg->iov, cap * sizeof(*iov));
			if (!iov)
				return -ENOMEM;
			sg->iov = iov;
			sg->cap = cap;
		}
		sg->iov[sg->n].iov_base = p;
		sg->iov[sg->n].iov_len = len;
		sg->n++;
		if (!sg->writable)
			sg->out++;
		addr += len;
		left -= len;
	}
	return 0;
}

static void vlb_desc_read(struct vlb_vring_desc *d, const uint8_t *table,
			  unsigned int i)
{
	memcpy(d, table + (size_t)i * sizeof(*d), sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Walk the chain at @head (2.7.5 and 2.7.5.3 for indirect tables). */
static int vlb_vq_walk(struct vlb_vq *vq, unsigned int head, struct vlb_sg *sg)
{
	struct vlb_dev *dev = vq->dev;
	const uint8_t *table = (const uint8_t *)vq->desc;
	unsigned int max = vq->num;
	unsigned int count = 0;
	unsigned int i = head;
	bool indirect = false;
	int ret;

	for (;;) {
		struct vlb_vring_desc d;

		/* Chains never exceed their table: catches loops too. */
		if (++count > max)
			return vlb_panic(dev, "vq %u: %s chain at head %u longer than %u (loop?)",
					 vq->index, indirect ? "indirect" : "descriptor",
					 head, max);
		vlb_desc_read(&d, table, i);

		if (d.flags & VLB_DESC_F_INDIRECT) {
			uint64_t len = d.len;
			const uint8_t *t;

			if (indirect)
				return vlb_panic(dev, "vq %u: nested indirect table at head %u",
						 vq->index, head);
			if (!vlb_has_feature(dev, VLB_F_INDIRECT_DESC))
				return vlb_panic(dev, "vq %u: indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC",
						 vq->index);
			if (d.flags & VLB_DESC_F_NEXT)
				return vlb_panic(dev, "vq %u: indirect descriptor with NEXT set",
						 vq->index);
			if (!d.len || d.len % sizeof(d) ||
			    d.len / sizeof(d) > VLB_VQ_MAX_SIZE)
				return vlb_panic(dev, "vq %u: bad indirect table length %u",
						 vq->index, d.len);
			if (d.addr + d.len < d.addr)
				return vlb_panic(dev, "vq %u: indirect table 0x%llx+%u overflows",
						 vq->index, (unsigned long long)d.addr, d.len);
			t = vlb_gpa_to_va(dev, d.addr, &len);
			if (!t || len != d.len)
				return vlb_panic(dev, "vq %u: indirect table 0x%llx+%u outside the memory table",
						 vq->index, (unsigned long long)d.addr, d.len);
			table = t;
			max = d.len / sizeof(d);
			count = 0;
			i = 0;
			indirect = true;
			continue;
		}

		ret = vlb_sg_add(vq, sg, &d);
		if (ret)
			return ret;
		if (!(d.flags & VLB_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= max)
			return vlb_panic(dev, "vq %u: next index %u beyond %s table of %u",
					 vq->index, i, indirect ? "indirect" : "descriptor", max);
	}
}

int vlb_vq_pop(struct vlb_vq *vq, struct vlb_vq_elem **elemp)
{
	struct vlb_dev *dev = vq->dev;
	struct vlb_vq_elem_alloc *a;
	struct vlb_sg sg = { 0 };
	bool resubmit;
	unsigned int head;
	int ret;

	*elemp = NULL;
	if (!vlb_vq_ready(vq))
		return -EAGAIN;
	/* A dead back-end's chains (inflight record) before new ones. */
	resubmit = vq->resubmit_next < vq->resubmit_num;
	if (!resubmit && vq->shadow_avail_idx == vq->last_avail_idx) {
		if (vlb_vq_read_avail_idx(vq))
			return -EIO;
		if (vq->shadow_avail_idx == vq->last_avail_idx)
			return -EAGAIN;
	}
	if (vq->inuse >= vq->num)
		return vlb_panic(dev, "vq %u: more than %u chains in flight",
				 vq->index, vq->num);

	if (resubmit)
		head = vq->resubmit[vq->resubmit_next];	/* checked < num at start */
	else
		head = vlb_load16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
	if (head >= vq->num)
		return vlb_panic(dev, "vq %u: avail ring entry %u names descriptor %u >= %u",
				 vq->index, vq->last_avail_idx, head, vq->num);

	ret = vlb_vq_walk(vq, head, &sg);
	if (ret)
		goto out;

	a = malloc(sizeof(*a) + (size_t)sg.n * sizeof(struct iovec));
	if (!a) {
		ret = -ENOMEM;
		goto out;
	}
	if (sg.n)
		memcpy(a->sg, sg.iov, sg.n * sizeof(struct iovec));
	a->elem.index = head;
	a->elem.out_num = sg.out;
	a->elem.in_num = sg.n - sg.out;
	a->elem.out_sg = a->sg;
	a->elem.in_sg = a->sg + sg.out;
	a->gen = vq->gen;
	if (resubmit) {
		vq->resubmit_next++;
	} else {
		vq->last_avail_idx++;
		vlb_inflight_taken(vq, head);
	}
	vq->inuse++;
	/*
	 * With EVENT_IDX the driver kicks only when it passes avail_event:
	 * keep it at our position, so a device that never touches
	 * notifications still hears of the next buffer (libvhost-user does
	 * the same).
	 */
	if (vq->notify && vlb_has_feature(dev, VLB_F_EVENT_IDX))
		vlb_store16(vlb_avail_event(vq), vq->last_avail_idx);
	*elemp = &a->elem;
	vlb_dbg(VLB_DBG_VQ, dev->name, "vq %u: pop head %u out %u in %u",
		vq->index, head, a->elem.out_num, a->elem.in_num);
out:
	free(sg.iov);
	return ret;
}

void vlb_vq_push(struct vlb_vq *vq, const struct vlb_vq_elem *elem,
		 uint32_t len)
{
	const struct vlb_vq_elem_alloc *a =
		(const void *)((const char *)elem - offsetof(struct vlb_vq_elem_alloc, elem));
	struct vlb_vring_used_elem *u;

	/* The ring was stopped (and maybe restarted) under the element. */
	if (a->gen != vq->gen || !vq->mapped) {
		vlb_dbg(VLB_DBG_VQ, vq->dev->name, "vq %u: dropping head %u of a stopped ring",
			vq->index, elem->index);
		return;
	}
	assert(vq->inuse > 0);
	vq->inuse--;
	u = &vq->used->ring[(uint16_t)(vq->used_idx + vq->pending) & (vq->num - 1)];
	__atomic_store_n(&u->id, htole32(elem->index), __ATOMIC_RELAXED);
	__atomic_store_n(&u->len, htole32(len), __ATOMIC_RELAXED);
	vlb_inflight_done(vq, elem->index);
	vq->pending++;
}

void vlb_vq_flush(struct vlb_vq *vq)
{
	uint16_t old = vq->used_idx;
	unsigned int batch = vq->pending;
	uint16_t new = old + batch;

	if (!vq->pending || !vq->mapped) {
		vq->pending = 0;
		return;
	}
	vq->pending = 0;
	vq->used_idx = new;
	/* Entries before the index (2.7.8.2). */
	__atomic_store_n(&vq->used->idx, htole16(new), __ATOMIC_RELEASE);
	vlb_inflight_flushed(vq, batch);
	/* The driver cannot have asked for an index we skipped over. */
	if ((uint16_t)(new - vq->signalled_used) < (uint16_t)(new - old))
		vq->signalled_used_valid = false;
}

/* virtio spec 2.7.10: signal if used_event lies in (old, new]. */
static bool vlb_need_event(uint16_t event, uint16_t new, uint16_t old)
{
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

int vlb_vq_notify(struct vlb_vq *vq)
{
	struct vlb_dev *dev = vq->dev;
	uint64_t one = 1;

	if (!vq->mapped || vq->call_fd < 0)
		return 0;
	/* used->idx store before reading the driver's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vlb_has_feature(dev, VLB_F_EVENT_IDX)) {
		uint16_t old = vq->signalled_used;
		uint16_t new = vq->used_idx;
		bool valid = vq->signalled_used_valid;

		vq->signalled_used = new;
		vq->signalled_used_valid = true;
		if (valid && !vlb_need_event(vlb_load16(vlb_used_event(vq)), new, old))
			return 0;
	} else if (vlb_load16(&vq->avail->flags) & VLB_AVAIL_F_NO_INTERRUPT) {
		return 0;
	}

	vlb_dbg(VLB_DBG_VQ, dev->name, "vq %u: notify, used idx %u", vq->index, vq->used_idx);
	while (write(vq->call_fd, &one, sizeof(one)) < 0) {
		if (errno == EINTR)
			continue;
		/* A full counter already means "interrupt pending". */
		if (errno == EAGAIN)
			return 0;
		return -errno;
	}
	return 0;
}

void vlb_vq_set_notification(struct vlb_vq *vq, bool enable)
{
	if (!vq->mapped)
		return;
	vq->notify = enable;
	if (vlb_has_feature(vq->dev, VLB_F_EVENT_IDX)) {
		if (enable)
			vlb_store16(vlb_avail_event(vq),
				    le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_RELAXED)));
	} else {
		vlb_store16(&vq->used->flags, enable ? 0 : VLB_USED_F_NO_NOTIFY);
	}
	/* Publish before the caller re-checks the avail ring. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

unsigned int vlb_vq_serve(struct vlb_dev *dev, unsigned int qidx,
			  unsigned int budget, vlb_vq_handle_cb handle,
			  void *opaque)
{
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);
	struct vlb_vq_elem *elem;
	unsigned int served = 0;
	uint16_t used_idx;
	int ret = 0;

	assert(budget && handle);
	for (;;) {
		vlb_vq_set_notification(vq, false);
		while (served < budget && (ret = vlb_vq_pop(vq, &elem)) == 0) {
			int64_t len = handle(dev, qidx, elem, opaque);

			served++;
			if (len == VLB_VQ_KEPT)
				continue;
			assert(len >= 0 && len <= UINT32_MAX);
			vlb_vq_push(vq, elem, len);
			free(elem);
		}
		if (served == budget) {
			/* Kicks stay off: we come back without one. */
			vlb_vq_kick_later(vq);
			break;
		}
		if (ret != -EAGAIN)
			break;
		vlb_vq_set_notification(vq, true);
		if (vlb_vq_empty(vq))
			break;
	}
	if (ret == -ENOMEM)
		vlb_err(dev->name, "vq %u: %s", qidx, strerror(-ret));
	/* A handler that kept every element pushed nothing to signal. */
	used_idx = vq->used_idx;
	vlb_vq_flush(vq);
	if (vq->used_idx == used_idx)
		return served;
	ret = vlb_vq_notify(vq);
	if (ret)
		vlb_err(dev->name, "vq %u: call eventfd: %s", qidx, strerror(-ret));
	return served;
}

size_t vlb_iov_size(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* Copy between @buf and @iov from @off on: into @iov if @to_iov. */
static size_t vlb_iov_copy(const struct iovec *iov, unsigned int n, size_t off,
			   uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		uint8_t *p;
		size_t c;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		p = (uint8_t *)iov[i].iov_base + off;
		c = iov[i].iov_len - off;
		if (c > len - done)
			c = len - done;
		if (!to_iov)
			memcpy(buf + done, p, c);
		else if (buf)
			memcpy(p, buf + done, c);
		else
			memset(p, 0, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t vlb_iov_to_buf(const struct iovec *iov, unsigned int n, size_t off,
		      void *buf, size_t len)
{
	return vlb_iov_copy(iov, n, off, buf, len, false);
}

size_t vlb_iov_from_buf(const struct iovec *iov, unsigned int n, size_t off,
			const void *buf, size_t len)
{
	return vlb_iov_copy(iov, n, off, (uint8_t *)buf, len, true);
}
