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
OUT=${1:-}
SIZE_MB=1024		# null disks (no memory behind them)
MEM_SIZE_MB=512		# memory-backed disks: null_blk of nullb-raw, loop's file
KVER=$(uname -r)

# disk[SET/PATH/QUEUES]: the block device of a path.
declare -A disk
NBD_NEXT=0
CONFIGFS=/sys/kernel/config/nullb

_bench_cleanup() {
	local d
	for d in /sys/bus/vdpa/devices/*; do
		[ -e "$d" ] && vdpa dev del "$(basename "$d")" 2>/dev/null
	done
	for d in /dev/nbd*; do
		[ -b "$d" ] && [ "$(cat "/sys/block/${d#/dev/}/size" 2>/dev/null)" != 0 ] &&
			nbd-client -d "$d" >/dev/null 2>&1
	done
	losetup -D 2>/dev/null
	_cleanup_test
	for d in "$CONFIGFS"/*; do
		[ -d "$d" ] && { echo 0 >"$d/power"; rmdir "$d"; } 2>/dev/null
	done
}
trap _bench_cleanup EXIT

_want() { [[ " $2 " == *" $1 "* ]]; }

# _hw_queues DEV: number of blk-mq hardware queues of a block device.
_hw_queues() {
	local n=0 q
	for q in "/sys/block/${1#/dev/}/mq/"*; do
		[ -d "$q" ] && n=$((n + 1))
	done
	echo $n
}

# _add SET PATH QUEUES DEV: record a path's disk after checking it.
_add() {
	local dev=$4 sz hq
	[ -b "$dev" ] || _fail "$1 $2: $dev is not a block device"
	sz=$(blockdev --getsize64 "$dev") || _fail "$1 $2: no size for $dev"
	[ "$sz" -gt 0 ] || _fail "$1 $2: $dev has size 0"
	hq=$(_hw_queues "$dev")
	# loop has a single hardware queue whatever is asked.
	if [ "$2" != loop ] && [ "$hq" != "$3" ]; then
		_fail "$1 $2: $dev has $hq hardware queues, wanted $3"
	fi
	disk[$1/$2/$3]=$dev
	_log "$1 $2 q$3: $dev ($((sz >> 20)) MiB, $hq hw queues)"
}

# _nullb NAME QUEUES MEMORY_BACKED: a null_blk disk made through configfs.
_nullb() {
	local d=$CONFIGFS/$1 size=$SIZE_MB
	[ "$3" = 1 ] && size=$MEM_SIZE_MB
	mkdir "$d" || _fail "null_blk: mkdir $d"
	echo "$size" >"$d/size"
	echo 4096 >"$d/blocksize"
	echo "$2" >"$d/submit_queues"
	echo 0 >"$d/poll_queues"
	echo "$3" >"$d/memory_backed"
	echo 1 >"$d/power" || _fail "null_blk: power on $1"
	_wait_for 10 test -b "/dev/$1" || _fail "/dev/$1 missing"
	echo "/dev/$1"
}

# _qsd NAME ARGS...: a qemu-storage-daemon; fails unless it stays up.
_qsd() {
	local name=$1
	shift
	local pin=()
	[ "$BENCH_PIN" = 1 ] && pin=(taskset -c 1)
	"${pin[@]}" qemu-storage-daemon "$@" >"$TEST_DIR/qsd-$name.log" 2>&1 &
	_PIDS+=($!)
	QSD_PID=$!
}

# _qsd_check NAME: the daemon started last is still running.
_qsd_check() {
	kill -0 "$QSD_PID" 2>/dev/null || {
		cat "$TEST_DIR/qsd-$1.log" >&2
		_fail "qemu-storage-daemon $1 exited"
	}
}

_qsd_up_and() { kill -0 "$QSD_PID" && "$@"; }

# _qsd_wait NAME WHAT COMMAND...: wait for COMMAND while the daemon runs.
_qsd_wait() {
	local name=$1 what=$2
	shift 2
	_wait_for 30 _qsd_up_and "$@" || {
		cat "$TEST_DIR/qsd-$name.log" >&2
		_fail "$name: qemu-storage-daemon did not create $what"
	}
}

# _vduse_blkdev NAME: the /dev/vdX of a vDPA device (waits for it).
_vduse_blkdev() {
	local b
	_wait_for 30 eval "ls -d /sys/bus/vdpa/devices/$1/virtio*/block/* >/dev/null" ||
		_fail "vduse $1: no block device appeared"
	b=$(ls -d /sys/bus/vdpa/devices/"$1"/virtio*/block/*)
	echo "/dev/$(basename "$b")"
}

_nbd_ready() { [ "$(cat "/sys/block/$1/size")" != 0 ]; }

# _setup SET: every wanted path of a back-end set, 1 and 2 queues.
_setup() {
	local set=$1 blockdev path q v dev name sock backing=""
	case "$set" in
	null-co)
		blockdev=(--blockdev "driver=null-co,node-name=disk0,size=$((SIZE_MB << 20)),read-zeroes=off")
		;;
	nullb-raw)
		# The back-ends' disk: a memory-backed null_blk with 2 queues,
		# which the null_blk reference of this set uses directly.
		backing=$(_nullb nullbmem 2 1)
		[ -b "$backing" ] || _fail "nullb-raw: no memory-backed null_blk"
		blockdev=(--blockdev "driver=host_device,node-name=file0,filename=$backing,cache.direct=on,aio=native,locking=off"
			  --blockdev "driver=raw,node-name=disk0,file=file0")
		;;
	*) _fail "unknown back-end set $set" ;;
	esac
	for path in $BENCH_PATHS; do
		case "$path" in
		vl-isolated|vl-zero-copy)
			_qsd "$set-$path" "${blockdev[@]}" \
				--export "type=vhost-user-blk,id=e1,node-name=disk0,addr.type=unix,addr.path=$TEST_DIR/$set-$path-1.sock,writable=on,num-queues=1" \
				--export "type=vhost-user-blk,id=e2,node-name=disk0,addr.type=unix,addr.path=$TEST_DIR/$set-$path-2.sock,writable=on,num-queues=2"
			for q in 1 2; do
				sock=$TEST_DIR/$set-$path-$q.sock
				_qsd_wait "$set-$path" "$sock" _is_socket "$sock"
				_start_adapter v --socket "$sock" --device blk --memory "${path#vl-}"
				_add "$set" "$path" $q "$(_blkdev "$v")"
			done
			;;
		vduse)
			_qsd "$set-$path" "${blockdev[@]}" \
				--export "type=vduse-blk,id=e1,node-name=disk0,name=$set-1,writable=on,num-queues=1,queue-size=256" \
				--export "type=vduse-blk,id=e2,node-name=disk0,name=$set-2,writable=on,num-queues=2,queue-size=256"
			for q in 1 2; do
				name=$set-$q
				_qsd_wait "$set-$path" "/dev/vduse/$name" test -e "/dev/vduse/$name"
				_run vdpa dev add name "$name" mgmtdev vduse
				_add "$set" "$path" $q "$(_vduse_blkdev "$name")"
			done
			_qsd_check "$set-$path"
			;;
		nbd)
			sock=$TEST_DIR/$set-nbd.sock
			_qsd "$set-$path" "${blockdev[@]}" \
				--nbd-server "addr.type=unix,addr.path=$sock" \
				--export "type=nbd,id=e1,node-name=disk0,name=d1,writable=on" \
				--export "type=nbd,id=e2,node-name=disk0,name=d2,writable=on"
			_qsd_wait "$set-$path" "$sock" _is_socket "$sock"
			for q in 1 2; do
				dev=nbd$NBD_NEXT
				NBD_NEXT=$((NBD_NEXT + 1))
				_run nbd-client -unix "$sock" "/dev/$dev" -N "d$q" -b 4096 -C $q
				_wait_for 30 _nbd_ready "$dev" || _fail "$set nbd: /dev/$dev has no size"
				_add "$set" "$path" $q "/dev/$dev"
			done
			;;
		null_blk)
			if [ -n "$backing" ]; then
				# The back-ends' own disk, for both (a second
				# memory-backed disk would not fit the guest).
				_add "$set" "$path" 2 "$backing"
				disk[$set/$path/1]=$backing
			else
				_add "$set" "$path" 1 "$(_nullb nullb1 1 0)"
				_add "$set" "$path" 2 "$(_nullb nullb2 2 0)"
			fi
			;;
		loop)
			# A reference once: it is the same disk in every set.
			[ "$set" = null-co ] || continue
			_run truncate -s "${MEM_SIZE_MB}M" "$TEST_DIR/loop.img"
			dev=$(losetup -f --show "$TEST_DIR/loop.img") || _fail "losetup"
			_add "$set" "$path" 1 "$dev"
			_add "$set" "$path" 2 "$dev"
			;;
		*) _fail "unknown path $path" ;;
		esac
	done
}

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

modprobe null_blk nr_devices=0 || _fail "modprobe null_blk"
modprobe loop || _fail "modprobe loop"
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
[ -d "$CONFIGFS" ] || _fail "null_blk has no configfs directory"
if _want vduse "$BENCH_PATHS"; then
	modprobe vduse || _fail "modprobe vduse"
	modprobe virtio_vdpa || _fail "modprobe virtio_vdpa"
fi
if _want nbd "$BENCH_PATHS"; then
	modprobe nbd nbds_max=4 || _fail "modprobe nbd"
fi
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
