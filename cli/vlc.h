/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-loopback: the management CLI (list, show, remove, run).
 *
 * Everything but main() is here so the host-side unit tests can drive it
 * against a fake sysfs tree: a struct vlc_ctx names the roots (sysfs class
 * directory, /proc, the config directory) and the streams the command
 * writes to. The kernel's interface is the class directory
 * /sys/class/virtio-loopback/vl<N>/ (attributes and queues/<n>/); what it
 * does not say (the back-end socket) is read from the owner's command line.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#ifndef VLC_H
#define VLC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VLC_PROG	"virtio-loopback"
#define VLC_ADAPTER	"virtio-loopback-adapter"

/* Exit codes, as ip(8) and losetup(8) use them. */
#define VLC_EXIT_OK	0
#define VLC_EXIT_FAIL	1	/* the operation failed (no such device, ...) */
#define VLC_EXIT_USAGE	2	/* the command line is wrong */

#define VLC_NAME_MAX		32
#define VLC_PATH_MAX		4096
#define VLC_MAX_QUEUES		64
#define VLC_MAX_COUNTERS	24
#define VLC_DEFAULT_TIMEOUT_S	20

/**
 * struct vlc_ctx - where a command looks and writes
 * @sysfs: sysfs (/sys); devices are in class/virtio-loopback/ below it
 * @proc: procfs (/proc)
 * @confdir: where "run NAME" finds NAME.conf (/etc/virtio-loopback)
 * @adapter: the adapter to exec; NULL: next to our own executable, else
 *           found in PATH
 * @out: standard output
 * @err: error messages
 */
struct vlc_ctx {
	const char *sysfs;
	const char *proc;
	const char *confdir;
	const char *adapter;
	FILE *out;
	FILE *err;
};

/* One counter read from sysfs: its file name and value. */
struct vlc_counter {
	char name[VLC_NAME_MAX];
	uint64_t value;
};

/**
 * struct vlc_queue - queues/<index>/ of a device
 * @index: queue index
 * @c: every numeric attribute of the queue (max_size, size, kicks, ...)
 * @n: entries of @c in use
 */
struct vlc_queue {
	unsigned int index;
	struct vlc_counter c[VLC_MAX_COUNTERS];
	unsigned int n;
};

/**
 * struct vlc_dev - what sysfs and the owner's command line say of a device
 * @name: "vl<N>"
 * @id: N
 * @device_id: virtio device id
 * @type: type name from the adapter's table, "unknown" if not in it
 * @vendor_id: virtio vendor id
 * @owner_pid: the process that owns the device (0 if none any more)
 * @owner: basename of the owner's argv[0], "" if unknown
 * @socket: the back-end socket from the owner's --socket, "" if unknown
 * @mem_mode: "isolated" or "zero-copy"
 * @mem_size: bytes of the region the back-end sees
 * @device_features: features the device offers
 * @driver_features: features the driver accepted (0 before it did)
 * @status: virtio status byte
 * @virtio_index: N of virtioN on the virtio bus, -1 while not registered
 * @broken: the kernel marked the device broken
 * @counters: the memory counters (bytes_bounced, maps, ...) present
 * @ncounters: entries of @counters in use
 * @queues: the queues, by index
 * @nqueues: entries of @queues in use
 */
struct vlc_dev {
	char name[VLC_NAME_MAX];
	unsigned int id;
	uint32_t device_id;
	char type[VLC_NAME_MAX];
	uint32_t vendor_id;
	int owner_pid;
	char owner[VLC_NAME_MAX];
	char socket[VLC_PATH_MAX];
	char mem_mode[VLC_NAME_MAX];
	uint64_t mem_size;
	uint64_t device_features;
	uint64_t driver_features;
	unsigned int status;
	int virtio_index;
	bool broken;
	struct vlc_counter counters[VLC_MAX_COUNTERS];
	unsigned int ncounters;
	struct vlc_queue queues[VLC_MAX_QUEUES];
	unsigned int nqueues;
};

/**
 * vlc_main() - run one command line
 * @ctx: roots and streams
 * @argc: argument count
 * @argv: arguments, argv[0] the program
 *
 * Returns: a VLC_EXIT_* code; "run" execs the adapter and returns only on
 * failure.
 */
int vlc_main(const struct vlc_ctx *ctx, int argc, char **argv);

/**
 * vlc_read_dev() - read one device from sysfs
 * @ctx: roots
 * @name: "vl<N>"
 * @d: filled in
 *
 * Returns: 0, -ENOENT if the device does not exist, or another -errno.
 */
int vlc_read_dev(const struct vlc_ctx *ctx, const char *name,
		 struct vlc_dev *d);

/**
 * vlc_resolve() - the "vl<N>" a user's DEVICE argument means
 * @ctx: roots
 * @arg: "vl<N>", "virtio<N>" (its name on the virtio bus, as the adapter
 *       prints it) or a device node of the device (/dev/vda, /dev/hvc0)
 * @name: output, VLC_NAME_MAX bytes
 *
 * Returns: 0, -ENOENT if no such device, -EINVAL for a malformed name.
 */
int vlc_resolve(const struct vlc_ctx *ctx, const char *arg, char *name);

/**
 * vlc_cmdline_socket() - the --socket argument in a NUL-separated argv
 * @cmdline: /proc/PID/cmdline contents
 * @len: its length
 * @out: output, VLC_PATH_MAX bytes; "" if there is none
 *
 * Understands "--socket P", "--socket=P", "-s P" and "-sP".
 */
void vlc_cmdline_socket(const char *cmdline, size_t len, char *out);

/**
 * vlc_json_string() - write a JSON string literal, escaped
 * @f: stream
 * @s: UTF-8 text
 */
void vlc_json_string(FILE *f, const char *s);

/**
 * vlc_print_list() - the list command's output
 * @f: stream
 * @devs: devices
 * @n: how many
 * @json: a JSON array instead of a table
 */
void vlc_print_list(FILE *f, const struct vlc_dev *devs, unsigned int n,
		    bool json);

/**
 * vlc_print_show() - the show command's output
 * @f: stream
 * @d: the device
 * @json: a JSON object instead of text
 */
void vlc_print_show(FILE *f, const struct vlc_dev *d, bool json);

/**
 * struct vlc_conf_key - a key of virtio-loopback.conf(5)
 * @key: the key, which is also the adapter's long option
 * @flag: the option takes no argument (the value is a boolean)
 * @own: the CLI's own key, not an adapter option (backend)
 */
struct vlc_conf_key {
	const char *key;
	bool flag;
	bool own;
};

/**
 * vlc_conf_key() - an entry of the config key table
 * @i: index
 * Returns: the key, or NULL past the end
 */
const struct vlc_conf_key *vlc_conf_key(unsigned int i);

/**
 * vlc_conf_to_argv() - turn a device's config file into adapter arguments
 * @ctx: @err receives one line per problem, "FILE:LINE: ..."
 * @path: the file
 * @argv: output, NULL-terminated, argv[0] left NULL for the caller; strings
 *        are allocated (freed with vlc_argv_free())
 * @max: entries of @argv
 * @backend: set to the backend= command (allocated), or NULL
 *
 * Returns: the number of arguments written (from argv[1]), or -errno
 * (-EINVAL for a bad file, already reported).
 */
int vlc_conf_to_argv(const struct vlc_ctx *ctx, const char *path,
		     char **argv, unsigned int max, char **backend);

/**
 * vlc_argv_free() - free what vlc_conf_to_argv() allocated
 * @argv: the array
 */
void vlc_argv_free(char **argv);

#endif /* VLC_H */
