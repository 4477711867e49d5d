/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-loopback adapter: virtio-net's control queue, served by the
 * adapter as a VMM serves it.
 *
 * A vhost-user net back-end never sees the control queue: in a VM, QEMU
 * answers it and turns VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET into
 * VHOST_USER_SET_VRING_ENABLE on the back-end's data queues. The adapter
 * does the same: it maps the device's memory region, takes requests off
 * the ring with libvlb's bounds-checked vring code (through
 * vlb_dev_attach_local(), so no vhost-user socket is involved), answers
 * VIRTIO_NET_OK or VIRTIO_NET_ERR, signals the queue's call eventfd, and
 * then has the back-end's rings follow (net_ctrl.c says why in that
 * order).
 * The only class served is VIRTIO_NET_CTRL_MQ, command VQ_PAIRS_SET;
 * everything else is answered VIRTIO_NET_ERR, which is right only because
 * the features that would send it are never offered.
 *
 * Life cycle:
 *   vla_net_ctrl_new()      once, with the number of queue pairs
 *   vla_net_ctrl_start()    at DRIVER_OK, with the control ring
 *   vla_net_ctrl_handle_kick() when vla_net_ctrl_kick_fd() is readable
 *   vla_net_ctrl_reset()    at reset (the driver uses one pair again)
 *   vla_net_ctrl_free()
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLA_NET_CTRL_H
#define VLA_NET_CTRL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vlb.h"

struct vla_net_ctrl;

/**
 * typedef vla_net_set_pairs_cb - the driver now uses @pairs queue pairs
 * @opaque: as given to vla_net_ctrl_new()
 * @pairs: 1..the maximum; pairs below it are to be enabled, the rest
 *         disabled
 *
 * Called after the driver was answered VIRTIO_NET_OK.
 * Returns: 0, or -errno when the back-end did not follow (the callback
 * logged why); vla_net_ctrl_handle_kick() then returns it
 */
typedef int (*vla_net_set_pairs_cb)(void *opaque, unsigned int pairs);

/**
 * vla_net_ctrl_new() - control queue state of one virtio-net device
 * @name: object name for log lines (the socket path); copied
 * @max_pairs: queue pairs of the device (max_virtqueue_pairs), 2..0x8000
 * @set_pairs: called for every valid VQ_PAIRS_SET
 * @opaque: passed to @set_pairs
 * @cp: set to the new state; free with vla_net_ctrl_free()
 *
 * Returns: 0, -EINVAL for a bad @max_pairs, or -ENOMEM.
 */
int vla_net_ctrl_new(const char *name, unsigned int max_pairs,
		     vla_net_set_pairs_cb set_pairs, void *opaque,
		     struct vla_net_ctrl **cp);

/**
 * vla_net_ctrl_free() - stop and free
 * @c: the state, or NULL
 */
void vla_net_ctrl_free(struct vla_net_ctrl *c);

/**
 * vla_net_ctrl_layout() - where the queues are for the accepted features
 * @features: features the driver accepted
 * @max_pairs: queue pairs of the device
 * @data_queues: (out) receive and transmit queues the driver uses
 * @ctrl_index: (out) index of the control queue, or -1 without
 *              VIRTIO_NET_F_CTRL_VQ
 *
 * Without VIRTIO_NET_F_MQ the driver sets up one pair, and the control
 * queue is queue 2, not the last queue of the device (virtio spec
 * 5.1.2).
 */
void vla_net_ctrl_layout(uint64_t features, unsigned int max_pairs,
			 unsigned int *data_queues, int *ctrl_index);

/**
 * vla_net_ctrl_pairs() - queue pairs the driver uses now
 * @c: the state
 * Returns: 1 after a reset, else what the last VQ_PAIRS_SET asked for
 */
unsigned int vla_net_ctrl_pairs(const struct vla_net_ctrl *c);

/**
 * vla_net_ctrl_start() - serve the control queue the driver set up
 * @c: the state, stopped
 * @features: features the driver accepted
 * @mem_fd: the device's memory region 0 (rings and bounced buffers); not
 *          kept, the mapping is
 * @mem_size: its size
 * @ring: the control queue; its kick and call eventfds are duplicated
 *
 * Returns: 0, -EBUSY when started, -EIO for a ring outside the region
 * (logged), or another -errno (logged).
 */
int vla_net_ctrl_start(struct vla_net_ctrl *c, uint64_t features, int mem_fd,
		       uint64_t mem_size, const struct vlb_local_vring *ring);

/**
 * vla_net_ctrl_stop() - stop serving the ring
 * @c: the state; a no-op when stopped
 *
 * Unmaps the memory and forgets the ring; the pair count stays (a
 * DRIVER_OK again without a reset).
 */
void vla_net_ctrl_stop(struct vla_net_ctrl *c);

/**
 * vla_net_ctrl_reset() - the driver reset the device
 * @c: the state
 *
 * vla_net_ctrl_stop(), and the driver uses one queue pair again (virtio
 * spec 5.1.6.5.5: multiqueue is off until VQ_PAIRS_SET).
 */
void vla_net_ctrl_reset(struct vla_net_ctrl *c);

/**
 * vla_net_ctrl_kick_fd() - the fd to poll
 * @c: the state
 * Returns: the control queue's kick eventfd while started, else -1
 */
int vla_net_ctrl_kick_fd(const struct vla_net_ctrl *c);

/**
 * vla_net_ctrl_handle_kick() - serve the requests the driver posted
 * @c: the state
 * @kicked: the kick eventfd was readable (consume it)
 *
 * Returns: 1 when more requests wait (a budget keeps one busy driver from
 * starving the adapter's loop): call again soon with @kicked false; 0 when
 * done; the set-pairs callback's -errno, from then on (nothing is served
 * any more).
 */
int vla_net_ctrl_handle_kick(struct vla_net_ctrl *c, bool kicked);

/**
 * vla_net_ctrl_request() - check one request
 * @c: the state
 * @out: the request's device-readable buffers: class, command, data
 * @out_num: their number
 * @pairs: (out) with VIRTIO_NET_OK, the pair count VQ_PAIRS_SET asks for
 *
 * Anything malformed (short header, unknown class or command, wrong data
 * length, a pair count out of range, MQ not accepted) is VIRTIO_NET_ERR.
 * Nothing is applied here.
 * Returns: VIRTIO_NET_OK or VIRTIO_NET_ERR
 */
uint8_t vla_net_ctrl_request(struct vla_net_ctrl *c, const struct iovec *out,
			     unsigned int out_num, unsigned int *pairs);

/**
 * struct vla_net_ctrl_stats - what the control queue saw
 * @requests: requests answered
 * @errors: of which VIRTIO_NET_ERR
 * @no_status: chains with no byte for the answer (pushed with length 0)
 */
struct vla_net_ctrl_stats {
	uint64_t requests;
	uint64_t errors;
	uint64_t no_status;
};

/**
 * vla_net_ctrl_stats() - counters since vla_net_ctrl_new()
 * @c: the state
 * Returns: a pointer into @c
 */
const struct vla_net_ctrl_stats *vla_net_ctrl_stats(const struct vla_net_ctrl *c);

#endif /* VLA_NET_CTRL_H */
