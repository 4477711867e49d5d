// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vhost-user message framing: one header, its payload and the fds that came
 * with it (SCM_RIGHTS) over a unix stream socket.
 *
 * Used by both ends of the protocol: the adapter (front-end) and the back-end
 * library. Nothing here interprets a request; it only moves bytes and fds
 * and refuses anything that does not fit struct vhost_user_msg, so callers
 * never see a payload larger than the union or more fds than the array.
 *
 * Copyright (C) 2026 The virtio-loopback authors
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vhost_user.h"

/* Control buffer large enough for VHOST_USER_MAX_FDS fds, aligned for cmsghdr. */
union vlb_cmsg_buf {
	char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	struct cmsghdr align;
};

void vlb_msg_close_fds(struct vhost_user_msg *msg)
{
	unsigned int i;

	for (i = 0; i < msg->nfds && i < VHOST_USER_MAX_FDS; i++) {
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
		msg->fds[i] = -1;
	}
	msg->nfds = 0;
}

/*
 * Take the fds out of one recvmsg()'s control data and append them to @msg.
 * Every fd received is either stored or closed, so a rejection never leaks.
 * Returns: 0, or -EPROTO when there are too many fds or the kernel had to
 * truncate the control data (it closes what did not fit).
 */
static int vlb_msg_take_fds(struct msghdr *mh, struct vhost_user_msg *msg)
{
	struct cmsghdr *cmsg;
	int ret = 0;

	for (cmsg = CMSG_FIRSTHDR(mh); cmsg; cmsg = CMSG_NXTHDR(mh, cmsg)) {
		size_t n, i;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(fd));
			if (msg->nfds < VHOST_USER_MAX_FDS) {
				msg->fds[msg->nfds++] = fd;
			} else {
				close(fd);
				ret = -EPROTO;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		ret = -EPROTO;
	return ret;
}

/*
 * Read exactly @len bytes, collecting any fds that arrive on the way.
 * Returns: 0; -ECONNRESET when the peer closed before the first byte and
 * @first is set; -EPROTO on EOF part-way or bad control data; -errno.
 */
static int vlb_msg_read_full(int sock, void *buf, size_t len, bool first,
			     struct vhost_user_msg *msg)
{
	size_t done = 0;

	while (done < len) {
		union vlb_cmsg_buf cbuf;
		struct iovec iov = {
			.iov_base = (char *)buf + done,
			.iov_len = len - done,
		};
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf.buf),
		};
		ssize_t n;
		int ret;

		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = vlb_msg_take_fds(&mh, msg);
		if (ret)
			return ret;
		if (n == 0)
			return (first && done == 0) ? -ECONNRESET : -EPROTO;
		done += n;
	}
	return 0;
}

int vlb_msg_recv(int sock, struct vhost_user_msg *msg)
{
	unsigned int i;
	int ret;

	for (i = 0; i < VHOST_USER_MAX_FDS; i++)
		msg->fds[i] = -1;
	msg->nfds = 0;

	ret = vlb_msg_read_full(sock, &msg->hdr, sizeof(msg->hdr), true, msg);
	if (ret)
		goto err;
	if (msg->hdr.size > VHOST_USER_MAX_PAYLOAD) {
		ret = -EPROTO;
		goto err;
	}
	if (msg->hdr.size) {
		ret = vlb_msg_read_full(sock, &msg->payload, msg->hdr.size,
					false, msg);
		if (ret)
			goto err;
	}
	return 0;

err:
	vlb_msg_close_fds(msg);
	return ret;
}

int vlb_msg_send(int sock, const struct vhost_user_msg *msg)
{
	union vlb_cmsg_buf cbuf;
	struct iovec iov[2] = {
		{ .iov_base = (void *)&msg->hdr, .iov_len = sizeof(msg->hdr) },
		{ .iov_base = (void *)&msg->payload, .iov_len = msg->hdr.size },
	};
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = msg->hdr.size ? 2 : 1,
	};
	size_t left = sizeof(msg->hdr) + msg->hdr.size;

	if (msg->hdr.size > VHOST_USER_MAX_PAYLOAD || msg->nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;

	if (msg->nfds) {
		struct cmsghdr *cmsg;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * msg->nfds);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * msg->nfds);
		memcpy(CMSG_DATA(cmsg), msg->fds, sizeof(int) * msg->nfds);
	}

	while (left) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		size_t adv;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				return -EPIPE;
			return -errno;
		}
		/* The fds went with the first byte; never send them twice. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		left -= n;
		adv = n;
		while (adv && mh.msg_iovlen) {
			if (adv < mh.msg_iov->iov_len) {
				mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + adv;
				mh.msg_iov->iov_len -= adv;
				adv = 0;
			} else {
				adv -= mh.msg_iov->iov_len;
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}
