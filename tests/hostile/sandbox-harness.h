/* SPDX-License-Identifier: MIT */
/* sandbox-harness.h - run a program in a real capbus sandbox and capture its stdout and fate.
 *
 * Shared by the sandbox unit and hostile tests. Header-only; test code, so it may exit().
 * Checks and the skip rule are check.h's. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sandbox.h"

/* Per test program: numbers the cgroups and uids of successive runs. */
struct harness {
	unsigned seq;
};

struct run {
	int spawn_r;            /* sandbox_plan_new/sandbox_spawn result */
	const char *failed_step;
	struct sandbox_exit ex;
	char out[8192];
};

static inline void harness_require_root(void)
{
	if (geteuid() != 0)
		check_skip("needs root (user namespaces with an outer uid, cgroups)");
}

/* Fill in the fields every test run shares: own uid and cgroup per run. */
static inline void harness_spec(struct harness *h, struct sandbox_spec *s, char *cgname, size_t cgsize)
{
	unsigned n = h->seq++;

	s->uid = SANDBOX_ID_BASE + 60000 + (n % 5000);
	s->gid = s->uid;
	snprintf(cgname, cgsize, "capbus-test-%d-%u", (int)getpid(), n);
	s->cgroup_name = cgname;
	if (!s->stderr_fd)
		s->stderr_fd = SANDBOX_FD_INHERIT;
}

/* Run spec to completion with stdout captured. on_plan (may be NULL) sees the plan after the
 * child exited, before the cgroups go (to read counters). */
static inline void harness_run(struct sandbox_spec *spec, struct run *res,
			       void (*on_plan)(struct sandbox_plan *plan, void *data), void *data)
{
	struct sandbox_plan *plan = NULL;
	int pipefd[2], pidfd = -1;
	size_t used = 0;
	pid_t pid;
	ssize_t n;

	memset(res, 0, sizeof(*res));
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		res->spawn_r = -errno;
		return;
	}
	spec->stdout_fd = pipefd[1];
	res->spawn_r = sandbox_plan_new(spec, &plan);
	if (res->spawn_r == 0) {
		res->spawn_r = sandbox_spawn(plan, &pid, &pidfd);
		res->failed_step = sandbox_plan_failed_step(plan);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], res->out + used, sizeof(res->out) - 1 - used)) > 0)
		used += (size_t)n;
	res->out[used] = '\0';
	close(pipefd[0]);
	if (res->spawn_r == 0) {
		int r = sandbox_wait(plan, pidfd, &res->ex);
		if (r < 0)
			res->spawn_r = r;
		close(pidfd);
		if (on_plan)
			on_plan(plan, data);
	}
	sandbox_plan_free(plan);
}

/* Directory holding the test helper binaries (the hostile program is passed as argv[1]). */
static inline char *harness_dir_of(const char *path)
{
	char *copy = realpath(path, NULL);

	if (!copy)
		check_skip("helper binary missing");
	return dirname(copy); /* dirname works in place; the result is inside copy */
}
