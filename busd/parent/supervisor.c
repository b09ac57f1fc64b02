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
#include "parent/skillout.h"
#include "launch.h"
#include "pidfd-util.h"
#include "common/log.h"
#include "manifest.h"
#include "sandbox.h"
#include "parent/skillstate.h"
#include "stateimg.h"
#include "trace.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define CRASH_WINDOW_MS 60000
#define CRASHES_BEFORE_FAILED 5
#define STOP_GRACE_MS 1500
#define MAX_SKILLS 256
#define USAGE_EVERY_MS 1000        /* how often `capbus skills` learns /state's usage */
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
	int out_w, err_w;          /* the next launch's stdout and stderr (write ends of its pipes) */
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
	uint64_t started_ms;       /* the current or last start (monotonic) */
	struct ps_skill_exit exits[PS_SKILL_EXITS]; /* the most recent exits, the oldest first */
	uint32_t n_exits;
	struct skillout *out;      /* its stdout and stderr; lives as long as the skill is installed */
	bool seen;                 /* present in the latest sync */
	bool file_seen;            /* its manifest file exists, valid or not */
	bool state_mounted;        /* its /state image is mounted (kept between starts) */
	uint64_t state_used, state_size; /* the image's statvfs at the last look */
};

/* A compiled seccomp program, shared by every skill with this profile, network setting and
 * inbound-port setting (listen() is allowed only with a `listen` port). */
struct filter_entry {
	char *profile;
	bool network, listen;
	struct sandbox_filter *filter;
};

struct supervisor {
	const struct config *cfg;
	const uint8_t *master;
	struct guardctl *guard;
	struct supervisor_ops ops;
	struct skillout_limits out_limits;
	struct logsink *log;       /* the daemon's stderr as the skills' lines reach it */
	struct skill *skills[MAX_SKILLS];
	size_t n_skills;
	uint64_t next_usage_ms;
	struct skillstate *state;  /* the skills' /state images */
	struct filter_entry filters[MAX_FILTERS];
	size_t n_filters;
	bool swept;                /* mounts of skills without a manifest were looked for */
};

static void report(struct supervisor *s, const struct skill *k)
{
	struct ps_skill_state st = { .pid = k->state == SKILL_RUNNING ? k->pid : 0, .restarts = k->restarts };

	snprintf(st.id, sizeof(st.id), "%s", k->id);
	snprintf(st.state, sizeof(st.state), "%s", state_names[k->state]);
	snprintf(st.last_exit, sizeof(st.last_exit), "%s", k->last_exit);
	st.started_ms = k->started_ms;
	if (k->state == SKILL_RESTARTING && k->n_exits) {
		st.next_start_ms = k->next_start_ms;
		st.backoff_ms = k->exits[k->n_exits - 1].backoff_ms;
	}
	st.n_exits = k->n_exits;
	memcpy(st.exits, k->exits, sizeof(st.exits));
	if (k->manifest)
		st.state_limit = k->manifest->limits.state;
	if (k->state_mounted) {
		st.state_used = k->state_used;
		st.state_size = k->state_size;
	}
	s->ops.state(s->ops.userdata, &st);
}

void supervisor_report_all(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_skills; i++)
		report(s, s->skills[i]);
}

/* "capbus-XXXXXXXX-": the start of every skill cgroup name of this daemon. Two daemons (different
 * state directories) may run the same skill side by side, so a hash of the state dir is in it. */
static void cgroup_prefix(const struct supervisor *s, char *buf, size_t size)
{
	uint8_t h[4];

	crypto_generichash(h, sizeof(h), (const uint8_t *)s->cfg->state_dir, strlen(s->cfg->state_dir), NULL, 0);
	snprintf(buf, size, "capbus-%02x%02x%02x%02x-", h[0], h[1], h[2], h[3]);
}

int supervisor_new(const struct config *cfg, const uint8_t *master, struct guardctl *guard,
		   const struct supervisor_ops *ops, struct supervisor **out)
{
	struct supervisor *s = calloc(1, sizeof(*s));
	char prefix[32];
	unsigned n = 0;
	int r;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->master = master;
	s->guard = guard;
	s->ops = *ops;
	s->out_limits = (struct skillout_limits){ .rate = cfg->skill_log_rate, .burst = cfg->skill_log_burst,
						  .ring_lines = cfg->skill_log_lines, .ring_bytes = cfg->skill_log_bytes,
						  .journal = skillout_journal_wanted() };
	if (logsink_new(STDERR_FILENO, &s->log) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->out_limits.sink = s->log;
	/* A daemon killed with -9 leaves its skills' cgroups behind, with whatever still ran in them
	 * (the skills die with it, their orphans need not), and skills removed while it was down
	 * are nowhere in the new configuration: reclaim every leaf of this daemon's prefix before
	 * the first plan exists. */
	cgroup_prefix(s, prefix, sizeof(prefix));
	r = sandbox_cgroup_reclaim_prefix(prefix, &n);
	if (r < 0)
		log_event(LOG_LEVEL_WARNING, "skill_cgroup_leftover", "prefix=%s error=%s", LOG_Q(prefix),
			  LOG_Q(strerror(-r)));
	if (n > 0)
		log_event(LOG_LEVEL_INFO, "skill_cgroups_reclaimed", "prefix=%s count=%u", LOG_Q(prefix), n);
	if (skillstate_new(cfg->state_dir, &s->state) < 0) {
		logsink_free(s->log);
		free(s);
		return -ENOMEM;
	}
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

/* <state_dir>/skills/ID: the skill's /state, the mount point of its image (skillstate.h). */
static char *state_dir_of(const struct supervisor *s, const char *id)
{
	char *p;

	return asprintf(&p, "%s/skills/%s", s->cfg->state_dir, id) < 0 ? NULL : p;
}

static int prepare_state(struct supervisor *s, struct skill *k, uid_t *uid, char **state_dir)
{
	_cleanup_free_ char *parent = NULL, *dir = NULL;

	if (asprintf(&parent, "%s/skills", s->cfg->state_dir) < 0 || !(dir = state_dir_of(s, k->id)))
		return -ENOMEM;
	/* Skills run under their own uids and must traverse (not list) the state directory to reach
	 * their own; everything secret in it is a 0600 file. A chmod is a transaction of the host
	 * file system's journal, which may have to wait for a commit: only when the mode differs. */
	struct stat st;
	if (stat(s->cfg->state_dir, &st) < 0 ||
	    ((st.st_mode & 07777) != 0711 && chmod(s->cfg->state_dir, 0711) < 0) ||
	    (mkdir(parent, 0711) < 0 && errno != EEXIST))
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
	STARTUP_TRACE("state: dir made");
	r = skillstate_mount(s->state, k->id, dir, k->manifest->limits.state, *uid);
	STARTUP_TRACE("state: mounted");
	/* A failed resize leaves it unmounted: statvfs there would measure the host's disk. */
	k->state_mounted = r == 0 || skillstate_is_mounted(s->state, k->id, dir);
	if (r < 0)
		return r;
	(void)stateimg_usage(dir, &k->state_used, &k->state_size);
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
		if (streq(s->filters[i].profile, profile) && s->filters[i].network == m->sandbox.network &&
		    s->filters[i].listen == (m->sandbox.n_listen > 0))
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
	e->listen = m->sandbox.n_listen > 0;
	s->n_filters++;
	return e->filter;
}

static int build_plan(struct supervisor *s, struct skill *k, int bus_fd, int key_fd, int out_fd, int err_fd,
		      const char **step)
{
	_cleanup_free_ char *state_dir = NULL, *skill_dir = NULL, *cgroup = NULL;
	uid_t uid = (uid_t)-1; /* set by prepare_state(); -1 is nobody's */

	int r = prepare_state(s, k, &uid, &state_dir);
	if (r < 0) {
		*step = "state";
		return r;
	}
	k->uid = uid;
	STARTUP_TRACE("state ready");
	char prefix[32];
	cgroup_prefix(s, prefix, sizeof(prefix));
	if (asprintf(&skill_dir, "%s/%s", s->cfg->skills_dir, k->id) < 0 ||
	    asprintf(&cgroup, "%s%s", prefix, k->id) < 0)
		return -ENOMEM;
	struct launch_params lp = {
		.manifest = k->manifest, .skill_dir = skill_dir, .state_dir = state_dir, .uid = uid,
		.cgroup_name = cgroup, .bus_fd = bus_fd, .key_fd = key_fd, .stdout_fd = out_fd, .stderr_fd = err_fd,
		.filter = filter_for(s, k->manifest),
	};
	r = launch_plan(&lp, &k->plan);
	/* The plan never takes a cgroup it did not make (EEXIST). supervisor_new() reclaimed this
	 * daemon's leftovers, so one of this name is left only by an earlier plan of ours whose
	 * cleanup failed: reclaim it then, instead of looking before every start. */
	if (r == -EEXIST) {
		r = sandbox_cgroup_reclaim(cgroup);
		if (r < 0)
			log_event(LOG_LEVEL_WARNING, "skill_cgroup_leftover", "id=%s cgroup=%s error=%s", LOG_Q(k->id),
				  LOG_Q(cgroup), LOG_Q(strerror(-r)));
		r = launch_plan(&lp, &k->plan);
	}
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
	close_fd(&k->out_w);
	close_fd(&k->err_w);
}

/* Everything a launch needs before it can spawn: the socketpair, the key memfd, and the plan
 * around them (fresh cgroups with limits and egress rules, the mount list, the seccomp program).
 * Done at the start itself, or ahead of a planned restart, so the restart only spawns. The
 * cgroups are new either way: no process tree ever finds another one's leaves. */
static int prepare_launch(struct supervisor *s, struct skill *k, const char **step)
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
	int r = k->key_fd;
	if (r >= 0) {
		/* Fresh pipes for fds 1 and 2: the skill never gets a descriptor of the daemon's. */
		*step = "output pipes";
		r = skillout_open(k->out, &k->out_w, &k->err_w);
	}
	if (r >= 0) {
		*step = "plan";
		r = build_plan(s, k, k->child_bus_fd, k->key_fd, k->out_w, k->err_w, step);
	}
	if (r < 0)
		drop_plan(k);
	return r;
}

static void set_state(struct supervisor *s, struct skill *k, enum skill_state state)
{
	k->state = state;
	report(s, k);
}

/* Remembers an exit (or a failed start) with the run's start; crashed() adds what it planned. */
static void record_exit(struct skill *k, uint64_t now)
{
	if (k->n_exits == PS_SKILL_EXITS) {
		memmove(k->exits, k->exits + 1, (PS_SKILL_EXITS - 1) * sizeof(k->exits[0]));
		k->n_exits--;
	}
	struct ps_skill_exit *ex = &k->exits[k->n_exits++];
	memset(ex, 0, sizeof(*ex));
	ex->started_ms = k->started_ms;
	ex->exited_ms = now;
	/* reason is a fixed-size field: cut to fit, not necessarily NUL-terminated */
	size_t n = strnlen(k->last_exit, sizeof(ex->reason));
	memcpy(ex->reason, k->last_exit, n);
}

/* One launch: the prepared plan (or one made now) around this launch's two fds. */
static int start_skill(struct supervisor *s, struct skill *k)
{
	STARTUP_TRACE("start_skill");
	bool ahead = k->plan != NULL;
	const char *step = "plan";
	int r = prepare_launch(s, k, &step);
	k->started_ms = monotonic_ms();
	if (r == 0) {
		r = sandbox_spawn(k->plan, &k->pid, &k->pidfd);
		step = sandbox_plan_failed_step(k->plan);
	}
	/* The skill's copies: only the sandbox may hold them now. */
	close_fd(&k->child_bus_fd);
	close_fd(&k->key_fd);
	close_fd(&k->out_w);
	close_fd(&k->err_w);
	if (r < 0) {
		log_event(LOG_LEVEL_ERROR, "skill_start_failed", "id=%s step=%s error=%s", LOG_Q(k->id),
			  step ? LOG_Q(step) : "-", LOG_Q(strerror(-r)));
		snprintf(k->last_exit, sizeof(k->last_exit), "sandbox %s: %s", step ? step : "setup", strerror(-r));
		record_exit(k, monotonic_ms());
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

/* Schedules the next start after a crash, or gives up; the newest exit record says which. */
static void crashed(struct supervisor *s, struct skill *k, uint64_t now)
{
	struct ps_skill_exit *ex = k->n_exits ? &k->exits[k->n_exits - 1] : NULL;

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
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	k->next_start_ms = now + delay;
	if (ex) {
		ex->next_start_ms = k->next_start_ms;
		ex->backoff_ms = (uint32_t)delay;
	}
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
	uint64_t now = monotonic_ms();
	record_exit(k, now);
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
	crashed(s, k, now);
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
	skillout_free(k->out);
	manifest_free(k->manifest);
	free(k->manifest_text);
	free(k);
}

/* Unmounts a skill's /state image, keeping it (daemon stop, an invalid manifest). */
static void unmount_state(struct supervisor *s, struct skill *k)
{
	_cleanup_free_ char *dir = state_dir_of(s, k->id);

	if (k->state_mounted && dir)
		skillstate_unmount(s->state, k->id, dir);
	k->state_mounted = false;
}

/* A removed skill's state goes with it: the image and its mount point. */
static void remove_state(struct supervisor *s, const char *id)
{
	_cleanup_free_ char *dir = state_dir_of(s, id);

	if (dir)
		skillstate_remove(s->state, id, dir);
}

/* Re-reads every mounted image's usage; a change is reported like a state change. */
static void refresh_usage(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_skills; i++) {
		struct skill *k = s->skills[i];
		_cleanup_free_ char *dir = NULL;
		uint64_t used, size;

		if (!k->state_mounted || !(dir = state_dir_of(s, k->id)) || stateimg_usage(dir, &used, &size) < 0)
			continue;
		if (used != k->state_used || size != k->state_size) {
			k->state_used = used;
			k->state_size = size;
			report(s, k);
		}
	}
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

	/* An invalid edit stops the skill but must not cost it its state: only a deleted manifest does. */
	if (k)
		k->file_seen = true;
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
		k->pidfd = k->bus_fd = k->child_bus_fd = k->key_fd = k->out_w = k->err_w = -1;
		if (skillout_new(id, &s->out_limits, &k->out) < 0) {
			manifest_free(m);
			free(k);
			return -ENOMEM;
		}
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

/* skillstate_unmount_others(): a skill with a valid manifest keeps its mount. */
static bool has_manifest(const char *id, void *userdata)
{
	return find(userdata, id) != NULL;
}

void supervisor_sync(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_skills; i++)
		s->skills[i]->seen = s->skills[i]->file_seen = false;
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
		stop_skill(k);
		if (k->file_seen)
			unmount_state(s, k);
		else
			remove_state(s, k->id);
		skill_free(k);
		s->skills[i] = s->skills[--s->n_skills];
	}
	/* A daemon killed with SIGKILL leaves every mount; a skill removed before this start is in
	 * no list, so nothing else would ever unmount its image (the image itself stays). */
	if (!s->swept) {
		skillstate_unmount_others(s->state, has_manifest, s);
		s->swept = true;
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
		n += skillout_pollfds(k->out, fds + n, max - n);
		int wait = skillout_tick(k->out, now);
		if (k->state == SKILL_RESTARTING) {
			uint64_t at = k->prepared ? k->next_start_ms : k->next_start_ms - PREPARE_AHEAD_MS;
			int restart = at > now ? (int)(at - now) : 0;
			if (wait < 0 || restart < wait)
				wait = restart;
		}
		if (wait >= 0 && (*timeout_ms < 0 || wait < *timeout_ms))
			*timeout_ms = wait;
	}
	if (s->n_skills) {
		int wait = s->next_usage_ms > now ? (int)(s->next_usage_ms - now) : 0;
		if (*timeout_ms < 0 || wait < *timeout_ms)
			*timeout_ms = wait;
	}
	n += skillstate_pollfds(s->state, fds + n, max - n);
	int wait = skillstate_timeout(s->state, now);
	if (wait >= 0 && (*timeout_ms < 0 || wait < *timeout_ms))
		*timeout_ms = wait;
	return n;
}

void supervisor_dispatch(struct supervisor *s, const struct pollfd *fds, size_t n)
{
	/* Output first: what a skill wrote before it exited is read before the exit is logged. */
	for (size_t j = 0; j < s->n_skills; j++)
		skillout_dispatch(s->skills[j]->out, fds, n);
	for (size_t i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		for (size_t j = 0; j < s->n_skills; j++)
			if (s->skills[j]->pidfd == fds[i].fd) {
				/* A reload earlier in this loop may have closed the polled descriptor and
				 * reused its number for a new skill's pidfd: reap only what has exited. */
				struct pollfd now = { .fd = fds[i].fd, .events = POLLIN };
				if (poll(&now, 1, 0) == 1)
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
			const char *step = "plan";
			int r = prepare_launch(s, k, &step);
			log_event(r < 0 ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, "skill_restart_prepared", "id=%s result=%s",
				  LOG_Q(k->id), LOG_Q(r < 0 ? strerror(-r) : "ok"));
		}
		if (now >= k->next_start_ms && start_skill(s, k) < 0 && k->state != SKILL_FAILED)
			crashed(s, k, now);
	}
	if (now >= s->next_usage_ms) {
		refresh_usage(s);
		s->next_usage_ms = now + USAGE_EVERY_MS;
	}
	skillstate_tick(s->state, now);
}

int supervisor_logs(struct supervisor *s, const char *id, uint64_t cursor, char *buf, size_t size,
		    struct outring_answer *ans, size_t *len)
{
	struct skill *k = find(s, id);

	if (!k)
		return -ENOENT;
	*len = outring_read(skillout_ring(k->out), cursor, buf, size, ans);
	return 0;
}

void supervisor_free(struct supervisor *s)
{
	if (!s)
		return;
	/* Ask all to stop first so their grace periods overlap. */
	for (size_t i = 0; i < s->n_skills; i++)
		if (s->skills[i]->pidfd >= 0)
			pidfd_signal(s->skills[i]->pidfd, SIGTERM);
	/* The images stay; their mounts (and so their loop devices) go with the daemon. */
	for (size_t i = 0; i < s->n_skills; i++) {
		stop_skill(s->skills[i]);
		unmount_state(s, s->skills[i]);
		skill_free(s->skills[i]);
	}
	/* Any other image mount under skills/ (one this daemon never knew of) goes too. */
	skillstate_unmount_others(s->state, NULL, NULL);
	skillstate_free(s->state);
	logsink_free(s->log); /* after the skills: their last lines go through it */
	for (size_t i = 0; i < s->n_filters; i++) {
		sandbox_filter_free(s->filters[i].filter);
		free(s->filters[i].profile);
	}
	free(s);
}
