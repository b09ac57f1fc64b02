/* SPDX-License-Identifier: MIT */
/* cgroup.h - one skill's cgroups: discover the layout, create leaves, set limits, clean up.
 *
 * Parent side only. Works on v2-only systems and on the hybrid layout (v2 for identity and
 * CLONE_INTO_CGROUP, v1 memory/pids/cpu for limits). Leaves are always created beneath the
 * caller's own cgroup in each hierarchy, never elsewhere. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum cg_controller {
	CG_MEMORY,
	CG_PIDS,
	CG_CPU,
	_CG_MAX,
};

struct cg_limits {
	uint64_t memory_max;  /* 0 = none */
	uint64_t pids_max;    /* 0 = none */
	unsigned cpu_percent; /* 0 = none */
};

struct cg_set;

/* Create the leaf `name` (1 to NAME_MAX characters of [A-Za-z0-9._@-], not starting with '.')
 * beneath our own cgroup in the v2 hierarchy (or beneath its ancestor
 * v2_up levels above, for a daemon that moved itself into a leaf of its delegated subtree) and,
 * for controllers that are not on v2, beneath our own cgroup in their v1 hierarchies; write the
 * limits. Returns 0, -EINVAL for a bad name or v2_up, -EEXIST, -EOPNOTSUPP (no cgroup2 mount, or
 * a limit whose controller is nowhere), or a negative errno. */
int cg_set_create(const char *name, unsigned v2_up, const struct cg_limits *lim, struct cg_set **ret);

/* Removes leftover empty leaves called `name` beneath our own cgroup in every hierarchy (a
 * supervisor that was killed before it could clean up). Only for names no live plan uses.
 * Returns 0, -EBUSY when one is still populated, or a negative errno. */
int cg_reclaim(const char *name);

/* Reclaims every leaf whose name starts with `prefix` beneath our own cgroup in every hierarchy
 * (v2 and v1): kills what runs there (cgroup.kill on v2, SIGKILL to each task listed on v1),
 * waits for it to be gone and removes the leaf. For a supervisor's start, when no plan of its
 * own exists yet: a daemon killed with -9 leaves its skills' leaves (and maybe their processes)
 * behind, including those of skills removed since. *ret_count (may be NULL) gets the number
 * removed. Returns 0, -EINVAL for a bad prefix, or the first error met (others are still tried). */
int cg_reclaim_prefix(const char *prefix, unsigned *ret_count);

/* The same for only those leaves of prefix that stale() (NULL: every one) calls leftovers, for
 * callers whose leaves carry their owner in the name (`capbus run`: its pid). */
int cg_reclaim_prefix_if(const char *prefix, bool (*stale)(const char *name, void *userdata), void *userdata,
			 unsigned *ret_count);

/* O_DIRECTORY fd of the v2 leaf, for clone3(CLONE_INTO_CGROUP). Owned by the set. */
int cg_set_v2_fd(const struct cg_set *s);

/* Move pid into the v1 leaves (hybrid layout); nothing to do on v2-only. */
int cg_set_join_v1(const struct cg_set *s, pid_t pid);

/* The kernel's cgroup migration lock needs an RCU grace period to switch to writers after a
 * quiet spell (milliseconds on a busy machine): the first v1 move after an idle period pays it.
 * This starts a helper (sharing our memory, on `stack`, which must outlive it) that makes a no-op
 * move of itself within its own v1 cgroup, so the grace period runs while the launch goes on and
 * cg_set_join_v1() finds the lock ready. *ret is its pid, 0 when there is nothing to warm (no v1
 * leaf). Returns 0 or a negative errno; the caller reaps with cg_warm_reap(). */
int cg_set_warm_v1(const struct cg_set *s, char *stack, size_t stack_size, pid_t *ret);
void cg_warm_reap(pid_t pid);

/* Reaps the helper if it has ended; true if it has (or there was none). */
bool cg_warm_done(pid_t pid);

/* OOM kills counted so far in the memory leaf (memory.events or memory.oom_control). */
int cg_set_oom_kills(const struct cg_set *s, uint64_t *ret);

/* Directory for a controller (or the v2 leaf for -1); NULL if none. */
const char *cg_set_path(const struct cg_set *s, int controller);

/* true when some controller lives on v1. */
bool cg_set_hybrid(const struct cg_set *s);

/* Kill what is left (cgroup.kill), wait for it to be gone, remove the leaves, free. NULL ok. */
void cg_set_free(struct cg_set *s);
