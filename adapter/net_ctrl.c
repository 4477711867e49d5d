// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback adapter: virtio-net's control queue (see net_ctrl.h).
 *
 * What a VMM does for a vhost-user net back-end (QEMU hw/net/virtio-net.c,
 * the control queue handler and its MQ command; hw/net/vhost_net.c for the
 * ring enables), for the one command class the adapter offers. The ring is
 * read through libvlb, so every descriptor is bounds-checked against the
 * device's memory region before a byte of it is read; a chain libvlb
 * refuses stops the queue (logged), it never reaches this file.
 *
 * One difference from QEMU, on purpose: the driver is answered first and
 * the back-end's rings follow. Linux's virtio-net busy-waits for the
 * answer (6.1 without ever yielding the CPU); in a VM that is a vCPU, here
 * it is one of the CPUs the back-end needs, and DPDK's vhost thread,
 * spinning for its queue locks next to its busy-polling worker on the
 * other CPU, was starved for 10 s on a 2-CPU machine. The answer does not
 * depend on the back-end anyway: QEMU answers VIRTIO_NET_OK whatever the
 * enables did.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "net_ctrl.h"
#include "vlb_log.h"

/* Requests served per call: a driver posting garbage cannot starve the loop. */
#define VLA_NET_CTRL_BUDGET	64

struct vla_net_ctrl {
	struct vlb_dev *dev;		/* one queue, attached while started */
	unsigned int max_pairs;
	unsigned int pairs;		/* in use by the driver: 1 after reset */
	bool mq;			/* the driver accepted VIRTIO_NET_F_MQ */
	bool started;
	bool logged_error;		/* the first refused request was logged */
	int error;			/* set_pairs failed: the back-end is lost */
	vla_net_set_pairs_cb set_pairs;
	void *opaque;
	struct vla_net_ctrl_stats stats;
};

/* The first refusal is worth a line; a driver that keeps at it, --verbose. */
static void vla_net_ctrl_refuse(struct vla_net_ctrl *c, const char *what,
				unsigned int a, unsigned int b)
{
	const char *name = vlb_dev_name(c->dev);

	if (!c->logged_error) {
		c->logged_error = true;
		vlb_log(name, "control queue: refused a request: %s (%u, %u); further ones are logged with --verbose",
			what, a, b);
		return;
	}
	vlb_dbg(VLB_DBG_DEV, name, "control queue: refused a request: %s (%u, %u)",
		what, a, b);
}

uint8_t vla_net_ctrl_request(struct vla_net_ctrl *c, const struct iovec *out,
			     unsigned int out_num, unsigned int *pairsp)
{
	size_t len = vlb_iov_size(out, out_num);
	struct virtio_net_ctrl_hdr hdr;
	struct virtio_net_ctrl_mq mq;
	unsigned int pairs;

	if (len < sizeof(hdr)) {
		vla_net_ctrl_refuse(c, "header of fewer than 2 bytes", len, 0);
		return VIRTIO_NET_ERR;
	}
	vlb_iov_to_buf(out, out_num, 0, &hdr, sizeof(hdr));
	/* The only class offered: the others' features are hidden. */
	if (hdr.class != VIRTIO_NET_CTRL_MQ ||
	    hdr.cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
		vla_net_ctrl_refuse(c, "class and command not supported",
				    hdr.class, hdr.cmd);
		return VIRTIO_NET_ERR;
	}
	if (len != sizeof(hdr) + sizeof(mq)) {
		vla_net_ctrl_refuse(c, "VQ_PAIRS_SET data length, expected",
				    len - sizeof(hdr), sizeof(mq));
		return VIRTIO_NET_ERR;
	}
	vlb_iov_to_buf(out, out_num, sizeof(hdr), &mq, sizeof(mq));
	pairs = le16toh(mq.virtqueue_pairs);
	if (!c->mq) {
		vla_net_ctrl_refuse(c, "VQ_PAIRS_SET without VIRTIO_NET_F_MQ",
				    pairs, 0);
		return VIRTIO_NET_ERR;
	}
	if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > c->max_pairs) {
		vla_net_ctrl_refuse(c, "VQ_PAIRS_SET pairs out of range, maximum",
				    pairs, c->max_pairs);
		return VIRTIO_NET_ERR;
	}
	*pairsp = pairs;
	return VIRTIO_NET_OK;
}

/*
 * Answer one chain: the status is the first device-writable byte.
 * Returns the pair count to apply once the answer is out, or 0.
 */
static unsigned int vla_net_ctrl_answer(struct vla_net_ctrl *c,
					struct vlb_vq *vq,
					struct vlb_vq_elem *elem)
{
	unsigned int pairs = 0;
	uint8_t status;

	c->stats.requests++;
	if (!vlb_iov_size(elem->in_sg, elem->in_num)) {
		/*
		 * Nowhere to answer. QEMU marks the device broken; we give
		 * the chain back empty, so the driver is not left waiting.
		 */
		c->stats.no_status++;
		c->stats.errors++;
		vla_net_ctrl_refuse(c, "no device-writable byte for the status",
				    elem->out_num, elem->in_num);
		vlb_vq_push(vq, elem, 0);
		return 0;
	}
	status = vla_net_ctrl_request(c, elem->out_sg, elem->out_num, &pairs);
	if (status != VIRTIO_NET_OK) {
		c->stats.errors++;
		pairs = 0;
	}
	vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, &status, sizeof(status));
	vlb_vq_push(vq, elem, sizeof(status));
	return pairs;
}

static void vla_net_ctrl_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vla_net_ctrl *c = vlb_dev_priv(dev);
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);
	struct vlb_vq_elem *elem;
	unsigned int n = 0;
	int ret;

	while (!c->error && n < VLA_NET_CTRL_BUDGET &&
	       vlb_vq_pop(vq, &elem) == 0) {
		unsigned int pairs = vla_net_ctrl_answer(c, vq, elem);

		free(elem);
		n++;
		/* One at a time: the driver spins until it has its answer. */
		vlb_vq_flush(vq);
		ret = vlb_vq_notify(vq);
		if (ret)
			vlb_err(vlb_dev_name(dev), "control queue: signalling the call eventfd: %s",
				strerror(-ret));
		if (!pairs)
			continue;
		/* Now the back-end: the driver has stopped spinning. */
		c->pairs = pairs;
		ret = c->set_pairs(c->opaque, pairs);
		if (ret) {
			c->error = ret;
			return;
		}
		vlb_dbg(VLB_DBG_DEV, vlb_dev_name(dev), "control queue: %u of %u queue pairs in use",
			pairs, c->max_pairs);
	}
	if (n == VLA_NET_CTRL_BUDGET)
		vlb_vq_kick_later(vq);
}

static uint64_t vla_net_ctrl_get_features(struct vlb_dev *dev)
{
	(void)dev;
	/* Ring features libvlb implements; the driver's choice is set directly. */
	return (1ULL << VIRTIO_F_VERSION_1) |
	       (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	       (1ULL << VIRTIO_RING_F_EVENT_IDX);
}

static const struct vlb_dev_iface vla_net_ctrl_iface = {
	.get_features	= vla_net_ctrl_get_features,
	.queue_kick	= vla_net_ctrl_queue_kick,
};

int vla_net_ctrl_new(const char *name, unsigned int max_pairs,
		     vla_net_set_pairs_cb set_pairs, void *opaque,
		     struct vla_net_ctrl **cp)
{
	struct vla_net_ctrl *c;
	int ret;

	*cp = NULL;
	if (max_pairs < 2 || max_pairs > VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX ||
	    !set_pairs)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ret = vlb_dev_new(&vla_net_ctrl_iface, 1, c, name, &c->dev);
	if (ret) {
		free(c);
		return ret;
	}
	c->max_pairs = max_pairs;
	c->pairs = 1;
	c->set_pairs = set_pairs;
	c->opaque = opaque;
	*cp = c;
	return 0;
}

void vla_net_ctrl_free(struct vla_net_ctrl *c)
{
	if (!c)
		return;
	vlb_dev_free(c->dev);
	free(c);
}

void vla_net_ctrl_layout(uint64_t features, unsigned int max_pairs,
			 unsigned int *data_queues, int *ctrl_index)
{
	unsigned int pairs = features & (1ULL << VIRTIO_NET_F_MQ) ? max_pairs : 1;

	*data_queues = 2 * pairs;
	*ctrl_index = features & (1ULL << VIRTIO_NET_F_CTRL_VQ) ? (int)(2 * pairs) : -1;
}

unsigned int vla_net_ctrl_pairs(const struct vla_net_ctrl *c)
{
	return c->pairs;
}

int vla_net_ctrl_start(struct vla_net_ctrl *c, uint64_t features, int mem_fd,
		       uint64_t mem_size, const struct vlb_local_vring *ring)
{
	int ret;

	if (c->started)
		return -EBUSY;
	ret = vlb_dev_attach_local(c->dev, features, mem_fd, mem_size, ring);
	if (ret) {
		/* -EIO was logged by libvlb, with the ring's addresses. */
		if (ret != -EIO)
			vlb_err(vlb_dev_name(c->dev), "control queue: mapping the memory region: %s",
				strerror(-ret));
		return ret;
	}
	c->mq = features & (1ULL << VIRTIO_NET_F_MQ);
	c->started = true;
	/* Requests posted before we looked: the lib marked the queue pending. */
	vlb_dev_pending_kicks(c->dev);
	return 0;
}

void vla_net_ctrl_stop(struct vla_net_ctrl *c)
{
	if (!c->started)
		return;
	vlb_dev_detach(c->dev);
	c->started = false;
}

void vla_net_ctrl_reset(struct vla_net_ctrl *c)
{
	vla_net_ctrl_stop(c);
	c->pairs = 1;
}

int vla_net_ctrl_kick_fd(const struct vla_net_ctrl *c)
{
	if (!c->started)
		return -1;
	return vlb_vq_kick_fd(vlb_dev_vq(c->dev, 0));
}

int vla_net_ctrl_handle_kick(struct vla_net_ctrl *c, bool kicked)
{
	bool more;

	if (!c->started || c->error)
		return c->error;
	/* A read error was logged by libvlb; the pending pass still runs. */
	if (kicked)
		vlb_dev_handle_kick(c->dev, 0);
	more = vlb_dev_pending_kicks(c->dev);
	return c->error ? c->error : more;
}

const struct vla_net_ctrl_stats *vla_net_ctrl_stats(const struct vla_net_ctrl *c)
{
	return &c->stats;
}
