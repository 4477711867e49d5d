#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.12
# Description: the virtio_loopback tracepoints (docs/tracing.md). Through
# tracefs: a virtio-blk device served by qemu-storage-daemon shows vl_add,
# its queues set up, the status going up to DRIVER_OK, kicks and
# interrupts whose counts equal the queues' sysfs counters and cover the
# I/O done, a reset and vl_remove; the kernel log stays quiet meanwhile.
# Invalid CREATE calls (vl-uapi-test create-invalid) each give a vl_error
# naming the field that failed. Then perf (or trace-cmd) records the same
# events.
# Lab timeout: 600
# One vCPU: enabling events and perf patches live kernel text (int3, then
# the new bytes); under QEMU 7.2's multi-threaded TCG the other vCPU once
# took that int3 after the patch was done ("Oops: int3" in __schedule, CI
# of 2026-11-27), a race the emulator has and hardware does not.
# Kernel args: nosmp
. "$(dirname "$0")/common.sh"
_prep_test
_have_program qemu-storage-daemon
_have_program vl-uapi-test

T=/sys/kernel/tracing
[ -d "$T/events" ] || mount -t tracefs tracefs "$T" || _fail "cannot mount tracefs on $T"
[ -d "$T/events/virtio_loopback" ] || _fail "no virtio_loopback events in $T/events"
for e in vl_add vl_remove vl_status vl_kick vl_interrupt vl_config vl_queue_setup \
	vl_queue_del vl_queue_rewind vl_error; do
	[ -r "$T/events/virtio_loopback/$e/format" ] || _fail "event $e missing"
done

_trace_off() {
	echo 0 >"$T/events/virtio_loopback/enable"
	echo 0 >"$T/tracing_on"
}
trap '_trace_off 2>/dev/null; _cleanup_test' EXIT

echo 0 >"$T/tracing_on"
echo 4096 >"$T/buffer_size_kb"
echo >"$T/trace"
echo 1 >"$T/events/virtio_loopback/enable"
echo 1 >"$T/tracing_on"
mark() { echo "vl-trace-test: $1" >"$T/trace_marker"; }
kmsg_mark="vl-trace-test: quiet from here $$"
echo "$kmsg_mark" >/dev/kmsg

img=$TEST_DIR/disk.img
truncate -s 64M "$img"
_start_qsd "$TEST_DIR/blk.sock" raw "$img"
_start_adapter vdev --socket "$TEST_DIR/blk.sock" --device blk
dev=$(_blkdev "$vdev")
sys=$(_vl_sysfs "$vdev")
vl=$(basename "$sys")
mode=${VL_MEM_MODE:-isolated}
_log "$vdev is $vl ($dev), memory mode $mode"

# QD1 O_DIRECT: each of the N requests completes with its own interrupt.
N=64
head -c $((N * 65536)) /dev/urandom >"$TEST_DIR/data"
mark "io start"
_run dd if="$TEST_DIR/data" of="$dev" bs=64k count=$((N / 2)) oflag=direct
_run dd if="$dev" of="$TEST_DIR/back" bs=64k count=$((N / 2)) iflag=direct
mark "io end"
cmp -n $((N * 65536 / 2)) "$TEST_DIR/data" "$TEST_DIR/back" || _fail "data read back differs"

# The device is idle now: the trace and sysfs must agree exactly.
sleep 1
trace=$TEST_DIR/trace.txt
cat "$T/trace" >"$trace"
grep -q "lost events\|LOST" "$trace" && _fail "trace buffer overflowed"
nq=0
for q in "$sys"/queues/*; do
	i=$(basename "$q")
	nq=$((nq + 1))
	k=$(grep -c " vl_kick: dev=$vl queue=$i " "$trace")
	n=$(grep -c " vl_interrupt: dev=$vl queue=$i " "$trace")
	sk=$(cat "$q/kicks") si=$(cat "$q/interrupts")
	_log "$vl queue $i: $k vl_kick, $n vl_interrupt in the trace; sysfs kicks=$sk interrupts=$si"
	[ "$k" = "$sk" ] || _fail "queue $i: $k vl_kick events, sysfs says $sk kicks"
	[ "$n" = "$si" ] || _fail "queue $i: $n vl_interrupt events, sysfs says $si interrupts"
	grep -q " vl_queue_setup: dev=$vl queue=$i num=[1-9]" "$trace" ||
		_fail "no vl_queue_setup for queue $i"
done
[ "$nq" -ge 1 ] || _fail "$vl has no queues in sysfs"

# The I/O window: at least N interrupts and some kicks, and the used
# index of the last interrupt at least N past the first one's.
window=$TEST_DIR/window.txt
sed -n '/vl-trace-test: io start/,/vl-trace-test: io end/p' "$trace" >"$window"
wk=$(grep -c " vl_kick: dev=$vl " "$window")
wi=$(grep -c " vl_interrupt: dev=$vl " "$window")
_log "during $N requests: $wk vl_kick, $wi vl_interrupt"
[ "$wk" -ge 1 ] || _fail "no vl_kick during the I/O"
[ "$wi" -ge "$N" ] || _fail "$wi vl_interrupt during $N QD1 requests"
moved=0
for q in "$sys"/queues/*; do
	i=$(basename "$q")
	u=$(grep " vl_interrupt: dev=$vl queue=$i " "$window" | sed -n 's/.* used=\([0-9]*\) .*/\1/p' |
		sed -n '1p;$p' | tr '\n' ' ')
	read -r u0 u1 <<<"$u"
	[ -n "${u1:-}" ] && moved=$((moved + (u1 - u0 + 65536) % 65536 + 1))
done
_log "used index moved by $moved over the window"
[ "$moved" -ge "$N" ] || _fail "used index moved by $moved, expected at least $N"

grep -q " vl_add: dev=$vl device_id=2 (blk) mem_mode=$mode mem_size=[0-9]* queues=$nq owner=$ADAPTER_PID" "$trace" ||
	_fail "no vl_add for $vl (blk, $mode, $nq queues, owner $ADAPTER_PID)"
# ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, in that order.
seq=$(grep " vl_status: dev=$vl " "$trace" | sed -n 's/.* new=\(0x[0-9a-f]*\) .*/\1/p' | tr '\n' ' ')
_log "$vl status: $seq"
case " $seq" in
*" 0x01 "*"0x03 "*"0x0b "*"0x0f "*) ;;
*) _fail "status did not go 0x01 0x03 0x0b 0x0f: $seq" ;;
esac
grep -q " vl_status: dev=$vl old=0x0b new=0x0f (ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK)" "$trace" ||
	_fail "DRIVER_OK transition not decoded"
grep " vl_\(add\|status\|queue_setup\|config\): dev=$vl " "$trace" | sed 's/^/    /' | head -n 12
grep " vl_\(kick\|interrupt\): dev=$vl " "$window" | sed 's/^/    /' | head -n 4

# Nothing in the kernel log from a device that works.
noise=$(dmesg | sed -n "/$kmsg_mark/,\$p" | grep -i 'virtio.loopback\|vl[0-9]' | grep -v "$kmsg_mark")
[ -z "$noise" ] || { printf '%s\n' "$noise"; _fail "kernel log not quiet while the device worked"; }

# Removal: reset (status 0), queues deleted, vl_remove.
mark "remove"
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "adapter did not exit"
_wait_for 30 _vl_none || _fail "$vl still exists"
cat "$T/trace" >"$trace"
sed -n '/vl-trace-test: remove/,$p' "$trace" >"$window"
grep -q " vl_status: dev=$vl old=0x0f new=0x00 (RESET)" "$window" || _fail "no reset of $vl on removal"
grep -q " vl_queue_del: dev=$vl queue=0" "$window" || _fail "no vl_queue_del for $vl"
grep -q " vl_remove: dev=$vl device_id=2 (blk) mem_mode=$mode" "$window" || _fail "no vl_remove for $vl"
grep " vl_\(status\|queue_del\|remove\): dev=$vl " "$window" | sed 's/^/    /'

# Bad ioctls: every invalid CREATE names the field that failed.
mark "bad ioctls"
_run vl-uapi-test create-invalid
cat "$T/trace" >"$trace"
sed -n '/vl-trace-test: bad ioctls/,$p' "$trace" >"$window"
for want in "what=device_id err=-22" "what=num_queues err=-22" "what=config_size err=-22" \
	"what=mem_size err=-22" "what=mem_mode err=-22" "what=flags or reserved err=-22" \
	"what=persist_timeout_ms err=-22" "what=device_features without VERSION_1 err=-22" \
	"what=queue max_size, reserved or fds err=-22" "what=kick_fd err=-9" "what=call_fd err=-9" \
	"what=size err=-7" "what=copy from or to user space err=-14"; do
	grep -q " vl_error: dev=- op=CREATE $want\$" "$window" || _fail "no vl_error 'op=CREATE $want'"
done
grep " vl_error: " "$window" | sed 's/^/    /' | head -n 6
_trace_off

# perf, where the host's perf runs against this kernel; else trace-cmd.
# On 6.1 only: on 6.12 the host's perf (6.1) spends about 4 minutes of
# TCG starting up, the same events that tracefs has just shown.
case "$(uname -r)" in
6.1.*) ;;
*) _log "tracefs checked; the perf step runs on 6.1 (docs/tracing.md)"; _pass ;;
esac
perf_ok=0
if command -v perf >/dev/null && perf list 'virtio_loopback:*' 2>/dev/null | grep -q 'virtio_loopback:vl_kick'; then
	perf_ok=1
fi
truncate -s 16M "$TEST_DIR/disk2.img"
_start_qsd "$TEST_DIR/blk2.sock" raw "$TEST_DIR/disk2.img"
_start_adapter vdev2 --socket "$TEST_DIR/blk2.sock" --device blk
dev2=$(_blkdev "$vdev2")
vl2=$(basename "$(_vl_sysfs "$vdev2")")
out=$TEST_DIR/tool.txt
if [ $perf_ok = 1 ]; then
	perf list 'virtio_loopback:*' 2>/dev/null | grep virtio_loopback: | sed 's/^/    /'
	# -B: no build-id pass, nothing here needs symbols. Under TCG one
	# perf record -a still takes minutes (Lab timeout).
	_run perf record -q -B -e 'virtio_loopback:*' -a -o "$TEST_DIR/perf.data" -- \
		dd if="$dev2" of=/dev/null bs=64k count=16 iflag=direct
	perf script -i "$TEST_DIR/perf.data" >"$out" 2>/dev/null || _fail "perf script failed"
	tool=perf
else
	_have_program trace-cmd
	_run trace-cmd record -q -e virtio_loopback -o "$TEST_DIR/trace.dat" \
		dd if="$dev2" of=/dev/null bs=64k count=16 iflag=direct
	trace-cmd report -i "$TEST_DIR/trace.dat" >"$out" 2>/dev/null || _fail "trace-cmd report failed"
	tool="trace-cmd"
fi
n=$(grep -c "vl_interrupt: dev=$vl2 queue=" "$out")
_log "$tool recorded $n vl_interrupt of $vl2 for 16 requests"
grep "vl_\(kick\|interrupt\): dev=$vl2 " "$out" | sed 's/^/    /' | head -n 4
[ "$n" -ge 16 ] || _fail "$tool: $n vl_interrupt events for 16 QD1 requests"
_pass
