// SPDX-License-Identifier: MIT
/* routerproc.c - find, configure and execute the router program (privileged parent).
 *
 * The router is executed, never forked off our memory: it cannot inherit the master key, a
 * descriptor or any state of ours by accident. See capbusd(8), "The router program". */
#include "parent/routerproc.h"

#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "util.h"

#define NOBODY 65534

/* Sanitizer settings are the only environment the router gets: they hold no secret and the
 * sanitizer builds' tests need them. */
static const char *const env_keep[ROUTER_ENV_MAX] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
extern char **environ;

static int find_program(const char *override, char *out, size_t size)
{
	char buf[PATH_MAX];
	ssize_t n;

	if (override) {
		snprintf(out, size, "%s", override); /* for the caller's error message */
		if (!realpath(override, buf))
			return negative_errno();
		if (snprintf(out, size, "%s", buf) >= (int)size)
			return -ENAMETOOLONG;
		return access(out, X_OK) < 0 ? negative_errno() : 0;
	}
	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (snprintf(out, size, "%s/" ROUTER_PROGRAM, dirname(buf)) < (int)size && access(out, X_OK) == 0)
			return 0;
	}
	if (snprintf(out, size, "%s", CAPBUS_ROUTER_PATH) >= (int)size)
		return -ENAMETOOLONG;
	return access(out, X_OK) < 0 ? negative_errno() : 0;
}

/* The router cannot read the user database (it reads no files at all): we resolve it. */
static void resolve_ids(struct router_proc *rp, const char *user)
{
	if (geteuid() != 0) {
		/* Nothing to drop to: the router runs as we do. */
		rp->cfg.uid = geteuid();
		rp->cfg.gid = getegid();
		return;
	}
	const struct passwd *pw = getpwnam(user);
	rp->user_missing = !pw;
	rp->cfg.uid = pw ? pw->pw_uid : NOBODY;
	rp->cfg.gid = pw ? pw->pw_gid : NOBODY;
}

int router_proc_prepare(struct router_proc *rp, const struct config *cfg, const char *override)
{
	size_t n_env = 0;

	memset(rp, 0, sizeof(*rp));
	int r = find_program(override, rp->path, sizeof(rp->path));
	if (r < 0)
		return r;
	rp->cfg = (struct ps_router_config){
		.log_level = cfg->log_level,
		.max_frame = cfg->max_frame,
		.max_depth = cfg->max_depth,
		.handshake_timeout_ms = cfg->handshake_timeout_ms,
		.max_partial_bytes = cfg->max_partial_bytes,
		.max_identity_partial_bytes = cfg->max_identity_partial_bytes,
		.max_connections = cfg->max_connections,
		.max_pending = cfg->max_pending,
		.max_queue = cfg->max_queue,
		.byte_rate = cfg->byte_rate,
		.max_pending_per_uid = cfg->max_pending_per_uid,
		.max_pending_per_peer = cfg->max_pending_per_peer,
		.max_identity_connections = cfg->max_identity_connections,
		.max_subscriptions = cfg->max_subscriptions,
		.max_identity_subscriptions = cfg->max_identity_subscriptions,
		.max_subscription_bytes = cfg->max_subscription_bytes,
		.max_identity_subscription_bytes = cfg->max_identity_subscription_bytes,
	};
	resolve_ids(rp, cfg->user);
	if (rp->cfg.uid == 0 || rp->cfg.gid == 0)
		return ROUTER_PROC_ROOT; /* the parser never runs as root */
	/* Pointers into our own environment, which lives as long as we do. */
	for (char **e = environ; *e; e++)
		for (size_t i = 0; i < ARRAY_SIZE(env_keep); i++) {
			size_t len = strlen(env_keep[i]);
			if (strncmp(*e, env_keep[i], len) == 0 && (*e)[len] == '=' && n_env < ROUTER_ENV_MAX)
				rp->env[n_env++] = *e;
		}
	rp->env[n_env] = NULL;
	return 0;
}

/* In the child between fork and exec: stdin /dev/null, our stdout and stderr (the log), the
 * listening socket as fd 3, the channel as fd 4, and nothing else: no lock, no signalfd, no BPF
 * maps or links, no skills' pidfds. */
_noreturn_ static void exec_router(const struct router_proc *rp, int listen_fd, int channel_fd)
{
	char *argv[] = { (char *)ROUTER_PROGRAM, NULL };
	sigset_t none;
	/* Above 4 first: either descriptor may already sit on 3 or 4. */
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int lfd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 10);
	int cfd = fcntl(channel_fd, F_DUPFD_CLOEXEC, 10);

	if (null_fd < 0 || lfd < 0 || cfd < 0 || dup2(null_fd, 0) < 0 || dup2(lfd, 3) < 0 || dup2(cfd, 4) < 0 ||
	    syscall(SYS_close_range, 5U, ~0U, 0) < 0)
		_exit(127);
	/* exec keeps ignored signals and the mask: give the router a clean slate. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execve(rp->path, argv, (char **)rp->env);
	_exit(127);
}

int router_proc_spawn(const struct router_proc *rp, int listen_fd, int *channel_fd, pid_t *pid)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	/* A router that stops reading must not hold the parent in a send: after this long a send
	 * fails (-EAGAIN) and the parent drops the router (docs/architecture.md, "The channel"). */
	struct timeval tv = { .tv_sec = ROUTER_SEND_TIMEOUT_MS / 1000, .tv_usec = (ROUTER_SEND_TIMEOUT_MS % 1000) * 1000 };
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		int r = negative_errno();
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	pid_t child = fork();
	if (child < 0) {
		int r = negative_errno();
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (child == 0)
		exec_router(rp, listen_fd, sv[1]);
	close(sv[1]);
	*channel_fd = sv[0];
	*pid = child;
	return 0;
}
