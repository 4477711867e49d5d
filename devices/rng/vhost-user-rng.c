// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-rng: a virtio entropy device (virtio spec 5.4, device id 4)
 * served over vhost-user.
 *
 * One queue; the driver posts device-writable buffers and the device fills
 * each with bytes from getrandom(). Usage follows the vhost-user back-end
 * program conventions:
 *
 *	vhost-user-rng --socket-path /run/rng.sock
 *	qemu-system-x86_64 ... -chardev socket,id=rng,path=/run/rng.sock \
 *		-device vhost-user-rng-pci,chardev=rng
 *	virtio-loopback-adapter --socket /run/rng.sock --device rng
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "vlb.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

#define RNG_QUEUES	1

/*
 * Buffers served per queue_kick before yielding to the event loop, so a
 * driver that keeps the ring full cannot starve the socket or SIGTERM.
 */
#define RNG_BUDGET	256

/* Fill the writable buffers of @elem; returns the bytes written. */
static uint32_t rng_fill(struct vlb_dev *dev, const struct vlb_vq_elem *elem)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < elem->in_num; i++) {
		uint8_t *p = elem->in_sg[i].iov_base;
		size_t left = elem->in_sg[i].iov_len;

		while (left) {
			ssize_t n = getrandom(p, left, 0);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				vlb_err(vlb_dev_name(dev), "vq 0: getrandom: %s", strerror(errno));
				return total > UINT32_MAX ? UINT32_MAX : total;
			}
			p += n;
			left -= n;
			total += n;
		}
	}
	/* The used length is 32 bits; a longer chain is credited that much. */
	return total > UINT32_MAX ? UINT32_MAX : total;
}

static uint64_t rng_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

/* vlb_vq_handle_cb: fill the buffer, hand it back at once. */
static int64_t rng_handle(struct vlb_dev *dev, unsigned int qidx,
			  struct vlb_vq_elem *elem, void *opaque)
{
	(void)qidx;
	(void)opaque;
	return rng_fill(dev, elem);
}

static void rng_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	unsigned int served = vlb_vq_serve(dev, qidx, RNG_BUDGET, rng_handle, NULL);

	if (served)
		vlb_dbg(VLB_DBG_DEV, vlb_dev_name(dev), "vq %u: served %u buffers", qidx,
			served);
}

static const struct vlb_dev_iface rng_iface = {
	.get_features	= rng_get_features,
	.queue_kick	= rng_queue_kick,
};

int main(int argc, char **argv)
{
	static const struct vlb_backend rng = {
		.name		= "vhost-user-rng",
		.type		= "rng",
		.version	= VLB_VERSION,
		.iface		= &rng_iface,
		.nr_vqs		= RNG_QUEUES,
	};

	return vlb_backend_main(&rng, argc, argv);
}
