// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the adapter's device type table: --device TYPE by name and
 * by number, garbage refused, config sizes per feature set.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "helpers.h"
#include "device_types.h"

static int test_names(void)
{
	static const struct {
		const char *s;
		uint32_t id;
		unsigned int queues;
	} ok[] = {
		{ "blk", VIRTIO_ID_BLOCK, 1 },
		{ "net", VIRTIO_ID_NET, 2 },
		{ "console", VIRTIO_ID_CONSOLE, 2 },
		{ "rng", VIRTIO_ID_RNG, 1 },
		{ "input", VIRTIO_ID_INPUT, 2 },
		{ "scsi", VIRTIO_ID_SCSI, 3 },
		{ "fs", VIRTIO_ID_FS, 2 },
		{ "gpu", VIRTIO_ID_GPU, 2 },
		{ "sound", VIRTIO_ID_SOUND, 4 },
		{ "vsock", VIRTIO_ID_VSOCK, 3 },
		{ "gpio", VIRTIO_ID_GPIO, 2 },
		{ "i2c", VIRTIO_ID_I2C_ADAPTER, 1 },
		{ "can", VIRTIO_ID_CAN, 3 },
		{ "2", VIRTIO_ID_BLOCK, 1 },
		{ "4", VIRTIO_ID_RNG, 1 },
		{ "0x1a", VIRTIO_ID_FS, 2 },
	};
	struct vla_device_type t;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		int ret = vla_device_type_parse(ok[i].s, &t);

		if (ret || t.id != ok[i].id || t.num_queues != ok[i].queues ||
		    !t.name) {
			fprintf(stderr, "'%s': ret %d id %u queues %u, expected id %u queues %u\n",
				ok[i].s, ret, t.id, t.num_queues, ok[i].id,
				ok[i].queues);
			return T_EXIT_FAIL;
		}
	}
	if (vla_device_type_parse("4", &t) || strcmp(t.name, "rng")) {
		fprintf(stderr, "'4' is not rng\n");
		return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}

/* A number outside the table: a nameless type, config size unknown. */
static int test_unknown_number(void)
{
	struct vla_device_type t;
	int ret = vla_device_type_parse("999", &t);

	if (ret || t.id != 999 || t.name ||
	    t.config_size != VLA_CONFIG_SIZE_UNKNOWN || t.num_queues != 1 ||
	    strcmp(vla_device_type_name(&t), "unknown")) {
		fprintf(stderr, "'999': ret %d id %u config %u queues %u\n",
			ret, t.id, t.config_size, t.num_queues);
		return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}

static int test_garbage(void)
{
	static const struct {
		const char *s;
		int expect;
	} bad[] = {
		{ "", -EINVAL },
		{ "0", -EINVAL },
		{ "65536", -EINVAL },
		{ "99999999999999999999999", -EINVAL },
		{ "12abc", -EINVAL },
		{ "2 ", -EINVAL },
		{ "0x", -EINVAL },
		{ "-1", -ENOENT },
		{ "BLK", -ENOENT },
		{ "blk ", -ENOENT },
		{ "virtio-blk", -ENOENT },
		{ "foo", -ENOENT },
	};
	struct vla_device_type t;
	size_t i;

	if (vla_device_type_parse(NULL, &t) != -EINVAL) {
		fprintf(stderr, "NULL accepted\n");
		return T_EXIT_FAIL;
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = vla_device_type_parse(bad[i].s, &t);

		if (ret != bad[i].expect) {
			fprintf(stderr, "'%s': ret %d, expected %d\n", bad[i].s,
				ret, bad[i].expect);
			return T_EXIT_FAIL;
		}
	}
	return T_EXIT_PASS;
}

/* Config sizes follow the features, as the virtio spec lays fields out. */
static int test_config_sizes(void)
{
	static const struct {
		const char *type;
		uint64_t features;
		uint32_t size;
	} sizes[] = {
		{ "blk", 0, 36 },
		{ "blk", 1ULL << VIRTIO_BLK_F_DISCARD, 48 },
		{ "blk", (1ULL << VIRTIO_BLK_F_DISCARD) |
			 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES), 57 },
		{ "net", 0, 6 },
		{ "net", 1ULL << VIRTIO_NET_F_STATUS, 8 },
		{ "net", 1ULL << VIRTIO_NET_F_MTU, 12 },
		{ "rng", ~0ULL, 0 },
		{ "console", 0, 12 },
		{ "input", 0, 136 },
		{ "9p", 0, VLA_CONFIG_SIZE_UNKNOWN },
	};
	struct vla_device_type t;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint32_t got;

		if (vla_device_type_parse(sizes[i].type, &t))
			return T_EXIT_FAIL;
		got = vla_device_type_config_size(&t, sizes[i].features);
		if (got != sizes[i].size) {
			fprintf(stderr, "%s features 0x%llx: config size %u, expected %u\n",
				sizes[i].type,
				(unsigned long long)sizes[i].features, got,
				sizes[i].size);
			return T_EXIT_FAIL;
		}
		if (got != VLA_CONFIG_SIZE_UNKNOWN && got > 256) {
			fprintf(stderr, "%s: config size %u above 256\n",
				sizes[i].type, got);
			return T_EXIT_FAIL;
		}
	}
	return T_EXIT_PASS;
}

static int test_list(void)
{
	char buf[512], tiny[8];

	vla_device_types_list(buf, sizeof(buf));
	if (!strstr(buf, "blk") || !strstr(buf, "rng") ||
	    !strstr(buf, "gpio")) {
		fprintf(stderr, "type list '%s' incomplete\n", buf);
		return T_EXIT_FAIL;
	}
	vla_device_types_list(tiny, sizeof(tiny));
	if (strlen(tiny) >= sizeof(tiny)) {
		fprintf(stderr, "type list overflows a small buffer\n");
		return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}

int main(void)
{
	if (test_names() || test_unknown_number() || test_garbage() ||
	    test_config_sizes() || test_list())
		return T_EXIT_FAIL;
	return T_EXIT_PASS;
}
