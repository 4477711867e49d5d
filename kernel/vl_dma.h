/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory the back-end sees, and the DMA operations that put buffers there.
 *
 * Each device owns one struct vl_mem: a region of ordinary pages addressed
 * by IOVA (byte offset in the region; IOVA page 0 is never handed out).
 * The driver's rings come from it (coherent allocations) and streaming
 * buffers are bounced through it; in zero-copy mode, two windows after it
 * show large buffers in place while they are in flight (vl_dma.c says
 * how). The back-end maps each part through a file from
 * vl_mem_get_region().
 *
 * Lifetime: vl_mem is reference counted. The device holds one reference,
 * each open memory file another (an mmap keeps its file), so pages stay
 * valid while any back-end still maps them.
 */
#ifndef VL_DMA_H
#define VL_DMA_H

#include <linux/device.h>
#include <linux/types.h>

struct vl_mem;

struct virtio_loopback_mem_region;

/* Where revocations and the transport's sweeps run (WQ_MEM_RECLAIM). */
extern struct workqueue_struct *vl_mem_wq;

/**
 * struct vl_mem_stats - counters, for sysfs
 * @bytes_bounced: bytes copied to or from bounce pages
 * @bytes_shared: bytes of streaming mappings shared in place
 * @maps: successful streaming mappings
 * @map_failures: streaming mappings and coherent allocations refused
 * @held_maps: mappings towards the device refused while a relayed queue's
 *             FIFO was nearly full (vl_mem_hold_to_device())
 *                (no room in the region, or larger than the mapping limit)
 * @backend_faults: back-end page faults served in the zero-copy windows
 * @revocations: shared mappings whose back-end PTEs were zapped
 * @revocation_batches: zap passes (sweeps before interrupts, revocation
 *                      work runs)
 * @revocations_pending: pages unmapped by the driver, not yet zapped
 * @pages_in_use: bounce region pages currently allocated (rings included;
 *                the reserved page 0 is not counted)
 * @pages_total: pages in the bounce region
 * @pages_shared: window pages in use (in flight or pending revocation)
 */
struct vl_mem_stats {
	u64 bytes_bounced;
	u64 bytes_shared;
	u64 maps;
	u64 map_failures;
	u64 held_maps;
	u64 backend_faults;
	u64 revocations;
	u64 revocation_batches;
	u64 revocations_pending;
	u64 pages_in_use;
	u64 pages_total;
	u64 pages_shared;
};

/**
 * vl_mem_init() - module init: mount the private pseudo file system
 * Returns: 0 or a negative errno.
 */
int vl_mem_init(void);

/** vl_mem_exit() - module exit: undo vl_mem_init() */
void vl_mem_exit(void);

/**
 * vl_mem_create() - allocate a device's memory region
 * @size: bytes of the bounce region, page aligned,
 *        VIRTIO_LOOPBACK_MIN_MEM_SIZE .. VIRTIO_LOOPBACK_MAX_MEM_SIZE
 *        (checked again here: -EINVAL)
 * @mode: VIRTIO_LOOPBACK_MEM_* (else -EINVAL); ZERO_COPY adds two windows
 *        of @size each
 *
 * Sleeps (GFP_KERNEL). The pages are zeroed, allocated up front and
 * charged to the caller's memory cgroup (-ENOMEM when that fails).
 * Requires vl_mem_init().
 * Returns: the region with one reference held by the caller, or ERR_PTR.
 */
struct vl_mem *vl_mem_create(u64 size, u32 mode);

/** vl_mem_put() - drop a reference; the last one frees the region (sleeps) */
void vl_mem_put(struct vl_mem *mem);

/**
 * vl_mem_attach_dma() - make @dev's DMA operations allocate and bounce in @mem
 * @mem: region; @dev keeps no reference, the caller keeps @mem alive while
 *       @dev can be used for DMA
 * @dev: the device the virtio ring uses for DMA (vdev->dev.parent),
 *       initialised but not necessarily added
 *
 * Installs the ops, the DMA masks and whatever lets the ops find @mem from
 * @dev: that is @dev's driver data (dev_set_drvdata()), which from then on
 * belongs to vl_dma.c; the caller must not use it. @dev must not be bound
 * to a driver. The DMA ops never sleep; dma_max_mapping_size(@dev) is
 * min(region / 8, 4 MiB), and larger streaming mappings fail.
 * Returns: 0 or a negative errno.
 */
int vl_mem_attach_dma(struct vl_mem *mem, struct device *dev);

/**
 * vl_mem_iova_to_virt() - kernel address of a range of the region
 * @mem: region
 * @iova: start of the range
 * @len: length of the range
 *
 * For the transport's own access to the rings. Any context.
 * Returns: the kernel virtual address, or NULL if the range is not inside
 * the region or touches the reserved page 0.
 */
void *vl_mem_iova_to_virt(struct vl_mem *mem, u64 iova, size_t len);

/**
 * vl_mem_hold_to_device() - refuse streaming mappings towards the device
 * @mem: region
 * @bit: the caller's bit (a queue index)
 * @hold: set or clear it
 *
 * While any bit is set, DMA_TO_DEVICE mappings fail with no message, as
 * with a full swiotlb: drivers treat that as "busy, try later"
 * (virtio_console's put_chars() returns 0, and the hvc layer keeps the
 * bytes and polls). A relayed queue holds while its FIFO is nearly full.
 * Any context.
 */
void vl_mem_hold_to_device(struct vl_mem *mem, unsigned int bit, bool hold);

/**
 * vl_mem_get_fd() - a new file descriptor for the back-end's view
 * @mem: region (the file takes its own reference)
 *
 * The file supports mmap(MAP_SHARED) inside the region and
 * lseek(SEEK_END) = region size. Flags O_RDWR | O_CLOEXEC. mmap() fails
 * with -EINVAL for MAP_PRIVATE or a range past the end, -EPERM for
 * PROT_EXEC, -ENODEV after vl_mem_revoke(). Process context.
 * Returns: the fd, or a negative errno (-ENODEV after vl_mem_revoke()).
 */
int vl_mem_get_fd(struct vl_mem *mem);

/**
 * vl_mem_open_region() - a new file for one part of the back-end's memory
 * @mem: region (the file takes its own reference)
 * @r: @index in; @flags, @iova and @size out (uapi semantics; @fd is the
 *     caller's business, so that it can install the file only once the
 *     answer reached user space)
 *
 * Process context. Returns: the file (O_RDWR, no fd yet), or ERR_PTR:
 * -ENOENT past the last part, -ENODEV after vl_mem_revoke().
 */
struct file *vl_mem_open_region(struct vl_mem *mem,
				struct virtio_loopback_mem_region *r);

/**
 * vl_mem_needs_sweep() - whether a back-end may map shared pages
 * @mem: region
 *
 * True when a zero-copy window page was faulted in and not zapped since.
 * Any context, lockless.
 */
bool vl_mem_needs_sweep(struct vl_mem *mem);

/**
 * vl_mem_sweep_begin() - start a sweep (one at a time per region)
 * @mem: region
 *
 * A sweep zaps the back-end's PTEs of the shared mappings of completed
 * requests before the driver is told: begin, vl_mem_sweep_mark() each
 * buffer of each completed chain, vl_mem_sweep_end(). The transport runs
 * one before it delivers a used-buffer interrupt, so that the driver never
 * gets back a page the back-end still maps. Sleeps.
 */
void vl_mem_sweep_begin(struct vl_mem *mem);

/**
 * vl_mem_sweep_mark() - mark a completed buffer for the sweep
 * @mem: region
 * @iova: the buffer's IOVA as the ring says (not trusted: a wrong range
 *        only costs a refault, or leaves the mapping to revocation at unmap)
 * @len: its length
 *
 * Any context, between vl_mem_sweep_begin() and vl_mem_sweep_end().
 */
void vl_mem_sweep_mark(struct vl_mem *mem, u64 iova, u64 len);

/**
 * vl_mem_sweep_end() - zap what was marked and end the sweep
 * @mem: region
 * @all: ignore the marks and zap every faulted mapping (when the ring could
 *       not be trusted)
 *
 * Sleeps.
 */
void vl_mem_sweep_end(struct vl_mem *mem, bool all);

/**
 * vl_mem_revoke() - take the region away from every back-end mapping
 * @mem: region
 *
 * Zaps every user mapping of the region and makes later mmap() and faults
 * fail (SIGBUS), so a back-end can no longer read or write it. Used when
 * the device is torn down, before the transport completes requests itself.
 * The DMA ops keep working. Pages a back-end pinned with get_user_pages()
 * (O_DIRECT in flight) stay writable through that pin until it is
 * released. Sleeps.
 */
void vl_mem_revoke(struct vl_mem *mem);

/** vl_mem_size() - size of the region in bytes */
u64 vl_mem_size(const struct vl_mem *mem);

/**
 * vl_mem_max_mapping() - largest streaming mapping the DMA ops accept
 * @mem: region
 *
 * What dma_max_mapping_size() reports for the attached device:
 * min(region / 8, 4 MiB), page aligned, at least one page.
 *
 * It bounds one segment, not one request. A request whose buffers cannot
 * fit in the region even when it is otherwise empty can never be mapped:
 * virtio_ring turns every mapping failure into -ENOMEM and virtio-blk
 * retries that forever (the I/O hangs in D state). So the transport must
 * keep a request well below the region size, e.g. for virtio-blk by
 * clamping the config space's seg_max * size_max (the default
 * max_sectors_kb alone is 1280 KiB, more than a 1 MiB region).
 * Returns: bytes.
 */
size_t vl_mem_max_mapping(const struct vl_mem *mem);

/** vl_mem_get_stats() - snapshot of the counters (any context) */
void vl_mem_get_stats(struct vl_mem *mem, struct vl_mem_stats *stats);

#endif /* VL_DMA_H */
