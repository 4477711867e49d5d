/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SCSI target of vhost-user-scsi: logical units backed by image files,
 * the SCSI commands they answer (SPC-4 / SBC-3 subset) and the virtio-scsi
 * request and control formats (virtio spec 5.6.6) read from and written to
 * iovecs. Nothing here knows about vhost-user, so the unit test
 * (tests/unit/test_dev_scsi.c) drives it with plain buffers.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VSCSI_TARGET_H
#define VSCSI_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Logical units one target may have (LUNs 0 .. VSCSI_MAX_LUNS - 1). */
#define VSCSI_MAX_LUNS		64

/* Logical block size of every unit. */
#define VSCSI_BLOCK_SIZE	512U

/* Config space defaults (virtio spec 5.6.4) and what the driver may set. */
#define VSCSI_CDB_SIZE		32U	/* VIRTIO_SCSI_CDB_DEFAULT_SIZE */
#define VSCSI_SENSE_SIZE	96U	/* VIRTIO_SCSI_SENSE_DEFAULT_SIZE */
#define VSCSI_MAX_CDB_SIZE	256U
#define VSCSI_MAX_SENSE_SIZE	256U
#define VSCSI_SEG_MAX		126U
#define VSCSI_MAX_SECTORS	8192U	/* 4 MiB per command */
#define VSCSI_CMD_PER_LUN	128U
#define VSCSI_MAX_LUN_CONFIG	16383U	/* the spec's largest max_lun */

/* Identity in INQUIRY (space padded, SPC-4 6.6.2). */
#define VSCSI_VENDOR		"VIRTLOOP"		/* 8 bytes */
#define VSCSI_PRODUCT		"vhost-user-scsi "	/* 16 bytes */
#define VSCSI_REVISION		"0001"			/* 4 bytes */

/* Length of the unit serial number (VPD page 0x80), hex digits. */
#define VSCSI_SERIAL_LEN	16

/**
 * struct vscsi_lun - one logical unit
 * @path: image file or block device
 * @fd: open image, -1 when the unit is absent
 * @read_only: writes fail with DATA PROTECT
 * @nblocks: capacity in VSCSI_BLOCK_SIZE blocks
 * @id: 64-bit identity (NAA and serial), derived from the path
 * @serial: VSCSI_SERIAL_LEN hex digits and a NUL
 */
struct vscsi_lun {
	const char *path;
	int fd;
	bool read_only;
	uint64_t nblocks;
	uint64_t id;
	char serial[VSCSI_SERIAL_LEN + 1];
};

/**
 * struct vscsi_target - the one target (target id 0) of the device
 * @luns: units 0 .. @nr_luns - 1
 * @nr_luns: how many units exist
 * @cdb_size: CDB bytes in a request header (config cdb_size)
 * @sense_size: sense bytes in a response header (config sense_size)
 */
struct vscsi_target {
	struct vscsi_lun luns[VSCSI_MAX_LUNS];
	unsigned int nr_luns;
	uint32_t cdb_size;
	uint32_t sense_size;
};

/**
 * vscsi_lun_open() - open an image as the next unit of @t
 * @t: target; @t->nr_luns must be below VSCSI_MAX_LUNS
 * @path: regular file or block device, at least one block long
 * @read_only: open read-only and refuse writes
 *
 * Returns: 0, -EINVAL for an image shorter than a block, -ENOSPC when the
 * target is full, or -errno from open/fstat/ioctl (logged by the caller).
 */
int vscsi_lun_open(struct vscsi_target *t, const char *path, bool read_only);

/**
 * vscsi_target_init() - empty target with the default config sizes
 * @t: target
 */
void vscsi_target_init(struct vscsi_target *t);

/**
 * vscsi_target_close() - close every unit's image
 * @t: target
 */
void vscsi_target_close(struct vscsi_target *t);

/**
 * vscsi_handle_cmd() - serve one request of a request queue
 * @t: target
 * @out: device-readable buffers: struct virtio_scsi_cmd_req, data-out
 * @out_num: their number
 * @in: device-writable buffers: struct virtio_scsi_cmd_resp, data-in
 * @in_num: their number
 *
 * Any layout of the buffers is accepted (VIRTIO_F_VERSION_1 implies
 * ANY_LAYOUT). A malformed request (buffers shorter than the headers) gets
 * VIRTIO_SCSI_S_FAILURE when the response fits, a transfer larger than the
 * buffers VIRTIO_SCSI_S_OVERRUN, an unknown target VIRTIO_SCSI_S_BAD_TARGET;
 * SCSI errors are CHECK CONDITION with fixed-format sense data.
 * Returns: the bytes written into @in (the used length).
 */
uint32_t vscsi_handle_cmd(struct vscsi_target *t,
			  const struct iovec *out, unsigned int out_num,
			  const struct iovec *in, unsigned int in_num);

/**
 * vscsi_handle_ctrl() - serve one request of the control queue
 * @t: target
 * @out: device-readable buffers (TMF or asynchronous notification request)
 * @out_num: their number
 * @in: device-writable buffers (the response)
 * @in_num: their number
 *
 * Task management functions complete at once: no command is ever pending,
 * since every command completes before the next one is read.
 * Returns: the bytes written into @in (the used length).
 */
uint32_t vscsi_handle_ctrl(struct vscsi_target *t,
			   const struct iovec *out, unsigned int out_num,
			   const struct iovec *in, unsigned int in_num);

/**
 * vscsi_exec() - execute one CDB on a unit (for the unit test)
 * @t: target
 * @lun: unit number; one without an image is answered as not present
 * @cdb: command descriptor block
 * @cdb_len: bytes available in @cdb
 * @dout: data-out bytes, or NULL
 * @dout_len: bytes at @dout
 * @din: data-in buffer, or NULL
 * @din_len: room at @din
 * @din_written: set to the data-in bytes written
 * @sense: fixed-format sense data on CHECK CONDITION (18 bytes)
 * Returns: the SCSI status (0 GOOD, 2 CHECK CONDITION), or -1 when the
 * buffers are too small for the transfer (VIRTIO_SCSI_S_OVERRUN)
 */
int vscsi_exec(struct vscsi_target *t, uint32_t lun, const uint8_t *cdb,
	       size_t cdb_len, const void *dout, size_t dout_len, void *din,
	       size_t din_len, size_t *din_written, uint8_t sense[18]);

#endif /* VSCSI_TARGET_H */
