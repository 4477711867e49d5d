#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: as test_blk_01 on a qcow2 image (read back after
# qemu-img convert).
# Memory modes: isolated zero-copy
# Check runs: 6.12/isolated
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/blk_fs_common.sh"
_prep_test
_blk_fs_roundtrip qcow2
_pass
