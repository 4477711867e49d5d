// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback: the memory region a back-end sees, and the DMA operations
 * that put the driver's buffers into it.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 *
 * Every device owns one region (struct vl_mem) of ordinary, zeroed kernel
 * pages. An address in the region (an "IOVA") is a byte offset from its
 * start; the transport puts IOVAs in the rings and the back-end, which maps
 * the region through a file from vl_mem_get_fd(), resolves them against its
 * own mapping. IOVA page 0 is never handed out, so IOVA 0 is never valid.
 *
 * How the transport uses this file:
 *   vl_mem_create()      when a device is created (size and mode from the
 *                        create ioctl);
 *   vl_mem_attach_dma()  on the device's DMA device (vdev->dev.parent),
 *                        before the virtio device is registered;
 *   vl_mem_get_fd()      for VIRTIO_LOOPBACK_GET_MEM_FD;
 *   vl_mem_revoke()      at teardown, before completing requests itself;
 *   vl_mem_put()         when the device is freed.
 *
 * Isolated mode (the only mode so far): coherent allocations (the rings)
 * are carved out of the region; every streaming mapping gets bounce pages
 * in the region, and data is copied between the driver's buffer and the
 * bounce pages at map, unmap and sync time, following the rules of
 * kernel/dma/swiotlb.c. The back-end never sees any other memory.
 *
 * Allocator: one bit per region page, first fit from a moving hint
 * ("next fit"), so that the usual FIFO-like life of I/O buffers finds free
 * space right at the hint. A record per region page (struct vl_slot) lets
 * unmap and sync, which get nothing but an IOVA, find the original buffer.
 *
 * The memory file: a private pseudo file system gives each region its own
 * inode, so that every file and every mmap of one region share one
 * address_space, and vl_mem_revoke() can zap them all without touching
 * anybody else's mappings (anon_inode_getfile() would share one inode with
 * the whole system). Pages are inserted on fault, as normal (not special)
 * PTEs, so get_user_pages() and thus O_DIRECT work on them.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bitmap.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <uapi/linux/virtio_loopback.h>

#include "vl_compat.h"
#include "vl_dma.h"

/* Magic number of the private pseudo file system ("vlmf"). */
#define VL_MEMFS_MAGIC		0x766c6d66

/*
 * Largest streaming mapping: a region / VL_MAP_SIZE_DIVISOR, at most
 * VL_MAX_MAP_SIZE, at least a page. It is what dma_max_mapping_size()
 * reports, so it bounds virtio-blk's segment size; a fraction of the region
 * keeps a few large requests from starving everybody else.
 */
#define VL_MAP_SIZE_DIVISOR	8
#define VL_MAX_MAP_SIZE		SZ_4M

/* Bits of struct vl_mem.flags. */
#define VL_MEM_WARNED_FULL	0	/* "region full" was logged */

/* Region pages never handed out, from page 0: IOVA 0 stays invalid. */
#define VL_RESERVED_PAGES	1

/* struct vl_slot.head of a free page (page 0 is never a head). */
#define VL_SLOT_FREE		0

/* struct vl_slot.orig of a head that is not a live streaming mapping. */
#define VL_ORIG_COHERENT	((phys_addr_t)-1)	/* a coherent allocation */
#define VL_ORIG_UNMAPPING	((phys_addr_t)-2)	/* unmap in progress */

/*
 * The gfp flags of the region itself: charged to the creator's memory
 * cgroup (a device can ask for 4 GiB), and a failure is an -ENOMEM for the
 * create ioctl, not an OOM kill or a warning.
 */
#define VL_REGION_GFP	(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN | \
			 __GFP_RETRY_MAYFAIL)

/**
 * struct vl_slot - what one region page is used for
 * @orig: head page of a streaming mapping: physical address of the first
 *        byte of the driver's buffer. VL_ORIG_COHERENT for a coherent
 *        allocation, VL_ORIG_UNMAPPING while an unmap copies back.
 * @len: head page: length of the mapping or allocation in bytes
 * @head: every page of a mapping or allocation: index of its first page;
 *        VL_SLOT_FREE when the page is free
 *
 * A streaming mapping of a buffer at physical address P gets the IOVA
 * head * PAGE_SIZE + offset_in_page(P): the offset in the page is kept, so
 * the copy loops work page by page on both sides, and a mapping spans
 * PFN_UP(offset_in_page(P) + len) pages (at least one).
 */
struct vl_slot {
	phys_addr_t orig;
	u32 len;
	u32 head;
};

/**
 * struct vl_mem - one device's memory region
 * @vaddr: kernel address of the region (vmalloc)
 * @size: bytes in the region
 * @npages: pages in the region
 * @max_map: largest streaming mapping in bytes
 * @mode: VIRTIO_LOOPBACK_MEM_*
 * @inode: inode of every memory file of this region (one address_space)
 * @kref: references: the device's and one per memory file
 * @lock: protects @bitmap, @slots, @hint and @pages_in_use. Taken with
 *        irqsave by the DMA ops (map, unmap, sync, alloc, free), which run
 *        in any context, hard IRQ included. Held only for the bookkeeping,
 *        never across a copy.
 * @bitmap: one bit per region page, set when in use (page 0 always)
 * @slots: one record per region page
 * @hint: where the next search for free pages starts
 * @pages_in_use: pages handed out (page 0 not counted); written under
 *                @lock, read locklessly for the statistics
 * @bytes_bounced: bytes copied either way
 * @maps: successful streaming mappings
 * @map_failures: mappings and allocations refused (no space, too large)
 * @flags: VL_MEM_* bits (atomic bitops)
 * @revoke_sem: orders @revoked against the fault handler: faults hold it
 *              for read while they check @revoked and insert a page;
 *              vl_mem_revoke() holds it for write to set @revoked, so no
 *              page can be inserted after its zap. Process context only.
 * @revoked: the region was taken away from the back-end (see
 *           vl_mem_revoke()); written under @revoke_sem, read locklessly
 *           where a stale value is harmless (mmap, get_fd)
 */
struct vl_mem {
	void *vaddr;
	u64 size;
	unsigned long npages;
	size_t max_map;
	u32 mode;
	struct inode *inode;
	struct kref kref;

	spinlock_t lock;
	unsigned long *bitmap;
	struct vl_slot *slots;
	unsigned long hint;
	unsigned long pages_in_use;

	atomic64_t bytes_bounced;
	atomic64_t maps;
	atomic64_t map_failures;
	unsigned long flags;

	struct rw_semaphore revoke_sem;
	bool revoked;
};

/* The pseudo file system every memory file lives on (see vl_mem_init()). */
static struct vfsmount *vl_mem_mnt;

/* ---------------------------------------------------------------------
 * Allocator and records
 */

/*
 * Find and reserve @nr free pages whose first index is a multiple of
 * @align_mask + 1. Returns the first page, or 0 (never a valid start,
 * page 0 is reserved) when there is no room.
 */
static unsigned long vl_range_alloc(struct vl_mem *mem, unsigned long nr,
				    unsigned long align_mask)
{
	unsigned long start, i;

	lockdep_assert_held(&mem->lock);

	if (nr > mem->npages - VL_RESERVED_PAGES)
		return 0;
	/* bitmap_find_next_zero_area() fails by returning start + nr > size. */
	start = bitmap_find_next_zero_area(mem->bitmap, mem->npages, mem->hint,
					   nr, align_mask);
	if (start + nr > mem->npages) {
		start = bitmap_find_next_zero_area(mem->bitmap, mem->npages,
						   VL_RESERVED_PAGES, nr,
						   align_mask);
		if (start + nr > mem->npages)
			return 0;
	}

	bitmap_set(mem->bitmap, start, nr);
	for (i = start; i < start + nr; i++)
		mem->slots[i].head = start;
	mem->hint = start + nr < mem->npages ? start + nr : VL_RESERVED_PAGES;
	WRITE_ONCE(mem->pages_in_use, mem->pages_in_use + nr);
	return start;
}

/* Give back the @nr pages from @start that vl_range_alloc() handed out. */
static void vl_range_free(struct vl_mem *mem, unsigned long start,
			  unsigned long nr)
{
	unsigned long i;

	lockdep_assert_held(&mem->lock);

	mem->slots[start].orig = 0;
	mem->slots[start].len = 0;
	for (i = start; i < start + nr; i++)
		mem->slots[i].head = VL_SLOT_FREE;
	bitmap_clear(mem->bitmap, start, nr);
	WRITE_ONCE(mem->pages_in_use, mem->pages_in_use - nr);
}

/* Pages a streaming mapping of @len bytes at @iova spans (at least one). */
static unsigned long vl_stream_pages(u64 iova, size_t len)
{
	return max(1UL, PFN_UP(offset_in_page(iova) + len));
}

/* IOVA of the streaming mapping whose head record is @head. */
static u64 vl_stream_iova(unsigned long head, const struct vl_slot *slot)
{
	return ((u64)head << PAGE_SHIFT) + offset_in_page(slot->orig);
}

/*
 * The head record of the live streaming mapping that contains the whole
 * range [@addr, @addr + @size), or NULL. Stores the head's page index in
 * *@head. Overflow-safe for any @addr and @size.
 */
static struct vl_slot *vl_find_stream(struct vl_mem *mem, dma_addr_t addr,
				      size_t size, unsigned long *head)
{
	struct vl_slot *slot;
	unsigned long h;
	u64 start, off;

	lockdep_assert_held(&mem->lock);

	if (addr >= mem->size)
		return NULL;
	h = mem->slots[addr >> PAGE_SHIFT].head;
	if (h == VL_SLOT_FREE)
		return NULL;
	slot = &mem->slots[h];
	if (slot->orig == VL_ORIG_COHERENT || slot->orig == VL_ORIG_UNMAPPING)
		return NULL;
	start = vl_stream_iova(h, slot);
	if (addr < start)
		return NULL;
	off = addr - start;
	if (off > slot->len || size > slot->len - off)
		return NULL;
	*head = h;
	return slot;
}

/*
 * No room for @size bytes. Under load that is ordinary back-pressure (the
 * driver retries when buffers complete), so count it always and say it
 * once per region.
 */
static void vl_full(struct device *dev, struct vl_mem *mem, size_t size,
		    unsigned long attrs)
{
	atomic64_inc(&mem->map_failures);
	if (!(attrs & DMA_ATTR_NO_WARN) &&
	    !test_and_set_bit(VL_MEM_WARNED_FULL, &mem->flags))
		dev_info(dev, "memory region of %llu bytes full: %zu-byte request refused (map_failures counts the next ones)\n",
			 mem->size, size);
}

/* ---------------------------------------------------------------------
 * Copies
 */

/*
 * Copy @size bytes between the region at @iova and the driver's memory at
 * physical address @orig: into the region if @to_bounce, else out of it.
 * The caller guarantees offset_in_page(@iova) == offset_in_page(@orig) and
 * that [@orig, @orig + @size) is one physically contiguous buffer; it is
 * walked page by page through kmap_local_page(), so highmem works too.
 * Any context.
 */
static void vl_bounce(struct vl_mem *mem, u64 iova, phys_addr_t orig,
		      size_t size, bool to_bounce)
{
	void *bounce = mem->vaddr + iova;
	size_t done = size;

	while (size) {
		unsigned int off = offset_in_page(orig);
		size_t chunk = min_t(size_t, size, PAGE_SIZE - off);
		void *p = kmap_local_page(pfn_to_page(PHYS_PFN(orig)));

		if (to_bounce)
			memcpy(bounce, p + off, chunk);
		else
			memcpy(p + off, bounce, chunk);
		kunmap_local(p);

		bounce += chunk;
		orig += chunk;
		size -= chunk;
	}
	atomic64_add(done, &mem->bytes_bounced);
}

/* ---------------------------------------------------------------------
 * Streaming mappings
 */

/*
 * Map @size bytes of the driver's memory at @phys: bounce pages, a record,
 * and the data copied in. Any context; never sleeps, never allocates.
 * Returns 0 and the IOVA in *@iova, -EINVAL for an invalid request or
 * -ENOMEM when the region has no room.
 */
static int vl_map(struct device *dev, phys_addr_t phys, size_t size,
		  enum dma_data_direction dir, unsigned long attrs,
		  dma_addr_t *iova)
{
	struct vl_mem *mem = dev_get_drvdata(dev);
	unsigned long flags, start, nr;
	u64 addr;

	if (WARN_ON_ONCE(!valid_dma_direction(dir)))
		return -EINVAL;
	if (size > mem->max_map) {
		atomic64_inc(&mem->map_failures);
		if (!(attrs & DMA_ATTR_NO_WARN))
			dev_warn_ratelimited(dev, "%zu-byte mapping exceeds the %zu-byte limit\n",
					     size, mem->max_map);
		return -EINVAL;
	}

	/*
	 * Zero-copy mode (next step) hooks in here: a buffer whose pages may
	 * be shared gets IOVA space pointing at its own pages instead of a
	 * bounce copy, and its record says so.
	 */
	nr = vl_stream_pages(phys, size);
	spin_lock_irqsave(&mem->lock, flags);
	start = vl_range_alloc(mem, nr, 0);
	if (start) {
		mem->slots[start].orig = phys;
		mem->slots[start].len = size;
	}
	spin_unlock_irqrestore(&mem->lock, flags);

	if (!start) {
		vl_full(dev, mem, size, attrs);
		return -ENOMEM;
	}
	atomic64_inc(&mem->maps);

	addr = ((u64)start << PAGE_SHIFT) + offset_in_page(phys);
	/*
	 * Copy in whatever the direction, DMA_ATTR_SKIP_CPU_SYNC or not (as
	 * swiotlb does): if the back-end writes only part of a FROM_DEVICE
	 * buffer, unmap copies the rest back too, and that must be the
	 * buffer's own bytes, not what an earlier mapping left in the page.
	 */
	vl_bounce(mem, addr, phys, size, true);
	*iova = addr;
	return 0;
}

/*
 * Unmap the streaming mapping at @addr, copying the data back first when
 * the device may have written it. A bad @addr is a driver bug: warn once
 * and leave everything as it is.
 */
static void vl_unmap(struct device *dev, dma_addr_t addr,
		     enum dma_data_direction dir, unsigned long attrs)
{
	struct vl_mem *mem = dev_get_drvdata(dev);
	struct vl_slot *slot;
	unsigned long flags, head = 0;
	phys_addr_t orig = 0;
	u32 len = 0;

	spin_lock_irqsave(&mem->lock, flags);
	slot = vl_find_stream(mem, addr, 0, &head);
	if (slot && addr == vl_stream_iova(head, slot)) {
		orig = slot->orig;
		len = slot->len;
		/* Claim it: a second unmap or a sync now fails the lookup. */
		slot->orig = VL_ORIG_UNMAPPING;
	} else {
		slot = NULL;
	}
	spin_unlock_irqrestore(&mem->lock, flags);

	if (dev_WARN_ONCE(dev, !slot, "unmap of %pad: not a mapped DMA address\n",
			  &addr))
		return;

	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL))
		vl_bounce(mem, addr, orig, len, false);

	spin_lock_irqsave(&mem->lock, flags);
	vl_range_free(mem, head, vl_stream_pages(addr, len));
	spin_unlock_irqrestore(&mem->lock, flags);
}

/*
 * Copy [@addr, @addr + @size), a range inside one streaming mapping, to
 * the region (@to_bounce) or back to the driver's buffer.
 */
static void vl_sync(struct device *dev, dma_addr_t addr, size_t size,
		    bool to_bounce)
{
	struct vl_mem *mem = dev_get_drvdata(dev);
	struct vl_slot *slot;
	unsigned long flags, head = 0;
	phys_addr_t orig = 0;

	if (!size)
		return;

	spin_lock_irqsave(&mem->lock, flags);
	slot = vl_find_stream(mem, addr, size, &head);
	if (slot)
		orig = slot->orig + (addr - vl_stream_iova(head, slot));
	spin_unlock_irqrestore(&mem->lock, flags);

	if (dev_WARN_ONCE(dev, !slot, "sync of %pad+%zu: not inside a DMA mapping\n",
			  &addr, size))
		return;
	vl_bounce(mem, addr, orig, size, to_bounce);
}

/* ---------------------------------------------------------------------
 * DMA operations, in the order of struct dma_map_ops
 */

/*
 * Coherent memory (the rings): zeroed pages of the region, aligned like
 * the page allocator would (to the order of the size), as the DMA API
 * promises. Never sleeps, whatever @gfp says.
 */
static void *vl_dma_alloc(struct device *dev, size_t size,
			  dma_addr_t *dma_handle, gfp_t gfp,
			  unsigned long attrs)
{
	struct vl_mem *mem = dev_get_drvdata(dev);
	unsigned long flags, start = 0, nr;
	void *vaddr;

	if (!size || size > mem->size - PAGE_SIZE * VL_RESERVED_PAGES) {
		atomic64_inc(&mem->map_failures);
		return NULL;
	}

	nr = PFN_UP(size);
	spin_lock_irqsave(&mem->lock, flags);
	start = vl_range_alloc(mem, nr, (1UL << get_order(size)) - 1);
	if (start) {
		mem->slots[start].orig = VL_ORIG_COHERENT;
		mem->slots[start].len = size;
	}
	spin_unlock_irqrestore(&mem->lock, flags);

	if (!start) {
		vl_full(dev, mem, size,
			gfp & __GFP_NOWARN ? attrs | DMA_ATTR_NO_WARN : attrs);
		return NULL;
	}

	/* Pages are recycled: a ring must start out zeroed. */
	vaddr = mem->vaddr + ((u64)start << PAGE_SHIFT);
	memset(vaddr, 0, nr << PAGE_SHIFT);
	*dma_handle = (u64)start << PAGE_SHIFT;
	return vaddr;
}

static void vl_dma_free(struct device *dev, size_t size, void *vaddr,
			dma_addr_t dma_handle, unsigned long attrs)
{
	struct vl_mem *mem = dev_get_drvdata(dev);
	unsigned long flags, idx = 0;
	struct vl_slot *slot;
	bool ok = false;

	spin_lock_irqsave(&mem->lock, flags);
	if (dma_handle < mem->size && PAGE_ALIGNED(dma_handle) &&
	    size <= mem->size) {
		idx = dma_handle >> PAGE_SHIFT;
		slot = &mem->slots[idx];
		ok = idx != VL_SLOT_FREE && slot->head == idx &&
		     slot->orig == VL_ORIG_COHERENT &&
		     PFN_UP(slot->len) == PFN_UP(size) &&
		     vaddr == mem->vaddr + dma_handle;
	}
	if (ok)
		vl_range_free(mem, idx, PFN_UP(size));
	spin_unlock_irqrestore(&mem->lock, flags);

	dev_WARN_ONCE(dev, !ok, "free of %zu bytes at %pad: not a coherent allocation\n",
		      size, &dma_handle);
}

static dma_addr_t vl_dma_map_page(struct device *dev, struct page *page,
				  unsigned long offset, size_t size,
				  enum dma_data_direction dir,
				  unsigned long attrs)
{
	dma_addr_t iova;

	/* The DMA API allows offset >= PAGE_SIZE in a contiguous run. */
	if (vl_map(dev, page_to_phys(page) + offset, size, dir, attrs, &iova))
		return DMA_MAPPING_ERROR;
	return iova;
}

static void vl_dma_unmap_page(struct device *dev, dma_addr_t dma_handle,
			      size_t size, enum dma_data_direction dir,
			      unsigned long attrs)
{
	/* The recorded length is used; the DMA API says @size matches it. */
	vl_unmap(dev, dma_handle, dir, attrs);
}

static void vl_dma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vl_unmap(dev, sg_dma_address(sg), dir, attrs);
}

/*
 * One mapping per entry, no merging: returns @nents, or -ENOMEM / -EINVAL
 * with nothing left mapped. The DMA core calls this unconditionally.
 */
static int vl_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			 int nents, enum dma_data_direction dir,
			 unsigned long attrs)
{
	struct scatterlist *sg;
	int i, ret;

	for_each_sg(sgl, sg, nents, i) {
		ret = vl_map(dev, sg_phys(sg), sg->length, dir, attrs,
			     &sg->dma_address);
		if (ret) {
			/* Nothing was handed to the device: no copy back. */
			vl_dma_unmap_sg(dev, sgl, i, dir,
					attrs | DMA_ATTR_SKIP_CPU_SYNC);
			return ret;
		}
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static void vl_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
				       size_t size,
				       enum dma_data_direction dir)
{
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		vl_sync(dev, addr, size, false);
}

static void vl_dma_sync_single_for_device(struct device *dev,
					  dma_addr_t addr, size_t size,
					  enum dma_data_direction dir)
{
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		vl_sync(dev, addr, size, true);
}

static void vl_dma_sync_sg_for_cpu(struct device *dev,
				   struct scatterlist *sgl, int nents,
				   enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vl_dma_sync_single_for_cpu(dev, sg_dma_address(sg),
					   sg_dma_len(sg), dir);
}

static void vl_dma_sync_sg_for_device(struct device *dev,
				      struct scatterlist *sgl, int nents,
				      enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vl_dma_sync_single_for_device(dev, sg_dma_address(sg),
					      sg_dma_len(sg), dir);
}

static size_t vl_dma_max_mapping_size(struct device *dev)
{
	return vl_mem_max_mapping(dev_get_drvdata(dev));
}

/*
 * The sync callbacks must exist even though most drivers never call them:
 * 6.12 sets dev->dma_skip_sync (and then skips every sync) for ops without
 * them. No mmap/get_sgtable: dma_mmap_*() then fail with -ENXIO.
 */
static const struct dma_map_ops vl_dma_ops = {
	.alloc			= vl_dma_alloc,
	.free			= vl_dma_free,
	.map_page		= vl_dma_map_page,
	.unmap_page		= vl_dma_unmap_page,
	.map_sg			= vl_dma_map_sg,
	.unmap_sg		= vl_dma_unmap_sg,
	.sync_single_for_cpu	= vl_dma_sync_single_for_cpu,
	.sync_single_for_device	= vl_dma_sync_single_for_device,
	.sync_sg_for_cpu	= vl_dma_sync_sg_for_cpu,
	.sync_sg_for_device	= vl_dma_sync_sg_for_device,
	.max_mapping_size	= vl_dma_max_mapping_size,
};

int vl_mem_attach_dma(struct vl_mem *mem, struct device *dev)
{
	int ret;

	dev_set_drvdata(dev, mem);
	dev->dma_mask = &dev->coherent_dma_mask;
	/* Ops first: dma_set_mask() derives dma_skip_sync (6.12) from them. */
	set_dma_ops(dev, &vl_dma_ops);
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret) {
		set_dma_ops(dev, NULL);
		dev->dma_mask = NULL;
		dev_set_drvdata(dev, NULL);
	}
	return ret;
}

/* ---------------------------------------------------------------------
 * Creation, statistics, destruction
 */

struct vl_mem *vl_mem_create(u64 size, u32 mode)
{
	struct vl_mem *mem;
	int ret = -ENOMEM;

	BUILD_BUG_ON(VIRTIO_LOOPBACK_MAX_MEM_SIZE - 1 > U32_MAX);

	if (mode == VIRTIO_LOOPBACK_MEM_ZERO_COPY)
		return ERR_PTR(-EOPNOTSUPP);
	if (mode != VIRTIO_LOOPBACK_MEM_ISOLATED)
		return ERR_PTR(-EINVAL);
	if (!PAGE_ALIGNED(size) || size < VIRTIO_LOOPBACK_MIN_MEM_SIZE ||
	    size > VIRTIO_LOOPBACK_MAX_MEM_SIZE)
		return ERR_PTR(-EINVAL);

	mem = kzalloc(sizeof(*mem), GFP_KERNEL);
	if (!mem)
		return ERR_PTR(-ENOMEM);
	mem->size = size;
	mem->npages = size >> PAGE_SHIFT;
	mem->mode = mode;
	mem->max_map = min_t(u64, size / VL_MAP_SIZE_DIVISOR, VL_MAX_MAP_SIZE);
	mem->max_map = max_t(size_t, mem->max_map & PAGE_MASK, PAGE_SIZE);
	kref_init(&mem->kref);
	spin_lock_init(&mem->lock);
	init_rwsem(&mem->revoke_sem);
	atomic64_set(&mem->bytes_bounced, 0);
	atomic64_set(&mem->maps, 0);
	atomic64_set(&mem->map_failures, 0);

	/*
	 * Not vmalloc_user(): VM_USERMAP is only needed by
	 * remap_vmalloc_range(), while the fault handler inserts the pages
	 * one by one; this way the region is charged to the creator.
	 */
	mem->vaddr = __vmalloc(size, VL_REGION_GFP);
	if (!mem->vaddr)
		goto err_vmalloc;
	mem->bitmap = kvcalloc(BITS_TO_LONGS(mem->npages), sizeof(long),
			       GFP_KERNEL_ACCOUNT);
	if (!mem->bitmap)
		goto err_bitmap;
	/* kvcalloc: every head is VL_SLOT_FREE (0). */
	mem->slots = kvcalloc(mem->npages, sizeof(*mem->slots),
			      GFP_KERNEL_ACCOUNT);
	if (!mem->slots)
		goto err_slots;
	bitmap_set(mem->bitmap, 0, VL_RESERVED_PAGES);
	mem->hint = VL_RESERVED_PAGES;

	mem->inode = alloc_anon_inode(vl_mem_mnt->mnt_sb);
	if (IS_ERR(mem->inode)) {
		ret = PTR_ERR(mem->inode);
		goto err_inode;
	}
	i_size_write(mem->inode, size);
	return mem;

err_inode:
	kvfree(mem->slots);
err_slots:
	kvfree(mem->bitmap);
err_bitmap:
	vfree(mem->vaddr);
err_vmalloc:
	kfree(mem);
	return ERR_PTR(ret);
}

static void vl_mem_release_kref(struct kref *kref)
{
	struct vl_mem *mem = container_of(kref, struct vl_mem, kref);

	/* A driver that leaked mappings: its bounce pages go away now. */
	if (mem->pages_in_use)
		pr_warn("memory region freed with %lu pages still mapped\n",
			mem->pages_in_use);
	iput(mem->inode);
	kvfree(mem->slots);
	kvfree(mem->bitmap);
	/* Pages still pinned (get_user_pages) are freed at their unpin. */
	vfree(mem->vaddr);
	kfree(mem);
}

void vl_mem_put(struct vl_mem *mem)
{
	might_sleep();
	kref_put(&mem->kref, vl_mem_release_kref);
}

u64 vl_mem_size(const struct vl_mem *mem)
{
	return mem->size;
}

size_t vl_mem_max_mapping(const struct vl_mem *mem)
{
	return mem->max_map;
}

void *vl_mem_iova_to_virt(struct vl_mem *mem, u64 iova, size_t len)
{
	/* Page 0 is never handed out: an IOVA there is a bug. */
	if (iova < PAGE_SIZE * VL_RESERVED_PAGES || iova >= mem->size ||
	    len > mem->size - iova)
		return NULL;
	return mem->vaddr + iova;
}

void vl_mem_get_stats(struct vl_mem *mem, struct vl_mem_stats *stats)
{
	stats->bytes_bounced = atomic64_read(&mem->bytes_bounced);
	stats->maps = atomic64_read(&mem->maps);
	stats->map_failures = atomic64_read(&mem->map_failures);
	stats->pages_in_use = READ_ONCE(mem->pages_in_use);
	stats->pages_total = mem->npages;
}

/* ---------------------------------------------------------------------
 * The memory file
 */

/*
 * Insert the faulting page. Under @revoke_sem, so that a page is either
 * inserted before vl_mem_revoke() zaps, or not at all.
 */
static vm_fault_t vl_mem_fault(struct vm_fault *vmf)
{
	struct vl_mem *mem = vmf->vma->vm_private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	struct page *page;

	down_read(&mem->revoke_sem);
	if (!mem->revoked && vmf->pgoff < mem->npages) {
		page = vmalloc_to_page(mem->vaddr +
				       ((size_t)vmf->pgoff << PAGE_SHIFT));
		ret = vmf_insert_page(vmf->vma, vmf->address, page);
	}
	up_read(&mem->revoke_sem);
	return ret;
}

static const struct vm_operations_struct vl_mem_vm_ops = {
	.fault	= vl_mem_fault,
};

static int vl_mem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vl_mem *mem = file->private_data;
	unsigned long pages = vma_pages(vma);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_pgoff >= mem->npages || pages > mem->npages - vma->vm_pgoff)
		return -EINVAL;
	/* Racy, and need not be: a fault after vl_mem_revoke() gets SIGBUS. */
	if (READ_ONCE(mem->revoked))
		return -ENODEV;

	/*
	 * VM_MIXEDMAP: vm_insert_page() from the fault handler may only be
	 * used on such a VMA, and flags can be changed only here.
	 */
	vl_vm_flags_mod(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP,
			VM_MAYEXEC);
	vma->vm_ops = &vl_mem_vm_ops;
	vma->vm_private_data = mem;
	return 0;
}

/* lseek(fd, 0, SEEK_END) is how rust-vmm back-ends learn the size. */
static loff_t vl_mem_llseek(struct file *file, loff_t offset, int whence)
{
	struct vl_mem *mem = file->private_data;

	return fixed_size_llseek(file, offset, whence, mem->size);
}

static int vl_mem_release(struct inode *inode, struct file *file)
{
	vl_mem_put(file->private_data);
	return 0;
}

static const struct file_operations vl_mem_fops = {
	.owner		= THIS_MODULE,
	.llseek		= vl_mem_llseek,
	.mmap		= vl_mem_mmap,
	.release	= vl_mem_release,
};

int vl_mem_get_fd(struct vl_mem *mem)
{
	struct file *file;
	int fd, ret;

	if (READ_ONCE(mem->revoked))
		return -ENODEV;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	/* alloc_file_pseudo() takes no module reference; __fput() drops one. */
	if (!try_module_get(vl_mem_fops.owner)) {
		ret = -ENODEV;
		goto err_module;
	}

	/* Every file of the region shares its inode, hence its mappings. */
	ihold(mem->inode);
	file = alloc_file_pseudo(mem->inode, vl_mem_mnt, "virtio-loopback-mem",
				 O_RDWR, &vl_mem_fops);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_file;
	}
	kref_get(&mem->kref);
	file->private_data = mem;
	fd_install(fd, file);
	return fd;

err_file:
	iput(mem->inode);
	module_put(vl_mem_fops.owner);
err_module:
	put_unused_fd(fd);
	return ret;
}

void vl_mem_revoke(struct vl_mem *mem)
{
	down_write(&mem->revoke_sem);
	WRITE_ONCE(mem->revoked, true);
	up_write(&mem->revoke_sem);
	/* Every VMA of every file of this region, children after fork too. */
	unmap_mapping_range(mem->inode->i_mapping, 0, 0, 1);
}

/* ---------------------------------------------------------------------
 * Module init and exit
 */

static int vl_memfs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, VL_MEMFS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * Not registered (nothing mounts it from user space) and no .owner: the
 * kern_mount() would pin the module for good. Open files pin it through
 * vl_mem_fops.owner instead.
 */
static struct file_system_type vl_memfs_type = {
	.name			= "virtio_loopback_mem",
	.init_fs_context	= vl_memfs_init_fs_context,
	.kill_sb		= kill_anon_super,
};

int vl_mem_init(void)
{
	vl_mem_mnt = kern_mount(&vl_memfs_type);
	if (IS_ERR(vl_mem_mnt)) {
		pr_err("cannot mount the memory file system: %ld\n",
		       PTR_ERR(vl_mem_mnt));
		return PTR_ERR(vl_mem_mnt);
	}
	return 0;
}

void vl_mem_exit(void)
{
	kern_unmount(vl_mem_mnt);
}
