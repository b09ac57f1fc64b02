/* SPDX-License-Identifier: MIT */
/* plan.h - the prepared launch: everything the child needs, computed in the parent.
 *
 * Internal to sandbox/. The child reads its copy of this after clone3 and allocates nothing. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "filter.h"
#include "mounts.h"
#include "netstack.h"

#define PLAN_MAX_KEEP_FDS 64
#define PLAN_MAX_EXEC_PATHS 3

struct sandbox_plan {
	char **argv;                            /* deep copy, NULL-terminated */
	char **envp;                            /* deep copy, NULL-terminated */
	char *exec_paths[PLAN_MAX_EXEC_PATHS];  /* candidates for argv[0], NULL-terminated */
	char *cwd;
	char *hostname;
	uid_t uid;
	gid_t gid;
	bool network;
	bool host_network;          /* no network namespace of its own (sandbox_spec) */
	struct netstack_config net; /* when network */
	struct netstack stack;      /* the running stack of the last spawn */
	uint64_t nofile, nproc;
	int keep_fds[PLAN_MAX_KEEP_FDS];
	size_t n_keep_fds;
	int stdout_fd, stderr_fd;

	struct mount_plan mounts;
	struct filter_prog filter;
	int landlock_abi;
	struct cg_set *cg;

	uint64_t oom_base;       /* OOM kills counted before the last spawn */
	int status_fd;           /* read end: the program's wait status from init, -1 if none */
	int init_fd;             /* sealed memfd holding capbus-init, close-on-exec */
	const char *failed_step; /* child step that failed in the last spawn */
	pid_t warm_pid;          /* cg_set_warm_v1's helper, reaped by the next spawn or the free */
	char warm_stack[8192] __attribute__((aligned(16)));
};
