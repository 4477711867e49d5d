#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.1
# Description: adapter restart (--persist). A qemu-storage-daemon disk made
# by an adapter with --persist; fio writes (random, 4k-128k, QD32) with
# crc32c verification while the adapter is killed with kill -9 and a new
# one takes the device over with --attach, 3 times: the disk never goes
# away, fio finishes with no I/O or verify error. The adapter refuses to
# attach with one clear line to a device that does not exist, that a live
# adapter owns, that is not persistent, or with another shape. Finally a
# persistent device whose adapter never comes back: a read issued while it
# is alone fails once --persist-timeout ends, the device is removed, and
# with the daemon gone the module is unused again and unloads.
# Lab timeout: 600
. "$(dirname "$0")/common.sh"
_prep_test
_have_program fio
img=$TEST_DIR/disk.raw
img2=$TEST_DIR/disk2.raw
sock=$TEST_DIR/blk.sock
img3=$TEST_DIR/disk3.raw
sock2=$TEST_DIR/blk2.sock
sock3=$TEST_DIR/blk3.sock
_run truncate -s 512M "$img"
_run truncate -s 64M "$img2"
_run truncate -s 64M "$img3"
PERSIST_S=8
qsd_log=$TEST_DIR/qsd.$(basename "$sock").log

# The disk's daemon; the other two (sock2, sock3) set QSD_PID too.
start_qsd() { _start_qsd "$sock" raw "$img"; disk_qsd=$QSD_PID; }
start_qsd
_start_adapter vdev --socket "$sock" --device blk --persist --persist-timeout "$PERSIST_S"
owner=$ADAPTER_PID
dev=$(_blkdev "$vdev")
sys=$(_vl_sysfs "$vdev")
name=$(basename "$sys")
[ "$(cat "$sys/persist")" = attached ] || _fail "$name: persist is $(cat "$sys/persist"), not attached"
[ "$(cat "$sys/persist_timeout_ms")" = $((PERSIST_S * 1000)) ] || _fail "$name: persist_timeout_ms $(cat "$sys/persist_timeout_ms")"
grep -q "created persistent device $name" "$ADAPTER_ERR" || _fail "no 'created persistent device $name' line"

# Adapter-level refusals (a second daemon, so that the handshake is served).
_start_qsd "$sock2" raw "$img2"
refused() { # WHY ARGS...: the adapter must exit non-zero with WHY on stderr
	local why=$1 err=$TEST_DIR/refused.err
	shift
	timeout 60 virtio-loopback-adapter --socket "$sock2" --device blk "$@" >/dev/null 2>"$err" &&
		_fail "adapter $* succeeded"
	grep -q "$why" "$err" || _fail "adapter $*: no '$why' in: $(cat "$err")"
	_log "refused ($*): $(tail -n 1 "$err")"
}
refused "no such device" --attach vl4095
refused "another adapter owns it" --attach "$name"
refused "is not a device name" --attach nonsense
refused "needs --persist" --persist-timeout 5
_start_qsd "$sock3" raw "$img3"
_start_adapter plain --socket "$sock3" --device blk
plain_name=$(basename "$(_vl_sysfs "$plain")")
[ "$(cat "/sys/class/virtio-loopback/$plain_name/persist")" = off ] || _fail "$plain_name: persist not off"
refused "not created with --persist" --attach "$plain_name"
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "the plain adapter did not stop"
_wait_for 30 test ! -e "/sys/class/virtio-loopback/$plain_name" || _fail "$plain_name still present without --persist"

# Four passes (each: write the 256M, then verify it) keep fio busy across
# the three restarts however fast the host is; a single pass took 9 s on
# an idle one, less than the restarts need.
fio --name=persist --filename="$dev" --ioengine=libaio --direct=1 \
	--rw=randwrite --bsrange=4k-128k --iodepth=32 --size=256M --loops=4 --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --randrepeat=0 --verify_state_save=0 \
	--output="$TEST_DIR/fio.out" >/dev/null 2>&1 &
fio_pid=$!
resub=0
survived=0
for i in 1 2 3; do
	sleep 2
	kill -0 "$fio_pid" 2>/dev/null || _fail "fio ended before restart $i: $(tail -n 5 "$TEST_DIR/fio.out")"
	kill -KILL "$owner"
	_wait_gone "$owner" 10 || _fail "the adapter survived kill -9"
	_wait_for 10 grep -qx detached "$sys/persist" || _fail "$name not detached after kill -9: $(cat "$sys/persist" 2>&1)"
	[ -e "/sys/bus/virtio/devices/$vdev" ] || _fail "$vdev went away with its adapter"
	# qemu-storage-daemon 7.2 may abort when a kick it had pending is
	# handled after it saw its front-end go (vhost_user_server_ref:
	# Assertion '!server->wait_idle'): a bug of the daemon. Then a new
	# daemon serves the attach, as after a back-end restart.
	sleep 0.5
	if kill -0 "$disk_qsd" 2>/dev/null; then
		survived=$((survived + 1))
	else
		_log "restart $i: qemu-storage-daemon died with its front-end: $(grep -m1 -o 'Assertion.*' "$qsd_log" || tail -n 1 "$qsd_log")"
		: >"$qsd_log"
		start_qsd
	fi
	# A back-end of another shape is refused, and the device stays detached.
	[ "$i" = 1 ] && refused "same device" --attach "$name" --queue-size 128
	_start_adapter again --attach "$name" --socket "$sock" --device blk
	owner=$ADAPTER_PID
	[ "$again" = "$vdev" ] || _fail "attached to $again, expected $vdev"
	[ "$(cat "$sys/persist")" = attached ] || _fail "$name: $(cat "$sys/persist") after attach"
	line=$(grep "attached (" "$ADAPTER_ERR" | tail -n 1)
	n=$(sed -n 's/.*: \([0-9]*\) requests handed to the back-end again.*/\1/p' <<<"$line")
	resub=$((resub + ${n:-0}))
	_log "restart $i: $line"
done
_wait_gone "$fio_pid" 400 || _fail "fio did not finish"
wait "$fio_pid" || { tail -n 30 "$TEST_DIR/fio.out"; _fail "fio failed across 3 adapter restarts"; }
grep -q 'err= 0' "$TEST_DIR/fio.out" || _fail "fio reported errors across the adapter restarts"
[ "$(cat "$sys/broken")" = 0 ] || _fail "$name is broken"
_log "fio randwrite 4 x 256M QD32 + crc32c verify: no error across 3 adapter kill -9 + attach, $resub requests resubmitted, the daemon outlived $survived of 3 adapters"
[ -n "${VL_MEM_MODE:-}" ] && _mem_log "$vdev"

# The adapter never comes back: bounded removal, the pending read fails.
kill -KILL "$owner"
_wait_gone "$owner" 10 || _fail "the adapter survived kill -9"
_wait_for 10 grep -qx detached "$sys/persist" || _fail "$name not detached"
gone_at=$(date +%s)
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct skip=12345 status=none 2>"$TEST_DIR/dd.err" &
reader=$!
sleep 1
kill -0 "$reader" 2>/dev/null || _fail "a read completed with no adapter and no back-end started"
_wait_gone "$reader" $((PERSIST_S + 30)) || _fail "the pending read outlived the persist timeout"
wait "$reader" && _fail "the pending read succeeded on a device nobody served"
_wait_for 30 test ! -e "$sys" || _fail "$name still present after its persist timeout"
_wait_for 10 test ! -e "/sys/bus/virtio/devices/$vdev" || _fail "$vdev still present"
took=$(($(date +%s) - gone_at))
# The kernel's own clock: from the detach to the timeout's removal.
kt() { dmesg | grep "$name: $1" | tail -n 1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'; }
t0=$(kt "adapter gone") t1=$(kt "no adapter attached within $((PERSIST_S * 1000)) ms")
{ [ -n "$t0" ] && [ -n "$t1" ]; } || _fail "no kernel lines for the detach and the timeout"
awk -v a="$t0" -v b="$t1" -v s="$PERSIST_S" 'BEGIN { exit !(b - a >= s - 0.05 && b - a <= s + 2) }' ||
	_fail "removal began $t0 -> $t1, not after the $PERSIST_S s timeout"
_log "no adapter for $name: removal began $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s after the detach (timeout $PERSIST_S s), gone after $took s, pending read: $(head -n 1 "$TEST_DIR/dd.err")"

# Nothing left: with the daemons gone the module is unused and unloads.
for pid in "${_PIDS[@]}"; do
	kill -TERM "$pid" 2>/dev/null
	_wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null
done
_PIDS=()
_vl_none || _fail "a virtio-loopback device is left behind"
_wait_for 20 rmmod virtio_loopback || _fail "rmmod: $(cat /sys/module/virtio_loopback/refcnt 2>&1) references left"
_pass
