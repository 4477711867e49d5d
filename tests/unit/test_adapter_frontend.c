// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the adapter's vhost-user front-end against real back-ends.
 *
 * Starts our vhost-user-rng (and qemu-storage-daemon's vhost-user-blk export
 * when it is installed) on a socket in a temporary directory, runs the
 * front-end's handshake and start against it with a memfd as the memory
 * region and split rings laid out in it, posts buffers, kicks, waits for the
 * call eventfd and checks the bytes; then stops (RESET_DEVICE or
 * GET_VRING_BASE) and starts again. Nothing here needs the kernel module.
 *
 * Usage: test_adapter_frontend [PATH-TO-vhost-user-rng]
 * (or VHOST_USER_RNG in the environment; else build/bin is searched;
 * VLA_TEST_VERBOSE=1 logs every vhost-user message)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "helpers.h"
#include "device_types.h"
#include "vhost_user_frontend.h"
#include "vlb_log.h"

#define MEM_SIZE	(1U << 20)
#define QSIZE		8
#define RING_BASE	0x1000ULL
#define BUF_BASE	0x40000ULL
#define WAIT_MS		5000

struct backend {
	pid_t pid;
	char dir[64];
	char sock[128];
	char img[128];
};

/* One split ring inside the memfd, as a driver would lay it out. */
struct tring {
	uint8_t *mem;
	unsigned int index;
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t next_desc;
	uint16_t avail_idx;
	uint16_t used_seen;
	int kick, call;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_exec(const char *p)
{
	return p && access(p, X_OK) == 0;
}

/* argv[1], $VHOST_USER_RNG, or build/bin/vhost-user-rng above our binary. */
static bool find_rng(int argc, char **argv, char *out, size_t size)
{
	char exe[PATH_MAX], *slash;
	const char *env = getenv("VHOST_USER_RNG");
	ssize_t n;

	if (argc > 1 && is_exec(argv[1])) {
		snprintf(out, size, "%s", argv[1]);
		return true;
	}
	if (is_exec(env)) {
		snprintf(out, size, "%s", env);
		return true;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	while ((slash = strrchr(exe, '/'))) {
		*slash = '\0';
		if (snprintf(out, size, "%s/build/bin/vhost-user-rng",
			     exe) < (int)size && is_exec(out))
			return true;
		if (snprintf(out, size, "%s/bin/vhost-user-rng",
			     exe) < (int)size && is_exec(out))
			return true;
	}
	return false;
}

static bool find_in_path(const char *prog, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char buf[4096], *save = NULL, *dir;

	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(buf, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		if (snprintf(out, size, "%s/%s", dir, prog) < (int)size &&
		    is_exec(out))
			return true;
	}
	return false;
}

static int backend_mkdir(struct backend *b)
{
	memset(b, 0, sizeof(*b));
	b->pid = -1;
	snprintf(b->dir, sizeof(b->dir), "/tmp/vla-test-XXXXXX");
	if (!mkdtemp(b->dir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -errno;
	}
	snprintf(b->sock, sizeof(b->sock), "%s/sock", b->dir);
	return 0;
}

/* Run @argv; then connect @f to b->sock, retrying until it listens. */
static int backend_start(struct backend *b, char *const argv[], struct vuf *f)
{
	int64_t deadline = now_ms() + WAIT_MS;
	int ret;

	b->pid = fork();
	if (b->pid < 0)
		return -errno;
	if (b->pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}

	for (;;) {
		int status;

		vuf_init(f, 2000);
		ret = vuf_connect(f, b->sock);
		if (!ret)
			return 0;
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			fprintf(stderr, "%s exited early (status 0x%x)\n",
				argv[0], status);
			b->pid = -1;
			return -ECHILD;
		}
		if (now_ms() > deadline) {
			fprintf(stderr, "%s: no socket after %d ms: %s\n",
				argv[0], WAIT_MS, f->err);
			return ret;
		}
		usleep(20000);
	}
}

static void backend_stop(struct backend *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		waitpid(b->pid, NULL, 0);
	}
	b->pid = -1;
	unlink(b->sock);
	if (b->img[0])
		unlink(b->img);
	rmdir(b->dir);
}

static void ring_init(struct tring *r, uint8_t *mem, unsigned int index)
{
	uint64_t base = RING_BASE + index * 0x4000ULL;

	r->mem = mem;
	r->index = index;
	r->num = QSIZE;
	r->desc = base;
	r->avail = base + 0x1000;
	r->used = base + 0x2000;
	r->next_desc = 0;
	r->avail_idx = 0;
	r->used_seen = 0;
	memset(mem + base, 0, 0x3000);
}

static void ring_vring(const struct tring *r, struct vuf_vring *vr)
{
	vr->num = r->num;
	vr->desc = r->desc;
	vr->avail = r->avail;
	vr->used = r->used;
	vr->kick_fd = r->kick;
	vr->call_fd = r->call;
}

struct tbuf {
	uint64_t iova;
	uint32_t len;
	bool writable;
};

/* Chain @n buffers, publish the head, kick. Returns the head index. */
static uint16_t ring_post(struct tring *r, const struct tbuf *bufs,
			  unsigned int n)
{
	struct vring_desc *desc = (struct vring_desc *)(r->mem + r->desc);
	struct vring_avail *avail = (struct vring_avail *)(r->mem + r->avail);
	uint16_t head = r->next_desc;
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint16_t d = (head + i) % r->num;

		desc[d].addr = bufs[i].iova;
		desc[d].len = bufs[i].len;
		desc[d].flags = (bufs[i].writable ? VRING_DESC_F_WRITE : 0) |
				(i + 1 < n ? VRING_DESC_F_NEXT : 0);
		desc[d].next = (d + 1) % r->num;
	}
	r->next_desc = (head + n) % r->num;
	avail->ring[r->avail_idx % r->num] = head;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	r->avail_idx++;
	__atomic_store_n(&avail->idx, r->avail_idx, __ATOMIC_RELEASE);
	if (write(r->kick, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "kick: %s\n", strerror(errno));
	return head;
}

/* Wait for the call eventfd, then for one used element. */
static int ring_wait(struct tring *r, uint32_t *id, uint32_t *len)
{
	struct vring_used *used = (struct vring_used *)(r->mem + r->used);
	int64_t deadline = now_ms() + WAIT_MS;
	bool called = false;

	for (;;) {
		struct pollfd pfd = { .fd = r->call, .events = POLLIN };
		int64_t left = deadline - now_ms();
		uint64_t v;

		if (called &&
		    __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) != r->used_seen)
			break;
		if (left <= 0) {
			fprintf(stderr, "queue %u: %s after %d ms (used idx %u)\n",
				r->index, called ? "no used element" : "no interrupt",
				WAIT_MS, used->idx);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, (int)left) > 0 &&
		    read(r->call, &v, sizeof(v)) == sizeof(v))
			called = true;
	}
	*id = used->ring[r->used_seen % r->num].id;
	*len = used->ring[r->used_seen % r->num].len;
	r->used_seen++;
	return 0;
}

static int rings_open(struct tring *r, unsigned int n, uint8_t *mem)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		ring_init(&r[i], mem, i);
		r[i].kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r[i].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r[i].kick < 0 || r[i].call < 0)
			return -errno;
	}
	return 0;
}

static void rings_close(struct tring *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (r[i].kick >= 0)
			close(r[i].kick);
		if (r[i].call >= 0)
			close(r[i].call);
		r[i].kick = r[i].call = -1;
	}
}

static int start_rings(struct vuf *f, struct tring *r, unsigned int n,
		       int memfd)
{
	struct vuf_mem mem = {
		.nregions = 1,
		.regions[0] = { .iova = 0, .size = MEM_SIZE, .fd = memfd },
	};
	struct vuf_vring vr[VUF_MAX_QUEUES];
	unsigned int i;
	int ret;

	memset(vr, 0, sizeof(vr));
	for (i = 0; i < n; i++) {
		ring_init(&r[i], r[i].mem, i);
		ring_vring(&r[i], &vr[i]);
	}
	ret = vuf_start(f, 1ULL << VIRTIO_F_VERSION_1,
			VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK,
			&mem, vr, n);
	if (ret)
		fprintf(stderr, "vuf_start: %d: %s\n", ret, f->err);
	return ret;
}

static int memfd_open(uint8_t **mem)
{
	int fd = memfd_create("vla-test-mem", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, MEM_SIZE)) {
		close(fd);
		return -errno;
	}
	*mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*mem == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Post a 64-byte writable buffer; the rng must fill it. */
static int rng_round(struct tring *r, unsigned int round)
{
	uint64_t iova = BUF_BASE + round * 0x1000ULL;
	struct tbuf b = { .iova = iova, .len = 64, .writable = true };
	uint32_t id, len, i, nonzero = 0;
	uint16_t head;
	int ret;

	memset(r->mem + iova, 0, 64);
	head = ring_post(r, &b, 1);
	ret = ring_wait(r, &id, &len);
	if (ret)
		return ret;
	if (id != head || len == 0 || len > 64) {
		fprintf(stderr, "round %u: used id %u len %u, expected id %u len 1..64\n",
			round, id, len, head);
		return -EPROTO;
	}
	for (i = 0; i < len; i++)
		nonzero += r->mem[iova + i] != 0;
	if (!nonzero) {
		fprintf(stderr, "round %u: %u bytes written, all zero\n",
			round, len);
		return -EPROTO;
	}
	return 0;
}

/*
 * Handshake, start, a request, stop, start again, a request, stop.
 * @wanted: protocol features to negotiate (to cover both stop paths).
 */
static int test_rng(const char *rng, uint64_t wanted)
{
	char *argv[] = { (char *)rng, "--socket-path", NULL, NULL };
	struct tring r = { .kick = -1, .call = -1 };
	struct backend b;
	struct vuf f;
	uint8_t *mem = NULL;
	int fds, memfd = -1, ret, round;

	fds = t_count_fds();
	ret = backend_mkdir(&b);
	if (ret)
		return T_EXIT_FAIL;
	argv[2] = b.sock;
	ret = backend_start(&b, argv, &f);
	if (ret)
		goto out;
	f.protocol_wanted = wanted;

	ret = vuf_negotiate(&f);
	if (ret) {
		fprintf(stderr, "vuf_negotiate: %d: %s\n", ret, f.err);
		goto out;
	}
	if (!(f.features & (1ULL << VIRTIO_F_VERSION_1))) {
		fprintf(stderr, "rng offers 0x%llx: no VIRTIO_F_VERSION_1\n",
			(unsigned long long)f.features);
		ret = -EPROTO;
		goto out;
	}
	if (f.queue_num && f.queue_num != 1) {
		fprintf(stderr, "rng reports %u queues\n", f.queue_num);
		ret = -EPROTO;
		goto out;
	}

	memfd = memfd_open(&mem);
	if (memfd < 0) {
		ret = memfd;
		goto out;
	}
	ret = rings_open(&r, 1, mem);
	if (ret)
		goto out;

	for (round = 0; round < 3; round++) {
		ret = start_rings(&f, &r, 1, memfd);
		if (ret)
			goto out;
		ret = rng_round(&r, round * 2);
		if (!ret)
			ret = rng_round(&r, round * 2 + 1);
		if (ret)
			goto out;
		ret = vuf_stop(&f);
		if (ret) {
			fprintf(stderr, "vuf_stop: %d: %s\n", ret, f.err);
			goto out;
		}
	}
	/* Stopping twice is harmless. */
	ret = vuf_stop(&f);

out:
	vuf_close(&f);
	rings_close(&r, 1);
	if (mem)
		munmap(mem, MEM_SIZE);
	if (memfd >= 0)
		close(memfd);
	backend_stop(&b);
	if (!ret && t_count_fds() != fds) {
		fprintf(stderr, "fd leak: %d fds before, %d after\n", fds,
			t_count_fds());
		ret = -EMFILE;
	}
	if (ret)
		fprintf(stderr, "%s(protocol 0x%llx) failed: %s\n", __func__,
			(unsigned long long)wanted, strerror(-ret));
	return ret ? T_EXIT_FAIL : T_EXIT_PASS;
}

/* One virtio-blk request: header, data, status. Returns the status. */
static int blk_request(struct tring *r, uint32_t type, uint64_t sector,
		       uint64_t data, uint32_t len)
{
	uint64_t hdr_iova = BUF_BASE, status_iova = BUF_BASE + 0x100;
	struct virtio_blk_outhdr *hdr =
		(struct virtio_blk_outhdr *)(r->mem + hdr_iova);
	struct tbuf b[3] = {
		{ .iova = hdr_iova, .len = sizeof(*hdr), .writable = false },
		{ .iova = data, .len = len, .writable = type == VIRTIO_BLK_T_IN },
		{ .iova = status_iova, .len = 1, .writable = true },
	};
	uint32_t id, used_len;
	uint16_t head;
	int ret;

	hdr->type = type;
	hdr->ioprio = 0;
	hdr->sector = sector;
	r->mem[status_iova] = 0xff;
	head = ring_post(r, b, 3);
	ret = ring_wait(r, &id, &used_len);
	if (ret)
		return ret;
	if (id != head) {
		fprintf(stderr, "blk: used id %u, expected %u\n", id, head);
		return -EPROTO;
	}
	return r->mem[status_iova];
}

/* qemu-storage-daemon's vhost-user-blk: config, read, write, restart. */
static int test_qsd_blk(const char *qsd)
{
	char blockdev[256], export[256];
	char *argv[] = { (char *)qsd, "--blockdev", blockdev, "--export",
			 export, NULL };
	struct tring r = { .kick = -1, .call = -1 };
	struct vla_device_type type;
	struct virtio_blk_config cfg;
	uint8_t *mem = NULL, pattern[4096], back[512];
	uint32_t size, got = 0;
	struct backend b;
	struct vuf f;
	int fds, memfd = -1, imgfd = -1, ret, round, i;

	fds = t_count_fds();
	ret = backend_mkdir(&b);
	if (ret)
		return T_EXIT_FAIL;
	vuf_init(&f, 2000);
	snprintf(b.img, sizeof(b.img), "%s/img", b.dir);
	imgfd = open(b.img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	for (i = 0; i < (int)sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	if (imgfd < 0 || ftruncate(imgfd, MEM_SIZE) ||
	    pwrite(imgfd, pattern, sizeof(pattern), 0) != sizeof(pattern)) {
		ret = -errno;
		goto out;
	}
	snprintf(blockdev, sizeof(blockdev),
		 "driver=file,node-name=f,filename=%s", b.img);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,writable=on",
		 b.sock);
	ret = backend_start(&b, argv, &f);
	if (ret)
		goto out;

	ret = vuf_negotiate(&f);
	if (ret) {
		fprintf(stderr, "vuf_negotiate: %d: %s\n", ret, f.err);
		goto out;
	}
	ret = vla_device_type_parse("blk", &type);
	if (ret)
		goto out;
	size = vla_device_type_config_size(&type, f.features);
	memset(&cfg, 0, sizeof(cfg));
	ret = vuf_get_config(&f, (uint8_t *)&cfg, size, true, &got);
	if (ret) {
		fprintf(stderr, "vuf_get_config(%u): %d: %s\n", size, ret, f.err);
		goto out;
	}
	if (cfg.capacity != MEM_SIZE / 512) {
		fprintf(stderr, "blk capacity %llu sectors, expected %u\n",
			(unsigned long long)cfg.capacity, MEM_SIZE / 512);
		ret = -EPROTO;
		goto out;
	}

	memfd = memfd_open(&mem);
	if (memfd < 0) {
		ret = memfd;
		goto out;
	}
	ret = rings_open(&r, 1, mem);
	if (ret)
		goto out;

	for (round = 0; round < 2; round++) {
		uint64_t data = BUF_BASE + 0x1000;

		ret = start_rings(&f, &r, 1, memfd);
		if (ret)
			goto out;
		memset(mem + data, 0, 512);
		ret = blk_request(&r, VIRTIO_BLK_T_IN, round, data, 512);
		if (ret) {
			fprintf(stderr, "blk read: status %d\n", ret);
			ret = -EIO;
			goto out;
		}
		if (memcmp(mem + data, pattern + round * 512, 512)) {
			fprintf(stderr, "blk read of sector %d: wrong data\n",
				round);
			ret = -EIO;
			goto out;
		}
		memset(mem + data, 0xa5 + round, 512);
		ret = blk_request(&r, VIRTIO_BLK_T_OUT, 64 + round, data, 512);
		if (ret) {
			fprintf(stderr, "blk write: status %d\n", ret);
			ret = -EIO;
			goto out;
		}
		if (pread(imgfd, back, 512, (64 + round) * 512) != 512 ||
		    memcmp(back, mem + data, 512)) {
			fprintf(stderr, "blk write of sector %d: not in the image\n",
				64 + round);
			ret = -EIO;
			goto out;
		}
		ret = vuf_stop(&f);
		if (ret) {
			fprintf(stderr, "vuf_stop: %d: %s\n", ret, f.err);
			goto out;
		}
	}

out:
	vuf_close(&f);
	rings_close(&r, 1);
	if (mem)
		munmap(mem, MEM_SIZE);
	if (memfd >= 0)
		close(memfd);
	if (imgfd >= 0)
		close(imgfd);
	backend_stop(&b);
	if (!ret && t_count_fds() != fds) {
		fprintf(stderr, "fd leak: %d fds before, %d after\n", fds,
			t_count_fds());
		ret = -EMFILE;
	}
	if (ret)
		fprintf(stderr, "%s failed: %s\n", __func__, strerror(-ret));
	return ret ? T_EXIT_FAIL : T_EXIT_PASS;
}

int main(int argc, char **argv)
{
	char rng[PATH_MAX], qsd[PATH_MAX];
	bool ran = false;

	signal(SIGPIPE, SIG_IGN);
	/* VLA_TEST_VERBOSE=1: show every vhost-user message. */
	vlb_log_init("test_adapter_frontend",
		     getenv("VLA_TEST_VERBOSE") ? VLB_DBG_ALL : 0);

	if (find_rng(argc, argv, rng, sizeof(rng))) {
		if (test_rng(rng, VUF_PROTOCOL_FEATURES) != T_EXIT_PASS)
			return T_EXIT_FAIL;
		/* No REPLY_ACK, no RESET_DEVICE: GET_VRING_BASE stops. */
		if (test_rng(rng, VUF_PROTOCOL_FEATURES &
			     ~((1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			       (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE))) !=
		    T_EXIT_PASS)
			return T_EXIT_FAIL;
		ran = true;
	} else {
		fprintf(stderr, "vhost-user-rng not found: rng cases skipped\n");
	}

	if (find_in_path("qemu-storage-daemon", qsd, sizeof(qsd))) {
		if (test_qsd_blk(qsd) != T_EXIT_PASS)
			return T_EXIT_FAIL;
		ran = true;
	} else {
		fprintf(stderr, "qemu-storage-daemon not found: blk case skipped\n");
	}
	return ran ? T_EXIT_PASS : T_EXIT_SKIP;
}
