// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-loopback: the management CLI.
 *
 *	virtio-loopback list [--json]
 *	virtio-loopback show DEVICE [--json]
 *	virtio-loopback remove DEVICE [--timeout S] [--force]
 *	virtio-loopback run NAME|FILE [--dry-run]
 *
 * list and show only read sysfs. remove asks the device's owner (the
 * adapter, found by the owner_pid attribute) to remove it, with SIGTERM
 * through a pidfd: a device lives as long as its owner's session, and the
 * adapter's SIGTERM path is the orderly removal (the driver lets go while
 * the back-end still serves). --force adds SIGKILL when the owner does not
 * let go in time: closing the session is then a hot-unplug. run turns
 * /etc/virtio-loopback/NAME.conf into the adapter's options and execs it
 * (virtio-loopback@.service).
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "device_types.h"
#include "vlb_compiler.h"
#include "vlb_names.h"
#include "vlc.h"

#ifndef VLC_VERSION
#define VLC_VERSION	"unknown"
#endif

#define VLC_CLASS	"class/virtio-loopback"
/* Status bits (virtio spec 2.1). */
#define VLC_S_DRIVER_OK		0x04
#define VLC_S_NEEDS_RESET	0x40
#define VLC_S_FAILED		0x80
/* Most arguments a config file can give the adapter. */
#define VLC_MAX_ARGS		64
#define VLC_MAX_LINE		4096
/* How long --force waits after SIGKILL (the kernel's close is bounded). */
#define VLC_KILL_WAIT_S		15
/* How long backend= gets to create its socket. */
#define VLC_BACKEND_WAIT_S	30

/* The device-level counters, in the order show prints them. */
static const char *const vlc_dev_counters[] = {
	"bytes_bounced", "bytes_shared", "maps", "map_failures", "held_maps",
	"backend_faults", "revocations", "revocation_batches",
	"revocations_pending", "pages_in_use", "pages_total", "pages_shared",
};

/*
 * Keys of virtio-loopback.conf(5): the adapter's long options, so a file
 * says what a command line would. tests/unit/test_cli.c checks that every
 * option in the adapter's --help is here and in the man page.
 */
static const struct vlc_conf_key vlc_conf_keys[] = {
	/* The first two are required (vlc_conf_to_argv()). */
	{ "socket", false, false },
	{ "device", false, false },
	{ "memory", false, false },
	{ "queues", false, false },
	{ "queue-size", false, false },
	{ "mem-size", false, false },
	{ "backend-timeout", false, false },
	{ "reconnect-timeout", false, false },
	{ "persist", true, false },
	{ "persist-timeout", false, false },
	{ "verbose", true, false },
	{ "gpu-mode", false, false },
	{ "screenshot", false, false },
	{ "mac", false, false },
	{ "mtu", false, false },
	{ "tag", false, false },
	{ "request-queues", false, false },
	{ "cols", false, false },
	{ "rows", false, false },
	/* A command that starts the back-end before the adapter. */
	{ "backend", false, true },
};

const struct vlc_conf_key *vlc_conf_key(unsigned int i)
{
	return i < ARRAY_SIZE(vlc_conf_keys) ? &vlc_conf_keys[i] : NULL;
}

static void vlc_err(const struct vlc_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vlc_err(const struct vlc_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(ctx->err, "%s: ", VLC_PROG);
	va_start(ap, fmt);
	vfprintf(ctx->err, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->err);
}

/* ------------------------------------------------------------------ */
/* sysfs                                                                */
/* ------------------------------------------------------------------ */

/* Reads a small file, without the trailing newline. */
static int vlc_read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	if (ferror(f)) {
		int ret = -errno;

		fclose(f);
		return ret ? ret : -EIO;
	}
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int vlc_parse_u64(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

static int vlc_attr(const char *dir, const char *name, char *buf, size_t size)
{
	char path[VLC_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return vlc_read_file(path, buf, size);
}

static int vlc_attr_u64(const char *dir, const char *name, uint64_t *v)
{
	char buf[64];
	int ret = vlc_attr(dir, name, buf, sizeof(buf));

	return ret ? ret : vlc_parse_u64(buf, v);
}

static int vlc_attr_int(const char *dir, const char *name, int *v)
{
	char buf[64], *end;
	long x;
	int ret = vlc_attr(dir, name, buf, sizeof(buf));

	if (ret)
		return ret;
	errno = 0;
	x = strtol(buf, &end, 10);
	if (errno || *end || end == buf || x < INT_MIN || x > INT_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

/* "vl<N>" with N decimal, no sign, no leading zero. */
static bool vlc_is_vl_name(const char *s, unsigned int *id)
{
	unsigned long v;
	char *end;

	if (strncmp(s, "vl", 2) || !isdigit((unsigned char)s[2]) ||
	    (s[2] == '0' && s[3]))
		return false;
	errno = 0;
	v = strtoul(s + 2, &end, 10);
	if (errno || *end || v > INT_MAX)
		return false;
	if (id)
		*id = v;
	return true;
}

static void vlc_read_queues(const char *dir, struct vlc_dev *d)
{
	char qdir[VLC_PATH_MAX];
	struct dirent *e;
	DIR *dp;

	snprintf(qdir, sizeof(qdir), "%s/queues", dir);
	dp = opendir(qdir);
	if (!dp)
		return;
	while ((e = readdir(dp))) {
		char path[VLC_PATH_MAX];
		struct vlc_queue *q;
		struct dirent *a;
		unsigned long idx;
		char *end;
		DIR *qp;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		idx = strtoul(e->d_name, &end, 10);
		if (*end || idx >= VLC_MAX_QUEUES || d->nqueues >= VLC_MAX_QUEUES)
			continue;
		snprintf(path, sizeof(path), "%s/%s", qdir, e->d_name);
		qp = opendir(path);
		if (!qp)
			continue;
		q = &d->queues[d->nqueues++];
		memset(q, 0, sizeof(*q));
		q->index = idx;
		while ((a = readdir(qp)) && q->n < VLC_MAX_COUNTERS) {
			uint64_t v;

			if (a->d_name[0] == '.' ||
			    strlen(a->d_name) >= VLC_NAME_MAX ||
			    vlc_attr_u64(path, a->d_name, &v))
				continue;
			snprintf(q->c[q->n].name, VLC_NAME_MAX, "%s", a->d_name);
			q->c[q->n++].value = v;
		}
		closedir(qp);
	}
	closedir(dp);
	/* readdir order is the filesystem's: sort by index, counters by name. */
	for (unsigned int i = 1; i < d->nqueues; i++) {
		for (unsigned int j = i; j && d->queues[j - 1].index > d->queues[j].index; j--) {
			struct vlc_queue t = d->queues[j];

			d->queues[j] = d->queues[j - 1];
			d->queues[j - 1] = t;
		}
	}
	for (unsigned int i = 0; i < d->nqueues; i++) {
		struct vlc_queue *q = &d->queues[i];

		for (unsigned int k = 1; k < q->n; k++) {
			for (unsigned int j = k; j && strcmp(q->c[j - 1].name, q->c[j].name) > 0; j--) {
				struct vlc_counter t = q->c[j];

				q->c[j] = q->c[j - 1];
				q->c[j - 1] = t;
			}
		}
	}
}

/* The owner's argv[0] basename and --socket, from /proc/PID/cmdline. */
static void vlc_read_owner(const struct vlc_ctx *ctx, struct vlc_dev *d)
{
	char path[VLC_PATH_MAX], *buf, *base;
	size_t n;
	FILE *f;

	if (d->owner_pid <= 0)
		return;
	snprintf(path, sizeof(path), "%s/%d/cmdline", ctx->proc, d->owner_pid);
	f = fopen(path, "re");
	if (!f)
		return;
	buf = malloc(VLC_PATH_MAX * 4);
	if (!buf) {
		fclose(f);
		return;
	}
	n = fread(buf, 1, VLC_PATH_MAX * 4 - 1, f);
	fclose(f);
	buf[n] = '\0';
	base = strrchr(buf, '/');
	snprintf(d->owner, sizeof(d->owner), "%s", base ? base + 1 : buf);
	vlc_cmdline_socket(buf, n, d->socket);
	free(buf);
}

int vlc_read_dev(const struct vlc_ctx *ctx, const char *name,
		 struct vlc_dev *d)
{
	struct vla_device_type t;
	char dir[VLC_PATH_MAX], num[16], buf[64];
	uint64_t v;
	struct stat st;
	unsigned int i;
	int ret;

	memset(d, 0, sizeof(*d));
	if (!vlc_is_vl_name(name, &d->id))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/" VLC_CLASS "/%s", ctx->sysfs, name);
	if (stat(dir, &st))
		return -errno;
	snprintf(d->name, sizeof(d->name), "%s", name);

	/* A device removed while we read is gone: -ENOENT from any attribute. */
	ret = vlc_attr_u64(dir, "device_id", &v);
	if (ret)
		return ret;
	d->device_id = v;
	snprintf(num, sizeof(num), "%u", d->device_id);
	snprintf(d->type, sizeof(d->type), "%s",
		 vla_device_type_parse(num, &t) ? "unknown" : vla_device_type_name(&t));
	if (!vlc_attr_u64(dir, "vendor_id", &v))
		d->vendor_id = v;
	if (vlc_attr_int(dir, "owner_pid", &d->owner_pid))
		d->owner_pid = 0;
	if (vlc_attr(dir, "mem_mode", d->mem_mode, sizeof(d->mem_mode)))
		snprintf(d->mem_mode, sizeof(d->mem_mode), "unknown");
	if (!vlc_attr_u64(dir, "mem_size", &v))
		d->mem_size = v;
	if (!vlc_attr_u64(dir, "device_features", &v))
		d->device_features = v;
	if (!vlc_attr_u64(dir, "driver_features", &v))
		d->driver_features = v;
	if (!vlc_attr_u64(dir, "status", &v))
		d->status = v & 0xff;
	if (vlc_attr_int(dir, "virtio_index", &d->virtio_index))
		d->virtio_index = -1;
	if (!vlc_attr(dir, "broken", buf, sizeof(buf)))
		d->broken = strcmp(buf, "0") != 0;
	for (i = 0; i < ARRAY_SIZE(vlc_dev_counters); i++) {
		if (vlc_attr_u64(dir, vlc_dev_counters[i], &v))
			continue;
		snprintf(d->counters[d->ncounters].name, VLC_NAME_MAX, "%s",
			 vlc_dev_counters[i]);
		d->counters[d->ncounters++].value = v;
	}
	vlc_read_queues(dir, d);
	vlc_read_owner(ctx, d);
	return 0;
}

static int vlc_cmp_dev(const void *a, const void *b)
{
	const struct vlc_dev *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Every device, sorted by id; *devs is malloc'ed. */
static int vlc_read_all(const struct vlc_ctx *ctx, struct vlc_dev **devs,
			unsigned int *n)
{
	char dir[VLC_PATH_MAX];
	struct vlc_dev *v = NULL;
	unsigned int cap = 0;
	struct dirent *e;
	DIR *dp;

	*devs = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "%s/" VLC_CLASS, ctx->sysfs);
	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dp))) {
		if (!vlc_is_vl_name(e->d_name, NULL))
			continue;
		if (*n == cap) {
			struct vlc_dev *nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				closedir(dp);
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		/* Gone between readdir and read: not listed. */
		if (vlc_read_dev(ctx, e->d_name, &v[*n]) == 0)
			(*n)++;
	}
	closedir(dp);
	if (*n)
		qsort(v, *n, sizeof(*v), vlc_cmp_dev);
	*devs = v;
	return 0;
}

int vlc_resolve(const struct vlc_ctx *ctx, const char *arg, char *name)
{
	char path[VLC_PATH_MAX], real[PATH_MAX];
	struct vlc_dev *devs;
	unsigned int n, i, idx;
	struct stat st;
	char *p;
	int ret;

	if (vlc_is_vl_name(arg, NULL)) {
		snprintf(path, sizeof(path), "%s/" VLC_CLASS "/%s", ctx->sysfs, arg);
		if (stat(path, &st))
			return -ENOENT;
		snprintf(name, VLC_NAME_MAX, "%s", arg);
		return 0;
	}
	if (!strncmp(arg, "virtio", 6) && isdigit((unsigned char)arg[6])) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(arg + 6, &end, 10);
		if (errno || *end || v > INT_MAX)
			return -EINVAL;
		idx = v;
		ret = vlc_read_all(ctx, &devs, &n);
		if (ret)
			return ret;
		ret = -ENOENT;
		for (i = 0; i < n; i++) {
			if (devs[i].virtio_index == (int)idx) {
				snprintf(name, VLC_NAME_MAX, "%s", devs[i].name);
				ret = 0;
				break;
			}
		}
		free(devs);
		return ret;
	}
	if (arg[0] != '/')
		return -EINVAL;
	/* A device node: its sysfs device lies below vl<N>/virtio<M>/. */
	if (stat(arg, &st))
		return -ENOENT;
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/dev/%s/%u:%u", ctx->sysfs,
		 S_ISBLK(st.st_mode) ? "block" : "char",
		 major(st.st_rdev), minor(st.st_rdev));
	if (!realpath(path, real))
		return -ENOENT;
	p = strstr(real, "/virtio-loopback/vl");
	if (!p)
		return -ENOENT;
	p += strlen("/virtio-loopback/");
	i = strcspn(p, "/");
	if (i >= VLC_NAME_MAX)
		return -ENOENT;
	memcpy(name, p, i);
	name[i] = '\0';
	return vlc_is_vl_name(name, NULL) ? 0 : -ENOENT;
}

void vlc_cmdline_socket(const char *cmdline, size_t len, char *out)
{
	const char *p = cmdline, *end = cmdline + len;
	bool first = true;

	out[0] = '\0';
	while (p < end) {
		const char *arg = p, *next;
		size_t alen = strnlen(p, end - p);

		next = p + alen + 1;
		p = next;
		if (first) {	/* argv[0] */
			first = false;
			continue;
		}
		if (!strcmp(arg, "--")) /* the adapter takes no operands */
			return;
		if (!strcmp(arg, "--socket") || !strcmp(arg, "-s")) {
			if (p < end)
				snprintf(out, VLC_PATH_MAX, "%.*s",
					 (int)strnlen(p, end - p), p);
			return;
		}
		if (!strncmp(arg, "--socket=", 9)) {
			snprintf(out, VLC_PATH_MAX, "%s", arg + 9);
			return;
		}
		if (!strncmp(arg, "-s", 2) && arg[2]) {
			snprintf(out, VLC_PATH_MAX, "%s", arg + 2);
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Output                                                               */
/* ------------------------------------------------------------------ */

void vlc_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* One word for the table: what state the device is in. */
static const char *vlc_state(const struct vlc_dev *d)
{
	if (d->broken)
		return "broken";
	if (d->status & VLC_S_FAILED)
		return "failed";
	if (d->status & VLC_S_NEEDS_RESET)
		return "needs-reset";
	if (d->status & VLC_S_DRIVER_OK)
		return "running";
	if (d->virtio_index < 0)
		return "unbound";
	return d->status ? "starting" : "reset";
}

static void vlc_virtio_name(const struct vlc_dev *d, char *buf, size_t size)
{
	if (d->virtio_index >= 0)
		snprintf(buf, size, "virtio%d", d->virtio_index);
	else
		snprintf(buf, size, "-");
}

static void vlc_json_names(FILE *f, const char *list)
{
	const char *p = list;
	bool first = true;

	fputc('[', f);
	while (*p) {
		size_t n = strcspn(p, " ");
		char word[VLC_NAME_MAX];

		if (n && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			fputs(first ? "" : ", ", f);
			vlc_json_string(f, word);
			first = false;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	fputc(']', f);
}

/* The members list and show have in common. */
static void vlc_json_common(FILE *f, const struct vlc_dev *d, const char *ind)
{
	char virtio[VLC_NAME_MAX], bits[256];

	vlc_virtio_name(d, virtio, sizeof(virtio));
	vlb_status_str(d->status, " ", bits, sizeof(bits));
	fprintf(f, "%s\"name\": ", ind);
	vlc_json_string(f, d->name);
	fprintf(f, ",\n%s\"virtio\": ", ind);
	if (d->virtio_index >= 0)
		vlc_json_string(f, virtio);
	else
		fputs("null", f);
	fprintf(f, ",\n%s\"type\": ", ind);
	vlc_json_string(f, d->type);
	fprintf(f, ",\n%s\"device_id\": %u", ind, d->device_id);
	fprintf(f, ",\n%s\"state\": \"%s\"", ind, vlc_state(d));
	fprintf(f, ",\n%s\"status\": %u", ind, d->status);
	fprintf(f, ",\n%s\"status_names\": ", ind);
	vlc_json_names(f, bits);
	fprintf(f, ",\n%s\"memory\": ", ind);
	vlc_json_string(f, d->mem_mode);
	fprintf(f, ",\n%s\"queues\": %u", ind, d->nqueues);
	fprintf(f, ",\n%s\"pid\": ", ind);
	if (d->owner_pid > 0)
		fprintf(f, "%d", d->owner_pid);
	else
		fputs("null", f);
	fprintf(f, ",\n%s\"owner\": ", ind);
	if (d->owner[0])
		vlc_json_string(f, d->owner);
	else
		fputs("null", f);
	fprintf(f, ",\n%s\"socket\": ", ind);
	if (d->socket[0])
		vlc_json_string(f, d->socket);
	else
		fputs("null", f);
}

void vlc_print_list(FILE *f, const struct vlc_dev *devs, unsigned int n,
		    bool json)
{
	unsigned int i;

	if (json) {
		fputc('[', f);
		for (i = 0; i < n; i++) {
			fputs(i ? ", {\n" : "{\n", f);
			vlc_json_common(f, &devs[i], "  ");
			fputs("\n}", f);
		}
		fputs("]\n", f);
		return;
	}
	/* Like losetup -l: nothing at all when there is nothing. */
	if (!n)
		return;
	fprintf(f, "%-6s %-9s %-8s %-11s %-9s %6s %8s  %s\n", "NAME", "VIRTIO",
		"TYPE", "STATE", "MEMORY", "QUEUES", "PID", "SOCKET");
	for (i = 0; i < n; i++) {
		const struct vlc_dev *d = &devs[i];
		char virtio[VLC_NAME_MAX], pid[16];

		vlc_virtio_name(d, virtio, sizeof(virtio));
		if (d->owner_pid > 0)
			snprintf(pid, sizeof(pid), "%d", d->owner_pid);
		else
			snprintf(pid, sizeof(pid), "-");
		fprintf(f, "%-6s %-9s %-8s %-11s %-9s %6u %8s  %s\n", d->name,
			virtio, d->type, vlc_state(d), d->mem_mode, d->nqueues,
			pid, d->socket[0] ? d->socket : "-");
	}
}

static uint64_t vlc_queue_get(const struct vlc_queue *q, const char *name,
			      bool *found)
{
	unsigned int i;

	for (i = 0; i < q->n; i++) {
		if (!strcmp(q->c[i].name, name)) {
			if (found)
				*found = true;
			return q->c[i].value;
		}
	}
	if (found)
		*found = false;
	return 0;
}

static void vlc_show_text(FILE *f, const struct vlc_dev *d)
{
	char virtio[VLC_NAME_MAX], buf[2048];
	unsigned int i, j;

	vlc_virtio_name(d, virtio, sizeof(virtio));
	fprintf(f, "%s: %s %s (virtio device id %u, vendor 0x%08x)\n", d->name,
		virtio, d->type, d->device_id, d->vendor_id);
	vlb_status_str(d->status, " ", buf, sizeof(buf));
	fprintf(f, "\tstate %s%s  status 0x%02x %s\n", vlc_state(d),
		d->broken && strcmp(vlc_state(d), "broken") ? " (broken)" : "",
		d->status, buf);
	fprintf(f, "\tmemory %s  region %" PRIu64 " bytes (%" PRIu64 " MiB)\n",
		d->mem_mode, d->mem_size, d->mem_size >> 20);
	if (d->owner_pid > 0)
		fprintf(f, "\towner pid %d (%s)\n", d->owner_pid,
			d->owner[0] ? d->owner : "gone");
	else
		fprintf(f, "\towner none (being removed)\n");
	fprintf(f, "\tback-end socket %s\n", d->socket[0] ? d->socket : "unknown");
	vlb_features_str(d->device_id, d->device_features, " ", buf, sizeof(buf));
	fprintf(f, "\tdevice features 0x%016" PRIx64 " %s\n", d->device_features,
		buf);
	vlb_features_str(d->device_id, d->driver_features, " ", buf, sizeof(buf));
	fprintf(f, "\tdriver features 0x%016" PRIx64 " %s\n", d->driver_features,
		d->driver_features ? buf : "(not negotiated)");
	if (d->ncounters) {
		fprintf(f, "\tmemory counters");
		for (i = 0; i < d->ncounters; i++)
			fprintf(f, "%s%s %" PRIu64, i && i % 4 == 0 ? "\n\t\t" : " ",
				d->counters[i].name, d->counters[i].value);
		fputc('\n', f);
	}
	for (i = 0; i < d->nqueues; i++) {
		const struct vlc_queue *q = &d->queues[i];

		fprintf(f, "\tqueue %u size %" PRIu64 "/%" PRIu64, q->index,
			vlc_queue_get(q, "size", NULL),
			vlc_queue_get(q, "max_size", NULL));
		for (j = 0; j < q->n; j++) {
			if (!strcmp(q->c[j].name, "size") ||
			    !strcmp(q->c[j].name, "max_size"))
				continue;
			fprintf(f, " %s %" PRIu64, q->c[j].name, q->c[j].value);
		}
		fputc('\n', f);
	}
}

static void vlc_json_features(FILE *f, const char *key, uint32_t id,
			      uint64_t v)
{
	char buf[2048];

	vlb_features_str(id, v, " ", buf, sizeof(buf));
	fprintf(f, ",\n  \"%s\": \"0x%016" PRIx64 "\"", key, v);
	fprintf(f, ",\n  \"%s_names\": ", key);
	vlc_json_names(f, buf);
}

void vlc_print_show(FILE *f, const struct vlc_dev *d, bool json)
{
	unsigned int i, j;

	if (!json) {
		vlc_show_text(f, d);
		return;
	}
	fputs("{\n", f);
	vlc_json_common(f, d, "  ");
	fprintf(f, ",\n  \"vendor_id\": %u", d->vendor_id);
	fprintf(f, ",\n  \"broken\": %s", d->broken ? "true" : "false");
	fprintf(f, ",\n  \"mem_size\": %" PRIu64, d->mem_size);
	vlc_json_features(f, "device_features", d->device_id, d->device_features);
	vlc_json_features(f, "driver_features", d->device_id, d->driver_features);
	fputs(",\n  \"counters\": {", f);
	for (i = 0; i < d->ncounters; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "",
			d->counters[i].name, d->counters[i].value);
	fputs("},\n  \"queue_list\": [", f);
	for (i = 0; i < d->nqueues; i++) {
		const struct vlc_queue *q = &d->queues[i];

		fprintf(f, "%s\n    {\"index\": %u", i ? "," : "", q->index);
		for (j = 0; j < q->n; j++)
			fprintf(f, ", \"%s\": %" PRIu64, q->c[j].name, q->c[j].value);
		fputc('}', f);
	}
	fputs(d->nqueues ? "\n  ]\n}\n" : "]\n}\n", f);
}

/* ------------------------------------------------------------------ */
/* remove                                                               */
/* ------------------------------------------------------------------ */

static bool vlc_dev_exists(const struct vlc_ctx *ctx, const char *name)
{
	char path[VLC_PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/" VLC_CLASS "/%s", ctx->sysfs, name);
	return stat(path, &st) == 0;
}

static bool vlc_wait_gone(const struct vlc_ctx *ctx, const char *name,
			  unsigned int seconds)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	unsigned int i;

	for (i = 0; i < seconds * 20; i++) {
		if (!vlc_dev_exists(ctx, name))
			return true;
		nanosleep(&ts, NULL);
	}
	return !vlc_dev_exists(ctx, name);
}

static int vlc_pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) ? -errno : 0;
}

static int vlc_remove(const struct vlc_ctx *ctx, const char *name,
		      unsigned int timeout, bool force)
{
	struct vlc_dev *d = malloc(sizeof(*d));
	int pidfd = -1, ret, pid;

	if (!d) {
		vlc_err(ctx, "%s: out of memory", name);
		return VLC_EXIT_FAIL;
	}
	ret = vlc_read_dev(ctx, name, d);
	if (ret) {
		vlc_err(ctx, "%s: %s", name, ret == -ENOENT ? "no such device" : strerror(-ret));
		goto fail;
	}
	pid = d->owner_pid;
	if (pid > 0)
		pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		/* The owner is gone: the kernel is finishing the removal. */
		if (vlc_wait_gone(ctx, name, timeout))
			goto done;
		vlc_err(ctx, "%s: its owner is gone but the device is still there after %u s",
			name, timeout);
		goto fail;
	}
	/* The pidfd pins the process: is it still the owner we read? */
	if (vlc_read_dev(ctx, name, d) || d->owner_pid != pid) {
		if (!vlc_dev_exists(ctx, name))
			goto done;
		vlc_err(ctx, "%s: its owner changed while we looked", name);
		goto fail;
	}
	if (strcmp(d->owner, VLC_ADAPTER) && !force) {
		vlc_err(ctx, "%s: owned by pid %d (%s), not by %s; --force signals it anyway",
			name, pid, d->owner[0] ? d->owner : "unknown", VLC_ADAPTER);
		goto fail;
	}
	ret = vlc_pidfd_signal(pidfd, SIGTERM);
	if (ret && ret != -ESRCH) {
		vlc_err(ctx, "%s: cannot signal its owner, pid %d: %s", name, pid,
			strerror(-ret));
		goto fail;
	}
	if (vlc_wait_gone(ctx, name, timeout))
		goto done;
	if (!force) {
		vlc_err(ctx, "%s: still there %u s after SIGTERM to its owner, pid %d; --force kills it",
			name, timeout, pid);
		goto fail;
	}
	ret = vlc_pidfd_signal(pidfd, SIGKILL);
	if (ret && ret != -ESRCH) {
		vlc_err(ctx, "%s: cannot kill its owner, pid %d: %s", name, pid,
			strerror(-ret));
		goto fail;
	}
	if (!vlc_wait_gone(ctx, name, VLC_KILL_WAIT_S)) {
		vlc_err(ctx, "%s: still there %u s after SIGKILL to its owner, pid %d",
			name, VLC_KILL_WAIT_S, pid);
		goto fail;
	}
done:
	if (pidfd >= 0)
		close(pidfd);
	free(d);
	return VLC_EXIT_OK;
fail:
	if (pidfd >= 0)
		close(pidfd);
	free(d);
	return VLC_EXIT_FAIL;
}

/* ------------------------------------------------------------------ */
/* run: a config file to the adapter's command line                     */
/* ------------------------------------------------------------------ */

void vlc_argv_free(char **argv)
{
	unsigned int i;

	for (i = 1; argv[i]; i++)
		free(argv[i]);
}

static char *vlc_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int vlc_bool(const char *v)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(v, yes[i]))
			return 1;
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return -1;
}

int vlc_conf_to_argv(const struct vlc_ctx *ctx, const char *path,
		     char **argv, unsigned int max, char **backend)
{
	bool seen[ARRAY_SIZE(vlc_conf_keys)] = { false };
	char line[VLC_MAX_LINE + 2];
	unsigned int n = 1, lineno = 0, i;
	int ret = 0;
	FILE *f;

	for (i = 0; i < max; i++)
		argv[i] = NULL;
	*backend = NULL;
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		vlc_err(ctx, "%s: %s", path, strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		const struct vlc_conf_key *k = NULL;
		char *key, *val, *eq;
		size_t len = strlen(line);

		lineno++;
		if (len > VLC_MAX_LINE) {
			vlc_err(ctx, "%s:%u: line longer than %d bytes", path, lineno,
				VLC_MAX_LINE);
			ret = -EINVAL;
			break;
		}
		key = vlc_trim(line);
		if (!*key || *key == '#' || *key == ';')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			vlc_err(ctx, "%s:%u: '%s' is not KEY=VALUE", path, lineno, key);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		key = vlc_trim(key);
		val = vlc_trim(eq + 1);
		/* "VALUE" keeps spaces at its ends. */
		len = strlen(val);
		if (len >= 2 && val[0] == '"' && val[len - 1] == '"') {
			val[len - 1] = '\0';
			val++;
		}
		for (i = 0; i < ARRAY_SIZE(vlc_conf_keys); i++) {
			if (!strcmp(key, vlc_conf_keys[i].key)) {
				k = &vlc_conf_keys[i];
				break;
			}
		}
		if (!k) {
			vlc_err(ctx, "%s:%u: unknown key '%s' (see virtio-loopback.conf(5))",
				path, lineno, key);
			ret = -EINVAL;
			break;
		}
		if (seen[i]) {
			vlc_err(ctx, "%s:%u: '%s' given twice", path, lineno, key);
			ret = -EINVAL;
			break;
		}
		seen[i] = true;
		if (!*val) {
			vlc_err(ctx, "%s:%u: '%s' has no value", path, lineno, key);
			ret = -EINVAL;
			break;
		}
		if (k->own) {
			*backend = strdup(val);
			if (!*backend) {
				vlc_err(ctx, "%s: out of memory", path);
				ret = -ENOMEM;
				break;
			}
			continue;
		}
		if (k->flag) {
			int b = vlc_bool(val);

			if (b < 0) {
				vlc_err(ctx, "%s:%u: '%s' is yes or no, not '%s'", path,
					lineno, key, val);
				ret = -EINVAL;
				break;
			}
			if (!b)
				continue;
		}
		if (n + 1 >= max) {
			vlc_err(ctx, "%s:%u: too many keys", path, lineno);
			ret = -E2BIG;
			break;
		}
		if (k->flag)
			ret = asprintf(&argv[n], "--%s", key);
		else
			ret = asprintf(&argv[n], "--%s=%s", key, val);
		if (ret < 0) {
			argv[n] = NULL;
			vlc_err(ctx, "%s: out of memory", path);
			ret = -ENOMEM;
			break;
		}
		ret = 0;
		n++;
	}
	if (!ret && ferror(f)) {
		vlc_err(ctx, "%s: read error", path);
		ret = -EIO;
	}
	fclose(f);
	for (i = 0; !ret && i < 2; i++) {
		if (!seen[i]) {
			vlc_err(ctx, "%s: '%s' is required", path, vlc_conf_keys[i].key);
			ret = -EINVAL;
		}
	}
	if (ret) {
		vlc_argv_free(argv);
		free(*backend);
		*backend = NULL;
		return ret;
	}
	return n - 1;
}

/* A NAME is a file name in confdir; anything with a '/' is a path. */
static int vlc_conf_path(const struct vlc_ctx *ctx, const char *arg,
			 char *path, size_t size)
{
	const char *p;

	if (strchr(arg, '/')) {
		snprintf(path, size, "%s", arg);
		return 0;
	}
	if (!*arg || arg[0] == '.' || arg[0] == '-')
		return -EINVAL;
	for (p = arg; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("_-.@:", *p))
			return -EINVAL;
	}
	snprintf(path, size, "%s/%s.conf", ctx->confdir, arg);
	return 0;
}

/* Prints argv as a shell would take it back. */
static void vlc_print_argv(FILE *f, char **argv)
{
	unsigned int i;

	for (i = 0; argv[i]; i++) {
		const char *s = argv[i];

		fputs(i ? " " : "", f);
		if (*s && !s[strcspn(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~")]) {
			fputs(s, f);
			continue;
		}
		fputc('\'', f);
		for (; *s; s++) {
			if (*s == '\'')
				fputs("'\\''", f);
			else
				fputc(*s, f);
		}
		fputc('\'', f);
	}
	fputc('\n', f);
}

/*
 * backend=: runs the command with /bin/sh and waits until the socket the
 * adapter is to connect to exists. The back-end gets SIGTERM when its
 * parent -- this process, the adapter once exec'ed -- ends, so it does not
 * outlive the device (and under systemd it is in the unit's cgroup).
 */
static int vlc_start_backend(const struct vlc_ctx *ctx, const char *cmd,
			     char **argv)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	const char *sock = NULL;
	unsigned int i;
	struct stat st;
	int status;
	pid_t pid;

	for (i = 1; argv[i]; i++) {
		if (!strncmp(argv[i], "--socket=", 9))
			sock = argv[i] + 9;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		vlc_err(ctx, "backend: fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		char *line;

		/* exec: the back-end itself is our child, and gets the signal. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (asprintf(&line, "exec %s", cmd) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		fprintf(stderr, "%s: backend: /bin/sh: %s\n", VLC_PROG, strerror(errno));
		_exit(127);
	}
	for (i = 0; i < VLC_BACKEND_WAIT_S * 20; i++) {
		if (sock && !stat(sock, &st) && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			vlc_err(ctx, "backend: '%s' exited (status %d) before creating %s",
				cmd, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
				sock);
			return -ECHILD;
		}
		nanosleep(&ts, NULL);
	}
	vlc_err(ctx, "backend: '%s' did not create %s in %d s", cmd, sock,
		VLC_BACKEND_WAIT_S);
	kill(pid, SIGTERM);
	return -ETIMEDOUT;
}

static int vlc_run(const struct vlc_ctx *ctx, const char *arg, bool dry_run)
{
	char path[VLC_PATH_MAX], adapter[VLC_PATH_MAX];
	char *argv[VLC_MAX_ARGS], *backend;
	ssize_t n;
	int ret;

	if (vlc_conf_path(ctx, arg, path, sizeof(path))) {
		vlc_err(ctx, "run: '%s' is not a device name (letters, digits, _-.@:) or a path",
			arg);
		return VLC_EXIT_USAGE;
	}
	ret = vlc_conf_to_argv(ctx, path, argv, ARRAY_SIZE(argv), &backend);
	if (ret < 0)
		return VLC_EXIT_FAIL;

	/* The adapter installed next to us, else the one in PATH. */
	if (ctx->adapter) {
		snprintf(adapter, sizeof(adapter), "%s", ctx->adapter);
	} else {
		n = readlink("/proc/self/exe", adapter, sizeof(adapter) - 1);
		if (n > 0) {
			char *slash;

			adapter[n] = '\0';
			slash = strrchr(adapter, '/');
			if (slash && (size_t)(slash - adapter) + sizeof("/" VLC_ADAPTER) <= sizeof(adapter))
				strcpy(slash + 1, VLC_ADAPTER);
			if (access(adapter, X_OK))
				snprintf(adapter, sizeof(adapter), "%s", VLC_ADAPTER);
		} else {
			snprintf(adapter, sizeof(adapter), "%s", VLC_ADAPTER);
		}
	}
	argv[0] = adapter;
	if (dry_run) {
		if (backend)
			fprintf(ctx->out, "backend: %s\n", backend);
		vlc_print_argv(ctx->out, argv);
		vlc_argv_free(argv);
		free(backend);
		return VLC_EXIT_OK;
	}
	if (backend) {
		ret = vlc_start_backend(ctx, backend, argv);
		free(backend);
		if (ret) {
			vlc_argv_free(argv);
			return VLC_EXIT_FAIL;
		}
	}
	fflush(ctx->out);
	execvp(adapter, argv);
	vlc_err(ctx, "run: cannot execute %s: %s", adapter, strerror(errno));
	vlc_argv_free(argv);
	return VLC_EXIT_FAIL;
}

/* ------------------------------------------------------------------ */
/* The command line                                                     */
/* ------------------------------------------------------------------ */

static void vlc_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Inspect and manage virtio-loopback devices.\n"
		"\n"
		"Commands:\n"
		"  list                   one line per device (NAME is vl<N>)\n"
		"  show DEVICE            features, status, memory, owner and queues\n"
		"  remove DEVICE          remove a device: its adapter is asked to let go\n"
		"  run NAME|FILE          exec the adapter for /etc/virtio-loopback/NAME.conf\n"
		"  help                   this text\n"
		"\n"
		"DEVICE is vl<N>, virtio<N> (the name the adapter prints) or a device\n"
		"node of the device (/dev/vda).\n"
		"\n"
		"Options:\n"
		"  -j, --json             list, show: JSON output\n"
		"  -t, --timeout S        remove: seconds to wait for the device to go\n"
		"                         (default %d)\n"
		"  -f, --force            remove: kill the owner if it does not let go in\n"
		"                         time, or if it is not %s\n"
		"  -n, --dry-run          run: print the adapter's command line instead\n"
		"  -h, --help             this text\n"
		"  -V, --version          the version\n"
		"\n"
		"Exit status: 0 success, 1 the operation failed, 2 a usage error.\n",
		VLC_PROG, VLC_DEFAULT_TIMEOUT_S, VLC_ADAPTER);
}

enum vlc_cmd { VLC_CMD_NONE, VLC_CMD_LIST, VLC_CMD_SHOW, VLC_CMD_REMOVE,
	       VLC_CMD_RUN, VLC_CMD_HELP };

static const struct {
	const char *name;
	enum vlc_cmd cmd;
} vlc_cmds[] = {
	{ "list", VLC_CMD_LIST },
	{ "ls", VLC_CMD_LIST },
	{ "show", VLC_CMD_SHOW },
	{ "remove", VLC_CMD_REMOVE },
	{ "rm", VLC_CMD_REMOVE },
	{ "run", VLC_CMD_RUN },
	{ "help", VLC_CMD_HELP },
};

static int vlc_show(const struct vlc_ctx *ctx, const char *name, bool json)
{
	struct vlc_dev *d = malloc(sizeof(*d));
	int ret;

	if (!d) {
		vlc_err(ctx, "%s: out of memory", name);
		return VLC_EXIT_FAIL;
	}
	ret = vlc_read_dev(ctx, name, d);
	if (ret) {
		vlc_err(ctx, "%s: %s", name, ret == -ENOENT ? "no such device" : strerror(-ret));
		free(d);
		return VLC_EXIT_FAIL;
	}
	vlc_print_show(ctx->out, d, json);
	free(d);
	return VLC_EXIT_OK;
}

static int vlc_list(const struct vlc_ctx *ctx, bool json)
{
	struct vlc_dev *devs;
	unsigned int n;
	int ret;

	ret = vlc_read_all(ctx, &devs, &n);
	if (ret) {
		vlc_err(ctx, "%s/" VLC_CLASS ": %s", ctx->sysfs, strerror(-ret));
		return VLC_EXIT_FAIL;
	}
	vlc_print_list(ctx->out, devs, n, json);
	free(devs);
	return VLC_EXIT_OK;
}

int vlc_main(const struct vlc_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, force = false, dry_run = false, timeout_set = false;
	unsigned int timeout = VLC_DEFAULT_TIMEOUT_S, i;
	enum vlc_cmd cmd = VLC_CMD_NONE;
	char name[VLC_NAME_MAX];
	const char *arg;
	uint64_t v;
	int c, ret;

	optind = 0;	/* glibc: start afresh (the unit tests call us often) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jt:fnhV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 't':
			if (vlc_parse_u64(optarg, &v) || v == 0 || v > 3600) {
				vlc_err(ctx, "--timeout: '%s' is not a number of seconds in 1..3600",
					optarg);
				return VLC_EXIT_USAGE;
			}
			timeout = v;
			timeout_set = true;
			break;
		case 'f':
			force = true;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'h':
			vlc_usage(ctx->out);
			return VLC_EXIT_OK;
		case 'V':
			fprintf(ctx->out, "%s %s\n", VLC_PROG, VLC_VERSION);
			return VLC_EXIT_OK;
		case ':':
			vlc_err(ctx, "%s needs an argument (see --help)", argv[optind - 1]);
			return VLC_EXIT_USAGE;
		default:
			vlc_err(ctx, "unknown option '%s' (see --help)", argv[optind - 1]);
			return VLC_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		vlc_err(ctx, "no command (see --help)");
		return VLC_EXIT_USAGE;
	}
	for (i = 0; i < ARRAY_SIZE(vlc_cmds); i++) {
		if (!strcmp(argv[optind], vlc_cmds[i].name))
			cmd = vlc_cmds[i].cmd;
	}
	if (cmd == VLC_CMD_NONE) {
		vlc_err(ctx, "unknown command '%s' (see --help)", argv[optind]);
		return VLC_EXIT_USAGE;
	}
	optind++;

	/* Each option belongs to one command or two. */
	if (json && cmd != VLC_CMD_LIST && cmd != VLC_CMD_SHOW) {
		vlc_err(ctx, "--json is an option of list and show");
		return VLC_EXIT_USAGE;
	}
	if ((force || timeout_set) && cmd != VLC_CMD_REMOVE) {
		vlc_err(ctx, "--%s is an option of remove", force ? "force" : "timeout");
		return VLC_EXIT_USAGE;
	}
	if (dry_run && cmd != VLC_CMD_RUN) {
		vlc_err(ctx, "--dry-run is an option of run");
		return VLC_EXIT_USAGE;
	}
	if (cmd == VLC_CMD_LIST || cmd == VLC_CMD_HELP) {
		if (optind < argc) {
			vlc_err(ctx, "unexpected argument '%s' (see --help)", argv[optind]);
			return VLC_EXIT_USAGE;
		}
		if (cmd == VLC_CMD_HELP) {
			vlc_usage(ctx->out);
			return VLC_EXIT_OK;
		}
		return vlc_list(ctx, json);
	}
	if (optind >= argc) {
		vlc_err(ctx, "%s needs a %s (see --help)", argv[optind - 1],
			cmd == VLC_CMD_RUN ? "NAME or FILE" : "DEVICE");
		return VLC_EXIT_USAGE;
	}
	arg = argv[optind++];
	if (optind < argc) {
		vlc_err(ctx, "unexpected argument '%s' (see --help)", argv[optind]);
		return VLC_EXIT_USAGE;
	}
	if (cmd == VLC_CMD_RUN)
		return vlc_run(ctx, arg, dry_run);

	ret = vlc_resolve(ctx, arg, name);
	if (ret == -EINVAL) {
		vlc_err(ctx, "'%s' is not a device name (vl<N>, virtio<N> or /dev/...)",
			arg);
		return VLC_EXIT_USAGE;
	}
	if (ret) {
		vlc_err(ctx, "%s: %s", arg, ret == -ENOENT ? "no such device" : strerror(-ret));
		return VLC_EXIT_FAIL;
	}
	if (cmd == VLC_CMD_SHOW)
		return vlc_show(ctx, name, json);
	return vlc_remove(ctx, name, timeout, force);
}
