// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vl-hostile-blk: a vhost-user-blk back-end (virtio spec 5.2) that attacks
 * its front-end, for the lab's memory-isolation and bad-device tests.
 *
 * Underneath it is a real virtio-blk device on libvlb: a RAM disk (--size,
 * default 64 MiB) serving VIRTIO_BLK_T_IN, OUT, FLUSH and GET_ID, UNSUPP
 * for the rest, with capacity, size_max, seg_max and blk_size in its config
 * space. On top of that, two attacks, alone or together:
 *
 * --scan HEX[,HEX...] --report FILE: "read every byte it can map". Every
 *	--scan-interval ms after the end of the last scan (so a scan slower
 *	than the interval still leaves the back-end time to serve), every
 *	--scan-every requests (while those requests are still in flight)
 *	and on SIGUSR1, read every page of every region
 *	of the memory table and count the occurrences of each pattern. Pages
 *	are read by write()ing them into a pipe, so a page whose fault the
 *	front-end refuses costs an EFAULT (counted in pages_refused), never a
 *	SIGBUS. Occurrences are counted inside chunks of up to 256 KiB of
 *	contiguous readable memory; one that straddles two chunks or a
 *	refused page is missed, so tests fill their buffers with a pattern
 *	whose length divides 4096, repeated from a page boundary. After each
 *	scan FILE is replaced (temporary file and rename) by lines of totals
 *	over all scans:
 *		scans N
 *		pages_read N
 *		pages_refused N
 *		bytes_read N
 *		requests N
 *		garbage N
 *		match HEX COUNT		(one line per pattern)
 *
 * --garbage KIND [--garbage-after K]: answer the first K requests (default
 *	8) correctly, then, once per kick, complete the first request of the
 *	kick wrongly:
 *		used-id		used entry with id = ring size + head
 *		used-len	used length 0xfffff000, far past any buffer
 *		desc-loop	the request's descriptor chain rewritten into a
 *				loop (NEXT set on its last descriptor, which
 *				points back at the first; for an indirect chain
 *				both the table and its ring descriptor), then
 *				completed normally
 *		used-idx	completed normally, then used->idx advanced by
 *				four rings' worth plus one
 *	The device itself survives whatever the front-end does next: a ring
 *	or buffer access that faults (memory revoked by the front-end) ends
 *	that kick with a message, not the program.
 *
 *	vl-hostile-blk --socket-path /tmp/hb.sock --scan 5a5a...,a5a5... \
 *		--report /tmp/hb.report &
 *	virtio-loopback-adapter --socket /tmp/hb.sock --device blk
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "vlb.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

#define HBLK_PROG		"vl-hostile-blk"
#define HBLK_SECTOR		512ULL
#define HBLK_DEFAULT_SIZE	(64ULL << 20)
#define HBLK_MAX_SIZE		(16ULL << 30)
/* Requests served per kick before yielding to the event loop. */
#define HBLK_BUDGET		128
/* What the driver may put in one request (the transport may lower it). */
#define HBLK_SEG_MAX		126
#define HBLK_SIZE_MAX		(64U << 10)
#define HBLK_ID			"vl-hostile-blk"
/* Scanner: patterns, and the most bytes read through the pipe at once. */
#define HBLK_MAX_PATTERNS	8
#define HBLK_MIN_PATTERN	16
#define HBLK_MAX_PATTERN	256
#define HBLK_CHUNK		(256U << 10)
#define HBLK_PAGE		4096U
#define HBLK_DEFAULT_INTERVAL_MS 200
#define HBLK_DEFAULT_SCAN_EVERY	64
/* Garbage: used length of used-len, how far used-idx jumps (in rings). */
#define HBLK_GARBAGE_LEN	0xfffff000U
#define HBLK_GARBAGE_RINGS	4

enum hblk_garbage {
	HBLK_GARBAGE_NONE,
	HBLK_GARBAGE_USED_ID,
	HBLK_GARBAGE_USED_LEN,
	HBLK_GARBAGE_DESC_LOOP,
	HBLK_GARBAGE_USED_IDX,
};

static const char *const hblk_garbage_names[] = {
	[HBLK_GARBAGE_NONE]	 = "none",
	[HBLK_GARBAGE_USED_ID]	 = "used-id",
	[HBLK_GARBAGE_USED_LEN]	 = "used-len",
	[HBLK_GARBAGE_DESC_LOOP] = "desc-loop",
	[HBLK_GARBAGE_USED_IDX]	 = "used-idx",
};

struct hblk_pattern {
	char hex[2 * HBLK_MAX_PATTERN + 1];
	uint8_t bytes[HBLK_MAX_PATTERN];
	size_t len;
	uint64_t matches;
};

struct hblk {
	/* The disk. */
	uint8_t *disk;
	uint64_t size;
	struct virtio_blk_config config;
	uint64_t requests;
	uint64_t bad_requests;

	/* The requests of the kick being served (freed if a fault ends it). */
	struct vlb_vq_elem *elems[HBLK_BUDGET];
	uint32_t lens[HBLK_BUDGET];
	unsigned int nelems;
	bool faulted;

	/* Scanner. */
	struct hblk_pattern patterns[HBLK_MAX_PATTERNS];
	unsigned int npatterns;
	const char *report;
	int pipe[2];
	size_t chunk;
	uint8_t *buf;
	unsigned int interval_ms;
	unsigned int scan_every;
	unsigned int since_scan;
	int timer_fd;
	int usr1_fd;
	uint64_t scans;
	uint64_t pages_read;
	uint64_t pages_refused;
	uint64_t bytes_read;

	/* Garbage. */
	enum hblk_garbage garbage;
	uint64_t garbage_after;
	uint64_t garbage_done;
};

/*
 * A ring or buffer access that faults (the front-end revoked our view of
 * its memory) raises SIGBUS: while a kick is served, the handler jumps
 * back to hblk_queue_kick() instead of letting the signal kill us.
 */
static sigjmp_buf hblk_jmp;
static sig_atomic_t hblk_jmp_armed;	/* __atomic: the handler reads it */

static void hblk_arm(int armed)
{
	__atomic_store_n(&hblk_jmp_armed, armed, __ATOMIC_SEQ_CST);
}

static void hblk_sigbus(int sig)
{
	if (__atomic_load_n(&hblk_jmp_armed, __ATOMIC_SEQ_CST)) {
		hblk_arm(0);
		siglongjmp(hblk_jmp, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Report ------------------------------------------------------------------ */

/* Replace the report file: readers see the old one or the new one, whole. */
static void hblk_write_report(struct hblk *hb)
{
	char tmp[PATH_MAX];
	unsigned int i;
	FILE *f;

	if (!hb->report)
		return;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", hb->report) >= (int)sizeof(tmp)) {
		vlb_err(hb->report, "report path too long");
		return;
	}
	f = fopen(tmp, "w");
	if (!f) {
		vlb_err(tmp, "fopen: %s", strerror(errno));
		return;
	}
	fprintf(f, "scans %llu\npages_read %llu\npages_refused %llu\nbytes_read %llu\n"
		"requests %llu\ngarbage %llu\n",
		(unsigned long long)hb->scans, (unsigned long long)hb->pages_read,
		(unsigned long long)hb->pages_refused, (unsigned long long)hb->bytes_read,
		(unsigned long long)hb->requests, (unsigned long long)hb->garbage_done);
	for (i = 0; i < hb->npatterns; i++)
		fprintf(f, "match %s %llu\n", hb->patterns[i].hex,
			(unsigned long long)hb->patterns[i].matches);
	if (fclose(f)) {
		vlb_err(tmp, "write: %s", strerror(errno));
		unlink(tmp);
		return;
	}
	if (rename(tmp, hb->report) < 0) {
		vlb_err(hb->report, "rename: %s", strerror(errno));
		unlink(tmp);
	}
}

/* Scanner ----------------------------------------------------------------- */

/*
 * Copy up to @len bytes at @src into @dst through the pipe. The kernel's
 * copy from @src stops at the first page it cannot fault in and returns
 * what it copied before it (pipe_write()), so this never takes a SIGBUS.
 * A write that faults leaves an empty buffer in the pipe ring: drain until
 * the pipe is empty, not just the bytes written, or the empty buffers pile
 * up until the pipe is full. @len is at most hb->chunk; the pipe is empty
 * on entry and holds hb->chunk; @dst holds hb->chunk + HBLK_PAGE.
 * Returns the bytes copied, 0 when the first page was refused, or -errno.
 */
static ssize_t hblk_read_safe(struct hblk *hb, const uint8_t *src, size_t len,
			      uint8_t *dst)
{
	ssize_t n, got = 0;

	n = write(hb->pipe[1], src, len);
	if (n < 0) {
		if (errno != EFAULT)
			return -errno;
		n = 0;
	}
	for (;;) {
		ssize_t r = read(hb->pipe[0], dst + got, hb->chunk + HBLK_PAGE - got);

		if (r > 0) {
			got += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN)
			return -errno;
		break;
	}
	return got == n ? n : -EIO;
}

static void hblk_match(struct hblk *hb, const uint8_t *buf, size_t len)
{
	unsigned int i;

	for (i = 0; i < hb->npatterns; i++) {
		struct hblk_pattern *p = &hb->patterns[i];
		const uint8_t *at = buf, *end = buf + len;

		while ((size_t)(end - at) >= p->len &&
		       (at = memmem(at, end - at, p->bytes, p->len))) {
			p->matches++;
			at += p->len;
		}
	}
}

/* Read every page of [@host, @host + @size), page aligned outwards. */
static int hblk_scan_range(struct hblk *hb, const uint8_t *host, uint64_t size)
{
	uintptr_t pos = (uintptr_t)host & ~(uintptr_t)(HBLK_PAGE - 1);
	uintptr_t end = ((uintptr_t)host + size + HBLK_PAGE - 1) &
			~(uintptr_t)(HBLK_PAGE - 1);

	while (pos < end) {
		size_t len = end - pos < hb->chunk ? end - pos : hb->chunk;
		ssize_t n = hblk_read_safe(hb, (const uint8_t *)pos, len, hb->buf);

		if (n < 0)
			return n;
		/* Faults come per page; a short copy goes on from its end. */
		n -= n % HBLK_PAGE;
		if (!n) {
			/* Refused at its first byte: skip the page. */
			hb->pages_refused++;
			pos += HBLK_PAGE;
			continue;
		}
		hblk_match(hb, hb->buf, n);
		hb->pages_read += n / HBLK_PAGE;
		hb->bytes_read += n;
		pos += n;
	}
	return 0;
}

/* The next timed scan comes --scan-interval ms from now. */
static int hblk_timer_arm(struct hblk *hb)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = hb->interval_ms / 1000,
			      .tv_nsec = (hb->interval_ms % 1000) * 1000000L },
	};

	if (hb->timer_fd >= 0 && timerfd_settime(hb->timer_fd, 0, &its, NULL) < 0) {
		vlb_err(NULL, "timerfd_settime: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void hblk_scan(struct vlb_dev *dev, struct hblk *hb, const char *why)
{
	uint64_t read0 = hb->pages_read, refused0 = hb->pages_refused;
	struct vlb_mem_info mi;
	unsigned int i;
	int ret;

	for (i = 0; vlb_dev_mem_region(dev, i, &mi) == 0; i++) {
		ret = hblk_scan_range(hb, mi.host, mi.size);
		if (ret)
			vlb_err(vlb_dev_name(dev), "scan of region %u: %s", i, strerror(-ret));
	}
	hb->scans++;
	hb->since_scan = 0;
	hblk_timer_arm(hb);
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(dev), "scan %llu (%s): %llu pages read, %llu refused",
		(unsigned long long)hb->scans, why,
		(unsigned long long)(hb->pages_read - read0),
		(unsigned long long)(hb->pages_refused - refused0));
	hblk_write_report(hb);
}

static void hblk_timer_cb(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	uint64_t expirations;

	(void)revents;
	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	hblk_scan(dev, opaque, "timer");
}

static void hblk_usr1_cb(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct signalfd_siginfo si;

	(void)revents;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	hblk_scan(dev, opaque, "SIGUSR1");
}

/* Requests ---------------------------------------------------------------- */

/* Whether @len bytes at @sector lie on the disk; sets *@off. */
static bool hblk_in_range(const struct hblk *hb, uint64_t sector, uint64_t len,
			  uint64_t *off)
{
	if (sector > hb->size / HBLK_SECTOR || len % HBLK_SECTOR)
		return false;
	*off = sector * HBLK_SECTOR;
	return len <= hb->size - *off;
}

/*
 * Serve one request (virtio spec 5.2.6): a device-readable header, data,
 * and a device-writable status byte at the very end. Returns the used
 * length: the bytes written into the device-writable part.
 */
static uint32_t hblk_handle(struct vlb_dev *dev, struct hblk *hb,
			    const struct vlb_vq_elem *e)
{
	size_t out_len = vlb_iov_size(e->out_sg, e->out_num);
	size_t in_len = vlb_iov_size(e->in_sg, e->in_num);
	struct virtio_blk_outhdr hdr;
	uint8_t id[VIRTIO_BLK_ID_BYTES] = HBLK_ID;
	uint8_t status = VIRTIO_BLK_S_OK;
	size_t data, written = 0;
	uint64_t sector, off;

	if (!in_len || vlb_iov_to_buf(e->out_sg, e->out_num, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		if (!hb->bad_requests++)
			vlb_err(vlb_dev_name(dev), "vq 0: request %u without header or status byte",
				e->index);
		return 0;
	}
	data = in_len - 1;
	sector = le64toh(hdr.sector);

	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		if (!hblk_in_range(hb, sector, data, &off)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		written = vlb_iov_from_buf(e->in_sg, e->in_num, 0, hb->disk + off, data);
		break;
	case VIRTIO_BLK_T_OUT:
		if (!hblk_in_range(hb, sector, out_len - sizeof(hdr), &off)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		vlb_iov_to_buf(e->out_sg, e->out_num, sizeof(hdr), hb->disk + off,
			      out_len - sizeof(hdr));
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = vlb_iov_from_buf(e->in_sg, e->in_num, 0, id,
				      data < sizeof(id) ? data : sizeof(id));
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	vlb_iov_from_buf(e->in_sg, e->in_num, in_len - 1, &status, 1);
	return written + 1;
}

/* Garbage ----------------------------------------------------------------- */

/* Host address of [@gpa, @gpa + @len) if it lies inside one region. */
static void *hblk_gpa_to_host(struct vlb_dev *dev, uint64_t gpa, uint64_t len)
{
	struct vlb_mem_info mi;
	unsigned int i;

	for (i = 0; vlb_dev_mem_region(dev, i, &mi) == 0; i++)
		if (gpa >= mi.gpa && gpa - mi.gpa < mi.size && len <= mi.size - (gpa - mi.gpa))
			return (uint8_t *)mi.host + (gpa - mi.gpa);
	return NULL;
}

/*
 * Follow the chain at @first in @table (@max entries) and close it into a
 * loop: its last descriptor gets NEXT and points back at @first.
 */
static void hblk_loop_chain(struct vring_desc *table, unsigned int max,
			    unsigned int first)
{
	unsigned int i = first, last = first, n;

	for (n = 0; n < max; n++) {
		last = i;
		if (!(le16toh(table[i].flags) & VRING_DESC_F_NEXT))
			break;
		i = le16toh(table[i].next);
		if (i >= max)
			break;
	}
	table[last].flags |= htole16(VRING_DESC_F_NEXT);
	table[last].next = htole16(first);
}

static void hblk_desc_loop(struct vlb_dev *dev, const struct vlb_vq_rings *r,
			   unsigned int head)
{
	struct vring_desc *desc = r->desc;
	uint16_t flags = le16toh(desc[head].flags);

	if (flags & VRING_DESC_F_INDIRECT) {
		uint32_t len = le32toh(desc[head].len);
		struct vring_desc *t = hblk_gpa_to_host(dev, le64toh(desc[head].addr), len);

		if (t && len >= sizeof(*t))
			hblk_loop_chain(t, len / sizeof(*t), 0);
		desc[head].flags |= htole16(VRING_DESC_F_NEXT);
		desc[head].next = htole16(head);
		return;
	}
	hblk_loop_chain(desc, r->num, head);
}

/* Complete @e (used length @len) the way --garbage says. */
static void hblk_push_garbage(struct vlb_dev *dev, struct hblk *hb, struct vlb_vq *vq,
			      const struct vlb_vq_elem *e, uint32_t len)
{
	const char *kind = hblk_garbage_names[hb->garbage];
	struct vlb_vq_rings r;
	struct vring_used *used;
	uint16_t idx;

	if (vlb_vq_rings(vq, &r)) {
		vlb_vq_push(vq, e, len);
		return;
	}
	used = r.used;
	switch (hb->garbage) {
	case HBLK_GARBAGE_USED_ID:
		/* Publish what came before: the next entry is at used->idx. */
		vlb_vq_flush(vq);
		idx = le16toh(used->idx);
		vlb_vq_push(vq, e, len);
		used->ring[idx & (r.num - 1)].id = htole32(r.num + e->index);
		vlb_log(vlb_dev_name(dev), "vq 0: %s: head %u completed as id %u",
			kind, e->index, r.num + e->index);
		break;
	case HBLK_GARBAGE_USED_LEN:
		vlb_vq_push(vq, e, HBLK_GARBAGE_LEN);
		vlb_log(vlb_dev_name(dev), "vq 0: %s: head %u completed with length 0x%x, not %u",
			kind, e->index, HBLK_GARBAGE_LEN, len);
		break;
	case HBLK_GARBAGE_DESC_LOOP:
		hblk_desc_loop(dev, &r, e->index);
		vlb_vq_push(vq, e, len);
		vlb_log(vlb_dev_name(dev), "vq 0: %s: chain at head %u made a loop",
			kind, e->index);
		break;
	case HBLK_GARBAGE_USED_IDX:
		vlb_vq_push(vq, e, len);
		vlb_vq_flush(vq);
		idx = le16toh(used->idx);
		__atomic_store_n(&used->idx, htole16(idx + HBLK_GARBAGE_RINGS * r.num + 1),
				 __ATOMIC_RELEASE);
		vlb_log(vlb_dev_name(dev), "vq 0: %s: used idx %u -> %u",
			kind, idx, (uint16_t)(idx + HBLK_GARBAGE_RINGS * r.num + 1));
		break;
	case HBLK_GARBAGE_NONE:
		vlb_vq_push(vq, e, len);
		return;
	}
	hb->garbage_done++;
	hblk_write_report(hb);
}

/* Device ------------------------------------------------------------------ */

static uint64_t hblk_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VIRTIO_BLK_F_SIZE_MAX) |
	       (1ULL << VIRTIO_BLK_F_SEG_MAX) |
	       (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
	       (1ULL << VIRTIO_BLK_F_FLUSH) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_VERSION_1);
}

static int hblk_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			   uint32_t len)
{
	struct hblk *hb = vlb_dev_priv(dev);
	uint32_t have = sizeof(hb->config);

	/* Past the struct reads as zero (fields of features we do not offer). */
	memset(buf, 0, len);
	if (offset < have)
		memcpy(buf, (uint8_t *)&hb->config + offset,
		       len < have - offset ? len : have - offset);
	return 0;
}

static int hblk_set_config(struct vlb_dev *dev, const uint8_t *buf,
			   uint32_t offset, uint32_t len, uint32_t flags)
{
	/* Nothing is writable without CONFIG_WCE: ignore, as a device may. */
	(void)buf;
	(void)flags;
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(dev), "config write at %u, %u bytes ignored",
		offset, len);
	return 0;
}

static void hblk_queue_set_started(struct vlb_dev *dev, unsigned int qidx, bool started)
{
	struct hblk *hb = vlb_dev_priv(dev);

	(void)qidx;
	if (started)
		hb->faulted = false;
}

/* vlb_vq_handle_cb: requests are held, then answered all at once. */
static int64_t hblk_take(struct vlb_dev *dev, unsigned int qidx,
			 struct vlb_vq_elem *elem, void *opaque)
{
	struct hblk *hb = opaque;

	(void)qidx;
	hb->elems[hb->nelems] = elem;
	hb->lens[hb->nelems] = hblk_handle(dev, hb, elem);
	hb->nelems++;
	return VLB_VQ_KEPT;
}

static void hblk_serve(struct vlb_dev *dev, struct hblk *hb, struct vlb_vq *vq)
{
	bool garbage = false;
	unsigned int i;
	int ret;

	/* Take what the driver posted, at most a budget's worth. */
	vlb_vq_serve(dev, vlb_vq_index(vq), HBLK_BUDGET, hblk_take, hb);
	if (!hb->nelems)
		return;

	/* While these requests are in flight, their buffers are reachable. */
	hb->since_scan += hb->nelems;
	if (hb->scan_every && hb->since_scan >= hb->scan_every)
		hblk_scan(dev, hb, "requests");

	for (i = 0; i < hb->nelems; i++) {
		hb->requests++;
		if (hb->garbage && !garbage && hb->requests > hb->garbage_after) {
			hblk_push_garbage(dev, hb, vq, hb->elems[i], hb->lens[i]);
			garbage = true;
		} else {
			vlb_vq_push(vq, hb->elems[i], hb->lens[i]);
		}
		free(hb->elems[i]);
		hb->elems[i] = NULL;
	}
	hb->nelems = 0;
	vlb_vq_flush(vq);
	ret = vlb_vq_notify(vq);
	if (ret)
		vlb_err(vlb_dev_name(dev), "vq 0: call eventfd: %s", strerror(-ret));
}

static void hblk_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct hblk *hb = vlb_dev_priv(dev);
	unsigned int i;

	if (hb->faulted)
		return;
	if (sigsetjmp(hblk_jmp, 1)) {
		vlb_err(vlb_dev_name(dev),
			"vq %u: memory access faulted (revoked by the front-end?); queue idle until restarted",
			qidx);
		for (i = 0; i < hb->nelems; i++)
			free(hb->elems[i]);
		hb->nelems = 0;
		hb->faulted = true;
		return;
	}
	hblk_arm(1);
	hblk_serve(dev, hb, vlb_dev_vq(dev, qidx));
	hblk_arm(0);
}

static const struct vlb_dev_iface hblk_iface = {
	.get_features		= hblk_get_features,
	.get_config		= hblk_get_config,
	.set_config		= hblk_set_config,
	.queue_set_started	= hblk_queue_set_started,
	.queue_kick		= hblk_queue_kick,
};

/* Program ----------------------------------------------------------------- */

static void hblk_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s --socket-path PATH [OPTIONS]\n"
		"       %s --print-capabilities | --help | --version\n"
		"\n"
		"vhost-user-blk back-end on a RAM disk that attacks its front-end (lab tests).\n"
		"\n"
		"  --socket-path PATH      listen on this unix socket, one front-end at a time\n"
		"  --size BYTES            disk size, K/M/G suffix, a multiple of 512 (default 64M)\n"
		"  --scan HEX[,HEX...]     patterns (16..%d bytes each) to look for in the\n"
		"                          front-end's memory\n"
		"  --report FILE           totals after each scan (and each garbage completion)\n"
		"  --scan-interval MS      scan every MS milliseconds, 0: never (default %d)\n"
		"  --scan-every N          scan every N requests, 0: never (default %d)\n"
		"                          (SIGUSR1 always scans)\n"
		"  --garbage KIND          used-id, used-len, desc-loop or used-idx\n"
		"  --garbage-after K       requests answered correctly first (default 8)\n"
		"  --verbose               trace protocol messages, queues and scans\n"
		"  --print-capabilities    print the back-end capabilities as JSON and exit\n"
		"  --help                  show this help\n"
		"  --version               show the version\n",
		HBLK_PROG, HBLK_PROG, HBLK_MAX_PATTERN, HBLK_DEFAULT_INTERVAL_MS,
		HBLK_DEFAULT_SCAN_EVERY);
}

/* Digits with an optional K, M or G suffix. */
static int hblk_parse_size(const char *s, uint64_t *val)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -errno;
	if (*end == 'K')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (*end || v > UINT64_MAX >> shift)
		return -EINVAL;
	*val = (uint64_t)v << shift;
	return 0;
}

static int hblk_parse_uint(const char *s, unsigned int max, unsigned int *val)
{
	uint64_t v;

	if (hblk_parse_size(s, &v) || v > max)
		return -EINVAL;
	*val = v;
	return 0;
}

static int hblk_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "HEX,HEX,...": each an even number of hex digits, 16..256 bytes. */
static int hblk_parse_patterns(struct hblk *hb, const char *arg)
{
	const char *s = arg;

	while (*s) {
		struct hblk_pattern *p = &hb->patterns[hb->npatterns];
		size_t n = strcspn(s, ","), i;

		if (hb->npatterns == HBLK_MAX_PATTERNS || n % 2 ||
		    n / 2 < HBLK_MIN_PATTERN || n / 2 > HBLK_MAX_PATTERN)
			return -EINVAL;
		for (i = 0; i < n; i += 2) {
			int hi = hblk_hex(s[i]), lo = hblk_hex(s[i + 1]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			p->bytes[i / 2] = hi << 4 | lo;
			p->hex[i] = "0123456789abcdef"[hi];
			p->hex[i + 1] = "0123456789abcdef"[lo];
		}
		p->hex[n] = '\0';
		p->len = n / 2;
		hb->npatterns++;
		s += n;
		if (*s == ',' && *++s == '\0')
			return -EINVAL;
	}
	return hb->npatterns ? 0 : -EINVAL;
}

static int hblk_parse_garbage(const char *s, enum hblk_garbage *kind)
{
	unsigned int i;

	for (i = HBLK_GARBAGE_USED_ID; i <= HBLK_GARBAGE_USED_IDX; i++) {
		if (!strcmp(s, hblk_garbage_names[i])) {
			*kind = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Everything the event loop needs besides the device: disk, pipe, fds. */
static int hblk_setup(struct hblk *hb, int *stop_fd)
{
	struct sigaction sa = { .sa_handler = hblk_sigbus };
	sigset_t set;
	int size;

	hb->disk = mmap(NULL, hb->size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hb->disk == MAP_FAILED) {
		vlb_err("--size", "mmap of %llu bytes: %s", (unsigned long long)hb->size,
			strerror(errno));
		return -1;
	}
	hb->config.capacity = htole64(hb->size / HBLK_SECTOR);
	hb->config.size_max = htole32(HBLK_SIZE_MAX);
	hb->config.seg_max = htole32(HBLK_SEG_MAX);
	hb->config.blk_size = htole32(HBLK_SECTOR);

	/* Non-blocking both ways: a short write is a refused page, never a wait. */
	if (pipe2(hb->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		vlb_err(NULL, "pipe2: %s", strerror(errno));
		return -1;
	}
	size = fcntl(hb->pipe[1], F_SETPIPE_SZ, HBLK_CHUNK);
	if (size < 0)
		size = fcntl(hb->pipe[1], F_GETPIPE_SZ);
	if (size < (int)HBLK_PAGE) {
		vlb_err(NULL, "pipe size: %s", strerror(errno));
		return -1;
	}
	hb->chunk = (size > (int)HBLK_CHUNK ? HBLK_CHUNK : (size_t)size) & ~(size_t)(HBLK_PAGE - 1);
	hb->buf = malloc(hb->chunk + HBLK_PAGE);
	if (!hb->buf) {
		vlb_err(NULL, "scan buffer: %s", strerror(ENOMEM));
		return -1;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		vlb_err(NULL, "sigprocmask: %s", strerror(errno));
		return -1;
	}
	sigdelset(&set, SIGUSR1);
	*stop_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	hb->usr1_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*stop_fd < 0 || hb->usr1_fd < 0) {
		vlb_err(NULL, "signalfd: %s", strerror(errno));
		return -1;
	}
	if (hb->interval_ms) {
		hb->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (hb->timer_fd < 0) {
			vlb_err(NULL, "timerfd_create: %s", strerror(errno));
			return -1;
		}
		if (hblk_timer_arm(hb))
			return -1;
	}
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	if (sigaction(SIGBUS, &sa, NULL) < 0) {
		vlb_err(NULL, "sigaction SIGBUS: %s", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_SOCKET = 256, OPT_SIZE, OPT_SCAN, OPT_REPORT, OPT_INTERVAL,
		OPT_EVERY, OPT_GARBAGE, OPT_AFTER, OPT_VERBOSE, OPT_CAPS, OPT_HELP,
		OPT_VERSION,
	};
	static const struct option opts[] = {
		{ "socket-path", required_argument, NULL, OPT_SOCKET },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "scan", required_argument, NULL, OPT_SCAN },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "scan-interval", required_argument, NULL, OPT_INTERVAL },
		{ "scan-every", required_argument, NULL, OPT_EVERY },
		{ "garbage", required_argument, NULL, OPT_GARBAGE },
		{ "garbage-after", required_argument, NULL, OPT_AFTER },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "print-capabilities", no_argument, NULL, OPT_CAPS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	static struct hblk hb = {
		.size = HBLK_DEFAULT_SIZE,
		.pipe = { -1, -1 },
		.interval_ms = HBLK_DEFAULT_INTERVAL_MS,
		.scan_every = HBLK_DEFAULT_SCAN_EVERY,
		.timer_fd = -1,
		.usr1_fd = -1,
		.garbage_after = 8,
	};
	const char *path = NULL;
	struct vlb_dev *dev = NULL;
	unsigned int dbg = 0, after;
	int lfd = -1, stop_fd = -1;
	int opt, ret = 1;

	vlb_log_init(HBLK_PROG, 0);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			path = optarg;
			break;
		case OPT_SIZE:
			if (hblk_parse_size(optarg, &hb.size) || !hb.size ||
			    hb.size % HBLK_SECTOR || hb.size > HBLK_MAX_SIZE) {
				vlb_err("--size", "'%s' is not a multiple of 512 up to 16G", optarg);
				return 2;
			}
			break;
		case OPT_SCAN:
			if (hblk_parse_patterns(&hb, optarg)) {
				vlb_err("--scan", "'%s': want up to %d comma-separated hex patterns of %d..%d bytes",
					optarg, HBLK_MAX_PATTERNS, HBLK_MIN_PATTERN,
					HBLK_MAX_PATTERN);
				return 2;
			}
			break;
		case OPT_REPORT:
			hb.report = optarg;
			break;
		case OPT_INTERVAL:
			if (hblk_parse_uint(optarg, 3600000, &hb.interval_ms)) {
				vlb_err("--scan-interval", "'%s' is not 0..3600000 ms", optarg);
				return 2;
			}
			break;
		case OPT_EVERY:
			if (hblk_parse_uint(optarg, UINT_MAX, &hb.scan_every)) {
				vlb_err("--scan-every", "'%s' is not a number of requests", optarg);
				return 2;
			}
			break;
		case OPT_GARBAGE:
			if (hblk_parse_garbage(optarg, &hb.garbage)) {
				vlb_err("--garbage", "unknown kind '%s' (used-id, used-len, desc-loop, used-idx)",
					optarg);
				return 2;
			}
			break;
		case OPT_AFTER:
			if (hblk_parse_uint(optarg, UINT_MAX, &after)) {
				vlb_err("--garbage-after", "'%s' is not a number of requests", optarg);
				return 2;
			}
			hb.garbage_after = after;
			break;
		case OPT_VERBOSE:
			dbg = VLB_DBG_ALL;
			break;
		case OPT_CAPS:
			printf("{\n  \"type\": \"block\"\n}\n");
			return fflush(stdout) ? 1 : 0;
		case OPT_HELP:
			hblk_usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("%s %s\n", HBLK_PROG, VLB_VERSION);
			return 0;
		case ':':
			vlb_err(argv[optind - 1], "missing argument (see --help)");
			return 2;
		default:
			vlb_err(argv[optind - 1], "unknown option (see --help)");
			return 2;
		}
	}
	if (optind < argc) {
		vlb_err(argv[optind], "unexpected argument (see --help)");
		return 2;
	}
	if (!path) {
		vlb_err(NULL, "--socket-path is required (see --help)");
		return 2;
	}
	if (hb.npatterns && !hb.report) {
		vlb_err("--scan", "needs --report FILE");
		return 2;
	}
	/* Without patterns or a report a scan has no observer: do not scan. */
	if (!hb.report) {
		hb.interval_ms = 0;
		hb.scan_every = 0;
	}
	vlb_log_init(HBLK_PROG, dbg);

	if (hblk_setup(&hb, &stop_fd))
		goto out;
	ret = vlb_listen_unix(path, &lfd);
	if (ret) {
		vlb_err(path, "listen: %s", ret == -EEXIST ? "exists and is not a socket" :
			strerror(-ret));
		ret = 1;
		goto out;
	}
	ret = vlb_dev_new(&hblk_iface, 1, &hb, path, &dev);
	if (!ret && hb.report)
		ret = vlb_dev_add_watch(dev, hb.usr1_fd, POLLIN, hblk_usr1_cb, &hb);
	if (!ret && hb.timer_fd >= 0)
		ret = vlb_dev_add_watch(dev, hb.timer_fd, POLLIN, hblk_timer_cb, &hb);
	if (ret) {
		vlb_err(path, "device: %s", strerror(-ret));
		ret = 1;
		goto out;
	}
	hblk_write_report(&hb);
	vlb_log(path, "listening (%llu-byte disk, garbage %s after %llu requests)",
		(unsigned long long)hb.size, hblk_garbage_names[hb.garbage],
		(unsigned long long)hb.garbage_after);
	ret = vlb_serve(dev, lfd, -1, stop_fd, path) ? 1 : 0;
out:
	vlb_dev_free(dev);
	if (lfd >= 0) {
		close(lfd);
		unlink(path);
	}
	if (stop_fd >= 0)
		close(stop_fd);
	if (hb.usr1_fd >= 0)
		close(hb.usr1_fd);
	if (hb.timer_fd >= 0)
		close(hb.timer_fd);
	if (hb.pipe[0] >= 0) {
		close(hb.pipe[0]);
		close(hb.pipe[1]);
	}
	free(hb.buf);
	if (hb.disk && hb.disk != MAP_FAILED)
		munmap(hb.disk, hb.size);
	return ret;
}
