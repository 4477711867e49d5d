#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: the kernel uapi without the adapter (vl-uapi-test): every
# invalid CREATE field fails with its exact errno and leaves no device,
# session rules, memory fd bounds, an unanswered DRIVER_OK breaks the
# device instead of hanging it, /dev/hwrng through an in-process back-end,
# closing an rng device while another is owned and not served returns
# within its bound (the hwrng core's lock on 6.1) and both go afterwards,
# config space both ways and an in-flight read failing with EIO when its
# back-end is gone (in-process blk back-end), a relayed console queue
# (writes complete with nobody serving, bytes in order in the relay ring,
# garbage there breaks the device and writes still finish, REWIND re-posts),
# a blk back-end killed with 4 reads in flight and a new one started at the
# base REWIND_VQ gives completing exactly those, 64 devices from 64
# processes, no leak; ATTACH to a persistent device (every bad field and
# wrong order refused with its errno, two racing attachers of which one
# wins, the persist timeout removes an unclaimed device); then the module
# unloads.
. "$(dirname "$0")/common.sh"
_prep_test
_have_program vl-uapi-test
vl-uapi-test all || _fail "vl-uapi-test reported failures"
[ "$(_vl_count)" = 0 ] || _fail "a virtio-loopback device is left behind"
_wait_for 20 rmmod virtio_loopback || _fail "rmmod virtio_loopback failed"
_pass
