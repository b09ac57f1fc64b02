/* SPDX-License-Identifier: MIT */
/* guard-testlib.c - fixtures for the kernel guard tests; see guard-testlib.h.
 *
 * Test code: on a failed REQUIRE in the test process itself, the subtree registered last is
 * removed (after killing the children registered by pid) before exiting, so a failing run
 * leaves nothing behind on a shared machine. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroupfs.h"
#include "guard-testlib.h"
#include "guard.h"
#include "util.h"

/* Test-only process state: the subtree to remove when a REQUIRE fails in the test process. */
static struct tl_subtree *tl_cleanup_tree;

static void tl_cleanup(void)
{
	if (tl_cleanup_tree)
		tl_subtree_remove(tl_cleanup_tree);
}

void tl_require_kernel_guard(void)
{
	int r;

	if (geteuid() != 0)
		check_skip("needs root (CAP_BPF, CAP_NET_ADMIN, cgroup writes)");
	r = guard_probe(0);
	if (r < 0) {
		char why[128];

		snprintf(why, sizeof(why), "kernel guard unavailable: guard_probe()=%d (%s)", r, strerror(-r));
		check_skip(why);
	}
}

const char *tl_path(const struct tl_subtree *t, const char *child, char *buf, size_t n)
{
	if (!child || !*child)
		snprintf(buf, n, "%s", t->root);
	else
		snprintf(buf, n, "%s/%s", t->root, child);
	return buf;
}

uint64_t tl_cgroup_id(const char *path)
{
	uint64_t id = 0;

	REQUIRE(cgroup_id_of_path(path, &id) == 0);
	return id;
}

int tl_subtree_create(struct tl_subtree *t, const char *tag, const char *const *children)
{
	char own[PATH_MAX], p[PATH_MAX];
	int r;

	memset(t, 0, sizeof(*t));
	r = cgroup_v2_path_of_pid(0, own, sizeof(own));
	if (r < 0)
		return r;
	r = snprintf(t->root, sizeof(t->root), "%.3900s/capbus-test-%d-%.64s", own, (int)getpid(), tag);
	if (r < 0 || (size_t)r >= sizeof(t->root)) {
		t->root[0] = 0;
		return -ENAMETOOLONG;
	}
	if (mkdir(t->root, 0755) < 0)
		return negative_errno();
	tl_cleanup_tree = t;
	check_on_abort(tl_cleanup);
	for (int i = 0; children && children[i]; i++) {
		if (t->nchildren >= (int)ARRAY_SIZE(t->children))
			return -E2BIG;
		t->children[t->nchildren] = strdup(children[i]);
		if (!t->children[t->nchildren])
			return -ENOMEM;
		t->nchildren++;
		if (mkdir(tl_path(t, children[i], p, sizeof(p)), 0755) < 0)
			return negative_errno();
	}
	return 0;
}

/* Move any process left in a cgroup (a test that failed half-way) out by killing it by pid. */
static void kill_members(const char *dir)
{
	char p[PATH_MAX], line[64];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	f = fopen(p, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint64_t pid;

		line[strcspn(line, "\n")] = 0;
		if (parse_u64(line, INT32_MAX, &pid) == 0 && (pid_t)pid != getpid()) {
			kill((pid_t)pid, SIGKILL);
			waitpid((pid_t)pid, NULL, 0);
		}
	}
}

void tl_subtree_remove(struct tl_subtree *t)
{
	char p[PATH_MAX];

	if (!t->root[0])
		return;
	/* Deepest first: children were created parents-first. */
	for (int i = t->nchildren - 1; i >= 0; i--) {
		tl_path(t, t->children[i], p, sizeof(p));
		kill_members(p);
		if (rmdir(p) < 0 && errno != ENOENT)
			fprintf(stderr, "warning: rmdir %s: %s\n", p, strerror(errno));
		free(t->children[i]);
		t->children[i] = NULL;
	}
	kill_members(t->root);
	if (rmdir(t->root) < 0 && errno != ENOENT)
		fprintf(stderr, "warning: rmdir %s: %s\n", t->root, strerror(errno));
	t->root[0] = 0;
	t->nchildren = 0;
	if (tl_cleanup_tree == t)
		tl_cleanup_tree = NULL;
}

int tl_enter_cgroup(const char *path)
{
	char p[PATH_MAX];
	_cleanup_close_ int fd = -1;

	snprintf(p, sizeof(p), "%s/cgroup.procs", path);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (write(fd, "0", 1) != 1)
		return negative_errno();
	return 0;
}

pid_t tl_spawn_in(const char *path, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0) {
		int r;

		if (path && tl_enter_cgroup(path) < 0)
			_exit(201);
		r = fn(arg);
		_exit(r < 0 || r > 255 ? 202 : r);
	}
	return pid;
}

int tl_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

int tl_run_in(const char *path, int (*fn)(void *), void *arg)
{
	return tl_wait(tl_spawn_in(path, fn, arg));
}

socklen_t tl_unix_addr(const char *name, struct sockaddr_un *sa)
{
	size_t l = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	REQUIRE(l > 0 && l <= sizeof(sa->sun_path));
	memcpy(sa->sun_path, name, l);
	if (name[0] == '@') {
		sa->sun_path[0] = 0;
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + 1 > sizeof(*sa) ? sizeof(*sa) :
			   offsetof(struct sockaddr_un, sun_path) + l + 1);
}

static int listen_unix(const char *name)
{
	struct sockaddr_un sa;
	socklen_t len = tl_unix_addr(name, &sa);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		return negative_errno();
	if (listen(fd, 512) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

int tl_listen_abstract(const char *name)
{
	char n[120];

	snprintf(n, sizeof(n), "@%s", name);
	return listen_unix(n);
}

int tl_listen_path(const char *path)
{
	return listen_unix(path);
}

int tl_connect_fd(int fd, const char *name)
{
	struct sockaddr_un sa;
	socklen_t len = tl_unix_addr(name, &sa);

	if (connect(fd, (struct sockaddr *)&sa, len) < 0)
		return errno;
	return 0;
}

int tl_connect_unix(const char *name)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	return tl_connect_fd(fd, name);
}

void tl_drain(int lfd)
{
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			return;
		close(c);
	}
}

static socklen_t inet_addr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		return sizeof(*in4);
	}
	REQUIRE(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	return sizeof(*in6);
}

int tl_listen_inet(int type, const char *addr, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_addr_of(addr, *port, &ss);
	_cleanup_close_ int fd = socket(ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;

	if (fd < 0)
		return negative_errno();
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return negative_errno();
	if (type == SOCK_STREAM && listen(fd, 128) < 0)
		return negative_errno();
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return negative_errno();
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
						((struct sockaddr_in6 *)&ss)->sin6_port);
	return TAKE_FD(fd);
}

int tl_connect_inet(int type, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_addr_of(addr, port, &ss);
	_cleanup_close_ int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	if (type == SOCK_DGRAM) {
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len) < 0)
			return errno;
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		return errno;
	return 0;
}

int tl_send_fd(int sock, int fd)
{
	char data = 'F';
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c = {};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		return negative_errno();
	return 0;
}

int tl_recv_fd(int sock)
{
	char data;
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c = {};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return negative_errno();
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}
