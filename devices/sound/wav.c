// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RIFF/WAVE writer and reader for vhost-user-sound (see wav.h).
 *
 * Layout written (all little-endian): "RIFF" size "WAVE", a "fmt " chunk
 * (16 bytes for PCM; 18 with cbSize 0 for float), for float a "fact"
 * chunk with the frame count (required for non-PCM formats), then "data".
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wav.h"

/* The RIFF size field is 32 bits. */
#define WAV_MAX_FILE	0xffffffffULL

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

static uint32_t wav_frame_bytes(const struct wav_fmt *fmt)
{
	return (uint32_t)fmt->channels * (fmt->bits / 8);
}

int wav_writer_init(struct wav_writer *w, const char *path)
{
	memset(w, 0, sizeof(*w));
	w->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	return w->fd < 0 ? -errno : 0;
}

/* The sizes in the header for @w->data sample bytes (@pad: one more). */
static int wav_writer_sizes(struct wav_writer *w, bool pad)
{
	uint8_t b[4];
	int ret;

	put32(b, w->header - 8 + w->data + pad);
	ret = pwrite_all(w->fd, b, 4, 4);
	if (ret)
		return ret;
	if (w->fmt.tag == WAV_TAG_FLOAT) {
		/* "fact" follows the 18-byte fmt chunk at 12 + 8 + 18. */
		put32(b, w->data / wav_frame_bytes(&w->fmt));
		ret = pwrite_all(w->fd, b, 4, 38 + 8);
		if (ret)
			return ret;
	}
	put32(b, w->data);
	return pwrite_all(w->fd, b, 4, w->header - 4);
}

int wav_writer_start(struct wav_writer *w, const struct wav_fmt *fmt)
{
	uint32_t fb = wav_frame_bytes(fmt);
	bool is_float = fmt->tag == WAV_TAG_FLOAT;
	uint8_t h[64] = { 0 };
	uint32_t n = 0;
	int ret;

	w->open = false;
	if (ftruncate(w->fd, 0) < 0)
		return -errno;
	memcpy(h, "RIFF", 4);
	memcpy(h + 8, "WAVE", 4);
	memcpy(h + 12, "fmt ", 4);
	put32(h + 16, is_float ? 18 : 16);
	put16(h + 20, fmt->tag);
	put16(h + 22, fmt->channels);
	put32(h + 24, fmt->rate);
	put32(h + 28, fmt->rate * fb);
	put16(h + 32, fb);
	put16(h + 34, fmt->bits);
	n = 36;
	if (is_float) {
		put16(h + 36, 0);	/* cbSize */
		memcpy(h + 38, "fact", 4);
		put32(h + 42, 4);
		n = 50;		/* fact count at 46 */
	}
	memcpy(h + n, "data", 4);
	n += 8;
	w->fmt = *fmt;
	w->header = n;
	w->data = 0;
	ret = pwrite_all(w->fd, h, n, 0);
	if (ret)
		return ret;
	ret = wav_writer_sizes(w, false);
	if (ret)
		return ret;
	w->open = true;
	return 0;
}

int wav_writer_append(struct wav_writer *w, const void *buf, size_t len)
{
	int ret;

	if (!w->open)
		return -EBADF;
	if (w->header + w->data + len + 1 > WAV_MAX_FILE)
		return -EFBIG;
	ret = pwrite_all(w->fd, buf, len, w->header + w->data);
	if (ret)
		return ret;
	w->data += len;
	return wav_writer_sizes(w, false);
}

int wav_writer_finish(struct wav_writer *w)
{
	int ret = 0;

	if (!w->open)
		return 0;
	w->open = false;
	/* A chunk of odd length is followed by one pad byte (RIFF). */
	if (w->data & 1)
		ret = pwrite_all(w->fd, "", 1, w->header + w->data);
	if (!ret)
		ret = wav_writer_sizes(w, w->data & 1);
	if (!ret && fdatasync(w->fd) < 0)
		ret = -errno;
	return ret;
}

void wav_writer_close(struct wav_writer *w)
{
	if (w->fd < 0)
		return;
	wav_writer_finish(w);
	close(w->fd);
	w->fd = -1;
}

static int pread_all(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -ENODATA;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Check a fmt chunk of @len bytes at @p; fill @fmt. */
static int wav_parse_fmt(const uint8_t *p, uint32_t len, struct wav_fmt *fmt,
			 const char **why)
{
	uint16_t tag, align;

	if (len < 16) {
		*why = "fmt chunk too short";
		return -EINVAL;
	}
	tag = get16(p);
	fmt->channels = get16(p + 2);
	fmt->rate = get32(p + 4);
	align = get16(p + 12);
	fmt->bits = get16(p + 14);
	if (tag == WAV_TAG_EXTENSIBLE) {
		/* cbSize 22: valid bits, channel mask, sub-format GUID. */
		if (len < 40 || get16(p + 16) < 22) {
			*why = "extensible fmt chunk too short";
			return -EINVAL;
		}
		if (get16(p + 18) != fmt->bits) {
			*why = "container bits differ from valid bits";
			return -EINVAL;
		}
		tag = get16(p + 24);
	}
	if (tag != WAV_TAG_PCM && tag != WAV_TAG_FLOAT) {
		*why = "not PCM or IEEE float samples";
		return -EINVAL;
	}
	fmt->tag = tag;
	if (tag == WAV_TAG_PCM ? fmt->bits != 8 && fmt->bits != 16 &&
				 fmt->bits != 24 && fmt->bits != 32 :
				 fmt->bits != 32 && fmt->bits != 64) {
		*why = "unsupported bits per sample";
		return -EINVAL;
	}
	if (!fmt->channels || align != wav_frame_bytes(fmt)) {
		*why = "bad channel count or block alignment";
		return -EINVAL;
	}
	return 0;
}

int wav_reader_open(struct wav_reader *r, const char *path, const char **why)
{
	bool have_fmt = false;
	uint8_t h[40];
	struct stat st;
	uint64_t off = 12;
	int ret;

	memset(r, 0, sizeof(*r));
	*why = NULL;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	if (fstat(r->fd, &st) < 0) {
		ret = -errno;
		goto err;
	}
	ret = pread_all(r->fd, h, 12, 0);
	if (ret || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
		*why = "not a RIFF/WAVE file";
		ret = -EINVAL;
		goto err;
	}
	/* Walk the chunks: fmt must come before data. */
	for (;;) {
		uint32_t len;

		if (pread_all(r->fd, h, 8, off)) {
			*why = "no data chunk";
			ret = -EINVAL;
			goto err;
		}
		len = get32(h + 4);
		if (!memcmp(h, "fmt ", 4)) {
			if (len > sizeof(h) || pread_all(r->fd, h, len, off + 8)) {
				*why = len > sizeof(h) ? "fmt chunk too long" : "fmt chunk truncated";
				ret = -EINVAL;
				goto err;
			}
			ret = wav_parse_fmt(h, len, &r->fmt, why);
			if (ret)
				goto err;
			have_fmt = true;
		} else if (!memcmp(h, "data", 4)) {
			uint64_t fb;

			if (!have_fmt) {
				*why = "data chunk before fmt chunk";
				ret = -EINVAL;
				goto err;
			}
			r->data_off = off + 8;
			/* Streaming writers leave the size too big: clamp. */
			r->data_len = len;
			if ((uint64_t)st.st_size < r->data_off)
				r->data_len = 0;
			else if (r->data_len > (uint64_t)st.st_size - r->data_off)
				r->data_len = st.st_size - r->data_off;
			fb = wav_frame_bytes(&r->fmt);
			r->data_len -= r->data_len % fb;
			return 0;
		}
		off += 8 + (uint64_t)len + (len & 1);
	}
err:
	close(r->fd);
	r->fd = -1;
	return ret;
}

long wav_reader_read(struct wav_reader *r, uint64_t pos, void *buf, size_t len)
{
	uint8_t *p = buf;
	long done = 0;

	if (pos >= r->data_len)
		return 0;
	if (len > r->data_len - pos)
		len = r->data_len - pos;
	while (len) {
		ssize_t n = pread(r->fd, p, len, r->data_off + pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			break;	/* the file shrank under us: the rest is silence */
		p += n;
		len -= n;
		pos += n;
		done += n;
	}
	return done;
}

void wav_reader_close(struct wav_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}
