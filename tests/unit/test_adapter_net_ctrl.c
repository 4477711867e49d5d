// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the adapter's virtio-net control queue (adapter/net_ctrl.c).
 *
 * The test is the driver: a split ring in a memfd, requests written into
 * it, the kick eventfd signalled, answers read from the used ring. Valid
 * VQ_PAIRS_SET requests (whole or split across descriptors) reach the
 * set-pairs callback and are answered VIRTIO_NET_OK; every kind of garbage
 * (short header, unknown class or command, wrong data length, pair counts
 * 0, max + 1 and 0xffff, no MQ accepted, no status byte, random bytes) is
 * answered VIRTIO_NET_ERR or pushed empty, never a crash (ASan/UBSan
 * build), never the callback. A chain libvlb refuses stops the queue until
 * the next reset. Also: the queue layout per accepted features, the
 * interrupt suppression, the budget, and the config and feature helpers
 * of the device type table. The callback runs only once the answer is in
 * the used ring (the driver spins until then).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "helpers.h"
#include "unit/t_vhost.h"
#include "device_types.h"
#include "net_ctrl.h"

#define MEM_SIZE	(256 * 1024)
#define NUM		16
#define BIG_NUM		256		/* the budget test's ring */
#define DESC		0x1000
#define AVAIL		0x2000
#define USED		0x3000
#define BUFS		0x10000		/* request bytes, 64 per descriptor */
#define MAX_PAIRS	2

#define F(bit)		(1ULL << (bit))
#define F_NET		(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_CTRL_VQ) | \
			 F(VIRTIO_NET_F_MQ))

struct ctx {
	struct vla_net_ctrl *c;
	int memfd;
	uint8_t *mem;
	struct t_ring r;
	int kick;
	int call;
	unsigned int calls;	/* set_pairs callbacks */
	unsigned int last_pairs;
	bool answered_first;	/* the last callback saw its answer published */
	int fail_with;		/* set_pairs returns this */
	uint16_t next_desc;
};

static int set_pairs(void *opaque, unsigned int pairs)
{
	struct ctx *x = opaque;

	x->calls++;
	x->last_pairs = pairs;
	x->answered_first = t_ring_used_idx(&x->r) == x->r.avail_idx;
	return x->fail_with;
}

static void teardown(struct ctx *x)
{
	vla_net_ctrl_free(x->c);
	if (x->mem)
		munmap(x->mem, MEM_SIZE);
	if (x->memfd >= 0)
		close(x->memfd);
	if (x->kick >= 0)
		close(x->kick);
	if (x->call >= 0)
		close(x->call);
	memset(x, 0, sizeof(*x));
	x->memfd = x->kick = x->call = -1;
}

static int start_num(struct ctx *x, uint64_t features, uint16_t num)
{
	struct vlb_local_vring ring = {
		.num = num, .desc = DESC, .avail = AVAIL, .used = USED,
		.kick_fd = x->kick, .call_fd = x->call,
	};
	int ret;

	t_ring_init(&x->r, x->mem, num, DESC, AVAIL, USED);
	x->next_desc = 0;
	ret = vla_net_ctrl_start(x->c, features, x->memfd, MEM_SIZE, &ring);
	if (ret)
		return t_fail("vla_net_ctrl_start: %s", strerror(-ret));
	return 0;
}

static int start(struct ctx *x, uint64_t features)
{
	return start_num(x, features, NUM);
}

static int setup(struct ctx *x, uint64_t features)
{
	int ret;

	memset(x, 0, sizeof(*x));
	x->memfd = x->kick = x->call = -1;
	ret = t_memfd(MEM_SIZE, &x->memfd, (void **)&x->mem);
	if (ret)
		return t_fail("memfd: %s", strerror(-ret));
	x->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->kick < 0 || x->call < 0)
		return t_fail("eventfd: %s", strerror(errno));
	ret = vla_net_ctrl_new("test", MAX_PAIRS, set_pairs, x, &x->c);
	if (ret)
		return t_fail("vla_net_ctrl_new: %s", strerror(-ret));
	return start(x, features);
}

/* Buffer of descriptor @i: 64 bytes each, from BUFS on. */
static uint64_t buf_of(unsigned int i)
{
	return BUFS + 64ULL * i;
}

/*
 * Post one chain: @nout device-readable parts (@out_len[k] bytes each,
 * contents from @bytes in order), then @nin writable parts of @in_len[k]
 * bytes. Returns the head. The writable bytes are set to 0xee first.
 */
static uint16_t post(struct ctx *x, const uint8_t *bytes,
		     const unsigned int *out_len, unsigned int nout,
		     const unsigned int *in_len, unsigned int nin)
{
	uint16_t head = x->next_desc % x->r.num, d = head;
	unsigned int k, n = nout + nin;

	for (k = 0; k < n; k++) {
		bool w = k >= nout;
		unsigned int len = w ? in_len[k - nout] : out_len[k];
		uint16_t next = (d + 1) % x->r.num;
		uint64_t b = buf_of(d);

		if (w) {
			memset(x->mem + b, 0xee, len);
		} else {
			memcpy(x->mem + b, bytes, len);
			bytes += len;
		}
		t_ring_desc(&x->r, d, b, len,
			    (w ? T_DESC_F_WRITE : 0) | (k + 1 < n ? T_DESC_F_NEXT : 0),
			    k + 1 < n ? next : 0);
		d = next;
	}
	x->next_desc += n;
	t_ring_post(&x->r, head);
	return head;
}

/* Kick, serve, and read one answer (for @head): its length. */
static int serve_one(struct ctx *x, uint16_t head, uint32_t *len)
{
	uint64_t one = 1;
	uint32_t id;

	if (write(x->kick, &one, sizeof(one)) != sizeof(one))
		return t_fail("kick: %s", strerror(errno));
	vla_net_ctrl_handle_kick(x->c, true);
	if (t_ring_get_used(&x->r, &id, len))
		return t_fail("no used entry after the kick");
	if (id != head)
		return t_fail("used entry for head %u, posted %u", id, head);
	return 0;
}

/* Request of class/cmd/data in one out descriptor, status in one in. */
static int send_req(struct ctx *x, const uint8_t *bytes, unsigned int len,
		   int *status)
{
	unsigned int out_len[1] = { len }, in_len[1] = { 1 };
	uint16_t head = post(x, bytes, out_len, len ? 1 : 0, in_len, 1);
	uint16_t sdesc = (head + (len ? 1 : 0)) % NUM;
	uint32_t ulen, id;
	uint64_t one = 1;

	if (write(x->kick, &one, sizeof(one)) != sizeof(one))
		return t_fail("kick: %s", strerror(errno));
	vla_net_ctrl_handle_kick(x->c, true);
	if (t_ring_get_used(&x->r, &id, &ulen))
		return t_fail("no answer to %u request bytes", len);
	if (id != head || ulen != 1)
		return t_fail("answer head %u length %u, expected %u and 1",
			      id, ulen, head);
	*status = x->mem[buf_of(sdesc)];
	return 0;
}

static int pairs_set(struct ctx *x, unsigned int n, int *status)
{
	uint8_t b[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
			 n & 0xff, n >> 8 };

	return send_req(x, b, sizeof(b), status);
}

static int test_layout(void)
{
	static const struct {
		uint64_t features;
		unsigned int data;
		int ctrl;
	} t[] = {
		{ F_NET, 2 * MAX_PAIRS, 2 * MAX_PAIRS },
		/* CTRL_VQ without MQ: the control queue is queue 2. */
		{ F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_CTRL_VQ), 2, 2 },
		{ F(VIRTIO_F_VERSION_1), 2, -1 },
	};
	unsigned int i, data;
	int ctrl;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		vla_net_ctrl_layout(t[i].features, MAX_PAIRS, &data, &ctrl);
		if (data != t[i].data || ctrl != t[i].ctrl)
			return t_fail("layout 0x%llx: %u data queues, control %d; expected %u, %d",
				      (unsigned long long)t[i].features, data,
				      ctrl, t[i].data, t[i].ctrl);
	}
	return 0;
}

static int test_new_args(void)
{
	struct vla_net_ctrl *c;

	if (vla_net_ctrl_new("x", 1, set_pairs, NULL, &c) != -EINVAL || c)
		return t_fail("one pair accepted");
	if (vla_net_ctrl_new("x", 0x8001, set_pairs, NULL, &c) != -EINVAL)
		return t_fail("0x8001 pairs accepted");
	if (vla_net_ctrl_new("x", 2, NULL, NULL, &c) != -EINVAL)
		return t_fail("no callback accepted");
	return 0;
}

static int test_valid(void)
{
	unsigned int out_len[4] = { 1, 1, 1, 1 }, in_len[2] = { 1, 3 };
	uint8_t b[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1, 0 };
	struct ctx x;
	uint64_t v;
	uint32_t len, id;
	uint16_t head;
	int st, ret;

	ret = setup(&x, F_NET);
	if (ret)
		goto out;
	if (vla_net_ctrl_pairs(x.c) != 1) {
		ret = t_fail("%u pairs after start, expected 1", vla_net_ctrl_pairs(x.c));
		goto out;
	}
	ret = pairs_set(&x, 2, &st);
	if (ret)
		goto out;
	if (st != VIRTIO_NET_OK || x.calls != 1 || x.last_pairs != 2 ||
	    vla_net_ctrl_pairs(x.c) != 2 || !x.answered_first) {
		ret = t_fail("VQ_PAIRS_SET 2: status %d, %u calls (last %u), %u pairs, answered %s the callback",
			     st, x.calls, x.last_pairs, vla_net_ctrl_pairs(x.c),
			     x.answered_first ? "before" : "after");
		goto out;
	}
	/* The driver asked for interrupts (flags 0): the call eventfd fired. */
	if (read(x.call, &v, sizeof(v)) != sizeof(v)) {
		ret = t_fail("no interrupt after the answer");
		goto out;
	}

	/* Every byte in its own descriptor, the status in a 2-part in buffer. */
	head = post(&x, b, out_len, 4, in_len, 2);
	ret = serve_one(&x, head, &len);
	if (ret)
		goto out;
	st = x.mem[buf_of((head + 4) % NUM)];
	if (len != 1 || st != VIRTIO_NET_OK || x.last_pairs != 1 ||
	    x.mem[buf_of((head + 5) % NUM)] != 0xee) {
		ret = t_fail("split VQ_PAIRS_SET 1: length %u status %d pairs %u, next byte 0x%x",
			     len, st, x.last_pairs, x.mem[buf_of((head + 5) % NUM)]);
		goto out;
	}

	/* NO_INTERRUPT: answered, but the eventfd stays quiet. */
	while (read(x.call, &v, sizeof(v)) == sizeof(v))
		;
	t_ring_set_avail_flags(&x.r, VRING_AVAIL_F_NO_INTERRUPT);
	ret = pairs_set(&x, 2, &st);
	if (ret)
		goto out;
	if (st != VIRTIO_NET_OK || read(x.call, &v, sizeof(v)) == sizeof(v)) {
		ret = t_fail("NO_INTERRUPT: status %d, or the call eventfd fired", st);
		goto out;
	}
	t_ring_set_avail_flags(&x.r, 0);

	/* Reset: one pair again; no ring served until started again. */
	vla_net_ctrl_reset(x.c);
	if (vla_net_ctrl_pairs(x.c) != 1 || vla_net_ctrl_kick_fd(x.c) != -1) {
		ret = t_fail("after reset: %u pairs, kick fd %d",
			     vla_net_ctrl_pairs(x.c), vla_net_ctrl_kick_fd(x.c));
		goto out;
	}
	if (vla_net_ctrl_handle_kick(x.c, true) || !t_ring_get_used(&x.r, &id, &len)) {
		ret = t_fail("a stopped queue was served");
		goto out;
	}
	/* Started without MQ accepted: VQ_PAIRS_SET is an error. */
	ret = start(&x, F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_CTRL_VQ));
	if (ret)
		goto out;
	x.calls = 0;
	ret = pairs_set(&x, 1, &st);
	if (ret)
		goto out;
	if (st != VIRTIO_NET_ERR || x.calls) {
		ret = t_fail("VQ_PAIRS_SET without MQ: status %d, %u calls", st, x.calls);
		goto out;
	}
	ret = 0;
out:
	teardown(&x);
	return ret;
}

/*
 * The back-end did not follow: the driver already has its OK; the error
 * comes out of handle_kick, and nothing more is served.
 */
static int test_backend_fails(void)
{
	uint8_t b[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };
	unsigned int out_len[1] = { 4 }, in_len[1] = { 1 };
	uint32_t id, len;
	uint64_t one = 1;
	struct ctx x;
	int ret;

	ret = setup(&x, F_NET);
	if (ret)
		goto out;
	x.fail_with = -ETIMEDOUT;
	post(&x, b, out_len, 1, in_len, 1);
	post(&x, b, out_len, 1, in_len, 1);
	if (write(x.kick, &one, sizeof(one)) != sizeof(one)) {
		ret = t_fail("kick: %s", strerror(errno));
		goto out;
	}
	ret = vla_net_ctrl_handle_kick(x.c, true);
	if (ret != -ETIMEDOUT || x.calls != 1 || t_ring_get_used(&x.r, &id, &len) ||
	    x.mem[buf_of(1)] != VIRTIO_NET_OK) {
		ret = t_fail("failing callback: handle_kick %d, %u calls, first answer %u",
			     ret, x.calls, x.mem[buf_of(1)]);
		goto out;
	}
	if (!t_ring_get_used(&x.r, &id, &len) ||
	    vla_net_ctrl_handle_kick(x.c, false) != -ETIMEDOUT || x.calls != 1) {
		ret = t_fail("served on after the back-end failed");
		goto out;
	}
	ret = 0;
out:
	teardown(&x);
	return ret;
}

static int test_garbage(void)
{
	static const struct {
		const char *what;
		uint8_t b[8];
		unsigned int len;
	} t[] = {
		{ "empty request", { 0 }, 0 },
		{ "1-byte header", { VIRTIO_NET_CTRL_MQ }, 1 },
		{ "header without data", { VIRTIO_NET_CTRL_MQ, 0 }, 2 },
		{ "1 byte of data", { VIRTIO_NET_CTRL_MQ, 0, 1 }, 3 },
		{ "3 bytes of data", { VIRTIO_NET_CTRL_MQ, 0, 1, 0, 0 }, 5 },
		{ "0 pairs", { VIRTIO_NET_CTRL_MQ, 0, 0, 0 }, 4 },
		{ "max + 1 pairs", { VIRTIO_NET_CTRL_MQ, 0, MAX_PAIRS + 1, 0 }, 4 },
		{ "0xffff pairs", { VIRTIO_NET_CTRL_MQ, 0, 0xff, 0xff }, 4 },
		{ "0x8000 pairs", { VIRTIO_NET_CTRL_MQ, 0, 0, 0x80 }, 4 },
		{ "RSS_CONFIG", { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, 1, 0 }, 4 },
		{ "HASH_CONFIG", { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, 1, 0 }, 4 },
		{ "command 0xff", { VIRTIO_NET_CTRL_MQ, 0xff, 1, 0 }, 4 },
		{ "RX promisc", { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 }, 3 },
		{ "MAC", { VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, 2, 0, 0, 0, 0, 1 }, 8 },
		{ "VLAN", { VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 1, 0 }, 4 },
		{ "ANNOUNCE", { VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK }, 2 },
		{ "GUEST_OFFLOADS", { VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, 0, 0, 0, 0, 0, 0 }, 8 },
		{ "class 0xff", { 0xff, 0, 1, 0 }, 4 },
	};
	unsigned int i, out_len[1], in_len[2] = { 0, 0 };
	const struct vla_net_ctrl_stats *s;
	uint8_t b[4] = { VIRTIO_NET_CTRL_MQ, 0, 1, 0 };
	struct ctx x;
	uint32_t len;
	uint16_t head;
	int st, ret;

	ret = setup(&x, F_NET);
	if (ret)
		goto out;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		ret = send_req(&x, t[i].b, t[i].len, &st);
		if (ret)
			goto out;
		if (st != VIRTIO_NET_ERR || x.calls) {
			ret = t_fail("%s: status %d, %u callbacks", t[i].what, st, x.calls);
			goto out;
		}
	}

	/* No byte for the status (no in part; an empty one): pushed empty. */
	out_len[0] = sizeof(b);
	head = post(&x, b, out_len, 1, in_len, 0);
	ret = serve_one(&x, head, &len);
	if (ret)
		goto out;
	if (len) {
		ret = t_fail("no status buffer: used length %u", len);
		goto out;
	}
	head = post(&x, b, out_len, 1, in_len, 1);
	ret = serve_one(&x, head, &len);
	if (ret)
		goto out;
	if (len || x.calls) {
		ret = t_fail("empty status buffer: used length %u, %u callbacks", len, x.calls);
		goto out;
	}
	s = vla_net_ctrl_stats(x.c);
	if (s->requests != ARRAY_SIZE(t) + 2 || s->errors != s->requests ||
	    s->no_status != 2) {
		ret = t_fail("stats: %llu requests %llu errors %llu without status",
			     (unsigned long long)s->requests,
			     (unsigned long long)s->errors,
			     (unsigned long long)s->no_status);
		goto out;
	}
	/* Still serving after all that. */
	ret = pairs_set(&x, 2, &st);
	if (ret)
		goto out;
	if (st != VIRTIO_NET_OK) {
		ret = t_fail("a valid request after the garbage: status %d", st);
		goto out;
	}
	ret = 0;
out:
	teardown(&x);
	return ret;
}

/* Random bytes, lengths and splits: the answer matches a reference check. */
static int test_fuzz(void)
{
	unsigned int iter, k;
	struct ctx x;
	int ret;

	srandom(4242);
	ret = setup(&x, F_NET);
	if (ret)
		goto out;
	for (iter = 0; iter < 20000; iter++) {
		unsigned int nout = random() % 4, nin = 1 + random() % 2;
		unsigned int out_len[4], in_len[2], total = 0, i;
		uint8_t bytes[4 * 8];
		uint32_t len;
		uint16_t head;
		int st, want;

		for (k = 0; k < nout; k++) {
			out_len[k] = random() % 5;
			total += out_len[k];
		}
		for (k = 0; k < nin; k++)
			in_len[k] = 1 + random() % 3;
		for (k = 0; k < total; k++)
			bytes[k] = random() % 4 ? random() % 8 : random();
		/* Reference: what a correct device answers. */
		want = VIRTIO_NET_ERR;
		if (total == 4 && bytes[0] == VIRTIO_NET_CTRL_MQ &&
		    bytes[1] == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
			unsigned int n = bytes[2] | bytes[3] << 8;

			if (n >= 1 && n <= MAX_PAIRS)
				want = VIRTIO_NET_OK;
		}
		x.calls = 0;
		head = post(&x, bytes, out_len, nout, in_len, nin);
		ret = serve_one(&x, head, &len);
		if (ret)
			goto out;
		i = (head + nout) % NUM;
		st = x.mem[buf_of(i)];
		if (len != 1 || st != want || x.calls != (want == VIRTIO_NET_OK)) {
			ret = t_fail("iteration %u (%u out bytes, first %02x %02x): length %u status %d calls %u, expected status %d",
				     iter, total, total ? bytes[0] : 0,
				     total > 1 ? bytes[1] : 0, len, st, x.calls, want);
			goto out;
		}
	}
	ret = 0;
out:
	teardown(&x);
	return ret;
}

/* libvlb refuses a chain outside memory: the queue stops, no crash. */
static int test_bad_chain(void)
{
	uint32_t id, len;
	uint64_t one = 1;
	struct ctx x;
	int st, ret;

	ret = setup(&x, F_NET);
	if (ret)
		goto out;
	t_ring_desc(&x.r, 0, MEM_SIZE - 2, 4, 0, 0);
	t_ring_post(&x.r, 0);
	if (write(x.kick, &one, sizeof(one)) != sizeof(one)) {
		ret = t_fail("kick: %s", strerror(errno));
		goto out;
	}
	vla_net_ctrl_handle_kick(x.c, true);
	if (!t_ring_get_used(&x.r, &id, &len)) {
		ret = t_fail("a chain outside memory was answered");
		goto out;
	}
	/* A forged avail index far ahead: refused too. */
	vla_net_ctrl_reset(x.c);
	ret = start(&x, F_NET);
	if (ret)
		goto out;
	t_ring_set_avail_idx(&x.r, 1000);
	if (write(x.kick, &one, sizeof(one)) != sizeof(one)) {
		ret = t_fail("kick: %s", strerror(errno));
		goto out;
	}
	vla_net_ctrl_handle_kick(x.c, true);
	if (!t_ring_get_used(&x.r, &id, &len)) {
		ret = t_fail("a forged avail index was served");
		goto out;
	}
	/* A reset brings the queue back. */
	vla_net_ctrl_reset(x.c);
	ret = start(&x, F_NET);
	if (ret)
		goto out;
	ret = pairs_set(&x, 2, &st);
	if (ret)
		goto out;
	if (st != VIRTIO_NET_OK) {
		ret = t_fail("after reset: status %d", st);
		goto out;
	}
	/* A ring outside the region is refused at start. */
	vla_net_ctrl_reset(x.c);
	{
		struct vlb_local_vring bad = {
			.num = NUM, .desc = MEM_SIZE - 16, .avail = AVAIL,
			.used = USED, .kick_fd = x.kick, .call_fd = x.call,
		};

		if (vla_net_ctrl_start(x.c, F_NET, x.memfd, MEM_SIZE, &bad) != -EIO ||
		    vla_net_ctrl_kick_fd(x.c) != -1) {
			ret = t_fail("a descriptor table outside memory was accepted");
			goto out;
		}
	}
	ret = 0;
out:
	teardown(&x);
	return ret;
}

/* More requests than one call serves: the rest later, none lost. */
static int test_budget(void)
{
	unsigned int in_len[1] = { 1 }, i, n = 0, calls = 0;
	uint32_t id, len;
	struct ctx x;
	uint64_t one = 1;
	int ret, more;

	ret = setup(&x, F_NET);
	if (ret)
		goto out;
	vla_net_ctrl_reset(x.c);
	ret = start_num(&x, F_NET, BIG_NUM);
	if (ret)
		goto out;
	/* Status-only chains (empty requests): one descriptor each. */
	for (i = 0; i < 200; i++)
		post(&x, NULL, NULL, 0, in_len, 1);
	if (write(x.kick, &one, sizeof(one)) != sizeof(one)) {
		ret = t_fail("kick: %s", strerror(errno));
		goto out;
	}
	more = vla_net_ctrl_handle_kick(x.c, true);
	while (more == 1 && calls++ < 10)
		more = vla_net_ctrl_handle_kick(x.c, false);
	while (!t_ring_get_used(&x.r, &id, &len))
		n++;
	if (n != 200 || calls < 2 || more) {
		ret = t_fail("%u answers for 200 requests after %u extra calls", n, calls);
		goto out;
	}
	ret = 0;
out:
	teardown(&x);
	return ret;
}

/* The device type table's side: config and the back-end's features. */
static int test_device_type(void)
{
	struct virtio_net_config cfg;
	struct vla_device_type t;
	uint64_t f;

	if (vla_device_type_parse("net", &t))
		return t_fail("no net type");
	f = vla_device_type_vmm_features(&t);
	if (!(f & F(VIRTIO_NET_F_CTRL_VQ)) || !(f & F(VIRTIO_NET_F_MQ)) ||
	    !(f & F(VIRTIO_NET_F_CTRL_RX)) || !(f & F(53)))
		return t_fail("net hides 0x%llx", (unsigned long long)f);
	f = vla_device_type_backend_features(&t, F_NET | F(VIRTIO_NET_F_MRG_RXBUF));
	if (f != (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_MRG_RXBUF)))
		return t_fail("back-end hears 0x%llx", (unsigned long long)f);
	memset(&cfg, 0xaa, sizeof(cfg));
	vla_device_type_vmm_config(&t, F_NET, 7, (uint8_t *)&cfg, sizeof(cfg));
	if (le16toh(cfg.max_virtqueue_pairs) != 3)
		return t_fail("max_virtqueue_pairs %u for 7 queues", le16toh(cfg.max_virtqueue_pairs));
	memset(&cfg, 0xaa, sizeof(cfg));
	vla_device_type_vmm_config(&t, F(VIRTIO_F_VERSION_1), 2, (uint8_t *)&cfg, sizeof(cfg));
	vla_device_type_vmm_config(&t, F_NET, 7, (uint8_t *)&cfg,
				   offsetof(struct virtio_net_config, max_virtqueue_pairs));
	if (cfg.max_virtqueue_pairs != 0xaaaa)
		return t_fail("max_virtqueue_pairs written without MQ or room");
	if (vla_device_type_config_size(&t, F_NET) <
	    offsetof(struct virtio_net_config, max_virtqueue_pairs) + 2)
		return t_fail("net config with MQ lacks max_virtqueue_pairs");
	return 0;
}

int main(void)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} tests[] = {
		{ "layout", test_layout },
		{ "new_args", test_new_args },
		{ "valid", test_valid },
		{ "backend_fails", test_backend_fails },
		{ "garbage", test_garbage },
		{ "fuzz", test_fuzz },
		{ "bad_chain", test_bad_chain },
		{ "budget", test_budget },
		{ "device_type", test_device_type },
	};
	unsigned int i;
	int fds = t_count_fds();

	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		if (tests[i].fn()) {
			fprintf(stderr, "test_%s failed\n", tests[i].name);
			return T_EXIT_FAIL;
		}
	}
	if (t_count_fds() != fds)
		return t_fail("%d fds open at the end, %d at the start", t_count_fds(), fds);
	return T_EXIT_PASS;
}
