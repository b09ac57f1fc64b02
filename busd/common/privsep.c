// SPDX-License-Identifier: MIT
/* privsep.c - send and receive the parent/router packets; sizes checked on receipt. */
#include "common/privsep.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include "util.h"

int ps_send(int fd, enum ps_type type, const void *fixed, size_t fixed_len, const void *text, size_t text_len)
{
	struct ps_header hdr = { .type = type, .len = (uint32_t)(fixed_len + text_len) };
	struct iovec iov[3] = { { &hdr, sizeof(hdr) }, { (void *)fixed, fixed_len }, { (void *)text, text_len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

	if (text_len > PS_TEXT_MAX)
		return -EMSGSIZE;
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n >= 0)
			return (size_t)n == sizeof(hdr) + fixed_len + text_len ? 0 : -EIO;
		if (errno != EINTR)
			return negative_errno();
	}
}

int ps_send_packet(int fd, const void *packet, size_t len, int passed_fd, int flags)
{
	struct iovec iov = { (void *)packet, len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (passed_fd >= 0) {
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passed_fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
		if (n >= 0)
			return (size_t)n == len ? 0 : -EIO;
		if (errno != EINTR)
			return negative_errno();
	}
}

int ps_send_fd(int fd, enum ps_type type, const void *fixed, size_t fixed_len, int passed_fd)
{
	struct ps_header hdr = { .type = type, .len = (uint32_t)fixed_len };
	uint8_t packet[sizeof(hdr) + 256];

	if (fixed_len > sizeof(packet) - sizeof(hdr))
		return -EMSGSIZE;
	memcpy(packet, &hdr, sizeof(hdr));
	memcpy(packet + sizeof(hdr), fixed, fixed_len);
	return ps_send_packet(fd, packet, sizeof(hdr) + fixed_len, passed_fd, 0);
}

ssize_t ps_recv(int fd, uint8_t *buf, struct ps_header *hdr)
{
	int passed = -1;
	ssize_t n = ps_recv_fd(fd, buf, hdr, &passed);
	if (passed >= 0)
		close(passed);
	return n;
}

ssize_t ps_recv_fd(int fd, uint8_t *buf, struct ps_header *hdr, int *passed_fd)
{
	*passed_fd = -1;
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(16 * sizeof(int))];
		} control;
		struct iovec iov = { buf, PS_MSG_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_TRUNC | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? negative_errno() : 0;
		/* Keep the first descriptor; close every other one that came along. */
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t n_fds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n_fds; i++) {
				int got;
				memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (*passed_fd < 0)
					*passed_fd = got;
				else
					close(got);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			return -EBADMSG;
		if ((size_t)n > PS_MSG_MAX || (size_t)n < sizeof(*hdr))
			return -EBADMSG;
		memcpy(hdr, buf, sizeof(*hdr));
		if (hdr->len != (size_t)n - sizeof(*hdr))
			return -EBADMSG;
		return n;
	}
}
