# SPDX-License-Identifier: GPL-2.0
# Shared user-space build settings; included by lib/, adapter/, devices/,
# tests/unit/. Overridable defaults use ?=, required flags use override.
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
BINDIR := $(BUILD)/bin
OBJDIR := $(BUILD)/obj

CC ?= cc
CFLAGS ?= -O2 -g -Wall -Wextra
override CFLAGS += -std=gnu11 -Werror -D_GNU_SOURCE -MMD -MP \
	-I$(TOP)/include -I$(TOP)/lib
# Sanitizer flags for the host-side unit tests.
SANFLAGS ?= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifneq ($(V),1)
Q := @
quiet = @printf '  %-8s %s\n' $(1) $(2);
else
Q :=
quiet =
endif
