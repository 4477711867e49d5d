// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libvlb dispatch against random message sequences.
 *
 * Each round attaches a fresh device to a socketpair and sends up to 32
 * messages: mostly real requests with payloads that are nearly right
 * (small queue indices, ring sizes around powers of two, memory tables
 * with a memfd, ring addresses inside and outside it) and some garbage
 * (random request numbers, flags, sizes, surplus fds). Whatever arrives,
 * the library must not crash or trip a sanitizer, must answer or break
 * cleanly, and must not keep a single fd once the device is freed.
 * Rings that happen to start are popped from, over zeroed memory.
 *
 * VLB_FUZZ_SEED and VLB_FUZZ_ROUNDS override the fixed defaults.
 */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "vlb.h"
#include "unit/t_vhost.h"

#define MEM_SIZE	(64 * 1024)
#define NR_VQS		2

static uint64_t rnd_state;
static int saved_stderr = -1;
static unsigned int nr_msgs, nr_broken, nr_started;

#define fail(...) (dup2(saved_stderr, STDERR_FILENO), t_fail(__VA_ARGS__))

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (rnd_state * 0x2545f4914f6cdd1dULL) >> 32;
}

static uint64_t rnd64(void)
{
	return ((uint64_t)rnd() << 32) | rnd();
}

static uint64_t dev_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) | (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VLB_F_EVENT_IDX);
}

static void dev_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);
	struct vlb_vq_elem *e;

	while (vlb_vq_pop(vq, &e) == 0) {
		vlb_vq_push(vq, e, 0);
		free(e);
	}
	vlb_vq_flush(vq);
	vlb_vq_notify(vq);
}

static int dev_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(buf, 0x42, len);
	return 0;
}

static int dev_set_config(struct vlb_dev *dev, const uint8_t *buf, uint32_t off,
			  uint32_t len, uint32_t flags)
{
	(void)dev;
	(void)buf;
	(void)flags;
	return off + len > 16 ? -EINVAL : 0;
}

static const struct vlb_dev_iface fuzz_iface = {
	.get_features	= dev_get_features,
	.get_config	= dev_get_config,
	.set_config	= dev_set_config,
	.queue_kick	= dev_queue_kick,
};

/* An address around the memfd's guest range (0..MEM_SIZE). */
static uint64_t rnd_addr(void)
{
	switch (rnd() % 4) {
	case 0:
		return rnd64();
	case 1:
		return MEM_SIZE - 64 + rnd() % 128;
	default:
		return (rnd() % MEM_SIZE) & ~15ULL;
	}
}

/* Fill @m with a random, mostly well-formed request; fds from @fds. */
static void rnd_msg(struct vhost_user_msg *m, const int *fds)
{
	static const uint32_t sizes[] = { 0, 8, 40, 4, 12, 20, 48 };
	uint32_t req = rnd() % 8 ? 1 + rnd() % (VHOST_USER_REQUEST_MAX - 1) : rnd() % 256;
	unsigned int i;

	memset(m, 0, sizeof(*m));
	m->hdr.request = req;
	m->hdr.flags = rnd() % 16 ? VHOST_USER_VERSION | (rnd() % 2 ? VHOST_USER_NEED_REPLY_MASK : 0)
				  : rnd();
	m->hdr.size = sizes[rnd() % (sizeof(sizes) / sizeof(sizes[0]))];
	for (i = 0; i < sizeof(m->payload); i++)
		((uint8_t *)&m->payload)[i] = rnd();

	switch (req) {
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		m->hdr.size = rnd() % 8 ? 8 : m->hdr.size;
		m->payload.state.index = rnd() % (NR_VQS + 1);
		m->payload.state.num = rnd() % 4 ? 1u << (rnd() % 6) : rnd() % 3 ? rnd() % 3 : rnd();
		break;
	case VHOST_USER_SET_VRING_ADDR:
		m->hdr.size = rnd() % 8 ? sizeof(m->payload.addr) : m->hdr.size;
		m->payload.addr.index = rnd() % (NR_VQS + 1);
		m->payload.addr.desc_user_addr = rnd_addr();
		m->payload.addr.avail_user_addr = rnd_addr();
		m->payload.addr.used_user_addr = rnd_addr();
		break;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		m->hdr.size = rnd() % 8 ? 8 : m->hdr.size;
		m->payload.u64 = (rnd() % (NR_VQS + 1)) | (rnd() % 6 ? 0 : VHOST_USER_VRING_NOFD_MASK);
		m->nfds = rnd() % 6 ? 1 : rnd() % 3;
		break;
	case VHOST_USER_SET_MEM_TABLE:
		m->payload.memory.nregions = rnd() % 6 ? 1 : rnd() % 10;
		m->hdr.size = rnd() % 6 ? 8 + 32 * (m->payload.memory.nregions % 9) : m->hdr.size;
		m->payload.memory.regions[0].guest_phys_addr = 0;
		m->payload.memory.regions[0].userspace_addr = rnd() % 2 ? 0 : rnd_addr();
		m->payload.memory.regions[0].memory_size = rnd() % 4 ? MEM_SIZE : rnd64();
		m->payload.memory.regions[0].mmap_offset = rnd() % 4 ? 0 : rnd_addr();
		m->nfds = rnd() % 6 ? m->payload.memory.nregions % 9 : rnd() % 3;
		break;
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		m->hdr.size = rnd() % 8 ? sizeof(m->payload.mem_reg) : m->hdr.size;
		m->payload.mem_reg.region.guest_phys_addr = rnd() % 2 ? 0 : rnd_addr();
		m->payload.mem_reg.region.userspace_addr = rnd() % 2 ? 0 : rnd_addr();
		m->payload.mem_reg.region.memory_size = rnd() % 4 ? MEM_SIZE : rnd64();
		m->payload.mem_reg.region.mmap_offset = 0;
		m->nfds = rnd() % 6 ? 1 : rnd() % 3;
		break;
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_STATUS:
		m->hdr.size = rnd() % 8 ? 8 : m->hdr.size;
		m->payload.u64 = rnd() % 4 ? (rnd() % 2 ? dev_get_features(NULL) : 0x1ffff) : rnd64();
		break;
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		m->payload.config.offset = rnd() % 4 ? 0 : rnd();
		m->payload.config.size = rnd() % 4 ? rnd() % 32 : rnd();
		m->hdr.size = rnd() % 4 ? 12 + (m->payload.config.size % 300) : m->hdr.size;
		break;
	case VHOST_USER_SET_BACKEND_REQ_FD:
		m->hdr.size = rnd() % 8 ? 0 : m->hdr.size;
		m->nfds = rnd() % 6 ? 1 : rnd() % 3;
		break;
	default:
		m->hdr.size = rnd() % 4 ? 0 : m->hdr.size;
		m->nfds = rnd() % 10 ? 0 : 1 + rnd() % 2;
		break;
	}
	if (m->nfds > VHOST_USER_MAX_FDS)
		m->nfds = VHOST_USER_MAX_FDS;
	for (i = 0; i < m->nfds; i++)
		m->fds[i] = fds[rnd() % 3];
}

/* A correct start of one ring, so the random part begins from there. */
static int good_prefix(int sock, struct vlb_dev *dev, int memfd, int kick)
{
	struct vhost_user_msg m = { .hdr = { .flags = VHOST_USER_VERSION } };
	unsigned int i;

	for (i = 0; i < 6; i++) {
		memset(&m.payload, 0, sizeof(m.payload));
		m.nfds = 0;
		switch (i) {
		case 0:
			m.hdr.request = VHOST_USER_SET_FEATURES;
			m.hdr.size = 8;
			m.payload.u64 = dev_get_features(dev);
			break;
		case 1:
			m.hdr.request = VHOST_USER_SET_MEM_TABLE;
			m.hdr.size = 8 + 32;
			m.payload.memory.nregions = 1;
			m.payload.memory.regions[0].memory_size = MEM_SIZE;
			m.fds[0] = memfd;
			m.nfds = 1;
			break;
		case 2:
			m.hdr.request = VHOST_USER_SET_VRING_NUM;
			m.hdr.size = 8;
			m.payload.state.num = 8;
			break;
		case 3:
			m.hdr.request = VHOST_USER_SET_VRING_ADDR;
			m.hdr.size = sizeof(m.payload.addr);
			m.payload.addr.desc_user_addr = 0x1000;
			m.payload.addr.avail_user_addr = 0x2000;
			m.payload.addr.used_user_addr = 0x3000;
			break;
		case 4:
			m.hdr.request = VHOST_USER_SET_VRING_KICK;
			m.hdr.size = 8;
			m.fds[0] = kick;
			m.nfds = 1;
			break;
		case 5:
			/* No PROTOCOL_FEATURES: the ring is enabled by its kick. */
			return vlb_vq_ready(vlb_dev_vq(dev, 0)) ? 0 : fail("the good prefix failed");
		}
		if (vlb_msg_send(sock, &m) || vlb_dev_dispatch(dev))
			return fail("the good prefix failed at %s", vlb_request_name(m.hdr.request));
	}
	return 0;
}

static int fuzz_round(unsigned int round, int memfd, uint8_t *mem, const int *fds)
{
	struct vhost_user_msg m, r;
	struct vlb_dev *dev;
	unsigned int i, q;
	int sp[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return fail("socketpair: %s", strerror(errno));
	ret = vlb_dev_new(&fuzz_iface, NR_VQS, NULL, "fuzz", &dev);
	if (!ret)
		ret = vlb_dev_attach(dev, sp[1]);
	if (ret)
		return fail("creating the device: %s", strerror(-ret));
	/* Zeroed rings (nothing available), or whatever random bytes say. */
	for (i = 0; i < MEM_SIZE; i++)
		mem[i] = rnd() % 4 ? 0 : rnd();
	if (rnd() % 2 && good_prefix(sp[0], dev, memfd, fds[1]))
		return T_EXIT_FAIL;

	for (i = 0; i < 32; i++) {
		const int pool[3] = { memfd, fds[rnd() % 2], memfd };

		rnd_msg(&m, pool);
		if (vlb_msg_send(sp[0], &m))
			break;
		nr_msgs++;
		ret = vlb_dev_dispatch(dev);
		/* Drain whatever reply came, it must parse. */
		while (!t_wait_readable(sp[0], 0)) {
			if (vlb_msg_recv(sp[0], &r))
				return fail("round %u: an unparsable reply to %s", round,
					    vlb_request_name(m.hdr.request));
			vlb_msg_close_fds(&r);
		}
		if (ret) {
			if (ret != -EPROTO || !vlb_dev_broken(dev))
				return fail("round %u: dispatch gave %d without breaking", round, ret);
			nr_broken++;
			break;
		}
		for (q = 0; q < NR_VQS && !vlb_dev_broken(dev); q++) {
			if (!vlb_vq_ready(vlb_dev_vq(dev, q)))
				continue;
			nr_started++;
			dev_queue_kick(dev, q);
		}
		if (vlb_dev_broken(dev))
			break;
	}
	vlb_dev_free(dev);
	close(sp[0]);
	return 0;
}

int main(void)
{
	const char *env_seed = getenv("VLB_FUZZ_SEED");
	const char *rounds = getenv("VLB_FUZZ_ROUNDS");
	unsigned long long seed = env_seed ? strtoull(env_seed, NULL, 0) : 0xfeedf00dULL;
	unsigned int i, n = rounds ? strtoul(rounds, NULL, 0) : 10000;
	int fds[2], memfd, before, null;
	void *mem;

	rnd_state = seed ? seed : 1;
	saved_stderr = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved_stderr < 0 || null < 0 || dup2(null, STDERR_FILENO) < 0)
		return t_fail("muting stderr: %s", strerror(errno));
	close(null);
	if (t_memfd(MEM_SIZE, &memfd, &mem))
		return fail("memfd");
	fds[0] = eventfd(0, EFD_CLOEXEC);
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0)
		return fail("eventfd: %s", strerror(errno));

	before = t_count_fds();
	for (i = 0; i < n; i++)
		if (fuzz_round(i, memfd, mem, fds))
			return T_EXIT_FAIL;
	if (t_count_fds() != before)
		return fail("fd leak: %d open before, %d after", before, t_count_fds());
	dup2(saved_stderr, STDERR_FILENO);
	printf("%u rounds, seed 0x%llx: %u messages, %u broke the device, %u ready-queue visits\n",
	       n, seed, nr_msgs, nr_broken, nr_started);
	if (!nr_started || !nr_broken)
		return t_fail("too one-sided to mean anything");
	close(fds[0]);
	close(fds[1]);
	close(memfd);
	munmap(mem, MEM_SIZE);
	return T_EXIT_PASS;
}
