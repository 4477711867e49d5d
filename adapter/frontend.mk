# SPDX-License-Identifier: GPL-2.0
# Adapter sources that need no kernel: linked into the host-side unit tests
# (tests/unit/Makefile includes this file) and into the adapter.
FRONTEND_SRCS := \
	$(TOP)/adapter/device_types.c \
	$(TOP)/adapter/gpu_display.c \
	$(TOP)/adapter/net_ctrl.c \
	$(TOP)/adapter/vhost_user_frontend.c \
	# EOL
# Where their headers are, for tests that include them.
FRONTEND_CFLAGS := -I$(TOP)/adapter -I$(TOP)/include/uapi
# Libraries they need: libpng for the gpu display's screenshots.
FRONTEND_LDLIBS := -lpng -pthread
