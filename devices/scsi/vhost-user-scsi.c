// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-scsi: a virtio SCSI host (virtio spec 5.6, device id 8) served
 * over vhost-user, with one target whose logical units are image files:
 *
 *	vhost-user-scsi --socket-path /run/scsi.sock \
 *		--lun disk0.img --lun disk1.img --read-only [--request-queues N]
 *	virtio-loopback-adapter --socket /run/scsi.sock --device scsi
 *
 * Each --lun adds the next LUN (0, 1, ...); --read-only makes the LUN
 * named just before it read-only. Queues (5.6.2): 0 control, 1 event,
 * 2 .. N+1 requests. The SCSI side is scsi_target.c. Commands are
 * served one at a time with pread/pwrite on the image (page cache;
 * SYNCHRONIZE CACHE and FUA writes call fdatasync).
 *
 * No feature bit is offered besides the ring ones: no hotplug events
 * (the event queue stays unused), no bidirectional commands, no T10 PI.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_scsi.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vlb.h"
#include "scsi_target.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

#define VSCSI_CTRL_Q		0
#define VSCSI_EVENT_Q		1
#define VSCSI_FIRST_REQ_Q	2
#define VSCSI_MAX_REQ_QUEUES	16

/* Requests served per queue_kick before yielding to the event loop. */
#define VSCSI_BUDGET		64

/**
 * struct vscsi - the device program
 * @target: the units and the config sizes the driver set
 * @paths: --lun arguments in order
 * @ro: --read-only given for the --lun at the same index
 * @nr_paths: --lun count
 * @req_queues: --request-queues (default 1)
 */
struct vscsi {
	struct vscsi_target target;
	const char *paths[VSCSI_MAX_LUNS];
	bool ro[VSCSI_MAX_LUNS];
	unsigned int nr_paths;
	unsigned int req_queues;
};

static struct vscsi vscsi_dev = { .req_queues = 1 };

static uint64_t vscsi_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

static void vscsi_config(const struct vscsi *v, struct virtio_scsi_config *c)
{
	memset(c, 0, sizeof(*c));
	c->num_queues = htole32(v->req_queues);
	c->seg_max = htole32(VSCSI_SEG_MAX);
	c->max_sectors = htole32(VSCSI_MAX_SECTORS);
	c->cmd_per_lun = htole32(VSCSI_CMD_PER_LUN);
	c->event_info_size = htole32(sizeof(struct virtio_scsi_event));
	c->sense_size = htole32(v->target.sense_size);
	c->cdb_size = htole32(v->target.cdb_size);
	c->max_channel = 0;
	c->max_target = 0;
	c->max_lun = htole32(VSCSI_MAX_LUN_CONFIG);
}

static int vscsi_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			    uint32_t len)
{
	struct vscsi *v = vlb_dev_priv(dev);
	struct virtio_scsi_config c;

	if (offset > sizeof(c) || len > sizeof(c) - offset)
		return -EINVAL;
	vscsi_config(v, &c);
	memcpy(buf, (uint8_t *)&c + offset, len);
	return 0;
}

/*
 * The driver may write sense_size and cdb_size (spec 5.6.4); the Linux
 * driver writes the defaults at probe. Everything else is read-only.
 */
static int vscsi_set_config(struct vlb_dev *dev, const uint8_t *buf,
			    uint32_t offset, uint32_t len, uint32_t flags)
{
	struct vscsi *v = vlb_dev_priv(dev);
	const uint32_t lo = offsetof(struct virtio_scsi_config, sense_size);
	const uint32_t hi = offsetof(struct virtio_scsi_config, cdb_size) + 4;
	struct virtio_scsi_config c;
	uint32_t sense, cdb;

	(void)flags;
	if (offset < lo || offset > hi || len > hi - offset) {
		vlb_err(vlb_dev_name(dev), "config write of %u bytes at %u: read-only field",
			len, offset);
		return -EINVAL;
	}
	vscsi_config(v, &c);
	memcpy((uint8_t *)&c + offset, buf, len);
	sense = le32toh(c.sense_size);
	cdb = le32toh(c.cdb_size);
	if (sense > VSCSI_MAX_SENSE_SIZE || cdb < 6 || cdb > VSCSI_MAX_CDB_SIZE) {
		vlb_err(vlb_dev_name(dev), "config write: sense_size %u / cdb_size %u out of range",
			sense, cdb);
		return -EINVAL;
	}
	v->target.sense_size = sense;
	v->target.cdb_size = cdb;
	return 0;
}

/* A device reset restores the config defaults. */
static void vscsi_reset(struct vlb_dev *dev)
{
	struct vscsi *v = vlb_dev_priv(dev);

	v->target.sense_size = VSCSI_SENSE_SIZE;
	v->target.cdb_size = VSCSI_CDB_SIZE;
}

/* vlb_vq_handle_cb: a control or command request, answered at once. */
static int64_t vscsi_handle(struct vlb_dev *dev, unsigned int qidx,
			    struct vlb_vq_elem *elem, void *opaque)
{
	struct vscsi *v = opaque;
	uint32_t len;

	if (qidx == VSCSI_CTRL_Q)
		len = vscsi_handle_ctrl(&v->target, elem->out_sg, elem->out_num,
					elem->in_sg, elem->in_num);
	else
		len = vscsi_handle_cmd(&v->target, elem->out_sg, elem->out_num,
				       elem->in_sg, elem->in_num);
	if (!len)
		vlb_err(vlb_dev_name(dev), "vq %u: request %u has no room for a response",
			qidx, elem->index);
	return len;
}

static void vscsi_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	/* No events are ever reported: event buffers stay with us. */
	if (qidx == VSCSI_EVENT_Q)
		return;
	vlb_vq_serve(dev, qidx, VSCSI_BUDGET, vscsi_handle, vlb_dev_priv(dev));
}

static const struct vlb_dev_iface vscsi_iface = {
	.get_features	= vscsi_get_features,
	.get_config	= vscsi_get_config,
	.set_config	= vscsi_set_config,
	.queue_kick	= vscsi_queue_kick,
	.reset		= vscsi_reset,
};

/* Program ----------------------------------------------------------------- */

static const struct vlb_backend_option vscsi_options[] = {
	{ "lun", "FILE", "image file or block device of the next LUN (repeat)" },
	{ "read-only", NULL, "make the LUN given just before read-only" },
	{ "request-queues", "N", "request queues (default 1)" },
	{ NULL, NULL, NULL },
};

static int vscsi_parse_option(void *priv, const char *name, const char *arg)
{
	struct vscsi *v = priv;
	unsigned long n;
	char *end;

	if (!strcmp(name, "lun")) {
		if (v->nr_paths >= VSCSI_MAX_LUNS) {
			vlb_err(arg, "--lun: at most %u LUNs", VSCSI_MAX_LUNS);
			return -EINVAL;
		}
		v->paths[v->nr_paths++] = arg;
	} else if (!strcmp(name, "read-only")) {
		if (!v->nr_paths) {
			vlb_err("--read-only", "must follow the --lun it applies to");
			return -EINVAL;
		}
		v->ro[v->nr_paths - 1] = true;
	} else {
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || n < 1 || n > VSCSI_MAX_REQ_QUEUES) {
			vlb_err(arg, "--request-queues: not a number in 1..%u",
				VSCSI_MAX_REQ_QUEUES);
			return -EINVAL;
		}
		v->req_queues = n;
	}
	return 0;
}

static unsigned int vscsi_queues(void *priv)
{
	struct vscsi *v = priv;

	return VSCSI_FIRST_REQ_Q + v->req_queues;
}

static int vscsi_setup(struct vlb_dev *dev)
{
	struct vscsi *v = vlb_dev_priv(dev);
	unsigned int i;
	int ret;

	vscsi_target_init(&v->target);
	if (!v->nr_paths) {
		vlb_err(vlb_dev_name(dev), "no --lun given");
		return -EINVAL;
	}
	for (i = 0; i < v->nr_paths; i++) {
		ret = vscsi_lun_open(&v->target, v->paths[i], v->ro[i]);
		if (ret) {
			vlb_err(v->paths[i], "--lun %u: %s", i,
				ret == -EINVAL ? "not a regular file or block device of at least 512 bytes" :
				strerror(-ret));
			vscsi_target_close(&v->target);
			return ret;
		}
		vlb_log(v->paths[i], "LUN %u: %llu blocks of %u bytes%s, serial %s", i,
			(unsigned long long)v->target.luns[i].nblocks, VSCSI_BLOCK_SIZE,
			v->ro[i] ? ", read-only" : "", v->target.luns[i].serial);
	}
	return 0;
}

static void vscsi_teardown(struct vlb_dev *dev)
{
	struct vscsi *v = vlb_dev_priv(dev);

	vscsi_target_close(&v->target);
}

int main(int argc, char **argv)
{
	static const struct vlb_backend scsi = {
		.name		= "vhost-user-scsi",
		.type		= "scsi",
		.version	= VLB_VERSION,
		.iface		= &vscsi_iface,
		.nr_vqs		= VSCSI_FIRST_REQ_Q + 1,
		.priv		= &vscsi_dev,
		.options	= vscsi_options,
		.parse_option	= vscsi_parse_option,
		.queues		= vscsi_queues,
		.setup		= vscsi_setup,
		.teardown	= vscsi_teardown,
	};

	return vlb_backend_main(&scsi, argc, argv);
}
