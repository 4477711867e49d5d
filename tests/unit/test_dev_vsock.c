// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the packet rules of vhost-user-vsock, without a driver.
 *
 * The 44-byte header (virtio spec 5.10.6) decodes and encodes at the
 * spec's offsets, little-endian; vsock_pkt_check() accepts good packets
 * and answers each kind of bad one (source CID not the driver's,
 * destination not the host, type not STREAM, unknown op, length beyond
 * the buffer or above 64 KiB, payload on a control op, unknown SHUTDOWN
 * flags) with RST, or drops it when no answer is possible or the packet
 * is an RST; the host program's "CONNECT <port>" line parser refuses
 * garbage, overflow and VMADDR_PORT_ANY; the peer credit survives
 * 32-bit counter wrap-around and never goes negative.
 * The lab test (tests/lab/test_vsock_01.sh) drives the real driver.
 */
#include <endian.h>

#include "helpers.h"

#define main vsock_main
#include "../../devices/vsock/vhost-user-vsock.c"
#undef main

#define GUEST_CID	5

static int failures;

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: ", __func__, __LINE__);	\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			failures++;					\
			return 1;					\
		}							\
	} while (0)

static struct vsock_hdr good_hdr(uint16_t op, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = GUEST_CID, .dst_cid = VSOCK_HOST_CID,
		.src_port = 1234, .dst_port = 5000, .len = len,
		.type = VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = 262144, .fwd_cnt = 7,
	};
	return h;
}

static int test_hdr_layout(void)
{
	struct vsock_hdr h = {
		.src_cid = 0x0102030405060708ULL, .dst_cid = 2,
		.src_port = 0x11223344, .dst_port = 0x55667788, .len = 0x99,
		.type = 1, .op = 5, .flags = 3, .buf_alloc = 0xaabbccdd,
		.fwd_cnt = 0x01020304,
	}, back;
	uint8_t b[VSOCK_HDR_SIZE];

	memset(b, 0xee, sizeof(b));
	vsock_hdr_encode(&h, b);
	CHECK(b[0] == 0x08 && b[7] == 0x01, "src_cid not le64 at 0");
	CHECK(b[8] == 2 && b[15] == 0, "dst_cid not le64 at 8");
	CHECK(b[16] == 0x44 && b[19] == 0x11, "src_port not le32 at 16");
	CHECK(b[20] == 0x88 && b[23] == 0x55, "dst_port not le32 at 20");
	CHECK(b[24] == 0x99 && b[27] == 0, "len not le32 at 24");
	CHECK(b[28] == 1 && b[29] == 0, "type not le16 at 28");
	CHECK(b[30] == 5 && b[31] == 0, "op not le16 at 30");
	CHECK(b[32] == 3 && b[35] == 0, "flags not le32 at 32");
	CHECK(b[36] == 0xdd && b[39] == 0xaa, "buf_alloc not le32 at 36");
	CHECK(b[40] == 0x04 && b[43] == 0x01, "fwd_cnt not le32 at 40");
	vsock_hdr_decode(b, &back);
	CHECK(!memcmp(&h, &back, sizeof(h)), "decode(encode(h)) != h");
	return 0;
}

static int expect(const struct vsock_hdr *h, size_t payload,
		  enum vsock_verdict want, const char *what)
{
	const char *why;
	enum vsock_verdict got = vsock_pkt_check(h, payload, GUEST_CID, &why);

	if (got != want) {
		fprintf(stderr, "test_pkt_check: %s: verdict %d, expected %d (%s)\n",
			what, got, want, why ? why : "no reason");
		failures++;
		return 1;
	}
	if (want != VSOCK_PKT_OK && !why) {
		fprintf(stderr, "test_pkt_check: %s: refused without a reason\n", what);
		failures++;
		return 1;
	}
	return 0;
}

static int test_pkt_check(void)
{
	static const uint16_t ops[] = {
		VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE, VSOCK_OP_RST,
		VSOCK_OP_SHUTDOWN, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_CREDIT_REQUEST,
	};
	struct vsock_hdr h;
	unsigned int i;
	int bad = 0;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		h = good_hdr(ops[i], 0);
		bad |= expect(&h, 0, VSOCK_PKT_OK, "control op");
	}
	h = good_hdr(VSOCK_OP_RW, 4096);
	bad |= expect(&h, 4096, VSOCK_PKT_OK, "RW 4096 in 4096");
	bad |= expect(&h, 8192, VSOCK_PKT_OK, "RW 4096 in 8192 (tail ignored)");
	bad |= expect(&h, 4095, VSOCK_PKT_RST, "RW 4096 in 4095");
	h = good_hdr(VSOCK_OP_RW, VSOCK_MAX_PKT + 1);
	bad |= expect(&h, VSOCK_MAX_PKT + 1, VSOCK_PKT_RST, "RW above 64 KiB");
	h = good_hdr(VSOCK_OP_RW, 0xffffffff);
	bad |= expect(&h, 100, VSOCK_PKT_RST, "RW length 2^32-1");

	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.src_cid = 3;
	bad |= expect(&h, 0, VSOCK_PKT_DROP, "source CID 3");
	h.src_cid = (1ULL << 32) | GUEST_CID;
	bad |= expect(&h, 0, VSOCK_PKT_DROP, "source CID above 32 bits");
	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.dst_cid = 7;
	bad |= expect(&h, 0, VSOCK_PKT_RST, "destination CID 7");
	h.dst_cid = GUEST_CID;
	bad |= expect(&h, 0, VSOCK_PKT_RST, "destination is the driver itself");
	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.type = 2;	/* SEQPACKET, not negotiated */
	bad |= expect(&h, 0, VSOCK_PKT_RST, "type SEQPACKET");
	h.type = 0;
	bad |= expect(&h, 0, VSOCK_PKT_RST, "type 0");
	h = good_hdr(VSOCK_OP_INVALID, 0);
	bad |= expect(&h, 0, VSOCK_PKT_RST, "op INVALID");
	h = good_hdr(8, 0);
	bad |= expect(&h, 0, VSOCK_PKT_RST, "op 8");
	h = good_hdr(0xffff, 0);
	bad |= expect(&h, 0, VSOCK_PKT_RST, "op 0xffff");
	h = good_hdr(VSOCK_OP_REQUEST, 16);
	bad |= expect(&h, 16, VSOCK_PKT_RST, "REQUEST with payload");
	h = good_hdr(VSOCK_OP_SHUTDOWN, 0);
	h.flags = 4;
	bad |= expect(&h, 0, VSOCK_PKT_RST, "SHUTDOWN flags 4");
	h.flags = VSOCK_SHUTDOWN_BOTH;
	bad |= expect(&h, 0, VSOCK_PKT_OK, "SHUTDOWN both");

	/* An RST is never answered with an RST. */
	h = good_hdr(VSOCK_OP_RST, 0);
	h.type = 9;
	bad |= expect(&h, 0, VSOCK_PKT_DROP, "RST of a bad type");
	h = good_hdr(VSOCK_OP_RST, 10);
	bad |= expect(&h, 0, VSOCK_PKT_DROP, "RST with a length beyond its buffer");
	return bad;
}

static int test_connect_line(void)
{
	static const char *const bad[] = {
		"", "CONNECT", "CONNECT ", "CONNECT x", "CONNECT 12a", "CONNECT -1",
		"CONNECT  5", "CONNECT 5 ", "connect 5", "CONNECT 4294967295",
		"CONNECT 99999999999999999999999999", "CONNECT\t5", "CONNECT 5\r\r",
		"LISTEN 5",
	};
	uint32_t port;
	unsigned int i;

	CHECK(!vsock_parse_connect("CONNECT 5000", 12, &port) && port == 5000,
	      "CONNECT 5000 not parsed");
	CHECK(!vsock_parse_connect("CONNECT 5000\r", 13, &port) && port == 5000,
	      "CONNECT 5000\\r not parsed");
	CHECK(!vsock_parse_connect("CONNECT 0", 9, &port) && port == 0,
	      "CONNECT 0 not parsed");
	CHECK(!vsock_parse_connect("CONNECT 4294967294", 18, &port) && port == 4294967294U,
	      "CONNECT 4294967294 not parsed");
	/* The length counts, not a NUL: "CONNECT 12" of "CONNECT 123". */
	CHECK(!vsock_parse_connect("CONNECT 123", 10, &port) && port == 12,
	      "length not honoured");
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(vsock_parse_connect(bad[i], strlen(bad[i]), &port) == -EINVAL,
		      "\"%s\" accepted", bad[i]);
	return 0;
}

static int test_credit(void)
{
	struct conn c = { .peer_buf_alloc = 1000 };

	CHECK(conn_peer_credit(&c) == 1000, "fresh credit %u", conn_peer_credit(&c));
	c.tx_cnt = 600;
	c.peer_fwd_cnt = 100;
	CHECK(conn_peer_credit(&c) == 500, "credit %u, expected 500", conn_peer_credit(&c));
	c.tx_cnt = 5;
	c.peer_fwd_cnt = 0xfffffff0U;	/* 21 bytes in flight across the wrap */
	CHECK(conn_peer_credit(&c) == 979, "credit across wrap %u", conn_peer_credit(&c));
	c.tx_cnt = 1100;
	c.peer_fwd_cnt = 0;
	CHECK(conn_peer_credit(&c) == 0, "overdrawn credit %u", conn_peer_credit(&c));
	/* A driver that shrinks its buffer below what is in flight. */
	c.tx_cnt = 500;
	c.peer_buf_alloc = 100;
	CHECK(conn_peer_credit(&c) == 0, "shrunk buffer credit %u", conn_peer_credit(&c));
	return 0;
}

int main(void)
{
	test_hdr_layout();
	test_pkt_check();
	test_connect_line();
	test_credit();
	if (failures) {
		fprintf(stderr, "test_dev_vsock: %d failed\n", failures);
		return T_EXIT_FAIL;
	}
	printf("test_dev_vsock: all passed\n");
	return T_EXIT_PASS;
}
