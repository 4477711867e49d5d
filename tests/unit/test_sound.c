// SPDX-License-Identifier: GPL-2.0
/*
 * Description: vhost-user-sound as a virtio-snd driver sees it, under
 * ASan/UBSan.
 *
 * The device program is compiled into this test (its main() renamed) and
 * run in a forked child on a socket in a temporary directory; the parent is
 * its vhost-user front-end and its virtio-snd driver. Checked: the config
 * space; JACK_INFO, PCM_INFO and CHMAP_INFO answers (capture offers exactly
 * the source WAV's format); malformed control requests answered with
 * BAD_MSG or NOT_SUPP (short header, unknown code, stream out of range,
 * queries out of range or overflowing, bad parameters, wrong state
 * transitions, a response buffer too small); playback at the stream's rate
 * into a WAV file bit-exact; capture from a WAV file bit-exact and paced;
 * the tone generator's samples; a front-end that leaves with messages held;
 * SIGTERM (exit 0, socket removed, no leak: the child is sanitized too).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "vlb.h"
#include "unit/t_vring.h"

#define main vus_main
#include "../../devices/sound/vhost-user-sound.c"
#include "../../devices/sound/wav.c"
#undef main

#define MEM_SIZE	(1024 * 1024)
#define QVA		0x20000000ULL
#define NUM		32
#define RING(q)		(0x1000 + (uint64_t)(q) * 0x1000)	/* desc, avail, used */
#define BUFS		0x10000
#define BUF_STRIDE	0x2000

static char tmpdir[64];
static char sock_path[128];
static char out_path[128];
static char src_path[128];

struct session {
	struct t_sess t;
	unsigned int next_buf;
	pid_t pid;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A 16-bit mono 8000 Hz WAV of @frames counting samples. */
static int write_source(const char *path, unsigned int frames)
{
	uint8_t h[44] = "RIFF....WAVEfmt ";
	FILE *f = fopen(path, "wb");
	unsigned int i;

	if (!f)
		return -errno;
	put32(h + 4, 36 + frames * 2);
	put32(h + 16, 16);
	put16(h + 20, 1);
	put16(h + 22, 1);
	put32(h + 24, 8000);
	put32(h + 28, 16000);
	put16(h + 32, 2);
	put16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put32(h + 40, frames * 2);
	fwrite(h, 1, sizeof(h), f);
	for (i = 0; i < frames; i++) {
		uint8_t s[2];

		put16(s, i * 7 + 1);
		fwrite(s, 1, 2, f);
	}
	return fclose(f) ? -errno : 0;
}

static bool all_zero_bytes(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static pid_t spawn(char **argv)
{
	pid_t pid = fork();
	int argc = 0;

	if (pid)
		return pid;
	while (argv[argc])
		argc++;
	exit(vus_main(argc, argv));
}

/* Connect, negotiate, map memory, start the control, tx and rx rings. */
static int session_open(struct session *s, uint32_t want_chmaps)
{
	const uint64_t feats = (1ULL << VLB_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	const uint64_t pwant = (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
			       (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			       (1ULL << VHOST_USER_PROTOCOL_F_CONFIG);
	struct vhost_user_config cfg = { .offset = 0, .size = 12 };
	struct vhost_user_msg r;
	unsigned int q;
	uint64_t v;
	int ret;

	ret = t_connect_unix(sock_path, &s->t.fe.sock);
	if (ret)
		return t_fail("connect %s: %s", sock_path, strerror(-ret));
	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_FEATURES, &v);
	if (ret || (v & feats) != feats)
		return t_fail("GET_FEATURES: %d 0x%llx", ret, (unsigned long long)v);
	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v);
	if (ret || (v & pwant) != pwant)
		return t_fail("GET_PROTOCOL_FEATURES: %d 0x%llx", ret, (unsigned long long)v);
	ret = t_fe_set_u64(&s->t.fe, VHOST_USER_SET_PROTOCOL_FEATURES, pwant);
	if (ret)
		return t_fail("SET_PROTOCOL_FEATURES: %s", strerror(-ret));
	s->t.fe.reply_ack = true;
	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_QUEUE_NUM, &v);
	if (ret || v != VUS_QUEUES)
		return t_fail("GET_QUEUE_NUM: %d, %llu", ret, (unsigned long long)v);
	ret = t_fe_call(&s->t.fe, VHOST_USER_GET_CONFIG, &cfg,
			offsetof(struct vhost_user_config, region) + 12, NULL, 0, &r);
	if (ret)
		return t_fail("GET_CONFIG: %s", strerror(-ret));
	if (t_get32(r.payload.config.region) != VUS_JACKS ||
	    t_get32(r.payload.config.region + 4) != VUS_STREAMS ||
	    t_get32(r.payload.config.region + 8) != want_chmaps)
		return t_fail("config: jacks %u streams %u chmaps %u, want 2 2 %u",
			      t_get32(r.payload.config.region), t_get32(r.payload.config.region + 4),
			      t_get32(r.payload.config.region + 8), want_chmaps);
	ret = t_fe_call(&s->t.fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = t_fe_set_u64(&s->t.fe, VHOST_USER_SET_FEATURES, feats);
	if (ret)
		return t_fail("SET_OWNER/FEATURES: %s", strerror(-ret));
	if (t_sess_set_mem(&s->t, QVA))
		return 1;
	for (q = 0; q < VUS_QUEUES; q++) {
		if (q == VIRTIO_SND_VQ_EVENT)
			continue;
		t_sess_ring(&s->t, q, NUM, RING(q * 3), RING(q * 3 + 1), RING(q * 3 + 2));
		if (t_sess_start_ring(&s->t, q))
			return 1;
	}
	return 0;
}

/* Guest address of a fresh buffer area (BUF_STRIDE bytes). */
static uint64_t buf_area(struct session *s)
{
	uint64_t a = BUFS + (uint64_t)(s->next_buf++ % 64) * BUF_STRIDE;

	memset(s->t.mem + a, 0, BUF_STRIDE);
	return a;
}

/*
 * Post a chain on queue @q: @nout readable parts, @nin writable parts,
 * lengths in @lens, addresses in @addrs; descriptors from @head on.
 */
static void post(struct session *s, unsigned int q, uint16_t head, const uint64_t *addrs,
		 const uint32_t *lens, unsigned int nout, unsigned int nin)
{
	unsigned int i, n = nout + nin;

	for (i = 0; i < n; i++)
		t_ring_desc(&s->t.ring[q], head + i, addrs[i], lens[i],
			    (i >= nout ? T_DESC_F_WRITE : 0) | (i + 1 < n ? T_DESC_F_NEXT : 0),
			    head + i + 1);
	t_ring_post(&s->t.ring[q], head);
}

static int kick(struct session *s, unsigned int q)
{
	uint64_t one = 1;

	return write(s->t.kick[q], &one, 8) == 8 ? 0 : -errno;
}

/* Wait for the next used entry of queue @q. */
static int wait_used(struct session *s, unsigned int q, uint32_t *id, uint32_t *len)
{
	uint64_t t0 = now_ms(), v;

	while (t_ring_get_used(&s->t.ring[q], id, len)) {
		if (now_ms() - t0 > T_WAIT_MS)
			return -ETIMEDOUT;
		if (!t_wait_readable(s->t.call[q], 50) && read(s->t.call[q], &v, 8) != 8)
			return -errno;
	}
	return 0;
}

/*
 * One control request of @req_len bytes, a response buffer of @resp_len;
 * returns the status code (or 0 when the used length is 0), *@resp set
 * to the response bytes, *@used to the used length.
 */
static uint32_t control(struct session *s, const void *req, uint32_t req_len,
			uint32_t resp_len, uint8_t **resp, uint32_t *used)
{
	uint64_t a = buf_area(s);
	uint64_t addrs[2] = { a, a + 0x400 };
	uint32_t lens[2] = { req_len, resp_len };
	uint32_t id;

	memcpy(s->t.mem + a, req, req_len);
	memset(s->t.mem + a + 0x400, 0xee, resp_len);
	post(s, 0, 0, req_len ? addrs : addrs + 1, req_len ? lens : lens + 1,
	     req_len ? 1 : 0, 1);
	if (kick(s, 0) || wait_used(s, 0, &id, used)) {
		*used = 0;
		return 0xdead;
	}
	if (resp)
		*resp = s->t.mem + a + 0x400;
	return *used >= 4 ? t_get32(s->t.mem + a + 0x400) : 0;
}

static uint32_t pcm_cmd(struct session *s, uint32_t code, uint32_t stream)
{
	struct virtio_snd_pcm_hdr h = { .hdr.code = htole32(code), .stream_id = htole32(stream) };
	uint32_t used;

	return control(s, &h, sizeof(h), 4, NULL, &used);
}

static uint32_t set_params(struct session *s, uint32_t stream, uint32_t buffer,
			   uint32_t period, uint32_t features, uint8_t ch, uint8_t fmt,
			   uint8_t rate)
{
	struct virtio_snd_pcm_set_params p = {
		.hdr = { .hdr.code = htole32(VIRTIO_SND_R_PCM_SET_PARAMS),
			 .stream_id = htole32(stream) },
		.buffer_bytes = htole32(buffer), .period_bytes = htole32(period),
		.features = htole32(features), .channels = ch, .format = fmt, .rate = rate,
	};
	uint32_t used;

	return control(s, &p, sizeof(p), 4, NULL, &used);
}

static uint32_t query(struct session *s, uint32_t code, uint32_t start, uint32_t count,
		      uint32_t size, uint32_t resp_len, uint8_t **resp, uint32_t *used)
{
	struct virtio_snd_query_info q = {
		.hdr.code = htole32(code), .start_id = htole32(start),
		.count = htole32(count), .size = htole32(size),
	};

	return control(s, &q, sizeof(q), resp_len, resp, used);
}

#define EXPECT(what, got, want) do { \
	uint32_t g_ = (got); \
	if (g_ != (want)) \
		return t_fail("%s: status 0x%x, want 0x%x", what, g_, (unsigned int)(want)); \
} while (0)

static int test_info(struct session *s)
{
	struct virtio_snd_pcm_info pi[2];
	struct virtio_snd_jack_info ji[2];
	struct virtio_snd_chmap_info ci[3];
	uint8_t *resp;
	uint32_t used;

	EXPECT("PCM_INFO", query(s, VIRTIO_SND_R_PCM_INFO, 0, 2, sizeof(pi[0]), 4 + sizeof(pi),
				 &resp, &used), VIRTIO_SND_S_OK);
	if (used != 4 + sizeof(pi))
		return t_fail("PCM_INFO used length %u", used);
	memcpy(pi, resp + 4, sizeof(pi));
	if (pi[0].direction != VIRTIO_SND_D_OUTPUT || pi[0].channels_min != 1 ||
	    pi[0].channels_max != 2 ||
	    le64toh(pi[0].formats) != (1ULL << VIRTIO_SND_PCM_FMT_U8 | 1ULL << VIRTIO_SND_PCM_FMT_S16 |
				       1ULL << VIRTIO_SND_PCM_FMT_S24_3 | 1ULL << VIRTIO_SND_PCM_FMT_S32 |
				       1ULL << VIRTIO_SND_PCM_FMT_FLOAT | 1ULL << VIRTIO_SND_PCM_FMT_FLOAT64) ||
	    !(le64toh(pi[0].rates) & 1ULL << VIRTIO_SND_PCM_RATE_48000))
		return t_fail("playback PCM_INFO: dir %u ch %u-%u formats 0x%llx", pi[0].direction,
			      pi[0].channels_min, pi[0].channels_max,
			      (unsigned long long)le64toh(pi[0].formats));
	/* Capture offers the source file's format only: S16 mono 8000 Hz. */
	if (pi[1].direction != VIRTIO_SND_D_INPUT || pi[1].channels_min != 1 ||
	    pi[1].channels_max != 1 || le64toh(pi[1].formats) != 1ULL << VIRTIO_SND_PCM_FMT_S16 ||
	    le64toh(pi[1].rates) != 1ULL << VIRTIO_SND_PCM_RATE_8000)
		return t_fail("capture PCM_INFO does not describe the source file");
	EXPECT("JACK_INFO", query(s, VIRTIO_SND_R_JACK_INFO, 0, 2, sizeof(ji[0]), 4 + sizeof(ji),
				  &resp, &used), VIRTIO_SND_S_OK);
	memcpy(ji, resp + 4, sizeof(ji));
	if (!ji[0].connected || !ji[1].connected || ji[0].features ||
	    (le32toh(ji[1].hda_reg_defconf) >> 20 & 0xf) != VUS_HDA_MIC_IN)
		return t_fail("JACK_INFO: unexpected jacks");
	/* A larger item size than ours: zero padding after each item. */
	EXPECT("CHMAP_INFO", query(s, VIRTIO_SND_R_CHMAP_INFO, 0, 3, sizeof(ci[0]) + 8,
				   4 + 3 * (sizeof(ci[0]) + 8), &resp, &used), VIRTIO_SND_S_OK);
	for (unsigned int i = 0; i < 3; i++) {
		memcpy(&ci[i], resp + 4 + i * (sizeof(ci[0]) + 8), sizeof(ci[0]));
		if (!all_zero_bytes(resp + 4 + i * (sizeof(ci[0]) + 8) + sizeof(ci[0]), 8))
			return t_fail("CHMAP_INFO item %u not zero-padded", i);
	}
	if (ci[0].channels != 1 || ci[0].positions[0] != VIRTIO_SND_CHMAP_MONO ||
	    ci[1].channels != 2 || ci[1].positions[1] != VIRTIO_SND_CHMAP_FR ||
	    ci[2].direction != VIRTIO_SND_D_INPUT || ci[2].channels != 1)
		return t_fail("CHMAP_INFO: unexpected maps");
	return 0;
}

static int test_malformed(struct session *s)
{
	uint8_t junk[4] = { 1, 0, 0, 0 }, *resp;
	uint32_t code = htole32(0x9999), used;

	EXPECT("short header", control(s, junk, 2, 4, NULL, &used), VIRTIO_SND_S_BAD_MSG);
	EXPECT("no request at all", control(s, junk, 0, 4, NULL, &used), VIRTIO_SND_S_BAD_MSG);
	EXPECT("unknown code", control(s, &code, 4, 4, NULL, &used), VIRTIO_SND_S_NOT_SUPP);
	EXPECT("short query", control(s, junk, 4, 64, NULL, &used), VIRTIO_SND_S_BAD_MSG);
	EXPECT("PCM_INFO past the end", query(s, VIRTIO_SND_R_PCM_INFO, 1, 2, 32, 68, &resp, &used),
	       VIRTIO_SND_S_BAD_MSG);
	EXPECT("PCM_INFO count overflow", query(s, VIRTIO_SND_R_PCM_INFO, 1, 0xffffffff, 32, 68,
						&resp, &used), VIRTIO_SND_S_BAD_MSG);
	EXPECT("PCM_INFO size small", query(s, VIRTIO_SND_R_PCM_INFO, 0, 1, 16, 68, &resp, &used),
	       VIRTIO_SND_S_BAD_MSG);
	EXPECT("PCM_INFO size huge", query(s, VIRTIO_SND_R_PCM_INFO, 0, 2, 0x80000000, 68,
					   &resp, &used), VIRTIO_SND_S_BAD_MSG);
	EXPECT("PCM_INFO response short", query(s, VIRTIO_SND_R_PCM_INFO, 0, 2, 32, 40, &resp, &used),
	       VIRTIO_SND_S_BAD_MSG);
	if (used != 4)
		return t_fail("a BAD_MSG answer has used length %u, want 4", used);
	/* No room for a status: returned with nothing written. */
	control(s, &code, 4, 2, &resp, &used);
	if (used != 0 || resp[0] != 0xee)
		return t_fail("2-byte response buffer: used %u, byte 0x%x", used, resp[0]);
	{
		struct virtio_snd_jack_remap jr = { .hdr.hdr.code = htole32(VIRTIO_SND_R_JACK_REMAP) };

		EXPECT("JACK_REMAP", control(s, &jr, sizeof(jr), 4, NULL, &used), VIRTIO_SND_S_NOT_SUPP);
		jr.hdr.jack_id = htole32(2);
		EXPECT("JACK_REMAP bad jack", control(s, &jr, sizeof(jr), 4, NULL, &used),
		       VIRTIO_SND_S_BAD_MSG);
	}
	EXPECT("PREPARE stream 2", pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 2), VIRTIO_SND_S_BAD_MSG);
	EXPECT("PREPARE stream 0xffffffff", pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0xffffffff),
	       VIRTIO_SND_S_BAD_MSG);
	EXPECT("START before params", pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_BAD_MSG);
	EXPECT("PREPARE before params", pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_BAD_MSG);
	EXPECT("RELEASE before params", pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 1), VIRTIO_SND_S_BAD_MSG);
	EXPECT("STOP before params", pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 1), VIRTIO_SND_S_BAD_MSG);
	EXPECT("S8 not offered", set_params(s, 0, 3840, 1920, 0, 2, VIRTIO_SND_PCM_FMT_S8,
					    VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_NOT_SUPP);
	EXPECT("format 200", set_params(s, 0, 3840, 1920, 0, 2, 200, VIRTIO_SND_PCM_RATE_48000),
	       VIRTIO_SND_S_NOT_SUPP);
	EXPECT("capture at 48000", set_params(s, 1, 3840, 1920, 0, 1, VIRTIO_SND_PCM_FMT_S16,
					      VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_NOT_SUPP);
	EXPECT("3 channels", set_params(s, 0, 3840, 1920, 0, 3, VIRTIO_SND_PCM_FMT_S16,
					VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_NOT_SUPP);
	EXPECT("features", set_params(s, 0, 3840, 1920, 1 << VIRTIO_SND_PCM_F_MSG_POLLING, 2,
				      VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000),
	       VIRTIO_SND_S_NOT_SUPP);
	EXPECT("period 0", set_params(s, 0, 3840, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
				      VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_BAD_MSG);
	EXPECT("period > buffer", set_params(s, 0, 1920, 3840, 0, 2, VIRTIO_SND_PCM_FMT_S16,
					     VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_BAD_MSG);
	EXPECT("period not whole frames", set_params(s, 0, 3840, 1922, 0, 2, VIRTIO_SND_PCM_FMT_S16,
						     VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_BAD_MSG);
	{
		struct virtio_snd_pcm_hdr h = { .hdr.code = htole32(VIRTIO_SND_R_PCM_SET_PARAMS) };

		EXPECT("short SET_PARAMS", control(s, &h, sizeof(h), 4, NULL, &used),
		       VIRTIO_SND_S_BAD_MSG);
	}
	return 0;
}

/* A tx message: xfer header, @len sample bytes from @data, status. */
static void post_tx(struct session *s, uint16_t head, uint32_t stream, const uint8_t *data,
		    uint32_t len)
{
	uint64_t a = buf_area(s);
	uint64_t addrs[3] = { a, a + 16, a + 16 + len };
	uint32_t lens[3] = { 4, len, 8 };

	put32(s->t.mem + a, stream);
	memcpy(s->t.mem + a + 16, data, len);
	post(s, VIRTIO_SND_VQ_TX, head, addrs, lens, 2, 1);
}

static int read_file(const char *path, uint8_t *buf, size_t len, size_t *got)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	close(fd);
	if (n < 0)
		return -errno;
	*got = n;
	return 0;
}

static int test_playback(struct session *s)
{
	static uint8_t data[4][1920], file[16384];
	uint32_t id, len, st;
	uint64_t t0, took;
	unsigned int i, j;
	size_t got;

	for (i = 0; i < 4; i++)
		for (j = 0; j < sizeof(data[i]); j++)
			data[i][j] = i * 31 + j * 7;
	EXPECT("SET_PARAMS playback", set_params(s, 0, 7680, 1920, 0, 2, VIRTIO_SND_PCM_FMT_S16,
						 VIRTIO_SND_PCM_RATE_48000), VIRTIO_SND_S_OK);
	EXPECT("STOP while prepared", pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_BAD_MSG);
	EXPECT("PREPARE", pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	/* Wrong stream on the tx queue: answered at once. */
	post_tx(s, 12, 1, data[0], 8);
	if (kick(s, VIRTIO_SND_VQ_TX) || wait_used(s, VIRTIO_SND_VQ_TX, &id, &len))
		return t_fail("tx for the capture stream was not answered");
	st = t_get32(s->t.mem + BUFS + (uint64_t)((s->next_buf - 1) % 64) * BUF_STRIDE + 16 + 8);
	if (id != 12 || len != 8 || st != VIRTIO_SND_S_BAD_MSG)
		return t_fail("tx for the capture stream: id %u len %u status 0x%x", id, len, st);
	/* Four 10 ms periods queued before START, as ALSA does. */
	for (i = 0; i < 4; i++)
		post_tx(s, i * 3, 0, data[i], sizeof(data[i]));
	kick(s, VIRTIO_SND_VQ_TX);
	usleep(30000);
	if (!t_ring_get_used(&s->t.ring[VIRTIO_SND_VQ_TX], &id, &len))
		return t_fail("a tx message completed before START");
	t0 = now_ms();
	EXPECT("START", pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	for (i = 0; i < 4; i++) {
		if (wait_used(s, VIRTIO_SND_VQ_TX, &id, &len))
			return t_fail("tx message %u never completed", i);
		if (id != i * 3 || len != 8)
			return t_fail("tx message %u: id %u used length %u", i, id, len);
	}
	took = now_ms() - t0;
	if (took < 35)
		return t_fail("40 ms of samples played in %llu ms", (unsigned long long)took);
	EXPECT("START while running", pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_BAD_MSG);
	EXPECT("RELEASE while running", pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_BAD_MSG);
	EXPECT("STOP", pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 0), VIRTIO_SND_S_OK);
	EXPECT("RELEASE", pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 0), VIRTIO_SND_S_OK);
	if (read_file(out_path, file, sizeof(file), &got))
		return t_fail("%s: %s", out_path, strerror(errno));
	if (got != 44 + sizeof(data) || memcmp(file, "RIFF", 4) || t_get32(file + 4) != got - 8 ||
	    t_get32(file + 24) != 48000 || t_get16(file + 22) != 2 || t_get16(file + 34) != 16 ||
	    t_get32(file + 40) != sizeof(data) || memcmp(file + 44, data, sizeof(data)))
		return t_fail("%s: %zu bytes, not the 4 periods played", out_path, got);
	/* Released: a tx message is refused. */
	post_tx(s, 0, 0, data[0], 16);
	kick(s, VIRTIO_SND_VQ_TX);
	if (wait_used(s, VIRTIO_SND_VQ_TX, &id, &len) || len != 8)
		return t_fail("tx after RELEASE not answered");
	return 0;
}

static int test_capture(struct session *s)
{
	uint64_t addrs[6][3], t0, took;
	uint32_t id, len, lens[3] = { 4, 160, 8 };
	unsigned int i, j;

	EXPECT("SET_PARAMS capture", set_params(s, 1, 480, 160, 0, 1, VIRTIO_SND_PCM_FMT_S16,
						VIRTIO_SND_PCM_RATE_8000), VIRTIO_SND_S_OK);
	EXPECT("PREPARE capture", pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 1), VIRTIO_SND_S_OK);
	t0 = now_ms();
	EXPECT("START capture", pcm_cmd(s, VIRTIO_SND_R_PCM_START, 1), VIRTIO_SND_S_OK);
	for (i = 0; i < 6; i++) {
		uint64_t a = buf_area(s);

		addrs[i][0] = a;
		addrs[i][1] = a + 16;
		addrs[i][2] = a + 16 + 160;
		put32(s->t.mem + a, 1);
		post(s, VIRTIO_SND_VQ_RX, i * 3, addrs[i], lens, 1, 2);
	}
	kick(s, VIRTIO_SND_VQ_RX);
	for (i = 0; i < 6; i++) {
		if (wait_used(s, VIRTIO_SND_VQ_RX, &id, &len))
			return t_fail("rx message %u never completed", i);
		if (id != i * 3 || len != 168 || t_get32(s->t.mem + addrs[i][2]) != VIRTIO_SND_S_OK)
			return t_fail("rx message %u: id %u used length %u", i, id, len);
		/* The source counts: sample k is 7k + 1. */
		for (j = 0; j < 80; j++)
			if (t_get16(s->t.mem + addrs[i][1] + 2 * j) != (uint16_t)((i * 80 + j) * 7 + 1))
				return t_fail("rx message %u sample %u is %u", i, j,
					      t_get16(s->t.mem + addrs[i][1] + 2 * j));
	}
	took = now_ms() - t0;
	if (took < 55)
		return t_fail("60 ms of capture delivered in %llu ms", (unsigned long long)took);
	EXPECT("STOP capture", pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 1), VIRTIO_SND_S_OK);
	/* Held when stopped; RELEASE completes them. */
	post(s, VIRTIO_SND_VQ_RX, 0, addrs[0], lens, 1, 2);
	kick(s, VIRTIO_SND_VQ_RX);
	usleep(40000);
	if (!t_ring_get_used(&s->t.ring[VIRTIO_SND_VQ_RX], &id, &len))
		return t_fail("rx message completed while stopped");
	EXPECT("RELEASE capture", pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 1), VIRTIO_SND_S_OK);
	if (wait_used(s, VIRTIO_SND_VQ_RX, &id, &len) || len != 8)
		return t_fail("RELEASE did not complete the held rx message (len %u)", len);
	return 0;
}

/* Leave with tx messages held by a running stream: nothing leaks. */
static int test_leave_running(struct session *s)
{
	static const uint8_t data[1920];
	unsigned int i;

	EXPECT("SET_PARAMS", set_params(s, 0, 3840, 1920, 0, 1, VIRTIO_SND_PCM_FMT_S16,
					VIRTIO_SND_PCM_RATE_8000), VIRTIO_SND_S_OK);
	EXPECT("PREPARE", pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), VIRTIO_SND_S_OK);
	for (i = 0; i < 4; i++)
		post_tx(s, i * 3, 0, data, sizeof(data));
	kick(s, VIRTIO_SND_VQ_TX);
	EXPECT("START", pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), VIRTIO_SND_S_OK);
	return 0;
}

static int session_init(struct session *s)
{
	memset(s, 0, sizeof(*s));
	return t_sess_new(&s->t, NULL, VUS_QUEUES, NULL, NULL, MEM_SIZE);
}

static void session_close(struct session *s)
{
	t_sess_close(&s->t, NULL);
}

static int stop_child(pid_t pid)
{
	uint64_t t0 = now_ms();
	int status;

	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() - t0 > T_WAIT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return t_fail("vhost-user-sound did not exit on SIGTERM");
		}
		usleep(10000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return t_fail("vhost-user-sound: status 0x%x after SIGTERM", status);
	if (access(sock_path, F_OK) == 0)
		return t_fail("%s left behind", sock_path);
	return 0;
}

/* The tone at 1000 Hz sampled at 8000 Hz: half scale at 45 degree steps. */
static int test_tone(void)
{
	static const int16_t want[8] = { 0, 11585, 16384, 11585, 0, -11585, -16384, -11585 };
	struct vus_stream st = { .channels = 2, .rate = 8000 };
	struct vus v = { .tone_hz = 1000 };
	uint8_t buf[64];
	unsigned int i;

	st.fmt = vus_format(VIRTIO_SND_PCM_FMT_S16);
	if (vus_source(&v, &st, 2, buf, sizeof(buf)))
		return t_fail("tone: vus_source failed");
	/* From byte 2: the right channel of frame 0 first. */
	for (i = 0; i < 31; i++) {
		int16_t got = (int16_t)t_get16(buf + 2 * i);
		int16_t w = want[((i + 1) / 2) % 8];

		if (got < w - 1 || got > w + 1)
			return t_fail("tone sample %u is %d, want %d", i, got, w);
	}
	return 0;
}

int main(void)
{
	char *argv[] = { "vhost-user-sound", "--socket-path", sock_path, "--playback-file",
			 out_path, "--capture-file", src_path, NULL };
	struct session s;
	int ret;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vus-test.XXXXXX");
	if (!mkdtemp(tmpdir))
		return t_fail("mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof(sock_path), "%s/snd.sock", tmpdir);
	snprintf(out_path, sizeof(out_path), "%s/out.wav", tmpdir);
	snprintf(src_path, sizeof(src_path), "%s/src.wav", tmpdir);
	ret = write_source(src_path, 8000);
	if (ret)
		return t_fail("%s: %s", src_path, strerror(-ret));
	ret = test_tone();
	if (ret)
		return ret;
	s.pid = -1;
	if (session_init(&s))
		return T_EXIT_FAIL;
	s.pid = spawn(argv);
	if (s.pid < 0)
		return t_fail("fork: %s", strerror(errno));
	ret = session_open(&s, 3);
	if (!ret)
		ret = test_info(&s);
	if (!ret)
		ret = test_malformed(&s);
	if (!ret)
		ret = test_playback(&s);
	if (!ret)
		ret = test_capture(&s);
	if (!ret)
		ret = test_leave_running(&s);
	session_close(&s);
	if (ret) {
		kill(s.pid, SIGKILL);
		waitpid(s.pid, NULL, 0);
		return ret;
	}
	/* The back-end drops that front-end; then SIGTERM ends it cleanly. */
	usleep(100000);
	ret = stop_child(s.pid);
	unlink(out_path);
	unlink(src_path);
	rmdir(tmpdir);
	if (!ret)
		t_log("PASS");
	return ret;
}
