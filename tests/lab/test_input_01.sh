#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-input served by our vhost-user-input from a uinput
# device: the virtio input device has the source's name, ids, property,
# event and abs bits; key, pointer and scan events (and a 600-batch burst
# through an 8-entry ring) arrive in order, none lost; LED events written to
# the virtio device reach the source; when the source disappears the
# back-end exits 1 with one clear line and the device is unplugged.
# Malformed status and event buffers and config reads: test_dev_input.
# Memory modes: isolated zero-copy
# Check runs: 6.1/isolated
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/input_common.sh"
_prep_test
modprobe uinput || _skip "no uinput module"
modprobe evdev || _fail "modprobe evdev"
modprobe virtio_input || _fail "modprobe virtio_input"

# Malformed buffers on both queues and an out-of-range config read, from a
# front-end of our own (the kernel driver never sends them); it needs
# uinput, so it runs here. Built by make unit (make check builds it first).
unit=$TOP/build/tests/test_dev_input
[ -x "$unit" ] || _fail "$unit missing: run make unit first"
out=$(VHOST_USER_INPUT=$(command -v vhost-user-input) timeout 120 "$unit" 2>&1) ||
	_fail "malformed buffers: $out"
_log "${out##*$'\n'}"

_start_uinput_src
_start_input "$TEST_DIR/input.sock" "$SRC_DEV" --grab
# A small ring: bursts outrun the driver's buffers and wait in the back-end.
_start_adapter vdev --socket "$TEST_DIR/input.sock" --device input --queue-size 8
dst=$(_virtio_evdev "$vdev")
_log "source $SRC_DEV, virtio input $vdev at $dst"

# Identity and capabilities, as the driver read them from the config space.
vl-input-test info "$SRC_DEV" >"$TEST_DIR/info.src" || _fail "info of $SRC_DEV"
vl-input-test info "$dst" >"$TEST_DIR/info.dst" || _fail "info of $dst"
diff -u "$TEST_DIR/info.src" "$TEST_DIR/info.dst" >&2 ||
	_fail "the virtio input device does not describe the source device"
grep -q '^abs 1 min -5 max 767 fuzz 4 flat 8 res 3$' "$TEST_DIR/info.dst" ||
	_fail "abs info of ABS_Y lost"

# Events in order: keys, buttons, relative and absolute motion, scan codes.
vl-input-test read "$dst" >"$TEST_DIR/read.out" 2>&1 &
reader=$!
_PIDS+=("$reader")
_wait_for 30 grep -q '^reading$' "$TEST_DIR/read.out" || _fail "reader did not start"
: >"$TEST_DIR/expect"
for i in $(seq 1 20); do
	_src_batch "4 4 $((458752 + i))" "1 30 1"
	_src_batch "2 0 $i" "2 1 -$i" "2 8 1"
	_src_batch "1 272 1" "3 0 $((i * 7))"
	_src_batch "1 272 0" "1 30 0"
done
_src_cmd "burst 600"
for i in $(seq 0 599); do
	printf '4 4 %d\n1 48 %d\n0 0 0\n' "$i" $(((i + 1) % 2)) >>"$TEST_DIR/expect"
done
_expect_events "$TEST_DIR/read.out" "$TEST_DIR/expect" 120
_log "$(wc -l <"$TEST_DIR/expect") events arrived in order"
kill "$reader" 2>/dev/null

# LEDs: the driver's status queue, back to the source device.
vl-input-test write "$dst" 17 1 1 || _fail "writing LED_CAPSL on $dst"
vl-input-test write "$dst" 17 0 1 || _fail "writing LED_NUML on $dst"
vl-input-test write "$dst" 17 1 0 || _fail "writing LED_CAPSL off on $dst"
printf 'led 1 1\nled 0 1\nled 1 0\n' >"$TEST_DIR/led.expect"
_wait_for 30 _led_seen "$TEST_DIR/led.expect" ||
	_fail "LED events at the source: $(grep '^led' "$SRC_OUT" | tr '\n' ' ')"

# uinput shows its owner each EV_MSC it emitted, once; a second copy would
# be the virtio device writing them back (they would circle for ever).
dup=$(grep '^ev ' "$SRC_OUT" | sort | uniq -d | head -n 3 | tr '\n' ' ')
[ -z "$dup" ] || _fail "events echoed back to the source: $dup"

# The source disappears after a last batch: the batch still arrives, the
# back-end says why it stops and exits 1, the device is unplugged.
vl-input-test read "$dst" >"$TEST_DIR/read2.out" 2>&1 &
_PIDS+=("$!")
_wait_for 30 grep -q '^reading$' "$TEST_DIR/read2.out" || _fail "reader did not start"
_src_batch "1 46 1" "1 46 0"
printf '1 46 1\n1 46 0\n0 0 0\n' >"$TEST_DIR/expect2"
_expect_events "$TEST_DIR/read2.out" "$TEST_DIR/expect2" 60
_src_cmd quit
_wait_gone "$INPUT_PID" 30 || _fail "vhost-user-input still runs after its device went away"
wait "$INPUT_PID"
status=$?
[ "$status" = 1 ] || _fail "vhost-user-input exited $status after its device went away, not 1"
grep -q 'the device is gone' "$INPUT_LOG" || _fail "no clear line: $(cat "$INPUT_LOG")"
grep -q 'dropped' "$INPUT_LOG" && _fail "events dropped: $(cat "$INPUT_LOG")"
[ -S "$TEST_DIR/input.sock" ] && _fail "socket left behind"
_wait_for 60 test ! -e "/sys/bus/virtio/devices/$vdev" || _fail "$vdev still present"
_log "source removed: $(grep -m1 'the device is gone' "$INPUT_LOG")"
_pass
