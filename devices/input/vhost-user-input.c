// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user-input: a virtio input device (virtio spec 5.8, device id 18)
 * served over vhost-user, forwarding one Linux evdev device.
 *
 * The config space tells the driver what the real device is: its name
 * (EVIOCGNAME), serial (EVIOCGUNIQ), ids (EVIOCGID), property bits
 * (EVIOCGPROP), the code bits of every event type (EVIOCGBIT) and each
 * absolute axis (EVIOCGABS), captured once at start. The driver picks what
 * it reads by writing select and subsel (SET_CONFIG) and then reads size and
 * the union (GET_CONFIG), so the answer is recomputed on every write.
 *
 * Queue 0 (eventq) carries the device's events to the driver, one
 * struct virtio_input_event per device-writable buffer. Queue 1 (statusq)
 * carries the driver's events (LED, sound) back: they are written to the
 * evdev device, which passes them to the hardware (or to the uinput owner);
 * their echo from evdev is not sent back to the driver.
 * Usage follows the vhost-user back-end program conventions:
 *
 *	vhost-user-input --socket-path /run/kbd.sock --evdev /dev/input/event3 --grab
 *	qemu-system-x86_64 ... -chardev socket,id=kbd,path=/run/kbd.sock \
 *		-device vhost-user-input-pci,chardev=kbd
 *	virtio-loopback-adapter --socket /run/kbd.sock --device input
 *
 * Events wait in a bounded queue while the driver has no buffers; see
 * input_queue_event() for what happens when it overflows. When the evdev
 * device disappears (unplugged, its uinput owner gone), the events already
 * read are still delivered (for at most INPUT_GONE_GRACE_S seconds) and the
 * program exits with status 1.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/input.h>
#include <linux/virtio_input.h>

#include "vlb.h"

#ifndef VLB_VERSION
#define VLB_VERSION "unknown"
#endif

#define INPUT_EVENTQ		0
#define INPUT_STATUSQ		1
#define INPUT_QUEUES		2

/*
 * Events held for a driver that has posted no buffers. Far more than any
 * real batch (a 10-finger multi-touch frame is under 100 events), and
 * 32 KiB of memory.
 */
#define INPUT_MAX_QUEUED	4096

/* evdev events read per read(2), and reads per wake-up. */
#define INPUT_READ_BATCH	64
#define INPUT_READ_BUDGET	16

/* Status buffers served per queue_kick before yielding to the event loop. */
#define INPUT_STATUS_BUDGET	256

/* Malformed status buffers logged one by one; after that only counted. */
#define INPUT_MALFORMED_LOGGED	8

/* How long queued events may wait for buffers after the device went away. */
#define INPUT_GONE_GRACE_S	2

/* Size of the config union, and of the whole config space. */
#define INPUT_CFG_UNION		sizeof(((struct virtio_input_config *)0)->u)
#define INPUT_CFG_SIZE		sizeof(struct virtio_input_config)

#define INPUT_BITS_PER_LONG	(CHAR_BIT * sizeof(unsigned long))

/**
 * struct input - the device program's state
 * @path: --evdev argument
 * @grab: --grab: take the device for ourselves (EVIOCGRAB)
 * @fd: the evdev device, or -1 once it is gone
 * @timer_fd: grace timer armed when the device went away, or -1
 * @gone: the evdev device disappeared; exit 1 once the queue is delivered
 * @stopping: SIGTERM was raised to end the program
 * @name: ID_NAME answer (not NUL-terminated in the config space)
 * @name_len: its length
 * @serial: ID_SERIAL answer
 * @serial_len: its length
 * @ids: ID_DEVIDS answer, little-endian
 * @props: PROP_BITS answer
 * @props_len: bytes of @props up to the last set bit
 * @ev_bits: EV_BITS answer per event type
 * @ev_bits_len: bytes of each up to its last set bit
 * @abs: ABS_INFO answer per axis, little-endian
 * @cfg: the config space as the driver sees it: its select and subsel and
 *	our answer
 * @q: events waiting for eventq buffers, a ring of @count from @head
 * @head: oldest queued event
 * @count: queued events
 * @batch: queued events of the batch not yet ended by SYN_REPORT (the tail)
 * @batch_empty: no event was queued since the last SYN_REPORT
 * @dropping: the rest of the current batch is being dropped
 * @dropped: events dropped since the last report
 * @dropped_total: events dropped since start
 * @malformed: malformed buffers seen on either queue
 */
struct input {
	const char *path;
	bool grab;
	int fd;
	int timer_fd;
	bool gone;
	bool stopping;

	char name[INPUT_CFG_UNION];
	size_t name_len;
	char serial[INPUT_CFG_UNION];
	size_t serial_len;
	struct virtio_input_devids ids;
	uint8_t props[INPUT_CFG_UNION];
	uint8_t props_len;
	uint8_t ev_bits[EV_CNT][INPUT_CFG_UNION];
	uint8_t ev_bits_len[EV_CNT];
	struct virtio_input_absinfo abs[ABS_CNT];
	struct virtio_input_config cfg;

	struct virtio_input_event q[INPUT_MAX_QUEUED];
	unsigned int head;
	unsigned int count;
	unsigned int batch;
	bool batch_empty;
	bool dropping;
	unsigned long long dropped;
	unsigned long long dropped_total;
	unsigned long long malformed;
};

static struct input input = { .fd = -1, .timer_fd = -1, .batch_empty = true };

/* Helpers ----------------------------------------------------------------- */

static void input_malformed(struct vlb_dev *dev, unsigned int qidx,
			    const char *what, size_t len)
{
	struct input *in = vlb_dev_priv(dev);

	in->malformed++;
	if (in->malformed <= INPUT_MALFORMED_LOGGED)
		vlb_err(vlb_dev_name(dev), "vq %u: %s (%zu bytes), returned unused%s", qidx,
			what, len, in->malformed == INPUT_MALFORMED_LOGGED ?
			"; further malformed buffers are only counted" : "");
}

/*
 * An evdev bitmap is an array of unsigned long; virtio's is bytes, bit n in
 * byte n / 8 (spec 5.8.5). Convert bit by bit, so the byte order of long
 * does not matter. Returns the bytes up to the last set bit.
 */
static uint8_t input_bitmap(const unsigned long *bits, size_t nbits, uint8_t *out)
{
	uint8_t len = 0;
	size_t i;

	memset(out, 0, INPUT_CFG_UNION);
	for (i = 0; i < nbits && i < INPUT_CFG_UNION * CHAR_BIT; i++) {
		if (!(bits[i / INPUT_BITS_PER_LONG] & (1UL << (i % INPUT_BITS_PER_LONG))))
			continue;
		out[i / CHAR_BIT] |= 1U << (i % CHAR_BIT);
		len = i / CHAR_BIT + 1;
	}
	return len;
}

static bool input_test_bit(const uint8_t *bitmap, unsigned int bit)
{
	return bitmap[bit / CHAR_BIT] & (1U << (bit % CHAR_BIT));
}

/* Config space ------------------------------------------------------------ */

/* Answer the driver's select and subsel (virtio spec 5.8.5.1). */
static void input_cfg_fill(struct input *in)
{
	struct virtio_input_config *c = &in->cfg;
	unsigned int sub = c->subsel;

	c->size = 0;
	memset(c->reserved, 0, sizeof(c->reserved));
	memset(&c->u, 0, sizeof(c->u));
	switch (c->select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		if (sub)
			break;
		memcpy(c->u.string, in->name, in->name_len);
		c->size = in->name_len;
		break;
	case VIRTIO_INPUT_CFG_ID_SERIAL:
		if (sub)
			break;
		memcpy(c->u.string, in->serial, in->serial_len);
		c->size = in->serial_len;
		break;
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		if (sub)
			break;
		c->u.ids = in->ids;
		c->size = sizeof(c->u.ids);
		break;
	case VIRTIO_INPUT_CFG_PROP_BITS:
		if (sub)
			break;
		memcpy(c->u.bitmap, in->props, in->props_len);
		c->size = in->props_len;
		break;
	case VIRTIO_INPUT_CFG_EV_BITS:
		if (sub >= EV_CNT)
			break;
		memcpy(c->u.bitmap, in->ev_bits[sub], in->ev_bits_len[sub]);
		c->size = in->ev_bits_len[sub];
		break;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		if (sub >= ABS_CNT || !input_test_bit(in->ev_bits[EV_ABS], sub))
			break;
		c->u.abs = in->abs[sub];
		c->size = sizeof(c->u.abs);
		break;
	default:
		/* VIRTIO_INPUT_CFG_UNSET and unknown selects: size 0. */
		break;
	}
}

static int input_get_config(struct vlb_dev *dev, uint8_t *buf, uint32_t offset,
			    uint32_t len)
{
	struct input *in = vlb_dev_priv(dev);

	if ((uint64_t)offset + len > INPUT_CFG_SIZE)
		return -EINVAL;
	memcpy(buf, (const uint8_t *)&in->cfg + offset, len);
	return 0;
}

/*
 * Only select (byte 0) and subsel (byte 1) are the driver's to write; QEMU
 * writes the whole structure back, so the other bytes are ignored rather
 * than refused.
 */
static int input_set_config(struct vlb_dev *dev, const uint8_t *buf,
			    uint32_t offset, uint32_t len, uint32_t flags)
{
	struct input *in = vlb_dev_priv(dev);

	(void)flags;
	if ((uint64_t)offset + len > INPUT_CFG_SIZE)
		return -EINVAL;
	if (offset == 0 && len >= 1)
		in->cfg.select = buf[0];
	if (offset <= 1 && offset + len >= 2)
		in->cfg.subsel = buf[1 - offset];
	input_cfg_fill(in);
	vlb_dbg(VLB_DBG_DEV, vlb_dev_name(dev), "config select 0x%02x subsel 0x%02x: size %u",
		in->cfg.select, in->cfg.subsel, in->cfg.size);
	return 0;
}

/* Event queue ------------------------------------------------------------- */

static void input_report_drops(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_priv(dev);

	if (!in->dropped || in->dropping)
		return;
	vlb_err(vlb_dev_name(dev), "%llu events dropped in whole batches (%llu in all)",
		in->dropped, in->dropped_total);
	in->dropped = 0;
}

/* Give up the queued part of the batch at the tail, and the rest of it. */
static void input_drop_batch(struct vlb_dev *dev, const char *why)
{
	struct input *in = vlb_dev_priv(dev);

	if (!in->dropping)
		vlb_err(vlb_dev_name(dev), "%s: dropping events up to the next SYN_REPORT", why);
	in->count -= in->batch;
	in->dropped += in->batch;
	in->dropped_total += in->batch;
	in->batch = 0;
	in->dropping = true;
}

/*
 * Queue one event from the evdev device for the driver.
 *
 * Policy (like QEMU's input devices): a batch is the events up to and
 * including SYN_REPORT, and is delivered whole or not at all. Nothing is
 * dropped while fewer than INPUT_MAX_QUEUED events wait. When an event
 * finds the queue full, the incomplete batch at its tail is taken back and
 * the rest of that batch is discarded as it arrives; the complete batches
 * queued before it stay, in order. SYN_DROPPED from evdev (its own buffer
 * overflowed) means the same for the batch it interrupted. Each episode is
 * logged when it starts and when it ends, with the count.
 */
static void input_queue_event(struct vlb_dev *dev, uint16_t type, uint16_t code,
			      int32_t value)
{
	struct input *in = vlb_dev_priv(dev);
	bool report = type == EV_SYN && code == SYN_REPORT;
	struct virtio_input_event *e;

	if (type == EV_SYN && code == SYN_DROPPED) {
		input_drop_batch(dev, "evdev reported SYN_DROPPED");
		return;
	}
	/*
	 * LED and sound state belongs to the driver (statusq); what evdev
	 * reports of it is the echo of our own writes, and sending it back
	 * could undo a newer change the driver made meanwhile. A batch left
	 * empty by that is not sent either.
	 */
	if (type == EV_LED || type == EV_SND)
		return;
	if (report && in->batch_empty && !in->dropping)
		return;
	if (!in->dropping && in->count == INPUT_MAX_QUEUED)
		input_drop_batch(dev, "event queue full (the driver posts no buffers)");
	if (in->dropping) {
		in->dropped++;
		in->dropped_total++;
		if (report) {
			in->dropping = false;
			in->batch_empty = true;
			input_report_drops(dev);
		}
		return;
	}
	e = &in->q[(in->head + in->count) % INPUT_MAX_QUEUED];
	e->type = htole16(type);
	e->code = htole16(code);
	e->value = htole32((uint32_t)value);
	in->count++;
	in->batch = report ? 0 : in->batch + 1;
	in->batch_empty = report;
}

static void input_maybe_stop(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_priv(dev);

	if (!in->gone || in->count || in->stopping)
		return;
	in->stopping = true;
	vlb_log(in->path, "every queued event delivered; exiting");
	/* vlb_backend_main() takes SIGTERM through its signalfd: a clean stop. */
	raise(SIGTERM);
}

/* Hand queued events to the driver, one per buffer, as long as it has some. */
static void input_evq_flush(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_priv(dev);
	struct vlb_vq *vq = vlb_dev_vq(dev, INPUT_EVENTQ);
	struct vlb_vq_elem *elem;
	unsigned int used = 0;
	int ret = 0;

	if (!vlb_vq_ready(vq))
		return;
	while (in->count && (ret = vlb_vq_pop(vq, &elem)) == 0) {
		size_t len = vlb_iov_size(elem->in_sg, elem->in_num);
		const struct virtio_input_event *e = &in->q[in->head];

		used++;
		if (len < sizeof(*e)) {
			input_malformed(dev, INPUT_EVENTQ, "event buffer too small", len);
			vlb_vq_push(vq, elem, 0);
			free(elem);
			continue;
		}
		vlb_iov_from_buf(elem->in_sg, elem->in_num, 0, e, sizeof(*e));
		vlb_vq_push(vq, elem, sizeof(*e));
		free(elem);
		in->head = (in->head + 1) % INPUT_MAX_QUEUED;
		in->count--;
		/* A batch delivered in part cannot be taken back any more. */
		if (in->batch > in->count)
			in->batch = in->count;
	}
	if (ret == -ENOMEM)
		vlb_err(vlb_dev_name(dev), "vq %u: %s", INPUT_EVENTQ, strerror(-ret));
	if (used) {
		vlb_vq_flush(vq);
		ret = vlb_vq_notify(vq);
		if (ret)
			vlb_err(vlb_dev_name(dev), "vq %u: call eventfd: %s", INPUT_EVENTQ,
				strerror(-ret));
	}
	input_maybe_stop(dev);
}

/* The evdev device ---------------------------------------------------------- */

static void input_timer_ready(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct input *in = vlb_dev_priv(dev);

	(void)fd;
	(void)revents;
	(void)opaque;
	vlb_dev_remove_watch(dev, in->timer_fd);
	if (in->stopping)
		return;
	vlb_err(in->path, "%u queued events not delivered within %d s (the driver posts no buffers); exiting",
		in->count, INPUT_GONE_GRACE_S);
	in->stopping = true;
	raise(SIGTERM);
}

static void input_evdev_gone(struct vlb_dev *dev, int err)
{
	struct input *in = vlb_dev_priv(dev);
	struct itimerspec its = { .it_value.tv_sec = INPUT_GONE_GRACE_S };

	vlb_err(in->path, "reading the evdev device: %s: the device is gone; %u queued events still go to the driver, then exit",
		strerror(err), in->count);
	vlb_dev_remove_watch(dev, in->fd);
	close(in->fd);
	in->fd = -1;
	in->gone = true;
	/* What is left of a batch the device never finished is not an event. */
	if (in->batch)
		input_drop_batch(dev, "incomplete batch from the vanished device");
	in->dropping = false;
	in->batch_empty = true;
	input_report_drops(dev);
	if (in->count) {
		in->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (in->timer_fd < 0 || timerfd_settime(in->timer_fd, 0, &its, NULL) < 0 ||
		    vlb_dev_add_watch(dev, in->timer_fd, POLLIN, input_timer_ready, NULL) < 0) {
			vlb_err(in->path, "grace timer: %s", strerror(errno));
			in->count = 0;
		}
	}
	input_maybe_stop(dev);
}

static void input_evdev_ready(struct vlb_dev *dev, int fd, short revents, void *opaque)
{
	struct input *in = vlb_dev_priv(dev);
	struct input_event evs[INPUT_READ_BATCH];
	unsigned int reads;

	(void)revents;
	(void)opaque;
	for (reads = 0; reads < INPUT_READ_BUDGET; reads++) {
		ssize_t n = read(fd, evs, sizeof(evs));
		size_t i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* ENODEV once the device is unregistered. */
			input_evdev_gone(dev, n < 0 ? errno : ENODEV);
			break;
		}
		if (n % sizeof(evs[0]))
			vlb_err(in->path, "read %zd bytes, not whole events", n);
		for (i = 0; i < n / sizeof(evs[0]); i++)
			input_queue_event(dev, evs[i].type, evs[i].code, evs[i].value);
	}
	input_evq_flush(dev);
}

/* Status queue ------------------------------------------------------------ */

static void input_write_event(struct input *in, uint16_t type, uint16_t code,
			      int32_t value)
{
	struct input_event ev = { .type = type, .code = code, .value = value };

	if (in->fd < 0)
		return;
	if (write(in->fd, &ev, sizeof(ev)) != sizeof(ev))
		vlb_err(in->path, "writing event type %u code %u: %s", type, code,
			strerror(errno));
}

/*
 * The driver's events (LED, sound) go to the real device. Each buffer is
 * one struct virtio_input_event, device-readable; anything else is logged
 * and returned unused. Only LED and sound events are the driver's to set.
 * A SYN_REPORT after them lets other readers of the device see them at
 * once. A vlb_vq_handle_cb; @opaque counts the events written.
 */
static int64_t input_statusq_handle(struct vlb_dev *dev, unsigned int qidx,
				    struct vlb_vq_elem *elem, void *opaque)
{
	struct input *in = vlb_dev_priv(dev);
	unsigned int *written = opaque;
	size_t len = vlb_iov_size(elem->out_sg, elem->out_num);
	struct virtio_input_event e;
	uint16_t type, code;

	(void)qidx;
	if (elem->in_num || len != sizeof(e)) {
		input_malformed(dev, INPUT_STATUSQ, elem->in_num ?
				"status buffer with device-writable parts" :
				"status buffer not one event", len);
		return 0;
	}
	vlb_iov_to_buf(elem->out_sg, elem->out_num, 0, &e, sizeof(e));
	type = le16toh(e.type);
	code = le16toh(e.code);
	if (type == EV_SYN || type > EV_MAX) {
		input_malformed(dev, INPUT_STATUSQ, "status event of a bad type", len);
	} else if (type != EV_LED && type != EV_SND) {
		/*
		 * The input core hands the driver every EV_MSC it passes
		 * on: the echo of our own events. Written back, it would
		 * come round for ever.
		 */
		vlb_dbg(VLB_DBG_DEV, vlb_dev_name(dev), "status type %u code %u ignored",
			type, code);
	} else {
		vlb_dbg(VLB_DBG_DEV, vlb_dev_name(dev), "status type %u code %u value %d",
			type, code, (int32_t)le32toh(e.value));
		input_write_event(in, type, code, (int32_t)le32toh(e.value));
		(*written)++;
	}
	return 0;
}

static void input_statusq_kick(struct vlb_dev *dev)
{
	unsigned int written = 0;

	vlb_vq_serve(dev, INPUT_STATUSQ, INPUT_STATUS_BUDGET, input_statusq_handle, &written);
	if (written)
		input_write_event(vlb_dev_priv(dev), EV_SYN, SYN_REPORT, 0);
}

/* Device callbacks ---------------------------------------------------------- */

static uint64_t input_get_features(struct vlb_dev *dev)
{
	(void)dev;
	return (1ULL << VLB_F_VERSION_1) |
	       (1ULL << VLB_F_EVENT_IDX) |
	       (1ULL << VLB_F_INDIRECT_DESC) |
	       (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
}

static void input_queue_kick(struct vlb_dev *dev, unsigned int qidx)
{
	if (qidx == INPUT_EVENTQ)
		input_evq_flush(dev);
	else
		input_statusq_kick(dev);
}

/*
 * A new driver (or none) starts from a fresh device (virtio spec 2.4): it
 * must not get key releases for presses it never saw, so what waits is
 * forgotten, with a line saying how much.
 */
static void input_reset(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_priv(dev);

	if (in->count)
		vlb_log(vlb_dev_name(dev), "device reset: %u undelivered events discarded",
			in->count);
	in->head = 0;
	in->count = 0;
	in->batch = 0;
	in->batch_empty = true;
	in->cfg.select = 0;
	in->cfg.subsel = 0;
	input_cfg_fill(in);
	input_maybe_stop(dev);
}

static const struct vlb_dev_iface input_iface = {
	.get_features	= input_get_features,
	.get_config	= input_get_config,
	.set_config	= input_set_config,
	.queue_kick	= input_queue_kick,
	.reset		= input_reset,
};

/* Program ------------------------------------------------------------------- */

static const struct vlb_backend_option input_options[] = {
	{ "evdev", "PATH", "the evdev device to forward (/dev/input/eventN); required" },
	{ "grab", NULL, "take the device for ourselves (EVIOCGRAB)" },
	{ NULL, NULL, NULL },
};

static int input_parse_option(void *priv, const char *name, const char *arg)
{
	struct input *in = priv;

	if (!strcmp(name, "evdev"))
		in->path = arg;
	else if (!strcmp(name, "grab"))
		in->grab = true;
	return 0;
}

/* Read what the config space reports; the device's capabilities are fixed. */
static int input_read_caps(struct input *in)
{
	unsigned long bits[INPUT_CFG_UNION * CHAR_BIT / INPUT_BITS_PER_LONG];
	unsigned long types[EV_CNT / INPUT_BITS_PER_LONG + 1];
	struct input_id id;
	unsigned int t, a;
	int n;

	n = ioctl(in->fd, EVIOCGNAME(sizeof(in->name)), in->name);
	if (n < 0)
		return -errno;
	in->name_len = strnlen(in->name, sizeof(in->name));
	/* No unique id is ENOENT: an empty serial. */
	n = ioctl(in->fd, EVIOCGUNIQ(sizeof(in->serial)), in->serial);
	in->serial_len = n < 0 ? 0 : strnlen(in->serial, sizeof(in->serial));
	if (ioctl(in->fd, EVIOCGID, &id) < 0)
		return -errno;
	in->ids.bustype = htole16(id.bustype);
	in->ids.vendor = htole16(id.vendor);
	in->ids.product = htole16(id.product);
	in->ids.version = htole16(id.version);

	memset(bits, 0, sizeof(bits));
	if (ioctl(in->fd, EVIOCGPROP(sizeof(bits)), bits) < 0)
		return -errno;
	in->props_len = input_bitmap(bits, INPUT_PROP_CNT, in->props);

	memset(types, 0, sizeof(types));
	if (ioctl(in->fd, EVIOCGBIT(0, sizeof(types)), types) < 0)
		return -errno;
	for (t = 1; t < EV_CNT; t++) {
		if (!(types[t / INPUT_BITS_PER_LONG] & (1UL << (t % INPUT_BITS_PER_LONG))))
			continue;
		memset(bits, 0, sizeof(bits));
		/* evdev has no code bits for some types (EV_REP): none then. */
		if (ioctl(in->fd, EVIOCGBIT(t, sizeof(bits)), bits) < 0)
			continue;
		in->ev_bits_len[t] = input_bitmap(bits, sizeof(bits) * CHAR_BIT, in->ev_bits[t]);
	}
	for (a = 0; a < ABS_CNT; a++) {
		struct input_absinfo ai;

		if (!input_test_bit(in->ev_bits[EV_ABS], a))
			continue;
		if (ioctl(in->fd, EVIOCGABS(a), &ai) < 0)
			return -errno;
		in->abs[a].min = htole32((uint32_t)ai.minimum);
		in->abs[a].max = htole32((uint32_t)ai.maximum);
		in->abs[a].fuzz = htole32((uint32_t)ai.fuzz);
		in->abs[a].flat = htole32((uint32_t)ai.flat);
		in->abs[a].res = htole32((uint32_t)ai.resolution);
	}
	return 0;
}

static int input_setup(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_priv(dev);
	int version, ret;

	if (!in->path) {
		vlb_err(NULL, "--evdev PATH is required (see --help)");
		return -EINVAL;
	}
	/* Read-write: the driver's LED events are written back to it. */
	in->fd = open(in->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (in->fd < 0) {
		ret = -errno;
		vlb_err(in->path, "open: %s", strerror(errno));
		return ret;
	}
	if (ioctl(in->fd, EVIOCGVERSION, &version) < 0) {
		ret = -errno;
		vlb_err(in->path, "not an evdev device (EVIOCGVERSION: %s)", strerror(errno));
		goto err;
	}
	ret = input_read_caps(in);
	if (ret) {
		vlb_err(in->path, "reading the device's capabilities: %s", strerror(-ret));
		goto err;
	}
	if (in->grab && ioctl(in->fd, EVIOCGRAB, 1) < 0) {
		ret = -errno;
		vlb_err(in->path, "EVIOCGRAB: %s", strerror(errno));
		goto err;
	}
	ret = vlb_dev_add_watch(dev, in->fd, POLLIN, input_evdev_ready, NULL);
	if (ret) {
		vlb_err(in->path, "watch: %s", strerror(-ret));
		goto err;
	}
	input_cfg_fill(in);
	vlb_log(in->path, "\"%.*s\" bus 0x%04x vendor 0x%04x product 0x%04x%s",
		(int)in->name_len, in->name, le16toh(in->ids.bustype),
		le16toh(in->ids.vendor), le16toh(in->ids.product),
		in->grab ? ", grabbed" : "");
	return 0;
err:
	close(in->fd);
	in->fd = -1;
	return ret;
}

static void input_teardown(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_priv(dev);

	if (in->fd >= 0) {
		vlb_dev_remove_watch(dev, in->fd);
		close(in->fd);
		in->fd = -1;
	}
	if (in->timer_fd >= 0) {
		vlb_dev_remove_watch(dev, in->timer_fd);
		close(in->timer_fd);
		in->timer_fd = -1;
	}
	if (in->dropped_total || in->malformed)
		vlb_log(in->path, "%llu events dropped, %llu malformed buffers in all",
			in->dropped_total, in->malformed);
}

int main(int argc, char **argv)
{
	static const struct vlb_backend be = {
		.name		= "vhost-user-input",
		.type		= "input",
		.version	= VLB_VERSION,
		.iface		= &input_iface,
		.nr_vqs		= INPUT_QUEUES,
		.priv		= &input,
		.options	= input_options,
		.parse_option	= input_parse_option,
		.setup		= input_setup,
		.teardown	= input_teardown,
	};
	int ret = vlb_backend_main(&be, argc, argv);

	/* The device went away: not a clean end even if the stop was. */
	return ret ? ret : input.gone ? 1 : 0;
}
