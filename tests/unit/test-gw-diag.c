// SPDX-License-Identifier: MIT
/* test-gw-diag.c - gateway/diag.c with real sockets and real cgroups: a client process placed in
 * a cgroup this test creates (beneath the test's own cgroup v2) connects over loopback (IPv4,
 * IPv6, IPv4 to a dual-stack listener); the lookup names that cgroup, and the map names its
 * identity. A peer that closed, one gone before the accept, and a port reused by a process of
 * another cgroup give no identity. A re-created cgroup (new id) is found again, paced.
 *
 * Needs root (to create cgroups and move a process into them): exits 77 without, fails when
 * CI=true. Removes its cgroups, also when a REQUIRE fails. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroupfs.h"
#include "check.h"
#include "gw-diag.h"
#include "util.h"

static char mount_point[128], own[128], cg_a[200], cg_b[200];
static char rel_a[200], rel_b[200];

static void remove_cgroups(void)
{
	rmdir(cg_a);
	rmdir(cg_b);
}

static uint64_t inode_of(const char *path)
{
	struct stat st;
	REQUIRE(stat(path, &st) == 0);
	return st.st_ino;
}

struct client {
	pid_t pid;
	int ctl; /* write: 'c' close, 'r' reset, 'q' quit */
	int ready; /* read: one byte once connected (or closed, for the early close) */
};

/* A child that joins cgroup cg, then creates a socket (the socket is attributed to the cgroup of
 * its creator), optionally binds local_port, connects to dst, reports, and obeys ctl. With
 * close_first the child closes right after connecting, before reporting. */
static struct client spawn_client(const char *cg, const struct sockaddr *dst, socklen_t dlen, uint16_t local_port,
				  bool close_first)
{
	int ctl[2], ready[2];
	struct client c;

	REQUIRE(pipe2(ctl, O_CLOEXEC) == 0 && pipe2(ready, O_CLOEXEC) == 0);
	c.pid = fork();
	REQUIRE(c.pid >= 0);
	if (c.pid == 0) {
		char procs[PATH_MAX + 16], cmd = 0;
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
		int pf = open(procs, O_WRONLY | O_CLOEXEC);
		REQUIRE(pf >= 0 && write(pf, "0", 1) == 1);
		close(pf);
		int fd = socket(dst->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
		REQUIRE(fd >= 0);
		if (local_port) {
			struct sockaddr_storage me = {};
			memcpy(&me, dst, dlen);
			if (dst->sa_family == AF_INET)
				((struct sockaddr_in *)&me)->sin_port = htons(local_port);
			else
				((struct sockaddr_in6 *)&me)->sin6_port = htons(local_port);
			REQUIRE(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
			REQUIRE(bind(fd, (struct sockaddr *)&me, dlen) == 0);
		}
		REQUIRE(connect(fd, dst, dlen) == 0);
		if (close_first)
			close(fd);
		REQUIRE(write(ready[1], "k", 1) == 1);
		while (read(ctl[0], &cmd, 1) == 1) {
			if (cmd == 'c') {
				close(fd);
			} else if (cmd == 'r') {
				struct linger l = { .l_onoff = 1, .l_linger = 0 };
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
				close(fd);
			} else {
				break;
			}
			REQUIRE(write(ready[1], "k", 1) == 1);
		}
		_exit(0);
	}
	close(ctl[0]);
	close(ready[1]);
	c.ctl = ctl[1];
	c.ready = ready[0];
	char b;
	REQUIRE(read(c.ready, &b, 1) == 1);
	return c;
}

static void client_do(struct client *c, char cmd)
{
	char b;
	REQUIRE(write(c->ctl, &cmd, 1) == 1);
	if (cmd != 'q')
		REQUIRE(read(c->ready, &b, 1) == 1);
}

static void client_end(struct client *c)
{
	int status;
	client_do(c, 'q');
	close(c->ctl);
	close(c->ready);
	REQUIRE(waitpid(c->pid, &status, 0) == c->pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int listener(int family, const char *addr, bool v6only, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), zero = 0;
	REQUIRE(fd >= 0);
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		REQUIRE(inet_pton(AF_INET, addr, &in->sin_addr) == 1);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		REQUIRE(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1);
		*len = sizeof(*in6);
		if (!v6only)
			REQUIRE(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0);
	}
	REQUIRE(bind(fd, (struct sockaddr *)ss, *len) == 0);
	REQUIRE(listen(fd, 16) == 0);
	REQUIRE(getsockname(fd, (struct sockaddr *)ss, len) == 0);
	return fd;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					       : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Waits until the peer's FIN has arrived on fd (a read returns 0). */
static void wait_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char b;
	REQUIRE(poll(&p, 1, 5000) == 1);
	REQUIRE(recv(fd, &b, 1, MSG_PEEK) <= 0);
}

static void test_lookups(struct gw_diag *d)
{
	struct sockaddr_storage ls;
	socklen_t llen;
	uint64_t id_a = inode_of(cg_a), id_b = inode_of(cg_b), got = 0;
	uint32_t uid = 12345;

	/* IPv4: the client's cgroup, and the identity mapped to it. */
	int l4 = listener(AF_INET, "127.0.0.1", true, &ls, &llen);
	struct client c = spawn_client(cg_a, (struct sockaddr *)&ls, llen, 0, false);
	int fd = accept4(l4, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK(gw_diag_peer_cgroup(d, fd, &got, &uid) == 0);
	CHECK_MSG(got == id_a && uid == 0, "IPv4 loopback peer: cgroup %llu (expected %llu), uid %u", (unsigned long long)got,
		  (unsigned long long)id_a, uid);
	CHECK_STREQ(gw_diag_identity(d, got, 1000), "ovos-audio");

	/* The peer closes: its socket lingers (FIN_WAIT2) and still reports the cgroup, but it is
	 * no longer ESTABLISHED, and neither is ours (CLOSE_WAIT). */
	client_do(&c, 'c');
	wait_eof(fd);
	got = 0;
	CHECK_MSG(gw_diag_peer_cgroup(d, fd, &got, &uid) == -ENOENT && got == 0, "closed peer: no identity");
	close(fd);
	client_end(&c);

	/* A client in the unmapped cgroup: its own cgroup, no identity. */
	c = spawn_client(cg_b, (struct sockaddr *)&ls, llen, 0, false);
	fd = accept4(l4, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK(gw_diag_peer_cgroup(d, fd, &got, &uid) == 0 && got == id_b);
	CHECK_MSG(gw_diag_identity(d, got, 2000) == NULL, "unmapped cgroup: no identity");
	close(fd);
	client_end(&c);

	/* Gone before the accept: connected, closed, then accepted. */
	c = spawn_client(cg_a, (struct sockaddr *)&ls, llen, 0, true);
	fd = accept4(l4, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd >= 0);
	wait_eof(fd);
	got = 0;
	CHECK_MSG(gw_diag_peer_cgroup(d, fd, &got, &uid) == -ENOENT && got == 0, "peer gone before the accept: no identity");
	close(fd);
	client_end(&c);

	/* Port reuse: A (mapped) connects from port P and resets; B (unmapped) binds the same P and
	 * connects to the same listener, so the tuple of A's accepted socket now exists again. A's
	 * socket gives nothing; B's gives B. */
	c = spawn_client(cg_a, (struct sockaddr *)&ls, llen, 0, false);
	int fd1 = accept4(l4, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd1 >= 0);
	struct sockaddr_storage pa;
	socklen_t palen = sizeof(pa);
	REQUIRE(getpeername(fd1, (struct sockaddr *)&pa, &palen) == 0);
	uint16_t p = port_of(&pa);
	client_do(&c, 'r');
	client_end(&c);
	struct client c2 = spawn_client(cg_b, (struct sockaddr *)&ls, llen, p, false);
	int fd2 = accept4(l4, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd2 >= 0);
	got = 0;
	int r = gw_diag_peer_cgroup(d, fd1, &got, &uid);
	CHECK_MSG(r == -ENOENT && got == 0, "port reused by another cgroup: the old connection gets nothing (%d, %llu)", r,
		  (unsigned long long)got);
	CHECK_MSG(gw_diag_peer_cgroup(d, fd2, &got, &uid) == 0 && got == id_b, "the new connection is the new peer's");
	close(fd1);
	close(fd2);
	client_end(&c2);
	close(l4);

	/* IPv6 ::1. */
	int l6 = listener(AF_INET6, "::1", true, &ls, &llen);
	c = spawn_client(cg_a, (struct sockaddr *)&ls, llen, 0, false);
	fd = accept4(l6, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd >= 0);
	got = 0;
	CHECK_MSG(gw_diag_peer_cgroup(d, fd, &got, &uid) == 0 && got == id_a, "IPv6 loopback peer");
	close(fd);
	client_end(&c);
	close(l6);

	/* IPv4 client to a dual-stack listener: the accepted socket says ::ffff:127.0.0.1, the
	 * peer's socket is AF_INET; the lookup asks for that one. */
	int ld = listener(AF_INET6, "::", false, &ls, &llen);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port_of(&ls)) };
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	c = spawn_client(cg_a, (struct sockaddr *)&to, sizeof(to), 0, false);
	fd = accept4(ld, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd >= 0);
	got = 0;
	CHECK_MSG(gw_diag_peer_cgroup(d, fd, &got, &uid) == 0 && got == id_a, "v4-mapped peer of a dual-stack listener");
	close(fd);
	client_end(&c);
	close(ld);

	/* Not TCP over loopback. */
	int sp[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	CHECK(gw_diag_peer_cgroup(d, sp[0], &got, &uid) == -EAFNOSUPPORT);
	close(sp[0]);
	close(sp[1]);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(gw_diag_peer_cgroup(d, u, &got, &uid) == -EAFNOSUPPORT);
	close(u);
}

static void test_map(struct gw_diag *d)
{
	uint64_t old = inode_of(cg_a);
	struct gw_local bad[] = { { .path = "relative", .id = "x" }, { .path = "/a/../b", .id = "x" },
				  { .path = "/a/", .id = "x" },      { .path = "/a//b", .id = "x" },
				  { .path = "/a/./b", .id = "x" },   { .path = "/a", .id = "B d" } };

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		CHECK_MSG(gw_diag_reload_map(d, &bad[i], 1) == -EINVAL, "map refused: %s -> %s", bad[i].path, bad[i].id);
	CHECK_MSG(gw_diag_identity(d, old, 10000) != NULL, "the old map stays after a refused reload");

	/* The service restarts: its cgroup is removed and made again, with a new id. */
	CHECK(gw_diag_identity(d, 424242, 20000) == NULL); /* a miss: resolved at 20000 */
	REQUIRE(rmdir(cg_a) == 0);
	REQUIRE(mkdir(cg_a, 0755) == 0);
	uint64_t fresh = inode_of(cg_a);
	CHECK(fresh != old);
	CHECK_MSG(gw_diag_identity(d, fresh, 20050) == NULL, "re-resolution is paced (100 ms)");
	CHECK_MSG(gw_diag_identity(d, fresh, 20101) != NULL && streq(gw_diag_identity(d, fresh, 20101), "ovos-audio"),
		  "a re-created cgroup is found again");
	CHECK_MSG(gw_diag_identity(d, old, 30000) == NULL, "the old id names nothing");
	CHECK(gw_diag_identity(d, 0, 40000) == NULL);

	/* A map entry whose cgroup does not exist maps nothing; reload replaces the map. */
	struct gw_local m2[] = { { .id = "other" } };
	snprintf(m2[0].path, sizeof(m2[0].path), "%s", rel_b);
	CHECK(gw_diag_reload_map(d, m2, 1) == 0);
	CHECK(gw_diag_identity(d, fresh, 50000) == NULL);
	CHECK_STREQ(gw_diag_identity(d, inode_of(cg_b), 50000), "other");
}

int main(void)
{
	_cleanup_(gw_diag_freep) struct gw_diag *d = NULL;
	struct gw_local map[2] = {};
	char *rel;

	alarm(60);
	if (geteuid() != 0)
		check_skip("needs root to create cgroups and move a process into one");
	if (cgroup_v2_mount(mount_point, sizeof(mount_point)) < 0 || cgroup_v2_path_of_pid(0, own, sizeof(own)) < 0)
		check_skip("no cgroup v2 hierarchy");
	snprintf(cg_a, sizeof(cg_a), "%s/capbus-test-gwdiag-%d-a", own, getpid());
	snprintf(cg_b, sizeof(cg_b), "%s/capbus-test-gwdiag-%d-b", own, getpid());
	check_on_abort(remove_cgroups);
	if (mkdir(cg_a, 0755) < 0)
		check_skip("cannot create a cgroup beneath our own");
	REQUIRE(mkdir(cg_b, 0755) == 0);
	rel = cg_a + strlen(mount_point);
	memcpy(rel_a, rel, strlen(rel) + 1);
	rel = cg_b + strlen(mount_point);
	memcpy(rel_b, rel, strlen(rel) + 1);

	snprintf(map[0].path, sizeof(map[0].path), "%s", rel_a);
	snprintf(map[0].id, sizeof(map[0].id), "ovos-audio");
	snprintf(map[1].path, sizeof(map[1].path), "/capbus-test-gwdiag-does-not-exist");
	snprintf(map[1].id, sizeof(map[1].id), "ghost");
	REQUIRE(gw_diag_open(&d, mount_point, map, 2) == 0);
	CHECK(gw_diag_open(&d, "relative", map, 2) == -EINVAL);

	test_lookups(d);
	test_map(d);

	remove_cgroups();
	struct stat st;
	CHECK_MSG(stat(cg_a, &st) < 0 && stat(cg_b, &st) < 0, "cgroups removed");
	return check_finish("test-gw-diag");
}
