// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-blk: a virtio block device (virtio spec 5.2, device id 2)
 * served over vhost-user from an image file or a block device:
 *
 *	vhost-user-blk --socket-path /run/blk.sock --file disk.img \
 *		[--read-only] [--queues N] [--serial ID]
 *	virtio-loopback-adapter --socket /run/blk.sock --device blk
 *
 * Requests are validated here (header, sector range, data length, status
 * byte) and the data moves with io_uring (liburing): readv/writev straight
 * into the request's iovecs, which are the front-end's mapped buffers, so
 * many requests are in flight at once while this one thread keeps serving
 * the rings. The ring's completions wake the event loop through an eventfd
 * registered with the ring and watched with vlb_dev_add_watch().
 *
 * Resize: SIGHUP makes the back-end read the size of --file again; when the
 * capacity changed it says so in one line and sends
 * VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, after which the driver reads the
 * new capacity (the disk stays; Linux calls set_capacity and logs it).
 *
 * Requests in flight when a queue stops (GET_VRING_BASE, reset,
 * disconnect) are waited for before the library goes on, so no I/O writes
 * into memory the library is about to unmap; their used entries are
 * dropped with the stopped ring, as vhost-user without inflight tracking
 * does.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vlb.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

#define BLK_SECTOR_SHIFT	9
#define BLK_SECTOR_SIZE		(1U << BLK_SECTOR_SHIFT)
#define BLK_MAX_QUEUES		16U
/* io_uring submission entries: also the most requests in flight at once. */
#define BLK_RING_ENTRIES	256U
/* Requests taken per queue_kick before yielding to the event loop. */
#define BLK_BUDGET		64U
/*
 * Segments per request we announce (SEG_MAX): a request's iovecs go to
 * readv/writev whole, and a segment crossing two regions of the memory
 * table gives two iovecs, so this stays far below IOV_MAX.
 */
#define BLK_SEG_MAX		126U
/* One discard / write-zeroes range per request, at most 1 GiB. */
#define BLK_MAX_ZERO_SECTORS	(1U << 21)
#define BLK_LOGGED_ERRORS	10U
/* blk_prepare(): the request went to io_uring; no status yet. */
#define BLK_S_PENDING		(-1)

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_FALLOCATE,
};

/**
 * struct blk_req - one request between vlb_vq_pop() and vlb_vq_push()
 * @vq: its queue
 * @elem: the popped chain (owned)
 * @status: the status byte: the last byte of the device-writable buffers
 * @type: VIRTIO_BLK_T_* from the header
 * @op: what goes to io_uring
 * @offset: byte offset in the file
 * @len: bytes to read, write or fallocate
 * @mode: fallocate mode
 * @in_len: bytes written into the driver's buffers before the status byte
 * @niov: entries of @iov
 * @iov: the data buffers: the chain's iovecs without header and status
 */
struct blk_req {
	struct vlb_vq *vq;
	struct vlb_vq_elem *elem;
	uint8_t *status;
	uint32_t type;
	enum blk_op op;
	uint64_t offset;
	uint64_t len;
	int mode;
	uint32_t in_len;
	unsigned int niov;
	struct iovec iov[];
};

/**
 * struct blk - the device program
 * @path: --file
 * @serial_opt: --serial, or NULL for one made from the file's inode
 * @ro: --read-only
 * @nq: --queues
 * @fd: the open file or block device
 * @bdev: @fd is a block device
 * @capacity: size in 512-byte sectors, as the driver was last told
 * @blk_size: logical block size (a block device's; 512 for a file)
 * @serial: GET_ID answer, NUL-padded (not NUL-terminated at 20 bytes)
 * @ring: the io_uring
 * @ring_up: @ring was set up
 * @cq_fd: eventfd the ring signals on completions (watched)
 * @hup_fd: signalfd for SIGHUP (watched), or -1
 * @inflight: requests submitted to @ring and not completed
 * @inflight_q: the same per queue
 * @throttled: the queue stopped taking requests because @ring was full
 * @to_flush: the queue has pushed entries to publish and notify
 * @errors: I/O errors logged so far (the first BLK_LOGGED_ERRORS are)
 */
struct blk {
	const char *path;
	const char *serial_opt;
	bool ro;
	unsigned int nq;
	int fd;
	bool bdev;
	uint64_t capacity;
	uint32_t blk_size;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	struct io_uring ring;
	bool ring_up;
	int cq_fd;
	int hup_fd;
	unsigned int inflight;
	unsigned int inflight_q[BLK_MAX_QUEUES];
	bool throttled[BLK_MAX_QUEUES];
	bool to_flush[BLK_MAX_QUEUES];
	unsigned int errors;
};

static struct blk blk_dev = { .nq = 1, .fd = -1, .cq_fd = -1, .hup_fd = -1 };

/* Features and config space ------------------------------------------------ */

static uint64_t blk_get_features(struct vlb_dev *dev)
{
	struct blk *b = vlb_dev_priv(dev);
	uint64_t f = (1ULL << VLB_F_VERSION_1) |
		     (1ULL << VLB_F_EVENT_IDX) |
		     (1ULL << VLB_F_INDIRECT_DESC) |
		     (1ULL << VHOST_USER_F_PROTOCOL_FEATURES) |
		     (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		     (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_FLUSH) |
		     (1ULL << VIRTIO_BLK_F_MQ);

	if (b->ro)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= (1ULL << VIRTIO_BLK_F_DISCARD) |
		     (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static void blk_config(const struct blk *b, struct virtio_blk_config *c)
{
	memset(c, 0, sizeof(*c));
	c->capacity = htole64(b->capacity);
	c->seg_max = htole32(BLK_SEG_MAX);
	c->blk_size = htole32(b->blk_size);
	c->num_queues = htole16(b->nq);
	c->max_discard_sectors = htole32(BLK_MAX_ZERO_SECTORS);
	c->max_discard_seg = htole32(1);
	c->discard_sector_alignment = htole32(b->blk_size >> BLK_SECTOR_SHIFT);
	c->max_write_zeroes_sectors = htole32(BLK_MAX_ZERO_SECTORS);
	c->max_write_zeroes_seg = htole32(1);
	c->write_zeroes_may_unmap = 1;
}

static int blk_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			  uint32_t len)
{
	struct blk *b = vlb_dev_priv(dev);
	struct virtio_blk_config c;

	if (offset > sizeof(c) || len > sizeof(c) - offset)
		return -EINVAL;
	blk_config(b, &c);
	memcpy(buf, (uint8_t *)&c + offset, len);
	return 0;
}

/* Requests ------------------------------------------------------------------ */

/*
 * Copy into @dst the iovecs of @len bytes starting @off bytes into @src.
 * Returns the number of entries, or 0 when more than @max are needed.
 */
static unsigned int blk_iov_slice(const struct iovec *src, unsigned int n,
				  size_t off, size_t len, struct iovec *dst,
				  unsigned int max)
{
	unsigned int i, k = 0;

	for (i = 0; i < n && len; i++) {
		size_t l = src[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		if (k == max)
			return 0;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[k].iov_len = l;
		k++;
		len -= l;
		off = 0;
	}
	return k;
}

/* The last byte of the device-writable buffers, or NULL if there is none. */
static uint8_t *blk_status_byte(const struct vlb_vq_elem *e)
{
	unsigned int i;

	for (i = e->in_num; i-- > 0;)
		if (e->in_sg[i].iov_len)
			return (uint8_t *)e->in_sg[i].iov_base + e->in_sg[i].iov_len - 1;
	return NULL;
}

/* A sector range lies inside the disk (without overflowing). */
static bool blk_range_ok(const struct blk *b, uint64_t sector, uint64_t nsec)
{
	return sector <= b->capacity && nsec <= b->capacity - sector;
}

/* IN or OUT: @len bytes of @sg from @off are the data. */
static int blk_prepare_rw(struct blk *b, struct blk_req *r, const struct iovec *sg,
			  unsigned int n, size_t off, size_t len, uint64_t sector)
{
	unsigned int max = r->elem->out_num + r->elem->in_num;

	if (len % BLK_SECTOR_SIZE) {
		vlb_dbg(VLB_DBG_DEV, b->path, "type %u: %zu bytes, not whole sectors",
			r->type, len);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!blk_range_ok(b, sector, len >> BLK_SECTOR_SHIFT)) {
		vlb_dbg(VLB_DBG_DEV, b->path, "type %u: sectors %llu+%zu beyond %llu",
			r->type, (unsigned long long)sector, len >> BLK_SECTOR_SHIFT,
			(unsigned long long)b->capacity);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!len)
		return VIRTIO_BLK_S_OK;
	r->niov = blk_iov_slice(sg, n, off, len, r->iov, max < IOV_MAX ? max : IOV_MAX);
	if (!r->niov) {
		vlb_dbg(VLB_DBG_DEV, b->path, "type %u: more than %u buffers",
			r->type, IOV_MAX);
		return VIRTIO_BLK_S_IOERR;
	}
	r->offset = sector << BLK_SECTOR_SHIFT;
	r->len = len;
	return BLK_S_PENDING;
}

/*
 * DISCARD and WRITE_ZEROES (spec 5.2.6.2): one range after the header.
 * A file gets PUNCH_HOLE (reads as zeroes, also on tmpfs, which has no
 * ZERO_RANGE); a block device ZERO_RANGE for write-zeroes (the kernel
 * falls back to writing zeroes) and PUNCH_HOLE for discard.
 */
static int blk_prepare_zero(struct blk *b, struct blk_req *r, size_t out)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t sector;
	uint32_t nsec, flags;

	if (out != sizeof(struct virtio_blk_outhdr) + sizeof(seg)) {
		vlb_dbg(VLB_DBG_DEV, b->path, "type %u: %zu bytes of ranges, not one",
			r->type, out - sizeof(struct virtio_blk_outhdr));
		return VIRTIO_BLK_S_IOERR;
	}
	vlb_iov_to_buf(r->elem->out_sg, r->elem->out_num,
		       sizeof(struct virtio_blk_outhdr), &seg, sizeof(seg));
	sector = le64toh(seg.sector);
	nsec = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	/* Unknown flags, or UNMAP on a discard: UNSUPP (5.2.6.2). */
	if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
	    (flags && r->type == VIRTIO_BLK_T_DISCARD))
		return VIRTIO_BLK_S_UNSUPP;
	if (b->ro || nsec > BLK_MAX_ZERO_SECTORS || !blk_range_ok(b, sector, nsec))
		return VIRTIO_BLK_S_IOERR;
	if (!nsec)
		return VIRTIO_BLK_S_OK;
	r->op = BLK_OP_FALLOCATE;
	r->offset = sector << BLK_SECTOR_SHIFT;
	r->len = (uint64_t)nsec << BLK_SECTOR_SHIFT;
	r->mode = FALLOC_FL_KEEP_SIZE |
		  (b->bdev && r->type == VIRTIO_BLK_T_WRITE_ZEROES ?
		   FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE);
	return BLK_S_PENDING;
}

/*
 * Decide what @r asks for. Returns VIRTIO_BLK_S_* when it is answered at
 * once, BLK_S_PENDING when @r describes I/O for io_uring. The chain has a
 * status byte (the caller checked).
 */
static int blk_prepare(struct blk *b, struct blk_req *r)
{
	const struct vlb_vq_elem *e = r->elem;
	size_t out = vlb_iov_size(e->out_sg, e->out_num);
	size_t in = vlb_iov_size(e->in_sg, e->in_num) - 1;
	struct virtio_blk_outhdr h;
	uint64_t sector;
	size_t n;

	if (out < sizeof(h)) {
		vlb_dbg(VLB_DBG_DEV, b->path, "request %u: header of %zu bytes",
			e->index, out);
		return VIRTIO_BLK_S_IOERR;
	}
	vlb_iov_to_buf(e->out_sg, e->out_num, 0, &h, sizeof(h));
	r->type = le32toh(h.type);
	sector = le64toh(h.sector);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		r->op = BLK_OP_READ;
		return blk_prepare_rw(b, r, e->in_sg, e->in_num, 0, in, sector);
	case VIRTIO_BLK_T_OUT:
		if (b->ro)
			return VIRTIO_BLK_S_IOERR;
		r->op = BLK_OP_WRITE;
		return blk_prepare_rw(b, r, e->out_sg, e->out_num, sizeof(h),
				      out - sizeof(h), sector);
	case VIRTIO_BLK_T_FLUSH:
		r->op = BLK_OP_FLUSH;
		return BLK_S_PENDING;
	case VIRTIO_BLK_T_GET_ID:
		/* Up to 20 bytes, NUL-padded; a shorter buffer gets a prefix. */
		n = in < VIRTIO_BLK_ID_BYTES ? in : VIRTIO_BLK_ID_BYTES;
		vlb_iov_from_buf(e->in_sg, e->in_num, 0, b->serial, n);
		r->in_len = n;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_prepare_zero(b, r, out);
	default:
		vlb_dbg(VLB_DBG_DEV, b->path, "request %u: type %u unsupported",
			e->index, r->type);
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Answer @r with @status and return it to the driver (not yet published). */
static void blk_complete(struct blk *b, struct blk_req *r, uint8_t status)
{
	unsigned int qidx = vlb_vq_index(r->vq);

	*r->status = status;
	vlb_vq_push(r->vq, r->elem, (status == VIRTIO_BLK_S_OK ? r->in_len : 0) + 1);
	b->to_flush[qidx] = true;
	free(r->elem);
	free(r);
}

static void blk_submit(struct blk *b, struct blk_req *r)
{
	/* Never NULL: at most BLK_RING_ENTRIES requests are in flight. */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	switch (r->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, b->fd, r->iov, r->niov, r->offset);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, b->fd, r->iov, r->niov, r->offset);
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_OP_FALLOCATE:
		io_uring_prep_fallocate(sqe, b->fd, r->mode, r->offset, r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	b->inflight++;
	b->inflight_q[vlb_vq_index(r->vq)]++;
}

/* Take one popped chain: answer it now or hand it to io_uring. */
static void blk_handle(struct blk *b, struct vlb_vq *vq, struct vlb_vq_elem *elem)
{
	uint8_t *status = blk_status_byte(elem);
	struct blk_req *r;
	int st;

	if (!status) {
		/* Nowhere to answer: return the chain unused (5.2.6: the driver erred). */
		vlb_dbg(VLB_DBG_DEV, b->path, "request %u: no status byte", elem->index);
		vlb_vq_push(vq, elem, 0);
		b->to_flush[vlb_vq_index(vq)] = true;
		free(elem);
		return;
	}
	r = calloc(1, sizeof(*r) + (size_t)(elem->out_num + elem->in_num) * sizeof(r->iov[0]));
	if (!r) {
		vlb_err(b->path, "request %u: out of memory", elem->index);
		*status = VIRTIO_BLK_S_IOERR;
		vlb_vq_push(vq, elem, 1);
		b->to_flush[vlb_vq_index(vq)] = true;
		free(elem);
		return;
	}
	r->vq = vq;
	r->elem = elem;
	r->status = status;
	st = blk_prepare(b, r);
	if (st == BLK_S_PENDING)
		blk_submit(b, r);
	else
		blk_complete(b, r, st);
}

/* A completion from io_uring: @res is the syscall's result. */
static void blk_finish(struct blk *b, struct blk_req *r, int res)
{
	unsigned int qidx = vlb_vq_index(r->vq);
	uint8_t status = VIRTIO_BLK_S_OK;

	b->inflight--;
	b->inflight_q[qidx]--;
	if (r->op == BLK_OP_READ || r->op == BLK_OP_WRITE) {
		/* Short: the file shrank under the request, or ENOSPC. */
		if (res < 0 || (uint64_t)res != r->len)
			status = VIRTIO_BLK_S_IOERR;
		else if (r->op == BLK_OP_READ)
			r->in_len = res;
	} else if (res < 0 && !(r->type == VIRTIO_BLK_T_DISCARD && res == -EOPNOTSUPP)) {
		/* A discard the file cannot do is still a correct discard. */
		status = VIRTIO_BLK_S_IOERR;
	}
	if (status != VIRTIO_BLK_S_OK && b->errors < BLK_LOGGED_ERRORS) {
		b->errors++;
		vlb_err(b->path, "vq %u: type %u at byte %llu, %llu bytes: %s%s", qidx,
			r->type, (unsigned long long)r->offset, (unsigned long long)r->len,
			res < 0 ? strerror(-res) : "short transfer",
			b->errors == BLK_LOGGED_ERRORS ? " (further errors not logged)" : "");
	}
	blk_complete(b, r, status);
}

/* Publish pushed entries and signal the driver, queue by queue. */
static void blk_flush_queues(struct vlb_dev *dev)
{
	struct blk *b = vlb_dev_priv(dev);
	unsigned int i;
	int ret;

	for (i = 0; i < b->nq; i++) {
		struct vlb_vq *vq;

		if (!b->to_flush[i])
			continue;
		b->to_flush[i] = false;
		vq = vlb_dev_vq(dev, i);
		if (!vlb_vq_ready(vq))
			continue;
		vlb_vq_flush(vq);
		ret = vlb_vq_notify(vq);
		if (ret)
			vlb_err(b->path, "vq %u: call eventfd: %s", i, strerror(-ret));
	}
}

static void blk_ring_submit(struct blk *b)
{
	int ret = io_uring_submit(&b->ring);

	/* Entries not taken stay queued and go with the next submit. */
	if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
		vlb_err(b->path, "io_uring_submit: %s", strerror(-ret));
}

/* Complete what io_uring finished; returns how many. */
static unsigned int blk_reap(struct vlb_dev *dev)
{
	struct blk *b = vlb_dev_priv(dev);
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0, i;

	io_uring_for_each_cqe(&b->ring, head, cqe) {
		blk_finish(b, io_uring_cqe_get_data(cqe), cqe->res);
		n++;
	}
	io_uring_cq_advance(&b->ring, n);
	/* A queue that stopped for lack of room may go on. */
	for (i = 0; n && i < b->nq; i++) {
		if (b->throttled[i] && b->inflight < BLK_RING_ENTRIES) {
			b->throttled[i] = false;
			vlb_vq_kick_later(vlb_dev_vq(dev, i));
		}
	}
	blk_flush_queues(dev);
	return n;
}

/* Wait until no request of queue @qidx (all queues: -1) is in flight. */
static void blk_drain(struct vlb_dev *dev, int qidx)
{
	struct blk *b = vlb_dev_priv(dev);

	while (qidx < 0 ? b->inflight : b->inflight_q[qidx]) {
		int ret = io_uring_submit_and_wait(&b->ring, 1);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			/* Cannot happen with a working ring; do not spin. */
			vlb_err(b->path, "waiting for %u requests: %s", b->inflight,
				strerror(-ret));
			return;
		}
		blk_reap(dev);
	}
}

/* The ring's eventfd: completions are ready. */
static void blk_cq_ready(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	uint64_t v;

	(void)revents;
	(void)opaque;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vlb_err(vlb_dev_name(dev), "io_uring eventfd: %s", strerror(errno));
	blk_reap(dev);
}

/*
 * Take requests with notifications off, then turn them on and look once
 * more: a request added in between would otherwise wait for the next kick.
 * A full io_uring leaves the queue to the completions (blk_reap).
 */
static void blk_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct blk *b = vlb_dev_priv(dev);
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);
	struct vlb_vq_elem *elem;
	unsigned int served = 0;
	int ret = 0;

	for (;;) {
		vlb_vq_set_notification(vq, false);
		while (served < BLK_BUDGET) {
			if (b->inflight >= BLK_RING_ENTRIES) {
				b->throttled[qidx] = true;
				goto out;
			}
			ret = vlb_vq_pop(vq, &elem);
			if (ret)
				break;
			blk_handle(b, vq, elem);
			served++;
		}
		if (served == BLK_BUDGET) {
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
		vlb_err(b->path, "vq %u: %s", qidx, strerror(-ret));
out:
	if (io_uring_sq_ready(&b->ring))
		blk_ring_submit(b);
	blk_flush_queues(dev);
}

/*
 * A stopped queue's buffers may be unmapped next (SET_MEM_TABLE, detach):
 * its I/O must be over first.
 */
static void blk_queue_set_started(struct vlb_dev *dev, unsigned int qidx, bool started)
{
	struct blk *b = vlb_dev_priv(dev);

	if (!started) {
		blk_drain(dev, qidx);
		b->throttled[qidx] = false;
	}
}

static void blk_reset(struct vlb_dev *dev)
{
	blk_drain(dev, -1);
}

static const struct vlb_dev_iface blk_iface = {
	.get_features		= blk_get_features,
	.get_config		= blk_get_config,
	.set_config		= vlb_config_read_only,
	.queue_set_started	= blk_queue_set_started,
	.queue_kick		= blk_queue_kick,
	.reset			= blk_reset,
};

/* Resize ------------------------------------------------------------------- */

/* Bytes in the file or block device. */
static int blk_file_size(int fd, bool bdev, uint64_t *size)
{
	struct stat st;

	if (bdev)
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	*size = st.st_size;
	return 0;
}

/*
 * SIGHUP: read the size again; on a change tell the front-end, which
 * fetches the config and tells the driver (VHOST_USER_BACKEND_CONFIG_CHANGE_MSG).
 */
static void blk_resize(struct vlb_dev *dev)
{
	struct blk *b = vlb_dev_priv(dev);
	uint64_t size, cap;
	int ret;

	ret = blk_file_size(b->fd, b->bdev, &size);
	if (ret) {
		vlb_err(b->path, "SIGHUP: size: %s", strerror(-ret));
		return;
	}
	cap = size >> BLK_SECTOR_SHIFT;
	if (cap == b->capacity) {
		vlb_log(b->path, "SIGHUP: capacity unchanged, %llu sectors",
			(unsigned long long)cap);
		return;
	}
	vlb_log(b->path, "capacity %llu -> %llu sectors", (unsigned long long)b->capacity,
		(unsigned long long)cap);
	b->capacity = cap;
	if (vlb_dev_socket(dev) < 0)
		return;
	ret = vlb_dev_config_changed(dev);
	if (ret == -ENOTCONN)
		vlb_log(b->path, "the front-end takes no config change messages: the driver sees the capacity when it reads the config again");
	else if (ret)
		vlb_err(b->path, "config change message: %s", strerror(-ret));
}

static void blk_hup(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct signalfd_siginfo si;
	bool got = false;

	(void)revents;
	(void)opaque;
	/* Several SIGHUPs before we got here are one resize. */
	while (read(fd, &si, sizeof(si)) == sizeof(si))
		got = true;
	if (got)
		blk_resize(dev);
}

/* Program ------------------------------------------------------------------ */

static const struct vlb_backend_option blk_options[] = {
	{ "file", "PATH", "image file or block device (required); SIGHUP re-reads its size" },
	{ "read-only", NULL, "refuse writes (VIRTIO_BLK_F_RO)" },
	{ "queues", "N", "request queues, 1..16 (default 1)" },
	{ "serial", "ID", "GET_ID answer, up to 20 bytes (default from the inode)" },
	{ NULL, NULL, NULL },
};

static int blk_parse_option(void *priv, const char *name, const char *arg)
{
	struct blk *b = priv;
	unsigned long n;
	char *end;

	if (!strcmp(name, "file")) {
		b->path = arg;
	} else if (!strcmp(name, "read-only")) {
		b->ro = true;
	} else if (!strcmp(name, "serial")) {
		if (!*arg || strlen(arg) > VIRTIO_BLK_ID_BYTES) {
			vlb_err(arg, "--serial: 1 to %u bytes", VIRTIO_BLK_ID_BYTES);
			return -EINVAL;
		}
		b->serial_opt = arg;
	} else {
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || n < 1 || n > BLK_MAX_QUEUES) {
			vlb_err(arg, "--queues: not a number in 1..%u", BLK_MAX_QUEUES);
			return -EINVAL;
		}
		b->nq = n;
	}
	return 0;
}

static unsigned int blk_queues(void *priv)
{
	struct blk *b = priv;

	return b->nq;
}

static int blk_open(struct blk *b)
{
	struct stat st;
	uint64_t size;
	int ssz, ret;

	b->fd = open(b->path, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		return -errno;
	if (fstat(b->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	b->bdev = S_ISBLK(st.st_mode);
	b->blk_size = BLK_SECTOR_SIZE;
	if (b->bdev) {
		if (ioctl(b->fd, BLKSSZGET, &ssz) < 0)
			return -errno;
		b->blk_size = ssz;
	}
	ret = blk_file_size(b->fd, b->bdev, &size);
	if (ret)
		return ret;
	if (size < BLK_SECTOR_SIZE)
		return -EINVAL;
	b->capacity = size >> BLK_SECTOR_SHIFT;
	if (b->serial_opt)
		strncpy(b->serial, b->serial_opt, sizeof(b->serial) - 1);
	else
		snprintf(b->serial, sizeof(b->serial), "vub-%llx",
			 (unsigned long long)st.st_ino);
	return 0;
}

/* SIGHUP arrives through a signalfd, so the resize runs in the event loop. */
static int blk_setup_hup(struct vlb_dev *dev, struct blk *b)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	b->hup_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b->hup_fd < 0)
		return -errno;
	return vlb_dev_add_watch(dev, b->hup_fd, POLLIN, blk_hup, NULL);
}

static void blk_teardown(struct vlb_dev *dev)
{
	struct blk *b = vlb_dev_priv(dev);

	if (b->ring_up) {
		blk_drain(dev, -1);
		io_uring_queue_exit(&b->ring);
		b->ring_up = false;
	}
	if (b->cq_fd >= 0)
		close(b->cq_fd);
	if (b->hup_fd >= 0)
		close(b->hup_fd);
	if (b->fd >= 0)
		close(b->fd);
	b->cq_fd = b->hup_fd = b->fd = -1;
}

static int blk_setup(struct vlb_dev *dev)
{
	struct blk *b = vlb_dev_priv(dev);
	int ret;

	if (!b->path) {
		vlb_err(vlb_dev_name(dev), "no --file given (see --help)");
		return -EINVAL;
	}
	ret = blk_open(b);
	if (ret) {
		vlb_err(b->path, "--file: %s", ret == -EINVAL ?
			"not a regular file or block device of at least 512 bytes" :
			strerror(-ret));
		goto fail;
	}
	ret = io_uring_queue_init(BLK_RING_ENTRIES, &b->ring, 0);
	if (ret) {
		vlb_err(b->path, "io_uring_queue_init: %s", strerror(-ret));
		goto fail;
	}
	b->ring_up = true;
	b->cq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->cq_fd < 0) {
		ret = -errno;
		vlb_err(b->path, "eventfd: %s", strerror(-ret));
		goto fail;
	}
	ret = io_uring_register_eventfd(&b->ring, b->cq_fd);
	if (ret) {
		vlb_err(b->path, "io_uring_register_eventfd: %s", strerror(-ret));
		goto fail;
	}
	ret = vlb_dev_add_watch(dev, b->cq_fd, POLLIN, blk_cq_ready, NULL);
	if (!ret)
		ret = blk_setup_hup(dev, b);
	if (ret) {
		vlb_err(b->path, "SIGHUP and completion watches: %s", strerror(-ret));
		goto fail;
	}
	vlb_log(b->path, "%llu sectors, logical block %u bytes%s, %u queue%s, serial %s",
		(unsigned long long)b->capacity, b->blk_size, b->ro ? ", read-only" : "",
		b->nq, b->nq == 1 ? "" : "s", b->serial);
	return 0;
fail:
	blk_teardown(dev);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct vlb_backend blk = {
		.name		= "vhost-user-blk",
		.type		= "block",
		.version	= VLB_VERSION,
		.iface		= &blk_iface,
		.nr_vqs		= 1,
		.priv		= &blk_dev,
		.options	= blk_options,
		.parse_option	= blk_parse_option,
		.queues		= blk_queues,
		.setup		= blk_setup,
		.teardown	= blk_teardown,
	};

	return vlb_backend_main(&blk, argc, argv);
}
