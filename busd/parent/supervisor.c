// SPDX-License-Identifier: MIT
/* supervisor.c - skills as sandboxed, supervised processes (privileged parent). */
#include "parent/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "parent/bundle.h"
#include "guard.h"
#include "parent/guardctl.h"
#include "keyfile.h"
#include "parent/keys.h"
#include "launch.h"
#include "pidfd-util.h"
#include "common/log.h"
#include "manifest.h"
#include "sandbox.h"
#include "trace.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define CRASH_WINDOW_MS 60000
#define CRASHES_BEFORE_FAILED 5
#define STOP_GRACE_MS 1500
#define MAX_SKILLS 256
#define MAX_FILTERS 8 /* seccomp profiles x network: a handful in practice */
#define PREPARE_AHEAD_MS 250 /* a restart's plan is made this long before it is due */

enum skill_state { SKILL_STOPPED, SKILL_RUNNING, SKILL_RESTARTING, SKILL_FAILED };
static const char *const state_names[] = { "stopped", "running", "restarting", "failed" };

struct skill {
	char id[PS_ID_LEN];
	char *manifest_text;       /* to notice changes on reload */
	struct manifest *manifest;
	struct sandbox_plan *plan; /* the running launch's, or the next one, prepared */
	struct egress *egress;     /* attached to the skill's cgroup while it exists */
	int bus_fd, child_bus_fd;  /* the next launch's socketpair (router's end, skill's end) */
	int key_fd;                /* the next launch's key memfd */
	uid_t uid;
	enum skill_state state;
	pid_t pid;
	int pidfd;
	uint32_t restarts;
	uint32_t crashes;          /* within the current window */
	uint64_t window_start_ms;
	uint64_t next_start_ms;    /* when restarting */
	bool prepared;             /* the restart's plan was made (or tried) ahead */
	char last_exit[48];
	bool seen;                 /* present in the latest sync */
	bool reclaimed;            /* leftover cgroups of an earlier daemon removed */
};

/* A compiled seccomp program, shared by every skill with this profile and network setting. */
struct filter_entry {
	char *profile;
	bool network;
	struct sandbox_filter *filter;
};

struct supervisor {
	const struct config *cfg;
	const uint8_t *master;
	struct guardctl *guard;
	struct supervisor_ops ops;
	struct skill *skills[MAX_SKILLS];
	size_t n_skills;
	struct filter_entry filters[MAX_FILTERS];
	size_t n_filters;
};

static void report(struct supervisor *s, const struct skill *k)
{
	struct ps_skill_state st = { .pid = k->state == SKILL_RUNNING ? k->pid : 0, .restarts = k->restarts };

	snprintf(st.id, sizeof(st.id), "%s", k->id);
	snprintf(st.state, sizeof(st.state), "%s", state_names[k->state]);
	snprintf(st.last_exit, sizeof(st.last_exit), "%s", k->last_exit);
	s->ops.state(s->ops.userdata, &st);
}

void supervisor_report_all(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_skills; i++)
		report(s, s->skills[i]);
}

int supervisor_new(const struct config *cfg, const uint8_t *master, struct guardctl *guard,
		   const struct supervisor_ops *ops, struct supervisor **out)
{
	struct supervisor *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->master = master;
	s->guard = guard;
	s->ops = *ops;
	*out = s;
	return 0;
}

/* The skill's outer uid: the owner of its state directory once it exists, else a free uid derived
 * from its id, so it stays the same across restarts and reboots. */
static int skill_uid(struct supervisor *s, const char *id, const char *state_dir, uid_t *uid)
{
	struct stat st;

	if (lstat(state_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || st.st_uid < SANDBOX_ID_BASE || st.st_uid >= SANDBOX_ID_BASE + SANDBOX_ID_COUNT)
			return -EPERM;
		*uid = st.st_uid;
		return 0;
	}
	for (uint32_t tries = 0; tries < SANDBOX_ID_COUNT; tries++) {
		uid_t candidate = launch_default_uid(id, tries);
		bool taken = false;
		for (size_t i = 0; i < s->n_skills && !taken; i++) {
			_cleanup_free_ char *other = NULL;
			if (asprintf(&other, "%s/skills/%s", s->cfg->state_dir, s->skills[i]->id) < 0)
				return -ENOMEM;
			taken = lstat(other, &st) == 0 && st.st_uid == candidate;
		}
		if (!taken) {
			*uid = candidate;
			return 0;
		}
	}
	return -ENOSPC;
}

static int prepare_state(struct supervisor *s, struct skill *k, uid_t *uid, char **state_dir)
{
	_cleanup_free_ char *parent = NULL, *dir = NULL;

	if (asprintf(&parent, "%s/skills", s->cfg->state_dir) < 0 || asprintf(&dir, "%s/%s", parent, k->id) < 0)
		return -ENOMEM;
	/* Skills run under their own uids and must traverse (not list) the state directory to reach
	 * their own; everything secret in it is a 0600 file. */
	if (chmod(s->cfg->state_dir, 0711) < 0 || (mkdir(parent, 0711) < 0 && errno != EEXIST))
		return negative_errno();
	int r = skill_uid(s, k->id, dir, uid);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) == 0) {
		if (chown(dir, *uid, *uid) < 0)
			return negative_errno();
	} else if (errno != EEXIST) {
		return negative_errno();
	}
	*state_dir = TAKE_PTR(dir);
	return 0;
}

/* The manifest's seccomp program, compiled the first time a manifest asks for its profile and
 * kept for the daemon's lifetime, so a start copies a program instead of compiling one. NULL
 * when it cannot be compiled (an unknown profile): the plan then compiles and reports why. */
static const struct sandbox_filter *filter_for(struct supervisor *s, const struct manifest *m)
{
	const char *profile = m->sandbox.syscalls ? m->sandbox.syscalls : "default";
	struct filter_entry *e;

	for (size_t i = 0; i < s->n_filters; i++)
		if (streq(s->filters[i].profile, profile) && s->filters[i].network == m->sandbox.network)
			return s->filters[i].filter;
	if (s->n_filters == MAX_FILTERS)
		return NULL;
	e = &s->filters[s->n_filters];
	e->profile = strdup(profile);
	if (!e->profile)
		return NULL;
	if (launch_filter(m, &e->filter) < 0) {
		free(e->profile);
		e->profile = NULL;
		return NULL;
	}
	e->network = m->sandbox.network;
	s->n_filters++;
	return e->filter;
}

static int build_plan(struct supervisor *s, struct skill *k, int bus_fd, int key_fd)
{
	_cleanup_free_ char *state_dir = NULL, *skill_dir = NULL, *cgroup = NULL;
	uid_t uid;

	int r = prepare_state(s, k, &uid, &state_dir);
	if (r < 0)
		return r;
	k->uid = uid;
	/* Two daemons (different state directories) may run the same skill side by side. */
	uint8_t h[4];
	crypto_generichash(h, sizeof(h), (const uint8_t *)s->cfg->state_dir, strlen(s->cfg->state_dir), NULL, 0);
	if (asprintf(&skill_dir, "%s/%s", s->cfg->skills_dir, k->id) < 0 ||
	    asprintf(&cgroup, "capbus-%02x%02x%02x%02x-%s", h[0], h[1], h[2], h[3], k->id) < 0)
		return -ENOMEM;
	/* A daemon killed before it could clean up leaves empty cgroups of this name behind. */
	if (!k->reclaimed) {
		r = sandbox_cgroup_reclaim(cgroup);
		if (r < 0)
			log_event(LOG_LEVEL_WARNING, "skill_cgroup_leftover", "id=%s cgroup=%s error=%s", LOG_Q(k->id),
				  LOG_Q(cgroup), LOG_Q(strerror(-r)));
		k->reclaimed = true;
	}
	STARTUP_TRACE("state + reclaim");
	struct launch_params lp = {
		.manifest = k->manifest, .skill_dir = skill_dir, .state_dir = state_dir, .uid = uid,
		.cgroup_name = cgroup, .bus_fd = bus_fd, .key_fd = key_fd, .filter = filter_for(s, k->manifest),
	};
	r = launch_plan(&lp, &k->plan);
	if (r < 0)
		return r;
	STARTUP_TRACE("plan built");
	if (!s->guard || !guardctl_enabled(s->guard)) {
		if (k->manifest->sandbox.network)
			log_event(LOG_LEVEL_WARNING, "skill_egress_unenforced",
				  "id=%s reason=\"kernel_guard is off: its network allow-list is not enforced\"", LOG_Q(k->id));
		return 0;
	}
	/* Egress rules go on the cgroup before anything runs in it. */
	r = launch_egress(k->plan, &k->manifest->sandbox, &k->egress);
	if (r < 0 && !k->manifest->sandbox.network) {
		/* Its own empty network namespace still keeps it off the network. */
		log_event(LOG_LEVEL_WARNING, "skill_egress_unguarded", "id=%s error=%s", LOG_Q(k->id), LOG_Q(strerror(-r)));
		r = 0;
	}
	return r;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Frees the plan (its cgroups go with it) and a prepared launch's descriptors. */
static void drop_plan(struct skill *k)
{
	egress_free(k->egress);
	k->egress = NULL;
	sandbox_plan_free(k->plan);
	k->plan = NULL;
	close_fd(&k->bus_fd);
	close_fd(&k->child_bus_fd);
	close_fd(&k->key_fd);
}

/* Everything a launch needs before it can spawn: the socketpair, the key memfd, and the plan
 * around them (fresh cgroups with limits and egress rules, the mount list, the seccomp program).
 * Done at the start itself, or ahead of a planned restart, so the restart only spawns. The
 * cgroups are new either way: no process tree ever finds another one's leaves. */
static int prepare_launch(struct supervisor *s, struct skill *k)
{
	int sv[2];

	if (k->plan)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	k->bus_fd = sv[0];
	k->child_bus_fd = sv[1];
	uint8_t key[CAPBUS_KEY_LEN];
	keys_derive(s->master, k->id, key);
	k->key_fd = launch_key_memfd(k->id, key);
	sodium_memzero(key, sizeof(key));
	STARTUP_TRACE("key memfd");
	int r = k->key_fd < 0 ? k->key_fd : build_plan(s, k, k->child_bus_fd, k->key_fd);
	if (r < 0)
		drop_plan(k);
	return r;
}

static void set_state(struct supervisor *s, struct skill *k, enum skill_state state)
{
	k->state = state;
	report(s, k);
}

/* One launch: the prepared plan (or one made now) around this launch's two fds. */
static int start_skill(struct supervisor *s, struct skill *k)
{
	STARTUP_TRACE("start_skill");
	bool ahead = k->plan != NULL;
	int r = prepare_launch(s, k);
	const char *step = "plan";
	if (r == 0) {
		r = sandbox_spawn(k->plan, &k->pid, &k->pidfd);
		step = sandbox_plan_failed_step(k->plan);
	}
	/* The skill's copies: only the sandbox may hold them now. */
	close_fd(&k->child_bus_fd);
	close_fd(&k->key_fd);
	if (r < 0) {
		log_event(LOG_LEVEL_ERROR, "skill_start_failed", "id=%s step=%s error=%s", LOG_Q(k->id),
			  step ? LOG_Q(step) : "-", LOG_Q(strerror(-r)));
		snprintf(k->last_exit, sizeof(k->last_exit), "sandbox %s: %s", step ? step : "setup", strerror(-r));
		drop_plan(k);
		return r;
	}
	STARTUP_TRACE("spawned");
	int bus_fd = k->bus_fd;
	k->bus_fd = -1;
	r = s->ops.adopt(s->ops.userdata, k->id, k->pid, k->uid, bus_fd);
	if (r < 0)
		log_event(LOG_LEVEL_ERROR, "skill_adopt_failed", "id=%s error=%s", LOG_Q(k->id), LOG_Q(strerror(-r)));
	log_event(LOG_LEVEL_INFO, "skill_started", "id=%s pid=%d cgroups=%s prepared_ahead=%s", LOG_Q(k->id), (int)k->pid,
		  LOG_Q(sandbox_plan_cgroup_layout(k->plan)), ahead ? "yes" : "no");
	STARTUP_TRACE("adopted + logged");
	set_state(s, k, SKILL_RUNNING);
	return 0;
}

/* Schedules the next start after a crash, or gives up. */
static void crashed(struct supervisor *s, struct skill *k, uint64_t now)
{
	if (now - k->window_start_ms > CRASH_WINDOW_MS) {
		k->window_start_ms = now;
		k->crashes = 0;
	}
	k->crashes++;
	if (k->crashes >= CRASHES_BEFORE_FAILED) {
		log_event(LOG_LEVEL_ERROR, "skill_failed", "id=%s crashes=%u window_ms=%u", LOG_Q(k->id), k->crashes,
			  CRASH_WINDOW_MS);
		set_state(s, k, SKILL_FAILED);
		return;
	}
	uint64_t delay = BACKOFF_FIRST_MS << (k->crashes - 1);
	k->next_start_ms = now + (delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay);
	k->prepared = false;
	k->restarts++;
	set_state(s, k, SKILL_RESTARTING);
}

static void reap(struct supervisor *s, struct skill *k, bool expected)
{
	struct sandbox_exit ex;
	int r = sandbox_wait(k->plan, k->pidfd, &ex);

	close(k->pidfd);
	k->pidfd = -1;
	if (r < 0) {
		snprintf(k->last_exit, sizeof(k->last_exit), "unknown");
	} else if (ex.reason == SANDBOX_EXIT_CODE) {
		snprintf(k->last_exit, sizeof(k->last_exit), "exit %d", ex.status);
	} else if (ex.reason == SANDBOX_EXIT_SIGNAL) {
		snprintf(k->last_exit, sizeof(k->last_exit), "signal %d", ex.status);
	} else {
		snprintf(k->last_exit, sizeof(k->last_exit), "%s", sandbox_exit_reason_name(ex.reason));
	}
	drop_plan(k);
	bool clean = r == 0 && ex.reason == SANDBOX_EXIT_CODE && ex.status == 0;
	log_event(expected || clean ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING, "skill_exited", "id=%s pid=%d reason=%s",
		  LOG_Q(k->id), (int)k->pid, LOG_Q(k->last_exit));
	k->pid = 0;
	if (expected)
		return;
	if (clean) {
		set_state(s, k, SKILL_STOPPED);
		return;
	}
	crashed(s, k, monotonic_ms());
}

/* Stops a skill: SIGTERM, a grace period, then its whole cgroup is killed with the plan. */
static void stop_skill(struct skill *k)
{
	if (k->pidfd >= 0) {
		pidfd_signal(k->pidfd, SIGTERM);
		struct pollfd p = { .fd = k->pidfd, .events = POLLIN };
		if (poll(&p, 1, STOP_GRACE_MS) <= 0)
			pidfd_signal(k->pidfd, SIGKILL);
		struct sandbox_exit ex;
		sandbox_wait(k->plan, k->pidfd, &ex);
		close(k->pidfd);
		k->pidfd = -1;
	}
	drop_plan(k);
	k->pid = 0;
}

static void skill_free(struct skill *k)
{
	if (!k)
		return;
	stop_skill(k);
	manifest_free(k->manifest);
	free(k->manifest_text);
	free(k);
}

static struct skill *find(struct supervisor *s, const char *id)
{
	for (size_t i = 0; i < s->n_skills; i++)
		if (streq(s->skills[i]->id, id))
			return s->skills[i];
	return NULL;
}

static int sync_one(const char *id, const char *path, const char *text, size_t len, void *userdata)
{
	struct supervisor *s = userdata;
	struct skill *k = find(s, id);
	struct manifest *m = NULL;
	_cleanup_free_ char *err = NULL;

	if (k && k->manifest_text && strlen(k->manifest_text) == len && memcmp(k->manifest_text, text, len) == 0) {
		k->seen = true;
		return 0;
	}
	/* Root-owned files, parsed with the same strict parser the router uses. */
	if (manifest_parse(text, len, path, &m, &err) != 0 || !m->exec) {
		manifest_free(m);
		return 0; /* invalid (the router logs why) or an external client */
	}
	if (k) {
		log_event(LOG_LEVEL_INFO, "skill_changed", "id=%s", LOG_Q(id));
		stop_skill(k);
		manifest_free(k->manifest);
		free(k->manifest_text);
	} else {
		if (s->n_skills == MAX_SKILLS) {
			manifest_free(m);
			log_event(LOG_LEVEL_ERROR, "too_many_skills", "id=%s max=%d", LOG_Q(id), MAX_SKILLS);
			return 0;
		}
		k = calloc(1, sizeof(*k));
		if (!k) {
			manifest_free(m);
			return -ENOMEM;
		}
		snprintf(k->id, sizeof(k->id), "%s", id);
		k->pidfd = k->bus_fd = k->child_bus_fd = k->key_fd = -1;
		s->skills[s->n_skills++] = k;
	}
	k->manifest = m;
	k->manifest_text = strndup(text, len);
	(void)filter_for(s, m); /* compiled at load, not at the first start */
	k->seen = true;
	k->crashes = 0;
	k->state = SKILL_STOPPED;
	if (start_skill(s, k) < 0)
		crashed(s, k, monotonic_ms());
	return 0;
}

void supervisor_sync(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_skills; i++)
		s->skills[i]->seen = false;
	bundle_foreach_manifest(s->cfg, sync_one, s);
	for (size_t i = 0; i < s->n_skills;) {
		struct skill *k = s->skills[i];
		if (k->seen) {
			i++;
			continue;
		}
		log_event(LOG_LEVEL_INFO, "skill_removed", "id=%s", LOG_Q(k->id));
		k->state = SKILL_STOPPED;
		struct ps_skill_state st = { 0 };
		snprintf(st.id, sizeof(st.id), "%s", k->id);
		snprintf(st.state, sizeof(st.state), "removed");
		s->ops.state(s->ops.userdata, &st);
		skill_free(k);
		s->skills[i] = s->skills[--s->n_skills];
	}
}

size_t supervisor_pollfds(struct supervisor *s, struct pollfd *fds, size_t max, int *timeout_ms)
{
	size_t n = 0;
	uint64_t now = monotonic_ms();

	for (size_t i = 0; i < s->n_skills; i++) {
		struct skill *k = s->skills[i];
		if (k->pidfd >= 0 && n < max)
			fds[n++] = (struct pollfd){ .fd = k->pidfd, .events = POLLIN };
		if (k->state == SKILL_RESTARTING) {
			uint64_t at = k->prepared ? k->next_start_ms : k->next_start_ms - PREPARE_AHEAD_MS;
			int wait = at > now ? (int)(at - now) : 0;
			if (*timeout_ms < 0 || wait < *timeout_ms)
				*timeout_ms = wait;
		}
	}
	return n;
}

void supervisor_dispatch(struct supervisor *s, const struct pollfd *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		for (size_t j = 0; j < s->n_skills; j++)
			if (s->skills[j]->pidfd == fds[i].fd) {
				reap(s, s->skills[j], false);
				break;
			}
	}
	uint64_t now = monotonic_ms();
	for (size_t i = 0; i < s->n_skills; i++) {
		struct skill *k = s->skills[i];
		if (k->state != SKILL_RESTARTING)
			continue;
		/* The backoff is idle time: the restart's plan is made shortly before it is due, so the
		 * restart only spawns (a failure here is retried, and reported, by the start itself). */
		if (!k->prepared && now + PREPARE_AHEAD_MS >= k->next_start_ms && now < k->next_start_ms) {
			k->prepared = true;
			int r = prepare_launch(s, k);
			log_event(r < 0 ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, "skill_restart_prepared", "id=%s result=%s",
				  LOG_Q(k->id), LOG_Q(r < 0 ? strerror(-r) : "ok"));
		}
		if (now >= k->next_start_ms && start_skill(s, k) < 0 && k->state != SKILL_FAILED)
			crashed(s, k, now);
	}
}

void supervisor_free(struct supervisor *s)
{
	if (!s)
		return;
	/* Ask all to stop first so their grace periods overlap. */
	for (size_t i = 0; i < s->n_skills; i++)
		if (s->skills[i]->pidfd >= 0)
			pidfd_signal(s->skills[i]->pidfd, SIGTERM);
	for (size_t i = 0; i < s->n_skills; i++)
		skill_free(s->skills[i]);
	for (size_t i = 0; i < s->n_filters; i++) {
		sandbox_filter_free(s->filters[i].filter);
		free(s->filters[i].profile);
	}
	free(s);
}
