# SPDX-License-Identifier: GPL-2.0
# virtio-loopback top level: delegates to the parts.
#   make            module for every installed Debian kernel + user space
#   make check      everything CI runs (README's test command)
#   make unit       host-side unit tests under ASan/UBSan
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS (20) each on their corpus
#   make lab        VM tests on both kernels
#   make test-drivers   gpio/i2c drivers Debian leaves out, for the lab only
#   make install    DESTDIR=... PREFIX=... (dist/install.mk); make uninstall
#   make deb        Debian packages in build/deb (dkms and tools), lintian
#   make demo       boot the lab and show a disk and an rng working
#   make demo-devices   the same for a network, virtio-fs and a GPU screenshot
#   make bench      block benchmark against VDUSE, NBD, null_blk and loop
#                   (docs/performance.md; about 15 minutes)
include common.mk

# Kernels we build and test against: every installed linux-headers tree.
KVERS ?= $(notdir $(patsubst %/build,%,$(wildcard /lib/modules/*/build)))

all: user kernel

user:
	$(Q)$(MAKE) -C lib
	$(Q)$(MAKE) -C devices
	$(Q)$(MAKE) -C adapter
	$(Q)$(MAKE) -C cli
	$(Q)$(MAKE) -C tests/lab

kernel:
	$(Q)set -e; for k in $(KVERS); do $(MAKE) -C kernel KVER=$$k; done

unit: user man
	$(Q)$(MAKE) -C tests/unit run

# Man pages from --help (help2man) into build/man.
man: user
	$(Q)$(MAKE) -C man

install: user man
	$(Q)$(MAKE) --no-print-directory install-files

fuzz:
	$(Q)$(MAKE) -C tests/fuzz run

lab: all man test-drivers deb
	$(Q)tests/lab/run-all

test-drivers:
	$(Q)scripts/build-test-drivers

check:
	$(Q)scripts/check

demo:
	$(Q)scripts/demo

demo-devices:
	$(Q)scripts/demo devices

bench:
	$(Q)scripts/bench

checkpatch:
	$(Q)scripts/checkpatch

shellcheck:
	$(Q)shellcheck -x scripts/vm-run scripts/lab-init scripts/lab-initramfs-init scripts/check scripts/install-deps scripts/build-test-drivers scripts/check-virtio-can scripts/demo scripts/bench tests/lab/*.sh tests/lab/run-all tests/lab/host_*.sh

clean:
	rm -rf $(BUILD)

# install-files, uninstall, deb (after all: it must stay the default goal).
include dist/install.mk

.PHONY: all user kernel test-drivers man install unit fuzz lab check demo demo-devices bench checkpatch shellcheck clean
