// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the vhost-user-rng back-end end to end.
 *
 * Runs the real build/bin/vhost-user-rng on a socket in a temporary
 * directory (where a stale socket is left first) and is its front-end:
 * negotiates, gives it a memfd as guest memory and one split ring, posts
 * device-writable buffers (direct and through an indirect table), kicks and
 * waits for the call eventfd, then checks the used lengths and that the
 * bytes are random: not all zero, different between buffers and between
 * rounds. Then stops the ring, reconnects (a restarted front-end, with a
 * ring fuller than the back-end serves per kick), sends
 * garbage (the back-end drops that front-end and serves the next), and
 * stops it with SIGTERM (exit 0, socket removed); and once more on an
 * inherited socket (--fd), which must exit 0 when that front-end leaves.
 * Also: --print-capabilities
 * prints valid JSON, and a bad option or socket path fails with one line.
 *
 * Usage: test_lib_rng [PATH-TO-vhost-user-rng...]
 * Without arguments: $VHOST_USER_RNG (default build/bin/vhost-user-rng),
 * then $VLB_RNG_SANITIZED if set (tests/unit/Makefile builds the daemon
 * under ASan/UBSan too, so a leak or UB in it fails its exit status).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "vlb.h"
#include "unit/t_vring.h"

#define MEM_SIZE	(1024 * 1024)
#define QVA		0x10000000ULL
#define NUM		16
#define BIG_NUM		512		/* more buffers than the rng serves per kick */
#define DESC		0x1000		/* up to 0x3000 for BIG_NUM */
#define AVAIL		0x3000
#define USED		0x4000
#define TABLE		0x8000
#define BUFS		0x10000
#define BUF_SIZE	0x1000

static const char *rng_path;
static char tmpdir[64];
static char sock_path[128];

/* Run the back-end with @args, collect stdout and stderr, return status. */
static int run_capture(char *const args[], char *out, size_t outlen,
		       char *err, size_t errlen, int *status)
{
	int po[2], pe[2];
	size_t no = 0, ne = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(rng_path, args);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* Outputs are small: read stdout to EOF, then stderr. */
	while (no < outlen - 1 && (n = read(po[0], out + no, outlen - 1 - no)) > 0)
		no += n;
	while (ne < errlen - 1 && (n = read(pe[0], err + ne, errlen - 1 - ne)) > 0)
		ne += n;
	out[no] = 0;
	err[ne] = 0;
	close(po[0]);
	close(pe[0]);
	if (waitpid(pid, status, 0) < 0)
		return -errno;
	return 0;
}

/* A minimal JSON syntax check (RFC 8259), enough for the capabilities. */
static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !*++p)
			return NULL;
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *json_list(const char *p, char close, bool object)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			p = json_string(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p)
{
	p = json_ws(p);
	if (*p == '{')
		return json_list(p, '}', true);
	if (*p == '[')
		return json_list(p, ']', false);
	if (*p == '"')
		return json_string(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		char *end;

		strtod(p, &end);
		return end;
	}
	return NULL;
}

static int test_capabilities(void)
{
	char *args[] = { (char *)rng_path, "--print-capabilities", NULL };
	char out[1024], err[1024];
	const char *end;
	int status, ret;

	ret = run_capture(args, out, sizeof(out), err, sizeof(err), &status);
	if (ret)
		return t_fail("--print-capabilities: %s", strerror(-ret));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return t_fail("--print-capabilities: status 0x%x", status);
	end = json_value(out);
	if (!end || *json_ws(end) || out[0] != '{')
		return t_fail("--print-capabilities is not one JSON object: '%s'", out);
	if (!strstr(out, "\"type\"") || !strstr(out, "\"rng\""))
		return t_fail("--print-capabilities lacks \"type\": \"rng\": '%s'", out);
	return 0;
}

/* @args must fail with status @want and exactly one line on stderr. */
static int expect_one_line_failure(char *const args[], const char *what, int want)
{
	char out[1024], err[1024];
	int status, ret;
	char *nl;

	ret = run_capture(args, out, sizeof(out), err, sizeof(err), &status);
	if (ret)
		return t_fail("%s: %s", what, strerror(-ret));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want)
		return t_fail("%s: status 0x%x, want exit %d", what, status, want);
	nl = strchr(err, '\n');
	if (strncmp(err, "vhost-user-rng: ", 16) || !nl || nl[1])
		return t_fail("%s: stderr is not one 'vhost-user-rng: ...' line: '%s'", what, err);
	if (out[0])
		return t_fail("%s: unexpected stdout '%s'", what, out);
	return 0;
}

static int test_bad_usage(void)
{
	char file[160];
	struct stat st;
	int fd, ret;

	ret = expect_one_line_failure((char *[]){ (char *)rng_path, "--bogus", NULL },
				      "unknown option", 2);
	if (!ret)
		ret = expect_one_line_failure((char *[]){ (char *)rng_path, NULL },
					      "no socket", 2);
	if (!ret)
		ret = expect_one_line_failure((char *[]){ (char *)rng_path, "--fd", "x", NULL },
					      "--fd x", 2);
	if (!ret)
		ret = expect_one_line_failure((char *[]){ (char *)rng_path, "--socket-path",
							  "/nonexistent/dir/rng.sock", NULL },
					      "socket in a missing directory", 1);
	if (ret)
		return ret;

	/* Something that is not a socket at the path is never removed. */
	snprintf(file, sizeof(file), "%s/file", tmpdir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return t_fail("%s: %s", file, strerror(errno));
	close(fd);
	ret = expect_one_line_failure((char *[]){ (char *)rng_path, "--socket-path", file, NULL },
				      "path is a regular file", 1);
	if (ret)
		return ret;
	if (stat(file, &st) < 0 || !S_ISREG(st.st_mode))
		return t_fail("the regular file at the socket path was removed");
	unlink(file);
	return 0;
}

/* Leave a stale socket at the path, as a killed back-end would. */
static int make_stale_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	close(fd);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

struct session {
	struct t_sess t;
};

static int negotiate(struct session *s)
{
	const uint64_t want = (1ULL << VLB_F_VERSION_1) | (1ULL << VLB_F_EVENT_IDX) |
			      (1ULL << VLB_F_INDIRECT_DESC) |
			      (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	const uint64_t pwant = (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
			       (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			       (1ULL << VHOST_USER_PROTOCOL_F_STATUS);
	uint64_t v;
	int ret;

	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_FEATURES, &v);
	if (ret)
		return t_fail("GET_FEATURES: %s", strerror(-ret));
	if ((v & want) != want)
		return t_fail("GET_FEATURES 0x%llx lacks 0x%llx", (unsigned long long)v,
			      (unsigned long long)want);
	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v);
	if (ret || (v & pwant) != pwant)
		return t_fail("GET_PROTOCOL_FEATURES: %d, 0x%llx", ret, (unsigned long long)v);
	ret = t_fe_set_u64(&s->t.fe, VHOST_USER_SET_PROTOCOL_FEATURES, pwant);
	if (ret)
		return t_fail("SET_PROTOCOL_FEATURES: %s", strerror(-ret));
	s->t.fe.reply_ack = true;
	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_QUEUE_NUM, &v);
	if (ret || v != 1)
		return t_fail("GET_QUEUE_NUM: %d, %llu", ret, (unsigned long long)v);
	ret = t_fe_call(&s->t.fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (ret)
		return t_fail("SET_OWNER: %s", strerror(-ret));
	ret = t_fe_set_u64(&s->t.fe, VHOST_USER_SET_FEATURES, want);
	if (ret)
		return t_fail("SET_FEATURES: %s", strerror(-ret));
	return 0;
}

static int start(struct session *s, uint16_t num)
{
	int ret;

	if (t_sess_set_mem(&s->t, QVA))
		return 1;
	t_sess_ring(&s->t, 0, num, DESC, AVAIL, USED);
	/* EVENT_IDX: interrupt as soon as the first entry is used. */
	t_ring_set_used_event(&s->t.ring[0], 0);
	if (t_sess_start_ring(&s->t, 0))
		return 1;
	ret = t_fe_set_u64(&s->t.fe, VHOST_USER_SET_STATUS, 0xf);
	if (ret)
		return t_fail("SET_STATUS: %s", strerror(-ret));
	return 0;
}

/*
 * Post four chains (three direct of different sizes, one indirect with two
 * parts), kick, and wait until all four are used.
 */
static int round_trip(struct session *s, unsigned int round)
{
	static const uint32_t lens[3] = { 16, 512, BUF_SIZE };
	uint64_t base = BUFS + (uint64_t)round * 8 * BUF_SIZE;
	uint64_t one = 1, v;
	uint32_t id, len;
	unsigned int i, got = 0;
	struct timespec t0, t1;
	bool seen[NUM] = { false };

	memset(s->t.mem + base, 0, 8 * BUF_SIZE);
	for (i = 0; i < 3; i++) {
		t_ring_desc(&s->t.ring[0], i, base + i * BUF_SIZE, lens[i], T_DESC_F_WRITE, 0);
		t_ring_post(&s->t.ring[0], i);
	}
	t_desc_write(&s->t.ring[0], TABLE, 0, base + 3 * BUF_SIZE, 100,
		     T_DESC_F_WRITE | T_DESC_F_NEXT, 1);
	t_desc_write(&s->t.ring[0], TABLE, 1, base + 4 * BUF_SIZE, 200, T_DESC_F_WRITE, 0);
	t_ring_desc(&s->t.ring[0], 3, TABLE, 32, T_DESC_F_INDIRECT, 0);
	t_ring_post(&s->t.ring[0], 3);
	if (write(s->t.kick[0], &one, sizeof(one)) != sizeof(one))
		return t_fail("kick: %s", strerror(errno));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < 4) {
		int ret = t_wait_readable(s->t.call[0], 100);

		if (!ret && read(s->t.call[0], &v, sizeof(v)) != sizeof(v))
			return t_fail("reading the call eventfd: %s", strerror(errno));
		while (t_ring_get_used(&s->t.ring[0], &id, &len) == 0) {
			uint32_t want = id < 3 ? lens[id] : 300;

			if (id > 3 || seen[id])
				return t_fail("round %u: used id %u unexpected", round, id);
			if (len != want)
				return t_fail("round %u: chain %u used length %u, want %u",
					      round, id, len, want);
			seen[id] = true;
			got++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (got < 4 && (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 > T_WAIT_MS)
			return t_fail("round %u: %u of 4 buffers used after %d ms", round, got,
				      T_WAIT_MS);
	}
	/* 512 and 4096 random bytes are never all zero, nor equal. */
	if (all_zero(s->t.mem + base + BUF_SIZE, 512) ||
	    all_zero(s->t.mem + base + 2 * BUF_SIZE, BUF_SIZE) ||
	    all_zero(s->t.mem + base + 3 * BUF_SIZE, 100) ||
	    all_zero(s->t.mem + base + 4 * BUF_SIZE, 200))
		return t_fail("round %u: a buffer is all zero", round);
	if (!memcmp(s->t.mem + base + BUF_SIZE, s->t.mem + base + 2 * BUF_SIZE, 512))
		return t_fail("round %u: two buffers hold the same bytes", round);
	/* Nothing written past the lengths posted. */
	if (!all_zero(s->t.mem + base + BUF_SIZE + 512, BUF_SIZE - 512) ||
	    !all_zero(s->t.mem + base + 3 * BUF_SIZE + 100, 16))
		return t_fail("round %u: bytes written past a buffer", round);
	return 0;
}

/*
 * Fill a big ring with small buffers and kick once: the back-end serves
 * them in budgets (vlb_vq_kick_later) and must still get through all.
 */
static int big_round(struct session *s)
{
	const unsigned int n = BIG_NUM - 12;
	struct timespec t0, t1;
	unsigned int i, got = 0;
	uint64_t one = 1, v;
	uint32_t id, len;

	memset(s->t.mem + BUFS, 0, n * 8);
	for (i = 0; i < n; i++) {
		t_ring_desc(&s->t.ring[0], i, BUFS + 8 * i, 8, T_DESC_F_WRITE, 0);
		t_ring_post(&s->t.ring[0], i);
	}
	if (write(s->t.kick[0], &one, sizeof(one)) != sizeof(one))
		return t_fail("kick: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < n) {
		if (!t_wait_readable(s->t.call[0], 100) && read(s->t.call[0], &v, sizeof(v)) < 0)
			return t_fail("reading the call eventfd: %s", strerror(errno));
		while (t_ring_get_used(&s->t.ring[0], &id, &len) == 0) {
			if (id >= n || len != 8)
				return t_fail("big ring: used id %u len %u", id, len);
			got++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (got < n && (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 > T_WAIT_MS)
			return t_fail("big ring: %u of %u buffers used after %d ms", got, n,
				      T_WAIT_MS);
	}
	if (all_zero(s->t.mem + BUFS + 8 * (n - 1), 8) && all_zero(s->t.mem + BUFS + 8 * (n - 2), 8))
		return t_fail("big ring: the last buffers are zero");
	return 0;
}

static void session_close(struct session *s)
{
	t_sess_close(&s->t, NULL);
}

static int session_open(struct session *s)
{
	int ret;

	if (t_sess_new(&s->t, NULL, 1, NULL, NULL, MEM_SIZE))
		return 1;
	ret = t_connect_unix(sock_path, &s->t.fe.sock);
	if (ret)
		return t_fail("connecting to %s: %s", sock_path, strerror(-ret));
	return 0;
}

static int test_end_to_end(void)
{
	struct vhost_user_vring_state st = { .index = 0 };
	uint8_t first[512];
	struct vhost_user_msg r;
	struct session s;
	struct stat sb;
	int status, ret, i;
	pid_t pid;

	snprintf(sock_path, sizeof(sock_path), "%s/rng.sock", tmpdir);
	ret = make_stale_socket();
	if (ret)
		return t_fail("stale socket: %s", strerror(-ret));
	pid = fork();
	if (pid < 0)
		return t_fail("fork: %s", strerror(errno));
	if (!pid) {
		char arg[160];

		/* The conventions' spelling: --socket-path=PATH. */
		snprintf(arg, sizeof(arg), "--socket-path=%s", sock_path);
		execl(rng_path, rng_path, arg, (char *)NULL);
		_exit(127);
	}

	/* First front-end: two rounds of random bytes, then stop the ring. */
	if (session_open(&s) || negotiate(&s) || start(&s, NUM) || round_trip(&s, 0))
		goto fail;
	memcpy(first, s.t.mem + BUFS + BUF_SIZE, sizeof(first));
	if (round_trip(&s, 1))
		goto fail;
	if (!memcmp(first, s.t.mem + BUFS + 9 * BUF_SIZE, sizeof(first))) {
		t_fail("two rounds returned the same bytes");
		goto fail;
	}
	ret = t_fe_call(&s.t.fe, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &r);
	if (ret || r.payload.state.num != 8) {
		t_fail("GET_VRING_BASE: %d, base %u (want 8)", ret, r.payload.state.num);
		goto fail;
	}
	session_close(&s);

	/* A restarted front-end reconnects and is served from scratch. */
	if (session_open(&s) || negotiate(&s) || start(&s, BIG_NUM) || big_round(&s))
		goto fail;
	session_close(&s);

	/* A front-end that sends garbage is dropped; the next one is served. */
	for (i = 0; i < 2; i++) {
		struct vhost_user_msg bad = {
			.hdr = { .request = VHOST_USER_GET_FEATURES, .flags = 0x2 },
		};

		if (session_open(&s))
			goto fail;
		if (i == 0)
			ret = vlb_msg_send(s.t.fe.sock, &bad);
		else	/* a payload far larger than any request */
			ret = write(s.t.fe.sock, "\x01\0\0\0\x01\0\0\0\xff\xff\0\0", 12) == 12 ?
			      0 : -errno;
		if (ret) {
			t_fail("sending garbage: %s", strerror(-ret));
			goto fail;
		}
		ret = t_wait_readable(s.t.fe.sock, T_WAIT_MS);
		if (ret || vlb_msg_recv(s.t.fe.sock, &r) != -ECONNRESET) {
			t_fail("garbage %d: the back-end did not hang up", i);
			goto fail;
		}
		session_close(&s);
	}
	if (session_open(&s) || negotiate(&s) || start(&s, NUM) || round_trip(&s, 0))
		goto fail;

	/* SIGTERM with a front-end connected: exit 0, socket removed. */
	kill(pid, SIGTERM);
	for (i = 0; i < T_WAIT_MS / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	session_close(&s);
	if (i == T_WAIT_MS / 10) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return t_fail("vhost-user-rng ignored SIGTERM");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return t_fail("vhost-user-rng status after SIGTERM: 0x%x", status);
	if (lstat(sock_path, &sb) == 0)
		return t_fail("%s still exists after SIGTERM", sock_path);
	return 0;

fail:
	session_close(&s);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	unlink(sock_path);
	return T_EXIT_FAIL;
}

/* --fd: serve an inherited socket, exit 0 when the front-end leaves. */
static int test_fd_mode(void)
{
	struct session s;
	int sp[2], status, i;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return t_fail("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return t_fail("fork: %s", strerror(errno));
	if (!pid) {
		char fd[16];

		/* dup2 onto another number clears FD_CLOEXEC for the exec. */
		if (dup2(sp[1], 10) < 0)
			_exit(127);
		snprintf(fd, sizeof(fd), "%d", 10);
		execl(rng_path, rng_path, "--fd", fd, (char *)NULL);
		_exit(127);
	}
	close(sp[1]);

	if (t_sess_new(&s.t, NULL, 1, NULL, NULL, MEM_SIZE)) {
		close(sp[0]);
		goto fail;
	}
	s.t.fe.sock = sp[0];
	if (negotiate(&s) || start(&s, NUM) || round_trip(&s, 0))
		goto fail;
	session_close(&s);
	for (i = 0; i < T_WAIT_MS / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	if (i == T_WAIT_MS / 10) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return t_fail("--fd: still running after the front-end left");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return t_fail("--fd: status 0x%x after the front-end left", status);
	return 0;

fail:
	session_close(&s);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return T_EXIT_FAIL;
}

/* Every test against one binary. */
static int test_binary(const char *path)
{
	int ret;

	rng_path = path;
	if (access(rng_path, X_OK))
		return t_fail("%s: %s (build devices/ or set VHOST_USER_RNG)", rng_path,
			      strerror(errno));
	t_log("testing %s", rng_path);
	ret = test_capabilities();
	if (!ret)
		ret = test_bad_usage();
	if (!ret)
		ret = test_end_to_end();
	if (!ret)
		ret = test_fd_mode();
	return ret;
}

int main(int argc, char **argv)
{
	const char *shipped = getenv("VHOST_USER_RNG");
	const char *sanitized = getenv("VLB_RNG_SANITIZED");
	int fds = t_count_fds();
	int i, ret = 0;

	strcpy(tmpdir, "/tmp/vlb-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return t_fail("mkdtemp: %s", strerror(errno));
	if (argc > 1) {
		for (i = 1; i < argc && !ret; i++)
			ret = test_binary(argv[i]);
	} else {
		/* The binary we ship, and the same sources under ASan/UBSan. */
		ret = test_binary(shipped ? shipped : "build/bin/vhost-user-rng");
		if (!ret && sanitized)
			ret = test_binary(sanitized);
	}
	rmdir(tmpdir);
	if (ret)
		return T_EXIT_FAIL;
	if (t_count_fds() != fds)
		return t_fail("fd leak: %d open before, %d after", fds, t_count_fds());
	return T_EXIT_PASS;
}
