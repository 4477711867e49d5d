/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvlb internals shared by vlb_dev.c (protocol) and vlb_vq.c (rings).
 * Not installed; device programs use vlb.h only.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLB_PRIV_H
#define VLB_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vlb.h"
#include "vlb_compiler.h"

#define VLB_BIT(nr)	(1ULL << (nr))

/* Request handler results besides 0 and -errno: msg holds a reply (with fds). */
#define VLB_REPLY	1
#define VLB_REPLY_FD	2

/* Split virtqueue layout (virtio spec 2.7), little-endian in memory. */
#define VLB_DESC_F_NEXT		1
#define VLB_DESC_F_WRITE	2
#define VLB_DESC_F_INDIRECT	4
#define VLB_USED_F_NO_NOTIFY	1
#define VLB_AVAIL_F_NO_INTERRUPT 1

struct vlb_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vlb_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* num entries, then used_event (EVENT_IDX) */
};

struct vlb_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vlb_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vlb_vring_used_elem ring[];	/* num entries, then avail_event */
};

/*
 * Inflight I/O tracking (vhost-user spec, "Inflight I/O tracking", split
 * rings): one record per queue in a shared memory file the front-end keeps
 * across back-end restarts. Native endianness, shared with the front-end:
 * nothing read from it is trusted.
 */
#define VLB_INFLIGHT_VERSION	1
/* Each queue's record starts on this boundary (as libvhost-user lays it out). */
#define VLB_INFLIGHT_ALIGN	64

struct vlb_inflight_desc {
	uint8_t inflight;	/* 1 while the back-end owes the chain */
	uint8_t padding[5];
	uint16_t next;		/* next head of the same completion batch */
	uint64_t counter;	/* order the chains were taken in */
};

struct vlb_inflight_queue {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;	/* used->idx once the last batch was cleared */
	struct vlb_inflight_desc desc[];
};

/*
 * One SET_MEM_TABLE region. @host is where guest address @gpa (and
 * front-end virtual address @qva) appears in our address space; the
 * mapping itself starts at @mmap_addr, which may be a little earlier
 * because mmap offsets must be page aligned.
 */
struct vlb_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t qva;
	uint8_t *host;
	void *mmap_addr;
	size_t mmap_len;
};

struct vlb_vq {
	struct vlb_dev *dev;
	unsigned int index;

	/* What the front-end set; validated when the ring is mapped. */
	unsigned int num;		/* 0 until SET_VRING_NUM */
	struct vhost_user_vring_addr addr;
	bool addr_set;

	/* Ring pointers into the memory table, valid while @mapped. */
	struct vlb_vring_desc *desc;
	struct vlb_vring_avail *avail;
	struct vlb_vring_used *used;
	bool mapped;

	uint16_t last_avail_idx;	/* next avail entry we will pop */
	uint16_t shadow_avail_idx;	/* last avail->idx read */
	uint16_t used_idx;		/* used->idx we published + pushed */
	unsigned int pending;		/* pushed, not yet flushed */
	unsigned int inuse;		/* popped, not yet pushed */
	unsigned int gen;		/* bumped at start and stop: stale elements */
	uint16_t signalled_used;
	bool signalled_used_valid;

	/* SET_INFLIGHT_FD record while started, or NULL. */
	struct vlb_inflight_queue *inflight;
	uint64_t inflight_counter;	/* next counter value to record */
	uint16_t *resubmit;		/* heads to pop again first, oldest first */
	unsigned int resubmit_num;
	unsigned int resubmit_next;

	int kick_fd;
	int call_fd;
	int err_fd;
	bool started;			/* SET_VRING_KICK .. GET_VRING_BASE */
	bool enabled;			/* SET_VRING_ENABLE (or no PROTOCOL_FEATURES) */
	bool ready;			/* last state told to queue_set_started */
	bool notify;			/* driver kicks wanted (vlb_vq_set_notification) */
	bool kick_pending;		/* call queue_kick again: got ready, or kick_later */
};

/* A fd of the device program that vlb_dev_run() polls. */
struct vlb_watch {
	int fd;
	short events;
	vlb_watch_cb cb;
	void *opaque;
};

struct vlb_dev {
	const struct vlb_dev_iface *iface;
	void *priv;
	char *name;

	int sock;			/* front-end connection, -1 when detached */
	bool local;			/* vlb_dev_attach_local(): no socket */
	int backend_fd;			/* SET_BACKEND_REQ_FD channel, or -1 */
	bool broken;

	uint64_t features;		/* acknowledged by SET_FEATURES */
	uint64_t protocol_features;	/* acknowledged by SET_PROTOCOL_FEATURES */
	uint8_t status;

	unsigned int nr_vqs;
	struct vlb_vq *vqs;

	unsigned int nregions;
	struct vlb_mem_region regions[VHOST_USER_MAX_MEM_REGIONS];

	/* SET_INFLIGHT_FD mapping: @inflight_queues records of @inflight_stride bytes. */
	void *inflight_addr;
	size_t inflight_len;
	size_t inflight_stride;
	unsigned int inflight_queues;
	unsigned int inflight_qsize;

	unsigned int nwatches;
	struct vlb_watch watches[VLB_MAX_WATCHES];
};

static inline bool vlb_has_feature(const struct vlb_dev *dev, unsigned int bit)
{
	return dev->features & VLB_BIT(bit);
}

static inline bool vlb_has_protocol_feature(const struct vlb_dev *dev,
					    unsigned int bit)
{
	return dev->protocol_features & VLB_BIT(bit);
}

/*
 * Report a protocol error: log it, mark @dev broken, tell the device.
 * Returns -EIO so callers can write "return vlb_panic(...)".
 */
__printf(2, 3) int vlb_panic(struct vlb_dev *dev, const char *fmt, ...);

/* Host pointer for [@gpa, @gpa + *@len) clipped to one region, or NULL. */
void *vlb_gpa_to_va(struct vlb_dev *dev, uint64_t gpa, uint64_t *len);

/* Same for a front-end virtual address (SET_VRING_ADDR). */
void *vlb_qva_to_va(struct vlb_dev *dev, uint64_t qva, uint64_t *len);

/*
 * snprintf at *@used into @buf (@size bytes) and advance *@used by what
 * was wanted, so the final *@used is the length the whole text needs.
 * In vlb_names.c.
 */
__printf(4, 5) void vlb_append(char *buf, size_t size, size_t *used,
			       const char *fmt, ...);

/* Ring state changes, in vlb_vq.c. */
void vlb_vq_init(struct vlb_dev *dev, struct vlb_vq *vq, unsigned int index);
int vlb_vq_map(struct vlb_vq *vq);
int vlb_vq_start(struct vlb_vq *vq);
void vlb_vq_stop(struct vlb_vq *vq);
void vlb_vq_reset(struct vlb_vq *vq);
void vlb_vq_update_ready(struct vlb_vq *vq);

/* Inflight records, in vlb_inflight.c. */
size_t vlb_inflight_stride(unsigned int queue_size);
int vlb_inflight_get(struct vlb_dev *dev, struct vhost_user_msg *msg);
int vlb_inflight_set(struct vlb_dev *dev, struct vhost_user_msg *msg);
void vlb_inflight_unmap(struct vlb_dev *dev);
int vlb_inflight_start(struct vlb_vq *vq);
void vlb_inflight_stop(struct vlb_vq *vq);
void vlb_inflight_taken(struct vlb_vq *vq, unsigned int head);
void vlb_inflight_done(struct vlb_vq *vq, unsigned int head);
void vlb_inflight_flushed(struct vlb_vq *vq, unsigned int batch);

#endif /* VLB_PRIV_H */
