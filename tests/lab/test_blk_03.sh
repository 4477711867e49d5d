#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: fio --verify=crc32c, 4k random and 1M sequential, QD1 and
# QD32, on a virtio-loopback disk backed by a raw image.
# Memory modes: isolated zero-copy
# Check runs: 6.1/zero-copy
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/fio_common.sh"
_prep_test
_have_program fio
img=$TEST_DIR/disk.raw
_run truncate -s 64M "$img"
_start_qsd "$TEST_DIR/blk.sock" raw "$img"
_start_adapter vdev --socket "$TEST_DIR/blk.sock" --device blk
_fio_verify "$vdev"
_pass
