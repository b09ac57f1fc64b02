/* SPDX-License-Identifier: MIT */
/* test-guard.c - the bus-socket guard against the real kernel.
 *
 * Builds a private subtree beneath this process's cgroup:
 *   capbus-test-PID-guard/{allowed, allowed/child, forbidden, other}
 * attaches guards to the subtree root (never the hierarchy root), listens on abstract names and
 * checks who may connect. Needs root and the unix connect hook: exit 77 otherwise (fail when
 * CI=true). */
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroupfs.h"
#include "guard-testlib.h"
#include "guard.h"
#include "pidfd-util.h"
#include "util.h"

struct fixture {
	struct tl_subtree tree;
	char own[PATH_MAX]; /* where this test process lives */
	char allowed[PATH_MAX], child[PATH_MAX], forbidden[PATH_MAX], other[PATH_MAX];
	uint64_t allowed_id, forbidden_id, other_id;
	char bus[64];  /* "@capbus-test-PID-bus" */
	char bus2[64]; /* a second guarded name */
	char free_name[64]; /* an unguarded name */
	char longer[64]; /* bus + one byte: different abstract socket */
	int lfd, lfd2, lfd_free, lfd_longer;
};

struct conn_arg {
	const char *name;
	const char *comm;
	uid_t uid; /* (uid_t)-1: keep */
};

static int child_connect(void *p)
{
	const struct conn_arg *a = p;

	if (a->comm)
		prctl(PR_SET_NAME, a->comm, 0, 0, 0);
	if (a->uid != (uid_t)-1 && setresuid(a->uid, a->uid, a->uid) < 0)
		return 203;
	return tl_connect_unix(a->name);
}

/* errno of a connect to `name` from a fresh child in cgroup `cg` (0 = connected). */
static int connect_from(const char *cg, const char *name)
{
	struct conn_arg a = {.name = name, .uid = (uid_t)-1};

	return tl_run_in(cg, child_connect, &a);
}

static void drain_all(struct fixture *f)
{
	tl_drain(f->lfd);
	tl_drain(f->lfd2);
	tl_drain(f->lfd_free);
	tl_drain(f->lfd_longer);
}

static void fixture_init(struct fixture *f)
{
	static const char *const children[] = {"allowed", "allowed/child", "forbidden", "other", NULL};
	int pid = (int)getpid();

	memset(f, 0, sizeof(*f));
	REQUIRE(cgroup_v2_path_of_pid(0, f->own, sizeof(f->own)) == 0);
	REQUIRE(tl_subtree_create(&f->tree, "guard", children) == 0);
	tl_path(&f->tree, "allowed", f->allowed, sizeof(f->allowed));
	tl_path(&f->tree, "allowed/child", f->child, sizeof(f->child));
	tl_path(&f->tree, "forbidden", f->forbidden, sizeof(f->forbidden));
	tl_path(&f->tree, "other", f->other, sizeof(f->other));
	f->allowed_id = tl_cgroup_id(f->allowed);
	f->forbidden_id = tl_cgroup_id(f->forbidden);
	f->other_id = tl_cgroup_id(f->other);
	snprintf(f->bus, sizeof(f->bus), "@capbus-test-%d-bus", pid);
	snprintf(f->bus2, sizeof(f->bus2), "@capbus-test-%d-bus2", pid);
	snprintf(f->free_name, sizeof(f->free_name), "@capbus-test-%d-free", pid);
	snprintf(f->longer, sizeof(f->longer), "@capbus-test-%d-busX", pid);
	f->lfd = tl_listen_abstract(f->bus + 1);
	f->lfd2 = tl_listen_abstract(f->bus2 + 1);
	f->lfd_free = tl_listen_abstract(f->free_name + 1);
	f->lfd_longer = tl_listen_abstract(f->longer + 1);
	REQUIRE(f->lfd >= 0 && f->lfd2 >= 0 && f->lfd_free >= 0 && f->lfd_longer >= 0);
}

static void fixture_done(struct fixture *f)
{
	close(f->lfd);
	close(f->lfd2);
	close(f->lfd_free);
	close(f->lfd_longer);
	tl_subtree_remove(&f->tree);
}

static void test_allow_deny(struct fixture *f)
{
	_cleanup_(guard_freep) struct guard *g = NULL;
	struct guard_stats st = {};

	/* Before any guard: everyone connects. */
	REQUIRE_EQ(connect_from(f->forbidden, f->bus), 0);

	REQUIRE_EQ(guard_open(&g, f->bus, f->tree.root), 0);
	REQUIRE(guard_events_fd(g) >= 0);
	REQUIRE_EQ(guard_allow_cgroup(g, f->allowed_id), 0);
	REQUIRE_EQ(guard_allow_cgroup(g, f->allowed_id), 0); /* idempotent */

	REQUIRE_EQ(connect_from(f->allowed, f->bus), 0);
	REQUIRE_EQ(connect_from(f->child, f->bus), 0);           /* ancestor allowed */
	REQUIRE_EQ(connect_from(f->forbidden, f->bus), EPERM);
	REQUIRE_EQ(connect_from(f->other, f->bus), EPERM);
	/* Other names are untouched, including one that only extends the guarded name. */
	REQUIRE_EQ(connect_from(f->forbidden, f->free_name), 0);
	REQUIRE_EQ(connect_from(f->forbidden, f->longer), 0);
	/* A prefix of the guarded name is another abstract socket: not guarded (and absent). */
	{
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "%.*s", (int)strlen(f->bus) - 1, f->bus);
		REQUIRE_EQ(connect_from(f->forbidden, prefix), ECONNREFUSED);
	}

	REQUIRE_EQ(guard_get_stats(g, &st), 0);
	REQUIRE_EQ(st.denied, 2);
	REQUIRE_EQ(st.allowed_cgroup, 2);
	REQUIRE_EQ(st.allowed_uid, 0);

	/* Removal takes effect for the next connect, and again on re-adding. */
	REQUIRE_EQ(guard_disallow_cgroup(g, f->allowed_id), 0);
	REQUIRE_EQ(guard_disallow_cgroup(g, f->allowed_id), -ENOENT);
	REQUIRE_EQ(connect_from(f->allowed, f->bus), EPERM);
	REQUIRE_EQ(connect_from(f->child, f->bus), EPERM);
	REQUIRE_EQ(guard_allow_cgroup(g, f->allowed_id), 0);
	REQUIRE_EQ(connect_from(f->allowed, f->bus), 0);

	/* Allowing the subtree root allows everything beneath it. */
	REQUIRE_EQ(guard_allow_cgroup(g, tl_cgroup_id(f->tree.root)), 0);
	REQUIRE_EQ(connect_from(f->forbidden, f->bus), 0);
	REQUIRE_EQ(guard_clear(g), 0);
	REQUIRE_EQ(connect_from(f->allowed, f->bus), EPERM);
	REQUIRE_EQ(connect_from(f->forbidden, f->bus), EPERM);

	REQUIRE_EQ(guard_allow_cgroup(g, 0), -EINVAL);
	guard_free(TAKE_PTR(g));
	/* Freed: the program is gone. */
	REQUIRE_EQ(connect_from(f->forbidden, f->bus), 0);
	drain_all(f);
}

struct collect {
	int n;
	struct guard_event last;
};

static void on_event(const struct guard_event *ev, void *userdata)
{
	struct collect *c = userdata;

	c->n++;
	c->last = *ev;
}

static void test_events(struct fixture *f)
{
	_cleanup_(guard_freep) struct guard *g = NULL;
	struct conn_arg a = {.name = f->bus, .comm = "cb-forbid", .uid = (uid_t)-1};
	struct collect c = {};
	struct pollfd pfd;
	pid_t pid;

	REQUIRE_EQ(guard_open(&g, f->bus, f->tree.root), 0);
	REQUIRE_EQ(guard_events_consume(g, on_event, &c), 0);

	pid = tl_spawn_in(f->forbidden, child_connect, &a);
	REQUIRE_EQ(tl_wait(pid), EPERM);

	pfd = (struct pollfd){.fd = guard_events_fd(g), .events = POLLIN};
	REQUIRE_EQ(poll(&pfd, 1, 5000), 1);
	REQUIRE_EQ(guard_events_consume(g, on_event, &c), 1);
	REQUIRE_EQ(c.n, 1);
	REQUIRE_EQ(c.last.pid, pid);
	REQUIRE_EQ(c.last.tid, pid);
	REQUIRE_EQ(c.last.uid, 0);
	REQUIRE_EQ(c.last.cgroup_id, f->forbidden_id);
	REQUIRE(streq(c.last.comm, "cb-forbid"));
	REQUIRE_EQ(c.last.target_len, strlen(f->bus));
	REQUIRE(streq(c.last.target, f->bus));
	REQUIRE_EQ(guard_events_consume(g, on_event, &c), 0);
	REQUIRE_EQ(guard_events_consume(g, NULL, NULL), 0);
	drain_all(f);
}

/* A flood of denials: every one is counted; those the ring buffer cannot hold are counted as
 * dropped, never lost silently, and the buffer works again once drained. */
struct flood_arg {
	const char *name;
	int n;
};

static int child_flood(void *p)
{
	const struct flood_arg *a = p;

	for (int i = 0; i < a->n; i++)
		if (tl_connect_unix(a->name) != EPERM)
			return 230;
	return 0;
}

static void test_flood(struct fixture *f)
{
	_cleanup_(guard_freep) struct guard *g = NULL;
	struct flood_arg a = {.name = f->bus, .n = 3000};
	struct collect c = {};
	struct guard_stats st;

	REQUIRE_EQ(guard_open(&g, f->bus, f->tree.root), 0);
	REQUIRE_EQ(tl_run_in(f->forbidden, child_flood, &a), 0);
	REQUIRE(guard_events_consume(g, on_event, &c) > 0);
	REQUIRE_EQ(guard_get_stats(g, &st), 0);
	REQUIRE_EQ(st.denied, 3000);
	REQUIRE(st.events_dropped > 0); /* 256 KiB hold fewer than 3000 events */
	REQUIRE_EQ((uint64_t)c.n + st.events_dropped, 3000);

	REQUIRE_EQ(connect_from(f->forbidden, f->bus), EPERM);
	REQUIRE_EQ(guard_events_consume(g, on_event, &c), 1);
}

/* The id a daemon gets from a peer's pidfd is the id the guard keys on. */
struct park_arg {
	int ready; /* write end: the child is in its cgroup */
	int go;    /* read end: the child may exit */
};

static int child_park(void *p)
{
	const struct park_arg *a = p;
	char c = 'r';

	if (write(a->ready, &c, 1) != 1 || read(a->go, &c, 1) != 1)
		return 231;
	return 0;
}

static void test_pidfd_id(struct fixture *f)
{
	int ready[2], go[2], pidfd, r;
	struct park_arg a;
	uint64_t id = 0;
	pid_t pid;
	char c;

	REQUIRE(pipe2(ready, O_CLOEXEC) == 0 && pipe2(go, O_CLOEXEC) == 0);
	a = (struct park_arg){.ready = ready[1], .go = go[0]};
	pid = tl_spawn_in(f->forbidden, child_park, &a);
	REQUIRE_EQ(read(ready[0], &c, 1), 1);
	pidfd = pidfd_open_pid(pid);
	REQUIRE(pidfd >= 0);
	r = cgroup_id_of_pidfd(pidfd, &id);
	REQUIRE(write(go[1], "x", 1) == 1);
	REQUIRE_EQ(tl_wait(pid), 0);
	if (r == -EOPNOTSUPP) {
		fprintf(stderr, "note: PIDFD_GET_INFO unsupported here, pidfd check skipped\n");
	} else {
		REQUIRE_EQ(r, 0);
		REQUIRE_EQ(id, f->forbidden_id);
		/* Reaped: no process, no id. */
		REQUIRE_EQ(cgroup_id_of_pidfd(pidfd, &id), -ESRCH);
	}
	REQUIRE_EQ(cgroup_id_of_pidfd(-1, &id), -EBADF);
	close(pidfd);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static void test_uid(struct fixture *f)
{
	_cleanup_(guard_freep) struct guard *g = NULL;
	struct conn_arg listed = {.name = f->bus, .uid = 4242};
	struct conn_arg unlisted = {.name = f->bus, .uid = 4243};
	struct guard_stats st;

	REQUIRE_EQ(guard_open(&g, f->bus, f->tree.root), 0);
	REQUIRE_EQ(guard_allow_uid(g, 4242), 0);
	REQUIRE_EQ(tl_run_in(f->forbidden, child_connect, &listed), 0);
	REQUIRE_EQ(tl_run_in(f->forbidden, child_connect, &unlisted), EPERM);
	REQUIRE_EQ(connect_from(f->forbidden, f->bus), EPERM); /* root is not on the list */
	REQUIRE_EQ(guard_get_stats(g, &st), 0);
	REQUIRE_EQ(st.allowed_uid, 1);
	REQUIRE_EQ(guard_disallow_uid(g, 4242), 0);
	REQUIRE_EQ(tl_run_in(f->forbidden, child_connect, &listed), EPERM);
	REQUIRE_EQ(guard_allow_uid(g, (uint32_t)-1), -EINVAL);
	drain_all(f);
}

/* A socket created in an allowed cgroup does not help a caller in a forbidden one, and a socket
 * created in a forbidden cgroup works for a caller that moved to an allowed one: the decision
 * is on the calling task. */
struct move_arg {
	const char *to;
	const char *name;
};

static int child_create_then_move(void *p)
{
	const struct move_arg *a = p;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 204;
	if (tl_enter_cgroup(a->to) < 0)
		return 205;
	return tl_connect_fd(fd, a->name);
}

struct pass_arg {
	int sock; /* our end of a socketpair to receive the fd on */
	const char *name;
};

static int child_recv_and_connect(void *p)
{
	const struct pass_arg *a = p;
	_cleanup_close_ int fd = tl_recv_fd(a->sock);

	if (fd < 0)
		return 206;
	return tl_connect_fd(fd, a->name);
}

static void test_passed_socket(struct fixture *f)
{
	_cleanup_(guard_freep) struct guard *g = NULL;
	struct move_arg to_forbidden = {.to = f->forbidden, .name = f->bus};
	struct move_arg to_allowed = {.to = f->allowed, .name = f->bus};
	int sp[2];
	pid_t pid;

	REQUIRE_EQ(guard_open(&g, f->bus, f->tree.root), 0);
	REQUIRE_EQ(guard_allow_cgroup(g, f->allowed_id), 0);

	REQUIRE_EQ(tl_run_in(f->allowed, child_create_then_move, &to_forbidden), EPERM);
	REQUIRE_EQ(tl_run_in(f->forbidden, child_create_then_move, &to_allowed), 0);

	/* SCM_RIGHTS: created by an allowed process, connected by a forbidden one. */
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	{
		struct pass_arg a = {.sock = sp[1], .name = f->bus};
		_cleanup_close_ int fd = -1;

		pid = tl_spawn_in(f->forbidden, child_recv_and_connect, &a);
		/* The parent is outside the scope: create the socket in an allowed child. */
		REQUIRE_EQ(tl_enter_cgroup(f->allowed), 0);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(fd >= 0);
		REQUIRE_EQ(tl_send_fd(sp[0], fd), 0);
		REQUIRE_EQ(tl_wait(pid), EPERM);
		/* ... while the allowed creator itself may use it. */
		REQUIRE_EQ(tl_connect_fd(fd, f->bus), 0);
		REQUIRE_EQ(tl_enter_cgroup(f->own), 0);
	}
	close(sp[0]);
	close(sp[1]);
	drain_all(f);
}

static void test_two_guards(struct fixture *f)
{
	_cleanup_(guard_freep) struct guard *g1 = NULL;
	_cleanup_(guard_freep) struct guard *g2 = NULL;
	struct guard_stats s1, s2;

	REQUIRE_EQ(guard_open(&g1, f->bus, f->tree.root), 0);
	REQUIRE_EQ(guard_open(&g2, f->bus2, f->tree.root), 0);
	REQUIRE_EQ(guard_allow_cgroup(g1, f->allowed_id), 0);
	REQUIRE_EQ(guard_allow_cgroup(g2, f->other_id), 0);

	REQUIRE_EQ(connect_from(f->allowed, f->bus), 0);
	REQUIRE_EQ(connect_from(f->allowed, f->bus2), EPERM);
	REQUIRE_EQ(connect_from(f->other, f->bus), EPERM);
	REQUIRE_EQ(connect_from(f->other, f->bus2), 0);
	REQUIRE_EQ(connect_from(f->forbidden, f->free_name), 0);

	REQUIRE_EQ(guard_get_stats(g1, &s1), 0);
	REQUIRE_EQ(guard_get_stats(g2, &s2), 0);
	REQUIRE_EQ(s1.denied, 1);
	REQUIRE_EQ(s2.denied, 1);

	/* Freeing one leaves the other in force. */
	guard_free(TAKE_PTR(g1));
	REQUIRE_EQ(connect_from(f->other, f->bus), 0);
	REQUIRE_EQ(connect_from(f->allowed, f->bus2), EPERM);
	drain_all(f);
}

/* Guarding a filesystem path (defense in depth): the exact path is refused whatever the
 * address length, with or without the trailing NUL. */
static void test_path(struct fixture *f)
{
	_cleanup_(guard_freep) struct guard *g = NULL;
	char dir[] = "/tmp/capbus-test-XXXXXX", path[PATH_MAX];
	_cleanup_close_ int lfd = -1;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/bus.sock", dir);
	lfd = tl_listen_path(path);
	REQUIRE(lfd >= 0);
	REQUIRE_EQ(guard_open(&g, path, f->tree.root), 0);
	REQUIRE_EQ(guard_allow_cgroup(g, f->allowed_id), 0);
	REQUIRE_EQ(connect_from(f->allowed, path), 0);
	REQUIRE_EQ(connect_from(f->forbidden, path), EPERM);

	/* Address lengths: exact (no NUL) and full sizeof(struct sockaddr_un). */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		size_t l = strlen(path);
		int fd;

		memcpy(sa.sun_path, path, l);
		REQUIRE_EQ(tl_enter_cgroup(f->forbidden), 0);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(fd >= 0);
		REQUIRE(connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l)) < 0);
		REQUIRE_EQ(errno, EPERM);
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(fd >= 0);
		REQUIRE(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0);
		REQUIRE_EQ(errno, EPERM);
		close(fd);
		REQUIRE_EQ(tl_enter_cgroup(f->own), 0);
	}
	tl_drain(lfd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	struct fixture f;

	tl_require_kernel_guard();
	fixture_init(&f);

	test_allow_deny(&f);
	test_events(&f);
	test_flood(&f);
	test_pidfd_id(&f);
	test_uid(&f);
	test_two_guards(&f);
	test_path(&f);
	test_passed_socket(&f);

	fixture_done(&f);
	return check_finish("test-guard");
}
