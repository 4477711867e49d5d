#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: notifications per request (make bench's null-co disks): fio
# runs 4 KiB random reads on each path, and the counters read around each
# run are divided by the reads the disk completed: virtio-loopback's
# per-queue sysfs "interrupts" and "kicks" (VDUSE has none), and the
# guest's context switches (/proc/stat "ctxt", every CPU, every task).
# Not a test; docs/performance.md ("Interrupts per request") has its
# figures. Best under -icount, where its rounds repeat to within 1 %:
#
#   scripts/vm-run --kernel 6.12 --cpus 2 --mem 3G --timeout 1500 \
#       --qemu-arg -icount --qemu-arg shift=2,sleep=off -- tests/lab/profile_irq.sh
#
#   BENCH_PATHS ("vl-isolated vduse")  QDS ("32 1")  RUNTIME (8 s per run)
#   ROUNDS (2; paths alternate)
. "$(dirname "$0")/common.sh"
_prep_test
for p in fio qemu-storage-daemon vdpa jq; do
	command -v "$p" >/dev/null || _fail "$p not installed (scripts/install-deps)"
done
BENCH_PATHS=${BENCH_PATHS:-vl-isolated vduse}
BENCH_PIN=0
QDS=${QDS:-32 1}
RUNTIME=${RUNTIME:-8}
ROUNDS=${ROUNDS:-2}
. "$(dirname "$0")/bench_common.sh"
trap _bench_cleanup EXIT

_bench_modules
export TMPDIR=$TEST_DIR
_setup null-co

# _queues_sum SYSFS ATTR: ATTR summed over the device's queues.
_queues_sum() {
	local f s=0
	for f in "$1"/queues/*/"$2"; do
		s=$((s + $(cat "$f")))
	done
	echo "$s"
}

_ctxt() { awk '$1 == "ctxt" { print $2 }' /proc/stat; }

# _per_io COUNT IOS: COUNT / IOS to three decimals.
_per_io() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# _measure PATH QD ROUND: one fio run on PATH's 1-queue disk, one log line.
_measure() {
	local path=$1 qd=$2 round=$3 dev=${disk[null-co/$1/1]} sys="" r0 r1 c0 c1 i0 k0 ios line
	if [[ $path == vl-* ]]; then
		sys=$(_vl_sysfs "$(basename "$(readlink -f "/sys/block/${dev#/dev/}/device")")")
		i0=$(_queues_sum "$sys" interrupts)
		k0=$(_queues_sum "$sys" kicks)
	fi
	r0=$(_reads "$dev")
	c0=$(_ctxt)
	fio --name=p --filename="$dev" --ioengine=libaio --direct=1 --iomem=shm \
		--rw=randread --bs=4k --iodepth="$qd" --norandommap --randrepeat=0 \
		--time_based --runtime="$RUNTIME" --output-format=json \
		>"$TEST_DIR/fio.json" 2>&1 || _fail "fio on $path (QD$qd): $(tail -n 3 "$TEST_DIR/fio.json")"
	c1=$(_ctxt)
	r1=$(_reads "$dev")
	ios=$((r1 - r0))
	[ "$ios" -gt 0 ] || _fail "fio on $path (QD$qd) did no I/O"
	line="r$round QD$qd $path: $(jq '.jobs[0].read.iops | floor' "$TEST_DIR/fio.json") IOPS"
	line+=", mean latency $(jq '.jobs[0].read.lat_ns.mean / 1000 | floor' "$TEST_DIR/fio.json") us"
	line+=", per I/O: context switches $(_per_io $((c1 - c0)) "$ios")"
	if [ -n "$sys" ]; then
		line+=" interrupts $(_per_io $(($(_queues_sum "$sys" interrupts) - i0)) "$ios")"
		line+=" kicks $(_per_io $(($(_queues_sum "$sys" kicks) - k0)) "$ios")"
	fi
	_log "$line"
}

for round in $(seq "$ROUNDS"); do
	for qd in $QDS; do
		for path in $(_round_paths "$round"); do
			_measure "$path" "$qd" "$round"
		done
	done
done
_pass
