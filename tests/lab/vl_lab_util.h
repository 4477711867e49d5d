/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the lab's uapi programs (vl-uapi-test, vl-uapi-fuzz):
 * the control node, the sysfs class, a monotonic clock and sysfs files.
 */
#ifndef VL_LAB_UTIL_H
#define VL_LAB_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CTL		"/dev/virtio-loopback"
#define CLASS_DIR	"/sys/class/virtio-loopback"

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int count_devices(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	dir = opendir(CLASS_DIR);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static inline int read_sysfs(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

static inline int write_sysfs(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

#endif /* VL_LAB_UTIL_H */
