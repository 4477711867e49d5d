/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vhost-user wire protocol (QEMU docs/interop/vhost-user.rst): request
 * numbers, message layouts and the framing helpers shared by the adapter
 * (front-end) and our back-ends. One source of truth for the protocol.
 */
#ifndef VLB_VHOST_USER_H
#define VLB_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>

/* Front-end → back-end requests. */
enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	/* 35 is reserved by the spec. */
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_REQUEST_MAX
};

/* Back-end → front-end requests (on the BACKEND_REQ channel). */
enum vhost_user_backend_request {
	VHOST_USER_BACKEND_NONE = 0,
	VHOST_USER_BACKEND_IOTLB_MSG = 1,
	VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
	VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	VHOST_USER_BACKEND_REQUEST_MAX
};

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
enum vhost_user_protocol_feature {
	VHOST_USER_PROTOCOL_F_MQ = 0,
	VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	VHOST_USER_PROTOCOL_F_RARP = 2,
	VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	VHOST_USER_PROTOCOL_F_NET_MTU = 4,
	VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
	VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
	VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
	VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
	VHOST_USER_PROTOCOL_F_CONFIG = 9,
	VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
	VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
	VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
	VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
	VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	VHOST_USER_PROTOCOL_F_STATUS = 16,
	VHOST_USER_PROTOCOL_F_XEN_MMAP = 17,
	VHOST_USER_PROTOCOL_F_SHARED_OBJECT = 18,
	VHOST_USER_PROTOCOL_F_DEVICE_STATE = 19,
};

/* Virtio feature bit 30: the back-end speaks GET/SET_PROTOCOL_FEATURES. */
#define VHOST_USER_F_PROTOCOL_FEATURES	30
/* Virtio feature bit 26: vhost's dirty logging for live migration (VHOST_F_LOG_ALL). */
#define VHOST_USER_F_LOG_ALL		26

/* Header flags. */
#define VHOST_USER_VERSION		0x1
#define VHOST_USER_VERSION_MASK		0x3
#define VHOST_USER_REPLY_MASK		(1U << 2)
#define VHOST_USER_NEED_REPLY_MASK	(1U << 3)

/* u64 payload of SET_VRING_KICK/CALL/ERR. */
#define VHOST_USER_VRING_IDX_MASK	0xffULL
#define VHOST_USER_VRING_NOFD_MASK	(1ULL << 8)

/* Most fds one message may carry (the spec's VHOST_MEMORY_BASELINE_NREGIONS). */
#define VHOST_USER_MAX_FDS		8
#define VHOST_USER_MAX_MEM_REGIONS	8
#define VHOST_USER_MAX_CONFIG_SIZE	256

struct vhost_user_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes that follow */
} __attribute__((packed));

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
#define VHOST_USER_VRING_F_LOG	0
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vhost_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vhost_user_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MAX_MEM_REGIONS];
} __attribute__((packed));

/* ADD_MEM_REG / REM_MEM_REG payload (CONFIGURE_MEM_SLOTS): one region. */
struct vhost_user_mem_reg {
	uint64_t padding;
	struct vhost_user_mem_region region;
} __attribute__((packed));

struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
/* The spec's flag values: 0 for ordinary front-end writes, 1 for migration. */
#define VHOST_USER_CONFIG_F_FRONTEND	0x0
#define VHOST_USER_CONFIG_F_MIGRATION	0x1
	uint8_t region[VHOST_USER_MAX_CONFIG_SIZE];
} __attribute__((packed));

/* Size of the config message without its trailing data. */
#define VHOST_USER_CONFIG_HDR_SIZE	offsetof(struct vhost_user_config, region)

/*
 * GET/SET_INFLIGHT_FD payload. QEMU and libvhost-user declare it unpacked,
 * so 4 bytes of tail padding travel on the wire: 24 bytes, not 20.
 */
struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
} __attribute__((packed));

/* The size without the padding, which some front-ends may send. */
#define VHOST_USER_INFLIGHT_MIN_SIZE	offsetof(struct vhost_user_inflight, padding)

/* SET_LOG_BASE payload (LOG_SHMFD): the log's size and offset in its fd. */
struct vhost_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
} __attribute__((packed));

/* IOTLB_MSG payload, both channels (struct vhost_iotlb_msg of <linux/vhost_types.h>). */
struct vhost_user_iotlb {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
} __attribute__((packed));

/* Back-end VRING_HOST_NOTIFIER_MSG payload: u64 as in SET_VRING_KICK. */
struct vhost_user_vring_area {
	uint64_t u64;
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

union vhost_user_payload {
	uint64_t u64;
	struct vhost_user_vring_state state;
	struct vhost_user_vring_addr addr;
	struct vhost_user_mem_table memory;
	struct vhost_user_mem_reg mem_reg;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
};

/* Largest payload any request we handle may carry. */
#define VHOST_USER_MAX_PAYLOAD	sizeof(union vhost_user_payload)

/**
 * struct vhost_user_msg - one message with the fds that came with it
 * @hdr: wire header
 * @payload: wire payload (hdr.size bytes are valid)
 * @fds: file descriptors received or to send (SCM_RIGHTS)
 * @nfds: number of valid entries in @fds
 */
struct vhost_user_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload payload;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds;
};

/**
 * vlb_msg_send() - send one message and its fds on a unix stream socket
 * @sock: connected socket
 * @msg: header, hdr.size bytes of payload, nfds fds (not closed)
 *
 * Retries on EINTR and short writes.
 * Returns: 0, or a negative errno (-EPIPE when the peer has gone).
 */
int vlb_msg_send(int sock, const struct vhost_user_msg *msg);

/**
 * vlb_msg_recv() - receive one message and its fds
 * @sock: connected socket
 * @msg: filled in; msg->nfds fds are owned by the caller afterwards
 *
 * Rejects a payload larger than VHOST_USER_MAX_PAYLOAD or more than
 * VHOST_USER_MAX_FDS fds (closing any fds received).
 * Returns: 0, -ECONNRESET when the peer closed the socket before a header,
 * -EPROTO on a malformed or truncated message, or another negative errno.
 */
int vlb_msg_recv(int sock, struct vhost_user_msg *msg);

/**
 * vlb_msg_close_fds() - close the fds a message carries
 * @msg: message; nfds is reset to 0
 */
void vlb_msg_close_fds(struct vhost_user_msg *msg);

/**
 * vlb_request_name() - name of a front-end request, for logs (the table is
 * in vlb_names.c, with the other names; vlb_msg_dump.h decodes messages)
 * @request: request number
 * Returns: a static string, "UNKNOWN" for numbers the protocol lacks
 */
const char *vlb_request_name(uint32_t request);

/**
 * vlb_backend_request_name() - name of a back-end request, for logs
 * @request: request number (enum vhost_user_backend_request)
 * Returns: a static string, "UNKNOWN" for numbers the protocol lacks
 */
const char *vlb_backend_request_name(uint32_t request);

#endif /* VLB_VHOST_USER_H */
