#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: vhost-user-console with port 0 on a pty (--pty): agetty on
# /dev/hvc0 shows its login prompt on the pty, and a name typed on the pty
# reaches it: agetty echoes it and hands it to its login program (echo
# here), whose answer comes back on the pty.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/console_common.sh"
_prep_test
[ -x /sbin/agetty ] || _skip "/sbin/agetty (util-linux) not installed"
sock=$TEST_DIR/con.sock
_start_console "$sock" --pty
_wait_for 30 grep -q '^pty /dev/pts/' "$CONSOLE_OUT" || _fail "no 'pty PATH' line on stdout"
pty=$(sed -n 's/^pty //p' "$CONSOLE_OUT")
[ -c "$pty" ] || _fail "$pty is not a character device"
_start_adapter vdev --socket "$sock" --device console
_console_hvc "$vdev"

# The other side of the line: everything the pty gets goes to a file.
exec 8<>"$pty"
cat <&8 >"$TEST_DIR/screen" &
_PIDS+=("$!")
setsid /sbin/agetty --noclear --noissue --nohostname --login-program /bin/echo \
	--login-options 'welcome \u' hvc0 115200 vt100 2>"$TEST_DIR/agetty.err" &
_PIDS+=("$!")
_wait_for 60 grep -q 'login: ' "$TEST_DIR/screen" ||
	_fail "no login prompt on $pty: '$(cat -v "$TEST_DIR/screen")' $(cat "$TEST_DIR/agetty.err")"
printf 'alice\r' >&8
_wait_for 60 grep -q 'welcome alice' "$TEST_DIR/screen" ||
	_fail "the typed name did not come back: '$(cat -v "$TEST_DIR/screen")' $(cat "$TEST_DIR/agetty.err")"
_log "on $pty: $(tr -d '\r' <"$TEST_DIR/screen" | tr '\n' '|')"
exec 8>&-
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "adapter did not exit"
_stop_console "$sock"
_pass
