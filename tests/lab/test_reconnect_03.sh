#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: test_reconnect_01 with our vhost-user-blk (libvlb, io_uring)
# instead of qemu-storage-daemon: the back-end offers INFLIGHT_SHMFD, so
# after each kill -9 the adapter hands the new one the same inflight
# record and it resubmits what its predecessor owed (the kernel rewrites
# nothing); fio's crc32c verify and e2fsck -fn prove nothing was lost.
# fio writes 128M, not 512M: the lab's TCG guests write at about 1 MB/s
# through it when the host is shared.
# One run in make check (CI time): the inflight record is user space's
# (libvlb and the adapter); the kernel's part, REWIND_VQ's query flag, is
# checked on both kernels by vl-uapi-test rewind (test_uapi_01), and both
# memory modes reconnect in test_reconnect_01/02.
# Memory modes: isolated zero-copy
# Check runs: none
RECONNECT_BACKEND=vhost-user-blk
RECONNECT_FIO_SIZE=128M
. "$(dirname "$0")/test_reconnect_01.sh"
