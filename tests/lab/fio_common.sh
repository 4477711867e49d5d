# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# fio write+verify jobs shared by test_blk_03 and test_blk_04. Needs common.sh.

# _fio_verify VIRTIO_NAME: 4k random and 1M sequential writes at QD1 and
# QD32, each followed by fio's read-back verify (crc32c), on virtioN's disk.
_fio_verify() {
	local vdev=$1 dev job
	dev=$(_blkdev "$vdev")
	# Buffers from malloc (anonymous pages: always bounced) and from
	# shared memory (shmem pages: shared in place by zero-copy devices).
	for job in "randwrite 4k 1 malloc" "randwrite 4k 32 malloc" \
		   "write 1M 1 malloc" "write 1M 32 malloc" "randrw 4k 32 malloc" \
		   "randrw 64k 8 shm" "write 1M 8 shm"; do
		# shellcheck disable=SC2086 # split the job into its fields
		set -- $job
		_log "fio $1 bs=$2 iodepth=$3 iomem=$4 verify=crc32c on $dev"
		fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 \
			--rw="$1" --bs="$2" --iodepth="$3" --iomem="$4" --size=24M \
			--verify=crc32c --verify_fatal=1 --do_verify=1 \
			--randrepeat=0 --verify_state_save=0 --output="$TEST_DIR/fio.out" >/dev/null 2>&1 || {
			tail -n 30 "$TEST_DIR/fio.out"
			_fail "fio $job failed verification on $dev"
		}
		grep -q 'err= 0' "$TEST_DIR/fio.out" || _fail "fio $job reported errors"
	done
	_zc_shared "$vdev" "fio O_DIRECT from shared memory"
}
