// SPDX-License-Identifier: GPL-2.0
/*
 * vl-input-test: the evdev/uinput side of the input lab test
 * (tests/lab/test_input_01.sh). Runs inside the lab guest.
 *
 *	vl-input-test uinput		create the source device, print
 *					"ready /dev/input/eventN", then run the
 *					commands read from stdin (below) and print
 *					"led CODE VALUE" for each LED event the
 *					device receives
 *	vl-input-test info DEV		name, ids, property, event and abs
 *					bits of an evdev device, one per line
 *	vl-input-test read DEV		print "TYPE CODE VALUE" for every event
 *					until the device goes ("gone") or SIGTERM
 *	vl-input-test write DEV TYPE CODE VALUE
 *					write one event and a SYN_REPORT
 *
 * Commands of "uinput": "ev TYPE CODE VALUE" emits one event; "burst N"
 * emits N batches of MSC_SCAN i, KEY_B down or up, SYN_REPORT, 1 ms apart;
 * "quit" (or end of input) destroys the device.
 *
 * The source device has multi-touch slots so that evdev gives each reader
 * a large buffer: the test counts events, and a loss in the evdev buffer
 * of the source would blame the back-end for the kernel's drop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/input.h>
#include <linux/uinput.h>

#define PROG		"vl-input-test"
#define BITS_PER_LONG	(CHAR_BIT * sizeof(unsigned long))
#define NLONGS(n)	(((n) + BITS_PER_LONG - 1) / BITS_PER_LONG)

static int die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(errno));
	return 1;
}

static int emit(int fd, unsigned int type, unsigned int code, int value)
{
	struct input_event ev = { .type = type, .code = code, .value = value };

	return write(fd, &ev, sizeof(ev)) == sizeof(ev) ? 0 : -errno;
}

static const struct uinput_abs_setup src_abs[] = {
	{ ABS_X, { .minimum = 0, .maximum = 1023, .resolution = 12 } },
	{ ABS_Y, { .minimum = -5, .maximum = 767, .fuzz = 4, .flat = 8, .resolution = 3 } },
	{ ABS_MT_SLOT, { .minimum = 0, .maximum = 31 } },
	{ ABS_MT_TRACKING_ID, { .minimum = 0, .maximum = 65535 } },
	{ ABS_MT_POSITION_X, { .minimum = 0, .maximum = 1023 } },
};

static int src_create(int fd)
{
	static const unsigned int keys[] = {
		KEY_A, KEY_B, KEY_C, KEY_ENTER, KEY_LEFTSHIFT, BTN_LEFT, BTN_RIGHT,
	};
	static const unsigned int rels[] = { REL_X, REL_Y, REL_WHEEL };
	static const unsigned int leds[] = { LED_NUML, LED_CAPSL, LED_SCROLLL };
	struct uinput_setup us = {
		.id = { .bustype = BUS_USB, .vendor = 0x1d6b, .product = 0x0104,
			.version = 0x0111 },
		.name = "vl-input-test source device",
	};
	size_t i;

	if (ioctl(fd, UI_SET_EVBIT, EV_KEY) || ioctl(fd, UI_SET_EVBIT, EV_REL) ||
	    ioctl(fd, UI_SET_EVBIT, EV_ABS) || ioctl(fd, UI_SET_EVBIT, EV_LED) ||
	    ioctl(fd, UI_SET_EVBIT, EV_MSC) || ioctl(fd, UI_SET_MSCBIT, MSC_SCAN) ||
	    ioctl(fd, UI_SET_PROPBIT, INPUT_PROP_POINTER))
		return die("UI_SET_*BIT");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ioctl(fd, UI_SET_KEYBIT, keys[i]))
			return die("UI_SET_KEYBIT");
	for (i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
		if (ioctl(fd, UI_SET_RELBIT, rels[i]))
			return die("UI_SET_RELBIT");
	for (i = 0; i < sizeof(leds) / sizeof(leds[0]); i++)
		if (ioctl(fd, UI_SET_LEDBIT, leds[i]))
			return die("UI_SET_LEDBIT");
	for (i = 0; i < sizeof(src_abs) / sizeof(src_abs[0]); i++)
		if (ioctl(fd, UI_SET_ABSBIT, src_abs[i].code) ||
		    ioctl(fd, UI_ABS_SETUP, &src_abs[i]))
			return die("UI_ABS_SETUP");
	if (ioctl(fd, UI_DEV_SETUP, &us) || ioctl(fd, UI_DEV_CREATE))
		return die("UI_DEV_CREATE");
	return 0;
}

/* /dev/input/eventN of the uinput device, once devtmpfs has it. */
static int src_node(int fd, char *node, size_t len)
{
	char sys[64], path[PATH_MAX];
	int tries;

	if (ioctl(fd, UI_GET_SYSNAME(sizeof(sys)), sys) < 0)
		return die("UI_GET_SYSNAME");
	for (tries = 0; tries < 300; tries++) {
		int n;

		for (n = 0; n < 1024; n++) {
			snprintf(path, sizeof(path), "/sys/devices/virtual/input/%s/event%d", sys, n);
			if (access(path, F_OK))
				continue;
			snprintf(node, len, "/dev/input/event%d", n);
			if (!access(node, F_OK))
				return 0;
		}
		usleep(100000);
	}
	fprintf(stderr, "%s: no event node for %s\n", PROG, sys);
	return 1;
}

static int src_command(int fd, char *line)
{
	unsigned int type, code, n, i;
	int value;

	if (sscanf(line, "ev %u %u %d", &type, &code, &value) == 3)
		return emit(fd, type, code, value) ? die("emitting an event") : 0;
	if (sscanf(line, "burst %u", &n) == 1) {
		for (i = 0; i < n; i++) {
			struct timespec ts = { .tv_nsec = 1000000 };

			if (emit(fd, EV_MSC, MSC_SCAN, i) || emit(fd, EV_KEY, KEY_B, !(i & 1)) ||
			    emit(fd, EV_SYN, SYN_REPORT, 0))
				return die("emitting a burst");
			nanosleep(&ts, NULL);
		}
		return 0;
	}
	fprintf(stderr, "%s: unknown command: %s", PROG, line);
	return 1;
}

static int cmd_uinput(void)
{
	struct pollfd pfd[2] = { { .fd = 0, .events = POLLIN } };
	char node[64], line[256];
	size_t have = 0;
	int fd, ret = 1;

	fd = open("/dev/uinput", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return die("/dev/uinput");
	if (src_create(fd) || src_node(fd, node, sizeof(node)))
		goto out;
	printf("ready %s\n", node);
	fflush(stdout);
	pfd[1] = (struct pollfd){ .fd = fd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
			goto out;
		}
		if (pfd[1].revents) {
			struct input_event ev;

			while (read(fd, &ev, sizeof(ev)) == sizeof(ev)) {
				if (ev.type == EV_LED)
					printf("led %u %d\n", ev.code, ev.value);
				else if (ev.type != EV_UINPUT && ev.type != EV_SYN)
					printf("ev %u %u %d\n", ev.type, ev.code, ev.value);
			}
			fflush(stdout);
		}
		if (pfd[0].revents) {
			ssize_t n = read(0, line + have, sizeof(line) - 1 - have);
			char *nl;

			if (n <= 0)
				break;
			have += n;
			line[have] = 0;
			while ((nl = strchr(line, '\n'))) {
				size_t len = nl - line + 1;
				char c = line[len];

				line[len] = 0;
				if (!strcmp(line, "quit\n")) {
					ret = 0;
					goto out;
				}
				if (src_command(fd, line))
					goto out;
				line[len] = c;
				memmove(line, line + len, have - len + 1);
				have -= len;
			}
			if (have == sizeof(line) - 1) {
				fprintf(stderr, "%s: command too long\n", PROG);
				goto out;
			}
		}
	}
	ret = 0;
out:
	ioctl(fd, UI_DEV_DESTROY);
	close(fd);
	return ret;
}

static void print_bits(const char *what, const unsigned long *bits, unsigned int nbits)
{
	unsigned int i;

	printf("%s", what);
	for (i = 0; i < nbits; i++)
		if (bits[i / BITS_PER_LONG] & (1UL << (i % BITS_PER_LONG)))
			printf(" %u", i);
	printf("\n");
}

static int cmd_info(const char *dev)
{
	unsigned long types[NLONGS(EV_CNT)] = { 0 }, bits[NLONGS(KEY_CNT)];
	char name[256] = "", uniq[256] = "";
	struct input_id id;
	unsigned int t, a;
	int fd;

	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die(dev);
	if (ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name) < 0 || ioctl(fd, EVIOCGID, &id) < 0 ||
	    ioctl(fd, EVIOCGBIT(0, sizeof(types)), types) < 0)
		return die("EVIOCGNAME/EVIOCGID/EVIOCGBIT");
	ioctl(fd, EVIOCGUNIQ(sizeof(uniq) - 1), uniq);
	printf("name \"%s\"\nuniq \"%s\"\n", name, uniq);
	printf("id bus 0x%04x vendor 0x%04x product 0x%04x version 0x%04x\n",
	       id.bustype, id.vendor, id.product, id.version);
	memset(bits, 0, sizeof(bits));
	if (ioctl(fd, EVIOCGPROP(sizeof(bits)), bits) < 0)
		return die("EVIOCGPROP");
	print_bits("props", bits, INPUT_PROP_CNT);
	print_bits("types", types, EV_CNT);
	for (t = 1; t < EV_CNT; t++) {
		char what[16];

		if (!(types[t / BITS_PER_LONG] & (1UL << (t % BITS_PER_LONG))))
			continue;
		memset(bits, 0, sizeof(bits));
		if (ioctl(fd, EVIOCGBIT(t, sizeof(bits)), bits) < 0)
			continue;
		snprintf(what, sizeof(what), "type %u", t);
		print_bits(what, bits, KEY_CNT);
		if (t != EV_ABS)
			continue;
		for (a = 0; a < ABS_CNT; a++) {
			struct input_absinfo ai;

			if (!(bits[a / BITS_PER_LONG] & (1UL << (a % BITS_PER_LONG))))
				continue;
			if (ioctl(fd, EVIOCGABS(a), &ai) < 0)
				return die("EVIOCGABS");
			printf("abs %u min %d max %d fuzz %d flat %d res %d\n", a, ai.minimum,
			       ai.maximum, ai.fuzz, ai.flat, ai.resolution);
		}
	}
	close(fd);
	return fflush(stdout) ? 1 : 0;
}

static int cmd_read(const char *dev)
{
	struct input_event ev[64];
	int fd;

	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die(dev);
	printf("reading\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = read(fd, ev, sizeof(ev));
		ssize_t i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENODEV) {
			printf("gone\n");
			break;
		}
		if (n <= 0)
			return die("read");
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++)
			printf("%u %u %d\n", ev[i].type, ev[i].code, ev[i].value);
		fflush(stdout);
	}
	close(fd);
	return fflush(stdout) ? 1 : 0;
}

static int cmd_write(const char *dev, char **args)
{
	int fd, ret;

	fd = open(dev, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return die(dev);
	ret = emit(fd, strtoul(args[0], NULL, 0), strtoul(args[1], NULL, 0),
		   strtol(args[2], NULL, 0));
	if (!ret)
		ret = emit(fd, EV_SYN, SYN_REPORT, 0);
	close(fd);
	if (ret) {
		errno = -ret;
		return die("write");
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "uinput"))
		return cmd_uinput();
	if (argc == 3 && !strcmp(argv[1], "info"))
		return cmd_info(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "read"))
		return cmd_read(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], argv + 3);
	fprintf(stderr, "usage: %s uinput | info DEV | read DEV | write DEV TYPE CODE VALUE\n",
		PROG);
	return 2;
}
