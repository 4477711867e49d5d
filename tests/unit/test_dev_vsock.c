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
 * Then the device in this process behind a vhost-user front-end of ours:
 * bad packets on the tx queue give an RST on the rx queue (addresses
 * swapped) or nothing, and are counted; a connection to a unix listener
 * carries data both ways without ever exceeding the credit the driver
 * gave; a driver that overruns our credit is reset; SHUTDOWN of both
 * directions ends in RST and end of file on the unix side; a host program
 * gets "OK <port>" after RESPONSE and "ERR ..." for a bad line.
 * The lab test (tests/lab/test_vsock_01.sh) drives the real driver.
 */
#include <endian.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "helpers.h"
#include "unit/t_vring.h"

#define main vsock_main
#include "../../devices/vsock/vhost-user-vsock.c"
#undef main

#define GUEST_CID	5

static int failures;

#define CHECK(cond, ...)	T_CHECK(cond, __VA_ARGS__)

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
	if (!CHECK(b[0] == 0x08 && b[7] == 0x01, "src_cid not le64 at 0"))
		return 1;
	if (!CHECK(b[8] == 2 && b[15] == 0, "dst_cid not le64 at 8"))
		return 1;
	if (!CHECK(b[16] == 0x44 && b[19] == 0x11, "src_port not le32 at 16"))
		return 1;
	if (!CHECK(b[20] == 0x88 && b[23] == 0x55, "dst_port not le32 at 20"))
		return 1;
	if (!CHECK(b[24] == 0x99 && b[27] == 0, "len not le32 at 24"))
		return 1;
	if (!CHECK(b[28] == 1 && b[29] == 0, "type not le16 at 28"))
		return 1;
	if (!CHECK(b[30] == 5 && b[31] == 0, "op not le16 at 30"))
		return 1;
	if (!CHECK(b[32] == 3 && b[35] == 0, "flags not le32 at 32"))
		return 1;
	if (!CHECK(b[36] == 0xdd && b[39] == 0xaa, "buf_alloc not le32 at 36"))
		return 1;
	if (!CHECK(b[40] == 0x04 && b[43] == 0x01, "fwd_cnt not le32 at 40"))
		return 1;
	vsock_hdr_decode(b, &back);
	if (!CHECK(back.src_cid == h.src_cid && back.dst_cid == h.dst_cid &&
		   back.src_port == h.src_port && back.dst_port == h.dst_port &&
		   back.len == h.len && back.type == h.type && back.op == h.op &&
		   back.flags == h.flags && back.buf_alloc == h.buf_alloc &&
		   back.fwd_cnt == h.fwd_cnt, "decode(encode(h)) != h"))
		return 1;
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

	if (!CHECK(!vsock_parse_connect("CONNECT 5000", 12, &port) && port == 5000,
		      "CONNECT 5000 not parsed"))
		return 1;
	if (!CHECK(!vsock_parse_connect("CONNECT 5000\r", 13, &port) && port == 5000,
		      "CONNECT 5000\\r not parsed"))
		return 1;
	if (!CHECK(!vsock_parse_connect("CONNECT 0", 9, &port) && port == 0,
		      "CONNECT 0 not parsed"))
		return 1;
	if (!CHECK(!vsock_parse_connect("CONNECT 4294967294", 18, &port) && port == 4294967294U,
		      "CONNECT 4294967294 not parsed"))
		return 1;
	/* The length counts, not a NUL: "CONNECT 12" of "CONNECT 123". */
	if (!CHECK(!vsock_parse_connect("CONNECT 123", 10, &port) && port == 12,
		      "length not honoured"))
		return 1;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (!CHECK(vsock_parse_connect(bad[i], strlen(bad[i]), &port) == -EINVAL,
			      "\"%s\" accepted", bad[i]))
			return 1;
	return 0;
}

static int test_credit(void)
{
	struct conn c = { .peer_buf_alloc = 1000 };

	if (!CHECK(conn_peer_credit(&c) == 1000, "fresh credit %u", conn_peer_credit(&c)))
		return 1;
	c.tx_cnt = 600;
	c.peer_fwd_cnt = 100;
	if (!CHECK(conn_peer_credit(&c) == 500, "credit %u, expected 500", conn_peer_credit(&c)))
		return 1;
	c.tx_cnt = 5;
	c.peer_fwd_cnt = 0xfffffff0U;	/* 21 bytes in flight across the wrap */
	if (!CHECK(conn_peer_credit(&c) == 979, "credit across wrap %u", conn_peer_credit(&c)))
		return 1;
	c.tx_cnt = 1100;
	c.peer_fwd_cnt = 0;
	if (!CHECK(conn_peer_credit(&c) == 0, "overdrawn credit %u", conn_peer_credit(&c)))
		return 1;
	/* A driver that shrinks its buffer below what is in flight. */
	c.tx_cnt = 500;
	c.peer_buf_alloc = 100;
	if (!CHECK(conn_peer_credit(&c) == 0, "shrunk buffer credit %u", conn_peer_credit(&c)))
		return 1;
	return 0;
}


/* The device in this process, driven through the vring ------------------ */

#define MEM_SIZE	(4 * 1024 * 1024)
#define QVA		0x20000000ULL
#define NUM		64
#define RX_DESC		0x1000
#define RX_AVAIL	0x2000
#define RX_USED		0x3000
#define TX_DESC		0x4000
#define TX_AVAIL	0x5000
#define TX_USED		0x6000
#define RX_BUFS		0x10000
#define RX_BUF		8192
#define TX_BUFS		0x100000
#define TX_SLOT		0x11000
#define TX_SLOTS	32

struct sess {
	struct t_sess t;
	unsigned int txd;
	char dir[64];
	char path[128];
};

static int sess_open(struct sess *s)
{
	uint64_t feat = (1ULL << VLB_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	int ret, i;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/test_dev_vsock.XXXXXX");
	if (!mkdtemp(s->dir))
		return t_fail("mkdtemp: %s", strerror(errno));
	snprintf(s->path, sizeof(s->path), "%s/u", s->dir);
	vsock.uds_path = s->path;
	vsock.guest_cid = GUEST_CID;
	if (t_sess_new(&s->t, &vsock_iface, VSOCK_QUEUES, &vsock, "vsock-test", MEM_SIZE))
		return 1;
	ret = vsock_setup(s->t.dev);
	if (ret)
		return t_fail("vsock_setup: %s", strerror(-ret));
	if (t_sess_connect(&s->t, feat, QVA))
		return 1;
	t_sess_ring(&s->t, VSOCK_RXQ, NUM, RX_DESC, RX_AVAIL, RX_USED);
	t_sess_ring(&s->t, VSOCK_TXQ, NUM, TX_DESC, TX_AVAIL, TX_USED);
	for (i = 0; i < NUM; i++) {
		t_ring_desc(&s->t.ring[VSOCK_RXQ], i, RX_BUFS + (uint64_t)i * RX_BUF, RX_BUF,
			    T_DESC_F_WRITE, 0);
		t_ring_post(&s->t.ring[VSOCK_RXQ], i);
	}
	return t_sess_start(&s->t, 2);
}

static void sess_close(struct sess *s)
{
	char p[160];

	t_sess_close(&s->t, vsock_teardown);
	snprintf(p, sizeof(p), "%s/u_6000", s->dir);
	unlink(p);
	rmdir(s->dir);
}

/* Post one packet on tx (header and payload in separate descriptors). */
static void sess_send(struct sess *s, const struct vsock_hdr *h, const void *data,
		      uint32_t len)
{
	unsigned int slot = s->txd % TX_SLOTS, d = (2 * s->txd) % NUM;
	uint64_t a = TX_BUFS + (uint64_t)slot * TX_SLOT;

	vsock_hdr_encode(h, s->t.mem + a);
	if (len) {
		memcpy(s->t.mem + a + VSOCK_HDR_SIZE, data, len);
		t_ring_desc(&s->t.ring[VSOCK_TXQ], d, a, VSOCK_HDR_SIZE, T_DESC_F_NEXT, (d + 1) % NUM);
		t_ring_desc(&s->t.ring[VSOCK_TXQ], (d + 1) % NUM, a + VSOCK_HDR_SIZE, len, 0, 0);
	} else {
		t_ring_desc(&s->t.ring[VSOCK_TXQ], d, a, VSOCK_HDR_SIZE, 0, 0);
	}
	t_ring_post(&s->t.ring[VSOCK_TXQ], d);
	s->txd++;
	vsock_queue_kick(s->t.dev, VSOCK_TXQ);
}

/* A raw tx buffer of @len bytes (for packets shorter than a header). */
static void sess_send_raw(struct sess *s, uint32_t len)
{
	unsigned int d = (2 * s->txd) % NUM;

	memset(s->t.mem + TX_BUFS, 0, len);
	t_ring_desc(&s->t.ring[VSOCK_TXQ], d, TX_BUFS, len, 0, 0);
	t_ring_post(&s->t.ring[VSOCK_TXQ], d);
	s->txd++;
	vsock_queue_kick(s->t.dev, VSOCK_TXQ);
}

/* Run what the unix sockets have for the device. */
static void sess_poll(struct sess *s)
{
	int i;

	for (i = 0; i < 10; i++) {
		vsock_epoll_cb(s->t.dev, vsock.epfd, POLLIN, &vsock);
		usleep(1000);
	}
}

/* Take the next rx packet: 0, or -EAGAIN when none; re-posts the buffer. */
static int sess_recv(struct sess *s, struct vsock_hdr *h, void *data, size_t cap)
{
	uint32_t id, len;
	const uint8_t *b;

	if (t_ring_get_used(&s->t.ring[VSOCK_RXQ], &id, &len))
		return -EAGAIN;
	b = s->t.mem + RX_BUFS + (uint64_t)id * RX_BUF;
	vsock_hdr_decode(b, h);
	if (len != VSOCK_HDR_SIZE + h->len) {
		t_fail("%s: used length %u for a %u-byte payload", __func__, len, h->len);
		failures++;
	}
	if (data && h->len <= cap)
		memcpy(data, b + VSOCK_HDR_SIZE, h->len);
	t_ring_desc(&s->t.ring[VSOCK_RXQ], id, RX_BUFS + (uint64_t)id * RX_BUF, RX_BUF, T_DESC_F_WRITE, 0);
	t_ring_post(&s->t.ring[VSOCK_RXQ], id);
	return 0;
}

static int expect_op(struct sess *s, uint16_t op, uint32_t src_port, uint32_t dst_port,
		     struct vsock_hdr *out, const char *what)
{
	struct vsock_hdr h;

	if (sess_recv(s, &h, NULL, 0))
		return t_fail("%s: no packet on rx, expected op %u", what, op);
	if (h.op != op || h.src_port != src_port || h.dst_port != dst_port ||
	    h.dst_cid != GUEST_CID || h.type != VSOCK_TYPE_STREAM)
		return t_fail("%s: got op %u %u:%u -> %u:%u, expected op %u %u -> %u", what,
			      h.op, (unsigned int)h.src_cid, h.src_port,
			      (unsigned int)h.dst_cid, h.dst_port, op, src_port, dst_port);
	if (out)
		*out = h;
	return 0;
}

static int expect_nothing(struct sess *s, const char *what)
{
	struct vsock_hdr h;

	if (!sess_recv(s, &h, NULL, 0))
		return t_fail("%s: unexpected op %u on rx", what, h.op);
	return 0;
}

static int test_bad_packets(struct sess *s)
{
	struct vsock_hdr h, r;
	uint64_t bad0 = vsock.stats.bad_pkts;

	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.dst_cid = 7;
	sess_send(s, &h, NULL, 0);
	if (expect_op(s, VSOCK_OP_RST, 5000, 1234, &r, "REQUEST to CID 7"))
		return 1;
	if (r.src_cid != 7)
		return t_fail("RST to CID 7 comes from CID %u", (unsigned int)r.src_cid);
	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.src_cid = 9;
	sess_send(s, &h, NULL, 0);
	if (expect_nothing(s, "source CID 9"))
		return 1;
	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.type = 2;
	sess_send(s, &h, NULL, 0);
	if (expect_op(s, VSOCK_OP_RST, 5000, 1234, NULL, "SEQPACKET REQUEST"))
		return 1;
	h = good_hdr(9, 0);
	sess_send(s, &h, NULL, 0);
	if (expect_op(s, VSOCK_OP_RST, 5000, 1234, NULL, "op 9"))
		return 1;
	h = good_hdr(VSOCK_OP_RW, 100);
	sess_send(s, &h, "0123456789", 10);
	if (expect_op(s, VSOCK_OP_RST, 5000, 1234, NULL, "RW len 100 in 10 bytes"))
		return 1;
	sess_send_raw(s, 20);
	if (expect_nothing(s, "20-byte packet"))
		return 1;
	if (vsock.stats.bad_pkts - bad0 != 6)
		return t_fail("%llu bad packets counted, expected 6",
			      (unsigned long long)(vsock.stats.bad_pkts - bad0));
	/* Not malformed, but for no connection: RST, except for an RST. */
	h = good_hdr(VSOCK_OP_RST, 0);
	sess_send(s, &h, NULL, 0);
	if (expect_nothing(s, "RST of no connection"))
		return 1;
	h = good_hdr(VSOCK_OP_RW, 3);
	sess_send(s, &h, "abc", 3);
	if (expect_op(s, VSOCK_OP_RST, 5000, 1234, NULL, "RW of no connection"))
		return 1;
	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.dst_port = 4444;
	sess_send(s, &h, NULL, 0);
	if (expect_op(s, VSOCK_OP_RST, 4444, 1234, NULL, "REQUEST, no PATH_4444"))
		return 1;
	if (vsock.stats.bad_pkts - bad0 != 6)
		return t_fail("valid packets counted as bad");
	return 0;
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8))
		return -1;
	return fd;
}

static int test_guest_conn(struct sess *s)
{
	char path[160], buf[64];
	struct vsock_hdr h, r;
	uint8_t big[VSOCK_MAX_PKT];
	int lfd, afd, i, overrun = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s_6000", s->path);
	lfd = listen_at(path);
	if (lfd < 0)
		return t_fail("listen %s: %s", path, strerror(errno));
	/* The driver's buffer: 4 bytes, to watch the credit. */
	h = good_hdr(VSOCK_OP_REQUEST, 0);
	h.dst_port = 6000;
	h.buf_alloc = 4;
	h.fwd_cnt = 0;
	sess_send(s, &h, NULL, 0);
	if (expect_op(s, VSOCK_OP_RESPONSE, 6000, 1234, &r, "REQUEST to 6000"))
		return 1;
	if (r.buf_alloc != VSOCK_BUF_ALLOC || r.fwd_cnt != 0)
		return t_fail("RESPONSE credit %u/%u", r.buf_alloc, r.fwd_cnt);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		return t_fail("accept: %s", strerror(errno));
	h = good_hdr(VSOCK_OP_RW, 5);
	h.dst_port = 6000;
	h.buf_alloc = 4;
	h.fwd_cnt = 0;
	sess_send(s, &h, "hello", 5);
	n = read(afd, buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "hello", 5))
		return t_fail("unix side read %zd bytes, expected hello", n);
	if (write(afd, "0123456789", 10) != 10)
		return t_fail("write: %s", strerror(errno));
	sess_poll(s);
	if (sess_recv(s, &r, buf, sizeof(buf)) || r.op != VSOCK_OP_RW || r.len != 4 ||
	    memcmp(buf, "0123", 4))
		return t_fail("with 4 bytes of credit: op %u len %u", r.op, r.len);
	if (!sess_recv(s, &r, NULL, 0) && r.op == VSOCK_OP_RW)
		return t_fail("RW beyond the driver's credit");
	/* The driver read 4: 4 more. */
	h = good_hdr(VSOCK_OP_CREDIT_UPDATE, 0);
	h.dst_port = 6000;
	h.buf_alloc = 4;
	h.fwd_cnt = 4;
	sess_send(s, &h, NULL, 0);
	sess_poll(s);
	if (sess_recv(s, &r, buf, sizeof(buf)) || r.op != VSOCK_OP_RW || r.len != 4 ||
	    memcmp(buf, "4567", 4))
		return t_fail("after CREDIT_UPDATE: op %u len %u", r.op, r.len);
	/* CREDIT_REQUEST is answered with our credit. */
	h = good_hdr(VSOCK_OP_CREDIT_REQUEST, 0);
	h.dst_port = 6000;
	h.buf_alloc = 4;
	h.fwd_cnt = 4;
	sess_send(s, &h, NULL, 0);
	if (expect_op(s, VSOCK_OP_CREDIT_UPDATE, 6000, 1234, &r, "CREDIT_REQUEST"))
		return 1;
	if (r.fwd_cnt != 5)
		return t_fail("CREDIT_UPDATE fwd_cnt %u, expected 5", r.fwd_cnt);
	/* A driver beyond our credit (nobody reads the unix side): reset. */
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 32 && !overrun; i++) {
		h = good_hdr(VSOCK_OP_RW, sizeof(big));
		h.dst_port = 6000;
		h.buf_alloc = 4;
		h.fwd_cnt = 4;
		sess_send(s, &h, big, sizeof(big));
		while (!sess_recv(s, &r, NULL, 0))
			overrun |= r.op == VSOCK_OP_RST;
	}
	if (!overrun || vsock.stats.overruns != 1)
		return t_fail("credit overrun: RST %d, %llu counted", overrun,
			      (unsigned long long)vsock.stats.overruns);
	while ((n = read(afd, big, sizeof(big))) > 0)
		;
	/* Closed with bytes unread: end of file or ECONNRESET. */
	if (n && errno != ECONNRESET)
		return t_fail("unix side after the reset: %s", strerror(errno));
	close(afd);
	close(lfd);
	unlink(path);
	return 0;
}

static int test_host_conn(struct sess *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_hdr h, r;
	char buf[64];
	int fd;
	ssize_t n;

	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);	/* < 40 bytes */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return t_fail("connect %s: %s", s->path, strerror(errno));
	if (write(fd, "CONNECT 7000\nabc", 16) != 16)
		return t_fail("write: %s", strerror(errno));
	sess_poll(s);
	if (expect_op(s, VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_BASE, 7000, &r, "CONNECT 7000"))
		return 1;
	h = good_hdr(VSOCK_OP_RESPONSE, 0);
	h.src_port = 7000;
	h.dst_port = VSOCK_LOCAL_PORT_BASE;
	h.fwd_cnt = 0;
	sess_send(s, &h, NULL, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return t_fail("read: %s", strerror(errno));
	buf[n] = 0;
	if (strcmp(buf, "OK 1073741824\n"))
		return t_fail("host program read \"%s\"", buf);
	sess_poll(s);
	if (sess_recv(s, &r, buf, sizeof(buf)) || r.op != VSOCK_OP_RW || r.len != 3 ||
	    memcmp(buf, "abc", 3))
		return t_fail("data after the line: op %u len %u", r.op, r.len);
	/* The driver closes both ways: RST, and end of file here. */
	h = good_hdr(VSOCK_OP_SHUTDOWN, 0);
	h.src_port = 7000;
	h.dst_port = VSOCK_LOCAL_PORT_BASE;
	h.flags = VSOCK_SHUTDOWN_BOTH;
	h.fwd_cnt = 3;
	sess_send(s, &h, NULL, 0);
	if (expect_op(s, VSOCK_OP_RST, VSOCK_LOCAL_PORT_BASE, 7000, NULL, "SHUTDOWN both"))
		return 1;
	if (read(fd, buf, sizeof(buf)) != 0)
		return t_fail("no end of file after the driver closed");
	close(fd);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return t_fail("connect %s: %s", s->path, strerror(errno));
	if (write(fd, "CONNECT x\n", 10) != 10)
		return t_fail("write: %s", strerror(errno));
	sess_poll(s);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = 0;
	if (strncmp(buf, "ERR ", 4))
		return t_fail("bad line answered \"%s\"", buf);
	close(fd);
	return expect_nothing(s, "bad CONNECT line");
}

int main(void)
{
	struct sess s;
	int bad;

	test_hdr_layout();
	test_pkt_check();
	test_connect_line();
	test_credit();
	vlb_log_init("test_dev_vsock", 0);
	if (sess_open(&s))
		return T_EXIT_FAIL;
	bad = test_bad_packets(&s);
	bad |= test_guest_conn(&s);
	bad |= test_host_conn(&s);
	sess_close(&s);
	if (bad)
		failures++;
	if (failures) {
		fprintf(stderr, "test_dev_vsock: %d failed\n", failures);
		return T_EXIT_FAIL;
	}
	printf("test_dev_vsock: all passed\n");
	return T_EXIT_PASS;
}
