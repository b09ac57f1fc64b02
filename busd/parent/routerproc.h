/* SPDX-License-Identifier: MIT */
/* routerproc.h - find, configure and execute the router program (privileged parent).
 *
 * Trust level: parent (root). Everything the router gets is decided here, before the fork: its
 * program, its configuration message and its environment; the child only moves descriptors
 * and executes. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/privsep.h"

#define ROUTER_PROGRAM "capbusd-router"
#define ROUTER_ENV_MAX 3
/* Longest a send to the router may wait for room before the router counts as stalled. */
#define ROUTER_SEND_TIMEOUT_MS 5000

struct router_proc {
	char path[PATH_MAX];           /* the program; on a failed prepare, what was tried */
	char *env[ROUTER_ENV_MAX + 1]; /* pointers into our environment: sanitizer settings only */
	struct ps_router_config cfg;   /* the router's first message */
	bool user_missing;             /* cfg->user does not exist: nobody instead */
};

/* Finds the program (override, else capbusd-router next to /proc/self/exe, else the installed
 * one) and fills the configuration, with the uid and gid of cfg->user (nobody when it does not
 * exist) when we run as root, else our own. Returns 0, a negative errno from looking up the
 * program, or ROUTER_PROC_ROOT when the router would run as uid or gid 0. */
enum { ROUTER_PROC_ROOT = 1 };
int router_proc_prepare(struct router_proc *rp, const struct config *cfg, const char *override);

/* Forks and executes the router with listen_fd as its fd 3 and a new privsep channel as fd 4.
 * Returns 0 with *channel_fd (ours, CLOEXEC) and *pid set, or a negative errno. The caller sends
 * rp->cfg first. A child that cannot execute exits 127. */
int router_proc_spawn(const struct router_proc *rp, int listen_fd, int *channel_fd, pid_t *pid);
