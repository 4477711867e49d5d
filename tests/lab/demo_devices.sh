#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo-devices: run inside a vm-run guest. A network between two
# namespaces through DPDK's testpmd, a directory shared by virtiofsd, and a
# screenshot of vhost-user-gpu's display, each through virtio-loopback and
# the kernel's ordinary virtio drivers. The screenshot is copied to
# build/demo-screenshot.png.
. "$(dirname "$0")/common.sh"
_prep_test

_say "net: dpdk-testpmd with two vhost ports forwarding to each other"
(cd "$TEST_DIR" && exec dpdk-testpmd -l 0-1 --no-pci --no-huge -m 512 --file-prefix demo \
	--vdev "net_vhost0,iface=$TEST_DIR/vh0.sock" --vdev "net_vhost1,iface=$TEST_DIR/vh1.sock" -- \
	--forward-mode=io --total-num-mbufs=4096 --auto-start --stats-period 3600 \
	>"$TEST_DIR/testpmd.log" 2>&1) &
_PIDS+=($!)
_wait_for 60 _is_socket "$TEST_DIR/vh1.sock" || _fail "testpmd did not start"
for i in 0 1; do
	mac=52:54:00:de:00:0$((i + 1))
	_start_adapter v --socket "$TEST_DIR/vh$i.sock" --device net --mac "$mac"
	echo "virtio-loopback-adapter --socket vh$i.sock --device net --mac $mac -> $v"
	_wait_for 30 sh -c "ip -br link | grep -q ' $mac '" || _fail "no interface with $mac"
	dev=$(ip -br link | awk -v m="$mac" '$3 == m { print $1 }')
	ip netns add "demo$i"
	ip link set "$dev" netns "demo$i"
	ip -n "demo$i" addr add "10.99.0.$((i + 1))/24" dev "$dev"
	ip -n "demo$i" link set "$dev" up
done
_show ip netns exec demo0 ping -c 3 10.99.0.2

_say "fs: virtiofsd sharing a directory, mounted with the tag from --tag"
mkdir -p "$TEST_DIR/share"
echo "written by the host side at $(date)" >"$TEST_DIR/share/hello.txt"
/usr/lib/qemu/virtiofsd --socket-path="$TEST_DIR/fs.sock" -o source="$TEST_DIR/share" \
	-o sandbox=chroot >"$TEST_DIR/virtiofsd.log" 2>&1 &
_PIDS+=($!)
_wait_for 30 _is_socket "$TEST_DIR/fs.sock" || _fail "virtiofsd did not start"
_start_adapter v --socket "$TEST_DIR/fs.sock" --device fs --tag demo
_show mount -t virtiofs demo "$TEST_DIR/mnt"
_show cat "$TEST_DIR/mnt/hello.txt"
echo "written through virtio-fs" >"$TEST_DIR/mnt/reply.txt"
_show cat "$TEST_DIR/share/reply.txt"
umount "$TEST_DIR/mnt"

_say "gpu: vhost-user-gpu; the adapter is its display and takes a PNG screenshot"
"/usr/lib/qemu/vhost-user-gpu" --socket-path "$TEST_DIR/gpu.sock" >"$TEST_DIR/vug.log" 2>&1 &
_PIDS+=($!)
_wait_for 30 _is_socket "$TEST_DIR/gpu.sock" || _fail "vhost-user-gpu did not start"
_start_adapter v --socket "$TEST_DIR/gpu.sock" --device gpu --gpu-mode 800x600 \
	--screenshot "$TEST_DIR/screen.png"
gpu_pid=$ADAPTER_PID
_wait_for 60 sh -c 'grep -qx connected /sys/class/drm/card*-*/status' || _fail "no connected display"
printf '\033[2J\033[H' >/dev/tty1
printf 'Hello from virtio-gpu through virtio-loopback\n\n' >/dev/tty1
uname -a >/dev/tty1
sleep 3
kill -USR1 "$gpu_pid"
_wait_for 30 test -s "$TEST_DIR/screen.png" || _fail "no screenshot"
sleep 1
cp "$TEST_DIR/screen.png" "$TOP/build/demo-screenshot.png"
echo "screenshot: build/demo-screenshot.png ($(stat -c %s "$TEST_DIR/screen.png") bytes)"

_say "stopping the adapters removes the devices"
_pass
