#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: make bench, the guest side. One boot; the same
# qemu-storage-daemon back-end reached through virtio-loopback (isolated and
# zero-copy memory modes, vhost-user-blk export + our adapter), VDUSE
# (vduse-blk export + vdpa) and NBD (nbd export on a unix socket +
# nbd-client), next to the kernel's own null_blk (the ceiling) and loop on a
# tmpfs file. Every path gets a 1-queue and a 2-queue disk. fio (libaio,
# O_DIRECT, buffers in shared memory so that zero-copy can share them) runs
# each workload on each path, the paths interleaved and their order rotated
# from workload to workload and round to round. One CSV line per run.
#
#   tests/lab/bench_blk.sh [OUTPUT.csv]
#   ROUNDS (3)  RUNTIME (3 seconds per fio run)
#   BENCH_SETS ("null-co nullb-raw"): back-end sets. null-co: qsd's null-co
#     driver (touches no data). nullb-raw: qsd on a memory-backed null_blk
#     (cache.direct=on, aio=native: the back-end moves every byte).
#   BENCH_WORKLOADS, BENCH_PATHS: subsets of the names below.
#   BENCH_THP (1): fio's shared-memory buffers on transparent huge pages
#     (shmem_enabled=always), so every path and round gets the same,
#     contiguous, buffer layout; 0 leaves it to chance (single pages
#     scattered or not, which changes how many requests a 1 MiB read
#     becomes on every path, and what zero-copy shares: docs/memory.md).
#   BENCH_PIN (0): 1 puts the back-ends on vCPU 1 and a single fio job on
#     vCPU 0 (by default the guest's scheduler places them, as it would in
#     use; pinning did not make the runs steadier on a loaded host).
#
# Any path that does not come up, or a fio run that fails or does no I/O,
# fails the whole run: a missing bar must never look like a result.
. "$(dirname "$0")/common.sh"
_prep_test
for p in fio qemu-storage-daemon nbd-client vdpa jq losetup; do
	command -v "$p" >/dev/null || _fail "$p not installed (scripts/install-deps)"
done
ROUNDS=${ROUNDS:-3}
RUNTIME=${RUNTIME:-3}
BENCH_SETS=${BENCH_SETS:-null-co nullb-raw}
ALL_WORKLOADS="rr4k-qd1 rr4k-qd32 rw4k-qd32 sr1m-qd8 sw1m-qd8 rr4k-qd32-2j"
BENCH_WORKLOADS=${BENCH_WORKLOADS:-$ALL_WORKLOADS}
ALL_PATHS="vl-isolated vl-zero-copy vduse nbd null_blk loop"
BENCH_PATHS=${BENCH_PATHS:-$ALL_PATHS}
BENCH_PIN=${BENCH_PIN:-0}
BENCH_THP=${BENCH_THP:-1}
OUT=${1:-}
. "$(dirname "$0")/bench_common.sh"

# _wl_job WORKLOAD: sets WL_Q, the queue count of its disk, and WL_OPTS,
# its fio options (job-file lines). No subshell: forks are slow here.
_wl_job() {
	WL_Q=1
	local pin=()
	[ "$BENCH_PIN" = 1 ] && pin=(cpus_allowed=0)
	case "$1" in
	rr4k-qd1) WL_OPTS=(rw=randread bs=4k iodepth=1 "${pin[@]}") ;;
	rr4k-qd32) WL_OPTS=(rw=randread bs=4k iodepth=32 "${pin[@]}") ;;
	rw4k-qd32) WL_OPTS=(rw=randwrite bs=4k iodepth=32 "${pin[@]}") ;;
	sr1m-qd8) WL_OPTS=(rw=read bs=1M iodepth=8 "${pin[@]}") ;;
	sw1m-qd8) WL_OPTS=(rw=write bs=1M iodepth=8 "${pin[@]}") ;;
	# Two jobs, one per vCPU, so each submits on its own queue.
	rr4k-qd32-2j)
		WL_Q=2
		WL_OPTS=(rw=randread bs=4k iodepth=32 numjobs=2
			 cpus_allowed=0-1 cpus_allowed_policy=split) ;;
	*) return 1 ;;
	esac
}

# What a run's exec_prerun/exec_postrun prints: the guest's uptime and
# its CPU times (shell builtins only: an exec costs a good part of a second
# here; fio saves the output as JOB.prerun.txt and JOB.postrun.txt).
# shellcheck disable=SC2016 # expanded by fio's shell
SAMPLE='read u i </proc/uptime && read l </proc/stat && echo $u $l'

# _sample TICKS_VAR UPTIME_VAR FILE: from a SAMPLE, the guest's busy CPU
# time in USER_HZ ticks (all but idle and iowait) and its uptime.
_sample() {
	local up us ni sy irq sirq st
	read -r up _ us ni sy _ _ irq sirq st _ <"$3" 2>/dev/null
	[ -n "${st:-}" ] || _fail "no CPU sample in $3"
	printf -v "$1" '%s' $((us + ni + sy + irq + sirq + st))
	printf -v "$2" '%s' "$up"
}

# _bench_round SET ROUND: one fio run per workload and path of SET, the
# paths of each workload in a rotated order, one CSV line each. One fio
# process runs them one after the other (stonewall): starting fio costs
# seconds in the emulated guest. Each run samples /proc/stat before and
# after itself, for the guest's CPU time.
_bench_round() {
	local set=$1 round=$2 start wl path i n=0 w0 w1 t0 t1 ticks="" times=()
	local -a paths=() names=()
	for path in $BENCH_PATHS; do
		[ -n "${disk[$set/$path/1]:-}" ] && paths+=("$path")
	done
	rm -f "$TEST_DIR"/*.prerun.txt "$TEST_DIR"/*.postrun.txt
	{
		echo "[global]"
		echo "ioengine=libaio"
		echo "direct=1"
		# Shared memory, so that zero-copy devices can share the
		# buffers in place (anonymous ones are always bounced).
		echo "iomem=shm"
		echo "norandommap"
		echo "randrepeat=0"
		echo "group_reporting"
		echo "lat_percentiles=1"
		echo "disk_util=0"
		echo "time_based"
		echo "runtime=$RUNTIME"
		for wl in $BENCH_WORKLOADS; do
			_wl_job "$wl"
			# Rotate: each path runs first, second, ... in turn, so a
			# position effect lands on every path alike.
			for i in "${!paths[@]}"; do
				path=${paths[$(((i + ROTATE) % ${#paths[@]}))]}
				names+=("$wl $path")
				echo "[$wl+$path]"
				echo "stonewall"
				echo "filename=${disk[$set/$path/$WL_Q]}"
				printf '%s\n' "${WL_OPTS[@]}"
				# fio saves what these print as JOB.prerun.txt and
				# JOB.postrun.txt; shell builtins only (an exec
				# costs a good part of a second here).
				echo "exec_prerun=$SAMPLE"
				echo "exec_postrun=$SAMPLE"
				n=$((n + 1))
			done
			ROTATE=$((ROTATE + 1))
		done
	} >"$TEST_DIR/bench.fio"
	start=$SECONDS
	# From TEST_DIR: fio leaves JOB.prerun.txt files in its directory.
	(cd "$TEST_DIR" && fio --output-format=json --output=fio.json bench.fio) \
		>"$TEST_DIR/fio.err" 2>&1 || {
		tail -n 30 "$TEST_DIR/fio.err" >&2
		_fail "fio on $set, round $round, failed"
	}
	for i in $(seq 0 $((n - 1))); do
		read -r wl path <<<"${names[i]}"
		_sample t0 w0 "$TEST_DIR/$wl+$path.prerun.txt"
		_sample t1 w1 "$TEST_DIR/$wl+$path.postrun.txt"
		ticks="$ticks${ticks:+,}$((t1 - t0))"
		times+=("$w0-$w1")
	done
	# Per run: name, IOPS, MB/s, mean and p99 latency (µs), fio's usr+sys
	# CPU per I/O and the whole guest's (µs; USER_HZ is 100).
	jq -r --argjson ticks "[$ticks]" '.jobs | to_entries[] | .key as $i | .value |
		(.read.total_ios + .write.total_ios) as $ios |
		(if .read.total_ios > 0 then .read else .write end) as $d |
		.jobname + "," + (if $ios == 0 or .error != 0 then "none" else
		[ (.read.iops + .write.iops | . * 10 | round / 10),
		  ((.read.bw_bytes + .write.bw_bytes) / 1e6 | . * 10 | round / 10),
		  ($d.lat_ns.mean / 1000 | . * 10 | round / 10),
		  ($d.lat_ns.percentile["99.000000"] / 1000 | . * 10 | round / 10),
		  ((.usr_cpu + .sys_cpu) / 100 * .job_runtime * 1000 / $ios | . * 100 | round / 100),
		  ($ticks[$i] * 10000 / $ios | . * 100 | round / 100) ] | map(tostring) | join(",")
		end)' "$TEST_DIR/fio.json" >"$TEST_DIR/runs" ||
		_fail "fio on $set, round $round: unreadable output"
	[ "$(wc -l <"$TEST_DIR/runs")" = "$n" ] ||
		_fail "fio on $set, round $round: $(wc -l <"$TEST_DIR/runs") results for $n runs"
	i=0
	while IFS=, read -r name line; do
		read -r wl path <<<"${names[i]}"
		[ "$name" = "$wl+$path" ] || _fail "fio on $set: result $i is $name, not $wl+$path"
		[ "$line" != none ] || _fail "fio $wl on $set $path did no I/O"
		echo "$KVER,$set,$wl,$path,$round,$line" >>"$CSV"
		_log "r$round $set $wl $path: $line (${times[i]})"
		i=$((i + 1))
	done <"$TEST_DIR/runs"
	_log "r$round $set: $n runs in $((SECONDS - start)) s"
}

_bench_modules
_shm_huge_pages "$BENCH_THP"
for wl in $BENCH_WORKLOADS; do
	_wl_job "$wl" || _fail "unknown workload $wl (one of: $ALL_WORKLOADS)"
done
for path in $BENCH_PATHS; do
	_want "$path" "$ALL_PATHS" || _fail "unknown path $path (one of: $ALL_PATHS)"
done
# qemu-storage-daemon's vduse-blk export keeps a reconnect log in TMPDIR.
export TMPDIR=$TEST_DIR
for set in $BENCH_SETS; do
	_setup "$set"
done
_log "memory after setup: $(awk '/^MemAvailable:/ { print $2 / 1024 " MiB available" }' /proc/meminfo)"

CSV=$TEST_DIR/bench.csv
echo "kernel,set,workload,path,round,iops,mbps,lat_mean_us,lat_p99_us,fio_cpu_us_per_io,guest_cpu_us_per_io" >"$CSV"
_log "set up in $SECONDS s"
start=$SECONDS
ROTATE=0
for round in $(seq "$ROUNDS"); do
	for set in $BENCH_SETS; do
		_bench_round "$set" "$round"
	done
done
_log "$(($(wc -l <"$CSV") - 1)) runs in $((SECONDS - start)) s"
for v in /sys/class/virtio-loopback/vl*; do
	[ -e "$v" ] && _mem_log "virtio$(cat "$v/virtio_index")"
done

echo "BENCH_CSV_BEGIN"
cat "$CSV"
echo "BENCH_CSV_END"
[ -n "$OUT" ] && { cp "$CSV" "$OUT" || _fail "cannot write $OUT"; }
_pass
