// SPDX-License-Identifier: GPL-2.0
/*
 * Description: vhost-user-blk's request handling (devices/blk), under
 * ASan/UBSan, with real io_uring I/O on a temporary image file.
 *
 * The device runs in this process behind a vhost-user front-end of ours
 * (rings in a memfd, as a driver lays them out). Checked: option parsing;
 * features and the config space; write and read round trips with header,
 * data and status split over descriptors at odd boundaries, checked
 * against the file; malformed requests answered IOERR or UNSUPP, never a
 * crash: short header, sector out of range (also wrapping), data not whole
 * sectors, no status byte (chain returned unused), unknown types, writes
 * to a read-only disk; GET_ID (whole and cut short); FLUSH; DISCARD and
 * WRITE_ZEROES (zeroes read back, UNMAP on a discard, unknown flags, two
 * ranges, out of range); a resize (SIGHUP path) growing and shrinking the
 * capacity the config shows and the range checks use; an answer for
 * buffers no longer mapped is dropped; 5,000 random chains.
 * The lab test (tests/lab/test_blk_resize_01.sh) drives the real driver.
 */

#include "helpers.h"
#include "unit/t_vring.h"

#define main blk_main
#include "../../devices/blk/vhost-user-blk.c"
#undef main

#define MEM_SIZE	(1U << 20)
#define QVA		0x7f0000000000ULL
#define NUM		64
#define RQ_DESC		0x0000
#define RQ_AVAIL	0x1000
#define RQ_USED		0x2000
#define HDR		0x10000
#define DATA		0x20000		/* up to 64 KiB */
#define STATUS		0x40000
#define SECTORS		64		/* the image: 32 KiB */

static int failures;
static struct t_sess sess;
static struct vlb_dev *dev;
static struct t_ring *rqr = &sess.ring[0];
static uint8_t *mem;
static char img[64];

#define CHECK(cond, ...)	T_CHECK_RET(cond, __VA_ARGS__)

/* One descriptor of a test chain. */
struct seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/*
 * Post the chain @s, kick, wait for io_uring; returns the used length, or
 * UINT32_MAX when the chain was not returned.
 */
static uint32_t chain(const struct seg *s, unsigned int n)
{
	uint32_t id, len;
	unsigned int i;

	for (i = 0; i < n; i++)
		t_ring_desc(rqr, i, s[i].addr, s[i].len,
			    (s[i].write ? T_DESC_F_WRITE : 0) |
			    (i + 1 < n ? T_DESC_F_NEXT : 0), i + 1);
	t_ring_post(rqr, 0);
	blk_queue_kick(dev, 0);
	blk_drain(dev, -1);
	if (t_ring_get_used(rqr, &id, &len) || id != 0)
		return UINT32_MAX;
	return len;
}

static void put_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type), .sector = htole64(sector),
	};

	memcpy(mem + HDR, &h, sizeof(h));
}

/*
 * The usual layout: header, @len bytes of data (out for OUT, in for IN),
 * status. Returns the status (0xee when untouched), *@used the used length.
 */
static int req(uint32_t type, uint64_t sector, uint32_t len, uint32_t *used)
{
	bool in = type != VIRTIO_BLK_T_OUT && type != VIRTIO_BLK_T_DISCARD &&
		  type != VIRTIO_BLK_T_WRITE_ZEROES;
	struct seg s[3] = {
		{ HDR, 16, false },
		{ DATA, len, in },
		{ STATUS, 1, true },
	};
	uint32_t u;

	put_hdr(type, sector);
	mem[STATUS] = 0xee;
	if (len)
		u = chain(s, 3);
	else
		u = chain((struct seg[]){ s[0], s[2] }, 2);
	if (used)
		*used = u;
	return mem[STATUS];
}

static int file_pread(void *buf, size_t len, off_t off)
{
	int fd = open(img, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int sess_open(void)
{
	uint64_t feat = (1ULL << VLB_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	int ret, fd;

	snprintf(img, sizeof(img), "/tmp/test_dev_blk.%d.img", (int)getpid());
	fd = open(img, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, SECTORS * 512) < 0)
		return t_fail("%s: %s", img, strerror(errno));
	close(fd);
	if (blk_parse_option(&blk_dev, "file", img) ||
	    blk_parse_option(&blk_dev, "serial", "unit-serial-0123456"))
		return t_fail("options refused");
	if (t_sess_new(&sess, &blk_iface, 1, &blk_dev, "blk-test", MEM_SIZE))
		return 1;
	dev = sess.dev;
	mem = sess.mem;
	ret = blk_setup(dev);
	if (ret)
		return t_fail("blk_setup: %s", strerror(-ret));
	if (t_sess_connect(&sess, feat, QVA))
		return 1;
	/* GET_CONFIG needs the config protocol feature. */
	ret = t_fe_set_u64(&sess.fe, VHOST_USER_SET_PROTOCOL_FEATURES,
			   1ULL << VHOST_USER_PROTOCOL_F_CONFIG);
	if (ret)
		return t_fail("SET_PROTOCOL_FEATURES: %s", strerror(-ret));
	t_sess_ring(&sess, 0, NUM, RQ_DESC, RQ_AVAIL, RQ_USED);
	return t_sess_start(&sess, 1);
}

static void sess_close(void)
{
	t_sess_close(&sess, blk_teardown);
	unlink(img);
}

static int test_options(void)
{
	struct blk b = { .nq = 1 };

	CHECK(blk_parse_option(&b, "queues", "0") == -EINVAL, "--queues 0");
	CHECK(blk_parse_option(&b, "queues", "17") == -EINVAL, "--queues 17");
	CHECK(blk_parse_option(&b, "queues", "2x") == -EINVAL, "--queues 2x");
	CHECK(blk_parse_option(&b, "queues", "") == -EINVAL, "--queues ''");
	CHECK(blk_parse_option(&b, "queues", "4") == 0 && b.nq == 4, "--queues 4");
	CHECK(blk_parse_option(&b, "serial", "123456789012345678901") == -EINVAL,
	      "21-byte serial");
	CHECK(blk_parse_option(&b, "serial", "") == -EINVAL, "empty serial");
	return 0;
}

/* GET_CONFIG through the front-end, as the adapter reads it. */
static int get_config(struct virtio_blk_config *c)
{
	struct vhost_user_msg r;
	struct vhost_user_config cfg = { .offset = 0, .size = sizeof(*c) };
	int ret;

	ret = t_fe_call(&sess.fe, VHOST_USER_GET_CONFIG, &cfg,
			offsetof(struct vhost_user_config, region) + sizeof(*c), NULL, 0, &r);
	if (ret)
		return ret;
	memcpy(c, r.payload.config.region, sizeof(*c));
	return 0;
}

static int test_config(void)
{
	struct virtio_blk_config c;
	uint64_t f = blk_get_features(dev);
	int ret;

	CHECK(f & (1ULL << VIRTIO_BLK_F_FLUSH) && f & (1ULL << VIRTIO_BLK_F_DISCARD) &&
	      f & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) && f & (1ULL << VIRTIO_BLK_F_SEG_MAX) &&
	      !(f & (1ULL << VIRTIO_BLK_F_RO)), "features 0x%llx", (unsigned long long)f);
	ret = get_config(&c);
	CHECK(!ret, "GET_CONFIG: %s", strerror(-ret));
	CHECK(le64toh(c.capacity) == SECTORS, "capacity %llu",
	      (unsigned long long)le64toh(c.capacity));
	CHECK(le32toh(c.blk_size) == 512 && le32toh(c.seg_max) == BLK_SEG_MAX &&
	      le16toh(c.num_queues) == 1 && le32toh(c.max_discard_seg) == 1,
	      "blk_size %u seg_max %u queues %u", le32toh(c.blk_size),
	      le32toh(c.seg_max), le16toh(c.num_queues));
	return 0;
}

static int test_rw(void)
{
	uint8_t back[4096];
	uint32_t used;
	unsigned int i;

	for (i = 0; i < 4096; i++)
		mem[DATA + i] = (uint8_t)(i * 7 + 3);
	CHECK(req(VIRTIO_BLK_T_OUT, 8, 4096, &used) == VIRTIO_BLK_S_OK && used == 1,
	      "write: status %u used %u", mem[STATUS], used);
	CHECK(!file_pread(back, 4096, 8 * 512) && !memcmp(back, mem + DATA, 4096),
	      "file differs after the write");
	memset(mem + DATA, 0, 4096);
	CHECK(req(VIRTIO_BLK_T_IN, 8, 4096, &used) == VIRTIO_BLK_S_OK && used == 4097,
	      "read: status %u used %u", mem[STATUS], used);
	CHECK(!memcmp(back, mem + DATA, 4096), "read data differs");

	/* Last sector exactly: fine. Zero-length: fine. */
	CHECK(req(VIRTIO_BLK_T_IN, SECTORS - 1, 512, &used) == VIRTIO_BLK_S_OK &&
	      used == 513, "last sector: status %u used %u", mem[STATUS], used);
	CHECK(req(VIRTIO_BLK_T_IN, SECTORS, 0, &used) == VIRTIO_BLK_S_OK && used == 1,
	      "empty read at the end: status %u", mem[STATUS]);

	/*
	 * Header split 5+11, data 700+324 over two descriptors, status in the
	 * last byte of a 3-byte buffer that also holds read data.
	 */
	put_hdr(VIRTIO_BLK_T_IN, 8);
	mem[STATUS + 2] = 0xee;
	used = chain((const struct seg[]){
		{ HDR, 5, false }, { HDR + 5, 11, false },
		{ DATA, 700, true }, { DATA + 1000, 322, true }, { STATUS, 3, true },
	}, 5);
	CHECK(used == 1025 && mem[STATUS + 2] == VIRTIO_BLK_S_OK,
	      "split read: used %u status %u", used, mem[STATUS + 2]);
	CHECK(!memcmp(mem + DATA, back, 700) && !memcmp(mem + DATA + 1000, back + 700, 322) &&
	      !memcmp(mem + STATUS, back + 1022, 2), "split read data differs");
	return 0;
}

static int test_malformed(void)
{
	uint32_t used;

	/* Short header: 15 bytes, then the status. */
	put_hdr(VIRTIO_BLK_T_IN, 0);
	mem[STATUS] = 0xee;
	used = chain((const struct seg[]){ { HDR, 15, false }, { STATUS, 1, true } }, 2);
	CHECK(used == 1 && mem[STATUS] == VIRTIO_BLK_S_IOERR, "short header: used %u status %u",
	      used, mem[STATUS]);
	used = chain((const struct seg[]){ { STATUS, 1, true } }, 1);
	CHECK(used == 1 && mem[STATUS] == VIRTIO_BLK_S_IOERR, "no header: used %u", used);

	/* Out of range, also where sector + count or sector * 512 wraps. */
	CHECK(req(VIRTIO_BLK_T_IN, SECTORS, 512, &used) == VIRTIO_BLK_S_IOERR && used == 1,
	      "read past the end: status %u used %u", mem[STATUS], used);
	CHECK(req(VIRTIO_BLK_T_OUT, SECTORS - 1, 1024, NULL) == VIRTIO_BLK_S_IOERR,
	      "write across the end");
	CHECK(req(VIRTIO_BLK_T_IN, UINT64_MAX, 512, NULL) == VIRTIO_BLK_S_IOERR,
	      "sector 2^64-1");
	CHECK(req(VIRTIO_BLK_T_OUT, 1ULL << 55, 512, NULL) == VIRTIO_BLK_S_IOERR,
	      "sector 2^55");

	/* Data not whole sectors. */
	CHECK(req(VIRTIO_BLK_T_IN, 0, 511, NULL) == VIRTIO_BLK_S_IOERR, "511-byte read");
	CHECK(req(VIRTIO_BLK_T_OUT, 0, 513, NULL) == VIRTIO_BLK_S_IOERR, "513-byte write");

	/* No status byte: the chain comes back unused, nothing written. */
	put_hdr(VIRTIO_BLK_T_OUT, 0);
	used = chain((const struct seg[]){ { HDR, 16, false }, { DATA, 512, false } }, 2);
	CHECK(used == 0, "no status byte: used %u", used);
	put_hdr(VIRTIO_BLK_T_IN, 0);
	used = chain((const struct seg[]){ { HDR, 16, false } }, 1);
	CHECK(used == 0, "header only: used %u", used);

	/* Unknown and unsupported types. */
	CHECK(req(99, 0, 512, &used) == VIRTIO_BLK_S_UNSUPP && used == 1, "type 99");
	CHECK(req(VIRTIO_BLK_T_SCSI_CMD, 0, 0, NULL) == VIRTIO_BLK_S_UNSUPP, "SCSI_CMD");
	CHECK(req(VIRTIO_BLK_T_SECURE_ERASE, 0, 0, NULL) == VIRTIO_BLK_S_UNSUPP, "SECURE_ERASE");
	CHECK(req(VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER, 0, 512, NULL) == VIRTIO_BLK_S_UNSUPP,
	      "legacy barrier");

	/* Read-only: writes and zeroing refused, reads fine. */
	blk_dev.ro = true;
	CHECK(req(VIRTIO_BLK_T_OUT, 0, 512, NULL) == VIRTIO_BLK_S_IOERR, "write when read-only");
	CHECK(req(VIRTIO_BLK_T_IN, 0, 512, NULL) == VIRTIO_BLK_S_OK, "read when read-only");
	blk_dev.ro = false;
	return 0;
}

static int test_id_flush(void)
{
	uint32_t used;

	memset(mem + DATA, 0xaa, 32);
	CHECK(req(VIRTIO_BLK_T_GET_ID, 0, 20, &used) == VIRTIO_BLK_S_OK && used == 21,
	      "GET_ID: status %u used %u", mem[STATUS], used);
	CHECK(!memcmp(mem + DATA, "unit-serial-0123456", 20), "serial %.20s", mem + DATA);
	memset(mem + DATA, 0xaa, 32);
	CHECK(req(VIRTIO_BLK_T_GET_ID, 0, 4, &used) == VIRTIO_BLK_S_OK && used == 5 &&
	      !memcmp(mem + DATA, "unit", 4) && mem[DATA + 4] == 0xaa,
	      "GET_ID into 4 bytes: used %u", used);
	CHECK(req(VIRTIO_BLK_T_FLUSH, 0, 0, &used) == VIRTIO_BLK_S_OK && used == 1,
	      "FLUSH: status %u", mem[STATUS]);
	return 0;
}

/* DISCARD / WRITE_ZEROES with one range at DATA (or two). */
static int zero_req(uint32_t type, uint64_t sector, uint32_t n, uint32_t flags, int nseg)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector), .num_sectors = htole32(n), .flags = htole32(flags),
	};

	memcpy(mem + DATA, &seg, sizeof(seg));
	memcpy(mem + DATA + sizeof(seg), &seg, sizeof(seg));
	return req(type, 0, nseg * sizeof(seg), NULL);
}

static int test_zeroes(void)
{
	uint8_t back[1024], zero[1024] = { 0 };

	/* Sectors 8..15 hold data from test_rw. */
	CHECK(zero_req(VIRTIO_BLK_T_WRITE_ZEROES, 8, 2, 0, 1) == VIRTIO_BLK_S_OK,
	      "write zeroes: status %u", mem[STATUS]);
	CHECK(!file_pread(back, 1024, 8 * 512) && !memcmp(back, zero, 1024),
	      "write zeroes left data");
	CHECK(!file_pread(back, 512, 10 * 512) && memcmp(back, zero, 512),
	      "write zeroes went too far");
	CHECK(zero_req(VIRTIO_BLK_T_WRITE_ZEROES, 10, 2, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
		       1) == VIRTIO_BLK_S_OK, "write zeroes with UNMAP");
	CHECK(!file_pread(back, 1024, 10 * 512) && !memcmp(back, zero, 1024),
	      "write zeroes (UNMAP) left data");
	CHECK(zero_req(VIRTIO_BLK_T_DISCARD, 12, 4, 0, 1) == VIRTIO_BLK_S_OK,
	      "discard: status %u", mem[STATUS]);

	CHECK(zero_req(VIRTIO_BLK_T_DISCARD, 0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 1) ==
	      VIRTIO_BLK_S_UNSUPP, "discard with UNMAP");
	CHECK(zero_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 2, 1) == VIRTIO_BLK_S_UNSUPP,
	      "unknown flag");
	CHECK(zero_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0, 2) == VIRTIO_BLK_S_IOERR,
	      "two ranges");
	CHECK(zero_req(VIRTIO_BLK_T_DISCARD, SECTORS - 1, 2, 0, 1) == VIRTIO_BLK_S_IOERR,
	      "discard past the end");
	CHECK(zero_req(VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 2, 0, 1) == VIRTIO_BLK_S_IOERR,
	      "write zeroes wrapping");
	CHECK(req(VIRTIO_BLK_T_DISCARD, 0, 8, NULL) == VIRTIO_BLK_S_IOERR, "half a range");
	return 0;
}

static int set_size(uint64_t sectors)
{
	if (truncate(img, sectors * 512) < 0)
		return -errno;
	blk_resize(dev);
	return 0;
}

static int test_resize(void)
{
	struct virtio_blk_config c;

	CHECK(!set_size(2 * SECTORS), "grow: %s", strerror(errno));
	CHECK(blk_dev.capacity == 2 * SECTORS, "capacity %llu after growing",
	      (unsigned long long)blk_dev.capacity);
	CHECK(!get_config(&c) && le64toh(c.capacity) == 2 * SECTORS,
	      "config capacity %llu", (unsigned long long)le64toh(c.capacity));
	CHECK(req(VIRTIO_BLK_T_OUT, 2 * SECTORS - 1, 512, NULL) == VIRTIO_BLK_S_OK,
	      "write to the new last sector");
	CHECK(!set_size(SECTORS / 2), "shrink");
	CHECK(!get_config(&c) && le64toh(c.capacity) == SECTORS / 2,
	      "config capacity %llu after shrinking", (unsigned long long)le64toh(c.capacity));
	CHECK(req(VIRTIO_BLK_T_IN, SECTORS / 2, 512, NULL) == VIRTIO_BLK_S_IOERR,
	      "read beyond the shrunk end");
	CHECK(req(VIRTIO_BLK_T_IN, SECTORS / 2 - 1, 512, NULL) == VIRTIO_BLK_S_OK,
	      "read of the last sector after shrinking");
	CHECK(!set_size(SECTORS), "back to %u sectors", SECTORS);
	return 0;
}

/*
 * An answer whose status byte is no longer guest memory (the front-end
 * replaced the memory table while the request was in flight) is dropped,
 * not written.
 */
static int test_unmapped(void)
{
	struct blk_req *r = calloc(1, sizeof(*r));
	uint8_t outside = 0xee;
	uint16_t used = t_ring_used_idx(rqr);

	CHECK(r, "calloc");
	r->elem = calloc(1, sizeof(*r->elem));
	CHECK(r->elem, "calloc");
	r->vq = vlb_dev_vq(dev, 0);
	r->status = &outside;
	blk_complete(&blk_dev, r, VIRTIO_BLK_S_OK);
	CHECK(outside == 0xee, "status written outside guest memory");
	CHECK(t_ring_used_idx(rqr) == used, "an unmapped request was pushed");
	blk_dev.to_flush[0] = false;
	return 0;
}

/* Random chains: every one answered (or returned unused), nothing else. */
static int test_random(void)
{
	unsigned int i, j, n;
	uint32_t used;

	srand(1);
	for (i = 0; i < 5000; i++) {
		struct seg s[6];
		bool w = false;

		n = 1 + rand() % 6;
		for (j = 0; j < n; j++) {
			if (!w && rand() % 3 == 0)
				w = true;
			s[j] = (struct seg){ HDR + (rand() % 64) * 512 + rand() % 3,
					     rand() % 5 ? rand() % 2049 : 16, w };
			if (!s[j].len)
				s[j].len = 1;
		}
		put_hdr(rand() % 16, rand() % 4 ? (uint64_t)(rand() % (SECTORS + 4)) :
			((uint64_t)rand() << 40) | rand());
		used = chain(s, n);
		CHECK(used != UINT32_MAX, "random chain %u not answered", i);
	}
	CHECK(blk_dev.inflight == 0, "%u requests still in flight", blk_dev.inflight);
	return 0;
}

int main(void)
{
	struct io_uring probe;
	int ret, bad = 0;

	vlb_log_init("test_dev_blk", 0);
	ret = io_uring_queue_init(4, &probe, 0);
	if (ret) {
		printf("io_uring unavailable: %s\n", strerror(-ret));
		return T_EXIT_SKIP;
	}
	io_uring_queue_exit(&probe);
	bad |= test_options();
	if (sess_open())
		return T_EXIT_FAIL;
	bad |= test_config();
	bad |= test_rw();
	bad |= test_malformed();
	bad |= test_id_flush();
	bad |= test_zeroes();
	bad |= test_resize();
	bad |= test_unmapped();
	bad |= test_random();
	sess_close();
	if (bad && !failures)
		failures++;
	if (failures) {
		fprintf(stderr, "test_dev_blk: %d failed\n", failures);
		return T_EXIT_FAIL;
	}
	printf("test_dev_blk: all passed\n");
	return T_EXIT_PASS;
}
