// SPDX-License-Identifier: MIT
/* test-privsep.c - unit tests for busd/privsep.c: parent/router packets over SOCK_SEQPACKET.
 *
 * ps_recv() is the parent's first check on anything the (less trusted) router sends: the
 * header must describe exactly the packet that arrived, and nothing larger than PS_MSG_MAX
 * may get through, truncated or not. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common/privsep.h"

static uint8_t buf[PS_MSG_MAX];

static void pair(int sv[2])
{
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	/* Room for the largest packets in both directions. */
	int size = 4 * (int)PS_MSG_MAX;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static void send_raw(int fd, const void *data, size_t len)
{
	CHECK(send(fd, data, len, MSG_NOSIGNAL) == (ssize_t)len);
}

static void test_round_trip(void)
{
	int sv[2];
	struct ps_header hdr;

	pair(sv);
	/* No payload. */
	CHECK(ps_send(sv[0], PS_BUNDLE_BEGIN, NULL, 0, NULL, 0) == 0);
	CHECK(ps_recv(sv[1], buf, &hdr) == (ssize_t)sizeof(hdr));
	CHECK(hdr.type == PS_BUNDLE_BEGIN && hdr.len == 0);

	/* A fixed struct. */
	struct ps_key k = { .id = "alice" };
	memset(k.key, 0x42, sizeof(k.key));
	CHECK(ps_send(sv[0], PS_BUNDLE_KEY, &k, sizeof(k), NULL, 0) == 0);
	CHECK(ps_recv(sv[1], buf, &hdr) == (ssize_t)(sizeof(hdr) + sizeof(k)));
	CHECK(hdr.type == PS_BUNDLE_KEY && hdr.len == sizeof(k));
	CHECK(memcmp(buf + sizeof(hdr), &k, sizeof(k)) == 0);

	/* Fixed struct + text, up to the maximum text size. */
	struct ps_file f = { .kind = PS_FILE_MANIFEST, .id = "alice", .name = "/etc/capbus/manifests/alice.json" };
	char *text = malloc(PS_TEXT_MAX + 1);
	for (size_t i = 0; i <= PS_TEXT_MAX; i++)
		text[i] = (char)('a' + i % 26);
	const size_t sizes[] = { 1, 100, PS_TEXT_MAX - 1, PS_TEXT_MAX };
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		CHECK(ps_send(sv[0], PS_BUNDLE_FILE, &f, sizeof(f), text, sizes[i]) == 0);
		ssize_t n = ps_recv(sv[1], buf, &hdr);
		CHECK(n == (ssize_t)(sizeof(hdr) + sizeof(f) + sizes[i]));
		CHECK(hdr.type == PS_BUNDLE_FILE && hdr.len == sizeof(f) + sizes[i]);
		CHECK(memcmp(buf + sizeof(hdr), &f, sizeof(f)) == 0);
		CHECK(memcmp(buf + sizeof(hdr) + sizeof(f), text, sizes[i]) == 0);
	}
	/* Above the maximum: refused before anything is sent. */
	CHECK(ps_send(sv[0], PS_BUNDLE_FILE, &f, sizeof(f), text, PS_TEXT_MAX + 1) == -EMSGSIZE);
	free(text);

	/* Boundaries are kept: two packets stay two. */
	struct ps_request req = { .serial = 9, .id = "bob" };
	CHECK(ps_send(sv[0], PS_ADMIN_NONCE, &req, sizeof(req), NULL, 0) == 0);
	CHECK(ps_send(sv[0], PS_RELOAD, &req, sizeof(req), NULL, 0) == 0);
	CHECK(ps_recv(sv[1], buf, &hdr) == (ssize_t)(sizeof(hdr) + sizeof(req)) && hdr.type == PS_ADMIN_NONCE);
	CHECK(ps_recv(sv[1], buf, &hdr) == (ssize_t)(sizeof(hdr) + sizeof(req)) && hdr.type == PS_RELOAD);

	/* EOF, and sending to a closed peer (no SIGPIPE). */
	close(sv[0]);
	CHECK(ps_recv(sv[1], buf, &hdr) == 0);
	struct ps_reply rep = { .serial = 1 };
	CHECK(ps_send(sv[1], PS_REPLY, &rep, sizeof(rep), NULL, 0) == -EPIPE);
	close(sv[1]);

	CHECK(ps_send(-1, PS_REPLY, &rep, sizeof(rep), NULL, 0) == -EBADF);
	CHECK(ps_recv(-1, buf, &hdr) == -EBADF);
}

static void test_bad_packets(void)
{
	int sv[2];
	struct ps_header hdr, h;
	uint8_t raw[64] = { 0 };

	pair(sv);
	/* Shorter than a header. */
	for (size_t len = 1; len < sizeof(h); len++) {
		send_raw(sv[0], raw, len);
		CHECK(ps_recv(sv[1], buf, &hdr) == -EBADMSG);
	}
	/* Header length disagreeing with the packet, either way. */
	const uint32_t claims[] = { 0, 9, 11, 100, UINT32_MAX, (uint32_t)PS_MSG_MAX };
	for (size_t i = 0; i < ARRAY_LEN(claims); i++) {
		h.type = PS_ADMIN_NONCE;
		h.len = claims[i];
		memcpy(raw, &h, sizeof(h));
		send_raw(sv[0], raw, sizeof(h) + 10);
		CHECK(ps_recv(sv[1], buf, &hdr) == -EBADMSG);
	}
	h.len = 10;
	memcpy(raw, &h, sizeof(h));
	send_raw(sv[0], raw, sizeof(h) + 10);
	CHECK(ps_recv(sv[1], buf, &hdr) == (ssize_t)sizeof(h) + 10 && hdr.len == 10);

	/* Oversized packets: consumed and refused, whatever their header says; the next one is fine. */
	const size_t big_sizes[] = { PS_MSG_MAX + 1, PS_MSG_MAX + 4096, 3 * PS_MSG_MAX };
	uint8_t *big = calloc(1, 3 * PS_MSG_MAX);
	for (size_t i = 0; i < ARRAY_LEN(big_sizes); i++) {
		h.type = PS_ADMIN;
		h.len = (uint32_t)(big_sizes[i] - sizeof(h));
		memcpy(big, &h, sizeof(h));
		send_raw(sv[0], big, big_sizes[i]);
		CHECK(ps_recv(sv[1], buf, &hdr) == -EBADMSG);
		h.len = (uint32_t)(PS_MSG_MAX - sizeof(h)); /* lying about a size that would fit */
		memcpy(big, &h, sizeof(h));
		send_raw(sv[0], big, big_sizes[i]);
		CHECK(ps_recv(sv[1], buf, &hdr) == -EBADMSG);
		CHECK(ps_send(sv[0], PS_BUNDLE_END, NULL, 0, NULL, 0) == 0);
		CHECK(ps_recv(sv[1], buf, &hdr) == (ssize_t)sizeof(hdr) && hdr.type == PS_BUNDLE_END);
	}
	/* Exactly PS_MSG_MAX is the largest that passes. */
	h.len = (uint32_t)(PS_MSG_MAX - sizeof(h));
	memcpy(big, &h, sizeof(h));
	send_raw(sv[0], big, PS_MSG_MAX);
	CHECK(ps_recv(sv[1], buf, &hdr) == (ssize_t)PS_MSG_MAX);
	free(big);

	/* A zero-length packet on SOCK_SEQPACKET reads as 0; it must not pass as a message. */
	send_raw(sv[0], raw, 0);
	CHECK(ps_recv(sv[1], buf, &hdr) <= 0);
	close(sv[0]);
	close(sv[1]);
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

/* Sends a well-formed PS_REPLY carrying n_fds descriptors in one SCM_RIGHTS message. */
static void send_with_fds(int sock, int n_fds)
{
	struct ps_reply rep = { .serial = 5 };
	struct ps_header h = { .type = PS_REPLY, .len = sizeof(rep) };
	struct iovec iov[2] = { { &h, sizeof(h) }, { &rep, sizeof(rep) } };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} control = { 0 };
	int fds[8];
	for (int i = 0; i < n_fds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2, .msg_control = control.buf,
			     .msg_controllen = CMSG_SPACE((size_t)n_fds * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n_fds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n_fds * sizeof(int));
	CHECK(sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)(sizeof(h) + sizeof(rep)));
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
}

/* Descriptors the sender attached to a packet that ps_recv() does not hand on must not stay
 * open in the receiver: otherwise a peer can fill the receiver's descriptor table. */
static void test_no_fd_leak(void)
{
	int sv[2];
	struct ps_header hdr;

	pair(sv);
	size_t before = count_fds();
	for (int n_fds = 1; n_fds <= 8; n_fds++) {
		send_with_fds(sv[0], n_fds);
		/* Accepted (the descriptors dropped) or refused: either way nothing stays open. */
		ssize_t n = ps_recv(sv[1], buf, &hdr);
		CHECK(n == (ssize_t)(sizeof(hdr) + sizeof(struct ps_reply)) || n == -EBADMSG);
		size_t after = count_fds();
		CHECK(after == before);
		if (after != before)
			fprintf(stderr, "  %d passed fds: %zu descriptors left open\n", n_fds, after - before);
		before = count_fds();
	}
	close(sv[0]);
	close(sv[1]);
}

/* ps_recv_fd() hands on the first descriptor and closes the rest; after an error nothing is
 * left open once the caller has closed what *passed_fd holds. */
static void test_recv_fd(void)
{
	int sv[2], passed;
	struct ps_header hdr;
	struct stat null_st, st;

	CHECK(stat("/dev/null", &null_st) == 0);
	pair(sv);
	size_t before = count_fds();
	for (int n_fds = 1; n_fds <= 8; n_fds++) {
		send_with_fds(sv[0], n_fds);
		passed = -2;
		ssize_t n = ps_recv_fd(sv[1], buf, &hdr, &passed);
		CHECK(n == (ssize_t)(sizeof(hdr) + sizeof(struct ps_reply)));
		CHECK(passed >= 0 && fstat(passed, &st) == 0 && st.st_rdev == null_st.st_rdev);
		CHECK(passed < 0 || (fcntl(passed, F_GETFD) & FD_CLOEXEC));
		CHECK(count_fds() == before + (passed >= 0));
		if (passed >= 0)
			close(passed);
	}
	/* Without a descriptor. */
	CHECK(ps_send(sv[0], PS_BUNDLE_END, NULL, 0, NULL, 0) == 0);
	passed = -2;
	CHECK(ps_recv_fd(sv[1], buf, &hdr, &passed) == (ssize_t)sizeof(hdr) && passed == -1);
	/* A bad packet with descriptors attached. */
	struct ps_header bad = { .type = PS_ADOPT, .len = 1000 };
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	union {
		struct cmsghdr align;
		char c[CMSG_SPACE(2 * sizeof(int))];
	} control = { 0 };
	int two[2] = { devnull, devnull };
	struct iovec iov = { &bad, sizeof(bad) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.c,
			     .msg_controllen = sizeof(control.c) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(two));
	memcpy(CMSG_DATA(cm), two, sizeof(two));
	CHECK(sendmsg(sv[0], &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(bad));
	close(devnull);
	passed = -2;
	CHECK(ps_recv_fd(sv[1], buf, &hdr, &passed) == -EBADMSG);
	if (passed >= 0)
		close(passed);
	CHECK(count_fds() == before);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL);
	test_round_trip();
	test_bad_packets();
	test_no_fd_leak();
	test_recv_fd();
	return check_finish("test-privsep");
}
