// SPDX-License-Identifier: GPL-2.0
/*
 * Description: vhost-user-gpio's request and interrupt handling, under
 * ASan/UBSan, against a model host chip.
 *
 * The device runs in this process behind a vhost-user front-end of ours
 * (rings in a memfd, as a driver lays them out); the host chip is a model
 * that replaces gpio_host.c (7 of its 8 lines exposed with --lines 0-5,7,
 * one name repeated and one not ASCII, one line busy, one an output).
 * Checked: --lines parsing; the config space and the GET_NAMES block;
 * directions (the host's until the driver sets one), values, SET_VALUE
 * kept for a later output, NONE releasing the host line; a busy host line
 * answered ERR; every kind of malformed request (short and long request,
 * short and missing response buffer, unknown type, gpio >= ngpio, bad
 * direction, value and irq type, an interrupt on an output, a request
 * split over descriptors) answered ERR or returned unused, never a crash;
 * interrupts: edge delivered when unmasked, latched while masked, level
 * high judged by the line, buffers returned INVALID when disabled or not
 * enabled, malformed and duplicate eventq buffers; 20,000 random requests
 * and eventq buffers; a reset releases every host line.
 * The lab test (tests/lab/test_gpio_01.sh) drives the real driver and chip.
 */
#include <endian.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "helpers.h"
#include "unit/t_vring.h"

#define main gpio_main
#include "../../devices/gpio/vhost-user-gpio.c"
#undef main

/* Model host chip ---------------------------------------------------------- */

#define FAKE_LINES	8

static int failures;

struct fake_line {
	const char *name;
	bool host_output;	/* direction before anyone requests it */
	bool busy;		/* another consumer holds it */
	int fd;			/* our request (an eventfd), or -1 */
	enum gpio_host_mode mode;
	unsigned int edges;
	int driven;		/* value while an output */
	int level;		/* value the outside world puts on it */
	bool ev[64];		/* queued edge events: rising? */
	unsigned int nev;
	unsigned int requests;
};

static struct fake_line fake[FAKE_LINES] = {
	{ .name = "alpha" }, { .name = "beta" }, { .name = "" }, { .name = "alpha" },
	{ .name = "d\xe9lta" }, { .name = "busy", .busy = true }, { .name = "skipped" },
	{ .name = "out", .host_output = true, .level = 1, .driven = 1 },
};

static struct fake_line *fake_by_fd(int fd)
{
	unsigned int i;

	for (i = 0; i < FAKE_LINES; i++)
		if (fake[i].fd == fd && fd >= 0)
			return &fake[i];
	return NULL;
}

int gpio_host_open(const char *path, struct gpio_host_chip *chip)
{
	unsigned int i;

	for (i = 0; i < FAKE_LINES; i++)
		fake[i].fd = -1;
	memset(chip, 0, sizeof(*chip));
	chip->path = path;
	chip->fd = eventfd(0, EFD_CLOEXEC);
	snprintf(chip->name, sizeof(chip->name), "gpiochip9");
	snprintf(chip->label, sizeof(chip->label), "model");
	chip->lines = FAKE_LINES;
	return chip->fd < 0 ? -errno : 0;
}

void gpio_host_close(struct gpio_host_chip *chip)
{
	if (chip->fd >= 0)
		close(chip->fd);
	chip->fd = -1;
}

int gpio_host_line_info(const struct gpio_host_chip *chip, unsigned int offset,
			char *name, bool *output)
{
	(void)chip;
	if (offset >= FAKE_LINES)
		return -EINVAL;
	snprintf(name, GPIO_HOST_NAME_SIZE, "%s", fake[offset].name);
	*output = fake[offset].fd >= 0 ? fake[offset].mode == GPIO_HOST_OUTPUT :
					 fake[offset].host_output;
	return 0;
}

static void fake_config(struct fake_line *f, enum gpio_host_mode mode, unsigned int edges,
			int value)
{
	if (mode == GPIO_HOST_AS_IS)
		mode = f->host_output ? GPIO_HOST_OUTPUT : GPIO_HOST_INPUT;
	f->mode = mode;
	f->edges = mode == GPIO_HOST_INPUT ? edges : 0;
	if (mode == GPIO_HOST_OUTPUT)
		f->driven = value;
}

int gpio_host_request(const struct gpio_host_chip *chip, unsigned int offset,
		      enum gpio_host_mode mode, unsigned int edges, int value,
		      int *fdp)
{
	struct fake_line *f;

	(void)chip;
	if (offset >= FAKE_LINES)
		return -EINVAL;
	f = &fake[offset];
	if (f->busy || f->fd >= 0)
		return -EBUSY;
	f->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->fd < 0)
		return -errno;
	f->requests++;
	f->nev = 0;
	fake_config(f, mode, edges, value);
	*fdp = f->fd;
	return 0;
}

void gpio_host_release(int fd)
{
	struct fake_line *f = fake_by_fd(fd);

	if (!f) {
		t_fail("release of fd %d, which is no line request", fd);
		failures++;
		return;
	}
	close(fd);
	f->fd = -1;
	f->nev = 0;
}

int gpio_host_reconfigure(int fd, enum gpio_host_mode mode, unsigned int edges, int value)
{
	struct fake_line *f = fake_by_fd(fd);

	if (!f)
		return -EBADF;
	fake_config(f, mode, edges, value);
	return 0;
}

int gpio_host_get(int fd)
{
	struct fake_line *f = fake_by_fd(fd);

	if (!f)
		return -EBADF;
	return f->mode == GPIO_HOST_OUTPUT ? f->driven : f->level;
}

int gpio_host_set(int fd, int value)
{
	struct fake_line *f = fake_by_fd(fd);

	if (!f || f->mode != GPIO_HOST_OUTPUT)
		return -EPERM;
	f->driven = value;
	return 0;
}

int gpio_host_read_event(int fd, bool *rising)
{
	struct fake_line *f = fake_by_fd(fd);
	uint64_t v;

	if (!f)
		return -EBADF;
	if (!f->nev) {
		if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
		return 0;
	}
	*rising = f->ev[0];
	memmove(f->ev, f->ev + 1, --f->nev * sizeof(f->ev[0]));
	return 1;
}

/* The outside world moves host line @off to @level. */
static void fake_drive(unsigned int off, int level)
{
	struct fake_line *f = &fake[off];
	uint64_t one = 1;
	bool rising = level;

	if (f->level == level)
		return;
	f->level = level;
	if (f->fd < 0 || f->mode != GPIO_HOST_INPUT ||
	    !(f->edges & (rising ? GPIO_HOST_EDGE_RISING : GPIO_HOST_EDGE_FALLING)) ||
	    f->nev == ARRAY_SIZE(f->ev))
		return;
	f->ev[f->nev++] = rising;
	if (write(f->fd, &one, sizeof(one)) != sizeof(one))
		t_fail("eventfd write: %s", strerror(errno));
}

/* The session -------------------------------------------------------------- */

#define MEM_SIZE	(1024 * 1024)
#define QVA		0x40000000ULL
#define NUM		64
#define RQ_DESC		0x1000
#define RQ_AVAIL	0x2000
#define RQ_USED		0x3000
#define EQ_DESC		0x4000
#define EQ_AVAIL	0x5000
#define EQ_USED		0x6000
#define RQ_BUF		0x10000		/* request at +0, response at +0x100 */
#define EQ_BUFS		0x20000		/* 16 bytes per eventq buffer slot */
#define NAMES_MAX	0x1000

static struct t_sess sess;
static struct vlb_dev *dev;
static struct t_ring *rqr = &sess.ring[GPIO_REQUESTQ], *eqr = &sess.ring[GPIO_EVENTQ];
static uint8_t *mem;
static bool eq_busy[NUM / 2];	/* slot posted, not yet used */

#define CHECK(cond, ...)	T_CHECK_RET(cond, __VA_ARGS__)

static int sess_open(void)
{
	uint64_t feat = (1ULL << VLB_F_VERSION_1) | (1ULL << VIRTIO_GPIO_F_IRQ) |
			(1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	uint64_t v;
	int ret;

	if (t_sess_new(&sess, &gpio_iface, GPIO_QUEUES, &gpio, "gpio-test", MEM_SIZE))
		return 1;
	dev = sess.dev;
	mem = sess.mem;
	gpio.chip_path = "/dev/model";
	if (gpio_parse_option(&gpio, "lines", "0-5,7"))
		return t_fail("--lines 0-5,7 refused");
	ret = gpio_setup(dev);
	if (ret)
		return t_fail("gpio_setup: %s", strerror(-ret));
	if (t_sess_connect(&sess, feat, QVA))
		return 1;
	ret = t_fe_get_u64(&sess.fe, VHOST_USER_GET_FEATURES, &v);
	if (ret)
		return t_fail("GET_FEATURES: %s", strerror(-ret));
	if (!(v & (1ULL << VIRTIO_GPIO_F_IRQ)))
		return t_fail("VIRTIO_GPIO_F_IRQ not offered");
	t_sess_ring(&sess, GPIO_REQUESTQ, NUM, RQ_DESC, RQ_AVAIL, RQ_USED);
	t_sess_ring(&sess, GPIO_EVENTQ, NUM, EQ_DESC, EQ_AVAIL, EQ_USED);
	return t_sess_start(&sess, GPIO_QUEUES);
}

static void sess_close(void)
{
	t_sess_close(&sess, gpio_teardown);
}

/*
 * One request chain: @out_len bytes of request (split in two descriptors
 * when @split), @in_len bytes of response space (none when 0). Returns the
 * used length; the response is at mem + RQ_BUF + 0x100.
 */
static uint32_t rq_raw(const void *req, uint32_t out_len, uint32_t in_len, bool split)
{
	unsigned int d = 0;
	uint32_t id, len;

	memcpy(mem + RQ_BUF, req, out_len);
	memset(mem + RQ_BUF + 0x100, 0xee, NAMES_MAX);
	if (split && out_len > 1) {
		t_ring_desc(rqr, d, RQ_BUF, out_len / 2, T_DESC_F_NEXT, d + 1);
		d++;
		t_ring_desc(rqr, d, RQ_BUF + out_len / 2, out_len - out_len / 2,
			    in_len ? T_DESC_F_NEXT : 0, d + 1);
	} else {
		t_ring_desc(rqr, d, RQ_BUF, out_len, in_len ? T_DESC_F_NEXT : 0, d + 1);
	}
	if (in_len)
		t_ring_desc(rqr, d + 1, RQ_BUF + 0x100, in_len, T_DESC_F_WRITE, 0);
	t_ring_post(rqr, 0);
	gpio_queue_kick(dev, GPIO_REQUESTQ);
	if (t_ring_get_used(rqr, &id, &len)) {
		t_fail("request not answered");
		failures++;
		return 0xffffffff;
	}
	return len;
}

/* A well-formed request; returns the status, the value in *@value. */
static int rq(uint16_t type, uint16_t nr, uint32_t value, uint8_t *out_value)
{
	struct virtio_gpio_request r = {
		.type = htole16(type), .gpio = htole16(nr), .value = htole32(value),
	};
	uint32_t len = rq_raw(&r, sizeof(r), 2, false);

	if (len != 2) {
		t_fail("request %u gpio %u: used length %u, want 2", type, nr, len);
		failures++;
		return -1;
	}
	if (out_value)
		*out_value = mem[RQ_BUF + 0x101];
	return mem[RQ_BUF + 0x100];
}

static int rq_ok(uint16_t type, uint16_t nr, uint32_t value)
{
	return rq(type, nr, value, NULL) == VIRTIO_GPIO_STATUS_OK;
}

static int rq_err(uint16_t type, uint16_t nr, uint32_t value)
{
	uint8_t v = 0xaa;

	return rq(type, nr, value, &v) == VIRTIO_GPIO_STATUS_ERR && v == 0;
}

/* Post an eventq buffer: @out_len bytes holding @nr, @in_len of status. */
static unsigned int eq_post(uint16_t nr, uint32_t out_len, uint32_t in_len)
{
	unsigned int slot = 0, d;
	uint16_t le = htole16(nr);
	uint64_t a;

	while (slot < NUM / 2 - 1 && eq_busy[slot])
		slot++;
	eq_busy[slot] = true;
	d = 2 * slot;
	a = EQ_BUFS + 16 * (uint64_t)slot;

	memcpy(mem + a, &le, 2);
	mem[a + 8] = 0xee;
	if (in_len && out_len) {
		t_ring_desc(eqr, d, a, out_len, T_DESC_F_NEXT, d + 1);
		t_ring_desc(eqr, d + 1, a + 8, in_len, T_DESC_F_WRITE, 0);
	} else if (in_len) {
		t_ring_desc(eqr, d, a + 8, in_len, T_DESC_F_WRITE, 0);
	} else {
		t_ring_desc(eqr, d, a, out_len, 0, 0);
	}
	t_ring_post(eqr, d);
	gpio_queue_kick(dev, GPIO_EVENTQ);
	return d;
}

/* The next used eventq buffer: 0 with its head and status, or -EAGAIN. */
static int eq_used(unsigned int *head, int *status, uint32_t *len)
{
	uint32_t id, l;

	if (t_ring_get_used(eqr, &id, &l))
		return -EAGAIN;
	*head = id;
	*len = l;
	eq_busy[(id / 2) % (NUM / 2)] = false;
	*status = mem[EQ_BUFS + 16 * (id / 2) + 8];
	return 0;
}

static int expect_irq(unsigned int head, int status, const char *what)
{
	unsigned int h;
	uint32_t len;
	int s;

	if (eq_used(&h, &s, &len))
		return t_fail("%s: no eventq buffer returned", what);
	if (h != head || s != status || len != 1)
		return t_fail("%s: buffer %u status %d len %u, want buffer %u status %d len 1",
			      what, h, s, len, head, status);
	return 0;
}

static int expect_no_irq(const char *what)
{
	unsigned int h;
	uint32_t len;
	int s;

	if (!eq_used(&h, &s, &len))
		return t_fail("%s: buffer %u returned with status %d", what, h, s);
	return 0;
}

static void run_events(void)
{
	gpio_epoll_cb(dev, gpio.epfd, POLLIN, &gpio);
}

/* Tests -------------------------------------------------------------------- */

static int test_parse_lines(void)
{
	static const char *const bad[] = {
		"", "a", "3-1", "1,1", "0-", "-1", "70000", "1,,2", "1-2-3", "0,0-3", "1 ", " 1",
		"65535", "0-65535",
	};
	struct gpio g = { .epfd = -1 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(gpio_parse_lines(&g, bad[i]) < 0, "--lines \"%s\" accepted", bad[i]);
	CHECK(!gpio_parse_lines(&g, "7,0-2,65534"), "--lines 7,0-2,65534 refused");
	CHECK(g.nlines == 5 && g.offsets[0] == 7 && g.offsets[1] == 0 && g.offsets[3] == 2 &&
	      g.offsets[4] == 65534, "--lines 7,0-2,65534: %u lines", g.nlines);
	free(g.offsets);
	return 0;
}

static int test_config_names(void)
{
	static const char want[] = "alpha\0beta\0\0\0d?lta\0busy\0out";
	struct virtio_gpio_config c;
	struct virtio_gpio_request r = { .type = htole16(VIRTIO_GPIO_MSG_GET_NAMES) };
	uint32_t len;

	CHECK(!gpio_get_config(dev, (uint8_t *)&c, 0, sizeof(c)), "config read refused");
	CHECK(le16toh(c.ngpio) == 7 && le32toh(c.gpio_names_size) == sizeof(want) &&
	      !c.padding[0] && !c.padding[1], "config: ngpio %u names_size %u",
	      le16toh(c.ngpio), le32toh(c.gpio_names_size));
	CHECK(gpio_get_config(dev, (uint8_t *)&c, 4, 8), "config read past the end accepted");
	len = rq_raw(&r, sizeof(r), 1 + sizeof(want), true);
	CHECK(len == 1 + sizeof(want) && mem[RQ_BUF + 0x100] == VIRTIO_GPIO_STATUS_OK &&
	      !memcmp(mem + RQ_BUF + 0x101, want, sizeof(want)),
	      "GET_NAMES: len %u status %u", len, mem[RQ_BUF + 0x100]);
	len = rq_raw(&r, sizeof(r), sizeof(want), false);
	CHECK(len == 2 && mem[RQ_BUF + 0x100] == VIRTIO_GPIO_STATUS_ERR,
	      "GET_NAMES one byte short: len %u status %u", len, mem[RQ_BUF + 0x100]);
	return 0;
}

static int test_directions_values(void)
{
	uint8_t v;

	/* The host's directions until the driver sets one (gpio 6 is host line 7). */
	CHECK(rq(VIRTIO_GPIO_MSG_GET_DIRECTION, 0, 0, &v) == 0 && v == VIRTIO_GPIO_DIRECTION_IN,
	      "gpio 0 direction %u", v);
	CHECK(rq(VIRTIO_GPIO_MSG_GET_DIRECTION, 6, 0, &v) == 0 && v == VIRTIO_GPIO_DIRECTION_OUT,
	      "gpio 6 direction %u", v);
	/* A value for later, then output: driven from the first moment. */
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_VALUE, 1, 1), "SET_VALUE before output");
	CHECK(fake[1].fd < 0, "SET_VALUE alone requested the host line");
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 1, VIRTIO_GPIO_DIRECTION_OUT), "output");
	CHECK(fake[1].fd >= 0 && fake[1].mode == GPIO_HOST_OUTPUT && fake[1].driven == 1,
	      "host line 1: fd %d mode %d driven %d", fake[1].fd, fake[1].mode, fake[1].driven);
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_VALUE, 1, 0) && fake[1].driven == 0, "SET_VALUE 0");
	CHECK(rq(VIRTIO_GPIO_MSG_GET_VALUE, 1, 0, &v) == 0 && v == 0, "GET_VALUE %u", v);
	CHECK(rq(VIRTIO_GPIO_MSG_GET_DIRECTION, 1, 0, &v) == 0 && v == VIRTIO_GPIO_DIRECTION_OUT,
	      "gpio 1 direction %u after output", v);
	/* Input, in place (the same request). */
	fake[1].level = 1;
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 1, VIRTIO_GPIO_DIRECTION_IN) &&
	      fake[1].requests == 1 && fake[1].mode == GPIO_HOST_INPUT, "input in place");
	CHECK(rq(VIRTIO_GPIO_MSG_GET_VALUE, 1, 0, &v) == 0 && v == 1, "input reads %u", v);
	/* NONE: released, and the value forgotten. */
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 1, VIRTIO_GPIO_DIRECTION_NONE) &&
	      fake[1].fd < 0, "NONE kept the host line");
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 1, VIRTIO_GPIO_DIRECTION_OUT) &&
	      fake[1].driven == 0, "after NONE, output drives %d (want 0)", fake[1].driven);
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 1, VIRTIO_GPIO_DIRECTION_NONE), "NONE");
	/* A line nobody configured is read as it is and not kept. */
	fake[0].level = 1;
	CHECK(rq(VIRTIO_GPIO_MSG_GET_VALUE, 0, 0, &v) == 0 && v == 1 && fake[0].fd < 0,
	      "GET_VALUE of an unconfigured line: %u, fd %d", v, fake[0].fd);
	/* Another consumer has host line 5: ERR, nothing held. */
	CHECK(rq_err(VIRTIO_GPIO_MSG_SET_DIRECTION, 5, VIRTIO_GPIO_DIRECTION_IN), "busy line input");
	CHECK(rq_err(VIRTIO_GPIO_MSG_GET_VALUE, 5, 0), "busy line read");
	CHECK(rq(VIRTIO_GPIO_MSG_GET_DIRECTION, 5, 0, &v) == 0 && v == VIRTIO_GPIO_DIRECTION_IN,
	      "busy line direction %u", v);
	return 0;
}

static int test_malformed(void)
{
	struct virtio_gpio_request r = {
		.type = htole16(VIRTIO_GPIO_MSG_GET_DIRECTION), .gpio = htole16(0),
	};
	uint8_t big[12] = { 0 };
	uint64_t bad0 = gpio.stats.bad_requests;
	uint32_t len;

	CHECK(rq_err(0, 0, 0), "type 0");
	CHECK(rq_err(7, 0, 0), "type 7");
	CHECK(rq_err(0xffff, 0, 0), "type 0xffff");
	CHECK(rq_err(VIRTIO_GPIO_MSG_GET_VALUE, 7, 0), "gpio 7 (ngpio)");
	CHECK(rq_err(VIRTIO_GPIO_MSG_SET_DIRECTION, 0xffff, 0), "gpio 0xffff");
	CHECK(rq_err(VIRTIO_GPIO_MSG_SET_DIRECTION, 0, 3), "direction 3");
	CHECK(rq_err(VIRTIO_GPIO_MSG_SET_DIRECTION, 0, 0x100), "direction 0x100");
	CHECK(rq_err(VIRTIO_GPIO_MSG_SET_VALUE, 0, 2), "value 2");
	CHECK(rq_err(VIRTIO_GPIO_MSG_IRQ_TYPE, 0, 5), "irq type 5");
	CHECK(rq_err(VIRTIO_GPIO_MSG_IRQ_TYPE, 0, 0x10), "irq type 0x10");
	CHECK(rq_err(VIRTIO_GPIO_MSG_IRQ_TYPE, 0, 0xffffffff), "irq type 0xffffffff");
	CHECK(fake[0].fd < 0, "a refused request left host line 0 requested");
	/* No interrupt on an output, no output with an interrupt. */
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 2, VIRTIO_GPIO_DIRECTION_OUT), "output 2");
	CHECK(rq_err(VIRTIO_GPIO_MSG_IRQ_TYPE, 2, VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING),
	      "interrupt on an output");
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 2, VIRTIO_GPIO_DIRECTION_IN), "input 2");
	CHECK(rq_ok(VIRTIO_GPIO_MSG_IRQ_TYPE, 2, VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING), "irq on 2");
	CHECK(rq_err(VIRTIO_GPIO_MSG_SET_DIRECTION, 2, VIRTIO_GPIO_DIRECTION_OUT),
	      "output with the interrupt enabled");
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 2, VIRTIO_GPIO_DIRECTION_NONE) &&
	      gpio.lines[2].irq_type == VIRTIO_GPIO_IRQ_TYPE_NONE && fake[2].fd < 0,
	      "NONE kept the interrupt or the line");
	/* Framing. */
	len = rq_raw(&r, 4, 2, false);
	CHECK(len == 2 && mem[RQ_BUF + 0x100] == VIRTIO_GPIO_STATUS_ERR, "4-byte request: %u", len);
	memcpy(big, &r, sizeof(r));
	len = rq_raw(big, sizeof(big), 2, false);
	CHECK(len == 2 && mem[RQ_BUF + 0x100] == VIRTIO_GPIO_STATUS_ERR, "12-byte request: %u", len);
	len = rq_raw(&r, sizeof(r), 1, false);
	CHECK(len == 1 && mem[RQ_BUF + 0x100] == VIRTIO_GPIO_STATUS_ERR &&
	      mem[RQ_BUF + 0x101] == 0xee, "1-byte response: len %u", len);
	len = rq_raw(&r, sizeof(r), 0, false);
	CHECK(len == 0, "no response buffer: len %u", len);
	len = rq_raw(&r, 0, 0, false);
	CHECK(len == 0, "empty chain: len %u", len);
	len = rq_raw(&r, sizeof(r), 64, true);
	CHECK(len == 2 && mem[RQ_BUF + 0x100] == VIRTIO_GPIO_STATUS_OK &&
	      mem[RQ_BUF + 0x102] == 0xee, "split request, 64-byte response: len %u", len);
	CHECK(gpio.stats.bad_requests - bad0 == 18, "%" PRIu64 " bad requests counted, want 18",
	      gpio.stats.bad_requests - bad0);
	CHECK(!vlb_dev_broken(dev), "the device broke");
	return 0;
}

static int test_irq_edge(void)
{
	unsigned int h;

	/* gpio 3 is host line 3. */
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 3, VIRTIO_GPIO_DIRECTION_IN), "input 3");
	/* Unmasked before enabled: returned INVALID (5.20.6.6). */
	h = eq_post(3, 2, 1);
	if (expect_irq(h, VIRTIO_GPIO_IRQ_STATUS_INVALID, "buffer before enable"))
		return 1;
	CHECK(rq_ok(VIRTIO_GPIO_MSG_IRQ_TYPE, 3, VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH), "edge both");
	CHECK(fake[3].edges == (GPIO_HOST_EDGE_RISING | GPIO_HOST_EDGE_FALLING),
	      "host edges %#x", fake[3].edges);
	h = eq_post(3, 2, 1);
	run_events();
	if (expect_no_irq("nothing happened yet"))
		return 1;
	fake_drive(3, 1);
	run_events();
	if (expect_irq(h, VIRTIO_GPIO_IRQ_STATUS_VALID, "rising edge"))
		return 1;
	/* Masked: latched, delivered at the next buffer, once. */
	fake_drive(3, 0);
	fake_drive(3, 1);
	run_events();
	if (expect_no_irq("edges while masked"))
		return 1;
	h = eq_post(3, 2, 1);
	if (expect_irq(h, VIRTIO_GPIO_IRQ_STATUS_VALID, "latched edge"))
		return 1;
	h = eq_post(3, 2, 1);
	run_events();
	if (expect_no_irq("the latch delivered twice"))
		return 1;
	/* A second buffer for the same line goes back INVALID; the first stays. */
	if (expect_irq(eq_post(3, 2, 1), VIRTIO_GPIO_IRQ_STATUS_INVALID, "second buffer"))
		return 1;
	/* Rising only: a falling edge is nothing. */
	CHECK(rq_ok(VIRTIO_GPIO_MSG_IRQ_TYPE, 3, VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING), "rising");
	fake_drive(3, 0);
	run_events();
	if (expect_no_irq("falling edge with EDGE_RISING"))
		return 1;
	/* Disabled: the buffer comes back INVALID, a latch is dropped. */
	fake_drive(3, 1);
	CHECK(rq_ok(VIRTIO_GPIO_MSG_IRQ_TYPE, 3, VIRTIO_GPIO_IRQ_TYPE_NONE), "disable");
	if (expect_irq(h, VIRTIO_GPIO_IRQ_STATUS_INVALID, "disable"))
		return 1;
	CHECK(fake[3].edges == 0, "edges still reported after disable");
	run_events();
	if (expect_irq(eq_post(3, 2, 1), VIRTIO_GPIO_IRQ_STATUS_INVALID, "buffer after disable"))
		return 1;
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 3, VIRTIO_GPIO_DIRECTION_NONE), "release 3");
	return 0;
}

static int test_irq_level(void)
{
	unsigned int h;

	/* gpio 4, never configured: enabling the interrupt makes it an input. */
	fake[4].level = 0;
	CHECK(rq_ok(VIRTIO_GPIO_MSG_IRQ_TYPE, 4, VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH), "level high");
	CHECK(fake[4].fd >= 0 && fake[4].mode == GPIO_HOST_INPUT, "host line 4 not an input");
	h = eq_post(4, 2, 1);
	if (expect_no_irq("level low"))
		return 1;
	fake_drive(4, 1);
	run_events();
	if (expect_irq(h, VIRTIO_GPIO_IRQ_STATUS_VALID, "level went high"))
		return 1;
	/* Still high when unmasked again: at once. */
	if (expect_irq(eq_post(4, 2, 1), VIRTIO_GPIO_IRQ_STATUS_VALID, "still high"))
		return 1;
	/* Not latched: high and low again while masked is nothing. */
	fake_drive(4, 0);
	fake_drive(4, 1);
	fake_drive(4, 0);
	run_events();
	h = eq_post(4, 2, 1);
	if (expect_no_irq("level pulse while masked"))
		return 1;
	CHECK(rq_ok(VIRTIO_GPIO_MSG_IRQ_TYPE, 4, VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW), "level low");
	if (expect_irq(h, VIRTIO_GPIO_IRQ_STATUS_VALID, "switched to level low while low"))
		return 1;
	CHECK(rq_ok(VIRTIO_GPIO_MSG_SET_DIRECTION, 4, VIRTIO_GPIO_DIRECTION_NONE), "release 4");
	return 0;
}

static int test_eventq_malformed(void)
{
	uint64_t bad0 = gpio.stats.bad_irq_bufs;
	unsigned int h;
	int s;
	uint32_t len;

	if (expect_irq(eq_post(0, 1, 1), VIRTIO_GPIO_IRQ_STATUS_INVALID, "1-byte request"))
		return 1;
	if (expect_irq(eq_post(99, 2, 1), VIRTIO_GPIO_IRQ_STATUS_INVALID, "gpio 99"))
		return 1;
	if (expect_irq(eq_post(7, 2, 1), VIRTIO_GPIO_IRQ_STATUS_INVALID, "gpio 7 (ngpio)"))
		return 1;
	h = eq_post(0, 2, 0);
	CHECK(!eq_used(&h, &s, &len) && len == 0, "no status buffer: len %u", len);
	h = eq_post(0, 0, 1);
	CHECK(!eq_used(&h, &s, &len) && len == 1 && s == VIRTIO_GPIO_IRQ_STATUS_INVALID,
	      "no request: len %u status %d", len, s);
	CHECK(gpio.stats.bad_irq_bufs - bad0 == 5, "%" PRIu64 " bad buffers, want 5",
	      gpio.stats.bad_irq_bufs - bad0);
	return 0;
}

/* Random requests and eventq buffers: answers in bounds, never a crash. */
static int test_random(void)
{
	uint8_t req[16];
	unsigned int i, j, h;
	uint32_t len, in;
	int s;

	srandom(41);
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < sizeof(req); j++)
			req[j] = random();
		/* Mostly real types and lines, to get past the first checks. */
		if (i % 4) {
			req[0] = 1 + random() % 6;
			req[1] = 0;
			req[2] = random() % 8;
			req[3] = 0;
			req[4] = random() % 10;
			memset(req + 5, 0, 3);
		}
		in = random() % 3 ? 2 : random() % 80;
		len = rq_raw(req, random() % 5 ? 8 : random() % 16, in, random() % 2);
		CHECK(len <= in && len != 0xffffffff, "random request %u: used %u of %u", i, len, in);
		if (i % 3 == 0)
			eq_post(random() % 9, random() % 4, random() % 3);
		if (i % 7 == 0)
			fake_drive(random() % 8, random() % 2);
		run_events();
		while (!eq_used(&h, &s, &len))
			CHECK(len <= 1, "eventq used length %u", len);
	}
	CHECK(!vlb_dev_broken(dev), "the device broke");
	return 0;
}

int main(void)
{
	unsigned int i;
	int bad = 0;

	vlb_log_init("test_dev_gpio", 0);
	bad |= test_parse_lines();
	if (sess_open())
		return T_EXIT_FAIL;
	bad |= test_config_names();
	bad |= test_directions_values();
	bad |= test_malformed();
	bad |= test_irq_edge();
	bad |= test_irq_level();
	bad |= test_eventq_malformed();
	bad |= test_random();
	/* The front-end leaves: every host line is released. */
	vlb_dev_detach(dev);
	for (i = 0; i < FAKE_LINES; i++) {
		if (fake[i].fd >= 0) {
			fprintf(stderr, "host line %u still requested after detach\n", i);
			bad = 1;
		}
	}
	sess_close();
	if (bad)
		failures++;
	if (failures) {
		fprintf(stderr, "test_dev_gpio: %d failed\n", failures);
		return T_EXIT_FAIL;
	}
	printf("test_dev_gpio: all passed\n");
	return T_EXIT_PASS;
}
