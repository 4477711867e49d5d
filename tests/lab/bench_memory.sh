#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: isolated vs zero-copy memory mode, same boot, interleaved.
# Two disks, one per mode, each a qemu-storage-daemon raw image on tmpfs
# (the back-end copies every byte, as a real one does). For 4 KiB, 64 KiB
# and 1 MiB blocks: fio O_DIRECT on the disk with buffers from malloc
# (anonymous: always bounced) and from shared memory (shmem: shared in
# place), and buffered file I/O on ext4 on the disk. Prints one CSV line
# per run (BENCH_CSV) and a summary with medians and ratios.
# The order of the two modes alternates ABBA from round to round: the lab
# guest shows a strong position effect (a run right after another is often
# slower), so a fixed order would bias the ratio.
# SysV shm buffers alternate from run to run between fast and 2-3 times
# slower, in either mode (the freed segment's pages come back in reverse
# physical order, so every second run gets no contiguous segments): ABBA
# gives each mode as many of each.
# BENCH_THP (1): shared memory on transparent huge pages, so the shm
# buffers are contiguous in every run (0: the kernel's default, where they
# are the scattered pages described above).
#   ROUNDS (4)  RUNTIME (5 seconds per O_DIRECT run)  BENCH_THP (1)
#   BENCH_BS ("4k 64k 1M": O_DIRECT block sizes)  BENCH_MEM ("malloc shm")
#   BENCH_EXT4 (1; 0 skips the buffered ext4 part, e.g. for a threshold sweep)
. "$(dirname "$0")/common.sh"
_prep_test
_have_program fio
ROUNDS=${ROUNDS:-4}
RUNTIME=${RUNTIME:-5}
BENCH_BS=${BENCH_BS:-4k 64k 1M}
BENCH_MEM=${BENCH_MEM:-malloc shm}
_shm_huge_pages "${BENCH_THP:-1}"

# _order ROUND: the two modes in this round's order (ABBA...).
_order() {
	if [ $(($1 % 2)) = 1 ]; then echo isolated zero-copy; else echo zero-copy isolated; fi
}
declare -A dev vdev
for mode in isolated zero-copy; do
	_run fallocate -l 512M "$TEST_DIR/$mode.raw"
	_start_qsd "$TEST_DIR/$mode.sock" raw "$TEST_DIR/$mode.raw"
	_start_adapter v --socket "$TEST_DIR/$mode.sock" --device blk --memory "$mode"
	vdev[$mode]=$v
	dev[$mode]=$(_blkdev "$v")
	mkdir -p "$TEST_DIR/$mode"
done
csv=$TEST_DIR/bench.csv
echo "round,workload,bs,rw,mode,MBps" >"$csv"

# _fio_mbps ARGS...: run fio, print the bandwidth in MB/s (read or write).
_fio_mbps() {
	fio --output-format=terse --terse-version=3 "$@" 2>"$TEST_DIR/fio.err" |
		awk -F';' '{ printf "%.1f\n", ($7 + $48) / 1000 }' || _fail "fio $*"
}

for round in $(seq "$ROUNDS"); do
	for bs in $BENCH_BS; do
		for rw in read write; do
			for mem in $BENCH_MEM; do
				for mode in $(_order "$round"); do
					mbps=$(_fio_mbps --name=b --filename="${dev[$mode]}" \
						--ioengine=libaio --direct=1 --rw="$rw" --bs="$bs" \
						--iodepth=8 --iomem="$mem" --size=256M \
						--time_based --runtime="$RUNTIME")
					echo "$round,odirect-$mem,$bs,$rw,$mode,$mbps" | tee -a "$csv"
				done
			done
		done
	done
done

# Buffered: ext4 on each disk, a 128 MiB file written (fsync at the end)
# and read back cold.
_bench_ext4() {
	local round bs rw mode mbps
	for mode in isolated zero-copy; do
		_run mkfs.ext4 -q -F "${dev[$mode]}"
		_run mount "${dev[$mode]}" "$TEST_DIR/$mode"
	done
	for round in $(seq "$ROUNDS"); do
		for bs in 4k 64k 1M; do
			for rw in write read; do
				for mode in $(_order "$round"); do
					mbps=$(_fio_mbps --name=b --filename="$TEST_DIR/$mode/file" \
						--ioengine=psync --direct=0 --rw="$rw" --bs="$bs" \
						--size=128M --end_fsync=1 --invalidate=1)
					echo "$round,ext4-buffered,$bs,$rw,$mode,$mbps" | tee -a "$csv"
				done
			done
		done
	done
	for mode in isolated zero-copy; do
		_run umount "$TEST_DIR/$mode"
	done
}
[ "${BENCH_EXT4:-1}" = 0 ] || _bench_ext4
# The zero-copy device must have shared something, or the comparison
# compared two bounced paths.
for mode in isolated zero-copy; do
	VL_MEM_MODE=$mode _zc_shared "${vdev[$mode]}" "the benchmark"
done

echo "BENCH_CSV_BEGIN"
cat "$csv"
echo "BENCH_CSV_END"
# Medians per (workload, bs, rw, mode) and the zero-copy/isolated ratio.
awk -F, 'NR > 1 { k = $2 "," $3 "," $4; v[k "," $5] = v[k "," $5] " " $6; keys[k] = 1 }
function med(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	for (k in keys) {
		split(k, f, ",")
		i = med(v[k ",isolated"]); z = med(v[k ",zero-copy"])
		printf "%-16s %-4s %-5s %10.1f %10.1f %6.2f\n", f[1], f[2], f[3], i, z, (i > 0 ? z / i : 0)
	}
}' "$csv" | sort >"$TEST_DIR/summary"
printf "%-16s %-4s %-5s %10s %10s %6s\n" workload bs rw isolated zero-copy ratio
cat "$TEST_DIR/summary"
_pass
