#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-net multiqueue through DPDK's testpmd (vhost PMD
# queues=2, two queues per port, io forwarding). The adapter, run with
# --queues 2, offers VIRTIO_NET_F_MQ and CTRL_VQ and serves the control
# queue itself, as a VMM does; testpmd gets the data queues only. Checked:
# ethtool -l shows 2 combined channels; ping from each CPU and two TCP
# streams (pinned to CPU 0 and 1, sha256 each, throughput logged) work
# and both queue pairs carry packets (ethtool -S per-queue counters); the
# driver's requests went through the control queue (its sysfs kicks) and
# reached testpmd as SET_VRING_ENABLE, never with the control queue's
# index; `ethtool -L combined 1` disables pair 1 in testpmd and traffic
# stays on pair 0 (throughput logged again), `combined 2` brings it back,
# `combined 99` fails cleanly; the driver re-probed (virtio_net reloaded)
# gets both pairs again; --queues the back-end cannot serve is refused
# in one line.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/net_common.sh"
_prep_test
_have_program dpdk-testpmd
_have_program socat
_have_program ethtool
_have_program taskset

# --queues the back-end cannot serve: refused in one line each.
_start_rng "$TEST_DIR/rng.sock"
virtio-loopback-adapter --socket "$TEST_DIR/rng.sock" --device net --queues 2 \
	2>"$TEST_DIR/bad.err" && _fail "adapter accepted --queues 2 from a back-end without VIRTIO_NET_F_MQ"
[ "$(wc -l <"$TEST_DIR/bad.err")" = 1 ] || _fail "no MQ: not one line: $(cat "$TEST_DIR/bad.err")"
grep -q 'VIRTIO_NET_F_MQ' "$TEST_DIR/bad.err" || _fail "no MQ: $(cat "$TEST_DIR/bad.err")"
_log "refused: $(cat "$TEST_DIR/bad.err")"

# Two queue pairs per port.
_start_testpmd 2

# DPDK answers GET_QUEUE_NUM with 128 (pairs); 31 is the most a device
# with 64 queues holds.
virtio-loopback-adapter --socket "$TEST_DIR/vh0.sock" --device net --queues 32 \
	2>"$TEST_DIR/bad.err" && _fail "adapter accepted --queues 32"
[ "$(wc -l <"$TEST_DIR/bad.err")" = 1 ] || _fail "--queues 32: not one line: $(cat "$TEST_DIR/bad.err")"
_log "refused: $(cat "$TEST_DIR/bad.err")"
_vl_none || _fail "a refused adapter left a device"

macs=(52:54:00:4d:00:01 52:54:00:4d:00:02)
_start_adapter v0 --socket "$TEST_DIR/vh0.sock" --device net --queues 2 --mac "${macs[0]}"
a0=$ADAPTER_PID
_start_adapter v1 --socket "$TEST_DIR/vh1.sock" --device net --queues 2 --mac "${macs[1]}"
a1=$ADAPTER_PID

# channels I: "maximum current" combined channels of vlI.
channels() {
	ip netns exec "vlnet$1" ethtool -l "vl$1" | awk '/^Combined:/ { printf "%s ", $2 }'
}

# ints I Q: interrupts of queue Q of vlI's device (sysfs of virtio-loopback:
# 6.12's ethtool -S has no per-queue packet counts). testpmd signals a
# receive queue when it delivers packets, a transmit queue when it took
# them; a queue it does not serve gets none.
ints() {
	local v
	v=$([ "$1" = 0 ] && echo "$v0" || echo "$v1")
	cat "$(_vl_sysfs "$v")/queues/$2/interrupts"
}

# Ping both ways from each CPU: with 2 pairs XPS sends from CPU n on
# transmit queue n.
ping_cpus() {
	local cpu
	for cpu in 0 1; do
		_run taskset -c $cpu ip netns exec vlnet0 ping -c 3 -i 0.2 -W 10 10.77.0.2
		_run taskset -c $cpu ip netns exec vlnet1 ping -c 3 -i 0.2 -W 10 10.77.0.1
	done
}

# tcp_streams LABEL: two 50 MiB TCP streams vl0 -> vl1 at once; both
# arrive intact. Not pinned: testpmd busy-polls CPU 1.
tcp_streams() {
	local n start end ms pids=()
	for n in 0 1; do
		ip netns exec vlnet1 socat -u TCP-LISTEN:$((5001 + n)),reuseaddr \
			"OPEN:$TEST_DIR/recv$n,creat,trunc" &
		pids+=($!)
		_PIDS+=($!)
	done
	for n in 0 1; do
		_wait_for 30 ip netns exec vlnet1 sh -c "ss -ltn | grep -q ':$((5001 + n)) '" ||
			_fail "no listener on port $((5001 + n))"
	done
	start=$(date +%s%N)
	for n in 0 1; do
		ip netns exec vlnet0 socat -u "OPEN:$TEST_DIR/big$n" \
			TCP:10.77.0.2:$((5001 + n)) &
		pids+=($!)
	done
	for n in 0 1 2 3; do
		_wait_gone "${pids[n]}" 120 || _fail "$1: TCP stream did not finish"
	done
	end=$(date +%s%N)
	for n in 0 1; do
		[ "$(sha256sum <"$TEST_DIR/recv$n")" = "${want[n]}" ] ||
			_fail "$1: stream $n arrived with a different sha256"
	done
	ms=$(((end - start) / 1000000))
	_log "$1: 2 x 50 MiB over TCP vl0 -> vl1 intact in ${ms} ms: $((100 * 1000 / (ms > 0 ? ms : 1))) MiB/s (emulated guest)"
}

# enables IDX VALUE: SET_VRING_ENABLE lines testpmd logged for a queue.
enables() {
	grep -c "set queue enable: $2 to qp idx: $1\$" "$TEST_DIR/testpmd.log"
}

_net_ifaces "${macs[@]}"
for i in 0 1; do
	[ "$(channels $i)" = "2 2 " ] || _fail "vl$i: combined channels (max, current) $(channels $i), expected 2 2"
done
_log "vl0, vl1: 2 combined channels each (ethtool -l)"

ping_cpus
_log "ping works both ways from both CPUs"
want=()
for n in 0 1; do
	head -c $((50 << 20)) /dev/urandom >"$TEST_DIR/big$n"
	want+=("$(sha256sum <"$TEST_DIR/big$n")")
done
tcp_streams "2 queue pairs"

# Both pairs carried packets, both ways (receive queue 2n, transmit 2n+1).
for i in 0 1; do
	for q in 0 1 2 3; do
		[ "$(ints $i $q)" -gt 0 ] || _fail "vl$i queue $q: no interrupt, no packets"
	done
	_log "vl$i: $(ip netns exec vlnet$i ethtool -S vl$i | grep -E '^ *(rx|tx)(_queue_)?[01]_(packets|kicks):' | tr -s ' ' | tr '\n' ' ')"
done

# The driver asked for 2 pairs through our control queue (queue 4); it
# reached testpmd as SET_VRING_ENABLE 1 of queues 2 and 3, and testpmd
# never heard of queue 4.
for v in "$v0" "$v1"; do
	d=$(_vl_sysfs "$v")
	_log "$v queues (kicks/interrupts): $(for q in 0 1 2 3 4; do printf '%s:%s/%s ' $q "$(cat "$d/queues/$q/kicks")" "$(cat "$d/queues/$q/interrupts")"; done)"
	[ "$(cat "$d/queues/4/kicks")" -gt 0 ] || _fail "$v: the control queue was never kicked"
done
{ [ "$(enables 2 1)" -ge 2 ] && [ "$(enables 3 1)" -ge 2 ]; } ||
	_fail "testpmd did not see pair 1 of both ports enabled: $(grep 'set queue enable' "$TEST_DIR/testpmd.log" | tr '\n' ';')"
if grep -E "idx: ?4\b|idx:4\b" "$TEST_DIR/testpmd.log"; then
	_fail "testpmd was told about queue 4, the control queue"
fi
_log "control queue served by the adapter; testpmd enabled pair 1 and never saw queue 4"

# One pair: the request goes through our control queue, testpmd disables
# pair 1, traffic stays on pair 0.
ctrl_kicks() { cat "$(_vl_sysfs "$v0")/queues/4/kicks"; }
k=$(ctrl_kicks)
for i in 0 1; do
	_run ip netns exec vlnet$i ethtool -L vl$i combined 1
	[ "$(channels $i)" = "2 1 " ] || _fail "vl$i after combined 1: channels $(channels $i)"
done
[ "$(ctrl_kicks)" -gt "$k" ] || _fail "ethtool -L did not reach the control queue (kicks $k -> $(ctrl_kicks))"
_wait_for 10 sh -c "[ \"\$(grep -c 'set queue enable: 0 to qp idx: 3\$' '$TEST_DIR/testpmd.log')\" -ge 2 ]" ||
	_fail "testpmd did not see pair 1 disabled: $(grep 'set queue enable' "$TEST_DIR/testpmd.log" | tr '\n' ';')"
before="$(ints 0 2) $(ints 0 3) $(ints 1 2) $(ints 1 3)"
ping_cpus
tcp_streams "1 queue pair"
after="$(ints 0 2) $(ints 0 3) $(ints 1 2) $(ints 1 3)"
[ "$after" = "$before" ] || _fail "pair 1 carried packets after combined 1 (interrupts $before -> $after)"
_log "combined 1: pair 1 disabled in testpmd, traffic on pair 0 only"

# Back to two; then a count the device does not have fails cleanly.
for i in 0 1; do
	_run ip netns exec vlnet$i ethtool -L vl$i combined 2
	[ "$(channels $i)" = "2 2 " ] || _fail "vl$i after combined 2: channels $(channels $i)"
done
[ "$(enables 3 1)" -ge 4 ] || _fail "testpmd did not see pair 1 enabled again"
ping_cpus
tcp_streams "2 queue pairs again"
if ip netns exec vlnet0 ethtool -L vl0 combined 99 2>"$TEST_DIR/l99.err"; then
	_fail "ethtool -L combined 99 succeeded"
fi
[ "$(channels 0)" = "2 2 " ] || _fail "vl0 after combined 99: channels $(channels 0)"
_log "combined 2 again works; combined 99 refused: $(head -n 1 "$TEST_DIR/l99.err")"

# The driver goes and comes back: the adapter restarts the back-end and
# its control queue; the driver asks for both pairs again.
_run modprobe -r virtio_net
_run modprobe virtio_net
_net_ifaces "${macs[@]}"
for i in 0 1; do
	[ "$(channels $i)" = "2 2 " ] || _fail "vl$i after re-probe: channels $(channels $i)"
done
before="$(ints 0 3) $(ints 1 3)"
ping_cpus
after="$(ints 0 3) $(ints 1 3)"
for i in 0 1; do
	[ "$(echo "$after" | cut -d' ' -f$((i + 1)))" -gt "$(echo "$before" | cut -d' ' -f$((i + 1)))" ] ||
		_fail "vl$i sent nothing on queue 1 after re-probe (interrupts $before -> $after)"
done
_log "virtio_net re-probed: 2 pairs, ping from both CPUs on both queues"
_mem_log "$v0"
_mem_log "$v1"

_net_orderly_end "$a0" "$a1"
_pass
