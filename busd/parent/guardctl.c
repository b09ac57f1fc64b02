// SPDX-License-Identifier: MIT
/* guardctl.c - kernel guard lifecycle, allow-list, denial log and the daemon's own peer check. */
#include "parent/guardctl.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "cgroupfs.h"
#include "guard.h"
#include "common/log.h"

struct guardctl {
	const struct config *cfg;
	const struct guard_config *gc; /* the allow-list in force */
	struct guard *guard;           /* NULL: not attached */
	char v2_mount[256];
	char scope[512];
	uint64_t peer_denied;
	struct log_ratelimit rl;
	uint32_t *uids;          /* what the kernel's allow-list holds now */
	size_t n_uids;
	uint64_t *cgroup_ids;
	size_t n_cgroup_ids;
	uint64_t gateway_cgroup; /* the supervised gateway's leaf, allowed besides the list; 0: none */
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
		r = guard_clear(g->guard);
	if (r == 0)
		r = guardctl_apply(g, &cfg->guard);
	if (r == 0) {
		log_event(LOG_LEVEL_INFO, "guard_attached", "socket=%s scope=%s", LOG_Q(cfg->socket), LOG_Q(g->scope));
		return 0;
	}
	guard_free(g->guard);
	g->guard = NULL;
	if (cfg->kernel_guard == KERNEL_GUARD_REQUIRED) {
		*why = !guard_built()    ? "kernel_guard is \"required\" but this capbusd was built without the kernel guard (-Dbpf=disabled)"
		       : r == -EOPNOTSUPP ? "kernel_guard is \"required\" but this kernel has no unix-connect BPF hook (Linux 6.7+ with BTF)"
		       : r == -EPERM    ? "kernel_guard is \"required\" but loading BPF programs was refused (run as root)"
					: "kernel_guard is \"required\" but the guard could not be attached";
		return r;
	}
	log_event(LOG_LEVEL_WARNING, "guard_unavailable",
		  "error=%s fallback=\"socket modes and the daemon's peer check only: processes of an allowed uid or cgroup can still reach the socket\"",
		  LOG_Q(guard_built() ? strerror(-r) : "this capbusd was built without the kernel guard (-Dbpf=disabled)"));
	return 0;
}

static int cgroup_id(const struct guardctl *g, const char *rel, uint64_t *id)
{
	char path[1400];
	snprintf(path, sizeof(path), "%s%s", g->v2_mount, streq(rel, "/") ? "" : rel);
	return cgroup_id_of_path(path, id);
}

static bool has_id(const uint64_t *v, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* Moves the kernel's allow-list to gc without a moment in which an entry present before and
 * after is missing: new entries are added first, then the ones that went are removed. */
int guardctl_apply(struct guardctl *g, const struct guard_config *gc)
{
	g->gc = gc;
	if (!g->guard)
		return 0;
	uint64_t *ids = calloc(gc->n_allow_cgroups + 1, sizeof(uint64_t));
	size_t n_ids = 0;
	int r = 0;

	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < gc->n_allow_cgroups; i++) {
		uint64_t id;
		if (cgroup_id(g, gc->allow_cgroups[i], &id) < 0) {
			/* A cgroup that does not exist yet cannot be allowed yet; say so and go on. */
			log_event(LOG_LEVEL_WARNING, "guard_cgroup_missing", "cgroup=%s", LOG_Q(gc->allow_cgroups[i]));
			continue;
		}
		ids[n_ids++] = id;
	}
	for (size_t i = 0; r == 0 && i < gc->n_allow_uids; i++)
		r = guard_allow_uid(g->guard, gc->allow_uids[i]);
	for (size_t i = 0; r == 0 && i < n_ids; i++)
		r = guard_allow_cgroup(g->guard, ids[i]);
	for (size_t i = 0; r == 0 && i < g->n_uids; i++) {
		bool kept = false;
		for (size_t j = 0; j < gc->n_allow_uids && !kept; j++)
			kept = gc->allow_uids[j] == g->uids[i];
		if (!kept && guard_disallow_uid(g->guard, g->uids[i]) < 0)
			log_event(LOG_LEVEL_WARNING, "guard_update", "uid=%u error=\"not in the kernel's list\"", g->uids[i]);
	}
	for (size_t i = 0; r == 0 && i < g->n_cgroup_ids; i++)
		if (!has_id(ids, n_ids, g->cgroup_ids[i]))
			(void)guard_disallow_cgroup(g->guard, g->cgroup_ids[i]);
	if (r < 0) {
		free(ids);
		return r;
	}
	uint32_t *uids = calloc(gc->n_allow_uids + 1, sizeof(uint32_t));
	if (!uids) {
		free(ids);
		return -ENOMEM;
	}
	memcpy(uids, gc->allow_uids, gc->n_allow_uids * sizeof(uint32_t));
	free(g->uids);
	free(g->cgroup_ids);
	g->uids = uids;
	g->n_uids = gc->n_allow_uids;
	g->cgroup_ids = ids;
	g->n_cgroup_ids = n_ids;
	return 0;
}

int guardctl_events_fd(const struct guardctl *g)
{
	return g->guard ? guard_events_fd(g->guard) : -1;
}

static void log_denial(const struct guard_event *ev, void *userdata)
{
	struct guardctl *g = userdata;
	uint64_t suppressed;
	char cgroup[1024] = "?";
	char target[sizeof(ev->target)];

	if (!log_ratelimit_ok(&g->rl, monotonic_ms(), &suppressed))
		return;
	cgroup_v2_path_of_id(g->v2_mount, ev->cgroup_id, cgroup, sizeof(cgroup));
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

int guardctl_set_gateway(struct guardctl *g, uint64_t cgroup_id)
{
	uint64_t old = g->gateway_cgroup;
	int r = 0;

	g->gateway_cgroup = cgroup_id;
	if (!g->guard)
		return 0;
	if (cgroup_id)
		r = guard_allow_cgroup(g->guard, cgroup_id);
	/* The old leaf is gone with its gateway; an id on the configured list stays. */
	if (old && old != cgroup_id && !has_id(g->cgroup_ids, g->n_cgroup_ids, old))
		(void)guard_disallow_cgroup(g->guard, old);
	return r;
}

bool guardctl_peer_allowed(struct guardctl *g, uint32_t uid, pid_t pid, uint64_t cgroup_id)
{
	char cgroup[1024];
	bool ok = cgroup_id != 0 && cgroup_id == g->gateway_cgroup;

	for (size_t i = 0; i < g->gc->n_allow_uids && !ok; i++)
		ok = g->gc->allow_uids[i] == uid;
	/* Without a cgroup id (kernels before PIDFD_GET_INFO) nothing ties a cgroup to this peer:
	 * only the uid can admit it. */
	if (!ok && g->gc->n_allow_cgroups > 0 && cgroup_id != 0 &&
	    cgroup_v2_path_of_id(g->v2_mount, cgroup_id, cgroup, sizeof(cgroup)) == 0)
		for (size_t i = 0; i < g->gc->n_allow_cgroups && !ok; i++)
			ok = path_within(cgroup, g->gc->allow_cgroups[i]);
	if (!ok) {
		uint64_t suppressed;
		g->peer_denied++;
		if (log_ratelimit_ok(&g->rl, monotonic_ms(), &suppressed))
			log_event(LOG_LEVEL_WARNING, "peer_denied", "pid=%d uid=%u cgroup_id=%llu suppressed=%llu", (int)pid,
				  uid, (unsigned long long)cgroup_id, (unsigned long long)suppressed);
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
	free(g->uids);
	free(g->cgroup_ids);
	free(g);
}
