/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-loopback adapter: a vhost-user front-end.
 *
 * Talks to one vhost-user back-end over its unix socket (QEMU
 * docs/interop/vhost-user.rst) and knows nothing about the kernel: the
 * caller hands it the memory region fd, the ring IOVAs and the eventfds.
 *
 * Life cycle:
 *   vuf_init()            once, before anything else
 *   vuf_connect() or vuf_attach()
 *   vuf_negotiate()       features, protocol features, owner, queue count,
 *                         back-end request channel
 *   vuf_get_config()      when VHOST_USER_PROTOCOL_F_CONFIG was negotiated
 *   vuf_start()/vuf_stop() any number of times (driver reset and re-probe)
 *   vuf_close()
 *
 * Every function returns 0 or a negative errno. On failure it writes one
 * line into vuf->err naming the socket, the request, the queue where there
 * is one, and the cause; the caller prints it (once).
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLA_VHOST_USER_FRONTEND_H
#define VLA_VHOST_USER_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"

/* How long a reply may take unless the caller says otherwise. */
#define VUF_DEFAULT_TIMEOUT_MS	10000

/* Most queues one device may have (bit per queue in a u64). */
#define VUF_MAX_QUEUES		64
/* Memory regions vuf_start() hands over (the kernel's zero-copy mode: 3). */
#define VUF_MAX_MEM_REGIONS	4

/* Ring sizes the front-end hands to a back-end. */
#define VUF_MAX_QUEUE_SIZE	32768

/*
 * userspace_addr of the one memory region in SET_MEM_TABLE. The back-end
 * only uses it as the key that translates the ring addresses of
 * SET_VRING_ADDR (userspace_addr + IOVA) into its own mapping; nothing is
 * mapped there in the adapter, which never touches the data. A fixed,
 * page-aligned, non-zero value far from 0 keeps U + IOVA non-zero and
 * distinct from every guest-physical address.
 */
#define VUF_MEM_UADDR		0x100000000000ULL

/*
 * Protocol features the front-end uses when the back-end offers them.
 * CONFIG: config space from the back-end. REPLY_ACK: every request without
 * a reply is acknowledged, so a back-end error is noticed where it happens.
 * BACKEND_REQ: config-change notifications. RESET_DEVICE and STATUS: the
 * cleanest stop and start.
 */
#define VUF_PROTOCOL_FEATURES \
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_STATUS) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))

/* Largest inflight file we map (256 queues of 32768: 128 MiB). */
#define VUF_INFLIGHT_MAX_SIZE	(256ULL << 20)

/*
 * Feature bits that are vhost(-user) business, not the device's: protocol
 * features, and VHOST_F_LOG_ALL (26, dirty logging for live migration).
 * Never offered to a driver.
 */
#define VUF_VHOST_ONLY_FEATURES \
	((1ULL << VHOST_USER_F_PROTOCOL_FEATURES) | \
	 (1ULL << VHOST_USER_F_LOG_ALL))

/**
 * struct vuf_vring - one queue as the driver laid it out
 * @num: ring size; 0 means the driver did not set the queue up (skipped)
 * @desc: IOVA of the descriptor table
 * @avail: IOVA of the driver (available) ring
 * @used: IOVA of the device (used) ring
 * @kick_fd: eventfd the back-end waits on (not owned; sent, not closed)
 * @call_fd: eventfd the back-end signals (not owned; sent, not closed)
 * @disabled: start the ring but leave it disabled (virtio-net queue pairs
 *            the driver does not use yet); vuf_set_vring_enable() enables
 *            it later. Without protocol features rings are always enabled.
 * @base: avail index the back-end starts at (0 for a fresh ring; after a
 *        back-end restart, what VIRTIO_LOOPBACK_REWIND_VQ gave)
 */
struct vuf_vring {
	uint32_t num;
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	int kick_fd;
	int call_fd;
	bool disabled;
	uint16_t base;
};

/**
 * struct vuf - one connection to a back-end
 * @sock: the vhost-user socket, or -1
 * @backend_fd: our end of the back-end request channel, or -1
 * @name: socket path (or a label) used in messages
 * @timeout_ms: how long to wait for each reply
 * @device_id: virtio device id, for feature names in --verbose lines; 0
 *             (after vuf_init()) names only transport and vhost-user bits
 * @protocol_wanted: protocol features to negotiate when offered;
 *                   VUF_PROTOCOL_FEATURES after vuf_init(), callers (tests)
 *                   may narrow it before vuf_negotiate()
 * @features: virtio features the back-end offers (GET_FEATURES)
 * @protocol_features: protocol features negotiated
 * @queue_num: GET_QUEUE_NUM's answer when MQ was negotiated, else 0
 * @mem_size: size of region 0 handed over by the last vuf_start()
 * @started: bit per queue handed to the back-end by vuf_start()
 * @running: vuf_start() has begun and vuf_stop() has not run
 * @config_changed: the back-end announced a config change that has been
 *                  acked but not yet handled (see vuf_flush_config_change())
 * @err: the last failure, one line without the program name
 */
struct vuf {
	int sock;
	int backend_fd;
	char name[128];
	int timeout_ms;
	uint32_t device_id;
	uint64_t protocol_wanted;
	uint64_t features;
	uint64_t protocol_features;
	uint32_t queue_num;
	uint64_t mem_size;
	uint64_t started;
	bool running;
	bool config_changed;
	char err[512];

	/*
	 * The back-end's inflight record (INFLIGHT_SHMFD): the device's, not
	 * the connection's, so it outlives vuf_close() and goes with
	 * vuf_stop() (a driver reset: new rings) or vuf_inflight_free().
	 */
	int inflight_fd;
	uint8_t *inflight_map;
	uint64_t inflight_size;
	uint64_t inflight_offset;
	uint16_t inflight_queues;
	uint16_t inflight_qsize;
};

/**
 * vuf_init() - prepare a front-end; nothing is opened
 * @f: the front-end
 * @timeout_ms: reply timeout in milliseconds; <= 0 selects the default
 */
void vuf_init(struct vuf *f, int timeout_ms);

/**
 * vuf_connect() - connect to a back-end's unix socket
 * @f: an initialised, unconnected front-end
 * @path: socket path
 *
 * Returns: 0, or -errno of socket()/connect() (-ENOENT, -ECONNREFUSED,
 * -ENOTSOCK ...), -ENAMETOOLONG when @path does not fit sun_path.
 */
int vuf_connect(struct vuf *f, const char *path);

/**
 * vuf_attach() - use an already connected socket
 * @f: an initialised, unconnected front-end
 * @sock: a connected unix stream socket; owned by @f from now on, even when
 *        this fails
 * @name: label for messages
 *
 * Returns: 0 or -errno.
 */
int vuf_attach(struct vuf *f, int sock, const char *name);

/**
 * vuf_inflight_active() - whether the back-end will resubmit from its own
 * inflight record: INFLIGHT_SHMFD negotiated and a record kept from an
 * earlier start (a back-end restart hands it to the new one)
 * @f: the front-end, negotiated
 */
bool vuf_inflight_active(const struct vuf *f);

/**
 * vuf_inflight_owed() - chains the record marks in flight for a queue
 * @f: the front-end
 * @index: queue
 *
 * For the log; the back-end's own count may differ by a batch it had
 * completed and not cleared. Read bounded by what we mapped.
 * Returns: the count, 0 without a record.
 */
unsigned int vuf_inflight_owed(const struct vuf *f, unsigned int index);

/**
 * vuf_inflight_free() - forget the inflight record (unmap, close)
 * @f: the front-end
 */
void vuf_inflight_free(struct vuf *f);

/**
 * vuf_has_protocol_feature() - whether a protocol feature was negotiated
 * @f: the front-end
 * @bit: VHOST_USER_PROTOCOL_F_*
 * Returns: true when negotiated
 */
static inline bool vuf_has_protocol_feature(const struct vuf *f,
					    unsigned int bit)
{
	return f->protocol_features & (1ULL << bit);
}

/**
 * vuf_negotiate() - learn the device from the back-end
 * @f: a connected front-end
 *
 * Sends, in QEMU's order: GET_FEATURES; GET_PROTOCOL_FEATURES and
 * SET_PROTOCOL_FEATURES (offered & @f->protocol_wanted) when the back-end
 * offers VHOST_USER_F_PROTOCOL_FEATURES; GET_QUEUE_NUM when MQ;
 * SET_BACKEND_REQ_FD (one end of a socketpair) when BACKEND_REQ; SET_OWNER.
 *
 * Returns: 0; -ECONNRESET when the back-end hung up; -ETIMEDOUT when it did
 * not answer in time; -EPROTO for a malformed reply; -EIO when it reported
 * a failure; another -errno.
 */
int vuf_negotiate(struct vuf *f);

/**
 * vuf_get_config() - read the config space (GET_CONFIG)
 * @f: a negotiated front-end with VHOST_USER_PROTOCOL_F_CONFIG
 * @buf: receives the bytes
 * @size: bytes to ask for, 1..VHOST_USER_MAX_CONFIG_SIZE
 * @exact: true when the reply must carry @size bytes; false to accept any
 *         non-empty reply up to @size
 * @got: (out, may be NULL) bytes received
 *
 * Returns: 0; -EOPNOTSUPP without the CONFIG feature; -EIO when the
 * back-end refused (empty reply); -EPROTO for a malformed reply; see
 * vuf_negotiate() for the rest.
 */
int vuf_get_config(struct vuf *f, uint8_t *buf, uint32_t size, bool exact,
		   uint32_t *got);

/**
 * vuf_set_config() - forward a driver's config write (SET_CONFIG)
 * @f: a negotiated front-end with VHOST_USER_PROTOCOL_F_CONFIG
 * @offset: offset of the write in the config space
 * @data: the bytes
 * @len: 1..VHOST_USER_MAX_CONFIG_SIZE - @offset
 *
 * Returns: 0, -EOPNOTSUPP without CONFIG, -EINVAL for a bad range, or a
 * protocol error as for vuf_negotiate().
 */
int vuf_set_config(struct vuf *f, uint32_t offset, const void *data,
		   uint32_t len);

/**
 * struct vuf_mem - the memory a back-end gets
 * @nregions: 1..VUF_MAX_MEM_REGIONS
 * @regions: the regions: IOVA of the first byte, size, fd (mapped from
 *           offset 0). Region 0 starts at IOVA 0 and holds the rings.
 *           Regions must not overlap.
 */
struct vuf_mem {
	unsigned int nregions;
	struct vuf_mem_region {
		uint64_t iova;
		uint64_t size;
		int fd;
	} regions[VUF_MAX_MEM_REGIONS];
};

/**
 * vuf_start() - hand the memory, the rings and the eventfds to the back-end
 * @f: a negotiated, stopped front-end
 * @features: features the driver accepted; masked with what the back-end
 *            offers, without VUF_VHOST_ONLY_FEATURES;
 *            VHOST_USER_F_PROTOCOL_FEATURES added when negotiated
 * @status: virtio device status to report (SET_STATUS, when negotiated)
 * @mem: the memory regions (fds sent, not closed)
 * @vrings: @nvrings queues; entries with num 0 are skipped
 * @nvrings: 1..VUF_MAX_QUEUES
 *
 * Order: SET_FEATURES, SET_MEM_TABLE, per queue SET_VRING_NUM,
 * SET_VRING_BASE 0, SET_VRING_ADDR, SET_VRING_CALL, SET_VRING_KICK (the
 * call fd is in place before the ring can start), then SET_VRING_ENABLE 1
 * per queue not @disabled when protocol features were negotiated, then
 * SET_STATUS.
 * On failure the front-end stays "running" so vuf_stop() can undo a partial
 * start.
 *
 * Returns: 0; -EBUSY when already running; -EINVAL for a ring outside
 * region 0 or bad regions; a protocol error as for vuf_negotiate().
 */
int vuf_start(struct vuf *f, uint64_t features, uint8_t status,
	      const struct vuf_mem *mem, const struct vuf_vring *vrings,
	      unsigned int nvrings);

/**
 * vuf_set_vring_enable() - enable or disable a started ring
 * @f: a running front-end
 * @index: queue index
 * @enable: the new state
 *
 * SET_VRING_ENABLE, as QEMU sends it when the virtio-net driver changes
 * the number of queue pairs. Without VHOST_USER_F_PROTOCOL_FEATURES rings
 * cannot be disabled (spec: "Ring states") and nothing is sent, as in
 * QEMU; nor for a queue vuf_start() did not start.
 *
 * Returns: 0 or a protocol error as for vuf_negotiate().
 */
int vuf_set_vring_enable(struct vuf *f, unsigned int index, bool enable);

/**
 * vuf_stop() - stop the back-end's rings
 * @f: the front-end; a no-op when not running
 *
 * SET_VRING_ENABLE 0 per started queue (with protocol features), SET_STATUS
 * 0 (with STATUS), then RESET_DEVICE when negotiated, else GET_VRING_BASE per
 * started queue. The front-end is stopped afterwards even on failure.
 *
 * Returns: 0 or a protocol error as for vuf_negotiate().
 */
int vuf_stop(struct vuf *f);

/**
 * vuf_check_idle() - handle the vhost-user socket becoming readable
 * @f: the front-end, with no request outstanding
 *
 * A back-end never speaks first on this socket: readable means it hung up
 * (or broke the protocol).
 *
 * Returns: -ECONNRESET when the back-end closed the connection, -EPROTO for
 * an unsolicited message, -EAGAIN when nothing was there after all.
 */
int vuf_check_idle(struct vuf *f);

/**
 * typedef vuf_config_change_cb - the back-end says its config changed
 * @opaque: the caller's pointer
 * Returns: 0 or -errno
 */
typedef int (*vuf_config_change_cb)(void *opaque);

/**
 * vuf_handle_backend_req() - serve one message on the back-end channel
 * @f: the front-end; call when @f->backend_fd is readable
 * @config_change: called for VHOST_USER_BACKEND_CONFIG_CHANGE_MSG (or
 *                 one remembered earlier), after the acknowledgement was
 *                 sent (the back-end may wait for it before it answers
 *                 GET_CONFIG)
 * @opaque: passed to @config_change
 *
 * Returns at once when nothing is waiting (a request seen by the
 * caller's poll() may have been served during an earlier reply wait).
 * Unknown or malformed requests are refused (a non-zero ack when one was
 * asked for). When the back-end closed the channel, it is closed here and
 * f->backend_fd becomes -1.
 *
 * Returns: 0 (including refused requests), -ECONNRESET when the channel was
 * closed, the callback's error, or another -errno.
 */
int vuf_handle_backend_req(struct vuf *f, vuf_config_change_cb config_change,
			   void *opaque);

/**
 * vuf_flush_config_change() - handle a config change acked earlier
 * @f: the front-end, with no request outstanding
 * @config_change: called once if f->config_changed was set; the flag is
 *                 cleared first
 * @opaque: passed to @config_change
 *
 * Config changes that arrive while the front-end waits for a reply are
 * acked at once (so the back-end is not blocked) and only remembered;
 * callers run this after every operation.
 *
 * Returns: 0 or the callback's error.
 */
int vuf_flush_config_change(struct vuf *f, vuf_config_change_cb config_change,
			    void *opaque);

/**
 * vuf_close() - close the sockets; @f can be vuf_init()ed again
 * @f: the front-end
 */
void vuf_close(struct vuf *f);

/**
 * vuf_now_ms() - CLOCK_MONOTONIC in milliseconds, for bounded waits
 * Returns: the time
 */
int64_t vuf_now_ms(void);

#endif /* VLA_VHOST_USER_FRONTEND_H */
