# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers of the input lab tests (test_input_*.sh), after common.sh: a
# uinput source device driven by vl-input-test, our vhost-user-input on it,
# and the checks on what the virtio input device reports.

# _start_uinput_src: create the source device. Sets SRC_DEV (its
# /dev/input/eventN), SRC_OUT (its output: "led CODE VALUE" lines) and
# opens fd 7 to its command pipe.
_start_uinput_src() {
	local line
	mkfifo "$TEST_DIR/src.cmd" || _fail "mkfifo"
	SRC_OUT=$TEST_DIR/src.out
	vl-input-test uinput <"$TEST_DIR/src.cmd" >"$SRC_OUT" 2>&1 &
	_PIDS+=("$!")
	exec 7>"$TEST_DIR/src.cmd"
	_wait_for 30 grep -q '^ready ' "$SRC_OUT" || _fail "uinput source: $(cat "$SRC_OUT")"
	line=$(grep -m1 '^ready ' "$SRC_OUT")
	# shellcheck disable=SC2034 # used by the tests
	SRC_DEV=${line#ready }
}

# _src_cmd COMMAND: one command to the source (see vl-input-test).
_src_cmd() { echo "$*" >&7 || _fail "source command $*"; }

# _src_batch "TYPE CODE VALUE"...: emit the events and a SYN_REPORT at the
# source, and add them to $TEST_DIR/expect.
_src_batch() {
	local e
	for e in "$@"; do
		_src_cmd "ev $e"
		echo "$e" >>"$TEST_DIR/expect"
	done
	_src_cmd "ev 0 0 0"
	echo "0 0 0" >>"$TEST_DIR/expect"
}

# _start_input SOCKET EVDEV [ARGS...]: our vhost-user-input. Sets INPUT_PID
# and INPUT_LOG.
_start_input() {
	local sock=$1 evdev=$2
	shift 2
	INPUT_LOG=$TEST_DIR/input.$RANDOM.log
	vhost-user-input --socket-path "$sock" --evdev "$evdev" "$@" >"$INPUT_LOG" 2>&1 &
	INPUT_PID=$!
	_PIDS+=("$INPUT_PID")
	_wait_for 30 _is_socket "$sock" || _fail "vhost-user-input did not create $sock: $(cat "$INPUT_LOG")"
}

# _virtio_evdev VIRTIO_NAME: /dev/input/eventN of a virtio input device.
_virtio_evdev() {
	local d ev
	_wait_for 60 eval "ls -d /sys/bus/virtio/devices/$1/input/input*/event* >/dev/null" ||
		_fail "$1 has no evdev node"
	d=$(ls -d /sys/bus/virtio/devices/"$1"/input/input*/event* | head -n1)
	ev=/dev/input/$(basename "$d")
	_wait_for 10 test -c "$ev" || _fail "$ev missing"
	echo "$ev"
}

# _events_match OUT EXPECT: the reader's events (after "reading") equal EXPECT.
_events_match() { cmp -s <(sed '1d' "$1") "$2"; }

# _expect_events OUT EXPECT SECONDS: wait until the reader got exactly the
# expected events, or fail showing where they differ.
_expect_events() {
	local end=$((SECONDS + $3))
	# By the clock: under TCG one poll round takes far longer than 0.1 s.
	while [ $SECONDS -lt $end ]; do
		_events_match "$1" "$2" && return 0
		sleep 0.5
	done
	_events_match "$1" "$2" && return 0
	diff <(sed '1d' "$1") "$2" | head -n 20 >&2
	_fail "events at the virtio device differ from the source's ($(($(wc -l <"$1") - 1)) of $(wc -l <"$2") lines; back-end: $(tail -n 3 "$INPUT_LOG" | tr '\n' ' '))"
}

# _led_seen EXPECT: the source received exactly these LED events.
_led_seen() { cmp -s <(grep '^led' "$SRC_OUT") "$1"; }
