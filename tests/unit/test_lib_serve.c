// SPDX-License-Identifier: GPL-2.0
/*
 * Description: vlb_vq_serve(), the budgeted loop of queue_kick handlers.
 *
 * A device of this process (t_vring.h) with one ring; the test posts
 * chains as the driver and calls vlb_vq_serve() as a queue_kick would.
 * Checked: a budget that runs out serves exactly the budget, leaves kicks
 * off and has queue_kick called again (vlb_vq_kick_later()); a ring
 * drained within the budget turns kicks back on; used lengths are the
 * handler's; an element the handler keeps is neither pushed nor freed
 * (pushed later by the test; ASan sees a double free or a leak) and, with
 * every element kept, the call eventfd stays quiet; a malformed chain
 * stops the loop with the device broken. Then the race the re-check after
 * enabling kicks is for: a driver thread posts 20,000 chains in pairs, the
 * second after a varying delay, kicking only when the used ring asks for
 * kicks, as a virtio driver does, and waits for each pair; the device
 * serves only when kicked or asked to come back. A lost wake-up (a chain
 * posted while kicks were off, found by no one) leaves the test waiting
 * and fails it after T_WAIT_MS. Without the re-check it failed 3 runs in 6
 * here: a probe, not a proof.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>

#include "vlb.h"
#include "unit/t_vring.h"

#define MEM_SIZE	(256 * 1024)
#define QVA		0x7f0000000000ULL
#define NUM		16
#define DESC		0x1000
#define AVAIL		0x2000
#define USED		0x3000
#define BUFS		0x10000		/* 64 bytes per descriptor */
#define NO_NOTIFY	1		/* VRING_USED_F_NO_NOTIFY */
#define RACE_CHAINS	20000
#define RACE_DELAY_NS	100000		/* longest device run the aim learns from */

struct dev_state {
	unsigned int kicks;		/* queue_kick calls */
	unsigned int budget;		/* of those kick calls */
	unsigned int handled;
	unsigned int spin;		/* work per element, to vary timing */
	struct vlb_vq_elem *kept[NUM];
	unsigned int nkept;
};

static struct dev_state st;

/* Burn about @n loop turns (a compiler barrier each, so the loop stays). */
static void spin(unsigned int n)
{
	while (n--)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Busy-wait @ns: a sleep would take far longer than the window. */
static void delay_ns(uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

static uint64_t dev_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

/* Used length: the head index + 100, so the test can tell them apart. */
static int64_t handle_push(struct vlb_dev *dev, unsigned int qidx,
			   struct vlb_vq_elem *elem, void *opaque)
{
	(void)dev;
	(void)qidx;
	(void)opaque;
	spin(st.spin);
	st.handled++;
	return elem->index + 100;
}

/* Keeps the chains with even heads, pushes the others. */
static int64_t handle_keep_even(struct vlb_dev *dev, unsigned int qidx,
				struct vlb_vq_elem *elem, void *opaque)
{
	(void)opaque;
	if (elem->index % 2)
		return handle_push(dev, qidx, elem, NULL);
	st.kept[st.nkept++] = elem;
	return VLB_VQ_KEPT;
}

static void dev_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	st.kicks++;
	vlb_vq_serve(dev, qidx, st.budget, handle_push, NULL);
}

static const struct vlb_dev_iface serve_iface = {
	.get_features	= dev_get_features,
	.queue_kick	= dev_queue_kick,
};

static int open_sess(struct t_sess *s)
{
	memset(&st, 0, sizeof(st));
	st.budget = 4;
	if (t_sess_new(s, &serve_iface, 1, &st, "serve-test", MEM_SIZE) ||
	    t_sess_connect(s, dev_get_features(NULL), QVA))
		return 1;
	t_sess_ring(s, 0, NUM, DESC, AVAIL, USED);
	if (t_sess_start(s, 1))
		return 1;
	/* Becoming ready ran queue_kick once, on an empty ring. */
	st.kicks = 0;
	return 0;
}

/* Post @n one-descriptor chains with heads @first.. (device-writable). */
static void post(struct t_sess *s, unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = first; i < first + n; i++) {
		t_ring_desc(&s->ring[0], i % NUM, BUFS + 64 * (i % NUM), 64, T_DESC_F_WRITE, 0);
		t_ring_post(&s->ring[0], i % NUM);
	}
}

static uint16_t used_flags(struct t_sess *s)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return t_get16(s->mem + USED);
}

static bool call_signalled(struct t_sess *s)
{
	uint64_t v;

	return read(s->call[0], &v, sizeof(v)) == sizeof(v);
}

/* Expect @n used entries, heads @first.., lengths head + 100. */
static int expect_used(struct t_sess *s, unsigned int first, unsigned int n, const char *what)
{
	uint32_t id, len;
	unsigned int i;

	for (i = first; i < first + n; i++) {
		if (t_ring_get_used(&s->ring[0], &id, &len))
			return t_fail("%s: %u of %u used entries", what, i - first, n);
		if (id != i % NUM || len != id + 100)
			return t_fail("%s: used id %u len %u, want %u and %u", what, id, len,
				      i % NUM, i % NUM + 100);
	}
	if (!t_ring_get_used(&s->ring[0], &id, &len))
		return t_fail("%s: one used entry too many (id %u)", what, id);
	return 0;
}

static int test_budget(void)
{
	struct t_sess s;
	unsigned int n;
	int ret = 1;

	if (open_sess(&s))
		goto out;
	post(&s, 0, 6);
	n = vlb_vq_serve(s.dev, 0, 4, handle_push, NULL);
	if (n != 4 || expect_used(&s, 0, 4, "budget 4 of 6"))
		goto fail;
	if (!(used_flags(&s) & NO_NOTIFY)) {
		t_fail("budget ran out: kicks were turned on again");
		goto out;
	}
	if (!call_signalled(&s)) {
		t_fail("budget ran out: call eventfd not signalled for 4 used entries");
		goto out;
	}
	/* Asked to come back: the event loop calls queue_kick without a kick. */
	vlb_dev_pending_kicks(s.dev);
	if (st.kicks != 1 || expect_used(&s, 4, 2, "the rest after kick_later")) {
		t_fail("kick_later: queue_kick called %u times, want 1", st.kicks);
		goto out;
	}
	if (used_flags(&s) & NO_NOTIFY) {
		t_fail("ring drained: kicks still off");
		goto out;
	}
	if (vlb_dev_pending_kicks(s.dev) || st.kicks != 1) {
		t_fail("ring drained within the budget: queue_kick asked for again");
		goto out;
	}
	/* Exactly the budget: it ran out, so come back (and find nothing). */
	post(&s, 6, 4);
	n = vlb_vq_serve(s.dev, 0, 4, handle_push, NULL);
	if (n != 4 || expect_used(&s, 6, 4, "exactly the budget"))
		goto fail;
	vlb_dev_pending_kicks(s.dev);
	if (st.kicks != 2) {
		t_fail("exactly the budget: queue_kick not called again");
		goto out;
	}
	ret = 0;
	goto out;
fail:
	t_fail("budget: served %u", n);
out:
	t_sess_close(&s, NULL);
	return ret;
}

static int test_keep(void)
{
	struct t_sess s;
	uint32_t id, len;
	unsigned int i, n;
	int ret = 1;

	if (open_sess(&s))
		goto out;
	call_signalled(&s);
	/* Heads 0 and 2 only: every element kept, nothing to signal. */
	t_ring_desc(&s.ring[0], 0, BUFS, 64, T_DESC_F_WRITE, 0);
	t_ring_post(&s.ring[0], 0);
	t_ring_desc(&s.ring[0], 2, BUFS + 128, 64, T_DESC_F_WRITE, 0);
	t_ring_post(&s.ring[0], 2);
	n = vlb_vq_serve(s.dev, 0, 8, handle_keep_even, NULL);
	if (n != 2 || st.nkept != 2 || t_ring_used_idx(&s.ring[0]) != 0) {
		t_fail("all kept: served %u, kept %u, used idx %u", n, st.nkept,
		       t_ring_used_idx(&s.ring[0]));
		goto out;
	}
	if (call_signalled(&s)) {
		t_fail("all kept: call eventfd signalled with nothing used");
		goto out;
	}
	/* Heads 1, 3, 5 pushed by the loop, 4 kept as well. */
	for (i = 1; i < 6; i += 2) {
		t_ring_desc(&s.ring[0], i, BUFS + 64 * i, 64, T_DESC_F_WRITE, 0);
		t_ring_post(&s.ring[0], i);
		if (i == 3) {
			t_ring_desc(&s.ring[0], 4, BUFS + 256, 64, T_DESC_F_WRITE, 0);
			t_ring_post(&s.ring[0], 4);
		}
	}
	n = vlb_vq_serve(s.dev, 0, 8, handle_keep_even, NULL);
	if (n != 4 || st.nkept != 3 || !call_signalled(&s)) {
		t_fail("mixed: served %u, kept %u, or no call", n, st.nkept);
		goto out;
	}
	for (i = 1; i < 6; i += 2) {
		if (t_ring_get_used(&s.ring[0], &id, &len) || id != i || len != i + 100) {
			t_fail("mixed: used entry for head %u missing or wrong", i);
			goto out;
		}
	}
	if (!t_ring_get_used(&s.ring[0], &id, &len)) {
		t_fail("mixed: kept head %u was pushed", id);
		goto out;
	}
	/* The owner pushes its kept elements later, in any order. */
	for (i = st.nkept; i-- > 0;) {
		vlb_vq_push(vlb_dev_vq(s.dev, 0), st.kept[i], 7);
		free(st.kept[i]);
	}
	vlb_vq_flush(vlb_dev_vq(s.dev, 0));
	for (i = 0; i < 3; i++)
		if (t_ring_get_used(&s.ring[0], &id, &len) || id % 2 || len != 7) {
			t_fail("kept element %u not used later", i);
			goto out;
		}
	ret = 0;
out:
	t_sess_close(&s, NULL);
	return ret;
}

static int test_malformed(void)
{
	struct t_sess s;
	unsigned int n;
	int ret = 1;

	if (open_sess(&s))
		goto out;
	post(&s, 0, 1);
	/* Head 1 names a buffer outside the memory table. */
	t_ring_desc(&s.ring[0], 1, MEM_SIZE, 64, T_DESC_F_WRITE, 0);
	t_ring_post(&s.ring[0], 1);
	post(&s, 2, 1);
	n = vlb_vq_serve(s.dev, 0, 8, handle_push, NULL);
	if (n != 1 || !vlb_dev_broken(s.dev)) {
		t_fail("malformed second chain: served %u, broken %d", n, vlb_dev_broken(s.dev));
		goto out;
	}
	ret = 0;
out:
	t_sess_close(&s, NULL);
	return ret;
}

/* The driver of the race test. */
struct race {
	struct t_sess *s;
	unsigned int kicks;
	bool stop;
};

/* Post chain @i; kick when the device asks for kicks. */
static void race_post(struct race *r, unsigned int i)
{
	struct t_ring *ring = &r->s->ring[0];
	uint64_t one = 1;

	t_ring_desc(ring, i % NUM, BUFS + 64 * (i % NUM), 64, T_DESC_F_WRITE, 0);
	t_ring_post(ring, i % NUM);
	/* virtio_mb(), then the device's wish (virtio spec 2.7.7). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(t_get16(r->s->mem + USED) & NO_NOTIFY)) {
		r->kicks++;
		if (write(r->s->kick[0], &one, sizeof(one)) != sizeof(one))
			__atomic_store_n(&r->stop, true, __ATOMIC_RELAXED);
	}
}

static uint16_t race_flags(struct race *r)
{
	return t_get16(r->s->mem + USED) & NO_NOTIFY;
}

/*
 * Pairs of chains, each pair waited for. The second chain is aimed at the
 * end of the device's run for the first: the device turns kicks off as it
 * starts and back on as it ends, and the run's length is learnt as we go;
 * the delay varies around it, so some second chains land just after the
 * device found the ring empty and before kicks were on. Nobody is told of
 * such a chain but by the re-check, and it is never used without one.
 */
static void *race_driver(void *arg)
{
	struct race *r = arg;
	uint64_t est = 5000, t0, t1, ran;
	unsigned int i, seed = 1;
	bool off;

	for (i = 0; i + 1 < RACE_CHAINS && !__atomic_load_n(&r->stop, __ATOMIC_RELAXED);
	     i += 2) {
		race_post(r, i);
		t0 = now_ns();
		while (!(off = race_flags(r)) && now_ns() - t0 < 1000000 &&
		       t_ring_used_idx(&r->s->ring[0]) != (uint16_t)(i + 1))
			;
		t1 = now_ns();
		seed = seed * 1103515245 + 12345;
		if (off)
			delay_ns((seed >> 16) % (2 * est + 1));
		race_post(r, i + 1);
		ran = 0;
		while (t_ring_used_idx(&r->s->ring[0]) != (uint16_t)(i + 2)) {
			if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
				return NULL;
			if (off && !ran && !race_flags(r))
				ran = now_ns() - t1;
		}
		if (ran && ran < RACE_DELAY_NS)
			est = (7 * est + ran) / 8;
	}
	return NULL;
}

static int test_race(void)
{
	struct race r = { 0 };
	struct t_sess s;
	pthread_t th;
	unsigned int served = 0, runs = 0;
	int ret = 1;

	if (open_sess(&s))
		goto out;
	st.budget = 3;
	st.spin = 2000;
	r.s = &s;
	if (pthread_create(&th, NULL, race_driver, &r)) {
		t_fail("pthread_create failed");
		goto out;
	}
	while (t_ring_used_idx(&s.ring[0]) != (uint16_t)RACE_CHAINS ||
	       st.handled < RACE_CHAINS) {
		bool again = vlb_dev_pending_kicks(s.dev);

		if (st.handled >= RACE_CHAINS)
			break;
		if (again)
			continue;
		/* Nothing pending: only a kick brings more. */
		if (t_wait_readable(s.kick[0], T_WAIT_MS)) {
			t_fail("lost wake-up: %u of %u chains served, used flags 0x%x, %u kicks",
			       st.handled, RACE_CHAINS, used_flags(&s), r.kicks);
			__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
			pthread_join(th, NULL);
			goto out;
		}
		vlb_dev_handle_kick(s.dev, 0);
		runs++;
	}
	pthread_join(th, NULL);
	served = st.handled;
	if (served != RACE_CHAINS) {
		t_fail("race: %u chains served, want %u", served, RACE_CHAINS);
		goto out;
	}
	printf("test_lib_serve: race: %u chains, %u kicks, %u kicked runs\n", served, r.kicks,
	       runs);
	ret = 0;
out:
	t_sess_close(&s, NULL);
	return ret;
}

int main(void)
{
	int fails = 0;

	fails += test_budget();
	fails += test_keep();
	fails += test_malformed();
	fails += test_race();
	if (fails)
		return T_EXIT_FAIL;
	printf("test_lib_serve: PASS\n");
	return T_EXIT_PASS;
}
