#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-console served by our vhost-user-console with port 0
# on a unix socket: /dev/hvc0 appears and takes the --cols/--rows window
# size; 1 MiB of random bytes goes out through hvc0, back through an
# echoing client and in again unchanged; 256 KiB that a client sends right
# before hanging up all arrive; a client that leaves mid-stream is logged
# and the next client gets the rest, in order; SIGTERM exits 0 and removes
# both sockets. A stopped back-end blocks the writer, not the machine, and
# loses nothing.
# Memory modes: isolated zero-copy
# Check runs: 6.1/isolated
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/console_common.sh"
_prep_test
_have_program socat
sock=$TEST_DIR/con.sock
line=$TEST_DIR/line.sock
_start_console "$sock" --unix "$line" --cols 132 --rows 43
_start_adapter vdev --socket "$sock" --device console
_console_hvc "$vdev"
# Keep hvc0 open: the driver applies a window size only to an open tty,
# and the raw settings last only while it is open.
exec 7<>/dev/hvc0
_console_raw /dev/hvc0
relay=$(_vl_sysfs "$vdev")

# The window size is announced again when a client connects.
socat UNIX-CONNECT:"$line" EXEC:cat 2>"$TEST_DIR/echo.log" &
echo_pid=$!
_PIDS+=("$echo_pid")
_wait_for 30 grep -q 'client connected' "$CONSOLE_LOG" || _fail "the echo client did not connect"
size_ok() { [ "$(stty -F /dev/hvc0 size)" = "43 132" ]; }
_wait_for 30 size_ok || _fail "hvc0 window size is '$(stty -F /dev/hvc0 size)', not '43 132'"

# 1 MiB out and back in.
head -c 1M /dev/urandom >"$TEST_DIR/in"
start=$SECONDS
timeout 120 head -c 1048576 <&7 >"$TEST_DIR/out" &
reader=$!
cat "$TEST_DIR/in" >&7 || _fail "writing 1 MiB to /dev/hvc0"
wait $reader || _fail "reading the echo from /dev/hvc0: $(stat -c %s "$TEST_DIR/out") of 1048576 bytes"
cmp "$TEST_DIR/in" "$TEST_DIR/out" || _fail "the 1 MiB round trip through hvc0 changed bytes"
_log "1 MiB round trip in $((SECONDS - start)) s"
# The transmit queue is relayed (hvc writes spin until the device answers):
# every byte went through the transport's own ring, none was dropped.
relayed=$(cat "$relay/queues/1/relayed_bytes")
[ "$relayed" -ge 1048576 ] || _fail "queues/1/relayed_bytes is $relayed after 1 MiB"
[ "$(cat "$relay/queues/1/relay_dropped_bytes")" = 0 ] || _fail "relayed bytes were dropped"
_log "relayed $relayed bytes, $(cat "$relay/held_maps") transmit mappings held back"

# A back-end that stops reading must stall the writer, not the machine
# (a CPU spinning with interrupts off in put_chars()): 512 KiB is more
# than the relay holds; the writer blocks, the guest keeps running, and
# everything arrives once the back-end runs again.
head -c 512K /dev/urandom >"$TEST_DIR/in4"
timeout 120 head -c 524288 <&7 >"$TEST_DIR/out4" &
reader=$!
kill -STOP "$CONSOLE_PID"
held=$(cat "$relay/held_maps")
cat "$TEST_DIR/in4" >&7 &
writer=$!
sleep 3
kill -0 "$writer" 2>/dev/null || _fail "512 KiB went into hvc0 with the back-end stopped"
[ "$(cat "$relay/held_maps")" -gt "$held" ] || _fail "no transmit mapping was held back with the back-end stopped"
kill -CONT "$CONSOLE_PID"
wait $writer || _fail "writing 512 KiB to hvc0 after the back-end resumed"
wait $reader || _fail "reading 512 KiB back: $(stat -c %s "$TEST_DIR/out4") bytes"
cmp "$TEST_DIR/in4" "$TEST_DIR/out4" || _fail "bytes written while the back-end was stopped changed"
[ "$(cat "$relay/queues/1/relay_dropped_bytes")" = 0 ] || _fail "bytes were dropped while the back-end was stopped"
kill "$echo_pid"
_wait_for 30 grep -q 'client disconnected' "$CONSOLE_LOG" || _fail "echo client departure not logged"

# A client that sends 256 KiB and hangs up at once: every byte arrives.
head -c 256K /dev/urandom >"$TEST_DIR/in2"
timeout 60 head -c 262144 <&7 >"$TEST_DIR/out2" &
reader=$!
socat -u FILE:"$TEST_DIR/in2" UNIX-CONNECT:"$line" || _fail "socat could not send 256 KiB"
wait $reader || _fail "after the client hung up, hvc0 got $(stat -c %s "$TEST_DIR/out2") of 262144 bytes"
cmp "$TEST_DIR/in2" "$TEST_DIR/out2" || _fail "bytes sent before a hang-up changed"

# A client that leaves mid-stream: logged; the next one gets the rest.
seq 1 100000 >"$TEST_DIR/in3"
total=$(stat -c %s "$TEST_DIR/in3")
cat "$TEST_DIR/in3" >&7 &
writer=$!
timeout 60 socat -u UNIX-CONNECT:"$line" - 2>/dev/null | head -c 100000 >"$TEST_DIR/part1"
_wait_for 30 test "$(grep -c 'client disconnected' "$CONSOLE_LOG")" -ge 3 ||
	_fail "the client that left mid-stream was not logged"
socat -u UNIX-CONNECT:"$line" - >"$TEST_DIR/part2" 2>/dev/null &
client2=$!
_PIDS+=("$client2")
last_ok() { [ "$(tail -n 1 "$TEST_DIR/part2")" = 100000 ]; }
_wait_for 60 last_ok || _fail "the next client did not get the end of the stream"
wait $writer || _fail "writing to hvc0 failed while the client changed"
kill "$client2"
cmp -n 100000 "$TEST_DIR/part1" "$TEST_DIR/in3" || _fail "the first client got wrong bytes"
n2=$(stat -c %s "$TEST_DIR/part2")
tail -c "$n2" "$TEST_DIR/in3" | cmp - "$TEST_DIR/part2" || _fail "the next client's bytes are not the stream's end"
_log "stream of $total bytes: 100000 to the first client, $n2 to the next," \
	"$((total - 100000 - n2)) unread in the first client's socket when it closed"
grep 'client disconnected' "$CONSOLE_LOG" | tail -n 1

exec 7>&-
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "adapter did not exit"
_wait_for 30 test ! -e "/sys/bus/virtio/devices/$vdev" || _fail "$vdev still there after the adapter left"
# The hvc driver keeps its /dev nodes; one without a console refuses open.
! stty -F /dev/hvc0 >/dev/null 2>&1 || _fail "/dev/hvc0 still opens after the adapter left"
_stop_console "$sock" "$line"
_pass
