#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.12
# Description: every adapter failure named in the issue gives one clear
# line on stderr, a non-zero exit and no kernel device left behind: no
# module, socket missing, not a socket, nobody listening, back-end hanging
# up mid-handshake, malformed / short / oversized replies, a silent
# back-end, a back-end without VIRTIO_F_VERSION_1, unknown device TYPE,
# bad numbers on the command line.
. "$(dirname "$0")/common.sh"
_prep_test
hostile=$(dirname "$0")/hostile_backend.py

# _expect_fail WHAT PATTERN ADAPTER_ARGS...: the adapter must fail with
# exactly one stderr line matching PATTERN (extended regex, case-insensitive).
_expect_fail() {
	local what=$1 pat=$2 err=$TEST_DIR/err rc lines
	shift 2
	timeout 60 virtio-loopback-adapter "$@" >"$TEST_DIR/out" 2>"$err"
	rc=$?
	[ $rc != 0 ] || _fail "$what: adapter exited 0"
	[ $rc != 124 ] || _fail "$what: adapter hung"
	lines=$(wc -l <"$err")
	[ "$lines" = 1 ] || { cat "$err"; _fail "$what: $lines lines on stderr, expected 1"; }
	grep -qiE "$pat" "$err" || _fail "$what: message '$(cat "$err")' does not match /$pat/"
	[ "$(_vl_count)" = 0 ] || _fail "$what: a device was left behind"
	_log "ok: $what: $(cat "$err")"
}

# _hostile MODE: start the hostile back-end on a fresh socket, echo its path.
_hostile() {
	local sock=$TEST_DIR/hostile.$1.sock
	# Its output must not hold the caller's $(...) open.
	python3 "$hostile" "$sock" "$1" >/dev/null 2>&1 &
	_PIDS+=($!)
	_wait_for 20 _is_socket "$sock" || _fail "hostile back-end $1 did not start"
	echo "$sock"
}

_start_rng "$TEST_DIR/rng.sock"

_expect_fail "unknown type" "frobnicator" --socket "$TEST_DIR/rng.sock" --device frobnicator
_expect_fail "missing --socket" "socket" --device rng
_expect_fail "bad queue size" "queue-size" --socket "$TEST_DIR/rng.sock" --device rng --queue-size 1000
_expect_fail "bad queue count" "queues" --socket "$TEST_DIR/rng.sock" --device rng --queues 0
_expect_fail "socket missing" "$TEST_DIR/nothing.sock" --socket "$TEST_DIR/nothing.sock" --device rng
touch "$TEST_DIR/plain"
_expect_fail "not a socket" "not a socket" --socket "$TEST_DIR/plain" --device rng
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$TEST_DIR/dead.sock"
_expect_fail "nobody listening" "refused" --socket "$TEST_DIR/dead.sock" --device rng
_expect_fail "hang-up mid-handshake" "closed|hung up|reset|EOF" --socket "$(_hostile hangup)" --device rng
_expect_fail "wrong reply request" "GET_FEATURES" --socket "$(_hostile wrong-request)" --device rng
_expect_fail "short reply" "GET_FEATURES" --socket "$(_hostile short-reply)" --device rng
_expect_fail "oversized reply" "GET_FEATURES|size|protocol" --socket "$(_hostile oversized)" --device rng
_expect_fail "silent back-end" "time" --socket "$(_hostile silent)" --device rng --backend-timeout 2
_expect_fail "no VERSION_1" "VERSION_1" --socket "$(_hostile no-version-1)" --device rng

# Last: the module is not loaded.
_run rmmod virtio_loopback
_expect_fail "no module" "/dev/virtio-loopback" --socket "$TEST_DIR/rng.sock" --device rng
_pass
