#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run unit test programs, each under `timeout $TIMEOUT` (default 60 s).
# Prints one line per test, starting with PASS, FAIL or SKIP and the name,
# then a summary line; exits 1 if any test failed. Exit codes of a test:
# 0 pass, 4 skip (tests/helpers.h), anything else (124: timed out) fail.
# Each test's output goes to NAME.log next to the binary; V=1 prints the
# output of failed tests too.
TIMEOUT=${TIMEOUT:-60}
pass=0
fail=0
skip=0

for t in "$@"; do
	name=$(basename "$t")
	log="$t.log"
	timeout "$TIMEOUT" "$t" >"$log" 2>&1
	rc=$?
	case $rc in
	0)
		echo "PASS $name"
		pass=$((pass + 1))
		;;
	4)
		echo "SKIP $name ($(tail -n 1 "$log"))"
		skip=$((skip + 1))
		;;
	124)
		echo "FAIL $name (timed out after ${TIMEOUT}s, log $log)"
		fail=$((fail + 1))
		;;
	*)
		echo "FAIL $name (exit $rc, log $log)"
		fail=$((fail + 1))
		;;
	esac
	if [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$V" = 1 ]; then
		sed 's/^/    /' "$log"
	fi
done

echo "unit: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
