# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # disk, KVER: for the scripts that source this
# The disks of the block benchmark (bench_blk.sh) and of its profile
# (profile_blk.sh): the same qemu-storage-daemon back-end reached through
# each path, 1 and 2 queues. Sourced after common.sh; the caller sets
# BENCH_PATHS and BENCH_PIN and calls _bench_modules, then _setup SET.

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

# _round_paths ROUND: BENCH_PATHS one per line, reversed in even rounds so
# that each path goes first as often as the others.
_round_paths() {
	local paths
	read -r -a paths <<<"$BENCH_PATHS"
	if [ $(($1 % 2)) = 0 ]; then
		printf '%s\n' "${paths[@]}" | tac
	else
		printf '%s\n' "${paths[@]}"
	fi
}

# _reads DEV: reads the block device has completed.
_reads() {
	local r
	read -r r _ <"/sys/block/${1#/dev/}/stat"
	echo "$r"
}

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
# irqmode 0 ends each request in its submission: the default (softirq) on a
# one-queue disk raises BLOCK_SOFTIRQ from fio's task context, so every
# completion waited for ksoftirqd (4.8k IOPS at QD32, no ceiling).
_nullb() {
	local d=$CONFIGFS/$1 size=$SIZE_MB
	[ "$3" = 1 ] && size=$MEM_SIZE_MB
	mkdir "$d" || _fail "null_blk: mkdir $d"
	echo "$size" >"$d/size"
	echo 4096 >"$d/blocksize"
	echo "$2" >"$d/submit_queues"
	echo 0 >"$d/poll_queues"
	echo "$3" >"$d/memory_backed"
	echo 0 >"$d/irqmode"
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

# _bench_modules: the kernel modules of the wanted paths.
_bench_modules() {
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
}
