#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: issue 6's small non-block figures, one boot, each next to a
# reference measured in the same boot (ratios are the result; the guest is
# emulated):
#  - virtio-rng through virtio-loopback and our vhost-user-rng: bytes/s
#    read from /dev/hwrng, against /dev/urandom read the same way (the
#    back-end's own source, getrandom(), with no transport at all);
#  - virtio-net through virtio-loopback and DPDK testpmd (io forwarding
#    between two ports): TCP throughput between two namespaces, against
#    the same transfer over a veth pair (the kernel's own path).
# ROUNDS (3) rounds, interleaved; the log ends with "small-bench:" lines.
# Figures: docs/performance.md, "Non-block figures".
#
#   scripts/vm-run --kernel 6.12 --cpus 2 --mem 3G --timeout 1200 -- tests/lab/bench_small.sh
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/net_common.sh"
_prep_test
_have_program dpdk-testpmd
_have_program socat
ROUNDS=${ROUNDS:-3}
RNG_MB=${RNG_MB:-4}
NET_MB=${NET_MB:-100}

# _rate_mbs BYTES NS: MB/s (10^6 bytes per second), three decimals: the
# rng runs at a fraction of a MB/s in the lab.
_rate_mbs() {
	awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.3f", b * 1000 / ns }'
}

# _read_rate DEV: MB/s of reading RNG_MB MiB from DEV.
_read_rate() {
	local t0 t1
	t0=$(date +%s%N)
	dd if="$1" of=/dev/null bs=64k count=$((RNG_MB * 16)) iflag=fullblock status=none ||
		_fail "reading $1"
	t1=$(date +%s%N)
	_rate_mbs $((RNG_MB << 20)) $((t1 - t0))
}

# _tcp_rate NS_FROM NS_TO ADDR: MB/s of NET_MB MiB over TCP, checked.
_tcp_rate() {
	local listener t0 t1 port=5001
	ip netns exec "$2" socat -u TCP-LISTEN:$port,reuseaddr "OPEN:$TEST_DIR/got,creat,trunc" &
	listener=$!
	_wait_for 30 ip netns exec "$2" sh -c "ss -ltn | grep -q ':$port '" || _fail "no listener in $2"
	t0=$(date +%s%N)
	ip netns exec "$1" socat -u "OPEN:$TEST_DIR/big" "TCP:$3:$port" || _fail "sending from $1"
	_wait_gone "$listener" 60 || _fail "receiver in $2 did not finish"
	t1=$(date +%s%N)
	cmp -s "$TEST_DIR/big" "$TEST_DIR/got" || _fail "$1 -> $2: data differs"
	_rate_mbs $((NET_MB << 20)) $((t1 - t0))
}

# rng through virtio-loopback
_start_rng "$TEST_DIR/rng.sock"
_start_adapter vrng --socket "$TEST_DIR/rng.sock" --device rng
ar=$ADAPTER_PID
hw=/sys/class/misc/hw_random
_wait_for 30 grep -q virtio_rng "$hw/rng_available" || _fail "virtio_rng not registered"
tr ' ' '\n' <"$hw/rng_available" | grep -m1 virtio_rng >"$hw/rng_current" ||
	_fail "cannot select virtio_rng"

# net through virtio-loopback and testpmd, and a veth pair as reference
macs=(52:54:00:77:00:01 52:54:00:77:00:02)
_start_testpmd 1
_start_adapter v0 --socket "$TEST_DIR/vh0.sock" --device net --mac "${macs[0]}"
a0=$ADAPTER_PID
_start_adapter v1 --socket "$TEST_DIR/vh1.sock" --device net --mac "${macs[1]}"
a1=$ADAPTER_PID
_net_ifaces "${macs[@]}"
_run ip netns add vethA
_run ip netns add vethB
_run ip link add vA netns vethA type veth peer name vB netns vethB
_run ip -n vethA addr add 10.78.0.1/24 dev vA
_run ip -n vethB addr add 10.78.0.2/24 dev vB
_run ip -n vethA link set vA up
_run ip -n vethB link set vB up
_run ip netns exec vlnet0 ping -c 2 -W 10 10.77.0.2
_run ip netns exec vethA ping -c 2 -W 10 10.78.0.2
_run dd if=/dev/urandom of="$TEST_DIR/big" bs=1M count="$NET_MB" status=none

declare -a rng urnd net veth
for r in $(seq "$ROUNDS"); do
	# Alternate which goes first.
	if [ $((r % 2)) = 1 ]; then
		rng+=("$(_read_rate /dev/hwrng)")
		urnd+=("$(_read_rate /dev/urandom)")
		net+=("$(_tcp_rate vlnet0 vlnet1 10.77.0.2)")
		veth+=("$(_tcp_rate vethA vethB 10.78.0.2)")
	else
		urnd+=("$(_read_rate /dev/urandom)")
		rng+=("$(_read_rate /dev/hwrng)")
		veth+=("$(_tcp_rate vethA vethB 10.78.0.2)")
		net+=("$(_tcp_rate vlnet0 vlnet1 10.77.0.2)")
	fi
	_log "round $r: rng ${rng[-1]} MB/s, urandom ${urnd[-1]} MB/s, net ${net[-1]} MB/s, veth ${veth[-1]} MB/s"
done

# _median VALUES...: the median of decimal numbers.
_median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mr=$(_median "${rng[@]}")
mu=$(_median "${urnd[@]}")
mn=$(_median "${net[@]}")
mv=$(_median "${veth[@]}")
_log "small-bench: rng MB/s median $mr (rounds: ${rng[*]}), /dev/urandom $mu (${urnd[*]}): $(awk -v a="$mr" -v b="$mu" 'BEGIN { printf "%.2f", a / b }')x"
_log "small-bench: net MB/s median $mn (rounds: ${net[*]}), veth $mv (${veth[*]}): $(awk -v a="$mn" -v b="$mv" 'BEGIN { printf "%.2f", a / b }')x"
_mem_log "$vrng"
_mem_log "$v0"
_net_orderly_end "$ar" "$a0" "$a1"
_pass
