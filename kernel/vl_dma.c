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
 * Isolated mode: coherent allocations (the rings) are carved out of the
 * region; every streaming mapping gets bounce pages in the region, and data
 * is copied between the driver's buffer and the bounce pages at map, unmap
 * and sync time, following the rules of kernel/dma/swiotlb.c except one: a
 * buffer the device only writes is not copied in (vl_map()). The back-end
 * never sees any other memory.
 *
 * Zero-copy mode adds two IOVA windows after the bounce region, each a view
 * of its own (a file, a vhost-user memory region): one for buffers the
 * device may write, one for buffers it may only read (its PTEs are never
 * writable: writes SIGBUS). A streaming mapping whose pages may be inserted
 * into a user page table as ordinary pages (vl_page_shareable()) and that
 * belongs to a large enough run of such mappings (struct vl_run: in
 * practice, a large request, even one of scattered single pages) gets
 * IOVA pages in a window that resolve to the buffer's
 * own pages; anything else is bounced as in isolated mode. A window page is
 * reachable only while its mapping is live: the fault handler checks, and
 * it maps the whole buffer and the live buffers adjacent to it in one go
 * (fault-around: next-fit gives the segments of one request adjacent IOVAs).
 * Revocation (zapping the back-end's PTEs) sleeps, while unmap runs in any
 * context, so:
 *  - before the transport delivers a used-buffer interrupt, it runs a
 *    sweep from process context whenever a window page was faulted since
 *    the last one: it zaps the faulted mappings of the chains the back-end
 *    completed (found through the used ring; the ring is only a hint, a
 *    wrong entry costs a refault or leaves a mapping to the next case). A
 *    well-behaved back-end touches a buffer only before completing it, so
 *    by the time the driver unmaps, its pages are unreachable and unmap
 *    just drops them;
 *  - a mapping still faulted at unmap (a back-end touching a buffer it
 *    already completed, completions reaped without an interrupt, a ring
 *    entry the sweep could not follow) is only marked there; a work item
 *    zaps such mappings in batches and only then frees their IOVA range
 *    and page references. While revocations are pending beyond a bound
 *    (half a window), new buffers are bounced instead of shared.
 * Zaps go run by run (adjacent mappings, typically one request), so the
 * mappings of requests still in flight stay mapped.
 *
 * Where newer kernels move: Linux 6.18 gives virtio transports mapping
 * hooks of their own (the virtio map ops VDUSE moved to) and newer
 * struct dma_map_ops take physical addresses (map_phys) instead of pages.
 * vl_map() and vl_unmap() already work on physical addresses, so following
 * means making them the bodies of those hooks behind a vl_compat.h guard;
 * the policy, windows and revocation stay as they are.
 *
 * Allocator: one bit per IOVA page, first fit from a moving hint per view
 * ("next fit"), so that the usual FIFO-like life of I/O buffers finds free
 * space right at the hint. A record per IOVA page (struct vl_slot) lets
 * unmap and sync, which get nothing but an IOVA, find the original buffer.
 *
 * The memory files: a private pseudo file system gives each view its own
 * inode, so that every file and every mmap of one view share one
 * address_space, and a zap reaches all of them without touching anybody
 * else's mappings (anon_inode_getfile() would share one inode with the
 * whole system). Pages are inserted on fault, as normal (not special) PTEs,
 * so get_user_pages() and thus O_DIRECT work on them.
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
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/percpu.h>
#include <linux/pseudo_fs.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <uapi/linux/virtio_loopback.h>

#include "vl_compat.h"
#include "vl_dma.h"
#include "vl_trace.h"

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

/* Pages one back-end fault maps at most in a window (fault-around). */
#define VL_FAULT_AROUND		256

/* Bits of struct vl_mem.flags. */
#define VL_MEM_WARNED_FULL	0	/* "region full" was logged */

/* Region pages never handed out, from page 0: IOVA 0 stays invalid. */
#define VL_RESERVED_PAGES	1

/* struct vl_slot.head of a free page (page 0 is never a head). */
#define VL_SLOT_FREE		0

/* struct vl_slot.orig of a bounce head that is not a live mapping. */
#define VL_ORIG_COHERENT	((phys_addr_t)-1)	/* a coherent allocation */
#define VL_ORIG_UNMAPPING	((phys_addr_t)-2)	/* unmap in progress */

/*
 * The gfp flags of the region itself: charged to the creator's memory
 * cgroup (a device can ask for 4 GiB), and a failure is an -ENOMEM for the
 * create ioctl, not an OOM kill or a warning.
 */
#define VL_REGION_GFP	(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN | \
			 __GFP_RETRY_MAYFAIL)

/*
 * Smallest run of whole-page segments shared in place in zero-copy mode
 * (see struct vl_run); the first segments of a run, until it reaches this
 * size, are bounced. Sharing costs a back-end fault, a deferred interrupt
 * and a PTE zap per run (one fault and one zap cover a whole request), not
 * per segment. In the lab, with a back-end that copies every byte itself,
 * shared requests of 64 and 128 KiB ran at 0.82-0.86x the speed of copied
 * ones and 256 KiB and more at 0.96-1.0x; with one that touches no data a
 * shared 1 MiB read ran at 1.8 times the speed (docs/memory.md, "Figures").
 */
static unsigned int vl_zc_min_bytes = SZ_256K;
module_param_named(zero_copy_min_bytes, vl_zc_min_bytes, uint, 0644);
MODULE_PARM_DESC(zero_copy_min_bytes,
		 "zero-copy devices share whole-page DMA segments in place once those mapped in a row reach this many bytes; the first ones are bounced (default 262144)");

/* Runs revocations and the transport's sweeps; used on the I/O path. */
struct workqueue_struct *vl_mem_wq;

enum vl_view_kind {
	VL_VIEW_BOUNCE,		/* rings and bounce pages: always mapped */
	VL_VIEW_SHARED_RW,	/* in-flight buffers the device may write */
	VL_VIEW_SHARED_RO,	/* in-flight buffers the device may only read */
	VL_NR_VIEWS
};

/**
 * struct vl_slot - what one IOVA page is used for
 * @orig: head page of a streaming mapping: physical address of the first
 *        byte of the driver's buffer. Bounce view only: VL_ORIG_COHERENT
 *        for a coherent allocation, VL_ORIG_UNMAPPING while an unmap
 *        copies back.
 * @len: head page: length of the mapping or allocation in bytes
 * @head: every page of a mapping or allocation: index of its first page;
 *        VL_SLOT_FREE when the page is free
 *
 * A streaming mapping of a buffer at physical address P gets the IOVA
 * head * PAGE_SIZE + offset_in_page(P): the offset in the page is kept, so
 * the copy loops work page by page on both sides, and a mapping spans
 * PFN_UP(offset_in_page(P) + len) pages (at least one). Shared mappings
 * are page aligned and page sized: IOVA page head + i is the buffer's
 * page PHYS_PFN(P) + i.
 */
struct vl_slot {
	phys_addr_t orig;
	u32 len;
	u32 head;
};

/**
 * struct vl_run - whole-page segments one CPU mapped in a row (zero-copy)
 * @bytes: their size, the last one included
 * @dir: their direction
 *
 * A driver maps a request's segments one after the other on one CPU, with
 * the queue's lock held (virtio_ring maps each one with dma_map_page()),
 * and the segments that are not whole pages (virtio-blk's header and
 * status byte) end a run. So a run is, in practice, the data of one
 * request, and a request of scattered pages (one-page segments) is shared
 * like one of a single large segment: the fault that maps one of its pages
 * maps them all (fault-around), and one zap takes them back. Only a hint
 * for the policy: a wrong guess costs time, never safety.
 */
struct vl_run {
	size_t bytes;
	enum dma_data_direction dir;
};

/**
 * struct vl_view - one file a back-end maps (a vhost-user memory region)
 * @mem: the region it belongs to
 * @inode: inode of every file of this view (one address_space)
 * @kind: VL_VIEW_*
 * @first: its first IOVA page
 * @npages: its size in pages
 * @hint: where the next search for free pages starts (under &vl_mem.lock)
 * @in_use: pages handed out, under &vl_mem.lock, read locklessly
 */
struct vl_view {
	struct vl_mem *mem;
	struct inode *inode;
	enum vl_view_kind kind;
	unsigned long first;
	unsigned long npages;
	unsigned long hint;
	unsigned long in_use;
};

/**
 * struct vl_mem - one device's memory
 * @vaddr: kernel address of the bounce view (vmalloc)
 * @size: bytes in the bounce view
 * @npages: IOVA pages of all views together
 * @max_map: largest streaming mapping in bytes
 * @mode: VIRTIO_LOOPBACK_MEM_*
 * @nviews: 1 (isolated) or 3 (zero-copy)
 * @views: the views, in IOVA order
 * @kref: references: the device's, one per memory file, one per queued
 *        revocation work
 * @lock: protects @bitmap, @slots, @faulted, @revoking, @nr_faulted,
 *        @pending and the views' @hint and @in_use. Taken with irqsave:
 *        the DMA ops run in any context, hard IRQ included. Held only for
 *        bookkeeping, never across a copy or a zap.
 * @bitmap: one bit per IOVA page, set when in use (page 0 always)
 * @slots: one record per IOVA page
 * @faulted: window heads whose pages a back-end may have mapped (set by
 *           the fault handler, cleared once zapped)
 * @revoking: window heads unmapped while faulted, waiting for
 *            @revoke_work; their IOVA pages and page references are kept
 * @sweeping: window heads of completed requests a sweep is about to zap
 * @reaping: the revocation work's snapshot of @revoking
 * @nr_faulted: bits set in @faulted (read locklessly by the transport)
 * @pending: pages of the mappings in @revoking
 * @max_pending: bound on @pending beyond which buffers are bounced
 * @revoke_work: zaps and releases the mappings in @revoking
 * @runs: per CPU, the segments it just mapped (zero-copy only)
 * @sweep_lock: serialises sweeps (owner of @sweeping)
 * @bytes_bounced: bytes copied either way
 * @bytes_shared: bytes mapped in place
 * @maps: successful streaming mappings
 * @map_failures: mappings and allocations refused (no space, too large)
 * @faults: back-end page faults served in the windows
 * @revocations: shared mappings whose PTEs were zapped
 * @revocation_batches: zap passes (sweeps and revocation work runs)
 * @flags: VL_MEM_* bits (atomic bitops)
 * @held: transport queues holding back mappings towards the device (bit
 *        per queue, atomic bitops; see vl_mem_hold_to_device())
 * @held_maps: mappings refused because of @held
 * @revoke_sem: orders page insertion against zaps: faults hold it for read
 *              while they check the records and insert pages; sweeps and
 *              revocations take it for write as a barrier before they zap
 *              (vl_mem_sweep_end()), vl_mem_revoke() holds it across its
 *              zap. Process context.
 * @revoked: the memory was taken away from the back-end (see
 *           vl_mem_revoke()); written under @revoke_sem, read locklessly
 *           where a stale value is harmless (mmap, get_fd)
 * @name: the device's name (vl<id>) for the log: the region may outlive
 *        the device (memory files still open)
 */
struct vl_mem {
	void *vaddr;
	u64 size;
	unsigned long npages;
	size_t max_map;
	u32 mode;
	unsigned int nviews;
	struct vl_view views[VL_NR_VIEWS];
	struct kref kref;

	spinlock_t lock;
	unsigned long *bitmap;
	struct vl_slot *slots;
	unsigned long *faulted;
	unsigned long *revoking;
	unsigned long *sweeping;
	unsigned long *reaping;
	unsigned long nr_faulted;
	unsigned long pending;
	unsigned long max_pending;
	struct work_struct revoke_work;
	struct vl_run __percpu *runs;
	struct mutex sweep_lock;

	atomic64_t bytes_bounced;
	atomic64_t bytes_shared;
	atomic64_t maps;
	atomic64_t map_failures;
	atomic64_t faults;
	atomic64_t revocations;
	atomic64_t revocation_batches;
	unsigned long flags;
	unsigned long held;
	atomic64_t held_maps;

	struct rw_semaphore revoke_sem;
	bool revoked;
	char name[16];
};

/* The pseudo file system every memory file lives on (see vl_mem_init()). */
static struct vfsmount *vl_mem_mnt;

/* ---------------------------------------------------------------------
 * Allocator and records
 */

/* The view IOVA page @idx belongs to (@idx < mem->npages). */
static struct vl_view *vl_view_of(struct vl_mem *mem, unsigned long idx)
{
	unsigned int i;

	for (i = mem->nviews - 1; i > 0; i--)
		if (idx >= mem->views[i].first)
			return &mem->views[i];
	return &mem->views[0];
}

static bool vl_in_window(const struct vl_mem *mem, unsigned long idx)
{
	return idx >= mem->views[0].npages;
}

/*
 * Find and reserve @nr free pages of @view whose first index is a multiple
 * of @align_mask + 1. Returns the first page, or 0 (never a valid start,
 * page 0 is reserved) when there is no room.
 */
static unsigned long vl_range_alloc(struct vl_mem *mem, struct vl_view *view,
				    unsigned long nr, unsigned long align_mask)
{
	unsigned long lo = max_t(unsigned long, view->first, VL_RESERVED_PAGES);
	unsigned long end = view->first + view->npages;
	unsigned long start, i;

	lockdep_assert_held(&mem->lock);

	if (nr > end - lo)
		return 0;
	/* bitmap_find_next_zero_area() fails by returning start + nr > size. */
	start = bitmap_find_next_zero_area(mem->bitmap, end, view->hint, nr,
					   align_mask);
	if (start + nr > end) {
		start = bitmap_find_next_zero_area(mem->bitmap, end, lo, nr,
						   align_mask);
		if (start + nr > end)
			return 0;
	}

	bitmap_set(mem->bitmap, start, nr);
	for (i = start; i < start + nr; i++)
		mem->slots[i].head = start;
	view->hint = start + nr < end ? start + nr : lo;
	WRITE_ONCE(view->in_use, view->in_use + nr);
	return start;
}

/* Give back the @nr pages from @start that vl_range_alloc() handed out. */
static void vl_range_free(struct vl_mem *mem, unsigned long start,
			  unsigned long nr)
{
	struct vl_view *view = vl_view_of(mem, start);
	unsigned long i;

	lockdep_assert_held(&mem->lock);

	mem->slots[start].orig = 0;
	mem->slots[start].len = 0;
	for (i = start; i < start + nr; i++)
		mem->slots[i].head = VL_SLOT_FREE;
	bitmap_clear(mem->bitmap, start, nr);
	WRITE_ONCE(view->in_use, view->in_use - nr);
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

/* Whether @h is the head of a live (not unmapped) shared mapping. */
static bool vl_shared_live(struct vl_mem *mem, unsigned long h)
{
	lockdep_assert_held(&mem->lock);

	return h != VL_SLOT_FREE && vl_in_window(mem, h) &&
	       mem->slots[h].head == h && !test_bit(h, mem->revoking);
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

	if (addr >= (u64)mem->npages << PAGE_SHIFT)
		return NULL;
	h = mem->slots[addr >> PAGE_SHIFT].head;
	if (h == VL_SLOT_FREE)
		return NULL;
	slot = &mem->slots[h];
	if (vl_in_window(mem, h)) {
		if (!vl_shared_live(mem, h))
			return NULL;
	} else if (slot->orig == VL_ORIG_COHERENT ||
		   slot->orig == VL_ORIG_UNMAPPING) {
		return NULL;
	}
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
 * Count and trace every refusal; log the first one at debug level only. A
 * full region is not an error of the device: the driver retries later
 * (virtio-blk requeues the request), so the kernel log stays quiet (sysfs
 * map_failures and the vl_error tracepoint tell), and DMA_ATTR_NO_WARN
 * callers expect silence anyway.
 */
static void vl_full(struct device *dev, struct vl_mem *mem, size_t size,
		    unsigned long attrs)
{
	atomic64_inc(&mem->map_failures);
	trace_vl_error(dev, "map", "region full", -ENOMEM);
	if (!(attrs & DMA_ATTR_NO_WARN) &&
	    !test_and_set_bit(VL_MEM_WARNED_FULL, &mem->flags))
		dev_dbg(dev, "memory region of %llu bytes full: %zu-byte request refused (map_failures counts the next ones)\n",
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
 * Sharing in place (zero-copy mode)
 */

/*
 * Whether the page at @pfn may appear in the back-end's page tables for a
 * transfer in direction @dir. Ordinary pages only: vm_insert_page() refuses
 * anonymous, slab and typed pages, and normal PTEs are what lets the
 * back-end's O_DIRECT (get_user_pages()) work. On top of that:
 *  - page cache pages of files (not shmem) the device would write are
 *    bounced: they are locked while read, and a back-end's O_DIRECT read
 *    into them locks them again to dirty them (bio_set_pages_dirty()):
 *    a deadlock; and a zapped dirty PTE would dirty the file page;
 *  - page cache pages of files the device reads are shared only while
 *    under writeback: truncation waits for writeback, so the page cannot
 *    leave the page cache while the back-end may map it;
 *  - swap cache and movable (non-LRU) pages are bounced;
 *  - so are hugetlb pages: a PTE mapping of one of their pages would
 *    break hugetlb's own mapcount (6.1's vm_insert_page() does not refuse
 *    them; 6.12 types them).
 * Any context; the answer may go stale only for pages the driver does not
 * own exclusively, which is the driver's business.
 */
static bool vl_page_shareable(unsigned long pfn, enum dma_data_direction dir)
{
	struct address_space *mapping;
	struct folio *folio;
	struct page *page;

	if (!pfn_valid(pfn) || is_zero_pfn(pfn))
		return false;
	page = pfn_to_page(pfn);
	folio = page_folio(page);
	if (!folio_ref_count(folio) || PageReserved(page) ||
	    is_zone_device_page(page) || page_has_type(page) ||
	    folio_test_hugetlb(folio) ||
	    folio_test_anon(folio) || folio_test_slab(folio) ||
	    folio_test_swapcache(folio) || __folio_test_movable(folio) ||
	    PageHWPoison(page))
		return false;

	mapping = folio_mapping(folio);
	if (dir == DMA_TO_DEVICE)
		return !mapping || shmem_mapping(mapping) ||
		       folio_test_writeback(folio);
	return (!mapping || shmem_mapping(mapping)) &&
	       !folio_test_locked(folio) && !folio_test_writeback(folio);
}

static bool vl_pages_shareable(phys_addr_t phys, size_t size,
			       enum dma_data_direction dir)
{
	unsigned long pfn, i;

	if (!PAGE_ALIGNED(phys) || !PAGE_ALIGNED(size))
		return false;
	pfn = PHYS_PFN(phys);
	for (i = 0; i < size >> PAGE_SHIFT; i++)
		if (!vl_page_shareable(pfn + i, dir))
			return false;
	return true;
}

/*
 * Whether to share a segment in place: its pages may be shared, and the
 * run of such segments this CPU mapped in a row, this one included, has
 * reached zero_copy_min_bytes (struct vl_run). Any context.
 */
static bool vl_shareable(struct vl_mem *mem, phys_addr_t phys, size_t size,
			 enum dma_data_direction dir)
{
	struct vl_run *run;
	size_t bytes = 0;

	if (mem->mode != VIRTIO_LOOPBACK_MEM_ZERO_COPY)
		return false;
	run = get_cpu_ptr(mem->runs);
	if (vl_pages_shareable(phys, size, dir)) {
		if (run->dir != dir)
			run->bytes = 0;
		/* Saturates: a long run only needs to stay long. */
		run->bytes = min_t(size_t, run->bytes + size, SZ_1G);
		run->dir = dir;
		bytes = run->bytes;
	} else {
		run->bytes = 0;
	}
	put_cpu_ptr(mem->runs);
	return bytes && bytes >= READ_ONCE(vl_zc_min_bytes);
}

static void vl_put_pages(unsigned long pfn, unsigned long nr)
{
	while (nr--)
		put_page(pfn_to_page(pfn++));
}

/*
 * Map @size bytes at @phys in place, in the window for @dir. The mapping
 * holds a reference on each page until its IOVA range is freed. Any
 * context. Returns 0 and the IOVA, or -ENOSPC (window full, too many
 * revocations pending): bounce it instead.
 */
static int vl_map_shared(struct vl_mem *mem, phys_addr_t phys, size_t size,
			 enum dma_data_direction dir, dma_addr_t *iova)
{
	unsigned long flags, start = 0, nr = size >> PAGE_SHIFT;
	unsigned long pfn = PHYS_PFN(phys), i;
	struct vl_view *view;

	view = &mem->views[dir == DMA_TO_DEVICE ? VL_VIEW_SHARED_RO :
						  VL_VIEW_SHARED_RW];
	for (i = 0; i < nr; i++)
		get_page(pfn_to_page(pfn + i));

	spin_lock_irqsave(&mem->lock, flags);
	if (mem->pending + nr <= mem->max_pending)
		start = vl_range_alloc(mem, view, nr, 0);
	if (start) {
		mem->slots[start].orig = phys;
		mem->slots[start].len = size;
	}
	spin_unlock_irqrestore(&mem->lock, flags);

	if (!start) {
		vl_put_pages(pfn, nr);
		return -ENOSPC;
	}
	atomic64_add(size, &mem->bytes_shared);
	*iova = (u64)start << PAGE_SHIFT;
	return 0;
}

/* Take a reference for @revoke_work and queue it. Any context. */
static void vl_queue_revoke(struct vl_mem *mem)
{
	kref_get(&mem->kref);
	/* Already queued: that run holds a reference, ours is never the last. */
	if (!queue_work(vl_mem_wq, &mem->revoke_work))
		refcount_dec(&mem->kref.refcount);
}

/*
 * Unmap the shared mapping whose head is @head (checked live by the
 * caller, under @mem->lock, which this drops). A mapping no back-end
 * faulted in since the last zap is unreachable: free it now. Otherwise
 * leave it to the revocation work.
 */
static void vl_unmap_shared(struct vl_mem *mem, unsigned long head,
			    unsigned long flags)
	__releases(&mem->lock)
{
	struct vl_slot *slot = &mem->slots[head];
	unsigned long nr = slot->len >> PAGE_SHIFT;
	unsigned long pfn = PHYS_PFN(slot->orig);
	bool faulted = test_bit(head, mem->faulted);

	if (faulted) {
		__set_bit(head, mem->revoking);
		mem->pending += nr;
	} else {
		vl_range_free(mem, head, nr);
	}
	spin_unlock_irqrestore(&mem->lock, flags);

	if (faulted)
		vl_queue_revoke(mem);
	else
		vl_put_pages(pfn, nr);
}

/* Pages of the shared mapping whose head is @h (at least one). */
static unsigned long vl_shared_pages(struct vl_mem *mem, unsigned long h)
{
	return max_t(unsigned long, mem->slots[h].len >> PAGE_SHIFT, 1);
}

/*
 * Zap the mappings marked in @map run by run (a run: marked mappings
 * adjacent in IOVA, typically the segments of one request), then clear
 * their bits and call @done on every head of the run, under @mem->lock.
 * The caller made sure that no fault still inserts pages of a marked
 * mapping (see "Ordering" in vl_mem_sweep_end()). Sleeps.
 */
static void vl_zap_runs(struct vl_mem *mem, unsigned long *map,
			void (*done)(struct vl_mem *mem, unsigned long head))
{
	unsigned long lo, hi, h, nr, n, total = 0;
	unsigned int i;

	for (i = VL_VIEW_SHARED_RW; i < mem->nviews; i++) {
		struct vl_view *v = &mem->views[i];
		unsigned long end = v->first + v->npages, cur = v->first;

		for (;;) {
			spin_lock_irq(&mem->lock);
			lo = find_next_bit(map, end, cur);
			hi = lo;
			while (hi < end && test_bit(hi, map) &&
			       mem->slots[hi].head == hi)
				hi += vl_shared_pages(mem, hi);
			spin_unlock_irq(&mem->lock);
			if (lo >= end)
				break;
			if (hi == lo)
				hi = lo + 1;	/* a stray bit: just clear it */
			hi = min(hi, end);

			/* After vl_mem_revoke() nothing is mapped, nor can be. */
			if (!READ_ONCE(mem->revoked))
				unmap_mapping_range(v->inode->i_mapping,
						    (loff_t)(lo - v->first) << PAGE_SHIFT,
						    (loff_t)(hi - lo) << PAGE_SHIFT, 1);

			n = 0;
			spin_lock_irq(&mem->lock);
			for (h = lo; h < hi; h += nr) {
				nr = mem->slots[h].head == h ?
				     vl_shared_pages(mem, h) : 1;
				if (!test_bit(h, map))
					continue;
				__clear_bit(h, map);
				if (done)
					done(mem, h);
				n++;
			}
			spin_unlock_irq(&mem->lock);
			total += n;
			cur = hi;
		}
	}
	if (total) {
		atomic64_add(total, &mem->revocations);
		atomic64_inc(&mem->revocation_batches);
	}
}

/* No PTE of @h can appear without the fault handler marking it again. */
static void vl_unfault(struct vl_mem *mem, unsigned long h)
{
	if (__test_and_clear_bit(h, mem->faulted))
		WRITE_ONCE(mem->nr_faulted, mem->nr_faulted - 1);
}

/* A zapped mapping the driver unmapped: free it and its page references. */
static void vl_revoked(struct vl_mem *mem, unsigned long h)
{
	unsigned long nr = vl_shared_pages(mem, h);
	phys_addr_t orig = mem->slots[h].orig;

	if (mem->slots[h].head != h || !__test_and_clear_bit(h, mem->revoking))
		return;
	vl_unfault(mem, h);
	mem->pending -= nr;
	vl_range_free(mem, h, nr);
	/* Freeing pages with IRQs off is fine; it keeps the code simple. */
	vl_put_pages(PHYS_PFN(orig), nr);
}

bool vl_mem_needs_sweep(struct vl_mem *mem)
{
	return READ_ONCE(mem->nr_faulted) != 0;
}

void vl_mem_sweep_begin(struct vl_mem *mem)
{
	mutex_lock(&mem->sweep_lock);
}

void vl_mem_sweep_mark(struct vl_mem *mem, u64 iova, u64 len)
{
	unsigned long flags, p, last, h;

	if (!mem->faulted || !len || iova >= (u64)mem->npages << PAGE_SHIFT)
		return;
	p = iova >> PAGE_SHIFT;
	last = len - 1 > U64_MAX - iova ? mem->npages - 1 :
	       min_t(u64, (iova + len - 1) >> PAGE_SHIFT, mem->npages - 1);
	spin_lock_irqsave(&mem->lock, flags);
	while (p <= last) {
		h = mem->slots[p].head;
		if (!vl_shared_live(mem, h)) {
			p++;
			continue;
		}
		if (test_bit(h, mem->faulted))
			__set_bit(h, mem->sweeping);
		p = h + vl_shared_pages(mem, h);
	}
	spin_unlock_irqrestore(&mem->lock, flags);
}

/*
 * Ordering: a fault marks a mapping faulted under @lock before it inserts
 * pages, and inserts under @revoke_sem held for read. Taking @revoke_sem
 * for write therefore waits for every fault that may still insert pages of
 * the marked mappings; clearing their faulted bits in that window means
 * that any later fault marks them again (and unmap then leaves them to the
 * revocation work). The zap itself runs without the semaphore, so the
 * back-end keeps faulting in other requests meanwhile.
 */
void vl_mem_sweep_end(struct vl_mem *mem, bool all)
{
	unsigned long h;

	if (mem->faulted) {
		down_write(&mem->revoke_sem);
		spin_lock_irq(&mem->lock);
		if (all)
			bitmap_or(mem->sweeping, mem->sweeping, mem->faulted,
				  mem->npages);
		for_each_set_bit(h, mem->sweeping, mem->npages)
			vl_unfault(mem, h);
		spin_unlock_irq(&mem->lock);
		up_write(&mem->revoke_sem);
		vl_zap_runs(mem, mem->sweeping, NULL);
	}
	mutex_unlock(&mem->sweep_lock);
}

static void vl_mem_release_kref(struct kref *kref);

/*
 * Revocation: zap the mappings unmapped while faulted, then free their
 * IOVA pages and page references. Runs on vl_mem_wq (never concurrently
 * with itself) with the reference vl_queue_revoke() took. Only mappings
 * marked before the barrier on @revoke_sem are handled: a fault that began
 * later may still insert pages of one marked after it.
 */
static void vl_revoke_work(struct work_struct *work)
{
	struct vl_mem *mem = container_of(work, struct vl_mem, revoke_work);

	down_write(&mem->revoke_sem);
	spin_lock_irq(&mem->lock);
	bitmap_copy(mem->reaping, mem->revoking, mem->npages);
	spin_unlock_irq(&mem->lock);
	up_write(&mem->revoke_sem);
	vl_zap_runs(mem, mem->reaping, vl_revoked);
	kref_put(&mem->kref, vl_mem_release_kref);
}

/* ---------------------------------------------------------------------
 * Streaming mappings
 */

/*
 * Map @size bytes of the driver's memory at @phys: in place when zero-copy
 * allows it, else bounce pages, a record, and the data copied in unless
 * the device only writes it. Any
 * context; never sleeps, never allocates.
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
	/* Back-pressure, like a full swiotlb: the driver retries later. */
	if (dir == DMA_TO_DEVICE && READ_ONCE(mem->held)) {
		atomic64_inc(&mem->held_maps);
		trace_vl_error(dev, "map", "held: relay FIFO nearly full", -ENOMEM);
		return -ENOMEM;
	}
	if (size > mem->max_map) {
		atomic64_inc(&mem->map_failures);
		trace_vl_error(dev, "map", "larger than the mapping limit", -EINVAL);
		if (!(attrs & DMA_ATTR_NO_WARN))
			dev_warn_ratelimited(dev, "%zu-byte mapping exceeds the %zu-byte limit\n",
					     size, mem->max_map);
		return -EINVAL;
	}

	if (vl_shareable(mem, phys, size, dir) &&
	    !vl_map_shared(mem, phys, size, dir, iova)) {
		atomic64_inc(&mem->maps);
		return 0;
	}

	nr = vl_stream_pages(phys, size);
	spin_lock_irqsave(&mem->lock, flags);
	start = vl_range_alloc(mem, &mem->views[VL_VIEW_BOUNCE], nr, 0);
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
	 * Copy in what the device is to read, DMA_ATTR_SKIP_CPU_SYNC or not.
	 * Not a buffer it may only write, unlike swiotlb: that would show the
	 * back-end the buffer's old bytes, which were never handed to this
	 * device (a recycled receive page, a stale page of someone else's).
	 * If the back-end writes only part of it, unmap copies back what the
	 * region held there: bytes this back-end was handed or wrote itself,
	 * nothing it could not have written anyway. VDUSE bounces the same
	 * way; it also saves a copy per read.
	 */
	if (dir != DMA_FROM_DEVICE)
		vl_bounce(mem, addr, phys, size, true);
	*iova = addr;
	return 0;
}

/*
 * Unmap the streaming mapping at @addr, copying the data back first when
 * the device may have written it. A bad @addr is logged and ignored.
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
		if (vl_in_window(mem, head)) {
			vl_unmap_shared(mem, head, flags);
			return;
		}
		orig = slot->orig;
		len = slot->len;
		/* Claim it: a second unmap or a sync now fails the lookup. */
		slot->orig = VL_ORIG_UNMAPPING;
	} else {
		slot = NULL;
	}
	spin_unlock_irqrestore(&mem->lock, flags);

	/*
	 * Not a WARN: the device can cause it. virtio_ring follows the NEXT
	 * flags of the shared descriptor table when it unmaps a chain, so a
	 * back-end that forges one makes the driver unmap a stale address.
	 */
	if (!slot) {
		dev_err_ratelimited(dev, "unmap of %pad: not a mapped DMA address (ignored)\n",
				    &addr);
		trace_vl_error(dev, "unmap", "not a mapped DMA address", -EINVAL);
		return;
	}

	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL))
		vl_bounce(mem, addr, orig, len, false);

	spin_lock_irqsave(&mem->lock, flags);
	vl_range_free(mem, head, vl_stream_pages(addr, len));
	spin_unlock_irqrestore(&mem->lock, flags);
}

/*
 * Copy [@addr, @addr + @size), a range inside one streaming mapping, to
 * the region (@to_bounce) or back to the driver's buffer. Nothing to do
 * for a shared mapping: the device works on the buffer itself.
 */
static void vl_sync(struct device *dev, dma_addr_t addr, size_t size,
		    bool to_bounce)
{
	struct vl_mem *mem = dev_get_drvdata(dev);
	struct vl_slot *slot;
	unsigned long flags, head = 0;
	phys_addr_t orig = 0;
	bool shared = false;

	if (!size)
		return;

	spin_lock_irqsave(&mem->lock, flags);
	slot = vl_find_stream(mem, addr, size, &head);
	if (slot) {
		shared = vl_in_window(mem, head);
		orig = slot->orig + (addr - vl_stream_iova(head, slot));
	}
	spin_unlock_irqrestore(&mem->lock, flags);

	if (dev_WARN_ONCE(dev, !slot, "sync of %pad+%zu: not inside a DMA mapping\n",
			  &addr, size))
		return;
	if (!shared)
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
		trace_vl_error(dev, "alloc", "size 0 or beyond the region", -EINVAL);
		return NULL;
	}

	nr = PFN_UP(size);
	spin_lock_irqsave(&mem->lock, flags);
	start = vl_range_alloc(mem, &mem->views[VL_VIEW_BOUNCE], nr,
			       (1UL << get_order(size)) - 1);
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
	/* Coherent allocations live in the bounce view only. */
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

	strscpy(mem->name, dev_name(dev), sizeof(mem->name));
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

static void vl_view_init(struct vl_mem *mem, enum vl_view_kind kind,
			 unsigned long first, unsigned long npages)
{
	struct vl_view *v = &mem->views[kind];

	v->mem = mem;
	v->kind = kind;
	v->first = first;
	v->npages = npages;
	v->hint = max_t(unsigned long, first, VL_RESERVED_PAGES);
	mem->nviews = kind + 1;
}

struct vl_mem *vl_mem_create(u64 size, u32 mode)
{
	unsigned long bounce_pages;
	struct vl_mem *mem;
	unsigned int i;
	int ret = -ENOMEM;

	BUILD_BUG_ON(VIRTIO_LOOPBACK_MAX_MEM_SIZE - 1 > U32_MAX);

	if (mode != VIRTIO_LOOPBACK_MEM_ISOLATED &&
	    mode != VIRTIO_LOOPBACK_MEM_ZERO_COPY)
		return ERR_PTR(-EINVAL);
	if (!PAGE_ALIGNED(size) || size < VIRTIO_LOOPBACK_MIN_MEM_SIZE ||
	    size > VIRTIO_LOOPBACK_MAX_MEM_SIZE)
		return ERR_PTR(-EINVAL);

	mem = kzalloc(sizeof(*mem), GFP_KERNEL);
	if (!mem)
		return ERR_PTR(-ENOMEM);
	mem->size = size;
	mem->mode = mode;
	bounce_pages = size >> PAGE_SHIFT;
	vl_view_init(mem, VL_VIEW_BOUNCE, 0, bounce_pages);
	if (mode == VIRTIO_LOOPBACK_MEM_ZERO_COPY) {
		/*
		 * Each window as large as the bounce view: in-flight buffers
		 * are bounded by the same queue sizes and request limits.
		 */
		vl_view_init(mem, VL_VIEW_SHARED_RW, bounce_pages, bounce_pages);
		vl_view_init(mem, VL_VIEW_SHARED_RO, 2 * bounce_pages,
			     bounce_pages);
		mem->max_pending = bounce_pages / 2;
	}
	mem->npages = mem->views[mem->nviews - 1].first +
		      mem->views[mem->nviews - 1].npages;
	mem->max_map = min_t(u64, size / VL_MAP_SIZE_DIVISOR, VL_MAX_MAP_SIZE);
	mem->max_map = max_t(size_t, mem->max_map & PAGE_MASK, PAGE_SIZE);
	kref_init(&mem->kref);
	spin_lock_init(&mem->lock);
	init_rwsem(&mem->revoke_sem);
	INIT_WORK(&mem->revoke_work, vl_revoke_work);
	mutex_init(&mem->sweep_lock);

	/*
	 * Not vmalloc_user(): VM_USERMAP is only needed by
	 * remap_vmalloc_range(), while the fault handler inserts the pages
	 * one by one; this way the region is charged to the creator.
	 */
	mem->vaddr = __vmalloc(size, VL_REGION_GFP);
	if (!mem->vaddr)
		goto err;
	mem->bitmap = kvcalloc(BITS_TO_LONGS(mem->npages), sizeof(long),
			       GFP_KERNEL_ACCOUNT);
	/* kvcalloc: every head is VL_SLOT_FREE (0). */
	mem->slots = kvcalloc(mem->npages, sizeof(*mem->slots),
			      GFP_KERNEL_ACCOUNT);
	if (!mem->bitmap || !mem->slots)
		goto err;
	if (mode == VIRTIO_LOOPBACK_MEM_ZERO_COPY) {
		mem->faulted = kvcalloc(BITS_TO_LONGS(mem->npages),
					sizeof(long), GFP_KERNEL_ACCOUNT);
		mem->revoking = kvcalloc(BITS_TO_LONGS(mem->npages),
					 sizeof(long), GFP_KERNEL_ACCOUNT);
		mem->sweeping = kvcalloc(BITS_TO_LONGS(mem->npages),
					 sizeof(long), GFP_KERNEL_ACCOUNT);
		mem->reaping = kvcalloc(BITS_TO_LONGS(mem->npages),
					sizeof(long), GFP_KERNEL_ACCOUNT);
		mem->runs = alloc_percpu_gfp(struct vl_run, GFP_KERNEL_ACCOUNT);
		if (!mem->faulted || !mem->revoking || !mem->sweeping ||
		    !mem->reaping || !mem->runs)
			goto err;
	}
	bitmap_set(mem->bitmap, 0, VL_RESERVED_PAGES);

	for (i = 0; i < mem->nviews; i++) {
		struct inode *inode = alloc_anon_inode(vl_mem_mnt->mnt_sb);

		if (IS_ERR(inode)) {
			ret = PTR_ERR(inode);
			goto err;
		}
		i_size_write(inode, (loff_t)mem->views[i].npages << PAGE_SHIFT);
		mem->views[i].inode = inode;
	}
	return mem;

err:
	for (i = 0; i < mem->nviews; i++)
		if (mem->views[i].inode)
			iput(mem->views[i].inode);
	free_percpu(mem->runs);
	kvfree(mem->reaping);
	kvfree(mem->sweeping);
	kvfree(mem->revoking);
	kvfree(mem->faulted);
	kvfree(mem->slots);
	kvfree(mem->bitmap);
	vfree(mem->vaddr);
	kfree(mem);
	return ERR_PTR(ret);
}

/*
 * Last reference: no memory file is open and no revocation is queued, so
 * no back-end maps anything. Shared mappings still live were leaked by the
 * driver: their page references are dropped here.
 */
static void vl_mem_release_kref(struct kref *kref)
{
	struct vl_mem *mem = container_of(kref, struct vl_mem, kref);
	unsigned long h, leaked = mem->views[0].in_use;
	unsigned int i;

	for (i = VL_VIEW_SHARED_RW; i < mem->nviews; i++) {
		struct vl_view *v = &mem->views[i];
		unsigned long end = v->first + v->npages;

		leaked += v->in_use;
		for (h = find_next_bit(mem->bitmap, end, v->first); h < end;
		     h = find_next_bit(mem->bitmap, end, h + 1)) {
			struct vl_slot *slot = &mem->slots[h];

			if (slot->head != h)
				continue;
			vl_put_pages(PHYS_PFN(slot->orig), slot->len >> PAGE_SHIFT);
		}
	}
	if (leaked)
		pr_warn("%s: memory region freed with %lu pages still mapped\n",
			mem->name, leaked);
	for (i = 0; i < mem->nviews; i++)
		iput(mem->views[i].inode);
	free_percpu(mem->runs);
	kvfree(mem->reaping);
	kvfree(mem->sweeping);
	kvfree(mem->revoking);
	kvfree(mem->faulted);
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

void vl_mem_hold_to_device(struct vl_mem *mem, unsigned int bit, bool hold)
{
	bit %= BITS_PER_LONG;
	if (hold && !test_bit(bit, &mem->held))
		set_bit(bit, &mem->held);
	else if (!hold && test_bit(bit, &mem->held))
		clear_bit(bit, &mem->held);
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
	unsigned int i;

	stats->bytes_bounced = atomic64_read(&mem->bytes_bounced);
	stats->bytes_shared = atomic64_read(&mem->bytes_shared);
	stats->maps = atomic64_read(&mem->maps);
	stats->map_failures = atomic64_read(&mem->map_failures);
	stats->held_maps = atomic64_read(&mem->held_maps);
	stats->backend_faults = atomic64_read(&mem->faults);
	stats->revocations = atomic64_read(&mem->revocations);
	stats->revocation_batches = atomic64_read(&mem->revocation_batches);
	stats->revocations_pending = READ_ONCE(mem->pending);
	stats->pages_in_use = READ_ONCE(mem->views[0].in_use);
	stats->pages_total = mem->views[0].npages;
	stats->pages_shared = 0;
	for (i = VL_VIEW_SHARED_RW; i < mem->nviews; i++)
		stats->pages_shared += READ_ONCE(mem->views[i].in_use);
}

/* ---------------------------------------------------------------------
 * The memory files
 */

/*
 * Bounce view: insert the faulting page. Under @revoke_sem, so that a page
 * is either inserted before vl_mem_revoke() zaps, or not at all.
 */
static vm_fault_t vl_bounce_fault(struct vm_fault *vmf)
{
	struct vl_view *view = vmf->vma->vm_private_data;
	struct vl_mem *mem = view->mem;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	struct page *page;

	down_read(&mem->revoke_sem);
	if (!mem->revoked && vmf->pgoff < view->npages) {
		page = vmalloc_to_page(mem->vaddr +
				       ((size_t)vmf->pgoff << PAGE_SHIFT));
		ret = vmf_insert_page(vmf->vma, vmf->address, page);
	}
	up_read(&mem->revoke_sem);
	return ret;
}

/*
 * Collect, under @mem->lock, the pages to map for a fault at IOVA page
 * @idx: the live shared mapping there and the live ones adjacent to it,
 * inside [@lo_limit, @hi_limit) and at most @max pages, forward first
 * (back-ends read buffers from the start). Marks every mapping touched as
 * faulted. Returns the number of pages put in @pages from *@lo on, 0 if
 * @idx is not in a live mapping.
 */
static unsigned long vl_window_collect(struct vl_mem *mem, unsigned long idx,
				       unsigned long lo_limit,
				       unsigned long hi_limit, unsigned long max,
				       struct page **pages, unsigned long *lo)
{
	unsigned long first = idx, last = idx, p, h, n;

	lockdep_assert_held(&mem->lock);

	if (!vl_shared_live(mem, mem->slots[idx].head))
		return 0;
	while (last + 1 < hi_limit && last + 1 - first < max &&
	       vl_shared_live(mem, mem->slots[last + 1].head))
		last++;
	while (first > lo_limit && last + 1 - first < max &&
	       vl_shared_live(mem, mem->slots[first - 1].head))
		first--;

	n = last + 1 - first;
	for (p = first; p <= last; p++) {
		h = mem->slots[p].head;
		if (!__test_and_set_bit(h, mem->faulted))
			WRITE_ONCE(mem->nr_faulted, mem->nr_faulted + 1);
		pages[p - first] = pfn_to_page(PHYS_PFN(mem->slots[h].orig) +
					       (p - h));
	}
	*lo = first;
	return n;
}

/*
 * Window views: map the faulting buffer, and its live neighbours, in one
 * go. The mappings stay live while we insert (the driver cannot get the
 * pages back before a zap: a faulted mapping is only freed by the
 * revocation work, which waits for @revoke_sem), and each holds a page
 * reference, so the pages cannot go away under us.
 */
static vm_fault_t vl_window_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vl_view *view = vma->vm_private_data;
	struct vl_mem *mem = view->mem;
	unsigned long vma_lo, vma_hi, idx, lo = 0, n = 0, done = 0;
	unsigned long flags, max = VL_FAULT_AROUND;
	struct page *one, **pages;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	unsigned int noio;
	int err = 0;

	if (vmf->pgoff >= view->npages)
		return VM_FAULT_SIGBUS;
	/* Never even a read-only PTE for a write: it would only SIGBUS later. */
	if (view->kind == VL_VIEW_SHARED_RO && (vmf->flags & FAULT_FLAG_WRITE))
		return VM_FAULT_SIGBUS;

	vma_lo = view->first + vma->vm_pgoff;
	vma_hi = vma_lo + vma_pages(vma);
	idx = view->first + vmf->pgoff;

	pages = kmalloc_array(max, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		pages = &one;
		max = 1;
	}

	down_read(&mem->revoke_sem);
	if (mem->revoked)
		goto out;
	spin_lock_irqsave(&mem->lock, flags);
	n = vl_window_collect(mem, idx, vma_lo, vma_hi, max, pages, &lo);
	spin_unlock_irqrestore(&mem->lock, flags);
	if (!n)
		goto out;
	atomic64_inc(&mem->faults);

	/* Page tables may need allocating: no I/O, we may block a completion. */
	noio = memalloc_noio_save();
	while (done < n) {
		unsigned long num = n - done;

		err = vm_insert_pages(vma, vma->vm_start +
				      ((lo + done - vma_lo) << PAGE_SHIFT),
				      pages + done, &num);
		done = n - num;
		if (err != -EBUSY)
			break;
		/* Already mapped (an earlier fault-around): skip it. */
		done++;
		err = 0;
	}
	memalloc_noio_restore(noio);
	ret = err && idx >= lo + done ? vmf_error(err) : VM_FAULT_NOPAGE;
out:
	up_read(&mem->revoke_sem);
	if (pages != &one)
		kfree(pages);
	return ret;
}

/* Read-only window: writes through a read-only PTE end here. */
static vm_fault_t vl_window_ro_mkwrite(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct vl_view_vm_ops[VL_NR_VIEWS] = {
	[VL_VIEW_BOUNCE] = {
		.fault		= vl_bounce_fault,
	},
	[VL_VIEW_SHARED_RW] = {
		.fault		= vl_window_fault,
	},
	/*
	 * page_mkwrite makes the VMA write-notify: its PTEs are inserted
	 * read-only and a write reaches vl_window_ro_mkwrite().
	 */
	[VL_VIEW_SHARED_RO] = {
		.fault		= vl_window_fault,
		.page_mkwrite	= vl_window_ro_mkwrite,
	},
};

static int vl_mem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vl_view *view = file->private_data;
	unsigned long pages = vma_pages(vma);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_pgoff >= view->npages || pages > view->npages - vma->vm_pgoff)
		return -EINVAL;
	/* Racy, and need not be: a fault after vl_mem_revoke() gets SIGBUS. */
	if (READ_ONCE(view->mem->revoked))
		return -ENODEV;

	/*
	 * VM_MIXEDMAP: vm_insert_page() from the fault handler may only be
	 * used on such a VMA, and flags can be changed only here.
	 */
	vl_vm_flags_mod(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP,
			VM_MAYEXEC);
	vma->vm_ops = &vl_view_vm_ops[view->kind];
	vma->vm_private_data = view;
	return 0;
}

/* lseek(fd, 0, SEEK_END) is how rust-vmm back-ends learn the size. */
static loff_t vl_mem_llseek(struct file *file, loff_t offset, int whence)
{
	struct vl_view *view = file->private_data;

	return fixed_size_llseek(file, offset, whence,
				 (loff_t)view->npages << PAGE_SHIFT);
}

static int vl_mem_release(struct inode *inode, struct file *file)
{
	struct vl_view *view = file->private_data;

	vl_mem_put(view->mem);
	return 0;
}

static const struct file_operations vl_mem_fops = {
	.owner		= THIS_MODULE,
	.llseek		= vl_mem_llseek,
	.mmap		= vl_mem_mmap,
	.release	= vl_mem_release,
};

/* A new file for @view: O_RDWR, holding a region and a module reference. */
static struct file *vl_view_open(struct vl_view *view)
{
	struct vl_mem *mem = view->mem;
	struct file *file;

	if (READ_ONCE(mem->revoked))
		return ERR_PTR(-ENODEV);
	/* alloc_file_pseudo() takes no module reference; __fput() drops one. */
	if (!try_module_get(vl_mem_fops.owner))
		return ERR_PTR(-ENODEV);

	/* Every file of the view shares its inode, hence its mappings. */
	ihold(view->inode);
	file = alloc_file_pseudo(view->inode, vl_mem_mnt, "virtio-loopback-mem",
				 O_RDWR, &vl_mem_fops);
	if (IS_ERR(file)) {
		iput(view->inode);
		module_put(vl_mem_fops.owner);
		return file;
	}
	kref_get(&mem->kref);
	file->private_data = view;
	return file;
}

int vl_mem_get_fd(struct vl_mem *mem)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = vl_view_open(&mem->views[VL_VIEW_BOUNCE]);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	fd_install(fd, file);
	return fd;
}

struct file *vl_mem_open_region(struct vl_mem *mem,
				struct virtio_loopback_mem_region *r)
{
	struct vl_view *view;
	struct file *file;

	if (r->index >= mem->nviews)
		return ERR_PTR(-ENOENT);
	view = &mem->views[r->index];
	file = vl_view_open(view);
	if (IS_ERR(file))
		return file;
	r->flags = 0;
	if (view->kind != VL_VIEW_BOUNCE)
		r->flags |= VIRTIO_LOOPBACK_MEM_REGION_F_IN_FLIGHT;
	if (view->kind == VL_VIEW_SHARED_RO)
		r->flags |= VIRTIO_LOOPBACK_MEM_REGION_F_READ_ONLY;
	r->iova = (u64)view->first << PAGE_SHIFT;
	r->size = (u64)view->npages << PAGE_SHIFT;
	return file;
}

void vl_mem_revoke(struct vl_mem *mem)
{
	unsigned int i;

	/*
	 * Zap under the semaphore: once it is released, vl_zap_marked() may
	 * trust that nothing is mapped.
	 */
	down_write(&mem->revoke_sem);
	WRITE_ONCE(mem->revoked, true);
	/* Every VMA of every file of this region, children after fork too. */
	for (i = 0; i < mem->nviews; i++)
		unmap_mapping_range(mem->views[i].inode->i_mapping, 0, 0, 1);
	up_write(&mem->revoke_sem);
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
	/*
	 * Completions wait for sweeps: reclaim may depend on them (swap on a
	 * virtio-blk disk), hence WQ_MEM_RECLAIM; HIGHPRI for latency.
	 */
	vl_mem_wq = alloc_workqueue("virtio-loopback", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	if (!vl_mem_wq)
		return -ENOMEM;
	vl_mem_mnt = kern_mount(&vl_memfs_type);
	if (IS_ERR(vl_mem_mnt)) {
		pr_err("cannot mount the memory file system: %ld\n",
		       PTR_ERR(vl_mem_mnt));
		destroy_workqueue(vl_mem_wq);
		return PTR_ERR(vl_mem_mnt);
	}
	return 0;
}

void vl_mem_exit(void)
{
	/* Runs queued revocations: they drop the last region references. */
	destroy_workqueue(vl_mem_wq);
	kern_unmount(vl_mem_mnt);
}
