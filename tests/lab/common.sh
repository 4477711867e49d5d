# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for the lab tests (tests/lab/test_*.sh). A test runs as root inside
# a vm-run guest: it sources this file, calls _prep_test, does its work with
# the helpers below (which record every process they start), and ends with
# _pass (or _fail / _skip at any point). Cleanup runs on every exit.
#
# Exit codes follow kselftest: 0 pass, 1 fail, 4 skip.

set -u -o pipefail

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

TEST_NAME=$(basename "$0" .sh)
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TOP
# Generous bounds: the guest is emulated (TCG).
READY_TIMEOUT=${READY_TIMEOUT:-90}
_PIDS=()

_log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

_fail() {
	_log "FAIL: $*"
	exit $KSFT_FAIL
}

_skip() {
	_log "SKIP: $*"
	exit $KSFT_SKIP
}

_pass() {
	_log "PASS"
	exit $KSFT_PASS
}

# Run a command and fail the test with its output when it fails.
_run() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" | tail -n 20
		_fail "command failed: $*"
	fi
}

_cleanup_test() {
	local i pid
	# Newest first: adapters (their devices go away) before back-ends.
	for ((i = ${#_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${_PIDS[i]}
		kill -TERM "$pid" 2>/dev/null
		_wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null
	done
	umount -q "$TEST_DIR/mnt" 2>/dev/null
	echo "vl-lab: end $TEST_NAME" >/dev/kmsg 2>/dev/null
}

_prep_test() {
	[ "$(id -u)" = 0 ] || _skip "needs root"
	[ -n "${VM_RUN:-}" ] || _skip "runs only inside scripts/vm-run"
	TEST_DIR=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
	mkdir -p "$TEST_DIR/mnt"
	trap _cleanup_test EXIT
	echo "vl-lab: start $TEST_NAME" >/dev/kmsg
	# Booted with systemd (vm-run --systemd): the module is what the test
	# installs, not the lab's.
	[ -n "${VM_RUN_INIT:-}" ] && return
	modprobe virtio_loopback || _fail "modprobe virtio_loopback"
	[ -c /dev/virtio-loopback ] || _fail "/dev/virtio-loopback missing"
}

_have_program() {
	command -v "$1" >/dev/null || _skip "$1 not installed"
}

# _wait_gone PID SECONDS: wait for a process to exit.
_wait_gone() {
	local pid=$1 n=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	return 0
}

# _wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
_wait_for() {
	local n=$(($1 * 10))
	shift
	until "$@" 2>/dev/null; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

_is_socket() { [ -S "$1" ]; }

# _backend_refuses PROGRAM WANT ARGS...: our back-end PROGRAM started with
# --socket-path $TEST_DIR/bad.sock ARGS must exit non-zero with exactly
# one line on stderr, containing WANT, and leave no socket behind.
_backend_refuses() {
	local prog=$1 want=$2 out=$TEST_DIR/bad.err
	shift 2
	if timeout 20 "$prog" --socket-path "$TEST_DIR/bad.sock" "$@" 2>"$out"; then
		_fail "$prog $* succeeded"
	fi
	[ "$(wc -l <"$out")" = 1 ] || _fail "$prog $*: $(wc -l <"$out") lines on stderr: $(cat "$out")"
	grep -q -- "$want" "$out" || _fail "$prog $*: \"$(cat "$out")\" does not say \"$want\""
	[ -e "$TEST_DIR/bad.sock" ] && _fail "$prog $* left its socket"
	_log "refused: $prog $* -> $(cat "$out")"
}

# Demo scripts: a heading, and a command shown before it runs.
_say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
_show() { printf '$ %s\n' "$*"; "$@"; }

# _start_qsd SOCKET FORMAT IMAGE [EXTRA_FILE_OPTS]: qemu-storage-daemon
# exporting IMAGE (raw|qcow2|host_device) as vhost-user-blk on SOCKET.
# Sets QSD_PID; the output goes to QSD_LOG, $TEST_DIR/qsd.SOCKET-NAME.log
# (appended: a restarted daemon adds to it). The socket a killed daemon
# left is removed first, so the wait sees the new one.
_start_qsd() {
	local sock=$1 fmt=$2 img=$3 extra=${4:-} file_drv=file
	[ "$fmt" = host_device ] && { file_drv=host_device; fmt=raw; }
	QSD_LOG=$TEST_DIR/qsd.$(basename "$sock").log
	rm -f "$sock"
	qemu-storage-daemon \
		--blockdev "driver=$file_drv,node-name=file0,filename=$img$extra" \
		--blockdev "driver=$fmt,node-name=disk0,file=file0" \
		--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$sock,writable=on" \
		>>"$QSD_LOG" 2>&1 &
	QSD_PID=$!
	_PIDS+=("$QSD_PID")
	_wait_for 30 _is_socket "$sock" || _fail "qemu-storage-daemon did not create $sock"
}

# _start_vublk SOCKET FILE [ARGS...]: our vhost-user-blk serving FILE;
# sets QSD_PID (it stands in for qemu-storage-daemon) and QSD_LOG.
_start_vublk() {
	local sock=$1 img=$2
	shift 2
	QSD_LOG=$TEST_DIR/vublk.$(basename "$sock").log
	rm -f "$sock"
	vhost-user-blk --socket-path "$sock" --file "$img" "$@" >>"$QSD_LOG" 2>&1 &
	QSD_PID=$!
	_PIDS+=("$QSD_PID")
	_wait_for 30 _is_socket "$sock" || _fail "vhost-user-blk did not create $sock"
}

# _start_qsd_null PREFIX N: one qemu-storage-daemon serving N writable
# 16 MiB null-co disks (reads return zeroes) on PREFIX1.sock..PREFIXN.sock;
# a vhost-user back-end serves one front-end at a time, hence one export
# per device.
_start_qsd_null() {
	local prefix=$1 n=$2 i args=()
	for i in $(seq 1 "$n"); do
		args+=(--blockdev "driver=null-co,node-name=n$i,size=16777216,read-zeroes=on")
		args+=(--export "type=vhost-user-blk,id=e$i,node-name=n$i,addr.type=unix,addr.path=$prefix$i.sock,writable=on")
	done
	qemu-storage-daemon "${args[@]}" >"$TEST_DIR/qsd-null.$$.log" 2>&1 &
	_PIDS+=($!)
	for i in $(seq 1 "$n"); do
		_wait_for 30 _is_socket "$prefix$i.sock" || _fail "qemu-storage-daemon did not create $prefix$i.sock"
	done
}

# _start_rng SOCKET: our vhost-user-rng back-end.
_start_rng() {
	local sock=$1
	vhost-user-rng --socket-path "$sock" >"$TEST_DIR/rng.$RANDOM.log" 2>&1 &
	_PIDS+=($!)
	_wait_for 30 _is_socket "$sock" || _fail "vhost-user-rng did not create $sock"
}

# _start_adapter VAR ARGS...: start virtio-loopback-adapter ARGS in the
# background and wait for its "ready virtioN" line. Sets VAR to virtioN and
# ADAPTER_PID to its pid and ADAPTER_ERR to its stderr file. $VL_MEM_MODE,
# when set, adds --memory MODE.
_start_adapter() {
	local var=$1 out line
	shift
	out=$(mktemp "$TEST_DIR/adapter.XXXXXX")
	# run-all runs the memory-sensitive tests once per mode.
	[ -n "${VL_MEM_MODE:-}" ] && set -- "$@" --memory "$VL_MEM_MODE"
	ADAPTER_ERR=$out.err
	virtio-loopback-adapter "$@" >"$out" 2>"$ADAPTER_ERR" &
	ADAPTER_PID=$!
	_PIDS+=("$ADAPTER_PID")
	_wait_for "$READY_TIMEOUT" grep -q '^ready virtio[0-9]*$' "$out" || {
		cat "$out.err" >&2
		_fail "adapter $* never became ready"
	}
	line=$(grep '^ready virtio' "$out")
	printf -v "$var" '%s' "${line#ready }"
}

# _blkdev VIRTIO_NAME: /dev/vdX of a virtio-blk device (waits for it).
_blkdev() {
	local d=/sys/bus/virtio/devices/$1/block name
	_wait_for 30 test -d "$d" || _fail "$1 has no block device"
	name=$(ls "$d")
	_wait_for 10 test -b "/dev/$name" || _fail "/dev/$name missing"
	echo "/dev/$name"
}

# Number of virtio-loopback devices the kernel has.
_vl_count() {
	local n=0 d
	for d in /sys/class/virtio-loopback/vl*; do
		[ -e "$d" ] && n=$((n + 1))
	done
	echo $n
}

_vl_none() { [ "$(_vl_count)" = 0 ]; }

# _vl_sysfs VIRTIO_NAME: the /sys/class/virtio-loopback/vl<N> of virtioN.
_vl_sysfs() {
	local d
	for d in /sys/class/virtio-loopback/vl*; do
		[ "virtio$(cat "$d/virtio_index" 2>/dev/null)" = "$1" ] && { echo "$d"; return 0; }
	done
	_fail "no virtio-loopback device is $1"
}

# _mem_log VIRTIO_NAME: log the device's memory counters.
_mem_log() {
	local d a line=""
	d=$(_vl_sysfs "$1")
	for a in bytes_bounced bytes_shared backend_faults revocations revocation_batches; do
		line="$line $a=$(cat "$d/$a")"
	done
	_log "$1 memory counters:$line"
}

# _zc_shared VIRTIO_NAME WHAT: in zero-copy mode, fail unless the device
# shared some bytes in place (WHAT says which traffic should have); log
# the memory counters either way.
_zc_shared() {
	_mem_log "$1"
	if [ "${VL_MEM_MODE:-}" = zero-copy ] && [ "$(cat "$(_vl_sysfs "$1")/bytes_shared")" = 0 ]; then
		_fail "zero-copy: $2 went through bounce buffers only"
	fi
	return 0
}

# _shm_huge_pages ON: when ON is 1, shared memory (SysV shm, memfd, tmpfs)
# on transparent huge pages, so a benchmark's buffers are contiguous and
# alike for every path and round; logs the setting either way.
_shm_huge_pages() {
	local f=/sys/kernel/mm/transparent_hugepage/shmem_enabled
	if [ "$1" = 1 ]; then
		echo always >"$f" || _fail "cannot set $f"
	fi
	_log "shared-memory huge pages: $(cat "$f")"
}

_slab_kb() { awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo; }
# _slab_settle: caches dropped, and every SLUB cache's per-CPU slabs
# flushed and empty slabs freed, so that /proc/slabinfo's active objects
# count objects in use (SLUB counts every object of a per-CPU slab as
# active: a slab page that happens to sit there reads as 512 kmalloc-8
# objects more).
_slab_settle() {
	local f
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
	return 0
}
# _alloc_sites FILE: objects in use per allocation site of the kmalloc
# caches, "COUNT FUNCTION" lines sorted by function. Needs a kernel booted
# with slub_debug=U,kmalloc-* (a test asks with "# Kernel args:"); counts
# objects, not slab pages, so it tells one leaked object per cycle from a
# slab page that happened to be kept.
_alloc_sites() {
	[ -d /sys/kernel/debug/slab ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	cat /sys/kernel/debug/slab/kmalloc-*/alloc_traces 2>/dev/null |
		awk '$1 ~ /^[0-9]+$/ { sub(/\+.*/, "", $2); n[$2] += $1 }
		     END { for (f in n) print n[f], f }' | sort -k2 >"$1"
}
# _alloc_sites_grown BEFORE AFTER: "GROWTH FUNCTION" lines, largest first.
_alloc_sites_grown() {
	join -1 2 -2 2 -a 2 -e 0 -o 0,1.1,2.1 "$1" "$2" |
		awk '$3 > $2 { print $3 - $2, $1 }' | sort -rn
}
_vmalloc_kb() { awk '/^VmallocUsed:/ { print $2 }' /proc/meminfo; }

# _load_test_driver NAME...: loads upstream drivers Debian does not build
# (gpio-virtio, i2c-virtio, gpio-sim), which scripts/build-test-drivers
# built for this kernel, after the in-tree modules they depend on.
_load_test_driver() {
	local name ko dep dir
	dir=$TOP/build/test-drivers/$(uname -r)
	for name in "$@"; do
		ko=$dir/$name.ko
		[ -r "$ko" ] || _fail "$ko missing: run scripts/build-test-drivers $(uname -r)"
		lsmod | grep -q "^${name//-/_} " && continue
		for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
			if [ -r "$dir/$dep.ko" ]; then
				_load_test_driver "$dep"
			elif [ -r "$dir/${dep//_/-}.ko" ]; then
				_load_test_driver "${dep//_/-}"
			else
				_run modprobe "$dep"
			fi
		done
		_run insmod "$ko"
	done
}
