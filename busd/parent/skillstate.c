// SPDX-License-Identifier: MIT
/* skillstate.c - every skill's /state image under the daemon's state_dir (privileged parent). */
#include "parent/skillstate.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/log.h"
#include "manifest.h"
#include "pidfd-util.h"
#include "stateimg.h"
#include "trace.h"
#include "util.h"

/* After a new skill started, before its successor's image is made: long enough for the launch
 * to be past its own CPU-heavy part (the helper's fork and mkfs compete for the CPU), short
 * enough that a skill installed a few hundred ms later finds the spare ready (making one is
 * mostly disk wait: 150-250 ms on a busy host). */
#define SPARE_DELAY_MS 50
#define REAP_EVERY_MS 250   /* while helpers run */
#define MAX_HELPERS 8       /* children doing slow /state work at once */
#define HELPER_NICE 10
/* Spare images kept ready. Two, so that a skill installed while the replacement of the last
 * one taken is still being made (mkfs is mostly disk wait) finds one ready rather than waiting
 * for it: installs come in groups. Each reserves its full size on the host disk. */
#define SPARES 2

struct spare_slot {
	pid_t pid;       /* the child making this spare, 0 when none */
	int pidfd;       /* its pidfd, polled so the next spare starts as soon as it is done; -1 */
	char *adopt_to;  /* taken by a skill: the image name it still has to be renamed to */
	bool adopted;    /* taken by a skill: its mount here still waits for stateimg_clear() */
	bool broken;     /* its adoption could not be finished: not used again by this daemon */
};

struct skillstate {
	const char *state_dir;
	/* Making an image (mkfs, a loop device, an ext4 mount) and tearing one down take a few
	 * hundred ms each: children do it, so that neither a new skill's start nor the loop waits. */
	pid_t helpers[MAX_HELPERS];
	size_t n_helpers;
	struct spare_slot spares[SPARES];
	bool spares_wanted;    /* some skill needed a new image: keep the spares full from now on */
	uint64_t spare_at_ms;  /* when to make the next one (0: not scheduled) */
};

static int spare_paths(const struct skillstate *ss, unsigned slot, char **dir, char **image);
static void recover_spares(struct skillstate *ss);
static void finish_adoptions(struct skillstate *ss, const char *only);

int skillstate_new(const char *state_dir, struct skillstate **out)
{
	struct skillstate *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return -ENOMEM;
	ss->state_dir = state_dir;
	for (unsigned i = 0; i < SPARES; i++)
		ss->spares[i].pidfd = -1;
	recover_spares(ss);
	*out = ss;
	return 0;
}

/* <state_dir>/state-images/ID.img; a directory of its own because an id may end in ".img". */
static char *image_path(const struct skillstate *ss, const char *id)
{
	char *p;

	return asprintf(&p, "%s/state-images/%s.img", ss->state_dir, id) < 0 ? NULL : p;
}

/* Spare images of the default size, formatted and mounted ahead (slot 0: <state_dir>/
 * state-images/.spare.img at <state_dir>/state-spare, slot N: .spareN.img at state-spareN; ids
 * never start with '.'), so that a newly installed skill gets its /state at once. Made only once
 * some skill needed a new image. */
static int spare_paths(const struct skillstate *ss, unsigned slot, char **dir, char **image)
{
	char n[16] = "";

	if (slot)
		snprintf(n, sizeof(n), "%u", slot);
	if (asprintf(dir, "%s/state-spare%s", ss->state_dir, n) < 0)
		return -ENOMEM;
	if (asprintf(image, "%s/state-images/.spare%s.img", ss->state_dir, n) < 0) {
		free(*dir);
		return -ENOMEM;
	}
	return 0;
}

/* What a daemon killed in the middle of an adoption left behind. Before the rename
 * (finish_adoptions()), a skill's mount point is a mount of a spare image: the rename is
 * finished now, or that image would become the next spare while the skill's data is on it.
 * Before the slot's mount was detached (clear_adopted()), that mount is one of a skill's image:
 * a new spare must never be mounted over it. */
static void recover_spares(struct skillstate *ss)
{
	_cleanup_free_ char *skills = NULL;
	struct dirent *de;
	DIR *d;

	if (asprintf(&skills, "%s/skills", ss->state_dir) >= 0 && (d = opendir(skills))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			for (unsigned i = 0; i < SPARES; i++) {
				_cleanup_free_ char *sdir = NULL, *spare = NULL, *dir = NULL, *image = NULL;

				if (spare_paths(ss, i, &sdir, &spare) < 0 || asprintf(&dir, "%s/%s", skills, de->d_name) < 0 ||
				    !stateimg_is_mounted(spare, dir) || !(image = image_path(ss, de->d_name)))
					continue;
				int r = stateimg_adopt_finish(spare, image);
				log_event(r < 0 ? LOG_LEVEL_ERROR : LOG_LEVEL_WARNING, "skill_state_adoption_finished",
					  "id=%s image=%s error=%s", LOG_Q(de->d_name), LOG_Q(image), r < 0 ? LOG_Q(strerror(-r)) : "-");
				if (r == -EEXIST) {
					/* The skill has an image of its own (only a hand-made state gets here):
					 * this one is neither its image nor a clean spare any more. */
					if (stateimg_clear(dir) >= 0 && stateimg_clear(sdir) >= 0)
						(void)unlink(spare);
				} else if (r < 0) {
					/* It holds the skill's data: never a spare again, left where it is. */
					ss->spares[i].broken = true;
				}
			}
		}
		closedir(d);
	}
	for (unsigned i = 0; i < SPARES; i++) {
		_cleanup_free_ char *dir = NULL, *image = NULL;

		if (spare_paths(ss, i, &dir, &image) == 0 && !stateimg_is_mounted(image, dir))
			(void)stateimg_clear(dir);
	}
}

/* The second half of every adoption since the last call (only: of that image alone): spare
 * images renamed to the skills' own names. Kept off the start itself (a rename may wait for the
 * host file system's journal), and done before anything else looks at a skill's image by name. */
static void finish_adoptions(struct skillstate *ss, const char *only)
{
	for (unsigned i = 0; i < SPARES; i++) {
		_cleanup_free_ char *dir = NULL, *spare = NULL;

		if (!ss->spares[i].adopt_to || (only && !streq(only, ss->spares[i].adopt_to)) ||
		    spare_paths(ss, i, &dir, &spare) < 0)
			continue;
		int r = stateimg_adopt_finish(spare, ss->spares[i].adopt_to);
		STARTUP_TRACE("state: adoption finished");
		if (r < 0)
			/* Left under the spare's name, mounted at the skill's /state: the next daemon's
			 * recover_spares() tries again; until then this slot is not used again. */
			log_event(LOG_LEVEL_ERROR, "skill_state_adoption_failed", "image=%s error=%s",
				  LOG_Q(ss->spares[i].adopt_to), LOG_Q(strerror(-r)));
		else
			ss->spares[i].adopted = true;
		free(ss->spares[i].adopt_to);
		ss->spares[i].adopt_to = NULL;
		ss->spares[i].broken = r < 0;
	}
}

static bool adoptions_pending(const struct skillstate *ss)
{
	for (unsigned i = 0; i < SPARES; i++)
		if (ss->spares[i].adopt_to)
			return true;
	return false;
}

/* Forks a child for slow /state work. It keeps only keep_fd (-1: none) of the parent's fds and
 * must _exit(). Returns as fork() does, or -errno. */
static pid_t helper_fork(struct skillstate *ss, int keep_fd)
{
	if (ss->n_helpers == MAX_HELPERS)
		return -EAGAIN;
	pid_t pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		/* Two spare makers (ours and a killed daemon's) would trip over each other's files. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Work ahead or behind a start: it yields the CPU to the launches it prepares for. */
		(void)setpriority(PRIO_PROCESS, 0, HELPER_NICE);
		if (keep_fd > 3)
			close_range(3, (unsigned)keep_fd - 1, 0);
		close_range(keep_fd >= 3 ? (unsigned)keep_fd + 1 : 3, ~0U, 0);
		return 0;
	}
	ss->helpers[ss->n_helpers++] = pid;
	return pid;
}

/* Reaps finished helpers, by pid: skills are reaped through their pidfds, never here. With
 * wait, waits for every helper, or only for `only` when it is not 0. */
static void reap_helpers(struct skillstate *ss, bool wait, pid_t only)
{
	for (size_t i = 0; i < ss->n_helpers;) {
		int status;
		bool block = wait && (only == 0 || ss->helpers[i] == only);
		pid_t r = waitpid(ss->helpers[i], &status, block ? 0 : WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		for (unsigned s = 0; s < SPARES; s++) {
			if (ss->spares[s].pid != ss->helpers[i])
				continue;
			ss->spares[s].pid = 0;
			if (ss->spares[s].pidfd >= 0)
				close(ss->spares[s].pidfd);
			ss->spares[s].pidfd = -1;
			if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_event(LOG_LEVEL_WARNING, "skill_state_spare_failed", "status=%d", r < 0 ? -1 : status);
			else if (ss->spares_wanted && !ss->spare_at_ms)
				ss->spare_at_ms = monotonic_ms(); /* the next empty slot, if any, at once */
		}
		ss->helpers[i] = ss->helpers[--ss->n_helpers];
	}
}

/* Detaches what adopted spares left in their slots. */
static void clear_adopted(struct skillstate *ss)
{
	for (unsigned i = 0; i < SPARES; i++) {
		_cleanup_free_ char *dir = NULL, *image = NULL;

		if (!ss->spares[i].adopted || spare_paths(ss, i, &dir, &image) < 0)
			continue;
		int r = stateimg_clear(dir);
		if (r < 0)
			log_event(LOG_LEVEL_WARNING, "skill_state_spare_clear_failed", "slot=%u error=%s", i, LOG_Q(strerror(-r)));
		else
			ss->spares[i].adopted = false;
	}
}

/* Starts making a spare in the first empty slot; one at a time (they compete for the disk), the
 * next when this one is done (reap_helpers). */
static void make_spare(struct skillstate *ss)
{
	ss->spare_at_ms = 0;
	finish_adoptions(ss, NULL);
	clear_adopted(ss);
	for (unsigned i = 0; i < SPARES; i++)
		if (ss->spares[i].pid)
			return;
	for (unsigned i = 0; i < SPARES; i++) {
		_cleanup_free_ char *dir = NULL, *image = NULL;

		if (ss->spares[i].adopted || ss->spares[i].broken || spare_paths(ss, i, &dir, &image) < 0 ||
		    stateimg_is_mounted(image, dir))
			continue;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return;
		/* Not this slot's spare, yet mounted there (a daemon killed mid-adoption): never mount
		 * over it. */
		if (stateimg_clear(dir) < 0)
			continue;
		pid_t pid = helper_fork(ss, -1);
		if (pid == 0)
			_exit(stateimg_mount(image, dir, MANIFEST_DEFAULT_STATE, 0, NULL) == 0 ? 0 : 1);
		if (pid > 0) {
			ss->spares[i].pid = pid;
			ss->spares[i].pidfd = pidfd_open_pid(pid); /* without one, the periodic reap notices */
		}
		return;
	}
}

/* A spare, if one is ready and fits, becomes id's image. Its slot's own mount is detached later
 * (clear_adopted()), off the start. */
static bool take_spare(struct skillstate *ss, const char *id, const char *dir, const char *image, uint64_t limit,
		       uid_t uid)
{
	struct stat st;
	int ready = -1;

	if (limit != MANIFEST_DEFAULT_STATE || lstat(image, &st) == 0)
		return false;
	for (unsigned i = 0; i < SPARES && ready < 0; i++) {
		_cleanup_free_ char *spare_dir = NULL, *spare = NULL;

		const struct spare_slot *sl = &ss->spares[i];
		if (!sl->pid && !sl->adopt_to && !sl->adopted && !sl->broken &&
		    spare_paths(ss, i, &spare_dir, &spare) == 0 && stateimg_is_mounted(spare, spare_dir))
			ready = (int)i;
	}
	/* None ready: a spare half made is nearer than a new image (the rest of its disk wait is
	 * shorter than a whole one, and a second mkfs beside it would only slow both). */
	for (unsigned i = 0; i < SPARES && ready < 0; i++)
		if (ss->spares[i].pid) {
			reap_helpers(ss, true, ss->spares[i].pid);
			ready = (int)i;
		}
	_cleanup_free_ char *spare_dir = NULL, *spare = NULL;
	if (ready < 0 || spare_paths(ss, (unsigned)ready, &spare_dir, &spare) < 0 ||
	    !stateimg_is_mounted(spare, spare_dir))
		return false;
	char *adopt_to = strdup(image);
	int r = adopt_to ? stateimg_adopt(spare, spare_dir, image, dir, uid) : -ENOMEM;
	if (r < 0) {
		free(adopt_to);
		log_event(LOG_LEVEL_WARNING, "skill_state_spare_unused", "id=%s error=%s", LOG_Q(id), LOG_Q(strerror(-r)));
		return false;
	}
	ss->spares[ready].adopt_to = adopt_to; /* renamed by finish_adoptions(), after the start */
	return true;
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

/* A state directory of an earlier version (files, no image yet) moves aside to
 * <state_dir>/state-legacy/ID, out of the skill's reach: copying files a skill controls as root
 * is not worth the risk. The empty directory it leaves becomes the mount point. */
static int set_legacy_aside(struct skillstate *ss, const char *id, const char *dir, const char *image, uid_t uid)
{
	_cleanup_free_ char *legacy_dir = NULL, *legacy = NULL;
	struct stat st;

	if (lstat(image, &st) == 0 || errno != ENOENT || dir_is_empty(dir))
		return 0;
	if (asprintf(&legacy_dir, "%s/state-legacy", ss->state_dir) < 0 || asprintf(&legacy, "%s/%s", legacy_dir, id) < 0)
		return -ENOMEM;
	if ((mkdir(legacy_dir, 0700) < 0 && errno != EEXIST) || rename(dir, legacy) < 0 || mkdir(dir, 0700) < 0 ||
	    chown(dir, uid, uid) < 0)
		return negative_errno();
	log_event(LOG_LEVEL_WARNING, "skill_state_legacy", "id=%s moved_to=%s", LOG_Q(id), LOG_Q(legacy));
	return 0;
}

int skillstate_mount(struct skillstate *ss, const char *id, const char *dir, uint64_t limit, uid_t uid)
{
	_cleanup_free_ char *images = NULL, *image = image_path(ss, id);
	struct stateimg_result res;
	int r;

	if (!image || asprintf(&images, "%s/state-images", ss->state_dir) < 0)
		return -ENOMEM;
	finish_adoptions(ss, image);
	if (mkdir(images, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	if ((r = set_legacy_aside(ss, id, dir, image, uid)) < 0)
		return r;
	STARTUP_TRACE("state: legacy checked");
	bool spare = take_spare(ss, id, dir, image, limit, uid);
	STARTUP_TRACE(spare ? "state: spare taken" : "state: no spare");
	if (spare)
		res = (struct stateimg_result){ .created = true }; /* r is 0 */
	else
		r = stateimg_mount(image, dir, limit, uid, &res);
	if (r == STATEIMG_SHRINK_FAILED) {
		log_event(LOG_LEVEL_ERROR, "skill_state_shrink_failed",
			  "id=%s image=%s limit=%" PRIu64 " reason=\"its data does not fit the new limits.state\"", LOG_Q(id),
			  LOG_Q(image), limit);
		return -EFBIG;
	}
	if (r < 0)
		return r;
	if (res.created || res.resized)
		log_event(LOG_LEVEL_INFO, res.created ? "skill_state_created" : "skill_state_resized",
			  "id=%s image=%s bytes=%" PRIu64 " spare=%s", LOG_Q(id), LOG_Q(image), limit, spare ? "yes" : "no");
	/* New skills come in groups (installs): refill the spares once this one runs (the helper's
	 * fork and mkfs would compete with the launch for the CPU). */
	if (res.created) {
		ss->spares_wanted = true;
		ss->spare_at_ms = monotonic_ms() + SPARE_DELAY_MS;
	}
	return 0;
}

bool skillstate_is_mounted(struct skillstate *ss, const char *id, const char *dir)
{
	_cleanup_free_ char *image = image_path(ss, id);

	finish_adoptions(ss, image);
	return image && stateimg_is_mounted(image, dir);
}

void skillstate_unmount(struct skillstate *ss, const char *id, const char *dir)
{
	_cleanup_free_ char *image = image_path(ss, id);

	finish_adoptions(ss, NULL);
	int r = image ? stateimg_unmount(image, dir) : -ENOMEM;

	if (r < 0)
		log_event(LOG_LEVEL_WARNING, "skill_state_unmount_failed", "id=%s error=%s", LOG_Q(id), LOG_Q(strerror(-r)));
}

void skillstate_unmount_others(struct skillstate *ss, bool (*keep)(const char *id, void *userdata), void *userdata)
{
	_cleanup_free_ char *skills = NULL;
	struct dirent *de;
	DIR *d;

	finish_adoptions(ss, NULL);
	if (asprintf(&skills, "%s/skills", ss->state_dir) < 0 || !(d = opendir(skills)))
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *dir = NULL, *image = NULL;

		/* Ids never start with '.'; anything else that is not an id has no image of that name. */
		if (de->d_name[0] == '.' || (keep && keep(de->d_name, userdata)))
			continue;
		if (asprintf(&dir, "%s/%s", skills, de->d_name) < 0 || !(image = image_path(ss, de->d_name)) ||
		    !stateimg_is_mounted(image, dir))
			continue;
		int r = stateimg_unmount(image, dir);
		if (r < 0)
			log_event(LOG_LEVEL_WARNING, "skill_state_unmount_failed", "id=%s error=%s", LOG_Q(de->d_name),
				  LOG_Q(strerror(-r)));
		else
			log_event(LOG_LEVEL_INFO, "skill_state_orphan_unmounted", "id=%s image=%s", LOG_Q(de->d_name),
				  LOG_Q(image));
	}
	closedir(d);
}

/* The file system's teardown (write-back, the loop device) happens in a helper holding its last
 * reference, so that removing a skill costs the loop almost nothing. */
void skillstate_remove(struct skillstate *ss, const char *id, const char *dir)
{
	_cleanup_free_ char *image = image_path(ss, id);

	finish_adoptions(ss, NULL);
	int r = image ? stateimg_detach(image, dir) : -ENOMEM;

	if (r >= 0) {
		int fd = r;
		pid_t pid = helper_fork(ss, fd);
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

int skillstate_timeout(struct skillstate *ss, uint64_t now_ms)
{
	int t = ss->n_helpers ? REAP_EVERY_MS : -1;

	if (adoptions_pending(ss))
		return 0;
	if (ss->spare_at_ms) {
		int wait = ss->spare_at_ms > now_ms ? (int)(ss->spare_at_ms - now_ms) : 0;
		if (t < 0 || wait < t)
			t = wait;
	}
	return t;
}

size_t skillstate_pollfds(struct skillstate *ss, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	for (unsigned i = 0; i < SPARES && n < max; i++)
		if (ss->spares[i].pidfd >= 0)
			fds[n++] = (struct pollfd){ .fd = ss->spares[i].pidfd, .events = POLLIN };
	return n;
}

void skillstate_tick(struct skillstate *ss, uint64_t now_ms)
{
	finish_adoptions(ss, NULL);
	reap_helpers(ss, false, 0);
	if (ss->spare_at_ms && now_ms >= ss->spare_at_ms)
		make_spare(ss);
}

void skillstate_free(struct skillstate *ss)
{
	if (!ss)
		return;
	reap_helpers(ss, true, 0);
	finish_adoptions(ss, NULL);
	clear_adopted(ss);
	for (unsigned i = 0; i < SPARES; i++) {
		_cleanup_free_ char *spare_dir = NULL, *spare = NULL;
		int r = spare_paths(ss, i, &spare_dir, &spare);

		if (r == 0 && (r = stateimg_unmount(spare, spare_dir)) < 0)
			log_event(LOG_LEVEL_WARNING, "skill_state_unmount_failed", "id=.spare slot=%u error=%s", i,
				  LOG_Q(strerror(-r)));
	}
	free(ss);
}
