// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the vhost-user-input back-end against a hostile front-end.
 *
 * Creates a uinput source device, runs the real build/bin/vhost-user-input
 * on it and is its front-end: the config space answers select/subsel
 * (name, EV_BITS, ABS_INFO, an unknown select), an out-of-range config read
 * is refused without breaking the device; on the eventq a too-small buffer
 * is returned unused and the event goes to the next buffer; on the statusq
 * a short buffer, a device-writable one and an EV_MSC are returned unused
 * and not written, and the valid EV_LED behind them reaches the source.
 * Then SIGTERM: exit 0, socket removed.
 *
 * Needs /dev/uinput (skips without: the lab runs it inside the guest).
 * Usage: test_dev_input [PATH-TO-vhost-user-input]; default
 * $VHOST_USER_INPUT, then build/bin/vhost-user-input.
 */
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/uinput.h>
#include <linux/virtio_input.h>

#include "vlb.h"
#include "unit/t_vring.h"

#define MEM_SIZE	(256 * 1024)
#define QVA		0x20000000ULL
#define NUM		16
#define EVQ_DESC	0x1000
#define EVQ_AVAIL	0x2000
#define EVQ_USED	0x3000
#define STQ_DESC	0x4000
#define STQ_AVAIL	0x5000
#define STQ_USED	0x6000
#define BUFS		0x10000

static char tmpdir[64];
static char sock_path[128];
static char node[64];

static int src_create(int *fdp)
{
	struct uinput_setup us = {
		.id = { .bustype = BUS_VIRTUAL, .vendor = 0x1234, .product = 0x5678 },
		.name = "test_dev_input source",
	};
	struct uinput_abs_setup abs = { ABS_X, { .minimum = 0, .maximum = 999, .resolution = 7 } };
	char sys[64], path[PATH_MAX];
	int fd, n, tries;

	fd = open("/dev/uinput", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UI_SET_EVBIT, EV_KEY) || ioctl(fd, UI_SET_KEYBIT, KEY_A) ||
	    ioctl(fd, UI_SET_EVBIT, EV_LED) || ioctl(fd, UI_SET_LEDBIT, LED_CAPSL) ||
	    ioctl(fd, UI_SET_EVBIT, EV_MSC) || ioctl(fd, UI_SET_MSCBIT, MSC_SCAN) ||
	    ioctl(fd, UI_SET_EVBIT, EV_ABS) || ioctl(fd, UI_SET_ABSBIT, ABS_X) ||
	    ioctl(fd, UI_ABS_SETUP, &abs) || ioctl(fd, UI_DEV_SETUP, &us) ||
	    ioctl(fd, UI_DEV_CREATE) || ioctl(fd, UI_GET_SYSNAME(sizeof(sys)), sys) < 0)
	{
		t_fail("uinput setup: %s", strerror(errno));
		return -EIO;
	}
	*fdp = fd;
	for (tries = 0; tries < 100; tries++) {
		for (n = 0; n < 256; n++) {
			snprintf(path, sizeof(path), "/sys/devices/virtual/input/%s/event%d", sys, n);
			snprintf(node, sizeof(node), "/dev/input/event%d", n);
			if (!access(path, F_OK) && !access(node, F_OK))
				return 0;
		}
		usleep(50000);
	}
	t_fail("no event node for %s", sys);
	return -ENOENT;
}

static int emit(int fd, unsigned int type, unsigned int code, int value)
{
	struct input_event ev = { .type = type, .code = code, .value = value };

	return write(fd, &ev, sizeof(ev)) == sizeof(ev) ? 0 : -errno;
}

/* Select, then read the whole config space. */
static int cfg_read(struct t_fe *fe, uint8_t select, uint8_t subsel,
		    struct virtio_input_config *cfg)
{
	struct vhost_user_config c = { .offset = 0, .size = 2 };
	struct vhost_user_msg r;
	int ret;

	c.region[0] = select;
	c.region[1] = subsel;
	ret = t_fe_call(fe, VHOST_USER_SET_CONFIG, &c, VHOST_USER_CONFIG_HDR_SIZE + 2,
			NULL, 0, NULL);
	if (ret)
		return t_fail("SET_CONFIG select 0x%x: %s", select, strerror(-ret));
	c.size = sizeof(*cfg);
	memset(c.region, 0, sizeof(c.region));
	ret = t_fe_call(fe, VHOST_USER_GET_CONFIG, &c, VHOST_USER_CONFIG_HDR_SIZE + sizeof(*cfg),
			NULL, 0, &r);
	if (ret || r.hdr.size != VHOST_USER_CONFIG_HDR_SIZE + sizeof(*cfg))
		return t_fail("GET_CONFIG after select 0x%x: %d, %u bytes", select, ret,
			      r.hdr.size);
	memcpy(cfg, r.payload.config.region, sizeof(*cfg));
	if (cfg->select != select || cfg->subsel != subsel)
		return t_fail("config reads back select 0x%x subsel 0x%x", cfg->select,
			      cfg->subsel);
	return 0;
}

static int test_config(struct t_fe *fe)
{
	struct virtio_input_config cfg;
	struct vhost_user_config c = { .offset = sizeof(cfg) - 6, .size = 16 };
	struct vhost_user_msg r;
	int ret;

	if (cfg_read(fe, VIRTIO_INPUT_CFG_ID_NAME, 0, &cfg))
		return 1;
	if (cfg.size != strlen("test_dev_input source") ||
	    memcmp(cfg.u.string, "test_dev_input source", cfg.size))
		return t_fail("ID_NAME: size %u '%.*s'", cfg.size, cfg.size, cfg.u.string);
	if (cfg_read(fe, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, &cfg))
		return 1;
	if (cfg.size != KEY_A / 8 + 1 || !(cfg.u.bitmap[KEY_A / 8] & (1U << (KEY_A % 8))))
		return t_fail("EV_BITS EV_KEY: size %u", cfg.size);
	if (cfg_read(fe, VIRTIO_INPUT_CFG_ABS_INFO, ABS_X, &cfg))
		return 1;
	if (cfg.size != sizeof(cfg.u.abs) || le32toh(cfg.u.abs.max) != 999 || le32toh(cfg.u.abs.res) != 7)
		return t_fail("ABS_INFO ABS_X: size %u max %u res %u", cfg.size, cfg.u.abs.max,
			      cfg.u.abs.res);
	if (cfg_read(fe, VIRTIO_INPUT_CFG_ABS_INFO, ABS_Y, &cfg) || cfg.size)
		return t_fail("ABS_INFO of an axis the device lacks: size %u", cfg.size);
	if (cfg_read(fe, 0x7f, 0, &cfg) || cfg.size)
		return t_fail("unknown select: size %u", cfg.size);
	/* Past the end of virtio_input_config: refused, device still usable. */
	ret = t_fe_call(fe, VHOST_USER_GET_CONFIG, &c, VHOST_USER_CONFIG_HDR_SIZE + 16, NULL, 0,
			&r);
	if (ret || r.hdr.size != 0)
		return t_fail("GET_CONFIG past the end: %d, %u bytes (want an empty reply)", ret,
			      r.hdr.size);
	return 0;
}

/* Wait for @n used entries on @r; their ids and lengths go to @ids/@lens. */
static int wait_used(struct t_ring *r, int call, unsigned int n, uint32_t *ids,
		     uint32_t *lens, const char *what)
{
	unsigned int got = 0, waited = 0;
	uint64_t v;

	while (got < n) {
		while (got < n && t_ring_get_used(r, &ids[got], &lens[got]) == 0)
			got++;
		if (got == n)
			break;
		if (waited >= T_WAIT_MS)
			return t_fail("%s: %u of %u buffers used after %d ms", what, got, n,
				      T_WAIT_MS);
		if (!t_wait_readable(call, 100) && read(call, &v, sizeof(v)) < 0)
			return t_fail("call eventfd: %s", strerror(errno));
		waited += 100;
	}
	return 0;
}

static int kick(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : t_fail("kick: %s",
									  strerror(errno));
}

static int test_queues(struct t_sess *s, int src)
{
	struct t_ring *evq = &s->ring[0], *stq = &s->ring[1];
	uint8_t *mem = s->mem;
	struct virtio_input_event e, led = { .type = EV_LED, .code = LED_CAPSL, .value = 1 };
	struct virtio_input_event msc = { .type = EV_MSC, .code = MSC_SCAN, .value = 5 };
	uint32_t ids[8], lens[8];
	struct input_event ev;
	unsigned int i;
	int ret;

	t_sess_ring(s, 0, NUM, EVQ_DESC, EVQ_AVAIL, EVQ_USED);
	t_sess_ring(s, 1, NUM, STQ_DESC, STQ_AVAIL, STQ_USED);
	if (t_sess_start(s, 2))
		return 1;
	ret = t_fe_set_u64(&s->fe, VHOST_USER_SET_STATUS, 0xf);
	if (ret)
		return t_fail("SET_STATUS: %s", strerror(-ret));

	/* eventq: a 4-byte buffer first, then three good ones. */
	t_ring_desc(evq, 0, BUFS, 4, T_DESC_F_WRITE, 0);
	t_ring_post(evq, 0);
	for (i = 1; i < 4; i++) {
		t_ring_desc(evq, i, BUFS + 16 * i, 8, T_DESC_F_WRITE, 0);
		t_ring_post(evq, i);
	}
	if (kick(s->kick[0]))
		return 1;
	if (emit(src, EV_KEY, KEY_A, 1) || emit(src, EV_SYN, SYN_REPORT, 0))
		return t_fail("uinput write: %s", strerror(errno));
	if (wait_used(evq, s->call[0], 3, ids, lens, "eventq"))
		return 1;
	if (ids[0] != 0 || lens[0] != 0)
		return t_fail("too-small buffer: used id %u len %u, want id 0 len 0", ids[0],
			      lens[0]);
	memcpy(&e, mem + BUFS + 16, sizeof(e));
	if (ids[1] != 1 || lens[1] != 8 || e.type != EV_KEY || e.code != KEY_A || e.value != 1)
		return t_fail("first event: id %u len %u type %u code %u value %u", ids[1],
			      lens[1], e.type, e.code, e.value);
	memcpy(&e, mem + BUFS + 32, sizeof(e));
	if (ids[2] != 2 || e.type != EV_SYN || e.code != SYN_REPORT)
		return t_fail("second event: id %u type %u code %u", ids[2], e.type, e.code);

	/* statusq: short, device-writable, EV_MSC, then a good EV_LED. */
	memcpy(mem + BUFS + 0x100, &led, sizeof(led));
	memcpy(mem + BUFS + 0x200, &msc, sizeof(msc));
	t_ring_desc(stq, 0, BUFS + 0x100, 4, 0, 0);
	t_ring_desc(stq, 1, BUFS + 0x100, 8, T_DESC_F_WRITE, 0);
	t_ring_desc(stq, 2, BUFS + 0x200, 8, 0, 0);
	t_ring_desc(stq, 3, BUFS + 0x100, 8, 0, 0);
	for (i = 0; i < 4; i++)
		t_ring_post(stq, i);
	if (kick(s->kick[1]) || wait_used(stq, s->call[1], 4, ids, lens, "statusq"))
		return 1;
	for (i = 0; i < 4; i++)
		if (ids[i] != i || lens[i] != 0)
			return t_fail("status buffer %u: used id %u len %u", i, ids[i], lens[i]);
	/* The source sees exactly the LED (uinput also echoes nothing else). */
	if (t_wait_readable(src, T_WAIT_MS))
		return t_fail("no LED event at the source");
	while (read(src, &ev, sizeof(ev)) == sizeof(ev)) {
		if (ev.type == EV_LED && ev.code == LED_CAPSL && ev.value == 1)
			return 0;
		if (ev.type == EV_MSC)
			return t_fail("the malformed-batch EV_MSC reached the source");
	}
	return t_fail("the LED event did not reach the source");
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("VHOST_USER_INPUT");
	const uint64_t pwant = (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			       (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
			       (1ULL << VHOST_USER_PROTOCOL_F_MQ);
	struct t_sess s;
	struct t_fe *fe = &s.fe;
	int src = -1, status, ret;
	uint64_t v;
	pid_t pid;

	if (!path)
		path = "build/bin/vhost-user-input";
	if (access("/dev/uinput", W_OK)) {
		printf("test_dev_input: SKIP: no /dev/uinput\n");
		return T_EXIT_SKIP;
	}
	ret = src_create(&src);
	if (ret == -EIO || ret == -ENOENT)
		return T_EXIT_FAIL;
	if (ret) {
		printf("test_dev_input: SKIP: /dev/uinput: %s\n", strerror(-ret));
		return T_EXIT_SKIP;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_dev_input.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		t_fail("mkdtemp: %s", strerror(errno));
		return T_EXIT_FAIL;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/in.sock", tmpdir);
	pid = fork();
	if (pid == 0) {
		execl(path, path, "--socket-path", sock_path, "--evdev", node, "--grab", NULL);
		_exit(127);
	}
	ret = T_EXIT_FAIL;
	if (t_sess_new(&s, NULL, 2, NULL, NULL, MEM_SIZE))
		goto out;
	if (pid < 0 || t_connect_unix(sock_path, &fe->sock)) {
		t_fail("%s did not listen on %s", path, sock_path);
		goto out;
	}
	if (t_fe_get_u64(fe, VHOST_USER_GET_FEATURES, &v) ||
	    t_fe_set_u64(fe, VHOST_USER_SET_FEATURES, v) ||
	    t_fe_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v) || (v & pwant) != pwant ||
	    t_fe_set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES, pwant)) {
		t_fail("negotiation (protocol features 0x%llx)", (unsigned long long)v);
		goto out;
	}
	fe->reply_ack = true;
	if (t_fe_get_u64(fe, VHOST_USER_GET_QUEUE_NUM, &v) || v != 2) {
		t_fail("GET_QUEUE_NUM %llu, want 2", (unsigned long long)v);
		goto out;
	}
	if (t_sess_set_mem(&s, QVA))
		goto out;
	if (test_config(fe) || test_queues(&s, src))
		goto out;
	ret = T_EXIT_PASS;
out:
	if (pid > 0) {
		kill(pid, SIGTERM);
		if (waitpid(pid, &status, 0) == pid && ret == T_EXIT_PASS &&
		    (!WIFEXITED(status) || WEXITSTATUS(status))) {
			t_fail("vhost-user-input: status 0x%x after SIGTERM, want exit 0", status);
			ret = T_EXIT_FAIL;
		}
	}
	if (ret == T_EXIT_PASS && !access(sock_path, F_OK)) {
		t_fail("socket left after SIGTERM");
		ret = T_EXIT_FAIL;
	}
	t_sess_close(&s, NULL);
	rmdir(tmpdir);
	ioctl(src, UI_DEV_DESTROY);
	close(src);
	if (ret == T_EXIT_PASS)
		printf("test_dev_input: PASS\n");
	return ret;
}
