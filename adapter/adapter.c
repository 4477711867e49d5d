// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback-adapter: connects a vhost-user back-end to a virtio device
 * of the virtio_loopback kernel module.
 *
 *   virtio-loopback-adapter --socket PATH --device TYPE [--memory MODE]
 *                           [--queues N] [--queue-size N] [--mem-size SIZE]
 *                           [--backend-timeout S] [--reconnect-timeout S]
 *                           [--persist] [--persist-timeout S] [--attach NAME]
 *                           [--verbose]
 *                           [--gpu-mode WxH] [--screenshot PATH]
 *
 * It learns the device from the back-end (features, protocol features, queue
 * count, config space), creates the kernel device through
 * /dev/virtio-loopback, and then serves the kernel's events: on DRIVER_OK it
 * hands the back-end the memory region, the rings and the kick/call
 * eventfds (the same eventfds the kernel uses, so requests and interrupts
 * bypass this process), on reset it stops the back-end's rings. The device
 * lives as long as the session fd: closing it, or this process dying,
 * removes it -- unless it was made with --persist: then the kernel keeps it
 * (bounded by --persist-timeout) for a new adapter started with
 * --attach vl<N>, which takes it over with the same back-end socket and
 * has the requests in flight completed. A multiqueue virtio-net device's
 * control queue is the one
 * queue this process serves itself, as a VMM would (net_ctrl.c).
 *
 * Output: one line "ready virtio<N>" on stdout when the driver first started
 * the device; errors as one line each on stderr; exit 0 on SIGINT/SIGTERM.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_loopback.h>

#include "device_types.h"
#include "gpu_display.h"
#include "net_ctrl.h"
#include "vlb_compiler.h"
#include "vhost_user_frontend.h"
#include "vlb_log.h"

#define VLA_PROG		"virtio-loopback-adapter"
#define VLA_VERSION		"0.1"
#define VLA_CONTROL_NODE	"/dev/virtio-loopback"
#define VLA_DEFAULT_QUEUE_SIZE	256
/*
 * Vendor id reported to the driver: virtio's PCI vendor. No virtio driver
 * matches on the vendor (they use VIRTIO_DEV_ANY_ID); tools print it.
 */
#define VLA_VENDOR_ID		0x1af4
#define VLA_MAX_TIMEOUT_S	3600
/* A restarted daemon (systemd Restart=) is back within seconds. */
#define VLA_DEFAULT_RECONNECT_S	10

/* Exit codes: 0 clean stop, 1 runtime failure, 2 bad command line. */
#define VLA_EXIT_FAIL		1
#define VLA_EXIT_USAGE		2

struct vla_opts {
	const char *socket;
	const char *device;
	uint32_t mem_mode;
	unsigned int queues;		/* 0: as the back-end/type says */
	unsigned int queue_size;
	uint64_t mem_size;		/* 0: kernel default */
	int timeout_ms;
	int reconnect_ms;		/* 0: a lost back-end ends the adapter */
	bool persist;			/* CREATE_F_PERSIST */
	uint32_t persist_timeout_ms;	/* 0: the kernel's default */
	const char *attach;		/* ATTACH to this device, or NULL */
	bool verbose;
	uint32_t gpu_width;		/* 0: VLA_GPU_DEFAULT_WIDTH */
	uint32_t gpu_height;
	const char *screenshot;		/* gpu: PNG of scanout 0, or NULL */
	/* Per-type config fields given on the command line, parsed. */
	bool field_set[VLA_NUM_CONFIG_FIELDS];
	uint8_t field_val[VLA_NUM_CONFIG_FIELDS][VLA_FIELD_MAX_SIZE];
};

/**
 * struct vla - the adapter's state
 * @opts: the command line
 * @type: the device type
 * @fe: the vhost-user front-end
 * @ctl: the /dev/virtio-loopback session fd (owns the kernel device)
 * @sig: signalfd for SIGINT/SIGTERM
 * @mem: the memory regions (fds -1 until the first DRIVER_OK)
 * @features: device features the driver is offered
 * @nqueues: queues of the device
 * @kick: kick eventfd per queue
 * @call: call eventfd per queue
 * @config: config space given at CREATE
 * @config_size: its size
 * @announced: "ready" was printed
 * @unplug_deadline: 0, or when an orderly removal (VIRTIO_LOOPBACK_UNPLUG)
 *                   under way is given up (CLOCK_MONOTONIC ms)
 * @unplugged: the driver let go of the device (EV_UNPLUGGED)
 * @running: the driver started the device (DRIVER_OK answered, no reset
 *           since): a new back-end gets its rings
 * @drv_features: features the driver accepted (DRIVER_OK)
 * @drv_status: status at DRIVER_OK
 * @pending_driver_ok: a DRIVER_OK that came while no back-end was there
 *                     (answered once one is)
 * @have_pending: @pending_driver_ok is valid
 * @reconnects: back-end restarts survived
 * @gpu: the vhost-user-gpu display (gpu devices), or NULL
 * @net_ctrl: net with more than one queue pair: the control queue, else NULL
 * @net_pairs: net: queue pairs of the device
 * @data_queues: queues handed to the back-end at the last DRIVER_OK
 * @ctrl_pending: control requests are left over (served without a kick)
 */
struct vla {
	struct vla_opts opts;
	struct vla_device_type type;
	struct vuf fe;
	int ctl;
	int sig;
	struct vuf_mem mem;
	uint64_t features;
	unsigned int nqueues;
	int kick[VIRTIO_LOOPBACK_MAX_QUEUES];
	int call[VIRTIO_LOOPBACK_MAX_QUEUES];
	uint8_t config[VIRTIO_LOOPBACK_MAX_CONFIG_SIZE];
	uint32_t config_size;
	bool announced;
	int64_t unplug_deadline;
	bool unplugged;
	bool running;
	uint64_t drv_features;
	uint8_t drv_status;
	struct virtio_loopback_event pending_driver_ok;
	bool have_pending;
	unsigned int reconnects;
	struct vla_gpu *gpu;
	struct vla_net_ctrl *net_ctrl;
	unsigned int net_pairs;
	unsigned int data_queues;
	bool ctrl_pending;
};

static void vla_usage(FILE *out)
{
	const struct vla_config_field *f;
	char types[512];
	unsigned int i;

	vla_device_types_list(types, sizeof(types));
	fprintf(out,
		"Usage: %s --socket PATH --device TYPE [OPTIONS]\n"
		"\n"
		"Create a virtio device served by a vhost-user back-end.\n"
		"\n"
		"  -s, --socket PATH          back-end's vhost-user unix socket\n"
		"  -d, --device TYPE          device type: a name or a virtio device id\n"
		"                             (%s)\n"
		"  -m, --memory MODE          isolated (default) or zero-copy\n"
		"  -q, --queues N             at most N queues; net: N queue pairs (default 1),\n"
		"                             served with a control queue when N > 1\n"
		"      --queue-size N         largest ring size, a power of two (default %u)\n"
		"      --mem-size SIZE        memory region size, K/M/G suffix (default %llu M)\n"
		"      --backend-timeout S    seconds to wait for each back-end reply (default %d)\n"
		"      --reconnect-timeout S  seconds to wait for a back-end that went away to\n"
		"                             come back on the same socket (default %d; 0: give up)\n"
		"      --persist              the device survives this adapter's exit or death:\n"
		"                             a new adapter takes it over with --attach\n"
		"      --persist-timeout S    with --persist: seconds the kernel keeps the device\n"
		"                             without an adapter (1..%d, default %d)\n"
		"      --attach NAME          take over the persistent device NAME (vl<N>, see\n"
		"                             /sys/class/virtio-loopback) instead of creating one\n"
		"  -v, --verbose              log every vhost-user message sent and received,\n"
		"                             decoded, on stderr\n"
		"      --gpu-mode WxH         gpu: the display mode offered (default %ux%u)\n"
		"      --screenshot PATH      gpu: write scanout 0 as PNG on SIGUSR1 and at exit\n"
		"  -h, --help                 this text\n"
		"  -V, --version              the version\n"
		"\n"
		"Config space for back-ends that supply none (as a VMM would):\n",
		VLA_PROG, types, VLA_DEFAULT_QUEUE_SIZE,
		(unsigned long long)(VIRTIO_LOOPBACK_DEFAULT_MEM_SIZE >> 20),
		VUF_DEFAULT_TIMEOUT_MS / 1000, VLA_DEFAULT_RECONNECT_S,
		VIRTIO_LOOPBACK_MAX_PERSIST_TIMEOUT_MS / 1000,
		VIRTIO_LOOPBACK_DEFAULT_PERSIST_TIMEOUT_MS / 1000,
		VLA_GPU_DEFAULT_WIDTH,
		VLA_GPU_DEFAULT_HEIGHT);
	for (i = 0; (f = vla_config_field(i)); i++) {
		int n = fprintf(out, "      --%s %s", f->option, f->metavar);

		fprintf(out, "%*s%s\n", n < 29 ? 29 - n : 1, "", f->help);
	}
	fprintf(out,
		"\n"
		"Prints \"ready virtioN\" on stdout when the driver has started the device.\n"
		"SIGINT/SIGTERM remove the device and exit 0.\n");
}

/* Strict unsigned parse: digits only (0x allowed), whole string, no sign. */
static int vla_parse_u64(const char *s, uint64_t *val, char **endp)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -errno;
	if (!endp && *end)
		return -EINVAL;
	if (endp)
		*endp = end;
	*val = v;
	return 0;
}

static int vla_parse_size(const char *s, uint64_t *val)
{
	unsigned int shift = 0;
	uint64_t v;
	char *end;
	int ret;

	ret = vla_parse_u64(s, &v, &end);
	if (ret)
		return ret;
	if (*end) {
		switch (*end) {
		case 'k': case 'K':
			shift = 10;
			break;
		case 'm': case 'M':
			shift = 20;
			break;
		case 'g': case 'G':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		if (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
			return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*val = v << shift;
	return 0;
}

static int vla_parse_args(int argc, char **argv, struct vla_opts *o)
{
	enum { OPT_QUEUE_SIZE = 256, OPT_MEM_SIZE, OPT_TIMEOUT, OPT_GPU_MODE,
	       OPT_SCREENSHOT, OPT_RECONNECT, OPT_PERSIST, OPT_PERSIST_TIMEOUT,
	       OPT_ATTACH, OPT_FIELD = 512 };
	static const struct option base_opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "memory", required_argument, NULL, 'm' },
		{ "queues", required_argument, NULL, 'q' },
		{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
		{ "mem-size", required_argument, NULL, OPT_MEM_SIZE },
		{ "backend-timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "reconnect-timeout", required_argument, NULL, OPT_RECONNECT },
		{ "persist", no_argument, NULL, OPT_PERSIST },
		{ "persist-timeout", required_argument, NULL, OPT_PERSIST_TIMEOUT },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ "gpu-mode", required_argument, NULL, OPT_GPU_MODE },
		{ "screenshot", required_argument, NULL, OPT_SCREENSHOT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
	};
	struct option longopts[ARRAY_SIZE(base_opts) + VLA_NUM_CONFIG_FIELDS + 1];
	const struct vla_config_field *f;
	unsigned int i;
	uint64_t v;
	int c;

	memset(longopts, 0, sizeof(longopts));
	memcpy(longopts, base_opts, sizeof(base_opts));
	for (i = 0; (f = vla_config_field(i)); i++)
		longopts[ARRAY_SIZE(base_opts) + i] = (struct option){
			.name = f->option, .has_arg = required_argument,
			.val = OPT_FIELD + i,
		};

	*o = (struct vla_opts) {
		.mem_mode = VIRTIO_LOOPBACK_MEM_ISOLATED,
		.queue_size = VLA_DEFAULT_QUEUE_SIZE,
		.timeout_ms = VUF_DEFAULT_TIMEOUT_MS,
		.reconnect_ms = VLA_DEFAULT_RECONNECT_S * 1000,
	};

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:d:m:q:vhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			o->device = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "isolated")) {
				o->mem_mode = VIRTIO_LOOPBACK_MEM_ISOLATED;
			} else if (!strcmp(optarg, "zero-copy")) {
				o->mem_mode = VIRTIO_LOOPBACK_MEM_ZERO_COPY;
			} else {
				vlb_err("--memory", "unknown mode '%s' (isolated or zero-copy)",
					optarg);
				return -EINVAL;
			}
			break;
		case 'q':
			if (vla_parse_u64(optarg, &v, NULL) || v == 0 ||
			    v > VIRTIO_LOOPBACK_MAX_QUEUES) {
				vlb_err("--queues", "'%s' is not a number in 1..%u",
					optarg, VIRTIO_LOOPBACK_MAX_QUEUES);
				return -EINVAL;
			}
			o->queues = v;
			break;
		case OPT_QUEUE_SIZE:
			if (vla_parse_u64(optarg, &v, NULL) || v == 0 ||
			    v > VIRTIO_LOOPBACK_MAX_QUEUE_SIZE || (v & (v - 1))) {
				vlb_err("--queue-size", "'%s' is not a power of two in 1..%u",
					optarg, VIRTIO_LOOPBACK_MAX_QUEUE_SIZE);
				return -EINVAL;
			}
			o->queue_size = v;
			break;
		case OPT_MEM_SIZE:
			if (vla_parse_size(optarg, &v) ||
			    v < VIRTIO_LOOPBACK_MIN_MEM_SIZE ||
			    v > VIRTIO_LOOPBACK_MAX_MEM_SIZE ||
			    (v & (sysconf(_SC_PAGESIZE) - 1))) {
				vlb_err("--mem-size", "'%s' is not a page-aligned size in %lluM..%lluG",
					optarg,
					(unsigned long long)(VIRTIO_LOOPBACK_MIN_MEM_SIZE >> 20),
					(unsigned long long)(VIRTIO_LOOPBACK_MAX_MEM_SIZE >> 30));
				return -EINVAL;
			}
			o->mem_size = v;
			break;
		case OPT_TIMEOUT:
			if (vla_parse_u64(optarg, &v, NULL) || v == 0 ||
			    v > VLA_MAX_TIMEOUT_S) {
				vlb_err("--backend-timeout", "'%s' is not a number of seconds in 1..%d",
					optarg, VLA_MAX_TIMEOUT_S);
				return -EINVAL;
			}
			o->timeout_ms = v * 1000;
			break;
		case OPT_RECONNECT:
			if (vla_parse_u64(optarg, &v, NULL) || v > VLA_MAX_TIMEOUT_S) {
				vlb_err("--reconnect-timeout", "'%s' is not a number of seconds in 0..%d",
					optarg, VLA_MAX_TIMEOUT_S);
				return -EINVAL;
			}
			o->reconnect_ms = v * 1000;
			break;
		case OPT_PERSIST:
			o->persist = true;
			break;
		case OPT_PERSIST_TIMEOUT:
			if (vla_parse_u64(optarg, &v, NULL) || v == 0 ||
			    v > VIRTIO_LOOPBACK_MAX_PERSIST_TIMEOUT_MS / 1000) {
				vlb_err("--persist-timeout", "'%s' is not a number of seconds in 1..%d",
					optarg, VIRTIO_LOOPBACK_MAX_PERSIST_TIMEOUT_MS / 1000);
				return -EINVAL;
			}
			o->persist_timeout_ms = v * 1000;
			break;
		case OPT_ATTACH:
			if (strncmp(optarg, "vl", 2) || vla_parse_u64(optarg + 2, &v, NULL) ||
			    strlen(optarg) >= VIRTIO_LOOPBACK_NAME_SIZE) {
				vlb_err("--attach", "'%s' is not a device name vl<N>", optarg);
				return -EINVAL;
			}
			o->attach = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case OPT_GPU_MODE:
			if (vla_gpu_parse_mode(optarg, &o->gpu_width,
					       &o->gpu_height)) {
				vlb_err("--gpu-mode", "'%s' is not WIDTHxHEIGHT with each in 1..%u",
					optarg, VLA_GPU_MAX_DIM);
				return -EINVAL;
			}
			break;
		case OPT_SCREENSHOT:
			o->screenshot = optarg;
			break;
		case 'h':
			vla_usage(stdout);
			exit(0);
		case 'V':
			printf("%s %s\n", VLA_PROG, VLA_VERSION);
			exit(0);
		case ':':
			vlb_err(NULL, "%s needs an argument (see --help)",
				argv[optind - 1]);
			return -EINVAL;
		default:
			f = c >= OPT_FIELD ? vla_config_field(c - OPT_FIELD) : NULL;
			if (!f) {
				vlb_err(NULL, "unknown option '%s' (see --help)",
					argv[optind - 1]);
				return -EINVAL;
			}
			if (vla_config_field_parse(f, optarg, o->field_val[c - OPT_FIELD])) {
				vlb_err(NULL, "--%s: '%s' is not %s", f->option, optarg,
					f->kind == VLA_FIELD_MAC ? "a unicast MAC address XX:XX:XX:XX:XX:XX" :
					f->kind == VLA_FIELD_STRING ? "a string of the allowed length" :
					"a number in range");
				return -EINVAL;
			}
			o->field_set[c - OPT_FIELD] = true;
			break;
		}
	}
	if (optind < argc) {
		vlb_err(NULL, "unexpected argument '%s' (see --help)",
			argv[optind]);
		return -EINVAL;
	}
	if (!o->socket) {
		vlb_err(NULL, "--socket PATH is required (see --help)");
		return -EINVAL;
	}
	if (!o->device) {
		vlb_err(NULL, "--device TYPE is required (see --help)");
		return -EINVAL;
	}
	if (o->persist_timeout_ms && !o->persist) {
		vlb_err(NULL, "--persist-timeout needs --persist (see --help)");
		return -EINVAL;
	}
	if (o->attach && o->persist) {
		vlb_err(NULL, "--persist is a property of a new device; --attach takes over one made with it");
		return -EINVAL;
	}
	return 0;
}

/* The socket must exist and be a socket before we try to connect. */
static int vla_check_socket(const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		int ret = -errno;

		vlb_err(NULL, "socket %s: %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		vlb_err(NULL, "socket %s: not a socket", path);
		return -ENOTSOCK;
	}
	return 0;
}

static int vla_open_control(struct vla *a)
{
	__u64 version = 0;
	int ret;

	a->ctl = open(VLA_CONTROL_NODE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (a->ctl < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENXIO || ret == -ENODEV)
			vlb_err(VLA_CONTROL_NODE, "%s (is the virtio_loopback module loaded?)",
				strerror(-ret));
		else
			vlb_err(VLA_CONTROL_NODE, "%s", strerror(-ret));
		return ret;
	}
	if (ioctl(a->ctl, VIRTIO_LOOPBACK_GET_API_VERSION, &version)) {
		ret = -errno;
		vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_GET_API_VERSION: %s",
			strerror(-ret));
		return ret;
	}
	if (version != VIRTIO_LOOPBACK_API_VERSION) {
		vlb_err(VLA_CONTROL_NODE, "kernel API version %llu, this adapter speaks %u",
			(unsigned long long)version,
			VIRTIO_LOOPBACK_API_VERSION);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

/* Multiqueue: enable the back-end's rings of the pairs the driver uses. */
static int vla_net_set_pairs(void *opaque, unsigned int pairs)
{
	struct vla *a = opaque;
	unsigned int i;
	int ret;

	/* Every pair each time, in order, as QEMU's virtio-net does. */
	for (i = 0; i < a->data_queues; i++) {
		ret = vuf_set_vring_enable(&a->fe, i, i / 2 < pairs);
		if (ret) {
			vlb_err(NULL, "%s", a->fe.err);
			return ret;
		}
	}
	return 0;
}

/*
 * net: the adapter is the VMM. One queue pair unless --queues N asks for
 * more, as QEMU's -netdev vhost-user,queues=N: the back-end must offer
 * VIRTIO_NET_F_MQ and at least N pairs in GET_QUEUE_NUM (DPDK answers its
 * built-in maximum, 128, whatever its queues= says, so the count cannot
 * come from there). N > 1 gives 2N data queues and a control queue, the
 * last one, which the adapter serves.
 */
static int vla_net_queues(struct vla *a)
{
	unsigned int pairs = a->opts.queues ? a->opts.queues : 1;
	int ret;

	a->net_pairs = pairs;
	a->nqueues = 2;
	if (pairs == 1)
		return 0;
	if (!(a->fe.features & (1ULL << VIRTIO_NET_F_MQ))) {
		vlb_err(a->opts.socket, "--queues %u: the back-end does not offer VIRTIO_NET_F_MQ (one queue pair only)",
			pairs);
		return -EINVAL;
	}
	if (!a->fe.queue_num) {
		vlb_err(a->opts.socket, "--queues %u: the back-end lacks VHOST_USER_PROTOCOL_F_MQ (one queue pair only)",
			pairs);
		return -EINVAL;
	}
	if (pairs > a->fe.queue_num) {
		vlb_err(a->opts.socket, "--queues %u: the back-end has %u queue pairs",
			pairs, a->fe.queue_num);
		return -EINVAL;
	}
	if (2 * pairs + 1 > VIRTIO_LOOPBACK_MAX_QUEUES) {
		vlb_err(a->opts.socket, "--queues %u: at most %u queue pairs (2 queues each and a control queue)",
			pairs, (VIRTIO_LOOPBACK_MAX_QUEUES - 1) / 2);
		return -EINVAL;
	}
	ret = vla_net_ctrl_new(a->opts.socket, pairs, vla_net_set_pairs, a,
			       &a->net_ctrl);
	if (ret) {
		vlb_err(a->opts.socket, "control queue: %s", strerror(-ret));
		return ret;
	}
	a->nqueues = 2 * pairs + 1;
	a->features |= (1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_MQ);
	return 0;
}

/*
 * Queue counts a VMM decides: virtio-fs one hiprio queue and
 * --request-queues request queues.
 */
static int vla_type_queues(struct vla *a)
{
	unsigned int fs_rq = 0, i;

	for (i = 0; i < VLA_NUM_CONFIG_FIELDS; i++) {
		const struct vla_config_field *f = vla_config_field(i);

		if (a->opts.field_set[i] && f->type_id == VIRTIO_ID_FS &&
		    f->kind == VLA_FIELD_LE32)
			fs_rq = a->opts.field_val[i][0] | a->opts.field_val[i][1] << 8;
	}
	if (!fs_rq)
		return 0;
	if (a->fe.queue_num && fs_rq + 1 > a->fe.queue_num) {
		vlb_err(a->opts.socket, "--request-queues %u: the back-end has %u queues (1 + %u request queues at most)",
			fs_rq, a->fe.queue_num, a->fe.queue_num - 1);
		return -EINVAL;
	}
	a->nqueues = fs_rq + 1;
	return 0;
}

/* The back-end's config space wins over the command line's. */
static void vla_fields_ignored(struct vla *a)
{
	unsigned int i;

	for (i = 0; i < VLA_NUM_CONFIG_FIELDS; i++)
		if (a->opts.field_set[i])
			vlb_log(a->opts.socket, "--%s ignored: the back-end supplies the config space",
				vla_config_field(i)->option);
}

/*
 * No config space from the back-end: build it as a VMM would, from the
 * command line and the type's defaults, and offer the feature bits that
 * say the fields are valid.
 */
static void vla_fill_config(struct vla *a)
{
	uint32_t size;
	unsigned int i;

	for (i = 0; i < VLA_NUM_CONFIG_FIELDS; i++) {
		const struct vla_config_field *f = vla_config_field(i);

		if (a->opts.field_set[i] && f->feature >= 0)
			a->features |= 1ULL << f->feature;
	}
	size = vla_device_type_config_size(&a->type, a->features);
	if (size == VLA_CONFIG_SIZE_UNKNOWN)
		return;
	if (size > VIRTIO_LOOPBACK_MAX_CONFIG_SIZE)
		size = VIRTIO_LOOPBACK_MAX_CONFIG_SIZE;
	a->config_size = size;
	for (i = 0; i < VLA_NUM_CONFIG_FIELDS; i++) {
		const struct vla_config_field *f = vla_config_field(i);

		if (a->opts.field_set[i] && f->offset + f->size <= size)
			memcpy(a->config + f->offset, a->opts.field_val[i], f->size);
	}
	vla_device_type_defaults(&a->type, a->features, a->nqueues, a->config);
}

/* Learn features, queue count and config space from the back-end. */
static int vla_handshake(struct vla *a)
{
	uint32_t size, got = 0;
	int ret;

	ret = vuf_connect(&a->fe, a->opts.socket);
	if (ret)
		goto fail;
	ret = vuf_negotiate(&a->fe);
	if (ret)
		goto fail;

	if (!(a->fe.features & (1ULL << VIRTIO_F_VERSION_1))) {
		vlb_err(a->opts.socket, "back-end features 0x%llx lack VIRTIO_F_VERSION_1 (legacy devices are not supported)",
			(unsigned long long)a->fe.features);
		return -EPROTONOSUPPORT;
	}

	a->features = a->fe.features & ~VUF_VHOST_ONLY_FEATURES &
		      ~vla_device_type_vmm_features(&a->type);

	if (a->type.id == VIRTIO_ID_NET) {
		ret = vla_net_queues(a);
		if (ret)
			return ret;
	} else {
		if (a->fe.queue_num)
			a->nqueues = a->fe.queue_num;
		else
			a->nqueues = a->type.num_queues;
		ret = vla_type_queues(a);
		if (ret)
			return ret;
		if (a->opts.queues && a->opts.queues < a->nqueues)
			a->nqueues = a->opts.queues;
	}
	if (a->nqueues > VIRTIO_LOOPBACK_MAX_QUEUES) {
		vlb_dbg(VLB_DBG_DEV, a->opts.socket, "using %u of the back-end's %u queues",
			VIRTIO_LOOPBACK_MAX_QUEUES, a->nqueues);
		a->nqueues = VIRTIO_LOOPBACK_MAX_QUEUES;
	}

	if (vuf_has_protocol_feature(&a->fe, VHOST_USER_PROTOCOL_F_CONFIG)) {
		size = vla_device_type_config_size(&a->type, a->features);
		if (size != VLA_CONFIG_SIZE_UNKNOWN &&
		    size > VIRTIO_LOOPBACK_MAX_CONFIG_SIZE)
			size = VIRTIO_LOOPBACK_MAX_CONFIG_SIZE;
		if (size) {
			bool exact = size != VLA_CONFIG_SIZE_UNKNOWN;

			if (!exact)
				size = VHOST_USER_MAX_CONFIG_SIZE;
			ret = vuf_get_config(&a->fe, a->config, size, exact, &got);
			if (ret)
				goto fail;
			a->config_size = got;
		}
		vla_fields_ignored(a);
	} else {
		vla_fill_config(a);
	}
	vla_device_type_vmm_config(&a->type, a->features, a->nqueues,
				   a->config, a->config_size);
	if (a->type.id == VIRTIO_ID_GPU)
		vla_gpu_fixup_config(a->config, a->config_size);
	vlb_dbg(VLB_DBG_DEV, a->opts.socket, "%s device, features 0x%llx, protocol features 0x%llx, %u queues, %u config bytes",
		vla_device_type_name(&a->type),
		(unsigned long long)a->features,
		(unsigned long long)a->fe.protocol_features, a->nqueues,
		a->config_size);
	return 0;

fail:
	vlb_err(NULL, "%s", a->fe.err);
	return ret;
}

/* A kick and a call eventfd per queue, described in @qi for the kernel. */
static int vla_make_eventfds(struct vla *a, struct virtio_loopback_queue_info *qi)
{
	unsigned int i;
	int ret;

	memset(qi, 0, sizeof(*qi) * VIRTIO_LOOPBACK_MAX_QUEUES);
	for (i = 0; i < a->nqueues; i++) {
		a->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (a->kick[i] < 0)
			goto err_eventfd;
		a->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (a->call[i] < 0)
			goto err_eventfd;
		qi[i].max_size = a->opts.queue_size;
		qi[i].kick_fd = a->kick[i];
		qi[i].call_fd = a->call[i];
	}
	return 0;

err_eventfd:
	ret = -errno;
	vlb_err(NULL, "queue %u: eventfd: %s", i, strerror(-ret));
	return ret;
}

static int vla_create(struct vla *a)
{
	struct virtio_loopback_queue_info qi[VIRTIO_LOOPBACK_MAX_QUEUES];
	struct virtio_loopback_create c;
	int ret;

	ret = vla_make_eventfds(a, qi);
	if (ret)
		return ret;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.device_id = a->type.id;
	c.vendor_id = VLA_VENDOR_ID;
	c.num_queues = a->nqueues;
	c.device_features = a->features;
	c.queues = (uintptr_t)qi;
	c.config = (uintptr_t)a->config;
	c.config_size = a->config_size;
	c.mem_mode = a->opts.mem_mode;
	c.mem_size = a->opts.mem_size;
	if (a->opts.persist) {
		c.flags = VIRTIO_LOOPBACK_CREATE_F_PERSIST;
		c.persist_timeout_ms = a->opts.persist_timeout_ms;
	}

	if (ioctl(a->ctl, VIRTIO_LOOPBACK_CREATE, &c)) {
		ret = -errno;
		if (ret == -EINVAL && a->opts.persist)
			vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_CREATE with --persist: %s (a kernel module without persistence?)",
				strerror(-ret));
		else if (ret == -EOPNOTSUPP && c.mem_mode != VIRTIO_LOOPBACK_MEM_ISOLATED)
			vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_CREATE: memory mode zero-copy is not supported by this kernel module: %s",
				strerror(-ret));
		else
			vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_CREATE (%s device id %u, %u queues of %u, features 0x%llx, %u config bytes): %s",
				vla_device_type_name(&a->type),
				c.device_id, c.num_queues, a->opts.queue_size,
				(unsigned long long)c.device_features,
				c.config_size, strerror(-ret));
		return ret;
	}
	if (a->opts.persist)
		vlb_log(VLA_CONTROL_NODE, "created persistent device vl%u", c.id);
	else
		vlb_dbg(VLB_DBG_DEV, VLA_CONTROL_NODE, "created device vl%u", c.id);
	return 0;
}

static int vla_reply(struct vla *a, const struct virtio_loopback_event *ev,
		     int result)
{
	struct virtio_loopback_reply r;
	ssize_t n;

	if (!(ev->flags & VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY))
		return 0;
	memset(&r, 0, sizeof(r));
	r.seq = ev->seq;
	r.result = result;
	n = write(a->ctl, &r, sizeof(r));
	/* After a failure already reported, one line is enough. */
	if (n != sizeof(r) && result)
		return n < 0 ? -errno : -EIO;
	if (n < 0) {
		int ret = -errno;

		vlb_err(VLA_CONTROL_NODE, "reply to event %u (seq %u): %s",
			ev->type, ev->seq, strerror(-ret));
		return ret;
	}
	if ((size_t)n != sizeof(r)) {
		vlb_err(VLA_CONTROL_NODE, "reply to event %u (seq %u): short write of %zd bytes",
			ev->type, ev->seq, n);
		return -EIO;
	}
	return 0;
}

static void vla_put_mem(struct vla *a)
{
	unsigned int i;

	for (i = 0; i < a->mem.nregions; i++)
		close(a->mem.regions[i].fd);
	a->mem.nregions = 0;
}

/*
 * The memory regions: asked for once, kept for every later start. Each
 * region's size is checked against its file (lseek SEEK_END), as a
 * rust-vmm back-end would.
 */
static int vla_get_mem(struct vla *a)
{
	struct virtio_loopback_mem_region r;
	unsigned int i;
	off_t end;
	int ret;

	if (a->mem.nregions)
		return 0;
	for (i = 0; i < VUF_MAX_MEM_REGIONS; i++) {
		memset(&r, 0, sizeof(r));
		r.index = i;
		if (ioctl(a->ctl, VIRTIO_LOOPBACK_GET_MEM_REGION, &r)) {
			ret = -errno;
			if (ret == -ENOENT && i > 0)
				break;
			vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_GET_MEM_REGION %u: %s",
				i, strerror(-ret));
			goto err;
		}
		a->mem.regions[i].fd = r.fd;
		a->mem.regions[i].iova = r.iova;
		a->mem.regions[i].size = r.size;
		a->mem.nregions = i + 1;
		end = lseek(r.fd, 0, SEEK_END);
		if (end < 0 || (uint64_t)end != r.size) {
			ret = end < 0 ? -errno : -EINVAL;
			vlb_err(VLA_CONTROL_NODE, "memory region %u: lseek: %s", i,
				end < 0 ? strerror(-ret) : "size differs from the kernel's");
			goto err;
		}
	}
	return 0;

err:
	vla_put_mem(a);
	return ret;
}

/*
 * The rings the driver set up for the back-end, laid out as @features say
 * (net: which queue is the control queue, ours). With @rewind (a new
 * back-end takes over), each one starts where VIRTIO_LOOPBACK_REWIND_VQ
 * says, so that it sees again what its predecessor took and did not
 * complete; *@resubmitted counts those. A back-end with its own inflight
 * record (vuf_inflight_active()) resubmits from it: the ring is left as it
 * is (REWIND_F_QUERY) and starts at the used index, as the vhost-user spec
 * has it; its record says how many it owes. *@ndata: queues for the
 * back-end.
 */
static int vla_collect_vrings(struct vla *a, uint64_t features, struct vuf_vring *vr,
			      struct vlb_local_vring *ctrl_ring, unsigned int *ndata,
			      bool rewind, unsigned int *resubmitted)
{
	unsigned int i, pairs_on = UINT_MAX;
	int ret, ctrl = -1;

	*ndata = a->nqueues;
	/* Which queue is the control queue depends on MQ being accepted. */
	if (a->net_ctrl) {
		vla_net_ctrl_layout(features, a->net_pairs, ndata, &ctrl);
		pairs_on = vla_net_ctrl_pairs(a->net_ctrl);
	}
	memset(vr, 0, sizeof(*vr) * VIRTIO_LOOPBACK_MAX_QUEUES);
	for (i = 0; i < a->nqueues; i++) {
		struct virtio_loopback_vq_info info;
		struct virtio_loopback_vq_rewind rw;

		memset(&info, 0, sizeof(info));
		info.index = i;
		if (ioctl(a->ctl, VIRTIO_LOOPBACK_GET_VQ_INFO, &info)) {
			ret = -errno;
			vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_GET_VQ_INFO queue %u: %s",
				i, strerror(-ret));
			return ret;
		}
		if (!info.ready)
			continue;
		/* Ours, never the back-end's: no SET_VRING_* for it. */
		if ((int)i == ctrl) {
			*ctrl_ring = (struct vlb_local_vring) {
				.num = info.num, .desc = info.desc,
				.avail = info.avail, .used = info.used,
				.kick_fd = a->kick[i], .call_fd = a->call[i],
			};
			continue;
		}
		if (i >= *ndata) {
			vlb_dbg(VLB_DBG_DEV, NULL, "queue %u ready but unused with features 0x%llx: not handed over",
				i, (unsigned long long)features);
			continue;
		}
		vr[i].num = info.num;
		vr[i].desc = info.desc;
		vr[i].avail = info.avail;
		vr[i].used = info.used;
		vr[i].kick_fd = a->kick[i];
		vr[i].call_fd = a->call[i];
		/* Pairs the driver has not asked for yet stay disabled. */
		vr[i].disabled = a->net_ctrl && i / 2 >= pairs_on;
		if (!rewind)
			continue;
		memset(&rw, 0, sizeof(rw));
		rw.index = i;
		if (vuf_inflight_active(&a->fe))
			rw.flags = VIRTIO_LOOPBACK_REWIND_F_QUERY;
		if (ioctl(a->ctl, VIRTIO_LOOPBACK_REWIND_VQ, &rw)) {
			ret = -errno;
			vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_REWIND_VQ queue %u: %s",
				i, ret == -ESTALE ? "the requests in flight are not known" :
				strerror(-ret));
			return ret;
		}
		vr[i].base = rw.base;
		*resubmitted += rw.flags ? vuf_inflight_owed(&a->fe, i) : rw.outstanding;
	}
	return 0;
}

/*
 * Start the back-end's rings. Feature bits we added for our own config
 * fields, and the control queue's, are not the back-end's.
 */
static int vla_start_backend(struct vla *a, uint64_t features, uint8_t status,
			     const struct vuf_vring *vr, unsigned int ndata)
{
	int ret;

	a->data_queues = ndata;
	ret = vuf_start(&a->fe,
			vla_device_type_backend_features(&a->type, features) &
			a->fe.features, status, &a->mem, vr, ndata);
	if (ret)
		vlb_err(NULL, "%s", a->fe.err);
	return ret;
}

static const char *vla_attach_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such device (or its persist timeout ended)";
	case -EBUSY:
		return "another adapter owns it";
	case -EPERM:
		return "it was not created with --persist";
	case -EIO:
		return "the device is broken";
	case -EINVAL:
		return "the back-end does not describe the same device (type, queue count, --queue-size)";
	}
	return strerror(-err);
}

/*
 * --attach: take over a persistent device whose adapter went away. The
 * back-end was handshaken already; if the driver has the device running,
 * the rings go to it where the kernel says (VIRTIO_LOOPBACK_REWIND_VQ), as
 * after a back-end restart: whatever the old adapter's back-end took and
 * did not complete is handed over again.
 */
static int vla_attach(struct vla *a)
{
	struct virtio_loopback_queue_info qi[VIRTIO_LOOPBACK_MAX_QUEUES];
	struct vuf_vring vr[VIRTIO_LOOPBACK_MAX_QUEUES];
	struct virtio_loopback_attach at;
	unsigned int i, resubmitted = 0;
	uint64_t need;
	int ret;

	if (a->net_ctrl || a->type.id == VIRTIO_ID_GPU) {
		vlb_err(a->opts.attach, "--attach: not for %s (the adapter's own state would be lost)",
			a->net_ctrl ? "net devices with a control queue" : "gpu devices");
		return -EOPNOTSUPP;
	}
	ret = vla_make_eventfds(a, qi);
	if (ret)
		return ret;
	memset(&at, 0, sizeof(at));
	at.size = sizeof(at);
	snprintf(at.name, sizeof(at.name), "%s", a->opts.attach);
	at.device_id = a->type.id;
	at.num_queues = a->nqueues;
	at.queues = (uintptr_t)qi;
	if (ioctl(a->ctl, VIRTIO_LOOPBACK_ATTACH, &at)) {
		ret = -errno;
		vlb_err(a->opts.attach, "VIRTIO_LOOPBACK_ATTACH (%s device, %u queues of %u): %s",
			vla_device_type_name(&a->type), a->nqueues, a->opts.queue_size,
			vla_attach_error(ret));
		return ret;
	}
	/* What the device offers was fixed when it was created. */
	a->features = at.device_features;
	if (at.status & VIRTIO_CONFIG_S_DRIVER_OK) {
		struct vlb_local_vring ctrl_ring;
		unsigned int ndata;

		need = vla_device_type_backend_features(&a->type, at.driver_features);
		if ((a->fe.features & need) != need) {
			vlb_err(a->opts.socket, "the back-end lacks features 0x%llx the driver uses",
				(unsigned long long)(need & ~a->fe.features));
			return -EPROTO;
		}
		ret = vla_get_mem(a);
		if (ret)
			return ret;
		ret = vla_collect_vrings(a, at.driver_features, vr, &ctrl_ring, &ndata,
					 true, &resubmitted);
		if (ret)
			return ret;
		ret = vla_start_backend(a, at.driver_features, at.status, vr, ndata);
		if (ret)
			return ret;
		a->running = true;
		a->drv_features = at.driver_features;
		a->drv_status = at.status;
		/* A back-end looks at a ring when kicked: look now. */
		for (i = 0; i < ndata; i++)
			if (vr[i].num)
				eventfd_write(a->kick[i], 1);
	}
	/* A new adapter never has the old record: the kernel rewinds (above). */
	vlb_log(a->opts.attach, "attached (virtio%d, status 0x%x): %u requests handed to the back-end again (kernel rewind)",
		at.index == ~0U ? -1 : (int)at.index, at.status, resubmitted);
	if (at.index != ~0U && (at.status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		printf("ready virtio%u\n", at.index);
		fflush(stdout);
		a->announced = true;
	}
	return 0;
}

static int vla_driver_ok(struct vla *a, const struct virtio_loopback_event *ev)
{
	struct vuf_vring vr[VIRTIO_LOOPBACK_MAX_QUEUES];
	struct vlb_local_vring ctrl_ring = { .num = 0 };
	unsigned int ndata;
	int ret;

	/* DRIVER_OK without a reset in between: restart cleanly. */
	if (a->net_ctrl)
		vla_net_ctrl_stop(a->net_ctrl);
	a->ctrl_pending = false;
	a->running = false;
	if (a->fe.running) {
		ret = vuf_stop(&a->fe);
		if (ret) {
			vlb_err(NULL, "%s", a->fe.err);
			return ret;
		}
	}
	ret = vla_collect_vrings(a, ev->features, vr, &ctrl_ring, &ndata, false, NULL);
	if (ret)
		return ret;
	ret = vla_get_mem(a);
	if (ret)
		return ret;
	ret = vla_start_backend(a, ev->features, ev->status, vr, ndata);
	if (ret)
		return ret;
	if (ctrl_ring.num) {
		ret = vla_net_ctrl_start(a->net_ctrl, ev->features,
					 a->mem.regions[0].fd,
					 a->mem.regions[0].size, &ctrl_ring);
		if (ret)
			return ret;
	}
	a->running = true;
	a->drv_features = ev->features;
	a->drv_status = ev->status;
	return 0;
}

static int vla_reset(struct vla *a)
{
	int ret;

	a->running = false;
	ret = vuf_stop(&a->fe);

	if (ret)
		vlb_err(NULL, "%s", a->fe.err);
	/* The driver starts again with one queue pair. */
	if (a->net_ctrl)
		vla_net_ctrl_reset(a->net_ctrl);
	a->ctrl_pending = false;
	return ret;
}

/*
 * Re-read the back-end's config space into the kernel's copy; with @notify
 * the driver gets a config-change interrupt.
 */
static int vla_config_refresh(struct vla *a, bool notify)
{
	struct virtio_loopback_config cfg;
	uint8_t buf[VIRTIO_LOOPBACK_MAX_CONFIG_SIZE];
	uint32_t got = 0;
	int ret;

	if (!a->config_size ||
	    !vuf_has_protocol_feature(&a->fe, VHOST_USER_PROTOCOL_F_CONFIG))
		return 0;
	ret = vuf_get_config(&a->fe, buf, a->config_size, true, &got);
	if (ret) {
		vlb_err(NULL, "%s", a->fe.err);
		return ret;
	}
	memcpy(a->config, buf, got);

	memset(&cfg, 0, sizeof(cfg));
	cfg.offset = 0;
	cfg.len = got;
	cfg.flags = notify ? VIRTIO_LOOPBACK_CONFIG_F_NOTIFY : 0;
	cfg.data = (uintptr_t)buf;
	if (ioctl(a->ctl, VIRTIO_LOOPBACK_SET_CONFIG, &cfg)) {
		ret = -errno;
		vlb_err(VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_SET_CONFIG (%u bytes): %s",
			got, strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * The driver waits for our answer and may read the config right after
 * (virtio-input selects what the rest shows): forward the write, then
 * refresh the kernel's copy from the back-end. A back-end that refuses
 * the write is logged, not fatal (as in QEMU); the refresh then shows the
 * driver what the device kept.
 */
static int vla_config_write(struct vla *a,
			    const struct virtio_loopback_event *ev)
{
	int ret;

	if (ev->config_len == 0 ||
	    ev->config_len > VIRTIO_LOOPBACK_MAX_CONFIG_SIZE ||
	    ev->config_offset > VIRTIO_LOOPBACK_MAX_CONFIG_SIZE - ev->config_len) {
		vlb_err(VLA_CONTROL_NODE, "config write event with offset %u length %u",
			ev->config_offset, ev->config_len);
		return -EINVAL;
	}
	if (!vuf_has_protocol_feature(&a->fe, VHOST_USER_PROTOCOL_F_CONFIG)) {
		vlb_dbg(VLB_DBG_DEV, a->opts.socket, "config write at %u (%u bytes) not forwarded: no CONFIG protocol feature",
			ev->config_offset, ev->config_len);
		return 0;
	}
	ret = vuf_set_config(&a->fe, ev->config_offset, ev->config,
			     ev->config_len);
	if (ret == -EIO) {
		vlb_log(a->opts.socket, "back-end refused the driver's config write at %u (%u bytes)",
			ev->config_offset, ev->config_len);
	} else if (ret) {
		vlb_err(NULL, "%s", a->fe.err);
		return ret;
	}
	return vla_config_refresh(a, false);
}

/* VHOST_USER_BACKEND_CONFIG_CHANGE_MSG: fetch it, tell the driver. */
static int vla_config_changed(void *opaque)
{
	struct vla *a = opaque;
	int ret = vla_config_refresh(a, true);

	if (!ret)
		vlb_dbg(VLB_DBG_DEV, a->opts.socket, "config changed (%u bytes), driver notified",
			a->config_size);
	return ret;
}

static int vla_reconnect(struct vla *a);

/* The back-end closed its socket: worth waiting for it to come back? */
static bool vla_backend_lost(const struct vla *a, int err)
{
	return a->opts.reconnect_ms > 0 && a->type.id != VIRTIO_ID_GPU &&
	       (err == -ECONNRESET || err == -EPIPE || err == -ENOTCONN);
}

static int vla_answer_driver_ok(struct vla *a, const struct virtio_loopback_event *ev)
{
	int ret = vla_driver_ok(a, ev);

	if (vla_backend_lost(a, ret)) {
		/* It died just now: the next one gets this DRIVER_OK. */
		a->pending_driver_ok = *ev;
		a->have_pending = true;
		return vla_reconnect(a);
	}
	if (vla_reply(a, ev, ret) && !ret)
		ret = -EIO;
	if (!ret && !a->announced) {
		printf("ready virtio%u\n", ev->index);
		fflush(stdout);
		a->announced = true;
	}
	return ret;
}

/*
 * One event of the kernel. @offline: no back-end is connected (waiting
 * for it to come back): a reset has nothing to stop, a DRIVER_OK waits for
 * the next back-end, a config write cannot be forwarded.
 */
static int vla_handle_event(struct vla *a, bool offline)
{
	struct virtio_loopback_event ev;
	ssize_t n;
	int ret = 0;

	n = read(a->ctl, &ev, sizeof(ev));
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		ret = -errno;
		vlb_err(VLA_CONTROL_NODE, "read event: %s%s",
			strerror(-ret),
			ret == -EIO ? " (the kernel gave up waiting for an answer)" : "");
		return ret;
	}
	if ((size_t)n != sizeof(ev)) {
		vlb_err(VLA_CONTROL_NODE, "read event: %zd bytes, expected %zu",
			n, sizeof(ev));
		return -EPROTO;
	}

	switch (ev.type) {
	case VIRTIO_LOOPBACK_EV_DRIVER_OK:
		vlb_dbg(VLB_DBG_DEV, NULL, "event DRIVER_OK seq %u virtio%u features 0x%llx status 0x%x",
			ev.seq, ev.index, (unsigned long long)ev.features,
			ev.status);
		if (offline) {
			a->pending_driver_ok = ev;
			a->have_pending = true;
			return 0;
		}
		return vla_answer_driver_ok(a, &ev);
	case VIRTIO_LOOPBACK_EV_RESET:
		vlb_dbg(VLB_DBG_DEV, NULL, "event RESET seq %u", ev.seq);
		ret = offline ? 0 : vla_reset(a);
		a->running = false;
		if (vla_backend_lost(a, ret)) {
			/* Nothing left to stop. */
			ret = vla_reply(a, &ev, 0);
			return ret ? ret : vla_reconnect(a);
		}
		if (vla_reply(a, &ev, ret) && !ret)
			ret = -EIO;
		return ret;
	case VIRTIO_LOOPBACK_EV_CONFIG_WRITE:
		vlb_dbg(VLB_DBG_DEV, NULL, "event CONFIG_WRITE seq %u offset %u len %u",
			ev.seq, ev.config_offset, ev.config_len);
		if (offline) {
			vlb_log(NULL, "a config write of the driver while the back-end is away: refused");
			return vla_reply(a, &ev, -EIO);
		}
		ret = vla_config_write(a, &ev);
		if (vla_reply(a, &ev, ret) && !ret)
			ret = -EIO;
		return ret;
	case VIRTIO_LOOPBACK_EV_FAILED:
		vlb_log(NULL, "virtio%u: the driver set FAILED (status 0x%x)",
			ev.index, ev.status);
		return vla_reply(a, &ev, 0);
	case VIRTIO_LOOPBACK_EV_UNPLUGGED:
		vlb_dbg(VLB_DBG_DEV, NULL, "event UNPLUGGED seq %u virtio%u",
			ev.seq, ev.index);
		a->unplugged = true;
		return 0;
	default:
		vlb_dbg(VLB_DBG_DEV, NULL, "event %u seq %u ignored",
			ev.type, ev.seq);
		return vla_reply(a, &ev, -EOPNOTSUPP);
	}
}

/* Block SIGINT/SIGTERM and read them from a signalfd in the loop. */
static int vla_setup_signals(struct vla *a)
{
	sigset_t set;
	int ret;

	/*
	 * SIGUSR1 (screenshot) is only blocked here: the display thread takes
	 * it through its own signalfd, and without a display it must not kill
	 * the adapter.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		ret = -errno;
		vlb_err(NULL, "sigprocmask: %s", strerror(-ret));
		return ret;
	}
	sigdelset(&set, SIGUSR1);
	a->sig = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sig < 0) {
		ret = -errno;
		vlb_err(NULL, "signalfd: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

enum {
	VLA_PFD_CTL, VLA_PFD_SOCK, VLA_PFD_SIG, VLA_PFD_BACKEND, VLA_PFD_GPU,
	VLA_PFD_NET_CTRL, VLA_NPFD
};

/* Returns 0 on a signal (clean stop), else a negative errno. */
/*
 * SIGINT/SIGTERM: remove the device in order, serving the back-end while
 * the driver lets go (virtio-blk writes back its cache), so the back-end
 * is stopped before it loses the memory. A second signal, or a driver that
 * takes longer than a few back-end timeouts, makes it a surprise removal.
 * Returns true when the loop should end now.
 */
static bool vla_stop_requested(struct vla *a)
{
	struct signalfd_siginfo si;

	if (read(a->sig, &si, sizeof(si)) != sizeof(si))
		return false;
	if (a->unplug_deadline) {
		vlb_log(NULL, "signal %u again: removing the device at once", si.ssi_signo);
		return true;
	}
	vlb_dbg(VLB_DBG_DEV, NULL, "signal %u: removing the device", si.ssi_signo);
	if (ioctl(a->ctl, VIRTIO_LOOPBACK_UNPLUG)) {
		/* An older module: closing the session removes it. */
		vlb_dbg(VLB_DBG_DEV, VLA_CONTROL_NODE, "VIRTIO_LOOPBACK_UNPLUG: %s",
			strerror(errno));
		return true;
	}
	a->unplug_deadline = vuf_now_ms() + 3LL * a->opts.timeout_ms;
	return false;
}

/*
 * The back-end closed its socket. Keep the kernel device, wait (bounded)
 * for a back-end on the same socket path, replay the handshake, and give
 * it the rings where the kernel says (VIRTIO_LOOPBACK_REWIND_VQ: the
 * requests the old one took and never completed are seen again). Returns
 * 0 when a back-end took over (or the device is to be removed in order),
 * else a negative errno after one error line.
 */
static int vla_reconnect(struct vla *a)
{
	uint64_t need = vla_device_type_backend_features(&a->type, a->features) &
			a->fe.features;
	struct vuf_vring vr[VIRTIO_LOOPBACK_MAX_QUEUES];
	int64_t deadline = vuf_now_ms() + a->opts.reconnect_ms;
	unsigned int i, resubmitted = 0;
	bool own_record;
	int ret;

	vuf_close(&a->fe);
	vlb_log(a->opts.socket, "back-end gone; waiting up to %d s for it to come back",
		a->opts.reconnect_ms / 1000);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = a->ctl, .events = POLLIN },
			{ .fd = a->sig, .events = POLLIN },
		};
		int64_t now = vuf_now_ms();
		struct signalfd_siginfo si;

		if (now >= deadline) {
			vlb_err(a->opts.socket, "the back-end did not come back within %d s: removing the device",
				a->opts.reconnect_ms / 1000);
			return -ETIMEDOUT;
		}
		ret = poll(pfd, 2, deadline - now < 100 ? (int)(deadline - now) : 100);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			vlb_err(NULL, "poll: %s", strerror(-ret));
			return ret;
		}
		if (pfd[1].revents && read(a->sig, &si, sizeof(si)) == sizeof(si)) {
			vlb_log(NULL, "signal %u with no back-end: removing the device",
				si.ssi_signo);
			a->unplugged = true;
			return 0;
		}
		if (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			ret = vla_handle_event(a, true);
			if (ret)
				return ret;
			if (a->unplugged)
				return 0;
		}
		if (vuf_connect(&a->fe, a->opts.socket))
			continue;
		ret = vuf_negotiate(&a->fe);
		if (ret) {
			/* Perhaps still starting up: try again. */
			vlb_dbg(VLB_DBG_DEV, NULL, "%s", a->fe.err);
			vuf_close(&a->fe);
			continue;
		}
		break;
	}
	if ((a->fe.features & need) != need) {
		vlb_err(a->opts.socket, "the new back-end lacks features 0x%llx of the device",
			(unsigned long long)(need & ~a->fe.features));
		return -EPROTO;
	}
	/* net's control queue is ours, not the back-end's. */
	if (a->fe.queue_num && a->fe.queue_num < a->nqueues - (a->net_ctrl ? 1 : 0)) {
		vlb_err(a->opts.socket, "the new back-end has %u queues, the device %u",
			a->fe.queue_num, a->nqueues - (a->net_ctrl ? 1 : 0));
		return -EPROTO;
	}
	own_record = vuf_inflight_active(&a->fe);
	if (a->running) {
		struct vlb_local_vring ctrl_ring;
		unsigned int ndata;

		/* The control queue is ours: it keeps running as it is. */
		ret = vla_collect_vrings(a, a->drv_features, vr, &ctrl_ring, &ndata,
					 true, &resubmitted);
		if (ret)
			return ret;
		ret = vla_start_backend(a, a->drv_features, a->drv_status, vr, ndata);
		if (ret)
			return ret;
		/* A back-end looks at a ring when kicked: look now. */
		for (i = 0; i < ndata; i++)
			if (vr[i].num)
				eventfd_write(a->kick[i], 1);
	}
	a->reconnects++;
	vlb_log(a->opts.socket, "back-end is back (restart %u): %u requests handed to it again (%s)",
		a->reconnects, resubmitted,
		own_record ? "its inflight record" : "kernel rewind");
	if (a->have_pending) {
		a->have_pending = false;
		return vla_answer_driver_ok(a, &a->pending_driver_ok);
	}
	return 0;
}

static int vla_loop(struct vla *a)
{
	for (;;) {
		struct pollfd pfd[VLA_NPFD] = {
			[VLA_PFD_CTL] = { .fd = a->ctl, .events = POLLIN },
			[VLA_PFD_SOCK] = { .fd = a->fe.sock, .events = POLLIN },
			[VLA_PFD_SIG] = { .fd = a->sig, .events = POLLIN },
			[VLA_PFD_BACKEND] = { .fd = a->fe.backend_fd,
					      .events = POLLIN },
			[VLA_PFD_GPU] = { .fd = a->gpu ? vla_gpu_fd(a->gpu) : -1,
					  .events = POLLIN },
			[VLA_PFD_NET_CTRL] = {
				.fd = a->net_ctrl ? vla_net_ctrl_kick_fd(a->net_ctrl) : -1,
				.events = POLLIN },
		};
		int ret, wait = -1;

		if (a->unplugged)
			return 0;
		if (a->unplug_deadline) {
			int64_t now = vuf_now_ms();

			if (now >= a->unplug_deadline) {
				vlb_err(NULL, "the driver did not let go of the device in %d s: removing it anyway",
					3 * a->opts.timeout_ms / 1000);
				return 0;
			}
			wait = a->unplug_deadline - now;
		}
		if (a->ctrl_pending)
			wait = 0;
		/* fd -1 (no back-end channel) is ignored by poll(). */
		ret = poll(pfd, VLA_NPFD, wait);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			vlb_err(NULL, "poll: %s", strerror(-ret));
			return ret;
		}

		if (pfd[VLA_PFD_SIG].revents && vla_stop_requested(a))
			return 0;
		/* The display thread stopped; it printed why. */
		if (pfd[VLA_PFD_GPU].revents) {
			ret = vla_gpu_error(a->gpu);
			return ret ? ret : -EIO;
		}
		if (pfd[VLA_PFD_SOCK].revents) {
			ret = vuf_check_idle(&a->fe);
			if (vla_backend_lost(a, ret)) {
				ret = vla_reconnect(a);
				if (ret)
					return ret;
				continue;
			}
			if (ret != -EAGAIN) {
				vlb_err(NULL, "%s", a->fe.err);
				return ret;
			}
		}
		if (pfd[VLA_PFD_CTL].revents & (POLLIN | POLLERR | POLLHUP)) {
			ret = vla_handle_event(a, false);
			if (ret)
				return ret;
		}
		/* After the events: a reset stops the control queue first. */
		if (a->net_ctrl && (pfd[VLA_PFD_NET_CTRL].revents || a->ctrl_pending)) {
			ret = vla_net_ctrl_handle_kick(a->net_ctrl,
						       pfd[VLA_PFD_NET_CTRL].revents);
			/* The back-end did not follow the driver (logged). */
			if (ret < 0)
				return ret;
			a->ctrl_pending = ret;
		}
		/* A config change acked while we waited for a reply. */
		ret = vuf_flush_config_change(&a->fe, vla_config_changed, a);
		if (ret)
			return ret;
		if (pfd[VLA_PFD_BACKEND].revents) {
			ret = vuf_handle_backend_req(&a->fe, vla_config_changed,
						     a);
			if (ret == -ECONNRESET) {
				/* Only the channel closed; the main socket tells if the back-end went. */
				vlb_dbg(VLB_DBG_MSG, NULL, "%s", a->fe.err);
			} else if (ret) {
				if (a->fe.backend_fd < 0)
					vlb_err(NULL, "%s", a->fe.err);
				return ret;
			}
		}
	}
}

/* gpu: hand the back-end its display socket (VHOST_USER_GPU_SET_SOCKET). */
static int vla_open_gpu(struct vla *a)
{
	struct vla_gpu_opts o = {
		.width = a->opts.gpu_width,
		.height = a->opts.gpu_height,
		.screenshot = a->opts.screenshot,
		.name = a->opts.socket,
		.timeout_ms = a->opts.timeout_ms,
	};

	if (a->type.id != VIRTIO_ID_GPU)
		return 0;
	a->gpu = vla_gpu_new(&o);
	if (!a->gpu)
		return -ENOMEM;
	return vla_gpu_open(a->gpu, a->fe.sock);
}

static void vla_cleanup(struct vla *a)
{
	unsigned int i;

	/* Our mapping of the device's memory goes before the device. */
	vla_net_ctrl_free(a->net_ctrl);
	a->net_ctrl = NULL;

	/*
	 * After an orderly removal the back-end goes first: it stopped its
	 * rings at the driver's reset and lets go of the memory before the
	 * kernel frees it. Otherwise the device goes first: closing the
	 * session removes it while the back-end may still finish requests.
	 */
	if (a->unplugged)
		vuf_close(&a->fe);
	if (a->ctl >= 0)
		close(a->ctl);
	a->ctl = -1;
	/* After the device: the display serves the back-end to the end. */
	vla_gpu_close(a->gpu);
	a->gpu = NULL;
	vuf_close(&a->fe);
	vla_put_mem(a);
	for (i = 0; i < VIRTIO_LOOPBACK_MAX_QUEUES; i++) {
		if (a->kick[i] >= 0)
			close(a->kick[i]);
		if (a->call[i] >= 0)
			close(a->call[i]);
	}
	if (a->sig >= 0)
		close(a->sig);
}

int main(int argc, char **argv)
{
	static struct vla a;
	unsigned int i;
	int ret;

	a.ctl = -1;
	a.sig = -1;
	a.mem.nregions = 0;
	for (i = 0; i < VIRTIO_LOOPBACK_MAX_QUEUES; i++) {
		a.kick[i] = -1;
		a.call[i] = -1;
	}

	vlb_log_init(VLA_PROG, 0);
	if (vla_parse_args(argc, argv, &a.opts))
		return VLA_EXIT_USAGE;
	vlb_log_init(VLA_PROG, a.opts.verbose ? VLB_DBG_ALL : 0);

	ret = vla_device_type_parse(a.opts.device, &a.type);
	if (ret) {
		vlb_err("--device", "unknown device type '%s' (see --help)",
			a.opts.device);
		return VLA_EXIT_USAGE;
	}
	for (i = 0; i < VLA_NUM_CONFIG_FIELDS; i++) {
		const struct vla_config_field *f = vla_config_field(i);

		if (a.opts.field_set[i] && f->type_id != a.type.id) {
			vlb_err(NULL, "--%s is not an option of %s devices (see --help)",
				f->option, vla_device_type_name(&a.type));
			return VLA_EXIT_USAGE;
		}
	}

	if ((a.opts.gpu_width || a.opts.screenshot) && a.type.id != VIRTIO_ID_GPU) {
		vlb_err(NULL, "--gpu-mode and --screenshot are options of gpu devices (see --help)");
		return VLA_EXIT_USAGE;
	}

	/* A write to a back-end that is gone must be an error, not death. */
	signal(SIGPIPE, SIG_IGN);
	vuf_init(&a.fe, a.opts.timeout_ms);
	a.fe.device_id = a.type.id;

	ret = vla_check_socket(a.opts.socket);
	if (!ret)
		ret = vla_open_control(&a);
	if (!ret)
		ret = vla_handshake(&a);
	if (!ret)
		ret = vla_setup_signals(&a);
	if (!ret)
		ret = vla_open_gpu(&a);
	if (!ret)
		ret = a.opts.attach ? vla_attach(&a) : vla_create(&a);
	if (!ret)
		ret = vla_loop(&a);

	vla_cleanup(&a);
	return ret ? VLA_EXIT_FAIL : 0;
}
