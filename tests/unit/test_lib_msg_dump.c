// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the --verbose decoder of vhost-user messages
 * (lib/vlb_msg_dump.c) and the names it prints (lib/vlb_names.c).
 *
 * Real layouts (the structs of vhost_user.h, as the adapter and
 * qemu-storage-daemon send them) decode to exact lines; then lies and
 * garbage: size fields larger or smaller than the payload, nregions that
 * disagree with it, config sizes that overrun, unknown requests on both
 * channels, odd flags, every output buffer size, and random messages.
 * Each payload is copied into a heap block of exactly its length and each
 * output goes into one of exactly its size, so ASan catches any byte read
 * or written past them.
 */
#include <fcntl.h>

#include "helpers.h"
#include "vhost_user.h"
#include "vlb_log.h"
#include "vlb_msg_dump.h"
#include "vlb_names.h"

static int failures;

#define CHECK(cond, ...)	T_CHECK(cond, __VA_ARGS__)

static char line[2048];

/*
 * Decode with the payload in an exact-size heap block, and again into
 * every output size from 0 up, each an exact-size heap block: the length
 * returned never changes and the text is always a prefix of the full one.
 */
static const char *dump(uint32_t request, uint32_t flags, uint32_t size,
			const void *payload, size_t len, unsigned int nfds,
			bool backend)
{
	struct vhost_user_header hdr = {
		.request = request, .flags = flags, .size = size,
	};
	uint8_t *p = len ? malloc(len) : NULL;
	size_t n, want;

	if (len)
		memcpy(p, payload, len);
	want = vlb_msg_str(&hdr, p, len, nfds, backend, 2, line, sizeof(line));
	CHECK(want == strlen(line), "returned %zu for a %zu-byte line", want,
	      strlen(line));
	for (n = 0; n <= want + 1; n++) {
		char *out = n ? malloc(n) : NULL;
		size_t got = vlb_msg_str(&hdr, p, len, nfds, backend, 2, out, n);

		CHECK(got == want, "size %zu: returned %zu, not %zu", n, got, want);
		if (n)
			CHECK(strlen(out) < n && !strncmp(out, line, strlen(out)),
			      "size %zu: '%s' is not a prefix of '%s'", n, out, line);
		free(out);
	}
	free(p);
	return line;
}

#define EXPECT(got, want) \
	CHECK(!strcmp((got), (want)), "\n  got  '%s'\n  want '%s'", (got), (want))

static void test_names(void)
{
	EXPECT(vlb_protocol_feature_name(VHOST_USER_PROTOCOL_F_MQ), "MQ");
	EXPECT(vlb_protocol_feature_name(3), "REPLY_ACK");
	EXPECT(vlb_protocol_feature_name(9), "CONFIG");
	EXPECT(vlb_protocol_feature_name(12), "INFLIGHT_SHMFD");
	EXPECT(vlb_protocol_feature_name(19), "DEVICE_STATE");
	CHECK(!vlb_protocol_feature_name(20) && !vlb_protocol_feature_name(64) &&
	      !vlb_protocol_feature_name(~0U), "unknown protocol bits have names");
	EXPECT(vlb_vhost_request_name(VHOST_USER_SET_MEM_TABLE, false), "SET_MEM_TABLE");
	EXPECT(vlb_vhost_request_name(2, true), "CONFIG_CHANGE_MSG");
	CHECK(!vlb_vhost_request_name(35, false) &&
	      !vlb_vhost_request_name(VHOST_USER_REQUEST_MAX, false) &&
	      !vlb_vhost_request_name(0xffffffff, false) &&
	      !vlb_vhost_request_name(4, true) &&
	      !vlb_vhost_request_name(0xffffffff, true),
	      "unknown requests have names");
	EXPECT(vlb_feature_name(2, VHOST_USER_F_LOG_ALL), "LOG_ALL");
	EXPECT(vlb_feature_name(1, VHOST_USER_F_PROTOCOL_FEATURES), "PROTOCOL_FEATURES");
}

static void test_features(void)
{
	uint64_t v = (1ULL << 1) | (1ULL << 2) | (1ULL << 6) | (1ULL << 9) |
		     (1ULL << 28) | (1ULL << 30) | (1ULL << 32);

	EXPECT(dump(VHOST_USER_GET_FEATURES, 1, 0, NULL, 0, 0, false),
	       "GET_FEATURES flags 0x1 size 0 fds 0");
	EXPECT(dump(VHOST_USER_GET_FEATURES, 5, 8, &v, 8, 0, false),
	       "GET_FEATURES flags 0x5 (reply) size 8 fds 0: features 0x150000246 (SIZE_MAX,SEG_MAX,BLK_SIZE,FLUSH,RING_INDIRECT_DESC,PROTOCOL_FEATURES,VERSION_1)");
	v = (1ULL << 32) | (1ULL << 3) | (1ULL << 63);
	EXPECT(dump(VHOST_USER_SET_FEATURES, 9, 8, &v, 8, 0, false),
	       "SET_FEATURES flags 0x9 (need-reply) size 8 fds 0: features 0x8000000100000008 (bit3,VERSION_1,bit63)");
	v = 0;
	EXPECT(dump(VHOST_USER_SET_FEATURES, 1, 8, &v, 8, 0, false),
	       "SET_FEATURES flags 0x1 size 8 fds 0: features 0x0 ()");
	v = (1ULL << VHOST_USER_PROTOCOL_F_MQ) | (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	    (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
	    (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) | (1ULL << 40);
	EXPECT(dump(VHOST_USER_GET_PROTOCOL_FEATURES, 5, 8, &v, 8, 0, false),
	       "GET_PROTOCOL_FEATURES flags 0x5 (reply) size 8 fds 0: protocol features 0x10000001209 (MQ,REPLY_ACK,CONFIG,INFLIGHT_SHMFD,bit40)");
	v = 0xf;
	EXPECT(dump(VHOST_USER_GET_STATUS, 5, 8, &v, 8, 0, false),
	       "GET_STATUS flags 0x5 (reply) size 8 fds 0: status 0xf (ACKNOWLEDGE,DRIVER,DRIVER_OK,FEATURES_OK)");
	v = 0;
	EXPECT(dump(VHOST_USER_SET_STATUS, 9, 8, &v, 8, 0, false),
	       "SET_STATUS flags 0x9 (need-reply) size 8 fds 0: status 0x0 (RESET)");
	v = 4;
	EXPECT(dump(VHOST_USER_GET_QUEUE_NUM, 5, 8, &v, 8, 0, false),
	       "GET_QUEUE_NUM flags 0x5 (reply) size 8 fds 0: queues 4");
	v = 0;
	EXPECT(dump(VHOST_USER_SET_MEM_TABLE, 5, 8, &v, 8, 0, false),
	       "SET_MEM_TABLE flags 0x5 (reply) size 8 fds 0: ack 0 (ok)");
	v = 1;
	EXPECT(dump(VHOST_USER_SET_VRING_KICK, 5, 8, &v, 8, 0, false),
	       "SET_VRING_KICK flags 0x5 (reply) size 8 fds 0: ack 1 (failed)");
	v = 0x563412efcdabULL;
	EXPECT(dump(VHOST_USER_SEND_RARP, 1, 8, &v, 8, 0, false),
	       "SEND_RARP flags 0x1 size 8 fds 0: mac ab:cd:ef:12:34:56");
}

static void test_vrings(void)
{
	struct vhost_user_vring_state st = { .index = 1, .num = 256 };
	struct vhost_user_vring_addr a = {
		.index = 1, .desc_user_addr = 0x100000004000ULL,
		.used_user_addr = 0x100000005000ULL,
		.avail_user_addr = 0x100000004800ULL,
	};
	uint64_t u;

	EXPECT(dump(VHOST_USER_SET_VRING_NUM, 9, 8, &st, 8, 0, false),
	       "SET_VRING_NUM flags 0x9 (need-reply) size 8 fds 0: vring 1 num 256");
	st.num = 17;
	EXPECT(dump(VHOST_USER_SET_VRING_BASE, 1, 8, &st, 8, 0, false),
	       "SET_VRING_BASE flags 0x1 size 8 fds 0: vring 1 base 17");
	EXPECT(dump(VHOST_USER_GET_VRING_BASE, 1, 8, &st, 8, 0, false),
	       "GET_VRING_BASE flags 0x1 size 8 fds 0: vring 1");
	EXPECT(dump(VHOST_USER_GET_VRING_BASE, 5, 8, &st, 8, 0, false),
	       "GET_VRING_BASE flags 0x5 (reply) size 8 fds 0: vring 1 base 17");
	st.num = 1;
	EXPECT(dump(VHOST_USER_SET_VRING_ENABLE, 9, 8, &st, 8, 0, false),
	       "SET_VRING_ENABLE flags 0x9 (need-reply) size 8 fds 0: vring 1 enable 1");
	EXPECT(dump(VHOST_USER_SET_VRING_ADDR, 9, sizeof(a), &a, sizeof(a), 0, false),
	       "SET_VRING_ADDR flags 0x9 (need-reply) size 40 fds 0: vring 1 flags 0x0 desc 0x100000004000 used 0x100000005000 avail 0x100000004800 log 0x0");
	u = 2;
	EXPECT(dump(VHOST_USER_SET_VRING_KICK, 9, 8, &u, 8, 1, false),
	       "SET_VRING_KICK flags 0x9 (need-reply) size 8 fds 1: vring 2");
	u = 0x100;
	EXPECT(dump(VHOST_USER_SET_VRING_CALL, 1, 8, &u, 8, 0, false),
	       "SET_VRING_CALL flags 0x1 size 8 fds 0: vring 0 nofd");
	u = 0xdead0003;
	EXPECT(dump(VHOST_USER_SET_VRING_ERR, 1, 8, &u, 8, 1, false),
	       "SET_VRING_ERR flags 0x1 size 8 fds 1: vring 3 (u64 0xdead0003)");
	/* Lies about the size: too short, then longer than the layout. */
	EXPECT(dump(VHOST_USER_SET_VRING_ADDR, 1, 12, &a, 12, 0, false),
	       "SET_VRING_ADDR flags 0x1 size 12 fds 0: short payload, 12 bytes, 40 expected; payload 01 00 00 00 00 00 00 00 00 40 00 00");
	EXPECT(dump(VHOST_USER_SET_VRING_NUM, 1, 40, &a, 40, 0, false),
	       "SET_VRING_NUM flags 0x1 size 40 fds 0: vring 1 num 0 (32 more bytes)");
	EXPECT(dump(VHOST_USER_SET_VRING_NUM, 1, 4096, &st, 8, 0, false),
	       "SET_VRING_NUM flags 0x1 size 4096 fds 0: vring 1 num 1 (8 of 4096 payload bytes present)");
	/* The header's size wins over bytes beyond it. */
	EXPECT(dump(VHOST_USER_SET_VRING_NUM, 1, 4, &st, 8, 0, false),
	       "SET_VRING_NUM flags 0x1 size 4 fds 0: short payload, 4 bytes, 8 expected; payload 01 00 00 00");
}

static void set_nregions(uint8_t *p, uint32_t n)
{
	memcpy(p, &n, sizeof(n));
}

static void test_mem_table(void)
{
	struct vhost_user_mem_table t = {
		.nregions = 2,
		.regions = {
			{ 0, 0x4000000, 0x100000000000ULL, 0 },
			{ 0x80000000ULL, 0x200000, 0x100080000000ULL, 0x1000 },
		},
	};
	struct vhost_user_header hdr = {
		.request = VHOST_USER_SET_MEM_TABLE, .flags = 9,
	};
	size_t len = offsetof(struct vhost_user_mem_table, regions) +
		     2 * sizeof(t.regions[0]);
	struct vhost_user_mem_reg r = { .region = t.regions[1] };
	uint8_t *p;
	char out[256];

	EXPECT(dump(VHOST_USER_SET_MEM_TABLE, 9, len, &t, len, 2, false),
	       "SET_MEM_TABLE flags 0x9 (need-reply) size 72 fds 2: nregions 2");
	hdr.size = len;
	p = malloc(len);
	memcpy(p, &t, len);
	CHECK(vlb_msg_region_str(&hdr, p, len, false, 0, out, sizeof(out)), "no region 0");
	EXPECT(out, "region 0: gpa 0x0 size 0x4000000 uaddr 0x100000000000 mmap_offset 0x0");
	CHECK(vlb_msg_region_str(&hdr, p, len, false, 1, out, sizeof(out)), "no region 1");
	EXPECT(out, "region 1: gpa 0x80000000 size 0x200000 uaddr 0x100080000000 mmap_offset 0x1000");
	CHECK(!vlb_msg_region_str(&hdr, p, len, false, 2, out, sizeof(out)) && !*out,
	      "a third region");
	CHECK(!vlb_msg_region_str(&hdr, p, len, true, 0, out, sizeof(out)),
	      "regions on the back-end channel");
	hdr.flags = 5;
	CHECK(!vlb_msg_region_str(&hdr, p, len, false, 0, out, sizeof(out)),
	      "regions in a reply");
	hdr.flags = 9;

	/* nregions lies: more than the payload holds, then fewer. */
	set_nregions(p, 200);
	EXPECT(dump(VHOST_USER_SET_MEM_TABLE, 9, len, p, len, 1, false),
	       "SET_MEM_TABLE flags 0x9 (need-reply) size 72 fds 1: nregions 200 (2 in the payload)");
	CHECK(!vlb_msg_region_str(&hdr, p, len, false, 2, out, sizeof(out)),
	      "region 2 of 200 read past the payload");
	set_nregions(p, 1);
	CHECK(!vlb_msg_region_str(&hdr, p, len, false, 1, out, sizeof(out)),
	      "region 1 of 1");
	/* A region cut in half. */
	set_nregions(p, 2);
	hdr.size = len - 16;
	CHECK(!vlb_msg_region_str(&hdr, p, len - 16, false, 1, out, sizeof(out)),
	      "half a region");
	CHECK(vlb_msg_region_str(&hdr, p, len - 16, false, 0, out, 0) > 0,
	      "region 0 into no buffer");
	free(p);
	EXPECT(dump(VHOST_USER_SET_MEM_TABLE, 1, 4, &t, 4, 0, false),
	       "SET_MEM_TABLE flags 0x1 size 4 fds 0: short payload, 4 bytes, 8 expected; payload 02 00 00 00");

	EXPECT(dump(VHOST_USER_ADD_MEM_REG, 9, sizeof(r), &r, sizeof(r), 1, false),
	       "ADD_MEM_REG flags 0x9 (need-reply) size 40 fds 1: gpa 0x80000000 size 0x200000 uaddr 0x100080000000 mmap_offset 0x1000");
}

static void test_config(void)
{
	struct vhost_user_config c = { .offset = 0, .size = 8 };
	uint8_t data[8] = { 0x00, 0x00, 0x20, 0x00, 0, 0, 0, 0 };

	EXPECT(dump(VHOST_USER_GET_CONFIG, 1, VHOST_USER_CONFIG_HDR_SIZE + 8, &c,
		    VHOST_USER_CONFIG_HDR_SIZE + 8, 0, false),
	       "GET_CONFIG flags 0x1 size 20 fds 0: offset 0 size 8 flags 0x0 data 00 00 00 00 00 00 00 00");
	memcpy(c.region, data, sizeof(data));
	EXPECT(dump(VHOST_USER_GET_CONFIG, 5, VHOST_USER_CONFIG_HDR_SIZE + 8, &c,
		    VHOST_USER_CONFIG_HDR_SIZE + 8, 0, false),
	       "GET_CONFIG flags 0x5 (reply) size 20 fds 0: offset 0 size 8 flags 0x0 data 00 00 20 00 00 00 00 00");
	/* A size that overruns what came, and data longer than the hex shows. */
	c.offset = 20;
	c.size = 0xffffffff;
	EXPECT(dump(VHOST_USER_SET_CONFIG, 9, VHOST_USER_CONFIG_HDR_SIZE + 4, &c,
		    VHOST_USER_CONFIG_HDR_SIZE + 4, 0, false),
	       "SET_CONFIG flags 0x9 (need-reply) size 16 fds 0: offset 20 size 4294967295 flags 0x0 (4 data bytes) data 00 00 20 00");
	c.size = 40;
	EXPECT(dump(VHOST_USER_SET_CONFIG, 1, VHOST_USER_CONFIG_HDR_SIZE + 40, &c,
		    VHOST_USER_CONFIG_HDR_SIZE + 40, 0, false),
	       "SET_CONFIG flags 0x1 size 52 fds 0: offset 20 size 40 flags 0x0 data 00 00 20 00 00 00 00 00 00 00 00 00 00 00 00 00 ...");
	EXPECT(dump(VHOST_USER_GET_CONFIG, 5, 8, &c, 8, 0, false),
	       "GET_CONFIG flags 0x5 (reply) size 8 fds 0: short payload, 8 bytes, 12 expected; payload 14 00 00 00 28 00 00 00");
}

static void test_unknown(void)
{
	uint8_t junk[40];
	unsigned int i;
	uint64_t u = 0;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = i;
	EXPECT(dump(35, 1, 3, junk, 3, 0, false),
	       "35 flags 0x1 size 3 fds 0: payload 00 01 02");
	EXPECT(dump(0xffffffff, 0xffffffff, 40, junk, 40, 8, false),
	       "4294967295 flags 0xffffffff (version 3,reply,need-reply) size 40 fds 8: payload 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f ...");
	EXPECT(dump(VHOST_USER_REQUEST_MAX, 0, 0, NULL, 0, 0, false),
	       "41 flags 0x0 (version 0) size 0 fds 0");
	/* A request with no payload that has one anyway. */
	EXPECT(dump(VHOST_USER_GET_FEATURES, 1, 2, junk, 2, 0, false),
	       "GET_FEATURES flags 0x1 size 2 fds 0: payload 00 01");
	/* Requests nobody decodes: the crypto and postcopy ones. */
	EXPECT(dump(VHOST_USER_POSTCOPY_ADVISE, 1, 0, NULL, 0, 0, false),
	       "POSTCOPY_ADVISE flags 0x1 size 0 fds 0");
	/* A size with no bytes behind it. */
	EXPECT(dump(VHOST_USER_SET_FEATURES, 1, 8, NULL, 0, 0, false),
	       "SET_FEATURES flags 0x1 size 8 fds 0: short payload, 0 bytes, 8 expected (0 of 8 payload bytes present)");

	/* The back-end channel. */
	EXPECT(dump(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 9, 0, NULL, 0, 0, true),
	       "BACKEND_CONFIG_CHANGE_MSG flags 0x9 (need-reply) size 0 fds 0");
	EXPECT(dump(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 5, 8, &u, 8, 0, true),
	       "BACKEND_CONFIG_CHANGE_MSG flags 0x5 (reply) size 8 fds 0: ack 0 (ok)");
	EXPECT(dump(7, 1, 2, junk, 2, 0, true),
	       "BACKEND_7 flags 0x1 size 2 fds 0: payload 00 01");
	{
		struct vhost_user_vring_area a = { 0x101, 0x1000, 0x2000 };
		struct vhost_user_iotlb t = { 0x1000, 0x2000, 0x3000, 3, 2 };

		EXPECT(dump(VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 1, sizeof(a), &a,
			    sizeof(a), 0, true),
		       "BACKEND_VRING_HOST_NOTIFIER_MSG flags 0x1 size 24 fds 0: vring 1 nofd size 0x1000 offset 0x2000");
		EXPECT(dump(VHOST_USER_BACKEND_IOTLB_MSG, 1, sizeof(t), &t, sizeof(t), 0, true),
		       "BACKEND_IOTLB_MSG flags 0x1 size 26 fds 0: iova 0x1000 size 0x2000 uaddr 0x3000 perm 3 type 2");
	}
}

/* Random headers and payloads: only ASan/UBSan and the return value judge. */
static void test_random(void)
{
	uint8_t buf[400];
	unsigned int i, j;

	srand(7);
	for (i = 0; i < 20000; i++) {
		struct vhost_user_header hdr;
		size_t len = (size_t)rand() % sizeof(buf), outsz = (size_t)rand() % 300;
		bool backend = rand() & 1;
		uint8_t *p = len ? malloc(len) : NULL;
		char *out = outsz ? malloc(outsz) : NULL;
		char region[160];
		size_t want;

		for (j = 0; j < len; j++)
			p[j] = (uint8_t)rand();
		hdr.request = rand() % 4 ? (uint32_t)rand() % 45 : (uint32_t)rand();
		hdr.flags = rand() % 3 ? (uint32_t)rand() % 16 : (uint32_t)rand();
		hdr.size = rand() % 2 ? (uint32_t)len : (uint32_t)rand() % 600;
		/* Small nregions now and then, so regions get printed. */
		if (len >= 4 && rand() % 2)
			p[0] = rand() % 10, p[1] = p[2] = p[3] = 0;
		want = vlb_msg_str(&hdr, p, len, 1, backend, i % 50, line, sizeof(line));
		CHECK(want == strlen(line), "random %u: length %zu", i, want);
		CHECK(vlb_msg_str(&hdr, p, len, 1, backend, i % 50, out, outsz) == want,
		      "random %u: another length into %zu bytes", i, outsz);
		for (j = 0; j < 300; j++)
			if (!vlb_msg_region_str(&hdr, p, len, backend, j, region,
						sizeof(region)))
				break;
		CHECK(j <= VHOST_USER_MAX_MEM_REGIONS + (len / 32),
		      "random %u: %u regions from %zu bytes", i, j, len);
		free(p);
		free(out);
	}
}

/* vlb_msg_dbg() prints the lines through vlb_log, and nothing when off. */
static void test_log(void)
{
	struct vhost_user_msg m = { 0 };
	char path[] = "/tmp/test_lib_msg_dump.XXXXXX";
	char text[4096] = "", want[1024];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	CHECK(fd >= 0 && saved >= 0, "mkstemp/dup: %s", strerror(errno));
	if (fd < 0 || saved < 0)
		return;
	unlink(path);
	m.hdr.request = VHOST_USER_SET_MEM_TABLE;
	m.hdr.flags = 1;
	m.hdr.size = offsetof(struct vhost_user_mem_table, regions) +
		     sizeof(struct vhost_user_mem_region);
	m.payload.memory.nregions = 1;
	m.payload.memory.regions[0].memory_size = 0x1000;
	m.nfds = 1;

	dup2(fd, STDERR_FILENO);
	vlb_log_init("prog", 0);
	vlb_msg_dbg("sock", "->", &m, false, 2);
	vlb_log_init("prog", VLB_DBG_MSG);
	vlb_msg_dbg("sock", "->", &m, false, 2);
	/* A size the union cannot hold is clamped to it. */
	m.hdr.request = 99;
	m.hdr.size = 0xffffffff;
	vlb_msg_dbg("sock", "<-", &m, false, 2);
	vlb_log_init("prog", 0);
	dup2(saved, STDERR_FILENO);
	close(saved);

	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	CHECK(n > 0, "nothing logged");
	if (n <= 0)
		return;
	text[n] = '\0';
	snprintf(want, sizeof(want),
		 "prog: debug: sock: -> SET_MEM_TABLE flags 0x1 size 40 fds 1: nregions 1\nprog: debug: sock: -> SET_MEM_TABLE region 0: gpa 0x0 size 0x1000 uaddr 0x0 mmap_offset 0x0\nprog: debug: sock: <- 99 flags 0x1 size 4294967295 fds 1: payload 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ... (%zu of 4294967295 payload bytes present)\n", sizeof(m.payload));
	EXPECT(text, want);
}

int main(void)
{
	test_names();
	test_features();
	test_vrings();
	test_mem_table();
	test_config();
	test_unknown();
	test_random();
	test_log();
	if (failures) {
		fprintf(stderr, "test_lib_msg_dump: %d failures\n", failures);
		return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}
