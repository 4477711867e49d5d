/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvlb: a small vhost-user back-end library (C, libc only).
 *
 * A device program describes its device with one const struct vlb_dev_iface
 * (features, config space, what to do when a queue is kicked) and lets the
 * library speak the vhost-user protocol (QEMU docs/interop/vhost-user.rst):
 * feature and protocol feature negotiation, the memory table, the vrings,
 * REPLY_ACK, and the back-end program conventions (--socket-path, --fd,
 * --print-capabilities). Queue handlers take buffers with vlb_vq_pop(),
 * whose iovecs point into the front-end's memory after every descriptor
 * was bounds-checked, and return them with vlb_vq_push(), vlb_vq_flush()
 * and vlb_vq_notify(); vlb_vq_serve() is that loop with a budget and
 * notification suppression, around a handler for one element.
 *
 * Conventions: functions return 0 (or a count) or a negative errno, never -1
 * with errno. Misuse of the API (NULL iface, queue index out of range from
 * the device program) is caught with assert(). Anything wrong in what the
 * front-end sends is a protocol error: the library logs one line, marks the
 * device broken (vlb_dev_broken()) and the event loop returns -EPROTO, so
 * the program drops that front-end and can accept the next one.
 *
 * Threading: a struct vlb_dev and its queues are used from one thread.
 *
 * A device program in full (devices/rng/vhost-user-rng.c is the real one):
 *
 *	static uint64_t foo_get_features(struct vlb_dev *dev)
 *	{
 *		return 1ULL << VLB_F_VERSION_1;
 *	}
 *
 *	static int64_t foo_handle(struct vlb_dev *dev, unsigned int qidx,
 *				  struct vlb_vq_elem *elem, void *opaque)
 *	{
 *		... read elem->out_sg, fill elem->in_sg ...
 *		return bytes_written;
 *	}
 *
 *	static void foo_queue_kick(struct vlb_dev *dev, unsigned int qidx)
 *	{
 *		vlb_vq_serve(dev, qidx, 256, foo_handle, NULL);
 *	}
 *
 *	static const struct vlb_dev_iface foo_iface = {
 *		.get_features	= foo_get_features,
 *		.queue_kick	= foo_queue_kick,
 *	};
 *
 *	int main(int argc, char **argv)
 *	{
 *		static const struct vlb_backend foo = {
 *			.name = "vhost-user-foo", .type = "foo", .version = "1",
 *			.iface = &foo_iface, .nr_vqs = 1,
 *		};
 *
 *		return vlb_backend_main(&foo, argc, argv);
 *	}
 *
 * Programs with their own event loop use vlb_listen_unix(), vlb_accept(),
 * vlb_dev_new(), vlb_dev_attach(), then vlb_dev_dispatch() when the socket
 * is readable and vlb_dev_handle_kick() when a kick fd is, or simply
 * vlb_dev_run().
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLB_H
#define VLB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vhost_user.h"
#include "vlb_log.h"

/* Feature bits of the virtio spec a device program commonly offers. */
#define VLB_F_INDIRECT_DESC	28	/* VIRTIO_RING_F_INDIRECT_DESC */
#define VLB_F_EVENT_IDX		29	/* VIRTIO_RING_F_EVENT_IDX */
#define VLB_F_VERSION_1		32	/* VIRTIO_F_VERSION_1 */

/* Largest split ring the library accepts (virtio spec: Queue Size <= 32768). */
#define VLB_VQ_MAX_SIZE		32768U

/* Largest queue count a device may declare. */
#define VLB_MAX_QUEUES		256U

struct vlb_dev;
struct vlb_vq;

/**
 * struct vlb_vq_elem - one descriptor chain taken from the available ring
 * @index: head descriptor index; identifies the chain in vlb_vq_push()
 * @out_num: number of device-readable buffers in @out_sg
 * @in_num: number of device-writable buffers in @in_sg
 * @out_sg: device-readable buffers (driver → device), in chain order
 * @in_sg: device-writable buffers (device → driver), in chain order
 *
 * Every iovec lies inside one region of the memory table; a descriptor that
 * crosses from one region into an adjacent one gives several iovecs. The
 * element is one allocation: release it with free() once it was pushed.
 *
 * The iovecs stay valid until the front-end changes the memory table
 * (SET_MEM_TABLE, REM_MEM_REG, disconnect), which only happens inside
 * vlb_dev_dispatch(): a device that keeps elements across returns to the
 * event loop must not touch their buffers after queue_set_started(false).
 * Pushing such a stale element is harmless: the library drops it.
 */
struct vlb_vq_elem {
	unsigned int index;
	unsigned int out_num;
	unsigned int in_num;
	struct iovec *out_sg;
	struct iovec *in_sg;
};

/**
 * struct vlb_dev_iface - what a device program provides
 * @get_features: virtio feature bits the device offers (required). The
 *	library adds VHOST_USER_F_PROTOCOL_FEATURES.
 * @set_features: the front-end acknowledged these features (optional)
 * @get_config: copy @len bytes of config space from @offset into @buf
 *	(optional); returns 0 or -errno
 * @set_config: the driver wrote @len bytes at @offset (optional); @flags are
 *	VHOST_USER_CONFIG_F_*; returns 0 or -errno. The CONFIG protocol
 *	feature is offered only when both config callbacks exist.
 * @queue_set_started: queue @qidx became ready (started by SET_VRING_KICK and
 *	enabled) or stopped (GET_VRING_BASE, disable, reset, disconnect)
 *	(optional)
 * @queue_kick: the driver made buffers available on queue @qidx (required);
 *	also called once when a queue becomes ready, since buffers may have
 *	been posted before
 * @set_status: the front-end set the virtio device status (STATUS protocol
 *	feature; optional); returns 0 or -errno
 * @reset: forget all device state: RESET_DEVICE, RESET_OWNER or the
 *	front-end disconnected (optional)
 * @panic: a protocol error made the device broken; @msg says why (optional,
 *	the library has already logged it)
 */
/**
 * vlb_config_read_only() - a @set_config for a device whose config space the
 * driver may only read: logs the write and returns -EPERM.
 */
int vlb_config_read_only(struct vlb_dev *dev, const uint8_t *buf,
			 uint32_t offset, uint32_t len, uint32_t flags);

struct vlb_dev_iface {
	uint64_t (*get_features)(struct vlb_dev *dev);
	void (*set_features)(struct vlb_dev *dev, uint64_t features);
	int (*get_config)(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			  uint32_t len);
	int (*set_config)(struct vlb_dev *dev, const uint8_t *buf,
			  uint32_t offset, uint32_t len, uint32_t flags);
	void (*queue_set_started)(struct vlb_dev *dev, unsigned int qidx,
				  bool started);
	void (*queue_kick)(struct vlb_dev *dev, unsigned int qidx);
	int (*set_status)(struct vlb_dev *dev, uint8_t status);
	void (*reset)(struct vlb_dev *dev);
	void (*panic)(struct vlb_dev *dev, const char *msg);
};

/* Device ------------------------------------------------------------------ */

/**
 * vlb_dev_new() - create a device context, not yet connected
 * @iface: device callbacks; must outlive the device
 * @nr_vqs: number of queues, 1..VLB_MAX_QUEUES (GET_QUEUE_NUM answers it)
 * @priv: device program's data, returned by vlb_dev_priv()
 * @name: object name for log lines (e.g. the socket path); copied
 * @devp: set to the new device
 *
 * Returns: 0, -EINVAL for a bad @nr_vqs, or -ENOMEM. Free with vlb_dev_free().
 */
int vlb_dev_new(const struct vlb_dev_iface *iface, unsigned int nr_vqs,
		void *priv, const char *name, struct vlb_dev **devp);

/**
 * vlb_dev_free() - detach (if attached) and free a device
 * @dev: device, or NULL
 */
void vlb_dev_free(struct vlb_dev *dev);

/**
 * vlb_dev_attach() - serve one front-end on a connected socket
 * @dev: a detached device
 * @sock: connected unix stream socket; the device owns it from now on,
 *	also when this call fails
 *
 * Returns: 0, or -EBUSY if @dev is already attached (@sock is closed).
 */
int vlb_dev_attach(struct vlb_dev *dev, int sock);

/**
 * vlb_dev_detach() - drop the front-end
 * @dev: device
 *
 * Stops every queue (queue_set_started(false)), calls iface->reset, unmaps
 * the memory table, closes the socket and every fd the front-end gave, and
 * clears the broken state, so the device can be attached again.
 */
void vlb_dev_detach(struct vlb_dev *dev);

/**
 * struct vlb_local_vring - a queue handed over directly, not by messages
 * @num: ring size, a power of two up to VLB_VQ_MAX_SIZE; 0 leaves the
 *	queue stopped
 * @desc: guest address of the descriptor table
 * @avail: guest address of the available ring
 * @used: guest address of the used ring
 * @kick_fd: eventfd the driver signals, or -1 (then only
 *	vlb_dev_pending_kicks() runs the queue); duplicated
 * @call_fd: eventfd vlb_vq_notify() signals, or -1; duplicated
 */
struct vlb_local_vring {
	unsigned int num;
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	int kick_fd;
	int call_fd;
};

/**
 * vlb_dev_attach_local() - serve rings this process was handed directly
 * @dev: a detached device
 * @features: virtio features the driver accepted (EVENT_IDX and
 *	INDIRECT_DESC change how the rings are read)
 * @mem_fd: the memory the rings and buffers lie in, mapped from offset 0
 *	at guest address 0; the caller keeps the fd (the mapping stays)
 * @mem_size: bytes of @mem_fd to map
 * @vrings: vlb_dev_nr_vqs() entries, one per queue
 *
 * For a front-end that serves a queue itself, as a VMM serves virtio-net's
 * control queue: the memory and the rings get the checks SET_MEM_TABLE and
 * the SET_VRING_* messages get, without a socket. The queues start
 * enabled at ring index 0; serve them with vlb_dev_handle_kick() and
 * vlb_dev_pending_kicks(). vlb_dev_detach() stops them and unmaps.
 * Returns: 0; -EBUSY when attached already; -EIO for a bad ring (logged;
 * the device is detached again); another -errno from mmap() or dup().
 */
int vlb_dev_attach_local(struct vlb_dev *dev, uint64_t features, int mem_fd,
			 uint64_t mem_size,
			 const struct vlb_local_vring *vrings);

/**
 * vlb_dev_dispatch() - read and handle one front-end message
 * @dev: attached device
 *
 * For programs with their own event loop: call it when the socket
 * (vlb_dev_socket()) is readable, then run vlb_dev_pending_kicks(), and
 * re-read the kick fds (vlb_vq_kick_fd()): the message may have changed them.
 * Returns: 0; -ECONNRESET when the front-end hung up; -EPROTO when the
 * device is broken (the reason was logged); another -errno on I/O errors.
 */
int vlb_dev_dispatch(struct vlb_dev *dev);

/**
 * vlb_dev_pending_kicks() - call queue_kick where a call is pending
 * @dev: attached device
 *
 * Pending: the queue just became ready, or asked with vlb_vq_kick_later().
 * Returns: true if a call is still pending afterwards (poll without
 * blocking then)
 */
bool vlb_dev_pending_kicks(struct vlb_dev *dev);

/**
 * vlb_dev_handle_kick() - consume a kick eventfd and call queue_kick
 * @dev: attached device
 * @qidx: queue whose kick fd (vlb_vq_kick_fd()) is readable
 *
 * Returns: 0, or -errno when reading the eventfd failed.
 */
int vlb_dev_handle_kick(struct vlb_dev *dev, unsigned int qidx);

/**
 * vlb_dev_run() - poll()-based event loop for one front-end
 * @dev: attached device
 * @stop_fd: fd that ends the loop when readable (e.g. a signalfd), or -1
 *
 * Serves the socket, the kick eventfds of ready queues and the device
 * program's watches (vlb_dev_add_watch()) until something ends it. The device stays attached; call vlb_dev_detach() afterwards.
 * Returns: 0 when the front-end hung up, -ECANCELED when @stop_fd became
 * readable, -EPROTO when the device broke, another -errno on errors.
 */
int vlb_dev_run(struct vlb_dev *dev, int stop_fd);

/**
 * typedef vlb_watch_cb - a watched fd is ready
 * @dev: device
 * @fd: the fd
 * @revents: poll() revents
 * @opaque: as given to vlb_dev_add_watch()
 */
typedef void (*vlb_watch_cb)(struct vlb_dev *dev, int fd, short revents,
			     void *opaque);

/* Most fds a device program may have vlb_dev_run() watch. */
#define VLB_MAX_WATCHES		16

/**
 * vlb_dev_add_watch() - have vlb_dev_run() poll a fd of the device program
 * @dev: device
 * @fd: fd to poll (still owned by the caller)
 * @events: poll() events (POLLIN, POLLOUT)
 * @cb: called from vlb_dev_run() when @fd has any of @events or an error
 * @opaque: passed to @cb
 *
 * For devices fed by something besides the front-end: an input device's
 * evdev fd, a console's pty, a timerfd. Watches belong to the device, not
 * to the connection: they stay across attach and detach, but are served
 * only while vlb_dev_run() runs. @cb may add and remove watches; it must
 * consume the event (or remove the watch: a pipe at EOF stays readable),
 * or it is called again at once.
 * Returns: 0; -EEXIST if @fd is watched already; -ENOSPC beyond
 * VLB_MAX_WATCHES; -EINVAL for a negative @fd.
 */
int vlb_dev_add_watch(struct vlb_dev *dev, int fd, short events,
		      vlb_watch_cb cb, void *opaque);

/**
 * vlb_dev_remove_watch() - stop polling a fd
 * @dev: device
 * @fd: a watched fd (not closed)
 * Returns: 0, or -ENOENT if @fd is not watched
 */
int vlb_dev_remove_watch(struct vlb_dev *dev, int fd);

/**
 * vlb_dev_config_changed() - tell the front-end the config space changed
 * @dev: attached device
 *
 * Sends VHOST_USER_BACKEND_CONFIG_CHANGE_MSG on the back-end channel and
 * waits for the acknowledgement when REPLY_ACK was negotiated.
 * Returns: 0, -ENOTCONN without a back-end channel (BACKEND_REQ and CONFIG
 * not negotiated), -EIO when the front-end refused, or another -errno.
 */
int vlb_dev_config_changed(struct vlb_dev *dev);

/**
 * vlb_dev_priv() - the device program's data
 * @dev: device
 * Returns: the @priv given to vlb_dev_new()
 */
void *vlb_dev_priv(const struct vlb_dev *dev);

/**
 * vlb_dev_name() - the object name used in log lines
 * @dev: device
 * Returns: a string owned by @dev
 */
const char *vlb_dev_name(const struct vlb_dev *dev);

/**
 * vlb_dev_socket() - the front-end socket
 * @dev: device
 * Returns: the fd (owned by @dev), or -1 when detached
 */
int vlb_dev_socket(const struct vlb_dev *dev);

/**
 * vlb_dev_broken() - whether a protocol error stopped the device
 * @dev: device
 * Returns: true after a protocol error until vlb_dev_detach()
 */
bool vlb_dev_broken(const struct vlb_dev *dev);

/**
 * vlb_dev_features() - virtio features the front-end acknowledged
 * @dev: device
 * Returns: the SET_FEATURES bits (0 before SET_FEATURES)
 */
uint64_t vlb_dev_features(const struct vlb_dev *dev);

/**
 * vlb_dev_protocol_features() - negotiated vhost-user protocol features
 * @dev: device
 * Returns: the SET_PROTOCOL_FEATURES bits
 */
uint64_t vlb_dev_protocol_features(const struct vlb_dev *dev);

/**
 * vlb_dev_status() - the virtio status the front-end last set
 * @dev: device
 * Returns: the status byte (STATUS protocol feature), 0 otherwise
 */
uint8_t vlb_dev_status(const struct vlb_dev *dev);

/**
 * vlb_dev_nr_vqs() - number of queues
 * @dev: device
 * Returns: the @nr_vqs given to vlb_dev_new()
 */
unsigned int vlb_dev_nr_vqs(const struct vlb_dev *dev);

/**
 * vlb_dev_vq() - a queue of the device
 * @dev: device
 * @qidx: queue index, below vlb_dev_nr_vqs() (asserted)
 * Returns: the queue, owned by @dev
 */
struct vlb_vq *vlb_dev_vq(struct vlb_dev *dev, unsigned int qidx);

/**
 * struct vlb_mem_info - one region of the front-end's memory table
 * @gpa: guest address of the region's first byte (what descriptors hold)
 * @qva: front-end virtual address of that byte (what SET_VRING_ADDR holds)
 * @size: bytes in the region
 * @host: where that byte is mapped in this process
 */
struct vlb_mem_info {
	uint64_t gpa;
	uint64_t qva;
	uint64_t size;
	void *host;
};

/**
 * vlb_dev_mem_region() - describe one region of the memory table
 * @dev: device
 * @i: region index, from 0 up
 * @info: filled in on success
 *
 * For device programs that look at the memory itself rather than through
 * popped elements (a test back-end that reads everything it can reach).
 * The mapping stays valid until the memory table changes, which happens
 * only inside vlb_dev_dispatch() and vlb_dev_detach(). Pages of a region
 * may still be unreachable (a front-end that revokes them): read them with
 * something that survives a fault, not with a plain load.
 * Returns: 0, or -ENOENT when @i is past the last region
 */
int vlb_dev_mem_region(const struct vlb_dev *dev, unsigned int i,
		       struct vlb_mem_info *info);

/* Virtqueue --------------------------------------------------------------- */

/**
 * vlb_vq_ready() - whether the queue may be processed
 * @vq: queue
 * Returns: true when started, enabled, its rings mapped and the device not
 * broken
 */
bool vlb_vq_ready(const struct vlb_vq *vq);

/**
 * vlb_vq_index() - index of a queue
 * @vq: queue
 * Returns: its index in the device
 */
unsigned int vlb_vq_index(const struct vlb_vq *vq);

/**
 * vlb_vq_kick_fd() - the kick eventfd of a queue
 * @vq: queue
 * Returns: the fd (owned by the library), or -1
 */
int vlb_vq_kick_fd(const struct vlb_vq *vq);

/**
 * struct vlb_vq_rings - where a queue's split ring lies in this process
 * @num: ring size (entries)
 * @desc: descriptor table, @num entries of 16 bytes (virtio spec 2.7.5)
 * @avail: available ring (2.7.6)
 * @used: used ring (2.7.8)
 *
 * Everything in the rings is little-endian and shared with the driver.
 */
struct vlb_vq_rings {
	unsigned int num;
	void *desc;
	void *avail;
	void *used;
};

/**
 * vlb_vq_rings() - the ring memory of a queue, for tests and tracing
 * @vq: queue
 * @rings: filled in on success
 *
 * The library owns the rings: a device program that writes them on its
 * own breaks the protocol. Test back-ends use this to play a device that
 * does exactly that.
 * Returns: 0, or -ENODATA when the rings are not mapped
 */
int vlb_vq_rings(const struct vlb_vq *vq, struct vlb_vq_rings *rings);

/**
 * vlb_vq_pop() - take the next available descriptor chain
 * @vq: a ready queue
 * @elemp: set to a new element on success; the caller owns it and frees it
 *	with free() after vlb_vq_push()
 *
 * Every descriptor is checked before anything points at its buffer: index
 * below the ring size, address and length inside the memory table without
 * overflow, chain no longer than the ring (which also catches loops),
 * device-writable buffers after device-readable ones, indirect tables only
 * when negotiated, not nested, not chained, a whole number of descriptors
 * inside memory. A violation is a protocol error: the device is marked
 * broken and nothing is returned.
 * Returns: 0; -EAGAIN when the ring is empty or the queue not ready; -EIO
 * when the chain was malformed (device now broken); -ENOMEM.
 */
int vlb_vq_pop(struct vlb_vq *vq, struct vlb_vq_elem **elemp);

/**
 * vlb_vq_push() - return a chain to the driver (not yet visible)
 * @vq: queue the element came from
 * @elem: element from vlb_vq_pop() on @vq; still owned by the caller
 * @len: bytes the device wrote into @elem's in_sg
 *
 * Writes the used ring entry; vlb_vq_flush() publishes it. An element popped
 * before the ring was stopped (GET_VRING_BASE, reset) is dropped.
 */
void vlb_vq_push(struct vlb_vq *vq, const struct vlb_vq_elem *elem,
		 uint32_t len);

/**
 * vlb_vq_flush() - publish pushed entries (used->idx) to the driver
 * @vq: queue
 */
void vlb_vq_flush(struct vlb_vq *vq);

/**
 * vlb_vq_notify() - signal the call eventfd if the driver wants it
 * @vq: queue
 *
 * Honours VRING_AVAIL_F_NO_INTERRUPT, or with VIRTIO_RING_F_EVENT_IDX the
 * used_event index (virtio spec 2.7.10).
 * Returns: 0 (also when no signal was needed), or -errno from the eventfd.
 */
int vlb_vq_notify(struct vlb_vq *vq);

/**
 * vlb_vq_set_notification() - ask the driver for kicks, or not
 * @vq: a ready queue
 * @enable: false while the device is busy draining the ring
 *
 * Sets used->flags VRING_USED_F_NO_NOTIFY, or with EVENT_IDX writes
 * avail_event. After enabling, check vlb_vq_empty() again: the driver may
 * have added buffers without kicking in between.
 */
void vlb_vq_set_notification(struct vlb_vq *vq, bool enable);

/**
 * vlb_vq_kick_later() - have queue_kick called again soon
 * @vq: queue
 *
 * For a queue_kick handler that stops after a budget so that one busy
 * queue cannot starve the socket, other queues or SIGTERM: the event loop
 * calls queue_kick for @vq again after serving what else is ready, without
 * waiting for a new kick.
 */
void vlb_vq_kick_later(struct vlb_vq *vq);

/**
 * vlb_vq_empty() - whether the available ring has nothing new
 * @vq: queue
 * Returns: true when empty or not ready
 */
bool vlb_vq_empty(struct vlb_vq *vq);

/* Returned by a vlb_vq_handle_cb that keeps the element. */
#define VLB_VQ_KEPT		(-1)

/**
 * typedef vlb_vq_handle_cb - handle one element for vlb_vq_serve()
 * @dev: device
 * @qidx: queue the element was popped from
 * @elem: the element, owned by the callback for the duration of the call
 * @opaque: as given to vlb_vq_serve()
 *
 * Returns: the used length (0..UINT32_MAX: bytes written into @elem's
 * in_sg): vlb_vq_serve() then pushes and frees @elem. Or VLB_VQ_KEPT: the
 * callback keeps @elem and pushes and frees it itself, later or already
 * (it may also push elements it kept before).
 */
typedef int64_t (*vlb_vq_handle_cb)(struct vlb_dev *dev, unsigned int qidx,
				    struct vlb_vq_elem *elem, void *opaque);

/**
 * vlb_vq_serve() - the budgeted loop of a queue_kick handler
 * @dev: device
 * @qidx: queue index, below vlb_dev_nr_vqs() (asserted)
 * @budget: most elements to take in this call, at least 1
 * @handle: called for each popped element, in ring order
 * @opaque: passed to @handle
 *
 * Drains the available ring with kicks off (vlb_vq_set_notification()).
 * When @budget elements were taken the queue asks for another call with
 * vlb_vq_kick_later() and kicks stay off; otherwise kicks are turned on
 * and the ring looked at once more, since the driver may have added a
 * buffer without kicking in between. Then flushes what was pushed and,
 * when that published anything, signals the call eventfd
 * (vlb_vq_notify()). A failed pop ends the loop: -ENOMEM and a failed
 * notify are logged here, a malformed chain has made the device broken.
 * Returns: the number of elements handed to @handle (0 when the ring was
 * empty or the queue not ready).
 */
unsigned int vlb_vq_serve(struct vlb_dev *dev, unsigned int qidx,
			  unsigned int budget, vlb_vq_handle_cb handle,
			  void *opaque);

/* Buffers of popped elements ---------------------------------------------- */

/**
 * vlb_iov_size() - total length of iovecs
 * @iov: the iovecs (elem->out_sg or elem->in_sg)
 * @n: their number
 * Returns: the sum of the lengths
 */
size_t vlb_iov_size(const struct iovec *iov, unsigned int n);

/**
 * vlb_iov_to_buf() - copy out of iovecs
 * @iov: the iovecs
 * @n: their number
 * @off: offset in the iovecs' bytes where copying starts
 * @buf: destination
 * @len: most bytes to copy
 * Returns: bytes copied (less than @len when the iovecs end first)
 */
size_t vlb_iov_to_buf(const struct iovec *iov, unsigned int n, size_t off,
		      void *buf, size_t len);

/**
 * vlb_iov_from_buf() - copy into iovecs
 * @iov: the iovecs
 * @n: their number
 * @off: offset in the iovecs' bytes where copying starts
 * @buf: source, or NULL to write zeros
 * @len: most bytes to copy
 * Returns: bytes copied (less than @len when the iovecs end first)
 */
size_t vlb_iov_from_buf(const struct iovec *iov, unsigned int n, size_t off,
			const void *buf, size_t len);

/* Back-end program -------------------------------------------------------- */

/**
 * vlb_listen_unix() - listen on a unix socket path
 * @path: socket path; an existing socket there is removed first, anything
 *	else there is an error (-EEXIST)
 * @fdp: set to the listening socket (close-on-exec)
 *
 * Returns: 0, -ENAMETOOLONG, -EEXIST, or another -errno from the calls.
 */
int vlb_listen_unix(const char *path, int *fdp);

/**
 * vlb_accept() - wait for one front-end connection
 * @lfd: listening socket
 * @stop_fd: fd that aborts the wait when readable, or -1
 * @connp: set to the connected socket (close-on-exec), owned by the caller
 *
 * Returns: 0, -ECANCELED when @stop_fd became readable, or another -errno.
 */
int vlb_accept(int lfd, int stop_fd, int *connp);

/**
 * vlb_serve() - serve front-ends until @stop_fd or an error
 * @dev: the device, not attached
 * @lfd: listening socket: a front-end that leaves (or breaks the protocol)
 *       is dropped and the next one accepted; or -1 to serve @conn only
 * @conn: with @lfd -1, the one connection (the --fd convention)
 * @stop_fd: fd that ends serving when readable (a signalfd), or -1
 * @obj: name used in log lines (the socket path)
 *
 * Logs each connection, departure and failure in one line.
 * Returns: 0 when stopped or the front-end left, -EPROTO when the only
 * connection broke the protocol, another -errno on failure.
 */
int vlb_serve(struct vlb_dev *dev, int lfd, int conn, int stop_fd,
	      const char *obj);

/* Most options a device program may add to vlb_backend_main()'s own. */
#define VLB_MAX_BACKEND_OPTIONS	16

/**
 * struct vlb_backend_option - a device program's own command-line option
 * @name: long option name without the dashes ("evdev")
 * @arg: name of its argument in --help ("PATH"), or NULL for a flag
 * @help: one line for --help
 */
struct vlb_backend_option {
	const char *name;
	const char *arg;
	const char *help;
};

/**
 * struct vlb_backend - a back-end program for vlb_backend_main()
 * @name: program name for messages and --version ("vhost-user-rng")
 * @type: vhost-user.json back-end type for --print-capabilities ("rng")
 * @version: version string for --version
 * @iface: device callbacks
 * @nr_vqs: number of queues
 * @priv: passed to vlb_dev_new()
 * @options: the program's own options, ended by an entry with a NULL
 *	@name; or NULL
 * @parse_option: called for each of @options given, in command-line order,
 *	with @priv, the option's name and its argument (NULL for a flag);
 *	logs one line and returns a negative errno when the value is bad
 *	(the program then exits 2)
 * @setup: called once after the options and before listening, with the
 *	device (vlb_dev_priv() is @priv): check the options as a whole, open
 *	files, add watches; logs one line and returns a negative errno on
 *	failure (the program then exits 1); or NULL
 * @queues: if set, the number of queues, decided by the options (called
 *	after the last @parse_option); overrides @nr_vqs
 * @teardown: called before the device is freed when @setup succeeded;
 *	or NULL
 */
struct vlb_backend {
	const char *name;
	const char *type;
	const char *version;
	const struct vlb_dev_iface *iface;
	unsigned int nr_vqs;
	void *priv;
	const struct vlb_backend_option *options;
	int (*parse_option)(void *priv, const char *name, const char *arg);
	unsigned int (*queues)(void *priv);
	int (*setup)(struct vlb_dev *dev);
	void (*teardown)(struct vlb_dev *dev);
};

/**
 * vlb_backend_main() - the whole main() of a simple back-end program
 * @be: the program
 * @argc: from main()
 * @argv: from main()
 *
 * Implements the vhost-user back-end program conventions: --socket-path
 * PATH (listen, one front-end at a time, wait for the next one when it
 * leaves), --fd FD (serve an inherited socket once), --print-capabilities,
 * --help, --version, --verbose. SIGINT and SIGTERM end it cleanly: the
 * socket path is removed and the status is 0. Every error is one line on
 * stderr naming the program, the object and the cause.
 * Returns: the exit status for main(): 0, 1 on errors, 2 on usage errors.
 */
int vlb_backend_main(const struct vlb_backend *be, int argc, char **argv);

#endif /* VLB_H */
