# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for the virtio-net lab tests (test_net_*.sh), sourced after
# common.sh: DPDK's testpmd as the back-end of two ports forwarding to each
# other, and the two interfaces in network namespaces vlnet0 / vlnet1.

# _start_testpmd QUEUES: testpmd with vhost ports on $TEST_DIR/vh0.sock and
# vh1.sock, QUEUES queue pairs each, io forwarding, no hugepages, no PCI.
# It quits on SIGTERM; a long stats period keeps it running without a
# terminal. Sets PMD_PID; its output goes to $TEST_DIR/testpmd.log.
_start_testpmd() {
	local q=$1
	(cd "$TEST_DIR" && exec dpdk-testpmd -l 0-1 --no-pci --no-huge -m 512 \
		--file-prefix "vl$$" \
		--vdev "net_vhost0,iface=$TEST_DIR/vh0.sock,queues=$q" \
		--vdev "net_vhost1,iface=$TEST_DIR/vh1.sock,queues=$q" -- \
		--forward-mode=io --rxq="$q" --txq="$q" --total-num-mbufs=4096 \
		--auto-start --stats-period 3600 >"$TEST_DIR/testpmd.log" 2>&1) &
	PMD_PID=$!
	_PIDS+=("$PMD_PID")
	_wait_for 60 _is_socket "$TEST_DIR/vh1.sock" || {
		tail -n 20 "$TEST_DIR/testpmd.log"
		_fail "testpmd did not create its vhost sockets"
	}
}

# _net_ifaces MAC0 MAC1: the interface with MACi becomes vlI in namespace
# vlnetI with address 10.77.0.(I+1)/24, up. Again after a re-probe.
_net_ifaces() {
	local macs=("$@") i dev ns
	for i in 0 1; do
		_wait_for 30 sh -c "ip -br link | grep -q ' ${macs[i]} '" ||
			_fail "no interface with MAC ${macs[i]}"
		dev=$(ip -br link | awk -v m="${macs[i]}" '$3 == m { print $1 }')
		ns=vlnet$i
		ip netns list | grep -qw "$ns" || _run ip netns add "$ns"
		_run ip link set "$dev" netns "$ns"
		_run ip -n "$ns" link set "$dev" name vl$i
		_run ip -n "$ns" addr add "10.77.0.$((i + 1))/24" dev vl$i
		_run ip -n "$ns" link set vl$i up
		_run ip -n "$ns" link set lo up
	done
}

# _net_orderly_end ADAPTER_PID...: an orderly removal stops the back-end's
# rings before the memory goes: testpmd, which polls them, survives it and
# quits cleanly afterwards.
_net_orderly_end() {
	local a
	kill -TERM "$@"
	for a in "$@"; do
		_wait_gone "$a" 60 || _fail "adapter $a did not exit on SIGTERM"
	done
	_vl_none || _fail "devices left after the adapters exited"
	sleep 1
	kill -0 "$PMD_PID" 2>/dev/null || {
		tail -n 5 "$TEST_DIR/testpmd.log"
		_fail "testpmd died when the devices were removed"
	}
	kill -TERM "$PMD_PID"
	_wait_gone "$PMD_PID" 30 || _fail "testpmd did not quit"
	_log "devices removed; testpmd kept running and quit cleanly"
}
