#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.12
# Description: virtio-rng served by our vhost-user-rng: the kernel's hwrng
# picks it and /dev/hwrng delivers 1 MiB of non-repeating bytes; rmmod
# while the device exists is refused and the device keeps working; once
# the adapter is gone, rmmod succeeds.
. "$(dirname "$0")/common.sh"
_prep_test
_start_rng "$TEST_DIR/rng.sock"
_start_adapter vdev --socket "$TEST_DIR/rng.sock" --device rng
# SIGUSR1 asks a gpu adapter for a screenshot; any other adapter ignores it.
kill -USR1 "$ADAPTER_PID"
sleep 0.5
kill -0 "$ADAPTER_PID" 2>/dev/null || _fail "SIGUSR1 killed the adapter"
hw=/sys/class/misc/hw_random
_wait_for 30 grep -q virtio_rng "$hw/rng_available" || _fail "virtio_rng not registered"
name=$(tr ' ' '\n' <"$hw/rng_available" | grep -m1 virtio_rng)
echo "$name" >"$hw/rng_current" || _fail "cannot select $name"
grep -q '^virtio_rng' "$hw/rng_current" || _fail "rng_current is $(cat "$hw/rng_current")"
dd if=/dev/hwrng of="$TEST_DIR/a" bs=64k count=16 iflag=fullblock status=none ||
	_fail "reading /dev/hwrng"
[ "$(stat -c %s "$TEST_DIR/a")" = 1048576 ] || _fail "short read from /dev/hwrng"
dd if=/dev/hwrng of="$TEST_DIR/b" bs=4k count=1 status=none || _fail "second read"
cmp -s <(head -c 4096 "$TEST_DIR/a") "$TEST_DIR/b" && _fail "two reads returned the same bytes"
# Random bytes do not compress; a stuck or zero-filled source does.
size=$(gzip -c "$TEST_DIR/a" | wc -c)
[ "$size" -gt 1040000 ] || _fail "1 MiB from /dev/hwrng compresses to $size bytes"
kicks=$(cat /sys/class/virtio-loopback/vl*/queues/0/kicks 2>/dev/null | head -n1)
_log "1 MiB read from $name ($vdev), queue 0 kicks: ${kicks:-?}"

# The adapter's session holds the module: rmmod is refused, clearly.
if rmmod virtio_loopback 2>"$TEST_DIR/rmmod.err"; then
	_fail "rmmod succeeded while $vdev existed"
fi
grep -q "in use" "$TEST_DIR/rmmod.err" || _fail "rmmod refused without saying why: $(cat "$TEST_DIR/rmmod.err")"
_log "rmmod with a device: $(cat "$TEST_DIR/rmmod.err")"
dd if=/dev/hwrng of="$TEST_DIR/c" bs=4k count=1 status=none || _fail "read after the refused rmmod"
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "adapter did not exit on SIGTERM"
_wait_for 20 rmmod virtio_loopback || _fail "rmmod failed once the adapter was gone"
_pass
