# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# ext4 round trip on a qemu-storage-daemon disk through virtio-loopback,
# read back through an independent path (the image itself, via debugfs).
# Used by test_blk_01 (raw) and test_blk_02 (qcow2). Needs common.sh.

# _blk_fs_roundtrip FORMAT
_blk_fs_roundtrip() {
	local fmt=$1 img=$TEST_DIR/disk.$1 sock=$TEST_DIR/blk.sock dev vdev f
	_have_program qemu-storage-daemon
	_have_program debugfs
	_run qemu-img create -q -f "$fmt" "$img" 256M
	_start_qsd "$sock" "$fmt" "$img"
	_start_adapter vdev --socket "$sock" --device blk
	dev=$(_blkdev "$vdev")
	_log "$vdev is $dev ($fmt image)"

	_run mkfs.ext4 -q -F "$dev"
	_run mount "$dev" "$TEST_DIR/mnt"
	mkdir -p "$TEST_DIR/src"
	# Files of many sizes, the big one crossing many bounce pages.
	for f in 1 100 4095 4096 4097 65536 1048575 8388608; do
		head -c "$f" /dev/urandom >"$TEST_DIR/src/f$f"
	done
	cp "$TEST_DIR"/src/f* "$TEST_DIR/mnt/" || _fail "copy to $dev"
	sync
	_zc_shared "$vdev" "ext4 file data written back"
	for f in "$TEST_DIR"/src/f*; do
		cmp "$f" "$TEST_DIR/mnt/$(basename "$f")" ||
			_fail "$(basename "$f") differs when read back through $dev"
	done
	_run umount "$TEST_DIR/mnt"
	_run e2fsck -fn "$dev"

	# Stop the adapter (removes the device), then the back-end, and read
	# the files from the image without virtio-loopback in the path.
	kill -TERM "$ADAPTER_PID"
	_wait_gone "$ADAPTER_PID" 30 || _fail "adapter did not exit on SIGTERM"
	[ ! -e "/sys/bus/virtio/devices/$vdev" ] || _fail "$vdev still present"
	kill -TERM "${_PIDS[0]}"
	_wait_gone "${_PIDS[0]}" 30 || _fail "qemu-storage-daemon did not exit"
	local raw=$img
	if [ "$fmt" != raw ]; then
		raw=$TEST_DIR/disk.raw
		_run qemu-img convert -O raw "$img" "$raw"
	fi
	mkdir -p "$TEST_DIR/out"
	for f in "$TEST_DIR"/src/f*; do
		f=$(basename "$f")
		debugfs -R "dump /$f $TEST_DIR/out/$f" "$raw" >/dev/null 2>&1 ||
			_fail "debugfs cannot dump $f"
		cmp "$TEST_DIR/src/$f" "$TEST_DIR/out/$f" ||
			_fail "$f in the image differs from what was written"
	done
	_run e2fsck -fn "$raw"
}
