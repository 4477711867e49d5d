// SPDX-License-Identifier: GPL-2.0
/*
 * The in-process device fixture of t_vring.h.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <sys/eventfd.h>

#include "unit/t_vring.h"

static int t_sess_dispatch(void *dev)
{
	return vlb_dev_dispatch(dev);
}

int t_sess_new(struct t_sess *s, const struct vlb_dev_iface *iface,
	       unsigned int nr_vqs, void *priv, const char *name,
	       size_t mem_size)
{
	unsigned int i;
	void *mem;
	int ret;

	memset(s, 0, sizeof(*s));
	s->fe.sock = s->memfd = -1;
	s->nr_rings = nr_vqs < T_SESS_MAX_RINGS ? nr_vqs : T_SESS_MAX_RINGS;
	for (i = 0; i < T_SESS_MAX_RINGS; i++)
		s->kick[i] = s->call[i] = -1;
	ret = t_memfd(mem_size, &s->memfd, &mem);
	if (ret)
		return t_fail("memfd: %s", strerror(-ret));
	s->mem = mem;
	s->mem_size = mem_size;
	for (i = 0; i < s->nr_rings; i++) {
		s->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		s->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->kick[i] < 0 || s->call[i] < 0)
			return t_fail("eventfd: %s", strerror(errno));
	}
	if (!iface)
		return 0;
	ret = vlb_dev_new(iface, nr_vqs, priv, name, &s->dev);
	if (ret)
		return t_fail("vlb_dev_new: %s", strerror(-ret));
	return 0;
}

int t_sess_new_dev(struct t_sess *s, const struct vlb_dev_iface *iface,
		   unsigned int nr_vqs, void *priv, const char *name)
{
	int ret;

	vlb_dev_free(s->dev);
	s->dev = NULL;
	if (s->fe.sock >= 0)
		close(s->fe.sock);
	s->fe.sock = -1;
	ret = vlb_dev_new(iface, nr_vqs, priv, name, &s->dev);
	if (ret)
		return t_fail("vlb_dev_new: %s", strerror(-ret));
	return 0;
}

int t_sess_set_mem(struct t_sess *s, uint64_t qva)
{
	int ret = t_fe_set_mem(&s->fe, s->memfd, s->mem_size, qva);

	if (ret)
		return t_fail("SET_MEM_TABLE: %s", strerror(-ret));
	s->qva = qva;
	return 0;
}

int t_sess_attach(struct t_sess *s)
{
	int sp[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		return t_fail("socketpair: %s", strerror(errno));
	ret = vlb_dev_attach(s->dev, sp[1]);
	if (ret) {
		close(sp[0]);
		return t_fail("vlb_dev_attach: %s", strerror(-ret));
	}
	s->fe.sock = sp[0];
	s->fe.dev = s->dev;
	s->fe.dispatch = t_sess_dispatch;
	return 0;
}

int t_sess_connect(struct t_sess *s, uint64_t features, uint64_t qva)
{
	uint64_t v;
	int ret;

	if (t_sess_attach(s))
		return 1;
	ret = t_fe_call(&s->fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!ret)
		ret = t_fe_get_u64(&s->fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v);
	if (!ret)
		ret = t_fe_set_u64(&s->fe, VHOST_USER_SET_PROTOCOL_FEATURES, 0);
	if (!ret)
		ret = t_fe_set_u64(&s->fe, VHOST_USER_SET_FEATURES, features);
	if (ret)
		return t_fail("SET_OWNER/FEATURES: %s", strerror(-ret));
	return t_sess_set_mem(s, qva);
}

void t_sess_ring(struct t_sess *s, unsigned int i, uint16_t num,
		 uint64_t desc, uint64_t avail, uint64_t used)
{
	t_ring_init(&s->ring[i], s->mem, num, desc, avail, used);
}

int t_sess_start_ring(struct t_sess *s, unsigned int i)
{
	int ret = t_fe_start_ring(&s->fe, i, &s->ring[i], s->qva, s->kick[i], s->call[i]);

	if (!ret)
		ret = t_fe_set_state(&s->fe, VHOST_USER_SET_VRING_ENABLE, i, 1);
	if (ret)
		return t_fail("starting ring %u: %s", i, strerror(-ret));
	return 0;
}

int t_sess_start(struct t_sess *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (t_sess_start_ring(s, i))
			return 1;
	if (s->dev)
		vlb_dev_pending_kicks(s->dev);
	return 0;
}

void t_sess_close(struct t_sess *s, void (*teardown)(struct vlb_dev *dev))
{
	unsigned int i;

	if (s->dev) {
		vlb_dev_detach(s->dev);
		if (teardown)
			teardown(s->dev);
		vlb_dev_free(s->dev);
	}
	if (s->fe.sock >= 0)
		close(s->fe.sock);
	for (i = 0; i < T_SESS_MAX_RINGS; i++) {
		if (s->kick[i] >= 0)
			close(s->kick[i]);
		if (s->call[i] >= 0)
			close(s->call[i]);
	}
	if (s->mem)
		munmap(s->mem, s->mem_size);
	if (s->memfd >= 0)
		close(s->memfd);
	memset(s, 0, sizeof(*s));
	s->fe.sock = s->memfd = -1;
	for (i = 0; i < T_SESS_MAX_RINGS; i++)
		s->kick[i] = s->call[i] = -1;
}
