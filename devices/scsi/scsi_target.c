// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SCSI target of vhost-user-scsi (see scsi_target.h).
 *
 * Commands (SPC-4, SBC-3): TEST UNIT READY, REQUEST SENSE, INQUIRY (standard
 * data; VPD pages 0x00, 0x80, 0x83, 0xb0, 0xb1), REPORT LUNS, READ CAPACITY
 * 10/16, READ/WRITE 6/10/12/16 (FUA honoured), SYNCHRONIZE CACHE 10/16,
 * MODE SENSE 6/10 (caching and control pages), START STOP UNIT. Everything
 * else is CHECK CONDITION, ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.
 * Sense data is fixed format (SPC-4 4.5.3), at most 18 bytes.
 *
 * Addressing (virtio spec 5.6.6.1): lun[0] is 1, lun[1] the target (only
 * target 0 exists), lun[2..3] the LUN in SAM single-level format (flat
 * 0x40 or peripheral 0x00), lun[4..7] zero. A request for another target is
 * VIRTIO_SCSI_S_BAD_TARGET; a LUN without an image answers INQUIRY with
 * peripheral qualifier 011b and other commands with LOGICAL UNIT NOT
 * SUPPORTED, as SPC-4 asks.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_scsi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vlb.h"
#include "scsi_target.h"

/* virtio spec 5.6.6.2: TMF success shares its value with S_OK. */
#define VSCSI_S_FUNCTION_COMPLETE	0

/* Fixed header bytes of a request and of a response (before cdb / sense). */
#define VSCSI_REQ_HDR		19U	/* lun, tag, task_attr, prio, crn */
#define VSCSI_RESP_HDR		12U	/* sense_len .. response */

#define VSCSI_SENSE_LEN		18U

/* SCSI status codes (SAM-5). */
#define SAM_GOOD		0x00
#define SAM_CHECK_CONDITION	0x02
#define VSCSI_OVERRUN		(-1)

/* Sense keys (SPC-4 4.5.6). */
#define SK_NO_SENSE		0x0
#define SK_MEDIUM_ERROR		0x3
#define SK_ILLEGAL_REQUEST	0x5
#define SK_DATA_PROTECT		0x7

/* Additional sense codes, ASC << 8 | ASCQ. */
#define ASC_NONE			0x0000
#define ASC_WRITE_ERROR			0x0c00
#define ASC_READ_ERROR			0x1100
#define ASC_INVALID_OPCODE		0x2000
#define ASC_LBA_OUT_OF_RANGE		0x2100
#define ASC_INVALID_FIELD_IN_CDB	0x2400
#define ASC_LUN_NOT_SUPPORTED		0x2500
#define ASC_WRITE_PROTECTED		0x2700
#define ASC_SAVING_NOT_SUPPORTED	0x3900

/* Operation codes. */
#define OP_TEST_UNIT_READY	0x00
#define OP_REQUEST_SENSE	0x03
#define OP_READ_6		0x08
#define OP_WRITE_6		0x0a
#define OP_INQUIRY		0x12
#define OP_MODE_SENSE_6		0x1a
#define OP_START_STOP_UNIT	0x1b
#define OP_READ_CAPACITY_10	0x25
#define OP_READ_10		0x28
#define OP_WRITE_10		0x2a
#define OP_SYNC_CACHE_10	0x35
#define OP_MODE_SENSE_10	0x5a
#define OP_READ_16		0x88
#define OP_WRITE_16		0x8a
#define OP_SYNC_CACHE_16	0x91
#define OP_SERVICE_ACTION_IN_16	0x9e
#define OP_REPORT_LUNS		0xa0
#define OP_READ_12		0xa8
#define OP_WRITE_12		0xaa

#define SAI_READ_CAPACITY_16	0x10

/* Mode pages (SBC-3 6.4). */
#define MP_CACHING		0x08
#define MP_CONTROL		0x0a
#define MP_ALL			0x3f

/* Largest data-in reply built in memory (REPORT LUNS is the biggest). */
#define VSCSI_REPLY_MAX		(8 + 8 * VSCSI_MAX_LUNS)

/* iovecs handed to one preadv/pwritev call. */
#define VSCSI_IOV_BATCH		64

/**
 * struct vscsi_cmd - one command being executed
 * @t: target
 * @lu: the unit, NULL when the LUN has no image
 * @lun: LUN number (UINT32_MAX for an address we cannot parse)
 * @cdb: the CDB
 * @cdb_len: bytes available at @cdb
 * @dout: data-out iovecs; the data starts @dout_off bytes in
 * @dout_num: their number
 * @dout_off: offset of the data in @dout
 * @dout_len: data-out bytes
 * @dout_used: data-out bytes consumed
 * @din: data-in iovecs; the data starts @din_off bytes in
 * @din_num: their number
 * @din_off: offset of the data in @din
 * @din_len: data-in room
 * @din_written: data-in bytes written
 * @status: SCSI status, or VSCSI_OVERRUN
 * @sense: fixed-format sense data when @status is CHECK CONDITION
 */
struct vscsi_cmd {
	struct vscsi_target *t;
	struct vscsi_lun *lu;
	uint32_t lun;
	const uint8_t *cdb;
	size_t cdb_len;
	const struct iovec *dout;
	unsigned int dout_num;
	size_t dout_off;
	size_t dout_len;
	size_t dout_used;
	const struct iovec *din;
	unsigned int din_num;
	size_t din_off;
	size_t din_len;
	size_t din_written;
	int status;
	uint8_t sense[VSCSI_SENSE_LEN];
};

/* Big-endian fields of CDBs and replies. */
static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, v);
}

/* FNV-1a: a stable 64-bit identity from the image path. */
static uint64_t vscsi_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (uint8_t)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void vscsi_target_init(struct vscsi_target *t)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < VSCSI_MAX_LUNS; i++)
		t->luns[i].fd = -1;
	t->cdb_size = VSCSI_CDB_SIZE;
	t->sense_size = VSCSI_SENSE_SIZE;
}

int vscsi_lun_open(struct vscsi_target *t, const char *path, bool read_only)
{
	struct vscsi_lun *lu;
	uint64_t size;
	struct stat st;
	char *real;
	int fd, ret;

	if (t->nr_luns >= VSCSI_MAX_LUNS)
		return -ENOSPC;
	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			ret = -errno;
			goto err;
		}
	} else if (S_ISREG(st.st_mode)) {
		size = st.st_size;
	} else {
		ret = -EINVAL;
		goto err;
	}
	if (size < VSCSI_BLOCK_SIZE) {
		ret = -EINVAL;
		goto err;
	}
	lu = &t->luns[t->nr_luns];
	lu->path = path;
	lu->fd = fd;
	lu->read_only = read_only;
	/* A partial last block is not offered. */
	lu->nblocks = size / VSCSI_BLOCK_SIZE;
	real = realpath(path, NULL);
	lu->id = vscsi_hash(real ? real : path) ^ t->nr_luns;
	free(real);
	snprintf(lu->serial, sizeof(lu->serial), "%016llx",
		 (unsigned long long)lu->id);
	t->nr_luns++;
	return 0;
err:
	close(fd);
	return ret;
}

void vscsi_target_close(struct vscsi_target *t)
{
	unsigned int i;

	for (i = 0; i < t->nr_luns; i++) {
		if (t->luns[i].fd >= 0)
			close(t->luns[i].fd);
		t->luns[i].fd = -1;
	}
	t->nr_luns = 0;
}

/* Sense ------------------------------------------------------------------- */

static void vscsi_fill_sense(uint8_t *s, uint8_t key, uint16_t asc)
{
	memset(s, 0, VSCSI_SENSE_LEN);
	s[0] = 0x70;		/* current error, fixed format */
	s[2] = key;
	s[7] = VSCSI_SENSE_LEN - 8;	/* additional sense length */
	s[12] = asc >> 8;
	s[13] = asc;
}

static void cmd_check(struct vscsi_cmd *c, uint8_t key, uint16_t asc)
{
	c->status = SAM_CHECK_CONDITION;
	vscsi_fill_sense(c->sense, key, asc);
}

/* INVALID FIELD IN CDB, pointing at byte @byte of the CDB (SPC-4 4.5.2.4.2). */
static void cmd_invalid_field(struct vscsi_cmd *c, uint16_t byte)
{
	cmd_check(c, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	c->sense[15] = 0xc0;	/* SKSV, C/D: the error is in the CDB */
	put_be16(c->sense + 16, byte);
}

static void cmd_invalid_opcode(struct vscsi_cmd *c)
{
	cmd_check(c, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}

/* Data transfer ------------------------------------------------------------ */

/* Reply @len bytes of @buf, at most @alloc (the CDB's allocation length). */
static void cmd_reply(struct vscsi_cmd *c, const void *buf, size_t len,
		      size_t alloc)
{
	if (len > alloc)
		len = alloc;
	if (len > c->din_len)
		len = c->din_len;
	c->din_written = vlb_iov_from_buf(c->din, c->din_num, c->din_off,
					  buf, len);
	c->status = SAM_GOOD;
}

/*
 * pread/pwrite @len bytes at image offset @pos to/from the iovecs @iov,
 * starting @off bytes into them (the caller checked that they hold @len).
 * A read past the end of the image (it shrank under us) gives zeros.
 * Returns: 0 or -errno.
 */
static int vscsi_iov_io(int fd, bool write, const struct iovec *iov,
			unsigned int n, size_t off, size_t len, uint64_t pos)
{
	struct iovec batch[VSCSI_IOV_BATCH];

	while (len) {
		unsigned int i, nb = 0;
		size_t skip = off, want = 0;
		ssize_t done;

		for (i = 0; i < n && nb < VSCSI_IOV_BATCH && want < len; i++) {
			size_t l = iov[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			l -= skip;
			if (l > len - want)
				l = len - want;
			batch[nb].iov_base = (uint8_t *)iov[i].iov_base + skip;
			batch[nb].iov_len = l;
			skip = 0;
			want += l;
			nb++;
		}
		if (!nb)
			return -EFAULT;
		if (write)
			done = pwritev(fd, batch, nb, pos);
		else
			done = preadv(fd, batch, nb, pos);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!done) {
			if (write)
				return -EIO;
			vlb_iov_from_buf(iov, n, off, NULL, len);
			return 0;
		}
		off += done;
		len -= done;
		pos += done;
	}
	return 0;
}

/* Commands ---------------------------------------------------------------- */

static void cmd_inquiry_std(struct vscsi_cmd *c, size_t alloc)
{
	uint8_t d[36] = { 0 };

	/* Qualifier 011b, type 1fh: no unit can be at this LUN. */
	d[0] = c->lu ? 0x00 : 0x7f;
	d[2] = 0x06;		/* SPC-4 */
	d[3] = 0x12;		/* HISUP, response data format 2 */
	d[4] = sizeof(d) - 5;
	d[7] = 0x02;		/* CMDQUE */
	memcpy(d + 8, VSCSI_VENDOR, 8);
	memcpy(d + 16, VSCSI_PRODUCT, 16);
	memcpy(d + 32, VSCSI_REVISION, 4);
	cmd_reply(c, d, sizeof(d), alloc);
}

static void cmd_inquiry_vpd(struct vscsi_cmd *c, uint8_t page, size_t alloc)
{
	static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1 };
	const struct vscsi_lun *lu = c->lu;
	uint8_t d[64] = { 0 };
	size_t len;

	d[1] = page;
	switch (page) {
	case 0x00:		/* supported VPD pages */
		memcpy(d + 4, pages, sizeof(pages));
		len = 4 + sizeof(pages);
		break;
	case 0x80:		/* unit serial number */
		memcpy(d + 4, lu->serial, VSCSI_SERIAL_LEN);
		len = 4 + VSCSI_SERIAL_LEN;
		break;
	case 0x83:		/* device identification */
		/* T10 vendor ID based: ASCII, logical unit, type 1. */
		d[4] = 0x02;
		d[5] = 0x01;
		d[7] = 8 + VSCSI_SERIAL_LEN;
		memcpy(d + 8, VSCSI_VENDOR, 8);
		memcpy(d + 16, lu->serial, VSCSI_SERIAL_LEN);
		/* NAA locally assigned (3h): binary, logical unit, type 3. */
		d[32] = 0x01;
		d[33] = 0x03;
		d[35] = 8;
		put_be64(d + 36, (lu->id & 0x0fffffffffffffffULL) |
			 0x3000000000000000ULL);
		len = 44;
		break;
	case 0xb0:		/* block limits */
		put_be16(d + 6, 4096 / VSCSI_BLOCK_SIZE);
		put_be32(d + 8, VSCSI_MAX_SECTORS);
		len = 64;
		break;
	case 0xb1:		/* block device characteristics */
		put_be16(d + 4, 1);	/* non-rotating medium */
		len = 64;
		break;
	default:
		cmd_invalid_field(c, 2);
		return;
	}
	put_be16(d + 2, len - 4);
	cmd_reply(c, d, len, alloc);
}

static void cmd_inquiry(struct vscsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	size_t alloc = get_be16(cdb + 3);

	if (cdb[1] & 0xfe) {		/* obsolete CMDDT and reserved bits */
		cmd_invalid_field(c, 1);
		return;
	}
	if (!(cdb[1] & 0x01)) {
		if (cdb[2]) {
			cmd_invalid_field(c, 2);
			return;
		}
		cmd_inquiry_std(c, alloc);
		return;
	}
	if (!c->lu) {
		cmd_check(c, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return;
	}
	cmd_inquiry_vpd(c, cdb[2], alloc);
}

static void cmd_report_luns(struct vscsi_cmd *c)
{
	uint8_t d[VSCSI_REPLY_MAX] = { 0 };
	uint32_t alloc = get_be32(c->cdb + 6);
	unsigned int i, n = 0;

	switch (c->cdb[2]) {
	case 0x00:		/* every logical unit */
	case 0x02:
		n = c->t->nr_luns;
		break;
	case 0x01:		/* well-known LUNs only: we have none */
	case 0x10:
	case 0x11:
	case 0x12:
		break;
	default:
		cmd_invalid_field(c, 2);
		return;
	}
	if (alloc < 16) {	/* SPC-4 6.33 */
		cmd_invalid_field(c, 6);
		return;
	}
	put_be32(d, n * 8);
	for (i = 0; i < n; i++) {
		uint8_t *e = d + 8 + 8 * i;

		/* Peripheral addressing below 256, flat space above (SAM-5). */
		if (i < 256) {
			e[1] = i;
		} else {
			e[0] = 0x40 | i >> 8;
			e[1] = i;
		}
	}
	cmd_reply(c, d, 8 + 8 * n, alloc);
}

static void cmd_request_sense(struct vscsi_cmd *c)
{
	uint8_t s[VSCSI_SENSE_LEN];

	if (c->cdb[1] & 0x01) {	/* DESC: descriptor format not supported */
		cmd_invalid_field(c, 1);
		return;
	}
	vscsi_fill_sense(s, c->lu ? SK_NO_SENSE : SK_ILLEGAL_REQUEST,
			 c->lu ? ASC_NONE : ASC_LUN_NOT_SUPPORTED);
	cmd_reply(c, s, sizeof(s), c->cdb[4]);
}

static void cmd_read_capacity_10(struct vscsi_cmd *c)
{
	uint64_t last = c->lu->nblocks - 1;
	uint8_t d[8];

	put_be32(d, last > UINT32_MAX ? UINT32_MAX : last);
	put_be32(d + 4, VSCSI_BLOCK_SIZE);
	cmd_reply(c, d, sizeof(d), sizeof(d));
}

static void cmd_service_action_in(struct vscsi_cmd *c)
{
	uint8_t d[32] = { 0 };

	if ((c->cdb[1] & 0x1f) != SAI_READ_CAPACITY_16) {
		cmd_invalid_field(c, 1);
		return;
	}
	put_be64(d, c->lu->nblocks - 1);
	put_be32(d + 8, VSCSI_BLOCK_SIZE);
	/* Physical blocks of 4 KiB: 8 logical blocks each (exponent 3). */
	d[13] = 3;
	cmd_reply(c, d, sizeof(d), get_be32(c->cdb + 10));
}

/* Mode pages into @p; @changeable gives the mask of changeable bits (none). */
static size_t mode_page(uint8_t page, bool changeable, uint8_t *p)
{
	switch (page) {
	case MP_CACHING:
		memset(p, 0, 20);
		p[0] = MP_CACHING;
		p[1] = 18;
		/* Write-back (the page cache): WCE; SYNCHRONIZE CACHE flushes. */
		if (!changeable)
			p[2] = 0x04;
		return 20;
	case MP_CONTROL:
		memset(p, 0, 12);
		p[0] = MP_CONTROL;
		p[1] = 10;
		if (!changeable)
			put_be16(p + 8, 0xffff);	/* busy timeout: unlimited */
		return 12;
	}
	return 0;
}

static void cmd_mode_sense(struct vscsi_cmd *c, bool ten)
{
	const uint8_t *cdb = c->cdb;
	uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];
	bool dbd = cdb[1] & 0x08;
	size_t hdr = ten ? 8 : 4, len, alloc;
	uint8_t d[128] = { 0 };
	uint8_t *p;

	alloc = ten ? get_be16(cdb + 7) : cdb[4];
	if (pc == 3) {
		cmd_check(c, SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		return;
	}
	if (subpage && !(page == MP_ALL && subpage == 0xff)) {
		cmd_invalid_field(c, 3);
		return;
	}
	len = hdr;
	if (!dbd) {
		uint64_t nb = c->lu->nblocks;

		/* Short LBA block descriptor (SBC-3 6.4.2). */
		p = d + len;
		put_be32(p, nb > 0xffffff ? 0xffffff : nb);
		put_be32(p + 4, VSCSI_BLOCK_SIZE);
		len += 8;
	}
	p = d + len;
	switch (page) {
	case MP_CACHING:
	case MP_CONTROL:
		len += mode_page(page, pc == 1, p);
		break;
	case MP_ALL:
		len += mode_page(MP_CACHING, pc == 1, p);
		len += mode_page(MP_CONTROL, pc == 1, d + len);
		break;
	default:
		cmd_invalid_field(c, 2);
		return;
	}
	/* Device-specific parameter: WP, DPOFUA (SBC-3 6.4.1). */
	if (ten) {
		put_be16(d, len - 2);
		d[3] = (c->lu->read_only ? 0x80 : 0) | 0x10;
		put_be16(d + 6, dbd ? 0 : 8);
	} else {
		d[0] = len - 1;
		d[3] = dbd ? 0 : 8;
		d[2] = (c->lu->read_only ? 0x80 : 0) | 0x10;
	}
	cmd_reply(c, d, len, alloc);
}

/* READ and WRITE: the LBA, the block count and FUA out of the CDB. */
static void cmd_rw(struct vscsi_cmd *c, bool write)
{
	const uint8_t *cdb = c->cdb;
	struct vscsi_lun *lu = c->lu;
	uint64_t lba, bytes;
	uint32_t blocks;
	bool fua = false;
	int ret;

	switch (cdb[0]) {
	case OP_READ_6:
	case OP_WRITE_6:
		lba = (uint32_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
		blocks = cdb[4] ? cdb[4] : 256;	/* SBC-3: 0 means 256 */
		break;
	case OP_READ_10:
	case OP_WRITE_10:
		lba = get_be32(cdb + 2);
		blocks = get_be16(cdb + 7);
		fua = cdb[1] & 0x08;
		break;
	case OP_READ_12:
	case OP_WRITE_12:
		lba = get_be32(cdb + 2);
		blocks = get_be32(cdb + 6);
		fua = cdb[1] & 0x08;
		break;
	default:		/* 16-byte */
		lba = get_be64(cdb + 2);
		blocks = get_be32(cdb + 10);
		fua = cdb[1] & 0x08;
		break;
	}
	/* RDPROTECT/WRPROTECT: no protection information here. */
	if (cdb[0] != OP_READ_6 && cdb[0] != OP_WRITE_6 && (cdb[1] & 0xe0)) {
		cmd_invalid_field(c, 1);
		return;
	}
	if (lba > lu->nblocks || blocks > lu->nblocks - lba) {
		cmd_check(c, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	if (write && lu->read_only) {
		cmd_check(c, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return;
	}
	bytes = (uint64_t)blocks * VSCSI_BLOCK_SIZE;
	if (bytes > (write ? c->dout_len : c->din_len)) {
		c->status = VSCSI_OVERRUN;
		return;
	}
	c->status = SAM_GOOD;
	if (!bytes)
		return;
	if (write)
		ret = vscsi_iov_io(lu->fd, true, c->dout, c->dout_num,
				   c->dout_off, bytes, lba * VSCSI_BLOCK_SIZE);
	else
		ret = vscsi_iov_io(lu->fd, false, c->din, c->din_num,
				   c->din_off, bytes, lba * VSCSI_BLOCK_SIZE);
	if (!ret && write && fua && fdatasync(lu->fd) < 0)
		ret = -errno;
	if (ret) {
		vlb_err(lu->path, "%s of %u blocks at LBA %llu: %s",
			write ? "write" : "read", blocks,
			(unsigned long long)lba, strerror(-ret));
		cmd_check(c, SK_MEDIUM_ERROR,
			  write ? ASC_WRITE_ERROR : ASC_READ_ERROR);
		return;
	}
	if (write)
		c->dout_used = bytes;
	else
		c->din_written = bytes;
}

static void cmd_sync_cache(struct vscsi_cmd *c)
{
	struct vscsi_lun *lu = c->lu;
	uint64_t lba;
	uint32_t blocks;

	if (c->cdb[0] == OP_SYNC_CACHE_10) {
		lba = get_be32(c->cdb + 2);
		blocks = get_be16(c->cdb + 7);
	} else {
		lba = get_be64(c->cdb + 2);
		blocks = get_be32(c->cdb + 10);
	}
	if (lba > lu->nblocks || blocks > lu->nblocks - lba) {
		cmd_check(c, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	if (!lu->read_only && fdatasync(lu->fd) < 0) {
		vlb_err(lu->path, "fdatasync: %s", strerror(errno));
		cmd_check(c, SK_MEDIUM_ERROR, ASC_WRITE_ERROR);
		return;
	}
	c->status = SAM_GOOD;
}

/* CDB length from the group code (SPC-4 4.2.5.1); 0 for variable/vendor. */
static size_t cdb_length(uint8_t op)
{
	switch (op >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	}
	return 0;
}

static void vscsi_dispatch(struct vscsi_cmd *c)
{
	uint8_t op = c->cdb[0];
	size_t need = cdb_length(op);

	if (!need || need > c->cdb_len) {
		cmd_invalid_opcode(c);
		return;
	}
	/* These three work on any LUN (SPC-4 6.33, 6.39, 4.5.3 and 6.6). */
	switch (op) {
	case OP_INQUIRY:
		cmd_inquiry(c);
		return;
	case OP_REPORT_LUNS:
		cmd_report_luns(c);
		return;
	case OP_REQUEST_SENSE:
		cmd_request_sense(c);
		return;
	}
	if (!c->lu) {
		cmd_check(c, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return;
	}
	switch (op) {
	case OP_TEST_UNIT_READY:
	case OP_START_STOP_UNIT:
		c->status = SAM_GOOD;
		return;
	case OP_READ_CAPACITY_10:
		cmd_read_capacity_10(c);
		return;
	case OP_SERVICE_ACTION_IN_16:
		cmd_service_action_in(c);
		return;
	case OP_MODE_SENSE_6:
		cmd_mode_sense(c, false);
		return;
	case OP_MODE_SENSE_10:
		cmd_mode_sense(c, true);
		return;
	case OP_READ_6:
	case OP_READ_10:
	case OP_READ_12:
	case OP_READ_16:
		cmd_rw(c, false);
		return;
	case OP_WRITE_6:
	case OP_WRITE_10:
	case OP_WRITE_12:
	case OP_WRITE_16:
		cmd_rw(c, true);
		return;
	case OP_SYNC_CACHE_10:
	case OP_SYNC_CACHE_16:
		cmd_sync_cache(c);
		return;
	}
	cmd_invalid_opcode(c);
}

static struct vscsi_lun *vscsi_lu(struct vscsi_target *t, uint32_t lun)
{
	if (lun >= t->nr_luns || t->luns[lun].fd < 0)
		return NULL;
	return &t->luns[lun];
}

int vscsi_exec(struct vscsi_target *t, uint32_t lun, const uint8_t *cdb,
	       size_t cdb_len, const void *dout, size_t dout_len, void *din,
	       size_t din_len, size_t *din_written, uint8_t sense[18])
{
	struct iovec out = { (void *)dout, dout ? dout_len : 0 };
	struct iovec in = { din, din ? din_len : 0 };
	struct vscsi_cmd c = {
		.t = t, .lu = vscsi_lu(t, lun), .lun = lun,
		.cdb = cdb, .cdb_len = cdb_len,
		.dout = &out, .dout_num = 1, .dout_len = out.iov_len,
		.din = &in, .din_num = 1, .din_len = in.iov_len,
	};

	if (!cdb_len)
		cmd_invalid_opcode(&c);
	else
		vscsi_dispatch(&c);
	*din_written = c.din_written;
	memcpy(sense, c.sense, VSCSI_SENSE_LEN);
	return c.status;
}

/* virtio-scsi framing ---------------------------------------------------- */

/*
 * The LUN of an 8-byte virtio-scsi address. Returns false for another
 * target (or an address that is not virtio-scsi's); *@lun is UINT32_MAX
 * when the LUN field is in a format we do not use (no such unit).
 */
static bool vscsi_parse_lun(const uint8_t *a, uint32_t *lun)
{
	if (a[0] != 1 || a[1] != 0)
		return false;
	*lun = UINT32_MAX;
	if (a[4] | a[5] | a[6] | a[7])
		return true;
	switch (a[2] >> 6) {
	case 0:			/* peripheral device addressing, bus 0 */
		if (!(a[2] & 0x3f))
			*lun = a[3];
		break;
	case 1:			/* flat space addressing */
		*lun = (uint32_t)(a[2] & 0x3f) << 8 | a[3];
		break;
	}
	return true;
}

/* Write a response header (and sense) at the start of @in. */
static void vscsi_put_resp(const struct iovec *in, unsigned int in_num,
			   uint8_t response, uint8_t status, uint32_t resid,
			   const uint8_t *sense, uint32_t sense_len)
{
	uint8_t h[VSCSI_RESP_HDR];
	uint32_t v;

	v = htole32(sense_len);
	memcpy(h, &v, 4);
	v = htole32(resid);
	memcpy(h + 4, &v, 4);
	h[8] = 0;		/* status_qualifier */
	h[9] = 0;
	h[10] = status;
	h[11] = response;
	vlb_iov_from_buf(in, in_num, 0, h, sizeof(h));
	if (sense_len)
		vlb_iov_from_buf(in, in_num, sizeof(h), sense, sense_len);
}

uint32_t vscsi_handle_cmd(struct vscsi_target *t,
			  const struct iovec *out, unsigned int out_num,
			  const struct iovec *in, unsigned int in_num)
{
	size_t req_size = VSCSI_REQ_HDR + t->cdb_size;
	size_t resp_size = VSCSI_RESP_HDR + t->sense_size;
	size_t out_len = vlb_iov_size(out, out_num);
	size_t in_len = vlb_iov_size(in, in_num);
	uint8_t cdb[VSCSI_MAX_CDB_SIZE];
	struct vscsi_cmd c = { .t = t };
	uint8_t addr[8];
	uint32_t sense_len = 0;
	uint64_t resid, used;

	if (in_len < VSCSI_RESP_HDR)
		return 0;	/* nowhere to say anything */
	if (in_len < resp_size || out_len < req_size) {
		vscsi_put_resp(in, in_num, VIRTIO_SCSI_S_FAILURE, 0, 0, NULL, 0);
		return VSCSI_RESP_HDR;
	}
	vlb_iov_to_buf(out, out_num, 0, addr, sizeof(addr));
	if (!vscsi_parse_lun(addr, &c.lun)) {
		vscsi_put_resp(in, in_num, VIRTIO_SCSI_S_BAD_TARGET, 0, 0, NULL, 0);
		return VSCSI_RESP_HDR;
	}
	vlb_iov_to_buf(out, out_num, VSCSI_REQ_HDR, cdb, t->cdb_size);
	c.lu = vscsi_lu(t, c.lun);
	c.cdb = cdb;
	c.cdb_len = t->cdb_size;
	c.dout = out;
	c.dout_num = out_num;
	c.dout_off = req_size;
	c.dout_len = out_len - req_size;
	c.din = in;
	c.din_num = in_num;
	c.din_off = resp_size;
	c.din_len = in_len - resp_size;
	vscsi_dispatch(&c);

	if (c.status == VSCSI_OVERRUN) {
		vscsi_put_resp(in, in_num, VIRTIO_SCSI_S_OVERRUN, 0,
			       c.din_len ? c.din_len : c.dout_len, NULL, 0);
		return VSCSI_RESP_HDR;
	}
	if (c.status == SAM_CHECK_CONDITION)
		sense_len = t->sense_size < VSCSI_SENSE_LEN ?
			    t->sense_size : VSCSI_SENSE_LEN;
	resid = c.din_len ? c.din_len - c.din_written :
			    c.dout_len - c.dout_used;
	vscsi_put_resp(in, in_num, VIRTIO_SCSI_S_OK, c.status,
		       resid > UINT32_MAX ? UINT32_MAX : resid,
		       c.sense, sense_len);
	used = c.din_written ? resp_size + c.din_written :
			       VSCSI_RESP_HDR + sense_len;
	return used > UINT32_MAX ? UINT32_MAX : used;
}

/* Control queue ------------------------------------------------------------ */

static uint8_t vscsi_tmf(struct vscsi_target *t, uint32_t subtype,
			 const uint8_t *addr)
{
	uint32_t lun;

	if (!vscsi_parse_lun(addr, &lun))
		return VIRTIO_SCSI_S_BAD_TARGET;
	switch (subtype) {
	case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
		/* Nothing is in flight between two requests: done. */
		return VSCSI_S_FUNCTION_COMPLETE;
	case VIRTIO_SCSI_T_TMF_ABORT_TASK:
	case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
	case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
	case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
		if (!vscsi_lu(t, lun))
			return VIRTIO_SCSI_S_INCORRECT_LUN;
		/* No task is ever pending: complete, nothing found. */
		return VSCSI_S_FUNCTION_COMPLETE;
	}
	/* CLEAR ACA (we have no ACA) and unknown functions. */
	return VIRTIO_SCSI_S_FUNCTION_REJECTED;
}

uint32_t vscsi_handle_ctrl(struct vscsi_target *t,
			   const struct iovec *out, unsigned int out_num,
			   const struct iovec *in, unsigned int in_num)
{
	size_t out_len = vlb_iov_size(out, out_num);
	size_t in_len = vlb_iov_size(in, in_num);
	uint8_t req[sizeof(struct virtio_scsi_ctrl_tmf_req)];
	uint8_t resp[sizeof(struct virtio_scsi_ctrl_an_resp)] = { 0 };
	uint32_t type, subtype;

	if (!in_len)
		return 0;
	memset(req, 0, sizeof(req));
	vlb_iov_to_buf(out, out_num, 0, req, sizeof(req));
	memcpy(&type, req, 4);
	type = le32toh(type);
	if (out_len < 4) {
		resp[0] = VIRTIO_SCSI_S_FAILURE;
		return vlb_iov_from_buf(in, in_num, 0, resp, 1);
	}
	switch (type) {
	case VIRTIO_SCSI_T_TMF:
		if (out_len < sizeof(struct virtio_scsi_ctrl_tmf_req)) {
			resp[0] = VIRTIO_SCSI_S_FAILURE;
		} else {
			memcpy(&subtype, req + 4, 4);
			resp[0] = vscsi_tmf(t, le32toh(subtype), req + 8);
		}
		return vlb_iov_from_buf(in, in_num, 0, resp, 1);
	case VIRTIO_SCSI_T_AN_QUERY:
	case VIRTIO_SCSI_T_AN_SUBSCRIBE: {
		uint32_t lun;

		if (in_len < sizeof(struct virtio_scsi_ctrl_an_resp))
			return 0;
		/* event_actual 0: no asynchronous events are reported. */
		if (out_len < sizeof(struct virtio_scsi_ctrl_an_req))
			resp[4] = VIRTIO_SCSI_S_FAILURE;
		else if (!vscsi_parse_lun(req + 4, &lun))
			resp[4] = VIRTIO_SCSI_S_BAD_TARGET;
		else
			resp[4] = VIRTIO_SCSI_S_OK;
		return vlb_iov_from_buf(in, in_num, 0, resp, sizeof(resp));
	}
	}
	resp[0] = VIRTIO_SCSI_S_FAILURE;
	return vlb_iov_from_buf(in, in_num, 0, resp, 1);
}
