// SPDX-License-Identifier: GPL-2.0
/*
 * Description: virtio-loopback-adapter's command line and its failures
 * before the kernel is involved: every bad option, a missing socket, a path
 * that is not a socket, nobody listening, and (on a host without the
 * module) a missing /dev/virtio-loopback each give exactly one line on
 * stderr naming the problem and the documented exit code (2 for the
 * command line, 1 otherwise).
 *
 * Usage: test_adapter_cli [PATH-TO-virtio-loopback-adapter]
 * (or VLB_BINDIR in the environment; else build/bin is searched)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define PROG_NAME	"virtio-loopback-adapter"

static char prog[PATH_MAX];
static char dir[64];

static bool find_prog(int argc, char **argv)
{
	const char *bindir = getenv("VLB_BINDIR");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (argc > 1) {
		snprintf(prog, sizeof(prog), "%s", argv[1]);
		return access(prog, X_OK) == 0;
	}
	if (bindir && snprintf(prog, sizeof(prog), "%s/" PROG_NAME, bindir) <
	    (int)sizeof(prog) && access(prog, X_OK) == 0)
		return true;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	while ((slash = strrchr(exe, '/'))) {
		*slash = '\0';
		if (snprintf(prog, sizeof(prog), "%s/bin/" PROG_NAME, exe) <
		    (int)sizeof(prog) && access(prog, X_OK) == 0)
			return true;
	}
	return false;
}

/* Run the adapter with @args; collect exit code and stdout/stderr. */
static int run(char *const args[], int *status, char *out, size_t outsz,
	       char *err, size_t errsz)
{
	char outp[96], errp[96];
	char *argv[16];
	int i, fd;
	pid_t pid;

	snprintf(outp, sizeof(outp), "%s/out", dir);
	snprintf(errp, sizeof(errp), "%s/err", dir);
	argv[0] = prog;
	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		execv(prog, argv);
		_exit(127);
	}
	if (waitpid(pid, status, 0) != pid)
		return -errno;

	fd = open(outp, O_RDONLY);
	i = fd >= 0 ? read(fd, out, outsz - 1) : -1;
	out[i > 0 ? i : 0] = '\0';
	if (fd >= 0)
		close(fd);
	fd = open(errp, O_RDONLY);
	i = fd >= 0 ? read(fd, err, errsz - 1) : -1;
	err[i > 0 ? i : 0] = '\0';
	if (fd >= 0)
		close(fd);
	unlink(outp);
	unlink(errp);
	return 0;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * The adapter must exit with @code and print exactly one stderr line that
 * starts with the program name and contains @pattern.
 */
static int expect_fail(const char *what, int code, const char *pattern,
		       char *const args[])
{
	char out[4096], err[4096];
	int status, ret;

	ret = run(args, &status, out, sizeof(out), err, sizeof(err));
	if (ret)
		return t_fail("%s: could not run %s: %s", what, prog,
			      strerror(-ret));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
		return t_fail("%s: status 0x%x, expected exit %d", what,
			      status, code);
	if (lines(err) != 1 || strncmp(err, PROG_NAME ": ", strlen(PROG_NAME) + 2))
		return t_fail("%s: expected one line starting with the program name, got '%s'",
			      what, err);
	if (!strstr(err, pattern))
		return t_fail("%s: '%s' does not mention '%s'", what, err,
			      pattern);
	if (out[0])
		return t_fail("%s: unexpected stdout '%s'", what, out);
	return T_EXIT_PASS;
}

static int test_help_version(void)
{
	char out[4096], err[4096];
	char *help[] = { "--help", NULL }, *version[] = { "--version", NULL };
	int status;

	if (run(help, &status, out, sizeof(out), err, sizeof(err)) ||
	    !WIFEXITED(status) || WEXITSTATUS(status) ||
	    !strstr(out, "--socket PATH") || !strstr(out, "blk") || err[0])
		return t_fail("--help: status 0x%x out '%.60s' err '%s'",
			      status, out, err);
	if (run(version, &status, out, sizeof(out), err, sizeof(err)) ||
	    !WIFEXITED(status) || WEXITSTATUS(status) ||
	    strncmp(out, PROG_NAME " ", strlen(PROG_NAME) + 1) ||
	    lines(out) != 1 || err[0])
		return t_fail("--version: status 0x%x out '%s' err '%s'",
			      status, out, err);
	return T_EXIT_PASS;
}

static int test_bad_options(const char *sock)
{
	static const struct {
		const char *what, *pattern;
		const char *args[6];
	} cases[] = {
		{ "no arguments", "--socket PATH is required", { NULL } },
		{ "no device", "--device TYPE is required",
		  { "--socket", "S", NULL } },
		{ "unknown type", "unknown device type 'frob'",
		  { "--socket", "S", "--device", "frob", NULL } },
		{ "type 0", "unknown device type '0'",
		  { "--socket", "S", "--device", "0", NULL } },
		{ "queue size not a power of two", "--queue-size",
		  { "--socket", "S", "--device", "rng", "--queue-size", "100" } },
		{ "queue size too large", "--queue-size",
		  { "--socket", "S", "--device", "rng", "--queue-size", "65536" } },
		{ "zero queues", "--queues",
		  { "--socket", "S", "--device", "rng", "--queues", "0" } },
		{ "too many queues", "--queues",
		  { "--socket", "S", "--device", "rng", "--queues", "65" } },
		{ "negative queues", "--queues",
		  { "--socket", "S", "--device", "rng", "--queues", "-1" } },
		{ "memory size not page aligned", "--mem-size",
		  { "--socket", "S", "--device", "rng", "--mem-size", "1048577" } },
		{ "memory size too small", "--mem-size",
		  { "--socket", "S", "--device", "rng", "--mem-size", "4k" } },
		{ "memory size garbage", "--mem-size",
		  { "--socket", "S", "--device", "rng", "--mem-size", "64Q" } },
		{ "zero timeout", "--backend-timeout",
		  { "--socket", "S", "--device", "rng", "--backend-timeout", "0" } },
		{ "negative reconnect timeout", "--reconnect-timeout",
		  { "--socket", "S", "--device", "rng", "--reconnect-timeout", "-1" } },
		{ "reconnect timeout too large", "--reconnect-timeout",
		  { "--socket", "S", "--device", "rng", "--reconnect-timeout", "3601" } },
		{ "reconnect timeout garbage", "--reconnect-timeout",
		  { "--socket", "S", "--device", "rng", "--reconnect-timeout", "10s" } },
		{ "unknown memory mode", "--memory",
		  { "--socket", "S", "--device", "rng", "--memory", "shared" } },
		{ "unknown option", "unknown option '--frob'",
		  { "--frob", NULL } },
		{ "missing argument", "needs an argument",
		  { "--device", NULL } },
		{ "stray argument", "unexpected argument 'extra'",
		  { "--socket", "S", "--device", "rng", "extra", NULL } },
	};
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *args[8] = { NULL };

		for (j = 0; j < 6 && cases[i].args[j]; j++) {
			const char *a = cases[i].args[j];

			args[j] = (char *)(strcmp(a, "S") ? a : sock);
		}
		if (expect_fail(cases[i].what, 2, cases[i].pattern, args))
			return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}

static int test_socket_errors(const char *plain, const char *dead)
{
	char missing[96];
	char *a1[] = { "--socket", missing, "--device", "rng", NULL };
	char *a2[] = { "--socket", (char *)plain, "--device", "rng", NULL };
	char *a3[] = { "--socket", (char *)dead, "--device", "blk", NULL };
	struct stat st;

	snprintf(missing, sizeof(missing), "%s/nothing.sock", dir);
	if (expect_fail("socket missing", 1, "No such file or directory", a1) ||
	    expect_fail("not a socket", 1, "not a socket", a2))
		return T_EXIT_FAIL;
	/* Without the module the control node is checked before connecting. */
	if (stat("/dev/virtio-loopback", &st) == 0) {
		t_log("/dev/virtio-loopback exists: no-module case skipped");
		return T_EXIT_PASS;
	}
	return expect_fail("no module", 1,
			   "is the virtio_loopback module loaded?", a3);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char plain[96], dead[96];
	int fd, ret = T_EXIT_FAIL;

	if (!find_prog(argc, argv)) {
		t_log("%s not found: skipped", PROG_NAME);
		return T_EXIT_SKIP;
	}
	snprintf(dir, sizeof(dir), "/tmp/vla-cli-XXXXXX");
	if (!mkdtemp(dir))
		return t_fail("mkdtemp: %s", strerror(errno));
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	snprintf(dead, sizeof(dead), "%s/dead.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", dead);

	fd = open(plain, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	/* A socket file nobody listens on. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		t_fail("bind %s: %s", dead, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);

	if (test_help_version() || test_bad_options(dead) ||
	    test_socket_errors(plain, dead))
		goto out;
	ret = T_EXIT_PASS;
out:
	unlink(plain);
	unlink(dead);
	rmdir(dir);
	return ret;
}
