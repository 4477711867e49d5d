#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: qemu-storage-daemon with cache.direct=on,aio=native on a
# memory-backed null_blk: the back-end does O_DIRECT I/O straight from the
# bounce pages (get_user_pages on them must work); fio verify passes.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/fio_common.sh"
_prep_test
_have_program fio
modprobe null_blk nr_devices=1 memory_backed=1 gb=1 bs=512 ||
	_fail "modprobe null_blk"
_wait_for 10 test -b /dev/nullb0 || _fail "/dev/nullb0 missing"
_start_qsd "$TEST_DIR/blk.sock" host_device /dev/nullb0 ",cache.direct=on,aio=native"
_start_adapter vdev --socket "$TEST_DIR/blk.sock" --device blk
_fio_verify "$vdev"
_pass
