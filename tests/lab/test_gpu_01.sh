#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-gpu served by QEMU's vhost-user-gpu (2D): the DRM
# driver binds, its connector is connected with the adapter's --gpu-mode,
# the framebuffer console's text shows up in the adapter's PNG screenshot
# (blank before, the exact text after), and a back-end that dies ends the
# adapter with a clear error, the device unplugged, the last picture kept.
# On 6.1 the pixels come as UPDATE messages, on 6.12 (with /dev/udmabuf)
# through a shared dmabuf.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
. "$(dirname "$0")/common.sh"
_prep_test
VUG=/usr/lib/qemu/vhost-user-gpu
[ -x "$VUG" ] || _skip "$VUG not installed (qemu-system-gui)"
_have_program python3
SCREEN=$TOP/tests/lab/gpu_screen.py
sock=$TEST_DIR/gpu.sock
shot=$TEST_DIR/screen.png
W=800
H=600

# Bad command lines are refused before anything starts.
virtio-loopback-adapter --socket "$sock" --device gpu --gpu-mode 800x0 \
	>/dev/null 2>"$TEST_DIR/bad.err"
rc=$?
if [ $rc != 2 ] || ! grep -q -- '--gpu-mode' "$TEST_DIR/bad.err"; then
	_fail "--gpu-mode 800x0: exit $rc, $(cat "$TEST_DIR/bad.err")"
fi
virtio-loopback-adapter --socket "$sock" --device rng --screenshot "$shot" \
	>/dev/null 2>"$TEST_DIR/bad.err"
rc=$?
[ $rc = 2 ] || _fail "--screenshot on an rng device: exit $rc"

"$VUG" --socket-path "$sock" >"$TEST_DIR/vug.log" 2>&1 &
VUG_PID=$!
_PIDS+=("$VUG_PID")
_wait_for 30 _is_socket "$sock" || _fail "vhost-user-gpu did not create $sock"
_start_adapter vdev --socket "$sock" --device gpu --gpu-mode "${W}x$H" \
	--screenshot "$shot"

# The DRM device and its connector, with our mode first (preferred). The
# card hangs below the virtio device on 6.1, below its parent on 6.12; it
# is the only one in the guest. Builtins only: the guest is slow.
conn=
_find_connector() {
	local s st
	for s in /sys/class/drm/card*-*/status; do
		read -r st <"$s" || continue
		[ "$st" = connected ] || continue
		conn=${s%/status}
		return 0
	done
	return 1
}
_wait_for 60 _find_connector || _fail "no connected connector on $vdev"
mode=$(head -n1 "$conn/modes")
[ "$mode" = "${W}x$H" ] || _fail "$conn: first mode '$mode', expected ${W}x$H"
_log "$(basename "$conn") connected, mode $mode"

# fbcon takes the console over at the first output (deferred takeover).
_fbcon_bound() {
	local v name bind
	printf '\033[H' >/dev/tty1
	for v in /sys/class/vtconsole/vtcon*; do
		{ read -r name <"$v/name" && read -r bind <"$v/bind"; } || continue
		[[ "$name" == *"frame buffer"* ]] && [ "$bind" = 1 ] && return 0
	done
	return 1
}
_wait_for 60 _fbcon_bound || _fail "fbcon did not bind to the virtio-gpu framebuffer"
read -r rows cols < <(stty -F /dev/tty1 size) || _fail "stty -F /dev/tty1 size"
cw=$((W / cols))
ch=$((H / rows))
_log "console ${cols}x$rows, cells ${cw}x$ch"
# No blinking cursor in the pictures.
echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
printf '\033[?25l\033[2J\033[H' >/dev/tty1

# _shot: ask for a screenshot, wait for the new file.
_shot() {
	rm -f "$shot"
	kill -USR1 "$ADAPTER_PID" || _fail "adapter is gone"
	_wait_for 30 test -s "$shot" || _fail "no screenshot 30 s after SIGUSR1"
}
# _until_screen SECONDS ARGS...: screenshots until gpu_screen.py ARGS passes.
_until_screen() {
	local n=$1 out
	shift
	while :; do
		_shot
		out=$(python3 "$SCREEN" "$1" "$shot" "${@:2}") && { _log "$out"; return 0; }
		n=$((n - 1))
		[ $n -gt 0 ] || { _log "$out"; return 1; }
		sleep 1
	done
}

_shot
size=$(python3 "$SCREEN" size "$shot") || _fail "screenshot unreadable: $size"
[ "$size" = "${W}x$H" ] || _fail "screenshot is $size, expected ${W}x$H"
_until_screen 30 blank || _fail "the cleared console is not blank in the screenshot"

text="VIRTIO-LOOPBACK GPU 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ"
printf '\033[5;3H%s\033[20;3H%s' "$text" "$text" >/dev/tty1
_until_screen 60 text "${cw}x$ch" 3 5 20 "$text" ||
	_fail "the console text is not in the screenshot"
cp "$shot" "$TEST_DIR/text.png"
if [ -e /dev/udmabuf ]; then
	_log "pixels shared as a udmabuf (DMABUF_SCANOUT/DMABUF_UPDATE)"
else
	_log "pixels copied in UPDATE messages"
fi
# Zero-copy: the framebuffer's backing pages are shared in place, in part.
_zc_shared "$vdev" "framebuffer transfers"

# The back-end dies: the adapter ends with an error naming it, the device
# is unplugged, the last screenshot (written at exit) still shows the text.
kill -KILL "$VUG_PID"
n=600
while kill -0 "$ADAPTER_PID" 2>/dev/null; do
	n=$((n - 1))
	[ $n -gt 0 ] || _fail "adapter still running 60 s after the back-end died"
	sleep 0.1
done
wait "$ADAPTER_PID"
rc=$?
err=$(ls "$TEST_DIR"/adapter.*.err)
[ $rc = 1 ] || _fail "adapter exit $rc after the back-end died (expected 1): $(cat "$err")"
grep -q 'closed' "$err" || _fail "adapter error does not say the back-end closed: $(cat "$err")"
_log "adapter: $(grep -m1 'closed' "$err")"
_wait_for 30 _vl_none || _fail "device still present after the adapter exited"
python3 "$SCREEN" text "$shot" "${cw}x$ch" 3 5 20 "$text" >/dev/null ||
	_fail "the screenshot written at exit lost the text"
_pass
