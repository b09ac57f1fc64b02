// SPDX-License-Identifier: MIT
/* mounts.c - the sandbox's file-system view: planned in the parent, built in the child.
 *
 * Parent: paths are resolved with realpath() and checked once, so the child only replays a
 * list. Child: sources are opened (O_PATH) before the staging tmpfs hides anything, bound through
 * /proc/self/fd, made read-only/nosuid/nodev/noexec recursively with mount_setattr(), then the
 * tmpfs becomes / with pivot_root(".", ".") and the old root is detached. */
#include "mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
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
	static const char *const below[] = { "/proc", "/dev", "/sys", SANDBOX_STATE_PATH, SANDBOX_SKILL_PATH };

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

/* What a copy of the tree at dirfd takes in a tmpfs, block-rounded; counts what copy_tree copies
 * (directories, regular files, symlinks) and what it cannot read too. -EFBIG past the limits. */
static int measure_tree(int dirfd, unsigned depth, uint64_t *bytes, uint64_t *entries)
{
	char buf[4096];
	long n;

	if (depth > 32)
		return -ELOOP;
	while ((n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			struct stat st;
			int r = 0;

			off += d->d_reclen;
			if (streq(d->d_name, ".") || streq(d->d_name, "..") ||
			    fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			*entries += 1;
			*bytes += S_ISREG(st.st_mode) ? ((uint64_t)st.st_size + 4095) / 4096 * 4096 : 4096;
			if (*bytes > SANDBOX_SKILL_MAX_BYTES || *entries > SANDBOX_SKILL_MAX_ENTRIES)
				return -EFBIG;
			if (S_ISDIR(st.st_mode)) {
				int sub = openat(dirfd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub < 0)
					continue;
				r = measure_tree(sub, depth + 1, bytes, entries);
				close(sub);
			}
			if (r < 0)
				return r;
		}
	}
	return n < 0 ? negative_errno() : 0;
}

/* The skill dir: its files copied by the child into a tmpfs of its own at SANDBOX_SKILL_PATH,
 * sized here from a walk of the tree. A bind would name the host path in mountinfo (as the
 * mount's root within its file system), a copy does not. */
static int add_skill(struct mount_plan *mp, const char *path)
{
	_cleanup_free_ char *real = NULL;
	uint64_t bytes = 0, entries = 0;
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
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	{
		_cleanup_close_ int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return negative_errno();
		if ((r = measure_tree(fd, 0, &bytes, &entries)) < 0)
			return r;
	}
	if ((r = add(mp, MNT_COPY, real, SANDBOX_SKILL_PATH, true, RO_ATTRS, LL_RX)) < 0)
		return r;
	if (asprintf(&mp->v[mp->n - 1].opts, "mode=0755,size=%llu,nr_inodes=%llu",
		     (unsigned long long)(bytes + (64 << 10)), (unsigned long long)entries + 16) < 0) {
		mp->v[mp->n - 1].opts = NULL;
		return -ENOMEM;
	}
	return 0;
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
	if (spec->skill_dir && (r = add_skill(mp, spec->skill_dir)) < 0)
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
	/* Not through add_user: the cgroup mount lives under /sys, which callers may not bind. */
	if (spec->cgroup_view && (r = add(mp, MNT_BIND, spec->cgroup_view, SANDBOX_CGROUP_PATH, true,
					   RO_ATTRS | SB_MOUNT_ATTR_NOEXEC, LL_RO)) < 0)
		goto fail;
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
		free(mp->v[i].opts);
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

/* Copy the directory `from` (an fd that can be read) into `to`, entries the skill could read
 * through a bind: regular files (content and permission bits, set-id bits dropped), directories
 * and symlinks (as they are). Anything else, and anything not readable by the skill's uid (the
 * child copies as that uid), is left out. Bounded depth, no allocation. */
static int copy_tree(int from, int to, unsigned depth)
{
	char buf[4096];
	long n;

	if (depth > 32)
		return -ELOOP;
	while ((n = syscall(SYS_getdents64, from, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			const char *name = d->d_name;
			struct stat st;
			int r = 0;

			off += d->d_reclen;
			if (streq(name, ".") || streq(name, "..") || fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISDIR(st.st_mode)) {
				int sub = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), dsub;
				if (sub < 0)
					continue;
				if (mkdirat(to, name, st.st_mode & 0755) < 0 ||
				    (dsub = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
					r = negative_errno();
				} else {
					r = copy_tree(sub, dsub, depth + 1);
					close(dsub);
				}
				close(sub);
			} else if (S_ISREG(st.st_mode)) {
				/* Non-blocking and checked again: a FIFO swapped in since fstatat must not
				 * hang the launch. */
				int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), out;
				if (in < 0)
					continue;
				if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
					close(in);
					continue;
				}
				out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0755);
				if (out < 0)
					r = negative_errno();
				for (off_t left = st.st_size; out >= 0 && r == 0 && left > 0;) {
					ssize_t w = sendfile(out, in, NULL, (size_t)left);
					if (w < 0 && errno != EINTR)
						r = negative_errno();
					else if (w == 0)
						break; /* shrank meanwhile */
					else if (w > 0)
						left -= w;
				}
				if (out >= 0)
					close(out);
				close(in);
			} else if (S_ISLNK(st.st_mode)) {
				char target[PATH_MAX];
				ssize_t len = readlinkat(from, name, target, sizeof(target) - 1);
				if (len < 0)
					continue;
				target[len] = '\0';
				if (symlinkat(target, to, name) < 0)
					r = negative_errno();
			}
			if (r < 0)
				return r;
		}
	}
	return n < 0 ? negative_errno() : 0;
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
	case MNT_COPY: {
		struct sb_mount_attr attr = { .attr_set = e->attrs };
		int from, to;

		if ((r = mkdir_p(dst)) < 0)
			return r;
		if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, e->opts) < 0)
			return negative_errno();
		from = openat(e->src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (from < 0)
			return negative_errno();
		to = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = to < 0 ? negative_errno() : copy_tree(from, to, 0);
		if (to >= 0)
			close(to);
		close(from);
		close(e->src_fd);
		e->src_fd = -1;
		if (r < 0)
			return r;
		return sb_mount_setattr(AT_FDCWD, dst, 0, &attr) < 0 ? negative_errno() : 0;
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
		if (mp->v[i].kind != MNT_BIND && mp->v[i].kind != MNT_COPY)
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
