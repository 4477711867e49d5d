#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.12
# Description: the virtio-loopback CLI on real devices: an rng (our
# back-end) and a qemu-storage-daemon disk. list (table and --json, parsed
# by python3) and show (by vl<N>, virtio<N> and /dev/vdX) agree with sysfs
# and with the adapters (pid, socket, features by name, queue counters
# moving under I/O); remove takes the disk away in order (its adapter
# exits 0), a device node and garbage are refused with exit 2 or 1 and one
# line; run --dry-run turns a config file into the adapter's options and
# run starts a device from one.
# Lab timeout: 300
. "$(dirname "$0")/common.sh"
_prep_test
_have_program qemu-storage-daemon
_have_program python3
cli=virtio-loopback

_start_rng "$TEST_DIR/rng.sock"
_start_adapter rngdev --socket "$TEST_DIR/rng.sock" --device rng
rng_pid=$ADAPTER_PID
truncate -s 64M "$TEST_DIR/disk.img"
_start_qsd "$TEST_DIR/blk.sock" raw "$TEST_DIR/disk.img"
_start_adapter blkdev --socket "$TEST_DIR/blk.sock" --device blk
blk_pid=$ADAPTER_PID
vd=$(_blkdev "$blkdev")
rng_vl=$(basename "$(_vl_sysfs "$rngdev")")
blk_vl=$(basename "$(_vl_sysfs "$blkdev")")
_log "rng $rng_vl ($rngdev, pid $rng_pid), blk $blk_vl ($blkdev $vd, pid $blk_pid)"

# list: a header and one line per device.
$cli list >"$TEST_DIR/list" 2>"$TEST_DIR/err" || _fail "list failed: $(cat "$TEST_DIR/err")"
cat "$TEST_DIR/list"
head -n1 "$TEST_DIR/list" | grep -q '^NAME  *VIRTIO  *TYPE  *STATE  *MEMORY  *QUEUES  *PID  *SOCKET$' ||
	_fail "list header: $(head -n1 "$TEST_DIR/list")"
grep -Eq "^$rng_vl +$rngdev +rng +running +(isolated|zero-copy) +1 +$rng_pid +$TEST_DIR/rng.sock\$" "$TEST_DIR/list" ||
	_fail "no rng line in list"
grep -Eq "^$blk_vl +$blkdev +blk +running +[a-z-]+ +1 +$blk_pid +$TEST_DIR/blk.sock\$" "$TEST_DIR/list" ||
	_fail "no blk line in list"
[ "$(wc -l <"$TEST_DIR/list")" = 3 ] || _fail "list has $(wc -l <"$TEST_DIR/list") lines, want 3"

# list --json, parsed.
$cli list --json >"$TEST_DIR/list.json" || _fail "list --json failed"
python3 - "$TEST_DIR/list.json" "$rng_vl" "$rng_pid" "$TEST_DIR/rng.sock" "$blk_vl" "$blk_pid" "$blkdev" <<'PY' || _fail "list --json does not match"
import json, sys
f, rvl, rpid, rsock, bvl, bpid, bvirtio = sys.argv[1:]
devs = {d["name"]: d for d in json.load(open(f))}
assert set(devs) == {rvl, bvl}, devs.keys()
r, b = devs[rvl], devs[bvl]
assert r["type"] == "rng" and r["device_id"] == 4 and r["pid"] == int(rpid), r
assert r["socket"] == rsock and r["owner"] == "virtio-loopback-adapter", r
assert r["state"] == "running" and "DRIVER_OK" in r["status_names"], r
assert b["type"] == "blk" and b["virtio"] == bvirtio and b["queues"] == 1, b
assert b["pid"] == int(bpid), b
PY

# show: the same device by each of its names; features by name.
$cli show "$blk_vl" >"$TEST_DIR/show" || _fail "show $blk_vl failed"
cat "$TEST_DIR/show"
$cli show "$blkdev" | cmp -s - "$TEST_DIR/show" || _fail "show $blkdev differs from show $blk_vl"
$cli show "$vd" >"$TEST_DIR/show.vd" || _fail "show $vd failed"
head -n1 "$TEST_DIR/show.vd" | grep -q "^$blk_vl: $blkdev blk" || _fail "show $vd: $(head -n1 "$TEST_DIR/show.vd")"
grep -q "status 0x0f ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK" "$TEST_DIR/show" || _fail "show: status not decoded"
grep -q "device features 0x[0-9a-f]* .*FLUSH.*VERSION_1" "$TEST_DIR/show" || _fail "show: device features not decoded"
grep -q "driver features 0x[0-9a-f]* .*VERSION_1 ACCESS_PLATFORM" "$TEST_DIR/show" || _fail "show: driver features not decoded"
grep -q "owner pid $blk_pid (virtio-loopback-adapter)" "$TEST_DIR/show" || _fail "show: owner"
grep -q "back-end socket $TEST_DIR/blk.sock" "$TEST_DIR/show" || _fail "show: socket"
grep -q "^	queue 0 size [0-9]*/[0-9]* .*kicks" "$TEST_DIR/show" || _fail "show: no queue 0"
sysfs_features=$(cat "/sys/class/virtio-loopback/$blk_vl/driver_features")
grep -q "driver features $sysfs_features " "$TEST_DIR/show" || _fail "show: driver features are not sysfs's $sysfs_features"

# Queue counters move under I/O, and show --json says so.
kicks() {
	$cli show --json "$blk_vl" | python3 -c 'import json,sys; print(sum(q["kicks"] for q in json.load(sys.stdin)["queue_list"]))'
}
k0=$(kicks) || _fail "show --json unparsable"
dd if="$vd" of=/dev/null bs=4k count=256 iflag=direct status=none || _fail "reading $vd"
k1=$(kicks)
[ "$k1" -gt "$k0" ] || _fail "kicks did not move under I/O: $k0 -> $k1"
_log "kicks $k0 -> $k1 after 256 reads"
$cli show --json "$rng_vl" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["type"] == "rng" and d["driver_features"].startswith("0x"), d
assert "VERSION_1" in d["device_features_names"], d
assert d["queue_list"][0]["index"] == 0 and d["queue_list"][0]["max_size"] > 0, d
' || _fail "show --json $rng_vl"

_log "list, show: ok (${SECONDS}s)"
# Garbage: exit 2 for the command line, 1 for a device that is not there;
# one line each.
expect() {
	local code=$1 msg=$2 rc
	shift 2
	"$cli" "$@" >/dev/null 2>"$TEST_DIR/err"
	rc=$?
	[ "$rc" = "$code" ] || _fail "'$cli $*' exited $rc, want $code"
	if [ "$(wc -l <"$TEST_DIR/err")" != 1 ] || ! grep -q "$msg" "$TEST_DIR/err"; then
		_fail "'$cli $*' said: $(cat "$TEST_DIR/err")"
	fi
}
expect 2 "unknown command" frob
expect 2 "no command"
expect 2 "unknown option" list --frob
expect 2 "needs a DEVICE" show
expect 2 "not a device name" show sda
expect 1 "vl999: no such device" show vl999
expect 1 "virtio999: no such device" remove virtio999
expect 1 "no such device" show /dev/null
expect 2 "is not a number" remove "$blk_vl" --timeout -1
expect 2 "unexpected argument" remove "$blk_vl" "$rng_vl"
[ -e "/sys/class/virtio-loopback/$blk_vl" ] || _fail "a refused remove removed $blk_vl"

_log "garbage refused (${SECONDS}s)"
# remove: the adapter gets SIGTERM, removes the device in order, exits 0.
$cli remove "$vd" || _fail "remove $vd failed"
[ -e "/sys/class/virtio-loopback/$blk_vl" ] && _fail "$blk_vl still there after remove"
# The device is gone, so the adapter is exiting: reap it for its status.
wait "$blk_pid"
rc=$?
[ "$rc" = 0 ] || _fail "the blk adapter exited $rc after remove"
[ -b "$vd" ] && _fail "$vd still there"
[ "$($cli list | wc -l)" = 2 ] || _fail "list after remove: $($cli list)"
expect 1 "no such device" remove "$blk_vl"

_log "remove: ok (${SECONDS}s)"
# run: a config file to the adapter; --dry-run shows the command line.
cat >"$TEST_DIR/disk.conf" <<CONF
# test disk
socket = $TEST_DIR/blk.sock
device = blk
memory = isolated
queues = 1
CONF
$cli run --dry-run "$TEST_DIR/disk.conf" >"$TEST_DIR/dry" || _fail "run --dry-run failed"
grep -q -- "virtio-loopback-adapter --socket=$TEST_DIR/blk.sock --device=blk --memory=isolated --queues=1$" "$TEST_DIR/dry" ||
	_fail "run --dry-run: $(cat "$TEST_DIR/dry")"
echo "colour = blue" >>"$TEST_DIR/disk.conf"
expect 1 "disk.conf:6: unknown key 'colour'" run "$TEST_DIR/disk.conf"
sed -i '$d' "$TEST_DIR/disk.conf"
$cli run "$TEST_DIR/disk.conf" >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err" &
run_pid=$!
_PIDS+=("$run_pid")
_wait_for 60 grep -q '^ready virtio' "$TEST_DIR/run.out" || _fail "run: no device: $(cat "$TEST_DIR/run.err")"
new=$(sed -n 's/^ready //p' "$TEST_DIR/run.out")
$cli show "$new" | grep -q "owner pid $run_pid (virtio-loopback-adapter)" ||
	_fail "run did not exec the adapter (pid $run_pid): $($cli show "$new")"
$cli remove "$new" || _fail "remove $new"
_wait_gone "$run_pid" 10 || _fail "the run adapter did not exit"

# The rng is still there and served.
$cli list | grep -q "^$rng_vl .* running " || _fail "rng lost: $($cli list)"
_pass
