// SPDX-License-Identifier: MIT
/* mounts.c - the sandbox's file-system view: planned in the parent, built in the child.
 *
 * Parent: paths are resolved with realpath() and checked once, so the child only replays a
 * list. Child: sources are opened (O_PATH) before the staging tmpfs hides anything, bound through
 * /proc/self/fd, made read-only/nosuid/nodev/noexec recursively with mount_setattr(), then the
 * tmpfs becomes / with pivot_root(".", ".") and the old root is detached. */
#include "mounts.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kernel.h"
#include "netstack.h"
#include "sandbox.h"
#include "util.h"

#define RO_ATTRS (SB_MOUNT_ATTR_RDONLY | SB_MOUNT_ATTR_NOSUID | SB_MOUNT_ATTR_NODEV)
#define LL_RO (SB_LL_FS_READ_FILE | SB_LL_FS_READ_DIR)
#define LL_RX (LL_RO | SB_LL_FS_EXECUTE)
#define LL_RW                                                                                    \
	(LL_RO | SB_LL_FS_WRITE_FILE | SB_LL_FS_REMOVE_DIR | SB_LL_FS_REMOVE_FILE |              \
	 SB_LL_FS_MAKE_DIR | SB_LL_FS_MAKE_REG | SB_LL_FS_MAKE_SOCK | SB_LL_FS_MAKE_FIFO |       \
	 SB_LL_FS_MAKE_SYM | SB_LL_FS_REFER | SB_LL_FS_TRUNCATE)
#define LL_DEV (SB_LL_FS_READ_FILE | SB_LL_FS_WRITE_FILE)

/* The one user and group the program sees (its uid is SANDBOX_INNER_ID). */
#define PASSWD "skill:x:1000:1000:capbus skill:" SANDBOX_STATE_PATH ":/usr/sbin/nologin\n" \
	       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
#define GROUP "skill:x:1000:\nnogroup:x:65534:\n"
#define RESOLV_CONF "nameserver " NETSTACK_DNS_ADDR "\n"

static int add(struct mount_plan *mp, enum mnt_kind kind, const char *source, const char *target,
	       bool dir, uint64_t attrs, uint64_t landlock)
{
	struct mnt_entry *v = reallocarray(mp->v, mp->n + 1, sizeof(*v));
	struct mnt_entry *e;

	if (!v)
		return -ENOMEM;
	mp->v = v;
	e = &v[mp->n];
	*e = (struct mnt_entry){ .kind = kind, .dir = dir, .attrs = attrs, .landlock = landlock, .src_fd = -1 };
	e->target = strdup(target);
	e->source = source ? strdup(source) : NULL;
	e->len = source ? strlen(source) : 0;
	if (!e->target || (source && !e->source)) {
		free(e->target);
		free(e->source);
		return -ENOMEM;
	}
	mp->n++;
	return 0;
}

/* Bind host path (resolved) at the same path, if it exists. */
static int add_host(struct mount_plan *mp, const char *path, uint64_t attrs, uint64_t landlock, bool required)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	struct stat st;

	if (!real || stat(real, &st) < 0)
		return required ? negative_errno() : 0;
	return add(mp, MNT_BIND, real, path, S_ISDIR(st.st_mode), attrs, landlock);
}

/* A small host file copied into the root tmpfs at plan time: cheaper than a bind mount, and
 * the sandbox keeps the version it started with. Absent files are skipped. */
static int add_copy(struct mount_plan *mp, const char *path, size_t max)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t used = 0;
	ssize_t n;
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (used < (size_t)st.st_size && (n = read(fd, buf + used, (size_t)st.st_size - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	if ((r = add(mp, MNT_FILE, "", path, false, 0, 0)) < 0)
		return r;
	free(mp->v[mp->n - 1].source);
	mp->v[mp->n - 1].source = TAKE_PTR(buf);
	mp->v[mp->n - 1].len = used;
	return 0;
}

/* /bin, /lib64, /etc/localtime ...: a symlink stays a symlink (merged /usr), a directory is bound read-only. */
static int add_as_on_host(struct mount_plan *mp, const char *path)
{
	char link[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (lstat(path, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			return negative_errno();
		link[n] = '\0';
		return add(mp, MNT_SYMLINK, link, path, false, 0, 0);
	}
	if (S_ISDIR(st.st_mode))
		return add_host(mp, path, RO_ATTRS, LL_RX, true);
	return 0;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A caller-chosen path must not replace or shadow the parts the sandbox relies on. */
static int check_user_path(const char *real)
{
	static const char *const exact[] = { "/", "/usr", "/etc", "/tmp", "/bin", "/sbin", "/lib", "/lib64" };
	static const char *const below[] = { "/proc", "/dev", "/sys", SANDBOX_STATE_PATH };

	if (real[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (streq(real, exact[i]))
			return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(below); i++)
		if (under(real, below[i]))
			return -EINVAL;
	return 0;
}

static int add_user(struct mount_plan *mp, const char *path, const char *target, uint64_t attrs, uint64_t landlock)
{
	_cleanup_free_ char *real = NULL;
	struct stat st;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	real = realpath(path, NULL);
	if (!real)
		return negative_errno();
	if ((r = check_user_path(real)) < 0)
		return r;
	if (stat(real, &st) < 0)
		return negative_errno();
	return add(mp, MNT_BIND, real, target ? target : real, S_ISDIR(st.st_mode), attrs, landlock);
}

static int cmp_len(const void *a, const void *b)
{
	size_t la = strlen(((const struct mnt_entry *)a)->target);
	size_t lb = strlen(((const struct mnt_entry *)b)->target);
	return la < lb ? -1 : la > lb;
}

int mount_plan_build(const struct sandbox_spec *spec, struct mount_plan *mp)
{
	static const char *const devices[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom" };
	static const char *const top[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };
	static const char *const net_etc[] = { "/etc/hosts", "/etc/nsswitch.conf",
					       "/etc/gai.conf", "/etc/host.conf", "/etc/ssl", "/etc/ca-certificates" };
	char tmpopt[64];
	size_t first_user;
	int r;

	snprintf(tmpopt, sizeof(tmpopt), "mode=1777,size=%llu",
		 (unsigned long long)(spec->tmp_size ? spec->tmp_size : 64ULL << 20));

	if ((r = add(mp, MNT_DIR, NULL, "/", true, 0, SB_LL_FS_READ_DIR)) < 0 ||
	    (r = add(mp, MNT_TMPFS, "mode=0755,size=64k,nr_inodes=64", "/dev", true,
		     MS_NOSUID | MS_NOEXEC, SB_LL_FS_READ_DIR | LL_DEV)) < 0)
		goto fail;
	/* Device nodes are bound bare; one recursive seal below makes /dev and all of them
	 * read-only, nosuid and noexec at once, and the /dev rule covers them for Landlock (a
	 * sealed /dev can hold nothing else). */
	for (size_t i = 0; i < ARRAY_SIZE(devices); i++)
		if ((r = add_host(mp, devices[i], 0, 0, true)) < 0)
			goto fail;
	if ((r = add(mp, MNT_SYMLINK, "/proc/self/fd", "/dev/fd", false, 0, 0)) < 0 ||
	    (r = add(mp, MNT_SYMLINK, "/proc/self/fd/0", "/dev/stdin", false, 0, 0)) < 0 ||
	    (r = add(mp, MNT_SYMLINK, "/proc/self/fd/1", "/dev/stdout", false, 0, 0)) < 0 ||
	    (r = add(mp, MNT_SYMLINK, "/proc/self/fd/2", "/dev/stderr", false, 0, 0)) < 0 ||
	    (r = add(mp, MNT_DIR, NULL, "/dev/shm", true, 0, 0)) < 0 ||
	    (r = add(mp, MNT_SEAL, NULL, "/dev", true,
		     SB_MOUNT_ATTR_RDONLY | SB_MOUNT_ATTR_NOSUID | SB_MOUNT_ATTR_NOEXEC, 0)) < 0 ||
	    (r = add(mp, MNT_TMPFS, "mode=1777,size=16m", "/dev/shm", true,
		     MS_NOSUID | MS_NODEV | MS_NOEXEC, LL_RW)) < 0 ||
	    (r = add(mp, MNT_PROC, NULL, "/proc", true, 0, LL_RO)) < 0 ||
	    (r = add(mp, MNT_TMPFS, tmpopt, "/tmp", true, MS_NOSUID | MS_NODEV | MS_NOEXEC, LL_RW)) < 0 ||
	    (r = add_host(mp, "/usr", RO_ATTRS, LL_RX, true)) < 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(top); i++)
		if ((r = add_as_on_host(mp, top[i])) < 0)
			goto fail;
	if ((r = add(mp, MNT_DIR, NULL, "/etc", true, 0, LL_RO)) < 0 ||
	    (r = add(mp, MNT_FILE, PASSWD, "/etc/passwd", false, 0, 0)) < 0 ||
	    (r = add(mp, MNT_FILE, GROUP, "/etc/group", false, 0, 0)) < 0 ||
	    (r = add_copy(mp, "/etc/ld.so.cache", 4 << 20)) < 0 ||
	    (r = add_as_on_host(mp, "/etc/localtime")) < 0)
		goto fail;
	for (size_t i = 0; spec->network && i < ARRAY_SIZE(net_etc); i++)
		if ((r = add_host(mp, net_etc[i], RO_ATTRS, 0, false)) < 0)
			goto fail;
	/* The network stack's DNS forwarder, which relays to the host's resolver (netstack.h). */
	if (spec->network && (r = add(mp, MNT_FILE, RESOLV_CONF, "/etc/resolv.conf", false, 0, 0)) < 0)
		goto fail;

	/* Caller paths last, shortest first, so a nested path is bound on top of its parent. */
	first_user = mp->n;
	if (spec->skill_dir && (r = add_user(mp, spec->skill_dir, NULL, RO_ATTRS, LL_RX)) < 0)
		goto fail;
	for (size_t i = 0; spec->read_paths && spec->read_paths[i]; i++)
		if ((r = add_user(mp, spec->read_paths[i], NULL, RO_ATTRS | SB_MOUNT_ATTR_NOEXEC, LL_RO)) < 0)
			goto fail;
	qsort(mp->v + first_user, mp->n - first_user, sizeof(*mp->v), cmp_len);
	if (spec->state_dir &&
	    (r = add_user(mp, spec->state_dir, SANDBOX_STATE_PATH,
			  SB_MOUNT_ATTR_NOSUID | SB_MOUNT_ATTR_NODEV | SB_MOUNT_ATTR_NOEXEC, LL_RW)) < 0)
		goto fail;
	if (spec->state_dir && !mp->v[mp->n - 1].dir) {
		r = -ENOTDIR;
		goto fail;
	}
	return 0;
fail:
	mount_plan_done(mp);
	return r;
}

void mount_plan_done(struct mount_plan *mp)
{
	for (size_t i = 0; i < mp->n; i++) {
		free(mp->v[i].source);
		free(mp->v[i].target);
	}
	free(mp->v);
	mp->v = NULL;
	mp->n = 0;
}

/* ---- child side: no allocation from here on ---- */

static int mkdir_p(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			int r = mkdir(path, 0755);
			*p = c;
			if (r < 0 && errno != EEXIST)
				return negative_errno();
			if (c == '\0')
				return 0;
		}
	}
}

static int mkdir_parent(char *path)
{
	char *slash = strrchr(path, '/');
	int r;

	if (!slash || slash == path)
		return 0;
	*slash = '\0';
	r = mkdir_p(path);
	*slash = '/';
	return r;
}

static int apply_one(struct mnt_entry *e, char *dst)
{
	char src[64];
	int fd, r;

	switch (e->kind) {
	case MNT_DIR:
		return mkdir_p(dst);
	case MNT_TMPFS:
		if ((r = mkdir_p(dst)) < 0)
			return r;
		return mount("tmpfs", dst, "tmpfs", e->attrs, e->source) < 0 ? negative_errno() : 0;
	case MNT_PROC:
		if ((r = mkdir_p(dst)) < 0)
			return r;
		return mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? negative_errno() : 0;
	case MNT_SYMLINK:
		if ((r = mkdir_parent(dst)) < 0)
			return r;
		return symlink(e->source, dst) < 0 ? negative_errno() : 0;
	case MNT_FILE: {
		size_t n = e->len;
		if ((r = mkdir_parent(dst)) < 0)
			return r;
		fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return negative_errno();
		r = write(fd, e->source, n) == (ssize_t)n ? 0 : -EIO;
		close(fd);
		return r;
	}
	case MNT_SEAL: {
		struct sb_mount_attr attr = { .attr_set = e->attrs };
		return sb_mount_setattr(AT_FDCWD, dst, SB_AT_RECURSIVE, &attr) < 0 ? negative_errno() : 0;
	}
	case MNT_BIND: {
		struct sb_mount_attr attr = { .attr_set = e->attrs };

		if (e->dir)
			r = mkdir_p(dst);
		else if ((r = mkdir_parent(dst)) >= 0) {
			fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
			r = fd < 0 ? negative_errno() : 0;
			if (fd >= 0)
				close(fd);
		}
		if (r < 0)
			return r;
		snprintf(src, sizeof(src), "/proc/self/fd/%d", e->src_fd);
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			return negative_errno();
		close(e->src_fd);
		e->src_fd = -1;
		/* Recursive, so submounts of /usr (say) are read-only too; flags only ever added. */
		if (e->attrs && sb_mount_setattr(AT_FDCWD, dst, SB_AT_RECURSIVE, &attr) < 0)
			return negative_errno();
		return 0;
	}
	}
	return -EINVAL;
}

int mount_plan_apply(struct mount_plan *mp, const char *stage)
{
	char dst[PATH_MAX];
	int r;

	/* Nothing we do here may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return negative_errno();
	/* Open every source before the staging tmpfs can hide one (a state dir under /tmp). */
	for (size_t i = 0; i < mp->n; i++) {
		if (mp->v[i].kind != MNT_BIND)
			continue;
		/* The plan resolved every symlink already; one appearing since is refused, not followed. */
		struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
		mp->v[i].src_fd = (int)syscall(SYS_openat2, AT_FDCWD, mp->v[i].source, &how, sizeof(how));
		if (mp->v[i].src_fd < 0)
			return negative_errno();
	}
	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096") < 0)
		return negative_errno();
	for (size_t i = 0; i < mp->n; i++) {
		if ((size_t)snprintf(dst, sizeof(dst), "%s%s", stage, streq(mp->v[i].target, "/") ? "" : mp->v[i].target) >= sizeof(dst))
			return -ENAMETOOLONG;
		if ((r = apply_one(&mp->v[i], dst)) < 0)
			return r;
	}
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only ours. */
	if (chdir(stage) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
	    chdir("/") < 0)
		return negative_errno();
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return negative_errno();
	return 0;
}
