// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the request handling of vhost-user-i2c, in this process
 * behind a vhost-user front-end of ours and a fake host adapter.
 *
 * On a SMBus-only adapter a write of 2 or 3 bytes is byte or word data,
 * a register write then a read of 1, 2 or 4 bytes is byte data, word
 * data or an I2C block read, a zero-length message a quick command;
 * two writes in one group are refused, not split. On an adapter with
 * I2C_FUNC_I2C a group is one I2C_RDWR with every message in order, and
 * a partial count fails the rest (FAIL_NEXT). An address not allowed
 * fails its whole group and nothing reaches the bus. Malformed requests
 * (short header, unknown flags, 10-bit address field, a read carrying
 * data, a write with device-writable bytes, a buffer above 8192 bytes,
 * no status byte, a group longer than 42) get VIRTIO_I2C_MSG_ERR, fail
 * the rest of their group, never reach the bus; a header split across
 * descriptors is fine. A group whose end has not arrived is held until
 * it does, or sent when the hold expires. Then 20,000 random requests.
 * The lab test (tests/lab/test_i2c_01.sh) drives the real driver.
 */
#include <endian.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "helpers.h"
#include "unit/t_vring.h"

#define main i2c_main
#include "../../devices/i2c/vhost-user-i2c.c"
#undef main

#define MEM_SIZE	(1024 * 1024)
#define QVA		0x20000000ULL
#define NUM		256
#define Q_DESC		0x0000
#define Q_AVAIL		0x1000
#define Q_USED		0x2000
#define BUFS		0x10000

#define FAIL_NEXT	VIRTIO_I2C_FLAGS_FAIL_NEXT
#define M_RD		VIRTIO_I2C_FLAGS_M_RD

static int failures;

#define CHECK(cond, ...)	T_CHECK(cond, __VA_ARGS__)

/* The fake host adapter: 128 chips of 256 registers, SMBus or I2C_RDWR. */
static struct {
	uint8_t regs[128][256];
	bool present[128];
	unsigned int smbus_calls;
	uint32_t last_size;
	unsigned int rdwr_calls;
	unsigned int rdwr_n;
	struct i2c_msg rdwr_msgs[VI2C_MAX_GROUP];
	int rdwr_ret;		/* 0: all messages; else what to return */
} bus;

static int fake_rdwr(void *ctx, struct i2c_msg *msgs, unsigned int n)
{
	unsigned int i;

	(void)ctx;
	bus.rdwr_calls++;
	bus.rdwr_n = n;
	memcpy(bus.rdwr_msgs, msgs, n * sizeof(*msgs));
	for (i = 0; i < n; i++)
		if (msgs[i].flags & I2C_M_RD)
			memset(msgs[i].buf, 0x40 + i, msgs[i].len);
	return bus.rdwr_ret ? bus.rdwr_ret : (int)n;
}

static int fake_smbus(void *ctx, uint16_t addr, uint8_t rw, uint8_t cmd, uint32_t size,
		      union i2c_smbus_data *d)
{
	uint8_t *r;
	unsigned int i;

	(void)ctx;
	bus.smbus_calls++;
	bus.last_size = size;
	if (addr > 127 || !bus.present[addr])
		return -ENXIO;
	r = bus.regs[addr];
	switch (size) {
	case I2C_SMBUS_QUICK:
		return 0;
	case I2C_SMBUS_BYTE:
		if (rw == I2C_SMBUS_READ)
			d->byte = r[0];
		else
			r[0] = cmd;
		return 0;
	case I2C_SMBUS_BYTE_DATA:
		if (rw == I2C_SMBUS_READ)
			d->byte = r[cmd];
		else
			r[cmd] = d->byte;
		return 0;
	case I2C_SMBUS_WORD_DATA:
		if (rw == I2C_SMBUS_READ) {
			d->word = r[cmd] | r[(uint8_t)(cmd + 1)] << 8;
		} else {
			r[cmd] = d->word & 0xff;
			r[(uint8_t)(cmd + 1)] = d->word >> 8;
		}
		return 0;
	case I2C_SMBUS_I2C_BLOCK_DATA:
		if (d->block[0] > I2C_SMBUS_BLOCK_MAX)
			return -EINVAL;
		for (i = 0; i < d->block[0]; i++) {
			if (rw == I2C_SMBUS_READ)
				d->block[1 + i] = r[(uint8_t)(cmd + i)];
			else
				r[(uint8_t)(cmd + i)] = d->block[1 + i];
		}
		return 0;
	}
	return -EOPNOTSUPP;
}

static const struct vi2c_bus_ops fake_bus = {
	.rdwr	= fake_rdwr,
	.smbus	= fake_smbus,
};

#define SMBUS_FUNCS	(I2C_FUNC_SMBUS_QUICK | I2C_FUNC_SMBUS_BYTE | \
			 I2C_FUNC_SMBUS_BYTE_DATA | I2C_FUNC_SMBUS_WORD_DATA | \
			 I2C_FUNC_SMBUS_I2C_BLOCK)

/* The device in this process, driven through the vring ------------------ */

struct sess {
	struct t_sess t;
	unsigned int next_desc;
	uint64_t next_buf;
};

static void sess_teardown(struct vlb_dev *dev)
{
	(void)dev;
	close(vi2c_dev.timer_fd);
}

static int sess_open(struct sess *s)
{
	uint64_t feat = (1ULL << VLB_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES) |
			(1ULL << VIRTIO_I2C_F_ZERO_LENGTH_REQUEST);

	memset(s, 0, sizeof(*s));
	s->next_buf = BUFS;
	if (t_sess_new(&s->t, &vi2c_iface, VI2C_QUEUES, &vi2c_dev, "i2c-test", MEM_SIZE))
		return 1;
	/* What vi2c_setup() does with a real adapter. */
	vi2c_dev.dev = s->t.dev;
	vi2c_dev.bus = &fake_bus;
	vi2c_dev.funcs = SMBUS_FUNCS;
	vi2c_dev.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vi2c_parse_addresses(&vi2c_dev, "0x1c") || vi2c_dev.nr_allowed != 1)
		return t_fail("--address 0x1c not parsed");
	if (t_sess_connect(&s->t, feat, QVA))
		return 1;
	t_sess_ring(&s->t, 0, NUM, Q_DESC, Q_AVAIL, Q_USED);
	return t_sess_start(&s->t, 1);
}

static void sess_close(struct sess *s)
{
	t_sess_close(&s->t, sess_teardown);
}

/* One descriptor of a request being built: bytes, length, device-writable. */
struct seg {
	const void *data;
	uint32_t len;
	bool write;
};

/* Post a chain of @n segments; returns the address of its last segment. */
static uint64_t post(struct sess *s, const struct seg *sg, unsigned int n)
{
	unsigned int i, head = s->next_desc % NUM;
	uint64_t a = 0;

	for (i = 0; i < n; i++) {
		unsigned int d = (s->next_desc + i) % NUM;

		if (s->next_buf + sg[i].len + 64 > MEM_SIZE)
			s->next_buf = BUFS;
		a = s->next_buf;
		s->next_buf += (sg[i].len + 63) & ~63ULL;
		if (sg[i].data)
			memcpy(s->t.mem + a, sg[i].data, sg[i].len);
		else
			memset(s->t.mem + a, 0xee, sg[i].len);
		t_ring_desc(&s->t.ring[0], d, a, sg[i].len,
			    (sg[i].write ? T_DESC_F_WRITE : 0) | (i + 1 < n ? T_DESC_F_NEXT : 0),
			    (d + 1) % NUM);
	}
	s->next_desc += n;
	t_ring_post(&s->t.ring[0], head);
	return a;
}

static void hdr(uint8_t *h, uint16_t addr_field, uint32_t flags)
{
	memset(h, 0, VI2C_OUT_HDR_SIZE);
	h[0] = addr_field & 0xff;
	h[1] = addr_field >> 8;
	h[4] = flags & 0xff;
	h[5] = flags >> 8;
	h[6] = flags >> 16;
	h[7] = flags >> 24;
}

/* A well-formed request; returns the address of its status byte (a
 * read's data are just before it).
 */
static uint64_t req(struct sess *s, uint8_t addr, uint32_t flags, const uint8_t *wdata,
		    uint32_t len)
{
	uint8_t h[VI2C_OUT_HDR_SIZE];
	struct seg sg[3];
	unsigned int n = 0;
	uint64_t last;

	hdr(h, addr << 1, flags);
	sg[n++] = (struct seg){ h, sizeof(h), false };
	if (flags & M_RD) {
		/* Read data and status in one buffer: the status follows. */
		sg[n++] = (struct seg){ NULL, len + 1, true };
		return post(s, sg, n) + len;
	}
	if (len)
		sg[n++] = (struct seg){ wdata, len, false };
	sg[n++] = (struct seg){ NULL, 1, true };
	last = post(s, sg, n);
	return last;
}

static void kick(struct sess *s)
{
	vi2c_queue_kick(s->t.dev, VI2C_REQ_Q);
}

/* The next used entry's length; -1 when there is none. */
static long used(struct sess *s)
{
	uint32_t id, len;

	if (t_ring_get_used(&s->t.ring[0], &id, &len))
		return -1;
	return len;
}

static unsigned int drain(struct sess *s)
{
	unsigned int n = 0;

	while (used(s) >= 0)
		n++;
	return n;
}

static int test_smbus(struct sess *s)
{
	static const uint8_t w2[] = { 0x10, 0x5a }, w3[] = { 0x20, 0x34, 0x12 },
		w1[] = { 0x20 }, w5[] = { 0x30, 1, 2, 3, 4 };
	uint64_t st, st2;
	uint8_t *m = s->t.mem;
	unsigned int calls;

	st = req(s, 0x1c, 0, w2, 2);
	kick(s);
	CHECK(used(s) == 1 && m[st] == VIRTIO_I2C_MSG_OK, "byte data write: status %u", m[st]);
	CHECK(bus.regs[0x1c][0x10] == 0x5a && bus.last_size == I2C_SMBUS_BYTE_DATA,
	      "byte data write: register 0x%02x, size %u", bus.regs[0x1c][0x10], bus.last_size);

	st = req(s, 0x1c, 0, w3, 3);
	kick(s);
	CHECK(used(s) == 1 && m[st] == VIRTIO_I2C_MSG_OK, "word data write: status %u", m[st]);
	CHECK(bus.regs[0x1c][0x20] == 0x34 && bus.regs[0x1c][0x21] == 0x12 &&
	      bus.last_size == I2C_SMBUS_WORD_DATA, "word data write: size %u", bus.last_size);

	/* Register write, then a read of 2: word data, one transaction. */
	calls = bus.smbus_calls;
	st = req(s, 0x1c, FAIL_NEXT, w1, 1);
	st2 = req(s, 0x1c, M_RD, NULL, 2);
	kick(s);
	CHECK(drain(s) == 2, "write+read: not two used entries");
	CHECK(m[st] == 0 && m[st2] == 0 && m[st2 - 2] == 0x34 && m[st2 - 1] == 0x12,
	      "write+read word: status %u/%u, data %02x %02x", m[st], m[st2], m[st2 - 2],
	      m[st2 - 1]);
	CHECK(bus.smbus_calls == calls + 1 && bus.last_size == I2C_SMBUS_WORD_DATA,
	      "write+read word: %u calls, size %u", bus.smbus_calls - calls, bus.last_size);

	/* ... of 4: an I2C block read. */
	st = req(s, 0x1c, 0, w5, 5);
	kick(s);
	CHECK(used(s) == 1 && m[st] == 0 && bus.last_size == I2C_SMBUS_I2C_BLOCK_DATA,
	      "I2C block write: status %u, size %u", m[st], bus.last_size);
	req(s, 0x1c, FAIL_NEXT, w5, 1);
	st2 = req(s, 0x1c, M_RD, NULL, 4);
	kick(s);
	CHECK(drain(s) == 2 && m[st2] == 0 && !memcmp(&m[st2 - 4], &w5[1], 4),
	      "I2C block read: status %u, data %02x..", m[st2], m[st2 - 4]);

	/* Zero-length: a quick command. */
	st = req(s, 0x1c, 0, NULL, 0);
	kick(s);
	CHECK(used(s) == 1 && m[st] == 0 && bus.last_size == I2C_SMBUS_QUICK,
	      "quick write: status %u, size %u", m[st], bus.last_size);
	st = req(s, 0x1c, M_RD, NULL, 0);
	kick(s);
	CHECK(used(s) == 1 && m[st] == 0, "quick read: status %u", m[st]);

	/* Two writes are no SMBus transaction: refused, not split. */
	calls = bus.smbus_calls;
	st = req(s, 0x1c, FAIL_NEXT, w2, 2);
	st2 = req(s, 0x1c, 0, w2, 2);
	kick(s);
	CHECK(drain(s) == 2 && m[st] == 1 && m[st2] == 1 && bus.smbus_calls == calls,
	      "two writes on SMBus: status %u/%u, %u calls", m[st], m[st2],
	      bus.smbus_calls - calls);

	/* A chip that does not answer. */
	vi2c_parse_addresses(&vi2c_dev, "0x2a");
	st = req(s, 0x2a, 0, NULL, 0);
	kick(s);
	CHECK(used(s) == 1 && m[st] == 1, "absent chip: status %u", m[st]);
	vi2c_dev.allowed[0x2a / 8] &= ~(1U << (0x2a % 8));
	vi2c_dev.nr_allowed--;
	return 0;
}

static int test_denied(struct sess *s)
{
	static const uint8_t w2[] = { 0x10, 0x77 };
	unsigned int calls = bus.smbus_calls;
	uint8_t *m = s->t.mem;
	uint64_t st, st2;

	st = req(s, 0x50, 0, w2, 2);
	kick(s);
	CHECK(used(s) == 1 && m[st] == 1, "write to 0x50: status %u", m[st]);
	st = req(s, 0x50, M_RD, NULL, 1);
	kick(s);
	CHECK(used(s) == 2 && m[st] == 1 && m[st - 1] == 0, "read from 0x50: status %u", m[st]);
	/* An allowed request grouped with a denied one fails with it. */
	st = req(s, 0x1c, FAIL_NEXT, w2, 2);
	st2 = req(s, 0x50, 0, w2, 2);
	kick(s);
	CHECK(drain(s) == 2 && m[st] == 1 && m[st2] == 1, "group with 0x50: status %u/%u",
	      m[st], m[st2]);
	CHECK(bus.smbus_calls == calls && bus.regs[0x50][0x10] == 0 && bus.regs[0x1c][0x10] == 0x5a,
	      "denied requests reached the bus (%u calls)", bus.smbus_calls - calls);
	CHECK(vi2c_dev.stats.denied == 3, "%llu denied, expected 3",
	      (unsigned long long)vi2c_dev.stats.denied);
	return 0;
}

/* Post a raw chain and return its status byte (0xff when it has none). */
static int raw(struct sess *s, const struct seg *sg, unsigned int n, long *len)
{
	uint64_t last = post(s, sg, n);

	kick(s);
	*len = used(s);
	return sg[n - 1].write && sg[n - 1].len ? s->t.mem[last + sg[n - 1].len - 1] : 0xff;
}

static int test_malformed(struct sess *s)
{
	static uint8_t big[VI2C_MAX_MSG_LEN + 1];
	uint8_t h[8], h2[8], wr[8];
	unsigned int calls = bus.smbus_calls;
	uint64_t bad = vi2c_dev.stats.bad;
	long len;
	int st;

	hdr(h, 0x1c << 1, 0);
	memcpy(wr, "\x10\x01", 2);
	/* Header of 4 bytes. */
	st = raw(s, (struct seg[]){ { h, 4, false }, { NULL, 1, true } }, 2, &len);
	CHECK(st == 1 && len == 1, "short header: status %d, len %ld", st, len);
	/* Unknown flag bit 2. */
	hdr(h2, 0x1c << 1, 4);
	st = raw(s, (struct seg[]){ { h2, 8, false }, { wr, 2, false }, { NULL, 1, true } }, 3,
		 &len);
	CHECK(st == 1, "unknown flags: status %d", st);
	/* Odd address field (10-bit / reserved bit) and a high byte. */
	hdr(h2, (0x1c << 1) | 1, 0);
	st = raw(s, (struct seg[]){ { h2, 8, false }, { wr, 2, false }, { NULL, 1, true } }, 3,
		 &len);
	CHECK(st == 1, "address field bit 0: status %d", st);
	hdr(h2, 0x1c << 1 | 0x100, 0);
	st = raw(s, (struct seg[]){ { h2, 8, false }, { wr, 2, false }, { NULL, 1, true } }, 3,
		 &len);
	CHECK(st == 1, "address field 0x%x: status %d", 0x1c << 1 | 0x100, st);
	/* A read carrying device-readable data. */
	hdr(h2, 0x1c << 1, M_RD);
	st = raw(s, (struct seg[]){ { h2, 8, false }, { wr, 2, false }, { NULL, 3, true } }, 3,
		 &len);
	CHECK(st == 1 && len == 3, "read with out data: status %d, len %ld", st, len);
	/* A write with device-writable bytes besides the status. */
	st = raw(s, (struct seg[]){ { h, 8, false }, { wr, 2, false }, { NULL, 4, true } }, 3,
		 &len);
	CHECK(st == 1 && len == 4, "write with in data: status %d, len %ld", st, len);
	/* Buffers above 8192 bytes, both ways. */
	st = raw(s, (struct seg[]){ { h, 8, false }, { big, sizeof(big), false },
				    { NULL, 1, true } }, 3, &len);
	CHECK(st == 1, "write of 8193 bytes: status %d", st);
	st = raw(s, (struct seg[]){ { h2, 8, false }, { NULL, sizeof(big) + 1, true } }, 2, &len);
	CHECK(st == 1 && len == (long)sizeof(big) + 1, "read of 8193 bytes: status %d", st);
	/* No device-writable byte at all: nothing to answer in. */
	st = raw(s, (struct seg[]){ { h, 8, false }, { wr, 2, false } }, 2, &len);
	CHECK(len == 0, "no status byte: used length %ld", len);
	/* A request that is one bad descriptor. */
	st = raw(s, (struct seg[]){ { NULL, 1, true } }, 1, &len);
	CHECK(st == 1 && len == 1, "status byte only: status %d", st);
	CHECK(bus.smbus_calls == calls, "malformed requests reached the bus");
	CHECK(vi2c_dev.stats.bad - bad == 10, "%llu malformed counted, expected 10",
	      (unsigned long long)(vi2c_dev.stats.bad - bad));

	/* A header split across descriptors is fine (no framing assumed). */
	st = raw(s, (struct seg[]){ { h, 3, false }, { h + 3, 5, false }, { wr, 2, false },
				    { NULL, 1, true } }, 4, &len);
	CHECK(st == 0 && bus.regs[0x1c][0x10] == 0x01, "split header: status %d", st);

	/* A malformed request with FAIL_NEXT fails the next one too. */
	calls = bus.smbus_calls;
	hdr(h2, 0x1c << 1, FAIL_NEXT | 8);
	st = raw(s, (struct seg[]){ { h2, 8, false }, { wr, 2, false }, { NULL, 1, true } }, 3,
		 &len);
	CHECK(st == 1, "bad request with FAIL_NEXT: status %d", st);
	st = raw(s, (struct seg[]){ { h, 8, false }, { wr, 2, false }, { NULL, 1, true } }, 3,
		 &len);
	CHECK(st == 1 && bus.smbus_calls == calls, "the request after it: status %d", st);
	/* ... and only that group. */
	st = raw(s, (struct seg[]){ { h, 8, false }, { wr, 2, false }, { NULL, 1, true } }, 3,
		 &len);
	CHECK(st == 0, "the next group: status %d", st);
	return 0;
}

static int test_rdwr(struct sess *s)
{
	static const uint8_t w1[] = { 0x10 }, w2[] = { 0x11, 0x22 };
	uint8_t *m = s->t.mem;
	uint64_t a, b, c;
	unsigned int i;

	vi2c_dev.funcs = I2C_FUNC_I2C | SMBUS_FUNCS;
	bus.rdwr_calls = 0;
	a = req(s, 0x1c, FAIL_NEXT, w1, 1);
	b = req(s, 0x1c, FAIL_NEXT | M_RD, NULL, 3);
	c = req(s, 0x1c, 0, w2, 2);
	kick(s);
	CHECK(drain(s) == 3 && m[a] == 0 && m[b] == 0 && m[c] == 0,
	      "RDWR group: status %u/%u/%u", m[a], m[b], m[c]);
	CHECK(bus.rdwr_calls == 1 && bus.rdwr_n == 3, "RDWR: %u calls of %u messages",
	      bus.rdwr_calls, bus.rdwr_n);
	CHECK(bus.rdwr_msgs[0].addr == 0x1c && bus.rdwr_msgs[0].flags == 0 &&
	      bus.rdwr_msgs[0].len == 1 && bus.rdwr_msgs[1].flags == I2C_M_RD &&
	      bus.rdwr_msgs[1].len == 3 && bus.rdwr_msgs[2].len == 2,
	      "RDWR messages not as the driver sent them");
	CHECK(m[b - 3] == 0x41 && m[b - 1] == 0x41, "RDWR read data %02x", m[b - 3]);

	/* The bus carried one message: the rest fail. */
	bus.rdwr_ret = 1;
	a = req(s, 0x1c, FAIL_NEXT, w1, 1);
	b = req(s, 0x1c, M_RD, NULL, 2);
	kick(s);
	CHECK(drain(s) == 2 && m[a] == 0 && m[b] == 1 && m[b - 2] == 0 && m[b - 1] == 0,
	      "RDWR partial: status %u/%u", m[a], m[b]);
	bus.rdwr_ret = -EREMOTEIO;
	a = req(s, 0x1c, 0, w2, 2);
	kick(s);
	CHECK(used(s) == 1 && m[a] == 1, "RDWR error: status %u", m[a]);
	bus.rdwr_ret = 0;

	/* 43 requests in one group: more than I2C_RDWR takes. */
	bus.rdwr_calls = 0;
	for (i = 0; i <= VI2C_MAX_GROUP; i++)
		a = req(s, 0x1c, i < VI2C_MAX_GROUP ? FAIL_NEXT : 0, w2, 2);
	kick(s);
	CHECK(drain(s) == VI2C_MAX_GROUP + 1 && m[a] == 1 && !bus.rdwr_calls,
	      "group of 43: status %u, %u RDWR calls", m[a], bus.rdwr_calls);
	/* 42 are fine. */
	for (i = 0; i < VI2C_MAX_GROUP; i++)
		a = req(s, 0x1c, i < VI2C_MAX_GROUP - 1 ? FAIL_NEXT : 0, w2, 2);
	kick(s);
	CHECK(drain(s) == VI2C_MAX_GROUP && m[a] == 0 && bus.rdwr_calls == 1 &&
	      bus.rdwr_n == VI2C_MAX_GROUP, "group of 42: status %u, %u messages", m[a],
	      bus.rdwr_n);
	vi2c_dev.funcs = SMBUS_FUNCS;
	return 0;
}

static int test_hold(struct sess *s)
{
	static const uint8_t w1[] = { 0x20 };
	uint8_t *m = s->t.mem;
	uint64_t a, b;
	unsigned int calls = bus.smbus_calls;

	/* The driver is still adding the group: nothing is answered yet. */
	a = req(s, 0x1c, FAIL_NEXT, w1, 1);
	kick(s);
	CHECK(used(s) < 0 && bus.smbus_calls == calls, "unfinished group answered early");
	b = req(s, 0x1c, M_RD, NULL, 1);
	kick(s);
	CHECK(drain(s) == 2 && m[a] == 0 && m[b] == 0 && m[b - 1] == 0x34 &&
	      bus.last_size == I2C_SMBUS_BYTE_DATA && bus.smbus_calls == calls + 1,
	      "group completed later: status %u/%u, data %02x", m[a], m[b], m[b - 1]);

	/* Its end never comes: sent as it is when the hold expires. */
	a = req(s, 0x1c, FAIL_NEXT, w1, 1);
	kick(s);
	CHECK(used(s) < 0, "unfinished group answered early");
	if (!t_wait_readable(vi2c_dev.timer_fd, 2 * VI2C_HOLD_MS + 1000))
		vi2c_hold_expired(s->t.dev, vi2c_dev.timer_fd, POLLIN, &vi2c_dev);
	CHECK(used(s) == 1 && m[a] == 0 && bus.last_size == I2C_SMBUS_BYTE &&
	      bus.regs[0x1c][0] == 0x20, "expired hold: status %u, size %u", m[a], bus.last_size);
	return 0;
}

/* Random chains: whatever comes, an answer or a clean refusal. */
static int test_garbage(struct sess *s)
{
	uint8_t blob[64];
	struct seg sg[4];
	unsigned int i, j, n, answered = 0;

	srandom(12345);
	vi2c_parse_addresses(&vi2c_dev, "0x50");
	bus.present[0x50] = true;
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < sizeof(blob); j++)
			blob[j] = random();
		if (random() % 2) {
			/* Mostly plausible: a real address and few flags. */
			blob[0] = (random() % 2 ? 0x1c : 0x50) << 1;
			blob[1] = 0;
			blob[4] &= 3;
			blob[5] = blob[6] = blob[7] = 0;
		}
		n = 1 + random() % 4;
		for (j = 0; j < n; j++) {
			sg[j].data = blob;
			sg[j].len = random() % (j ? 40 : 12);
			sg[j].write = j && (random() % 3 || j == n - 1);
		}
		/* Device-readable before device-writable, as the ring demands. */
		for (j = 1; j < n; j++)
			if (sg[j - 1].write)
				sg[j].write = true;
		for (j = 0; j < n; j++)
			if (!sg[j].len)
				sg[j].len = 1;
		post(s, sg, n);
		if (random() % 4 == 0) {
			kick(s);
			answered += drain(s);
		}
	}
	/* A clean final request ends whatever group is open. */
	req(s, 0x1c, 0, NULL, 0);
	kick(s);
	answered += drain(s);
	CHECK(answered == 20001, "%u of 20001 random requests answered", answered);
	CHECK(!vlb_dev_broken(s->t.dev), "device broken by random requests");
	return 0;
}

int main(void)
{
	struct sess s;

	vlb_log_init("test_dev_i2c", 0);
	bus.present[0x1c] = true;
	if (sess_open(&s))
		return T_EXIT_FAIL;
	test_smbus(&s);
	test_denied(&s);
	test_malformed(&s);
	test_rdwr(&s);
	test_hold(&s);
	test_garbage(&s);
	sess_close(&s);
	if (failures) {
		fprintf(stderr, "test_dev_i2c: %d failed\n", failures);
		return T_EXIT_FAIL;
	}
	printf("test_dev_i2c: all passed\n");
	return T_EXIT_PASS;
}
