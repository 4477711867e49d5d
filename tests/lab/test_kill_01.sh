#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: kill -9 of the adapter while fio runs: fio sees I/O errors
# (it does not hang), the device disappears within a bounded time, the
# module unloads, and the kernel reports nothing (vm-run checks dmesg).
# Memory modes: isolated zero-copy
# Check runs: 6.1/zero-copy
. "$(dirname "$0")/common.sh"
_prep_test
_have_program fio
img=$TEST_DIR/disk.raw
_run truncate -s 256M "$img"
_start_qsd "$TEST_DIR/blk.sock" raw "$img"
_start_adapter vdev --socket "$TEST_DIR/blk.sock" --device blk
dev=$(_blkdev "$vdev")
fio --name=load --filename="$dev" --ioengine=libaio --direct=1 --rw=randrw \
	--bs=4k --iodepth=32 --time_based --runtime=60 \
	--output="$TEST_DIR/fio.out" >/dev/null 2>&1 &
fio_pid=$!
sleep 3
kill -0 $fio_pid || _fail "fio ended before the kill"
kill -KILL "$ADAPTER_PID"
# The device must go away and fio must end, both within a bounded time.
_wait_for 30 test ! -e "/sys/bus/virtio/devices/$vdev" || _fail "$vdev still present 30 s after kill -9"
_wait_gone $fio_pid 60 || { kill -9 $fio_pid; _fail "fio hung after the device went away"; }
wait $fio_pid
fio_rc=$?
[ $fio_rc != 0 ] || grep -q 'err=[ ]*[1-9-]' "$TEST_DIR/fio.out" ||
	_fail "fio saw no error although its device vanished"
[ "$(_vl_count)" = 0 ] || _fail "a virtio-loopback device is left behind"
_wait_for 10 rmmod virtio_loopback || _fail "rmmod virtio_loopback failed"
_log "fio exit status $fio_rc; device gone; module unloaded"
_pass
