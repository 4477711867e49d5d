#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: where a small request's time goes, per path (make bench's
# disks, null-co back-end): fio runs each workload on each path under
# `perf record -a` (cpu-clock), and the samples are shared out per I/O by
# process and by kernel module: fio in user space and in the kernel
# (block layer, driver, transport), the back-end in user space and in the
# kernel, and interrupts and kernel threads. Not a test; run it on 6.1
# (the host's perf is 6.1's), best under -icount (docs/performance.md):
#
#   scripts/vm-run --kernel 6.1 --cpus 2 --mem 3G --timeout 1200 \
#       --qemu-arg -icount --qemu-arg shift=2,sleep=off -- tests/lab/profile_blk.sh
#
#   BENCH_PATHS ("vl-isolated vduse")  PROFILE_WORKLOADS ("rr4k-qd1 rr4k-qd32")
#   RUNTIME (8 s per run)  ROUNDS (2; paths alternate)
. "$(dirname "$0")/common.sh"
_prep_test
for p in fio qemu-storage-daemon vdpa jq perf; do
	command -v "$p" >/dev/null || _fail "$p not installed (scripts/install-deps)"
done
BENCH_PATHS=${BENCH_PATHS:-vl-isolated vduse}
BENCH_PIN=0
PROFILE_WORKLOADS=${PROFILE_WORKLOADS:-rr4k-qd1 rr4k-qd32}
RUNTIME=${RUNTIME:-8}
ROUNDS=${ROUNDS:-2}
FREQ=1999
. "$(dirname "$0")/bench_common.sh"
trap _bench_cleanup EXIT

_bench_modules
export TMPDIR=$TEST_DIR
_setup null-co
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid

# _depth WORKLOAD: fio's iodepth of a profiled workload.
_depth() {
	case "$1" in
	rr4k-qd1) echo 1 ;;
	rr4k-qd32) echo 32 ;;
	*) _fail "unknown workload $1 (rr4k-qd1 or rr4k-qd32)" ;;
	esac
}

# _bucket COMM DSO: the share a sample belongs to.
_bucket() {
	case "$1:$2" in
	fio:\[kernel.kallsyms\]) echo fio-kernel ;;
	fio:\[*) echo "fio-${2//[\[\]]/}" ;;
	fio:*) echo fio-user ;;
	qemu-storage-da*:\[kernel.kallsyms\]) echo backend-kernel ;;
	qemu-storage-da*:\[*) echo "backend-${2//[\[\]]/}" ;;
	qemu-storage-da*:*) echo backend-user ;;
	swapper:*) echo idle ;;
	virtio-loopback*:*) echo adapter ;;
	*:\[kernel.kallsyms\]) echo other-kernel ;;
	*:\[*) echo "other-${2//[\[\]]/}" ;;
	*) echo other-user ;;
	esac
}

_reading() { [ "$(_reads "$1")" -gt "$2" ]; }

# _profile WORKLOAD PATH ROUND: perf samples every CPU for RUNTIME seconds
# while fio runs (started before, so its start-up is not counted); logs the
# microseconds of CPU per I/O by bucket (a cpu-clock sample is 1/FREQ s)
# and the busiest symbols.
_profile() {
	local wl=$1 path=$2 round=$3 dev=${disk[null-co/$2/1]} ios r0 fio_pid line comm dso n
	local data=$TEST_DIR/perf-$wl-$path.data
	declare -A us=()
	r0=$(_reads "$dev")
	fio --name=p --filename="$dev" --ioengine=libaio --direct=1 --iomem=shm \
		--rw=randread --bs=4k --iodepth="$(_depth "$wl")" --norandommap \
		--randrepeat=0 --time_based --runtime=3600 \
		>"$TEST_DIR/fio.out" 2>&1 &
	fio_pid=$!
	_wait_for 60 _reading "$dev" "$((r0 + 100))" || _fail "fio on $path does no I/O"
	# The I/Os are counted by the command perf runs once it samples
	# (perf itself takes many seconds to start here).
	# shellcheck disable=SC2016 # expanded by that shell
	perf record -q -a -e cpu-clock -F "$FREQ" -o "$data" -- \
		sh -c 'read -r a _ <"$1"; sleep "$2"; read -r b _ <"$1"; echo $((b - a)) >"$3"' \
		sh "/sys/block/${dev#/dev/}/stat" "$RUNTIME" "$TEST_DIR/ios" \
		>"$TEST_DIR/perf.err" 2>&1 || {
		tail -n 20 "$TEST_DIR/perf.err" >&2
		_fail "perf record on $path ($wl) failed"
	}
	kill -0 "$fio_pid" 2>/dev/null || _fail "fio on $path ended early: $(tail -n 3 "$TEST_DIR/fio.out")"
	kill "$fio_pid"
	wait "$fio_pid"
	ios=$(cat "$TEST_DIR/ios")
	[ "$ios" -gt 0 ] || _fail "fio on $path did no I/O while perf ran"
	# "samples comm dso" per line, from perf's own totals.
	while read -r n comm dso; do
		line=$(_bucket "$comm" "$dso")
		us[$line]=$((${us[$line]:-0} + n))
	done < <(perf report -i "$data" --stdio -n --no-children --sort comm,dso \
		-F sample,comm,dso 2>/dev/null | awk '!/^#/ && NF >= 3 { print $1, $2, $3 }')
	line=""
	for comm in $(printf '%s\n' "${!us[@]}" | sort); do
		[ "$comm" = idle ] && continue
		# samples * (1e6 / FREQ) µs / ios, to 0.1 µs
		n=$((us[$comm] * 10000000 / FREQ / ios))
		line+=" $comm=$((n / 10)).$((n % 10))"
	done
	_log "r$round $wl $path: $ios I/Os in ${RUNTIME}s, us of CPU per I/O:$line"
	perf report -i "$data" --stdio -n --no-children --sort comm,dso,sym 2>/dev/null |
		awk '!/^#/ && NF && !/swapper/' | head -n 30 | sed "s/^/    $path: /"
	rm -f "$data"
}

for round in $(seq "$ROUNDS"); do
	for wl in $PROFILE_WORKLOADS; do
		_depth "$wl" >/dev/null
		for path in $(_round_paths "$round"); do
			_profile "$wl" "$path" "$round"
		done
	done
done
_pass
