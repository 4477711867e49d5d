#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: a back-end that completes requests with garbage
# (vl-hostile-blk --garbage KIND, after 8 good requests; the partition scan
# takes 3) next to a healthy qemu-storage-daemon disk under fio --verify.
# For every KIND: 256 KiB written to the hostile disk in 4 KiB O_DIRECT
# requests and read back end within IO_BOUND seconds, with the right data
# or an I/O error, never wrong data and never a hang; the kernel reacts the
# way noted below; the device goes away within a bound once its adapter is
# stopped; the healthy disk's verify passes; no device is left; and the
# kernel logs no warning (vm-run fails the run on one).
#
# What the kernel does (virtio_ring/virtio_blk of Debian 6.1 and 6.12
# alike, in both memory modes, as seen in the lab):
#  used-len   harmless by design: virtio_blk ignores the used length (the
#             status byte decides) and the transport copies back whole
#             mappings at unmap. Data round-trips, nothing is logged.
#  used-idx   the transport sees the used index jump past the ring before
#             the driver does, fails the device (memory revoked, what is
#             outstanding completed with an error): I/O fails with EIO,
#             removal is clean.
#  used-id    the same with a used id out of range ("used id out of
#             range: failing the device"); the request whose completion was
#             replaced fails with EIO instead of hanging.
#  desc-loop  detach_buf_split() walks a chain by the NEXT flags of the
#             descriptor table, which the device can write (next comes
#             from the driver's own copy): a forged NEXT makes the driver
#             unmap a descriptor outside the chain; vl_unmap() logs "not a
#             mapped DMA address (ignored)" (an error, not a warning: the
#             device can cause it). The data still round-trips.
# VL_GARBAGE_KINDS picks kinds (default all, the one that may hang last).
# Runs in VL_MEM_MODE when set (run-all, one boot per mode), else in every
# mode of VL_MEM_MODES (default "isolated zero-copy").
# Memory modes: isolated zero-copy
# Check runs: 6.1/zero-copy 6.12/isolated
. "$(dirname "$0")/common.sh"
_prep_test
_have_program fio
_have_program qemu-storage-daemon
modes=${VL_MEM_MODE:-${VL_MEM_MODES:-isolated zero-copy}}
kinds=${VL_GARBAGE_KINDS:-used-len used-idx desc-loop used-id}
IO_BOUND=${IO_BOUND:-60}
FAILED=()

_fail_later() {
	_log "FAIL: $*"
	FAILED+=("$*")
}

# _gone_within PID SECONDS: _wait_gone bounded by the clock rather than by
# a count of sleeps (under TCG 600 sleeps of 0.1 s take minutes).
_gone_within() {
	local pid=$1 end=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
	wait "$pid" 2>/dev/null
	return 0
}

# Messages the kernel logged since the marker line MARK.
_kmsg_since() { dmesg | awk -v m="$1" 'found { print } index($0, m) { found = 1 }'; }

# _kmsg_show MARK WHAT: those messages in the test log, without the lines
# of a stack dump (the run's own check shows the first one in full).
_kmsg_show() {
	_kmsg_since "$1" | grep -Ev '^\[[ 0-9.]+\] ( |RIP|RSP|RAX|RDX|RBP|R10|R13|FS:|CS:|CR2|PKRU|Code:|Call Trace|Hardware|Tainted|Modules)' |
		head -n 20 | sed "s/^/$TEST_NAME: $2 kernel: /"
}

# _healthy_loop DEV DIR: fio write+verify on DEV until DIR/stop exists;
# counts passes in DIR/passes and failures in DIR/failures.
_healthy_loop() {
	local dev=$1 dir=$2 n=0
	: >"$dir/failures"
	while [ ! -e "$dir/stop" ]; do
		if ! fio --name=healthy --filename="$dev" --ioengine=libaio --direct=1 \
			--rw=randwrite --bs=4k --iodepth=16 --size=16M \
			--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
			--verify_state_save=0 --output="$dir/fio.$n.out" >/dev/null 2>&1 ||
		   ! grep -q 'err= 0' "$dir/fio.$n.out"; then
			echo "$n" >>"$dir/failures"
		fi
		n=$((n + 1))
		echo "$n" >"$dir/passes"
	done
}

# _garbage MODE KIND: one hostile device, its I/O, its removal.
_garbage() {
	local mode=$1 kind=$2 dir=$TEST_DIR/$1-$2 mark sock rep hb vdev dev io
	local wrc rrc log what p
	mkdir -p "$dir"
	sock=$dir/hb.sock
	rep=$dir/hb.report
	mark="vl-lab: $TEST_NAME [$mode $kind]"
	echo "$mark" >/dev/kmsg
	what="[$mode $kind]"

	vl-hostile-blk --socket-path "$sock" --size 64M --garbage "$kind" \
		--garbage-after 8 --report "$rep" --scan-interval 0 --scan-every 0 \
		>"$dir/hb.log" 2>&1 &
	hb=$!
	_PIDS+=("$hb")
	_wait_for 30 _is_socket "$sock" || _fail "$what vl-hostile-blk did not create $sock"
	_start_adapter vdev --socket "$sock" --device blk
	dev=$(_blkdev "$vdev")
	_log "$what $vdev is $dev"

	head -c 256K /dev/urandom >"$dir/data"
	(
		dd if="$dir/data" of="$dev" bs=4k oflag=direct status=none 2>"$dir/write.err"
		echo $? >"$dir/write.rc"
		dd if="$dev" of="$dir/back" bs=4k count=64 iflag=direct status=none 2>"$dir/read.err"
		echo $? >"$dir/read.rc"
	) &
	io=$!
	if ! _gone_within "$io" "$IO_BOUND"; then
		_fail_later "$what I/O on $dev still blocked after $IO_BOUND s"
		for p in $(pgrep -x dd); do
			sed "s/^/$TEST_NAME: $what dd $p: /" "/proc/$p/stack" 2>/dev/null
		done
	fi
	_log "$what hostile device: broken=$(cat /sys/class/virtio-loopback/vl*/broken 2>/dev/null | tr '\n' ' ')" \
		"garbage completions=$(awk '$1 == "garbage" { print $2 }' "$rep")"
	_kmsg_show "$mark" "$what"

	# Remove the device: it must go, and take any blocked I/O with it. The
	# adapter exits once the driver let go of the device (del_gendisk()).
	kill -TERM "$ADAPTER_PID"
	if ! _gone_within "$ADAPTER_PID" 60 || ! _wait_for 10 test ! -e "/sys/block/${dev#/dev/}"; then
		_kmsg_show "$mark" "$what"
		_fail "$what $dev not removed 60 s after its adapter was told to stop" \
			"(removal blocked; earlier: ${FAILED[*]:-none})"
	fi
	_gone_within "$io" 30 || _fail "$what I/O still blocked after $dev was removed"
	kill -TERM "$hb"
	_wait_gone "$hb" 30 || _fail "$what vl-hostile-blk did not exit on SIGTERM"

	# What the I/O saw.
	wrc=$(cat "$dir/write.rc" 2>/dev/null || echo none)
	rrc=$(cat "$dir/read.rc" 2>/dev/null || echo none)
	_log "$what write: $wrc $(head -n 1 "$dir/write.err"); read: $rrc $(head -n 1 "$dir/read.err")"
	[ "$(awk '$1 == "garbage" { print $2 }' "$rep")" -gt 0 ] ||
		_fail_later "$what the back-end never completed a request with garbage"
	if [ "$wrc" = 0 ] && [ "$rrc" = 0 ] && ! cmp -s "$dir/data" "$dir/back"; then
		_fail_later "$what I/O succeeded but read back other data"
	fi
	log=$(_kmsg_since "$mark")
	case $kind in
	used-len)
		[ "$wrc.$rrc" = 0.0 ] ||
			_fail_later "$what a wrong used length made I/O fail (write $wrc, read $rrc)"
		;;
	used-idx | used-id)
		grep -Eq 'virtio-loopback vl[0-9]+: queue [0-9]+: .*: failing the device|virtio_blk virtio[0-9]+: .*id [0-9]+ (is not a head|out of range)' <<<"$log" ||
			_fail_later "$what nobody reported the bad used entry"
		grep -q 'Input/output error' "$dir/write.err" "$dir/read.err" ||
			_fail_later "$what I/O after a bad used entry did not fail with EIO (write $wrc, read $rrc)"
		;;
	desc-loop)
		# Correct data or a clean error: checked above.
		;;
	esac
}

_mem_02() {
	local mode=$1 img sock hdev hvdev hdir=$TEST_DIR/$1-healthy loop kind qsd hadapter
	mkdir -p "$hdir"
	img=$hdir/disk.raw
	sock=$hdir/qsd.sock
	# _start_adapter adds --memory $VL_MEM_MODE.
	VL_MEM_MODE=$mode
	_run truncate -s 64M "$img"
	_start_qsd "$sock" raw "$img"
	qsd=${_PIDS[-1]}
	_start_adapter hvdev --socket "$sock" --device blk
	hadapter=$ADAPTER_PID
	hdev=$(_blkdev "$hvdev")
	_log "[$mode] healthy disk $hvdev is $hdev"
	_healthy_loop "$hdev" "$hdir" &
	loop=$!
	_PIDS+=("$loop")

	for kind in $kinds; do
		_garbage "$mode" "$kind"
	done

	touch "$hdir/stop"
	_wait_gone "$loop" 300 || _fail "[$mode] the healthy disk's fio did not finish"
	_log "[$mode] healthy disk: $(cat "$hdir/passes") fio passes, failed: $(tr '\n' ' ' <"$hdir/failures")"
	if [ -s "$hdir/failures" ]; then
		tail -n 20 "$hdir/fio.$(head -n 1 "$hdir/failures").out"
		_fail_later "[$mode] fio verify failed on the healthy disk $hdev"
	fi
	kill -TERM "$hadapter"
	_wait_gone "$hadapter" 30 || _fail "[$mode] healthy disk's adapter did not exit"
	kill -TERM "$qsd"
	_wait_gone "$qsd" 30 || _fail "[$mode] qemu-storage-daemon did not exit"
	_wait_for 30 _vl_none || _fail "[$mode] a virtio-loopback device is left behind"
}

for mode in $modes; do
	_mem_02 "$mode"
done
[ ${#FAILED[@]} = 0 ] || _fail "${#FAILED[@]} check(s) failed: ${FAILED[*]}"
_pass
