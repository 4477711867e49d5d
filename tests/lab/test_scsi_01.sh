#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-scsi served by our vhost-user-scsi, three LUNs
# backed by image files, two request queues: the LUNs appear as /dev/sdX
# with the images' sizes (LUN 2 read-only); sg_inq shows our identity, VPD
# serial and designators, sg_luns all LUNs; ext4 on LUN 0 (files written,
# fsck clean, then read back from the image with debugfs); fio randwrite
# QD32 4k and 1M with crc32c verify on LUN 1; an unsupported opcode, a
# READ past the end, a bad VPD page and a write to the read-only LUN get
# CHECK CONDITION with the right sense; a LUN reset (TMF) completes;
# bad options are refused.
# Memory modes: isolated zero-copy
# Check runs: 6.1/zero-copy
# Lab timeout: 300
. "$(dirname "$0")/common.sh"
_prep_test
_have_program vhost-user-scsi
_have_program sg_inq
_have_program sg_raw
_have_program sg_luns
_have_program fio
_have_program debugfs
modprobe virtio_scsi || _fail "modprobe virtio_scsi"
modprobe sd_mod || _fail "modprobe sd_mod"

img0=$TEST_DIR/lun0.img
img1=$TEST_DIR/lun1.img
img2=$TEST_DIR/lun2.img
sock=$TEST_DIR/scsi.sock
truncate -s 64M "$img0"
truncate -s 40M "$img1"
truncate -s 1M "$img2"
echo "read-only LUN" | dd of="$img2" conv=notrunc status=none

# Bad command lines fail with one clear line.
vhost-user-scsi --socket-path "$sock" --read-only --lun "$img0" 2>"$TEST_DIR/bad.err" &&
	_fail "--read-only before --lun accepted"
grep -q "read-only" "$TEST_DIR/bad.err" || _fail "no message for --read-only first"
vhost-user-scsi --socket-path "$sock" --lun "$TEST_DIR/missing.img" 2>"$TEST_DIR/bad.err" &&
	_fail "a missing image accepted"
grep -q "missing.img" "$TEST_DIR/bad.err" || _fail "no message naming the missing image"

vhost-user-scsi --socket-path "$sock" --lun "$img0" --request-queues 0 2>"$TEST_DIR/bad.err" &&
	_fail "--request-queues 0 accepted"
grep -q "request-queues" "$TEST_DIR/bad.err" || _fail "no message for --request-queues 0"

vhost-user-scsi --socket-path "$sock" --lun "$img0" --lun "$img1" \
	--lun "$img2" --read-only --request-queues 2 >"$TEST_DIR/scsi.log" 2>&1 &
_PIDS+=($!)
BACKEND_PID=$!
_wait_for 30 _is_socket "$sock" || _fail "vhost-user-scsi did not create $sock"
_start_adapter vdev --socket "$sock" --device scsi

# /dev/sdX of LUN N of the virtio-scsi host under virtioN.
_sd_of() {
	local d
	for d in /sys/bus/virtio/devices/"$vdev"/host*/target*/*:0:0:"$1"/block/*; do
		[ -e "$d" ] && { basename "$d"; return 0; }
	done
	return 1
}
_has_sd() { _sd_of "$1" >/dev/null; }
for n in 0 1 2; do
	_wait_for 60 _has_sd $n || _fail "LUN $n of $vdev has no block device"
done
sd0=/dev/$(_sd_of 0)
sd1=/dev/$(_sd_of 1)
sd2=/dev/$(_sd_of 2)
for d in "$sd0" "$sd1" "$sd2"; do
	_wait_for 10 test -b "$d" || _fail "$d missing"
done
_log "$vdev: LUN 0 $sd0, LUN 1 $sd1, LUN 2 $sd2 (read-only) (${SECONDS}s)"

# Two request queues: control, event and 2 request virtqueues.
vl=$(_vl_sysfs "$vdev")
nq=$(find "$vl/queues" -mindepth 1 -maxdepth 1 | wc -l)
[ "$nq" = 4 ] || _fail "$vdev has $nq virtqueues, not 4 (--request-queues 2)"
for h in /sys/bus/virtio/devices/"$vdev"/host*/scsi_host/host*/nr_hw_queues; do
	[ ! -e "$h" ] || [ "$(cat "$h")" = 2 ] || _fail "$h is $(cat "$h"), not 2"
done

# Sizes.
[ "$(blockdev --getsize64 "$sd0")" = $((64 << 20)) ] || _fail "$sd0 is $(blockdev --getsize64 "$sd0") bytes, not 64 MiB"
[ "$(blockdev --getsize64 "$sd1")" = $((40 << 20)) ] || _fail "$sd1 is $(blockdev --getsize64 "$sd1") bytes, not 40 MiB"
[ "$(blockdev --getro "$sd2")" = 1 ] || _fail "$sd2 (read-only LUN) is writable for the kernel"
[ "$(blockdev --getro "$sd0")" = 0 ] || _fail "$sd0 is read-only"

# Identity: standard INQUIRY, VPD serial, REPORT LUNS.
sg_inq "$sd0" >"$TEST_DIR/inq" 2>&1 || { cat "$TEST_DIR/inq"; _fail "sg_inq $sd0"; }
grep -q "Vendor identification: VIRTLOOP" "$TEST_DIR/inq" || { cat "$TEST_DIR/inq"; _fail "sg_inq: vendor is not VIRTLOOP"; }
grep -q "Product identification: vhost-user-scsi" "$TEST_DIR/inq" || { cat "$TEST_DIR/inq"; _fail "sg_inq: product is not vhost-user-scsi"; }
grep -q "serial number: [0-9a-f]\{16\}" "$TEST_DIR/inq" || { cat "$TEST_DIR/inq"; _fail "sg_inq: no unit serial number"; }
s0=$(sg_inq -p 0x80 "$sd0" | sed -n 's/.*Unit serial number: //p')
s1=$(sg_inq -p 0x80 "$sd1" | sed -n 's/.*Unit serial number: //p')
{ [ -n "$s0" ] && [ "$s0" != "$s1" ]; } || _fail "VPD 0x80 serials '$s0' and '$s1' are empty or equal"
sg_inq -p 0x83 "$sd0" >"$TEST_DIR/vpd83" 2>&1 || { cat "$TEST_DIR/vpd83"; _fail "sg_inq VPD 0x83"; }
if ! grep -q "VIRTLOOP" "$TEST_DIR/vpd83" || ! grep -q "$s0" "$TEST_DIR/vpd83"; then
	cat "$TEST_DIR/vpd83"
	_fail "VPD 0x83 lacks the T10 vendor ID designator"
fi
grep -qi "NAA 3" "$TEST_DIR/vpd83" || { cat "$TEST_DIR/vpd83"; _fail "VPD 0x83 lacks the NAA designator"; }
sg_luns "$sd0" >"$TEST_DIR/luns" 2>&1 || { cat "$TEST_DIR/luns"; _fail "sg_luns $sd0"; }
grep -q "Lun list length = 24" "$TEST_DIR/luns" || { cat "$TEST_DIR/luns"; _fail "REPORT LUNS does not list 3 LUNs"; }
_log "sg_inq: $(grep -m1 'Product identification' "$TEST_DIR/inq" | tr -s ' '), serials $s0 $s1"

# _sense_is DEV WHAT PATTERN CDB...: sg_raw CDB must fail with sense PATTERN.
_sense_is() {
	local dev=$1 what=$2 pat=$3
	shift 3
	if sg_raw -R -r 4096 "$dev" "$@" >"$TEST_DIR/raw" 2>&1; then
		cat "$TEST_DIR/raw"
		_fail "$what: sg_raw succeeded"
	fi
	grep -qi "$pat" "$TEST_DIR/raw" || { cat "$TEST_DIR/raw"; _fail "$what: no '$pat' in the sense"; }
	_log "$what: $(grep -i -m1 "$pat" "$TEST_DIR/raw" | tr -s ' ')"
}
_sense_is "$sd1" "opcode 0xc7" "Invalid command operation code" c7 00 00 00 00 00
_sense_is "$sd1" "opcode 0xc7 (sense key)" "Illegal Request" c7 00 00 00 00 00
# 40 MiB = 81920 blocks = 0x14000: READ(10) and READ(16) at the last LBA + 1.
_sense_is "$sd1" "READ(10) past the end" "Logical block address out of range" 28 00 00 01 40 00 00 00 01 00
_sense_is "$sd1" "READ(16) past the end" "Logical block address out of range" \
	88 00 00 00 00 00 00 01 3f ff 00 00 00 02 00 00
_sense_is "$sd1" "INQUIRY VPD 0x99" "Invalid field in cdb" 12 01 99 00 ff 00
_sense_is "$sd2" "WRITE(10) on the read-only LUN" "Write protected" 2a 00 00 00 00 00 00 00 00 00
# The last block itself reads fine.
sg_raw -R -r 512 "$sd1" 28 00 00 01 3f ff 00 00 01 00 >"$TEST_DIR/raw" 2>&1 ||
	{ cat "$TEST_DIR/raw"; _fail "READ(10) of the last block"; }
head -c 13 "$sd2" | grep -q "read-only LUN" || _fail "the read-only LUN does not read back its image"

# A LUN reset from the error handler: a LOGICAL UNIT RESET TMF on the
# control queue, answered FUNCTION COMPLETE; the unit works afterwards.
sg_reset -d "$sd1" >"$TEST_DIR/reset" 2>&1 || { cat "$TEST_DIR/reset"; _fail "sg_reset -d $sd1"; }
[ "$(cat "$vl/queues/0/kicks")" -gt 0 ] || _fail "the device reset sent nothing on the control queue"
sg_raw -R -r 512 "$sd1" 28 00 00 00 00 00 00 00 01 00 >"$TEST_DIR/raw" 2>&1 ||
	{ cat "$TEST_DIR/raw"; _fail "READ(10) after the device reset"; }
_log "sg_reset -d $sd1: LUN reset completed, control queue kicks $(cat "$vl/queues/0/kicks")"

# ext4 on LUN 0, read back from the image afterwards.
_run mkfs.ext4 -q -F "$sd0"
_run mount "$sd0" "$TEST_DIR/mnt"
mkdir -p "$TEST_DIR/src"
for f in 1 4095 4097 65536 1048575 4194304; do
	head -c "$f" /dev/urandom >"$TEST_DIR/src/f$f"
done
cp "$TEST_DIR"/src/f* "$TEST_DIR/mnt/" || _fail "copy to $sd0"
sync
for f in "$TEST_DIR"/src/f*; do
	cmp "$f" "$TEST_DIR/mnt/$(basename "$f")" ||
		_fail "$(basename "$f") differs when read back through $sd0"
done
_run umount "$TEST_DIR/mnt"
_run e2fsck -fn "$sd0"
_log "ext4 on $sd0: files written, fsck clean (${SECONDS}s)"

# fio write+verify on LUN 1.
for job in "randwrite 4k 32" "randwrite 1M 32"; do
	# shellcheck disable=SC2086 # split the job into its fields
	set -- $job
	fio --name=verify --filename="$sd1" --ioengine=libaio --direct=1 \
		--rw="$1" --bs="$2" --iodepth="$3" --size=12M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--randrepeat=0 --verify_state_save=0 --output="$TEST_DIR/fio.out" >/dev/null 2>&1 || {
		tail -n 30 "$TEST_DIR/fio.out"
		_fail "fio $job failed verification on $sd1"
	}
	grep -q 'err= 0' "$TEST_DIR/fio.out" || _fail "fio $job reported errors"
	_log "fio $1 bs=$2 iodepth=$3 verify=crc32c on $sd1: $(grep -m1 -o 'IOPS=[^,]*' "$TEST_DIR/fio.out") (${SECONDS}s)"
done
_zc_shared "$vdev" "SCSI data"
_log "kicks per virtqueue (control, event, request 0, request 1): $(cat "$vl"/queues/{0,1,2,3}/kicks | tr '\n' ' ')"

# Stop the adapter (the disks go away), then the back-end; read the files
# from the image without virtio-loopback in the path.
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "adapter did not exit on SIGTERM"
[ ! -e "/sys/bus/virtio/devices/$vdev" ] || _fail "$vdev still present"
[ ! -b "$sd0" ] || _wait_for 10 test ! -b "$sd0" || _fail "$sd0 still present"
kill -TERM "$BACKEND_PID"
_wait_gone "$BACKEND_PID" 30 || _fail "vhost-user-scsi did not exit on SIGTERM"
mkdir -p "$TEST_DIR/out"
for f in "$TEST_DIR"/src/f*; do
	f=$(basename "$f")
	debugfs -R "dump /$f $TEST_DIR/out/$f" "$img0" >/dev/null 2>&1 ||
		_fail "debugfs cannot dump $f"
	cmp "$TEST_DIR/src/$f" "$TEST_DIR/out/$f" ||
		_fail "$f in the image differs from what was written"
done
_run e2fsck -fn "$img0"
_log "files read back from $img0 with debugfs: identical"
_pass
