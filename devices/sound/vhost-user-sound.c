// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-sound: a virtio sound device (virtio spec 5.14, device id 25)
 * served over vhost-user, with one playback and one capture stream.
 *
 * Playback samples go to a WAV file, capture samples come from a WAV file
 * or a generated sine tone:
 *
 *	vhost-user-sound --socket-path /run/snd.sock \
 *		--playback-file out.wav [--capture-file in.wav | --tone-hz 440]
 *	virtio-loopback-adapter --socket /run/snd.sock --device sound
 *
 * Queues (5.14.2): 0 control, 1 event, 2 tx (playback), 3 rx (capture).
 * The configuration space (5.14.4) is ours: two jacks (line out, mic), two
 * streams (0 output, 1 input, one function group so ALSA sees one PCM
 * device with both directions) and one channel map per channel count.
 *
 * What is offered is what the WAV files can hold. Playback: U8, S16,
 * S24_3, S32 (WAVE_FORMAT_PCM), FLOAT and FLOAT64 (IEEE float), 1 or 2
 * channels, every rate from 8000 to 192000 Hz. Capture from a file: that
 * file's format, rate and channels only. Capture from the tone: the
 * playback formats and rates, 1 or 2 channels.
 *
 * Timing is the hardware's: a started stream consumes (tx) or fills (rx)
 * one I/O message when the time its bytes take at the stream's rate has
 * passed, measured from the start with one timerfd per stream, so the
 * driver's position moves at the real rate. A stream that runs dry starts
 * its clock again with the next message instead of catching up.
 *
 * Sessions: the first PCM_START after PCM_SET_PARAMS begins a new
 * playback file (truncated, a header for the new parameters) and rewinds
 * the capture source. STOP/RELEASE/PREPARE/START without new parameters,
 * which is how ALSA recovers from an xrun, continues the same file. The
 * header is rewritten after every message, so the file is always valid;
 * SIGTERM and a RELEASE also flush it. Capture past the end of the source
 * file delivers silence.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/virtio_snd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vlb.h"
#include "wav.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

#define VUS_QUEUES		4
#define VUS_STREAMS		2
#define VUS_JACKS		2
#define VUS_MAX_CHMAPS		4
#define VUS_MAX_CHANNELS	8	/* positions we can name for a file */

/* Control requests served per kick before yielding to the event loop. */
#define VUS_CTL_BUDGET		64

/* Largest query a driver may make in one request (items * size). */
#define VUS_MAX_QUERY_BYTES	(64 * 1024)

#define VUS_NSEC		1000000000ULL
#define VUS_PI			3.14159265358979323846

enum vus_state {
	VUS_ST_INIT,		/* no parameters yet */
	VUS_ST_PARAMS,		/* SET_PARAMS done */
	VUS_ST_PREPARED,
	VUS_ST_RUNNING,
	VUS_ST_STOPPED,
	VUS_ST_RELEASED,
};

static const char *const vus_state_name[] = {
	[VUS_ST_INIT] = "initial", [VUS_ST_PARAMS] = "set-params",
	[VUS_ST_PREPARED] = "prepared", [VUS_ST_RUNNING] = "running",
	[VUS_ST_STOPPED] = "stopped", [VUS_ST_RELEASED] = "released",
};

/**
 * struct vus_format - a virtio-snd sample format we can store in a WAV file
 * @vfmt: VIRTIO_SND_PCM_FMT_*
 * @bytes: bytes per sample
 * @tag: WAV format tag
 * @name: for log lines
 */
struct vus_format {
	uint8_t vfmt;
	uint8_t bytes;
	uint16_t tag;
	const char *name;
};

static const struct vus_format vus_formats[] = {
	{ VIRTIO_SND_PCM_FMT_U8, 1, WAV_TAG_PCM, "U8" },
	{ VIRTIO_SND_PCM_FMT_S16, 2, WAV_TAG_PCM, "S16_LE" },
	{ VIRTIO_SND_PCM_FMT_S24_3, 3, WAV_TAG_PCM, "S24_3LE" },
	{ VIRTIO_SND_PCM_FMT_S32, 4, WAV_TAG_PCM, "S32_LE" },
	{ VIRTIO_SND_PCM_FMT_FLOAT, 4, WAV_TAG_FLOAT, "FLOAT_LE" },
	{ VIRTIO_SND_PCM_FMT_FLOAT64, 8, WAV_TAG_FLOAT, "FLOAT64_LE" },
};

/* Frame rate of each VIRTIO_SND_PCM_RATE_* index. */
static const uint32_t vus_rates[] = {
	5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200,
	96000, 176400, 192000, 384000,
};

/* Rates offered where we choose: 8000 .. 192000 Hz. */
#define VUS_RATES_OFFERED \
	(((1ULL << (VIRTIO_SND_PCM_RATE_192000 + 1)) - 1) & \
	 ~((1ULL << VIRTIO_SND_PCM_RATE_8000) - 1))

/**
 * struct vus_buf - an I/O message the device holds until its time comes
 * @next: next in the stream's FIFO
 * @elem: the chain
 * @bytes: sample bytes it carries (tx) or has room for (rx)
 * @status_off: offset of struct virtio_snd_pcm_status in elem->in_sg
 */
struct vus_buf {
	struct vus_buf *next;
	struct vlb_vq_elem *elem;
	uint64_t bytes;
	uint64_t status_off;
};

/**
 * struct vus_stream - one PCM stream
 * @id: stream id (index in the config's streams)
 * @dir: VIRTIO_SND_D_OUTPUT or VIRTIO_SND_D_INPUT
 * @qidx: its I/O queue
 * @formats: offered VIRTIO_SND_PCM_FMT_* bits
 * @rates: offered VIRTIO_SND_PCM_RATE_* bits
 * @ch_min: fewest channels offered
 * @ch_max: most channels offered
 * @state: lifecycle state (spec 5.14.6.6.1)
 * @fmt: format set by SET_PARAMS
 * @channels: channels set by SET_PARAMS
 * @rate: frames per second set by SET_PARAMS
 * @byte_rate: bytes per second at those parameters
 * @new_session: SET_PARAMS since the last START
 * @head: FIFO of held messages, oldest first
 * @tail: where the next message is linked
 * @timer_fd: CLOCK_MONOTONIC timerfd pacing the stream
 * @base_ns: clock time the stream's clock started at
 * @done: bytes consumed or produced since @base_ns
 * @src_pos: capture: bytes of source delivered in this session
 * @io_error: a file error was reported once already
 */
struct vus_stream {
	unsigned int id;
	uint8_t dir;
	unsigned int qidx;
	uint64_t formats;
	uint64_t rates;
	uint8_t ch_min;
	uint8_t ch_max;
	enum vus_state state;
	const struct vus_format *fmt;
	uint8_t channels;
	uint32_t rate;
	uint64_t byte_rate;
	bool new_session;
	struct vus_buf *head;
	struct vus_buf **tail;
	int timer_fd;
	uint64_t base_ns;
	uint64_t done;
	uint64_t src_pos;
	bool io_error;
};

/**
 * struct vus_chmap - a channel map the driver may offer to applications
 * @stream: the stream it belongs to
 * @channels: number of positions
 * @pos: VIRTIO_SND_CHMAP_* per channel
 */
struct vus_chmap {
	unsigned int stream;
	uint8_t channels;
	uint8_t pos[VIRTIO_SND_CHMAP_MAX_SIZE];
};

/**
 * struct vus - the device
 * @playback_path: --playback-file, or NULL (samples are discarded)
 * @capture_path: --capture-file, or NULL (the tone)
 * @tone_hz: --tone-hz
 * @out: the playback file
 * @src: the capture file
 * @streams: stream 0 output, stream 1 input
 * @chmaps: the channel maps
 * @nr_chmaps: how many
 * @dev: the library's device, from setup on
 */
struct vus {
	const char *playback_path;
	const char *capture_path;
	double tone_hz;
	struct wav_writer out;
	struct wav_reader src;
	struct vus_stream streams[VUS_STREAMS];
	struct vus_chmap chmaps[VUS_MAX_CHMAPS];
	unsigned int nr_chmaps;
	struct vlb_dev *dev;
};

static struct vus vus_dev = {
	.tone_hz = 440.0,
	.out = { .fd = -1 },
	.src = { .fd = -1 },
};

/* HDA pin default configuration (HDA spec 7.3.3.31): a 1/8" jack. */
#define VUS_DEFCONF(device, color, assoc) \
	((0U << 30) | (1U << 24) /* rear panel */ | ((device) << 20) | \
	 (1U << 16) /* 1/8" */ | ((color) << 12) | ((assoc) << 4))
#define VUS_HDA_LINE_OUT	0x0
#define VUS_HDA_MIC_IN		0xa
#define VUS_HDA_GREEN		0x4
#define VUS_HDA_PINK		0x9
/* Pin capabilities (HDA spec 7.3.4.9): presence detect, output / input. */
#define VUS_PINCAP_PRESENCE	(1U << 2)
#define VUS_PINCAP_OUT		(1U << 4)
#define VUS_PINCAP_IN		(1U << 5)

/* iovec helpers ----------------------------------------------------------- */

static uint64_t vus_iov_size(const struct iovec *iov, unsigned int n)
{
	uint64_t len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* Streams ----------------------------------------------------------------- */

static uint64_t vus_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * VUS_NSEC + ts.tv_nsec;
}

/* Time @bytes take at the stream's rate, without overflow. */
static uint64_t vus_bytes_ns(const struct vus_stream *s, uint64_t bytes)
{
	return bytes / s->byte_rate * VUS_NSEC +
	       bytes % s->byte_rate * VUS_NSEC / s->byte_rate;
}

/* Arm the timer for CLOCK_MONOTONIC time @at_ns, or disarm it with 0. */
static void vus_timer_set(struct vus *v, struct vus_stream *s, uint64_t at_ns)
{
	struct itimerspec its = { 0 };

	if (at_ns) {
		its.it_value.tv_sec = at_ns / VUS_NSEC;
		its.it_value.tv_nsec = at_ns % VUS_NSEC;
	}
	if (timerfd_settime(s->timer_fd, at_ns ? TFD_TIMER_ABSTIME : 0, &its, NULL) < 0)
		vlb_err(vlb_dev_name(v->dev), "stream %u: timerfd_settime: %s",
			s->id, strerror(errno));
}

/* Arm the timer for the head message, or disarm when there is nothing to do. */
static void vus_stream_schedule(struct vus *v, struct vus_stream *s)
{
	if (s->state != VUS_ST_RUNNING || !s->head) {
		vus_timer_set(v, s, 0);
		return;
	}
	vus_timer_set(v, s, s->base_ns + vus_bytes_ns(s, s->done + s->head->bytes));
}

/* Write the status and return a message to the driver (not yet flushed). */
static void vus_buf_complete(struct vus *v, struct vus_stream *s,
			     struct vus_buf *b, uint32_t status, uint64_t written)
{
	struct virtio_snd_pcm_status st = {
		.status = htole32(status),
		.latency_bytes = 0,
	};
	struct vlb_vq *vq = vlb_dev_vq(v->dev, s->qidx);
	uint64_t len;

	vlb_iov_from_buf(b->elem->in_sg, b->elem->in_num, b->status_off, &st, sizeof(st));
	/* rx: the sample bytes, then the status; tx: the status only. */
	len = s->dir == VIRTIO_SND_D_INPUT ? written + sizeof(st) : sizeof(st);
	vlb_vq_push(vq, b->elem, len > UINT32_MAX ? UINT32_MAX : len);
	free(b->elem);
	free(b);
}

static void vus_notify(struct vus *v, unsigned int qidx)
{
	struct vlb_vq *vq = vlb_dev_vq(v->dev, qidx);
	int ret;

	vlb_vq_flush(vq);
	ret = vlb_vq_notify(vq);
	if (ret)
		vlb_err(vlb_dev_name(v->dev), "vq %u: call eventfd: %s", qidx, strerror(-ret));
}

/* Complete every held message with @status, nothing played or captured. */
static void vus_stream_flush(struct vus *v, struct vus_stream *s, uint32_t status)
{
	bool any = s->head;

	while (s->head) {
		struct vus_buf *b = s->head;

		s->head = b->next;
		vus_buf_complete(v, s, b, status, 0);
	}
	s->tail = &s->head;
	vus_timer_set(v, s, 0);
	if (any)
		vus_notify(v, s->qidx);
}

/* Forget held messages without returning them (the ring went away). */
static void vus_stream_drop(struct vus *v, struct vus_stream *s)
{
	while (s->head) {
		struct vus_buf *b = s->head;

		s->head = b->next;
		free(b->elem);
		free(b);
	}
	s->tail = &s->head;
	if (s->timer_fd >= 0)
		vus_timer_set(v, s, 0);
}

static void vus_io_error(struct vus *v, struct vus_stream *s, const char *what,
			 int err)
{
	if (s->io_error)
		return;
	s->io_error = true;
	vlb_err(what, "stream %u: %s", s->id, strerror(-err));
	(void)v;
}

/* Play one message: its samples go to the file. */
static uint32_t vus_play(struct vus *v, struct vus_stream *s, struct vus_buf *b)
{
	const struct vlb_vq_elem *e = b->elem;
	uint64_t off = sizeof(struct virtio_snd_pcm_xfer);
	uint64_t left = b->bytes;
	uint8_t chunk[4096];
	int ret;

	if (!v->playback_path)
		return VIRTIO_SND_S_OK;
	while (left) {
		size_t n = vlb_iov_to_buf(e->out_sg, e->out_num, off, chunk,
					  left < sizeof(chunk) ? left : sizeof(chunk));

		ret = wav_writer_append(&v->out, chunk, n);
		if (ret) {
			vus_io_error(v, s, v->playback_path, ret);
			return VIRTIO_SND_S_IO_ERR;
		}
		off += n;
		left -= n;
	}
	return VIRTIO_SND_S_OK;
}

/*
 * sin(2 pi t) for t in [0, 1), without libm: the Taylor series around 0 of
 * sin(x) for x = 2 pi t - pi in [-pi, pi), where sin(2 pi t) = -sin(x).
 * Terms to x^25 keep the error below 1e-12, far under one 32-bit step.
 */
static double vus_sin_turn(double t)
{
	double x = 2 * VUS_PI * t - VUS_PI, term = x, sum = x;
	int k;

	for (k = 1; k <= 12; k++) {
		term *= -x * x / ((2 * k) * (2 * k + 1));
		sum += term;
	}
	return -sum;
}

static int64_t vus_round(double x)
{
	return x >= 0 ? (int64_t)(x + 0.5) : -(int64_t)(-x + 0.5);
}

/* One frame of the tone at frame @n, in the stream's format. */
static void vus_tone_frame(struct vus *v, struct vus_stream *s, uint64_t n,
			   uint8_t *p)
{
	double t = (double)n * v->tone_hz / s->rate;
	uint64_t bits = 0;
	unsigned int c, i;
	double x;

	/* Half scale; the phase is reduced to one turn before the sine. */
	t -= (double)(uint64_t)t;
	x = 0.5 * vus_sin_turn(t);

	switch (s->fmt->vfmt) {
	case VIRTIO_SND_PCM_FMT_U8:
		bits = (uint8_t)(128 + vus_round(x * 127));
		break;
	case VIRTIO_SND_PCM_FMT_S16:
		bits = (uint16_t)(int16_t)vus_round(x * 32767);
		break;
	case VIRTIO_SND_PCM_FMT_S24_3:
		bits = (uint32_t)vus_round(x * 8388607) & 0xffffff;
		break;
	case VIRTIO_SND_PCM_FMT_S32:
		bits = (uint32_t)(int32_t)vus_round(x * 2147483647.0);
		break;
	case VIRTIO_SND_PCM_FMT_FLOAT: {
		float f = x;
		uint32_t u;

		memcpy(&u, &f, 4);
		bits = u;
		break;
	}
	case VIRTIO_SND_PCM_FMT_FLOAT64:
		memcpy(&bits, &x, 8);
		break;
	}
	for (c = 0; c < s->channels; c++)
		for (i = 0; i < s->fmt->bytes; i++)
			*p++ = bits >> (8 * i);
}

/* Fill @len bytes of capture at source offset @pos into @buf. */
static int vus_source(struct vus *v, struct vus_stream *s, uint64_t pos,
		      uint8_t *buf, size_t len)
{
	uint8_t silence = s->fmt->vfmt == VIRTIO_SND_PCM_FMT_U8 ? 0x80 : 0;
	size_t fb = (size_t)s->channels * s->fmt->bytes;
	uint8_t frame[VIRTIO_SND_CHMAP_MAX_SIZE * 8];
	size_t done = 0;

	if (v->capture_path) {
		long n = wav_reader_read(&v->src, pos, buf, len);

		if (n < 0)
			return (int)n;
		done = n;
		memset(buf + done, silence, len - done);
		return 0;
	}
	while (done < len) {
		uint64_t f = (pos + done) / fb;
		size_t off = (pos + done) % fb, c = fb - off;

		if (c > len - done)
			c = len - done;
		vus_tone_frame(v, s, f, frame);
		memcpy(buf + done, frame + off, c);
		done += c;
	}
	return 0;
}

/* Capture one message: fill its sample bytes from the source. */
static uint32_t vus_capture(struct vus *v, struct vus_stream *s, struct vus_buf *b,
			    uint64_t *written)
{
	const struct vlb_vq_elem *e = b->elem;
	uint64_t left = b->bytes, off = 0;
	uint8_t chunk[4096];
	int ret;

	*written = 0;
	while (left) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		ret = vus_source(v, s, s->src_pos, chunk, n);
		if (ret) {
			vus_io_error(v, s, v->capture_path, ret);
			return VIRTIO_SND_S_IO_ERR;
		}
		vlb_iov_from_buf(e->in_sg, e->in_num, off, chunk, n);
		s->src_pos += n;
		off += n;
		left -= n;
	}
	*written = b->bytes;
	return VIRTIO_SND_S_OK;
}

/* The stream's timer: complete every message whose time has come. */
static void vus_stream_tick(struct vus *v, struct vus_stream *s)
{
	uint64_t now = vus_now_ns();
	bool any = false;

	while (s->state == VUS_ST_RUNNING && s->head &&
	       s->base_ns + vus_bytes_ns(s, s->done + s->head->bytes) <= now) {
		struct vus_buf *b = s->head;
		uint64_t written = 0;
		uint32_t status;

		s->head = b->next;
		if (!s->head)
			s->tail = &s->head;
		s->done += b->bytes;
		if (s->dir == VIRTIO_SND_D_OUTPUT)
			status = vus_play(v, s, b);
		else
			status = vus_capture(v, s, b, &written);
		vus_buf_complete(v, s, b, status, written);
		any = true;
	}
	if (any)
		vus_notify(v, s->qidx);
	vus_stream_schedule(v, s);
}

static void vus_timer_cb(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct vus *v = vlb_dev_priv(dev);
	struct vus_stream *s = opaque;
	uint64_t expirations;

	(void)revents;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		vlb_err(vlb_dev_name(dev), "stream %u: timerfd: %s", s->id, strerror(errno));
	vus_stream_tick(v, s);
}

/* Restart the stream's clock at now. */
static void vus_stream_clock(struct vus_stream *s)
{
	s->base_ns = vus_now_ns();
	s->done = 0;
}

/* Control requests (5.14.6) ----------------------------------------------- */

/**
 * struct vus_req - one control request being served
 * @e: the chain
 * @out_len: bytes the driver wrote (the request)
 * @in_len: bytes the device may write (the response)
 * @req: the request's first bytes
 */
struct vus_req {
	const struct vlb_vq_elem *e;
	uint64_t out_len;
	uint64_t in_len;
	uint8_t req[32];
};

static uint32_t vus_le32(const uint8_t *p)
{
	uint32_t x;

	memcpy(&x, p, 4);
	return le32toh(x);
}

static struct vus_stream *vus_req_stream(struct vus *v, const struct vus_req *r)
{
	uint32_t id = vus_le32(r->req + offsetof(struct virtio_snd_pcm_hdr, stream_id));

	return id < VUS_STREAMS ? &v->streams[id] : NULL;
}

static void vus_jack_info(unsigned int i, struct virtio_snd_jack_info *info)
{
	bool out = i == 0;

	info->hdr.hda_fn_nid = 0;
	info->features = 0;	/* no VIRTIO_SND_JACK_F_REMAP */
	info->hda_reg_defconf = htole32(out ?
		VUS_DEFCONF(VUS_HDA_LINE_OUT, VUS_HDA_GREEN, 1) :
		VUS_DEFCONF(VUS_HDA_MIC_IN, VUS_HDA_PINK, 2));
	info->hda_reg_caps = htole32(VUS_PINCAP_PRESENCE |
				     (out ? VUS_PINCAP_OUT : VUS_PINCAP_IN));
	info->connected = 1;
}

static void vus_pcm_info(const struct vus_stream *s, struct virtio_snd_pcm_info *info)
{
	info->hdr.hda_fn_nid = 0;
	info->features = 0;
	info->formats = htole64(s->formats);
	info->rates = htole64(s->rates);
	info->direction = s->dir;
	info->channels_min = s->ch_min;
	info->channels_max = s->ch_max;
}

static void vus_chmap_info(const struct vus *v, unsigned int i,
			   struct virtio_snd_chmap_info *info)
{
	const struct vus_chmap *m = &v->chmaps[i];

	info->hdr.hda_fn_nid = 0;
	info->direction = v->streams[m->stream].dir;
	info->channels = m->channels;
	memcpy(info->positions, m->pos, sizeof(info->positions));
}

/* JACK_INFO, PCM_INFO, CHMAP_INFO (5.14.6.1): returns the bytes written. */
static uint32_t vus_query_info(struct vus *v, const struct vus_req *r,
			       uint32_t code, uint32_t *status)
{
	union {
		struct virtio_snd_jack_info jack;
		struct virtio_snd_pcm_info pcm;
		struct virtio_snd_chmap_info chmap;
	} item;
	uint32_t start, count, size, nitems, item_size, i;
	const struct vlb_vq_elem *e = r->e;
	uint64_t off = sizeof(struct virtio_snd_hdr);

	*status = VIRTIO_SND_S_BAD_MSG;
	if (r->out_len < sizeof(struct virtio_snd_query_info))
		return 0;
	start = vus_le32(r->req + offsetof(struct virtio_snd_query_info, start_id));
	count = vus_le32(r->req + offsetof(struct virtio_snd_query_info, count));
	size = vus_le32(r->req + offsetof(struct virtio_snd_query_info, size));
	switch (code) {
	case VIRTIO_SND_R_JACK_INFO:
		nitems = VUS_JACKS;
		item_size = sizeof(item.jack);
		break;
	case VIRTIO_SND_R_PCM_INFO:
		nitems = VUS_STREAMS;
		item_size = sizeof(item.pcm);
		break;
	default:
		nitems = v->nr_chmaps;
		item_size = sizeof(item.chmap);
		break;
	}
	/* An item smaller than ours would cut fields; larger is zero-padded. */
	if (start > nitems || count > nitems - start || size < item_size ||
	    (uint64_t)count * size > VUS_MAX_QUERY_BYTES ||
	    r->in_len < off + (uint64_t)count * size)
		return 0;
	for (i = 0; i < count; i++) {
		memset(&item, 0, sizeof(item));
		if (code == VIRTIO_SND_R_JACK_INFO)
			vus_jack_info(start + i, &item.jack);
		else if (code == VIRTIO_SND_R_PCM_INFO)
			vus_pcm_info(&v->streams[start + i], &item.pcm);
		else
			vus_chmap_info(v, start + i, &item.chmap);
		vlb_iov_from_buf(e->in_sg, e->in_num, off, &item, item_size);
		vlb_iov_from_buf(e->in_sg, e->in_num, off + item_size, NULL, size - item_size);
		off += size;
	}
	*status = VIRTIO_SND_S_OK;
	return off - sizeof(struct virtio_snd_hdr);
}

static const struct vus_format *vus_format(uint8_t vfmt)
{
	unsigned int i;

	for (i = 0; i < sizeof(vus_formats) / sizeof(vus_formats[0]); i++)
		if (vus_formats[i].vfmt == vfmt)
			return &vus_formats[i];
	return NULL;
}

/* PCM_SET_PARAMS (5.14.6.6.3). */
static uint32_t vus_set_params(struct vus *v, struct vus_stream *s,
			       const struct vus_req *r)
{
	struct virtio_snd_pcm_set_params p;
	const struct vus_format *fmt;
	uint32_t buffer, period, features;
	uint64_t fb;

	if (r->out_len < sizeof(p))
		return VIRTIO_SND_S_BAD_MSG;
	memcpy(&p, r->req, sizeof(p));
	buffer = le32toh(p.buffer_bytes);
	period = le32toh(p.period_bytes);
	features = le32toh(p.features);
	/* What we do not offer is not supported; what makes no sense is bad. */
	if (features || p.format >= 64 || !(s->formats & 1ULL << p.format) ||
	    p.rate >= 64 || !(s->rates & 1ULL << p.rate) ||
	    p.channels < s->ch_min || p.channels > s->ch_max)
		return VIRTIO_SND_S_NOT_SUPP;
	fmt = vus_format(p.format);
	if (!fmt)
		return VIRTIO_SND_S_NOT_SUPP;
	fb = (uint64_t)p.channels * fmt->bytes;
	if (!period || period > buffer || period % fb)
		return VIRTIO_SND_S_BAD_MSG;
	/* Messages still held belong to the old parameters. */
	vus_stream_flush(v, s, VIRTIO_SND_S_OK);
	s->fmt = fmt;
	s->channels = p.channels;
	s->rate = vus_rates[p.rate];
	s->byte_rate = (uint64_t)s->rate * fb;
	s->new_session = true;
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(v->dev),
		"stream %u: %s %u ch %u Hz, buffer %u period %u",
		s->id, fmt->name, p.channels, s->rate, buffer, period);
	return VIRTIO_SND_S_OK;
}

/* A new session begins: a fresh output file, the source from its start. */
static uint32_t vus_session_start(struct vus *v, struct vus_stream *s)
{
	struct wav_fmt wf = {
		.tag = s->fmt->tag, .channels = s->channels, .rate = s->rate,
		.bits = s->fmt->bytes * 8,
	};
	int ret;

	s->io_error = false;
	s->src_pos = 0;
	if (s->dir == VIRTIO_SND_D_INPUT || !v->playback_path)
		return VIRTIO_SND_S_OK;
	ret = wav_writer_start(&v->out, &wf);
	if (ret) {
		vus_io_error(v, s, v->playback_path, ret);
		return VIRTIO_SND_S_IO_ERR;
	}
	vlb_log(v->playback_path, "playback: %s %u ch %u Hz", s->fmt->name,
		s->channels, s->rate);
	return VIRTIO_SND_S_OK;
}

/* PCM_SET_PARAMS .. PCM_STOP: the lifecycle of 5.14.6.6.1. */
static uint32_t vus_pcm_command(struct vus *v, const struct vus_req *r,
				uint32_t code)
{
	struct vus_stream *s;
	enum vus_state st;
	uint32_t status;

	if (r->out_len < sizeof(struct virtio_snd_pcm_hdr))
		return VIRTIO_SND_S_BAD_MSG;
	s = vus_req_stream(v, r);
	if (!s)
		return VIRTIO_SND_S_BAD_MSG;
	st = s->state;
	switch (code) {
	case VIRTIO_SND_R_PCM_SET_PARAMS:
		if (st != VUS_ST_INIT && st != VUS_ST_PARAMS &&
		    st != VUS_ST_PREPARED && st != VUS_ST_RELEASED)
			break;
		status = vus_set_params(v, s, r);
		if (status == VIRTIO_SND_S_OK)
			s->state = VUS_ST_PARAMS;
		return status;
	case VIRTIO_SND_R_PCM_PREPARE:
		if (st != VUS_ST_PARAMS && st != VUS_ST_PREPARED && st != VUS_ST_RELEASED)
			break;
		s->state = VUS_ST_PREPARED;
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_START:
		if (st != VUS_ST_PREPARED && st != VUS_ST_STOPPED)
			break;
		if (s->new_session) {
			status = vus_session_start(v, s);
			if (status != VIRTIO_SND_S_OK)
				return status;
			s->new_session = false;
		}
		s->state = VUS_ST_RUNNING;
		vus_stream_clock(s);
		vus_stream_schedule(v, s);
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_STOP:
		if (st != VUS_ST_RUNNING)
			break;
		s->state = VUS_ST_STOPPED;
		vus_stream_schedule(v, s);
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_RELEASE:
		if (st != VUS_ST_PREPARED && st != VUS_ST_STOPPED)
			break;
		/* "The device MUST complete all pending I/O messages." */
		vus_stream_flush(v, s, VIRTIO_SND_S_OK);
		s->state = VUS_ST_RELEASED;
		if (s->dir == VIRTIO_SND_D_OUTPUT && v->playback_path) {
			int ret = wav_writer_finish(&v->out);

			if (ret)
				vus_io_error(v, s, v->playback_path, ret);
			/* An xrun restart continues the same file. */
			v->out.open = v->out.fd >= 0 && !ret && !s->new_session;
		}
		return VIRTIO_SND_S_OK;
	}
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(v->dev), "stream %u: request 0x%x in state %s",
		s->id, code, vus_state_name[st]);
	return VIRTIO_SND_S_BAD_MSG;
}

/* Serve one control request; returns the used length. */
static uint32_t vus_control(struct vus *v, const struct vlb_vq_elem *e)
{
	struct vus_req r = { .e = e };
	uint32_t code, status, len = 0;
	struct virtio_snd_hdr hdr;

	r.out_len = vus_iov_size(e->out_sg, e->out_num);
	r.in_len = vus_iov_size(e->in_sg, e->in_num);
	if (r.in_len < sizeof(hdr)) {
		/* Nowhere to put a status: return the chain empty. */
		vlb_dbg(VLB_DBG_DEV, vlb_dev_name(v->dev),
			"control: response buffer of %" PRIu64 " bytes", r.in_len);
		return 0;
	}
	vlb_iov_to_buf(e->out_sg, e->out_num, 0, r.req, sizeof(r.req));
	if (r.out_len < sizeof(hdr)) {
		status = VIRTIO_SND_S_BAD_MSG;
		code = 0;
		goto out;
	}
	code = vus_le32(r.req);
	switch (code) {
	case VIRTIO_SND_R_JACK_INFO:
	case VIRTIO_SND_R_PCM_INFO:
	case VIRTIO_SND_R_CHMAP_INFO:
		len = vus_query_info(v, &r, code, &status);
		break;
	case VIRTIO_SND_R_JACK_REMAP:
		/* No jack offers VIRTIO_SND_JACK_F_REMAP. */
		status = r.out_len < sizeof(struct virtio_snd_jack_remap) ||
			 vus_le32(r.req + 4) >= VUS_JACKS ?
			 VIRTIO_SND_S_BAD_MSG : VIRTIO_SND_S_NOT_SUPP;
		break;
	case VIRTIO_SND_R_PCM_SET_PARAMS:
	case VIRTIO_SND_R_PCM_PREPARE:
	case VIRTIO_SND_R_PCM_RELEASE:
	case VIRTIO_SND_R_PCM_START:
	case VIRTIO_SND_R_PCM_STOP:
		status = vus_pcm_command(v, &r, code);
		break;
	default:
		status = VIRTIO_SND_S_NOT_SUPP;
		break;
	}
out:
	if (status != VIRTIO_SND_S_OK)
		vlb_dbg(VLB_DBG_DEV, vlb_dev_name(v->dev),
			"control: request 0x%x answered 0x%x", code, status);
	hdr.code = htole32(status);
	vlb_iov_from_buf(e->in_sg, e->in_num, 0, &hdr, sizeof(hdr));
	return sizeof(hdr) + len;
}

/* Queues ------------------------------------------------------------------ */

/* vlb_vq_handle_cb of the control queue: answered at once. */
static int64_t vus_control_handle(struct vlb_dev *dev, unsigned int qidx,
				  struct vlb_vq_elem *elem, void *opaque)
{
	(void)dev;
	(void)qidx;
	return vus_control(opaque, elem);
}

/*
 * An I/O message (5.14.6.8): a virtio_snd_pcm_xfer header and, for tx,
 * the samples in the device-readable part; for rx, room for the samples
 * in the device-writable part; the virtio_snd_pcm_status last. Good ones
 * are held until their time; bad ones are answered at once.
 */
static void vus_io_kick(struct vus *v, struct vlb_vq *vq, uint8_t dir)
{
	unsigned int qidx = vlb_vq_index(vq);
	struct vlb_vq_elem *elem;
	bool answered = false;
	int ret;

	while ((ret = vlb_vq_pop(vq, &elem)) == 0) {
		uint64_t out_len = vus_iov_size(elem->out_sg, elem->out_num);
		uint64_t in_len = vus_iov_size(elem->in_sg, elem->in_num);
		struct virtio_snd_pcm_xfer xfer;
		struct vus_stream *s = NULL;
		struct vus_buf *b;

		if (in_len < sizeof(struct virtio_snd_pcm_status)) {
			/* Nowhere to put a status. */
			vlb_vq_push(vq, elem, 0);
			free(elem);
			answered = true;
			continue;
		}
		b = calloc(1, sizeof(*b));
		if (!b) {
			vlb_err(vlb_dev_name(v->dev), "vq %u: %s", qidx, strerror(ENOMEM));
			vlb_vq_push(vq, elem, 0);
			free(elem);
			answered = true;
			continue;
		}
		b->elem = elem;
		b->status_off = in_len - sizeof(struct virtio_snd_pcm_status);
		b->bytes = dir == VIRTIO_SND_D_OUTPUT ? out_len - sizeof(xfer) : b->status_off;
		if (out_len >= sizeof(xfer)) {
			vlb_iov_to_buf(elem->out_sg, elem->out_num, 0, &xfer, sizeof(xfer));
			if (le32toh(xfer.stream_id) < VUS_STREAMS)
				s = &v->streams[le32toh(xfer.stream_id)];
		}
		/* Right direction, parameters set and prepared, rx has no samples out. */
		if (!s || s->dir != dir || (s->state != VUS_ST_PREPARED &&
		    s->state != VUS_ST_RUNNING && s->state != VUS_ST_STOPPED) ||
		    (dir == VIRTIO_SND_D_INPUT && out_len != sizeof(xfer))) {
			struct vus_stream *any = &v->streams[dir == VIRTIO_SND_D_OUTPUT ? 0 : 1];

			vlb_dbg(VLB_DBG_DEV, vlb_dev_name(v->dev),
				"vq %u: bad I/O message (%" PRIu64 " bytes out)", qidx, out_len);
			vus_buf_complete(v, any, b, VIRTIO_SND_S_BAD_MSG, 0);
			answered = true;
			continue;
		}
		if (s->state == VUS_ST_RUNNING && !s->head &&
		    s->base_ns + vus_bytes_ns(s, s->done) < vus_now_ns())
			vus_stream_clock(s);	/* ran dry: no catching up */
		*s->tail = b;
		s->tail = &b->next;
		if (s->head == b)
			vus_stream_schedule(v, s);
	}
	if (ret == -ENOMEM)
		vlb_err(vlb_dev_name(v->dev), "vq %u: %s", qidx, strerror(-ret));
	if (answered)
		vus_notify(v, qidx);
}

static void vus_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	struct vus *v = vlb_dev_priv(dev);
	struct vlb_vq *vq = vlb_dev_vq(dev, qidx);

	switch (qidx) {
	case VIRTIO_SND_VQ_CONTROL:
		vlb_vq_serve(dev, qidx, VUS_CTL_BUDGET, vus_control_handle, v);
		break;
	case VIRTIO_SND_VQ_EVENT:
		/* Held for jack events; we never send any: the jacks stay put. */
		break;
	case VIRTIO_SND_VQ_TX:
		vus_io_kick(v, vq, VIRTIO_SND_D_OUTPUT);
		break;
	case VIRTIO_SND_VQ_RX:
		vus_io_kick(v, vq, VIRTIO_SND_D_INPUT);
		break;
	}
}

static void vus_queue_set_started(struct vlb_dev *dev, unsigned int qidx, bool started)
{
	struct vus *v = vlb_dev_priv(dev);
	unsigned int i;

	if (started)
		return;
	for (i = 0; i < VUS_STREAMS; i++)
		if (v->streams[i].qidx == qidx)
			vus_stream_drop(v, &v->streams[i]);
}

static void vus_reset(struct vlb_dev *dev)
{
	struct vus *v = vlb_dev_priv(dev);
	unsigned int i;
	int ret;

	for (i = 0; i < VUS_STREAMS; i++) {
		struct vus_stream *s = &v->streams[i];

		vus_stream_drop(v, s);
		s->state = VUS_ST_INIT;
		s->new_session = false;
	}
	if (v->playback_path) {
		ret = wav_writer_finish(&v->out);
		if (ret)
			vlb_err(v->playback_path, "finishing the WAV file: %s", strerror(-ret));
	}
}

static uint64_t vus_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

/* The config space (5.14.4) is read-only and fixed at start. */
static int vus_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			  uint32_t len)
{
	struct vus *v = vlb_dev_priv(dev);
	struct virtio_snd_config cfg = {
		.jacks = htole32(VUS_JACKS),
		.streams = htole32(VUS_STREAMS),
		.chmaps = htole32(v->nr_chmaps),
	};

	if (offset > sizeof(cfg) || len > sizeof(cfg) - offset)
		return -EINVAL;
	memcpy(buf, (uint8_t *)&cfg + offset, len);
	return 0;
}

static int vus_set_config(struct vlb_dev *dev, const uint8_t *buf, uint32_t offset,
			  uint32_t len, uint32_t flags)
{
	(void)dev, (void)buf, (void)offset, (void)len, (void)flags;
	return -EPERM;
}

static const struct vlb_dev_iface vus_iface = {
	.get_features		= vus_get_features,
	.get_config		= vus_get_config,
	.set_config		= vus_set_config,
	.queue_set_started	= vus_queue_set_started,
	.queue_kick		= vus_queue_kick,
	.reset			= vus_reset,
};

/* Program ----------------------------------------------------------------- */

static const struct vlb_backend_option vus_options[] = {
	{ "playback-file", "PATH", "write played samples to this WAV file" },
	{ "capture-file", "PATH", "capture the samples of this WAV file" },
	{ "tone-hz", "HZ", "capture a sine tone of HZ (default 440)" },
	{ NULL, NULL, NULL },
};

static int vus_parse_option(void *priv, const char *name, const char *arg)
{
	struct vus *v = priv;
	char *end;

	if (!strcmp(name, "playback-file")) {
		v->playback_path = arg;
	} else if (!strcmp(name, "capture-file")) {
		v->capture_path = arg;
	} else {
		errno = 0;
		v->tone_hz = strtod(arg, &end);
		if (errno || end == arg || *end || !(v->tone_hz > 0 && v->tone_hz < 1e6)) {
			vlb_err(arg, "--tone-hz: not a frequency between 0 and 1000000");
			return -EINVAL;
		}
	}
	return 0;
}

/* Standard WAV channel order (the WAVEFORMATEXTENSIBLE mask bits). */
static const uint8_t vus_wav_positions[VUS_MAX_CHANNELS] = {
	VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR, VIRTIO_SND_CHMAP_FC,
	VIRTIO_SND_CHMAP_LFE, VIRTIO_SND_CHMAP_RL, VIRTIO_SND_CHMAP_RR,
	VIRTIO_SND_CHMAP_SL, VIRTIO_SND_CHMAP_SR,
};

static void vus_add_chmap(struct vus *v, unsigned int stream, uint8_t channels)
{
	struct vus_chmap *m = &v->chmaps[v->nr_chmaps++];

	m->stream = stream;
	m->channels = channels;
	if (channels == 1)
		m->pos[0] = VIRTIO_SND_CHMAP_MONO;
	else
		memcpy(m->pos, vus_wav_positions, channels);
}

/* Map a capture file's format to virtio-snd's; returns -EINVAL if none. */
static int vus_src_format(const struct wav_fmt *wf, uint64_t *formats, uint64_t *rates)
{
	unsigned int i;

	*formats = 0;
	*rates = 0;
	for (i = 0; i < sizeof(vus_formats) / sizeof(vus_formats[0]); i++)
		if (vus_formats[i].tag == wf->tag && vus_formats[i].bytes * 8 == wf->bits)
			*formats = 1ULL << vus_formats[i].vfmt;
	for (i = 0; i < sizeof(vus_rates) / sizeof(vus_rates[0]); i++)
		if (vus_rates[i] == wf->rate)
			*rates = 1ULL << i;
	return *formats && *rates ? 0 : -EINVAL;
}

static int vus_setup(struct vlb_dev *dev)
{
	struct vus *v = vlb_dev_priv(dev);
	struct vus_stream *out = &v->streams[0], *in = &v->streams[1];
	uint64_t all_formats = 0;
	unsigned int i;
	int ret;

	v->dev = dev;
	for (i = 0; i < sizeof(vus_formats) / sizeof(vus_formats[0]); i++)
		all_formats |= 1ULL << vus_formats[i].vfmt;
	*out = (struct vus_stream){ .id = 0, .dir = VIRTIO_SND_D_OUTPUT,
		.qidx = VIRTIO_SND_VQ_TX, .formats = all_formats,
		.rates = VUS_RATES_OFFERED, .ch_min = 1, .ch_max = 2,
		.tail = &out->head, .timer_fd = -1 };
	*in = (struct vus_stream){ .id = 1, .dir = VIRTIO_SND_D_INPUT,
		.qidx = VIRTIO_SND_VQ_RX, .formats = all_formats,
		.rates = VUS_RATES_OFFERED, .ch_min = 1, .ch_max = 2,
		.tail = &in->head, .timer_fd = -1 };
	vus_add_chmap(v, 0, 1);
	vus_add_chmap(v, 0, 2);

	if (v->capture_path) {
		const char *why;

		ret = wav_reader_open(&v->src, v->capture_path, &why);
		if (ret) {
			vlb_err(v->capture_path, "--capture-file: %s",
				ret == -EINVAL ? why : strerror(-ret));
			return ret;
		}
		if (v->src.fmt.channels > VUS_MAX_CHANNELS ||
		    vus_src_format(&v->src.fmt, &in->formats, &in->rates)) {
			vlb_err(v->capture_path,
				"--capture-file: %u-bit %s, %u channels at %u Hz is not a virtio-snd format",
				v->src.fmt.bits, v->src.fmt.tag == WAV_TAG_FLOAT ? "float" : "PCM",
				v->src.fmt.channels, v->src.fmt.rate);
			return -EINVAL;
		}
		in->ch_min = in->ch_max = v->src.fmt.channels;
		vus_add_chmap(v, 1, in->ch_min);
	} else {
		vus_add_chmap(v, 1, 1);
		vus_add_chmap(v, 1, 2);
	}
	if (v->playback_path) {
		ret = wav_writer_init(&v->out, v->playback_path);
		if (ret) {
			vlb_err(v->playback_path, "--playback-file: %s", strerror(-ret));
			return ret;
		}
	}
	for (i = 0; i < VUS_STREAMS; i++) {
		struct vus_stream *s = &v->streams[i];

		s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (s->timer_fd < 0) {
			ret = -errno;
			vlb_err(vlb_dev_name(dev), "timerfd_create: %s", strerror(-ret));
			return ret;
		}
		ret = vlb_dev_add_watch(dev, s->timer_fd, POLLIN, vus_timer_cb, s);
		if (ret) {
			vlb_err(vlb_dev_name(dev), "watching the timerfd: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void vus_teardown(struct vlb_dev *dev)
{
	struct vus *v = vlb_dev_priv(dev);
	unsigned int i;

	for (i = 0; i < VUS_STREAMS; i++) {
		struct vus_stream *s = &v->streams[i];

		vus_stream_drop(v, s);
		if (s->timer_fd >= 0) {
			vlb_dev_remove_watch(dev, s->timer_fd);
			close(s->timer_fd);
			s->timer_fd = -1;
		}
	}
	wav_writer_close(&v->out);
	wav_reader_close(&v->src);
}

int main(int argc, char **argv)
{
	static const struct vlb_backend sound = {
		.name		= "vhost-user-sound",
		.type		= "sound",
		.version	= VLB_VERSION,
		.iface		= &vus_iface,
		.nr_vqs		= VUS_QUEUES,
		.priv		= &vus_dev,
		.options	= vus_options,
		.parse_option	= vus_parse_option,
		.setup		= vus_setup,
		.teardown	= vus_teardown,
	};

	return vlb_backend_main(&sound, argc, argv);
}
