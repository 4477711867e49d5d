// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvlb device core: the back-end side of the vhost-user protocol (QEMU
 * docs/interop/vhost-user.rst).
 *
 * vlb_dev_dispatch() reads one message, checks everything that can be
 * checked without knowing the request's meaning (version, reply bit, payload
 * size, fd count, queue index) in vlb_msg_check(), and hands it to the one
 * handler for that request, vlb_<request>_exec(). All handlers share one
 * signature and return VLB_REPLY when they filled in a reply, 0 on success
 * without a reply, or -errno. REPLY_ACK (NEED_REPLY in the header) is
 * answered in one place afterwards, and whatever fds a handler did not take
 * are closed in one place too, so no rejection path leaks one.
 *
 * Errors caused by the front-end go through vlb_panic(): one log line, the
 * device is marked broken, the event loop returns -EPROTO. Nothing the
 * front-end sends reaches an assert().
 *
 * This file deliberately depends on libc only.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vlb_msg_dump.h"
#include "vlb_priv.h"

/* Protocol features we implement; CONFIG and BACKEND_REQ depend on the iface. */
#define VLB_PROTOCOL_FEATURES						\
	(VLB_BIT(VHOST_USER_PROTOCOL_F_MQ) |				\
	 VLB_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |			\
	 VLB_BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE) |			\
	 VLB_BIT(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |		\
	 VLB_BIT(VHOST_USER_PROTOCOL_F_STATUS) |			\
	 VLB_BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))

int vlb_panic(struct vlb_dev *dev, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	vlb_err(dev->name, "protocol error: %s", msg);
	dev->broken = true;
	if (dev->iface->panic)
		dev->iface->panic(dev, msg);
	return -EIO;
}

/* Memory table ------------------------------------------------------------ */

void *vlb_gpa_to_va(struct vlb_dev *dev, uint64_t gpa, uint64_t *len)
{
	unsigned int i;

	for (i = 0; i < dev->nregions; i++) {
		struct vlb_mem_region *r = &dev->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			uint64_t off = gpa - r->gpa;

			if (*len > r->size - off)
				*len = r->size - off;
			return r->host + off;
		}
	}
	return NULL;
}

void *vlb_qva_to_va(struct vlb_dev *dev, uint64_t qva, uint64_t *len)
{
	unsigned int i;

	for (i = 0; i < dev->nregions; i++) {
		struct vlb_mem_region *r = &dev->regions[i];

		if (qva >= r->qva && qva - r->qva < r->size) {
			uint64_t off = qva - r->qva;

			if (*len > r->size - off)
				*len = r->size - off;
			return r->host + off;
		}
	}
	return NULL;
}

static void vlb_mem_unmap(struct vlb_mem_region *regions, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		munmap(regions[i].mmap_addr, regions[i].mmap_len);
}

static void vlb_mem_free(struct vlb_dev *dev)
{
	unsigned int i;

	vlb_mem_unmap(dev->regions, dev->nregions);
	dev->nregions = 0;
	for (i = 0; i < dev->nr_vqs; i++)
		dev->vqs[i].mapped = false;
}

/*
 * mmap one region. mmap offsets must be page aligned (huge-page aligned for
 * hugetlbfs, whose st_blksize is the huge page size), so map from the
 * aligned offset below mmap_offset and point @host past the slack.
 */
static int vlb_mem_map_region(struct vlb_dev *dev, const struct vhost_user_mem_region *w,
			      int fd, struct vlb_mem_region *r)
{
	uint64_t align = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t off, slack;
	struct stat st;
	void *p;

	if (!w->memory_size ||
	    w->guest_phys_addr + w->memory_size < w->guest_phys_addr ||
	    w->userspace_addr + w->memory_size < w->userspace_addr ||
	    w->mmap_offset + w->memory_size < w->mmap_offset)
		return vlb_panic(dev, "SET_MEM_TABLE: bad region gpa 0x%llx size 0x%llx offset 0x%llx",
				 (unsigned long long)w->guest_phys_addr,
				 (unsigned long long)w->memory_size,
				 (unsigned long long)w->mmap_offset);
	if (fstat(fd, &st))
		memset(&st, 0, sizeof(st));
	/* Past the end of a file the mapping faults (SIGBUS) on first touch. */
	if (S_ISREG(st.st_mode) &&
	    (w->mmap_offset > (uint64_t)st.st_size ||
	     w->memory_size > (uint64_t)st.st_size - w->mmap_offset))
		return vlb_panic(dev, "SET_MEM_TABLE: region 0x%llx+0x%llx past the end of its 0x%llx-byte file",
				 (unsigned long long)w->mmap_offset,
				 (unsigned long long)w->memory_size,
				 (unsigned long long)st.st_size);
	if (st.st_blksize > 0 &&
	    (uint64_t)st.st_blksize > align &&
	    !((uint64_t)st.st_blksize & ((uint64_t)st.st_blksize - 1)))
		align = st.st_blksize;
	off = w->mmap_offset & ~(align - 1);
	slack = w->mmap_offset - off;
	if (w->memory_size + slack > SIZE_MAX)
		return vlb_panic(dev, "SET_MEM_TABLE: region of 0x%llx bytes too large",
				 (unsigned long long)w->memory_size);

	p = mmap(NULL, w->memory_size + slack, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, fd, off);
	if (p == MAP_FAILED) {
		int err = errno;

		vlb_panic(dev, "SET_MEM_TABLE: mmap of 0x%llx bytes at offset 0x%llx: %s",
			  (unsigned long long)(w->memory_size + slack),
			  (unsigned long long)off, strerror(err));
		return -err;
	}
	r->gpa = w->guest_phys_addr;
	r->size = w->memory_size;
	r->qva = w->userspace_addr;
	r->mmap_addr = p;
	r->mmap_len = w->memory_size + slack;
	r->host = (uint8_t *)p + slack;
	vlb_dbg(VLB_DBG_MEM, dev->name, "region gpa 0x%llx size 0x%llx qva 0x%llx at %p",
		(unsigned long long)r->gpa, (unsigned long long)r->size,
		(unsigned long long)r->qva, (void *)r->host);
	return 0;
}

/* Rings of started queues point into the old table: map them again. */
static int vlb_remap_started(struct vlb_dev *dev)
{
	unsigned int i;
	int ret;

	for (i = 0; i < dev->nr_vqs; i++) {
		struct vlb_vq *vq = &dev->vqs[i];

		if (!vq->started)
			continue;
		ret = vlb_vq_map(vq);
		vlb_vq_update_ready(vq);
		if (ret)
			return ret;
	}
	return 0;
}

/* Reset ------------------------------------------------------------------- */

/*
 * RESET_DEVICE, RESET_OWNER, disconnect: rings and device state back to
 * the start. The memory table stays: it belongs to the connection, and a
 * front-end using CONFIGURE_MEM_SLOTS (QEMU) only sends the regions that
 * changed since its last update, reset or not. Detach unmaps it.
 */
static void vlb_dev_reset_state(struct vlb_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_vqs; i++)
		vlb_vq_reset(&dev->vqs[i]);
	dev->features = 0;
	dev->status = 0;
	/* A reset driver has new rings: the old record means nothing for them. */
	vlb_inflight_unmap(dev);
	if (dev->iface->reset)
		dev->iface->reset(dev);
}

/* Request handlers -------------------------------------------------------- */

static uint64_t vlb_offered_features(struct vlb_dev *dev)
{
	return dev->iface->get_features(dev) | VLB_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
}

static uint64_t vlb_offered_protocol_features(struct vlb_dev *dev)
{
	uint64_t f = VLB_PROTOCOL_FEATURES;

	if (dev->iface->get_config && dev->iface->set_config)
		f |= VLB_BIT(VHOST_USER_PROTOCOL_F_CONFIG) |
		     VLB_BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ);
	return f;
}

static int vlb_reply_u64(struct vhost_user_msg *msg, uint64_t val)
{
	msg->payload.u64 = val;
	msg->hdr.size = sizeof(msg->payload.u64);
	return VLB_REPLY;
}

static int vlb_get_features_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	return vlb_reply_u64(msg, vlb_offered_features(dev));
}

static int vlb_set_features_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	uint64_t features = msg->payload.u64;
	uint64_t offered = vlb_offered_features(dev);
	unsigned int i;

	if (features & ~offered)
		return vlb_panic(dev, "SET_FEATURES 0x%llx has bits not offered (0x%llx)",
				 (unsigned long long)features, (unsigned long long)offered);
	dev->features = features;
	if (dev->iface->set_features)
		dev->iface->set_features(dev, features);
	/* Without PROTOCOL_FEATURES there is no SET_VRING_ENABLE: rings start enabled. */
	if (!(features & VLB_BIT(VHOST_USER_F_PROTOCOL_FEATURES))) {
		for (i = 0; i < dev->nr_vqs; i++) {
			dev->vqs[i].enabled = true;
			vlb_vq_update_ready(&dev->vqs[i]);
		}
	}
	/* EVENT_IDX changes the ring sizes. */
	return vlb_remap_started(dev);
}

static int vlb_set_owner_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	(void)dev;
	(void)msg;
	return 0;
}

static int vlb_reset_owner_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	(void)msg;
	vlb_dev_reset_state(dev);
	return 0;
}

static int vlb_reset_device_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	(void)msg;
	vlb_dev_reset_state(dev);
	return 0;
}

static int vlb_set_mem_table_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	const struct vhost_user_mem_table *t = &msg->payload.memory;
	struct vlb_mem_region regions[VHOST_USER_MAX_MEM_REGIONS];
	unsigned int i;
	int ret;

	if (msg->hdr.size < offsetof(struct vhost_user_mem_table, regions))
		return vlb_panic(dev, "SET_MEM_TABLE: payload of %u bytes", msg->hdr.size);
	if (t->nregions > VHOST_USER_MAX_MEM_REGIONS ||
	    msg->hdr.size != offsetof(struct vhost_user_mem_table, regions) +
			     t->nregions * sizeof(t->regions[0]))
		return vlb_panic(dev, "SET_MEM_TABLE: %u regions in %u bytes",
				 t->nregions, msg->hdr.size);
	if (msg->nfds != t->nregions)
		return vlb_panic(dev, "SET_MEM_TABLE: %u regions but %u fds",
				 t->nregions, msg->nfds);

	for (i = 0; i < t->nregions; i++) {
		ret = vlb_mem_map_region(dev, &t->regions[i], msg->fds[i], &regions[i]);
		if (ret) {
			vlb_mem_unmap(regions, i);
			return ret;
		}
	}
	/* The fds are closed by the caller: the mappings keep the memory. */
	vlb_mem_free(dev);
	memcpy(dev->regions, regions, t->nregions * sizeof(regions[0]));
	dev->nregions = t->nregions;
	return vlb_remap_started(dev);
}

/* Regions may not overlap in guest or front-end addresses. */
static bool vlb_mem_overlaps(struct vlb_dev *dev, const struct vhost_user_mem_region *w)
{
	unsigned int i;

	for (i = 0; i < dev->nregions; i++) {
		const struct vlb_mem_region *r = &dev->regions[i];

		if ((w->guest_phys_addr < r->gpa + r->size &&
		     r->gpa < w->guest_phys_addr + w->memory_size) ||
		    (w->userspace_addr < r->qva + r->size &&
		     r->qva < w->userspace_addr + w->memory_size))
			return true;
	}
	return false;
}

static int vlb_add_mem_reg_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	const struct vhost_user_mem_region *w = &msg->payload.mem_reg.region;
	int ret;

	if (dev->nregions == VHOST_USER_MAX_MEM_REGIONS)
		return vlb_panic(dev, "ADD_MEM_REG: all %u slots in use",
				 VHOST_USER_MAX_MEM_REGIONS);
	ret = vlb_mem_map_region(dev, w, msg->fds[0], &dev->regions[dev->nregions]);
	if (ret)
		return ret;
	if (vlb_mem_overlaps(dev, w)) {
		vlb_mem_unmap(&dev->regions[dev->nregions], 1);
		return vlb_panic(dev, "ADD_MEM_REG: gpa 0x%llx size 0x%llx overlaps a region",
				 (unsigned long long)w->guest_phys_addr,
				 (unsigned long long)w->memory_size);
	}
	/* Mappings of the other regions do not move: rings stay valid. */
	dev->nregions++;
	return 0;
}

static int vlb_rem_mem_reg_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	const struct vhost_user_mem_region *w = &msg->payload.mem_reg.region;
	unsigned int i;

	for (i = 0; i < dev->nregions; i++) {
		struct vlb_mem_region *r = &dev->regions[i];

		if (r->gpa != w->guest_phys_addr || r->size != w->memory_size ||
		    r->qva != w->userspace_addr)
			continue;
		vlb_mem_unmap(r, 1);
		memmove(r, r + 1, (dev->nregions - i - 1) * sizeof(*r));
		dev->nregions--;
		/* A started ring in the removed region cannot go on. */
		return vlb_remap_started(dev);
	}
	vlb_err(dev->name, "REM_MEM_REG: no region at gpa 0x%llx size 0x%llx",
		(unsigned long long)w->guest_phys_addr, (unsigned long long)w->memory_size);
	return -ENOENT;
}

static int vlb_set_vring_num_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.state.index];
	unsigned int num = msg->payload.state.num;

	if (vq->started)
		return vlb_panic(dev, "vq %u: SET_VRING_NUM while started", vq->index);
	if (!num || num > VLB_VQ_MAX_SIZE || (num & (num - 1)))
		return vlb_panic(dev, "vq %u: bad ring size %u", vq->index, num);
	vq->num = num;
	return 0;
}

static int vlb_set_vring_addr_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.addr.index];

	vq->addr = msg->payload.addr;
	vq->addr_set = true;
	if (!vq->started)
		return 0;
	return vlb_remap_started(dev);
}

static int vlb_set_vring_base_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.state.index];
	unsigned int base = msg->payload.state.num;

	if (vq->started)
		return vlb_panic(dev, "vq %u: SET_VRING_BASE while started", vq->index);
	if (base > UINT16_MAX)
		return vlb_panic(dev, "vq %u: ring base %u out of range", vq->index, base);
	vq->last_avail_idx = base;
	vq->shadow_avail_idx = base;
	return 0;
}

static int vlb_get_vring_base_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.state.index];

	vlb_vq_stop(vq);
	msg->payload.state.num = vq->last_avail_idx;
	msg->hdr.size = sizeof(msg->payload.state);
	return VLB_REPLY;
}

/* Take the fd of SET_VRING_KICK/CALL/ERR, or -1 with the NOFD bit. */
static int vlb_take_vring_fd(struct vhost_user_msg *msg)
{
	int fd;

	if (msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK)
		return -1;
	fd = msg->fds[0];
	msg->fds[0] = -1;
	msg->nfds = 0;
	return fd;
}

static int vlb_set_vring_kick_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.u64 & VHOST_USER_VRING_IDX_MASK];

	if (vq->started)
		vlb_vq_stop(vq);
	vq->kick_fd = vlb_take_vring_fd(msg);
	if (vq->kick_fd < 0)
		vlb_log(dev->name, "vq %u: no kick fd; the queue is served on start only",
			vq->index);
	if (!(dev->features & VLB_BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		vq->enabled = true;
	return vlb_vq_start(vq);
}

static int vlb_set_vring_call_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.u64 & VHOST_USER_VRING_IDX_MASK];

	if (vq->call_fd >= 0)
		close(vq->call_fd);
	vq->call_fd = vlb_take_vring_fd(msg);
	/* The front-end may have missed an interrupt while swapping fds. */
	vq->signalled_used_valid = false;
	return 0;
}

static int vlb_set_vring_err_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.u64 & VHOST_USER_VRING_IDX_MASK];

	if (vq->err_fd >= 0)
		close(vq->err_fd);
	vq->err_fd = vlb_take_vring_fd(msg);
	return 0;
}

static int vlb_get_protocol_features_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	return vlb_reply_u64(msg, vlb_offered_protocol_features(dev));
}

static int vlb_set_protocol_features_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	uint64_t offered = vlb_offered_protocol_features(dev);

	if (msg->payload.u64 & ~offered)
		return vlb_panic(dev, "SET_PROTOCOL_FEATURES 0x%llx has bits not offered (0x%llx)",
				 (unsigned long long)msg->payload.u64,
				 (unsigned long long)offered);
	dev->protocol_features = msg->payload.u64;
	return 0;
}

static int vlb_get_queue_num_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	return vlb_reply_u64(msg, dev->nr_vqs);
}

static int vlb_set_vring_enable_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vlb_vq *vq = &dev->vqs[msg->payload.state.index];

	if (msg->payload.state.num > 1)
		return vlb_panic(dev, "vq %u: SET_VRING_ENABLE %u", vq->index,
				 msg->payload.state.num);
	vq->enabled = msg->payload.state.num;
	vlb_vq_update_ready(vq);
	return 0;
}

static int vlb_set_backend_req_fd_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	if (dev->backend_fd >= 0)
		close(dev->backend_fd);
	dev->backend_fd = msg->fds[0];
	msg->fds[0] = -1;
	msg->nfds = 0;
	return 0;
}

/* Check a GET/SET_CONFIG payload: header plus exactly size bytes. */
static int vlb_config_check(struct vlb_dev *dev, const struct vhost_user_msg *msg)
{
	const struct vhost_user_config *c = &msg->payload.config;

	if (msg->hdr.size < VHOST_USER_CONFIG_HDR_SIZE ||
	    c->size > VHOST_USER_MAX_CONFIG_SIZE ||
	    msg->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c->size ||
	    c->offset > VHOST_USER_MAX_CONFIG_SIZE - c->size)
		return vlb_panic(dev, "%s: offset %u size %u in a %u-byte payload",
				 vlb_request_name(msg->hdr.request),
				 msg->hdr.size >= VHOST_USER_CONFIG_HDR_SIZE ? c->offset : 0,
				 msg->hdr.size >= VHOST_USER_CONFIG_HDR_SIZE ? c->size : 0,
				 msg->hdr.size);
	return 0;
}

static int vlb_get_config_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	struct vhost_user_config *c = &msg->payload.config;
	int ret;

	ret = vlb_config_check(dev, msg);
	if (ret)
		return ret;
	ret = dev->iface->get_config ?
	      dev->iface->get_config(dev, c->region, c->offset, c->size) : -ENOTSUP;
	/* A reply without config data tells the front-end it failed. */
	if (ret) {
		vlb_err(dev->name, "GET_CONFIG offset %u size %u: %s", c->offset,
			c->size, strerror(-ret));
		msg->hdr.size = 0;
	}
	return VLB_REPLY;
}

int vlb_config_read_only(struct vlb_dev *dev, const uint8_t *buf,
			 uint32_t offset, uint32_t len, uint32_t flags)
{
	(void)buf;
	(void)flags;
	vlb_log(vlb_dev_name(dev), "config write at %u (%u bytes) refused: read-only",
		offset, len);
	return -EPERM;
}

static int vlb_set_config_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	const struct vhost_user_config *c = &msg->payload.config;
	int ret;

	ret = vlb_config_check(dev, msg);
	if (ret)
		return ret;
	if (!dev->iface->set_config)
		return -ENOTSUP;
	ret = dev->iface->set_config(dev, c->region, c->offset, c->size, c->flags);
	if (ret)
		vlb_err(dev->name, "SET_CONFIG offset %u size %u: %s", c->offset,
			c->size, strerror(-ret));
	return ret;
}

static int vlb_get_max_mem_slots_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	(void)dev;
	return vlb_reply_u64(msg, VHOST_USER_MAX_MEM_REGIONS);
}

static int vlb_set_status_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	int ret = 0;

	if (msg->payload.u64 > UINT8_MAX)
		return vlb_panic(dev, "SET_STATUS 0x%llx", (unsigned long long)msg->payload.u64);
	/*
	 * Status 0 is not a reset here: QEMU sends it before GET_VRING_BASE
	 * when it stops the device and expects the ring bases afterwards.
	 */
	dev->status = msg->payload.u64;
	if (dev->iface->set_status)
		ret = dev->iface->set_status(dev, dev->status);
	return ret;
}

static int vlb_get_status_exec(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	return vlb_reply_u64(msg, dev->status);
}

/* Dispatch ---------------------------------------------------------------- */

/* Where a request carries its queue index. */
enum vlb_qidx {
	VLB_QIDX_NONE,
	VLB_QIDX_STATE,		/* vring_state.index or vring_addr.index */
	VLB_QIDX_FILE,		/* u64 bits 0-7, bit 8 NOFD (KICK/CALL/ERR) */
};

#define VLB_SIZE_VAR	UINT32_MAX	/* checked by the handler */

/**
 * struct vlb_req_rule - what vlb_msg_check() enforces for one request
 * @size: exact payload size, or VLB_SIZE_VAR
 * @max_fds: most fds the request may carry
 * @min_fds: fds the request must carry (unless NOFD for VLB_QIDX_FILE)
 * @qidx: where the queue index is
 * @known: the request is implemented
 */
struct vlb_req_rule {
	uint32_t size;
	uint8_t max_fds;
	uint8_t min_fds;
	uint8_t qidx;
	bool known;
};

#define VLB_RULE(req, sz, maxfds, minfds, q)				\
	[VHOST_USER_##req] = { .size = (sz), .max_fds = (maxfds),	\
			       .min_fds = (minfds), .qidx = (q), .known = true }

static const struct vlb_req_rule vlb_req_rules[VHOST_USER_REQUEST_MAX] = {
	VLB_RULE(GET_FEATURES, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_FEATURES, 8, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_OWNER, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(RESET_OWNER, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_MEM_TABLE, VLB_SIZE_VAR, VHOST_USER_MAX_MEM_REGIONS, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_VRING_NUM, 8, 0, 0, VLB_QIDX_STATE),
	VLB_RULE(SET_VRING_ADDR, sizeof(struct vhost_user_vring_addr), 0, 0, VLB_QIDX_STATE),
	VLB_RULE(SET_VRING_BASE, 8, 0, 0, VLB_QIDX_STATE),
	VLB_RULE(GET_VRING_BASE, 8, 0, 0, VLB_QIDX_STATE),
	VLB_RULE(SET_VRING_KICK, 8, 1, 1, VLB_QIDX_FILE),
	VLB_RULE(SET_VRING_CALL, 8, 1, 1, VLB_QIDX_FILE),
	VLB_RULE(SET_VRING_ERR, 8, 1, 1, VLB_QIDX_FILE),
	VLB_RULE(GET_PROTOCOL_FEATURES, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_PROTOCOL_FEATURES, 8, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(GET_QUEUE_NUM, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_VRING_ENABLE, 8, 0, 0, VLB_QIDX_STATE),
	VLB_RULE(SET_BACKEND_REQ_FD, 0, 1, 1, VLB_QIDX_NONE),
	VLB_RULE(GET_CONFIG, VLB_SIZE_VAR, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_CONFIG, VLB_SIZE_VAR, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(RESET_DEVICE, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(GET_MAX_MEM_SLOTS, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(ADD_MEM_REG, sizeof(struct vhost_user_mem_reg), 1, 1, VLB_QIDX_NONE),
	VLB_RULE(REM_MEM_REG, sizeof(struct vhost_user_mem_reg), 1, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_STATUS, 8, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(GET_STATUS, 0, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(GET_INFLIGHT_FD, VLB_SIZE_VAR, 0, 0, VLB_QIDX_NONE),
	VLB_RULE(SET_INFLIGHT_FD, VLB_SIZE_VAR, 1, 1, VLB_QIDX_NONE),
};

/* Requests that exist only with a protocol feature (bit + 1; 0: always). */
static const uint8_t vlb_req_needs_feature[VHOST_USER_REQUEST_MAX] = {
	[VHOST_USER_GET_QUEUE_NUM] = VHOST_USER_PROTOCOL_F_MQ + 1,
	[VHOST_USER_SET_BACKEND_REQ_FD] = VHOST_USER_PROTOCOL_F_BACKEND_REQ + 1,
	[VHOST_USER_GET_CONFIG] = VHOST_USER_PROTOCOL_F_CONFIG + 1,
	[VHOST_USER_SET_CONFIG] = VHOST_USER_PROTOCOL_F_CONFIG + 1,
	[VHOST_USER_RESET_DEVICE] = VHOST_USER_PROTOCOL_F_RESET_DEVICE + 1,
	[VHOST_USER_SET_STATUS] = VHOST_USER_PROTOCOL_F_STATUS + 1,
	[VHOST_USER_GET_STATUS] = VHOST_USER_PROTOCOL_F_STATUS + 1,
	[VHOST_USER_GET_MAX_MEM_SLOTS] = VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS + 1,
	[VHOST_USER_ADD_MEM_REG] = VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS + 1,
	[VHOST_USER_REM_MEM_REG] = VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS + 1,
	[VHOST_USER_GET_INFLIGHT_FD] = VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD + 1,
	[VHOST_USER_SET_INFLIGHT_FD] = VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD + 1,
};

/* Everything that holds for a request whatever it means. */
static int vlb_msg_check(struct vlb_dev *dev, const struct vhost_user_msg *msg)
{
	const struct vhost_user_header *h = &msg->hdr;
	const struct vlb_req_rule *rule;
	const char *name = vlb_request_name(h->request);
	unsigned int qidx;
	bool nofd = false;

	if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (h->flags & VHOST_USER_REPLY_MASK))
		return vlb_panic(dev, "%s: bad header flags 0x%x", name, h->flags);
	if (h->request >= VHOST_USER_REQUEST_MAX || !vlb_req_rules[h->request].known)
		return vlb_panic(dev, "unsupported request %u (%s)", h->request, name);
	rule = &vlb_req_rules[h->request];

	/*
	 * The spec words most of these as "valid if the back-end sets the
	 * feature" (GET_QUEUE_NUM and MQ, for one): what we offer is enough,
	 * we implement all of them.
	 */
	if (vlb_req_needs_feature[h->request] &&
	    !(vlb_offered_protocol_features(dev) &
	      VLB_BIT(vlb_req_needs_feature[h->request] - 1)))
		return vlb_panic(dev, "%s: its protocol feature is not offered", name);
	if (rule->size != VLB_SIZE_VAR && h->size != rule->size)
		return vlb_panic(dev, "%s: payload of %u bytes, expected %u", name, h->size,
				 rule->size);

	switch (rule->qidx) {
	case VLB_QIDX_STATE:
		qidx = msg->payload.state.index;
		break;
	case VLB_QIDX_FILE:
		qidx = msg->payload.u64 & VHOST_USER_VRING_IDX_MASK;
		nofd = msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK;
		break;
	default:
		qidx = 0;
		break;
	}
	if (rule->qidx != VLB_QIDX_NONE && qidx >= dev->nr_vqs)
		return vlb_panic(dev, "%s: queue %u, the device has %u", name, qidx,
				 dev->nr_vqs);

	if (msg->nfds > rule->max_fds || (nofd && msg->nfds) ||
	    (!nofd && msg->nfds < rule->min_fds))
		return vlb_panic(dev, "%s: %u fds%s", name, msg->nfds,
				 nofd ? " with the NOFD flag" : "");
	return 0;
}

static int vlb_process_msg(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	switch (msg->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		return vlb_get_features_exec(dev, msg);
	case VHOST_USER_SET_FEATURES:
		return vlb_set_features_exec(dev, msg);
	case VHOST_USER_SET_OWNER:
		return vlb_set_owner_exec(dev, msg);
	case VHOST_USER_RESET_OWNER:
		return vlb_reset_owner_exec(dev, msg);
	case VHOST_USER_SET_MEM_TABLE:
		return vlb_set_mem_table_exec(dev, msg);
	case VHOST_USER_SET_VRING_NUM:
		return vlb_set_vring_num_exec(dev, msg);
	case VHOST_USER_SET_VRING_ADDR:
		return vlb_set_vring_addr_exec(dev, msg);
	case VHOST_USER_SET_VRING_BASE:
		return vlb_set_vring_base_exec(dev, msg);
	case VHOST_USER_GET_VRING_BASE:
		return vlb_get_vring_base_exec(dev, msg);
	case VHOST_USER_SET_VRING_KICK:
		return vlb_set_vring_kick_exec(dev, msg);
	case VHOST_USER_SET_VRING_CALL:
		return vlb_set_vring_call_exec(dev, msg);
	case VHOST_USER_SET_VRING_ERR:
		return vlb_set_vring_err_exec(dev, msg);
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		return vlb_get_protocol_features_exec(dev, msg);
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		return vlb_set_protocol_features_exec(dev, msg);
	case VHOST_USER_GET_QUEUE_NUM:
		return vlb_get_queue_num_exec(dev, msg);
	case VHOST_USER_SET_VRING_ENABLE:
		return vlb_set_vring_enable_exec(dev, msg);
	case VHOST_USER_SET_BACKEND_REQ_FD:
		return vlb_set_backend_req_fd_exec(dev, msg);
	case VHOST_USER_GET_CONFIG:
		return vlb_get_config_exec(dev, msg);
	case VHOST_USER_SET_CONFIG:
		return vlb_set_config_exec(dev, msg);
	case VHOST_USER_RESET_DEVICE:
		return vlb_reset_device_exec(dev, msg);
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		return vlb_get_max_mem_slots_exec(dev, msg);
	case VHOST_USER_ADD_MEM_REG:
		return vlb_add_mem_reg_exec(dev, msg);
	case VHOST_USER_REM_MEM_REG:
		return vlb_rem_mem_reg_exec(dev, msg);
	case VHOST_USER_SET_STATUS:
		return vlb_set_status_exec(dev, msg);
	case VHOST_USER_GET_STATUS:
		return vlb_get_status_exec(dev, msg);
	case VHOST_USER_GET_INFLIGHT_FD:
		return vlb_inflight_get(dev, msg);
	case VHOST_USER_SET_INFLIGHT_FD:
		return vlb_inflight_set(dev, msg);
	default:
		/* vlb_msg_check() let through only the requests above. */
		return vlb_panic(dev, "unhandled request %u", msg->hdr.request);
	}
}

/* Send @msg (payload and fds filled in) as the reply to its request. */
static int vlb_dev_reply(struct vlb_dev *dev, struct vhost_user_msg *msg)
{
	int ret;

	msg->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	vlb_msg_dbg(dev->name, "->", msg, false, 0);
	ret = vlb_msg_send(dev->sock, msg);
	/* The front-end left before reading its answer: a hang-up. */
	if (ret == -EPIPE)
		return -ECONNRESET;
	if (ret) {
		vlb_panic(dev, "sending the %s reply: %s",
			  vlb_request_name(msg->hdr.request), strerror(-ret));
		return ret;
	}
	return 0;
}

int vlb_dev_dispatch(struct vlb_dev *dev)
{
	struct vhost_user_msg msg;
	bool need_reply;
	int ret;

	if (dev->sock < 0)
		return -ENOTCONN;
	if (dev->broken)
		return -EPROTO;

	ret = vlb_msg_recv(dev->sock, &msg);
	if (ret == -ECONNRESET)
		return ret;
	if (ret) {
		vlb_panic(dev, "receiving a message: %s", strerror(-ret));
		return ret == -EPROTO ? -EPROTO : ret;
	}
	/* The library knows no device id: device feature bits print as numbers. */
	vlb_msg_dbg(dev->name, "<-", &msg, false, 0);

	/* Decide before the handler: SET_PROTOCOL_FEATURES may change it. */
	need_reply = (msg.hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
		     vlb_has_protocol_feature(dev, VHOST_USER_PROTOCOL_F_REPLY_ACK);

	ret = vlb_msg_check(dev, &msg);
	if (!ret)
		ret = vlb_process_msg(dev, &msg);
	/* Whatever fds the handler did not keep (or that go with its reply). */
	if (ret != VLB_REPLY_FD)
		vlb_msg_close_fds(&msg);

	if (dev->broken) {
		vlb_msg_close_fds(&msg);
		return -EPROTO;
	}
	if (ret == VLB_REPLY_FD) {
		ret = vlb_dev_reply(dev, &msg);
		vlb_msg_close_fds(&msg);
		return ret;
	}
	if (ret == VLB_REPLY || need_reply) {
		if (ret != VLB_REPLY) {
			/* REPLY_ACK: 0 is success, anything else failure. */
			msg.payload.u64 = ret ? 1 : 0;
			msg.hdr.size = sizeof(msg.payload.u64);
		}
		msg.nfds = 0;
		return vlb_dev_reply(dev, &msg);
	}
	return 0;
}

/* Device life cycle --------------------------------------------------------- */

int vlb_dev_new(const struct vlb_dev_iface *iface, unsigned int nr_vqs,
		void *priv, const char *name, struct vlb_dev **devp)
{
	struct vlb_dev *dev;
	unsigned int i;

	assert(iface && iface->get_features && iface->queue_kick && devp);
	*devp = NULL;
	if (!nr_vqs || nr_vqs > VLB_MAX_QUEUES)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->vqs = calloc(nr_vqs, sizeof(*dev->vqs));
	dev->name = strdup(name ? name : "vhost-user");
	if (!dev->vqs || !dev->name) {
		free(dev->vqs);
		free(dev->name);
		free(dev);
		return -ENOMEM;
	}
	dev->iface = iface;
	dev->priv = priv;
	dev->nr_vqs = nr_vqs;
	dev->sock = -1;
	dev->backend_fd = -1;
	for (i = 0; i < nr_vqs; i++)
		vlb_vq_init(dev, &dev->vqs[i], i);
	*devp = dev;
	return 0;
}

void vlb_dev_free(struct vlb_dev *dev)
{
	if (!dev)
		return;
	vlb_dev_detach(dev);
	free(dev->vqs);
	free(dev->name);
	free(dev);
}

int vlb_dev_attach(struct vlb_dev *dev, int sock)
{
	if (dev->sock >= 0 || dev->local) {
		close(sock);
		return -EBUSY;
	}
	dev->sock = sock;
	dev->broken = false;
	return 0;
}

void vlb_dev_detach(struct vlb_dev *dev)
{
	if (dev->sock < 0 && !dev->local)
		return;
	dev->local = false;
	/* Queues are reported stopped before the device forgets its state. */
	dev->broken = false;
	vlb_dev_reset_state(dev);
	vlb_mem_free(dev);
	dev->protocol_features = 0;
	if (dev->backend_fd >= 0)
		close(dev->backend_fd);
	dev->backend_fd = -1;
	if (dev->sock >= 0)
		close(dev->sock);
	dev->sock = -1;
}

/* One queue of vlb_dev_attach_local(): what SET_VRING_* would have set. */
static int vlb_vq_attach_local(struct vlb_vq *vq, const struct vlb_local_vring *vr)
{
	if (vr->num > VLB_VQ_MAX_SIZE || (vr->num & (vr->num - 1)))
		return vlb_panic(vq->dev, "vq %u: bad ring size %u", vq->index, vr->num);
	vq->num = vr->num;
	vq->addr.desc_user_addr = vr->desc;
	vq->addr.avail_user_addr = vr->avail;
	vq->addr.used_user_addr = vr->used;
	vq->addr_set = true;
	if (vr->call_fd >= 0) {
		vq->call_fd = fcntl(vr->call_fd, F_DUPFD_CLOEXEC, 0);
		if (vq->call_fd < 0)
			return -errno;
	}
	if (vr->kick_fd >= 0) {
		vq->kick_fd = fcntl(vr->kick_fd, F_DUPFD_CLOEXEC, 0);
		if (vq->kick_fd < 0)
			return -errno;
	}
	vq->enabled = true;
	return vlb_vq_start(vq);
}

int vlb_dev_attach_local(struct vlb_dev *dev, uint64_t features, int mem_fd,
			 uint64_t mem_size, const struct vlb_local_vring *vrings)
{
	/* Guest and "front-end virtual" addresses are the same here. */
	struct vhost_user_mem_region w = { .memory_size = mem_size };
	unsigned int i;
	int ret;

	if (dev->sock >= 0 || dev->local)
		return -EBUSY;
	dev->local = true;
	dev->broken = false;
	dev->features = features;
	if (dev->iface->set_features)
		dev->iface->set_features(dev, features);
	ret = vlb_mem_map_region(dev, &w, mem_fd, &dev->regions[0]);
	if (ret)
		goto err;
	dev->nregions = 1;
	for (i = 0; i < dev->nr_vqs; i++) {
		if (!vrings[i].num)
			continue;
		ret = vlb_vq_attach_local(&dev->vqs[i], &vrings[i]);
		if (ret)
			goto err;
	}
	return 0;

err:
	vlb_dev_detach(dev);
	return ret;
}

bool vlb_dev_pending_kicks(struct vlb_dev *dev)
{
	bool again = false;
	unsigned int i;

	/* One call per queue per round: a handler may ask again at once. */
	for (i = 0; i < dev->nr_vqs && !dev->broken; i++) {
		struct vlb_vq *vq = &dev->vqs[i];

		if (vq->kick_pending && vlb_vq_ready(vq)) {
			vq->kick_pending = false;
			dev->iface->queue_kick(dev, i);
		}
	}
	for (i = 0; i < dev->nr_vqs && !dev->broken; i++)
		again |= dev->vqs[i].kick_pending && vlb_vq_ready(&dev->vqs[i]);
	return again;
}

int vlb_dev_handle_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);
	uint64_t count;
	ssize_t n;

	if (vq->kick_fd < 0)
		return 0;
	do {
		n = read(vq->kick_fd, &count, sizeof(count));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		int err = errno;

		vlb_err(dev->name, "vq %u: reading the kick eventfd: %s", qidx, strerror(err));
		return -err;
	}
	vlb_dbg(VLB_DBG_VQ, dev->name, "vq %u: kick", qidx);
	if (vlb_vq_ready(vq))
		dev->iface->queue_kick(dev, qidx);
	return 0;
}

int vlb_dev_add_watch(struct vlb_dev *dev, int fd, short events,
		      vlb_watch_cb cb, void *opaque)
{
	unsigned int i;

	assert(cb);
	if (fd < 0)
		return -EINVAL;
	for (i = 0; i < dev->nwatches; i++)
		if (dev->watches[i].fd == fd)
			return -EEXIST;
	if (dev->nwatches == VLB_MAX_WATCHES)
		return -ENOSPC;
	dev->watches[dev->nwatches++] = (struct vlb_watch){
		.fd = fd, .events = events, .cb = cb, .opaque = opaque,
	};
	return 0;
}

int vlb_dev_remove_watch(struct vlb_dev *dev, int fd)
{
	unsigned int i;

	for (i = 0; i < dev->nwatches; i++) {
		if (dev->watches[i].fd != fd)
			continue;
		memmove(&dev->watches[i], &dev->watches[i + 1],
			(dev->nwatches - i - 1) * sizeof(dev->watches[0]));
		dev->nwatches--;
		return 0;
	}
	return -ENOENT;
}

/* Call the watch on @fd if it is still there: an earlier callback may have removed it. */
static void vlb_dev_run_watch(struct vlb_dev *dev, int fd, short revents)
{
	unsigned int i;

	for (i = 0; i < dev->nwatches; i++) {
		if (dev->watches[i].fd == fd) {
			dev->watches[i].cb(dev, fd, revents, dev->watches[i].opaque);
			return;
		}
	}
}

int vlb_dev_run(struct vlb_dev *dev, int stop_fd)
{
	/* socket, stop_fd, one kick fd per queue, the watches */
	const unsigned int max = 2 + dev->nr_vqs + VLB_MAX_WATCHES;
	struct pollfd *pfds;
	unsigned int *qidx;
	int ret = 0;

	pfds = calloc(max, sizeof(*pfds));
	qidx = calloc(max, sizeof(*qidx));
	if (!pfds || !qidx) {
		ret = -ENOMEM;
		goto out;
	}

	for (;;) {
		unsigned int n = 0, nkicks, i;
		bool again;

		again = vlb_dev_pending_kicks(dev);
		if (dev->broken) {
			ret = -EPROTO;
			break;
		}

		pfds[n++] = (struct pollfd){ .fd = dev->sock, .events = POLLIN };
		pfds[n++] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		for (i = 0; i < dev->nr_vqs; i++) {
			if (!vlb_vq_ready(&dev->vqs[i]) || dev->vqs[i].kick_fd < 0)
				continue;
			qidx[n] = i;
			pfds[n++] = (struct pollfd){ .fd = dev->vqs[i].kick_fd, .events = POLLIN };
		}
		nkicks = n;
		for (i = 0; i < dev->nwatches; i++)
			pfds[n++] = (struct pollfd){ .fd = dev->watches[i].fd,
						     .events = dev->watches[i].events };

		if (poll(pfds, n, again ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			vlb_err(dev->name, "poll: %s", strerror(errno));
			break;
		}
		if (pfds[1].revents) {
			ret = -ECANCELED;
			break;
		}
		if (pfds[0].revents) {
			ret = vlb_dev_dispatch(dev);
			if (ret == -ECONNRESET) {
				ret = 0;
				break;
			}
			if (ret)
				break;
			/* Kick fds may have changed under the poll set. */
			continue;
		}
		for (i = 2; i < nkicks; i++) {
			if (!pfds[i].revents)
				continue;
			ret = vlb_dev_handle_kick(dev, qidx[i]);
			if (ret)
				goto out;
		}
		for (i = nkicks; i < n && !dev->broken; i++)
			if (pfds[i].revents)
				vlb_dev_run_watch(dev, pfds[i].fd, pfds[i].revents);
	}
out:
	free(pfds);
	free(qidx);
	return ret;
}

int vlb_dev_config_changed(struct vlb_dev *dev)
{
	struct vhost_user_msg msg = {
		.hdr = {
			.request = VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
			.flags = VHOST_USER_VERSION,
		},
	};
	bool ack = vlb_has_protocol_feature(dev, VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int ret;

	if (dev->backend_fd < 0 ||
	    !vlb_has_protocol_feature(dev, VHOST_USER_PROTOCOL_F_CONFIG))
		return -ENOTCONN;
	if (ack)
		msg.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	vlb_msg_dbg(dev->name, "->", &msg, true, 0);
	ret = vlb_msg_send(dev->backend_fd, &msg);
	if (ret || !ack)
		return ret;
	ret = vlb_msg_recv(dev->backend_fd, &msg);
	if (ret)
		return ret;
	vlb_msg_dbg(dev->name, "<-", &msg, true, 0);
	if (msg.nfds || msg.hdr.request != VHOST_USER_BACKEND_CONFIG_CHANGE_MSG ||
	    !(msg.hdr.flags & VHOST_USER_REPLY_MASK) || msg.hdr.size != sizeof(uint64_t)) {
		vlb_msg_close_fds(&msg);
		return -EPROTO;
	}
	return msg.payload.u64 ? -EIO : 0;
}

/* Accessors ----------------------------------------------------------------- */

void *vlb_dev_priv(const struct vlb_dev *dev)
{
	return dev->priv;
}

const char *vlb_dev_name(const struct vlb_dev *dev)
{
	return dev->name;
}

int vlb_dev_socket(const struct vlb_dev *dev)
{
	return dev->sock;
}

bool vlb_dev_broken(const struct vlb_dev *dev)
{
	return dev->broken;
}

uint64_t vlb_dev_features(const struct vlb_dev *dev)
{
	return dev->features;
}

uint64_t vlb_dev_protocol_features(const struct vlb_dev *dev)
{
	return dev->protocol_features;
}

uint8_t vlb_dev_status(const struct vlb_dev *dev)
{
	return dev->status;
}

unsigned int vlb_dev_nr_vqs(const struct vlb_dev *dev)
{
	return dev->nr_vqs;
}

struct vlb_vq *vlb_dev_vq(struct vlb_dev *dev, unsigned int qidx)
{
	assert(qidx < dev->nr_vqs);
	return &dev->vqs[qidx];
}

int vlb_dev_mem_region(const struct vlb_dev *dev, unsigned int i,
		       struct vlb_mem_info *info)
{
	const struct vlb_mem_region *r;

	if (i >= dev->nregions)
		return -ENOENT;
	r = &dev->regions[i];
	info->gpa = r->gpa;
	info->qva = r->qva;
	info->size = r->size;
	info->host = r->host;
	return 0;
}

int vlb_vq_rings(const struct vlb_vq *vq, struct vlb_vq_rings *rings)
{
	if (!vq->mapped)
		return -ENODATA;
	rings->num = vq->num;
	rings->desc = vq->desc;
	rings->avail = vq->avail;
	rings->used = vq->used;
	return 0;
}
