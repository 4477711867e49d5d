// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the vhost-user-console back-end end to end, as its
 * front-end and as the client on its --unix socket.
 *
 * Runs build/bin/vhost-user-console (or $VLB_BINDIR/vhost-user-console)
 * with --unix and --cols/--rows, negotiates with the back-end channel, and
 * checks: F_SIZE and two queues are offered and the config space holds the
 * size; a config change is announced when the driver starts and when a
 * client connects; transmitq chains reach the client in order, also ones
 * posted while no client was there; 1 MiB of the client reaches receive
 * buffers only as the driver posts them (64 KiB read ahead at most) and
 * all of them arrive though the client hung up right after sending;
 * a receive chain without writable space and a transmit chain over 1 MiB
 * are answered (used, length 0) with one error line, and the device goes
 * on working; SIGTERM exits 0 and removes both sockets. Also: usage errors
 * are one line with a non-zero status.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "vlb.h"
#include "unit/t_vring.h"

#define MEM_SIZE	(4 * 1024 * 1024)
#define QVA		0x20000000ULL
#define NUM		64
#define RX_DESC		0x1000
#define RX_AVAIL	0x2000
#define RX_USED		0x3000
#define TX_DESC		0x4000
#define TX_AVAIL	0x5000
#define TX_USED		0x6000
#define RX_BUFS		0x10000		/* NUM pages */
#define TX_BUFS		0x60000
#define BIG		0x200000	/* 2 MiB, to the end of memory */
#define PAGE		4096
#define F_SIZE		0

static char bin[256];
static char tmpdir[64];
static char sock_path[128];
static char line_path[128];
static char log_path[128];

struct session {
	struct t_sess t;
	int backend;		/* our end of the back-end channel */
	int client;		/* connected to --unix */
	uint16_t rx_next;	/* next free rx descriptor */
	uint16_t tx_next;
};

/* Run the back-end with @args; its status and first stderr line. */
static int run_status(char *const args[], int *status, char *err, size_t len)
{
	int pe[2];
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	if (pipe2(pe, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		dup2(pe[1], 2);
		execv(bin, args);
		_exit(127);
	}
	close(pe[1]);
	while (got < len - 1 && (n = read(pe[0], err + got, len - 1 - got)) > 0)
		got += n;
	err[got] = 0;
	close(pe[0]);
	return waitpid(pid, status, 0) < 0 ? -errno : 0;
}

static int expect_failure(char *const args[], const char *what, int want)
{
	char err[512], *nl;
	int status, ret;

	ret = run_status(args, &status, err, sizeof(err));
	if (ret)
		return t_fail("%s: %s", what, strerror(-ret));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want)
		return t_fail("%s: status 0x%x, want exit %d", what, status, want);
	nl = strchr(err, '\n');
	if (strncmp(err, "vhost-user-console: ", 20) || !nl || nl[1])
		return t_fail("%s: stderr is not one line: '%s'", what, err);
	return 0;
}

static int test_usage(void)
{
	char *b = bin;
	int ret;

	ret = expect_failure((char *[]){ b, "--socket-path", sock_path, NULL },
			     "neither --unix nor --pty", 1);
	if (!ret)
		ret = expect_failure((char *[]){ b, "--socket-path", sock_path, "--pty",
						 "--unix", line_path, NULL },
				     "both --unix and --pty", 1);
	if (!ret)
		ret = expect_failure((char *[]){ b, "--socket-path", sock_path, "--pty",
						 "--cols", "80", NULL },
				     "--cols without --rows", 1);
	if (!ret)
		ret = expect_failure((char *[]){ b, "--socket-path", sock_path, "--pty",
						 "--cols", "0", "--rows", "25", NULL },
				     "--cols 0", 2);
	if (!ret)
		ret = expect_failure((char *[]){ b, "--socket-path", sock_path, "--unix",
						 "/nonexistent/dir/line", NULL },
				     "--unix in a missing directory", 1);
	if (!ret && (access(sock_path, F_OK) == 0))
		ret = t_fail("a failed start left %s behind", sock_path);
	return ret;
}

/* Wait for a config-change request on the back-end channel and ack it. */
static int expect_config_change(struct session *s, const char *when)
{
	struct vhost_user_msg m, ack = { 0 };
	int ret;

	ret = t_wait_readable(s->backend, T_WAIT_MS);
	if (!ret)
		ret = vlb_msg_recv(s->backend, &m);
	if (ret)
		return t_fail("%s: no config change: %s", when, strerror(-ret));
	if (m.hdr.request != VHOST_USER_BACKEND_CONFIG_CHANGE_MSG)
		return t_fail("%s: back-end request %u, not CONFIG_CHANGE_MSG", when,
			      m.hdr.request);
	if (!(m.hdr.flags & VHOST_USER_NEED_REPLY_MASK))
		return 0;
	ack.hdr.request = m.hdr.request;
	ack.hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	ack.hdr.size = 8;
	return vlb_msg_send(s->backend, &ack) ? t_fail("acking: %s", strerror(errno)) : 0;
}

static int session_start(struct session *s)
{
	const uint64_t want = (1ULL << VLB_F_VERSION_1) | (1ULL << F_SIZE) |
			      (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	const uint64_t pwant = (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
			       (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			       (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
			       (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ);
	struct vhost_user_config cfg = { .offset = 0, .size = 12 };
	struct vhost_user_msg r;
	int sv[2], ret;
	uint64_t v;

	memset(s, 0, sizeof(*s));
	s->client = -1;
	if (t_sess_new(&s->t, NULL, 2, NULL, NULL, MEM_SIZE))
		return 1;
	ret = t_connect_unix(sock_path, &s->t.fe.sock);
	if (ret)
		return t_fail("connecting to %s: %s", sock_path, strerror(-ret));

	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_FEATURES, &v);
	if (ret || (v & want) != want)
		return t_fail("GET_FEATURES: %d, 0x%llx lacks 0x%llx", ret,
			      (unsigned long long)v, (unsigned long long)want);
	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v);
	if (ret || (v & pwant) != pwant)
		return t_fail("GET_PROTOCOL_FEATURES: %d, 0x%llx", ret, (unsigned long long)v);
	ret = t_fe_set_u64(&s->t.fe, VHOST_USER_SET_PROTOCOL_FEATURES, pwant);
	if (ret)
		return t_fail("SET_PROTOCOL_FEATURES: %s", strerror(-ret));
	s->t.fe.reply_ack = true;
	ret = t_fe_get_u64(&s->t.fe, VHOST_USER_GET_QUEUE_NUM, &v);
	if (ret || v != 2)
		return t_fail("GET_QUEUE_NUM: %d, %llu (want 2)", ret, (unsigned long long)v);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return t_fail("socketpair: %s", strerror(errno));
	ret = t_fe_call(&s->t.fe, VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1, NULL);
	close(sv[1]);
	s->backend = sv[0];
	if (ret)
		return t_fail("SET_BACKEND_REQ_FD: %s", strerror(-ret));
	ret = t_fe_call(&s->t.fe, VHOST_USER_GET_CONFIG, &cfg, VHOST_USER_CONFIG_HDR_SIZE + cfg.size, NULL, 0, &r);
	if (ret || r.hdr.size != VHOST_USER_CONFIG_HDR_SIZE + 12 || r.payload.config.size != 12)
		return t_fail("GET_CONFIG: %d, size %u", ret, r.hdr.size);
	if (t_get16(r.payload.config.region) != 132 || t_get16(r.payload.config.region + 2) != 43)
		return t_fail("config cols %u rows %u, want 132 43",
			      t_get16(r.payload.config.region),
			      t_get16(r.payload.config.region + 2));
	/* Past the end of the config space: refused (size 0), not served. */
	cfg.offset = 8;
	cfg.size = 8;
	ret = t_fe_call(&s->t.fe, VHOST_USER_GET_CONFIG, &cfg, VHOST_USER_CONFIG_HDR_SIZE + cfg.size, NULL, 0, &r);
	if (ret || r.hdr.size != 0)
		return t_fail("GET_CONFIG past the end: %d, reply of %u bytes", ret, r.hdr.size);

	ret = t_fe_call(&s->t.fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = t_fe_set_u64(&s->t.fe, VHOST_USER_SET_FEATURES, want);
	if (ret)
		return t_fail("SET_OWNER/FEATURES: %s", strerror(-ret));
	if (t_sess_set_mem(&s->t, QVA))
		return 1;
	t_sess_ring(&s->t, 0, NUM, RX_DESC, RX_AVAIL, RX_USED);
	t_sess_ring(&s->t, 1, NUM, TX_DESC, TX_AVAIL, TX_USED);
	/*
	 * receiveq last: its start makes the back-end announce the size and
	 * wait for our ack, which this single-threaded front-end gives only
	 * when it has no request of its own outstanding.
	 */
	if (t_sess_start_ring(&s->t, 1) || t_sess_start_ring(&s->t, 0))
		return 1;
	return expect_config_change(s, "driver start");
}

static void session_close(struct session *s)
{
	close(s->backend);
	if (s->client >= 0)
		close(s->client);
	t_sess_close(&s->t, NULL);
}

static void kick(struct session *s, int q)
{
	uint64_t one = 1;

	if (write(s->t.kick[q], &one, sizeof(one)) != sizeof(one))
		t_log("kick: %s", strerror(errno));
}

/* Wait for the next used entry of @r. */
static int wait_used(struct t_ring *r, uint32_t *id, uint32_t *len, const char *what)
{
	int i;

	for (i = 0; i < T_WAIT_MS; i++) {
		if (t_ring_get_used(r, id, len) == 0)
			return 0;
		usleep(1000);
	}
	return t_fail("%s: no used entry after %d ms", what, T_WAIT_MS);
}

/* Post one transmit chain of @n bytes from @p in two parts; kick. */
static void tx_post(struct session *s, const void *p, uint32_t n)
{
	uint16_t d = s->tx_next;
	uint64_t a = TX_BUFS + (uint64_t)(d % 16) * 2 * PAGE;
	uint32_t first = n / 2;

	memcpy(s->t.mem + a, p, n);
	t_ring_desc(&s->t.ring[1], d % NUM, a, first, T_DESC_F_NEXT, (d + 1) % NUM);
	t_ring_desc(&s->t.ring[1], (d + 1) % NUM, a + first, n - first, 0, 0);
	t_ring_post(&s->t.ring[1], d % NUM);
	s->tx_next = d + 2;
	kick(s, 1);
}

/* Read exactly @n bytes from the client. */
static int client_read(struct session *s, void *buf, size_t n, const char *what)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k;

		if (t_wait_readable(s->client, T_WAIT_MS))
			return t_fail("%s: %zu of %zu bytes reached the client", what, got, n);
		k = read(s->client, (char *)buf + got, n - got);
		if (k <= 0)
			return t_fail("%s: client read: %s", what, k ? strerror(errno) : "EOF");
		got += k;
	}
	return 0;
}

static int test_tx(struct session *s)
{
	char buf[64];
	uint32_t id, len;
	int ret;

	/* Before a client connects: taken, kept, delivered on connect. */
	tx_post(s, "early bird ", 11);
	ret = wait_used(&s->t.ring[1], &id, &len, "transmit without a client");
	if (ret)
		return ret;
	ret = t_connect_unix(line_path, &s->client);
	if (ret)
		return t_fail("connecting to %s: %s", line_path, strerror(-ret));
	ret = expect_config_change(s, "client connect");
	if (!ret)
		ret = client_read(s, buf, 11, "early bytes");
	if (ret)
		return ret;
	if (memcmp(buf, "early bird ", 11))
		return t_fail("the client got '%.11s'", buf);
	tx_post(s, "hello, world", 12);
	ret = wait_used(&s->t.ring[1], &id, &len, "transmit");
	if (!ret)
		ret = client_read(s, buf, 12, "transmit");
	if (ret)
		return ret;
	if (memcmp(buf, "hello, world", 12) || len != 0)
		return t_fail("the client got '%.12s', used length %u", buf, len);
	return 0;
}

/* Post @n receive pages; kick. */
static void rx_post(struct session *s, unsigned int n)
{
	while (n--) {
		uint16_t d = s->rx_next++ % NUM;

		t_ring_desc(&s->t.ring[0], d, RX_BUFS + (uint64_t)d * PAGE, PAGE, T_DESC_F_WRITE, 0);
		t_ring_post(&s->t.ring[0], d);
	}
	kick(s, 0);
}

static int test_rx(struct session *s)
{
	const size_t total = 1024 * 1024;
	uint8_t *in = malloc(total), *out = malloc(total);
	size_t sent = 0, got = 0, i;
	int ret = T_EXIT_FAIL, fl, idle;

	if (!in || !out)
		goto out;
	for (i = 0; i < total; i++)
		in[i] = (uint8_t)(i * 7 + i / 251);
	/* No receive buffers yet: the back-end may read 64 KiB ahead, no more. */
	fl = fcntl(s->client, F_GETFL);
	fcntl(s->client, F_SETFL, fl | O_NONBLOCK);
	for (i = 0; i < 200 && sent < total; i++) {
		ssize_t k = write(s->client, in + sent, total - sent);

		if (k > 0)
			sent += k;
		else
			usleep(5000);
	}
	if (sent == total) {
		t_fail("the back-end took 1 MiB with no receive buffer posted");
		goto out;
	}
	/*
	 * Now the driver posts and gives each page back once read, while the
	 * client sends the rest and hangs up right after its last byte.
	 */
	rx_post(s, 16);
	for (idle = 0; got < total && idle < T_WAIT_MS; idle++) {
		bool progress = false;
		uint32_t id, len;

		if (sent < total) {
			ssize_t k = write(s->client, in + sent, total - sent);

			if (k > 0) {
				sent += k;
				progress = true;
			}
			if (sent == total) {
				close(s->client);
				s->client = -1;
			}
		}
		while (t_ring_get_used(&s->t.ring[0], &id, &len) == 0) {
			if (id >= NUM || len > PAGE || len > total - got) {
				ret = t_fail("receive: used id %u length %u", id, len);
				goto out;
			}
			memcpy(out + got, s->t.mem + RX_BUFS + (uint64_t)id * PAGE, len);
			got += len;
			rx_post(s, 1);
			progress = true;
		}
		if (progress)
			idle = 0;
		else
			usleep(1000);
	}
	if (got < total) {
		ret = t_fail("receive: %zu of %zu bytes arrived (%zu sent)", got, total, sent);
		goto out;
	}
	(void)fl;
	if (memcmp(in, out, total)) {
		ret = t_fail("1 MiB received with changed bytes");
		goto out;
	}
	ret = 0;
out:
	free(in);
	free(out);
	return ret;
}

/* Count lines of the back-end's stderr that contain @s. */
static int log_count(const char *s)
{
	char line[512];
	FILE *f = fopen(log_path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, s))
			n++;
	fclose(f);
	return n;
}

static int test_malformed(struct session *s)
{
	static char fill[16 * PAGE + 1];
	uint32_t id, len;
	char buf[8];
	int ret, i;

	/* A receive chain with only a device-readable buffer. */
	t_ring_desc(&s->t.ring[0], NUM - 1, RX_BUFS, 64, 0, 0);
	t_ring_post(&s->t.ring[0], NUM - 1);
	kick(s, 0);
	/* A transmit chain of 2 MiB. */
	t_ring_desc(&s->t.ring[1], NUM - 1, BIG, 2 * 1024 * 1024, 0, 0);
	t_ring_post(&s->t.ring[1], NUM - 1);
	kick(s, 1);
	ret = wait_used(&s->t.ring[1], &id, &len, "oversized transmit chain");
	if (ret)
		return ret;
	if (id != NUM - 1 || len)
		return t_fail("oversized transmit chain: used id %u len %u", id, len);
	ret = t_connect_unix(line_path, &s->client);
	if (!ret)
		ret = expect_config_change(s, "second client");
	if (ret)
		return ret;
	/*
	 * Data for the 16 pages test_rx left posted and one byte more: the
	 * readable-only chain after them comes back empty, the byte waits.
	 */
	memset(fill, 'x', sizeof(fill));
	if (write(s->client, fill, sizeof(fill)) != (ssize_t)sizeof(fill))
		return t_fail("client write: %s", strerror(errno));
	for (i = 0; i <= 16; i++) {
		ret = wait_used(&s->t.ring[0], &id, &len, "receive chain without writable space");
		if (ret)
			return ret;
		if (i < 16 && len != PAGE)
			return t_fail("receive page %d: length %u", i, len);
	}
	if (id != NUM - 1 || len)
		return t_fail("readable-only receive chain: used id %u len %u", id, len);
	/* Still working both ways. */
	tx_post(s, "still ok", 8);
	ret = client_read(s, buf, 8, "transmit after malformed chains");
	if (ret)
		return ret;
	if (memcmp(buf, "still ok", 8))
		return t_fail("after malformed chains the client got '%.8s'", buf);
	rx_post(s, 1);
	ret = wait_used(&s->t.ring[0], &id, &len, "receive after malformed chains");
	if (ret)
		return ret;
	if (len != 1 || s->t.mem[RX_BUFS + (uint64_t)id * PAGE] != 'x')
		return t_fail("after malformed chains: receive length %u", len);
	for (i = 0; i < 100 && (log_count("longer than") < 1 ||
				log_count("no device-writable") < 1); i++)
		usleep(10000);
	if (log_count("longer than") != 1 || log_count("no device-writable") != 1)
		return t_fail("malformed chains: expected one error line each in %s", log_path);
	return 0;
}

static int test_end_to_end(void)
{
	struct session s;
	int status, ret, i, logfd;
	pid_t pid;

	logfd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (logfd < 0)
		return t_fail("%s: %s", log_path, strerror(errno));
	pid = fork();
	if (pid < 0)
		return t_fail("fork: %s", strerror(errno));
	if (!pid) {
		dup2(logfd, 2);
		execl(bin, bin, "--socket-path", sock_path, "--unix", line_path,
		      "--cols", "132", "--rows", "43", (char *)NULL);
		_exit(127);
	}
	close(logfd);
	ret = session_start(&s);
	if (!ret)
		ret = test_tx(&s);
	if (!ret)
		ret = test_rx(&s);
	if (!ret)
		ret = test_malformed(&s);
	session_close(&s);

	kill(pid, SIGTERM);
	for (i = 0; i < T_WAIT_MS / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	if (i == T_WAIT_MS / 10) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return t_fail("the back-end ignored SIGTERM");
	}
	if (ret)
		return ret;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return t_fail("exit status 0x%x after SIGTERM (log %s)", status, log_path);
	if (!access(sock_path, F_OK) || !access(line_path, F_OK))
		return t_fail("a socket was left behind after SIGTERM");
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("VLB_BINDIR");
	int ret;

	if (argc > 1)
		snprintf(bin, sizeof(bin), "%s", argv[1]);
	else
		snprintf(bin, sizeof(bin), "%s/vhost-user-console",
			 dir ? dir : "build/bin");
	if (access(bin, X_OK))
		return t_fail("%s: %s", bin, strerror(errno));
	strcpy(tmpdir, "/tmp/vlb-console.XXXXXX");
	if (!mkdtemp(tmpdir))
		return t_fail("mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof(sock_path), "%s/con.sock", tmpdir);
	snprintf(line_path, sizeof(line_path), "%s/line.sock", tmpdir);
	snprintf(log_path, sizeof(log_path), "%s/console.log", tmpdir);
	signal(SIGPIPE, SIG_IGN);

	ret = test_usage();
	if (!ret)
		ret = test_end_to_end();
	if (!ret) {
		unlink(log_path);
		rmdir(tmpdir);
		t_log("PASS");
	}
	return ret;
}
