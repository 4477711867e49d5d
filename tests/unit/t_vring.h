/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test fixture: the driver's side of a vhost-user device, its rings and
 * buffers in one memfd laid out as a driver would, behind the test
 * front-end of t_vhost.h. The device is either in this process (a struct
 * vlb_dev with the device's own iface: the tests call its queue_kick
 * themselves, no threads, no sockets to wait on) or a back-end program
 * the test connected @fe.sock to.
 *
 * Steps, so a test can do its device's own setup in between:
 * t_sess_new() (memory, eventfds, vlb_dev_new()), t_sess_connect()
 * (vhost-user negotiation and the memory table; a test of a back-end
 * program negotiates with its own checks and calls t_sess_set_mem()),
 * t_sess_ring() per ring (the layout), t_sess_start() or
 * t_sess_start_ring() (rings started and enabled), and at the end
 * t_sess_close().
 */
#ifndef VLB_TESTS_T_VRING_H
#define VLB_TESTS_T_VRING_H

#include "vlb.h"
#include "unit/t_vhost.h"

/* Most rings a session drives. */
#define T_SESS_MAX_RINGS	4

/**
 * struct t_sess - one device and the driver's side of it
 * @fe: the front-end; with @dev, vlb_dev_dispatch() runs after each message
 * @dev: the device in this process, or NULL
 * @mem: the test's mapping of the memfd (guest address 0)
 * @mem_size: bytes in @mem
 * @memfd: the memory the front-end hands the device
 * @qva: front-end address of guest address 0
 * @nr_rings: rings with eventfds (the device's queues, at most
 *	T_SESS_MAX_RINGS)
 * @ring: the driver's view of each ring (t_sess_ring())
 * @kick: each ring's kick eventfd (non-blocking)
 * @call: each ring's call eventfd (non-blocking)
 */
struct t_sess {
	struct t_fe fe;
	struct vlb_dev *dev;
	uint8_t *mem;
	size_t mem_size;
	int memfd;
	uint64_t qva;
	unsigned int nr_rings;
	struct t_ring ring[T_SESS_MAX_RINGS];
	int kick[T_SESS_MAX_RINGS];
	int call[T_SESS_MAX_RINGS];
};

/**
 * t_sess_new() - memory, eventfds and the device, not yet connected
 * @s: session to fill in
 * @iface: the device's callbacks; NULL for a back-end program (the test
 *	connects @s->fe.sock to it)
 * @nr_vqs: its queue count
 * @priv: for vlb_dev_priv() (with @iface)
 * @name: its name in log lines (with @iface)
 * @mem_size: bytes of guest memory
 *
 * Returns: 0, or 1 after printing a line (t_fail()).
 */
int t_sess_new(struct t_sess *s, const struct vlb_dev_iface *iface,
	       unsigned int nr_vqs, void *priv, const char *name,
	       size_t mem_size);

/**
 * t_sess_new_dev() - the device dies (freed, its connection closed) and a
 *	new one takes its place, with the same memory, eventfds and rings
 * @s: session with a device in this process
 * @iface, @nr_vqs, @priv, @name: as for t_sess_new()
 *
 * For back-end restart tests; attach the new device with t_sess_attach().
 * Returns: 0, or 1 after printing a line.
 */
int t_sess_new_dev(struct t_sess *s, const struct vlb_dev_iface *iface,
		   unsigned int nr_vqs, void *priv, const char *name);

/**
 * t_sess_attach() - attach the device in this process to the front-end
 *	over a socketpair, nothing sent yet
 * @s: session from t_sess_new() with a device
 *
 * Returns: 0, or 1 after printing a line.
 */
int t_sess_attach(struct t_sess *s);

/**
 * t_sess_connect() - t_sess_attach(), then negotiate
 * @s: session from t_sess_new()
 * @features: what SET_FEATURES acknowledges
 * @qva: front-end address of guest address 0 in SET_MEM_TABLE
 *
 * Sends SET_OWNER, GET/SET_PROTOCOL_FEATURES (none taken), SET_FEATURES
 * and SET_MEM_TABLE.
 * Returns: 0, or 1 after printing a line.
 */
int t_sess_connect(struct t_sess *s, uint64_t features, uint64_t qva);

/**
 * t_sess_set_mem() - SET_MEM_TABLE: the whole memfd as one region
 * @s: session
 * @qva: front-end address of guest address 0
 *
 * Returns: 0, or 1 after printing a line.
 */
int t_sess_set_mem(struct t_sess *s, uint64_t qva);

/**
 * t_sess_ring() - lay out ring @i in guest memory (cleared)
 * @s: session
 * @i: ring index, below @s->nr_rings
 * @num: ring size
 * @desc: guest address of the descriptor table
 * @avail: guest address of the avail ring
 * @used: guest address of the used ring
 */
void t_sess_ring(struct t_sess *s, unsigned int i, uint16_t num,
		 uint64_t desc, uint64_t avail, uint64_t used);

/**
 * t_sess_start_ring() - start and enable ring @i (NUM, BASE 0, ADDR, CALL,
 *	KICK, then ENABLE)
 * @s: session with memory set and ring @i laid out
 * @i: ring index
 *
 * Returns: 0, or 1 after printing a line.
 */
int t_sess_start_ring(struct t_sess *s, unsigned int i);

/**
 * t_sess_start() - start and enable rings 0..@n-1, then (device in this
 *	process) run the kicks pending on becoming ready
 * @s: connected session whose rings are laid out
 * @n: rings to start
 *
 * Returns: 0, or 1 after printing a line.
 */
int t_sess_start(struct t_sess *s, unsigned int n);

/**
 * t_sess_close() - detach and free the device, release everything
 * @s: session (also one whose setup failed half-way)
 * @teardown: the device's own cleanup, run between detach and free; or
 *	NULL
 */
void t_sess_close(struct t_sess *s, void (*teardown)(struct vlb_dev *dev));

#endif /* VLB_TESTS_T_VRING_H */
