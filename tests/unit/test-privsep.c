// SPDX-License-Identifier: MIT
/* test-privsep.c - unit tests for busd/common/privsep.c: the message table and its one decoder.
 *
 * Each side of the privsep channel treats the other as compromised: whatever the table does not
 * allow for a type (size, direction, descriptor, unterminated text) must come out of ps_read()
 * as PS_MALFORMED with a reason, and no descriptor may stay open in the receiver. Packets go
 * through real SOCK_SEQPACKET socket pairs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common/privsep.h"

static uint8_t buf[PS_MSG_MAX];
static uint8_t payload[PS_MSG_MAX + 16];

/* The table as this test expects it, written out independently: numbers, who receives, sizes. */
struct expect {
	uint32_t type;
	enum ps_dir to;
	size_t fixed;
	size_t text_max;
	bool fd;
	bool secret; /* may carry key material: the decoder wipes the packet */
};
static const struct expect expected[] = {
	{ 1, PS_TO_ROUTER, 0, 0, false, false },                                  /* bundle_begin */
	{ 2, PS_TO_ROUTER, sizeof(struct ps_file), PS_TEXT_MAX, false, false },   /* bundle_file */
	{ 3, PS_TO_ROUTER, sizeof(struct ps_key), 0, false, true },               /* bundle_key */
	{ 4, PS_TO_ROUTER, 0, 0, false, false },                                  /* bundle_end */
	/* 5-8 held the unsigned admin requests: gone, never reused. */
	{ 9, PS_TO_PARENT, sizeof(struct ps_request), 0, false, false },          /* reload */
	{ 10, PS_TO_ROUTER, sizeof(struct ps_reply), 0, false, true },            /* reply (keygen: a key) */
	{ 11, PS_TO_ROUTER, sizeof(struct ps_adopt), 0, true, false },            /* adopt */
	{ 12, PS_TO_ROUTER, sizeof(struct ps_skill_state), 0, false, false },     /* skill_state */
	{ 13, PS_TO_ROUTER, sizeof(struct ps_peer_policy), 0, false, false },     /* peer_policy */
	{ 14, PS_TO_PARENT, sizeof(struct ps_peer_check), 0, false, false },      /* peer_check */
	{ 15, PS_TO_ROUTER, sizeof(struct ps_peer_verdict), 0, false, false },    /* peer_verdict */
	{ 16, PS_TO_PARENT, sizeof(struct ps_request), 0, false, false },         /* guard_query */
	{ 17, PS_TO_ROUTER, sizeof(struct ps_guard_info), 0, false, false },      /* guard_info */
	{ 18, PS_TO_ROUTER, sizeof(struct ps_router_config), 0, false, false },   /* router_config */
	{ 19, PS_TO_PARENT, 0, 0, false, false },                                 /* router_ready */
	{ 20, PS_TO_PARENT, sizeof(struct ps_request), 0, false, false },         /* admin_nonce */
	{ 21, PS_TO_ROUTER, sizeof(struct ps_nonce), 0, false, false },           /* nonce */
	{ 22, PS_TO_PARENT, sizeof(struct ps_admin), PS_TEXT_MAX, false, false }, /* admin: arg + body */
	{ 23, PS_TO_PARENT, sizeof(struct ps_logs_query), 0, false, false },      /* logs_query */
	{ 24, PS_TO_ROUTER, sizeof(struct ps_logs), PS_TEXT_MAX, false, false },  /* logs: the lines */
	{ 25, PS_TO_ROUTER, sizeof(struct ps_gateway_peer), 0, false, false },    /* gateway_peer */
};
/* Numbers with no row: the removed admin requests and the first past the end. */
static const uint32_t no_such_type[] = { 5, 6, 7, 8, 26 };

static enum ps_dir other(enum ps_dir d)
{
	return d == PS_TO_ROUTER ? PS_TO_PARENT : PS_TO_ROUTER;
}

static void pair(int sv[2])
{
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	/* Room for the largest packets. */
	int size = 4 * (int)PS_MSG_MAX;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Sends header(type, len) + payload[0..len) with n_fds descriptors of /dev/null attached. */
static void send_raw(int sock, uint32_t type, size_t len, int n_fds)
{
	struct ps_header h = { .type = type, .len = (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { payload, len } };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control = { 0 };
	int fds[4];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	for (int i = 0; i < n_fds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (n_fds > 0) {
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)n_fds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)n_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)n_fds * sizeof(int));
	}
	CHECK(sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)(sizeof(h) + len));
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
}

/* Expects the next packet on fd to be refused for `reason` (NULL: any reason), with no
 * descriptor left open. */
static void expect_malformed(int fd, enum ps_dir to, const char *reason, uint32_t type, const char *what)
{
	struct ps_msg msg;
	size_t before = count_fds();
	int r = ps_read(fd, to, buf, &msg);

	CHECK(r == PS_MALFORMED);
	CHECK(msg.fd == -1);
	CHECK(count_fds() == before);
	if (reason)
		CHECK_STREQ(msg.reason, reason);
	if (r != PS_MALFORMED || (reason && (!msg.reason || strcmp(msg.reason, reason) != 0)))
		fprintf(stderr, "  type %u (%s), %s: got %d reason=%s\n", type, ps_type_name(type), what, r,
			r == PS_MALFORMED ? msg.reason : "-");
}

static void expect_ok(int fd, enum ps_dir to, uint32_t type, size_t len, bool with_fd)
{
	struct ps_msg msg;
	int r = ps_read(fd, to, buf, &msg);

	CHECK(r == 0);
	if (r != 0) {
		fprintf(stderr, "  type %u (%s), %zu bytes: got %d reason=%s\n", type, ps_type_name(type), len, r,
			r == PS_MALFORMED ? msg.reason : "-");
		return;
	}
	CHECK(msg.type == type);
	CHECK(msg.size == len);
	CHECK(with_fd ? msg.fd >= 0 : msg.fd == -1);
	CHECK(msg.fd < 0 || (fcntl(msg.fd, F_GETFD) & FD_CLOEXEC));
	const struct ps_type_info *info = ps_type_info(type);
	CHECK(memcmp(&msg.u, payload, info->fixed) == 0);
	if (info->text_max) {
		CHECK(msg.text_len == len - info->fixed);
		CHECK(msg.text_len == 0 || memcmp(msg.text, payload + info->fixed, msg.text_len) == 0);
	} else {
		CHECK(msg.text == NULL && msg.text_len == 0);
	}
	ps_msg_wipe(&msg);
}

/* A payload whose text fields are terminated and whose other bytes are not zero. */
static void fill_payload(const struct ps_type_info *info, size_t len)
{
	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	for (size_t i = 0; i < PS_TEXT_FIELDS_MAX && info->text_fields[i].len; i++) {
		const struct ps_text_field *f = &info->text_fields[i];
		for (size_t j = 0; j < f->count; j++)
			payload[f->off + j * f->len + f->len - 1] = '\0';
	}
}

static void test_table(void)
{
	/* Every type this test knows is in the table with the expected row, and nothing else is. */
	for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
		const struct expect *e = &expected[i];
		const struct ps_type_info *info = ps_type_info(e->type);
		CHECK(info != NULL);
		if (!info)
			continue;
		CHECK(info->dir == e->to);
		CHECK(info->fixed == e->fixed);
		CHECK(info->text_max == e->text_max);
		CHECK(info->fd == e->fd);
		CHECK(info->secret == e->secret);
		CHECK(strcmp(ps_type_name(e->type), "unknown") != 0);
		if (info->dir != e->to || info->fixed != e->fixed || info->text_max != e->text_max || info->fd != e->fd ||
		    info->secret != e->secret)
			fprintf(stderr, "  type %u (%s): row differs\n", e->type, info->name);
	}
	CHECK(ps_type_info(0) == NULL);
	for (size_t i = 0; i < ARRAY_LEN(no_such_type); i++) {
		CHECK(ps_type_info(no_such_type[i]) == NULL);
		CHECK_STREQ(ps_type_name(no_such_type[i]), "unknown");
	}
	CHECK(ps_type_info(UINT32_MAX) == NULL);
	CHECK_STREQ(ps_type_name(12345), "unknown");
	/* The values the other process (and other branches) rely on. */
	CHECK(PS_RELOAD == 9 && PS_REPLY == 10 && PS_GUARD_INFO == 17 && PS_ROUTER_CONFIG == 18 && PS_ROUTER_READY == 19);
	CHECK(PS_ADMIN_NONCE == 20 && PS_NONCE == 21 && PS_ADMIN == 22 && PS_LOGS_QUERY == 23 && PS_LOGS == 24 &&
	      PS_GATEWAY_PEER == 25);
	CHECK(sizeof(struct ps_gateway_peer) == 16 && PS_DELEGATION_OFF == 0 && PS_DELEGATION_ANY == 1 &&
	      PS_DELEGATION_SUPERVISED == 2);
	CHECK(sizeof(struct ps_router_config) == 96);
	CHECK(sizeof(struct ps_nonce) == 40 && sizeof(struct ps_admin) == 160);
	/* Senders check against the same rows. */
	CHECK(ps_check_outgoing(PS_ADMIN_NONCE, sizeof(struct ps_request), 0, false) == 0);
	CHECK(ps_check_outgoing(PS_ADMIN_NONCE, sizeof(struct ps_request) - 1, 0, false) == -EINVAL);
	CHECK(ps_check_outgoing(PS_ADMIN_NONCE, sizeof(struct ps_request), 1, false) == -EINVAL);
	CHECK(ps_check_outgoing(PS_ADOPT, sizeof(struct ps_adopt), 0, false) == -EINVAL);
	CHECK(ps_check_outgoing(PS_ADOPT, sizeof(struct ps_adopt), 0, true) == 0);
	CHECK(ps_check_outgoing(PS_ADMIN, sizeof(struct ps_admin), PS_TEXT_MAX, false) == 0);
	CHECK(ps_check_outgoing(PS_ADMIN, sizeof(struct ps_admin), PS_TEXT_MAX + 1, false) == -EINVAL);
	CHECK(ps_check_outgoing(PS_ADMIN, sizeof(struct ps_request), 0, false) == -EINVAL);
	for (size_t i = 0; i < ARRAY_LEN(no_such_type); i++)
		CHECK(ps_check_outgoing(no_such_type[i], sizeof(struct ps_request), 0, false) == -EINVAL);
	CHECK(ps_check_outgoing(99, 0, 0, false) == -EINVAL);
}

/* For every type: exact size accepted; one byte short or long, the wrong direction, a descriptor
 * where none belongs, a missing one, and each unterminated char array refused. */
static void test_every_type(void)
{
	int sv[2];

	pair(sv);
	for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
		uint32_t type = expected[i].type;
		const struct ps_type_info *info = ps_type_info(type);
		if (!info)
			continue;
		int n_fds = info->fd ? 1 : 0;
		size_t fixed = info->fixed;

		fill_payload(info, fixed + 64);
		/* Exact size (and, for text types, with text up to the maximum). */
		send_raw(sv[0], type, fixed, n_fds);
		expect_ok(sv[1], info->dir, type, fixed, info->fd);
		if (info->text_max) {
			send_raw(sv[0], type, fixed + 64, n_fds);
			expect_ok(sv[1], info->dir, type, fixed + 64, info->fd);
			if (sizeof(struct ps_header) + fixed + info->text_max <= PS_MSG_MAX) {
				fill_payload(info, fixed + info->text_max + 1);
				send_raw(sv[0], type, fixed + info->text_max, n_fds);
				expect_ok(sv[1], info->dir, type, fixed + info->text_max, info->fd);
				/* One byte of text too many. */
				send_raw(sv[0], type, fixed + info->text_max + 1, n_fds);
				expect_malformed(sv[1], info->dir,
						 sizeof(struct ps_header) + fixed + info->text_max + 1 > PS_MSG_MAX ? "oversized" :
														       "bad_size",
						 type, "text one byte long");
				fill_payload(info, fixed + 64);
			}
		} else {
			/* One byte long. */
			send_raw(sv[0], type, fixed + 1, n_fds);
			expect_malformed(sv[1], info->dir, "bad_size", type, "one byte long");
		}
		/* One byte short. */
		if (fixed > 0) {
			send_raw(sv[0], type, fixed - 1, n_fds);
			expect_malformed(sv[1], info->dir, "bad_size", type, "one byte short");
		}
		/* Sent the wrong way: a router cannot send what only the parent may, and back. */
		send_raw(sv[0], type, fixed, n_fds);
		expect_malformed(sv[1], other(info->dir), "wrong_direction", type, "wrong direction");
		/* Descriptors. */
		if (info->fd) {
			send_raw(sv[0], type, fixed, 0);
			expect_malformed(sv[1], info->dir, "missing_fd", type, "missing fd");
			send_raw(sv[0], type, fixed, 2);
			expect_malformed(sv[1], info->dir, "unexpected_fd", type, "two fds");
		} else {
			send_raw(sv[0], type, fixed, 1);
			expect_malformed(sv[1], info->dir, "unexpected_fd", type, "unexpected fd");
			send_raw(sv[0], type, fixed, 3);
			expect_malformed(sv[1], info->dir, "unexpected_fd", type, "three unexpected fds");
		}
		/* Every char array must hold its NUL (the last element of an array of arrays too). */
		for (size_t f = 0; f < PS_TEXT_FIELDS_MAX && info->text_fields[f].len; f++) {
			const struct ps_text_field *tf = &info->text_fields[f];
			size_t at = tf->off + (tf->count - 1) * tf->len;
			memset(payload + at, 'A', tf->len);
			send_raw(sv[0], type, fixed, n_fds);
			expect_malformed(sv[1], info->dir, "unterminated", type, "unterminated char array");
			fill_payload(info, fixed + 64);
		}
	}
	close(sv[0]);
	close(sv[1]);
}

/* Packets that are not messages at all. */
static void test_bad_packets(void)
{
	int sv[2];
	struct ps_msg msg;
	struct ps_header h;
	uint8_t raw[64] = { 0 };

	pair(sv);
	/* Shorter than a header. */
	for (size_t len = 1; len < sizeof(h); len++) {
		CHECK(send(sv[0], raw, len, MSG_NOSIGNAL) == (ssize_t)len);
		expect_malformed(sv[1], PS_TO_PARENT, "short_header", 0, "short header");
	}
	/* Header length disagreeing with the packet, either way. */
	const uint32_t claims[] = { 0, 9, 11, 100, UINT32_MAX, (uint32_t)PS_MSG_MAX };
	for (size_t i = 0; i < ARRAY_LEN(claims); i++) {
		h.type = PS_ADMIN_NONCE;
		h.len = claims[i];
		memcpy(raw, &h, sizeof(h));
		CHECK(send(sv[0], raw, sizeof(h) + 10, MSG_NOSIGNAL) == (ssize_t)sizeof(h) + 10);
		expect_malformed(sv[1], PS_TO_PARENT, "length_mismatch", PS_ADMIN_NONCE, "length mismatch");
	}
	/* Types that do not exist, with and without a descriptor. */
	const uint32_t unknown[] = { 0, 5, 6, 7, 8, 26, 200, UINT32_MAX };
	for (size_t i = 0; i < ARRAY_LEN(unknown); i++) {
		send_raw(sv[0], unknown[i], 8, (int)(i % 2));
		expect_malformed(sv[1], PS_TO_PARENT, "unknown_type", unknown[i], "unknown type");
	}
	/* Oversized packets: consumed and refused whatever the header says; the next one is fine. */
	uint8_t *big = calloc(1, 3 * PS_MSG_MAX);
	const size_t big_sizes[] = { PS_MSG_MAX + 1, 3 * PS_MSG_MAX };
	for (size_t i = 0; i < ARRAY_LEN(big_sizes); i++) {
		h.type = PS_ADMIN;
		h.len = (uint32_t)(big_sizes[i] - sizeof(h));
		memcpy(big, &h, sizeof(h));
		CHECK(send(sv[0], big, big_sizes[i], MSG_NOSIGNAL) == (ssize_t)big_sizes[i]);
		expect_malformed(sv[1], PS_TO_PARENT, "oversized", PS_ADMIN, "oversized");
		CHECK(ps_send(sv[0], PS_RELOAD, &(struct ps_request){ .serial = 1 }, sizeof(struct ps_request), NULL, 0) == 0);
		CHECK(ps_read(sv[1], PS_TO_PARENT, buf, &msg) == 0 && msg.type == PS_RELOAD && msg.u.request.serial == 1);
	}
	free(big);
	/* EOF. */
	close(sv[0]);
	CHECK(ps_read(sv[1], PS_TO_PARENT, buf, &msg) == PS_EOF);
	close(sv[1]);
	CHECK(ps_read(-1, PS_TO_PARENT, buf, &msg) == -EBADF);
}

/* The senders: they refuse what the table does not allow, and what they send decodes. */
static void test_send(void)
{
	int sv[2];
	struct ps_msg msg;

	pair(sv);
	struct ps_file f = { .kind = PS_FILE_MANIFEST, .id = "alice", .name = "/etc/capbus/manifests/alice.json" };
	char *text = malloc(PS_TEXT_MAX + 1);
	for (size_t i = 0; i <= PS_TEXT_MAX; i++)
		text[i] = (char)('a' + i % 26);
	CHECK(ps_send(sv[0], PS_BUNDLE_FILE, &f, sizeof(f), text, PS_TEXT_MAX) == 0);
	CHECK(ps_read(sv[1], PS_TO_ROUTER, buf, &msg) == 0);
	CHECK(msg.type == PS_BUNDLE_FILE && msg.text_len == PS_TEXT_MAX && memcmp(msg.text, text, PS_TEXT_MAX) == 0);
	CHECK_STREQ(msg.u.file.id, "alice");
	CHECK(ps_send(sv[0], PS_BUNDLE_FILE, &f, sizeof(f), text, PS_TEXT_MAX + 1) == -EMSGSIZE);
	free(text);
	/* Wrong sizes and descriptors are refused before anything is sent. */
	struct ps_request req = { .serial = 7, .id = "bob" };
	CHECK(ps_send(sv[0], PS_ADMIN_NONCE, &req, sizeof(req) - 1, NULL, 0) == -EINVAL);
	CHECK(ps_send(sv[0], PS_ADMIN_NONCE, &req, sizeof(req), "x", 1) == -EINVAL);
	CHECK(ps_send(sv[0], PS_ADOPT, &req, sizeof(struct ps_adopt), NULL, 0) == -EINVAL);
	struct ps_adopt a = { .id = "carol", .pid = 42, .uid = 1000 };
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(ps_send_fd(sv[0], PS_ADMIN_NONCE, &req, sizeof(req), devnull) == -EINVAL);
	CHECK(ps_send_fd(sv[0], PS_ADOPT, &a, sizeof(a), -1) == -EINVAL);
	CHECK(ps_send_fd(sv[0], PS_ADOPT, &a, sizeof(a), devnull) == 0);
	close(devnull);
	CHECK(ps_read(sv[1], PS_TO_ROUTER, buf, &msg) == 0);
	CHECK(msg.type == PS_ADOPT && msg.fd >= 0 && msg.u.adopt.pid == 42);
	CHECK_STREQ(msg.u.adopt.id, "carol");
	size_t with = count_fds();
	ps_msg_wipe(&msg);
	CHECK(count_fds() == with - 1 && msg.fd == -1);
	/* A key: the decoder leaves no copy in the receive buffer, only in the message. */
	struct ps_key k = { .id = "alice" };
	memset(k.key, 0x5a, sizeof(k.key));
	CHECK(ps_send(sv[0], PS_BUNDLE_KEY, &k, sizeof(k), NULL, 0) == 0);
	CHECK(ps_read(sv[1], PS_TO_ROUTER, buf, &msg) == 0);
	CHECK(msg.type == PS_BUNDLE_KEY && memcmp(msg.u.key.key, k.key, sizeof(k.key)) == 0);
	uint8_t zero[sizeof(struct ps_header) + sizeof(struct ps_key)] = { 0 };
	CHECK(memcmp(buf, zero, sizeof(zero)) == 0);
	ps_msg_wipe(&msg);
	CHECK(memcmp(&msg.u, zero, sizeof(k)) == 0);
	/* To a closed peer: an error, no SIGPIPE. */
	close(sv[1]);
	CHECK(ps_send(sv[0], PS_ROUTER_READY, NULL, 0, NULL, 0) == -EPIPE);
	close(sv[0]);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL);
	test_table();
	test_every_type();
	test_bad_packets();
	test_send();
	return check_finish("test-privsep");
}
