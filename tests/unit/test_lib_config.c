// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libvlb config space and back-end channel.
 *
 * A device with get_config/set_config offers the CONFIG and BACKEND_REQ
 * protocol features (one without them does not). GET_CONFIG returns the
 * device's bytes, a failing get_config gives an empty reply, SET_CONFIG
 * reaches the device and its failure is a REPLY_ACK failure (not a broken
 * device), out-of-range offsets and sizes are protocol errors, and
 * vlb_dev_config_changed() sends CONFIG_CHANGE_MSG on the channel given by
 * SET_BACKEND_REQ_FD and reads the acknowledgement. Also the device
 * program's own fds polled by vlb_dev_run() (vlb_dev_add_watch()).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "vlb.h"
#include "unit/t_vhost.h"

#define CONFIG_SIZE	8

struct ctx {
	struct vlb_dev *dev;
	struct t_fe fe;
	uint8_t config[CONFIG_SIZE];
	int fail_get;
	int fail_set;
	unsigned int sets;
};

static uint64_t dev_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

static void dev_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	(void)dev;
	(void)qidx;
}

static int dev_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset, uint32_t len)
{
	struct ctx *c = vlb_dev_priv(dev);

	if (c->fail_get)
		return c->fail_get;
	if (offset > CONFIG_SIZE || len > CONFIG_SIZE - offset)
		return -EINVAL;
	memcpy(buf, c->config + offset, len);
	return 0;
}

static int dev_set_config(struct vlb_dev *dev, const uint8_t *buf, uint32_t offset,
			  uint32_t len, uint32_t flags)
{
	struct ctx *c = vlb_dev_priv(dev);

	(void)flags;
	c->sets++;
	if (c->fail_set)
		return c->fail_set;
	if (offset > CONFIG_SIZE || len > CONFIG_SIZE - offset)
		return -EINVAL;
	memcpy(c->config + offset, buf, len);
	return 0;
}

static const struct vlb_dev_iface config_iface = {
	.get_features	= dev_get_features,
	.get_config	= dev_get_config,
	.set_config	= dev_set_config,
	.queue_kick	= dev_queue_kick,
};

static const struct vlb_dev_iface plain_iface = {
	.get_features	= dev_get_features,
	.queue_kick	= dev_queue_kick,
};

static int dispatch(void *dev)
{
	return vlb_dev_dispatch(dev);
}

static int setup(struct ctx *c, const struct vlb_dev_iface *iface, uint64_t *protocol)
{
	int sp[2], ret;

	memset(c, 0, sizeof(*c));
	memcpy(c->config, "\x01\x02\x03\x04\x05\x06\x07\x08", CONFIG_SIZE);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return t_fail("socketpair: %s", strerror(errno));
	ret = vlb_dev_new(iface, 1, c, "config-test", &c->dev);
	if (!ret)
		ret = vlb_dev_attach(c->dev, sp[1]);
	if (ret)
		return t_fail("creating the device: %s", strerror(-ret));
	c->fe.sock = sp[0];
	c->fe.dev = c->dev;
	c->fe.dispatch = dispatch;
	ret = t_fe_get_u64(&c->fe, VHOST_USER_GET_PROTOCOL_FEATURES, protocol);
	if (!ret)
		ret = t_fe_set_u64(&c->fe, VHOST_USER_SET_PROTOCOL_FEATURES, *protocol);
	if (ret)
		return t_fail("negotiation: %s", strerror(-ret));
	c->fe.reply_ack = true;
	return 0;
}

static void teardown(struct ctx *c)
{
	vlb_dev_free(c->dev);
	close(c->fe.sock);
}

static int get_config(struct ctx *c, uint32_t offset, uint32_t size,
		      struct vhost_user_msg *r)
{
	struct vhost_user_config cfg = { .offset = offset, .size = size };

	return t_fe_call(&c->fe, VHOST_USER_GET_CONFIG, &cfg,
			 VHOST_USER_CONFIG_HDR_SIZE + size, NULL, 0, r);
}

static int set_config(struct ctx *c, uint32_t offset, const void *data, uint32_t size)
{
	struct vhost_user_config cfg = { .offset = offset, .size = size };

	memcpy(cfg.region, data, size);
	return t_fe_call(&c->fe, VHOST_USER_SET_CONFIG, &cfg,
			 VHOST_USER_CONFIG_HDR_SIZE + size, NULL, 0, NULL);
}

static int test_features(void)
{
	const uint64_t both = (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
			      (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ);
	uint64_t p;
	struct ctx c;

	if (setup(&c, &plain_iface, &p))
		return T_EXIT_FAIL;
	if (p & both)
		return t_fail("CONFIG/BACKEND_REQ offered without config callbacks: 0x%llx",
			      (unsigned long long)p);
	if (vlb_dev_config_changed(c.dev) != -ENOTCONN)
		return t_fail("config_changed without a channel");
	teardown(&c);
	if (setup(&c, &config_iface, &p))
		return T_EXIT_FAIL;
	if ((p & both) != both)
		return t_fail("CONFIG/BACKEND_REQ not offered: 0x%llx", (unsigned long long)p);
	teardown(&c);
	return 0;
}

static int test_get_set(void)
{
	struct vhost_user_msg r;
	uint64_t p;
	struct ctx c;
	int ret;

	if (setup(&c, &config_iface, &p))
		return T_EXIT_FAIL;
	ret = get_config(&c, 0, CONFIG_SIZE, &r);
	if (ret || r.hdr.size != VHOST_USER_CONFIG_HDR_SIZE + CONFIG_SIZE ||
	    memcmp(r.payload.config.region, c.config, CONFIG_SIZE))
		return t_fail("GET_CONFIG: %d, size %u", ret, r.hdr.size);
	ret = set_config(&c, 2, "\xaa\xbb", 2);
	if (ret || c.config[2] != 0xaa || c.config[3] != 0xbb)
		return t_fail("SET_CONFIG: %d", ret);
	ret = get_config(&c, 2, 2, &r);
	if (ret || r.payload.config.region[0] != 0xaa)
		return t_fail("GET_CONFIG after SET_CONFIG: %d", ret);

	/* The device refusing is an answer, not a protocol error. */
	c.fail_get = -EIO;
	ret = get_config(&c, 0, CONFIG_SIZE, &r);
	if (ret || r.hdr.size != 0)
		return t_fail("failing GET_CONFIG: %d, reply size %u, want 0", ret, r.hdr.size);
	c.fail_set = -EPERM;
	ret = set_config(&c, 0, "\x00", 1);
	if (ret != -EIO || vlb_dev_broken(c.dev) || c.sets != 2)
		return t_fail("failing SET_CONFIG: %d, want a REPLY_ACK failure", ret);
	teardown(&c);
	return 0;
}

static int test_bad_config_messages(void)
{
	struct vhost_user_config cfg = { .offset = 0, .size = 16 };
	struct vhost_user_msg r;
	uint64_t p;
	struct ctx c;
	int ret;

	/* size field and payload length disagree */
	if (setup(&c, &config_iface, &p))
		return T_EXIT_FAIL;
	ret = t_fe_call(&c.fe, VHOST_USER_GET_CONFIG, &cfg, VHOST_USER_CONFIG_HDR_SIZE + 8,
			NULL, 0, &r);
	if (ret != -EPROTO || !vlb_dev_broken(c.dev))
		return t_fail("GET_CONFIG size mismatch: %d", ret);
	teardown(&c);

	/* offset + size beyond the largest config space */
	if (setup(&c, &config_iface, &p))
		return T_EXIT_FAIL;
	ret = get_config(&c, VHOST_USER_MAX_CONFIG_SIZE - 4, 8, &r);
	if (ret != -EPROTO || !vlb_dev_broken(c.dev))
		return t_fail("GET_CONFIG past the end: %d", ret);
	teardown(&c);

	/* shorter than the config header */
	if (setup(&c, &config_iface, &p))
		return T_EXIT_FAIL;
	ret = t_fe_call(&c.fe, VHOST_USER_SET_CONFIG, &cfg, 4, NULL, 0, NULL);
	if (ret != -EPROTO || !vlb_dev_broken(c.dev))
		return t_fail("SET_CONFIG shorter than its header: %d", ret);
	teardown(&c);
	return 0;
}

static int test_config_changed(void)
{
	struct vhost_user_msg ack = {
		.hdr = {
			.request = VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
			.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
			.size = 8,
		},
	};
	struct vhost_user_msg m;
	int ch[2], ret;
	uint64_t p;
	struct ctx c;

	if (setup(&c, &config_iface, &p))
		return T_EXIT_FAIL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) < 0)
		return t_fail("socketpair: %s", strerror(errno));
	ret = t_fe_call(&c.fe, VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &ch[1], 1, NULL);
	close(ch[1]);
	if (ret)
		return t_fail("SET_BACKEND_REQ_FD: %d", ret);

	/* Queue the front-end's acknowledgement first: one thread. */
	ret = vlb_msg_send(ch[0], &ack);
	if (!ret)
		ret = vlb_dev_config_changed(c.dev);
	if (ret)
		return t_fail("vlb_dev_config_changed: %s", strerror(-ret));
	ret = vlb_msg_recv(ch[0], &m);
	if (ret || m.hdr.request != VHOST_USER_BACKEND_CONFIG_CHANGE_MSG ||
	    !(m.hdr.flags & VHOST_USER_NEED_REPLY_MASK))
		return t_fail("CONFIG_CHANGE_MSG not seen on the channel: %d", ret);

	/* A refusal from the front-end is -EIO. */
	ack.payload.u64 = 1;
	ret = vlb_msg_send(ch[0], &ack);
	if (!ret)
		ret = vlb_dev_config_changed(c.dev);
	if (ret != -EIO)
		return t_fail("refused CONFIG_CHANGE_MSG: %d, want -EIO", ret);
	close(ch[0]);
	teardown(&c);
	return 0;
}

struct watch_ctx {
	int data[2];
	int stop[2];
	unsigned int calls;
};

static void on_data(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct watch_ctx *w = opaque;
	char b;

	w->calls++;
	if (!(revents & POLLIN) || read(fd, &b, 1) != 1 || b != 'x')
		return;
	/* Done: stop watching and end the loop. */
	vlb_dev_remove_watch(dev, fd);
	if (write(w->stop[1], "s", 1) != 1)
		w->calls += 100;
}

/* vlb_dev_run() also polls the device program's own fds. */
static int test_watches(void)
{
	struct watch_ctx w = { .calls = 0 };
	struct ctx c;
	uint64_t p;
	int i, ret;

	if (setup(&c, &plain_iface, &p))
		return T_EXIT_FAIL;
	if (pipe2(w.data, O_CLOEXEC) < 0 || pipe2(w.stop, O_CLOEXEC) < 0)
		return t_fail("pipe: %s", strerror(errno));
	if (vlb_dev_add_watch(c.dev, -1, POLLIN, on_data, &w) != -EINVAL ||
	    vlb_dev_add_watch(c.dev, w.data[0], POLLIN, on_data, &w) ||
	    vlb_dev_add_watch(c.dev, w.data[0], POLLIN, on_data, &w) != -EEXIST)
		return t_fail("vlb_dev_add_watch argument checks");
	for (i = 1; i < VLB_MAX_WATCHES; i++)
		if (vlb_dev_add_watch(c.dev, 100 + i, POLLIN, on_data, &w))
			return t_fail("watch %d refused", i);
	if (vlb_dev_add_watch(c.dev, 99, POLLIN, on_data, &w) != -ENOSPC)
		return t_fail("more than VLB_MAX_WATCHES watches");
	for (i = 1; i < VLB_MAX_WATCHES; i++)
		vlb_dev_remove_watch(c.dev, 100 + i);
	if (vlb_dev_remove_watch(c.dev, 100) != -ENOENT)
		return t_fail("removing an unwatched fd");

	if (write(w.data[1], "x", 1) != 1)
		return t_fail("write: %s", strerror(errno));
	ret = vlb_dev_run(c.dev, w.stop[0]);
	if (ret != -ECANCELED || w.calls != 1)
		return t_fail("vlb_dev_run with a watch: %d, %u calls", ret, w.calls);
	if (vlb_dev_remove_watch(c.dev, w.data[0]) != -ENOENT)
		return t_fail("the callback's removal did not stick");
	close(w.data[0]);
	close(w.data[1]);
	close(w.stop[0]);
	close(w.stop[1]);
	teardown(&c);
	return 0;
}

int main(void)
{
	int fds = t_count_fds();

	vlb_log_init("test_lib_config", 0);
	if (test_features() || test_get_set() || test_bad_config_messages() ||
	    test_config_changed() || test_watches())
		return T_EXIT_FAIL;
	if (t_count_fds() != fds)
		return t_fail("fd leak: %d open before, %d after", fds, t_count_fds());
	return T_EXIT_PASS;
}
