/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the libFuzzer harnesses in tests/fuzz/.
 *
 * A harness is LLVMFuzzerTestOneInput() over one parser; everything here is
 * about turning fuzzer bytes into values without reading past the input,
 * and about failing loudly (abort(), which libFuzzer reports as a crash
 * with the input saved) when an invariant of the code under test breaks.
 */
#ifndef VLB_TESTS_FUZZ_COMMON_H
#define VLB_TESTS_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A cursor over the fuzzer's input: reads past the end give zeros. */
struct fz_in {
	const uint8_t *p;
	size_t left;
};

static inline size_t fz_take(struct fz_in *in, void *buf, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	if (n)
		memcpy(buf, in->p, n);
	if (n < len)
		memset((uint8_t *)buf + n, 0, len - n);
	in->p += n;
	in->left -= n;
	return n;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	uint8_t v;

	fz_take(in, &v, 1);
	return v;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
	uint8_t b[2];

	fz_take(in, b, 2);
	return b[0] | (uint16_t)b[1] << 8;
}

/* An invariant of the code under test does not hold: a finding. */
#define fz_bug(...)							\
	do {								\
		fprintf(stderr, "FUZZ BUG: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	} while (0)

/*
 * The lowest free fd: taken at the start of an input and again at its end,
 * a difference is a fd the code under test leaked.
 */
static inline int fz_lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

#endif /* VLB_TESTS_FUZZ_COMMON_H */
