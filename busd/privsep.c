// SPDX-License-Identifier: MIT
/* privsep.c - send and receive the parent/router packets; sizes checked on receipt. */
#include "privsep.h"

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

ssize_t ps_recv(int fd, uint8_t *buf, struct ps_header *hdr)
{
	for (;;) {
		ssize_t n = recv(fd, buf, PS_MSG_MAX, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? negative_errno() : 0;
		if ((size_t)n > PS_MSG_MAX || (size_t)n < sizeof(*hdr))
			return -EBADMSG;
		memcpy(hdr, buf, sizeof(*hdr));
		if (hdr->len != (size_t)n - sizeof(*hdr))
			return -EBADMSG;
		return n;
	}
}
