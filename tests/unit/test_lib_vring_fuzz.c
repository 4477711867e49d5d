// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libvlb split-ring parsing against random descriptor tables.
 *
 * Each round fills the descriptor table, an indirect table and the avail
 * ring with random values biased toward almost-valid ones (addresses near
 * the region's end, next indices around num, every flag combination) and
 * pops until the ring is empty or the device breaks. Whatever happens, an
 * element that is returned must only hold iovecs inside the region, at
 * most as many bytes per direction as its descriptors could name, and a
 * refused chain must leave the device broken. Runs under ASan/UBSan.
 *
 * VLB_FUZZ_SEED and VLB_FUZZ_ROUNDS override the fixed defaults.
 */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "vlb.h"
#include "unit/t_vring.h"

#define MEM_SIZE	(64 * 1024)
#define QVA		0x500000000ULL
#define NUM		8
#define DESC		0x1000
#define AVAIL		0x1100
#define USED		0x1200
#define TABLE		0x2000
#define TABLE_N		8
#define PROBE		0x3000		/* a known buffer: finds the mapping */

struct ctx {
	struct t_sess t;
};

static uint64_t rnd_state;
static int saved_stderr = -1;
static unsigned int nr_elems, nr_refused;

/* Protocol errors are expected by the thousand: stderr is muted meanwhile. */
#define fail(...) (dup2(saved_stderr, STDERR_FILENO), t_fail(__VA_ARGS__))

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the seed, no libc state. */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (rnd_state * 0x2545f4914f6cdd1dULL) >> 32;
}

static uint64_t dev_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) | (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

static void dev_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	(void)dev;
	(void)qidx;
}

static const struct vlb_dev_iface fuzz_iface = {
	.get_features	= dev_get_features,
	.queue_kick	= dev_queue_kick,
};

static void teardown(struct ctx *c)
{
	t_sess_close(&c->t, NULL);
}

static int setup(struct ctx *c)
{
	if (t_sess_new(&c->t, &fuzz_iface, 1, c, "fuzz", MEM_SIZE) ||
	    t_sess_connect(&c->t, dev_get_features(NULL), QVA))
		return 1;
	t_sess_ring(&c->t, 0, NUM, DESC, AVAIL, USED);
	return t_sess_start(&c->t, 1);
}

/* An address that is often valid, often just past the end, rarely wild. */
static uint64_t rnd_addr(void)
{
	switch (rnd() % 8) {
	case 0:
		return MEM_SIZE - (rnd() % 64);
	case 1:
		return MEM_SIZE + (rnd() % 64);
	case 2:
		return UINT64_MAX - (rnd() % 64);
	case 3:
		return ((uint64_t)rnd() << 32) | rnd();
	default:
		return rnd() % MEM_SIZE;
	}
}

static uint32_t rnd_len(void)
{
	switch (rnd() % 6) {
	case 0:
		return rnd();
	case 1:
		return 0;
	default:
		return rnd() % 256;
	}
}

static void rnd_desc(struct ctx *c, uint64_t table, unsigned int i, unsigned int n)
{
	uint16_t flags = rnd() % 8;
	uint32_t len = rnd_len();
	uint16_t next = rnd() % (n + 2);

	/* Make indirect descriptors point at the table now and then. */
	if ((flags & T_DESC_F_INDIRECT) && rnd() % 2) {
		t_desc_write(&c->t.ring[0], table, i, TABLE, 16 * (1 + rnd() % TABLE_N), flags, next);
		return;
	}
	t_desc_write(&c->t.ring[0], table, i, rnd_addr(), len, flags, next);
}

/* Learn where the library mapped the region from a known chain. */
static int probe(struct ctx *c, uint8_t **base)
{
	struct vlb_vq *vq = vlb_dev_vq(c->t.dev, 0);
	struct vlb_vq_elem *e;

	t_ring_desc(&c->t.ring[0], 0, PROBE, 16, T_DESC_F_WRITE, 0);
	t_ring_post(&c->t.ring[0], 0);
	if (vlb_vq_pop(vq, &e) || e->in_num != 1)
		return fail("the known-good chain was refused");
	*base = (uint8_t *)e->in_sg[0].iov_base - PROBE;
	vlb_vq_push(vq, e, 0);
	free(e);
	vlb_vq_flush(vq);
	return 0;
}

static int check_elem(const struct vlb_vq_elem *e, const uint8_t *base)
{
	unsigned int i;

	if (e->index >= NUM)
		return fail("element head %u >= %u", e->index, NUM);
	if (e->out_num + e->in_num > NUM + TABLE_N)
		return fail("element with %u iovecs from at most %u descriptors",
			      e->out_num + e->in_num, NUM + TABLE_N);
	for (i = 0; i < e->out_num + e->in_num; i++) {
		const struct iovec *v = i < e->out_num ? &e->out_sg[i] :
				       &e->in_sg[i - e->out_num];
		const uint8_t *p = v->iov_base;

		if (p < base || p >= base + MEM_SIZE || v->iov_len > MEM_SIZE ||
		    v->iov_len > (size_t)(base + MEM_SIZE - p) || !v->iov_len)
			return fail("iovec %p+%zu outside the region %p+%u",
				      v->iov_base, v->iov_len, (void *)base, MEM_SIZE);
	}
	return 0;
}

static int fuzz_round(unsigned int round)
{
	struct vlb_vq_elem *e;
	struct vlb_vq *vq;
	uint8_t *base;
	struct ctx c;
	unsigned int i;
	int ret;

	if (setup(&c) || probe(&c, &base))
		return fail("round %u: setup failed", round);
	vq = vlb_dev_vq(c.t.dev, 0);
	for (i = 0; i < NUM; i++)
		rnd_desc(&c, DESC, i, NUM);
	for (i = 0; i < TABLE_N; i++)
		rnd_desc(&c, TABLE, i, TABLE_N);
	for (i = 0; i < 1 + rnd() % NUM; i++)
		t_ring_post(&c.t.ring[0], rnd() % 4 ? rnd() % NUM : rnd() % 0x10000);
	if (rnd() % 16 == 0)
		t_ring_set_avail_idx(&c.t.ring[0], rnd());

	for (i = 0; i < 2 * NUM; i++) {
		ret = vlb_vq_pop(vq, &e);
		if (ret == -EAGAIN)
			break;
		if (ret == -EIO) {
			nr_refused++;
			if (!vlb_dev_broken(c.t.dev))
				return fail("round %u: refused chain without a broken device",
					      round);
			break;
		}
		if (ret)
			return fail("round %u: pop: %s", round, strerror(-ret));
		if (check_elem(e, base))
			return fail("round %u: bad element", round);
		nr_elems++;
		vlb_vq_push(vq, e, 0);
		free(e);
	}
	vlb_vq_flush(vq);
	teardown(&c);
	return 0;
}

int main(void)
{
	const char *env_seed = getenv("VLB_FUZZ_SEED");
	const char *rounds = getenv("VLB_FUZZ_ROUNDS");
	unsigned long long seed = env_seed ? strtoull(env_seed, NULL, 0) : 0x5eed5eed5eedULL;
	unsigned int i, n = rounds ? strtoul(rounds, NULL, 0) : 3000;
	int fds, null;

	rnd_state = seed ? seed : 1;
	saved_stderr = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved_stderr < 0 || null < 0 || dup2(null, STDERR_FILENO) < 0)
		return t_fail("muting stderr: %s", strerror(errno));
	close(null);
	fds = t_count_fds();
	for (i = 0; i < n; i++)
		if (fuzz_round(i))
			return T_EXIT_FAIL;
	if (t_count_fds() != fds)
		return fail("fd leak: %d open before, %d after", fds, t_count_fds());
	dup2(saved_stderr, STDERR_FILENO);
	printf("%u rounds, seed 0x%llx: %u elements all inside the region, %u chains refused\n",
	       n, seed, nr_elems, nr_refused);
	/* A fuzzer that only ever hits one outcome tests nothing. */
	if (nr_elems < n / 10 || nr_refused < n / 10)
		return t_fail("too one-sided: %u elements, %u refusals", nr_elems, nr_refused);
	return T_EXIT_PASS;
}
