#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: our rng and console back-ends killed with kill -9 and
# restarted while in use: /dev/hwrng keeps delivering (1 MiB read across 3
# restarts, no read error), hvc0 keeps working (writes never fail, a line
# written after each restart comes out on the new back-end's side), and
# both adapters report each reconnect, done through the back-end's own
# inflight record (libvlb offers INFLIGHT_SHMFD), never the kernel rewind.
# Memory modes: isolated zero-copy
# Check runs: 6.1/isolated
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/console_common.sh"
_prep_test
_have_program socat

# rng: a reader that must never see an error.
rsock=$TEST_DIR/rng.sock
start_rng() {
	rm -f "$rsock"
	vhost-user-rng --socket-path "$rsock" >>"$TEST_DIR/rng.log" 2>&1 &
	RNG_PID=$!
	_PIDS+=("$RNG_PID")
	_wait_for 30 _is_socket "$rsock" || _fail "vhost-user-rng did not create $rsock"
}
start_rng
_start_adapter rdev --socket "$rsock" --device rng --reconnect-timeout 10
rng_err=$ADAPTER_ERR
hw=/sys/class/misc/hw_random
_wait_for 30 grep -q virtio_rng "$hw/rng_available" || _fail "virtio_rng not registered"
tr ' ' '\n' <"$hw/rng_available" | grep -m1 virtio_rng >"$hw/rng_current" || _fail "cannot select virtio_rng"
dd if=/dev/hwrng of="$TEST_DIR/rnd" bs=1k count=1024 iflag=fullblock status=none &
reader=$!
for i in 1 2 3; do
	sleep 1
	kill -KILL "$RNG_PID"
	_wait_gone "$RNG_PID" 10 || _fail "vhost-user-rng survived kill -9"
	start_rng
	back() { [ "$(grep -c "back-end is back.*(its inflight record)" "$rng_err")" -ge "$i" ]; }
	_wait_for 30 back || _fail "the rng adapter did not reconnect after restart $i"
done
_wait_gone "$reader" 120 || _fail "the /dev/hwrng reader did not finish"
wait "$reader" || _fail "reading /dev/hwrng failed across restarts"
[ "$(stat -c %s "$TEST_DIR/rnd")" = 1048576 ] || _fail "short read from /dev/hwrng"
size=$(gzip -c "$TEST_DIR/rnd" | wc -c)
[ "$size" -gt 1040000 ] || _fail "1 MiB read across restarts compresses to $size bytes"
! grep "back-end is back" "$rng_err" | grep -v "(its inflight record)" ||
	_fail "the rng adapter used another mechanism than the back-end's inflight record"
_log "rng: 1 MiB across 3 restarts; $(grep "back-end is back" "$rng_err" | tail -n 1)"

# console: after each restart a line written to hvc0 comes out on the
# new back-end's side.
csock=$TEST_DIR/con.sock
line=$TEST_DIR/line.sock
start_console() {
	rm -f "$csock" "$line"
	_start_console "$csock" --unix "$line"
}
start_console
_start_adapter cdev --socket "$csock" --device console --reconnect-timeout 10
con_err=$ADAPTER_ERR
_console_hvc "$cdev"
exec 7<>/dev/hvc0
_console_raw /dev/hvc0
for i in 1 2 3; do
	kill -KILL "$CONSOLE_PID"
	_wait_gone "$CONSOLE_PID" 10 || _fail "vhost-user-console survived kill -9"
	# Written while no back-end is there: must not fail or block.
	# shellcheck disable=SC2016 # $1 is for the inner shell
	timeout 10 sh -c 'echo "while away $1" >&7' sh "$i" || _fail "a write to hvc0 with the back-end gone failed"
	start_console
	back() { [ "$(grep -c "back-end is back.*(its inflight record)" "$con_err")" -ge "$i" ]; }
	_wait_for 30 back || _fail "the console adapter did not reconnect after restart $i"
	timeout 20 socat -u UNIX-CONNECT:"$line" - >"$TEST_DIR/got.$i" 2>/dev/null &
	client=$!
	echo "after restart $i" >&7
	got() { grep -q "after restart $i" "$TEST_DIR/got.$i"; }
	_wait_for 20 got || _fail "a line written after restart $i did not come out"
	kill "$client" 2>/dev/null
done
exec 7>&-
! grep "back-end is back" "$con_err" | grep -v "(its inflight record)" ||
	_fail "the console adapter used another mechanism than the back-end's inflight record"
_log "console: 3 restarts; $(grep "back-end is back" "$con_err" | tail -n 1)"
_pass
