// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvlb inflight I/O tracking (vhost-user spec, "Inflight I/O tracking",
 * VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), split rings only.
 *
 * GET_INFLIGHT_FD makes a zeroed memory file with one record per queue;
 * the front-end keeps it and hands it back with SET_INFLIGHT_FD to every
 * back-end it starts, so a back-end that died leaves behind which chains
 * it had taken and not completed. While a queue runs:
 *
 *   pop:   desc[head].counter = counter++, then desc[head].inflight = 1
 *   push:  desc[head].next = last_batch_head, last_batch_head = head
 *   flush: used->idx published, then inflight = 0 for each head of the
 *          batch (the list from last_batch_head), then used_idx = used->idx
 *
 * When a queue starts with a record that says something, a dead back-end
 * may have stopped between publishing used->idx and clearing the batch:
 * used_idx then differs from used->idx and the batch is cleared now. The
 * chains still marked are popped again first, oldest first, and the avail
 * ring is taken up after them: last_avail_idx = used->idx + their number.
 *
 * The front-end shares the file and may be buggy: every value read from
 * it is copied once, then checked (version, desc_num against the ring and
 * the mapping, heads against the ring size, batch sizes), and garbage is a
 * protocol error, never an access outside the mapping.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vlb_log.h"
#include "vlb_priv.h"

/* Header and @queue_size descriptor states, rounded up to VLB_INFLIGHT_ALIGN. */
size_t vlb_inflight_stride(unsigned int queue_size)
{
	size_t n = sizeof(struct vlb_inflight_queue) +
		   (size_t)queue_size * sizeof(struct vlb_inflight_desc);

	return (n + VLB_INFLIGHT_ALIGN - 1) & ~(size_t)(VLB_INFLIGHT_ALIGN - 1);
}

/* What GET and SET have in common: payload size, queue count and size. */
static int vlb_inflight_check(struct vlb_dev *dev, const struct vhost_user_msg *msg)
{
	const struct vhost_user_inflight *in = &msg->payload.inflight;
	const char *name = vlb_request_name(msg->hdr.request);

	if (msg->hdr.size != sizeof(*in) && msg->hdr.size != VHOST_USER_INFLIGHT_MIN_SIZE)
		return vlb_panic(dev, "%s: payload of %u bytes, expected %zu", name,
				 msg->hdr.size, sizeof(*in));
	if (!in->num_queues || in->num_queues > dev->nr_vqs)
		return vlb_panic(dev, "%s: %u queues, the device has %u", name,
				 in->num_queues, dev->nr_vqs);
	if (!in->queue_size || in->queue_size > VLB_VQ_MAX_SIZE)
		return vlb_panic(dev, "%s: queue size %u out of range", name, in->queue_size);
	return 0;
}

int vlb_inflight_get(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vhost_user_inflight *in = &msg->payload.inflight;
	size_t stride, len;
	unsigned int i;
	uint8_t *p;
	int fd, ret;

	ret = vlb_inflight_check(dev, msg);
	if (ret)
		return ret;
	stride = vlb_inflight_stride(in->queue_size);
	len = stride * in->num_queues;

	fd = memfd_create("vlb-inflight", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
		ret = -errno;
		goto fail;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	/* The file is zeroed: every chain completed, nothing to resubmit. */
	for (i = 0; i < in->num_queues; i++) {
		struct vlb_inflight_queue *q = (void *)(p + i * stride);

		q->desc_num = in->queue_size;
		q->version = VLB_INFLIGHT_VERSION;
	}
	munmap(p, len);

	in->mmap_size = len;
	in->mmap_offset = 0;
	in->padding = 0;
	msg->fds[0] = fd;
	msg->nfds = 1;
	vlb_dbg(VLB_DBG_VQ, dev->name, "inflight file of %zu bytes for %u queues of %u",
		len, in->num_queues, in->queue_size);
	return VLB_REPLY_FD;

fail:
	/* Our resources, not the front-end's fault: "no inflight file". */
	vlb_err(dev->name, "GET_INFLIGHT_FD: creating a %zu-byte inflight file: %s",
		len, strerror(-ret));
	if (fd >= 0)
		close(fd);
	in->mmap_size = 0;
	in->mmap_offset = 0;
	return VLB_REPLY;
}

void vlb_inflight_unmap(struct vlb_dev *dev)
{
	if (dev->inflight_addr)
		munmap(dev->inflight_addr, dev->inflight_len);
	dev->inflight_addr = NULL;
	dev->inflight_len = 0;
	dev->inflight_stride = 0;
	dev->inflight_queues = 0;
	dev->inflight_qsize = 0;
}

int vlb_inflight_set(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	const struct vhost_user_inflight *in = &msg->payload.inflight;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	size_t stride, need;
	struct stat st;
	unsigned int i;
	void *p;
	int ret;

	ret = vlb_inflight_check(dev, msg);
	if (ret)
		return ret;
	for (i = 0; i < dev->nr_vqs; i++)
		if (dev->vqs[i].started)
			return vlb_panic(dev, "SET_INFLIGHT_FD while vq %u is started", i);
	stride = vlb_inflight_stride(in->queue_size);
	need = stride * in->num_queues;
	if (in->mmap_size < need)
		return vlb_panic(dev, "SET_INFLIGHT_FD: %llu bytes for %u queues of %u, need %zu",
				 (unsigned long long)in->mmap_size, in->num_queues,
				 in->queue_size, need);
	if (in->mmap_offset % page)
		return vlb_panic(dev, "SET_INFLIGHT_FD: offset 0x%llx not page aligned",
				 (unsigned long long)in->mmap_offset);
	/* Past the end of the file would be SIGBUS at the first access. */
	if (fstat(msg->fds[0], &st) < 0)
		return vlb_panic(dev, "SET_INFLIGHT_FD: fstat: %s", strerror(errno));
	if (st.st_size < 0 || in->mmap_offset > (uint64_t)st.st_size ||
	    need > (uint64_t)st.st_size - in->mmap_offset)
		return vlb_panic(dev, "SET_INFLIGHT_FD: %zu bytes at 0x%llx outside a %lld-byte file",
				 need, (unsigned long long)in->mmap_offset,
				 (long long)st.st_size);
	p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, msg->fds[0],
		 (off_t)in->mmap_offset);
	if (p == MAP_FAILED)
		return vlb_panic(dev, "SET_INFLIGHT_FD: mmap of %zu bytes: %s", need,
				 strerror(errno));
	vlb_inflight_unmap(dev);
	dev->inflight_addr = p;
	dev->inflight_len = need;
	dev->inflight_stride = stride;
	dev->inflight_queues = in->num_queues;
	dev->inflight_qsize = in->queue_size;
	/* The mapping keeps the file: the fd is closed with the message. */
	return 0;
}

static uint64_t vlb_load_counter(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int vlb_resubmit_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

/* A record nobody initialised (version 0): ours from now on, empty. */
static void vlb_inflight_init(struct vlb_vq *vq, struct vlb_inflight_queue *q)
{
	struct vlb_dev *dev = vq->dev;

	memset(q->desc, 0, (size_t)dev->inflight_qsize * sizeof(q->desc[0]));
	q->features = 0;
	q->desc_num = dev->inflight_qsize;
	q->last_batch_head = 0;
	q->used_idx = vq->used_idx;
	__atomic_store_n(&q->version, VLB_INFLIGHT_VERSION, __ATOMIC_RELEASE);
}

/*
 * Clear the last batch if a back-end published used->idx and died before
 * clearing it (spec: used_idx differs from used->idx).
 */
static int vlb_inflight_fix_batch(struct vlb_vq *vq, struct vlb_inflight_queue *q,
				  unsigned int *cleared)
{
	uint16_t rec_used = __atomic_load_n(&q->used_idx, __ATOMIC_RELAXED);
	uint16_t batch = vq->used_idx - rec_used;
	uint16_t head = __atomic_load_n(&q->last_batch_head, __ATOMIC_RELAXED);
	unsigned int k;

	*cleared = batch;
	if (!batch)
		return 0;
	if (batch > vq->num) {
		unsigned int i;

		/*
		 * No batch is that long: a record made for a ring that was
		 * already running (a first GET_INFLIGHT_FD after the start).
		 * Fine if it owes nothing; else it is garbage.
		 */
		for (i = 0; i < vq->num; i++)
			if (__atomic_load_n(&q->desc[i].inflight, __ATOMIC_RELAXED))
				return vlb_panic(vq->dev, "vq %u: inflight used_idx %u differs from used idx %u by more than a ring",
						 vq->index, rec_used, vq->used_idx);
		*cleared = 0;
		__atomic_store_n(&q->used_idx, vq->used_idx, __ATOMIC_RELEASE);
		return 0;
	}
	for (k = 0; k < batch; k++) {
		if (head >= vq->num)
			return vlb_panic(vq->dev, "vq %u: inflight batch head %u >= ring size %u",
					 vq->index, head, vq->num);
		__atomic_store_n(&q->desc[head].inflight, 0, __ATOMIC_RELAXED);
		head = __atomic_load_n(&q->desc[head].next, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&q->used_idx, vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/*
 * The chains @q marks in flight, as (counter, head) pairs sorted by
 * counter into *@listp; their number in *@np.
 */
static int vlb_inflight_collect(struct vlb_vq *vq, struct vlb_inflight_queue *q,
				unsigned int desc_num, uint64_t (**listp)[2],
				unsigned int *np)
{
	uint64_t (*list)[2];
	unsigned int i, n = 0;

	*listp = NULL;
	*np = 0;
	list = calloc(vq->num, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (i = 0; i < desc_num; i++) {
		uint8_t v = __atomic_load_n(&q->desc[i].inflight, __ATOMIC_ACQUIRE);

		if (!v)
			continue;
		if (v != 1 || i >= vq->num) {
			free(list);
			return vlb_panic(vq->dev, "vq %u: inflight record entry %u is %u (ring size %u)",
					 vq->index, i, v, vq->num);
		}
		list[n][0] = vlb_load_counter(&q->desc[i].counter);
		list[n][1] = i;
		n++;
	}
	/* Heads are distinct: the order is total once ties go by index. */
	qsort(list, n, sizeof(*list), vlb_resubmit_cmp);
	*listp = list;
	*np = n;
	return 0;
}

int vlb_inflight_start(struct vlb_vq *vq)
{
	struct vlb_dev *dev = vq->dev;
	struct vlb_inflight_queue *q;
	uint64_t (*list)[2];
	unsigned int desc_num, cleared, n, i;
	uint16_t version;
	int ret;

	vlb_inflight_stop(vq);
	if (!dev->inflight_addr || vq->index >= dev->inflight_queues)
		return 0;
	q = (void *)((uint8_t *)dev->inflight_addr + vq->index * dev->inflight_stride);

	version = __atomic_load_n(&q->version, __ATOMIC_ACQUIRE);
	if (!version) {
		vlb_inflight_init(vq, q);
		vq->inflight = q;
		return 0;
	}
	if (version != VLB_INFLIGHT_VERSION)
		return vlb_panic(dev, "vq %u: inflight record version %u, expected %u",
				 vq->index, version, VLB_INFLIGHT_VERSION);
	desc_num = __atomic_load_n(&q->desc_num, __ATOMIC_RELAXED);
	if (desc_num < vq->num || desc_num > dev->inflight_qsize)
		return vlb_panic(dev, "vq %u: inflight record of %u entries, ring %u, file room %u",
				 vq->index, desc_num, vq->num, dev->inflight_qsize);

	ret = vlb_inflight_fix_batch(vq, q, &cleared);
	if (ret)
		return ret;
	ret = vlb_inflight_collect(vq, q, desc_num, &list, &n);
	if (ret)
		return ret;
	if (n) {
		vq->resubmit = malloc(n * sizeof(*vq->resubmit));
		if (!vq->resubmit) {
			free(list);
			return -ENOMEM;
		}
		for (i = 0; i < n; i++)
			vq->resubmit[i] = (uint16_t)list[i][1];
		vq->inflight_counter = list[n - 1][0] + 1;
	} else {
		vq->inflight_counter = 0;
	}
	free(list);
	vq->resubmit_num = n;
	vq->resubmit_next = 0;
	/* Chains taken = completed + still owed; the base the front-end sent does not count. */
	vq->last_avail_idx = vq->used_idx + n;
	vq->inflight = q;
	if (n || cleared)
		vlb_log(dev->name, "vq %u: inflight record: %u requests to resubmit, %u completions repaired, used idx %u",
			vq->index, n, cleared, vq->used_idx);
	return 0;
}

void vlb_inflight_stop(struct vlb_vq *vq)
{
	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->resubmit_num = 0;
	vq->resubmit_next = 0;
	vq->inflight = NULL;
}

void vlb_inflight_taken(struct vlb_vq *vq, unsigned int head)
{
	struct vlb_inflight_desc *d;

	if (!vq->inflight)
		return;
	d = &vq->inflight->desc[head];
	__atomic_store_n(&d->counter, vq->inflight_counter++, __ATOMIC_RELAXED);
	/* The counter is valid whenever the entry is seen in flight. */
	__atomic_store_n(&d->inflight, 1, __ATOMIC_RELEASE);
}

void vlb_inflight_done(struct vlb_vq *vq, unsigned int head)
{
	struct vlb_inflight_queue *q = vq->inflight;

	if (!q)
		return;
	__atomic_store_n(&q->desc[head].next, q->last_batch_head, __ATOMIC_RELAXED);
	__atomic_store_n(&q->last_batch_head, (uint16_t)head, __ATOMIC_RELAXED);
}

void vlb_inflight_flushed(struct vlb_vq *vq, unsigned int batch)
{
	struct vlb_inflight_queue *q = vq->inflight;
	uint16_t head;
	unsigned int k;

	if (!q)
		return;
	/* After used->idx (release there): a crash from here on is repaired at start. */
	head = q->last_batch_head;
	for (k = 0; k < batch; k++) {
		/* We wrote these links, but the front-end shares the page. */
		if (head >= vq->num) {
			vlb_panic(vq->dev, "vq %u: inflight batch link %u >= ring size %u",
				  vq->index, head, vq->num);
			return;
		}
		__atomic_store_n(&q->desc[head].inflight, 0, __ATOMIC_RELAXED);
		head = q->desc[head].next;
	}
	__atomic_store_n(&q->used_idx, vq->used_idx, __ATOMIC_RELEASE);
}
