// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Proves libvlb.a links into a program with nothing but libc: built (not
 * run) by lib/Makefile with no extra libraries. If the library grows a
 * dependency, this link fails first.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <stdlib.h>

#include "vlb.h"

static uint64_t lt_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return 1ULL << VLB_F_VERSION_1;
}

static void lt_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vlb_vq_elem *elem;
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);

	while (vlb_vq_pop(vq, &elem) == 0) {
		vlb_vq_push(vq, elem, 0);
		free(elem);
	}
	vlb_vq_flush(vq);
	vlb_vq_notify(vq);
}

static const struct vlb_dev_iface lt_iface = {
	.get_features	= lt_get_features,
	.queue_kick	= lt_queue_kick,
};

int main(int argc, char **argv)
{
	static const struct vlb_backend be = {
		.name		= "link-test",
		.type		= "rng",
		.version	= "0",
		.iface		= &lt_iface,
		.nr_vqs		= 1,
	};

	return vlb_backend_main(&be, argc, argv);
}
