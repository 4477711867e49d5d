// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback adapter: the table of virtio device types.
 *
 * Config sizes come from the uapi structs of the kernel headers the adapter
 * is built with. Queue counts are the virtio spec's base counts (without
 * optional features such as net's control queue or console's MULTIPORT).
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_balloon.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_console.h>
#include <linux/virtio_crypto.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_gpio.h>
#include <linux/virtio_gpu.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_input.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_mem.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pmem.h>
#include <linux/virtio_scsi.h>
#include <linux/virtio_snd.h>
#include <linux/virtio_vsock.h>
#include <linux/virtio_loopback.h>

#include "device_types.h"
#include "vlb_compiler.h"

#define VLA_ENDOF(type, member)	\
	(offsetof(type, member) + sizeof(((type *)0)->member))

#define VLA_F(bit)	(1ULL << (bit))

/*
 * virtio-blk: the fields up to num_queues always exist; the rest only with
 * the feature that guards them (virtio spec 5.2.4). Asking for exactly what
 * the features allow keeps us within the struct of an older back-end.
 */
static uint32_t vla_blk_config_size(uint64_t features)
{
	size_t size = offsetof(struct virtio_blk_config, max_discard_sectors);

	if (features & VLA_F(VIRTIO_BLK_F_DISCARD))
		size = VLA_ENDOF(struct virtio_blk_config,
				 discard_sector_alignment);
	if (features & VLA_F(VIRTIO_BLK_F_WRITE_ZEROES))
		size = VLA_ENDOF(struct virtio_blk_config,
				 write_zeroes_may_unmap);
#ifdef VIRTIO_BLK_F_SECURE_ERASE
	if (features & VLA_F(VIRTIO_BLK_F_SECURE_ERASE))
		size = VLA_ENDOF(struct virtio_blk_config,
				 secure_erase_sector_alignment);
#endif
#ifdef VIRTIO_BLK_F_ZONED
	if (features & VLA_F(VIRTIO_BLK_F_ZONED))
		size = VLA_ENDOF(struct virtio_blk_config, zoned);
#endif
	return size;
}

/* virtio-net: mac always; each later field with its feature (spec 5.1.4). */
static uint32_t vla_net_config_size(uint64_t features)
{
	size_t size = VLA_ENDOF(struct virtio_net_config, mac);

	if (features & VLA_F(VIRTIO_NET_F_STATUS))
		size = VLA_ENDOF(struct virtio_net_config, status);
	if (features & VLA_F(VIRTIO_NET_F_MQ))
		size = VLA_ENDOF(struct virtio_net_config, max_virtqueue_pairs);
	if (features & VLA_F(VIRTIO_NET_F_MTU))
		size = VLA_ENDOF(struct virtio_net_config, mtu);
	if (features & VLA_F(VIRTIO_NET_F_SPEED_DUPLEX))
		size = VLA_ENDOF(struct virtio_net_config, duplex);
	if (features & (VLA_F(VIRTIO_NET_F_RSS) |
			VLA_F(VIRTIO_NET_F_HASH_REPORT)))
		size = VLA_ENDOF(struct virtio_net_config, supported_hash_types);
	return size;
}

/* Control-queue features newer than some kernel headers (virtio 1.3). */
#ifndef VIRTIO_NET_F_DEVICE_STATS
#define VIRTIO_NET_F_DEVICE_STATS	50
#endif
#ifndef VIRTIO_NET_F_VQ_NOTF_COAL
#define VIRTIO_NET_F_VQ_NOTF_COAL	52
#endif
#ifndef VIRTIO_NET_F_NOTF_COAL
#define VIRTIO_NET_F_NOTF_COAL		53
#endif

/*
 * virtio-net features that QEMU implements in the front-end, not in a
 * vhost-user back-end: the control queue and every feature that needs it.
 * The adapter serves the control queue only for MQ (net_ctrl.c), and
 * offers CTRL_VQ and MQ itself when it does; the rest stay hidden.
 */
#define VLA_NET_VMM_FEATURES \
	(VLA_F(VIRTIO_NET_F_CTRL_VQ) | VLA_F(VIRTIO_NET_F_CTRL_RX) | \
	 VLA_F(VIRTIO_NET_F_CTRL_VLAN) | VLA_F(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
	 VLA_F(VIRTIO_NET_F_GUEST_ANNOUNCE) | VLA_F(VIRTIO_NET_F_MQ) | \
	 VLA_F(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
	 VLA_F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | VLA_F(VIRTIO_NET_F_RSS) | \
	 VLA_F(VIRTIO_NET_F_HASH_REPORT) | VLA_F(VIRTIO_NET_F_DEVICE_STATS) | \
	 VLA_F(VIRTIO_NET_F_VQ_NOTF_COAL) | VLA_F(VIRTIO_NET_F_NOTF_COAL))

/*
 * Of those, the ones a back-end must hear of when the driver accepts them:
 * MQ (DPDK keeps only the first pair's rings without it, as QEMU's
 * vhost-user net acks it). The control queue itself is never the
 * back-end's business.
 */
#define VLA_NET_BACKEND_VMM_FEATURES	VLA_F(VIRTIO_NET_F_MQ)

/*
 * The table. Sorted by virtio id. Types the kernel headers have no config
 * struct for use the spec's layout size (can) or 0 where the spec defines
 * no config space (rng, i2c, scmi).
 */
static const struct vla_device_type vla_device_types[] = {
	/* One queue pair unless --queues asks for more (then + control queue). */
	{ "net", VIRTIO_ID_NET, 0, vla_net_config_size, 2 },
	{ "blk", VIRTIO_ID_BLOCK, 0, vla_blk_config_size, 1 },
	{ "console", VIRTIO_ID_CONSOLE,
	  sizeof(struct virtio_console_config), NULL, 2 },
	{ "rng", VIRTIO_ID_RNG, 0, NULL, 1 },
	{ "balloon", VIRTIO_ID_BALLOON,
	  sizeof(struct virtio_balloon_config), NULL, 2 },
	{ "scsi", VIRTIO_ID_SCSI, sizeof(struct virtio_scsi_config), NULL, 3 },
	/* virtio_9p_config ends in a flexible tag: take what comes back. */
	{ "9p", VIRTIO_ID_9P, VLA_CONFIG_SIZE_UNKNOWN, NULL, 1 },
	{ "gpu", VIRTIO_ID_GPU, sizeof(struct virtio_gpu_config), NULL, 2 },
	{ "input", VIRTIO_ID_INPUT, sizeof(struct virtio_input_config), NULL, 2 },
	{ "vsock", VIRTIO_ID_VSOCK, sizeof(struct virtio_vsock_config), NULL, 3 },
	{ "crypto", VIRTIO_ID_CRYPTO,
	  sizeof(struct virtio_crypto_config), NULL, 2 },
	{ "iommu", VIRTIO_ID_IOMMU, sizeof(struct virtio_iommu_config), NULL, 2 },
	{ "mem", VIRTIO_ID_MEM, sizeof(struct virtio_mem_config), NULL, 1 },
	{ "sound", VIRTIO_ID_SOUND, sizeof(struct virtio_snd_config), NULL, 4 },
	{ "fs", VIRTIO_ID_FS, sizeof(struct virtio_fs_config), NULL, 2 },
	{ "pmem", VIRTIO_ID_PMEM, sizeof(struct virtio_pmem_config), NULL, 1 },
	{ "scmi", VIRTIO_ID_SCMI, 0, NULL, 2 },
	{ "i2c", VIRTIO_ID_I2C_ADAPTER, 0, NULL, 1 },
	/* virtio-can config: le16 status (spec 5.22.4). */
	{ "can", VIRTIO_ID_CAN, 2, NULL, 3 },
	{ "gpio", VIRTIO_ID_GPIO, sizeof(struct virtio_gpio_config), NULL, 2 },
};

#define VLA_NUM_DEVICE_TYPES	ARRAY_SIZE(vla_device_types)

/* Largest device id accepted as a bare number. */
#define VLA_MAX_DEVICE_ID	0xffff

int vla_device_type_parse(const char *s, struct vla_device_type *out)
{
	unsigned long long id;
	char *end;
	size_t i;

	if (!s || !*s)
		return -EINVAL;

	for (i = 0; i < VLA_NUM_DEVICE_TYPES; i++) {
		if (!strcmp(s, vla_device_types[i].name)) {
			*out = vla_device_types[i];
			return 0;
		}
	}

	if (s[0] < '0' || s[0] > '9')
		return -ENOENT;

	errno = 0;
	id = strtoull(s, &end, 0);
	if (errno || *end || id == 0 || id > VLA_MAX_DEVICE_ID)
		return -EINVAL;

	for (i = 0; i < VLA_NUM_DEVICE_TYPES; i++) {
		if (vla_device_types[i].id == id) {
			*out = vla_device_types[i];
			return 0;
		}
	}
	*out = (struct vla_device_type) {
		.name = NULL,
		.id = id,
		.config_size = VLA_CONFIG_SIZE_UNKNOWN,
		.num_queues = 1,
	};
	return 0;
}

#define VLA_FIELD(type, member)	\
	.offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

static const struct vla_config_field vla_config_fields[VLA_NUM_CONFIG_FIELDS] = {
	{ "mac", "MAC", "net: the MAC address (when the back-end has none)",
	  VIRTIO_ID_NET, VLA_FIELD_MAC, VLA_FIELD(struct virtio_net_config, mac),
	  0, 0, VIRTIO_NET_F_MAC },
	/* 68: the IPv4 minimum (RFC 791); the driver refuses less. */
	{ "mtu", "N", "net: the MTU the device reports (68..65535)",
	  VIRTIO_ID_NET, VLA_FIELD_LE16, VLA_FIELD(struct virtio_net_config, mtu),
	  68, 65535, VIRTIO_NET_F_MTU },
	{ "tag", "TAG", "fs: the mount tag (1..36 bytes)",
	  VIRTIO_ID_FS, VLA_FIELD_STRING, VLA_FIELD(struct virtio_fs_config, tag),
	  1, 36, -1 },
	{ "request-queues", "N", "fs: request queues (default: all the back-end has)",
	  VIRTIO_ID_FS, VLA_FIELD_LE32,
	  VLA_FIELD(struct virtio_fs_config, num_request_queues),
	  1, VIRTIO_LOOPBACK_MAX_QUEUES - 1, -1 },
	{ "cols", "N", "console: columns of the console (1..65535)",
	  VIRTIO_ID_CONSOLE, VLA_FIELD_LE16,
	  VLA_FIELD(struct virtio_console_config, cols), 1, 65535,
	  VIRTIO_CONSOLE_F_SIZE },
	{ "rows", "N", "console: rows of the console (1..65535)",
	  VIRTIO_ID_CONSOLE, VLA_FIELD_LE16,
	  VLA_FIELD(struct virtio_console_config, rows), 1, 65535,
	  VIRTIO_CONSOLE_F_SIZE },
};

const struct vla_config_field *vla_config_field(unsigned int i)
{
	return i < VLA_NUM_CONFIG_FIELDS ? &vla_config_fields[i] : NULL;
}

static int vla_parse_mac(const char *s, uint8_t *out)
{
	unsigned int i;

	for (i = 0; i < 6; i++) {
		char hex[3] = { 0 };
		char *end;

		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		hex[0] = s[0];
		hex[1] = s[1];
		out[i] = strtoul(hex, &end, 16);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	/* A multicast address cannot be a station's (IEEE 802 I/G bit). */
	return out[0] & 1 ? -EINVAL : 0;
}

int vla_config_field_parse(const struct vla_config_field *f, const char *s,
			   uint8_t *out)
{
	unsigned long long v;
	size_t len;
	char *end;

	memset(out, 0, f->size);
	switch (f->kind) {
	case VLA_FIELD_MAC:
		return vla_parse_mac(s, out);
	case VLA_FIELD_STRING:
		len = strlen(s);
		if (len < f->min || len > f->max || len > f->size)
			return -EINVAL;
		memcpy(out, s, len);
		return 0;
	case VLA_FIELD_LE16:
	case VLA_FIELD_LE32:
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || *end || v < f->min || v > f->max)
			return -EINVAL;
		out[0] = v;
		out[1] = v >> 8;
		if (f->kind == VLA_FIELD_LE32) {
			out[2] = v >> 16;
			out[3] = v >> 24;
		}
		return 0;
	}
	return -EINVAL;
}

uint64_t vla_device_type_vmm_features(const struct vla_device_type *type)
{
	return type->id == VIRTIO_ID_NET ? VLA_NET_VMM_FEATURES : 0;
}

uint64_t vla_device_type_backend_features(const struct vla_device_type *type,
					  uint64_t features)
{
	if (type->id != VIRTIO_ID_NET)
		return features;
	return features & ~(VLA_NET_VMM_FEATURES & ~VLA_NET_BACKEND_VMM_FEATURES);
}

void vla_device_type_vmm_config(const struct vla_device_type *type,
				uint64_t features, unsigned int num_queues,
				uint8_t *config, uint32_t config_size)
{
	size_t off = offsetof(struct virtio_net_config, max_virtqueue_pairs);
	unsigned int pairs = (num_queues - 1) / 2;

	/* The adapter serves the control queue: it says how many pairs. */
	if (type->id != VIRTIO_ID_NET ||
	    !(features & VLA_F(VIRTIO_NET_F_MQ)) || num_queues < 3 ||
	    config_size < VLA_ENDOF(struct virtio_net_config, max_virtqueue_pairs))
		return;
	config[off] = pairs;
	config[off + 1] = pairs >> 8;
}

void vla_device_type_defaults(const struct vla_device_type *type,
			      uint64_t features, unsigned int num_queues,
			      uint8_t *config)
{
	switch (type->id) {
	case VIRTIO_ID_NET:
		/* Without a status the link is up; with one, say so. */
		if (features & VLA_F(VIRTIO_NET_F_STATUS))
			config[offsetof(struct virtio_net_config, status)] |=
				VIRTIO_NET_S_LINK_UP;
		break;
	case VIRTIO_ID_FS: {
		size_t off = offsetof(struct virtio_fs_config, num_request_queues);
		uint32_t n = num_queues > 1 ? num_queues - 1 : 1;

		/* One hiprio queue, the rest carry requests (spec 5.11.2). */
		if (!config[off] && !config[off + 1] && !config[off + 2] &&
		    !config[off + 3]) {
			config[off] = n;
			config[off + 1] = n >> 8;
		}
		break;
	}
	default:
		break;
	}
}

uint32_t vla_device_type_config_size(const struct vla_device_type *type,
				     uint64_t features)
{
	if (type->config_size_for)
		return type->config_size_for(features);
	return type->config_size;
}

const char *vla_device_type_name(const struct vla_device_type *type)
{
	return type->name ? type->name : "unknown";
}

void vla_device_types_list(char *buf, unsigned long size)
{
	size_t i, used = 0;

	if (!size)
		return;
	buf[0] = '\0';
	for (i = 0; i < VLA_NUM_DEVICE_TYPES; i++) {
		int n = snprintf(buf + used, size - used, "%s%s",
				 i ? ", " : "", vla_device_types[i].name);

		if (n < 0 || (size_t)n >= size - used)
			return;
		used += n;
	}
}
