#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-gpio served by our vhost-user-gpio, forwarding a
# gpio-sim chip (8 named lines, line 7 hogged as output-high by the
# kernel), driven by the upstream gpio-virtio driver and libgpiod's tools
# on the new virtio gpiochip: gpiodetect and gpioinfo show its 8 lines
# with the sim's names and directions (line 7 output); gpioset on a
# virtio line drives the sim line (its sysfs value; the host sees
# vhost-user-gpio holding it as an output), also against the pull;
# the sim's pull-up/pull-down is what gpioget reads; gpiomon sees
# rising and falling edges in order and in number when the sim's pull is
# toggled, and only falling ones when it asks for those; --lines beyond
# the chip, a bad list and a missing chip are refused with one line and
# a non-zero status; restarted with --lines 5,3 the back-end shows those
# two lines in that order; a front-end that goes away while the driver
# holds a line leaves the host line released (6.12: see the end).
# Memory modes: isolated zero-copy
# Check runs: 6.1/zero-copy
# Lab timeout: 400
. "$(dirname "$0")/common.sh"
_prep_test
for p in gpiodetect gpioinfo gpioget gpioset gpiomon stdbuf; do
	_have_program "$p"
done

CFG=/sys/kernel/config
SIM=$CFG/gpio-sim/vl-$TEST_NAME
_load_test_driver gpio-sim gpio-virtio
mountpoint -q "$CFG" || _run mount -t configfs none "$CFG"

# The sim chip: lines vl-sim-0 .. vl-sim-7, line 7 an output-high hog.
sim_cleanup() {
	_cleanup_test
	[ -d "$SIM" ] || return 0
	echo 0 >"$SIM/live" 2>/dev/null
	rmdir "$SIM"/gpio-bank0/line7/hog "$SIM"/gpio-bank0/line* "$SIM"/gpio-bank0 "$SIM" 2>/dev/null
	return 0
}
trap sim_cleanup EXIT
mkdir -p "$SIM/gpio-bank0" || _fail "gpio-sim configfs: cannot create $SIM"
echo 8 >"$SIM/gpio-bank0/num_lines"
for i in 0 1 2 3 4 5 6 7; do
	mkdir "$SIM/gpio-bank0/line$i"
	echo "vl-sim-$i" >"$SIM/gpio-bank0/line$i/name"
done
mkdir "$SIM/gpio-bank0/line7/hog"
echo vl-hog >"$SIM/gpio-bank0/line7/hog/name"
echo output-high >"$SIM/gpio-bank0/line7/hog/direction"
echo 1 >"$SIM/live" || _fail "gpio-sim: live=1 failed"
simchip=$(cat "$SIM/gpio-bank0/chip_name")
simdev=/sys/devices/platform/$(cat "$SIM/dev_name")/$simchip
[ -c "/dev/$simchip" ] || _fail "no /dev/$simchip"
_log "gpio-sim chip $simchip"

sim_value() { cat "$simdev/sim_gpio$1/value"; }
sim_pull() { echo "pull-$2" >"$simdev/sim_gpio$1/pull"; }
sim_value_is() { [ "$(sim_value "$1")" = "$2" ]; }

# Bad command lines: one line naming the problem, non-zero status.
_backend_refuses vhost-user-gpio "beyond the chip" --chip "/dev/$simchip" --lines 0-8
_backend_refuses vhost-user-gpio "No such file" --chip /dev/gpiochip-none
_backend_refuses vhost-user-gpio "not a list" --chip "/dev/$simchip" --lines 3-1
_backend_refuses vhost-user-gpio "required" --lines 0

vhost-user-gpio --socket-path "$TEST_DIR/gpio.sock" --chip "/dev/$simchip" --lines 0-7 \
	2> >(tee "$TEST_DIR/be.log" >&2) &
_PIDS+=($!)
_wait_for 30 _is_socket "$TEST_DIR/gpio.sock" || _fail "vhost-user-gpio did not create its socket"
_start_adapter vdev --socket "$TEST_DIR/gpio.sock" --device gpio

vchip_name() { basename "$(ls -d "/sys/bus/virtio/devices/$vdev"/gpiochip* 2>/dev/null | head -n1)"; }
vchip_ready() { vc=$(vchip_name) && [ -n "$vc" ] && [ -c "/dev/$vc" ]; }
_wait_for 30 vchip_ready || _fail "$vdev has no gpiochip (gpio-virtio did not bind?)"
_log "$vdev: virtio gpiochip $vc"

# gpiodetect: "gpiochipN [virtioM] (8 lines)".
gpiodetect | grep -q "^$vc \[$vdev\] (8 lines)$" ||
	_fail "gpiodetect: $(gpiodetect | grep "^$vc " || echo "no $vc")"

# gpioinfo: names and directions of the host lines.
gpioinfo "$vc" >"$TEST_DIR/info" || _fail "gpioinfo $vc failed"
info_line() { grep -E "^[[:space:]]+line +$1:" "$TEST_DIR/info"; }
for i in 0 1 2 3 4 5 6 7; do
	l=$(info_line "$i") || _fail "gpioinfo $vc has no line $i"
	[[ $l == *"\"vl-sim-$i\""* ]] || _fail "gpioinfo line $i: $l (want name vl-sim-$i)"
	want=input
	[ "$i" = 7 ] && want=output
	[[ $l == *" $want "* ]] || _fail "gpioinfo line $i: $l (want $want)"
done
_log "gpioinfo: 8 lines named vl-sim-0..7, 0-6 input, 7 output (the hog)"

# gpioset drives the sim line while it holds it (released, the sim
# line goes back to its pull).
sim_pull 1 down
gpioset --mode=signal "$vc" 1=1 &
setpid=$!
_wait_for 20 sim_value_is 1 1 || _fail "gpioset $vc 1=1: sim value $(sim_value 1)"
gpioinfo "$simchip" | grep -E "^[[:space:]]+line +1:" | grep -q '"vhost-user-gpio" *output' ||
	_fail "host: line 1 not held as an output: $(gpioinfo "$simchip" | grep -E 'line +1:')"
gpioinfo "$vc" | grep -E "^[[:space:]]+line +1:" | grep -q ' output ' ||
	_fail "virtio line 1 not reported as an output while gpioset holds it"
kill "$setpid"
wait "$setpid" 2>/dev/null
_wait_for 20 sim_value_is 1 0 || _fail "after gpioset ended: sim value $(sim_value 1), want the pull (0)"
sim_pull 2 up
gpioset --mode=signal "$vc" 2=0 &
setpid=$!
_wait_for 20 sim_value_is 2 0 || _fail "gpioset $vc 2=0 against pull-up: sim value $(sim_value 2)"
kill "$setpid"
wait "$setpid" 2>/dev/null
_wait_for 20 sim_value_is 2 1 || _fail "after gpioset 2=0 ended: sim value $(sim_value 2), want 1"
_log "gpioset: sim line 1 driven to 1, line 2 to 0 against its pull-up; both back to the pull after"

# The sim's pull is what gpioget reads.
for v in up down up; do
	sim_pull 3 "$v"
	want=1
	[ "$v" = down ] && want=0
	got=$(gpioget "$vc" 3) || _fail "gpioget $vc 3 failed"
	[ "$got" = "$want" ] || _fail "gpioget $vc 3 = $got with the sim pulled $v"
done
_log "gpioget follows the sim's pull-up/down"

# gpiomon: N events; %e is 1 for rising, 0 for falling.
mon_count() { wc -l <"$TEST_DIR/mon" 2>/dev/null || echo 0; }
mon_has() { [ "$(mon_count)" -ge "$1" ]; }
monitor() {
	local line=$1 n=$2
	shift 2
	: >"$TEST_DIR/mon"
	stdbuf -oL timeout 120 gpiomon --num-events="$n" --format='%e %o' "$@" "$vc" "$line" \
		>"$TEST_DIR/mon" 2>"$TEST_DIR/mon.err" &
	monpid=$!
	# Armed once the host line reports edges to us.
	_wait_for 20 eval "gpioinfo $simchip | grep -E '^[[:space:]]+line +$line:' | grep -q vhost-user-gpio" ||
		_fail "gpiomon on $vc $line: the host line was never requested"
	sleep 1
}
toggle() {
	local line=$1 n=0 v
	shift
	for v in "$@"; do
		sim_pull "$line" "$v"
		n=$((n + 1))
		[ -n "${EXPECT_EACH:-}" ] && { _wait_for 20 mon_has "$n" || _fail "gpiomon: $(mon_count) events after $n toggles"; }
		sleep 0.3
	done
}
sim_pull 4 down
monitor 4 6
EXPECT_EACH=1 toggle 4 up down up down up down
wait "$monpid" || _fail "gpiomon failed: $(cat "$TEST_DIR/mon.err")"
got=$(tr '\n' ' ' <"$TEST_DIR/mon")
[ "$got" = "1 4 0 4 1 4 0 4 1 4 0 4 " ] || _fail "gpiomon both edges: \"$got\", want rising/falling x3"
_log "gpiomon: 6 edges, rising and falling in order"

monitor 5 2 --falling-edge
toggle 5 up down up down
wait "$monpid" || _fail "gpiomon --falling-edge failed: $(cat "$TEST_DIR/mon.err")"
got=$(tr '\n' ' ' <"$TEST_DIR/mon")
[ "$got" = "0 5 0 5 " ] || _fail "gpiomon --falling-edge: \"$got\", want two falling edges"
_log "gpiomon --falling-edge: only the 2 falling edges of 4 toggles"

# The driver let go of every line: the host lines are free again.
_wait_for 20 eval "! gpioinfo $simchip | grep -q vhost-user-gpio" ||
	_fail "host lines still held after the tools ended: $(gpioinfo "$simchip" | grep vhost-user-gpio)"
grep -q "bad request\|eventq:" "$TEST_DIR/be.log" && _fail "the real driver's requests were counted as bad: $(grep 'bad request\|eventq:' "$TEST_DIR/be.log" | head -n3)"

# The next front-end: the back-end, restarted with --lines 5,3, shows
# host lines 5 and 3 only, in that order.
kill "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "the adapter did not end on SIGTERM"
kill "${_PIDS[0]}"
_wait_gone "${_PIDS[0]}" 20 || _fail "vhost-user-gpio did not end on SIGTERM"
[ -e "$TEST_DIR/gpio.sock" ] && _fail "vhost-user-gpio left its socket"
vhost-user-gpio --socket-path "$TEST_DIR/gpio2.sock" --chip "/dev/$simchip" --lines 5,3 \
	2> >(tee "$TEST_DIR/be2.log" >&2) &
_PIDS+=($!)
_wait_for 30 _is_socket "$TEST_DIR/gpio2.sock" || _fail "vhost-user-gpio --lines 5,3 did not create its socket"
_start_adapter vdev --socket "$TEST_DIR/gpio2.sock" --device gpio
_wait_for 30 vchip_ready || _fail "$vdev has no gpiochip"
gpiodetect | grep -q "^$vc \[$vdev\] (2 lines)$" ||
	_fail "--lines 5,3: gpiodetect: $(gpiodetect | grep "^$vc " || echo "no $vc")"
gpioinfo "$vc" >"$TEST_DIR/info"
[[ $(info_line 0) == *'"vl-sim-5"'* && $(info_line 1) == *'"vl-sim-3"'* ]] ||
	_fail "--lines 5,3: gpioinfo $(tr '\n' ' ' <"$TEST_DIR/info")"
for v in up down; do
	sim_pull 5 "$v"
	sim_pull 3 "$([ "$v" = up ] && echo down || echo up)"
	got=$(gpioget "$vc" 0 1) || _fail "gpioget $vc 0 1 failed"
	want="1 0"
	[ "$v" = down ] && want="0 1"
	[ "$got" = "$want" ] || _fail "--lines 5,3: gpioget 0 1 = \"$got\" with sim 5 pulled $v, want \"$want\""
done
_log "--lines 5,3: 2 lines, vl-sim-5 and vl-sim-3, read in that order"

# The front-end goes away while the driver holds a line: the back-end
# lets go of the host line. Not on 6.1: its gpiolib keeps a chip removed
# under a user's line handle on its list with no gpio_chip (gpiod_free()
# drops no reference then), and the next chip registered with line names
# dereferences it (gpio_name_to_desc(): NULL pointer oops, seen here).
case $(uname -r) in
6.1.*)
	_log "6.1: the line-held-while-the-device-goes check is not run (gpiolib bug above)"
	;;
*)
	gpioset --mode=signal "$vc" 0=1 &
	setpid=$!
	_wait_for 20 sim_value_is 5 1 || _fail "gpioset $vc 0=1: sim line 5 value $(sim_value 5)"
	kill "$ADAPTER_PID"
	_wait_gone "$ADAPTER_PID" 30 || _fail "the adapter did not end on SIGTERM"
	kill "$setpid" 2>/dev/null
	wait "$setpid" 2>/dev/null
	_wait_for 20 eval "! gpioinfo $simchip | grep -q vhost-user-gpio" ||
		_fail "host line still held after the front-end left: $(gpioinfo "$simchip" | grep vhost-user-gpio)"
	_wait_for 20 sim_value_is 5 0 || _fail "sim line 5 still driven after the front-end left"
	_log "front-end gone while gpioset held a line: the host line released"
	;;
esac
_pass
