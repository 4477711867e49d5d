// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvlb back-end program helpers: the listening socket and the whole
 * main() of a back-end that follows the "Backend program conventions" of
 * QEMU docs/interop/vhost-user.rst (--socket-path, --fd,
 * --print-capabilities; exit quickly and cleanly on SIGTERM).
 *
 * Signals are taken synchronously through a signalfd that the accept wait
 * and the event loop poll, so cleanup (removing the socket, unmapping, closing
 * fds) runs in normal context, not in a signal handler.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vlb.h"
#include "vlb_compiler.h"

int vlb_listen_unix(const char *path, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	*fdp = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	/* A stale socket from an earlier run may go; never a file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return -errno;
	} else if (errno != ENOENT) {
		return -errno;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	*fdp = fd;
	return 0;
}

int vlb_accept(int lfd, int stop_fd, int *connp)
{
	struct pollfd pfds[2] = {
		{ .fd = lfd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};
	int fd;

	*connp = -1;
	for (;;) {
		if (poll(pfds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfds[1].revents)
			return -ECANCELED;
		if (!pfds[0].revents)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			*connp = fd;
			return 0;
		}
		/* The peer may have given up between poll and accept. */
		if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
			return -errno;
	}
}

static void vlb_usage(const struct vlb_backend *be, FILE *f)
{
	const struct vlb_backend_option *o;

	fprintf(f,
		"Usage: %s (--socket-path PATH | --fd FD) [--verbose]\n"
		"       %s --print-capabilities | --help | --version\n"
		"\n"
		"vhost-user %s device back-end.\n"
		"\n"
		"  --socket-path PATH    listen on this unix socket, one front-end at a time\n"
		"  --fd FD               serve the connected socket FD, then exit\n"
		"  --print-capabilities  print the back-end capabilities as JSON and exit\n"
		"  --verbose             trace protocol messages and queue activity\n"
		"  --help                show this help\n"
		"  --version             show the version\n",
		be->name, be->name, be->type);
	for (o = be->options; o && o->name; o++) {
		int n = fprintf(f, "  --%s%s%s", o->name, o->arg ? " " : "",
				o->arg ? o->arg : "");

		fprintf(f, "%*s%s\n", n < 24 ? 24 - n : 1, "", o->help);
	}
}

/* --fd must name an open socket we may serve. */
static int vlb_parse_fd(const char *arg, int *fdp)
{
	struct stat st;
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > INT_MAX)
		return -EINVAL;
	if (fstat((int)v, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	*fdp = (int)v;
	return 0;
}

/* Block SIGINT/SIGTERM and get them from a signalfd instead. */
static int vlb_stop_fd(int *fdp)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	*fdp = fd;
	return 0;
}

int vlb_serve(struct vlb_dev *dev, int lfd, int conn, int stop_fd,
	      const char *obj)
{
	int ret;

	for (;;) {
		if (lfd >= 0) {
			ret = vlb_accept(lfd, stop_fd, &conn);
			if (ret == -ECANCELED)
				return 0;
			if (ret) {
				vlb_err(obj, "accept: %s", strerror(-ret));
				return ret;
			}
			vlb_log(obj, "front-end connected");
		}
		ret = vlb_dev_attach(dev, conn);
		if (ret) {
			vlb_err(obj, "attach: %s", strerror(-ret));
			return ret;
		}
		ret = vlb_dev_run(dev, stop_fd);
		vlb_dev_detach(dev);
		if (ret == -ECANCELED)
			return 0;
		if (ret == 0)
			vlb_log(obj, "front-end disconnected");
		else if (ret == -EPROTO)
			vlb_log(obj, "front-end dropped after a protocol error");
		else
			vlb_err(obj, "serving the front-end: %s", strerror(-ret));
		if (lfd < 0)
			return ret == -EPROTO ? ret : 0;
	}
}

int vlb_backend_main(const struct vlb_backend *be, int argc, char **argv)
{
	enum { OPT_SOCKET = 256, OPT_FD, OPT_CAPS, OPT_HELP, OPT_VERSION, OPT_VERBOSE,
	       OPT_DEVICE = 512 };
	static const struct option lib_opts[] = {
		{ "socket-path", required_argument, NULL, OPT_SOCKET },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "print-capabilities", no_argument, NULL, OPT_CAPS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
	};
	struct option opts[ARRAY_SIZE(lib_opts) + VLB_MAX_BACKEND_OPTIONS + 1] = { 0 };
	unsigned int nr_vqs = be->nr_vqs, nopts = 0;
	bool set_up = false;
	const char *path = NULL, *fd_arg = NULL;
	bool caps = false, help = false, version = false;
	unsigned int dbg = 0;
	struct vlb_dev *dev = NULL;
	int lfd = -1, conn = -1, stop_fd = -1;
	char obj[32];
	int opt, ret;

	vlb_log_init(be->name, 0);
	memcpy(opts, lib_opts, sizeof(lib_opts));
	for (; be->options && be->options[nopts].name; nopts++) {
		assert(nopts < VLB_MAX_BACKEND_OPTIONS && be->parse_option);
		opts[ARRAY_SIZE(lib_opts) + nopts] = (struct option){
			.name = be->options[nopts].name,
			.has_arg = be->options[nopts].arg ? required_argument : no_argument,
			.val = OPT_DEVICE + nopts,
		};
	}
	/* The conventions: --print-capabilities ignores everything else. */
	for (opt = 1; opt < argc; opt++)
		if (!strcmp(argv[opt], "--print-capabilities"))
			caps = true;
	opterr = 0;
	while (!caps && (opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			path = optarg;
			break;
		case OPT_FD:
			fd_arg = optarg;
			break;
		case OPT_CAPS:
			caps = true;
			break;
		case OPT_HELP:
			help = true;
			break;
		case OPT_VERSION:
			version = true;
			break;
		case OPT_VERBOSE:
			dbg = VLB_DBG_ALL;
			break;
		case ':':
			vlb_err(argv[optind - 1], "missing argument (see --help)");
			return 2;
		default:
			if (opt >= OPT_DEVICE && opt < OPT_DEVICE + (int)nopts) {
				if (be->parse_option(be->priv, be->options[opt - OPT_DEVICE].name,
						     optarg) < 0)
					return 2;
				break;
			}
			vlb_err(argv[optind - 1], "unknown option (see --help)");
			return 2;
		}
	}
	if (caps) {
		printf("{\n  \"type\": \"%s\"\n}\n", be->type);
		return fflush(stdout) ? 1 : 0;
	}
	if (help) {
		vlb_usage(be, stdout);
		return 0;
	}
	if (version) {
		printf("%s %s\n", be->name, be->version);
		return 0;
	}
	if (optind < argc) {
		vlb_err(argv[optind], "unexpected argument (see --help)");
		return 2;
	}
	if (!path == !fd_arg) {
		vlb_err(NULL, "exactly one of --socket-path and --fd is required (see --help)");
		return 2;
	}
	vlb_log_init(be->name, dbg);
	signal(SIGPIPE, SIG_IGN);

	if (fd_arg) {
		ret = vlb_parse_fd(fd_arg, &conn);
		if (ret) {
			vlb_err(fd_arg, "--fd: %s", ret == -EINVAL ? "not a file descriptor number" :
				strerror(-ret));
			return 2;
		}
		snprintf(obj, sizeof(obj), "fd %d", conn);
	}

	ret = vlb_stop_fd(&stop_fd);
	if (ret) {
		vlb_err(NULL, "signalfd: %s", strerror(-ret));
		goto out;
	}
	if (path) {
		ret = vlb_listen_unix(path, &lfd);
		if (ret) {
			vlb_err(path, "listen: %s", ret == -EEXIST ?
				"exists and is not a socket" : strerror(-ret));
			goto out;
		}
	}
	if (be->queues)
		nr_vqs = be->queues(be->priv);
	ret = vlb_dev_new(be->iface, nr_vqs, be->priv, path ? path : obj, &dev);
	if (ret) {
		vlb_err(path ? path : obj, "device: %s", strerror(-ret));
		goto out;
	}
	if (be->setup) {
		ret = be->setup(dev);
		if (ret)
			goto out;
		set_up = true;
	}
	if (path)
		vlb_log(path, "listening");
	ret = vlb_serve(dev, lfd, conn, stop_fd, path ? path : obj);
	conn = -1;	/* owned by the device since vlb_dev_attach() */
out:
	if (set_up && be->teardown)
		be->teardown(dev);
	vlb_dev_free(dev);
	if (lfd >= 0) {
		close(lfd);
		unlink(path);
	}
	if (conn >= 0)
		close(conn);
	if (stop_fd >= 0)
		close(stop_fd);
	return ret ? 1 : 0;
}
