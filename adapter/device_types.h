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

/**
 * vla_device_type_vmm_features() - features a VMM implements, not a back-end
 * @type: the device type
 *
 * QEMU handles net's control queue (and what needs it) itself; so does the
 * adapter, for multiqueue only: these are hidden from the back-end's offer
 * (the adapter adds CTRL_VQ and MQ back when it serves them).
 * Returns: the feature bits to hide
 */
uint64_t vla_device_type_vmm_features(const struct vla_device_type *type);

/**
 * vla_device_type_backend_features() - the driver's features a back-end hears
 * @type: the device type
 * @features: features the driver accepted
 *
 * Features the front-end implements itself are not acked to the back-end
 * (as QEMU acks only its vhost-user feature bits): net's control queue.
 * MQ is, since the back-end serves the extra queue pairs.
 * Returns: @features without the front-end's own
 */
uint64_t vla_device_type_backend_features(const struct vla_device_type *type,
					  uint64_t features);

/**
 * vla_device_type_vmm_config() - config fields the front-end owns
 * @type: the device type
 * @features: features the driver is offered
 * @num_queues: queues of the device
 * @config: the config space, from the back-end or built by the adapter
 * @config_size: its size
 *
 * Written whatever the back-end supplied: net's max_virtqueue_pairs, when
 * the adapter offers MQ (it serves the control queue, the last queue).
 */
void vla_device_type_vmm_config(const struct vla_device_type *type,
				uint64_t features, unsigned int num_queues,
				uint8_t *config, uint32_t config_size);

/* Kinds of config fields the front-end can fill in. */
enum vla_field_kind {
	VLA_FIELD_MAC,		/* 6 bytes, "52:54:00:12:34:56" */
	VLA_FIELD_LE16,		/* a number in [min, max] */
	VLA_FIELD_LE32,
	VLA_FIELD_STRING,	/* min..max bytes, zero-padded to the size */
};

/* Longest config field the front-end fills in (virtio-fs tag). */
#define VLA_FIELD_MAX_SIZE	36

/**
 * struct vla_config_field - a config field a VMM normally supplies
 * @option: long option of the adapter ("mac")
 * @metavar: its argument in --help
 * @help: one line for --help
 * @type_id: the device type it belongs to (VIRTIO_ID_*)
 * @kind: how the argument is parsed and stored
 * @offset: where it lies in the config space
 * @size: bytes
 * @min: least value (numbers) or length (strings)
 * @max: largest value or length
 * @feature: feature bit that tells the driver the field is valid, or -1
 *
 * Many back-ends leave these to the VMM (virtiofsd has no tag, DPDK no
 * MAC): they are used only when the back-end supplies no config space.
 */
struct vla_config_field {
	const char *option;
	const char *metavar;
	const char *help;
	uint32_t type_id;
	enum vla_field_kind kind;
	uint16_t offset;
	uint16_t size;
	uint32_t min;
	uint32_t max;
	int feature;
};

/* Number of entries in the config field table. */
#define VLA_NUM_CONFIG_FIELDS	6

/**
 * vla_config_field() - an entry of the config field table
 * @i: index, 0..VLA_NUM_CONFIG_FIELDS - 1
 * Returns: the field, or NULL past the end
 */
const struct vla_config_field *vla_config_field(unsigned int i);

/**
 * vla_config_field_parse() - parse an option's argument into field bytes
 * @f: the field
 * @s: the argument
 * @out: @f->size bytes, as they go into the config space (little-endian)
 *
 * Returns: 0, or -EINVAL for a malformed or out-of-range argument.
 */
int vla_config_field_parse(const struct vla_config_field *f, const char *s,
			   uint8_t *out);

/**
 * vla_device_type_defaults() - config a VMM fills in without being asked
 * @type: the device type
 * @features: features the driver is offered
 * @num_queues: queues the device has
 * @config: the config space, at least the type's size for @features;
 *          fields already set (by options) are kept
 *
 * For a back-end with no config space: net's link is up, virtio-fs counts
 * its request queues.
 */
void vla_device_type_defaults(const struct vla_device_type *type,
			      uint64_t features, unsigned int num_queues,
			      uint8_t *config);

#endif /* VLA_DEVICE_TYPES_H */
