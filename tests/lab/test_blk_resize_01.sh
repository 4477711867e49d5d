#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: our vhost-user-blk (--queues 2) on an image in the guest's
# tmpfs; the disk has two hardware queues. ext4 on the disk with files
# written; the image grown with truncate and the back-end sent SIGHUP: blockdev and lsblk show the new size within 30 s
# through VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, the disk is the same
# /dev/vdX (not removed), the mount still works, resize2fs grows ext4
# online, a file that would not have fitted before is written and all
# files read back intact, fsck clean; fio randwrite QD32 with crc32c
# verify, two jobs (one per CPU, so both queues); the image shrunk: reads past its end fail with an I/O error
# until SIGHUP, then the capacity goes down and the old end reads as the
# end of the disk while the rest still reads fine. Bad options (no
# --file, a missing file, bad --queues) refused with one line.
# Memory modes: isolated
# Check runs: 6.12/isolated
# (the config change does not depend on the memory mode; zero-copy with
# this back-end is test_reconnect_03's)
# Lab timeout: 400
. "$(dirname "$0")/common.sh"
_prep_test
_have_program vhost-user-blk
_have_program fio
_have_program resize2fs
_have_program lsblk

img=$TEST_DIR/disk.img
sock=$TEST_DIR/blk.sock
MiB=1048576

# _refused WHAT ARGS...: vhost-user-blk ARGS must fail with one line
# naming WHAT.
_refused() {
	local what=$1 err=$TEST_DIR/bad.err
	shift
	vhost-user-blk --socket-path "$sock" "$@" 2>"$err" && _fail "accepted: $*"
	[ "$(wc -l <"$err")" = 1 ] || { cat "$err"; _fail "not one line for: $*"; }
	grep -q -- "$what" "$err" || { cat "$err"; _fail "no '$what' in the message for: $*"; }
}
_run truncate -s $((64 * MiB)) "$img"
_refused "no --file" 
_refused missing.img --file "$TEST_DIR/missing.img"
_refused "--queues" --file "$img" --queues 0
_refused "--queues" --file "$img" --queues many
_refused "Is a directory" --file "$TEST_DIR"
_refused "not a regular file or block device" --file /dev/null

vhost-user-blk --socket-path "$sock" --file "$img" --queues 2 >"$TEST_DIR/blk.log" 2>&1 &
BACKEND_PID=$!
_PIDS+=("$BACKEND_PID")
_wait_for 30 _is_socket "$sock" || _fail "vhost-user-blk did not create $sock"
_start_adapter vdev --socket "$sock" --device blk
dev=$(_blkdev "$vdev")
# virtio_blk uses a queue per CPU, up to the device's num_queues.
nq=$(ls "/sys/block/${dev#/dev/}/mq" | wc -l)
want=$(($(nproc) < 2 ? $(nproc) : 2))
[ "$nq" = "$want" ] || _fail "$dev has $nq hardware queues, want $want (--queues 2, $(nproc) CPUs)"
_log "$vdev is $dev, $nq queues"

_size_is() { [ "$(blockdev --getsize64 "$1")" = "$2" ]; }
_lsblk_size() { lsblk -bdno SIZE "$1" | tr -d ' '; }
# _resize BYTES: truncate the image, SIGHUP, wait for the driver to see it.
_resize() {
	local bytes=$1 old t0
	old=$(blockdev --getsize64 "$dev")
	_run truncate -s "$bytes" "$img"
	t0=$(date +%s%N)
	kill -HUP "$BACKEND_PID"
	_wait_for 30 _size_is "$dev" "$bytes" ||
		_fail "$dev is $(blockdev --getsize64 "$dev") bytes 30 s after SIGHUP, want $bytes"
	_log "new size seen $((($(date +%s%N) - t0) / 1000000)) ms after SIGHUP (polled every 100 ms)"
	[ "$(_lsblk_size "$dev")" = "$bytes" ] || _fail "lsblk shows $(_lsblk_size "$dev") bytes, want $bytes"
	grep -q "capacity $((old / 512)) -> $((bytes / 512)) sectors" "$TEST_DIR/blk.log" ||
		_fail "no 'capacity $((old / 512)) -> $((bytes / 512)) sectors' line from the back-end"
	# Same disk: not removed and probed again.
	[ "$(_blkdev "$vdev")" = "$dev" ] || _fail "$vdev's disk is no longer $dev"
	_log "$dev: $old -> $bytes bytes (blockdev, lsblk)"
}

_size_is "$dev" $((64 * MiB)) || _fail "$dev is $(blockdev --getsize64 "$dev") bytes, want 64 MiB"
_run mkfs.ext4 -q -F "$dev"
_run mount "$dev" "$TEST_DIR/mnt"
mkdir -p "$TEST_DIR/src"
for f in 1 4097 1048575 8388608; do
	head -c "$f" /dev/urandom >"$TEST_DIR/src/f$f"
done
cp "$TEST_DIR"/src/f* "$TEST_DIR/mnt/" || _fail "copy to $dev"
sync
fs_before=$(df -B1 --output=size "$TEST_DIR/mnt" | tail -n 1)

# Grow: the driver hears of it, the fs grows online.
_resize $((160 * MiB))
dmesg | grep -q "new size: $((160 * MiB / 512)) 512-byte" || _fail "no 'new size' line from virtio_blk"
ls "$TEST_DIR/mnt/f1" >/dev/null || _fail "mount unusable after the resize"
_run resize2fs "$dev"
fs_after=$(df -B1 --output=size "$TEST_DIR/mnt" | tail -n 1)
[ "$fs_after" -gt $((fs_before + 80 * MiB)) ] || _fail "ext4 is $fs_after bytes after resize2fs, was $fs_before"
_log "ext4 grew online: $fs_before -> $fs_after bytes"
# 90 MiB: would not have fitted in the 64 MiB disk.
head -c $((90 * MiB)) /dev/urandom >"$TEST_DIR/src/big"
cp "$TEST_DIR/src/big" "$TEST_DIR/mnt/big" || _fail "writing 90 MiB to the grown fs"
sync
echo 3 >/proc/sys/vm/drop_caches
for f in "$TEST_DIR"/src/*; do
	cmp "$f" "$TEST_DIR/mnt/$(basename "$f")" || _fail "$(basename "$f") differs after the resize"
done
_zc_shared "$vdev" "ext4 file data written back"
_run umount "$TEST_DIR/mnt"
_run e2fsck -fn "$dev"
rm -f "$TEST_DIR/src/big"

_log "fio randwrite 4k QD32 verify=crc32c on $dev, 2 jobs of 16 MiB each"
fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
	--bs=4k --iodepth=32 --numjobs=2 --size=16M --offset_increment=16M \
	--group_reporting --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--randrepeat=0 --verify_state_save=0 --output="$TEST_DIR/fio.out" >/dev/null 2>&1 || {
	tail -n 30 "$TEST_DIR/fio.out"
	_fail "fio randwrite QD32 failed verification on $dev"
}
grep -q 'err= 0' "$TEST_DIR/fio.out" || _fail "fio reported errors"

# Shrink the image under the disk: the back-end answers reads past the
# file's end with an I/O error (it never returns garbage or hangs) ...
_run truncate -s $((32 * MiB)) "$img"
dd if="$dev" of=/dev/null bs=4096 count=1 skip=$((48 * 256)) iflag=direct status=none 2>/dev/null &&
	_fail "a read past the shrunk image succeeded"
# ... and after SIGHUP the disk is smaller: the old range is past its end.
_resize $((32 * MiB))
n=$(dd if="$dev" bs=4096 count=1 skip=$((48 * 256)) iflag=direct status=none 2>/dev/null | wc -c)
[ "$n" = 0 ] || _fail "read $n bytes past the end of the shrunk disk"
n=$(dd if="$dev" bs=4096 count=1 skip=$((32 * 256 - 1)) iflag=direct status=none | wc -c)
[ "$n" = 4096 ] || _fail "the last 4 KiB of the shrunk disk gave $n bytes"
kill -0 "$BACKEND_PID" || _fail "vhost-user-blk exited"
_pass
