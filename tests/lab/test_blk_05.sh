#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: a request never outgrows the bounce region. With the
# smallest region (1 MiB) and max_sectors_kb raised as far as the queue
# allows, 4 MiB O_DIRECT writes and reads complete (split by the block
# layer) and round-trip, instead of being retried forever; fio QD32 1 MiB
# (far more than the region holds) completes and verifies, only slower.
# Memory modes: isolated zero-copy
# Check runs: 6.1/isolated
. "$(dirname "$0")/common.sh"
_prep_test
img=$TEST_DIR/disk.raw
_run truncate -s 64M "$img"
_start_qsd "$TEST_DIR/blk.sock" raw "$img"
_start_adapter vdev --socket "$TEST_DIR/blk.sock" --device blk --mem-size $((1 << 20))
dev=$(_blkdev "$vdev")
q=/sys/block/$(basename "$dev")/queue
cat "$q/max_hw_sectors_kb" >"$q/max_sectors_kb" || _fail "cannot raise max_sectors_kb"
segs=$(cat "$q/max_segments")
seg=$(cat "$q/max_segment_size")
_log "max_segments=$segs max_segment_size=$seg max_sectors_kb=$(cat "$q/max_sectors_kb")"
[ $((segs * seg)) -le $(((1 << 20) / 4)) ] ||
	_fail "a request may span $((segs * seg)) bytes, more than a quarter of the 1 MiB region"
head -c 4M /dev/urandom >"$TEST_DIR/pattern"
timeout 120 dd if="$TEST_DIR/pattern" of="$dev" bs=4M oflag=direct status=none ||
	_fail "4 MiB O_DIRECT write did not complete"
timeout 120 dd if="$dev" of="$TEST_DIR/back" bs=4M count=1 iflag=direct status=none ||
	_fail "4 MiB O_DIRECT read did not complete"
cmp "$TEST_DIR/pattern" "$TEST_DIR/back" || _fail "4 MiB read back differs"
for mem in malloc shm; do
	timeout 300 fio --name=exhaust --filename="$dev" --ioengine=libaio --direct=1 \
		--rw=randwrite --bs=1M --iodepth=32 --iomem=$mem --size=32M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--verify_state_save=0 --output="$TEST_DIR/fio.out" >/dev/null 2>&1 || {
		tail -n 20 "$TEST_DIR/fio.out"
		_fail "fio QD32 1 MiB ($mem buffers) through a 1 MiB region"
	}
	grep -q 'err= 0' "$TEST_DIR/fio.out" || _fail "fio QD32 1 MiB reported errors"
done
_log "map_failures (requests that waited for room): $(cat "$(_vl_sysfs "$vdev")/map_failures")"
_pass
