/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vlb_names: printable names of virtio feature bits and status bits, and
 * of vhost-user requests and protocol feature bits.
 *
 * The one table of feature names in the tree: the management CLI decodes
 * sysfs with it, and logs that print features can use it too. Names are the
 * virtio spec's without the VIRTIO_<TYPE>_F_ prefix ("VERSION_1",
 * "SIZE_MAX", "MRG_RXBUF"); transport bits (24..41) are shared by every
 * device type. Numbers, not kernel header macros, so the table does not
 * depend on the age of the headers the tree is built with.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLB_NAMES_H
#define VLB_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * vlb_feature_name() - name of one feature bit
 * @device_id: virtio device id (1 net, 2 blk, ...); transport bits are
 *             named for any id
 * @bit: bit number, 0..63
 *
 * Returns: a static string, or NULL for a bit the table does not know.
 */
const char *vlb_feature_name(uint32_t device_id, unsigned int bit);

/**
 * vlb_features_str() - every set bit of a feature word, by name
 * @device_id: virtio device id
 * @features: the feature bits
 * @sep: put between two names (" ", ",")
 * @buf: output, NUL-terminated; an unknown bit reads "bit<N>"
 * @size: size of @buf
 *
 * Returns: the length the whole string needs (like snprintf); the output
 * was cut if that is >= @size.
 */
size_t vlb_features_str(uint32_t device_id, uint64_t features,
			const char *sep, char *buf, size_t size);

/**
 * vlb_status_name() - name of one device status bit (virtio spec 2.1)
 * @bit: bit number, 0..7
 *
 * Returns: "ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK",
 * "NEEDS_RESET", "FAILED", or NULL for a reserved bit.
 */
const char *vlb_status_name(unsigned int bit);

/**
 * vlb_status_str() - every set bit of a status byte, by name
 * @status: the status byte
 * @sep: put between two names
 * @buf: output, NUL-terminated; 0 reads "RESET", a reserved bit "bit<N>"
 * @size: size of @buf
 *
 * Returns: the length the whole string needs (like snprintf).
 */
size_t vlb_status_str(uint8_t status, const char *sep, char *buf, size_t size);

/**
 * vlb_vhost_request_name() - name of a vhost-user request number
 * @request: request number
 * @backend_channel: a back-end request (enum vhost_user_backend_request,
 *                   on the BACKEND_REQ channel), not a front-end one
 *
 * Returns: a static string without the VHOST_USER_ prefix
 * ("SET_MEM_TABLE", "CONFIG_CHANGE_MSG"), or NULL for a number the
 * protocol lacks. vlb_request_name() (vhost_user.h) never returns NULL.
 */
const char *vlb_vhost_request_name(uint32_t request, bool backend_channel);

/**
 * vlb_protocol_feature_name() - name of a vhost-user protocol feature bit
 * @bit: bit number (enum vhost_user_protocol_feature)
 *
 * Returns: a static string without the VHOST_USER_PROTOCOL_F_ prefix
 * ("MQ", "REPLY_ACK"), or NULL for a bit the table does not know.
 */
const char *vlb_protocol_feature_name(unsigned int bit);

/**
 * vlb_protocol_features_str() - every set bit of a protocol feature word
 * @features: the protocol feature bits
 * @sep: put between two names
 * @buf: output, NUL-terminated; an unknown bit reads "bit<N>"
 * @size: size of @buf
 *
 * Returns: the length the whole string needs (like snprintf).
 */
size_t vlb_protocol_features_str(uint64_t features, const char *sep,
				 char *buf, size_t size);

#endif /* VLB_NAMES_H */
