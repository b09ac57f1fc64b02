/* SPDX-License-Identifier: MIT */
/* test-guard-lifetime.c - guards live exactly as long as the process that loaded them, and the
 * fallback path when the kernel guard is (forced) unavailable.
 *
 * A holder child loads a guard on a private subtree and waits; once it is SIGKILLed the
 * program must be gone (nothing pinned). The fallback case plays the daemon's
 * kernel_guard=auto decision with guard_probe(GUARD_PROBE_FORCE_UNSUPPORTED). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "guard-testlib.h"
#include "guard.h"
#include "util.h"

struct holder_arg {
	const char *bus;
	const char *scope;
	uint64_t allowed_id;
	int ready_fd; /* write end: one byte once attached */
};

static int holder(void *p)
{
	const struct holder_arg *a = p;
	struct guard *g = NULL;
	char status;

	status = guard_open(&g, a->bus, a->scope) == 0 &&
		 guard_allow_cgroup(g, a->allowed_id) == 0 ? 'R' : 'E';
	if (write(a->ready_fd, &status, 1) != 1)
		return 210;
	for (;;)
		pause(); /* until SIGKILL */
}

static int child_connect(void *p)
{
	return tl_connect_unix(p);
}

static void test_sigkill(const struct tl_subtree *t, const char *bus)
{
	char allowed[PATH_MAX], forbidden[PATH_MAX], status = 0;
	struct holder_arg a;
	int pfd[2];
	pid_t pid;

	tl_path(t, "allowed", allowed, sizeof(allowed));
	tl_path(t, "forbidden", forbidden, sizeof(forbidden));
	REQUIRE(pipe2(pfd, O_CLOEXEC) == 0);
	a = (struct holder_arg){.bus = bus, .scope = t->root, .allowed_id = tl_cgroup_id(allowed),
				.ready_fd = pfd[1]};
	/* The holder stays outside the subtree, as a daemon would. */
	pid = tl_spawn_in(NULL, holder, &a);
	close(pfd[1]);
	REQUIRE_EQ(read(pfd[0], &status, 1), 1);
	close(pfd[0]);
	if (status != 'R') {
		kill(pid, SIGKILL);
		tl_wait(pid);
		REQUIRE(!"holder could not attach");
	}

	REQUIRE_EQ(tl_run_in(allowed, child_connect, (void *)bus), 0);
	REQUIRE_EQ(tl_run_in(forbidden, child_connect, (void *)bus), EPERM);

	REQUIRE_EQ(kill(pid, SIGKILL), 0);
	REQUIRE_EQ(tl_wait(pid), -1); /* killed by the signal */
	/* The holder's files were closed before it could be reaped: the link is gone already. */
	REQUIRE_EQ(tl_run_in(forbidden, child_connect, (void *)bus), 0);
}

/* kernel_guard=auto with a kernel that cannot: no guard, connects are not filtered (the daemon
 * falls back to socket modes and peer credentials); kernel_guard=required refuses to start. */
static int daemon_start(const char *mode, unsigned probe_flags, const char *bus, const char *scope,
			struct guard **out)
{
	int r = guard_probe(probe_flags);

	if (r < 0)
		return streq(mode, "required") ? r : 0;
	return guard_open(out, bus, scope);
}

static void test_fallback(const struct tl_subtree *t, const char *bus)
{
	char forbidden[PATH_MAX];
	struct guard *g = NULL;

	tl_path(t, "forbidden", forbidden, sizeof(forbidden));
	REQUIRE_EQ(guard_probe(GUARD_PROBE_FORCE_UNSUPPORTED), -EOPNOTSUPP);
	REQUIRE_EQ(daemon_start("required", GUARD_PROBE_FORCE_UNSUPPORTED, bus, t->root, &g), -EOPNOTSUPP);
	REQUIRE(g == NULL);
	REQUIRE_EQ(daemon_start("auto", GUARD_PROBE_FORCE_UNSUPPORTED, bus, t->root, &g), 0);
	REQUIRE(g == NULL);
	REQUIRE_EQ(tl_run_in(forbidden, child_connect, (void *)bus), 0);

	/* The same decision with the real probe attaches and filters. */
	REQUIRE_EQ(daemon_start("auto", 0, bus, t->root, &g), 0);
	REQUIRE(g != NULL);
	REQUIRE_EQ(tl_run_in(forbidden, child_connect, (void *)bus), EPERM);
	guard_free(g);
}

int main(void)
{
	static const char *const children[] = {"allowed", "forbidden", NULL};
	struct tl_subtree t;
	char bus[64];
	int lfd;

	tl_require_kernel_guard();
	REQUIRE(tl_subtree_create(&t, "life", children) == 0);
	snprintf(bus, sizeof(bus), "@capbus-test-%d-life", (int)getpid());
	lfd = tl_listen_abstract(bus + 1);
	REQUIRE(lfd >= 0);

	test_sigkill(&t, bus);
	test_fallback(&t, bus);

	close(lfd);
	tl_subtree_remove(&t);
	return check_finish("test-guard-lifetime");
}
