#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-i2c served by our vhost-user-i2c, forwarding to the
# kernel's i2c-stub (two chips, 0x1c and 0x50) through i2c-dev, driven by
# the upstream i2c-virtio driver and i2c-tools. A back-end allowing both
# chips: i2cdetect on the new adapter shows exactly 0x1c and 0x50; byte
# and word data written with i2cset on either side read back with i2cget
# on the other; i2ctransfer write+read (word and I2C block) and a 3-byte
# write give the stub's bytes. A back-end allowing 0x1c only: i2cdetect
# shows 0x1c alone; reads and writes to 0x50 and a combined message that
# the SMBus stub cannot carry fail cleanly and leave the stub's registers
# as they were. A back-end forwarding with I2C_RDWR to the first virtio
# adapter (an adapter with I2C_FUNC_I2C): the same round trips through
# two virtio-i2c hops. A missing adapter and bad --address values give
# one error line and a non-zero status.
# Memory modes: isolated zero-copy
# Check runs: 6.12/isolated
# Lab timeout: 400
. "$(dirname "$0")/common.sh"
_prep_test
_have_program vhost-user-i2c
_have_program i2cdetect
_have_program i2ctransfer
_run modprobe i2c-dev
_run modprobe i2c-stub chip_addr=0x1c,0x50
_load_test_driver i2c-virtio

# bus_named NAME: the number of the i2c bus called NAME.
bus_named() {
	local d
	for d in /sys/bus/i2c/devices/i2c-*; do
		[ "$(cat "$d/name")" = "$1" ] && { echo "${d##*-}"; return 0; }
	done
	return 1
}
stub=$(bus_named "SMBus stub driver") || _fail "i2c-stub registered no adapter"
# virtio_bus VIRTIO_NAME: the bus i2c-virtio made for that device.
virtio_bus() { bus_named "i2c_virtio at virtio bus ${1#virtio}"; }
has_virtio_bus() { virtio_bus "$1" >/dev/null; }
# refused WHAT BUS I2CTRANSFER_ARGS...: i2ctransfer fails or carries no
# message (it exits 0 with "only 0/N messages were sent" when the adapter
# carried none: the whole group must fail, not a prefix of it).
refused() {
	local what=$1 bus=$2 err
	shift 2
	if err=$(i2ctransfer -y "$bus" "$@" 2>&1 >/dev/null); then
		case $err in
		*"only 0/"*) ;;
		*) _fail "$what: i2ctransfer carried it ($err)" ;;
		esac
	fi
	return 0
}
# present BUS: the addresses i2cdetect finds on BUS, one line.
present() {
	i2cdetect -y "$1" | awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "--") printf "%s ", $i }'
}

# Bad command lines: one error line, non-zero status, nothing left behind.
_backend_refuses vhost-user-i2c /dev/i2c-99 --adapter /dev/i2c-99 --address 0x1c
_backend_refuses vhost-user-i2c /dev/null --adapter /dev/null --address 0x1c
_backend_refuses vhost-user-i2c "--address" --adapter "/dev/i2c-$stub" --address 0x80
_backend_refuses vhost-user-i2c "--address" --adapter "/dev/i2c-$stub" --address 0x1c,
_backend_refuses vhost-user-i2c "--address" --adapter "/dev/i2c-$stub" --address zz
_backend_refuses vhost-user-i2c "--address" --adapter "/dev/i2c-$stub"
_backend_refuses vhost-user-i2c "--adapter" --address 0x1c

# Known contents on the stub: 0x1c word registers, 0x50 bytes 0..3.
_run i2cset -y "$stub" 0x1c 0x10 0x1234 w
_run i2cset -y "$stub" 0x1c 0x11 0x0056 w
for r in 0 1 2 3; do _run i2cset -y "$stub" 0x50 $r $((0xa0 + r)) b; done

start_be() {	# start_be NAME ADAPTER_BUS ADDRESSES
	vhost-user-i2c --socket-path "$TEST_DIR/$1.sock" --adapter "/dev/i2c-$2" \
		--address "$3" 2>"$TEST_DIR/$1.log" &
	_PIDS+=($!)
	_wait_for 30 _is_socket "$TEST_DIR/$1.sock" || _fail "vhost-user-i2c $1 did not create its socket"
}
expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || _fail "$1: got '$2', expected '$3'"
}

# 1. Both chips allowed, SMBus translation onto i2c-stub.
start_be both "$stub" 0x1c,0x50
_start_adapter vboth --socket "$TEST_DIR/both.sock" --device i2c
_wait_for 30 has_virtio_bus "$vboth" || _fail "i2c-virtio made no adapter for $vboth"
v=$(virtio_bus "$vboth")
_log "$vboth is i2c-$v (stub i2c-$stub); $(head -n 1 "$TEST_DIR/both.log")"
expect "i2cdetect on i2c-$v" "$(present "$v")" "1c 50 "
expect "word read through virtio" "$(i2cget -y "$v" 0x1c 0x10 w)" 0x1234
expect "byte read through virtio" "$(i2cget -y "$v" 0x50 0x02 b)" 0xa2
_run i2cset -y "$v" 0x1c 0x20 0x5a b
expect "byte written through virtio, read on the stub" "$(i2cget -y "$stub" 0x1c 0x20 b)" 0x5a
_run i2cset -y "$v" 0x1c 0x21 0xbeef w
expect "word written through virtio, read on the stub" "$(i2cget -y "$stub" 0x1c 0x21 w)" 0xbeef
_run i2cset -y "$stub" 0x50 0x07 0x3c b
expect "byte written on the stub, read through virtio" "$(i2cget -y "$v" 0x50 0x07 b)" 0x3c
expect "i2ctransfer w1 r2" "$(i2ctransfer -y "$v" w1@0x1c 0x10 r2)" "0x34 0x12"
expect "i2ctransfer w1 r4 (I2C block)" "$(i2ctransfer -y "$v" w1@0x50 0x00 r4)" "0xa0 0xa1 0xa2 0xa3"
_run i2ctransfer -y "$v" w3@0x1c 0x30 0xaa 0xbb
expect "i2ctransfer w3, read on the stub" "$(i2cget -y "$stub" 0x1c 0x30 w)" 0xbbaa
_log "i2c-$v: detect, byte/word data both ways, write+read and block transfers, t=${SECONDS} s"

# 2. Only 0x1c allowed: 0x50 unreachable, nothing reaches the stub.
start_be one "$stub" 0x1c
_start_adapter vone --socket "$TEST_DIR/one.sock" --device i2c
_wait_for 30 has_virtio_bus "$vone" || _fail "i2c-virtio made no adapter for $vone"
o=$(virtio_bus "$vone")
expect "i2cdetect on i2c-$o (0x1c allowed)" "$(present "$o")" "1c "
before=$(i2cdump -y "$stub" 0x50 b; i2cdump -y "$stub" 0x1c w)
i2cget -y "$o" 0x50 0x00 b 2>/dev/null && _fail "read from 0x50 (not allowed) succeeded"
i2cset -y "$o" 0x50 0x00 0x77 b 2>/dev/null && _fail "write to 0x50 (not allowed) succeeded"
refused "i2ctransfer to 0x50 (not allowed)" "$o" w2@0x50 0x01 0x66
refused "a group with one request to 0x50 (not allowed)" "$o" w2@0x1c 0x10 0x99 w2@0x50 0x01 0x66
# Two writes are not one SMBus transaction: refused, not split.
refused "two writes in one transfer on a SMBus-only adapter" "$o" w2@0x1c 0x10 0x99 w2@0x1c 0x11 0x98
after=$(i2cdump -y "$stub" 0x50 b; i2cdump -y "$stub" 0x1c w)
[ "$before" = "$after" ] || _fail "the stub's registers changed after failed requests"
expect "word read on i2c-$o after the failures" "$(i2cget -y "$o" 0x1c 0x10 w)" 0x1234
_log "i2c-$o: 0x50 unreachable, stub unchanged by 5 failed transfers, t=${SECONDS} s"

# 3. I2C_RDWR: a back-end forwarding to the virtio adapter of step 1.
# The write+read only arrives if the group stays one I2C_RDWR: split, its
# read of 2 bytes alone is no SMBus transaction and step 1's back-end
# would fail it.
start_be rdwr "$v" 0x1c
grep -q "I2C_RDWR" "$TEST_DIR/rdwr.log" || _fail "no I2C_RDWR forwarding to i2c-$v: $(cat "$TEST_DIR/rdwr.log")"
_start_adapter vrdwr --socket "$TEST_DIR/rdwr.sock" --device i2c
_wait_for 30 has_virtio_bus "$vrdwr" || _fail "i2c-virtio made no adapter for $vrdwr"
w=$(virtio_bus "$vrdwr")
expect "i2cdetect on i2c-$w (over i2c-$v)" "$(present "$w")" "1c "
expect "i2ctransfer w1 r2 over two hops" "$(i2ctransfer -y "$w" w1@0x1c 0x10 r2)" "0x34 0x12"
_run i2cset -y "$w" 0x1c 0x40 0x99 b
expect "byte written over two hops, read on the stub" "$(i2cget -y "$stub" 0x1c 0x40 b)" 0x99
i2cget -y "$w" 0x50 0x00 b 2>/dev/null && _fail "read from 0x50 over two hops (not allowed) succeeded"
refused "a group with 0x50 over two hops" "$w" w1@0x1c 0x10 r1@0x50
_log "i2c-$w over i2c-$v: detect, write+read, write, a refused address, t=${SECONDS} s"
_pass
