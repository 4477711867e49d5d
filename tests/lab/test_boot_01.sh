#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: the Debian packages on a system that boots with systemd.
# Before the boot (chrooted in the guest's writable overlay of the host
# root): dpkg installs virtio-loopback-dkms and virtio-loopback-tools from
# build/deb (make deb), DKMS builds the module for the running kernel, a
# device is declared in /etc/virtio-loopback/rng0.conf (its back-end, our
# vhost-user-rng, started by backend=) and its unit enabled. After the
# boot: modules-load.d loaded the DKMS module, udev made
# /dev/virtio-loopback 0660 for the group sysusers created, and
# virtio-loopback@rng0.service brought the device up; a killed adapter is
# restarted by systemd, a stopped unit removes its device, and dpkg
# --purge leaves neither programs nor module behind. On 6.12 only, where
# DKMS builds once (the running kernel is the newest; on 6.1 it builds for
# both, run by hand: each build is minutes of emulated compiling, and
# make kernel builds the same Kbuild for both kernels in every CI run).
# Lab init: systemd
# Lab kernels: 6.12
# Lab timeout: 1200
. "$(dirname "$0")/common.sh"
_prep_test
[ -n "${VM_RUN_INIT:-}" ] || _fail "needs vm-run --systemd (run-all reads '# Lab init: systemd')"
kver=$(uname -r)
conf=/etc/virtio-loopback/rng0.conf
unit=virtio-loopback@rng0.service
cli=/usr/sbin/virtio-loopback

if [ "$VM_RUN_INIT" = setup ]; then
	debs=("$TOP"/build/deb/virtio-loopback-dkms_*.deb "$TOP"/build/deb/virtio-loopback-tools_*.deb)
	for d in "${debs[@]}"; do
		[ -r "$d" ] || _fail "$d missing: run make deb"
	done
	# DKMS builds for the running kernel (and the newest installed one).
	dpkg -i "${debs[@]}" >"$TEST_DIR/dpkg.log" 2>&1 ||
		{ tail -n 30 "$TEST_DIR/dpkg.log"; _fail "dpkg -i ${debs[*]##*/}"; }
	_log "installed $(dpkg-query -W -f='${Package} ${Version}, ' virtio-loopback-dkms virtio-loopback-tools)(${SECONDS}s)"
	ko=$(modinfo -k "$kver" -n virtio_loopback 2>/dev/null)
	case "$ko" in
	/lib/modules/"$kver"/updates/dkms/virtio_loopback.ko*) ;;
	*) tail -n 30 "$TEST_DIR/dpkg.log"; _fail "no DKMS-built module for $kver (modinfo: '$ko')" ;;
	esac
	_log "DKMS built and installed $ko"
	getent group virtio-loopback >/dev/null || _fail "no group virtio-loopback after install"
	printf 'socket = /run/vl-rng0.sock\ndevice = rng\nbackend = /usr/bin/vhost-user-rng --socket-path /run/vl-rng0.sock\n' >"$conf"
	systemctl enable "$unit" >"$TEST_DIR/enable.log" 2>&1 ||
		_fail "systemctl enable $unit: $(cat "$TEST_DIR/enable.log")"
	_pass
fi

# Booted. Bounded: a unit that never settles fails the test, not the lab.
state=$(timeout 300 systemctl is-system-running --wait)
case "$state" in
running | degraded) ;;
*) _fail "systemd did not finish booting: '$state'" ;;
esac
_log "booted ($state) in $(systemctl show -p UserspaceTimestampMonotonic --value | awk '{ printf "%d", $1 / 1e6 }') s of user space"
systemctl is-active --quiet systemd-modules-load.service || _fail "systemd-modules-load failed"
grep -q '^virtio_loopback ' /proc/modules || _fail "modules-load.d did not load virtio_loopback"
case "$(modinfo -n virtio_loopback)" in
/lib/modules/"$kver"/updates/dkms/virtio_loopback.ko*) ;;
*) _fail "loaded module is not the DKMS one: $(modinfo -n virtio_loopback)" ;;
esac
_wait_for 30 test -c /dev/virtio-loopback || _fail "/dev/virtio-loopback missing"
_udev_applied() { [ "$(stat -c '%a %U %G' /dev/virtio-loopback)" = "660 root virtio-loopback" ]; }
_wait_for 30 _udev_applied ||
	_fail "udev rule not applied: /dev/virtio-loopback is $(stat -c '%a %U %G' /dev/virtio-loopback)"

# _rng_running: the installed CLI lists exactly one rng device, running.
_rng_running() {
	$cli list --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d) == 1 and d[0]["type"] == "rng" and d[0]["state"] == "running", d
print(d[0]["virtio"])'
}
_wait_for 60 systemctl is-active --quiet "$unit" ||
	_fail "$unit not active at boot: $(systemctl status --no-pager "$unit" 2>&1 | tail -n 15)"
_wait_for 60 _rng_running >/dev/null || _fail "no running rng device at boot: $($cli list)"
vdev=$(_rng_running)
_wait_for 30 grep -q virtio_rng /sys/class/misc/hw_random/rng_available ||
	_fail "virtio_rng not registered"
pid1=$(systemctl show -p MainPID --value "$unit")
[ "$(readlink "/proc/$pid1/exe")" = /usr/sbin/virtio-loopback-adapter ] ||
	_fail "the unit's main process is $(readlink "/proc/$pid1/exe")"
pgrep -x -P "$pid1" vhost-user-rng >/dev/null || _fail "backend= did not start vhost-user-rng"
_log "$unit brought $vdev up at boot (adapter pid $pid1)"

# _unit_log: the unit's state and journal, for a failure message.
_unit_log() {
	systemctl status --no-pager "$unit" 2>&1 | tail -n 8
	journalctl --no-pager -b -u "$unit" 2>&1 | tail -n 15
}
# An adapter killed outright: Restart=on-failure brings the device back.
kill -KILL "$pid1"
_restarted() { [ "$(systemctl show -p NRestarts --value "$unit")" -ge 1 ]; }
_wait_for 90 _restarted ||
	_fail "systemd did not restart $unit: $(_unit_log)"
_wait_for 60 systemctl is-active --quiet "$unit" || _fail "$unit not active after the restart: $(_unit_log)"
_wait_for 60 _rng_running >/dev/null || _fail "no running rng device after the restart: $($cli list)"
pid2=$(systemctl show -p MainPID --value "$unit")
[ "$pid2" != "$pid1" ] || _fail "adapter pid unchanged after kill"
_log "killed adapter restarted by systemd (pid $pid2), device $(_rng_running)"

systemctl stop "$unit" || _fail "systemctl stop $unit"
_wait_for 30 _vl_none || _fail "a device is left after stop: $($cli list)"
pgrep -x vhost-user-rng >/dev/null && _fail "the back-end outlived its unit"
_log "stopped: no device, no back-end"

dpkg --purge virtio-loopback-tools virtio-loopback-dkms >"$TEST_DIR/purge.log" 2>&1 ||
	{ tail -n 20 "$TEST_DIR/purge.log"; _fail "dpkg --purge"; }
for f in "$cli" /usr/sbin/virtio-loopback-adapter /usr/bin/vhost-user-rng \
	/lib/modules/*/updates/dkms/virtio_loopback.ko*; do
	[ -e "$f" ] && _fail "$f left after dpkg --purge"
done
_wait_for 30 rmmod virtio_loopback || _fail "rmmod virtio_loopback after purge"
_pass
