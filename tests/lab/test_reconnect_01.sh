#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: a blk back-end killed with kill -9 and restarted on the
# same socket 5 times while fio writes (4k random, QD32) with crc32c
# verification: fio finishes with no I/O or verify error; then ext4 on the
# disk, written while the daemon dies once more, passes e2fsck -fn and
# reads back; finally a daemon that does not come back within
# --reconnect-timeout: the adapter exits non-zero with one clear line,
# pending I/O fails, the device is removed. The back-end is
# qemu-storage-daemon (no inflight record: the kernel rewinds), or with
# RECONNECT_BACKEND=vhost-user-blk ours (test_reconnect_03: its own
# inflight record); every reconnect must name the expected mechanism.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
. "$(dirname "$0")/common.sh"
_prep_test
_have_program fio
_have_program e2fsck
backend=${RECONNECT_BACKEND:-qemu-storage-daemon}
fio_size=${RECONNECT_FIO_SIZE:-512M}
_have_program "$backend"
case $backend in
qemu-storage-daemon) mechanism="kernel rewind" ;;
vhost-user-blk) mechanism="its inflight record" ;;
*) _fail "RECONNECT_BACKEND=$backend: qemu-storage-daemon or vhost-user-blk" ;;
esac
img=$TEST_DIR/disk.raw
sock=$TEST_DIR/blk.sock
_run truncate -s 768M "$img"

start_qsd() {
	if [ "$backend" = vhost-user-blk ]; then
		_start_vublk "$sock" "$img"
	else
		_start_qsd "$sock" raw "$img"
	fi
}
crash_qsd() {
	kill -KILL "$QSD_PID"
	_wait_gone "$QSD_PID" 10 || _fail "$backend survived kill -9"
}

start_qsd
_start_adapter vdev --socket "$sock" --device blk --reconnect-timeout 10
dev=$(_blkdev "$vdev")

fio --name=restart --filename="$dev" --ioengine=libaio --direct=1 \
	--rw=randwrite --bs=4k --iodepth=32 --size="$fio_size" --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --randrepeat=0 --verify_state_save=0 \
	--output="$TEST_DIR/fio.out" >/dev/null 2>&1 &
fio_pid=$!
for i in 1 2 3 4 5; do
	sleep 1
	kill -0 "$fio_pid" 2>/dev/null || _fail "fio ended before restart $i: $(tail -n 5 "$TEST_DIR/fio.out")"
	crash_qsd
	start_qsd
	back() { [ "$(grep -c "back-end is back" "$ADAPTER_ERR")" -ge "$i" ]; }
	_wait_for 30 back || _fail "the adapter did not reconnect after restart $i"
	_log "restart $i: $(grep "back-end is back" "$ADAPTER_ERR" | tail -n 1)"
done
# The mechanism must have been used: requests were in flight at a kill.
! grep "back-end is back" "$ADAPTER_ERR" | grep -vF "($mechanism)" ||
	_fail "a reconnect did not use the expected mechanism ($mechanism)"
resub=$(sed -n 's/.*: \([0-9]*\) requests handed to it again.*/\1/p' "$ADAPTER_ERR" | awk "{ s += \$1 } END { print s + 0 }")
[ "${resub:-0}" -gt 0 ] || _fail "no request was in flight at any of the 5 kills"
_wait_gone "$fio_pid" 300 || _fail "fio did not finish"
wait "$fio_pid" || { tail -n 30 "$TEST_DIR/fio.out"; _fail "fio failed across 5 back-end restarts"; }
grep -q 'err= 0' "$TEST_DIR/fio.out" || _fail "fio reported errors across the restarts"
_log "$backend: fio randwrite $fio_size QD32 + crc32c verify: no error across 5 kill -9 restarts, $resub requests resubmitted ($mechanism)"

# ext4 written while the daemon dies once more.
_run mkfs.ext4 -q -F "$dev"
mkdir -p "$TEST_DIR/mnt"
_run mount "$dev" "$TEST_DIR/mnt"
head -c 48M /dev/urandom >"$TEST_DIR/data"
cp "$TEST_DIR/data" "$TEST_DIR/mnt/data" &
cp_pid=$!
sleep 1
crash_qsd
start_qsd
wait "$cp_pid" || _fail "cp to ext4 failed across a restart"
sync
_run umount "$TEST_DIR/mnt"
e2fsck -fn "$dev" >"$TEST_DIR/fsck.out" 2>&1 || { cat "$TEST_DIR/fsck.out"; _fail "e2fsck -fn found errors"; }
_run mount -o ro "$dev" "$TEST_DIR/mnt"
cmp "$TEST_DIR/data" "$TEST_DIR/mnt/data" || _fail "the file written across a restart differs"
_run umount "$TEST_DIR/mnt"

# A daemon that does not come back: bounded, clear, and nothing left.
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct skip=4096 status=none &
crash_qsd
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct skip=8192 status=none &
reader=$!
_wait_gone "$ADAPTER_PID" 30 || _fail "the adapter still runs 30 s after its back-end left for good"
wait "$ADAPTER_PID"
rc=$?
[ "$rc" != 0 ] || _fail "the adapter exited 0 although its back-end never came back"
tail -n 1 "$ADAPTER_ERR" | grep -q "did not come back" || _fail "no clear last line: $(tail -n 2 "$ADAPTER_ERR")"
_wait_gone "$reader" 30 || _fail "a read pending on the lost device did not end"
wait "$reader" && _fail "a read pending on the lost device succeeded"
_wait_for 30 test ! -e "/sys/bus/virtio/devices/$vdev" || _fail "$vdev still present"
_log "adapter exit $rc: $(tail -n 1 "$ADAPTER_ERR")"
_pass
