// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the SCSI target of vhost-user-scsi (devices/scsi), under
 * ASan/UBSan, driven with plain buffers.
 *
 * Checked: opening images (a partial last block is dropped; a missing
 * file, an empty file and a directory are refused); INQUIRY standard data
 * and every VPD page, a bad page and a nonexistent LUN; REPORT LUNS;
 * READ CAPACITY 10/16; READ/WRITE 6/10/12/16 round trips against the image
 * file, ranges past the end (also with a wrapping LBA), transfer length 0,
 * READ(6)'s 0-means-256, buffers too small (overrun), the read-only unit;
 * MODE SENSE 6/10 pages, saved values and bad pages; SYNCHRONIZE CACHE;
 * unsupported and truncated CDBs; the virtio-scsi framing (headers and data
 * split over many iovecs at odd offsets, bad target, short headers, no room
 * for a response, residuals); the control queue's TMF and AN requests,
 * good and malformed; then 50,000 random CDBs and random framings, which
 * must never crash or touch memory outside the buffers.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "helpers.h"

#include "../../devices/scsi/scsi_target.c"

#define LUN0_BLOCKS	2048
#define LUN1_BLOCKS	128

static char tmpdir[64];
static char path0[128], path1[128];
static struct vscsi_target tgt;
static const char *cur_test;
static int failures;

#define CHECK(cond, ...)	T_CHECK_RET(cond, __VA_ARGS__)

/* Run @cdb on @lun; returns the status, sets *@n to the data-in bytes. */
static int run(uint32_t lun, const uint8_t *cdb, size_t cdb_len,
	       const void *dout, size_t dout_len, void *din, size_t din_len,
	       size_t *n, uint8_t *sense)
{
	size_t dummy;

	return vscsi_exec(&tgt, lun, cdb, cdb_len, dout, dout_len, din, din_len,
			  n ? n : &dummy, sense);
}

/* A CHECK CONDITION with this sense key and ASC/ASCQ. */
static bool is_sense(int status, const uint8_t *s, uint8_t key, uint16_t asc)
{
	return status == SAM_CHECK_CONDITION && s[0] == 0x70 &&
	       (s[2] & 0xf) == key && s[7] == 10 &&
	       s[12] == asc >> 8 && s[13] == (asc & 0xff);
}

static int test_open(void)
{
	char p[160];
	int fd, ret;

	cur_test = "open";
	snprintf(p, sizeof(p), "%s/missing.img", tmpdir);
	ret = vscsi_lun_open(&tgt, p, false);
	CHECK(ret == -ENOENT, "missing image: %d", ret);
	snprintf(p, sizeof(p), "%s/empty.img", tmpdir);
	fd = open(p, O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0, "create %s: %s", p, strerror(errno));
	CHECK(ftruncate(fd, 511) == 0, "truncate");
	close(fd);
	ret = vscsi_lun_open(&tgt, p, false);
	CHECK(ret == -EINVAL, "511-byte image: %d", ret);
	ret = vscsi_lun_open(&tgt, tmpdir, true);
	CHECK(ret == -EINVAL, "a directory: %d", ret);
	CHECK(tgt.nr_luns == 0, "a refused image was added");

	ret = vscsi_lun_open(&tgt, path0, false);
	CHECK(!ret, "open %s: %d", path0, ret);
	ret = vscsi_lun_open(&tgt, path1, true);
	CHECK(!ret, "open %s: %d", path1, ret);
	CHECK(tgt.nr_luns == 2, "nr_luns %u", tgt.nr_luns);
	CHECK(tgt.luns[0].nblocks == LUN0_BLOCKS, "partial block kept: %llu",
	      (unsigned long long)tgt.luns[0].nblocks);
	CHECK(strcmp(tgt.luns[0].serial, tgt.luns[1].serial), "equal serials");
	CHECK(strlen(tgt.luns[0].serial) == VSCSI_SERIAL_LEN, "serial length");
	return 0;
}

static int test_inquiry(void)
{
	uint8_t cdb[6] = { OP_INQUIRY, 0, 0, 0, 255, 0 }, d[256], s[18];
	static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1 };
	unsigned int i;
	size_t n;
	int st;

	cur_test = "inquiry";
	st = run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 36, "standard: status %d, %zu bytes", st, n);
	CHECK(d[0] == 0 && d[2] == 6 && d[4] == 31, "standard header %02x %02x %02x",
	      d[0], d[2], d[4]);
	CHECK(!memcmp(d + 8, "VIRTLOOPvhost-user-scsi 0001", 28), "identity %.28s", d + 8);
	cdb[4] = 5;
	st = run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 5, "allocation length 5 gave %zu", n);
	cdb[4] = 255;
	st = run(0, cdb, 6, NULL, 0, d, 3, &n, s);
	CHECK(st == SAM_GOOD && n == 3, "3-byte buffer gave %zu", n);
	/* A LUN without a unit: qualifier 011b, type 1fh. */
	st = run(7, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && d[0] == 0x7f, "LUN 7: status %d byte 0 %02x", st, d[0]);
	st = run(UINT32_MAX, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && d[0] == 0x7f, "bad LUN: byte 0 %02x", d[0]);
	/* Page code without EVPD, CMDDT. */
	cdb[2] = 0x80;
	st = run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB) &&
	      s[15] == 0xc0 && s[17] == 2, "page without EVPD");
	cdb[1] = 0x02;
	cdb[2] = 0;
	st = run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB), "CMDDT");

	cdb[1] = 0x01;
	for (i = 0; i < sizeof(vpd_pages); i++) {
		cdb[2] = vpd_pages[i];
		st = run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
		CHECK(st == SAM_GOOD && d[1] == vpd_pages[i] &&
		      n == 4u + get_be16(d + 2), "VPD %02x: status %d, %zu bytes",
		      vpd_pages[i], st, n);
	}
	cdb[2] = 0x00;
	run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(!memcmp(d + 4, vpd_pages, sizeof(vpd_pages)), "VPD 00 list");
	cdb[2] = 0x80;
	run(1, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(!memcmp(d + 4, tgt.luns[1].serial, 16), "VPD 80 serial");
	cdb[2] = 0x83;
	run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(d[5] == 0x01 && !memcmp(d + 8, "VIRTLOOP", 8) &&
	      !memcmp(d + 16, tgt.luns[0].serial, 16), "VPD 83 T10 designator");
	CHECK(d[33] == 0x03 && d[35] == 8 && (d[36] >> 4) == 3, "VPD 83 NAA designator");
	cdb[2] = 0xb0;
	run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(get_be32(d + 8) == VSCSI_MAX_SECTORS, "VPD b0 max transfer %u", get_be32(d + 8));
	cdb[2] = 0x99;
	st = run(0, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB) && n == 0,
	      "VPD 99");
	cdb[2] = 0x80;
	st = run(3, cdb, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED), "VPD on LUN 3");
	return 0;
}

static int test_report_luns(void)
{
	uint8_t cdb[12] = { OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	uint8_t d[512], s[18];
	size_t n;
	int st;

	cur_test = "report_luns";
	st = run(0, cdb, 12, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 24 && get_be32(d) == 16, "%d, %zu bytes, list %u",
	      st, n, get_be32(d));
	CHECK(!memcmp(d + 8, "\0\0\0\0\0\0\0\0", 8) && d[17] == 1, "LUN entries");
	/* Works through a LUN without a unit too. */
	st = run(9, cdb, 12, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 24, "through LUN 9: %d", st);
	cdb[2] = 0x01;
	st = run(0, cdb, 12, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 8 && get_be32(d) == 0, "well-known only");
	cdb[2] = 0x05;
	st = run(0, cdb, 12, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB), "select 05");
	cdb[2] = 0;
	cdb[8] = 0;
	cdb[9] = 15;
	st = run(0, cdb, 12, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB), "alloc 15");
	return 0;
}

static int test_capacity(void)
{
	uint8_t rc10[10] = { OP_READ_CAPACITY_10 };
	uint8_t rc16[16] = { OP_SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16 };
	uint8_t d[64], s[18];
	size_t n;
	int st;

	cur_test = "capacity";
	st = run(0, rc10, 10, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 8 && get_be32(d) == LUN0_BLOCKS - 1 &&
	      get_be32(d + 4) == 512, "RC10 %u/%u", get_be32(d), get_be32(d + 4));
	rc16[13] = 32;
	st = run(1, rc16, 16, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 32 && get_be64(d) == LUN1_BLOCKS - 1 &&
	      get_be32(d + 8) == 512, "RC16 %llu", (unsigned long long)get_be64(d));
	rc16[1] = 0x12;		/* GET LBA STATUS: not ours */
	st = run(1, rc16, 16, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB), "SA 12");
	st = run(2, rc10, 10, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED), "RC10 on LUN 2");
	return 0;
}

static void rw_cdb(uint8_t *cdb, int len, bool write, uint64_t lba, uint32_t blocks)
{
	memset(cdb, 0, 16);
	switch (len) {
	case 6:
		cdb[0] = write ? OP_WRITE_6 : OP_READ_6;
		cdb[1] = lba >> 16 & 0x1f;
		put_be16(cdb + 2, lba);
		cdb[4] = blocks;
		break;
	case 10:
		cdb[0] = write ? OP_WRITE_10 : OP_READ_10;
		put_be32(cdb + 2, lba);
		put_be16(cdb + 7, blocks);
		break;
	case 12:
		cdb[0] = write ? OP_WRITE_12 : OP_READ_12;
		put_be32(cdb + 2, lba);
		put_be32(cdb + 6, blocks);
		break;
	default:
		cdb[0] = write ? OP_WRITE_16 : OP_READ_16;
		put_be64(cdb + 2, lba);
		put_be32(cdb + 10, blocks);
		break;
	}
}

static int test_rw(void)
{
	static const int lens[] = { 6, 10, 12, 16 };
	static uint8_t wbuf[256 * 512], rbuf[256 * 512], fbuf[8 * 512];
	uint8_t cdb[16], s[18];
	unsigned int i, j;
	size_t n;
	int st, fd;

	cur_test = "rw";
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		uint64_t lba = 100 + 37 * i;

		for (j = 0; j < 8 * 512; j++)
			wbuf[j] = (uint8_t)(j * 7 + i * 13 + 1);
		rw_cdb(cdb, lens[i], true, lba, 8);
		st = run(0, cdb, lens[i], wbuf, 8 * 512, NULL, 0, &n, s);
		CHECK(st == SAM_GOOD, "WRITE(%d): %d", lens[i], st);
		rw_cdb(cdb, lens[i], false, lba, 8);
		memset(rbuf, 0, 8 * 512);
		st = run(0, cdb, lens[i], NULL, 0, rbuf, 8 * 512, &n, s);
		CHECK(st == SAM_GOOD && n == 8 * 512 && !memcmp(rbuf, wbuf, 8 * 512),
		      "READ(%d) does not return what was written", lens[i]);
		/* And the image file holds it at lba * 512. */
		fd = open(path0, O_RDONLY);
		CHECK(fd >= 0 && pread(fd, fbuf, 8 * 512, lba * 512) == 8 * 512 &&
		      !memcmp(fbuf, wbuf, 8 * 512), "image differs after WRITE(%d)", lens[i]);
		close(fd);
		/* The last block works, one past it does not. */
		rw_cdb(cdb, lens[i], false, LUN0_BLOCKS - 1, 1);
		st = run(0, cdb, lens[i], NULL, 0, rbuf, 512, &n, s);
		CHECK(st == SAM_GOOD && n == 512, "READ(%d) of the last block", lens[i]);
		rw_cdb(cdb, lens[i], false, LUN0_BLOCKS, 1);
		st = run(0, cdb, lens[i], NULL, 0, rbuf, 512, &n, s);
		CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE) && !n,
		      "READ(%d) past the end: %d", lens[i], st);
		rw_cdb(cdb, lens[i], true, LUN0_BLOCKS - 1, 2);
		st = run(0, cdb, lens[i], wbuf, 1024, NULL, 0, &n, s);
		CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE),
		      "WRITE(%d) across the end: %d", lens[i], st);
		/* Buffer smaller than the transfer: overrun, nothing written. */
		rw_cdb(cdb, lens[i], false, 0, 8);
		st = run(0, cdb, lens[i], NULL, 0, rbuf, 8 * 512 - 1, &n, s);
		CHECK(st == VSCSI_OVERRUN && !n, "READ(%d) into a short buffer: %d", lens[i], st);
		rw_cdb(cdb, lens[i], true, 0, 8);
		st = run(0, cdb, lens[i], wbuf, 100, NULL, 0, &n, s);
		CHECK(st == VSCSI_OVERRUN, "WRITE(%d) from a short buffer: %d", lens[i], st);
		/* Read-only unit. */
		rw_cdb(cdb, lens[i], true, 0, 1);
		st = run(1, cdb, lens[i], wbuf, 512, NULL, 0, &n, s);
		CHECK(is_sense(st, s, SK_DATA_PROTECT, ASC_WRITE_PROTECTED),
		      "WRITE(%d) on the read-only unit: %d", lens[i], st);
		rw_cdb(cdb, lens[i], false, 0, 1);
		st = run(1, cdb, lens[i], NULL, 0, rbuf, 512, &n, s);
		CHECK(st == SAM_GOOD && n == 512, "READ(%d) on the read-only unit", lens[i]);
		/* No unit. */
		st = run(4, cdb, lens[i], NULL, 0, rbuf, 512, &n, s);
		CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED),
		      "READ(%d) on LUN 4", lens[i]);
		if (lens[i] != 6) {
			/* Transfer length 0: nothing moves, GOOD. */
			rw_cdb(cdb, lens[i], false, 5, 0);
			st = run(0, cdb, lens[i], NULL, 0, NULL, 0, &n, s);
			CHECK(st == SAM_GOOD && !n, "READ(%d) of 0 blocks: %d", lens[i], st);
			/* RDPROTECT: no protection information. */
			rw_cdb(cdb, lens[i], false, 5, 1);
			cdb[1] = 0x20;
			st = run(0, cdb, lens[i], NULL, 0, rbuf, 512, &n, s);
			CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB),
			      "RDPROTECT in READ(%d)", lens[i]);
		}
	}
	/* READ(6) with 0 blocks means 256. */
	rw_cdb(cdb, 6, false, 0, 0);
	st = run(0, cdb, 6, NULL, 0, rbuf, sizeof(rbuf), &n, s);
	CHECK(st == SAM_GOOD && n == 256 * 512, "READ(6) of 0 = 256 blocks gave %zu", n);
	/* An LBA that wraps when the length is added. */
	rw_cdb(cdb, 16, false, UINT64_MAX, 2);
	st = run(0, cdb, 16, NULL, 0, rbuf, 1024, &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE), "wrapping LBA");
	rw_cdb(cdb, 16, false, 1, UINT32_MAX);
	st = run(0, cdb, 16, NULL, 0, rbuf, 1024, &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE), "huge length");
	/* FUA. */
	rw_cdb(cdb, 10, true, 1, 1);
	cdb[1] = 0x08;
	st = run(0, cdb, 10, wbuf, 512, NULL, 0, &n, s);
	CHECK(st == SAM_GOOD, "WRITE(10) FUA: %d", st);
	return 0;
}

static int test_mode_sense(void)
{
	uint8_t ms6[6] = { OP_MODE_SENSE_6, 0, MP_ALL, 0, 255, 0 };
	uint8_t ms10[10] = { OP_MODE_SENSE_10, 0, MP_CACHING, 0, 0, 0, 0, 1, 0, 0 };
	uint8_t d[512], s[18];
	size_t n;
	int st;

	cur_test = "mode_sense";
	st = run(0, ms6, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 4 + 8 + 20 + 12 && d[0] == n - 1 && d[3] == 8,
	      "MODE SENSE(6) all: %d, %zu bytes", st, n);
	CHECK(!(d[2] & 0x80) && d[12] == MP_CACHING && (d[14] & 0x04) &&
	      d[32] == MP_CONTROL, "MODE SENSE(6) pages");
	st = run(1, ms6, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && (d[2] & 0x80), "read-only unit without WP");
	ms6[1] = 0x08;		/* DBD */
	ms6[2] = 0x40 | MP_CACHING;	/* changeable values */
	st = run(0, ms6, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 24 && d[3] == 0 && d[4] == MP_CACHING && !d[6],
	      "changeable caching page: %zu bytes", n);
	ms6[2] = 0xc0 | MP_CACHING;	/* saved values */
	st = run(0, ms6, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED), "saved values");
	ms6[2] = 0x1c;
	st = run(0, ms6, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB), "page 1c");
	ms6[2] = MP_CACHING;
	ms6[3] = 1;
	st = run(0, ms6, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB), "subpage 1");
	ms6[2] = MP_ALL;
	ms6[3] = 0xff;
	ms6[4] = 2;
	st = run(0, ms6, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 2, "all subpages, allocation 2: %d %zu", st, n);
	st = run(0, ms10, 10, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 8 + 8 + 20 && get_be16(d) == n - 2 &&
	      get_be16(d + 6) == 8 && d[16] == MP_CACHING, "MODE SENSE(10): %zu", n);
	return 0;
}

static int test_misc(void)
{
	uint8_t tur[6] = { 0 }, rs[6] = { OP_REQUEST_SENSE, 0, 0, 0, 252, 0 };
	uint8_t sc10[10] = { OP_SYNC_CACHE_10 }, sc16[16] = { OP_SYNC_CACHE_16 };
	uint8_t bad[16] = { 0 }, d[256], s[18];
	size_t n;
	int st, op;

	cur_test = "misc";
	st = run(0, tur, 6, NULL, 0, NULL, 0, &n, s);
	CHECK(st == SAM_GOOD, "TEST UNIT READY: %d", st);
	st = run(5, tur, 6, NULL, 0, NULL, 0, &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED), "TUR on LUN 5");
	st = run(0, rs, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && n == 18 && d[0] == 0x70 && d[2] == SK_NO_SENSE,
	      "REQUEST SENSE: %d %zu", st, n);
	st = run(5, rs, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(st == SAM_GOOD && d[2] == SK_ILLEGAL_REQUEST && d[12] == 0x25,
	      "REQUEST SENSE on LUN 5");
	rs[1] = 1;
	st = run(0, rs, 6, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB), "DESC");
	st = run(0, sc10, 10, NULL, 0, NULL, 0, &n, s);
	CHECK(st == SAM_GOOD, "SYNCHRONIZE CACHE(10): %d", st);
	put_be64(sc16 + 2, LUN0_BLOCKS + 1);
	st = run(0, sc16, 16, NULL, 0, NULL, 0, &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE), "SYNC(16) past end");
	st = run(1, sc10, 10, NULL, 0, NULL, 0, &n, s);
	CHECK(st == SAM_GOOD, "SYNCHRONIZE CACHE on the read-only unit: %d", st);

	/* Unsupported opcodes of every group, a truncated CDB, no CDB. */
	for (op = 0; op < 256; op++) {
		static const uint8_t known[] = {
			0x00, 0x03, 0x08, 0x0a, 0x12, 0x1a, 0x1b, 0x25, 0x28, 0x2a,
			0x35, 0x5a, 0x88, 0x8a, 0x91, 0x9e, 0xa0, 0xa8, 0xaa,
		};

		if (memchr(known, op, sizeof(known)))
			continue;
		bad[0] = op;
		st = run(0, bad, 16, NULL, 0, d, sizeof(d), &n, s);
		CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE) && !n,
		      "opcode %02x: %d", op, st);
	}
	bad[0] = OP_READ_16;
	st = run(0, bad, 10, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE), "READ(16) in 10 bytes");
	st = run(0, bad, 0, NULL, 0, d, sizeof(d), &n, s);
	CHECK(is_sense(st, s, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE), "empty CDB");
	return 0;
}

/* Split @buf into iovecs of sizes cycling through @cuts. */
static unsigned int split(uint8_t *buf, size_t len, const size_t *cuts,
			  unsigned int ncuts, struct iovec *iov, unsigned int max)
{
	unsigned int n = 0;
	size_t off = 0;

	while (off < len && n < max) {
		size_t l = cuts[n % ncuts];

		if (l > len - off || n == max - 1)
			l = len - off;
		iov[n].iov_base = buf + off;
		iov[n].iov_len = l;
		off += l;
		n++;
	}
	return n;
}

static void req_hdr(uint8_t *req, uint8_t t0, uint8_t target, uint16_t lun)
{
	memset(req, 0, VSCSI_REQ_HDR + VSCSI_CDB_SIZE);
	req[0] = t0;
	req[1] = target;
	req[2] = 0x40 | lun >> 8;
	req[3] = lun;
}

static int test_framing(void)
{
	static const size_t cuts[] = { 1, 3, 7, 64, 5, 511, 2, 4096 };
	static uint8_t out[51 + 4 * 512], in[108 + 4 * 512], data[4 * 512];
	struct iovec oiov[64], iiov[64];
	unsigned int on, in_n, i;
	uint32_t used, v;

	cur_test = "framing";
	/* WRITE(10) of 4 blocks, everything split at odd places. */
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 5);
	req_hdr(out, 1, 0, 0);
	rw_cdb(out + VSCSI_REQ_HDR, 10, true, 40, 4);
	memcpy(out + 51, data, sizeof(data));
	on = split(out, sizeof(out), cuts, 8, oiov, 64);
	in_n = split(in, 108, cuts + 2, 6, iiov, 64);
	memset(in, 0xee, sizeof(in));
	used = vscsi_handle_cmd(&tgt, oiov, on, iiov, in_n);
	memcpy(&v, in + 4, 4);
	CHECK(used == 12 && in[11] == VIRTIO_SCSI_S_OK && in[10] == SAM_GOOD && v == 0,
	      "split WRITE: used %u response %u status %u resid %u", used, in[11], in[10], v);
	/* READ(16) of the same blocks into split data-in. */
	req_hdr(out, 1, 0, 0);
	rw_cdb(out + VSCSI_REQ_HDR, 16, false, 40, 4);
	on = split(out, 51, cuts + 1, 7, oiov, 64);
	memset(in, 0, sizeof(in));
	in_n = split(in, sizeof(in), cuts + 3, 5, iiov, 64);
	used = vscsi_handle_cmd(&tgt, oiov, on, iiov, in_n);
	CHECK(used == 108 + sizeof(data) && in[11] == 0 && in[10] == 0 &&
	      !memcmp(in + 108, data, sizeof(data)), "split READ: used %u", used);
	/* INQUIRY into a 200-byte data-in: residual 164. */
	req_hdr(out, 1, 0, 1);
	out[VSCSI_REQ_HDR] = OP_INQUIRY;
	out[VSCSI_REQ_HDR + 4] = 255;
	oiov[0] = (struct iovec){ out, 51 };
	iiov[0] = (struct iovec){ in, 108 + 200 };
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	memcpy(&v, in + 4, 4);
	CHECK(used == 108 + 36 && le32toh(v) == 164, "INQUIRY resid %u used %u", le32toh(v), used);
	/* CHECK CONDITION: sense in the response. */
	out[VSCSI_REQ_HDR] = 0xc7;
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	memcpy(&v, in, 4);
	CHECK(in[10] == SAM_CHECK_CONDITION && le32toh(v) == 18 && in[12] == 0x70 &&
	      in[14] == SK_ILLEGAL_REQUEST && in[24] == 0x20 && used == 30,
	      "sense: status %u len %u used %u", in[10], le32toh(v), used);
	/* Another target; not a virtio-scsi address. */
	req_hdr(out, 1, 1, 0);
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	CHECK(used == 12 && in[11] == VIRTIO_SCSI_S_BAD_TARGET, "target 1: %u", in[11]);
	req_hdr(out, 2, 0, 0);
	vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	CHECK(in[11] == VIRTIO_SCSI_S_BAD_TARGET, "lun[0] 2: %u", in[11]);
	/* Short request header, short response, no response room at all. */
	req_hdr(out, 1, 0, 0);
	oiov[0].iov_len = 50;
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	CHECK(used == 12 && in[11] == VIRTIO_SCSI_S_FAILURE, "50-byte request: %u", in[11]);
	oiov[0].iov_len = 51;
	iiov[0].iov_len = 107;
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	CHECK(used == 12 && in[11] == VIRTIO_SCSI_S_FAILURE, "107-byte response: %u", in[11]);
	iiov[0].iov_len = 11;
	memset(in, 0x55, 16);
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	CHECK(used == 0 && in[0] == 0x55, "11-byte response written");
	used = vscsi_handle_cmd(&tgt, oiov, 1, NULL, 0);
	CHECK(used == 0, "no response buffer");
	used = vscsi_handle_cmd(&tgt, NULL, 0, iiov, 0);
	CHECK(used == 0, "nothing at all");
	/* READ larger than the data-in buffer: OVERRUN. */
	rw_cdb(out + VSCSI_REQ_HDR, 10, false, 0, 4);
	iiov[0].iov_len = 108 + 4 * 512 - 1;
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	CHECK(used == 12 && in[11] == VIRTIO_SCSI_S_OVERRUN, "overrun: %u", in[11]);
	/* The driver asked for smaller headers: 16-byte CDB, 18-byte sense. */
	tgt.cdb_size = 16;
	tgt.sense_size = 18;
	req_hdr(out, 1, 0, 0);
	rw_cdb(out + VSCSI_REQ_HDR, 16, false, 40, 1);
	oiov[0].iov_len = 35;
	iiov[0].iov_len = 30 + 512;
	used = vscsi_handle_cmd(&tgt, oiov, 1, iiov, 1);
	CHECK(used == 30 + 512 && !memcmp(in + 30, data, 512), "cdb_size 16: used %u", used);
	tgt.cdb_size = VSCSI_CDB_SIZE;
	tgt.sense_size = VSCSI_SENSE_SIZE;
	return 0;
}

static uint32_t ctrl(const void *req, size_t req_len, uint8_t *resp, size_t resp_len)
{
	struct iovec o = { (void *)req, req_len }, i = { resp, resp_len };

	memset(resp, 0xee, resp_len);
	return vscsi_handle_ctrl(&tgt, &o, req ? 1 : 0, &i, resp_len ? 1 : 0);
}

static int test_ctrl(void)
{
	struct virtio_scsi_ctrl_tmf_req tmf = { 0 };
	struct virtio_scsi_ctrl_an_req an = { 0 };
	static const struct {
		uint32_t subtype;
		uint16_t lun;
		uint8_t target;
		uint8_t resp;
	} cases[] = {
		{ VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, VSCSI_S_FUNCTION_COMPLETE },
		{ VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 0, VSCSI_S_FUNCTION_COMPLETE },
		{ VIRTIO_SCSI_T_TMF_ABORT_TASK, 1, 0, VSCSI_S_FUNCTION_COMPLETE },
		{ VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 1, 0, VSCSI_S_FUNCTION_COMPLETE },
		{ VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 0, VSCSI_S_FUNCTION_COMPLETE },
		{ VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 9, 0, VIRTIO_SCSI_S_INCORRECT_LUN },
		{ VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 3, VIRTIO_SCSI_S_BAD_TARGET },
		{ VIRTIO_SCSI_T_TMF_CLEAR_ACA, 0, 0, VIRTIO_SCSI_S_FUNCTION_REJECTED },
		{ 77, 0, 0, VIRTIO_SCSI_S_FUNCTION_REJECTED },
	};
	uint8_t resp[16];
	unsigned int i;
	uint32_t used;

	cur_test = "ctrl";
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		tmf.type = htole32(VIRTIO_SCSI_T_TMF);
		tmf.subtype = htole32(cases[i].subtype);
		tmf.lun[0] = 1;
		tmf.lun[1] = cases[i].target;
		tmf.lun[2] = 0x40;
		tmf.lun[3] = cases[i].lun;
		used = ctrl(&tmf, sizeof(tmf), resp, 1);
		CHECK(used == 1 && resp[0] == cases[i].resp, "TMF %u on %u:%u: used %u response %u",
		      cases[i].subtype, cases[i].target, cases[i].lun, used, resp[0]);
	}
	used = ctrl(&tmf, sizeof(tmf) - 1, resp, 1);
	CHECK(used == 1 && resp[0] == VIRTIO_SCSI_S_FAILURE, "short TMF: %u", resp[0]);
	used = ctrl(&tmf, 3, resp, 1);
	CHECK(used == 1 && resp[0] == VIRTIO_SCSI_S_FAILURE, "3-byte request: %u", resp[0]);
	used = ctrl(&tmf, sizeof(tmf), resp, 0);
	CHECK(used == 0, "no response room: %u", used);
	an.type = htole32(VIRTIO_SCSI_T_AN_QUERY);
	an.lun[0] = 1;
	used = ctrl(&an, sizeof(an), resp, 5);
	CHECK(used == 5 && resp[4] == VIRTIO_SCSI_S_OK && !resp[0], "AN query: %u", resp[4]);
	used = ctrl(&an, sizeof(an), resp, 4);
	CHECK(used == 0, "AN query with 4 bytes of room: %u", used);
	an.lun[1] = 2;
	used = ctrl(&an, sizeof(an), resp, 5);
	CHECK(used == 5 && resp[4] == VIRTIO_SCSI_S_BAD_TARGET, "AN bad target: %u", resp[4]);
	tmf.type = htole32(9);
	used = ctrl(&tmf, sizeof(tmf), resp, 8);
	CHECK(used == 1 && resp[0] == VIRTIO_SCSI_S_FAILURE, "unknown type: %u", resp[0]);
	return 0;
}

/* xorshift64*: reproducible garbage. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dULL;
}

static int test_garbage(void)
{
	static uint8_t out[4096], in[4096];
	static const uint8_t ops[] = {
		0x00, 0x03, 0x08, 0x0a, 0x12, 0x1a, 0x1b, 0x25, 0x28, 0x2a,
		0x35, 0x5a, 0x88, 0x8a, 0x91, 0x9e, 0xa0, 0xa8, 0xaa,
	};
	struct iovec oiov[16], iiov[16];
	unsigned int iter, i;

	cur_test = "garbage";
	for (iter = 0; iter < 50000; iter++) {
		size_t olen = rnd() % sizeof(out), ilen = rnd() % sizeof(in);
		size_t cuts[4];
		unsigned int on, inn;
		uint32_t used;

		for (i = 0; i < olen; i += 8) {
			uint64_t r = rnd();

			memcpy(out + i, &r, olen - i < 8 ? olen - i : 8);
		}
		/* Mostly valid addresses and known opcodes, to get deep. */
		if (rnd() % 4) {
			out[0] = 1;
			out[1] = 0;
			out[2] = rnd() % 2 ? 0x40 : 0;
			out[3] = rnd() % 4;
			memset(out + 4, 0, 4);
		}
		if (olen > VSCSI_REQ_HDR && rnd() % 2)
			out[VSCSI_REQ_HDR] = ops[rnd() % sizeof(ops)];
		if (olen > VSCSI_REQ_HDR + 16 && rnd() % 2) {
			static const int lens[] = { 6, 10, 12, 16 };

			/* A well-formed READ or WRITE near the end, so I/O happens. */
			rw_cdb(out + VSCSI_REQ_HDR, lens[rnd() % 4], rnd() % 2,
			       rnd() % (LUN0_BLOCKS + 8), rnd() % 9);
		}
		for (i = 0; i < 4; i++)
			cuts[i] = 1 + rnd() % 700;
		on = split(out, olen, cuts, 4, oiov, 16);
		inn = split(in, ilen, cuts + 1, 3, iiov, 16);
		if (rnd() % 8 == 0)
			used = vscsi_handle_ctrl(&tgt, oiov, on, iiov, inn);
		else
			used = vscsi_handle_cmd(&tgt, oiov, on, iiov, inn);
		CHECK(used <= ilen, "iteration %u: used %u of %zu bytes", iter, used, ilen);
		if (rnd() % 64 == 0) {
			tgt.cdb_size = 6 + rnd() % (VSCSI_MAX_CDB_SIZE - 5);
			tgt.sense_size = rnd() % (VSCSI_MAX_SENSE_SIZE + 1);
		}
	}
	tgt.cdb_size = VSCSI_CDB_SIZE;
	tgt.sense_size = VSCSI_SENSE_SIZE;
	/* The read-only unit's image was never written. */
	{
		uint8_t b[LUN1_BLOCKS * 512];
		int fd = open(path1, O_RDONLY);

		CHECK(fd >= 0 && pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b), "read %s", path1);
		close(fd);
		for (i = 0; i < sizeof(b); i++)
			CHECK(b[i] == (uint8_t)(i * 3), "read-only image changed at %u", i);
	}
	return 0;
}

static int make_image(const char *path, size_t size, bool pattern)
{
	uint8_t *b = calloc(1, size);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	size_t i;
	int ret = 0;

	if (!b || fd < 0)
		ret = -1;
	for (i = 0; pattern && b && i < size; i++)
		b[i] = (uint8_t)(i * 3);
	if (!ret && write(fd, b, size) != (ssize_t)size)
		ret = -1;
	if (fd >= 0)
		close(fd);
	free(b);
	return ret;
}

static void cleanup(void)
{
	char p[160];

	vscsi_target_close(&tgt);
	unlink(path0);
	unlink(path1);
	snprintf(p, sizeof(p), "%s/empty.img", tmpdir);
	unlink(p);
	rmdir(tmpdir);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_dev_scsi.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "test_dev_scsi: mkdtemp: %s\n", strerror(errno));
		return T_EXIT_FAIL;
	}
	snprintf(path0, sizeof(path0), "%s/lun0.img", tmpdir);
	snprintf(path1, sizeof(path1), "%s/lun1.img", tmpdir);
	vscsi_target_init(&tgt);
	if (make_image(path0, LUN0_BLOCKS * 512 + 100, false) ||
	    make_image(path1, LUN1_BLOCKS * 512, true)) {
		fprintf(stderr, "test_dev_scsi: creating images in %s failed\n", tmpdir);
		cleanup();
		return T_EXIT_FAIL;
	}
	if (test_open()) {
		cleanup();
		return T_EXIT_FAIL;
	}
	test_inquiry();
	test_report_luns();
	test_capacity();
	test_rw();
	test_mode_sense();
	test_misc();
	test_framing();
	test_ctrl();
	test_garbage();
	cleanup();
	if (failures) {
		fprintf(stderr, "test_dev_scsi: %d failed\n", failures);
		return T_EXIT_FAIL;
	}
	printf("test_dev_scsi: all passed\n");
	return T_EXIT_PASS;
}
