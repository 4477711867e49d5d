# SPDX-License-Identifier: GPL-2.0
# make install / make uninstall (included by the top-level Makefile).
#   make install DESTDIR=/tmp/root PREFIX=/usr
# Programs, man pages, the udev rule, the systemd template unit, the
# modules-load.d and sysusers.d files, an example config and the module
# source with its dkms.conf under $(PREFIX)/src/virtio-loopback-$(PKG_VERSION).
# uninstall removes exactly what install put there.
PKG_VERSION ?= 0.1
DESTDIR ?=
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR_INST ?= $(PREFIX)/bin
MANDIR_INST ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/virtio-loopback
SYSCONFDIR ?= /etc
UDEVDIR ?= $(PREFIX)/lib/udev
UNITDIR ?= $(PREFIX)/lib/systemd/system
MODLOADDIR ?= $(PREFIX)/lib/modules-load.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DKMSDIR ?= $(PREFIX)/src/virtio-loopback-$(PKG_VERSION)
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL ?= install

# What gets installed, relative to DESTDIR (uninstall walks the same lists).
INST_SBIN := virtio-loopback virtio-loopback-adapter
# One back-end per devices/ directory, as devices/Makefile builds them.
INST_BACKENDS := $(addprefix vhost-user-,$(sort $(notdir $(patsubst %/,%,$(dir $(wildcard $(TOP)/devices/*/*.c))))))
KSRC := $(notdir $(wildcard $(TOP)/kernel/*.c $(TOP)/kernel/*.h)) Kbuild
INST_FILES = \
	$(addprefix $(SBINDIR)/,$(INST_SBIN)) \
	$(addprefix $(BINDIR_INST)/,$(INST_BACKENDS)) \
	$(addprefix $(MANDIR_INST)/man8/,$(addsuffix .8,$(INST_SBIN))) \
	$(addprefix $(MANDIR_INST)/man1/,$(addsuffix .1,$(INST_BACKENDS))) \
	$(MANDIR_INST)/man5/virtio-loopback.conf.5 \
	$(UDEVDIR)/rules.d/60-virtio-loopback.rules \
	$(UNITDIR)/virtio-loopback@.service \
	$(MODLOADDIR)/virtio-loopback.conf \
	$(SYSUSERSDIR)/virtio-loopback.conf \
	$(COMPLETIONDIR)/virtio-loopback \
	$(DOCDIR)/examples/disk0.conf \
	$(addprefix $(DKMSDIR)/,$(KSRC) dkms.conf include/uapi/linux/virtio_loopback.h)
# Directories that are ours alone: removed when empty.
INST_DIRS = $(DKMSDIR)/include/uapi/linux $(DKMSDIR)/include/uapi \
	$(DKMSDIR)/include $(DKMSDIR) $(DOCDIR)/examples $(DOCDIR) \
	$(SYSCONFDIR)/virtio-loopback

SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@VERSION@|$(PKG_VERSION)|g' -e 's|\#MODULE_VERSION\#|$(PKG_VERSION)|g'

# Builds nothing: run make (and make man) first, as the user who builds.
install-files:
	@test -x $(BINDIR)/virtio-loopback -a -f $(BUILD)/man/virtio-loopback.8 || \
		{ echo "install: run 'make user man' first" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR_INST) \
		$(DESTDIR)$(MANDIR_INST)/man1 $(DESTDIR)$(MANDIR_INST)/man5 \
		$(DESTDIR)$(MANDIR_INST)/man8 $(DESTDIR)$(UDEVDIR)/rules.d \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MODLOADDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(SYSCONFDIR)/virtio-loopback \
		$(DESTDIR)$(DKMSDIR)/include/uapi/linux
	$(INSTALL) -m 0755 $(addprefix $(BINDIR)/,$(INST_SBIN)) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(addprefix $(BINDIR)/,$(INST_BACKENDS)) $(DESTDIR)$(BINDIR_INST)/
	$(INSTALL) -m 0644 $(addprefix $(BUILD)/man/,$(addsuffix .8,$(INST_SBIN))) $(DESTDIR)$(MANDIR_INST)/man8/
	$(INSTALL) -m 0644 $(addprefix $(BUILD)/man/,$(addsuffix .1,$(INST_BACKENDS))) $(DESTDIR)$(MANDIR_INST)/man1/
	$(INSTALL) -m 0644 $(BUILD)/man/virtio-loopback.conf.5 $(DESTDIR)$(MANDIR_INST)/man5/
	$(INSTALL) -m 0644 $(TOP)/dist/60-virtio-loopback.rules $(DESTDIR)$(UDEVDIR)/rules.d/
	$(SUBST) $(TOP)/dist/virtio-loopback@.service.in >$(DESTDIR)$(UNITDIR)/virtio-loopback@.service
	$(INSTALL) -m 0644 $(TOP)/dist/modules-load.conf $(DESTDIR)$(MODLOADDIR)/virtio-loopback.conf
	$(INSTALL) -m 0644 $(TOP)/dist/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/virtio-loopback.conf
	$(INSTALL) -m 0644 $(TOP)/cli/virtio-loopback.bash-completion $(DESTDIR)$(COMPLETIONDIR)/virtio-loopback
	$(INSTALL) -m 0644 $(TOP)/dist/disk0.conf $(DESTDIR)$(DOCDIR)/examples/
	$(INSTALL) -m 0644 $(addprefix $(TOP)/kernel/,$(KSRC)) $(DESTDIR)$(DKMSDIR)/
	$(INSTALL) -m 0644 $(TOP)/include/uapi/linux/virtio_loopback.h $(DESTDIR)$(DKMSDIR)/include/uapi/linux/
	$(SUBST) $(TOP)/dist/dkms.conf.in >$(DESTDIR)$(DKMSDIR)/dkms.conf

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	-rmdir $(addprefix $(DESTDIR),$(INST_DIRS)) 2>/dev/null

.PHONY: install-files uninstall

# Debian packages from a copy of the tree (dpkg-buildpackage writes next
# to the source): build/deb/*.deb, then lintian at the normal level.
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/virtio-loopback
	cd $(TOP) && git ls-files -co --exclude-standard | grep -v '^build/' | \
		tar -cf - -T - | tar -xf - -C $(BUILD)/deb/virtio-loopback
	cd $(BUILD)/deb/virtio-loopback && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	lintian --fail-on error,warning $(BUILD)/deb/*.changes

.PHONY: deb
