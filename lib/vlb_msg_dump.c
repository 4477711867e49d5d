// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vlb_msg_dump: vhost-user messages decoded for logs (QEMU
 * docs/interop/vhost-user.rst, "Front-end message types" and "Back-end
 * message types").
 *
 * A table says, per request number, how its payload reads going out and
 * in the reply. Every field is copied out of the payload after a length
 * check, so a message whose size lies, a payload cut short or a request
 * nobody knows prints what is there (in hex when it fits no layout) and
 * never reads past the bytes given.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <inttypes.h>
#include <string.h>

#include "vlb_msg_dump.h"
#include "vlb_names.h"
#include "vlb_priv.h"

/* Payload bytes shown in hex when they fit no layout, or of config data. */
#define VLB_DUMP_HEX_MAX	16

/* How one payload reads. */
enum vlb_dump_kind {
	VLB_D_RAW,		/* unknown: hex */
	VLB_D_NONE,		/* no payload */
	VLB_D_ACK,		/* u64: 0 success, else failure (REPLY_ACK) */
	VLB_D_U64,		/* u64 with the table's label */
	VLB_D_FEATURES,		/* u64 virtio feature bits */
	VLB_D_PROTOCOL,		/* u64 protocol feature bits */
	VLB_D_STATUS,		/* u64 device status */
	VLB_D_RARP,		/* u64 holding a MAC address */
	VLB_D_STATE,		/* vring index and a number with the label */
	VLB_D_STATE_INDEX,	/* vring index; num unused */
	VLB_D_FILE,		/* u64 vring index | NOFD (KICK, CALL, ERR) */
	VLB_D_ADDR,		/* ring addresses */
	VLB_D_MEM_TABLE,	/* nregions, regions on their own lines */
	VLB_D_MEM_REG,		/* one region (ADD/REM_MEM_REG) */
	VLB_D_LOG,		/* log size and offset */
	VLB_D_IOTLB,		/* IOTLB update or invalidation */
	VLB_D_CONFIG,		/* config space window and data */
	VLB_D_INFLIGHT,		/* inflight buffer description */
	VLB_D_AREA,		/* host notifier area */
};

struct vlb_dump_rule {
	uint8_t request;	/* enum vlb_dump_kind of the request */
	uint8_t reply;		/* enum vlb_dump_kind of its reply */
	const char *label;	/* what VLB_D_U64 and VLB_D_STATE's number is */
};

#define VLB_RULE(req, rq, rp, lbl) \
	[VHOST_USER_##req] = { VLB_D_##rq, VLB_D_##rp, lbl }

/* Front-end requests; a number missing here dumps as VLB_D_RAW. */
static const struct vlb_dump_rule vlb_frontend_rules[VHOST_USER_REQUEST_MAX] = {
	VLB_RULE(GET_FEATURES, NONE, FEATURES, NULL),
	VLB_RULE(SET_FEATURES, FEATURES, ACK, NULL),
	VLB_RULE(SET_OWNER, NONE, ACK, NULL),
	VLB_RULE(RESET_OWNER, NONE, ACK, NULL),
	VLB_RULE(SET_MEM_TABLE, MEM_TABLE, ACK, NULL),
	VLB_RULE(SET_LOG_BASE, LOG, ACK, NULL),
	VLB_RULE(SET_LOG_FD, NONE, ACK, NULL),
	VLB_RULE(SET_VRING_NUM, STATE, ACK, "num"),
	VLB_RULE(SET_VRING_ADDR, ADDR, ACK, NULL),
	VLB_RULE(SET_VRING_BASE, STATE, ACK, "base"),
	VLB_RULE(GET_VRING_BASE, STATE_INDEX, STATE, "base"),
	VLB_RULE(SET_VRING_KICK, FILE, ACK, NULL),
	VLB_RULE(SET_VRING_CALL, FILE, ACK, NULL),
	VLB_RULE(SET_VRING_ERR, FILE, ACK, NULL),
	VLB_RULE(GET_PROTOCOL_FEATURES, NONE, PROTOCOL, NULL),
	VLB_RULE(SET_PROTOCOL_FEATURES, PROTOCOL, ACK, NULL),
	VLB_RULE(GET_QUEUE_NUM, NONE, U64, "queues"),
	VLB_RULE(SET_VRING_ENABLE, STATE, ACK, "enable"),
	VLB_RULE(SEND_RARP, RARP, ACK, NULL),
	VLB_RULE(NET_SET_MTU, U64, ACK, "mtu"),
	VLB_RULE(SET_BACKEND_REQ_FD, NONE, ACK, NULL),
	VLB_RULE(IOTLB_MSG, IOTLB, ACK, NULL),
	VLB_RULE(SET_VRING_ENDIAN, STATE, ACK, "endian"),
	VLB_RULE(GET_CONFIG, CONFIG, CONFIG, NULL),
	VLB_RULE(SET_CONFIG, CONFIG, ACK, NULL),
	VLB_RULE(GET_INFLIGHT_FD, INFLIGHT, INFLIGHT, NULL),
	VLB_RULE(SET_INFLIGHT_FD, INFLIGHT, ACK, NULL),
	VLB_RULE(GPU_SET_SOCKET, NONE, ACK, NULL),
	VLB_RULE(RESET_DEVICE, NONE, ACK, NULL),
	VLB_RULE(GET_MAX_MEM_SLOTS, NONE, U64, "slots"),
	VLB_RULE(ADD_MEM_REG, MEM_REG, ACK, NULL),
	VLB_RULE(REM_MEM_REG, MEM_REG, ACK, NULL),
	VLB_RULE(SET_STATUS, STATUS, ACK, NULL),
	VLB_RULE(GET_STATUS, NONE, STATUS, NULL),
};

#define VLB_BRULE(req, rq, rp) \
	[VHOST_USER_BACKEND_##req] = { VLB_D_##rq, VLB_D_##rp, NULL }

/* Back-end requests (BACKEND_REQ channel). */
static const struct vlb_dump_rule vlb_backend_rules[VHOST_USER_BACKEND_REQUEST_MAX] = {
	VLB_BRULE(IOTLB_MSG, IOTLB, ACK),
	VLB_BRULE(CONFIG_CHANGE_MSG, NONE, ACK),
	VLB_BRULE(VRING_HOST_NOTIFIER_MSG, AREA, ACK),
};

/* Bytes the fixed layouts need; 0 for those of variable size. */
static const uint8_t vlb_dump_size[] = {
	[VLB_D_ACK] = sizeof(uint64_t),
	[VLB_D_U64] = sizeof(uint64_t),
	[VLB_D_FEATURES] = sizeof(uint64_t),
	[VLB_D_PROTOCOL] = sizeof(uint64_t),
	[VLB_D_STATUS] = sizeof(uint64_t),
	[VLB_D_RARP] = sizeof(uint64_t),
	[VLB_D_STATE] = sizeof(struct vhost_user_vring_state),
	[VLB_D_STATE_INDEX] = sizeof(struct vhost_user_vring_state),
	[VLB_D_FILE] = sizeof(uint64_t),
	[VLB_D_ADDR] = sizeof(struct vhost_user_vring_addr),
	[VLB_D_MEM_TABLE] = offsetof(struct vhost_user_mem_table, regions),
	[VLB_D_MEM_REG] = sizeof(struct vhost_user_mem_reg),
	[VLB_D_LOG] = sizeof(struct vhost_user_log),
	[VLB_D_IOTLB] = sizeof(struct vhost_user_iotlb),
	[VLB_D_CONFIG] = VHOST_USER_CONFIG_HDR_SIZE,
	[VLB_D_INFLIGHT] = VHOST_USER_INFLIGHT_MIN_SIZE,
	[VLB_D_AREA] = sizeof(struct vhost_user_vring_area),
};

/* The output line being built and the payload it describes. */
struct vlb_dump {
	const uint8_t *p;	/* payload, NULL when len is 0 */
	size_t len;		/* bytes of it we may read */
	char *buf;
	size_t size;
	size_t used;
};

#define vlb_put(d, ...)	vlb_append((d)->buf, (d)->size, &(d)->used, __VA_ARGS__)

static const struct vlb_dump_rule *vlb_dump_rule(uint32_t request,
						 bool backend_channel)
{
	if (backend_channel)
		return request < ARRAY_SIZE(vlb_backend_rules) ?
		       &vlb_backend_rules[request] : NULL;
	return request < ARRAY_SIZE(vlb_frontend_rules) ?
	       &vlb_frontend_rules[request] : NULL;
}

/*
 * Copy @n bytes at @off of the payload into @dst; false (and @dst zeroed)
 * when they are not all there.
 */
static bool vlb_dump_get(const struct vlb_dump *d, size_t off, void *dst,
			 size_t n)
{
	if (off > d->len || n > d->len - off) {
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, d->p + off, n);
	return true;
}

/* Up to VLB_DUMP_HEX_MAX payload bytes from @off, after @label. */
static void vlb_dump_hex(struct vlb_dump *d, const char *label, size_t off)
{
	size_t i, n;

	if (off >= d->len)
		return;
	n = d->len - off;
	vlb_put(d, "%s", label);
	for (i = 0; i < n && i < VLB_DUMP_HEX_MAX; i++)
		vlb_put(d, " %02x", d->p[off + i]);
	if (n > VLB_DUMP_HEX_MAX)
		vlb_put(d, " ...");
}

static void vlb_dump_region(struct vlb_dump *d,
			    const struct vhost_user_mem_region *r)
{
	vlb_put(d, "gpa 0x%" PRIx64 " size 0x%" PRIx64 " uaddr 0x%" PRIx64
		" mmap_offset 0x%" PRIx64, r->guest_phys_addr, r->memory_size,
		r->userspace_addr, r->mmap_offset);
}

/* Number of regions SET_MEM_TABLE claims, and how many are in the payload. */
static void vlb_dump_nregions(const struct vlb_dump *d, uint32_t *claimed,
			      size_t *present)
{
	size_t hdr = offsetof(struct vhost_user_mem_table, regions);

	*claimed = 0;
	*present = 0;
	if (!vlb_dump_get(d, 0, claimed, sizeof(*claimed)) || d->len < hdr)
		return;
	*present = (d->len - hdr) / sizeof(struct vhost_user_mem_region);
}

static void vlb_dump_config(struct vlb_dump *d)
{
	struct vhost_user_config c;
	size_t data = d->len - VHOST_USER_CONFIG_HDR_SIZE;

	vlb_dump_get(d, 0, &c, VHOST_USER_CONFIG_HDR_SIZE);
	vlb_put(d, ": offset %" PRIu32 " size %" PRIu32 " flags 0x%" PRIx32,
		c.offset, c.size, c.flags);
	if (c.size != data)
		vlb_put(d, " (%zu data bytes)", data);
	vlb_dump_hex(d, " data", VHOST_USER_CONFIG_HDR_SIZE);
}

/* The fields of a payload of @kind that is at least vlb_dump_size[kind]. */
static void vlb_dump_fields(struct vlb_dump *d, enum vlb_dump_kind kind,
			    const char *label, uint32_t device_id)
{
	struct vhost_user_vring_state st;
	struct vhost_user_vring_addr a;
	struct vhost_user_mem_reg reg;
	struct vhost_user_log log;
	struct vhost_user_iotlb tlb;
	struct vhost_user_inflight inf;
	struct vhost_user_vring_area area;
	uint32_t claimed;
	size_t present;
	uint64_t v = 0;

	if (!label)
		label = "value";
	vlb_dump_get(d, 0, &v, sizeof(v));
	switch (kind) {
	case VLB_D_ACK:
		vlb_put(d, ": ack %" PRIu64 " (%s)", v, v ? "failed" : "ok");
		break;
	case VLB_D_U64:
		vlb_put(d, ": %s %" PRIu64, label, v);
		break;
	case VLB_D_FEATURES:
		vlb_put(d, ": features 0x%" PRIx64 " (", v);
		d->used += vlb_features_str(device_id, v, ",",
					    d->used < d->size ? d->buf + d->used : NULL,
					    d->used < d->size ? d->size - d->used : 0);
		vlb_put(d, ")");
		break;
	case VLB_D_PROTOCOL:
		vlb_put(d, ": protocol features 0x%" PRIx64 " (", v);
		d->used += vlb_protocol_features_str(v, ",",
					d->used < d->size ? d->buf + d->used : NULL,
					d->used < d->size ? d->size - d->used : 0);
		vlb_put(d, ")");
		break;
	case VLB_D_STATUS: {
		char s[96];

		vlb_status_str((uint8_t)v, ",", s, sizeof(s));
		vlb_put(d, ": status 0x%" PRIx64 " (%s)", v, s);
		break;
	}
	case VLB_D_RARP: {
		uint8_t mac[8];

		memcpy(mac, &v, sizeof(mac));
		vlb_put(d, ": mac %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
			mac[2], mac[3], mac[4], mac[5]);
		break;
	}
	case VLB_D_STATE:
		vlb_dump_get(d, 0, &st, sizeof(st));
		vlb_put(d, ": vring %" PRIu32 " %s %" PRIu32, st.index, label,
			st.num);
		break;
	case VLB_D_STATE_INDEX:
		vlb_dump_get(d, 0, &st, sizeof(st));
		vlb_put(d, ": vring %" PRIu32, st.index);
		break;
	case VLB_D_FILE:
		vlb_put(d, ": vring %u%s", (unsigned int)(v & VHOST_USER_VRING_IDX_MASK),
			v & VHOST_USER_VRING_NOFD_MASK ? " nofd" : "");
		if (v & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
			vlb_put(d, " (u64 0x%" PRIx64 ")", v);
		break;
	case VLB_D_ADDR:
		vlb_dump_get(d, 0, &a, sizeof(a));
		vlb_put(d, ": vring %" PRIu32 " flags 0x%" PRIx32 " desc 0x%" PRIx64
			" used 0x%" PRIx64 " avail 0x%" PRIx64 " log 0x%" PRIx64,
			a.index, a.flags, a.desc_user_addr, a.used_user_addr,
			a.avail_user_addr, a.log_guest_addr);
		break;
	case VLB_D_MEM_TABLE:
		vlb_dump_nregions(d, &claimed, &present);
		vlb_put(d, ": nregions %" PRIu32, claimed);
		if (present != claimed)
			vlb_put(d, " (%zu in the payload)", present);
		break;
	case VLB_D_MEM_REG:
		vlb_dump_get(d, 0, &reg, sizeof(reg));
		vlb_put(d, ": ");
		vlb_dump_region(d, &reg.region);
		break;
	case VLB_D_LOG:
		vlb_dump_get(d, 0, &log, sizeof(log));
		vlb_put(d, ": mmap_size 0x%" PRIx64 " mmap_offset 0x%" PRIx64,
			log.mmap_size, log.mmap_offset);
		break;
	case VLB_D_IOTLB:
		vlb_dump_get(d, 0, &tlb, sizeof(tlb));
		vlb_put(d, ": iova 0x%" PRIx64 " size 0x%" PRIx64 " uaddr 0x%" PRIx64
			" perm %u type %u", tlb.iova, tlb.size, tlb.uaddr,
			tlb.perm, tlb.type);
		break;
	case VLB_D_CONFIG:
		vlb_dump_config(d);
		break;
	case VLB_D_INFLIGHT:
		memset(&inf, 0, sizeof(inf));
		vlb_dump_get(d, 0, &inf, VHOST_USER_INFLIGHT_MIN_SIZE);
		vlb_put(d, ": mmap_size 0x%" PRIx64 " mmap_offset 0x%" PRIx64
			" queues %u queue_size %u", inf.mmap_size, inf.mmap_offset,
			inf.num_queues, inf.queue_size);
		break;
	case VLB_D_AREA:
		vlb_dump_get(d, 0, &area, sizeof(area));
		vlb_put(d, ": vring %u%s size 0x%" PRIx64 " offset 0x%" PRIx64,
			(unsigned int)(area.u64 & VHOST_USER_VRING_IDX_MASK),
			area.u64 & VHOST_USER_VRING_NOFD_MASK ? " nofd" : "",
			area.size, area.offset);
		break;
	case VLB_D_RAW:
	case VLB_D_NONE:
		break;
	}
}

size_t vlb_msg_str(const struct vhost_user_header *hdr, const void *payload,
		   size_t len, unsigned int nfds, bool backend_channel,
		   uint32_t device_id, char *buf, size_t size)
{
	struct vlb_dump d = {
		.p = payload,
		.len = len < hdr->size ? len : hdr->size,
		.buf = buf,
		.size = size,
	};
	const struct vlb_dump_rule *rule = vlb_dump_rule(hdr->request, backend_channel);
	const char *name = vlb_vhost_request_name(hdr->request, backend_channel);
	bool reply = hdr->flags & VHOST_USER_REPLY_MASK;
	enum vlb_dump_kind kind = VLB_D_RAW;
	uint32_t version = hdr->flags & VHOST_USER_VERSION_MASK;
	const char *sep = " (";

	if (!d.p)
		d.len = 0;
	if (size)
		buf[0] = '\0';
	if (rule && name)
		kind = reply ? rule->reply : rule->request;

	if (!name)
		vlb_put(&d, "%s%" PRIu32, backend_channel ? "BACKEND_" : "",
			hdr->request);
	else
		vlb_put(&d, "%s%s", backend_channel ? "BACKEND_" : "", name);
	vlb_put(&d, " flags 0x%" PRIx32, hdr->flags);
	if (version != VHOST_USER_VERSION) {
		vlb_put(&d, "%sversion %" PRIu32, sep, version);
		sep = ",";
	}
	if (reply) {
		vlb_put(&d, "%sreply", sep);
		sep = ",";
	}
	if (hdr->flags & VHOST_USER_NEED_REPLY_MASK) {
		vlb_put(&d, "%sneed-reply", sep);
		sep = ",";
	}
	if (*sep == ',')
		vlb_put(&d, ")");
	vlb_put(&d, " size %" PRIu32 " fds %u", hdr->size, nfds);

	if (kind == VLB_D_NONE && d.len)
		kind = VLB_D_RAW;
	if (kind != VLB_D_RAW && kind != VLB_D_NONE &&
	    d.len < vlb_dump_size[kind]) {
		vlb_put(&d, ": short payload, %zu bytes, %u expected", d.len,
			vlb_dump_size[kind]);
		vlb_dump_hex(&d, "; payload", 0);
	} else if (kind == VLB_D_RAW) {
		vlb_dump_hex(&d, ": payload", 0);
	} else {
		vlb_dump_fields(&d, kind, rule->label, device_id);
		/* Variable layouts account for their own tail. */
		if (vlb_dump_size[kind] && kind != VLB_D_MEM_TABLE &&
		    kind != VLB_D_CONFIG && d.len > vlb_dump_size[kind])
			vlb_put(&d, " (%zu more bytes)", d.len - vlb_dump_size[kind]);
	}
	if (hdr->size > d.len)
		vlb_put(&d, " (%zu of %" PRIu32 " payload bytes present)", d.len,
			hdr->size);
	return d.used;
}

size_t vlb_msg_region_str(const struct vhost_user_header *hdr,
			  const void *payload, size_t len, bool backend_channel,
			  unsigned int i, char *buf, size_t size)
{
	struct vlb_dump d = {
		.p = payload,
		.len = len < hdr->size ? len : hdr->size,
		.buf = buf,
		.size = size,
	};
	struct vhost_user_mem_region r;
	uint32_t claimed;
	size_t present;

	if (size)
		buf[0] = '\0';
	if (!d.p || backend_channel || hdr->request != VHOST_USER_SET_MEM_TABLE ||
	    (hdr->flags & VHOST_USER_REPLY_MASK))
		return 0;
	vlb_dump_nregions(&d, &claimed, &present);
	if (i >= claimed || i >= present)
		return 0;
	vlb_dump_get(&d, offsetof(struct vhost_user_mem_table, regions) +
		     (size_t)i * sizeof(r), &r, sizeof(r));
	vlb_put(&d, "region %u: ", i);
	vlb_dump_region(&d, &r);
	return d.used;
}

void vlb_msg_log(const char *obj, const char *dir,
		 const struct vhost_user_msg *msg, bool backend_channel,
		 uint32_t device_id)
{
	size_t len = msg->hdr.size < sizeof(msg->payload) ?
		     msg->hdr.size : sizeof(msg->payload);
	char line[768];
	unsigned int i;

	vlb_msg_str(&msg->hdr, &msg->payload, len, msg->nfds, backend_channel,
		    device_id, line, sizeof(line));
	vlb_log_dbg(obj, "%s %s", dir, line);
	for (i = 0; vlb_msg_region_str(&msg->hdr, &msg->payload, len,
				       backend_channel, i, line, sizeof(line)); i++)
		vlb_log_dbg(obj, "%s %s %s", dir,
			    vlb_request_name(msg->hdr.request), line);
}
