#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.12
# Description (runs on the host, not in a guest): our vhost-user-rng serves
# a real VM front-end, QEMU's vhost-user-rng-pci, with the guest's own
# virtio-pci transport: the guest's /dev/hwrng delivers its bytes.
# usage: host_rng_qemu_01.sh KERNEL
set -u
kernel=${1:?kernel}
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/host_rng_qemu.XXXXXX)
sock=$dir/rng.sock
"$top/build/bin/vhost-user-rng" --socket-path "$sock" >"$dir/rng.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "vhost-user-rng did not listen on $sock"; exit 1; }
# shellcheck disable=SC2016
"$top/scripts/vm-run" --kernel "$kernel" --timeout 300 --mem 1G --shared-mem \
	--qemu-arg -chardev --qemu-arg "socket,id=rng0,path=$sock" \
	--qemu-arg -device --qemu-arg "vhost-user-rng-pci,chardev=rng0" -- bash -c '
	set -e
	modprobe virtio_rng
	hw=/sys/class/misc/hw_random
	for _ in $(seq 100); do grep -q virtio_rng $hw/rng_available && break; sleep 0.1; done
	name=$(tr " " "\n" <$hw/rng_available | grep -m1 virtio_rng)
	echo "$name" >$hw/rng_current
	n=$(dd if=/dev/hwrng bs=64k count=4 iflag=fullblock status=none | gzip -c | wc -c)
	echo "256 KiB from $name (QEMU vhost-user-rng-pci) compress to $n bytes"
	[ "$n" -gt 260000 ]
'
