# SPDX-License-Identifier: GPL-2.0
# CLI sources without main(): linked into the host-side unit tests
# (tests/unit/Makefile includes this file) and into the CLI.
CLI_SRCS := \
	$(TOP)/cli/vlc.c \
	# EOL
# Paths are built with snprintf into PATH_MAX buffers; one cut short names
# no file and fails like a missing one, so GCC's guess is noise here.
CLI_CFLAGS := -I$(TOP)/cli -Wno-format-truncation
