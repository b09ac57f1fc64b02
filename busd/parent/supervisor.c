// SPDX-License-Identifier: MIT
/* supervisor.c - skills as sandboxed, supervised processes (privileged parent). */
#include "parent/supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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
#include "stateimg.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define CRASH_WINDOW_MS 60000
#define CRASHES_BEFORE_FAILED 5
#define STOP_GRACE_MS 1500
#define MAX_SKILLS 256
#define USAGE_EVERY_MS 1000        /* how often `capbus skills` learns /state's usage */
#define SPARE_DELAY_MS 100         /* after a new skill started, before its successor's image is made */
#define MAX_HELPERS 8              /* children doing slow /state work at once */

enum skill_state { SKILL_STOPPED, SKILL_RUNNING, SKILL_RESTARTING, SKILL_FAILED };
static const char *const state_names[] = { "stopped", "running", "restarting", "failed" };

struct skill {
	char id[PS_ID_LEN];
	char *manifest_text;       /* to notice changes on reload */
	struct manifest *manifest;
	struct sandbox_plan *plan;
	struct egress *egress;     /* attached to the skill's cgroup while it exists */
	uid_t uid;
	enum skill_state state;
	pid_t pid;
	int pidfd;
	uint32_t restarts;
	uint32_t crashes;          /* within the current window */
	uint64_t window_start_ms;
	uint64_t next_start_ms;    /* when restarting */
	char last_exit[48];
	bool seen;                 /* present in the latest sync */
	bool file_seen;            /* its manifest file exists, valid or not */
	bool reclaimed;            /* leftover cgroups of an earlier daemon removed */
	bool state_mounted;        /* its /state image is mounted (kept between starts) */
	uint64_t state_used, state_size; /* the image's statvfs at the last look */
};

struct supervisor {
	const struct config *cfg;
	const uint8_t *master;
	struct guardctl *guard;
	struct supervisor_ops ops;
	struct skill *skills[MAX_SKILLS];
	size_t n_skills;
	uint64_t next_usage_ms;
	/* Making an image (mkfs, a loop device, a mount) and tearing one down take a few hundred
	 * ms each: children do it, so that neither a new skill's start nor the loop waits. */
	pid_t helpers[MAX_HELPERS];
	size_t n_helpers;
	pid_t spare_pid;           /* the child making the spare image, 0 when none */
	uint64_t spare_at_ms;      /* when to make one (0: not wanted) */
};

static void report(struct supervisor *s, const struct skill *k)
{
	struct ps_skill_state st = { .pid = k->state == SKILL_RUNNING ? k->pid : 0, .restarts = k->restarts };

	snprintf(st.id, sizeof(st.id), "%s", k->id);
	snprintf(st.state, sizeof(st.state), "%s", state_names[k->state]);
	snprintf(st.last_exit, sizeof(st.last_exit), "%s", k->last_exit);
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

/* Where a skill's /state lives: <state_dir>/skills/ID is the image's mount point (the path the
 * sandbox binds), <state_dir>/state-images/ID.img the image. Separate directories, because an
 * id may itself end in ".img". */
static int state_paths(const struct supervisor *s, const char *id, char **dir, char **image)
{
	if (asprintf(dir, "%s/skills/%s", s->cfg->state_dir, id) < 0)
		return -ENOMEM;
	if (asprintf(image, "%s/state-images/%s.img", s->cfg->state_dir, id) < 0) {
		free(*dir);
		return -ENOMEM;
	}
	return 0;
}

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		empty = streq(de->d_name, ".") || streq(de->d_name, "..");
	closedir(d);
	return empty;
}

/* A spare image of the default size, formatted and mounted ahead (<state_dir>/state-images/
 * .spare.img at <state_dir>/state-spare; ids never start with '.'), so that a newly installed
 * skill gets its /state at once. Made only once some skill needed a new image. */
static int spare_paths(const struct supervisor *s, char **dir, char **image)
{
	if (asprintf(dir, "%s/state-spare", s->cfg->state_dir) < 0)
		return -ENOMEM;
	if (asprintf(image, "%s/state-images/.spare.img", s->cfg->state_dir) < 0) {
		free(*dir);
		return -ENOMEM;
	}
	return 0;
}

/* Forks a child for slow /state work. It keeps only keep_fd (-1: none) of the parent's fds and
 * must _exit(). Returns the pid in the child's caller as for fork(), or -errno. */
static pid_t helper_fork(struct supervisor *s, int keep_fd)
{
	if (s->n_helpers == MAX_HELPERS)
		return -EAGAIN;
	pid_t pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		/* Two spare makers (ours and a killed daemon's) would trip over each other's files. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (keep_fd > 3)
			close_range(3, (unsigned)keep_fd - 1, 0);
		close_range(keep_fd >= 3 ? (unsigned)keep_fd + 1 : 3, ~0U, 0);
		return 0;
	}
	s->helpers[s->n_helpers++] = pid;
	return pid;
}

/* Reaps finished helpers (never another child: skills are reaped through their pidfds). */
static void reap_helpers(struct supervisor *s, bool wait)
{
	for (size_t i = 0; i < s->n_helpers;) {
		int status;
		pid_t r = waitpid(s->helpers[i], &status, wait ? 0 : WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		if (s->helpers[i] == s->spare_pid) {
			s->spare_pid = 0;
			if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_event(LOG_LEVEL_WARNING, "skill_state_spare_failed", "status=%d", r < 0 ? -1 : status);
		}
		s->helpers[i] = s->helpers[--s->n_helpers];
	}
}

static void make_spare(struct supervisor *s)
{
	_cleanup_free_ char *dir = NULL, *image = NULL;

	s->spare_at_ms = 0;
	if (s->spare_pid || spare_paths(s, &dir, &image) < 0 || stateimg_is_mounted(image, dir))
		return;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return;
	pid_t pid = helper_fork(s, -1);
	if (pid == 0)
		_exit(stateimg_mount(image, dir, MANIFEST_DEFAULT_STATE, 0, NULL) == 0 ? 0 : 1);
	if (pid > 0)
		s->spare_pid = pid;
}

/* The spare, if one is ready and fits, becomes k's image. */
static bool take_spare(struct supervisor *s, struct skill *k, const char *dir, const char *image, uid_t uid)
{
	_cleanup_free_ char *spare_dir = NULL, *spare = NULL;
	struct stat st;

	if (k->manifest->limits.state != MANIFEST_DEFAULT_STATE || s->spare_pid || lstat(image, &st) == 0 ||
	    spare_paths(s, &spare_dir, &spare) < 0 || !stateimg_is_mounted(spare, spare_dir))
		return false;
	int r = stateimg_adopt(spare, spare_dir, image, dir, uid);
	if (r < 0)
		log_event(LOG_LEVEL_WARNING, "skill_state_spare_unused", "id=%s error=%s", LOG_Q(k->id), LOG_Q(strerror(-r)));
	return r == 0;
}

/* A state directory of an earlier version (files, no image yet) moves aside to
 * <state_dir>/state-legacy/ID, out of the skill's reach: copying files a skill controls as root
 * is not worth the risk. The empty directory it leaves becomes the mount point. */
static int set_legacy_aside(struct supervisor *s, struct skill *k, const char *dir, const char *image, uid_t uid)
{
	_cleanup_free_ char *legacy_dir = NULL, *legacy = NULL;
	struct stat st;

	if (lstat(image, &st) == 0 || errno != ENOENT || dir_is_empty(dir))
		return 0;
	if (asprintf(&legacy_dir, "%s/state-legacy", s->cfg->state_dir) < 0 ||
	    asprintf(&legacy, "%s/%s", legacy_dir, k->id) < 0)
		return -ENOMEM;
	if ((mkdir(legacy_dir, 0700) < 0 && errno != EEXIST) || rename(dir, legacy) < 0 || mkdir(dir, 0700) < 0 ||
	    chown(dir, uid, uid) < 0)
		return negative_errno();
	log_event(LOG_LEVEL_WARNING, "skill_state_legacy", "id=%s moved_to=%s", LOG_Q(k->id), LOG_Q(legacy));
	return 0;
}

static int prepare_state(struct supervisor *s, struct skill *k, uid_t *uid, char **state_dir)
{
	_cleanup_free_ char *parent = NULL, *dir = NULL, *images = NULL, *image = NULL;
	struct stateimg_result res;

	if (asprintf(&parent, "%s/skills", s->cfg->state_dir) < 0 || asprintf(&images, "%s/state-images", s->cfg->state_dir) < 0 ||
	    state_paths(s, k->id, &dir, &image) < 0)
		return -ENOMEM;
	if (mkdir(images, 0700) < 0 && errno != EEXIST)
		return negative_errno();
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
	if ((r = set_legacy_aside(s, k, dir, image, *uid)) < 0)
		return r;
	bool spare = take_spare(s, k, dir, image, *uid);
	if (spare) {
		res = (struct stateimg_result){ .created = true };
		r = 0;
	} else {
		r = stateimg_mount(image, dir, k->manifest->limits.state, *uid, &res);
	}
	if (r == STATEIMG_SHRINK_FAILED) {
		log_event(LOG_LEVEL_ERROR, "skill_state_shrink_failed", "id=%s image=%s limit=%" PRIu64
			  " reason=\"its data does not fit the new limits.state\"", LOG_Q(k->id), LOG_Q(image),
			  k->manifest->limits.state);
		r = -EFBIG;
	}
	if (r < 0) {
		/* A failed resize leaves it unmounted: statvfs there would measure the host's disk. */
		k->state_mounted = stateimg_is_mounted(image, dir);
		return r;
	}
	if (res.created || res.resized)
		log_event(LOG_LEVEL_INFO, res.created ? "skill_state_created" : "skill_state_resized",
			  "id=%s image=%s bytes=%" PRIu64 " spare=%s", LOG_Q(k->id), LOG_Q(image), k->manifest->limits.state,
			  spare ? "yes" : "no");
	/* New skills come in groups (installs): have the next one's image ready, once this one runs. */
	if (res.created)
		s->spare_at_ms = monotonic_ms() + SPARE_DELAY_MS;
	k->state_mounted = true;
	(void)stateimg_usage(dir, &k->state_used, &k->state_size);
	*state_dir = TAKE_PTR(dir);
	return 0;
}

static int build_plan(struct supervisor *s, struct skill *k, int bus_fd, int key_fd, const char **step)
{
	_cleanup_free_ char *state_dir = NULL, *skill_dir = NULL, *cgroup = NULL;
	uid_t uid = (uid_t)-1; /* set by prepare_state(); -1 is nobody's */

	int r = prepare_state(s, k, &uid, &state_dir);
	if (r < 0) {
		*step = "state";
		return r;
	}
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
	struct launch_params lp = {
		.manifest = k->manifest, .skill_dir = skill_dir, .state_dir = state_dir, .uid = uid,
		.cgroup_name = cgroup, .bus_fd = bus_fd, .key_fd = key_fd,
	};
	r = launch_plan(&lp, &k->plan);
	if (r < 0)
		return r;
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

static void drop_plan(struct skill *k)
{
	egress_free(k->egress);
	k->egress = NULL;
	sandbox_plan_free(k->plan);
	k->plan = NULL;
}

static void set_state(struct supervisor *s, struct skill *k, enum skill_state state)
{
	k->state = state;
	report(s, k);
}

/* One launch: a fresh plan (fresh cgroups, fresh counters) around this launch's two fds. */
static int start_skill(struct supervisor *s, struct skill *k)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	uint8_t key[CAPBUS_KEY_LEN];
	keys_derive(s->master, k->id, key);
	int key_fd = launch_key_memfd(k->id, key);
	sodium_memzero(key, sizeof(key));
	if (key_fd < 0) {
		close(sv[0]);
		close(sv[1]);
		return key_fd;
	}
	const char *step = "plan";
	int r = build_plan(s, k, sv[1], key_fd, &step);
	if (r == 0) {
		r = sandbox_spawn(k->plan, &k->pid, &k->pidfd);
		step = sandbox_plan_failed_step(k->plan);
	}
	close(sv[1]);
	close(key_fd);
	if (r < 0) {
		close(sv[0]);
		log_event(LOG_LEVEL_ERROR, "skill_start_failed", "id=%s step=%s error=%s", LOG_Q(k->id),
			  step ? LOG_Q(step) : "-", LOG_Q(strerror(-r)));
		snprintf(k->last_exit, sizeof(k->last_exit), "sandbox %s: %s", step ? step : "setup", strerror(-r));
		drop_plan(k);
		return r;
	}
	r = s->ops.adopt(s->ops.userdata, k->id, k->pid, k->uid, sv[0]);
	if (r < 0)
		log_event(LOG_LEVEL_ERROR, "skill_adopt_failed", "id=%s error=%s", LOG_Q(k->id), LOG_Q(strerror(-r)));
	log_event(LOG_LEVEL_INFO, "skill_started", "id=%s pid=%d cgroups=%s", LOG_Q(k->id), (int)k->pid,
		  LOG_Q(sandbox_plan_cgroup_layout(k->plan)));
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
	if (clean)
		set_state(s, k, SKILL_STOPPED);
	else
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

/* Unmounts a skill's /state image, keeping it (daemon stop). */
static void unmount_state(struct supervisor *s, struct skill *k)
{
	_cleanup_free_ char *dir = NULL, *image = NULL;

	if (!k->state_mounted || state_paths(s, k->id, &dir, &image) < 0)
		return;
	int r = stateimg_unmount(image, dir);
	if (r < 0)
		log_event(LOG_LEVEL_WARNING, "skill_state_unmount_failed", "id=%s error=%s", LOG_Q(k->id), LOG_Q(strerror(-r)));
	k->state_mounted = false;
}

/* A removed skill's state goes with it: the image and its mount point. The file system's
 * teardown (write-back, the loop device) happens in a helper holding its last reference. */
static void remove_state(struct supervisor *s, const char *id)
{
	_cleanup_free_ char *dir = NULL, *image = NULL;

	if (state_paths(s, id, &dir, &image) < 0)
		return;
	int r = stateimg_detach(image, dir);
	if (r >= 0) {
		int fd = r;
		pid_t pid = helper_fork(s, fd);
		if (pid == 0) {
			close(fd);
			_exit(0);
		}
		close(fd); /* with no helper, we pay for the teardown here */
		r = 0;
	} else if (r == -ENOENT) {
		r = 0;
	}
	if (r == 0 && rmdir(dir) < 0 && errno != ENOENT)
		r = negative_errno();
	if (r < 0)
		log_event(LOG_LEVEL_WARNING, "skill_state_remove_failed", "id=%s error=%s", LOG_Q(id), LOG_Q(strerror(-r)));
	else
		log_event(LOG_LEVEL_INFO, "skill_state_removed", "id=%s image=%s", LOG_Q(id), LOG_Q(image));
}

/* Re-reads every mounted image's usage; a change is reported like a state change. */
static void refresh_usage(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_skills; i++) {
		struct skill *k = s->skills[i];
		_cleanup_free_ char *dir = NULL, *image = NULL;
		uint64_t used, size;

		if (!k->state_mounted || state_paths(s, k->id, &dir, &image) < 0 || stateimg_usage(dir, &used, &size) < 0)
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
		k->pidfd = -1;
		s->skills[s->n_skills++] = k;
	}
	k->manifest = m;
	k->manifest_text = strndup(text, len);
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
			int wait = k->next_start_ms > now ? (int)(k->next_start_ms - now) : 0;
			if (*timeout_ms < 0 || wait < *timeout_ms)
				*timeout_ms = wait;
		}
	}
	if (s->n_skills || s->n_helpers) {
		int wait = s->next_usage_ms > now ? (int)(s->next_usage_ms - now) : 0;
		if (*timeout_ms < 0 || wait < *timeout_ms)
			*timeout_ms = wait;
	}
	if (s->spare_at_ms) {
		int wait = s->spare_at_ms > now ? (int)(s->spare_at_ms - now) : 0;
		if (*timeout_ms < 0 || wait < *timeout_ms)
			*timeout_ms = wait;
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
		if (k->state == SKILL_RESTARTING && now >= k->next_start_ms && start_skill(s, k) < 0 &&
		    k->state != SKILL_FAILED)
			crashed(s, k, now);
	}
	if (now >= s->next_usage_ms) {
		refresh_usage(s);
		s->next_usage_ms = now + USAGE_EVERY_MS;
	}
	reap_helpers(s, false);
	if (s->spare_at_ms && now >= s->spare_at_ms)
		make_spare(s);
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
	reap_helpers(s, true);
	_cleanup_free_ char *spare_dir = NULL, *spare = NULL;
	int r = spare_paths(s, &spare_dir, &spare);
	if (r == 0 && (r = stateimg_unmount(spare, spare_dir)) < 0)
		log_event(LOG_LEVEL_WARNING, "skill_state_unmount_failed", "id=.spare error=%s", LOG_Q(strerror(-r)));
	free(s);
}
