#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check runs: 6.1
# Description: --verbose decodes the vhost-user conversation. The adapter
# in front of qemu-storage-daemon (vhost-user-blk) and of our
# vhost-user-rng logs every message on stderr, in order: GET_FEATURES,
# the protocol features, SET_FEATURES, SET_MEM_TABLE with one line per
# region, SET_VRING_NUM/BASE/ADDR/KICK/CALL for every queue the driver
# set up, each with its values; feature words by name, matching what the
# driver negotiated (sysfs) bit for bit, names checked against the spec's
# numbers written out here; replies with their values. vhost-user-rng
# --verbose logs the same messages, decoded alike, from the other side.
# Without --verbose neither prints any of it.
# Lab timeout: 450
. "$(dirname "$0")/common.sh"
_prep_test

# Spec numbers (virtio 1.3 section 6 and 5.2.3; vhost-user.rst), written
# out here rather than taken from lib/vlb_names.c, which is under test.
# (Read through a nameref in _check_names, which shellcheck cannot see.)
# shellcheck disable=SC2034
declare -A FEATURE_NAMES=(
	[1]=SIZE_MAX [2]=SEG_MAX [4]=GEOMETRY [5]=RO [6]=BLK_SIZE [9]=FLUSH
	[10]=TOPOLOGY [11]=CONFIG_WCE [12]=MQ [13]=DISCARD [14]=WRITE_ZEROES
	[28]=RING_INDIRECT_DESC [29]=RING_EVENT_IDX [30]=PROTOCOL_FEATURES
	[32]=VERSION_1 [33]=ACCESS_PLATFORM [34]=RING_PACKED [35]=IN_ORDER
)
# shellcheck disable=SC2034
declare -A PROTOCOL_NAMES=(
	[0]=MQ [1]=LOG_SHMFD [3]=REPLY_ACK [5]=BACKEND_REQ [9]=CONFIG
	[12]=INFLIGHT_SHMFD [13]=RESET_DEVICE [15]=CONFIGURE_MEM_SLOTS [16]=STATUS
)

# _msgs LOG SOCK: the decoded message lines of one connection, prefix removed.
_msgs() { sed -n "s|^[^:]*: debug: $2: \([-<][->] \)|\1|p" "$1"; }

# _in_order FILE PATTERN...: each extended regex matches a line of FILE,
# each on a line after the previous one's.
_in_order() {
	local f=$1
	shift
	awk -v pats="$(printf '%s\n' "$@")" '
		BEGIN { n = split(pats, p, "\n"); i = 1 }
		i <= n && $0 ~ p[i] { i++ }
		END { if (i <= n) { print p[i]; exit 1 } }' "$f"
}

# _word_of LINE KEY: the hex number after "KEY 0x" and its name list.
_hex_of() { sed -n "s/.*$2 0x\([0-9a-f]*\) (\([^)]*\)).*/\1/p" <<<"$1"; }
_names_of() { sed -n "s/.*$2 0x[0-9a-f]* (\([^)]*\)).*/\1/p" <<<"$1"; }

# _check_names WHAT HEX NAMES MAPNAME: every bit of MAPNAME set in HEX is
# named in NAMES (comma-separated), every one clear is not, and NAMES has
# one entry per set bit.
_check_names() {
	local what=$1 hex=$2 names=",$3," map=$4 bit n=0 v
	local -n m=$map
	v=$((16#$hex))
	for bit in "${!m[@]}"; do
		if (((v >> bit) & 1)); then
			[[ $names == *",${m[$bit]},"* ]] || _fail "$what 0x$hex: bit $bit is not named ${m[$bit]} in ($3)"
		else
			[[ $names != *",${m[$bit]},"* ]] || _fail "$what 0x$hex: ${m[$bit]} named but bit $bit is clear"
		fi
	done
	for bit in $(seq 0 63); do (((v >> bit) & 1)) && n=$((n + 1)); done
	[ "$(tr ',' '\n' <<<"$3" | grep -c .)" = "$n" ] || _fail "$what 0x$hex: $n bits but names ($3)"
}

# _sysfs_features VIRTIO_NAME: the driver's negotiated features as hex.
_sysfs_features() {
	local s v=0 i
	s=$(cat "/sys/bus/virtio/devices/$1/features")
	for ((i = 0; i < ${#s}; i++)); do
		[ "${s:i:1}" = 1 ] && v=$((v | (1 << i)))
	done
	printf '%x' "$v"
}

# _check_conversation LOG SOCK VIRTIO_NAME: the adapter's side of one device.
_check_conversation() {
	local log=$1 sock=$2 vdev=$3 m=$TEST_DIR/msgs.$RANDOM line offered acked
	local driver want proto_set vl q qsize pats=() nreg i mem_size
	_msgs "$log" "$sock" >"$m"
	[ -s "$m" ] || _fail "$sock: no decoded message in $log"
	_log "$sock: $(wc -l <"$m") lines, e.g.: $(grep -m1 '^-> SET_FEATURES' "$m")"

	# The handshake and the start, in the order the adapter sends them.
	pats=('^-> GET_FEATURES flags 0x1 size 0 fds 0$'
	      '^<- GET_FEATURES flags 0x5 \(reply\) size 8 fds 0: features 0x'
	      '^-> GET_PROTOCOL_FEATURES '
	      '^<- GET_PROTOCOL_FEATURES .*\(reply\).*protocol features 0x'
	      '^-> SET_PROTOCOL_FEATURES .*protocol features 0x'
	      '^-> SET_OWNER '
	      '^-> SET_FEATURES .*features 0x'
	      '^-> SET_MEM_TABLE flags 0x[0-9a-f]+ .*size [0-9]+ fds [1-9]: nregions [1-9]'
	      '^-> SET_MEM_TABLE region 0: gpa 0x[0-9a-f]+ size 0x[0-9a-f]+ uaddr 0x[0-9a-f]+ mmap_offset 0x[0-9a-f]+$')
	vl=$(_vl_sysfs "$vdev")
	for q in $(ls "$vl/queues" | sort -n); do
		qsize=$(cat "$vl/queues/$q/size")
		[ "$qsize" -gt 0 ] || continue
		pats+=("^-> SET_VRING_NUM .*: vring $q num $qsize\$"
		       "^-> SET_VRING_BASE .*: vring $q base 0\$"
		       "^-> SET_VRING_ADDR .*: vring $q flags 0x0 desc 0x[0-9a-f]+ used 0x[0-9a-f]+ avail 0x[0-9a-f]+ log 0x0\$"
		       "^-> SET_VRING_CALL .* fds 1: vring $q\$"
		       "^-> SET_VRING_KICK .* fds 1: vring $q\$")
	done
	line=$(_in_order "$m" "${pats[@]}") || _fail "$sock: no line matching '$line' in order; the log:"$'\n'"$(sed 's/^/    /' "$m")"

	# Offered, acknowledged, and what the driver has: the same bits.
	line=$(grep -m1 '^<- GET_FEATURES' "$m")
	offered=$(_hex_of "$line" features)
	_check_names "GET_FEATURES" "$offered" "$(_names_of "$line" features)" FEATURE_NAMES
	line=$(grep -m1 '^-> SET_FEATURES' "$m")
	acked=$(_hex_of "$line" features)
	_check_names "SET_FEATURES" "$acked" "$(_names_of "$line" features)" FEATURE_NAMES
	driver=$(_sysfs_features "$vdev")
	# The back-end gets what the driver took of what it offered, plus the
	# vhost-user bit PROTOCOL_FEATURES, which never reaches a driver.
	want=$(printf '%x' $(((16#$driver & 16#$offered) | (16#$offered & (1 << 30)))))
	[ "$acked" = "$want" ] || _fail "$sock: SET_FEATURES 0x$acked, but the driver has 0x$driver of the offered 0x$offered (want 0x$want)"
	_log "$sock: driver features 0x$driver (sysfs), SET_FEATURES 0x$acked ($(_names_of "$line" features))"

	line=$(grep -m1 '^-> SET_PROTOCOL_FEATURES' "$m")
	proto_set=$(_hex_of "$line" "protocol features")
	_check_names "SET_PROTOCOL_FEATURES" "$proto_set" "$(_names_of "$line" "protocol features")" PROTOCOL_NAMES
	line=$(grep -m1 '^<- GET_PROTOCOL_FEATURES' "$m")
	_check_names "GET_PROTOCOL_FEATURES" "$(_hex_of "$line" "protocol features")" \
		"$(_names_of "$line" "protocol features")" PROTOCOL_NAMES

	# REPLY_ACK negotiated: requests ask for an ack, and the acks are decoded.
	if (((16#$proto_set >> 3) & 1)); then
		grep -q '^-> SET_FEATURES flags 0x9 (need-reply) ' "$m" || _fail "$sock: SET_FEATURES without need-reply under REPLY_ACK"
		grep -q '^<- SET_MEM_TABLE flags 0x5 (reply) size 8 fds 0: ack 0 (ok)$' "$m" ||
			_fail "$sock: no decoded ack of SET_MEM_TABLE"
	fi
	# MQ negotiated: the queue count asked for and answered.
	if (((16#$proto_set >> 0) & 1)); then
		grep -Eq '^<- GET_QUEUE_NUM flags 0x5 \(reply\) size 8 fds 0: queues [1-9][0-9]*$' "$m" ||
			_fail "$sock: no decoded GET_QUEUE_NUM reply under MQ"
	fi
	# CONFIG negotiated: the config space read, its window and bytes.
	if (((16#$proto_set >> 9) & 1)); then
		grep -Eq '^<- GET_CONFIG flags 0x5 \(reply\) size [0-9]+ fds 0: offset 0 size [1-9][0-9]* flags 0x0 data( [0-9a-f]{2})+' "$m" ||
			_fail "$sock: no decoded GET_CONFIG reply"
	fi
	# Every region SET_MEM_TABLE announces has its line; the memory is the device's.
	line=$(grep -m1 '^-> SET_MEM_TABLE flags' "$m")
	nreg=${line##*nregions }
	[ "$(grep -c '^-> SET_MEM_TABLE region ' "$m")" -ge "$nreg" ] || _fail "$sock: $nreg regions announced, fewer lines"
	for ((i = 0; i < nreg; i++)); do
		grep -q "^-> SET_MEM_TABLE region $i: " "$m" || _fail "$sock: no line for region $i"
	done
	mem_size=$(printf '0x%x' "$(cat "$vl/mem_size")")
	grep -q "^-> SET_MEM_TABLE region 0: gpa 0x0 size $mem_size " "$m" ||
		_fail "$sock: region 0 is not the device's $mem_size bytes: $(grep -m1 'region 0' "$m")"
}

# blk: qemu-storage-daemon, a real third-party back-end.
truncate -s 64M "$TEST_DIR/disk.img"
_start_qsd "$TEST_DIR/blk.sock" raw "$TEST_DIR/disk.img"
_start_adapter vblk --socket "$TEST_DIR/blk.sock" --device blk --verbose
blk_err=$ADAPTER_ERR
_check_conversation "$blk_err" "$TEST_DIR/blk.sock" "$vblk"

# rng: our back-end, verbose too; both sides decode the same messages.
vhost-user-rng --socket-path "$TEST_DIR/rng.sock" --verbose >"$TEST_DIR/rng.log" 2>&1 &
_PIDS+=($!)
_wait_for 30 _is_socket "$TEST_DIR/rng.sock" || _fail "vhost-user-rng did not create its socket"
_start_adapter vrng --socket "$TEST_DIR/rng.sock" --device rng -v
rng_err=$ADAPTER_ERR
_check_conversation "$rng_err" "$TEST_DIR/rng.sock" "$vrng"
_msgs "$rng_err" "$TEST_DIR/rng.sock" >"$TEST_DIR/rng.fe"
_msgs "$TEST_DIR/rng.log" "$TEST_DIR/rng.sock" >"$TEST_DIR/rng.be"
for r in SET_FEATURES SET_PROTOCOL_FEATURES SET_MEM_TABLE SET_VRING_NUM SET_VRING_ADDR SET_VRING_KICK; do
	a=$(grep -m1 "^-> $r " "$TEST_DIR/rng.fe") || _fail "adapter sent no $r"
	b=$(grep -m1 "^<- $r " "$TEST_DIR/rng.be") || _fail "vhost-user-rng --verbose logged no $r; its log:"$'\n'"$(sed 's/^/    /' "$TEST_DIR/rng.log")"
	[ "${a#-> }" = "${b#<- }" ] || _fail "$r decoded differently: adapter '${a#-> }', back-end '${b#<- }'"
done
b=$(grep -m1 '^-> GET_FEATURES ' "$TEST_DIR/rng.be") || _fail "vhost-user-rng logged no GET_FEATURES reply"
a=$(grep -m1 '^<- GET_FEATURES ' "$TEST_DIR/rng.fe")
[ "${a#<- }" = "${b#-> }" ] || _fail "GET_FEATURES reply decoded differently: '${a#<- }' and '${b#-> }'"
grep -q '^<- SET_MEM_TABLE region 0: gpa 0x0 ' "$TEST_DIR/rng.be" || _fail "vhost-user-rng logged no region line"
_log "vhost-user-rng: $(wc -l <"$TEST_DIR/rng.be") lines, e.g.: $(grep -m1 '^<- SET_VRING_ADDR' "$TEST_DIR/rng.be")"

# Without --verbose: not one of those lines, from either program.
vhost-user-rng --socket-path "$TEST_DIR/quiet.sock" >"$TEST_DIR/quiet-rng.log" 2>&1 &
_PIDS+=($!)
_wait_for 30 _is_socket "$TEST_DIR/quiet.sock" || _fail "vhost-user-rng did not create its socket"
_start_adapter vquiet --socket "$TEST_DIR/quiet.sock" --device rng
grep -E 'debug:|GET_FEATURES|SET_MEM_TABLE|SET_VRING' "$ADAPTER_ERR" "$TEST_DIR/quiet-rng.log" &&
	_fail "messages logged without --verbose"
_log "without --verbose: adapter stderr $(wc -c <"$ADAPTER_ERR") bytes, back-end $(wc -l <"$TEST_DIR/quiet-rng.log") lines"
_pass
