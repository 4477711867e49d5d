// SPDX-License-Identifier: GPL-2.0
/*
 * vl-uapi-test: exercises the virtio-loopback uapi directly (no adapter)
 * and asserts exact failures. Runs as root inside the lab guest with the
 * module loaded (modprobe virtio_loopback).
 *
 *   vl-uapi-test api               version, unknown ioctls, use before CREATE
 *   vl-uapi-test create-invalid    every invalid CREATE field -> errno, no device
 *   vl-uapi-test session           second CREATE, garbage replies, short reads,
 *                                  SET_CONFIG/GET_VQ_INFO checks, removal on close
 *   vl-uapi-test memfd             GET_MEM_FD: size, mmap inside/outside
 *   vl-uapi-test regions           GET_MEM_REGION in both memory modes: the
 *                                  layout, bad arguments, no fd leaked, the
 *                                  windows unreachable with nothing in flight
 *   vl-uapi-test timeout           rng device, DRIVER_OK never answered ->
 *                                  broken (EIO, EPOLLERR), not hung
 *   vl-uapi-test rng               in-process rng back-end: /dev/hwrng reads
 *                                  through the rings, then close mid-request
 *   vl-uapi-test close-order       an rng device closed while another is
 *                                  owned and not served: close() is bounded,
 *                                  both go once the other is closed
 *   vl-uapi-test config            in-process blk back-end: SET_CONFIG with
 *                                  NOTIFY resizes the disk, a driver config
 *                                  write (cache_type) arrives as an event
 *   vl-uapi-test zero-copy         in-process blk back-end on a zero-copy
 *                                  device: O_DIRECT from shared memory is
 *                                  seen in place, read-only buffers refuse
 *                                  writes, completed buffers are unreachable
 *   vl-uapi-test attach            ATTACH: garbage, wrong order, wrong device,
 *                                  owned/non-persistent devices, two racing
 *                                  attachers, removal after the timeout
 *   vl-uapi-test many N            N devices from N forked processes at once
 *   vl-uapi-test leak ROUNDS N     ROUNDS x many N; slab and vmalloc back
 *   vl-uapi-test all               all of the above (many 64, leak 5 64)
 *
 * One line per check ("ok ..." or "FAIL ..."). Exit 0 pass, 1 fail, 4 skip.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <uapi/linux/virtio_loopback.h>

#include "vl_lab_util.h"

#ifdef __has_include
#if __has_include("../helpers.h")
#include "../helpers.h"
#endif
#endif
#ifndef T_EXIT_PASS
#define T_EXIT_PASS	0
#define T_EXIT_FAIL	1
#define T_EXIT_SKIP	4
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define PARAM_TIMEOUT	"/sys/module/virtio_loopback/parameters/msg_timeout_ms"
#define MOD_REFCNT	"/sys/module/virtio_loopback/refcnt"
#define F_VERSION_1	(1ULL << 32)
#define F_ACCESS_PLATFORM (1ULL << 33)
/* A device id no driver binds to: devices stay quiet. */
#define ID_NO_DRIVER	0x7ffe
#define MAX_TQ		4

static int failures;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

/* Wait (bounded) until the device count is @want. */
static bool wait_devices(int want, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	while (count_devices() != want) {
		if (now_ms() > end)
			return false;
		usleep(20000);
	}
	return true;
}

static long long dev_attr(unsigned int id, const char *attr)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), CLASS_DIR "/vl%u/%s", id, attr);
	if (read_sysfs(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 0);
}

/* A CREATE request with its queues and eventfds. */
struct tdev {
	struct virtio_loopback_create c;
	struct virtio_loopback_queue_info q[MAX_TQ];
	unsigned char config[VIRTIO_LOOPBACK_MAX_CONFIG_SIZE];
	int own_fds[2 * MAX_TQ];
	int fd;
};

static void tdev_init(struct tdev *t, unsigned int device_id, unsigned int nq)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->c.size = sizeof(t->c);
	t->c.device_id = device_id;
	t->c.num_queues = nq;
	t->c.device_features = F_VERSION_1;
	t->c.queues = (uintptr_t)t->q;
	t->c.config = (uintptr_t)t->config;
	t->c.config_size = 8;
	t->c.mem_mode = VIRTIO_LOOPBACK_MEM_ISOLATED;
	t->c.mem_size = 1 << 20;
	for (i = 0; i < MAX_TQ; i++) {
		t->q[i].max_size = 64;
		t->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		t->q[i].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		t->own_fds[2 * i] = t->q[i].kick_fd;
		t->own_fds[2 * i + 1] = t->q[i].call_fd;
	}
}

static void tdev_fini(struct tdev *t)
{
	unsigned int i;

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	/* Only ours: a test case may point a queue at stdin or stdout. */
	for (i = 0; i < 2 * MAX_TQ; i++)
		close(t->own_fds[i]);
}

/* Open a session and CREATE; 0 or -errno. The session stays in t->fd. */
static int tdev_create(struct tdev *t)
{
	t->fd = open(CTL, O_RDWR | O_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	if (ioctl(t->fd, VIRTIO_LOOPBACK_CREATE, &t->c) < 0)
		return -errno;
	return 0;
}

/* ------------------------------------------------------------------ */

static int test_api(void)
{
	struct virtio_loopback_vq_info vi = { 0 };
	struct virtio_loopback_reply r = { 0 };
	struct virtio_loopback_event ev;
	struct pollfd p;
	__u64 ver = 0;
	int fd, ret;

	fd = open(CTL, O_RDWR | O_CLOEXEC);
	check(fd >= 0, "api: open " CTL " (%s)", fd < 0 ? strerror(errno) : "");
	if (fd < 0)
		return 1;
	ret = ioctl(fd, VIRTIO_LOOPBACK_GET_API_VERSION, &ver);
	check(!ret && ver == VIRTIO_LOOPBACK_API_VERSION, "api: version %llu",
	      (unsigned long long)ver);
	ret = ioctl(fd, _IO(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x7f));
	check(ret < 0 && errno == ENOTTY, "api: unknown ioctl -> ENOTTY");
	ret = ioctl(fd, _IO('T', 0x01));
	check(ret < 0 && errno == ENOTTY, "api: foreign ioctl -> ENOTTY");
	ret = ioctl(fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &vi);
	check(ret < 0 && errno == ENODEV, "api: GET_VQ_INFO before CREATE -> ENODEV");
	ret = ioctl(fd, VIRTIO_LOOPBACK_GET_MEM_FD);
	check(ret < 0 && errno == ENODEV, "api: GET_MEM_FD before CREATE -> ENODEV");
	ret = read(fd, &ev, sizeof(ev));
	check(ret < 0 && errno == ENODEV, "api: read before CREATE -> ENODEV");
	ret = write(fd, &r, sizeof(r));
	check(ret < 0 && errno == ENODEV, "api: write before CREATE -> ENODEV");
	p.fd = fd;
	p.events = POLLIN;
	ret = poll(&p, 1, 0);
	check(ret == 1 && (p.revents & POLLERR), "api: poll before CREATE -> POLLERR");
	close(fd);
	return 0;
}

struct bad_case {
	const char *name;
	int err;
	void (*apply)(struct tdev *t);
};

#define BAD(n, e, body) \
	static void bad_##n(struct tdev *t) { body; }
BAD(device_id, EINVAL, t->c.device_id = 0)
BAD(nq0, EINVAL, t->c.num_queues = 0)
BAD(nq_max, EINVAL, t->c.num_queues = VIRTIO_LOOPBACK_MAX_QUEUES + 1)
BAD(qsize0, EINVAL, t->q[0].max_size = 0)
BAD(qsize3, EINVAL, t->q[0].max_size = 3)
BAD(qsize_odd, EINVAL, t->q[1].max_size = 65535)
BAD(qres0, EINVAL, t->q[0].reserved0 = 1)
BAD(qres1, EINVAL, t->q[1].reserved1 = 1)
BAD(config_size, EINVAL, t->c.config_size = VIRTIO_LOOPBACK_MAX_CONFIG_SIZE + 1)
BAD(mem_align, EINVAL, t->c.mem_size = (1 << 20) + 1)
BAD(mem_small, EINVAL, t->c.mem_size = VIRTIO_LOOPBACK_MIN_MEM_SIZE / 2)
BAD(mem_big, EINVAL, t->c.mem_size = VIRTIO_LOOPBACK_MAX_MEM_SIZE * 2)
BAD(mode_bad, EINVAL, t->c.mem_mode = 7)
BAD(flags, EINVAL, t->c.flags = 1U << 31)
BAD(reserved, EINVAL, t->c.reserved[2] = 1)
BAD(reserved0, EINVAL, t->c.reserved0 = 1)
BAD(ptimeout_noflag, EINVAL, t->c.persist_timeout_ms = 1000)
BAD(ptimeout_max, EINVAL, t->c.flags = VIRTIO_LOOPBACK_CREATE_F_PERSIST;
    t->c.persist_timeout_ms = VIRTIO_LOOPBACK_MAX_PERSIST_TIMEOUT_MS + 1)
BAD(no_v1, EINVAL, t->c.device_features = 0)
BAD(kick_neg, EINVAL, t->q[0].kick_fd = -1)
BAD(kick_closed, EBADF, t->q[1].kick_fd = 999)
BAD(kick_notev, EINVAL, t->q[1].kick_fd = 0)
BAD(call_closed, EBADF, t->q[1].call_fd = 998)
BAD(call_notev, EINVAL, t->q[0].call_fd = 1)
BAD(size_small, EINVAL, t->c.size = 8)
BAD(size_huge, E2BIG, t->c.size = 1 << 20)
BAD(queues_ptr, EFAULT, t->c.queues = 8)
BAD(config_ptr, EFAULT, t->c.config = 8)

static int test_create_invalid(void)
{
	static const struct bad_case cases[] = {
		{ "device_id 0", EINVAL, bad_device_id },
		{ "num_queues 0", EINVAL, bad_nq0 },
		{ "num_queues > MAX", EINVAL, bad_nq_max },
		{ "max_size 0", EINVAL, bad_qsize0 },
		{ "max_size 3", EINVAL, bad_qsize3 },
		{ "max_size 65535", EINVAL, bad_qsize_odd },
		{ "queue reserved0", EINVAL, bad_qres0 },
		{ "queue reserved1", EINVAL, bad_qres1 },
		{ "config_size > MAX", EINVAL, bad_config_size },
		{ "mem_size unaligned", EINVAL, bad_mem_align },
		{ "mem_size < MIN", EINVAL, bad_mem_small },
		{ "mem_size > MAX", EINVAL, bad_mem_big },
		{ "mem_mode 7", EINVAL, bad_mode_bad },
		{ "flags", EINVAL, bad_flags },
		{ "reserved", EINVAL, bad_reserved },
		{ "reserved0", EINVAL, bad_reserved0 },
		{ "persist_timeout_ms without PERSIST", EINVAL, bad_ptimeout_noflag },
		{ "persist_timeout_ms > MAX", EINVAL, bad_ptimeout_max },
		{ "no VERSION_1", EINVAL, bad_no_v1 },
		{ "kick_fd -1", EINVAL, bad_kick_neg },
		{ "kick_fd closed", EBADF, bad_kick_closed },
		{ "kick_fd not eventfd", EINVAL, bad_kick_notev },
		{ "call_fd closed", EBADF, bad_call_closed },
		{ "call_fd not eventfd", EINVAL, bad_call_notev },
		{ "size 8", EINVAL, bad_size_small },
		{ "size > PAGE_SIZE", E2BIG, bad_size_huge },
		{ "queues pointer", EFAULT, bad_queues_ptr },
		{ "config pointer", EFAULT, bad_config_ptr },
	};
	struct {
		struct virtio_loopback_create c;
		__u64 extra[4];
	} big;
	int base = count_devices();
	struct tdev t;
	unsigned int i;
	int ret;

	check(base >= 0, "create-invalid: " CLASS_DIR " exists");
	if (base < 0)
		return 1;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		tdev_init(&t, ID_NO_DRIVER, 2);
		cases[i].apply(&t);
		ret = tdev_create(&t);
		check(ret == -cases[i].err && count_devices() == base,
		      "create-invalid: %s -> %s (got %s, devices %d)", cases[i].name,
		      strerror(cases[i].err), strerror(-ret), count_devices());
		/* The session is still usable: a valid CREATE succeeds. */
		if (i == 0) {
			struct tdev ok;

			tdev_init(&ok, ID_NO_DRIVER, 2);
			ok.fd = t.fd;
			t.fd = -1;
			ret = ioctl(ok.fd, VIRTIO_LOOPBACK_CREATE, &ok.c) ? -errno : 0;
			check(!ret && count_devices() == base + 1,
			      "create-invalid: valid CREATE after a failed one (%s)",
			      strerror(-ret));
			tdev_fini(&ok);
			check(wait_devices(base, 10000), "create-invalid: removed on close");
		}
		tdev_fini(&t);
	}

	/* A larger struct with a zero tail is accepted; a non-zero one is not. */
	tdev_init(&t, ID_NO_DRIVER, 1);
	memset(&big, 0, sizeof(big));
	big.c = t.c;
	big.c.size = sizeof(big);
	big.extra[3] = 1;
	t.fd = open(CTL, O_RDWR | O_CLOEXEC);
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_CREATE, &big) ? -errno : 0;
	check(ret == -E2BIG && count_devices() == base,
	      "create-invalid: larger struct, non-zero tail -> E2BIG (%s)", strerror(-ret));
	big.extra[3] = 0;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_CREATE, &big) ? -errno : 0;
	check(!ret && count_devices() == base + 1,
	      "create-invalid: larger struct, zero tail accepted (%s)", strerror(-ret));
	tdev_fini(&t);
	check(wait_devices(base, 10000), "create-invalid: back to %d devices", base);
	return 0;
}

static int test_session(void)
{
	struct virtio_loopback_vq_info vi;
	struct virtio_loopback_config cfg;
	struct virtio_loopback_reply r;
	struct virtio_loopback_event ev;
	unsigned char data[64] = { 1, 2, 3, 4 };
	int base = count_devices();
	struct tdev t, t2;
	char path[256], buf[64];
	struct pollfd p;
	int ret, fl;

	tdev_init(&t, ID_NO_DRIVER, 2);
	t.q[1].max_size = 256;
	t.c.vendor_id = 0x1af4;
	ret = tdev_create(&t);
	check(!ret, "session: CREATE (%s)", strerror(-ret));
	if (ret)
		return 1;
	check(count_devices() == base + 1, "session: vl%u visible", t.c.id);
	check(dev_attr(t.c.id, "device_id") == ID_NO_DRIVER, "session: sysfs device_id");
	check(dev_attr(t.c.id, "vendor_id") == 0x1af4, "session: sysfs vendor_id");
	check(dev_attr(t.c.id, "owner_pid") == getpid(), "session: sysfs owner_pid");
	check(dev_attr(t.c.id, "mem_size") == 1 << 20, "session: sysfs mem_size");
	check(dev_attr(t.c.id, "broken") == 0, "session: sysfs broken 0");
	check(dev_attr(t.c.id, "queues/1/max_size") == 256, "session: queues/1/max_size");
	check(dev_attr(t.c.id, "queues/0/kicks") == 0, "session: queues/0/kicks");
	snprintf(path, sizeof(path), CLASS_DIR "/vl%u/mem_mode", t.c.id);
	check(!read_sysfs(path, buf, sizeof(buf)) && !strcmp(buf, "isolated"),
	      "session: sysfs mem_mode isolated");

	ret = ioctl(t.fd, VIRTIO_LOOPBACK_CREATE, &t.c) ? -errno : 0;
	check(ret == -EBUSY && count_devices() == base + 1, "session: second CREATE -> EBUSY");
	/* Another process-local session can create its own. */
	tdev_init(&t2, ID_NO_DRIVER, 1);
	ret = tdev_create(&t2);
	check(!ret && t2.c.id != t.c.id && count_devices() == base + 2,
	      "session: second session gets vl%u", t2.c.id);
	tdev_fini(&t2);

	ret = read(t.fd, &ev, sizeof(ev) - 1);
	check(ret < 0 && errno == EINVAL, "session: short read -> EINVAL");
	fl = fcntl(t.fd, F_GETFL);
	fcntl(t.fd, F_SETFL, fl | O_NONBLOCK);
	ret = read(t.fd, &ev, sizeof(ev));
	check(ret < 0 && errno == EAGAIN, "session: O_NONBLOCK read, no event -> EAGAIN");
	fcntl(t.fd, F_SETFL, fl);
	p.fd = t.fd;
	p.events = POLLIN | POLLOUT;
	ret = poll(&p, 1, 0);
	check(ret == 1 && !(p.revents & (POLLIN | POLLERR)), "session: poll, nothing to read");

	memset(&r, 0, sizeof(r));
	ret = write(t.fd, &r, 4);
	check(ret < 0 && errno == EINVAL, "session: short reply -> EINVAL");
	ret = write(t.fd, data, sizeof(r) + 1);
	check(ret < 0 && errno == EINVAL, "session: long reply -> EINVAL");
	r.seq = 12345;
	ret = write(t.fd, &r, sizeof(r));
	check(ret < 0 && errno == ENOENT, "session: reply to unknown seq -> ENOENT");
	r.reserved[1] = 1;
	ret = write(t.fd, &r, sizeof(r));
	check(ret < 0 && errno == EINVAL, "session: reply reserved -> EINVAL");
	r.reserved[1] = 0;
	r.result = 5;
	ret = write(t.fd, &r, sizeof(r));
	check(ret < 0 && errno == EINVAL, "session: positive result -> EINVAL");
	ret = write(t.fd, "this is not a reply at all", 24);
	check(ret < 0 && errno == EINVAL, "session: garbage write -> EINVAL");

	ret = ioctl(t.fd, _IOWR(VIRTIO_LOOPBACK_IOCTL_MAGIC, 0x1f, __u64), &r);
	check(ret < 0 && errno == ENOTTY, "session: unknown device ioctl -> ENOTTY");
	memset(&vi, 0, sizeof(vi));
	vi.index = 2;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &vi);
	check(ret < 0 && errno == EINVAL, "session: GET_VQ_INFO index 2 of 2 -> EINVAL");
	vi.index = 0xffffffff;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &vi);
	check(ret < 0 && errno == EINVAL, "session: GET_VQ_INFO index ~0 -> EINVAL");
	vi.index = 1;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &vi);
	check(!ret && !vi.ready && !vi.desc, "session: GET_VQ_INFO, no driver -> not ready");

	memset(&cfg, 0, sizeof(cfg));
	cfg.offset = 4;
	cfg.len = 4;
	cfg.data = (uintptr_t)data;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg);
	check(!ret, "session: SET_CONFIG 4+4 of 8 (%s)", ret ? strerror(errno) : "");
	cfg.len = 5;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg);
	check(ret < 0 && errno == EINVAL, "session: SET_CONFIG 4+5 of 8 -> EINVAL");
	cfg.offset = 0xfffffffc;
	cfg.len = 8;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg);
	check(ret < 0 && errno == EINVAL, "session: SET_CONFIG offset overflow -> EINVAL");
	cfg.offset = 0;
	cfg.len = 4;
	cfg.flags = 2;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg);
	check(ret < 0 && errno == EINVAL, "session: SET_CONFIG unknown flag -> EINVAL");
	cfg.flags = VIRTIO_LOOPBACK_CONFIG_F_NOTIFY;
	cfg.reserved0 = 1;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg);
	check(ret < 0 && errno == EINVAL, "session: SET_CONFIG reserved -> EINVAL");
	cfg.reserved0 = 0;
	cfg.data = 8;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg);
	check(ret < 0 && errno == EFAULT, "session: SET_CONFIG bad pointer -> EFAULT");

	tdev_fini(&t);
	check(wait_devices(base, 10000), "session: device removed on close");
	return 0;
}

static int test_memfd(void)
{
	const size_t size = 2 << 20;
	long page = sysconf(_SC_PAGESIZE);
	int base = count_devices();
	struct tdev t;
	void *p;
	int mfd, ret;
	off_t end;

	tdev_init(&t, ID_NO_DRIVER, 1);
	t.c.mem_size = size;
	ret = tdev_create(&t);
	check(!ret, "memfd: CREATE (%s)", strerror(-ret));
	if (ret)
		return 1;
	mfd = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_FD);
	check(mfd >= 0, "memfd: GET_MEM_FD (%s)", mfd < 0 ? strerror(errno) : "");
	if (mfd < 0) {
		tdev_fini(&t);
		return 1;
	}
	check(fcntl(mfd, F_GETFD) & FD_CLOEXEC, "memfd: O_CLOEXEC");
	end = lseek(mfd, 0, SEEK_END);
	check(end == (off_t)size, "memfd: lseek SEEK_END = %lld", (long long)end);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	check(p != MAP_FAILED, "memfd: mmap whole region");
	if (p != MAP_FAILED) {
		/* Touch first and last page (IOVA page 0 is never handed out). */
		__atomic_store_n((char *)p, 1, __ATOMIC_RELAXED);
		__atomic_store_n((char *)p + size - 1, 1, __ATOMIC_RELAXED);
		munmap(p, size);
	}
	p = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	check(p == MAP_FAILED, "memfd: mmap past the end fails");
	if (p != MAP_FAILED)
		munmap(p, size + page);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, size);
	check(p == MAP_FAILED, "memfd: mmap at offset = size fails");
	if (p != MAP_FAILED)
		munmap(p, page);
	/* The region file outlives the session without keeping the device. */
	tdev_fini(&t);
	check(wait_devices(base, 10000), "memfd: device removed with the mem fd still open");
	close(mfd);
	return 0;
}

/* Open file descriptors of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Whether [@p, @p + @len) can be read: write() it to a pipe (EFAULT if not). */
static bool readable(const void *p, size_t len)
{
	int pfd[2];
	ssize_t n;

	if (pipe(pfd))
		return false;
	n = write(pfd[1], p, len);
	close(pfd[0]);
	close(pfd[1]);
	return n == (ssize_t)len;
}

static void test_regions_mode(uint32_t mode, const char *name)
{
	static const struct {
		uint64_t iova_pages;	/* in units of the bounce size */
		uint32_t flags;
	} want[] = {
		{ 0, 0 },
		{ 1, VIRTIO_LOOPBACK_MEM_REGION_F_IN_FLIGHT },
		{ 2, VIRTIO_LOOPBACK_MEM_REGION_F_IN_FLIGHT |
		     VIRTIO_LOOPBACK_MEM_REGION_F_READ_ONLY },
	};
	unsigned int n = mode == VIRTIO_LOOPBACK_MEM_ZERO_COPY ? 3 : 1, i;
	const size_t size = 2 << 20;
	struct virtio_loopback_mem_region r;
	int base = count_devices(), fds;
	struct tdev t;
	off_t end;
	void *p;
	int ret;

	tdev_init(&t, ID_NO_DRIVER, 1);
	t.c.mem_size = size;
	t.c.mem_mode = mode;
	ret = tdev_create(&t);
	check(!ret, "regions %s: CREATE (%s)", name, strerror(-ret));
	if (ret)
		return;
	for (i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		r.index = i;
		ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, &r);
		check(!ret, "regions %s: region %u (%s)", name, i,
		      ret ? strerror(errno) : "");
		if (ret)
			continue;
		check(r.iova == want[i].iova_pages * size && r.size == size &&
		      r.flags == want[i].flags,
		      "regions %s: region %u iova 0x%llx size 0x%llx flags 0x%x",
		      name, i, (unsigned long long)r.iova,
		      (unsigned long long)r.size, r.flags);
		end = lseek(r.fd, 0, SEEK_END);
		check(end == (off_t)size, "regions %s: region %u lseek SEEK_END", name, i);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
		check(p != MAP_FAILED, "regions %s: region %u mmap", name, i);
		if (p != MAP_FAILED) {
			/* A window shows nothing while nothing is in flight. */
			check(readable((char *)p + size - 4096, 4096) == (i == 0),
			      "regions %s: region %u last page %sreadable", name, i,
			      i == 0 ? "" : "not ");
			munmap(p, size);
		}
		close(r.fd);
	}
	memset(&r, 0, sizeof(r));
	r.index = n;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, &r);
	check(ret < 0 && errno == ENOENT, "regions %s: index %u -> ENOENT", name, n);

	fds = count_fds();
	memset(&r, 0, sizeof(r));
	r.flags = 1;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, &r);
	check(ret < 0 && errno == EINVAL, "regions %s: flags in -> EINVAL", name);
	memset(&r, 0, sizeof(r));
	r.reserved = 1;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, &r);
	check(ret < 0 && errno == EINVAL, "regions %s: reserved -> EINVAL", name);
	memset(&r, 0, sizeof(r));
	r.index = ~0U;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, &r);
	check(ret < 0 && errno == ENOENT, "regions %s: index ~0 -> ENOENT", name);
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, (void *)8);
	check(ret < 0 && errno == EFAULT, "regions %s: bad pointer -> EFAULT", name);
	/* Read-only memory: the answer cannot be written, no fd may leak. */
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, p);
		check(ret < 0 && errno == EFAULT, "regions %s: read-only answer -> EFAULT", name);
		munmap(p, 4096);
	}
	check(count_fds() == fds, "regions %s: no fd leaked by failed calls", name);

	tdev_fini(&t);
	check(wait_devices(base, 10000), "regions %s: device removed", name);
}

static int test_regions(void)
{
	test_regions_mode(VIRTIO_LOOPBACK_MEM_ISOLATED, "isolated");
	test_regions_mode(VIRTIO_LOOPBACK_MEM_ZERO_COPY, "zero-copy");
	return 0;
}

/* Load virtio_rng so that an rng device gets a driver. */
static bool have_rng_driver(void)
{
	return system("modprobe virtio_rng >/dev/null 2>&1") == 0;
}

/* Read one event with a bound; 0 or -errno. */
static int read_event(int fd, struct virtio_loopback_event *ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret;

	ret = poll(&p, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	if (p.revents & POLLERR)
		return -EIO;
	ret = read(fd, ev, sizeof(*ev));
	if (ret < 0)
		return -errno;
	return ret == sizeof(*ev) ? 0 : -EPROTO;
}

static int test_timeout(void)
{
	int base = count_devices();
	struct virtio_loopback_event ev;
	struct virtio_loopback_vq_info vi = { 0 };
	struct virtio_loopback_reply r = { 0 };
	char old[32] = "10000";
	struct pollfd p;
	struct tdev t;
	long start;
	int ret;

	if (!have_rng_driver()) {
		printf("skip timeout: no virtio_rng driver\n");
		return 0;
	}
	read_sysfs(PARAM_TIMEOUT, old, sizeof(old));
	check(!write_sysfs(PARAM_TIMEOUT, "0"), "timeout: msg_timeout_ms=0 accepted (clamped)");
	tdev_init(&t, VIRTIO_ID_RNG, 1);
	t.c.config_size = 0;
	ret = tdev_create(&t);
	check(!ret, "timeout: CREATE rng (%s)", strerror(-ret));
	if (ret)
		goto out;
	start = now_ms();
	ret = read_event(t.fd, &ev, 60000);
	check(!ret && ev.type == VIRTIO_LOOPBACK_EV_DRIVER_OK &&
	      (ev.flags & VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY),
	      "timeout: EV_DRIVER_OK needing a reply (%s, type %u)", strerror(-ret), ev.type);
	check(!ret && (ev.features & F_VERSION_1) && !(ev.features & F_ACCESS_PLATFORM),
	      "timeout: features 0x%llx: VERSION_1, no ACCESS_PLATFORM",
	      (unsigned long long)ev.features);
	check(!ret && (long long)ev.index == dev_attr(t.c.id, "virtio_index"),
	      "timeout: index %u = sysfs virtio_index", ev.index);
	/* No reply: the wait (clamped to 100 ms) must end and break the device. */
	p.fd = t.fd;
	p.events = POLLIN;
	ret = poll(&p, 1, 30000);
	check(ret == 1 && (p.revents & POLLERR), "timeout: POLLERR after %ld ms",
	      now_ms() - start);
	check(dev_attr(t.c.id, "broken") == 1, "timeout: sysfs broken 1");
	ret = read(t.fd, &ev, sizeof(ev));
	check(ret < 0 && errno == EIO, "timeout: read -> EIO");
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &vi);
	check(ret < 0 && errno == EIO, "timeout: GET_VQ_INFO -> EIO");
	r.seq = ev.seq;
	ret = write(t.fd, &r, sizeof(r));
	check(ret < 0 && errno == EIO, "timeout: late reply -> EIO");
	start = now_ms();
	tdev_fini(&t);
	check(wait_devices(base, 20000), "timeout: device removed on close (%ld ms)",
	      now_ms() - start);
out:
	write_sysfs(PARAM_TIMEOUT, old);
	return 0;
}

/*
 * A minimal rng back-end in this process: serve the request queue from the
 * mapped region, so /dev/hwrng data flows through the rings, kick and call
 * eventfds, and the bounce buffers.
 */
struct mini_rng {
	unsigned char *mem;
	size_t size;
	struct virtio_loopback_vq_info vi;
	uint16_t last_avail;
	int kick, call;
};

static void *iova(struct mini_rng *m, __u64 addr, size_t len)
{
	if (addr >= m->size || len > m->size - addr)
		return NULL;
	return m->mem + addr;
}

static int mini_rng_serve(struct mini_rng *m)
{
	struct vring_desc *desc = iova(m, m->vi.desc, 16 * m->vi.num);
	struct vring_avail *avail = iova(m, m->vi.avail, 4 + 2 * m->vi.num);
	struct vring_used *used = iova(m, m->vi.used, 4 + 8 * m->vi.num);
	int served = 0;

	if (!desc || !avail || !used)
		return -EFAULT;
	while (m->last_avail != __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE)) {
		uint16_t head = avail->ring[m->last_avail % m->vi.num];
		uint16_t uidx = used->idx;
		unsigned char *buf;
		uint32_t i;

		if (head >= m->vi.num)
			return -EINVAL;
		buf = iova(m, desc[head].addr, desc[head].len);
		if (!buf || !(desc[head].flags & VRING_DESC_F_WRITE))
			return -EINVAL;
		for (i = 0; i < desc[head].len; i++)
			buf[i] = rand();
		used->ring[uidx % m->vi.num].id = head;
		used->ring[uidx % m->vi.num].len = desc[head].len;
		__atomic_store_n(&used->idx, uidx + 1, __ATOMIC_RELEASE);
		m->last_avail++;
		served++;
	}
	if (served)
		eventfd_write(m->call, 1);
	return served;
}

/*
 * VIRTIO_LOOPBACK_UNPLUG: the virtio device goes while the session stays
 * (the sysfs device too), EV_UNPLUGGED names it; a second call is refused;
 * closing the session then removes the rest. A device id no driver takes,
 * so only the transport is exercised.
 */
static int test_unplug(void)
{
	int base = count_devices(), fd, ret;
	struct virtio_loopback_event ev;
	char path[256];
	struct tdev t;
	long index;

	fd = open(CTL, O_RDWR | O_CLOEXEC);
	ret = fd >= 0 ? ioctl(fd, VIRTIO_LOOPBACK_UNPLUG) : 0;
	check(fd >= 0 && ret < 0 && errno == ENODEV, "unplug: before CREATE -> ENODEV");
	if (fd >= 0)
		close(fd);

	tdev_init(&t, 0x7ffe, 1);
	ret = tdev_create(&t);
	check(!ret, "unplug: CREATE (%s)", strerror(-ret));
	if (ret)
		goto out;
	index = -1;
	for (long end = now_ms() + 20000; now_ms() < end && index < 0; usleep(20000))
		index = dev_attr(t.c.id, "virtio_index");
	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%ld", index);
	check(index >= 0 && !access(path, F_OK), "unplug: virtio%ld registered", index);
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_UNPLUG);
	check(!ret, "unplug: UNPLUG (%s)", ret ? strerror(errno) : "ok");
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_UNPLUG);
	check(ret < 0 && errno == EALREADY, "unplug: second UNPLUG -> EALREADY");
	do {
		ret = read_event(t.fd, &ev, 20000);
	} while (!ret && ev.type != VIRTIO_LOOPBACK_EV_UNPLUGGED);
	check(!ret && ev.index == index && !(ev.flags & VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY),
	      "unplug: EV_UNPLUGGED for virtio%u", ev.index);
	check(access(path, F_OK) && count_devices() == base + 1,
	      "unplug: virtio%ld gone, the session's device still there", index);
out:
	tdev_fini(&t);
	check(wait_devices(base, 20000), "unplug: device removed on close");
	return 0;
}

static int test_rng(void)
{
	int base = count_devices();
	struct virtio_loopback_event ev;
	struct virtio_loopback_reply r = { 0 };
	struct mini_rng m = { 0 };
	char cur[64], path[256];
	unsigned char buf[64];
	struct tdev t;
	pid_t child = -1;
	int ret, mfd, status = 0, served = 0;
	long end;

	if (!have_rng_driver()) {
		printf("skip rng: no virtio_rng driver\n");
		return 0;
	}
	tdev_init(&t, VIRTIO_ID_RNG, 1);
	t.c.config_size = 0;
	t.c.mem_size = 4 << 20;
	ret = tdev_create(&t);
	check(!ret, "rng: CREATE (%s)", strerror(-ret));
	if (ret)
		return 1;
	ret = read_event(t.fd, &ev, 60000);
	check(!ret && ev.type == VIRTIO_LOOPBACK_EV_DRIVER_OK, "rng: EV_DRIVER_OK (%s)",
	      strerror(-ret));
	if (ret)
		goto out;
	m.vi.index = 0;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &m.vi);
	check(!ret && m.vi.ready && m.vi.num && m.vi.num <= 64 &&
	      !(m.vi.num & (m.vi.num - 1)) && m.vi.desc && m.vi.avail && m.vi.used,
	      "rng: GET_VQ_INFO ready num %u desc 0x%llx avail 0x%llx used 0x%llx",
	      m.vi.num, (unsigned long long)m.vi.desc, (unsigned long long)m.vi.avail,
	      (unsigned long long)m.vi.used);
	mfd = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_FD);
	m.size = t.c.mem_size;
	m.mem = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	check(m.mem != MAP_FAILED, "rng: mmap region");
	if (m.mem == MAP_FAILED)
		goto out;
	m.kick = t.q[0].kick_fd;
	m.call = t.q[0].call_fd;
	r.seq = ev.seq;
	ret = write(t.fd, &r, sizeof(r));
	check(ret == sizeof(r), "rng: reply to DRIVER_OK");
	check(dev_attr(t.c.id, "status") & 4, "rng: status has DRIVER_OK");

	snprintf(path, sizeof(path), "/sys/class/misc/hw_random/rng_current");
	end = now_ms() + 20000;
	/* hwrng may take a moment to switch to the new device. */
	while (!read_sysfs(path, cur, sizeof(cur)) && !strstr(cur, "virtio") &&
	       now_ms() < end)
		usleep(50000);
	check(strstr(cur, "virtio") != NULL, "rng: rng_current %s", cur);

	child = fork();
	if (child == 0) {
		int fd;
		ssize_t n = 0, got;

		close(t.fd);
		fd = open("/dev/hwrng", O_RDONLY);

		while (fd >= 0 && n < 4096) {
			got = read(fd, buf, sizeof(buf));
			if (got <= 0)
				_exit(2);
			n += got;
		}
		_exit(fd < 0 ? 3 : 0);
	}
	end = now_ms() + 30000;
	while (now_ms() < end) {
		struct pollfd p = { .fd = m.kick, .events = POLLIN };
		uint64_t cnt;

		poll(&p, 1, 50);
		if (p.revents & POLLIN)
			eventfd_read(m.kick, &cnt);
		ret = mini_rng_serve(&m);
		if (ret < 0)
			break;
		served += ret;
		if (waitpid(child, &status, WNOHANG) == child)
			break;
	}
	check(ret >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "rng: 4 KiB from /dev/hwrng through the rings (%d requests)", served);
	check(dev_attr(t.c.id, "queues/0/kicks") > 0 &&
	      dev_attr(t.c.id, "queues/0/interrupts") > 0,
	      "rng: kicks %lld interrupts %lld", dev_attr(t.c.id, "queues/0/kicks"),
	      dev_attr(t.c.id, "queues/0/interrupts"));
	check(dev_attr(t.c.id, "bytes_bounced") > 0, "rng: bytes_bounced %lld",
	      dev_attr(t.c.id, "bytes_bounced"));

	/* Close with a reader waiting: its request completes, nothing hangs. */
	child = fork();
	if (child == 0) {
		int fd;

		close(t.fd);
		fd = open("/dev/hwrng", O_RDONLY);
		for (;;)
			if (read(fd, buf, sizeof(buf)) <= 0)
				_exit(0);
	}
	usleep(300000);
	munmap(m.mem, m.size);
out:
	tdev_fini(&t);
	check(wait_devices(base, 20000), "rng: device removed on close");
	if (child > 0) {
		/* Its request was completed; hwrng then has no device. */
		end = now_ms() + 10000;
		while (waitpid(child, &status, WNOHANG) != child && now_ms() < end)
			usleep(20000);
		check(now_ms() < end, "rng: blocked /dev/hwrng reader returned");
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	return 0;
}

/*
 * The order of closes must not matter. A first rng device is answered and
 * never served: on 6.1 the hwrng thread waits for it holding the hwrng
 * core's reading_mutex, which a second rng device's probe needs
 * (hwrng_register() -> add_early_randomness()). Closing the second device
 * first must still return within its bound (msg_timeout_ms, 1 s here, after
 * the grace period); that device goes in the background once the first
 * session is closed. Before, close() waited for the probe for ever: a
 * process holding both sessions could never close the first.
 */
#define CLOSE_ORDER_BOUND_MS	5000

static int test_close_order(void)
{
	struct virtio_loopback_reply r = { 0 };
	struct virtio_loopback_event ev;
	int base = count_devices(), ret, status = -1, pfd[2];
	long took = -1, end;
	char old[32] = "10000", cur[64] = "";
	bool exited = false;
	struct tdev d;
	pid_t child;

	if (!have_rng_driver()) {
		printf("skip close-order: no virtio_rng driver\n");
		return 0;
	}
	read_sysfs(PARAM_TIMEOUT, old, sizeof(old));
	check(!write_sysfs(PARAM_TIMEOUT, "1000"), "close-order: msg_timeout_ms := 1000");
	tdev_init(&d, VIRTIO_ID_RNG, 1);
	d.c.config_size = 0;
	ret = tdev_create(&d);
	check(!ret, "close-order: CREATE the first rng (%s)", strerror(-ret));
	if (ret)
		goto out;
	ret = read_event(d.fd, &ev, 60000);
	check(!ret && ev.type == VIRTIO_LOOPBACK_EV_DRIVER_OK, "close-order: EV_DRIVER_OK (%s)",
	      strerror(-ret));
	if (ret)
		goto out;
	r.seq = ev.seq;
	check(write(d.fd, &r, sizeof(r)) == sizeof(r),
	      "close-order: first device answered, its queue never served");
	/* The hwrng core reads the current rng: wait for this one to be it. */
	end = now_ms() + 10000;
	while (now_ms() < end &&
	       (read_sysfs("/sys/class/misc/hw_random/rng_current", cur, sizeof(cur)) ||
		!strstr(cur, "virtio")))
		usleep(50000);
	check(strstr(cur, "virtio") != NULL, "close-order: rng_current %s", cur);
	if (pipe(pfd))
		goto out;

	child = fork();
	if (child == 0) {
		struct tdev b;
		long t0;

		close(d.fd);
		tdev_init(&b, VIRTIO_ID_RNG, 1);
		b.c.config_size = 0;
		if (tdev_create(&b) || read_event(b.fd, &ev, 60000))
			_exit(2);
		r.seq = ev.seq;
		if (write(b.fd, &r, sizeof(r)) != sizeof(r))
			_exit(3);
		/* Let its probe get to the hwrng core. */
		usleep(500000);
		t0 = now_ms();
		tdev_fini(&b);
		t0 = now_ms() - t0;
		_exit(write(pfd[1], &t0, sizeof(t0)) == sizeof(t0) ? 0 : 4);
	}
	close(pfd[1]);
	end = now_ms() + 60000;
	while (child > 0 && !exited && now_ms() < end) {
		exited = waitpid(child, &status, WNOHANG) == child;
		usleep(20000);
	}
	if (!exited || read(pfd[0], &took, sizeof(took)) != sizeof(took))
		took = -1;
	close(pfd[0]);
	check(exited && WIFEXITED(status) && !WEXITSTATUS(status) &&
	      took >= 0 && took < CLOSE_ORDER_BOUND_MS,
	      "close-order: closing the second device first returned in %ld ms (bound %d, status 0x%x)",
	      took, CLOSE_ORDER_BOUND_MS, status);
	/* Still there: going in the background, holding the module. */
	if (exited && count_devices() == base + 2) {
		char buf[32] = "";

		read_sysfs(MOD_REFCNT, buf, sizeof(buf));
		check(atoi(buf) >= 2,
		      "close-order: the second device's removal holds the module (refcnt %s)", buf);
	}
	/* A close that hangs is released by this one (old kernels). */
	tdev_fini(&d);
	if (child > 0 && !exited)
		waitpid(child, &status, 0);
	check(wait_devices(base, 30000), "close-order: both devices gone once the first is closed");
	write_sysfs(PARAM_TIMEOUT, old);
	return 0;
out:
	tdev_fini(&d);
	write_sysfs(PARAM_TIMEOUT, old);
	return 1;
}

/*
 * A relayed queue (virtio-console port 0 transmitq): the driver's writes
 * complete with no back-end serving (hvc put_chars() would otherwise spin),
 * the bytes wait in the transport's own ring, in order; garbage in that
 * ring's used entries breaks the device, and hvc writes still finish.
 */
/*
 * /dev/hvc0..7 exist from the first hvc console on; an index without a
 * console refuses open() (ENODEV).
 */
static bool hvc_opens(int i)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/hvc%d", i);
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool new_hvc(char *path, size_t len, const bool *before)
{
	for (int i = 0; i < 8; i++) {
		snprintf(path, len, "/dev/hvc%d", i);
		if (!before[i] && hvc_opens(i))
			return true;
	}
	return false;
}

static pid_t hvc_writer(const char *path, size_t n, int fd_to_close)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct termios tio;
		unsigned char buf[4096];
		size_t done = 0;
		int fd;

		close(fd_to_close);
		fd = open(path, O_RDWR | O_NOCTTY);
		if (fd < 0 || tcgetattr(fd, &tio))
			_exit(3);
		cfmakeraw(&tio);
		if (tcsetattr(fd, TCSANOW, &tio))
			_exit(4);
		while (done < n) {
			size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
			ssize_t w;

			for (size_t i = 0; i < k; i++)
				buf[i] = (done + i) * 7 + 3;
			w = write(fd, buf, k);
			if (w <= 0)
				_exit(2);
			done += w;
		}
		_exit(tcdrain(fd) ? 5 : 0);
	}
	return pid;
}

static bool wait_child(pid_t pid, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int status;

	while (now_ms() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return false;
}

static int test_relay(void)
{
	int base = count_devices(), ret, mfd;
	struct virtio_loopback_event ev;
	struct virtio_loopback_reply r = { 0 };
	struct mini_rng m = { 0 };
	bool before[8];
	char hvc[32];
	struct tdev t;
	pid_t child;
	long end;

	if (system("modprobe virtio_console >/dev/null 2>&1")) {
		printf("skip relay: no virtio_console driver\n");
		return 0;
	}
	for (int i = 0; i < 8; i++)
		before[i] = hvc_opens(i);
	tdev_init(&t, VIRTIO_ID_CONSOLE, 2);
	t.c.config_size = 12;
	t.c.mem_size = 4 << 20;
	ret = tdev_create(&t);
	check(!ret, "relay: CREATE (%s)", strerror(-ret));
	if (ret)
		return 1;
	ret = read_event(t.fd, &ev, 60000);
	check(!ret && ev.type == VIRTIO_LOOPBACK_EV_DRIVER_OK, "relay: EV_DRIVER_OK (%s)",
	      strerror(-ret));
	if (ret)
		goto out;
	m.vi.index = 1;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &m.vi);
	check(!ret && m.vi.ready && m.vi.num && m.vi.num <= 64 && !(m.vi.num & (m.vi.num - 1)),
	      "relay: GET_VQ_INFO queue 1: the relay ring, %u entries", m.vi.num);
	mfd = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_FD);
	m.size = t.c.mem_size;
	m.mem = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	check(m.mem != MAP_FAILED, "relay: mmap region");
	if (ret || m.mem == MAP_FAILED)
		goto out;
	m.call = t.q[1].call_fd;
	r.seq = ev.seq;
	check(write(t.fd, &r, sizeof(r)) == sizeof(r), "relay: reply to DRIVER_OK");
	end = now_ms() + 20000;
	while (!new_hvc(hvc, sizeof(hvc), before) && now_ms() < end)
		usleep(20000);
	check(now_ms() < end, "relay: %s appeared", hvc);
	if (now_ms() >= end)
		goto unmap;

	/* 64 KiB written while nobody serves the queue: done anyway. */
	child = hvc_writer(hvc, 65536, t.fd);
	check(wait_child(child, 30000), "relay: 64 KiB written to %s with no back-end serving", hvc);
	check(dev_attr(t.c.id, "queues/1/relayed_bytes") == 65536 &&
	      dev_attr(t.c.id, "queues/1/relay_dropped_bytes") == 0,
	      "relay: relayed_bytes %lld, dropped %lld",
	      dev_attr(t.c.id, "queues/1/relayed_bytes"),
	      dev_attr(t.c.id, "queues/1/relay_dropped_bytes"));
	{
		struct vring_desc *desc = iova(&m, m.vi.desc, 16 * m.vi.num);
		struct vring_avail *avail = iova(&m, m.vi.avail, 6 + 2 * m.vi.num);
		struct vring_used *used = iova(&m, m.vi.used, 6 + 8 * m.vi.num);
		uint16_t aidx = 0;
		size_t got = 0;
		bool same = desc && avail && used;

		/* Served in rounds: the transport posts more as entries return. */
		for (end = now_ms() + 20000; same && got < 65536 && now_ms() < end; usleep(10000)) {
			uint16_t to = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);

			for (; same && aidx != to; aidx++) {
				uint16_t head = avail->ring[aidx % m.vi.num];
				unsigned char *b = head < m.vi.num ?
						   iova(&m, desc[head].addr, desc[head].len) : NULL;

				same = b && !(desc[head].flags & (VRING_DESC_F_WRITE | VRING_DESC_F_NEXT));
				for (uint32_t k = 0; same && k < desc[head].len; k++, got++)
					same = b[k] == (unsigned char)(got * 7 + 3);
				used->ring[aidx % m.vi.num].id = head;
				used->ring[aidx % m.vi.num].len = 0;
			}
			__atomic_store_n(&used->idx, aidx, __ATOMIC_RELEASE);
			eventfd_write(m.call, 1);
		}
		check(same && got == 65536, "relay: the relay ring carried the 64 KiB in order (%zu bytes in %u entries)",
		      got, aidx);
		if (!same)
			goto unmap;

		/* Garbage: a used id that is not in flight. */
		child = hvc_writer(hvc, 1000, t.fd);
		check(wait_child(child, 30000), "relay: 1000 more bytes written");
		{
			/* A new back-end would find those bytes posted again. */
			struct virtio_loopback_vq_rewind rw = { .index = 1 };
			uint16_t h;

			ret = ioctl(t.fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw);
			h = avail->ring[aidx % m.vi.num];
			check(!ret && rw.base == aidx && rw.outstanding == 1 &&
			      avail->idx == (uint16_t)(aidx + 1) && h < m.vi.num && desc[h].len == 1000,
			      "relay: REWIND re-posts the 1000 bytes at base %u (%u entries)",
			      rw.base, rw.outstanding);
		}
		used->ring[aidx % m.vi.num].id = m.vi.num + 5;
		__atomic_store_n(&used->idx, aidx + 1, __ATOMIC_RELEASE);
		eventfd_write(m.call, 1);
		end = now_ms() + 10000;
		while (dev_attr(t.c.id, "broken") != 1 && now_ms() < end)
			usleep(20000);
		check(dev_attr(t.c.id, "broken") == 1, "relay: garbage in the relay's used ring breaks the device");
		child = hvc_writer(hvc, 1 << 20, t.fd);
		check(wait_child(child, 60000), "relay: 1 MiB written to the broken device's %s", hvc);
	}
unmap:
	munmap(m.mem, m.size);
out:
	tdev_fini(&t);
	check(wait_devices(base, 20000), "relay: device removed on close");
	check(!new_hvc(hvc, sizeof(hvc), before), "relay: no console left open-able");
	return 0;
}

/*
 * A minimal virtio-blk back-end in a child process: every read returns
 * zeros, every write and flush succeeds. No indirect descriptors and no
 * event index are offered, so the rings are walked plainly.
 */
static void mini_blk_serve(struct mini_rng *m)
{
	struct vring_desc *desc = iova(m, m->vi.desc, 16 * m->vi.num);
	struct vring_avail *avail = iova(m, m->vi.avail, 4 + 2 * m->vi.num);
	struct vring_used *used = iova(m, m->vi.used, 4 + 8 * m->vi.num);

	if (!desc || !avail || !used)
		_exit(5);
	for (;;) {
		struct pollfd p = { .fd = m->kick, .events = POLLIN };
		int served = 0;
		uint64_t cnt;

		poll(&p, 1, 100);
		if (p.revents & POLLIN)
			eventfd_read(m->kick, &cnt);
		while (m->last_avail != __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE)) {
			uint16_t head = avail->ring[m->last_avail % m->vi.num];
			uint16_t uidx = used->idx, i = head;
			struct virtio_blk_outhdr *hdr = NULL;
			unsigned char *status = NULL;
			uint32_t written = 0, n;

			for (n = 0; n < m->vi.num && i < m->vi.num; n++) {
				unsigned char *b = iova(m, desc[i].addr, desc[i].len);

				if (!b)
					_exit(6);
				if (!hdr) {
					hdr = (void *)b;
				} else if (desc[i].flags & VRING_DESC_F_WRITE) {
					if (status)
						memset(status, 0, 1);
					status = b + desc[i].len - 1;
					memset(b, 0, desc[i].len);
					written += desc[i].len;
				}
				if (!(desc[i].flags & VRING_DESC_F_NEXT))
					break;
				i = desc[i].next;
			}
			if (!hdr || !status)
				_exit(7);
			*status = hdr->type == VIRTIO_BLK_T_IN || hdr->type == VIRTIO_BLK_T_OUT ||
				  hdr->type == VIRTIO_BLK_T_FLUSH ? VIRTIO_BLK_S_OK :
				  VIRTIO_BLK_S_UNSUPP;
			used->ring[uidx % m->vi.num].id = head;
			used->ring[uidx % m->vi.num].len = written;
			__atomic_store_n(&used->idx, uidx + 1, __ATOMIC_RELEASE);
			m->last_avail++;
			served++;
		}
		if (served)
			eventfd_write(m->call, 1);
	}
}

/*
 * Name of the block device of virtio<index>, waiting for it and for its
 * node: device_add() shows the disk in sysfs before devtmpfs makes
 * /dev/<name>, and a caller opening it at once failed now and then.
 */
static bool blk_name(unsigned int index, char *name, size_t len)
{
	char path[128], node[160];
	long end = now_ms() + 30000;

	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%u/block", index);
	while (now_ms() < end) {
		DIR *dir = opendir(path);
		struct dirent *d;

		while (dir && (d = readdir(dir))) {
			if (d->d_name[0] == '.')
				continue;
			snprintf(name, len, "%.*s", (int)len - 1, d->d_name);
			snprintf(node, sizeof(node), "/dev/%s", name);
			if (!access(node, F_OK)) {
				closedir(dir);
				return true;
			}
		}
		if (dir)
			closedir(dir);
		usleep(50000);
	}
	return false;
}

static long long blk_attr(const char *name, const char *attr)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/block/%s/%s", name, attr);
	if (read_sysfs(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 0);
}

/* A reader of one 4 KiB block with O_DIRECT, in a child. */
static pid_t direct_reader(const char *dev, off_t off, int fd_to_close)
{
	pid_t pid = fork();

	if (pid == 0) {
		void *buf;
		int fd;

		close(fd_to_close);
		fd = open(dev, O_RDONLY | O_DIRECT);
		if (fd < 0 || posix_memalign(&buf, 4096, 4096))
			_exit(3);
		_exit(pread(fd, buf, 4096, off) == 4096 ? 0 : 2);
	}
	return pid;
}

/*
 * VIRTIO_LOOPBACK_REWIND_VQ: a back-end dies with requests in flight; a
 * new one, started at the base the kernel gives, finds exactly those
 * requests again and completes them. Bad arguments are refused.
 */
static int test_rewind(void)
{
	struct virtio_loopback_vq_rewind rw;
	struct virtio_loopback_event ev;
	struct virtio_loopback_reply r = { 0 };
	int base = count_devices(), ret, mfd, status, fd;
	struct mini_rng m = { 0 };
	pid_t server = -1, readers[4];
	struct vring_avail *avail;
	struct vring_used *used;
	char name[64] = "", dev[80];
	struct tdev t;
	bool distinct;
	long end;

	if (system("modprobe virtio_blk >/dev/null 2>&1")) {
		printf("skip rewind: no virtio_blk driver\n");
		return 0;
	}
	fd = open(CTL, O_RDWR | O_CLOEXEC);
	memset(&rw, 0, sizeof(rw));
	ret = fd >= 0 ? ioctl(fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw) : 0;
	check(fd >= 0 && ret < 0 && errno == ENODEV, "rewind: before CREATE -> ENODEV");
	if (fd >= 0)
		close(fd);

	tdev_init(&t, VIRTIO_ID_BLOCK, 1);
	t.c.config_size = sizeof(struct virtio_blk_config);
	((struct virtio_blk_config *)t.config)->capacity = 65536;
	t.c.mem_size = 4 << 20;
	ret = tdev_create(&t);
	check(!ret, "rewind: CREATE blk (%s)", strerror(-ret));
	if (ret)
		return 1;
	ret = read_event(t.fd, &ev, 60000);
	check(!ret && ev.type == VIRTIO_LOOPBACK_EV_DRIVER_OK, "rewind: EV_DRIVER_OK");
	if (ret)
		goto out;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &m.vi);
	mfd = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_FD);
	m.size = t.c.mem_size;
	m.mem = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	check(!ret && m.vi.ready && m.mem != MAP_FAILED, "rewind: rings and region mapped");
	if (ret || m.mem == MAP_FAILED)
		goto out;
	avail = iova(&m, m.vi.avail, 6 + 2 * m.vi.num);
	used = iova(&m, m.vi.used, 6 + 8 * m.vi.num);
	m.kick = t.q[0].kick_fd;
	m.call = t.q[0].call_fd;
	server = fork();
	if (server == 0) {
		close(t.fd);
		mini_blk_serve(&m);
	}
	r.seq = ev.seq;
	check(write(t.fd, &r, sizeof(r)) == sizeof(r), "rewind: reply to DRIVER_OK");
	check(blk_name(ev.index, name, sizeof(name)), "rewind: virtio%u is /dev/%s", ev.index, name);
	end = now_ms() + 30000;
	while (blk_attr(name, "size") != 65536 && now_ms() < end)
		usleep(50000);
	/* The partition scan is over once nothing is in flight for a while. */
	usleep(500000);
	for (end = now_ms() + 10000; avail->idx != used->idx && now_ms() < end;)
		usleep(20000);

	/* The back-end dies; four reads arrive and wait. */
	kill(server, SIGKILL);
	waitpid(server, &status, 0);
	server = -1;
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	for (int i = 0; i < 4; i++)
		readers[i] = direct_reader(dev, (off_t)(i * 997 + 13) * 4096, t.fd);
	for (end = now_ms() + 10000; (uint16_t)(avail->idx - used->idx) < 4 && now_ms() < end;)
		usleep(20000);
	check((uint16_t)(avail->idx - used->idx) == 4, "rewind: 4 reads outstanding (avail %u used %u)",
	      avail->idx, used->idx);

	memset(&rw, 0, sizeof(rw));
	rw.index = 1;
	check(ioctl(t.fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw) < 0 && errno == EINVAL, "rewind: index 1 -> EINVAL");
	rw.index = 0;
	rw.flags = 2;
	check(ioctl(t.fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw) < 0 && errno == EINVAL, "rewind: flags -> EINVAL");
	rw.flags = 0;
	rw.reserved[1] = 1;
	check(ioctl(t.fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw) < 0 && errno == EINVAL, "rewind: reserved -> EINVAL");
	rw.reserved[1] = 0;
	/* The dead back-end had scribbled over the slots before avail->idx. */
	for (uint16_t i = 1; i <= 4; i++)
		avail->ring[(uint16_t)(avail->idx - i) % m.vi.num] = 0;
	/* QUERY (inflight-keeping back-ends): the used index, nothing rewritten. */
	rw.flags = VIRTIO_LOOPBACK_REWIND_F_QUERY;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw);
	distinct = !ret && rw.outstanding == 4 && (uint16_t)rw.base == used->idx;
	for (uint16_t i = 1; distinct && i <= 4; i++)
		distinct &= avail->ring[(uint16_t)(avail->idx - i) % m.vi.num] == 0;
	check(distinct, "rewind: QUERY gives base %u = used idx %u, %u outstanding, slots untouched",
	      rw.base, used->idx, rw.outstanding);
	rw.flags = 0;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw);
	distinct = !ret && rw.outstanding == 4 && (uint16_t)rw.base == (uint16_t)(avail->idx - 4);
	for (unsigned int i = 0; distinct && i < 4; i++)
		for (unsigned int j = 0; j < i; j++)
			distinct &= avail->ring[(rw.base + i) % m.vi.num] !=
				    avail->ring[(rw.base + j) % m.vi.num];
	check(distinct, "rewind: base %u, %u outstanding, 4 distinct heads before avail->idx %u",
	      rw.base, rw.outstanding, avail->idx);

	/* A new back-end starts at the base: every read completes. */
	m.last_avail = rw.base;
	server = fork();
	if (server == 0) {
		close(t.fd);
		mini_blk_serve(&m);
	}
	eventfd_write(m.kick, 1);
	for (int i = 0; i < 4; i++)
		check(wait_child(readers[i], 20000), "rewind: read %d completed by the new back-end", i);
	memset(&rw, 0, sizeof(rw));
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_REWIND_VQ, &rw);
	check(!ret && rw.outstanding == 0 && (uint16_t)rw.base == avail->idx,
	      "rewind: nothing outstanding afterwards (base %u)", rw.base);
	munmap(m.mem, m.size);
out:
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	tdev_fini(&t);
	check(wait_devices(base, 20000), "rewind: device removed on close");
	return 0;
}

static int test_config(void)
{
	struct virtio_blk_config *bc;
	struct virtio_loopback_config cfg = { 0 };
	struct virtio_loopback_event ev;
	struct virtio_loopback_reply r = { 0 };
	int base = count_devices();
	struct mini_rng m = { 0 };
	char name[64] = "", path[128], buf[64];
	__u64 capacity = 4096;
	struct tdev t;
	pid_t server = -1, writer;
	int ret, mfd, status;
	__u8 wce;
	long end;

	if (system("modprobe virtio_blk >/dev/null 2>&1")) {
		printf("skip config: no virtio_blk driver\n");
		return 0;
	}
	tdev_init(&t, VIRTIO_ID_BLOCK, 1);
	t.c.device_features = F_VERSION_1 | (1ULL << VIRTIO_BLK_F_FLUSH) |
			      (1ULL << VIRTIO_BLK_F_CONFIG_WCE);
	t.c.config_size = sizeof(*bc);
	bc = (void *)t.config;
	bc->capacity = 2048;
	bc->wce = 1;
	t.c.mem_size = 4 << 20;
	ret = tdev_create(&t);
	check(!ret, "config: CREATE blk (%s)", strerror(-ret));
	if (ret)
		return 1;
	ret = read_event(t.fd, &ev, 60000);
	check(!ret && ev.type == VIRTIO_LOOPBACK_EV_DRIVER_OK, "config: EV_DRIVER_OK (%s)",
	      strerror(-ret));
	if (ret)
		goto out;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &m.vi);
	mfd = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_FD);
	m.size = t.c.mem_size;
	m.mem = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	check(!ret && m.vi.ready && m.mem != MAP_FAILED, "config: rings and region mapped");
	if (ret || m.mem == MAP_FAILED)
		goto out;
	m.kick = t.q[0].kick_fd;
	m.call = t.q[0].call_fd;
	server = fork();
	if (server == 0) {
		close(t.fd);
		mini_blk_serve(&m);
	}
	r.seq = ev.seq;
	check(write(t.fd, &r, sizeof(r)) == sizeof(r), "config: reply to DRIVER_OK");

	check(blk_name(ev.index, name, sizeof(name)), "config: virtio%u is /dev/%s",
	      ev.index, name);
	end = now_ms() + 30000;
	while (blk_attr(name, "size") != 2048 && now_ms() < end)
		usleep(50000);
	check(blk_attr(name, "size") == 2048, "config: disk has 2048 sectors");

	/* Device side: a bigger disk, with a config-change interrupt. */
	cfg.offset = 0;
	cfg.len = sizeof(capacity);
	cfg.flags = VIRTIO_LOOPBACK_CONFIG_F_NOTIFY;
	cfg.data = (uintptr_t)&capacity;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg);
	end = now_ms() + 30000;
	while (blk_attr(name, "size") != 4096 && now_ms() < end)
		usleep(50000);
	check(!ret && blk_attr(name, "size") == 4096,
	      "config: SET_CONFIG capacity + NOTIFY -> %lld sectors", blk_attr(name, "size"));

	/*
	 * Driver side: turning the write cache off writes wce, and the write
	 * waits for our answer. We answer as a device that keeps its write
	 * cache on: refresh the kernel's copy (wce 1), then reply; the driver
	 * must read back what the device kept.
	 */
	snprintf(path, sizeof(path), "/sys/block/%s/cache_type", name);
	writer = fork();
	if (writer == 0)
		_exit(write_sysfs(path, "write through") ? 1 : 0);
	do {
		ret = read_event(t.fd, &ev, 10000);
	} while (!ret && ev.type != VIRTIO_LOOPBACK_EV_CONFIG_WRITE);
	check(!ret && ev.config_offset == offsetof(struct virtio_blk_config, wce) &&
	      ev.config_len == 1 && ev.config[0] == 0 &&
	      (ev.flags & VIRTIO_LOOPBACK_EV_F_NEEDS_REPLY),
	      "config: EV_CONFIG_WRITE offset %u len %u value %u, waits for a reply",
	      ev.config_offset, ev.config_len, ev.config[0]);
	/* Not answered yet: the writer must still be waiting. */
	usleep(200000);
	check(waitpid(writer, &status, WNOHANG) == 0, "config: the write waits for the answer");
	wce = 1;
	cfg.offset = offsetof(struct virtio_blk_config, wce);
	cfg.len = 1;
	cfg.flags = 0;
	cfg.data = (uintptr_t)&wce;
	check(!ioctl(t.fd, VIRTIO_LOOPBACK_SET_CONFIG, &cfg), "config: refresh wce := 1");
	r.seq = ev.seq;
	r.result = 0;
	check(write(t.fd, &r, sizeof(r)) == sizeof(r), "config: reply to CONFIG_WRITE");
	check(waitpid(writer, &status, 0) == writer && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "config: the write returned");
	check(!read_sysfs(path, buf, sizeof(buf)) && !strcmp(buf, "write back"),
	      "config: cache_type reads back '%s' (the device kept its cache)", buf);
	munmap(m.mem, m.size);

	/*
	 * The back-end dies with a read in flight; closing the session must
	 * complete that read with an I/O error, not with the bounce page's
	 * zeros as if it had succeeded.
	 */
	kill(server, SIGKILL);
	waitpid(server, &status, 0);
	server = fork();
	if (server == 0) {
		void *b = NULL;
		int fd;

		close(t.fd);
		snprintf(path, sizeof(path), "/dev/%s", name);
		fd = open(path, O_RDONLY | O_DIRECT);
		if (fd < 0 || posix_memalign(&b, 4096, 4096))
			_exit(3);
		if (pread(fd, b, 4096, 8192) == 4096)
			_exit(0);
		_exit(errno == EIO ? 1 : 2);
	}
	usleep(500000);
	check(waitpid(server, &status, WNOHANG) == 0, "config: read waits for the dead back-end");
out:
	tdev_fini(&t);
	check(wait_devices(base, 20000), "config: device removed on close");
	if (server > 0) {
		end = now_ms() + 10000;
		while (waitpid(server, &status, WNOHANG) != server && now_ms() < end)
			usleep(20000);
		check(now_ms() < end && WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "config: in-flight read failed with EIO on removal (status %d)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	return 0;
}

/* A zero-copy device's memory as its back-end maps it. */
struct zc_mem {
	unsigned int n;
	struct {
		unsigned char *base;
		__u64 iova, size;
		__u32 flags;
	} r[3];
};

/* Host address of [@addr, @addr + @len) and the region it is in, or NULL. */
static unsigned char *zc_addr(struct zc_mem *zm, __u64 addr, __u64 len,
			      unsigned int *region)
{
	unsigned int i;

	for (i = 0; i < zm->n; i++) {
		if (addr >= zm->r[i].iova && len <= zm->r[i].size &&
		    addr - zm->r[i].iova <= zm->r[i].size - len) {
			*region = i;
			return zm->r[i].base + (addr - zm->r[i].iova);
		}
	}
	return NULL;
}

/* Whether a system call can write into @p (read() from a pipe into it). */
static bool writable(void *p)
{
	int pfd[2];
	bool ok;

	if (pipe(pfd))
		return false;
	ok = write(pfd[1], "x", 1) == 1 && read(pfd[0], p, 1) == 1;
	close(pfd[0]);
	close(pfd[1]);
	return ok;
}

#define ZC_DISK		(4 << 20)
#define ZC_MIN_PARAM	"/sys/module/virtio_loopback/parameters/zero_copy_min_bytes"
#define ZC_IO		(64 << 10)
#define ZC_MAX_SEEN	64

/*
 * What the zero-copy back-end saw: data buffers per region, whether a
 * device-readable in-place buffer held the pattern and refused a write,
 * and the in-place buffers of the last requests, to probe after they
 * completed.
 */
struct zc_seen {
	unsigned long in_region[3];
	bool pattern_in_place, ro_write_refused, ro_write_allowed;
	unsigned int nstale;
	struct { unsigned char *p; __u32 len; } stale[ZC_MAX_SEEN];
};

static int zc_serve(struct zc_mem *zm, struct virtio_loopback_vq_info *vi,
		    uint16_t *last_avail, unsigned char *disk, struct zc_seen *seen)
{
	unsigned int reg;
	struct vring_desc *desc = (void *)zc_addr(zm, vi->desc, 16 * vi->num, &reg);
	struct vring_avail *avail = (void *)zc_addr(zm, vi->avail, 4 + 2 * vi->num, &reg);
	struct vring_used *used = (void *)zc_addr(zm, vi->used, 4 + 8 * vi->num, &reg);
	int served = 0;

	if (!desc || !avail || !used)
		return -EFAULT;
	while (*last_avail != __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE)) {
		uint16_t head = avail->ring[*last_avail % vi->num], i = head;
		uint16_t uidx = used->idx;
		struct virtio_blk_outhdr hdr;
		unsigned char *status = NULL, *b;
		uint64_t off = 0;
		uint32_t written = 0, n;
		bool have_hdr = false;

		for (n = 0; n < vi->num && i < vi->num; n++) {
			b = zc_addr(zm, desc[i].addr, desc[i].len, &reg);
			if (!b)
				return -EINVAL;
			if (!have_hdr) {
				if (desc[i].len < sizeof(hdr))
					return -EINVAL;
				memcpy(&hdr, b, sizeof(hdr));
				have_hdr = true;
				off = hdr.sector * 512;
			} else if (!(desc[i].flags & VRING_DESC_F_NEXT)) {
				status = b + desc[i].len - 1;
			} else {
				seen->in_region[reg]++;
				if (off > ZC_DISK || desc[i].len > ZC_DISK - off)
					return -EINVAL;
				if (hdr.type == VIRTIO_BLK_T_IN) {
					memcpy(b, disk + off, desc[i].len);
					written += desc[i].len;
				} else if (hdr.type == VIRTIO_BLK_T_OUT) {
					memcpy(disk + off, b, desc[i].len);
				}
				if (reg == 2 && hdr.type == VIRTIO_BLK_T_OUT) {
					if (b[0] == 0xa5 && b[desc[i].len - 1] == 0xa5)
						seen->pattern_in_place = true;
					if (writable(b))
						seen->ro_write_allowed = true;
					else
						seen->ro_write_refused = true;
				}
				if (reg > 0 && seen->nstale < ZC_MAX_SEEN) {
					seen->stale[seen->nstale].p = b;
					seen->stale[seen->nstale++].len = desc[i].len;
				}
				off += desc[i].len;
			}
			if (!(desc[i].flags & VRING_DESC_F_NEXT))
				break;
			i = desc[i].next;
		}
		if (!status)
			return -EINVAL;
		*status = hdr.type == VIRTIO_BLK_T_IN || hdr.type == VIRTIO_BLK_T_OUT ||
			  hdr.type == VIRTIO_BLK_T_FLUSH ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_UNSUPP;
		used->ring[uidx % vi->num].id = head;
		used->ring[uidx % vi->num].len = written + 1;
		__atomic_store_n(&used->idx, uidx + 1, __ATOMIC_RELEASE);
		(*last_avail)++;
		served++;
	}
	return served;
}

/*
 * Child: O_DIRECT write of a pattern from a memfd (shmem pages: shared in
 * place), read back into another memfd, compare. Exit 0 when equal.
 */
static void zc_client(unsigned int index)
{
	unsigned char *w, *r;
	char name[64], path[80];
	int fd, wm, rm;

	if (!blk_name(index, name, sizeof(name)))
		_exit(2);
	snprintf(path, sizeof(path), "/dev/%s", name);
	fd = open(path, O_RDWR | O_DIRECT);
	wm = memfd_create("zc-w", 0);
	rm = memfd_create("zc-r", 0);
	if (fd < 0 || wm < 0 || rm < 0 || ftruncate(wm, ZC_IO) || ftruncate(rm, ZC_IO))
		_exit(3);
	w = mmap(NULL, ZC_IO, PROT_READ | PROT_WRITE, MAP_SHARED, wm, 0);
	r = mmap(NULL, ZC_IO, PROT_READ | PROT_WRITE, MAP_SHARED, rm, 0);
	if (w == MAP_FAILED || r == MAP_FAILED)
		_exit(4);
	memset(w, 0xa5, ZC_IO);
	if (pwrite(fd, w, ZC_IO, 1 << 20) != ZC_IO)
		_exit(5);
	if (pread(fd, r, ZC_IO, 1 << 20) != ZC_IO)
		_exit(6);
	_exit(memcmp(w, r, ZC_IO) ? 7 : 0);
}

static int test_zerocopy_once(void)
{
	struct virtio_loopback_event ev;
	struct virtio_loopback_reply rep = { 0 };
	struct virtio_loopback_vq_info vi = { 0 };
	struct virtio_blk_config *bc;
	int base = count_devices(), ret, status = -1;
	struct zc_seen seen = { 0 };
	struct zc_mem zm = { 0 };
	uint16_t last_avail = 0;
	unsigned char *disk;
	unsigned int i, refused = 0;
	char min_bytes[32] = "16384";
	struct tdev t;
	pid_t child = -1;
	long end;

	if (system("modprobe virtio_blk >/dev/null 2>&1")) {
		printf("skip zero-copy: no virtio_blk driver\n");
		return 0;
	}
	/*
	 * memfd pages are seldom contiguous: a request is mostly one-page
	 * segments, which the default threshold shares as a run, from the
	 * fourth page on (checked with bytes_shared below).
	 */
	check(!read_sysfs(ZC_MIN_PARAM, min_bytes, sizeof(min_bytes)) &&
	      !write_sysfs(ZC_MIN_PARAM, "16384"), "zero-copy: zero_copy_min_bytes := 16384");
	disk = calloc(1, ZC_DISK);
	if (!disk)
		return 1;
	tdev_init(&t, VIRTIO_ID_BLOCK, 1);
	t.c.config_size = sizeof(*bc);
	bc = (void *)t.config;
	bc->capacity = ZC_DISK / 512;
	t.c.mem_size = 4 << 20;
	t.c.mem_mode = VIRTIO_LOOPBACK_MEM_ZERO_COPY;
	ret = tdev_create(&t);
	check(!ret, "zero-copy: CREATE blk (%s)", strerror(-ret));
	if (ret)
		goto out_free;
	ret = read_event(t.fd, &ev, 60000);
	check(!ret && ev.type == VIRTIO_LOOPBACK_EV_DRIVER_OK, "zero-copy: EV_DRIVER_OK");
	if (ret)
		goto out;
	ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &vi);
	for (i = 0; i < 3 && !ret; i++) {
		struct virtio_loopback_mem_region r = { .index = i };

		ret = ioctl(t.fd, VIRTIO_LOOPBACK_GET_MEM_REGION, &r);
		if (ret)
			break;
		zm.r[i].base = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
		close(r.fd);
		if (zm.r[i].base == MAP_FAILED) {
			ret = -1;
			break;
		}
		zm.r[i].iova = r.iova;
		zm.r[i].size = r.size;
		zm.r[i].flags = r.flags;
		zm.n++;
	}
	check(!ret && vi.ready && zm.n == 3, "zero-copy: rings and 3 regions mapped");
	if (ret || zm.n != 3)
		goto out;
	rep.seq = ev.seq;
	check(write(t.fd, &rep, sizeof(rep)) == sizeof(rep), "zero-copy: reply to DRIVER_OK");

	child = fork();
	if (child == 0) {
		close(t.fd);
		zc_client(ev.index);
	}
	end = now_ms() + 60000;
	while (now_ms() < end) {
		struct pollfd p = { .fd = t.q[0].kick_fd, .events = POLLIN };
		uint64_t cnt;

		poll(&p, 1, 20);
		if (p.revents & POLLIN)
			eventfd_read(t.q[0].kick_fd, &cnt);
		ret = zc_serve(&zm, &vi, &last_avail, disk, &seen);
		if (ret < 0)
			break;
		if (ret)
			eventfd_write(t.q[0].call_fd, 1);
		if (waitpid(child, &status, WNOHANG) == child) {
			child = -1;
			break;
		}
	}
	check(ret >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "zero-copy: 64 KiB O_DIRECT write + read from memfd buffers (child %d, serve %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1, ret);
	check(seen.in_region[1] > 0 && seen.in_region[2] > 0,
	      "zero-copy: data in place: %lu writable, %lu read-only, %lu bounced segments",
	      seen.in_region[1], seen.in_region[2], seen.in_region[0]);
	check(seen.pattern_in_place, "zero-copy: the written pattern seen in place");
	check(seen.ro_write_refused && !seen.ro_write_allowed,
	      "zero-copy: writes into read-only in-flight buffers refused");
	for (i = 0; i < seen.nstale; i++)
		refused += !readable(seen.stale[i].p, seen.stale[i].len);
	check(seen.nstale && refused == seen.nstale,
	      "zero-copy: %u of %u completed in-place buffers unreachable", refused,
	      seen.nstale);
	check(dev_attr(t.c.id, "bytes_shared") >= 2 * (ZC_IO - 16384) &&
	      dev_attr(t.c.id, "backend_faults") > 0 && dev_attr(t.c.id, "revocations") > 0,
	      "zero-copy: bytes_shared %lld backend_faults %lld revocations %lld",
	      dev_attr(t.c.id, "bytes_shared"), dev_attr(t.c.id, "backend_faults"),
	      dev_attr(t.c.id, "revocations"));
out:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	for (i = 0; i < zm.n; i++)
		munmap(zm.r[i].base, zm.r[i].size);
	tdev_fini(&t);
	check(wait_devices(base, 20000), "zero-copy: device removed on close");
out_free:
	free(disk);
	write_sysfs(ZC_MIN_PARAM, min_bytes);
	return 0;
}

#define ZC_SWEEP_PARAM	"/sys/module/virtio_loopback/parameters/zero_copy_sweep_in_caller"

/* Both places a sweep runs: the back-end thread that signals, a worker. */
static void test_zerocopy(void)
{
	static const char *const modes[] = { "N", "Y" };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		check(!write_sysfs(ZC_SWEEP_PARAM, modes[i]),
		      "zero-copy: zero_copy_sweep_in_caller := %s", modes[i]);
		printf("zero-copy: sweeps %s\n", i ? "in the signalling thread" : "in a worker");
		test_zerocopy_once();
	}
}

/*
 * N processes, one device each, all at once. With @rng the devices are
 * rng devices whose owners answer DRIVER_OK, so the driver binds (and the
 * kernel asks for no module); otherwise no driver matches them.
 */
static int run_many(int n, int quiet, bool rng)
{
	int base = count_devices();
	int go[2], ready[2];
	int i, created = 0, status, bad = 0;
	char c;

	if (pipe(go) || pipe(ready))
		return -errno;
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return -errno;
		if (pid == 0) {
			struct tdev t;
			int ret;

			close(go[1]);
			close(ready[0]);
			tdev_init(&t, rng ? VIRTIO_ID_RNG : ID_NO_DRIVER, 1 + i % MAX_TQ);
			if (rng) {
				t.c.num_queues = 1;
				t.c.config_size = 0;
			}
			ret = tdev_create(&t);
			if (!ret && rng) {
				struct virtio_loopback_reply r = { 0 };
				struct virtio_loopback_event ev;

				ret = read_event(t.fd, &ev, 60000);
				r.seq = ev.seq;
				if (!ret && write(t.fd, &r, sizeof(r)) != sizeof(r))
					ret = -errno;
			}
			c = ret ? 'x' : 'y';
			if (write(ready[1], &c, 1) != 1)
				_exit(3);
			/* Wait for the parent; exit (closing the session). */
			if (read(go[0], &c, 1) < 0)
				_exit(4);
			_exit(ret ? 1 : 0);
		}
	}
	close(go[0]);
	close(ready[1]);
	for (i = 0; i < n; i++) {
		if (read(ready[0], &c, 1) != 1)
			break;
		created += c == 'y';
	}
	close(ready[0]);
	if (!quiet)
		check(created == n && count_devices() == base + n,
		      "many: %d/%d devices created by %d processes, %d visible",
		      created, n, n, count_devices() - base);
	else if (created != n)
		bad++;
	close(go[1]);
	for (i = 0; i < n; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	if (!wait_devices(base, 30000))
		bad++;
	if (!quiet)
		check(!bad, "many: all %d processes exited, devices back to %d", n, base);
	return bad ? -EIO : 0;
}

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

/*
 * Devices with a driver bound: a driverless device makes the kernel start
 * a modprobe, and hundreds of those leave kworkers (stacks in vmalloc,
 * task structs in slab) alive for minutes, which is not what is measured.
 */
static int test_leak(int rounds, int n)
{
	bool rng = have_rng_driver();
	long slab0, vm0, slab1, vm1;
	int i;

	/* Warm up caches (kernfs, ida, slab pages) before the baseline. */
	run_many(n, 1, rng);
	sync();
	write_sysfs("/proc/sys/vm/drop_caches", "3");
	slab0 = meminfo_kb("SUnreclaim");
	vm0 = meminfo_kb("VmallocUsed");
	for (i = 0; i < rounds; i++)
		check(!run_many(n, 1, rng), "leak: round %d of %d %s devices", i + 1, n,
		      rng ? "rng" : "driverless");
	/* Let RCU free the exited processes' task structs, files, pids. */
	sleep(3);
	sync();
	write_sysfs("/proc/sys/vm/drop_caches", "3");
	slab1 = meminfo_kb("SUnreclaim");
	vm1 = meminfo_kb("VmallocUsed");
	/*
	 * A leaked device costs its 1 MiB region in vmalloc and several KiB
	 * of slab (device, queues, kobjects, sysfs nodes); the noise of
	 * forking hundreds of processes is around 1 MiB of slab.
	 */
	check(vm1 - vm0 < 512, "leak: VmallocUsed %ld -> %ld kB after %d devices",
	      vm0, vm1, rounds * n);
	check(slab1 - slab0 < 2048, "leak: SUnreclaim %ld -> %ld kB after %d devices",
	      slab0, slab1, rounds * n);
	return 0;
}

/* ------------------------------------------------------------------ */
/* ATTACH (persistent devices)                                          */
/* ------------------------------------------------------------------ */

/* An ATTACH request for device @id shaped like @t's CREATE. */
static void attach_init(struct virtio_loopback_attach *a, const struct tdev *t,
			unsigned int id)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	snprintf(a->name, sizeof(a->name), "vl%u", id);
	a->device_id = t->c.device_id;
	a->num_queues = t->c.num_queues;
	a->queues = (uintptr_t)t->q;
}

/* ATTACH on a new session; 0 (session in *@fd) or -errno (closed). */
static int attach_fd(struct virtio_loopback_attach *a, int *fd)
{
	int ret;

	*fd = open(CTL, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	ret = ioctl(*fd, VIRTIO_LOOPBACK_ATTACH, a) ? -errno : 0;
	if (ret) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

static int attach_once(struct virtio_loopback_attach *a)
{
	int fd, ret = attach_fd(a, &fd);

	if (!ret)
		close(fd);
	return ret;
}

static bool persist_is(unsigned int id, const char *want)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), CLASS_DIR "/vl%u/persist", id);
	if (read_sysfs(path, buf, sizeof(buf)))
		return false;
	buf[strcspn(buf, "\n")] = 0;
	return !strcmp(buf, want);
}

static bool wait_persist(unsigned int id, const char *want, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	while (!persist_is(id, want)) {
		if (now_ms() > end)
			return false;
		usleep(20000);
	}
	return true;
}

#define ABAD(n, e, body) \
	static void abad_##n(struct virtio_loopback_attach *a) { body; }
ABAD(flags, EINVAL, a->flags = 1)
ABAD(reserved0, EINVAL, a->reserved0 = 1)
ABAD(reserved, EINVAL, a->reserved[3] = 1)
ABAD(name_empty, EINVAL, a->name[0] = 0)
ABAD(name_unterminated, EINVAL, memset(a->name, 'v', sizeof(a->name)))
ABAD(name_other, ENOENT, snprintf(a->name, sizeof(a->name), "vl4095"))
ABAD(name_junk, ENOENT, snprintf(a->name, sizeof(a->name), "../vl0"))
ABAD(nq0, EINVAL, a->num_queues = 0)
ABAD(nq_max, EINVAL, a->num_queues = VIRTIO_LOOPBACK_MAX_QUEUES + 1)
ABAD(nq_wrong, EINVAL, a->num_queues = 1)
ABAD(devid_wrong, EINVAL, a->device_id = VIRTIO_ID_RNG)
ABAD(size_small, EINVAL, a->size = 8)
ABAD(size_huge, E2BIG, a->size = 1 << 20)
ABAD(queues_ptr, EFAULT, a->queues = 8)

static int test_attach(void)
{
	static const struct {
		const char *name;
		int err;
		void (*apply)(struct virtio_loopback_attach *a);
	} cases[] = {
		{ "flags", EINVAL, abad_flags },
		{ "reserved0", EINVAL, abad_reserved0 },
		{ "reserved", EINVAL, abad_reserved },
		{ "empty name", EINVAL, abad_name_empty },
		{ "name without NUL", EINVAL, abad_name_unterminated },
		{ "no such device", ENOENT, abad_name_other },
		{ "junk name", ENOENT, abad_name_junk },
		{ "num_queues 0", EINVAL, abad_nq0 },
		{ "num_queues > MAX", EINVAL, abad_nq_max },
		{ "num_queues not the device's", EINVAL, abad_nq_wrong },
		{ "device_id not the device's", EINVAL, abad_devid_wrong },
		{ "size 8", EINVAL, abad_size_small },
		{ "size > PAGE_SIZE", E2BIG, abad_size_huge },
		{ "queues pointer", EFAULT, abad_queues_ptr },
	};
	struct virtio_loopback_attach a;
	struct tdev plain, p, n;
	int base = count_devices(), ret, fd, i, st[2], ok = 0, busy = 0;
	unsigned int pid_id, plain_id;
	pid_t kids[2];
	int gate[2];
	char c;

	/* Wrong order: ATTACH of a device that does not exist, on a fresh session. */
	tdev_init(&p, ID_NO_DRIVER, 2);
	attach_init(&a, &p, 4095);
	ret = attach_once(&a);
	check(ret == -ENOENT, "attach: unknown device -> ENOENT (%s)", strerror(-ret));

	/* A plain device cannot be taken over. */
	tdev_init(&plain, ID_NO_DRIVER, 2);
	ret = tdev_create(&plain);
	plain_id = plain.c.id;
	check(!ret, "attach: plain device created (%s)", strerror(-ret));
	check(persist_is(plain_id, "off"), "attach: plain device: persist off");
	attach_init(&a, &plain, plain_id);
	ret = attach_once(&a);
	check(ret == -EPERM, "attach: plain device -> EPERM (%s)", strerror(-ret));

	/* A persistent one, owned: EBUSY. */
	p.c.flags = VIRTIO_LOOPBACK_CREATE_F_PERSIST;
	p.c.persist_timeout_ms = 4000;
	ret = tdev_create(&p);
	pid_id = p.c.id;
	check(!ret && persist_is(pid_id, "attached") &&
	      dev_attr(pid_id, "persist_timeout_ms") == 4000,
	      "attach: persistent device created (%s)", strerror(-ret));
	attach_init(&a, &p, pid_id);
	ret = attach_once(&a);
	check(ret == -EBUSY, "attach: owned device -> EBUSY (%s)", strerror(-ret));
	/* Wrong order: ATTACH on a session that already owns a device. */
	ret = ioctl(plain.fd, VIRTIO_LOOPBACK_ATTACH, &a) ? -errno : 0;
	check(ret == -EBUSY, "attach: on a session with a device -> EBUSY (%s)",
	      strerror(-ret));

	/* Its session closes: it stays, detached. */
	close(p.fd);
	p.fd = -1;
	check(wait_persist(pid_id, "detached", 5000) && count_devices() == base + 2,
	      "attach: persistent device kept after close (devices %d)", count_devices());

	for (i = 0; i < (int)ARRAY_SIZE(cases); i++) {
		attach_init(&a, &p, pid_id);
		cases[i].apply(&a);
		ret = attach_once(&a);
		check(ret == -cases[i].err && persist_is(pid_id, "detached"),
		      "attach: %s -> %s (got %s)", cases[i].name,
		      strerror(cases[i].err), strerror(-ret));
	}
	/* Queues: wrong size, reserved, bad eventfds. */
	attach_init(&a, &p, pid_id);
	p.q[1].max_size = 128;
	ret = attach_once(&a);
	check(ret == -EINVAL, "attach: max_size not the device's -> EINVAL (%s)", strerror(-ret));
	p.q[1].max_size = 64;
	p.q[0].reserved1 = 1;
	ret = attach_once(&a);
	check(ret == -EINVAL, "attach: queue reserved1 -> EINVAL (%s)", strerror(-ret));
	p.q[0].reserved1 = 0;
	p.q[0].kick_fd = 999;
	ret = attach_once(&a);
	check(ret == -EBADF, "attach: kick_fd closed -> EBADF (%s)", strerror(-ret));
	p.q[0].kick_fd = p.own_fds[0];
	p.q[1].call_fd = 1;
	ret = attach_once(&a);
	check(ret == -EINVAL, "attach: call_fd not an eventfd -> EINVAL (%s)", strerror(-ret));
	p.q[1].call_fd = p.own_fds[3];
	check(persist_is(pid_id, "detached"), "attach: still detached after the garbage");

	/* A good ATTACH: the session owns the device, in every respect. */
	ret = attach_fd(&a, &fd);
	check(!ret && a.id == pid_id && a.num_queues == 2 && a.device_features &&
	      a.mem_size == 1 << 20 && a.mem_mode == VIRTIO_LOOPBACK_MEM_ISOLATED &&
	      a.persist_timeout_ms == 4000 && persist_is(pid_id, "attached"),
	      "attach: valid ATTACH (%s, id %u, features 0x%llx)", strerror(-ret), a.id,
	      (unsigned long long)a.device_features);
	if (!ret) {
		struct virtio_loopback_vq_info vi = { .index = 1 };

		ret = ioctl(fd, VIRTIO_LOOPBACK_GET_VQ_INFO, &vi) ? -errno : 0;
		check(!ret, "attach: device ioctls work after ATTACH (%s)", strerror(-ret));
		ret = ioctl(fd, VIRTIO_LOOPBACK_CREATE, &p.c) ? -errno : 0;
		check(ret == -EBUSY, "attach: CREATE after ATTACH -> EBUSY (%s)", strerror(-ret));
		ret = ioctl(fd, VIRTIO_LOOPBACK_ATTACH, &a) ? -errno : 0;
		check(ret == -EBUSY, "attach: second ATTACH -> EBUSY (%s)", strerror(-ret));
		close(fd);
	}
	check(wait_persist(pid_id, "detached", 5000), "attach: detached again on close");

	/* Two attachers at once: one wins, the other gets EBUSY. */
	if (pipe(gate)) {
		check(false, "attach: pipe: %s", strerror(errno));
		gate[0] = gate[1] = -1;
	}
	for (i = 0; i < 2; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int cfd = open(CTL, O_RDWR | O_CLOEXEC);

			close(gate[1]);
			if (read(gate[0], &c, 1) < 0)
				_exit(100);
			ret = ioctl(cfd, VIRTIO_LOOPBACK_ATTACH, &a) ? errno : 0;
			/* The winner holds the device until both have tried. */
			usleep(300000);
			_exit(ret);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < 2; i++) {
		if (kids[i] < 0 || waitpid(kids[i], &st[i], 0) != kids[i] ||
		    !WIFEXITED(st[i]))
			continue;
		ok += WEXITSTATUS(st[i]) == 0;
		busy += WEXITSTATUS(st[i]) == EBUSY;
	}
	check(ok == 1 && busy == 1, "attach: two racing attachers: %d won, %d EBUSY", ok, busy);
	check(wait_persist(pid_id, "detached", 5000), "attach: detached after the race");

	/* Nobody attaches: removed after its timeout, as a plain device on close. */
	tdev_init(&n, ID_NO_DRIVER, 1);
	n.c.flags = VIRTIO_LOOPBACK_CREATE_F_PERSIST;
	ret = tdev_create(&n);
	check(!ret && dev_attr(n.c.id, "persist_timeout_ms") ==
	      VIRTIO_LOOPBACK_DEFAULT_PERSIST_TIMEOUT_MS,
	      "attach: default persist timeout %d ms", VIRTIO_LOOPBACK_DEFAULT_PERSIST_TIMEOUT_MS);
	/* An orderly removal is never kept. */
	ret = ioctl(n.fd, VIRTIO_LOOPBACK_UNPLUG) ? -errno : 0;
	check(!ret, "attach: UNPLUG of a persistent device (%s)", strerror(-ret));
	tdev_fini(&n);
	tdev_fini(&plain);
	check(wait_devices(base + 1, 10000), "attach: UNPLUGged and plain devices removed on close");
	check(wait_devices(base, 10000), "attach: detached device removed after its timeout");
	attach_init(&a, &p, pid_id);
	ret = attach_once(&a);
	check(ret == -ENOENT, "attach: after the timeout -> ENOENT (%s)", strerror(-ret));
	tdev_fini(&p);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vl-uapi-test api|create-invalid|session|memfd|timeout|unplug|rng|close-order|\n"
		"                    relay|config|rewind|attach|many N|leak ROUNDS N|all\n");
	exit(T_EXIT_FAIL);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "all";
	bool all = !strcmp(cmd, "all");

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(CTL, F_OK)) {
		printf("skip: %s missing (modprobe virtio_loopback)\n", CTL);
		return T_EXIT_SKIP;
	}
	srand(getpid());
	if (all || !strcmp(cmd, "api"))
		test_api();
	if (all || !strcmp(cmd, "create-invalid"))
		test_create_invalid();
	if (all || !strcmp(cmd, "session"))
		test_session();
	if (all || !strcmp(cmd, "memfd"))
		test_memfd();
	if (all || !strcmp(cmd, "regions"))
		test_regions();
	if (all || !strcmp(cmd, "timeout"))
		test_timeout();
	if (all || !strcmp(cmd, "unplug"))
		test_unplug();
	if (all || !strcmp(cmd, "rng"))
		test_rng();
	if (all || !strcmp(cmd, "close-order"))
		test_close_order();
	if (all || !strcmp(cmd, "relay"))
		test_relay();
	if (all || !strcmp(cmd, "config"))
		test_config();
	if (all || !strcmp(cmd, "rewind"))
		test_rewind();
	if (all || !strcmp(cmd, "zero-copy"))
		test_zerocopy();
	if (all || !strcmp(cmd, "attach"))
		test_attach();
	if (all || !strcmp(cmd, "many"))
		run_many(argc > 2 ? atoi(argv[2]) : 64, 0, false);
	if (all || !strcmp(cmd, "leak"))
		test_leak(argc > 3 ? atoi(argv[2]) : 5, argc > 3 ? atoi(argv[3]) : 64);
	if (!all && !strstr("api create-invalid session memfd regions timeout unplug rng close-order relay config rewind zero-copy attach many leak", cmd))
		usage();
	printf("%s: %d failure(s)\n", cmd, failures);
	return failures ? T_EXIT_FAIL : T_EXIT_PASS;
}
