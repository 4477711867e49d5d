#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: the uapi fuzzer (vl-uapi-fuzz): random and boundary CREATE
# fields, wrong sizes, bad fds and pointers, unknown ioctls, every call
# before and after CREATE, replies with right and wrong seq, mmap of the
# memory regions, concurrent close, 2 processes x 3 threads plus forked
# owners dying mid-call, for $FUZZ_SECONDS s (default 90) from seed
# $FUZZ_SEED (default fixed, so CI is reproducible). No failure, no device
# left, no slab or vmalloc growth over the warm-up; then the module unloads.
. "$(dirname "$0")/common.sh"
_prep_test
_have_program vl-uapi-fuzz
vl-uapi-fuzz --seconds "${FUZZ_SECONDS:-90}" --seed "${FUZZ_SEED:-20250505}" ||
	_fail "vl-uapi-fuzz reported failures"
[ "$(_vl_count)" = 0 ] || _fail "a virtio-loopback device is left behind"
_wait_for 20 rmmod virtio_loopback || _fail "rmmod virtio_loopback failed"
_pass
