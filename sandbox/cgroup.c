// SPDX-License-Identifier: MIT
/* cgroup.c - one skill's cgroups: discover the layout, create leaves, set limits, clean up.
 *
 * Runs in the privileged parent. The layout comes from /proc/self/mountinfo and our own place in
 * each hierarchy from /proc/self/cgroup (both parsed by linux/cgroupfs.c), so nothing is assumed
 * about where cgroupfs is mounted.
 * A controller is used on v2 when our v2 cgroup offers it, otherwise on its v1 hierarchy (the
 * hybrid layout). Every directory made here is removed by cg_set_free(). */
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroupfs.h"
#include "procfs.h"
#include "util.h"

static const char *const controller_names[_CG_MAX] = {
	[CG_MEMORY] = "memory",
	[CG_PIDS] = "pids",
	[CG_CPU] = "cpu",
};

struct cg_set {
	char *v2_dir; /* our leaf in the v2 hierarchy */
	int v2_fd;
	char *dir[_CG_MAX];        /* where each controller's files are (v2_dir or a v1 leaf) */
	bool made[_CG_MAX];        /* dir[c] is a v1 leaf this set created (and removes) */
};

struct cg_layout {
	char *v2_mount, *v2_root;
	char *v1_mount[_CG_MAX], *v1_root[_CG_MAX];
	char *v2_own;             /* our cgroup, relative to the hierarchy */
	char *v1_own[_CG_MAX];
};

static void cg_layout_done(struct cg_layout *l)
{
	free(l->v2_mount);
	free(l->v2_root);
	free(l->v2_own);
	for (int c = 0; c < _CG_MAX; c++) {
		free(l->v1_mount[c]);
		free(l->v1_root[c]);
		free(l->v1_own[c]);
	}
}

/* true if the space-separated list (cgroup.controllers) contains word exactly ("cpu" must not
 * match "cpuset"). */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Where each hierarchy is mounted and where we sit in it (linux/cgroupfs.c does the parsing).
 * A hierarchy or entry that does not exist stays NULL. */
static int discover(struct cg_layout *l)
{
	_cleanup_free_ char *mi = NULL, *self = NULL;
	int r;

	if ((r = proc_read_file("/proc/self/mountinfo", &mi, NULL)) < 0 ||
	    (r = proc_read_file("/proc/self/cgroup", &self, NULL)) < 0)
		return r;
	for (int c = -1; c < _CG_MAX; c++) {
		const char *ctrl = c < 0 ? NULL : controller_names[c];

		r = cgroup_find_mount(mi, ctrl, c < 0 ? &l->v2_mount : &l->v1_mount[c],
				      c < 0 ? &l->v2_root : &l->v1_root[c]);
		if (r < 0 && r != -ENOENT)
			return r;
		r = cgroup_entry_from_text(self, ctrl, c < 0 ? &l->v2_own : &l->v1_own[c]);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

static int read_small(const char *dir, const char *file, char *buf, size_t size)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, size - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	return 0;
}

static int write_file(const char *dir, const char *file, const char *value)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int fd = -1;
	size_t n = strlen(value);

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return -ENOMEM;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (write(fd, value, n) != (ssize_t)n)
		return negative_errno();
	return 0;
}

/* A leaf is one directory entry: the kernel's limit for its name (NAME_MAX) is the only one. The
 * callers prefix an id of up to 64 characters ("capbus-HASH-", "capbus-run-PID-"), and ids may
 * grow: a shorter limit here would make a valid skill impossible to start. */
static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > NAME_MAX || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-@", *p))
			return false;
	return true;
}

static int make_leaf(const char *parent, const char *name, char **ret)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/%s", parent, name) < 0)
		return -ENOMEM;
	if (mkdir(p, 0755) < 0)
		return negative_errno(); /* EEXIST: never adopt a cgroup someone else made */
	*ret = TAKE_PTR(p);
	return 0;
}

static int write_u64(const char *dir, const char *file, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return write_file(dir, file, buf);
}

static int write_limit(const char *dir, bool v1, int c, const struct cg_limits *lim)
{
	char buf[64];
	int r;

	switch (c) {
	case CG_MEMORY:
		if (v1) {
			if ((r = write_u64(dir, "memory.limit_in_bytes", lim->memory_max)) < 0)
				return r;
			/* Without swap accounting the file is absent; with it, swap must not dodge the limit. */
			r = write_u64(dir, "memory.memsw.limit_in_bytes", lim->memory_max);
			return r == -ENOENT ? 0 : r;
		}
		if ((r = write_u64(dir, "memory.max", lim->memory_max)) < 0)
			return r;
		if ((r = write_file(dir, "memory.swap.max", "0")) < 0 && r != -ENOENT)
			return r;
		/* One OOM kill takes the whole skill: no half-dead skill keeps running. */
		r = write_file(dir, "memory.oom.group", "1");
		return r == -ENOENT ? 0 : r;
	case CG_PIDS:
		return write_u64(dir, "pids.max", lim->pids_max);
	case CG_CPU:
		/* Quota per 100 ms period: percent of one CPU. */
		if (v1) {
			if ((r = write_file(dir, "cpu.cfs_period_us", "100000")) < 0)
				return r;
			return write_u64(dir, "cpu.cfs_quota_us", (uint64_t)lim->cpu_percent * 1000);
		}
		snprintf(buf, sizeof(buf), "%" PRIu64 " 100000", (uint64_t)lim->cpu_percent * 1000);
		return write_file(dir, "cpu.max", buf);
	default:
		return -EINVAL;
	}
}

static bool wanted(const struct cg_limits *lim, int c)
{
	switch (c) {
	case CG_MEMORY:
		return lim->memory_max > 0;
	case CG_PIDS:
		return lim->pids_max > 0;
	case CG_CPU:
		return lim->cpu_percent > 0;
	}
	return false;
}

/* Strip `up` trailing components from a cgroup path ("/a/b", 1 -> "/a"); never above "/". */
static int path_up(char *path, unsigned up)
{
	for (; up > 0; up--) {
		char *slash = strrchr(path, '/');
		if (!slash || streq(path, "/"))
			return -EINVAL;
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	return 0;
}

int cg_set_create(const char *name, unsigned v2_up, const struct cg_limits *lim, struct cg_set **ret)
{
	_cleanup_(cg_layout_done) struct cg_layout l = {0};
	_cleanup_free_ char *v2_own_dir = NULL;
	struct cg_set *s;
	char avail[512] = "", subtree[512] = "";
	int r;

	if (!name_ok(name))
		return -EINVAL;
	if ((r = discover(&l)) < 0)
		return r;
	if (!l.v2_mount || !l.v2_own)
		return -EOPNOTSUPP; /* CLONE_INTO_CGROUP and cgroup.kill need v2 */
	if ((r = path_up(l.v2_own, v2_up)) < 0)
		return r;
	if ((r = cgroup_dir(l.v2_mount, l.v2_root, l.v2_own, &v2_own_dir)) < 0)
		return r;
	(void)read_small(v2_own_dir, "cgroup.controllers", avail, sizeof(avail));
	(void)read_small(v2_own_dir, "cgroup.subtree_control", subtree, sizeof(subtree));
	avail[strcspn(avail, "\n")] = '\0';
	subtree[strcspn(subtree, "\n")] = '\0';

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->v2_fd = -1;

	/* Controllers first on our own cgroup (v2 needs them in subtree_control before the leaf
	 * exists), then the leaves. */
	for (int c = 0; c < _CG_MAX; c++) {
		char plus[16];
		if (!wanted(lim, c) || !list_has(avail, controller_names[c]))
			continue;
		if (list_has(subtree, controller_names[c]))
			continue;
		snprintf(plus, sizeof(plus), "+%s", controller_names[c]);
		if ((r = write_file(v2_own_dir, "cgroup.subtree_control", plus)) < 0)
			goto fail;
	}
	if ((r = make_leaf(v2_own_dir, name, &s->v2_dir)) < 0)
		goto fail;
	s->v2_fd = open(s->v2_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->v2_fd < 0) {
		r = negative_errno();
		goto fail;
	}

	for (int c = 0; c < _CG_MAX; c++) {
		_cleanup_free_ char *parent = NULL;

		if (!wanted(lim, c))
			continue;
		if (list_has(avail, controller_names[c])) {
			s->dir[c] = strdup(s->v2_dir);
			if (!s->dir[c]) {
				r = -ENOMEM;
				goto fail;
			}
		} else if (l.v1_mount[c] && l.v1_own[c]) {
			/* One v1 hierarchy may carry several of our controllers (a combined
			 * "cpu,memory" mount): they share one leaf, made once. */
			for (int o = 0; o < c && !s->dir[c]; o++)
				if (s->made[o] && streq(l.v1_mount[o], l.v1_mount[c])) {
					s->dir[c] = strdup(s->dir[o]);
					if (!s->dir[c]) {
						r = -ENOMEM;
						goto fail;
					}
				}
			if (!s->dir[c]) {
				if ((r = cgroup_dir(l.v1_mount[c], l.v1_root[c], l.v1_own[c], &parent)) < 0 ||
				    (r = make_leaf(parent, name, &s->dir[c])) < 0)
					goto fail;
				s->made[c] = true;
			}
		} else {
			r = -EOPNOTSUPP;
			goto fail;
		}
		if ((r = write_limit(s->dir[c], !streq(s->dir[c], s->v2_dir), c, lim)) < 0)
			goto fail;
	}
	*ret = s;
	return 0;
fail:
	cg_set_free(s);
	return r;
}

static void wait_empty(const char *dir);

/* Our own directory in hierarchy c (-1: v2), or NULL. */
static char *own_dir(const struct cg_layout *l, int c)
{
	const char *mnt = c < 0 ? l->v2_mount : l->v1_mount[c];
	const char *root = c < 0 ? l->v2_root : l->v1_root[c];
	const char *own = c < 0 ? l->v2_own : l->v1_own[c];
	char *dir = NULL;

	if (!mnt || !own || cgroup_dir(mnt, root, own, &dir) < 0)
		return NULL;
	return dir;
}

int cg_reclaim(const char *name)
{
	_cleanup_(cg_layout_done) struct cg_layout l = {0};
	int r, result = 0;

	if (!name_ok(name))
		return -EINVAL;
	if ((r = discover(&l)) < 0)
		return r;
	for (int c = -1; c < _CG_MAX; c++) {
		_cleanup_free_ char *dir = own_dir(&l, c), *leaf = NULL;
		if (!dir || asprintf(&leaf, "%s/%s", dir, name) < 0)
			continue;
		/* rmdir removes only an empty cgroup: a populated one is reported, never touched. */
		if (rmdir(leaf) < 0 && errno != ENOENT && result == 0)
			result = negative_errno();
	}
	return result;
}

/* A v1 leaf has no cgroup.kill: SIGKILL every task listed, until none is (bounded). */
static void kill_v1(const char *dir)
{
	for (int i = 0; i < 20; i++) {
		char buf[4096];
		bool any = false;

		if (read_small(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
			return;
		for (char *line = buf, *next; *line; line = next) {
			uint64_t pid;
			next = line + strcspn(line, "\n");
			if (*next)
				*next++ = '\0';
			if (parse_u64(line, INT32_MAX, &pid) == 0 && pid > 1) {
				(void)kill((pid_t)pid, SIGKILL);
				any = true;
			}
		}
		if (!any)
			return;
		(void)poll(NULL, 0, 50);
	}
}

int cg_reclaim_prefix(const char *prefix, unsigned *ret_count)
{
	return cg_reclaim_prefix_if(prefix, NULL, NULL, ret_count);
}

int cg_reclaim_prefix_if(const char *prefix, bool (*stale)(const char *name, void *userdata), void *userdata,
			 unsigned *ret_count)
{
	_cleanup_(cg_layout_done) struct cg_layout l = {0};
	unsigned count = 0;
	int r, result = 0;

	if (!name_ok(prefix))
		return -EINVAL;
	if ((r = discover(&l)) < 0)
		return r;
	/* v2 first: cgroup.kill there ends every task of the skill, the v1 leaves then drain. */
	for (int c = -1; c < _CG_MAX; c++) {
		_cleanup_free_ char *dir = own_dir(&l, c);
		DIR *d;
		struct dirent *e;

		if (!dir || !(d = opendir(dir)))
			continue;
		while ((e = readdir(d))) {
			_cleanup_free_ char *leaf = NULL;

			/* Only leaves named like ours: a sibling cgroup of the host is never touched. */
			if (e->d_type != DT_DIR || strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
			    !name_ok(e->d_name) || (stale && !stale(e->d_name, userdata)) ||
			    asprintf(&leaf, "%s/%s", dir, e->d_name) < 0)
				continue;
			if (c < 0)
				wait_empty(leaf);
			else
				kill_v1(leaf);
			if (rmdir(leaf) == 0)
				count++;
			else if (errno != ENOENT && result == 0)
				result = negative_errno();
		}
		closedir(d);
	}
	if (ret_count)
		*ret_count = count;
	return result;
}

int cg_set_v2_fd(const struct cg_set *s)
{
	return s->v2_fd;
}

const char *cg_set_path(const struct cg_set *s, int controller)
{
	if (controller < 0)
		return s->v2_dir;
	if (controller >= _CG_MAX)
		return NULL;
	return s->dir[controller];
}

bool cg_set_hybrid(const struct cg_set *s)
{
	for (int c = 0; c < _CG_MAX; c++)
		if (s->dir[c] && !streq(s->dir[c], s->v2_dir))
			return true;
	return false;
}

int cg_set_join_v1(const struct cg_set *s, pid_t pid)
{
	char buf[32];
	int r;

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (int c = 0; c < _CG_MAX; c++) {
		if (!s->dir[c] || streq(s->dir[c], s->v2_dir))
			continue;
		if ((r = write_file(s->dir[c], "cgroup.procs", buf)) < 0)
			return r;
	}
	return 0;
}

#if defined(__x86_64__)
/* The helper shares our memory, errno included: its system calls must not write it, so they
 * are made directly. Returns the kernel's value (negative errno on failure). */
static long raw_syscall3(long nr, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

/* Runs on its own stack in our address space: three raw system calls, result ignored. "0"
 * moves the writer itself; it stays in the cgroup it already is in. */
static int warm_v1(void *procs)
{
	long fd = raw_syscall3(SYS_openat, AT_FDCWD, (long)procs, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		(void)raw_syscall3(SYS_write, fd, (long)"0", 1);
		(void)raw_syscall3(SYS_close, fd, 0, 0);
	}
	return 0;
}
#define HAVE_WARM_V1 1
#endif

int cg_set_warm_v1(const struct cg_set *s, char *stack, size_t stack_size, pid_t *ret)
{
	*ret = 0;
#ifndef HAVE_WARM_V1
	return 0; /* elsewhere the first move just takes longer */
#endif
	for (int c = 0; c < _CG_MAX; c++) {
		if (!s->made[c])
			continue;
		/* Our own cgroup in that hierarchy: the parent of the leaf. */
		size_t n = strrchr(s->dir[c], '/') - s->dir[c];
		if (n + sizeof("/cgroup.procs") > stack_size / 4)
			return -ENAMETOOLONG;
		char *procs = stack; /* the path at the bottom, the stack grows down from the top */
		memcpy(procs, s->dir[c], n);
		memcpy(procs + n, "/cgroup.procs", sizeof("/cgroup.procs"));
		/* Exit signal 0: the supervisor's SIGCHLD handling never sees it; reaped with __WCLONE. */
#ifdef HAVE_WARM_V1
		pid_t pid = clone(warm_v1, stack + stack_size, CLONE_VM, procs);
#else
		pid_t pid = 0;
#endif
		if (pid < 0)
			return negative_errno();
		*ret = pid;
		return 0;
	}
	return 0;
}

void cg_warm_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	while (waitpid(pid, NULL, __WCLONE) < 0 && errno == EINTR)
		;
}

bool cg_warm_done(pid_t pid)
{
	return pid <= 0 || waitpid(pid, NULL, __WCLONE | WNOHANG) == pid;
}

/* "key value" lines; returns the value of key. */
static int read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret)
{
	char buf[1024];
	size_t n = strlen(key);
	int r;

	if ((r = read_small(dir, file, buf, sizeof(buf))) < 0)
		return r;
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, key, n) == 0 && line[n] == ' ')
			return parse_u64(line + n + 1, UINT64_MAX, ret);
		line = next;
	}
	return -ENOENT;
}

int cg_set_oom_kills(const struct cg_set *s, uint64_t *ret)
{
	const char *dir = s->dir[CG_MEMORY];

	if (!dir)
		return -ENOENT;
	if (streq(dir, s->v2_dir))
		return read_keyed(dir, "memory.events", "oom_kill", ret);
	return read_keyed(dir, "memory.oom_control", "oom_kill", ret);
}

/* Wait (bounded) until the v2 leaf holds no task: rmdir fails with EBUSY before that. */
static void wait_empty(const char *dir)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int fd = -1;
	uint64_t populated = 1;
	char buf[256];

	if (asprintf(&p, "%s/cgroup.events", dir) < 0)
		return;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < 20; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };
		/* Read through the polled fd: kernfs reports POLLPRI until the fd has read the file
		 * since its last change, so reading it elsewhere would make every poll return at once. */
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		const char *v;

		if (n < 0)
			return;
		buf[n] = '\0';
		v = strstr(buf, "populated ");
		if (!v)
			return;
		populated = v[strlen("populated ")] != '0';
		if (!populated)
			return;
		if (i == 0)
			(void)write_file(dir, "cgroup.kill", "1");
		/* cgroup.events signals POLLPRI on every change of "populated". */
		(void)poll(&pfd, 1, 100);
	}
}

void cg_set_free(struct cg_set *s)
{
	if (!s)
		return;
	if (s->v2_dir)
		wait_empty(s->v2_dir);
	for (int c = 0; c < _CG_MAX; c++) {
		if (s->made[c])
			(void)rmdir(s->dir[c]);
		free(s->dir[c]);
	}
	if (s->v2_fd >= 0)
		close(s->v2_fd);
	if (s->v2_dir)
		(void)rmdir(s->v2_dir);
	free(s->v2_dir);
	free(s);
}
