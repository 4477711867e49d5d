/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause */
/*
 * virtio-loopback: user/kernel contract.
 *
 * A process opens /dev/virtio-loopback; the open file is a session. The
 * VIRTIO_LOOPBACK_CREATE ioctl turns the session into the owner of exactly
 * one virtio device. The device lives as long as the file: closing it (or the
 * owner dying) removes the device like a hot-unplug -- unless it was created
 * with VIRTIO_LOOPBACK_CREATE_F_PERSIST: then it waits (bounded) for a new
 * session to take it over with VIRTIO_LOOPBACK_ATTACH.
 *
 * After CREATE the owner (the "adapter"):
 *  - read()s struct virtio_loopback_event from the file (poll() for EPOLLIN);
 *  - answers events flagged VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY by write()ing a
 *    struct virtio_loopback_reply with the same seq;
 *  - queries the rings with VIRTIO_LOOPBACK_GET_VQ_INFO after DRIVER_OK;
 *  - gets the memory regions for the back-end with
 *    VIRTIO_LOOPBACK_GET_MEM_REGION;
 *  - updates the config space with VIRTIO_LOOPBACK_SET_CONFIG;
 *  - removes the device in order with VIRTIO_LOOPBACK_UNPLUG, then close().
 *
 * Addresses in the rings and in struct virtio_loopback_vq_info are IOVAs:
 * byte offsets into the memory region (IOVA 0 is never handed out).
 *
 * All structures use fixed-width types and explicit padding; reserved
 * members must be zero (the kernel checks).
 */
#ifndef _UAPI_LINUX_VIRTIO_LOOPBACK_H
#define _UAPI_LINUX_VIRTIO_LOOPBACK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VIRTIO_LOOPBACK_API_VERSION	1

/* Limits checked by VIRTIO_LOOPBACK_CREATE. */
#define VIRTIO_LOOPBACK_MAX_QUEUES	64
#define VIRTIO_LOOPBACK_MAX_QUEUE_SIZE	32768
/* Same bound as vhost-user's VHOST_USER_MAX_CONFIG_SIZE. */
#define VIRTIO_LOOPBACK_MAX_CONFIG_SIZE	256
#define VIRTIO_LOOPBACK_MIN_MEM_SIZE	(1ULL << 20)
#define VIRTIO_LOOPBACK_MAX_MEM_SIZE	(4ULL << 30)
#define VIRTIO_LOOPBACK_DEFAULT_MEM_SIZE (64ULL << 20)
/* How long a persistent device waits for VIRTIO_LOOPBACK_ATTACH. */
#define VIRTIO_LOOPBACK_DEFAULT_PERSIST_TIMEOUT_MS	30000
#define VIRTIO_LOOPBACK_MAX_PERSIST_TIMEOUT_MS		3600000
/* Bytes of a device name ("vl<id>") with its NUL, in ATTACH. */
#define VIRTIO_LOOPBACK_NAME_SIZE	32

/**
 * struct virtio_loopback_queue_info - one virtqueue of a new device
 * @max_size: largest ring the device accepts; a power of two,
 *            1..VIRTIO_LOOPBACK_MAX_QUEUE_SIZE
 * @reserved0: must be zero
 * @kick_fd: eventfd the kernel signals when the driver notifies this queue
 * @call_fd: eventfd the kernel watches; a signal is a used-buffer interrupt
 * @reserved1: must be zero
 *
 * The same two eventfds are meant to be handed to the back-end
 * (VHOST_USER_SET_VRING_KICK / _CALL), so no other process is woken per
 * request.
 */
struct virtio_loopback_queue_info {
	__u16 max_size;
	__u16 reserved0;
	__s32 kick_fd;
	__s32 call_fd;
	__u32 reserved1;
};

/**
 * struct virtio_loopback_create - argument of VIRTIO_LOOPBACK_CREATE
 * @size: sizeof(struct virtio_loopback_create) as the caller knows it;
 *        a larger struct is accepted when the extra bytes are zero
 * @device_id: virtio device id (VIRTIO_ID_*), non-zero
 * @vendor_id: virtio vendor id reported to the driver
 * @num_queues: number of entries at @queues, 1..VIRTIO_LOOPBACK_MAX_QUEUES
 * @device_features: feature bits the back-end offers; must include
 *                   VIRTIO_F_VERSION_1. Transport bits the kernel does not
 *                   implement are masked; VIRTIO_F_ACCESS_PLATFORM is added
 *                   towards the driver by the kernel and never reported back
 *                   unless the back-end offered it.
 * @queues: user pointer to @num_queues struct virtio_loopback_queue_info
 * @config: user pointer to @config_size bytes of initial config space
 * @config_size: 0..VIRTIO_LOOPBACK_MAX_CONFIG_SIZE
 * @mem_mode: how buffers reach the back-end
 * @mem_size: size of the bounce region (region 0) in bytes, page aligned,
 *            VIRTIO_LOOPBACK_MIN_MEM_SIZE..VIRTIO_LOOPBACK_MAX_MEM_SIZE;
 *            0 selects VIRTIO_LOOPBACK_DEFAULT_MEM_SIZE
 * @flags: VIRTIO_LOOPBACK_CREATE_F_*
 * @id: (out) number of the device: /sys/class/virtio-loopback/vl<id>
 * @persist_timeout_ms: with VIRTIO_LOOPBACK_CREATE_F_PERSIST, how long the
 *                      device waits for VIRTIO_LOOPBACK_ATTACH after its
 *                      session closed, 1..VIRTIO_LOOPBACK_MAX_PERSIST_TIMEOUT_MS;
 *                      0 selects VIRTIO_LOOPBACK_DEFAULT_PERSIST_TIMEOUT_MS.
 *                      Must be zero without the flag.
 * @reserved0: must be zero
 * @reserved: must be zero
 */
struct virtio_loopback_create {
	__u32 size;
	__u32 device_id;
	__u32 vendor_id;
	__u32 num_queues;
	__u64 device_features;
	__u64 queues;
	__u64 config;
	__u32 config_size;
	__u32 mem_mode;
/* Every buffer is copied to/from a kernel-owned bounce region. */
#define VIRTIO_LOOPBACK_MEM_ISOLATED	0
/*
 * Large in-flight buffers whose pages may be shared are mapped in place
 * into extra regions (see struct virtio_loopback_mem_region); the rest is
 * bounced as in ISOLATED mode.
 */
#define VIRTIO_LOOPBACK_MEM_ZERO_COPY	1
	__u64 mem_size;
	__u32 flags;
/*
 * Closing the session (the adapter exiting or being killed) does not remove
 * the device: the driver sees nothing, requests stay pending, and a new
 * session takes the device over with VIRTIO_LOOPBACK_ATTACH. Without one
 * within @persist_timeout_ms the device is removed as without the flag.
 * Not kept: a device that is broken, or whose session asked for
 * VIRTIO_LOOPBACK_UNPLUG.
 */
#define VIRTIO_LOOPBACK_CREATE_F_PERSIST	(1U << 0)
	__u32 id;
	__u32 persist_timeout_ms;
	__u32 reserved0;
	__u64 reserved[3];
};

/**
 * struct virtio_loopback_attach - argument of VIRTIO_LOOPBACK_ATTACH
 * @size: sizeof(struct virtio_loopback_attach) as the caller knows it; a
 *        larger struct is accepted when the extra bytes are zero
 * @flags: must be zero
 * @name: (in) the device's name, "vl<id>" (/sys/class/virtio-loopback/),
 *        NUL-terminated
 * @device_id: (in) virtio device id; must be the device's
 * @num_queues: (in) entries at @queues; must be the device's
 * @queues: (in) user pointer to @num_queues struct virtio_loopback_queue_info:
 *          the new kick and call eventfds; each @max_size must be the one
 *          given at CREATE
 * @device_features: (out) the features given at CREATE
 * @driver_features: (out) the features the driver accepted, limited to
 *                   @device_features (as in EV_DRIVER_OK); 0 before that
 * @mem_size: (out) bytes of memory region 0
 * @status: (out) the device status the driver last wrote: with
 *          VIRTIO_CONFIG_S_DRIVER_OK the rings are live and the back-end
 *          must be started (VIRTIO_LOOPBACK_REWIND_VQ first)
 * @id: (out) number of the device
 * @index: (out) virtio bus index (virtio<index>), ~0U if not registered
 * @mem_mode: (out) VIRTIO_LOOPBACK_MEM_*
 * @persist_timeout_ms: (out) the device's persist timeout
 * @reserved0: must be zero
 * @reserved: must be zero
 */
struct virtio_loopback_attach {
	__u32 size;
	__u32 flags;
	char name[VIRTIO_LOOPBACK_NAME_SIZE];
	__u32 device_id;
	__u32 num_queues;
	__u64 queues;
	__u64 device_features;
	__u64 driver_features;
	__u64 mem_size;
	__u32 status;
	__u32 id;
	__u32 index;
	__u32 mem_mode;
	__u32 persist_timeout_ms;
	__u32 reserved0;
	__u64 reserved[4];
};

/**
 * struct virtio_loopback_event - what read() returns on a device session
 * @type: VIRTIO_LOOPBACK_EV_*
 * @flags: VIRTIO_LOOPBACK_EV_F_*
 * @seq: sequence number; a reply carries it back
 * @index: virtio bus index: the device is /sys/bus/virtio/devices/virtio<index>
 * @features: EV_DRIVER_OK: the features the driver accepted, limited to those
 *            the back-end offered
 * @status: EV_DRIVER_OK / EV_FAILED: the device status the driver wrote
 * @reserved0: zero
 * @config_offset: EV_CONFIG_WRITE: offset of the write in the config space
 * @config_len: EV_CONFIG_WRITE: number of bytes written
 * @config: EV_CONFIG_WRITE: the bytes written
 * @reserved: zero
 *
 * read() returns whole events only: a buffer smaller than the struct gets
 * -EINVAL. O_NONBLOCK is honoured (-EAGAIN). A broken device (an answer
 * timed out) makes read() fail with -EIO and poll() report EPOLLERR.
 */
struct virtio_loopback_event {
	__u32 type;
/*
 * The driver set DRIVER_OK. Query the rings with GET_VQ_INFO, start the
 * back-end, then reply. A negative result marks the device broken.
 */
#define VIRTIO_LOOPBACK_EV_DRIVER_OK	1
/*
 * The driver reset the device. Stop the back-end's rings, then reply: the
 * driver frees the rings once the reply has arrived (or the wait timed out).
 * Sent only after an EV_DRIVER_OK (a reset of a device that was never
 * started, e.g. the one at registration, needs nothing from the back-end).
 */
#define VIRTIO_LOOPBACK_EV_RESET	2
/*
 * The driver wrote the config space; forward it (VHOST_USER_SET_CONFIG),
 * refresh the kernel's copy from the back-end (VIRTIO_LOOPBACK_SET_CONFIG
 * without NOTIFY) where the write may have changed what reads return, then
 * reply. The driver waits (bounded) for the reply; the kernel's copy
 * already holds the bytes written.
 */
#define VIRTIO_LOOPBACK_EV_CONFIG_WRITE	3
/* The driver set FAILED. Informational. */
#define VIRTIO_LOOPBACK_EV_FAILED	4
/*
 * After VIRTIO_LOOPBACK_UNPLUG: the driver is gone (@index is the virtio
 * index it had). No reply. The back-end may be stopped and the session
 * closed.
 */
#define VIRTIO_LOOPBACK_EV_UNPLUGGED	5
	__u32 flags;
/* The kernel waits (bounded) for a struct virtio_loopback_reply. */
#define VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY	(1U << 0)
	__u32 seq;
	__u32 index;
	__u64 features;
	__u8 status;
	__u8 reserved0[3];
	__u32 config_offset;
	__u32 config_len;
	__u32 reserved1;
	__u8 config[VIRTIO_LOOPBACK_MAX_CONFIG_SIZE];
	__u64 reserved[4];
};

/**
 * struct virtio_loopback_reply - what write() takes on a device session
 * @seq: seq of the event answered
 * @result: 0 on success or a negative errno
 * @reserved: must be zero
 *
 * A reply to an unknown seq, or to an event that needs none, fails with
 * -ENOENT; a malformed one with -EINVAL.
 */
struct virtio_loopback_reply {
	__u32 seq;
	__s32 result;
	__u64 reserved[2];
};

/**
 * struct virtio_loopback_vq_info - argument of VIRTIO_LOOPBACK_GET_VQ_INFO
 * @index: (in) queue index, < num_queues of the device
 * @ready: (out) 1 if the driver set the queue up, else 0 (other fields zero)
 * @num: (out) ring size the driver chose (a power of two, <= max_size)
 * @reserved0: zero
 * @desc: (out) IOVA of the descriptor table
 * @avail: (out) IOVA of the driver (available) ring
 * @used: (out) IOVA of the device (used) ring
 * @reserved: zero
 */
struct virtio_loopback_vq_info {
	__u32 index;
	__u32 ready;
	__u32 num;
	__u32 reserved0;
	__u64 desc;
	__u64 avail;
	__u64 used;
	__u64 reserved[2];
};

/**
 * struct virtio_loopback_vq_rewind - argument of VIRTIO_LOOPBACK_REWIND_VQ
 * @index: queue index
 * @flags: 0 or VIRTIO_LOOPBACK_REWIND_F_QUERY
 * @base: (out) avail ring index a new back-end starts at (SET_VRING_BASE);
 *        with VIRTIO_LOOPBACK_REWIND_F_QUERY the used ring index
 * @outstanding: (out) chains between @base and avail->idx that the previous
 *               back-end took and never completed (with QUERY: chains made
 *               available and not completed)
 * @reserved: must be zero
 */
struct virtio_loopback_vq_rewind {
	__u32 index;
	__u32 flags;
/*
 * Rewrite nothing: for a back-end that keeps its own inflight record
 * (vhost-user INFLIGHT_SHMFD) and resubmits from it, starting at the used
 * index as the vhost-user spec has it.
 */
#define VIRTIO_LOOPBACK_REWIND_F_QUERY	(1U << 0)
	__u32 base;
	__u32 outstanding;
	__u64 reserved[2];
};

/**
 * struct virtio_loopback_config - argument of VIRTIO_LOOPBACK_SET_CONFIG
 * @offset: first byte to replace in the kernel's copy of the config space
 * @len: number of bytes; offset + len <= config_size given at CREATE
 * @flags: VIRTIO_LOOPBACK_CONFIG_F_*
 * @reserved0: must be zero
 * @data: user pointer to @len bytes
 * @reserved: must be zero
 */
struct virtio_loopback_config {
	__u32 offset;
	__u32 len;
	__u32 flags;
/* Raise a config-change interrupt after the update. */
#define VIRTIO_LOOPBACK_CONFIG_F_NOTIFY	(1U << 0)
	__u32 reserved0;
	__u64 data;
	__u64 reserved[2];
};

/*
 * ioctl magic 0xD5: listed by no driver in Documentation/userspace-api/ioctl/ioctl-number.rst.
 * Control ioctls (valid before CREATE) from 0x00, device ioctls from 0x10.
 * Device ioctls, read() and write() before CREATE fail with -ENODEV; device
 * ioctls on a broken device with -EIO. Unknown commands: -ENOTTY.
 */
#define VIRTIO_LOOPBACK_IOCTL_MAGIC	0xD5

/**
 * struct virtio_loopback_mem_region - argument of VIRTIO_LOOPBACK_GET_MEM_REGION
 * @index: (in) 0 .. number of regions - 1: ISOLATED devices have one
 *         region, ZERO_COPY devices three
 * @flags: (in) must be zero; (out) VIRTIO_LOOPBACK_MEM_REGION_F_*
 * @iova: (out) IOVA of the region's first byte
 * @size: (out) bytes in the region
 * @fd: (out) a new O_CLOEXEC file descriptor; offset 0 of the file is
 *      @iova. mmap() it MAP_SHARED, lseek(fd, 0, SEEK_END) gives @size.
 * @reserved: must be zero
 *
 * Region 0 (IOVA 0) holds the rings and the bounce buffers: always
 * mapped, readable and writable. In ZERO_COPY mode region 1 shows, in
 * place, the pages of in-flight buffers the device may write and region 2
 * those it may only read; a page there is reachable only while its buffer
 * is in flight (an access at any other time fails: SIGBUS, or EFAULT from
 * a system call). Hand every region to the back-end in
 * VHOST_USER_SET_MEM_TABLE with guest_phys_addr = @iova and mmap_offset 0.
 */
struct virtio_loopback_mem_region {
	__u32 index;
	__u32 flags;
/* Writes to the region fault: the device may only read these buffers. */
#define VIRTIO_LOOPBACK_MEM_REGION_F_READ_ONLY	(1U << 0)
/* Pages appear only while in flight (the in-place regions). */
#define VIRTIO_LOOPBACK_MEM_REGION_F_IN_FLIGHT	(1U << 1)
	__u64 iova;
	__u64 size;
	__s32 fd;
	__u32 reserved;
};

/* out: VIRTIO_LOOPBACK_API_VERSION */
#define VIRTIO_LOOPBACK_GET_API_VERSION	_IOR(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x00, __u64)
/* in: everything but @id; out: @id. Once per session; -EBUSY after that. */
#define VIRTIO_LOOPBACK_CREATE		_IOWR(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x01, struct virtio_loopback_create)
/*
 * Take over a persistent device whose session closed (CREATE_F_PERSIST).
 * in: @size, @flags, @name, @device_id, @num_queues, @queues; out: the
 * rest. The session then owns the device as if it had created it: the
 * device's events (an unanswered one is delivered again), the memory
 * regions (new fds; in ZERO_COPY mode every page the previous back-end
 * had mapped in place is taken away from it first), the rings. The kick
 * and call eventfds given here replace the old ones. To start a new
 * back-end on rings that were live (@status has DRIVER_OK), use
 * VIRTIO_LOOPBACK_REWIND_VQ per queue: the requests the old back-end did
 * not complete are handed over again. Errors: -ENOENT no such device (or
 * it is being removed), -EPERM not persistent, -EBUSY another session
 * owns it (a live adapter, or the winner of a race), -EBUSY also when this
 * session already has a device, -EIO the device is broken, -EINVAL bad
 * @flags, reserved fields, name or a field that does not match the
 * device, -EBADF/-EINVAL bad eventfds. -EFAULT on the way out: the session
 * owns the device all the same.
 */
#define VIRTIO_LOOPBACK_ATTACH		_IOWR(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x02, struct virtio_loopback_attach)
/* in: @index; out: the rest. */
#define VIRTIO_LOOPBACK_GET_VQ_INFO	_IOWR(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x10, struct virtio_loopback_vq_info)
/* in: all fields. */
#define VIRTIO_LOOPBACK_SET_CONFIG	_IOW(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x11, struct virtio_loopback_config)
/*
 * Returns a new O_CLOEXEC file descriptor for memory region 0 (the only
 * one of an ISOLATED device): mmap() it MAP_SHARED at offsets within the
 * region, lseek(fd, 0, SEEK_END) gives its size. Same as the fd of
 * GET_MEM_REGION with index 0.
 */
#define VIRTIO_LOOPBACK_GET_MEM_FD	_IO(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x12)
/* in: @index, @flags; out: the rest. -ENOENT past the last region. */
#define VIRTIO_LOOPBACK_GET_MEM_REGION	_IOWR(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x13, struct virtio_loopback_mem_region)
/*
 * Orderly removal: unbind the driver while the session stays open, so the
 * back-end serves what the driver does on its way out (virtio-blk writes
 * back its cache, then resets the device: EV_RESET as usual). Returns at
 * once; EV_UNPLUGGED follows. Closing the session without it is a surprise
 * removal: outstanding requests fail and the back-end loses the memory at
 * once. -EALREADY the second time.
 */
#define VIRTIO_LOOPBACK_UNPLUG		_IO(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x14)
/*
 * A new back-end takes over a queue whose back-end is gone (the adapter
 * saw its socket close; it must not touch the rings any more): every chain
 * the kernel still counts as outstanding is written again into the avail
 * ring just before the current avail index, most recent order kept, and
 * @base says where the new back-end starts. It then executes those
 * requests again (at least once: one the old back-end carried out but did
 * not complete runs twice; block reads and writes of the same buffer are
 * idempotent). The driver never reads its avail ring back, so rewriting it
 * is invisible to it. A relayed queue re-posts the bytes not given back.
 * With VIRTIO_LOOPBACK_REWIND_F_QUERY nothing is rewritten or re-posted
 * and @base is the used index: the back-end resubmits from its own
 * inflight record (vhost-user INFLIGHT_SHMFD).
 * -ENOENT if the driver has not set the queue up, -ESTALE if the in-flight
 * set is not known (the shadow lost track), -EINVAL for a bad index, flags
 * or reserved field, -EIO on a broken device.
 */
#define VIRTIO_LOOPBACK_REWIND_VQ	_IOWR(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x15, struct virtio_loopback_vq_rewind)

#endif /* _UAPI_LINUX_VIRTIO_LOOPBACK_H */
