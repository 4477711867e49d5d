// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the virtio-loopback CLI outside a VM: the feature and status
 * decoders, the owner's --socket, JSON escaping, list/show against a fake
 * sysfs tree (table, JSON, every DEVICE spelling), bad command lines (exit
 * 2 and one line naming the problem), config files to adapter options
 * (run --dry-run) and their errors, and that the config keys, the man
 * pages and every program's --help name the same options.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "vlb_names.h"
#include "vlc.h"

static char root[64];
static char out_buf_path[PATH_MAX];
static int failures;

#define CHECK(cond, ...)	T_CHECK(cond, __VA_ARGS__)

static void test_decoders(void)
{
	char buf[256];
	size_t n;

	vlb_features_str(2, (1ULL << 1) | (1ULL << 9) | (1ULL << 28) |
			 (1ULL << 32) | (1ULL << 33) | (1ULL << 45), " ",
			 buf, sizeof(buf));
	CHECK(!strcmp(buf, "SIZE_MAX FLUSH RING_INDIRECT_DESC VERSION_1 ACCESS_PLATFORM bit45"),
	      "blk features: '%s'", buf);
	vlb_features_str(1, (1ULL << 5) | (1ULL << 22), ",", buf, sizeof(buf));
	CHECK(!strcmp(buf, "MAC,MQ"), "net features: '%s'", buf);
	vlb_features_str(4, 1ULL << 0, " ", buf, sizeof(buf));
	CHECK(!strcmp(buf, "bit0"), "rng has no feature 0: '%s'", buf);
	vlb_features_str(4, 0, " ", buf, sizeof(buf));
	CHECK(!strcmp(buf, ""), "no features: '%s'", buf);
	n = vlb_features_str(2, 1ULL << 32, " ", buf, 4);
	CHECK(n == strlen("VERSION_1") && !strcmp(buf, "VER"),
	      "cut output: %zu '%s'", n, buf);
	CHECK(vlb_feature_name(3, 0) && !strcmp(vlb_feature_name(3, 0), "SIZE"),
	      "console bit 0");
	CHECK(!vlb_feature_name(2, 3), "blk bit 3 is reserved");

	vlb_status_str(0x0f, " ", buf, sizeof(buf));
	CHECK(!strcmp(buf, "ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK"),
	      "status 0x0f: '%s'", buf);
	vlb_status_str(0, " ", buf, sizeof(buf));
	CHECK(!strcmp(buf, "RESET"), "status 0: '%s'", buf);
	vlb_status_str(0x93, " ", buf, sizeof(buf));
	CHECK(!strcmp(buf, "ACKNOWLEDGE DRIVER bit4 FAILED"), "status 0x93: '%s'", buf);
}

static void test_cmdline(void)
{
	static const struct { const char *argv; size_t len; const char *want; } c[] = {
		{ "a\0--socket\0/run/x.sock\0--device\0blk", 35, "/run/x.sock" },
		{ "a\0--device\0blk\0--socket=/s p", 29, "/s p" },
		{ "a\0-s\0/t", 8, "/t" },
		{ "a\0-s/u\0-d\0rng", 13, "/u" },
		{ "a\0--device\0blk", 14, "" },
		{ "a\0--socket", 10, "" },
		{ "--socket\0/argv0-is-skipped", 26, "" },
	};
	char out[VLC_PATH_MAX];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		vlc_cmdline_socket(c[i].argv, c[i].len, out);
		CHECK(!strcmp(out, c[i].want), "case %u: '%s', want '%s'", i, out,
		      c[i].want);
	}
}

static void test_json_string(void)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	vlc_json_string(f, "a\"b\\c\nd\te\x01");
	fclose(f);
	CHECK(!strcmp(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001\""), "json: %s", buf);
	free(buf);
}

static void put(const char *rel, const char *text, size_t len)
{
	char path[PATH_MAX], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(T_EXIT_FAIL);
	}
}

#define PUT(rel, s)	put(rel, s, strlen(s))
#define DEV		"sys/class/virtio-loopback/"

/* Two devices: a running blk owned by an adapter, an unbound rng. */
static void make_tree(void)
{
	static const char cmd[] = "/usr/sbin/virtio-loopback-adapter\0--device\0blk\0--socket\0/run/disk \"0\".sock";

	PUT(DEV "vl3/device_id", "2\n");
	PUT(DEV "vl3/vendor_id", "0x00000000\n");
	PUT(DEV "vl3/owner_pid", "4242\n");
	PUT(DEV "vl3/mem_mode", "zero-copy\n");
	PUT(DEV "vl3/mem_size", "67108864\n");
	PUT(DEV "vl3/device_features", "0x0000000330000246\n");
	PUT(DEV "vl3/driver_features", "0x0000000300000246\n");
	PUT(DEV "vl3/status", "0x0f\n");
	PUT(DEV "vl3/virtio_index", "5\n");
	PUT(DEV "vl3/broken", "0\n");
	PUT(DEV "vl3/bytes_bounced", "4096\n");
	PUT(DEV "vl3/uevent", "MAJOR=1\n");
	PUT(DEV "vl3/queues/0/max_size", "256\n");
	PUT(DEV "vl3/queues/0/size", "128\n");
	PUT(DEV "vl3/queues/0/kicks", "17\n");
	PUT(DEV "vl3/queues/0/interrupts", "16\n");
	PUT(DEV "vl3/queues/1/max_size", "256\n");
	PUT(DEV "vl3/queues/1/size", "256\n");
	put("proc/4242/cmdline", cmd, sizeof(cmd));

	PUT(DEV "vl10/device_id", "4\n");
	PUT(DEV "vl10/owner_pid", "0\n");
	PUT(DEV "vl10/mem_mode", "isolated\n");
	PUT(DEV "vl10/status", "0x00\n");
	PUT(DEV "vl10/virtio_index", "-1\n");
	PUT(DEV "vl10/broken", "1\n");
	PUT(DEV "vl10/queues/0/max_size", "64\n");
	/* Not devices: must not be listed. */
	PUT(DEV "vlx/device_id", "4\n");
	PUT(DEV "vl03/device_id", "4\n");
}

/* Runs the CLI; returns its exit code, output in *out and *err. */
static int run(char **out, char **err, const char *args)
{
	char conf[PATH_MAX], sys[PATH_MAX], proc[PATH_MAX], *argv[16], *copy, *tok;
	struct vlc_ctx ctx;
	size_t so = 0, se = 0;
	int argc = 0, ret;

	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(conf, sizeof(conf), "%s/etc", root);
	ctx = (struct vlc_ctx) {
		.sysfs = sys, .proc = proc, .confdir = conf,
		.adapter = "/usr/sbin/virtio-loopback-adapter",
	};
	ctx.out = open_memstream(out, &so);
	ctx.err = open_memstream(err, &se);
	copy = strdup(args);
	argv[argc++] = "virtio-loopback";
	for (tok = strtok(copy, " "); tok && argc < 15; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	ret = vlc_main(&ctx, argc, argv);
	fclose(ctx.out);
	fclose(ctx.err);
	free(copy);
	return ret;
}

static void test_list_show(void)
{
	char *out, *err;
	int ret;

	ret = run(&out, &err, "list");
	CHECK(ret == 0 && !*err, "list: %d '%s'", ret, err);
	CHECK(strstr(out, "NAME ") == out, "list header: %s", out);
	CHECK(strstr(out, "vl3    virtio5   blk      running     zero-copy      2     4242  /run/disk \"0\".sock"),
	      "list vl3 line: %s", out);
	CHECK(strstr(out, "vl10   -         rng      broken      isolated       1        -  -"),
	      "list vl10 line: %s", out);
	CHECK(strstr(out, "vl3 ") < strstr(out, "vl10 "), "sorted by number: %s", out);
	CHECK(!strstr(out, "vlx") && !strstr(out, "vl03"), "non-devices listed: %s", out);
	free(out);
	free(err);

	ret = run(&out, &err, "--json list");
	CHECK(ret == 0, "list --json: %d", ret);
	CHECK(out[0] == '[' && strstr(out, "\"name\": \"vl3\"") &&
	      strstr(out, "\"socket\": \"/run/disk \\\"0\\\".sock\"") &&
	      strstr(out, "\"virtio\": null") && strstr(out, "\"pid\": null") &&
	      strstr(out, "\"status_names\": [\"ACKNOWLEDGE\", \"DRIVER\", \"DRIVER_OK\", \"FEATURES_OK\"]"),
	      "list --json: %s", out);
	free(out);
	free(err);

	ret = run(&out, &err, "show virtio5");
	CHECK(ret == 0, "show virtio5: %d %s", ret, err);
	CHECK(strstr(out, "vl3: virtio5 blk (virtio device id 2"), "show title: %s", out);
	CHECK(strstr(out, "status 0x0f ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK"), "show status: %s", out);
	CHECK(strstr(out, "device features 0x0000000330000246 SIZE_MAX SEG_MAX BLK_SIZE FLUSH RING_INDIRECT_DESC RING_EVENT_IDX VERSION_1 ACCESS_PLATFORM"),
	      "show features: %s", out);
	CHECK(strstr(out, "owner pid 4242 (virtio-loopback-adapter)"), "show owner: %s", out);
	CHECK(strstr(out, "queue 0 size 128/256 interrupts 16 kicks 17"), "show queue 0: %s", out);
	CHECK(strstr(out, "queue 1 size 256/256\n"), "show queue 1: %s", out);
	CHECK(strstr(out, "bytes_bounced 4096"), "show counters: %s", out);
	free(out);
	free(err);

	ret = run(&out, &err, "show vl10 -j");
	CHECK(ret == 0 && strstr(out, "\"broken\": true") &&
	      strstr(out, "\"driver_features_names\": []") &&
	      strstr(out, "{\"index\": 0, \"max_size\": 64}"), "show --json: %s", out);
	free(out);
	free(err);
}

static void test_bad_args(void)
{
	static const struct { const char *args; int code; const char *msg; } c[] = {
		{ "", 2, "no command" },
		{ "frobnicate", 2, "unknown command 'frobnicate'" },
		{ "--bogus list", 2, "unknown option '--bogus'" },
		{ "show", 2, "show needs a DEVICE" },
		{ "remove", 2, "remove needs a DEVICE" },
		{ "show vl3 vl10", 2, "unexpected argument 'vl10'" },
		{ "list extra", 2, "unexpected argument 'extra'" },
		{ "show disk", 2, "'disk' is not a device name" },
		{ "show vl99", 1, "vl99: no such device" },
		{ "show virtio77", 1, "virtio77: no such device" },
		{ "show virtio5x", 2, "not a device name" },
		{ "show /nonexistent", 1, "/nonexistent: no such device" },
		{ "remove vl3 --timeout 0", 2, "--timeout: '0' is not a number" },
		{ "remove vl3 --timeout", 2, "--timeout needs an argument" },
		{ "remove vl3 --json", 2, "--json is an option of list and show" },
		{ "list --force", 2, "--force is an option of remove" },
		{ "show vl3 --dry-run", 2, "--dry-run is an option of run" },
		{ "remove vl99", 1, "vl99: no such device" },
		{ "run", 2, "run needs a NAME or FILE" },
		{ "run ../x", 1, "../x: No such file" },
		{ "run .hidden", 2, "is not a device name" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		char *out, *err;
		int ret = run(&out, &err, c[i].args);

		CHECK(ret == c[i].code, "'%s': exit %d, want %d", c[i].args, ret, c[i].code);
		CHECK(strstr(err, c[i].msg) && strncmp(err, "virtio-loopback: ", 17) == 0 &&
		      strchr(err, '\n') == err + strlen(err) - 1,
		      "'%s': stderr '%s', want one line with '%s'", c[i].args, err, c[i].msg);
		free(out);
		free(err);
	}
}

static void test_conf(void)
{
	static const struct { const char *text; int code; const char *want; } c[] = {
		{ "# a disk\nsocket = /run/d.sock\n\ndevice=blk\nmemory=zero-copy\n; x\nverbose = yes\n",
		  0, "/usr/sbin/virtio-loopback-adapter --socket=/run/d.sock --device=blk --memory=zero-copy --verbose\n" },
		{ "device=fs\nsocket=\"/run/my fs.sock\"\ntag=share\nverbose=no\n",
		  0, "/usr/sbin/virtio-loopback-adapter --device=fs '--socket=/run/my fs.sock' --tag=share\n" },
		{ "device=blk\n", 1, "'socket' is required" },
		{ "socket=/s\n", 1, "'device' is required" },
		{ "socket=/s\ndevice=blk\nfoo=1\n", 1, "d.conf:3: unknown key 'foo'" },
		{ "socket=/s\nsocket=/t\n", 1, "d.conf:2: 'socket' given twice" },
		{ "socket=/s\ndevice=blk\nverbose=maybe\n", 1, "'verbose' is yes or no" },
		{ "socket=/s\ndevice\n", 1, "d.conf:2: 'device' is not KEY=VALUE" },
		{ "socket=\ndevice=blk\n", 1, "d.conf:1: 'socket' has no value" },
		{ "socket=/r.sock\ndevice=rng\nbackend = vhost-user-rng --socket-path /r.sock\n",
		  0, "backend: vhost-user-rng --socket-path /r.sock\n/usr/sbin/virtio-loopback-adapter --socket=/r.sock --device=rng\n" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		char *out, *err;
		int ret;

		PUT("etc/d.conf", c[i].text);
		ret = run(&out, &err, "run --dry-run d");
		CHECK(ret == c[i].code, "conf %u: exit %d, want %d (%s)", i, ret,
		      c[i].code, err);
		if (c[i].code == 0)
			CHECK(!strcmp(out, c[i].want), "conf %u: '%s', want '%s'", i,
			      out, c[i].want);
		else
			CHECK(strstr(err, c[i].want), "conf %u: stderr '%s', want '%s'",
			      i, err, c[i].want);
		free(out);
		free(err);
	}
}

/* Output of a command, "" if it fails. */
static char *capture(const char *cmd)
{
	char *buf = NULL;
	size_t size = 0, n;
	FILE *p = popen(cmd, "r"), *m = open_memstream(&buf, &size);
	char chunk[4096];

	while (p && (n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, m);
	if (p)
		pclose(p);
	fclose(m);
	return buf;
}

/* Every --long-option word of a text, one per line. */
static char *long_options(const char *text)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	const char *p;

	for (p = text; (p = strstr(p, "--")); ) {
		size_t n;

		p += 2;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
		if (n > 1 && (p[-3] == ' ' || p[-3] == '\n' || p[-3] == '[' || p == text + 2))
			fprintf(m, "%.*s\n", (int)n, p);
		p += n;
	}
	fclose(m);
	return buf;
}

/* A man page's text with roff's "\-" turned back into "-". */
static char *read_man(const char *path)
{
	char *t = capture(path), *s, *d;

	for (s = d = t; *s; s++) {
		if (s[0] == '\\' && s[1] == '-')
			continue;
		*d++ = *s;
	}
	*d = '\0';
	return t;
}

static void check_help_in_man(const char *bindir, const char *mandir,
			      const char *prog, const char *section)
{
	char cmd[PATH_MAX * 2], *help, *man, *opts, *o;

	snprintf(cmd, sizeof(cmd), "'%s/%s' --help 2>/dev/null", bindir, prog);
	help = capture(cmd);
	snprintf(cmd, sizeof(cmd), "cat '%s/%s.%s' 2>/dev/null", mandir, prog, section);
	man = read_man(cmd);
	CHECK(*help, "%s --help printed nothing", prog);
	CHECK(*man, "no man page %s/%s.%s", mandir, prog, section);
	opts = long_options(help);
	for (o = strtok(opts, "\n"); o && *man; o = strtok(NULL, "\n")) {
		char want[128];

		snprintf(want, sizeof(want), "--%s", o);
		CHECK(strstr(man, want), "%s.%s lacks %s, which --help has", prog,
		      section, want);
	}
	free(opts);
	free(help);
	free(man);
}

/*
 * The option lists that must agree: the adapter's --help, the config keys,
 * virtio-loopback.conf(5), and each program's --help and man page (pages
 * are generated into build/man by make man).
 */
static void test_in_sync(void)
{
	char self[PATH_MAX], bindir[PATH_MAX], mandir[PATH_MAX], cmd[PATH_MAX * 2];
	char *help, *opts, *o, *conf, *slash;
	const struct vlc_conf_key *k;
	unsigned int i;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		CHECK(0, "readlink /proc/self/exe");
		return;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';	/* build/tests */
	slash = strrchr(self, '/');
	*slash = '\0';	/* build */
	snprintf(bindir, sizeof(bindir), "%s", getenv("VLB_BINDIR") ? : "");
	if (!*bindir)
		snprintf(bindir, sizeof(bindir), "%s/bin", self);
	snprintf(mandir, sizeof(mandir), "%s/man", self);

	snprintf(cmd, sizeof(cmd), "'%s/virtio-loopback-adapter' --help", bindir);
	help = capture(cmd);
	CHECK(*help, "no adapter --help from %s", cmd);
	snprintf(cmd, sizeof(cmd), "cat '%s/virtio-loopback.conf.5' 2>/dev/null", mandir);
	conf = read_man(cmd);
	CHECK(*conf, "no %s/virtio-loopback.conf.5 (make man)", mandir);
	opts = long_options(help);
	for (o = strtok(opts, "\n"); o; o = strtok(NULL, "\n")) {
		bool found = false;

		/* --attach names a device of the running system, not of a file. */
		if (!strcmp(o, "help") || !strcmp(o, "version") || !strcmp(o, "attach"))
			continue;
		for (i = 0; (k = vlc_conf_key(i)); i++)
			found |= !strcmp(k->key, o);
		CHECK(found, "adapter option --%s is no key of the config file", o);
	}
	for (i = 0; (k = vlc_conf_key(i)); i++) {
		char want[128];

		snprintf(want, sizeof(want), "\n.B %s\n", k->key);
		CHECK(strstr(conf, want), "virtio-loopback.conf.5 does not describe key %s",
		      k->key);
		snprintf(want, sizeof(want), "--%s ", k->key);
		CHECK(k->own || strstr(help, want), "config key %s is no adapter option", k->key);
	}
	free(opts);
	free(help);
	free(conf);

	check_help_in_man(bindir, mandir, "virtio-loopback", "8");
	check_help_in_man(bindir, mandir, "virtio-loopback-adapter", "8");
	/* Every back-end built, so a new one under devices/ is covered too. */
	{
		char *list, *b, *save;
		unsigned int nb = 0;

		snprintf(cmd, sizeof(cmd), "cd '%s' && ls vhost-user-* 2>/dev/null", bindir);
		list = capture(cmd);
		/* strtok_r: check_help_in_man() uses strtok. */
		for (b = strtok_r(list, "\n", &save); b; b = strtok_r(NULL, "\n", &save)) {
			char prog[64];

			snprintf(prog, sizeof(prog), "%s", b);
			check_help_in_man(bindir, mandir, prog, "1");
			nb++;
		}
		CHECK(nb >= 4, "only %u back-ends in %s", nb, bindir);
		free(list);
	}
}

int main(void)
{
	char *out, *err;

	snprintf(root, sizeof(root), "/tmp/test_cli.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return T_EXIT_FAIL;
	}
	(void)out_buf_path;
	test_decoders();
	test_cmdline();
	test_json_string();
	/* No class directory (module not loaded): an empty list. */
	CHECK(run(&out, &err, "list -j") == 0 && !strcmp(out, "[]\n"), "empty list: %s", out);
	free(out);
	free(err);
	make_tree();
	test_list_show();
	test_bad_args();
	test_conf();
	test_in_sync();
	snprintf(out_buf_path, sizeof(out_buf_path), "rm -rf '%s'", root);
	if (system(out_buf_path))
		fprintf(stderr, "cannot remove %s\n", root);
	if (failures) {
		fprintf(stderr, "test_cli: %d checks failed\n", failures);
		return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}
