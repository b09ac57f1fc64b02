// SPDX-License-Identifier: MIT
/* guardctl.c - kernel guard lifecycle, allow-list, denial log and the daemon's own peer check. */
#include "guardctl.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "cgroup-v2.h"
#include "guard.h"
#include "log.h"

struct guardctl {
	const struct config *cfg;
	const struct guard_config *gc; /* the allow-list in force */
	struct guard *guard;           /* NULL: not attached */
	char v2_mount[256];
	char scope[512];
	uint64_t peer_denied;
	struct log_ratelimit rl;
};

static const char *const mode_names[] = { "off", "auto", "required" };

int guardctl_new(const struct config *cfg, struct guardctl **out, const char **why)
{
	struct guardctl *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->cfg = cfg;
	g->gc = &cfg->guard;
	g->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 20);
	*out = g;
	if (cfg->kernel_guard == KERNEL_GUARD_OFF)
		return 0;
	r = cgroup_v2_mount(g->v2_mount, sizeof(g->v2_mount));
	if (r == 0)
		snprintf(g->scope, sizeof(g->scope), "%s%s", g->v2_mount,
			 cfg->guard.scope && !streq(cfg->guard.scope, "/") ? cfg->guard.scope : "");
	if (r == 0)
		r = guard_probe(cfg->guard.simulate_missing_hook ? GUARD_PROBE_FORCE_UNSUPPORTED : 0);
	if (r == 0)
		r = guard_open(&g->guard, cfg->socket, g->scope);
	if (r == 0)
		r = guardctl_apply(g, &cfg->guard);
	if (r == 0) {
		log_event(LOG_LEVEL_INFO, "guard_attached", "socket=%s scope=%s", LOG_Q(cfg->socket), LOG_Q(g->scope));
		return 0;
	}
	guard_free(g->guard);
	g->guard = NULL;
	if (cfg->kernel_guard == KERNEL_GUARD_REQUIRED) {
		*why = r == -EOPNOTSUPP ? "kernel_guard is \"required\" but this kernel has no unix-connect BPF hook (Linux 6.7+ with BTF)"
		       : r == -EPERM    ? "kernel_guard is \"required\" but loading BPF programs was refused (run as root)"
					: "kernel_guard is \"required\" but the guard could not be attached";
		log_event(LOG_LEVEL_ERROR, "guard_unavailable", "error=%s", LOG_Q(strerror(-r)));
		return r;
	}
	log_event(LOG_LEVEL_WARNING, "guard_unavailable",
		  "error=%s fallback=\"socket modes and the daemon's peer check only: processes of an allowed uid or cgroup can still reach the socket\"",
		  LOG_Q(strerror(-r)));
	return 0;
}

static int cgroup_id(const struct guardctl *g, const char *rel, uint64_t *id)
{
	char path[1400];
	snprintf(path, sizeof(path), "%s%s", g->v2_mount, streq(rel, "/") ? "" : rel);
	return cgroup_id_of_path(path, id);
}

int guardctl_apply(struct guardctl *g, const struct guard_config *gc)
{
	g->gc = gc;
	if (!g->guard)
		return 0;
	int r = guard_clear(g->guard);
	for (size_t i = 0; r == 0 && i < gc->n_allow_uids; i++)
		r = guard_allow_uid(g->guard, gc->allow_uids[i]);
	for (size_t i = 0; r == 0 && i < gc->n_allow_cgroups; i++) {
		uint64_t id;
		if (cgroup_id(g, gc->allow_cgroups[i], &id) < 0) {
			/* A cgroup that does not exist yet cannot be allowed yet; say so and go on. */
			log_event(LOG_LEVEL_WARNING, "guard_cgroup_missing", "cgroup=%s", LOG_Q(gc->allow_cgroups[i]));
			continue;
		}
		r = guard_allow_cgroup(g->guard, id);
	}
	return r;
}

int guardctl_events_fd(const struct guardctl *g)
{
	return g->guard ? guard_events_fd(g->guard) : -1;
}

/* The v2 cgroup path of a pid ("/a/b"), from /proc. */
static int pid_cgroup(pid_t pid, char *buf, size_t size)
{
	char path[64], line[1200];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		if (!startswith(line, "0::"))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + 3) >= size)
			return -ENAMETOOLONG;
		memcpy(buf, line + 3, strlen(line + 3) + 1);
		return 0;
	}
	return -ENOENT;
}

static void log_denial(const struct guard_event *ev, void *userdata)
{
	struct guardctl *g = userdata;
	uint64_t suppressed;
	char cgroup[1024] = "?";
	char target[sizeof(ev->target)];

	if (!log_ratelimit_ok(&g->rl, monotonic_ms(), &suppressed))
		return;
	pid_cgroup((pid_t)ev->pid, cgroup, sizeof(cgroup));
	/* Abstract names may hold NUL bytes: show them as escapes, not as an early end. */
	size_t n = ev->target_len < sizeof(target) - 1 ? ev->target_len : sizeof(target) - 1;
	for (size_t i = 0; i < n; i++)
		target[i] = ev->target[i] ? ev->target[i] : '?';
	target[n] = '\0';
	log_event(LOG_LEVEL_WARNING, "guard_denied", "pid=%u uid=%u cgroup=%s cgroup_id=%llu comm=%s target=%s suppressed=%llu",
		  ev->pid, ev->uid, LOG_Q(cgroup), (unsigned long long)ev->cgroup_id, LOG_Q(ev->comm), LOG_Q(target),
		  (unsigned long long)suppressed);
}

void guardctl_dispatch(struct guardctl *g)
{
	if (g->guard)
		guard_events_consume(g->guard, log_denial, g);
}

/* "/a/b/c" is inside "/a/b" (and "/" contains everything). */
static bool path_within(const char *path, const char *allowed)
{
	size_t n = strlen(allowed);
	if (streq(allowed, "/"))
		return true;
	return strncmp(path, allowed, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool guardctl_peer_allowed(struct guardctl *g, uint32_t uid, pid_t pid, int pidfd)
{
	char cgroup[1024];
	bool ok = false;

	for (size_t i = 0; i < g->gc->n_allow_uids && !ok; i++)
		ok = g->gc->allow_uids[i] == uid;
	if (!ok && g->gc->n_allow_cgroups > 0 && pid > 0 && pid_cgroup(pid, cgroup, sizeof(cgroup)) == 0) {
		for (size_t i = 0; i < g->gc->n_allow_cgroups && !ok; i++)
			ok = path_within(cgroup, g->gc->allow_cgroups[i]);
		/* The pid may have been reused between accept and now: only the pidfd proves it did not. */
		if (ok && pidfd >= 0) {
			uint64_t by_fd, by_path;
			char full[1400];
			snprintf(full, sizeof(full), "%s%s", g->v2_mount[0] ? g->v2_mount : "/sys/fs/cgroup", cgroup);
			ok = cgroup_id_of_pidfd(pidfd, &by_fd) == 0 && cgroup_id_of_path(full, &by_path) == 0 &&
			     by_fd == by_path;
		} else if (ok) {
			ok = false; /* no pidfd: the cgroup cannot be tied to the peer */
		}
	}
	if (!ok) {
		uint64_t suppressed;
		g->peer_denied++;
		if (log_ratelimit_ok(&g->rl, monotonic_ms(), &suppressed))
			log_event(LOG_LEVEL_WARNING, "peer_denied", "pid=%d uid=%u suppressed=%llu", (int)pid, uid,
				  (unsigned long long)suppressed);
	}
	return ok;
}

void guardctl_info(const struct guardctl *g, struct ps_guard_info *info)
{
	struct guard_stats st = { 0 };

	snprintf(info->mode, sizeof(info->mode), "%s", mode_names[g->cfg->kernel_guard]);
	info->active = g->guard != NULL;
	info->peer_check = guardctl_enabled(g);
	snprintf(info->scope, sizeof(info->scope), "%.*s", (int)sizeof(info->scope) - 1, g->guard ? g->scope : "");
	snprintf(info->socket, sizeof(info->socket), "%s", g->cfg->socket);
	if (g->guard && guard_get_stats(g->guard, &st) == 0) {
		info->denied = st.denied;
		info->allowed_cgroup = st.allowed_cgroup;
		info->allowed_uid = st.allowed_uid;
		info->events_dropped = st.events_dropped;
	}
	info->peer_denied = g->peer_denied;
	info->n_uids = (uint32_t)g->gc->n_allow_uids;
	for (size_t i = 0; i < g->gc->n_allow_uids && i < PS_GUARD_UIDS; i++)
		info->uids[i] = g->gc->allow_uids[i];
	info->n_cgroups = (uint32_t)g->gc->n_allow_cgroups;
	for (size_t i = 0; i < g->gc->n_allow_cgroups && i < PS_GUARD_CGROUPS; i++)
		snprintf(info->cgroups[i], sizeof(info->cgroups[i]), "%s", g->gc->allow_cgroups[i]);
}

bool guardctl_enabled(const struct guardctl *g)
{
	return g->cfg->kernel_guard != KERNEL_GUARD_OFF;
}

void guardctl_free(struct guardctl *g)
{
	if (!g)
		return;
	guard_free(g->guard);
	free(g);
}
