/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vlb_msg_dump: vhost-user messages decoded for --verbose, one line each.
 *
 * The one decoder of the tree: the adapter (front-end) logs what it sends
 * and receives with it, the back-end library what it receives and answers,
 * so both sides of a connection read the same. A line reads
 *
 *	DIR NAME flags 0xF (reply,need-reply) size N fds N: FIELDS
 *
 * NAME is the request's (vlb_names.c) or its number when the protocol
 * lacks it; FIELDS are the payload decoded for that request, feature words
 * by bit name. SET_MEM_TABLE adds one line per memory region. Nothing is
 * read beyond the payload bytes given, whatever the header's size says.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLB_MSG_DUMP_H
#define VLB_MSG_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost_user.h"
#include "vlb_log.h"

/**
 * vlb_msg_str() - one message decoded into one line
 * @hdr: the message header
 * @payload: the payload bytes (may be NULL when @len is 0)
 * @len: bytes readable at @payload; the decoder reads at most
 *       min(@len, @hdr->size) of them and says so when @hdr->size claims more
 * @nfds: file descriptors attached
 * @backend_channel: @hdr->request is a back-end request (BACKEND_REQ channel)
 * @device_id: virtio device id, to name device feature bits; 0 names only
 *             the transport's and vhost-user's
 * @buf: output, NUL-terminated, without a newline
 * @size: size of @buf
 *
 * Returns: the length the whole line needs (like snprintf); the output was
 * cut if that is >= @size.
 */
size_t vlb_msg_str(const struct vhost_user_header *hdr, const void *payload,
		   size_t len, unsigned int nfds, bool backend_channel,
		   uint32_t device_id, char *buf, size_t size);

/**
 * vlb_msg_region_str() - one memory region of a SET_MEM_TABLE
 * @hdr: the message header
 * @payload: the payload bytes
 * @len: bytes readable at @payload (as for vlb_msg_str())
 * @backend_channel: as for vlb_msg_str()
 * @i: region index
 * @buf: output, NUL-terminated: "region I: gpa 0x.. size 0x.. uaddr 0x..
 *       mmap_offset 0x.."
 * @size: size of @buf
 *
 * Returns: the length the line needs, or 0 (and an empty @buf) when the
 * message is not a SET_MEM_TABLE or region @i is not in the payload or
 * beyond its nregions.
 */
size_t vlb_msg_region_str(const struct vhost_user_header *hdr,
			  const void *payload, size_t len, bool backend_channel,
			  unsigned int i, char *buf, size_t size);

/**
 * vlb_msg_log() - log one message decoded, as VLB_DBG_MSG debug lines
 * @obj: object of the log lines (socket path), or NULL
 * @dir: direction as the reader should see it ("->", "<-")
 * @msg: the message; hdr.size bytes of payload, at most the union's
 * @backend_channel: as for vlb_msg_str()
 * @device_id: as for vlb_msg_str()
 *
 * Prints unconditionally; callers use vlb_msg_dbg().
 */
void vlb_msg_log(const char *obj, const char *dir,
		 const struct vhost_user_msg *msg, bool backend_channel,
		 uint32_t device_id);

/* vlb_msg_log() when VLB_DBG_MSG is on; one test of the mask when off. */
#define vlb_msg_dbg(obj, dir, msg, backend_channel, device_id)		\
	do {								\
		if (vlb_dbg_mask & VLB_DBG_MSG)				\
			vlb_msg_log(obj, dir, msg, backend_channel,	\
				    device_id);				\
	} while (0)

#endif /* VLB_MSG_DUMP_H */
