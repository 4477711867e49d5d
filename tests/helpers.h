/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the host-side unit tests (tests/unit/test_*.c).
 *
 * Each test is one program: exit T_EXIT_PASS, T_EXIT_FAIL or T_EXIT_SKIP
 * (kselftest's skip code, so a missing tool or feature never reads as a
 * pass). Helpers are static inline so a test uses what it needs; they return
 * 0 or -errno like the rest of the tree, and t_fail() prints one precise
 * line naming the test.
 */
#ifndef VLB_TESTS_HELPERS_H
#define VLB_TESTS_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#define T_EXIT_PASS	0
#define T_EXIT_FAIL	1
#define T_EXIT_SKIP	4

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* How long a test waits for anything (a reply, an eventfd, a child). */
#define T_WAIT_MS	5000

/**
 * t_connect_unix() - connect to a unix socket a child is about to create
 * @path: socket path
 * @fdp: set to the connected socket (close-on-exec)
 *
 * Retries every 10 ms for up to T_WAIT_MS.
 * Returns: 0, -ETIMEDOUT, or another -errno.
 */
static inline int t_connect_unix(const char *path, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i, fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (i = 0; i < T_WAIT_MS / 10; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*fdp = fd;
			return 0;
		}
		close(fd);
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/**
 * t_check() - a check that lets the test go on: counts and reports a failure
 * @ok: the check's outcome
 * @failures: the test's failure counter, incremented when !@ok
 * @fn: function of the check (__func__)
 * @line: its line (__LINE__)
 * @fmt: printf format of what failed, no trailing newline
 * Returns: @ok. Tests wrap it: CHECK(cond, fmt, ...) passing __func__ and
 * __LINE__.
 */
static inline __attribute__((format(printf, 5, 6)))
bool t_check(bool ok, int *failures, const char *fn, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	fprintf(stderr, "%s:%d: ", fn, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	(*failures)++;
	return false;
}

/*
 * The checks of a test file with a `static int failures;` counter:
 * T_CHECK(cond, fmt, ...) reports and counts a failure and goes on (its
 * value is @cond); T_CHECK_RET(cond, fmt, ...) also returns 1 from the
 * calling function. The message's arguments are evaluated only after
 * @cond, and only when it fails: they may read what @cond computed.
 */
#define T_CHECK(cond, ...) ({						\
	bool t_ok_ = (cond);						\
									\
	if (!t_ok_)							\
		t_check(false, &failures, __func__, __LINE__, __VA_ARGS__); \
	t_ok_;								\
})
#define T_CHECK_RET(cond, ...) do {				\
	if (!T_CHECK((cond), __VA_ARGS__))			\
		return 1;					\
} while (0)

/**
 * t_fail() - report a failed check on stderr, prefixed with the program name
 * @fmt: printf format, no trailing newline
 * Returns: T_EXIT_FAIL, so callers can write "return t_fail(...)".
 */
static inline __attribute__((format(printf, 1, 2)))
int t_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FAIL: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return T_EXIT_FAIL;
}

/**
 * t_log() - progress line on stderr, prefixed with the program name
 * @fmt: printf format, no trailing newline
 */
static inline __attribute__((format(printf, 1, 2)))
void t_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/**
 * t_count_fds() - number of open file descriptors of this process
 * Returns: the count (not including the directory stream used to count),
 * or -errno
 */
static inline int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/**
 * t_memfd() - a shared memory object of @size bytes, mapped
 * @size: bytes (a multiple of the page size)
 * @fdp: set to the memfd (caller closes)
 * @mapp: set to a MAP_SHARED read/write mapping (caller munmaps)
 * Returns: 0 or -errno
 */
static inline int t_memfd(size_t size, int *fdp, void **mapp)
{
	void *p;
	int fd, err;

	fd = memfd_create("vlb-test", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0)
		goto err;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err;
	*fdp = fd;
	*mapp = p;
	return 0;
err:
	err = errno;
	close(fd);
	return -err;
}

/**
 * t_wait_readable() - wait until @fd is readable
 * @fd: file descriptor
 * @ms: timeout in milliseconds
 * Returns: 0 when readable, -ETIMEDOUT, or -errno
 */
static inline int t_wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do {
		n = poll(&p, 1, ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

#endif /* VLB_TESTS_HELPERS_H */
