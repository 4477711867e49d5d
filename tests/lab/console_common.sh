# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for the console lab tests (test_console_*.sh), sourced after
# common.sh.

# _start_console SOCKET ARGS...: our vhost-user-console on SOCKET with ARGS
# (--unix PATH or --pty, --cols/--rows). Sets CONSOLE_PID, CONSOLE_LOG (its
# stderr) and CONSOLE_OUT (its stdout, where --pty prints the path).
_start_console() {
	local sock=$1
	shift
	CONSOLE_OUT=$(mktemp "$TEST_DIR/console.XXXXXX")
	CONSOLE_LOG=$CONSOLE_OUT.log
	vhost-user-console --socket-path "$sock" "$@" >"$CONSOLE_OUT" 2>"$CONSOLE_LOG" &
	CONSOLE_PID=$!
	_PIDS+=("$CONSOLE_PID")
	_wait_for 30 _is_socket "$sock" || {
		cat "$CONSOLE_LOG" >&2
		_fail "vhost-user-console did not create $sock"
	}
}

# _console_hvc VIRTIO_NAME: wait until virtioN has its port and /dev/hvc0
# exists (the first hvc console: the lab guest has no other).
_console_hvc() {
	_wait_for 30 test -d "/sys/bus/virtio/devices/$1/virtio-ports" ||
		_fail "$1 has no virtio-ports (virtio_console did not bind)"
	_wait_for 30 test -c /dev/hvc0 || _fail "/dev/hvc0 did not appear for $1"
}

# _console_raw TTY: 8-bit clean, no echo, no line editing or signals.
_console_raw() {
	stty -F "$1" raw -echo -iexten cs8 -parenb || _fail "stty raw $1"
}

# _stop_console: SIGTERM the back-end; it must exit 0 and remove SOCKETS.
_stop_console() {
	local rc s n=200
	kill -TERM "$CONSOLE_PID"
	# Not _wait_gone: it reaps the process and its status with it.
	while [ -e "/proc/$CONSOLE_PID" ] && ! grep -q ') Z' "/proc/$CONSOLE_PID/stat"; do
		n=$((n - 1))
		[ $n -gt 0 ] || _fail "vhost-user-console ignored SIGTERM"
		sleep 0.1
	done
	wait "$CONSOLE_PID"
	rc=$?
	[ "$rc" = 0 ] || _fail "vhost-user-console exited $rc on SIGTERM: $(tail -n 3 "$CONSOLE_LOG")"
	for s in "$@"; do
		[ -e "$s" ] && _fail "$s left behind after SIGTERM"
	done
	return 0
}
