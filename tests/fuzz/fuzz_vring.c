// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: libvlb's split-ring parser (lib/vlb_vq.c) on rings
 * the fuzzer writes.
 *
 * Guest memory is one 64 KiB memfd, handed over as one region or as two
 * (0..32K and 32K..64K, mapped separately, so a buffer across the boundary
 * becomes two iovecs). The input:
 *
 *	u8 cfg		bits 0-2: log2 of the ring size (1..128), bit 3:
 *			EVENT_IDX, bit 4: INDIRECT_DESC, bit 5: two regions
 *	u16 base	SET_VRING_BASE (last_avail_idx)
 *	desc table	16 * num bytes at guest address 0x0000
 *	avail ring	6 + 2 * num bytes at 0x1000
 *	used ring	6 + 8 * num bytes at 0x2000
 *	the rest	up to 4 KiB at 0x4000, where indirect tables may point
 *
 * Descriptors are raw: any address, length, flags and next, so chains,
 * loops, indirect tables (nested, chained, misaligned) and buffers outside
 * memory all come from mutation. The ring is started with the usual
 * messages and served as a back-end serves it: vlb_dev_pending_kicks()
 * calls queue_kick, which pops until the ring is empty or refused, reads
 * and writes every buffer, pushes, flushes and notifies.
 *
 * Checked beyond ASan/UBSan: each accepted element's head is below the
 * ring size, its iovecs are non-empty and lie whole inside one region's
 * mapping; a refused chain leaves the device broken; used->idx advances by
 * exactly the chains pushed.
 */
#include <errno.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "fuzz_common.h"
#include "vlb.h"
#include "vlb_log.h"
#include "unit/t_vhost.h"

#define MEM_SIZE	(64 * 1024)
#define HALF		(MEM_SIZE / 2)
#define QVA		0x7000000000ULL
#define DESC		0x0000
#define AVAIL		0x1000
#define USED		0x2000
#define ITABLE		0x4000
#define ITABLE_SIZE	0x1000
#define PROBE_Q1	(HALF + 0x100)	/* queue 1's rings: find region 1's mapping */

static int memfd = -1;
static uint8_t *mem;		/* the harness's own mapping, the "driver" */

struct fz_run {
	struct vlb_dev *dev;
	uint8_t *host[2];	/* where the library mapped each region */
	uint64_t size[2];
	unsigned int nregions;
	unsigned int num;
	unsigned int pushed;
	bool refused;
};

static struct fz_run run;

static uint64_t fz_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) | (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VLB_F_EVENT_IDX);
}

static bool fz_in_region(const struct iovec *v)
{
	const uint8_t *p = v->iov_base;
	unsigned int r;

	for (r = 0; r < run.nregions; r++)
		if (p >= run.host[r] && p < run.host[r] + run.size[r] &&
		    v->iov_len <= (size_t)(run.host[r] + run.size[r] - p))
			return true;
	return false;
}

static void fz_check_elem(const struct vlb_vq_elem *e)
{
	unsigned int i;

	if (e->index >= run.num)
		fz_bug("element head %u, ring of %u", e->index, run.num);
	for (i = 0; i < e->out_num + e->in_num; i++) {
		const struct iovec *v = i < e->out_num ? &e->out_sg[i] :
				       &e->in_sg[i - e->out_num];

		if (!v->iov_len || !fz_in_region(v))
			fz_bug("iovec %u: %p+%zu outside the regions", i, v->iov_base,
			       v->iov_len);
	}
}

static void fz_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);
	struct vlb_vq_elem *e;
	uint8_t buf[512];
	int ret;

	if (qidx != 0)
		return;
	while ((ret = vlb_vq_pop(vq, &e)) == 0) {
		size_t in = vlb_iov_size(e->in_sg, e->in_num);
		size_t off;

		fz_check_elem(e);
		/* Touch every byte, as a device would. */
		for (off = 0; vlb_iov_to_buf(e->out_sg, e->out_num, off, buf, sizeof(buf));
		     off += sizeof(buf))
			;
		vlb_iov_from_buf(e->in_sg, e->in_num, 0, NULL, in);
		vlb_vq_push(vq, e, in);
		free(e);
		run.pushed++;
		if (run.pushed % 2)
			vlb_vq_flush(vq);
	}
	if (ret == -EIO) {
		run.refused = true;
		if (!vlb_dev_broken(dev))
			fz_bug("chain refused, device not broken");
	} else if (ret != -EAGAIN) {
		fz_bug("pop: %s", strerror(-ret));
	}
	vlb_vq_flush(vq);
	vlb_vq_notify(vq);
}

static const struct vlb_dev_iface fz_iface = {
	.get_features	= fz_features,
	.queue_kick	= fz_queue_kick,
};

static int fz_dispatch(void *dev)
{
	return vlb_dev_dispatch(dev);
}

/* SET_MEM_TABLE with one region, or two halves of the memfd. */
static int fz_set_mem(struct t_fe *fe, bool two)
{
	struct vhost_user_mem_table t = { .nregions = two ? 2 : 1 };
	int fds[2] = { memfd, memfd };
	unsigned int i;

	for (i = 0; i < t.nregions; i++) {
		t.regions[i].guest_phys_addr = i * HALF;
		t.regions[i].memory_size = two ? HALF : MEM_SIZE;
		t.regions[i].userspace_addr = QVA + i * HALF;
		t.regions[i].mmap_offset = i * HALF;
	}
	return t_fe_call(fe, VHOST_USER_SET_MEM_TABLE, &t,
			 offsetof(struct vhost_user_mem_table, regions) +
			 t.nregions * sizeof(t.regions[0]), fds, t.nregions, NULL);
}

static int fz_start_ring(struct t_fe *fe, unsigned int q, unsigned int num,
			 uint16_t base, uint64_t gpa, int kick, int call)
{
	struct vhost_user_vring_addr a = {
		.index = q,
		.desc_user_addr = QVA + gpa + DESC,
		.avail_user_addr = QVA + gpa + AVAIL,
		.used_user_addr = QVA + gpa + USED,
	};
	int ret;

	if (q) {	/* queue 1: a one-entry ring packed at @gpa */
		a.desc_user_addr = QVA + gpa;
		a.avail_user_addr = QVA + gpa + 16;
		a.used_user_addr = QVA + gpa + 32;
	}
	ret = t_fe_set_state(fe, VHOST_USER_SET_VRING_NUM, q, num);
	if (!ret)
		ret = t_fe_set_state(fe, VHOST_USER_SET_VRING_BASE, q, base);
	if (!ret)
		ret = t_fe_call(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL);
	if (!ret)
		ret = t_fe_set_vring_fd(fe, VHOST_USER_SET_VRING_CALL, q, call);
	if (!ret)
		ret = t_fe_set_vring_fd(fe, VHOST_USER_SET_VRING_KICK, q, kick);
	return ret;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vlb_log_init("fuzz_vring", 0);
	/* As vlb_backend_main() and the adapter do: EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	memfd = memfd_create("fuzz-vring", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, MEM_SIZE))
		fz_bug("memfd: %s", strerror(errno));
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		fz_bug("mmap: %s", strerror(errno));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t cfg = fz_u8(&in);
	uint16_t base = fz_u16(&in);
	uint64_t features = 1ULL << VLB_F_VERSION_1;
	int base_fd = fz_lowest_free_fd();
	struct vlb_vq_rings rings;
	uint16_t used_before;
	struct t_fe fe = { 0 };
	int sp[2], kick, call;
	struct vlb_vq *vq;

	memset(&run, 0, sizeof(run));
	run.num = 1U << (cfg & 7);
	run.nregions = cfg & 0x20 ? 2 : 1;
	if (cfg & 0x08)
		features |= 1ULL << VLB_F_EVENT_IDX;
	if (cfg & 0x10)
		features |= 1ULL << VLB_F_INDIRECT_DESC;

	/* The driver's side: whatever the input says. */
	memset(mem, 0, MEM_SIZE);
	fz_take(&in, mem + DESC, 16 * run.num);
	fz_take(&in, mem + AVAIL, 6 + 2 * run.num);
	fz_take(&in, mem + USED, 6 + 8 * run.num);
	fz_take(&in, mem + ITABLE, in.left < ITABLE_SIZE ? in.left : ITABLE_SIZE);
	used_before = t_get16(mem + USED + 2);

	kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (kick < 0 || call < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		fz_bug("creating fds: %s", strerror(errno));
	if (vlb_dev_new(&fz_iface, 2, NULL, "fuzz", &run.dev) ||
	    vlb_dev_attach(run.dev, sp[1]))
		fz_bug("creating the device");
	fe.sock = sp[0];
	fe.dev = run.dev;
	fe.dispatch = fz_dispatch;
	if (t_fe_set_u64(&fe, VHOST_USER_SET_FEATURES, features) ||
	    fz_set_mem(&fe, run.nregions == 2))
		fz_bug("setting up the memory");
	vq = vlb_dev_vq(run.dev, 0);
	/* Queue 1 is only there to learn where region 1 was mapped. */
	if (run.nregions == 2) {
		if (fz_start_ring(&fe, 1, 1, 0, PROBE_Q1, -1, -1) ||
		    vlb_vq_rings(vlb_dev_vq(run.dev, 1), &rings))
			fz_bug("starting the probe ring");
		run.host[1] = (uint8_t *)rings.desc - (PROBE_Q1 - HALF);
		run.size[1] = HALF;
	}
	/* The ring itself (start reads used->idx and writes used flags or avail_event). */
	if (fz_start_ring(&fe, 0, run.num, base, 0, kick, call) ||
	    vlb_vq_rings(vq, &rings))
		fz_bug("starting the ring");
	run.host[0] = (uint8_t *)rings.desc - DESC;
	run.size[0] = run.nregions == 2 ? HALF : MEM_SIZE;

	/* As vlb_dev_run() would: the queue just became ready. */
	while (vlb_dev_pending_kicks(run.dev))
		;
	if (!run.refused && !vlb_dev_broken(run.dev) &&
	    t_get16(mem + USED + 2) != (uint16_t)(used_before + run.pushed))
		fz_bug("used->idx %u after %u chains from %u", t_get16(mem + USED + 2),
		       run.pushed, used_before);

	vlb_dev_free(run.dev);
	close(sp[0]);
	close(kick);
	close(call);
	if (fz_lowest_free_fd() != base_fd)
		fz_bug("fd leak");
	return 0;
}
