#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: ext4 on a raw image served by qemu-storage-daemon
# (vhost-user-blk): mkfs, write, sync, fsck clean, and the files read back
# bit-exact from the image without virtio-loopback in the path.
# Memory modes: isolated zero-copy
# Check runs: 6.1/isolated 6.12/zero-copy
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/blk_fs_common.sh"
_prep_test
_blk_fs_roundtrip raw
_pass
