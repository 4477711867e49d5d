#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: the driver resets and re-probes the device (virtio_blk
# unloaded and loaded again): the adapter stops and restarts the back-end,
# data written before is still there.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
. "$(dirname "$0")/common.sh"
_prep_test
img=$TEST_DIR/disk.raw
_run truncate -s 64M "$img"
_start_qsd "$TEST_DIR/blk.sock" raw "$img"
_start_adapter vdev --socket "$TEST_DIR/blk.sock" --device blk
dev=$(_blkdev "$vdev")
head -c 1M /dev/urandom >"$TEST_DIR/pattern"
_run dd if="$TEST_DIR/pattern" of="$dev" bs=1M oflag=direct status=none
for round in 1 2 3; do
	_run modprobe -r virtio_blk
	[ ! -e "/sys/bus/virtio/devices/$vdev/block" ] || _fail "block device still bound"
	_run modprobe virtio_blk
	dev=$(_blkdev "$vdev")
	cmp <(dd if="$dev" bs=1M count=1 iflag=direct status=none) "$TEST_DIR/pattern" ||
		_fail "data differs after re-probe $round"
done
kill -0 "$ADAPTER_PID" || _fail "adapter died across resets"
_pass
