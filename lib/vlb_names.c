// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vlb_names: printable names of virtio feature and status bits, and of
 * vhost-user requests and protocol feature bits.
 *
 * Bit numbers from the virtio 1.3 specification (sections 2.1 and 6 for the
 * transport, each device type's "Feature bits" section for the rest). The
 * vhost-user names are made from the enums of vhost_user.h, so a number
 * and its name cannot drift apart.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <stdarg.h>
#include <stdio.h>

#include "vhost_user.h"
#include "vlb_compiler.h"
#include "vlb_names.h"
#include "vlb_priv.h"

struct vlb_bit_name {
	uint32_t device_id;	/* 0: transport, any device */
	uint8_t bit;
	const char *name;
};

/* Sorted by device id, then bit. */
static const struct vlb_bit_name vlb_feature_names[] = {
	/* Transport and ring features (spec 6). */
	{ 0, 24, "NOTIFY_ON_EMPTY" },
	/* vhost's dirty log, never a driver's (VHOST_F_LOG_ALL). */
	{ 0, VHOST_USER_F_LOG_ALL, "LOG_ALL" },
	{ 0, 27, "ANY_LAYOUT" },
	{ 0, 28, "RING_INDIRECT_DESC" },
	{ 0, 29, "RING_EVENT_IDX" },
	/* vhost-user's, never a driver's (vhost-user.rst). */
	{ 0, VHOST_USER_F_PROTOCOL_FEATURES, "PROTOCOL_FEATURES" },
	{ 0, 32, "VERSION_1" },
	{ 0, 33, "ACCESS_PLATFORM" },
	{ 0, 34, "RING_PACKED" },
	{ 0, 35, "IN_ORDER" },
	{ 0, 36, "ORDER_PLATFORM" },
	{ 0, 37, "SR_IOV" },
	{ 0, 38, "NOTIFICATION_DATA" },
	{ 0, 39, "NOTIF_CONFIG_DATA" },
	{ 0, 40, "RING_RESET" },
	{ 0, 41, "ADMIN_VQ" },
	/* 1: net (5.1.3). */
	{ 1, 0, "CSUM" },
	{ 1, 1, "GUEST_CSUM" },
	{ 1, 2, "CTRL_GUEST_OFFLOADS" },
	{ 1, 3, "MTU" },
	{ 1, 5, "MAC" },
	{ 1, 6, "GSO" },
	{ 1, 7, "GUEST_TSO4" },
	{ 1, 8, "GUEST_TSO6" },
	{ 1, 9, "GUEST_ECN" },
	{ 1, 10, "GUEST_UFO" },
	{ 1, 11, "HOST_TSO4" },
	{ 1, 12, "HOST_TSO6" },
	{ 1, 13, "HOST_ECN" },
	{ 1, 14, "HOST_UFO" },
	{ 1, 15, "MRG_RXBUF" },
	{ 1, 16, "STATUS" },
	{ 1, 17, "CTRL_VQ" },
	{ 1, 18, "CTRL_RX" },
	{ 1, 19, "CTRL_VLAN" },
	{ 1, 20, "CTRL_RX_EXTRA" },
	{ 1, 21, "GUEST_ANNOUNCE" },
	{ 1, 22, "MQ" },
	{ 1, 23, "CTRL_MAC_ADDR" },
	{ 1, 50, "DEVICE_STATS" },
	{ 1, 52, "VQ_NOTF_COAL" },
	{ 1, 53, "NOTF_COAL" },
	{ 1, 54, "GUEST_USO4" },
	{ 1, 55, "GUEST_USO6" },
	{ 1, 56, "HOST_USO" },
	{ 1, 57, "HASH_REPORT" },
	{ 1, 59, "GUEST_HDRLEN" },
	{ 1, 60, "RSS" },
	{ 1, 61, "RSC_EXT" },
	{ 1, 62, "STANDBY" },
	{ 1, 63, "SPEED_DUPLEX" },
	/* 2: blk (5.2.3). */
	{ 2, 0, "BARRIER" },
	{ 2, 1, "SIZE_MAX" },
	{ 2, 2, "SEG_MAX" },
	{ 2, 4, "GEOMETRY" },
	{ 2, 5, "RO" },
	{ 2, 6, "BLK_SIZE" },
	{ 2, 7, "SCSI" },
	{ 2, 9, "FLUSH" },
	{ 2, 10, "TOPOLOGY" },
	{ 2, 11, "CONFIG_WCE" },
	{ 2, 12, "MQ" },
	{ 2, 13, "DISCARD" },
	{ 2, 14, "WRITE_ZEROES" },
	{ 2, 15, "LIFETIME" },
	{ 2, 16, "SECURE_ERASE" },
	{ 2, 17, "ZONED" },
	/* 3: console (5.3.3). */
	{ 3, 0, "SIZE" },
	{ 3, 1, "MULTIPORT" },
	{ 3, 2, "EMERG_WRITE" },
	/* 5: balloon (5.5.3). */
	{ 5, 0, "MUST_TELL_HOST" },
	{ 5, 1, "STATS_VQ" },
	{ 5, 2, "DEFLATE_ON_OOM" },
	{ 5, 3, "FREE_PAGE_HINT" },
	{ 5, 4, "PAGE_POISON" },
	{ 5, 5, "REPORTING" },
	/* 8: scsi (5.6.3). */
	{ 8, 0, "INOUT" },
	{ 8, 1, "HOTPLUG" },
	{ 8, 2, "CHANGE" },
	{ 8, 3, "T10_PI" },
	/* 9: 9p. */
	{ 9, 0, "MOUNT_TAG" },
	/* 16: gpu (5.7.3). */
	{ 16, 0, "VIRGL" },
	{ 16, 1, "EDID" },
	{ 16, 2, "RESOURCE_UUID" },
	{ 16, 3, "RESOURCE_BLOB" },
	{ 16, 4, "CONTEXT_INIT" },
	/* 19: vsock (5.10.3). */
	{ 19, 0, "STREAM" },
	{ 19, 1, "SEQPACKET" },
	/* 23: iommu (5.13.3). */
	{ 23, 0, "INPUT_RANGE" },
	{ 23, 1, "DOMAIN_RANGE" },
	{ 23, 2, "MAP_UNMAP" },
	{ 23, 3, "BYPASS" },
	{ 23, 4, "PROBE" },
	{ 23, 5, "MMIO" },
	{ 23, 6, "BYPASS_CONFIG" },
	/* 24: mem (5.15.3). */
	{ 24, 0, "ACPI_PXM" },
	{ 24, 1, "UNPLUGGED_INACCESSIBLE" },
	/* 25: sound (5.14.3). */
	{ 25, 0, "CTLS" },
	/* 32: scmi (5.17.3). */
	{ 32, 0, "P2A_CHANNELS" },
	{ 32, 1, "SHARED_MEMORY" },
	/* 34: i2c (5.19.3). */
	{ 34, 0, "ZERO_LENGTH_REQUEST" },
	/* 36: can (5.22.3). */
	{ 36, 0, "CAN_CLASSIC" },
	{ 36, 1, "CAN_FD" },
	{ 36, 2, "LATE_TX_ACK" },
	{ 36, 3, "RTR_FRAMES" },
	/* 41: gpio (5.20.3). */
	{ 41, 0, "IRQ" },
};

static const char *const vlb_status_names[8] = {
	[0] = "ACKNOWLEDGE",
	[1] = "DRIVER",
	[2] = "DRIVER_OK",
	[3] = "FEATURES_OK",
	[6] = "NEEDS_RESET",
	[7] = "FAILED",
};

#define VLB_REQ(name) \
	[VHOST_USER_##name] = #name

static const char *const vlb_request_names[VHOST_USER_REQUEST_MAX] = {
	VLB_REQ(NONE),
	VLB_REQ(GET_FEATURES),
	VLB_REQ(SET_FEATURES),
	VLB_REQ(SET_OWNER),
	VLB_REQ(RESET_OWNER),
	VLB_REQ(SET_MEM_TABLE),
	VLB_REQ(SET_LOG_BASE),
	VLB_REQ(SET_LOG_FD),
	VLB_REQ(SET_VRING_NUM),
	VLB_REQ(SET_VRING_ADDR),
	VLB_REQ(SET_VRING_BASE),
	VLB_REQ(GET_VRING_BASE),
	VLB_REQ(SET_VRING_KICK),
	VLB_REQ(SET_VRING_CALL),
	VLB_REQ(SET_VRING_ERR),
	VLB_REQ(GET_PROTOCOL_FEATURES),
	VLB_REQ(SET_PROTOCOL_FEATURES),
	VLB_REQ(GET_QUEUE_NUM),
	VLB_REQ(SET_VRING_ENABLE),
	VLB_REQ(SEND_RARP),
	VLB_REQ(NET_SET_MTU),
	VLB_REQ(SET_BACKEND_REQ_FD),
	VLB_REQ(IOTLB_MSG),
	VLB_REQ(SET_VRING_ENDIAN),
	VLB_REQ(GET_CONFIG),
	VLB_REQ(SET_CONFIG),
	VLB_REQ(CREATE_CRYPTO_SESSION),
	VLB_REQ(CLOSE_CRYPTO_SESSION),
	VLB_REQ(POSTCOPY_ADVISE),
	VLB_REQ(POSTCOPY_LISTEN),
	VLB_REQ(POSTCOPY_END),
	VLB_REQ(GET_INFLIGHT_FD),
	VLB_REQ(SET_INFLIGHT_FD),
	VLB_REQ(GPU_SET_SOCKET),
	VLB_REQ(RESET_DEVICE),
	VLB_REQ(GET_MAX_MEM_SLOTS),
	VLB_REQ(ADD_MEM_REG),
	VLB_REQ(REM_MEM_REG),
	VLB_REQ(SET_STATUS),
	VLB_REQ(GET_STATUS),
};

#define VLB_BREQ(name) \
	[VHOST_USER_BACKEND_##name] = #name

static const char *const vlb_backend_request_names[VHOST_USER_BACKEND_REQUEST_MAX] = {
	VLB_BREQ(NONE),
	VLB_BREQ(IOTLB_MSG),
	VLB_BREQ(CONFIG_CHANGE_MSG),
	VLB_BREQ(VRING_HOST_NOTIFIER_MSG),
};

#define VLB_PROTO(name) \
	[VHOST_USER_PROTOCOL_F_##name] = #name

static const char *const vlb_protocol_feature_names[] = {
	VLB_PROTO(MQ),
	VLB_PROTO(LOG_SHMFD),
	VLB_PROTO(RARP),
	VLB_PROTO(REPLY_ACK),
	VLB_PROTO(NET_MTU),
	VLB_PROTO(BACKEND_REQ),
	VLB_PROTO(CROSS_ENDIAN),
	VLB_PROTO(CRYPTO_SESSION),
	VLB_PROTO(PAGEFAULT),
	VLB_PROTO(CONFIG),
	VLB_PROTO(BACKEND_SEND_FD),
	VLB_PROTO(HOST_NOTIFIER),
	VLB_PROTO(INFLIGHT_SHMFD),
	VLB_PROTO(RESET_DEVICE),
	VLB_PROTO(INBAND_NOTIFICATIONS),
	VLB_PROTO(CONFIGURE_MEM_SLOTS),
	VLB_PROTO(STATUS),
	VLB_PROTO(XEN_MMAP),
	VLB_PROTO(SHARED_OBJECT),
	VLB_PROTO(DEVICE_STATE),
};

const char *vlb_vhost_request_name(uint32_t request, bool backend_channel)
{
	if (backend_channel)
		return request < ARRAY_SIZE(vlb_backend_request_names) ?
		       vlb_backend_request_names[request] : NULL;
	return request < ARRAY_SIZE(vlb_request_names) ?
	       vlb_request_names[request] : NULL;
}

const char *vlb_request_name(uint32_t request)
{
	const char *name = vlb_vhost_request_name(request, false);

	return name ? name : "UNKNOWN";
}

const char *vlb_backend_request_name(uint32_t request)
{
	const char *name = vlb_vhost_request_name(request, true);

	return name ? name : "UNKNOWN";
}

const char *vlb_protocol_feature_name(unsigned int bit)
{
	return bit < ARRAY_SIZE(vlb_protocol_feature_names) ?
	       vlb_protocol_feature_names[bit] : NULL;
}

const char *vlb_feature_name(uint32_t device_id, unsigned int bit)
{
	size_t i;

	/* Bits 24..41 are the transport's whatever the device (spec 6). */
	if (bit >= 24 && bit <= 41)
		device_id = 0;
	for (i = 0; i < ARRAY_SIZE(vlb_feature_names); i++) {
		const struct vlb_bit_name *n = &vlb_feature_names[i];

		if (n->device_id == device_id && n->bit == bit)
			return n->name;
	}
	return NULL;
}

const char *vlb_status_name(unsigned int bit)
{
	return bit < ARRAY_SIZE(vlb_status_names) ? vlb_status_names[bit] : NULL;
}

void vlb_append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	size_t room = *used < size ? size - *used : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? buf + *used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += n;
}

/* Every set bit of @bits by name: @name(@device_id, bit), else "bit<N>". */
static size_t vlb_bits_str(const char *(*name_of)(uint32_t, unsigned int),
			   uint32_t device_id, uint64_t bits, const char *sep,
			   char *buf, size_t size)
{
	size_t used = 0;
	unsigned int bit;

	if (size)
		buf[0] = '\0';
	for (bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(bits & (1ULL << bit)))
			continue;
		name = name_of(device_id, bit);
		if (used)
			vlb_append(buf, size, &used, "%s", sep);
		if (name)
			vlb_append(buf, size, &used, "%s", name);
		else
			vlb_append(buf, size, &used, "bit%u", bit);
	}
	return used;
}

size_t vlb_features_str(uint32_t device_id, uint64_t features,
			const char *sep, char *buf, size_t size)
{
	return vlb_bits_str(vlb_feature_name, device_id, features, sep, buf, size);
}

static const char *vlb_protocol_bit_name(uint32_t unused, unsigned int bit)
{
	(void)unused;
	return vlb_protocol_feature_name(bit);
}

size_t vlb_protocol_features_str(uint64_t features, const char *sep,
				 char *buf, size_t size)
{
	return vlb_bits_str(vlb_protocol_bit_name, 0, features, sep, buf, size);
}

size_t vlb_status_str(uint8_t status, const char *sep, char *buf, size_t size)
{
	size_t used = 0;
	unsigned int bit;

	if (size)
		buf[0] = '\0';
	if (!status) {
		vlb_append(buf, size, &used, "RESET");
		return used;
	}
	for (bit = 0; bit < 8; bit++) {
		const char *name;

		if (!(status & (1U << bit)))
			continue;
		name = vlb_status_name(bit);
		if (used)
			vlb_append(buf, size, &used, "%s", sep);
		if (name)
			vlb_append(buf, size, &used, "%s", name);
		else
			vlb_append(buf, size, &used, "bit%u", bit);
	}
	return used;
}
