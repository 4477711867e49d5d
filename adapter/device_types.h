/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-loopback adapter: the table of virtio device types.
 *
 * One source of truth for what the adapter knows about each type: the name
 * accepted by --device, the virtio device id, how many bytes of config space
 * to ask the back-end for, and how many queues the driver uses when the
 * back-end does not say (no VHOST_USER_PROTOCOL_F_MQ). Per-type options of
 * later issues go here as well.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLA_DEVICE_TYPES_H
#define VLA_DEVICE_TYPES_H

#include <stdint.h>

/* Config size is not known: ask for the vhost-user maximum, take the reply. */
#define VLA_CONFIG_SIZE_UNKNOWN	UINT32_MAX

/**
 * struct vla_device_type - one virtio device type
 * @name: name on the command line; NULL for a bare number not in the table
 * @id: virtio device id (VIRTIO_ID_*)
 * @config_size: bytes of config space the driver may read, 0 for none, or
 *               VLA_CONFIG_SIZE_UNKNOWN
 * @config_size_for: if set, the config size depends on the features the
 *                   back-end offers (like QEMU's per-feature config sizes:
 *                   a libvhost-user back-end refuses a GET_CONFIG larger
 *                   than its own struct); overrides @config_size
 * @num_queues: queues the driver sets up when the back-end cannot tell
 */
struct vla_device_type {
	const char *name;
	uint32_t id;
	uint32_t config_size;
	uint32_t (*config_size_for)(uint64_t features);
	unsigned int num_queues;
};

/**
 * vla_device_type_parse() - find a device type by name or number
 * @s: a name from the table ("blk", "rng", ...) or a virtio device id in
 *     decimal or 0x-hex (1..65535)
 * @out: filled in on success; a number that is not in the table gives a
 *       nameless type with an unknown config size and one queue
 *
 * Returns: 0, -ENOENT for a name not in the table, -EINVAL for garbage or a
 * number out of range.
 */
int vla_device_type_parse(const char *s, struct vla_device_type *out);

/**
 * vla_device_type_config_size() - config bytes to ask the back-end for
 * @type: the device type
 * @features: features the back-end offers
 *
 * Returns: a size, 0 for none, or VLA_CONFIG_SIZE_UNKNOWN.
 */
uint32_t vla_device_type_config_size(const struct vla_device_type *type,
				     uint64_t features);

/**
 * vla_device_type_name() - printable name of a type
 * @type: the device type
 * Returns: its table name, or "unknown" for a bare number
 */
const char *vla_device_type_name(const struct vla_device_type *type);

/**
 * vla_device_types_list() - names in the table, for --help
 * @buf: output, NUL-terminated, names separated by ", "
 * @size: size of @buf
 */
void vla_device_types_list(char *buf, unsigned long size);

#endif /* VLA_DEVICE_TYPES_H */
