/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RIFF/WAVE files for vhost-user-sound: a writer that keeps its header
 * valid after every write (a killed back-end still leaves a playable file)
 * and a reader for the capture source.
 *
 * Only what virtio-snd and a canonical WAV file share: integer PCM
 * (WAVE_FORMAT_PCM: 8-bit unsigned, 16/24/32-bit signed little-endian,
 * 24-bit packed in 3 bytes) and IEEE float (WAVE_FORMAT_IEEE_FLOAT,
 * 32/64-bit). The reader also takes WAVE_FORMAT_EXTENSIBLE with one of
 * those two sub-formats and every bit of the container valid.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VUS_WAV_H
#define VUS_WAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAV_TAG_PCM		0x0001
#define WAV_TAG_FLOAT		0x0003
#define WAV_TAG_EXTENSIBLE	0xfffe

/**
 * struct wav_fmt - what a WAV file's fmt chunk says
 * @tag: WAV_TAG_PCM or WAV_TAG_FLOAT (extensible is resolved to these)
 * @channels: interleaved channels per frame
 * @rate: frames per second
 * @bits: bits per sample, all stored (8, 16, 24, 32, 64)
 */
struct wav_fmt {
	uint16_t tag;
	uint16_t channels;
	uint32_t rate;
	uint16_t bits;
};

/**
 * struct wav_writer - a WAV file being written
 * @fd: the file, open for the program's life (-1: none)
 * @fmt: format of the current contents
 * @header: bytes before the samples
 * @data: sample bytes written so far
 * @open: a header was written for @fmt
 */
struct wav_writer {
	int fd;
	struct wav_fmt fmt;
	uint32_t header;
	uint64_t data;
	bool open;
};

/**
 * wav_writer_init() - open (create) the output file, keep its contents
 * @w: writer
 * @path: file path
 * Returns: 0 or -errno from open().
 */
int wav_writer_init(struct wav_writer *w, const char *path);

/**
 * wav_writer_start() - truncate the file and write a header for @fmt
 * @w: writer from wav_writer_init()
 * @fmt: sample format of what follows
 * Returns: 0 or -errno.
 */
int wav_writer_start(struct wav_writer *w, const struct wav_fmt *fmt);

/**
 * wav_writer_append() - append sample bytes and update the header sizes
 * @w: started writer
 * @buf: bytes
 * @len: byte count
 * Returns: 0; -EFBIG when the 4 GiB RIFF limit would be passed; -errno.
 */
int wav_writer_append(struct wav_writer *w, const void *buf, size_t len);

/**
 * wav_writer_finish() - pad an odd data chunk, final sizes, flush
 * @w: writer; nothing happens unless started
 * Returns: 0 or -errno. The writer must be started again to append.
 */
int wav_writer_finish(struct wav_writer *w);

/**
 * wav_writer_close() - finish and close the file
 * @w: writer
 */
void wav_writer_close(struct wav_writer *w);

/**
 * struct wav_reader - a WAV file read as the capture source
 * @fd: the file
 * @fmt: its format
 * @data_off: file offset of the first sample byte
 * @data_len: sample bytes (whole frames only)
 */
struct wav_reader {
	int fd;
	struct wav_fmt fmt;
	uint64_t data_off;
	uint64_t data_len;
};

/**
 * wav_reader_open() - open and parse a WAV file
 * @r: reader
 * @path: file path
 * @why: set to a short reason on -EINVAL (not a WAV file we can read)
 * Returns: 0, -EINVAL (see @why) or -errno.
 */
int wav_reader_open(struct wav_reader *r, const char *path, const char **why);

/**
 * wav_reader_read() - read sample bytes
 * @r: reader
 * @pos: offset in the sample data
 * @buf: destination
 * @len: wanted bytes
 * Returns: bytes read (fewer at the end of the data) or -errno.
 */
long wav_reader_read(struct wav_reader *r, uint64_t pos, void *buf, size_t len);

/**
 * wav_reader_close() - close the file
 * @r: reader
 */
void wav_reader_close(struct wav_reader *r);

#endif /* VUS_WAV_H */
