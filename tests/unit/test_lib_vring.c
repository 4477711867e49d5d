// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libvlb split-ring parsing and the checks before dispatch.
 *
 * A device lives in this process; the test is its front-end (over a
 * socketpair, real SET_MEM_TABLE with a memfd) and its driver (a split ring
 * written straight into the memfd). Good chains, indirect tables, push,
 * flush and notification suppression must work; every malformed descriptor
 * (outside the region, overflowing addr+len, index >= num, loops, chains
 * longer than the table, readable after writable, bad indirect tables) and
 * every malformed message must be refused with the device marked broken.
 * The region is the whole memfd, so a read outside it would fault.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>

#include "vlb.h"
#include "unit/t_vring.h"

#define MEM_SIZE	(256 * 1024)
#define QVA		0x7f0000000000ULL	/* front-end addresses != guest ones */
#define NUM		8
#define DESC		0x1000
#define AVAIL		0x2000
#define USED		0x3000
#define TABLE		0x8000			/* indirect tables */
#define BUFS		0x10000
#define NR_VQS		2

#define F_INDIRECT	(1ULL << VLB_F_INDIRECT_DESC)
#define F_EVENT_IDX	(1ULL << VLB_F_EVENT_IDX)
#define F_BASE		((1ULL << VLB_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))

struct ctx {
	struct t_sess t;
	uint64_t features;
	unsigned int kicks;
	int started;		/* last queue_set_started(0) value, -1 none */
};

static uint64_t dev_get_features(struct vlb_dev *dev)
{
	struct ctx *c = vlb_dev_priv(dev);

	return c->features;
}

static void dev_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct ctx *c = vlb_dev_priv(dev);

	if (qidx == 0)
		c->kicks++;
}

static void dev_queue_set_started(struct vlb_dev *dev, unsigned int qidx, bool started)
{
	struct ctx *c = vlb_dev_priv(dev);

	if (qidx == 0)
		c->started = started;
}

static const struct vlb_dev_iface test_iface = {
	.get_features		= dev_get_features,
	.queue_set_started	= dev_queue_set_started,
	.queue_kick		= dev_queue_kick,
};

static void teardown(struct ctx *c)
{
	t_sess_close(&c->t, NULL);
}

/* Attach the session's device and negotiate; memory set, no ring. */
static int connect_dev(struct ctx *c)
{
	uint64_t v;
	int ret;

	if (t_sess_attach(&c->t))
		return T_EXIT_FAIL;
	c->t.fe.reply_ack = false;
	ret = t_fe_get_u64(&c->t.fe, VHOST_USER_GET_FEATURES, &v);
	if (ret || v != c->features)
		return t_fail("GET_FEATURES: %d, 0x%llx", ret, (unsigned long long)v);
	ret = t_fe_get_u64(&c->t.fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v);
	if (ret || !(v & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK)) ||
	    (v & (1ULL << VHOST_USER_PROTOCOL_F_CONFIG)))
		return t_fail("GET_PROTOCOL_FEATURES: %d, 0x%llx", ret, (unsigned long long)v);
	ret = t_fe_set_u64(&c->t.fe, VHOST_USER_SET_PROTOCOL_FEATURES, v);
	if (ret)
		return t_fail("SET_PROTOCOL_FEATURES: %s", strerror(-ret));
	c->t.fe.reply_ack = true;
	ret = t_fe_call(&c->t.fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = t_fe_get_u64(&c->t.fe, VHOST_USER_GET_QUEUE_NUM, &v);
	if (ret || v != NR_VQS)
		return t_fail("SET_OWNER/GET_QUEUE_NUM: %d, %llu", ret, (unsigned long long)v);
	ret = t_fe_set_u64(&c->t.fe, VHOST_USER_SET_FEATURES, c->features);
	if (ret)
		return t_fail("SET_FEATURES: %s", strerror(-ret));
	return t_sess_set_mem(&c->t, QVA);
}

/* Queue 0 started and enabled. */
static int start_ring(struct ctx *c)
{
	if (t_sess_start_ring(&c->t, 0))
		return T_EXIT_FAIL;
	if (!vlb_vq_ready(vlb_dev_vq(c->t.dev, 0)) || c->started != 1)
		return t_fail("the ring is not ready after KICK and ENABLE");
	return 0;
}

/* Connected, negotiated, memory set; the ring started when @start. */
static int setup(struct ctx *c, uint64_t features, bool start)
{
	memset(c, 0, sizeof(*c));
	c->features = F_BASE | features;
	c->started = -1;
	if (t_sess_new(&c->t, &test_iface, NR_VQS, c, "test", MEM_SIZE) ||
	    connect_dev(c))
		return T_EXIT_FAIL;
	t_sess_ring(&c->t, 0, NUM, DESC, AVAIL, USED);
	return start ? start_ring(c) : 0;
}

static bool call_signalled(struct ctx *c)
{
	uint64_t v;

	return read(c->t.call[0], &v, sizeof(v)) == sizeof(v);
}

static int test_good_chain(void)
{
	struct vlb_vq_elem *e;
	struct ctx c;
	struct vlb_vq *vq;
	uint32_t id, len;
	int ret;

	if (setup(&c, 0, true))
		return T_EXIT_FAIL;
	vq = vlb_dev_vq(c.t.dev, 0);
	memset(c.t.mem + BUFS, 0xa5, 32);
	t_ring_desc(&c.t.ring[0], 0, BUFS, 16, T_DESC_F_NEXT, 1);
	t_ring_desc(&c.t.ring[0], 1, BUFS + 16, 16, T_DESC_F_NEXT, 2);
	t_ring_desc(&c.t.ring[0], 2, BUFS + 64, 32, T_DESC_F_WRITE | T_DESC_F_NEXT, 3);
	t_ring_desc(&c.t.ring[0], 3, BUFS + 96, 32, T_DESC_F_WRITE, 0);
	t_ring_post(&c.t.ring[0], 0);

	ret = vlb_vq_pop(vq, &e);
	if (ret)
		return t_fail("good chain: pop: %s", strerror(-ret));
	if (e->index != 0 || e->out_num != 2 || e->in_num != 2 ||
	    e->out_sg[0].iov_len != 16 || e->in_sg[1].iov_len != 32)
		return t_fail("good chain: head %u out %u in %u", e->index, e->out_num, e->in_num);
	/* The iovecs are the library's mapping of the same memfd pages. */
	if (memcmp(e->out_sg[0].iov_base, c.t.mem + BUFS, 16) ||
	    memcmp(e->out_sg[1].iov_base, c.t.mem + BUFS + 16, 16))
		return t_fail("good chain: readable buffers do not show the driver's bytes");
	memset(e->in_sg[1].iov_base, 0x5a, 32);
	if (c.t.mem[BUFS + 96] != 0x5a || c.t.mem[BUFS + 127] != 0x5a)
		return t_fail("good chain: writable buffer is not the driver's memory");
	vlb_vq_push(vq, e, 64);
	free(e);
	if (t_ring_used_idx(&c.t.ring[0]) != 0)
		return t_fail("good chain: used idx published before flush");
	vlb_vq_flush(vq);
	if (t_ring_get_used(&c.t.ring[0], &id, &len) || id != 0 || len != 64)
		return t_fail("good chain: used entry id %u len %u", id, len);
	if (vlb_vq_notify(vq) || !call_signalled(&c))
		return t_fail("good chain: no interrupt");

	/* VRING_AVAIL_F_NO_INTERRUPT suppresses the next one. */
	t_ring_set_avail_flags(&c.t.ring[0], 1);
	t_ring_post(&c.t.ring[0], 3);
	if (vlb_vq_pop(vq, &e) || e->index != 3 || e->out_num || e->in_num != 1)
		return t_fail("second chain");
	vlb_vq_push(vq, e, 1);
	free(e);
	vlb_vq_flush(vq);
	if (vlb_vq_notify(vq) || call_signalled(&c))
		return t_fail("interrupt despite VRING_AVAIL_F_NO_INTERRUPT");

	ret = vlb_vq_pop(vq, &e);
	if (ret != -EAGAIN || !vlb_vq_empty(vq) || vlb_dev_broken(c.t.dev))
		return t_fail("empty ring: pop gave %d", ret);

	/* Kicks without EVENT_IDX: used->flags carries NO_NOTIFY. */
	vlb_vq_set_notification(vq, false);
	if (t_get16(c.t.mem + USED) != 1)
		return t_fail("notifications off: used->flags %u", t_get16(c.t.mem + USED));
	vlb_vq_set_notification(vq, true);
	if (t_get16(c.t.mem + USED) != 0)
		return t_fail("notifications on: used->flags %u", t_get16(c.t.mem + USED));
	teardown(&c);
	return 0;
}

static int test_event_idx(void)
{
	struct vlb_vq_elem *e;
	struct vlb_vq *vq;
	struct ctx c;
	int i;

	if (setup(&c, F_EVENT_IDX, true))
		return T_EXIT_FAIL;
	vq = vlb_dev_vq(c.t.dev, 0);
	t_ring_set_used_event(&c.t.ring[0], 0);
	for (i = 0; i < 3; i++) {
		t_ring_desc(&c.t.ring[0], i, BUFS + 64 * i, 64, T_DESC_F_WRITE, 0);
		t_ring_post(&c.t.ring[0], i);
		if (vlb_vq_pop(vq, &e))
			return t_fail("event idx: pop %d", i);
		vlb_vq_push(vq, e, 64);
		free(e);
		vlb_vq_flush(vq);
		vlb_vq_notify(vq);
		/* used_event 0: only the step from 0 to 1 crosses it. */
		if (call_signalled(&c) != (i == 0))
			return t_fail("event idx: step %d signalled %s", i, i ? "yes" : "no");
	}
	/* Without set_notification, avail_event follows the pops. */
	if (t_get16(c.t.mem + USED + 4 + 8 * NUM) != 3)
		return t_fail("event idx: avail_event %u after 3 pops",
			      t_get16(c.t.mem + USED + 4 + 8 * NUM));
	/* used_event 3 is crossed by the step from 3 to 4. */
	t_ring_set_used_event(&c.t.ring[0], 3);
	t_ring_desc(&c.t.ring[0], 3, BUFS, 64, T_DESC_F_WRITE, 0);
	t_ring_post(&c.t.ring[0], 3);
	if (vlb_vq_pop(vq, &e))
		return t_fail("event idx: pop 3");
	vlb_vq_push(vq, e, 64);
	free(e);
	vlb_vq_flush(vq);
	vlb_vq_notify(vq);
	if (!call_signalled(&c))
		return t_fail("event idx: no signal when used_event was crossed");

	/* Enabling notifications publishes avail_event = avail idx. */
	vlb_vq_set_notification(vq, true);
	if (t_get16(c.t.mem + USED + 4 + 8 * NUM) != 4)
		return t_fail("event idx: avail_event %u, want 4",
			      t_get16(c.t.mem + USED + 4 + 8 * NUM));
	teardown(&c);
	return 0;
}

static int test_indirect(void)
{
	struct vlb_vq_elem *e;
	struct ctx c;

	if (setup(&c, F_INDIRECT, true))
		return T_EXIT_FAIL;
	t_desc_write(&c.t.ring[0], TABLE, 0, BUFS, 8, T_DESC_F_NEXT, 1);
	t_desc_write(&c.t.ring[0], TABLE, 1, BUFS + 8, 8, T_DESC_F_WRITE | T_DESC_F_NEXT, 2);
	t_desc_write(&c.t.ring[0], TABLE, 2, BUFS + 16, 8, T_DESC_F_WRITE, 0);
	t_ring_desc(&c.t.ring[0], 5, TABLE, 48, T_DESC_F_INDIRECT, 0);
	t_ring_post(&c.t.ring[0], 5);
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e))
		return t_fail("indirect: pop failed");
	if (e->index != 5 || e->out_num != 1 || e->in_num != 2)
		return t_fail("indirect: head %u out %u in %u", e->index, e->out_num, e->in_num);
	vlb_vq_push(vlb_dev_vq(c.t.dev, 0), e, 16);
	free(e);
	teardown(&c);
	return 0;
}

/* Lay out a bad chain at head 0 and expect the pop to break the device. */
struct bad_chain {
	const char *what;
	uint64_t features;
	void (*build)(struct ctx *c);
};

static void bad_out_of_region(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, MEM_SIZE - 8, 16, T_DESC_F_WRITE, 0);
}

static void bad_beyond_region(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, MEM_SIZE, 1, T_DESC_F_WRITE, 0);
}

static void bad_overflow(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, UINT64_MAX - 4, 16, T_DESC_F_WRITE, 0);
}

static void bad_next_index(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, BUFS, 8, T_DESC_F_NEXT, NUM);
}

static void bad_loop(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, BUFS, 8, T_DESC_F_NEXT, 1);
	t_ring_desc(&c->t.ring[0], 1, BUFS, 8, T_DESC_F_NEXT, 0);
}

static void bad_self_loop(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, BUFS, 8, T_DESC_F_NEXT, 0);
}

static void bad_long_chain(struct ctx *c)
{
	unsigned int i;

	/* Every descriptor in the table, then round again. */
	for (i = 0; i < NUM; i++)
		t_ring_desc(&c->t.ring[0], i, BUFS + 8 * i, 8, T_DESC_F_WRITE | T_DESC_F_NEXT,
			    (i + 1) % NUM);
}

static void bad_read_after_write(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, BUFS, 8, T_DESC_F_WRITE | T_DESC_F_NEXT, 1);
	t_ring_desc(&c->t.ring[0], 1, BUFS + 8, 8, 0, 0);
}

static void bad_indirect(struct ctx *c)
{
	t_desc_write(&c->t.ring[0], TABLE, 0, BUFS, 8, T_DESC_F_WRITE, 0);
	t_ring_desc(&c->t.ring[0], 0, TABLE, 16, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_len(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, TABLE, 20, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_zero(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, TABLE, 0, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_outside(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, MEM_SIZE - 16, 32, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_overflow(struct ctx *c)
{
	t_ring_desc(&c->t.ring[0], 0, UINT64_MAX - 15, 32, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_next(struct ctx *c)
{
	t_desc_write(&c->t.ring[0], TABLE, 0, BUFS, 8, T_DESC_F_WRITE, 0);
	t_ring_desc(&c->t.ring[0], 0, TABLE, 16, T_DESC_F_INDIRECT | T_DESC_F_NEXT, 1);
	t_ring_desc(&c->t.ring[0], 1, BUFS, 8, T_DESC_F_WRITE, 0);
}

static void bad_indirect_nested(struct ctx *c)
{
	t_desc_write(&c->t.ring[0], TABLE, 0, TABLE + 64, 16, T_DESC_F_INDIRECT, 0);
	t_desc_write(&c->t.ring[0], TABLE + 64, 0, BUFS, 8, T_DESC_F_WRITE, 0);
	t_ring_desc(&c->t.ring[0], 0, TABLE, 16, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_index(struct ctx *c)
{
	t_desc_write(&c->t.ring[0], TABLE, 0, BUFS, 8, T_DESC_F_WRITE | T_DESC_F_NEXT, 2);
	t_desc_write(&c->t.ring[0], TABLE, 1, BUFS, 8, T_DESC_F_WRITE, 0);
	t_ring_desc(&c->t.ring[0], 0, TABLE, 32, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_loop(struct ctx *c)
{
	t_desc_write(&c->t.ring[0], TABLE, 0, BUFS, 8, T_DESC_F_WRITE | T_DESC_F_NEXT, 1);
	t_desc_write(&c->t.ring[0], TABLE, 1, BUFS, 8, T_DESC_F_WRITE | T_DESC_F_NEXT, 0);
	t_ring_desc(&c->t.ring[0], 0, TABLE, 32, T_DESC_F_INDIRECT, 0);
}

static void bad_indirect_buffer(struct ctx *c)
{
	t_desc_write(&c->t.ring[0], TABLE, 0, MEM_SIZE - 4, 8, T_DESC_F_WRITE, 0);
	t_ring_desc(&c->t.ring[0], 0, TABLE, 16, T_DESC_F_INDIRECT, 0);
}

static const struct bad_chain bad_chains[] = {
	{ "buffer crossing the region end", 0, bad_out_of_region },
	{ "buffer beyond the region", 0, bad_beyond_region },
	{ "addr+len overflowing", 0, bad_overflow },
	{ "next index >= num", 0, bad_next_index },
	{ "two-descriptor loop", 0, bad_loop },
	{ "descriptor pointing at itself", 0, bad_self_loop },
	{ "chain longer than the ring", 0, bad_long_chain },
	{ "readable after writable", 0, bad_read_after_write },
	{ "indirect not negotiated", 0, bad_indirect },
	{ "indirect length not a multiple of 16", F_INDIRECT, bad_indirect_len },
	{ "indirect length 0", F_INDIRECT, bad_indirect_zero },
	{ "indirect table outside the region", F_INDIRECT, bad_indirect_outside },
	{ "indirect table overflowing", F_INDIRECT, bad_indirect_overflow },
	{ "indirect with NEXT", F_INDIRECT, bad_indirect_next },
	{ "nested indirect", F_INDIRECT, bad_indirect_nested },
	{ "indirect next index beyond its table", F_INDIRECT, bad_indirect_index },
	{ "indirect loop", F_INDIRECT, bad_indirect_loop },
	{ "indirect entry outside the region", F_INDIRECT, bad_indirect_buffer },
};

static int expect_broken_pop(struct ctx *c, const char *what)
{
	struct vlb_vq_elem *e;
	int ret;

	ret = vlb_vq_pop(vlb_dev_vq(c->t.dev, 0), &e);
	if (ret != -EIO || e)
		return t_fail("%s: pop gave %d, want -EIO", what, ret);
	if (!vlb_dev_broken(c->t.dev) || vlb_vq_ready(vlb_dev_vq(c->t.dev, 0)))
		return t_fail("%s: device not marked broken", what);
	/* The event loop gives up on a broken device. */
	if (vlb_dev_run(c->t.dev, -1) != -EPROTO)
		return t_fail("%s: vlb_dev_run on a broken device", what);
	return 0;
}

static int test_bad_chains(void)
{
	unsigned int i;
	struct ctx c;

	for (i = 0; i < ARRAY_SIZE(bad_chains); i++) {
		const struct bad_chain *b = &bad_chains[i];

		if (setup(&c, b->features, true))
			return T_EXIT_FAIL;
		b->build(&c);
		t_ring_post(&c.t.ring[0], 0);
		if (expect_broken_pop(&c, b->what))
			return T_EXIT_FAIL;
		teardown(&c);
	}

	/* The avail ring names a descriptor beyond the table. */
	if (setup(&c, 0, true))
		return T_EXIT_FAIL;
	t_ring_post(&c.t.ring[0], NUM);
	if (expect_broken_pop(&c, "head index >= num"))
		return T_EXIT_FAIL;
	teardown(&c);

	/* avail->idx more than num ahead of what we consumed. */
	if (setup(&c, 0, true))
		return T_EXIT_FAIL;
	t_ring_set_avail_idx(&c.t.ring[0], NUM + 1);
	if (expect_broken_pop(&c, "avail idx too far ahead"))
		return T_EXIT_FAIL;
	teardown(&c);
	return 0;
}

/* The ring itself at a bad place: the device breaks at SET_VRING_KICK. */
static int test_bad_rings(void)
{
	static const struct {
		const char *what;
		uint64_t desc, avail, used;
	} cases[] = {
		{ "descriptor table past the region", MEM_SIZE - 64, AVAIL, USED },
		{ "used ring past the region", DESC, AVAIL, MEM_SIZE - 8 },
		{ "avail ring outside memory", DESC, MEM_SIZE + 0x1000, USED },
		{ "misaligned descriptor table", DESC + 8, AVAIL, USED },
		{ "misaligned used ring", DESC, AVAIL, USED + 2 },
	};
	unsigned int i;
	struct ctx c;
	int ret;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (setup(&c, 0, false))
			return T_EXIT_FAIL;
		c.t.ring[0].desc = cases[i].desc;
		c.t.ring[0].avail = cases[i].avail;
		c.t.ring[0].used = cases[i].used;
		ret = t_fe_start_ring(&c.t.fe, 0, &c.t.ring[0], QVA, c.t.kick[0], c.t.call[0]);
		if (ret != -EPROTO || !vlb_dev_broken(c.t.dev))
			return t_fail("%s: starting gave %d, want -EPROTO and broken",
				      cases[i].what, ret);
		teardown(&c);
	}
	return 0;
}

/* Malformed messages: refused before any handler, fds closed, device broken. */
static int test_bad_messages(void)
{
	struct vhost_user_mem_table t = { .nregions = 1 };
	struct vhost_user_vring_state s = { .index = NR_VQS, .num = NUM };
	uint64_t v = 1ULL << 40;
	struct vhost_user_msg reply;
	int fds[2], before, ret;
	struct ctx c;
	struct {
		const char *what;
		uint32_t req;
		const void *payload;
		uint32_t size;
		unsigned int nfds;
	} cases[] = {
		{ "queue index out of range", VHOST_USER_SET_VRING_NUM, &s, sizeof(s), 0 },
		{ "ring size not a power of 2", VHOST_USER_SET_VRING_NUM,
		  &(struct vhost_user_vring_state){ 0, 7 }, sizeof(s), 0 },
		{ "ring size 0", VHOST_USER_SET_VRING_NUM,
		  &(struct vhost_user_vring_state){ 0, 0 }, sizeof(s), 0 },
		{ "short payload", VHOST_USER_SET_FEATURES, &v, 4, 0 },
		{ "feature not offered", VHOST_USER_SET_FEATURES, &v, 8, 0 },
		{ "fds where none belong", VHOST_USER_SET_OWNER, NULL, 0, 2 },
		{ "memory table with fewer fds than regions", VHOST_USER_SET_MEM_TABLE, &t,
		  offsetof(struct vhost_user_mem_table, regions) + sizeof(t.regions[0]), 0 },
		{ "memory table with more fds than regions", VHOST_USER_SET_MEM_TABLE, &t,
		  offsetof(struct vhost_user_mem_table, regions) + sizeof(t.regions[0]), 2 },
		{ "memory region of size 0", VHOST_USER_SET_MEM_TABLE, &t,
		  offsetof(struct vhost_user_mem_table, regions) + sizeof(t.regions[0]), 1 },
		{ "unknown request", 35, NULL, 0, 0 },
		{ "request beyond the table", 200, NULL, 0, 0 },
		{ "SET_VRING_BASE beyond 16 bits", VHOST_USER_SET_VRING_BASE,
		  &(struct vhost_user_vring_state){ 0, 0x10000 }, sizeof(s), 0 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (setup(&c, 0, false))
			return T_EXIT_FAIL;
		fds[0] = eventfd(0, EFD_CLOEXEC);
		fds[1] = eventfd(0, EFD_CLOEXEC);
		before = t_count_fds();
		ret = t_fe_call(&c.t.fe, cases[i].req, cases[i].payload, cases[i].size,
				fds, cases[i].nfds, NULL);
		if (ret != -EPROTO || !vlb_dev_broken(c.t.dev))
			return t_fail("%s: got %d, want -EPROTO and broken", cases[i].what, ret);
		close(fds[0]);
		close(fds[1]);
		/* The library's copies of the fds are gone too. */
		if (t_count_fds() != before - 2)
			return t_fail("%s: fds leaked (%d open, want %d)", cases[i].what,
				      t_count_fds(), before - 2);
		teardown(&c);
	}

	/* A REPLY_ACK failure that is not a protocol error. */
	if (setup(&c, 0, false))
		return T_EXIT_FAIL;
	ret = t_fe_call(&c.t.fe, VHOST_USER_GET_CONFIG,
			&(struct vhost_user_config){ .size = 4 }, VHOST_USER_CONFIG_HDR_SIZE + 4,
			NULL, 0, &reply);
	if (ret != -EPROTO || !vlb_dev_broken(c.t.dev))
		return t_fail("GET_CONFIG without the CONFIG feature: got %d", ret);
	teardown(&c);
	return 0;
}

/* GET_VRING_BASE stops the ring and reports where it stopped. */
static int test_stop_and_reset(void)
{
	struct vhost_user_vring_state s = { .index = 0 };
	struct vhost_user_msg r;
	struct vlb_vq_elem *e;
	struct ctx c;
	int ret;

	if (setup(&c, 0, true))
		return T_EXIT_FAIL;
	t_ring_desc(&c.t.ring[0], 0, BUFS, 8, T_DESC_F_WRITE, 0);
	t_ring_post(&c.t.ring[0], 0);
	t_ring_post(&c.t.ring[0], 0);
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e))
		return t_fail("stop: pop");
	vlb_vq_push(vlb_dev_vq(c.t.dev, 0), e, 0);
	free(e);
	vlb_vq_flush(vlb_dev_vq(c.t.dev, 0));
	/* Left off here; a restart must turn kicks back on. */
	vlb_vq_set_notification(vlb_dev_vq(c.t.dev, 0), false);
	ret = t_fe_call(&c.t.fe, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &r);
	if (ret || r.hdr.size != sizeof(s) || r.payload.state.num != 1)
		return t_fail("GET_VRING_BASE: %d, base %u", ret, r.payload.state.num);
	if (vlb_vq_ready(vlb_dev_vq(c.t.dev, 0)) || c.started != 0 ||
	    vlb_vq_kick_fd(vlb_dev_vq(c.t.dev, 0)) >= 0)
		return t_fail("GET_VRING_BASE did not stop the ring");
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e) != -EAGAIN)
		return t_fail("pop from a stopped ring");

	/* Start again from the base we were given. */
	ret = t_fe_set_state(&c.t.fe, VHOST_USER_SET_VRING_BASE, 0, 1);
	if (!ret)
		ret = t_fe_set_vring_fd(&c.t.fe, VHOST_USER_SET_VRING_KICK, 0, c.t.kick[0]);
	if (ret || !vlb_vq_ready(vlb_dev_vq(c.t.dev, 0)) || c.started != 1)
		return t_fail("restart: %d", ret);
	if (t_get16(c.t.mem + USED) != 0)
		return t_fail("restart: used->flags still %u", t_get16(c.t.mem + USED));
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e))
		return t_fail("restart: the second chain is not there");

	/* An element held across stop and start is dropped, not pushed. */
	ret = t_fe_call(&c.t.fe, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &r);
	if (ret || r.payload.state.num != 2)
		return t_fail("second GET_VRING_BASE: %d, base %u", ret, r.payload.state.num);
	ret = t_fe_set_state(&c.t.fe, VHOST_USER_SET_VRING_BASE, 0, 2);
	if (!ret)
		ret = t_fe_set_vring_fd(&c.t.fe, VHOST_USER_SET_VRING_KICK, 0, c.t.kick[0]);
	if (ret)
		return t_fail("second restart: %d", ret);
	vlb_vq_push(vlb_dev_vq(c.t.dev, 0), e, 0);
	free(e);
	vlb_vq_flush(vlb_dev_vq(c.t.dev, 0));
	if (t_ring_used_idx(&c.t.ring[0]) != 1)
		return t_fail("a stale element reached the used ring (idx %u)",
			      t_ring_used_idx(&c.t.ring[0]));

	/* STATUS round trip, then RESET_DEVICE stops everything. */
	ret = t_fe_set_u64(&c.t.fe, VHOST_USER_SET_STATUS, 0xf);
	if (ret || vlb_dev_status(c.t.dev) != 0xf)
		return t_fail("SET_STATUS: %d", ret);
	ret = t_fe_call(&c.t.fe, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0, NULL);
	if (ret || vlb_vq_ready(vlb_dev_vq(c.t.dev, 0)) || c.started != 0 ||
	    vlb_dev_status(c.t.dev) != 0 || vlb_dev_features(c.t.dev) != 0)
		return t_fail("RESET_DEVICE: %d", ret);
	if (vlb_dev_broken(c.t.dev))
		return t_fail("the device broke on a good sequence");
	teardown(&c);
	return 0;
}

static int mem_reg(struct ctx *c, uint32_t req, uint64_t gpa, uint64_t size)
{
	struct vhost_user_mem_reg m = {
		.region = {
			.guest_phys_addr = gpa,
			.memory_size = size,
			.userspace_addr = QVA + gpa,
			.mmap_offset = gpa,
		},
	};

	return t_fe_call(&c->t.fe, req, &m, sizeof(m), &c->t.memfd,
			 req == VHOST_USER_ADD_MEM_REG ? 1 : 0, NULL);
}

/* CONFIGURE_MEM_SLOTS: regions come and go one at a time. */
static int test_mem_slots(void)
{
	const uint64_t half = MEM_SIZE / 2;
	struct vlb_vq_elem *e;
	struct ctx c;
	uint64_t v;
	int ret;

	if (setup(&c, 0, false))
		return T_EXIT_FAIL;
	ret = t_fe_get_u64(&c.t.fe, VHOST_USER_GET_MAX_MEM_SLOTS, &v);
	if (ret || v != VHOST_USER_MAX_MEM_REGIONS)
		return t_fail("GET_MAX_MEM_SLOTS: %d, %llu", ret, (unsigned long long)v);
	/* Replace the one region by two halves (mmap offsets 0 and half). */
	ret = mem_reg(&c, VHOST_USER_REM_MEM_REG, 0, MEM_SIZE);
	if (!ret)
		ret = mem_reg(&c, VHOST_USER_ADD_MEM_REG, 0, half);
	if (!ret)
		ret = mem_reg(&c, VHOST_USER_ADD_MEM_REG, half, half);
	if (ret)
		return t_fail("REM/ADD_MEM_REG: %s", strerror(-ret));
	ret = t_fe_start_ring(&c.t.fe, 0, &c.t.ring[0], QVA, c.t.kick[0], c.t.call[0]);
	if (!ret)
		ret = t_fe_set_state(&c.t.fe, VHOST_USER_SET_VRING_ENABLE, 0, 1);
	if (ret)
		return t_fail("starting the ring on two regions: %s", strerror(-ret));

	/* One buffer across the boundary gives two iovecs, both right. */
	c.t.mem[half - 1] = 0x11;
	c.t.mem[half] = 0x22;
	t_ring_desc(&c.t.ring[0], 0, half - 8, 16, 0, 0);
	t_ring_post(&c.t.ring[0], 0);
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e))
		return t_fail("pop across regions");
	if (e->out_num != 2 || e->out_sg[0].iov_len != 8 || e->out_sg[1].iov_len != 8 ||
	    ((uint8_t *)e->out_sg[0].iov_base)[7] != 0x11 ||
	    ((uint8_t *)e->out_sg[1].iov_base)[0] != 0x22)
		return t_fail("buffer across regions: %u iovecs", e->out_num);
	vlb_vq_push(vlb_dev_vq(c.t.dev, 0), e, 0);
	free(e);

	/* Removing what is not there is refused, not fatal. */
	ret = mem_reg(&c, VHOST_USER_REM_MEM_REG, 0x1000, half);
	if (ret != -EIO || vlb_dev_broken(c.t.dev))
		return t_fail("REM_MEM_REG of no region: %d, want a REPLY_ACK failure", ret);
	/* Overlapping an existing region is a protocol error. */
	ret = mem_reg(&c, VHOST_USER_ADD_MEM_REG, half, half);
	if (ret != -EPROTO || !vlb_dev_broken(c.t.dev))
		return t_fail("overlapping ADD_MEM_REG: %d, want -EPROTO", ret);
	teardown(&c);

	/* Pulling the memory from under a started ring breaks the device. */
	if (setup(&c, 0, true))
		return T_EXIT_FAIL;
	ret = mem_reg(&c, VHOST_USER_REM_MEM_REG, 0, MEM_SIZE);
	if (ret != -EPROTO || !vlb_dev_broken(c.t.dev) || c.started != 0)
		return t_fail("REM_MEM_REG under a started ring: %d", ret);
	teardown(&c);
	return 0;
}


/* Inflight records ---------------------------------------------------------- */

/* The spec's per-queue record (split rings), as a front-end sees it. */
struct inf_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct inf_queue {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct inf_desc desc[];
};

/* The inflight file of one test: fd and the front-end's mapping. */
struct inf {
	int fd;
	uint8_t *map;
	uint64_t size;
	uint16_t queue_size;
};

static struct inf_queue *inf_queue(struct inf *f, unsigned int q)
{
	/* 16-byte header and 16 bytes per entry, each queue 64-byte aligned. */
	size_t stride = (16 + 16 * (size_t)f->queue_size + 63) & ~(size_t)63;

	return (struct inf_queue *)(f->map + q * stride);
}

static void inf_close(struct inf *f)
{
	if (f->map)
		munmap(f->map, f->size);
	if (f->fd >= 0)
		close(f->fd);
	f->map = NULL;
	f->fd = -1;
}

/* GET_INFLIGHT_FD for @nq queues of @qs entries; map what comes back. */
static int inf_get(struct ctx *c, struct inf *f, uint16_t nq, uint16_t qs)
{
	struct vhost_user_inflight in = { .num_queues = nq, .queue_size = qs };
	struct vhost_user_msg r;
	int ret;

	f->fd = -1;
	f->map = NULL;
	ret = t_fe_call(&c->t.fe, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), NULL, 0, &r);
	if (ret)
		return t_fail("GET_INFLIGHT_FD: %s", strerror(-ret));
	if (r.nfds != 1 || r.hdr.size != sizeof(in))
		return t_fail("GET_INFLIGHT_FD: %u fds, %u bytes", r.nfds, r.hdr.size);
	f->fd = r.fds[0];
	f->size = r.payload.inflight.mmap_size;
	f->queue_size = qs;
	if (f->size != nq * ((16 + 16 * (uint64_t)qs + 63) & ~63ULL) ||
	    r.payload.inflight.mmap_offset)
		return t_fail("GET_INFLIGHT_FD: size %llu offset %llu for %u x %u",
			      (unsigned long long)f->size,
			      (unsigned long long)r.payload.inflight.mmap_offset, nq, qs);
	f->map = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	if (f->map == MAP_FAILED) {
		f->map = NULL;
		return t_fail("mmap of the inflight file: %s", strerror(errno));
	}
	if (inf_queue(f, nq - 1)->version != 1 || inf_queue(f, nq - 1)->desc_num != qs ||
	    inf_queue(f, 0)->desc[0].inflight)
		return t_fail("GET_INFLIGHT_FD: version %u desc_num %u",
			      inf_queue(f, nq - 1)->version, inf_queue(f, nq - 1)->desc_num);
	return 0;
}

static int inf_set(struct ctx *c, struct inf *f, uint64_t size, uint64_t offset,
		   uint16_t nq, uint16_t qs)
{
	struct vhost_user_inflight in = {
		.mmap_size = size, .mmap_offset = offset,
		.num_queues = nq, .queue_size = qs,
	};

	return t_fe_call(&c->t.fe, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in), &f->fd, 1, NULL);
}

/* The back-end dies (its state goes); a new one gets the same file and rings. */
static int inf_restart(struct ctx *c, struct inf *f)
{
	int ret;

	c->started = -1;
	if (t_sess_new_dev(&c->t, &test_iface, NR_VQS, c, "test") || connect_dev(c))
		return T_EXIT_FAIL;
	ret = inf_set(c, f, f->size, 0, NR_VQS, f->queue_size);
	if (ret)
		return t_fail("SET_INFLIGHT_FD after the restart: %s", strerror(-ret));
	/* start_ring sends base 0: the record, not the base, must count. */
	return start_ring(c);
}

/* Pop @n and check the heads come in order @want. */
static int pop_expect(struct ctx *c, const uint16_t *want, unsigned int n,
		      struct vlb_vq_elem **elems, const char *what)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = vlb_vq_pop(vlb_dev_vq(c->t.dev, 0), &elems[i]);
		if (ret)
			return t_fail("%s: pop %u: %s", what, i, strerror(-ret));
		if (elems[i]->index != want[i])
			return t_fail("%s: pop %u gave head %u, want %u", what, i,
				      elems[i]->index, want[i]);
	}
	return 0;
}

static void push_free(struct ctx *c, struct vlb_vq_elem *e)
{
	vlb_vq_push(vlb_dev_vq(c->t.dev, 0), e, 8);
	free(e);
}

/*
 * Pop six chains posted out of index order, complete two, die; the next
 * back-end gets exactly the four unfinished ones, in the order the first
 * took them, then the new ones.
 */
static int test_inflight_resubmit(void)
{
	static const uint16_t posted[] = { 5, 2, 0, 4, 1, 3 };
	static const uint16_t owed[] = { 5, 0, 4, 6, 7 };
	struct vlb_vq_elem *e[8];
	struct inf_queue *q;
	struct inf f;
	struct ctx c;
	unsigned int i;
	uint32_t id, len;

	if (setup(&c, 0, false) || inf_get(&c, &f, NR_VQS, NUM))
		return T_EXIT_FAIL;
	if (inf_set(&c, &f, f.size, 0, NR_VQS, NUM) || start_ring(&c))
		return t_fail("SET_INFLIGHT_FD and start");
	q = inf_queue(&f, 0);
	for (i = 0; i < NUM; i++)
		t_ring_desc(&c.t.ring[0], i, BUFS + 8 * i, 8, T_DESC_F_WRITE, 0);
	for (i = 0; i < 6; i++)
		t_ring_post(&c.t.ring[0], posted[i]);
	if (pop_expect(&c, posted, 6, e, "first back-end"))
		return T_EXIT_FAIL;
	for (i = 0; i < 6; i++)
		if (q->desc[posted[i]].inflight != 1 || q->desc[posted[i]].counter != i)
			return t_fail("head %u: inflight %u counter %llu", posted[i],
				      q->desc[posted[i]].inflight,
				      (unsigned long long)q->desc[posted[i]].counter);
	/* Heads 2 and 1 complete; the batch is cleared once published. */
	push_free(&c, e[1]);
	push_free(&c, e[4]);
	vlb_vq_flush(vlb_dev_vq(c.t.dev, 0));
	if (q->desc[2].inflight || q->desc[1].inflight || q->used_idx != 2 ||
	    q->last_batch_head != 1 || q->desc[1].next != 2)
		return t_fail("after flush: inflight %u %u, used_idx %u, batch head %u",
			      q->desc[2].inflight, q->desc[1].inflight, q->used_idx,
			      q->last_batch_head);
	/* Head 3 completes too; the driver posts two more meanwhile. */
	push_free(&c, e[5]);
	vlb_vq_flush(vlb_dev_vq(c.t.dev, 0));
	free(e[0]);
	free(e[2]);
	free(e[3]);
	t_ring_post(&c.t.ring[0], 6);
	t_ring_post(&c.t.ring[0], 7);

	if (inf_restart(&c, &f))
		return T_EXIT_FAIL;
	if (pop_expect(&c, owed, 5, e, "after the restart"))
		return T_EXIT_FAIL;
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e[6]) != -EAGAIN)
		return t_fail("after the restart: more than the owed and the new chains");
	for (i = 0; i < 5; i++)
		push_free(&c, e[i]);
	vlb_vq_flush(vlb_dev_vq(c.t.dev, 0));
	for (i = 0; i < 3; i++)
		t_ring_get_used(&c.t.ring[0], &id, &len);
	for (i = 0; i < 5; i++)
		if (t_ring_get_used(&c.t.ring[0], &id, &len) || id != owed[i])
			return t_fail("used entry %u: id %u, want %u", 3 + i, id, owed[i]);
	for (i = 0; i < NUM; i++)
		if (q->desc[i].inflight)
			return t_fail("head %u still in flight after completion", i);
	if (vlb_dev_broken(c.t.dev))
		return t_fail("the device broke on a good restart");
	inf_close(&f);
	teardown(&c);
	return 0;
}

/*
 * The back-end dies after publishing used->idx for a batch of two and
 * before clearing it: the next one repairs the batch and resubmits only
 * the chain that was really owed.
 */
static int test_inflight_batch_crash(void)
{
	struct vlb_vq_elem *e[3];
	struct inf_queue *q;
	struct inf f;
	struct ctx c;
	unsigned int i;

	if (setup(&c, 0, false) || inf_get(&c, &f, NR_VQS, NUM))
		return T_EXIT_FAIL;
	if (inf_set(&c, &f, f.size, 0, NR_VQS, NUM) || start_ring(&c))
		return t_fail("SET_INFLIGHT_FD and start");
	q = inf_queue(&f, 0);
	for (i = 0; i < 3; i++) {
		t_ring_desc(&c.t.ring[0], i, BUFS + 8 * i, 8, T_DESC_F_WRITE, 0);
		t_ring_post(&c.t.ring[0], i);
		if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e[i]))
			return t_fail("batch: pop %u", i);
	}
	push_free(&c, e[0]);
	push_free(&c, e[1]);
	vlb_vq_flush(vlb_dev_vq(c.t.dev, 0));
	free(e[2]);
	/* Undo the clear: the state between the used->idx store and it. */
	q->desc[0].inflight = 1;
	q->desc[1].inflight = 1;
	q->used_idx = 0;
	if (t_ring_used_idx(&c.t.ring[0]) != 2)
		return t_fail("batch: used idx %u", t_ring_used_idx(&c.t.ring[0]));

	if (inf_restart(&c, &f))
		return T_EXIT_FAIL;
	if (q->desc[0].inflight || q->desc[1].inflight || q->used_idx != 2)
		return t_fail("batch not repaired: inflight %u %u used_idx %u",
			      q->desc[0].inflight, q->desc[1].inflight, q->used_idx);
	if (pop_expect(&c, (const uint16_t[]){ 2 }, 1, e, "batch"))
		return T_EXIT_FAIL;
	free(e[0]);
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e[0]) != -EAGAIN)
		return t_fail("batch: a completed chain came back");
	inf_close(&f);
	teardown(&c);
	return 0;
}

/* A first record for a ring that has run a while: empty, so accepted. */
static int test_inflight_late(void)
{
	struct vhost_user_vring_state st = { .index = 0 };
	struct vhost_user_msg r;
	struct vlb_vq_elem *e;
	struct inf f;
	struct ctx c;
	unsigned int i;

	if (setup(&c, 0, true))
		return T_EXIT_FAIL;
	t_ring_desc(&c.t.ring[0], 0, BUFS, 8, T_DESC_F_WRITE, 0);
	for (i = 0; i < 3 * NUM; i++) {
		t_ring_post(&c.t.ring[0], 0);
		if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e))
			return t_fail("late: pop %u", i);
		push_free(&c, e);
		vlb_vq_flush(vlb_dev_vq(c.t.dev, 0));
	}
	if (t_fe_call(&c.t.fe, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &r) ||
	    inf_get(&c, &f, NR_VQS, NUM) || inf_set(&c, &f, f.size, 0, NR_VQS, NUM) ||
	    start_ring(&c))
		return t_fail("late: restart with a new record");
	t_ring_post(&c.t.ring[0], 0);
	if (vlb_vq_pop(vlb_dev_vq(c.t.dev, 0), &e) || vlb_dev_broken(c.t.dev))
		return t_fail("late: no pop after the restart");
	free(e);
	if (inf_queue(&f, 0)->used_idx != 3 * NUM || inf_queue(&f, 0)->desc[0].inflight != 1)
		return t_fail("late: record used_idx %u", inf_queue(&f, 0)->used_idx);
	inf_close(&f);
	teardown(&c);
	return 0;
}

/* What a garbage inflight record looks like, applied before the start. */
struct bad_record {
	const char *what;
	uint16_t queue_size;	/* GET/SET queue size (NUM if 0) */
	void (*spoil)(struct inf_queue *q);
};

static void spoil_version(struct inf_queue *q) { q->version = 7; }
static void spoil_desc_num_small(struct inf_queue *q) { q->desc_num = NUM / 2; }
static void spoil_desc_num_big(struct inf_queue *q) { q->desc_num = 9000; }
static void spoil_flag(struct inf_queue *q) { q->desc[3].inflight = 2; }
static void spoil_head_past_ring(struct inf_queue *q) { q->desc[NUM + 3].inflight = 1; }
static void spoil_used_far(struct inf_queue *q)
{
	q->used_idx = 100;	/* not a batch: fine for an empty record only */
	q->desc[2].inflight = 1;
}
static void spoil_batch_head(struct inf_queue *q)
{
	q->used_idx = 0xffff;	/* a batch of one... */
	q->last_batch_head = 200;	/* ...that starts outside the ring */
}
static void spoil_batch_link(struct inf_queue *q)
{
	q->used_idx = 0xfffe;	/* a batch of two... */
	q->last_batch_head = 1;
	q->desc[1].next = 4000;	/* ...whose second link leaves the ring */
}

static const struct bad_record bad_records[] = {
	{ "version 7", 0, spoil_version },
	{ "desc_num below the ring size", 0, spoil_desc_num_small },
	{ "desc_num beyond the file", 0, spoil_desc_num_big },
	{ "inflight flag 2", 0, spoil_flag },
	{ "inflight head beyond the ring", 2 * NUM, spoil_head_past_ring },
	{ "used_idx a ring ahead", 0, spoil_used_far },
	{ "batch head beyond the ring", 0, spoil_batch_head },
	{ "batch link beyond the ring", 0, spoil_batch_link },
};

/* A front-end sending garbage: refused with one line, never a crash. */
static int test_inflight_bad(void)
{
	struct vhost_user_inflight in;
	struct inf f;
	struct ctx c;
	unsigned int i;
	int small, ret;
	void *map;

	for (i = 0; i < ARRAY_SIZE(bad_records); i++) {
		const struct bad_record *b = &bad_records[i];
		uint16_t qs = b->queue_size ? b->queue_size : NUM;

		if (setup(&c, 0, false) || inf_get(&c, &f, NR_VQS, qs))
			return T_EXIT_FAIL;
		if (inf_set(&c, &f, f.size, 0, NR_VQS, qs))
			return t_fail("%s: SET_INFLIGHT_FD", b->what);
		b->spoil(inf_queue(&f, 0));
		ret = t_fe_start_ring(&c.t.fe, 0, &c.t.ring[0], QVA, c.t.kick[0], c.t.call[0]);
		if (ret != -EPROTO || !vlb_dev_broken(c.t.dev))
			return t_fail("%s: start gave %d, want -EPROTO", b->what, ret);
		inf_close(&f);
		teardown(&c);
	}

	/* Bad GET_INFLIGHT_FD and SET_INFLIGHT_FD messages. */
	for (i = 0; i < 11; i++) {
		static const char *const what[] = {
			"GET of 0 queues", "GET of more queues than the device has",
			"GET of queue size 0", "GET of queue size 40000",
			"GET of 16 bytes", "SET smaller than its queues",
			"SET at an unaligned offset", "SET past the end of its file",
			"SET of a huge size on a small file", "SET while started",
			"SET of 0 queues",
		};

		if (setup(&c, 0, false) || inf_get(&c, &f, NR_VQS, NUM))
			return T_EXIT_FAIL;
		memset(&in, 0, sizeof(in));
		in.num_queues = NR_VQS;
		in.queue_size = NUM;
		switch (i) {
		case 0:
			in.num_queues = 0;
			break;
		case 1:
			in.num_queues = NR_VQS + 1;
			break;
		case 2:
			in.queue_size = 0;
			break;
		case 3:
			in.queue_size = 40000;
			break;
		}
		if (i < 5) {
			struct vhost_user_msg r;

			ret = t_fe_call(&c.t.fe, VHOST_USER_GET_INFLIGHT_FD, &in,
					i == 4 ? 16 : sizeof(in), NULL, 0, &r);
		} else if (i == 5) {
			ret = inf_set(&c, &f, f.size - 64, 0, NR_VQS, NUM);
		} else if (i == 6) {
			ret = inf_set(&c, &f, f.size, 64, NR_VQS, NUM);
		} else if (i == 7) {
			ret = inf_set(&c, &f, f.size, 4096, NR_VQS, NUM);
		} else if (i == 8) {
			/* The queue size asks for more than the file holds. */
			if (t_memfd(4096, &small, &map))
				return t_fail("small memfd");
			munmap(map, 4096);
			close(f.fd);
			f.fd = small;
			ret = inf_set(&c, &f, 1ULL << 40, 0, NR_VQS, 8192);
		} else if (i == 9) {
			if (start_ring(&c))
				return T_EXIT_FAIL;
			ret = inf_set(&c, &f, f.size, 0, NR_VQS, NUM);
		} else {
			ret = inf_set(&c, &f, f.size, 0, 0, NUM);
		}
		if (ret != -EPROTO || !vlb_dev_broken(c.t.dev))
			return t_fail("%s: %d, want -EPROTO", what[i], ret);
		inf_close(&f);
		teardown(&c);
	}
	return 0;
}

int main(void)
{
	int fds = t_count_fds();

	vlb_log_init("test_lib_vring", 0);
	if (test_good_chain() || test_event_idx() || test_indirect() ||
	    test_bad_chains() || test_bad_rings() || test_bad_messages() ||
	    test_stop_and_reset() || test_mem_slots() || test_inflight_resubmit() ||
	    test_inflight_batch_crash() || test_inflight_late() || test_inflight_bad())
		return T_EXIT_FAIL;
	if (t_count_fds() != fds)
		return t_fail("fd leak: %d open before, %d after", fds, t_count_fds());
	return T_EXIT_PASS;
}
