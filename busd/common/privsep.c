// SPDX-License-Identifier: MIT
/* privsep.c - the parent/router message table, its one decoder, and the senders.
 *
 * Trust level: runs in both processes on packets from the other one, which may be compromised.
 * Nothing reaches a handler that did not pass ps_decode(); a packet that fails it is malformed,
 * and a malformed packet ends the channel (the callers' policy). */
#include "common/privsep.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "util.h"

#define FIELD(st, m) { offsetof(struct st, m), sizeof(((struct st *)0)->m), 1 }

/* One row per type; a new type is one more row here (and a member of struct ps_msg's union). */
static const struct ps_type_info ps_table[] = {
	[PS_BUNDLE_BEGIN] = { "bundle_begin", PS_TO_ROUTER, 0, 0, false, false, { { 0 } } },
	[PS_BUNDLE_FILE] = { "bundle_file", PS_TO_ROUTER, sizeof(struct ps_file), PS_TEXT_MAX, false, false,
			     { FIELD(ps_file, id), FIELD(ps_file, name) } },
	[PS_BUNDLE_KEY] = { "bundle_key", PS_TO_ROUTER, sizeof(struct ps_key), 0, false, true, { FIELD(ps_key, id) } },
	[PS_BUNDLE_END] = { "bundle_end", PS_TO_ROUTER, 0, 0, false, false, { { 0 } } },
	[PS_RELOAD] = { "reload", PS_TO_PARENT, sizeof(struct ps_request), 0, false, false, { FIELD(ps_request, id) } },
	[PS_REPLY] = { "reply", PS_TO_ROUTER, sizeof(struct ps_reply), 0, false, true, { FIELD(ps_reply, id) } },
	[PS_ADOPT] = { "adopt", PS_TO_ROUTER, sizeof(struct ps_adopt), 0, true, false, { FIELD(ps_adopt, id) } },
	[PS_SKILL_STATE] = { "skill_state", PS_TO_ROUTER, sizeof(struct ps_skill_state), 0, false, false,
			     { FIELD(ps_skill_state, id), FIELD(ps_skill_state, state), FIELD(ps_skill_state, last_exit) } },
	[PS_PEER_POLICY] = { "peer_policy", PS_TO_ROUTER, sizeof(struct ps_peer_policy), 0, false, false, { { 0 } } },
	[PS_PEER_CHECK] = { "peer_check", PS_TO_PARENT, sizeof(struct ps_peer_check), 0, false, false, { { 0 } } },
	[PS_PEER_VERDICT] = { "peer_verdict", PS_TO_ROUTER, sizeof(struct ps_peer_verdict), 0, false, false, { { 0 } } },
	[PS_GUARD_QUERY] = { "guard_query", PS_TO_PARENT, sizeof(struct ps_request), 0, false, false,
			     { FIELD(ps_request, id) } },
	[PS_GUARD_INFO] = { "guard_info", PS_TO_ROUTER, sizeof(struct ps_guard_info), 0, false, false,
			    { FIELD(ps_guard_info, mode), FIELD(ps_guard_info, scope), FIELD(ps_guard_info, socket),
			      { offsetof(struct ps_guard_info, cgroups), sizeof(((struct ps_guard_info *)0)->cgroups[0]),
				PS_GUARD_CGROUPS } } },
	[PS_ROUTER_CONFIG] = { "router_config", PS_TO_ROUTER, sizeof(struct ps_router_config), 0, false, false, { { 0 } } },
	[PS_ROUTER_READY] = { "router_ready", PS_TO_PARENT, 0, 0, false, false, { { 0 } } },
	/* 5-8 held the unsigned admin requests: no row, so they are unknown types. */
	[PS_ADMIN_NONCE] = { "admin_nonce", PS_TO_PARENT, sizeof(struct ps_request), 0, false, false,
			     { FIELD(ps_request, id) } },
	[PS_NONCE] = { "nonce", PS_TO_ROUTER, sizeof(struct ps_nonce), 0, false, false, { { 0 } } },
	/* arg + body: at most PS_TEXT_MAX bytes together; admin.c checks how they split */
	[PS_ADMIN] = { "admin", PS_TO_PARENT, sizeof(struct ps_admin), PS_TEXT_MAX, false, false,
		       { FIELD(ps_admin, id) } },
	[PS_LOGS_QUERY] = { "logs_query", PS_TO_PARENT, sizeof(struct ps_logs_query), 0, false, false,
			    { FIELD(ps_logs_query, id) } },
	[PS_LOGS] = { "logs", PS_TO_ROUTER, sizeof(struct ps_logs), PS_TEXT_MAX, false, false, { { 0 } } },
	[PS_GATEWAY_PEER] = { "gateway_peer", PS_TO_ROUTER, sizeof(struct ps_gateway_peer), 0, false, false, { { 0 } } },
};

/* Every fixed part must fit the decoded message's union, and every packet the receive buffer. */
_Static_assert(sizeof(struct ps_guard_info) <= sizeof(((struct ps_msg *)0)->u), "union too small");
_Static_assert(sizeof(struct ps_file) + PS_TEXT_MAX + sizeof(struct ps_header) <= PS_MSG_MAX, "PS_MSG_MAX too small");

const struct ps_type_info *ps_type_info(uint32_t type)
{
	if (type >= ARRAY_SIZE(ps_table) || !ps_table[type].name)
		return NULL;
	return &ps_table[type];
}

const char *ps_type_name(uint32_t type)
{
	const struct ps_type_info *info = ps_type_info(type);
	return info ? info->name : "unknown";
}

static bool size_ok(const struct ps_type_info *info, size_t len)
{
	if (info->text_max == 0)
		return len == info->fixed;
	return len >= info->fixed && len - info->fixed <= info->text_max;
}

static int malformed(struct ps_msg *msg, int passed_fd, const char *reason)
{
	if (passed_fd >= 0)
		close(passed_fd);
	msg->fd = -1;
	msg->reason = reason;
	return PS_MALFORMED;
}

int ps_decode(uint8_t *buf, size_t n, size_t n_fds, int passed_fd, bool truncated, enum ps_dir to,
	      struct ps_msg *msg)
{
	struct ps_header hdr;

	memset(msg, 0, sizeof(*msg));
	msg->fd = -1;
	msg->size = (uint32_t)(n >= sizeof(hdr) ? n - sizeof(hdr) : n);
	if (n >= sizeof(hdr)) {
		memcpy(&hdr, buf, sizeof(hdr));
		msg->type = hdr.type;
	}
	if (truncated || n > PS_MSG_MAX)
		return malformed(msg, passed_fd, "oversized");
	if (n < sizeof(hdr))
		return malformed(msg, passed_fd, "short_header");
	if (hdr.len != n - sizeof(hdr))
		return malformed(msg, passed_fd, "length_mismatch");
	const struct ps_type_info *info = ps_type_info(hdr.type);
	if (!info)
		return malformed(msg, passed_fd, "unknown_type");
	if (info->dir != to)
		return malformed(msg, passed_fd, "wrong_direction");
	if (!size_ok(info, hdr.len))
		return malformed(msg, passed_fd, "bad_size");
	if (info->fd && n_fds == 0)
		return malformed(msg, passed_fd, "missing_fd");
	if (info->fd ? n_fds > 1 : n_fds > 0)
		return malformed(msg, passed_fd, "unexpected_fd");
	const uint8_t *payload = buf + sizeof(hdr);
	for (size_t i = 0; i < PS_TEXT_FIELDS_MAX && info->text_fields[i].len; i++) {
		const struct ps_text_field *f = &info->text_fields[i];
		for (size_t j = 0; j < f->count; j++)
			if (!memchr(payload + f->off + j * f->len, '\0', f->len))
				return malformed(msg, passed_fd, "unterminated");
	}
	memcpy(&msg->u, payload, info->fixed);
	if (info->text_max) {
		msg->text = (const char *)payload + info->fixed;
		msg->text_len = hdr.len - info->fixed;
	}
	if (info->secret)
		explicit_bzero(buf, n); /* the copy in *msg is the only one left */
	msg->fd = passed_fd;
	return 0;
}

void ps_msg_wipe(struct ps_msg *msg)
{
	if (msg->fd >= 0)
		close(msg->fd);
	explicit_bzero(msg, sizeof(*msg));
	msg->fd = -1;
}

int ps_check_outgoing(uint32_t type, size_t fixed_len, size_t text_len, bool with_fd)
{
	const struct ps_type_info *info = ps_type_info(type);

	if (!info || fixed_len != info->fixed || text_len > info->text_max || with_fd != info->fd)
		return -EINVAL;
	return 0;
}


int ps_send(int fd, enum ps_type type, const void *fixed, size_t fixed_len, const void *text, size_t text_len)
{
	struct ps_header hdr = { .type = type, .len = (uint32_t)(fixed_len + text_len) };
	struct iovec iov[3] = { { &hdr, sizeof(hdr) }, { (void *)fixed, fixed_len }, { (void *)text, text_len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

	if (text_len > PS_TEXT_MAX)
		return -EMSGSIZE;
	if (ps_check_outgoing(type, fixed_len, text_len, false) < 0)
		return -EINVAL;
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
	if (ps_check_outgoing(type, fixed_len, 0, passed_fd >= 0) < 0)
		return -EINVAL;
	memcpy(packet, &hdr, sizeof(hdr));
	memcpy(packet + sizeof(hdr), fixed, fixed_len);
	return ps_send_packet(fd, packet, sizeof(hdr) + fixed_len, passed_fd, 0);
}

int ps_read(int fd, enum ps_dir to, uint8_t *buf, struct ps_msg *msg)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(16 * sizeof(int))];
		} control;
		struct iovec iov = { buf, PS_MSG_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		int passed = -1;
		size_t n_fds = 0;

		memset(msg, 0, sizeof(*msg));
		msg->fd = -1;
		ssize_t n = recvmsg(fd, &mh, MSG_TRUNC | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		/* Keep the first descriptor for the decoder; close every other one that came along. */
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++, n_fds++) {
				int got;
				memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (passed < 0)
					passed = got;
				else
					close(got);
			}
		}
		if (n == 0 && n_fds == 0)
			return PS_EOF;
		return ps_decode(buf, (size_t)n, n_fds, passed, (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0, to, msg);
	}
}
