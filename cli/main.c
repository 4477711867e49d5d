// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback: the management CLI's entry point (vlc.c does the work).
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <stdio.h>

#include "vlc.h"

#ifndef VLC_CONFDIR
#define VLC_CONFDIR	"/etc/virtio-loopback"
#endif

int main(int argc, char **argv)
{
	const struct vlc_ctx ctx = {
		.sysfs = "/sys",
		.proc = "/proc",
		.confdir = VLC_CONFDIR,
		.out = stdout,
		.err = stderr,
	};
	int ret = vlc_main(&ctx, argc, argv);

	if (fflush(stdout)) {
		perror(VLC_PROG ": stdout");
		return VLC_EXIT_FAIL;
	}
	return ret;
}
