// SPDX-License-Identifier: GPL-2.0
/*
 * vl-uapi-fuzz: random and boundary input on /dev/virtio-loopback from
 * several processes and threads at once, bounded in time and seeded.
 * Runs as root inside the lab guest with the module loaded.
 *
 *   vl-uapi-fuzz [--seconds N] [--seed S] [--procs P] [--threads T]
 *                [--warmup N] [--trace]
 *
 * Prints the seed first. Worker p.t of a round draws from its own stream,
 * derived from the seed, so its sequence of operations depends only on
 * (seed, p, t); the interleaving of workers does not repeat. A failure
 * prints the seed, the worker, the iteration and the worker's last
 * operations; `--procs 1 --threads 1 --trace` replays one stream and
 * prints every operation.
 *
 * A warm-up round (another stream) runs first, then the measured round.
 * After it: no device is left, the module holds no reference, and
 * SUnreclaim and VmallocUsed are back near the warm-up's level. Ends with
 * one line per operation: calls, successes and the errnos seen.
 * Exit 0 pass, 1 fail, 4 skip.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_ids.h>
#include <uapi/linux/virtio_loopback.h>

#include "vl_lab_util.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#define T_EXIT_PASS	0
#define T_EXIT_FAIL	1
#define T_EXIT_SKIP	4

#define PARAM_TIMEOUT	"/sys/module/virtio_loopback/parameters/msg_timeout_ms"
#define MOD_REFCNT	"/sys/module/virtio_loopback/refcnt"
#define F_VERSION_1	(1ULL << 32)
/* A device id no driver binds to. */
#define ID_NO_DRIVER	0x7ffe
/* Broken after this long without an answer: bounded, yet answerable. */
#define FUZZ_TIMEOUT_MS	"300"

#define NSLOTS		6	/* sessions shared by the threads of a process */
#define NRECENT		8	/* device ids OP_ATTACH aims at */
#define NMAPS		6	/* mappings per thread */
#define NMEMFDS		4	/* memory fds per thread */
#define MAXQ		(VIRTIO_LOOPBACK_MAX_QUEUES + 1)
#define NTRACE		24
#define MAXERR		134
#define MAX_WORKERS	16

/*
 * Tolerances of the leak check. A leaked device costs at least its 1 MiB
 * region in vmalloc and several KiB of slab; the rest is noise of the
 * processes, kworkers and modprobe helpers the run starts.
 */
#define LEAK_VMALLOC_KB	768
#define LEAK_SLAB_KB	3072

enum op {
	OP_OPEN, OP_CLOSE, OP_DUP, OP_FCNTL, OP_VERSION, OP_CREATE, OP_BADIOCTL,
	OP_VQINFO, OP_SETCFG, OP_MEMFD, OP_REGION, OP_UNPLUG, OP_READ, OP_REPLY,
	OP_WRITE, OP_POLL, OP_MMAP, OP_TOUCH, OP_MUNMAP, OP_CLOSEMEM, OP_SYSFS,
	OP_FORK, OP_ATTACH, NOPS
};

static const char *const op_names[NOPS] = {
	"open", "close", "dup", "fcntl", "version", "create", "bad-ioctl",
	"vq-info", "set-config", "mem-fd", "mem-region", "unplug", "read", "reply",
	"write", "poll", "mmap", "touch", "munmap", "close-mem", "sysfs", "fork",
	"attach",
};

/* Relative frequency of each operation (OP_REPLY follows some reads). */
static const unsigned int op_weight[NOPS] = {
	[OP_OPEN] = 8, [OP_CLOSE] = 5, [OP_DUP] = 1, [OP_FCNTL] = 2,
	[OP_VERSION] = 2, [OP_CREATE] = 12, [OP_BADIOCTL] = 3, [OP_VQINFO] = 5,
	[OP_SETCFG] = 5, [OP_MEMFD] = 3, [OP_REGION] = 4, [OP_UNPLUG] = 2,
	[OP_READ] = 9, [OP_WRITE] = 5, [OP_POLL] = 4, [OP_MMAP] = 6,
	[OP_TOUCH] = 8, [OP_MUNMAP] = 2, [OP_CLOSEMEM] = 2, [OP_SYSFS] = 3,
	[OP_FORK] = 1, [OP_ATTACH] = 6,
};

/* Counters of all processes of a round (MAP_SHARED). */
struct stats {
	unsigned long calls[NOPS];
	unsigned long ok[NOPS];
	unsigned long err[NOPS][MAXERR + 1];
	unsigned long failures;
	unsigned long devices;
	unsigned long signals;
};

static struct stats *stats;

static void stat_add(unsigned long *p, unsigned long n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

/* A session slot; @gen changes whenever its fd is closed. */
struct slot {
	int fd;
	unsigned int gen;
	unsigned int last_seq;
};

struct map {
	char *addr;
	size_t len;
	int prot;
};

struct worker {
	uint64_t rng;
	unsigned int proc, thread;
	unsigned long iter;
	pthread_t tid;
	long deadline_ms;	/* of a blocking call; 0 when none (watchdog) */
	bool child;		/* in a forked owner: no judging, no output */
	struct map maps[NMAPS];
	int memfds[NMEMFDS];
	char *big;		/* 3 pages, zero, then a PROT_NONE page */
	char *edge;		/* the PROT_NONE page */
	char cur[160];
	struct {
		unsigned long iter;
		char desc[200];
	} trace[NTRACE];
};

static struct slot slots[NSLOTS];
/*
 * Devices created lately by this process (OP_CREATE): id, device id,
 * queue count and (persistent ones) the size of every queue. Racy on
 * purpose: a torn entry is just a wrong ATTACH.
 */
static unsigned int recent_ids[NRECENT], recent_dev[NRECENT], recent_nq[NRECENT],
	recent_qsize[NRECENT];
static struct worker workers[MAX_WORKERS];
static unsigned int nworkers;
static char *g_guard, *g_ro;
static size_t page_size;
static long stop_ms;
static bool stop_watchdog;
static bool opt_trace;
static uint64_t round_seed;
static unsigned int opt_procs = 2, opt_threads = 3;
static bool huge_mem_fails;

static _Thread_local sigjmp_buf tl_jb;
static _Thread_local volatile sig_atomic_t tl_touching;

/* splitmix64: small, good enough, and trivially seeded per worker. */
static uint64_t rnd64(struct worker *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(struct worker *w, uint32_t n)
{
	return n ? (uint32_t)(rnd64(w) % n) : 0;
}

static bool chance(struct worker *w, unsigned int percent)
{
	return rnd(w, 100) < percent;
}

#define PICK(w, arr)	((arr)[rnd(w, ARRAY_SIZE(arr))])

/* ------------------------------------------------------------------ */
/* sysfs and /proc                                                      */
/* ------------------------------------------------------------------ */

static long meminfo_kb(const char *key)
{
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			val = strtol(line + strlen(key) + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/* ------------------------------------------------------------------ */
/* Judging and tracing                                                  */
/* ------------------------------------------------------------------ */

/* The errnos each operation may return on a session that stayed open. */
static bool errno_ok(enum op op, int err)
{
	switch (op) {
	case OP_VERSION:
		return err == EFAULT;
	case OP_CREATE:
		return err == EINVAL || err == EFAULT || err == EBADF || err == E2BIG ||
		       err == EBUSY || err == ENOMEM || err == ENOSPC;
	case OP_ATTACH:
		return err == EINVAL || err == EFAULT || err == EBADF || err == E2BIG ||
		       err == EBUSY || err == ENOMEM || err == ENOENT || err == EPERM ||
		       err == EIO;
	case OP_BADIOCTL:
		return err == ENOTTY;
	case OP_VQINFO:
	case OP_SETCFG:
		return err == ENODEV || err == EIO || err == EINVAL || err == EFAULT;
	case OP_MEMFD:
		return err == ENODEV || err == EIO || err == EMFILE || err == ENFILE ||
		       err == ENOMEM;
	case OP_REGION:
		return err == ENODEV || err == EIO || err == EINVAL || err == EFAULT ||
		       err == ENOENT || err == EMFILE || err == ENFILE || err == ENOMEM;
	case OP_UNPLUG:
		return err == ENODEV || err == EALREADY;
	case OP_READ:
		return err == ENODEV || err == EINVAL || err == EFAULT || err == EAGAIN ||
		       err == EIO || err == EINTR;
	case OP_REPLY:
	case OP_WRITE:
		return err == ENODEV || err == EINVAL || err == EFAULT || err == ENOENT ||
		       err == EIO;
	case OP_POLL:
		return err == EINTR || err == EFAULT;
	case OP_MMAP:
		return err == EINVAL || err == EPERM || err == EACCES || err == ENODEV ||
		       err == ENOMEM || err == EOVERFLOW || err == EOPNOTSUPP ||
		       err == EBADF;
	default:
		/* Not judged: depends on what else the process did. */
		return true;
	}
}

static void desc(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->cur, sizeof(w->cur), fmt, ap);
	va_end(ap);
}

static void fail(struct worker *w, const char *fmt, ...)
{
	unsigned int i;
	va_list ap;
	char msg[256];

	/*
	 * A forked owner's copy of the slots may name fds its copy of the
	 * table lacks (fork copies the fds before the memory): not judged.
	 */
	if (w->child)
		return;
	stat_add(&stats->failures, 1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	flockfile(stdout);
	printf("FAIL seed %llu worker %u.%u iteration %lu: %s: %s\n",
	       (unsigned long long)round_seed, w->proc, w->thread, w->iter, w->cur, msg);
	printf("  last operations of worker %u.%u:\n", w->proc, w->thread);
	for (i = 1; i <= NTRACE; i++) {
		unsigned int k = (w->iter + i) % NTRACE;

		if (w->trace[k].desc[0])
			printf("    #%lu %s\n", w->trace[k].iter, w->trace[k].desc);
	}
	printf("  replay: vl-uapi-fuzz --seed %llu --procs %u --threads %u --trace\n",
	       (unsigned long long)round_seed, opt_procs, opt_threads);
	funlockfile(stdout);
}

/*
 * Record the outcome of w->cur. @judge: the fd stayed what it was during
 * the call (its slot was not closed meanwhile), so the errno must be one
 * the contract allows.
 */
static void done(struct worker *w, enum op op, long ret, int err, bool judge)
{
	unsigned int t = w->iter % NTRACE;

	stat_add(&stats->calls[op], 1);
	if (ret >= 0)
		stat_add(&stats->ok[op], 1);
	else
		stat_add(&stats->err[op][err > 0 && err <= MAXERR ? err : 0], 1);
	/* err[op][0]: a fault signal in a touched mapping. */
	w->trace[t].iter = w->iter;
	snprintf(w->trace[t].desc, sizeof(w->trace[t].desc), "%s -> %s", w->cur,
		 ret >= 0 ? "ok" : strerrorname_np(err) ?: "?");
	if (opt_trace && !w->child)
		printf("%u.%u #%lu %s\n", w->proc, w->thread, w->iter, w->trace[t].desc);
	if (ret < 0 && judge && !w->child && !errno_ok(op, err))
		fail(w, "unexpected errno %s", strerrorname_np(err) ?: "?");
}

/* ------------------------------------------------------------------ */
/* Arguments                                                            */
/* ------------------------------------------------------------------ */

/*
 * A user pointer for @len bytes whose good value is @good: mostly @good,
 * else NULL, a tiny, kernel or non-canonical address, an unmapped or
 * read-only page, a buffer running into an unmapped page (its first part
 * copied from @good), or one of our mappings of a memory region.
 */
static void *uptr(struct worker *w, void *good, size_t len, char *what)
{
	size_t part;

	switch (rnd(w, 48)) {
	case 0:
		strcpy(what, "null");
		return NULL;
	case 1:
		strcpy(what, "0x8");
		return (void *)8;
	case 2:
		strcpy(what, "kernel");
		return (void *)0xffffffff81000000UL;
	case 3:
		strcpy(what, "noncanon");
		return (void *)0x8000000000000000UL;
	case 4:
		strcpy(what, "unmapped");
		return g_guard;
	case 5:
		/* Every good buffer has 1 KiB readable after its start. */
		part = len > 1 ? len / 2 : 1;
		if (part > 1024)
			part = 1024;
		memmove(w->edge - part, good, part);
		sprintf(what, "edge-%zu", part);
		return w->edge - part;
	case 6:
		strcpy(what, "ro");
		return g_ro;
	case 7:
		if (w->maps[0].addr) {
			strcpy(what, "region-map");
			return w->maps[0].addr;
		}
		break;
	}
	strcpy(what, "ok");
	return good;
}

/* A session fd: a slot's, or rarely something that is not one. */
static int slot_fd(struct worker *w, unsigned int *slot, unsigned int *gen)
{
	unsigned int s = rnd(w, NSLOTS), i;

	/* Mostly an open one: an empty slot only tests EBADF. */
	for (i = 0; i < NSLOTS && chance(w, 90); i++, s = (s + 1) % NSLOTS)
		if (__atomic_load_n(&slots[s].fd, __ATOMIC_RELAXED) >= 0)
			break;
	*slot = s;
	*gen = __atomic_load_n(&slots[s].gen, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&slots[s].fd, __ATOMIC_ACQUIRE);
}

static bool same_gen(unsigned int slot, unsigned int gen, int fd)
{
	return fd >= 0 && __atomic_load_n(&slots[slot].gen, __ATOMIC_ACQUIRE) == gen;
}

static void slot_close(unsigned int s)
{
	int fd = __atomic_exchange_n(&slots[s].fd, -1, __ATOMIC_ACQ_REL);

	if (fd >= 0) {
		/* Before close(): a reused number is never judged as ours. */
		__atomic_fetch_add(&slots[s].gen, 1, __ATOMIC_ACQ_REL);
		close(fd);
	}
}

static void slot_put(struct worker *w, int fd)
{
	unsigned int s = rnd(w, NSLOTS);
	int expect = -1;

	if (!__atomic_compare_exchange_n(&slots[s].fd, &expect, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		close(fd);
}

/* An fd for a queue: mostly a fresh eventfd, else something wrong. */
static int queue_fd(struct worker *w, int *evs, unsigned int *nev, bool wrong)
{
	static const int bad[] = { -1, INT32_MIN, 0, 1, 2, 1000000, 0x7fffffff };
	int fd;

	if (!wrong) {
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd >= 0)
			evs[(*nev)++] = fd;
		return fd;
	}
	switch (rnd(w, 4)) {
	case 0:
		/* Closed just now (may be reused by another thread: still wrong). */
		fd = eventfd(0, EFD_CLOEXEC);
		close(fd);
		return fd;
	case 1:
		return __atomic_load_n(&slots[rnd(w, NSLOTS)].fd, __ATOMIC_RELAXED);
	case 2:
		return w->memfds[rnd(w, NMEMFDS)];
	}
	return PICK(w, bad);
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */
/* ------------------------------------------------------------------ */

static void op_open(struct worker *w)
{
	int fl = O_RDWR | O_CLOEXEC | (chance(w, 20) ? O_NONBLOCK : 0);
	int fd;

	desc(w, "open(%s)", fl & O_NONBLOCK ? "O_NONBLOCK" : "");
	fd = open(CTL, fl);
	done(w, OP_OPEN, fd, errno, false);
	if (fd >= 0)
		slot_put(w, fd);
}

static void op_close(struct worker *w)
{
	unsigned int s = rnd(w, NSLOTS);

	desc(w, "close(slot %u)", s);
	slot_close(s);
	done(w, OP_CLOSE, 0, 0, false);
}

static void op_dup(struct worker *w)
{
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), nfd;

	desc(w, "dup(slot %u)", s);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	done(w, OP_DUP, nfd, errno, false);
	/* A number closed and reused meanwhile is no session: drop it. */
	if (nfd >= 0 && same_gen(s, gen, fd))
		slot_put(w, nfd);
	else if (nfd >= 0)
		close(nfd);
}

static void op_fcntl(struct worker *w)
{
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), fl, ret;
	bool nb = chance(w, 50);

	desc(w, "fcntl(slot %u, %s)", s, nb ? "O_NONBLOCK" : "blocking");
	fl = fcntl(fd, F_GETFL);
	ret = fl < 0 ? -1 : fcntl(fd, F_SETFL, nb ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
	done(w, OP_FCNTL, ret, errno, false);
}

static void op_version(struct worker *w)
{
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), ret;
	__u64 *v = (__u64 *)w->big;
	char what[32];
	void *p;

	*v = 0;
	p = uptr(w, v, sizeof(*v), what);
	desc(w, "GET_API_VERSION(slot %u, %s)", s, what);
	ret = ioctl(fd, VIRTIO_LOOPBACK_GET_API_VERSION, p);
	done(w, OP_VERSION, ret, errno, same_gen(s, gen, fd));
	if (!ret && p == v && *v != VIRTIO_LOOPBACK_API_VERSION && same_gen(s, gen, fd))
		fail(w, "version %llu", (unsigned long long)*v);
}

static void op_create(struct worker *w)
{
	static const uint32_t nqs[] = { 1, 1, 1, 1, 2, 2, 3, 4, 0, 63, 64, 65, 0xffffffff };
	static const uint16_t qsizes[] = { 1, 2, 64, 64, 256, 1024, 32768, 0, 3, 65535, 32769 };
	static const uint32_t cfgs[] = { 0, 0, 8, 8, 16, 64, 255, 256, 257, 4096, 0xffffffff };
	static const uint32_t modes[] = { 0, 0, 0, 1, 1, 1, 2, 0xffffffff };
	static const uint64_t mems[] = {
		1 << 20, 1 << 20, 1 << 20, 1 << 20, 2 << 20, 2 << 20, 4 << 20, 16 << 20,
		0, (1 << 20) + 4096, (1 << 20) - 4096, (1 << 20) + 1, 512 << 10,
		VIRTIO_LOOPBACK_MAX_MEM_SIZE + 4096, VIRTIO_LOOPBACK_MAX_MEM_SIZE * 2,
		~0ULL, 1,
	};
	static const uint32_t sizes[] = {
		0, 8, sizeof(struct virtio_loopback_create) - 8,
		sizeof(struct virtio_loopback_create) + 8, 4096, 4097, 1 << 20, 0xffffffff,
	};
	struct virtio_loopback_queue_info *q;
	struct virtio_loopback_create *c;
	int evs[2 * MAXQ], fd, ret, err;
	unsigned int s, gen, nev = 0, i, n;
	char wq[32] = "ok", wc[32] = "ok", wa[32] = "ok";
	bool bad;
	uint8_t *cfg;
	void *arg;

	/* Half the requests are valid, the others have a few defects. */
	bad = chance(w, 50);
	fd = slot_fd(w, &s, &gen);
	/* Struct at the start of 3 zero pages: larger sizes read a zero tail. */
	memset(w->big, 0, 3 * page_size);
	c = (void *)w->big;
	q = (void *)(w->big + page_size);
	cfg = (uint8_t *)w->big + 2 * page_size + 512;

#define MUT(p)	(bad && chance(w, p))
	c->size = !MUT(15) ? sizeof(*c) : PICK(w, sizes);
	if (c->size == sizeof(*c) + 8 && chance(w, 50))
		w->big[sizeof(*c) + 3] = 1;
	switch (rnd(w, 20)) {
	case 0: c->device_id = bad ? 0 : ID_NO_DRIVER; break;
	case 1: c->device_id = 0xffffffff; break;
	/* Random ids above any driver's: no driver binds, only modprobe runs. */
	case 2: c->device_id = 0x100 + rnd(w, 0xffffff00 - 0x100); break;
	case 3 ... 9: c->device_id = VIRTIO_ID_RNG; break;
	default: c->device_id = ID_NO_DRIVER; break;
	}
	c->vendor_id = chance(w, 50) ? 0 : (uint32_t)rnd64(w);
	c->num_queues = !MUT(20) ? 1 + rnd(w, 4) : PICK(w, nqs);
	switch (MUT(30) ? rnd(w, 3) : 3 + rnd(w, 7)) {
	case 0: c->device_features = 0; break;
	case 1: c->device_features = ~0ULL; break;
	case 2: c->device_features = rnd64(w); break;
	case 3 ... 5: c->device_features = F_VERSION_1 | rnd64(w); break;
	default: c->device_features = F_VERSION_1; break;
	}
	n = c->num_queues < MAXQ ? c->num_queues : MAXQ;
	for (i = 0; i < n; i++) {
		q[i].max_size = !MUT(5) ? 1U << rnd(w, 16) : PICK(w, qsizes);
		if (MUT(2))
			q[i].reserved0 = 1 + rnd(w, 0xfffe);
		if (MUT(2))
			q[i].reserved1 = 1 + rnd(w, 0xfffffffe);
		/* Only as many eventfds as the kernel may look at. */
		if (c->num_queues <= VIRTIO_LOOPBACK_MAX_QUEUES) {
			q[i].kick_fd = queue_fd(w, evs, &nev, MUT(5));
			q[i].call_fd = queue_fd(w, evs, &nev, MUT(5));
		}
	}
	c->queues = (uintptr_t)(MUT(15) ? uptr(w, q, n * sizeof(*q), wq) : q);
	c->config_size = !MUT(15) ? rnd(w, VIRTIO_LOOPBACK_MAX_CONFIG_SIZE + 1) :
				    PICK(w, cfgs);
	for (i = 0; i < VIRTIO_LOOPBACK_MAX_CONFIG_SIZE; i++)
		cfg[i] = rnd64(w);
	c->config = (uintptr_t)(MUT(15) ? uptr(w, cfg, c->config_size, wc) : cfg);
	c->mem_mode = !MUT(20) ? rnd(w, 2) : PICK(w, modes);
	c->mem_size = !MUT(30) ? mems[rnd(w, 8)] : PICK(w, mems);
	/* The maximum fails at once only where it exceeds RAM. */
	if (MUT(4) && huge_mem_fails)
		c->mem_size = VIRTIO_LOOPBACK_MAX_MEM_SIZE;
	/* Rarely the 64 MiB default: it costs time to clear. */
	if (chance(w, 2))
		c->mem_size = 0;
	/* Persistent devices, kept briefly after close for OP_ATTACH. */
	if (chance(w, 15)) {
		c->flags = VIRTIO_LOOPBACK_CREATE_F_PERSIST;
		c->persist_timeout_ms = 50 + rnd(w, 1500);
	}
	if (MUT(8))
		c->flags = 1U << rnd(w, 32);
	/*
	 * Not the maximum itself (3600000): a persistent device created with
	 * it waits an hour after its session closes, past the end of the run.
	 */
	if (MUT(4))
		c->persist_timeout_ms = PICK(w, ((const uint32_t[]){ 0, 1, 3600001, 0xffffffff }));
	if (MUT(8))
		c->reserved0 = rnd64(w) | 1;
	if (MUT(8))
		c->reserved[rnd(w, 3)] = rnd64(w) | 1;
	/* Persistent: one queue size, so that OP_ATTACH can match it. */
	if ((c->flags & VIRTIO_LOOPBACK_CREATE_F_PERSIST) && c->num_queues <= MAXQ)
		for (i = 1; i < c->num_queues; i++)
			q[i].max_size = q[0].max_size;
	/* The default (30 s) would hold quiesce() up: not from here. */
	if ((c->flags & VIRTIO_LOOPBACK_CREATE_F_PERSIST) && !c->persist_timeout_ms)
		c->persist_timeout_ms = 1 + rnd(w, 2000);
	arg = MUT(10) ? uptr(w, c, sizeof(*c), wa) : c;
#undef MUT

	desc(w, "CREATE(slot %u, %s: size %u id 0x%x nq %u q[0] %u/%d/%d %s feat 0x%llx "
	     "cfg %u %s mode %u mem 0x%llx flags 0x%x)", s, wa, c->size, c->device_id,
	     c->num_queues, q[0].max_size, q[0].kick_fd, q[0].call_fd, wq,
	     (unsigned long long)c->device_features, c->config_size, wc, c->mem_mode,
	     (unsigned long long)c->mem_size, c->flags);
	ret = ioctl(fd, VIRTIO_LOOPBACK_CREATE, arg);
	err = errno;
	for (i = 0; i < nev; i++)
		close(evs[i]);
	done(w, OP_CREATE, ret, err, same_gen(s, gen, fd));
	if (!ret) {
		stat_add(&stats->devices, 1);
		if (arg == c && c->id >= 4096 && same_gen(s, gen, fd))
			fail(w, "id %u", c->id);
		if (arg == c) {
			unsigned int r = rnd(w, NRECENT);

			__atomic_store_n(&recent_ids[r], c->id, __ATOMIC_RELAXED);
			__atomic_store_n(&recent_dev[r], c->device_id, __ATOMIC_RELAXED);
			__atomic_store_n(&recent_nq[r], c->num_queues, __ATOMIC_RELAXED);
			__atomic_store_n(&recent_qsize[r], q[0].max_size, __ATOMIC_RELAXED);
		}
	}
}

/*
 * ATTACH: mostly to a device created lately (persistent or not, detached,
 * owned or gone), with the shape it was created with or not, on any
 * session (fresh, owning one already, closed meanwhile by another thread).
 */
static void op_attach(struct worker *w)
{
	static const uint32_t nqs[] = { 1, 1, 1, 2, 2, 3, 4, 0, 64, 65, 0xffffffff };
	static const uint16_t qsizes[] = { 64, 64, 64, 1, 256, 0, 3, 65535 };
	static const uint32_t sizes[] = {
		0, 8, sizeof(struct virtio_loopback_attach) - 8,
		sizeof(struct virtio_loopback_attach) + 8, 4096, 4097, 1 << 20,
	};
	struct virtio_loopback_queue_info *q;
	struct virtio_loopback_attach *a;
	int evs[2 * MAXQ], fd, ret, err;
	unsigned int s, gen, nev = 0, i, n, id, r = rnd(w, NRECENT);
	bool fresh = chance(w, 50);
	char wq[32] = "ok", wa[32] = "ok";
	bool bad = chance(w, 50);
	void *arg;

	/* Half on a fresh session, kept in a slot when it took a device. */
	if (fresh) {
		fd = open(CTL, O_RDWR | O_CLOEXEC);
		s = NSLOTS;
		gen = 0;
	} else {
		fd = slot_fd(w, &s, &gen);
	}
	memset(w->big, 0, 3 * page_size);
	a = (void *)w->big;
	q = (void *)(w->big + page_size);
#define MUT(p)	(bad && chance(w, p))
	id = chance(w, 85) ? __atomic_load_n(&recent_ids[r], __ATOMIC_RELAXED) :
			     rnd(w, 4097);
	a->size = MUT(10) ? PICK(w, sizes) : sizeof(*a);
	snprintf(a->name, sizeof(a->name), "vl%u", id);
	if (MUT(5))
		memset(a->name, 'v', sizeof(a->name));
	if (MUT(5))
		a->name[0] = 0;
	a->device_id = MUT(10) ? rnd(w, 8) : __atomic_load_n(&recent_dev[r], __ATOMIC_RELAXED);
	a->num_queues = !MUT(15) ? __atomic_load_n(&recent_nq[r], __ATOMIC_RELAXED) :
			PICK(w, nqs);
	n = a->num_queues < MAXQ ? a->num_queues : MAXQ;
	for (i = 0; i < n; i++) {
		q[i].max_size = !MUT(10) ? __atomic_load_n(&recent_qsize[r], __ATOMIC_RELAXED) :
			PICK(w, qsizes);
		if (MUT(2))
			q[i].reserved0 = 1;
		if (a->num_queues <= VIRTIO_LOOPBACK_MAX_QUEUES) {
			q[i].kick_fd = queue_fd(w, evs, &nev, MUT(5));
			q[i].call_fd = queue_fd(w, evs, &nev, MUT(5));
		}
	}
	a->queues = (uintptr_t)(MUT(10) ? uptr(w, q, n * sizeof(*q), wq) : q);
	if (MUT(5))
		a->flags = 1U << rnd(w, 32);
	if (MUT(5))
		a->reserved0 = 1;
	if (MUT(5))
		a->reserved[rnd(w, 4)] = rnd64(w) | 1;
	arg = MUT(10) ? uptr(w, a, sizeof(*a), wa) : a;
#undef MUT

	desc(w, "ATTACH(slot %u, %s: size %u name %.8s id 0x%x nq %u q[0] %u/%d/%d %s flags 0x%x)",
	     s, wa, a->size, a->name, a->device_id, a->num_queues, q[0].max_size,
	     q[0].kick_fd, q[0].call_fd, wq, a->flags);
	ret = ioctl(fd, VIRTIO_LOOPBACK_ATTACH, arg);
	err = errno;
	for (i = 0; i < nev; i++)
		close(evs[i]);
	done(w, OP_ATTACH, ret, err, fresh || same_gen(s, gen, fd));
	if (fresh && fd >= 0) {
		if (!ret)
			slot_put(w, fd);
		else
			close(fd);
	}
	if (!ret && arg == a && (fresh || same_gen(s, gen, fd)) &&
	    (a->id != id || a->mem_mode > 1 || a->persist_timeout_ms > 3600000))
		fail(w, "ATTACH vl%u answered id %u mode %u timeout %u", id, a->id,
		     a->mem_mode, a->persist_timeout_ms);
}

/* Ioctls nobody implements. Magics the VFS serves itself are avoided. */
static void op_badioctl(struct worker *w)
{
	static const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE,
					     _IOC_READ | _IOC_WRITE };
	/* Not 'T' (FIONBIO, FIOCLEX...), 'X', 'f', 0x94, 0x15: the VFS's. */
	static const unsigned int types[] = { 'V', 'd', 0xAF, 0xD4, 0xD6 };
	unsigned int s, gen, cmd, nr, size;
	int fd = slot_fd(w, &s, &gen), ret;
	char what[32];
	void *p;

	size = chance(w, 50) ? rnd(w, 64) : rnd(w, 1 << 14);
	switch (rnd(w, 4)) {
	case 0:
		/* A known number with the wrong size or direction. */
		nr = PICK(w, ((const unsigned int[]){ 0x00, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14 }));
		cmd = _IOC(PICK(w, dirs), VIRTIO_LOOPBACK_IOCTL_MAGIC, nr, size);
		if (cmd == VIRTIO_LOOPBACK_GET_API_VERSION || cmd == VIRTIO_LOOPBACK_CREATE ||
		    cmd == VIRTIO_LOOPBACK_GET_VQ_INFO || cmd == VIRTIO_LOOPBACK_SET_CONFIG ||
		    cmd == VIRTIO_LOOPBACK_GET_MEM_FD || cmd == VIRTIO_LOOPBACK_GET_MEM_REGION ||
		    cmd == VIRTIO_LOOPBACK_UNPLUG)
			cmd ^= _IOC(0, 0, 0, 1);
		break;
	case 1:
		/* Our magic, an unused number. */
		nr = 0x02 + rnd(w, 0xfe);
		if (nr >= 0x10 && nr <= 0x14)
			nr += 0x10;
		cmd = _IOC(PICK(w, dirs), VIRTIO_LOOPBACK_IOCTL_MAGIC, nr, size);
		break;
	default:
		cmd = _IOC(PICK(w, dirs), PICK(w, types), rnd(w, 256), size);
		break;
	}
	p = uptr(w, w->big, size, what);
	desc(w, "ioctl(slot %u, 0x%08x, %s)", s, cmd, what);
	ret = ioctl(fd, cmd, p);
	done(w, OP_BADIOCTL, ret, errno, same_gen(s, gen, fd));
	if (!ret && same_gen(s, gen, fd))
		fail(w, "unknown ioctl succeeded");
}

static uint32_t pick_index(struct worker *w)
{
	static const uint32_t idx[] = { 0, 0, 0, 1, 2, 3, 63, 64, 65, 0xffffffff, 0x80000000 };

	return chance(w, 10) ? (uint32_t)rnd64(w) : PICK(w, idx);
}

static void op_vqinfo(struct worker *w)
{
	struct virtio_loopback_vq_info *vi = (void *)w->big;
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), ret;
	char what[32];
	void *p;

	memset(vi, chance(w, 20) ? 0xff : 0, sizeof(*vi));
	vi->index = pick_index(w);
	p = uptr(w, vi, sizeof(*vi), what);
	desc(w, "GET_VQ_INFO(slot %u, %s, index %u)", s, what, vi->index);
	ret = ioctl(fd, VIRTIO_LOOPBACK_GET_VQ_INFO, p);
	done(w, OP_VQINFO, ret, errno, same_gen(s, gen, fd));
	if (!ret && p == vi && same_gen(s, gen, fd) &&
	    (vi->reserved0 || vi->reserved[0] || vi->reserved[1] || vi->ready > 1 ||
	     (!vi->ready && (vi->num || vi->desc || vi->avail || vi->used)) ||
	     (vi->num & (vi->num - 1))))
		fail(w, "answer ready %u num %u desc 0x%llx", vi->ready, vi->num,
		     (unsigned long long)vi->desc);
}

static void op_setcfg(struct worker *w)
{
	static const uint32_t offs[] = { 0, 0, 0, 1, 4, 8, 255, 256, 257, 0xfffffffc, 0xffffffff };
	static const uint32_t lens[] = { 0, 1, 4, 8, 16, 255, 256, 257, 0xffffffff, 0x80000000 };
	static const uint32_t flags[] = { 0, 0, VIRTIO_LOOPBACK_CONFIG_F_NOTIFY,
					  VIRTIO_LOOPBACK_CONFIG_F_NOTIFY, 2, 0x80000000 };
	struct virtio_loopback_config *cfg = (void *)w->big;
	uint8_t *data = (uint8_t *)w->big + page_size;
	unsigned int s, gen, i;
	int fd = slot_fd(w, &s, &gen), ret;
	char wd[32], wp[32];
	void *p;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < VIRTIO_LOOPBACK_MAX_CONFIG_SIZE; i++)
		data[i] = rnd64(w);
	cfg->offset = chance(w, 70) ? rnd(w, 16) : PICK(w, offs);
	cfg->len = chance(w, 70) ? rnd(w, 17) : PICK(w, lens);
	cfg->flags = PICK(w, flags);
	if (chance(w, 4))
		cfg->reserved0 = 1;
	if (chance(w, 4))
		cfg->reserved[rnd(w, 2)] = rnd64(w) | 1;
	cfg->data = (uintptr_t)uptr(w, data, cfg->len, wd);
	p = uptr(w, cfg, sizeof(*cfg), wp);
	desc(w, "SET_CONFIG(slot %u, %s, off %u len %u flags 0x%x data %s)", s, wp,
	     cfg->offset, cfg->len, cfg->flags, wd);
	ret = ioctl(fd, VIRTIO_LOOPBACK_SET_CONFIG, p);
	done(w, OP_SETCFG, ret, errno, same_gen(s, gen, fd));
}

/* Keep a memory fd for mmap, or close it when the table is full. */
static void keep_memfd(struct worker *w, int mfd)
{
	unsigned int i = rnd(w, NMEMFDS);

	if (w->memfds[i] >= 0)
		close(w->memfds[i]);
	w->memfds[i] = mfd;
}

static void check_memfd(struct worker *w, int mfd, uint64_t size)
{
	off_t end = lseek(mfd, 0, SEEK_END);

	if (end <= 0 || (size && (uint64_t)end != size) || end % page_size)
		fail(w, "memory fd %d: SEEK_END %lld, region size %llu", mfd,
		     (long long)end, (unsigned long long)size);
}

static void op_memfd(struct worker *w)
{
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), mfd;

	desc(w, "GET_MEM_FD(slot %u)", s);
	mfd = ioctl(fd, VIRTIO_LOOPBACK_GET_MEM_FD);
	done(w, OP_MEMFD, mfd, errno, same_gen(s, gen, fd));
	if (mfd >= 0) {
		if (same_gen(s, gen, fd))
			check_memfd(w, mfd, 0);
		keep_memfd(w, mfd);
	}
}

static void op_region(struct worker *w)
{
	struct virtio_loopback_mem_region *r = (void *)w->big;
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), ret;
	char what[32];
	void *p;

	memset(r, 0, sizeof(*r));
	r->index = chance(w, 80) ? rnd(w, 4) : pick_index(w);
	if (chance(w, 4))
		r->flags = 1U << rnd(w, 32);
	if (chance(w, 4))
		r->reserved = 1 + rnd(w, 1000);
	r->fd = (int)rnd64(w);
	p = uptr(w, r, sizeof(*r), what);
	desc(w, "GET_MEM_REGION(slot %u, %s, index %u flags 0x%x reserved %u)", s, what,
	     r->index, r->flags, r->reserved);
	ret = ioctl(fd, VIRTIO_LOOPBACK_GET_MEM_REGION, p);
	done(w, OP_REGION, ret, errno, same_gen(s, gen, fd));
	if (!ret && p == r) {
		if (same_gen(s, gen, fd)) {
			if (r->fd < 0 || r->index > 2 || !r->size || r->reserved)
				fail(w, "answer fd %d size %llu", r->fd,
				     (unsigned long long)r->size);
			else
				check_memfd(w, r->fd, r->size);
		}
		if (r->fd >= 0)
			keep_memfd(w, r->fd);
	}
}

static void op_unplug(struct worker *w)
{
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), ret;

	desc(w, "UNPLUG(slot %u)", s);
	ret = ioctl(fd, VIRTIO_LOOPBACK_UNPLUG);
	done(w, OP_UNPLUG, ret, errno, same_gen(s, gen, fd));
}

/* A blocking call: the watchdog signals us if it lasts past @ms. */
static void block_start(struct worker *w, long ms)
{
	__atomic_store_n(&w->deadline_ms, now_ms() + ms, __ATOMIC_RELEASE);
}

static void block_end(struct worker *w)
{
	__atomic_store_n(&w->deadline_ms, 0, __ATOMIC_RELEASE);
}

/*
 * DRIVER_OK comes only from devices with a real driver (rng), and nothing
 * here serves their queues: a success would leave the driver waiting for
 * data forever (and on 6.1 closing such a session during probe hangs, see
 * the report of this fuzzer). Those get refused; the rest may succeed.
 */
static void send_reply(struct worker *w, unsigned int s, unsigned int gen, int fd,
		       uint32_t seq, uint32_t type)
{
	static const int32_t results[] = { 0, 0, 0, 0, 0, 0, -EIO, -EINVAL, -1, -4095 };
	struct virtio_loopback_reply r = { .seq = seq, .result = PICK(w, results) };
	int ret;

	if (type == VIRTIO_LOOPBACK_EV_DRIVER_OK && !r.result)
		r.result = -EIO;

	desc(w, "reply(slot %u, seq %u, result %d)", s, seq, r.result);
	ret = write(fd, &r, sizeof(r));
	done(w, OP_REPLY, ret, errno, same_gen(s, gen, fd));
	if (ret >= 0 && ret != sizeof(r))
		fail(w, "wrote %d", ret);
}

static void op_read(struct worker *w)
{
	static const size_t sizes[] = {
		0, 1, sizeof(struct virtio_loopback_event) - 1,
		sizeof(struct virtio_loopback_event) + 1, 4096, 1 << 20, SIZE_MAX,
		(size_t)SSIZE_MAX + 1,
	};
	struct virtio_loopback_event *ev = (void *)w->big;
	size_t len = chance(w, 75) ? sizeof(*ev) : PICK(w, sizes);
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen), err;
	long wait = rnd(w, 200);
	ssize_t ret;
	char what[32];
	void *p;

	memset(ev, 0xa5, sizeof(*ev));
	p = uptr(w, ev, len, what);
	desc(w, "read(slot %u, %s, %zu, watchdog %ld ms)", s, what, len, wait);
	block_start(w, wait);
	ret = read(fd, p, len);
	err = errno;
	block_end(w);
	done(w, OP_READ, ret, err, same_gen(s, gen, fd));
	if (ret < 0 || p != ev || !same_gen(s, gen, fd))
		return;
	if (ret != sizeof(*ev) || !ev->type || ev->type > VIRTIO_LOOPBACK_EV_UNPLUGGED ||
	    (ev->flags & ~VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY) || ev->reserved0[0] ||
	    ev->reserved0[1] || ev->reserved0[2] || ev->reserved1 || ev->reserved[0] ||
	    ev->reserved[1] || ev->reserved[2] || ev->reserved[3]) {
		fail(w, "event: %zd bytes, type %u flags 0x%x", ret, ev->type, ev->flags);
		return;
	}
	__atomic_store_n(&slots[s].last_seq, ev->seq, __ATOMIC_RELAXED);
	/* Answer most events that want it. */
	if ((ev->flags & VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY) && chance(w, 70))
		send_reply(w, s, gen, fd, ev->seq, ev->type);
}

static void op_write(struct worker *w)
{
	static const size_t sizes[] = {
		0, 1, 4, sizeof(struct virtio_loopback_reply) - 1,
		sizeof(struct virtio_loopback_reply) + 1, 4096, SIZE_MAX,
	};
	static const int32_t results[] = { -1, -EIO, -4095, -4096, 1, INT32_MIN, INT32_MAX };
	struct virtio_loopback_reply *r = (void *)w->big;
	size_t len = chance(w, 70) ? sizeof(*r) : PICK(w, sizes);
	unsigned int s, gen;
	int fd = slot_fd(w, &s, &gen);
	uint32_t seq = __atomic_load_n(&slots[s].last_seq, __ATOMIC_RELAXED);
	ssize_t ret;
	char what[32];
	void *p;

	memset(w->big, 0, 2 * page_size);
	switch (rnd(w, 5)) {
	case 0: r->seq = seq; break;
	case 1: r->seq = seq + 1; break;
	case 2: r->seq = seq - 1; break;
	case 3: r->seq = 0; break;
	default: r->seq = (uint32_t)rnd64(w); break;
	}
	/* Never 0: the only event waiting can be a DRIVER_OK (see send_reply()). */
	r->result = PICK(w, results);
	if (chance(w, 10))
		r->reserved[rnd(w, 2)] = rnd64(w) | 1;
	p = uptr(w, r, len, what);
	desc(w, "write(slot %u, %s, %zu: seq %u result %d reserved 0x%llx/0x%llx)", s,
	     what, len, r->seq, r->result, (unsigned long long)r->reserved[0],
	     (unsigned long long)r->reserved[1]);
	ret = write(fd, p, len);
	done(w, OP_WRITE, ret, errno, same_gen(s, gen, fd));
	if (ret >= 0 && ret != sizeof(*r) && same_gen(s, gen, fd))
		fail(w, "wrote %zd", ret);
}

static void op_poll(struct worker *w)
{
	static const int timeouts[] = { 0, 0, 1, 10, 50, -1 };
	struct pollfd pfd[3];
	unsigned int s, gen, n = 1 + rnd(w, 3), i;
	int timeout = PICK(w, timeouts), ret, err;

	for (i = 0; i < n; i++) {
		pfd[i].fd = slot_fd(w, &s, &gen);
		pfd[i].events = chance(w, 70) ? POLLIN : (short)rnd(w, 0x10000);
		pfd[i].revents = 0;
	}
	desc(w, "poll(%u fds, first %d events 0x%x, %d ms)", n, pfd[0].fd,
	     pfd[0].events, timeout);
	block_start(w, 20 + rnd(w, 200));
	ret = poll(pfd, n, timeout);
	err = errno;
	block_end(w);
	done(w, OP_POLL, ret, err, true);
}

static void forget_map(struct worker *w, unsigned int i)
{
	if (w->maps[i].addr)
		munmap(w->maps[i].addr, w->maps[i].len);
	w->maps[i].addr = NULL;
}

static void op_mmap(struct worker *w)
{
	static const int prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ, PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC,
		PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	static const int flags[] = {
		MAP_SHARED, MAP_SHARED, MAP_SHARED, MAP_SHARED_VALIDATE,
		MAP_SHARED | MAP_POPULATE, MAP_SHARED | MAP_NORESERVE, MAP_PRIVATE,
		MAP_SHARED_VALIDATE | 0x4000000, MAP_SHARED | MAP_LOCKED,
	};
	unsigned int i = rnd(w, NMAPS), s = NSLOTS, gen = 0;
	int fd = w->memfds[rnd(w, NMEMFDS)];
	int prot = PICK(w, prots), fl = PICK(w, flags), err;
	bool judge;
	off_t size, off;
	size_t len;
	void *p;

	if (chance(w, 5))
		fd = slot_fd(w, &s, &gen);
	size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
	if (size <= 0)
		size = 1 << 20;
	switch (rnd(w, 8)) {
	case 0: off = size; break;
	case 1: off = size - page_size; break;
	case 2: off = rnd(w, page_size); break;
	case 3: off = (off_t)rnd64(w) & ~(off_t)(page_size - 1) & INT64_MAX; break;
	case 4 ... 5: off = 0; break;
	default: off = (off_t)rnd(w, size / page_size) * page_size; break;
	}
	switch (rnd(w, 8)) {
	case 0: len = 0; break;
	case 1: len = size + page_size; break;
	case 2: len = size; break;
	case 3: len = 1 + rnd(w, 3 * page_size); break;
	default: len = (1 + rnd(w, 16)) * page_size; break;
	}
	desc(w, "mmap(memfd %d, off 0x%llx, len 0x%zx, prot 0x%x, flags 0x%x)", fd,
	     (long long)off, len, prot, fl);
	p = mmap(NULL, len, prot, fl, fd, off);
	err = errno;
	/* Memory fds are the thread's own; a slot's may be closed meanwhile. */
	judge = fd >= 0 && (s == NSLOTS || same_gen(s, gen, fd));
	done(w, OP_MMAP, p == MAP_FAILED ? -1 : 0, err, judge);
	if (p == MAP_FAILED)
		return;
	forget_map(w, i);
	w->maps[i] = (struct map){ .addr = p, .len = len, .prot = prot };
}

static void fault_handler(int sig)
{
	if (tl_touching)
		siglongjmp(tl_jb, sig);
	/* A fault outside a touch is ours: die with it. */
	signal(sig, SIG_DFL);
}

/* Read, write, protect, advise, remap a mapping; faults are expected. */
static void op_touch(struct worker *w)
{
	unsigned int i = rnd(w, NMAPS), kind = rnd(w, 10), k;
	struct map *m = &w->maps[i];
	volatile char *p;
	size_t off, n;
	volatile int ret = 0;
	int sig;

	if (!m->addr) {
		desc(w, "touch(map %u: none)", i);
		done(w, OP_TOUCH, 0, 0, false);
		return;
	}
	off = rnd(w, m->len);
	n = 1 + rnd(w, m->len - off < 4 * page_size ? m->len - off : 4 * page_size);
	p = m->addr + off;
	desc(w, "touch(map %u: %p+0x%zx len 0x%zx prot 0x%x, kind %u)", i, (void *)m->addr,
	     off, n, m->prot, kind);
	tl_touching = 1;
	sig = sigsetjmp(tl_jb, 1);
	if (sig) {
		tl_touching = 0;
		stat_add(&stats->signals, 1);
		done(w, OP_TOUCH, -1, 0, false);
		return;
	}
	switch (kind) {
	case 0 ... 2:
		for (k = 0; k < n; k += 512)
			(void)p[k];
		break;
	case 3 ... 5:
		/* Garbage in the region is what a hostile back-end writes. */
		for (k = 0; k < n; k += 512)
			p[k] = (char)rnd64(w);
		break;
	case 6:
		ret = mprotect(m->addr, m->len, PICK(w, ((const int[]){ PROT_READ,
				PROT_READ | PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC })));
		break;
	case 7:
		ret = madvise(m->addr, m->len, PICK(w, ((const int[]){ MADV_DONTNEED,
				MADV_WILLNEED, MADV_REMOVE, MADV_FREE, MADV_DONTFORK,
				MADV_COLD, MADV_PAGEOUT })));
		break;
	case 8: {
		/* Move or resize: VM_DONTEXPAND refuses growth. */
		size_t nl = chance(w, 50) ? m->len / 2 : m->len + page_size;
		void *np;

		nl = nl ? (nl + page_size - 1) & ~(page_size - 1) : page_size;
		np = mremap(m->addr, m->len, nl, MREMAP_MAYMOVE);
		if (np != MAP_FAILED) {
			m->addr = np;
			m->len = nl;
		} else {
			ret = -1;
		}
		break;
	}
	default: {
		/* The kernel reading the mapping: a fault there is EFAULT. */
		int pfd[2];

		if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK))
			break;
		ret = write(pfd[1], (const void *)p, n < 4096 ? n : 4096) < 0 ? -1 : 0;
		close(pfd[0]);
		close(pfd[1]);
		break;
	}
	}
	tl_touching = 0;
	done(w, OP_TOUCH, ret, errno, false);
}

static void op_munmap(struct worker *w)
{
	unsigned int i = rnd(w, NMAPS);

	desc(w, "munmap(map %u)", i);
	forget_map(w, i);
	done(w, OP_MUNMAP, 0, 0, false);
}

static void op_closemem(struct worker *w)
{
	unsigned int i = rnd(w, NMEMFDS);

	desc(w, "close(memfd %u: %d)", i, w->memfds[i]);
	if (w->memfds[i] >= 0)
		close(w->memfds[i]);
	w->memfds[i] = -1;
	done(w, OP_CLOSEMEM, 0, 0, false);
}

/* Device attributes, read while devices come and go. */
static void op_sysfs(struct worker *w)
{
	static const char *const attrs[] = {
		"device_id", "status", "broken", "virtio_index", "driver_features",
		"mem_mode", "pages_in_use", "revocations", "queues/0/size",
		"queues/0/kicks", "queues/1/max_size", "owner_pid",
	};
	char path[256], buf[128];
	const char *attr = PICK(w, attrs);
	unsigned int id = rnd(w, 64);
	int ret;

	snprintf(path, sizeof(path), CLASS_DIR "/vl%u/%s", id, attr);
	desc(w, "sysfs(vl%u/%s)", id, attr);
	ret = read_sysfs(path, buf, sizeof(buf));
	done(w, OP_SYSFS, ret, -ret, false);
}

static void run_op(struct worker *w, enum op op);

/*
 * A forked process does a few operations on the inherited sessions, fds
 * and mappings, then dies: mid-call when the alarm fires. Only system
 * calls and our own code there (the parent is multi-threaded), no output.
 */
static void op_fork(struct worker *w)
{
	unsigned int n = 5 + rnd(w, 30), k;
	uint64_t child_seed = rnd64(w);
	int status;
	pid_t pid;

	desc(w, "fork(%u operations)", n);
	pid = fork();
	if (pid == 0) {
		w->child = true;
		w->rng = child_seed;
		alarm(1 + rnd(w, 2));
		for (k = 0; k < n; k++) {
			uint32_t r = rnd(w, NOPS - 1);

			run_op(w, (enum op)(r == OP_REPLY ? OP_READ : r));
		}
		_exit(0);
	}
	done(w, OP_FORK, pid, errno, false);
	if (pid > 0)
		waitpid(pid, &status, 0);
}

static void run_op(struct worker *w, enum op op)
{
	switch (op) {
	case OP_OPEN: op_open(w); break;
	case OP_CLOSE: op_close(w); break;
	case OP_DUP: op_dup(w); break;
	case OP_FCNTL: op_fcntl(w); break;
	case OP_VERSION: op_version(w); break;
	case OP_CREATE: op_create(w); break;
	case OP_BADIOCTL: op_badioctl(w); break;
	case OP_VQINFO: op_vqinfo(w); break;
	case OP_SETCFG: op_setcfg(w); break;
	case OP_MEMFD: op_memfd(w); break;
	case OP_REGION: op_region(w); break;
	case OP_UNPLUG: op_unplug(w); break;
	case OP_READ: op_read(w); break;
	case OP_REPLY: op_read(w); break;
	case OP_WRITE: op_write(w); break;
	case OP_POLL: op_poll(w); break;
	case OP_MMAP: op_mmap(w); break;
	case OP_TOUCH: op_touch(w); break;
	case OP_MUNMAP: op_munmap(w); break;
	case OP_CLOSEMEM: op_closemem(w); break;
	case OP_SYSFS: op_sysfs(w); break;
	case OP_FORK: if (!w->child) op_fork(w); break;
	case OP_ATTACH: op_attach(w); break;
	case NOPS: break;
	}
}

static unsigned int weight_total;

static enum op pick_op(struct worker *w)
{
	unsigned int r, i;

	r = rnd(w, weight_total);
	for (i = 0; i < NOPS; i++) {
		if (r < op_weight[i])
			return (enum op)i;
		r -= op_weight[i];
	}
	return OP_VERSION;
}

/* ------------------------------------------------------------------ */
/* Workers and rounds                                                   */
/* ------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int i;

	while (now_ms() < stop_ms) {
		w->iter++;
		run_op(w, pick_op(w));
	}
	for (i = 0; i < NMAPS; i++)
		forget_map(w, i);
	for (i = 0; i < NMEMFDS; i++)
		if (w->memfds[i] >= 0)
			close(w->memfds[i]);
	return NULL;
}

/* Interrupts blocking calls that run past their bound (no event may come). */
static void *watchdog_main(void *arg)
{
	unsigned int i;

	(void)arg;
	while (!__atomic_load_n(&stop_watchdog, __ATOMIC_ACQUIRE)) {
		long now = now_ms();

		for (i = 0; i < nworkers; i++) {
			long d = __atomic_load_n(&workers[i].deadline_ms, __ATOMIC_ACQUIRE);

			if (d && now > d)
				pthread_kill(workers[i].tid, SIGUSR1);
		}
		usleep(10000);
	}
	return NULL;
}

static void noop_handler(int sig)
{
	(void)sig;
}

static void worker_init(struct worker *w, unsigned int proc, unsigned int thread)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->proc = proc;
	w->thread = thread;
	/* Its own stream: the seed, the worker's place, mixed once. */
	w->rng = round_seed ^ (0x100000001b3ULL * (proc * 64 + thread + 1));
	rnd64(w);
	for (i = 0; i < NMEMFDS; i++)
		w->memfds[i] = -1;
	w->big = mmap(NULL, 4 * page_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->big == MAP_FAILED) {
		perror("mmap");
		_exit(T_EXIT_FAIL);
	}
	w->edge = w->big + 3 * page_size;
	mprotect(w->edge, page_size, PROT_NONE);
}

/* One fuzzing process: its threads share the session slots. */
static void proc_main(unsigned int proc)
{
	struct sigaction sa = { .sa_handler = noop_handler };
	pthread_t wd;
	unsigned int i;

	/* No SA_RESTART: the watchdog's signal ends a blocking call. */
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = fault_handler;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	for (i = 0; i < NSLOTS; i++)
		slots[i].fd = -1;
	nworkers = opt_threads;
	for (i = 0; i < nworkers; i++)
		worker_init(&workers[i], proc, i);
	for (i = 0; i < nworkers; i++)
		if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]))
			_exit(T_EXIT_FAIL);
	pthread_create(&wd, NULL, watchdog_main, NULL);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i].tid, NULL);
	__atomic_store_n(&stop_watchdog, true, __ATOMIC_RELEASE);
	pthread_join(wd, NULL);
	for (i = 0; i < NSLOTS; i++)
		slot_close(i);
	fflush(stdout);
	_exit(0);
}

static void dump_stacks(pid_t pid)
{
	char path[320], buf[4096];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", pid, d->d_name);
		if (!read_sysfs(path, buf, sizeof(buf)))
			printf("  task %s:\n%s\n", d->d_name, buf);
	}
	closedir(dir);
}

/* Kernel stacks of every task in D state (the workers they wait for). */
static void dump_blocked(void)
{
	char path[320], buf[512];
	struct dirent *d;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char *st;

		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		if (read_sysfs(path, buf, sizeof(buf)))
			continue;
		st = strrchr(buf, ')');
		if (!st || st[1] != ' ' || st[2] != 'D')
			continue;
		printf("blocked task %s\n", buf);
		dump_stacks(atoi(d->d_name));
	}
	closedir(dir);
}

/* Run @seconds of fuzzing in opt_procs processes; false on a hang. */
static bool run_round(const char *name, uint64_t seed, unsigned int seconds)
{
	pid_t pids[64];
	unsigned int i, left;
	long end;
	bool ok = true;

	round_seed = seed;
	printf("round %s: seed %llu, %u s, %u processes x %u threads\n", name,
	       (unsigned long long)seed, seconds, opt_procs, opt_threads);
	fflush(stdout);
	stop_ms = now_ms() + seconds * 1000L;
	for (i = 0; i < opt_procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			proc_main(i);
		if (pids[i] < 0) {
			perror("fork");
			return false;
		}
	}
	/* Every call is bounded: a process still there a minute later hangs. */
	end = stop_ms + 60000;
	left = opt_procs;
	while (left) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			left--;
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				printf("FAIL seed %llu: process %d ended with status 0x%x\n",
				       (unsigned long long)seed, pid, status);
				stat_add(&stats->failures, 1);
			}
			continue;
		}
		if (now_ms() > end) {
			for (i = 0; i < opt_procs; i++) {
				if (kill(pids[i], 0))
					continue;
				printf("FAIL seed %llu: process %u (pid %d) hangs; kernel stacks:\n",
				       (unsigned long long)seed, i, pids[i]);
				dump_stacks(pids[i]);
				kill(pids[i], SIGKILL);
			}
			dump_blocked();
			/* Tasks in D state do not die: report once, then leave them. */
			if (!ok)
				break;
			ok = false;
			end = now_ms() + 30000;
		}
		usleep(50000);
	}
	return ok;
}

static void print_stats(unsigned int seconds)
{
	unsigned long total = 0;
	unsigned int i, e;

	for (i = 0; i < NOPS; i++) {
		char line[1024];
		int n;

		total += stats->calls[i];
		n = snprintf(line, sizeof(line), "op %-10s %8lu calls %8lu ok", op_names[i],
			     stats->calls[i], stats->ok[i]);
		for (e = 0; e <= MAXERR && n < (int)sizeof(line) - 40; e++)
			if (stats->err[i][e])
				n += snprintf(line + n, sizeof(line) - n, " %s=%lu",
					      e ? strerrorname_np(e) ?: "?" : "fault",
					      stats->err[i][e]);
		printf("%s\n", line);
	}
	printf("executions: %lu operations in %u s (%lu/min), %lu devices created, "
	       "%lu faults in mappings\n", total, seconds, seconds ? total * 60 / seconds : 0,
	       stats->devices, stats->signals);
}

/* Back to quiet: devices gone, RCU-freed objects freed, caches dropped. */
static void quiesce(void)
{
	long end = now_ms() + 60000;

	while (count_devices() > 0 && now_ms() < end)
		usleep(50000);
	sleep(3);
	sync();
	write_sysfs("/proc/sys/vm/drop_caches", "3");
}

static void usage(void)
{
	fprintf(stderr, "usage: vl-uapi-fuzz [--seconds N] [--seed S] [--procs P] "
		"[--threads T] [--warmup N] [--trace]\n");
	exit(T_EXIT_FAIL);
}

int main(int argc, char **argv)
{
	unsigned int seconds = 60, warmup = 0, i;
	uint64_t seed = 0;
	bool have_seed = false, ok = true;
	char old_timeout[32] = "10000", buf[64];
	long slab0, vm0, slab1, vm1, memtotal;
	unsigned long warm_failures;
	struct rlimit rl = { 8192, 8192 };

	for (i = 1; i < (unsigned int)argc; i++) {
		const char *a = argv[i], *v = i + 1 < (unsigned int)argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--trace")) {
			opt_trace = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--seconds"))
			seconds = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--seed"))
			seed = strtoull(v, NULL, 0), have_seed = true;
		else if (!strcmp(a, "--procs"))
			opt_procs = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--threads"))
			opt_threads = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--warmup"))
			warmup = strtoul(v, NULL, 0);
		else
			usage();
	}
	for (i = 0; i < NOPS; i++)
		weight_total += op_weight[i];
	if (!opt_procs || opt_procs > 64 || !opt_threads || opt_threads > MAX_WORKERS)
		usage();
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ getpid();
	}
	if (!warmup)
		warmup = seconds / 6 < 5 ? 5 : seconds / 6 > 20 ? 20 : seconds / 6;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("seed %llu\n", (unsigned long long)seed);
	if (access(CTL, F_OK)) {
		printf("skip: %s missing (modprobe virtio_loopback)\n", CTL);
		return T_EXIT_SKIP;
	}
	page_size = sysconf(_SC_PAGESIZE);
	setrlimit(RLIMIT_NOFILE, &rl);
	memtotal = meminfo_kb("MemTotal");
	huge_mem_fails = memtotal > 0 &&
			 (uint64_t)memtotal * 1024 < VIRTIO_LOOPBACK_MAX_MEM_SIZE;
	/* rng devices get a real driver (probe, DRIVER_OK, hwrng reads). */
	if (system("modprobe virtio_rng >/dev/null 2>&1"))
		printf("note: no virtio_rng driver\n");
	stats = mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	g_guard = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_ro = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stats == MAP_FAILED || g_guard == MAP_FAILED || g_ro == MAP_FAILED) {
		perror("mmap");
		return T_EXIT_FAIL;
	}
	/* Unanswered DRIVER_OKs break their device quickly. */
	read_sysfs(PARAM_TIMEOUT, old_timeout, sizeof(old_timeout));
	write_sysfs(PARAM_TIMEOUT, FUZZ_TIMEOUT_MS);

	/* The warm-up fills caches and pools; its own stream. */
	ok &= run_round("warm-up", seed ^ 0x5eed5eed5eed5eedULL, warmup);
	quiesce();
	slab0 = meminfo_kb("SUnreclaim");
	vm0 = meminfo_kb("VmallocUsed");
	warm_failures = stats->failures;
	memset(stats, 0, sizeof(*stats));

	ok &= run_round("fuzz", seed, seconds);
	quiesce();
	slab1 = meminfo_kb("SUnreclaim");
	vm1 = meminfo_kb("VmallocUsed");
	write_sysfs(PARAM_TIMEOUT, old_timeout);

	print_stats(seconds);
	if (count_devices()) {
		printf("FAIL: %d device(s) left in " CLASS_DIR "\n", count_devices());
		/* Which, and why (a persistent one waiting, a stuck removal). */
		if (system("grep -H . " CLASS_DIR "/*/persist " CLASS_DIR "/*/persist_timeout_ms "
			   CLASS_DIR "/*/status 2>/dev/null | sed 's/^/    /'"))
			printf("    (no attributes readable)\n");
		ok = false;
	}
	for (i = 0; i < 100 && !read_sysfs(MOD_REFCNT, buf, sizeof(buf)) && atoi(buf); i++)
		usleep(100000);
	if (!read_sysfs(MOD_REFCNT, buf, sizeof(buf)) && atoi(buf)) {
		printf("FAIL: module refcnt %s with every session closed\n", buf);
		ok = false;
	}
	printf("%s VmallocUsed %ld -> %ld kB (tolerance %d)\n",
	       vm1 - vm0 < LEAK_VMALLOC_KB ? "ok" : "FAIL", vm0, vm1, LEAK_VMALLOC_KB);
	printf("%s SUnreclaim %ld -> %ld kB (tolerance %d)\n",
	       slab1 - slab0 < LEAK_SLAB_KB ? "ok" : "FAIL", slab0, slab1, LEAK_SLAB_KB);
	ok &= vm1 - vm0 < LEAK_VMALLOC_KB && slab1 - slab0 < LEAK_SLAB_KB;
	if (stats->failures || warm_failures)
		ok = false;
	printf("seed %llu: %lu failure(s) (warm-up %lu), %s\n", (unsigned long long)seed,
	       stats->failures, warm_failures, ok ? "PASS" : "FAIL");
	return ok ? T_EXIT_PASS : T_EXIT_FAIL;
}
