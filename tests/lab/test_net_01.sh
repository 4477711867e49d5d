#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-net served by DPDK's testpmd (vhost PMD, two ports
# forwarding to each other in io mode, --no-huge --no-pci): two interfaces
# with the MACs and MTU from the adapter's --mac/--mtu (DPDK has no config
# space), each in its own network namespace; ping both ways; a 100 MiB TCP
# transfer arrives with the same sha256, its throughput logged; bad
# --mac/--mtu values fail clearly.
# Memory modes: isolated zero-copy
# Check runs: 6.1/isolated
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/net_common.sh"
_prep_test
_have_program dpdk-testpmd
_have_program socat

for bad in "--mac 01:00:5e:00:00:01" "--mac 52:54:00:00:00" "--mac zz:54:00:00:00:01" \
	   "--mtu 67" "--mtu 65536" "--tag x"; do
	# shellcheck disable=SC2086 # split into option and value
	if virtio-loopback-adapter --socket /nonexistent --device net $bad 2>"$TEST_DIR/bad.err"; then
		_fail "adapter accepted $bad"
	fi
	[ "$(wc -l <"$TEST_DIR/bad.err")" = 1 ] || _fail "adapter $bad: not one line: $(cat "$TEST_DIR/bad.err")"
	_log "rejected $bad: $(cat "$TEST_DIR/bad.err")"
done
_vl_none || _fail "a rejected adapter left a device"

_start_testpmd 1

macs=(52:54:00:4c:00:01 52:54:00:4c:00:02)
_start_adapter v0 --socket "$TEST_DIR/vh0.sock" --device net --mac "${macs[0]}" --mtu 1400
a0=$ADAPTER_PID
_start_adapter v1 --socket "$TEST_DIR/vh1.sock" --device net --mac "${macs[1]}"
a1=$ADAPTER_PID

# The interface of each MAC, moved to its own namespace with an address.
_net_ifaces "${macs[@]}"
mtu=$(ip -n vlnet0 -o link show vl0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
[ "$mtu" = 1400 ] || _fail "vl0 has MTU $mtu, --mtu said 1400"
_log "vl0 ${macs[0]} MTU $mtu, vl1 ${macs[1]}: in namespaces vlnet0, vlnet1"

_run ip netns exec vlnet0 ping -c 3 -W 10 10.77.0.2
_run ip netns exec vlnet1 ping -c 3 -W 10 10.77.0.1
_log "ping works both ways"

head -c $((100 << 20)) /dev/urandom >"$TEST_DIR/big"
want=$(sha256sum <"$TEST_DIR/big")
ip netns exec vlnet1 socat -u TCP-LISTEN:5001,reuseaddr "OPEN:$TEST_DIR/recv,creat,trunc" &
listener=$!
_PIDS+=("$listener")
_wait_for 30 ip netns exec vlnet1 sh -c "ss -ltn | grep -q ':5001 '" || _fail "no listener"
start=$(date +%s%N)
_run ip netns exec vlnet0 socat -u "OPEN:$TEST_DIR/big" TCP:10.77.0.2:5001
_wait_gone "$listener" 60 || _fail "receiver did not finish"
end=$(date +%s%N)
[ "$(sha256sum <"$TEST_DIR/recv")" = "$want" ] || _fail "100 MiB arrived with a different sha256"
ms=$(((end - start) / 1000000))
_log "100 MiB over TCP vl0 -> vl1 intact in ${ms} ms: $((100 * 1000 / (ms > 0 ? ms : 1))) MiB/s (emulated guest)"
# Packet buffers are page fragments and slab: bounced in both modes.
_mem_log "$v0"
_mem_log "$v1"

_net_orderly_end "$a0" "$a1"
_pass
