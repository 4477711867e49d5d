#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: memory isolation, proven by a back-end that reads every
# byte it can map. Before the device exists the guest holds 64 MiB of
# pattern A in a tmpfs file (live page cache) and has just freed 64 MiB of
# pattern B (a deleted file). vl-hostile-blk --scan A,B,C,D reads every page
# of every region the adapter gives it, every 5 s, every 128 requests (with
# those requests in flight) and on SIGUSR1, while the disk sees an O_DIRECT
# write of pattern C, O_DIRECT reads into buffers holding pattern D,
# mkfs.ext4, a copied tree, sync, read back and fio.
# Pass: A, B and D never seen, C seen (the positive control: the scanner does
# see what the driver hands over), pages read; in zero-copy mode some bytes
# were shared in place (else the proof says nothing about sharing).
# Runs in VL_MEM_MODE when set (run-all, one boot per mode), else in every
# mode of VL_MEM_MODES (default "isolated zero-copy").
# Memory modes: isolated zero-copy
# Check runs: 6.1/zero-copy 6.12/isolated 6.12/zero-copy
. "$(dirname "$0")/common.sh"
_prep_test
_have_program fio
_have_program mkfs.ext4
modes=${VL_MEM_MODE:-${VL_MEM_MODES:-isolated zero-copy}}
TREE=/usr/include/linux

# _hex: 32 random bytes as hex; 32 divides 4096, so a buffer filled with
# the pattern from a page boundary has it whole in every page.
_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# _fill FILE HEX MIB: FILE holds HEX repeated, MIB MiB long.
_fill() {
	local f=$1 esc="" i
	for ((i = 0; i < ${#2}; i += 2)); do
		esc+="\\x${2:i:2}"
	done
	printf '%b' "$esc" >"$f.unit"
	# 32 bytes doubled 15 times: 1 MiB.
	for i in $(seq 15); do
		cat "$f.unit" "$f.unit" >"$f.tmp" && mv "$f.tmp" "$f.unit"
	done
	for i in $(seq "$3"); do
		cat "$f.unit"
	done >"$f"
	rm -f "$f.unit"
	[ "$(stat -c %s "$f")" = $(($3 << 20)) ] || _fail "cannot write $f"
}

# _report_val REPORT KEY: the value of "KEY N" in a scan report.
_report_val() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# _report_match REPORT HEX: occurrences of HEX over all scans.
_report_match() { awk -v p="$2" '$1 == "match" && $2 == p { print $3 }' "$1"; }

_scans_above() { [ "$(_report_val "$1" scans)" -gt "$2" ]; }

# _scan_now PID REPORT: have the back-end scan once more and wait for it.
_scan_now() {
	local pid=$1 rep=$2 before
	before=$(_report_val "$rep" scans)
	kill -USR1 "$pid" || _fail "vl-hostile-blk is gone"
	_wait_for 120 _scans_above "$rep" "$before" ||
		_fail "no scan within 120 s of SIGUSR1"
}

_mem_01() {
	local mode=$1 A B C D dir=$TEST_DIR/$1 sock rep hb dev vdev a b c d
	mkdir -p "$dir"
	sock=$dir/hb.sock
	rep=$dir/hb.report
	A=$(_hex)
	B=$(_hex)
	C=$(_hex)
	D=$(_hex)
	_log "[$mode] A=$A B=$B C=$C D=$D"

	# A stays in the page cache; B's pages are freed just before the
	# device (and its memory) is created.
	_fill "$dir/a" "$A" 64
	_fill "$dir/b" "$B" 64
	_fill "$dir/c" "$C" 16
	rm -f "$dir/b"

	vl-hostile-blk --socket-path "$sock" --size 256M --scan "$A,$B,$C,$D" \
		--report "$rep" --scan-interval 5000 --scan-every 128 \
		>"$dir/hb.log" 2>&1 &
	hb=$!
	_PIDS+=("$hb")
	_wait_for 30 _is_socket "$sock" || _fail "vl-hostile-blk did not create $sock"
	# _start_adapter adds --memory $VL_MEM_MODE. A 16 MiB region: each
	# scan reads all of it and takes a refused fault on every page of the
	# zero-copy window not in flight, which at 64 MiB (the default) kept
	# a TCG guest's back-end scanning more than serving.
	VL_MEM_MODE=$mode
	_start_adapter vdev --socket "$sock" --device blk --mem-size 16M
	dev=$(_blkdev "$vdev")
	_log "[$mode] $vdev is $dev"

	# The positive control: 256 requests of C, so that scans run while
	# some of them are in flight.
	_run dd if="$dir/c" of="$dev" bs=64k oflag=direct
	# Bounced buffers the device only writes are not copied in: 512
	# O_DIRECT reads into a private anonymous buffer (bounced in both
	# modes) filled with D before each read; D must never reach the
	# back-end. (A page shared in place shows its old bytes by design.)
	python3 - "$dev" "$D" <<-'EOF' || _fail "[$mode] O_DIRECT reads into D-filled buffers"
		import mmap, os, sys
		fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
		unit = bytes.fromhex(sys.argv[2]) * (65536 // 32)
		buf = mmap.mmap(-1, 65536, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
		for i in range(512):
		    buf[:] = unit
		    if os.preadv(fd, [buf], (i % 256) * 65536) != 65536:
		        sys.exit("short read")
	EOF
	_run mkfs.ext4 -q -F "$dev"
	_run mount "$dev" "$TEST_DIR/mnt"
	_run cp -a "$TREE" "$TEST_DIR/mnt/tree"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	diff -r "$TREE" "$TEST_DIR/mnt/tree" >/dev/null ||
		_fail "[$mode] the tree read back from $dev differs"
	fio --name=mem --filename="$TEST_DIR/mnt/fio.dat" --size=8M --bs=4k \
		--rw=randrw --ioengine=libaio --direct=1 --iodepth=8 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--verify_state_save=0 --output="$dir/fio.out" >/dev/null 2>&1 || {
		tail -n 20 "$dir/fio.out"
		_fail "[$mode] fio on the ext4 on $dev failed"
	}
	_run umount "$TEST_DIR/mnt"
	_zc_shared "$vdev" "ext4 writeback of the copied tree"
	_scan_now "$hb" "$rep"

	sed "s/^/$TEST_NAME: [$mode] report: /" "$rep"
	a=$(_report_match "$rep" "$A")
	b=$(_report_match "$rep" "$B")
	c=$(_report_match "$rep" "$C")
	d=$(_report_match "$rep" "$D")
	[ "$(_report_val "$rep" pages_read)" -gt 0 ] ||
		_fail "[$mode] the back-end read no page of its memory table"
	[ "${c:-0}" -gt 0 ] ||
		_fail "[$mode] positive control: the back-end never saw pattern C, which the driver wrote through it"
	[ "${a:--1}" = 0 ] ||
		_fail "[$mode] the back-end saw pattern A (live page cache of another file) $a times"
	[ "${b:--1}" = 0 ] ||
		_fail "[$mode] the back-end saw pattern B (freed memory) $b times"
	[ "${d:--1}" = 0 ] ||
		_fail "[$mode] the back-end saw pattern D (the old bytes of buffers it was to fill) $d times"

	kill -TERM "$ADAPTER_PID"
	_wait_gone "$ADAPTER_PID" 30 || _fail "[$mode] adapter did not exit on SIGTERM"
	kill -TERM "$hb"
	_wait_gone "$hb" 30 || _fail "[$mode] vl-hostile-blk did not exit on SIGTERM"
	_wait_for 30 _vl_none || _fail "[$mode] a virtio-loopback device is left behind"
	rm -f "$dir/a" "$dir/c"
	_log "[$mode] A 0, B 0, D 0, C $c times; $(_report_val "$rep" scans) scans"
}

for mode in $modes; do
	_mem_01 "$mode"
done
_pass
