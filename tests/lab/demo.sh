#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo (make demo): run inside a vm-run guest. A disk served by
# qemu-storage-daemon and an rng served by vhost-user-rng, both through
# virtio-loopback and the kernel's ordinary virtio drivers.
. "$(dirname "$0")/common.sh"
_prep_test

_say "kernel $(uname -r); module loaded: $(lsmod | grep -c '^virtio_loopback') ; control node:"
ls -l /dev/virtio-loopback

_say "back-end 1: qemu-storage-daemon exporting a 512 MiB raw image as vhost-user-blk"
img=$TEST_DIR/disk.raw
truncate -s 512M "$img"
_start_qsd "$TEST_DIR/blk.sock" raw "$img"
echo "listening on $TEST_DIR/blk.sock"
_say "adapter: virtio-loopback-adapter --socket $TEST_DIR/blk.sock --device blk"
_start_adapter vdev --socket "$TEST_DIR/blk.sock" --device blk
dev=$(_blkdev "$vdev")
echo "ready $vdev -> $dev (driver: $(basename "$(readlink /sys/bus/virtio/devices/"$vdev"/driver)"))"
_show lsblk "$dev"

_say "ext4 on $dev"
mkfs.ext4 -q -F "$dev"
_show mount "$dev" "$TEST_DIR/mnt"
head -c 32M /dev/urandom >"$TEST_DIR/data"
_show cp "$TEST_DIR/data" "$TEST_DIR/mnt/data"
sync
echo 3 >/proc/sys/vm/drop_caches
_show sha256sum "$TEST_DIR/data" "$TEST_DIR/mnt/data"
_show df -h "$TEST_DIR/mnt"
umount "$TEST_DIR/mnt"

_say "fio: 4k random read, queue depth 32, 5 s (emulated guest: absolute numbers mean little)"
fio --name=demo --filename="$dev" --ioengine=libaio --direct=1 --rw=randread \
	--bs=4k --iodepth=32 --time_based --runtime=5 --size=256M | grep -E 'IOPS|lat \(usec\): min'

_say "back-end 2: vhost-user-rng"
_start_rng "$TEST_DIR/rng.sock"
_start_adapter rdev --socket "$TEST_DIR/rng.sock" --device rng
echo "ready $rdev"
hw=/sys/class/misc/hw_random
name=$(tr ' ' '\n' <"$hw/rng_available" | grep -m1 virtio_rng)
echo "$name" >"$hw/rng_current"
echo "rng_current: $(cat $hw/rng_current)"
_show sh -c 'head -c 64 /dev/hwrng | od -An -tx1'

_say "per-device state in sysfs"
for d in /sys/class/virtio-loopback/vl*; do
	printf '%s: device_id=%s owner_pid=%s mem_mode=%s status=%s\n' "$(basename "$d")" \
		"$(cat "$d/device_id")" "$(cat "$d/owner_pid")" "$(cat "$d/mem_mode")" "$(cat "$d/status")"
	for q in "$d"/queues/*; do
		[ -d "$q" ] && printf '   queue %s: size=%s kicks=%s interrupts=%s\n' "$(basename "$q")" \
			"$(cat "$q/size")" "$(cat "$q/kicks")" "$(cat "$q/interrupts")"
	done
done

_say "stopping the adapters removes the devices"
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30
echo "devices left: $(_vl_count) (one, the rng, until its adapter stops)"
_pass
