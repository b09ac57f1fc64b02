/* SPDX-License-Identifier: MIT */
/* sandbox.h - launch one program in its own namespaces, cgroups, seccomp filter and Landlock domain.
 *
 * Used by the privileged supervisor (and by the standalone capbus-sandbox tool). Everything that
 * can fail for a reason the caller controls fails in sandbox_plan_new(), in the parent: paths are
 * resolved, the seccomp program compiled (or copied from a sandbox_filter), the mount list and
 * the cgroups prepared. The child then
 * runs a short fixed list of steps and execs, or _exit(127)s: it never runs the program with a
 * half-applied sandbox. The library does not log; it returns negative errno values. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Outer ids: each skill gets one uid (and gid) of its own from this reserved range, like
 * Android's per-app uids; the supervisor picks SANDBOX_ID_BASE + skill index. Ids outside the
 * range are refused so a bug can never map root or a real user into a sandbox. */
#define SANDBOX_ID_BASE 200000u
#define SANDBOX_ID_COUNT 65536u

/* Inside its user namespace the program sees exactly one uid and gid, this one. */
#define SANDBOX_INNER_ID 1000u

/* Where the state directory appears inside. */
#define SANDBOX_STATE_PATH "/state"

/* Where a host_network sandbox sees the cgroup v2 hierarchy (sandbox_spec.cgroup_view). */
#define SANDBOX_CGROUP_PATH "/cgroup"

/* Where the skill directory's copy appears inside (the program's working directory). */
#define SANDBOX_SKILL_PATH "/skill"

/* The skill directory is copied, not bound (see skill_dir): at most this much of it. */
#define SANDBOX_SKILL_MAX_BYTES (256ULL << 20)
#define SANDBOX_SKILL_MAX_ENTRIES 16384u

/* stdout_fd / stderr_fd values. */
#define SANDBOX_FD_INHERIT 0 /* keep the caller's fd 1 (or 2) */
#define SANDBOX_FD_NULL (-1) /* /dev/null */

struct sandbox_spec {
	/* argv[0] is an absolute path inside the sandbox or a bare name looked up in
	 * /usr/local/bin, /usr/bin, /usr/sbin. envp NULL means an empty environment. */
	const char *const *argv;
	const char *const *envp;
	uid_t uid; /* outer uid in [SANDBOX_ID_BASE, SANDBOX_ID_BASE + SANDBOX_ID_COUNT) */
	gid_t gid; /* outer gid, same range */
	const char *skill_dir;         /* NULL, or a directory copied into a private read-only tmpfs
					* (exec allowed) at SANDBOX_SKILL_PATH, the cwd, so no host path
					* shows inside (a bind would name it in /proc/self/mountinfo); an
					* argv element naming it or a path beneath it by its host path is
					* rewritten to the path inside. -EFBIG beyond the limits above */
	const char *const *read_paths; /* NULL-terminated or NULL; read-only, noexec, at their own path */
	const char *state_dir;         /* NULL or bound read-write, noexec at SANDBOX_STATE_PATH */
	bool network;                  /* false: a network namespace of its own holding only loopback,
					* down; true: its own namespace too, whose only way out is a
					* user-mode stack (slirp4netns) started in the sandbox's cgroups */
	bool host_loopback;            /* network: the gateway 10.0.2.2 reaches the host's 127.0.0.1 */
	bool host_network;             /* instead of network: the host's network namespace, TCP and
					* netlink sockets and listen() allowed (capbus-gateway, which
					* accepts connections on host addresses; its own cgroup's ingress
					* program is what limits who reaches it). Not with network */
	const char *cgroup_view;       /* host_network only: the host's cgroup v2 mount, bound read-only
					* and noexec at SANDBOX_CGROUP_PATH (the gateway maps local
					* services' cgroup paths to ids there); NULL: none */
	const uint16_t *listen_ports;  /* network: TCP ports forwarded from the host's 127.0.0.1; */
	size_t n_listen_ports;         /* none: listen() fails with EPERM. At most 8 */
	const char *seccomp_profile;   /* "default", "python" or "gateway" (default + seccomp(2) to
					* stack a filter, PR_SET_DUMPABLE); NULL means "default" */
	bool seccomp_permissive;       /* log instead of kill: for writing profiles, never in production */
	const struct sandbox_filter *filter; /* NULL, or precompiled for the same seccomp_profile,
					      * network and seccomp_permissive (else -EINVAL) */
	uint64_t memory_max;           /* bytes; 0 = no limit */
	uint64_t pids_max;             /* tasks, the sandbox's init included; 0 = no limit */
	unsigned cpu_percent;          /* percent of one CPU; 0 = no limit */
	uint64_t nofile;               /* RLIMIT_NOFILE; 0 = 1024 (never above the caller's hard limit) */
	uint64_t nproc;                /* RLIMIT_NPROC (counts the outer uid); 0 = pids_max, or unchanged */
	uint64_t tmp_size;             /* bytes of the private /tmp; 0 = 64 MiB */
	const int *keep_fds;           /* become fds 3, 4, ... in the program; all others are closed */
	size_t n_keep_fds;
	int stdout_fd; /* SANDBOX_FD_INHERIT, SANDBOX_FD_NULL or an fd */
	int stderr_fd; /* same */
	const char *cgroup_name; /* leaf created beneath the caller's own cgroup in every hierarchy */
	unsigned cgroup_up;      /* v2 only: create beneath the ancestor this many levels up instead
				  * (1 for a daemon that moved itself into a leaf of its delegated
				  * subtree, as cgroup v2 forbids children next to processes) */
	const char *hostname;    /* NULL means "capbus" */
};

struct sandbox_plan;
struct sandbox_filter;

/* The seccomp program of a profile, compiled once (libseccomp takes milliseconds per compile)
 * for any number of plans: a spec whose `filter` points at it is planned with a copy of this
 * program instead of compiling its own. profile, network and permissive mean what they mean in
 * struct sandbox_spec. Returns 0, -EINVAL for an unknown profile, or a negative errno. */
int sandbox_filter_new(const char *profile, bool network, bool listen, bool permissive, struct sandbox_filter **ret);
void sandbox_filter_free(struct sandbox_filter *f);

/* Validate the spec, resolve paths, compile the seccomp program and create the cgroups (limits
 * written). On success *ret owns all of that; the spec may be freed. Returns 0, -EINVAL for a bad
 * spec, -EEXIST if the cgroup already exists, -EOPNOTSUPP if a limit is asked for and no
 * hierarchy has the controller, or another negative errno. */
int sandbox_plan_new(const struct sandbox_spec *spec, struct sandbox_plan **ret);

/* Start the program. Returns once it has exec'd (0, *ret_pid and *ret_pidfd set, the caller owns
 * the pidfd and must reap the child: sandbox_wait() or waitid(P_PIDFD)), or with a negative errno
 * after the child failed a step and was reaped (sandbox_plan_failed_step() names it; "netstack"
 * when the network stack of a networked sandbox did not start). The pid
 * and pidfd are the sandbox's init (pid 1 inside, as confined as the program: capbus-init, a
 * program of its own embedded in this library and exec'd from a sealed memfd): it forwards
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH and SIGCONT to the program,
 * reaps orphans and exits when the program does; SIGKILL ends the whole sandbox. The sandbox
 * dies with the calling thread (PR_SET_PDEATHSIG), so spawn from a thread that lives as long as
 * the supervisor, and keep SIGCHLD not ignored so the child can be reaped. A plan may be
 * spawned again once its previous child is gone. On the hybrid cgroup layout it also starts a
 * short-lived helper process with no exit signal (the v1 migration warm-up, cgroup.h) that the
 * plan reaps itself. */
int sandbox_spawn(struct sandbox_plan *plan, pid_t *ret_pid, int *ret_pidfd);

/* The child step that failed in the last sandbox_spawn(), or NULL. Static string. */
const char *sandbox_plan_failed_step(const struct sandbox_plan *plan);

/* Landlock ABI version in use, 0 if the kernel has none (the sandbox then runs without it). */
int sandbox_plan_landlock_abi(const struct sandbox_plan *plan);

/* "v2" or "hybrid": which cgroup layout the limits went to. Static string. */
const char *sandbox_plan_cgroup_layout(const struct sandbox_plan *plan);

/* Directory of the skill's cgroup: controller NULL for the cgroup v2 leaf (its id is what the
 * kernel guard keys on), or "memory", "pids", "cpu" for where that limit lives (v2 or v1).
 * NULL if there is none. Owned by the plan. */
const char *sandbox_plan_cgroup_path(const struct sandbox_plan *plan, const char *controller);

enum sandbox_exit_reason {
	SANDBOX_EXIT_CODE,    /* status = exit code */
	SANDBOX_EXIT_SIGNAL,  /* status = signal */
	SANDBOX_EXIT_SECCOMP, /* killed by the seccomp filter (SIGSYS) */
	SANDBOX_EXIT_OOM,     /* killed by the OOM killer for its cgroup's memory limit */
};

struct sandbox_exit {
	enum sandbox_exit_reason reason;
	int status;
};

/* Classify a reaped child's siginfo (from waitid on the pidfd): uses init's report of how the
 * program ended when there is one, and the cgroup's OOM counter. Call once per spawn: it also
 * stops the sandbox's network stack, which must not outlive it. */
int sandbox_classify(struct sandbox_plan *plan, const siginfo_t *si, struct sandbox_exit *ret);

/* Block until the child behind pidfd exits, reap it and classify it. Does not close pidfd. */
int sandbox_wait(struct sandbox_plan *plan, int pidfd, struct sandbox_exit *ret);

/* Shell-style code: the exit code, or 128 + signal. */
int sandbox_exit_code(const struct sandbox_exit *e);

/* Static name: "exited", "signal", "seccomp", "oom". */
const char *sandbox_exit_reason_name(enum sandbox_exit_reason reason);

/* Remove leftover empty cgroups named cgroup_name from an earlier run that could not clean up
 * (killed supervisor). Only for names no live plan of this process uses. Returns 0, -EBUSY if
 * one still holds processes, or a negative errno. */
int sandbox_cgroup_reclaim(const char *cgroup_name);

/* Reclaim every leftover leaf whose name starts with prefix, in every hierarchy, beneath the
 * caller's own cgroup: what still runs there is killed, the leaf removed. For a supervisor's
 * start, before it has plans of its own (a killed supervisor leaves its skills' cgroups and
 * possibly their processes behind, also of skills removed since). *ret_count (may be NULL) is the
 * number of leaves removed. Returns 0, -EINVAL for a bad prefix, or the first error met. */
int sandbox_cgroup_reclaim_prefix(const char *prefix, unsigned *ret_count);

/* The same, for only the leaves of prefix that stale() (NULL: every one) says are leftovers:
 * `capbus run` names its leaves after its pid and reclaims those of runs no longer alive. */
int sandbox_cgroup_reclaim_stale(const char *prefix, bool (*stale)(const char *name, void *userdata), void *userdata,
				 unsigned *ret_count);

/* Kill anything left in the cgroups, remove them and free the plan. Accepts NULL. */
void sandbox_plan_free(struct sandbox_plan *plan);

static inline void sandbox_plan_freep(struct sandbox_plan **p)
{
	sandbox_plan_free(*p);
}
#define _cleanup_sandbox_plan_ __attribute__((cleanup(sandbox_plan_freep)))
