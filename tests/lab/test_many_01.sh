#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.12
# Description: 64 devices at once (32 blk, 32 rng), each created by its own
# adapter process, all started concurrently; every one works; all are
# removed when their adapters exit; a second round leaves slab and vmalloc
# where the first left them; the module unloads.
. "$(dirname "$0")/common.sh"
_prep_test
N=${N:-32}
MEM=$((4 << 20))

# One qemu-storage-daemon serves all blk sockets (one export each).
_start_qsd_null "$TEST_DIR/blk" "$N"
for i in $(seq 1 "$N"); do
	_start_rng "$TEST_DIR/rng$i.sock"
done

# One round: 64 adapters started at once, every device used, all removed.
_round() {
	local r=$1 i t o k v dev n name pids=()
	declare -A out
	for i in $(seq 1 "$N"); do
		for t in blk rng; do
			o=$TEST_DIR/ad.$r.$t$i
			virtio-loopback-adapter --socket "$TEST_DIR/$t$i.sock" --device "$t" \
				--mem-size "$MEM" >"$o" 2>"$o.err" &
			pids+=($!)
			_PIDS+=($!)
			out[$t$i]=$o
		done
	done
	for k in "${!out[@]}"; do
		_wait_for "$READY_TIMEOUT" grep -q '^ready virtio' "${out[$k]}" || {
			cat "${out[$k]}.err"
			_fail "round $r: adapter $k never became ready"
		}
	done
	[ "$(_vl_count)" = $((2 * N)) ] ||
		_fail "round $r: expected $((2 * N)) devices, have $(_vl_count)"

	# Every disk takes a write and a read (null-co: no data to compare).
	for i in $(seq 1 "$N"); do
		v=$(sed -n 's/^ready //p' "${out[blk$i]}")
		dev=$(_blkdev "$v")
		dd if=/dev/urandom of="$TEST_DIR/w" bs=4k count=4 status=none
		_run dd if="$TEST_DIR/w" of="$dev" bs=4k count=4 oflag=direct status=none
		_run dd if="$dev" of="$TEST_DIR/r" bs=4k count=4 iflag=direct status=none
	done
	# Every rng delivers bytes.
	hw=/sys/class/misc/hw_random
	n=$(tr ' ' '\n' <"$hw/rng_available" | grep -c virtio_rng)
	[ "$n" = "$N" ] || _fail "round $r: hwrng lists $n virtio rngs, expected $N"
	for name in $(tr ' ' '\n' <"$hw/rng_available" | grep virtio_rng); do
		echo "$name" >"$hw/rng_current" || _fail "select $name"
		n=$(dd if=/dev/hwrng bs=64 count=1 iflag=fullblock status=none | wc -c)
		[ "$n" = 64 ] || _fail "round $r: $name returned $n bytes"
	done

	# Remove them all at once.
	kill -TERM "${pids[@]}"
	_wait_for 120 _vl_none || _fail "round $r: $(_vl_count) devices left after the adapters exited"
	for i in "${pids[@]}"; do
		_wait_gone "$i" 30 || _fail "round $r: adapter $i did not exit"
	done
}

# The first round brings the back-ends and drivers to their steady state
# (connections served once, modules loaded); the second must then leave
# the kernel's memory where the first left it.
_round 1
sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(_slab_kb)
cp /proc/slabinfo "$TEST_DIR/slabinfo0"
vmalloc0=$(_vmalloc_kb)
_round 2
vmalloc1=$(_vmalloc_kb)
_log "vmalloc after round 1 ${vmalloc0} kB, after round 2 ${vmalloc1} kB"
# One leaked bounce region alone would be $((MEM >> 10)) kB.
[ $((vmalloc1 - vmalloc0)) -lt $((MEM >> 10)) ] ||
	_fail "vmalloc grew by $((vmalloc1 - vmalloc0)) kB"
sync
echo 3 >/proc/sys/vm/drop_caches
sleep 1
slab1=$(_slab_kb)
_log "unreclaimable slab after round 1 ${slab0} kB, after round 2 ${slab1} kB"
# 64 leaked devices of even 16 kB each would not fit in this.
if [ $((slab1 - slab0)) -ge 1024 ]; then
	_log "slab caches that grew most (name, objects before, after):"
	join <(awk 'NR > 2 { print $1, $2 }' "$TEST_DIR/slabinfo0" | sort) \
	     <(awk 'NR > 2 { print $1, $2 }' /proc/slabinfo | sort) |
		awk '{ print $3 - $2, $0 }' | sort -rn | head -n 8
	_fail "unreclaimable slab grew by $((slab1 - slab0)) kB"
fi
_wait_for 20 rmmod virtio_loopback || _fail "rmmod virtio_loopback"
_pass
