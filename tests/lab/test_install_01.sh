#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.1
# Description: make install (install-files) into a DESTDIR inside the guest puts every
# file where the packaging expects it (programs, man pages, udev rule,
# systemd template unit, modules-load.d, sysusers.d, bash completion, the
# module source with dkms.conf); a device comes up from the installed
# files alone: the unit's ExecStart (the installed CLI starts the
# installed back-end from backend= and execs the installed adapter) on a
# config file; the back-end ends with its adapter; the
# installed CLI lists and removes it; make uninstall leaves no file.
# Lab timeout: 300
. "$(dirname "$0")/common.sh"
_prep_test
_have_program make
_log "prepared (${SECONDS}s)"
root=$TEST_DIR/root
ver=$(sed -n 's/^PKG_VERSION ?= //p' "$TOP/dist/install.mk")

# install-files is make install without its build step (the tree is
# read-only here and was built on the host: make lab builds it).
make -s -C "$TOP" install-files DESTDIR="$root" PREFIX=/usr >"$TEST_DIR/install.log" 2>&1 ||
	{ cat "$TEST_DIR/install.log"; _fail "make install failed"; }
for f in usr/sbin/virtio-loopback usr/sbin/virtio-loopback-adapter \
	usr/bin/vhost-user-rng usr/bin/vhost-user-console \
	usr/share/man/man8/virtio-loopback.8 usr/share/man/man8/virtio-loopback-adapter.8 \
	usr/share/man/man5/virtio-loopback.conf.5 usr/share/man/man1/vhost-user-rng.1 \
	usr/lib/udev/rules.d/60-virtio-loopback.rules \
	usr/lib/systemd/system/virtio-loopback@.service \
	usr/lib/modules-load.d/virtio-loopback.conf usr/lib/sysusers.d/virtio-loopback.conf \
	usr/share/bash-completion/completions/virtio-loopback \
	"usr/src/virtio-loopback-$ver/dkms.conf" "usr/src/virtio-loopback-$ver/Kbuild" \
	"usr/src/virtio-loopback-$ver/vl_main.c" \
	"usr/src/virtio-loopback-$ver/include/uapi/linux/virtio_loopback.h"; do
	[ -s "$root/$f" ] || _fail "make install did not install /$f"
done
[ -d "$root/etc/virtio-loopback" ] || _fail "no /etc/virtio-loopback"
unit=$root/usr/lib/systemd/system/virtio-loopback@.service
grep -qx 'ExecStart=/usr/sbin/virtio-loopback run %i' "$unit" || _fail "unit ExecStart: $(grep ExecStart "$unit")"
grep -qx 'ConditionPathExists=/etc/virtio-loopback/%i.conf' "$unit" || _fail "unit: config path"
# systemd parses the unit without a complaint (unknown keys only warn).
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$TEST_DIR/units"
	sed "s|^ExecStart=/|ExecStart=$root/|" "$unit" >"$TEST_DIR/units/virtio-loopback@rng0.service"
	systemd-analyze verify --man=no "$TEST_DIR/units/virtio-loopback@rng0.service" >"$TEST_DIR/verify" 2>&1 ||
		_fail "systemd-analyze verify: $(cat "$TEST_DIR/verify")"
	[ -s "$TEST_DIR/verify" ] && _fail "systemd-analyze verify: $(cat "$TEST_DIR/verify")"
fi
grep -q '^KERNEL=="virtio-loopback", .*MODE="0660", GROUP="virtio-loopback"' \
	"$root/usr/lib/udev/rules.d/60-virtio-loopback.rules" || _fail "udev rule"
grep -qx virtio_loopback "$root/usr/lib/modules-load.d/virtio-loopback.conf" || _fail "modules-load.d"
grep -q "^PACKAGE_VERSION=\"$ver\"" "$root/usr/src/virtio-loopback-$ver/dkms.conf" || _fail "dkms.conf version"
bash -n "$root/usr/share/bash-completion/completions/virtio-loopback" || _fail "completion syntax"
grep -q 'json' "$root/usr/share/man/man8/virtio-loopback.8" || _fail "virtio-loopback.8 has no --json"
_log "make install: $(find "$root" -type f | wc -l) files (${SECONDS}s)"

# A device from the installed files only: the unit's command on a config
# file whose backend= starts the installed back-end.
conf=$root/etc/virtio-loopback/rng0.conf
printf 'socket = %s\ndevice = rng\nbackend = %s --socket-path %s\n' "$TEST_DIR/rng.sock" \
	"$root/usr/bin/vhost-user-rng" "$TEST_DIR/rng.sock" >"$conf"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
cmd=${exec_start//%i/$conf}
read -ra argv <<<"$cmd"
argv[0]=$root${argv[0]}
PATH=/usr/bin:/bin "${argv[@]}" >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err" &
run_pid=$!
_PIDS+=("$run_pid")
_wait_for 60 grep -q '^ready virtio' "$TEST_DIR/run.out" || _fail "no device from the unit's command: $(cat "$TEST_DIR/run.err")"
exe=$(readlink "/proc/$run_pid/exe")
[ "$exe" = "$root/usr/sbin/virtio-loopback-adapter" ] || _fail "the unit ran $exe, not the installed adapter"
vdev=$(sed -n 's/^ready //p' "$TEST_DIR/run.out")
backend_pid=$(pgrep -f -P "$run_pid" "^$root/usr/bin/vhost-user-rng --socket-path") ||
	_fail "backend= did not start vhost-user-rng as the adapter's child"
_PIDS=("$backend_pid" "${_PIDS[@]}")
cli=$root/usr/sbin/virtio-loopback
$cli list --json | python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin) if x["virtio"] == sys.argv[1]]
assert len(d) == 1 and d[0]["type"] == "rng" and d[0]["state"] == "running", d
assert d[0]["socket"] == sys.argv[2], d
' "$vdev" "$TEST_DIR/rng.sock" || _fail "installed CLI does not list $vdev: $($cli list)"
_wait_for 30 grep -q virtio_rng /sys/class/misc/hw_random/rng_available || _fail "virtio_rng not registered"
$cli remove "$vdev" || _fail "installed CLI could not remove $vdev"
wait "$run_pid"
rc=$?
[ "$rc" = 0 ] || _fail "the adapter exited $rc after remove"
_wait_gone "$backend_pid" 10 || _fail "the back-end outlived its adapter"
_vl_none || _fail "a device is left: $($cli list)"
_log "device up, listed and removed from the installed files (${SECONDS}s)"
rm -f "$conf"

make -s -C "$TOP" uninstall DESTDIR="$root" PREFIX=/usr >"$TEST_DIR/uninstall.log" 2>&1 ||
	{ cat "$TEST_DIR/uninstall.log"; _fail "make uninstall failed"; }
left=$(find "$root" ! -type d)
[ -z "$left" ] || _fail "make uninstall left: $left"
[ -e "$root/usr/src/virtio-loopback-$ver" ] && _fail "make uninstall left the dkms source directory"
_pass
