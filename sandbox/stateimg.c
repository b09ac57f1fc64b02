// SPDX-License-Identifier: MIT
/* stateimg.c - a skill's /state as an ext4 image of a fixed size on a loop device (root only).
 *
 * Why an image: the host's / here (ext4 without the quota feature; quotactl answers ESRCH for
 * project quotas) offers no per-directory limit, and tmpfs would spend memory. A file system of
 * its own is a limit the kernel keeps whatever the skill does (many small files, sparse writes,
 * hard links, xattrs), and its root has no host path for the skill to see in mountinfo.
 * The e2fsprogs tools run with a fixed argv, an empty environment and /dev/null as stdio. */
#include "stateimg.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "trace.h"
#include "util.h"

/* e2fsprogs is "required" priority in Debian: always installed, always at these paths. */
#define MKFS_EXT4 "/usr/sbin/mkfs.ext4"
#define E2FSCK "/usr/sbin/e2fsck"
#define RESIZE2FS "/usr/sbin/resize2fs"
#define MOUNT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME)
/* noinit_itable: the kernel's lazy zeroing of inode tables writes zeroes to the loop device,
 * which the loop driver turns into holes punched in the image. The tables are zeroed by mkfs
 * and resize2fs instead (below), so there is nothing left for the kernel to do. */
#define MOUNT_OPTIONS "errors=remount-ro,noinit_itable"
#define LOOP_TRIES 16
#define RELEASE_TRIES 100 /* x 10 ms */
#define LOOP_MAJOR 7

/* Runs a tool to completion with the environment envp (NULL: an empty one); returns its exit
 * status (0..255) or -errno. */
static int run_tool(char *const argv[], char *const envp[])
{
	static char *const empty[] = { NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return -r;
	for (int fd = 0; fd < 3 && r == 0; fd++)
		r = posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp ? envp : empty);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

/* Reserves the image's blocks now, so the host cannot run out under a skill later and a full
 * host disk is an error here rather than I/O errors inside the skill. Done again after mkfs and
 * resize2fs: e2fsprogs may zero a range of a regular file by punching a hole in it, and a hole
 * is disk the image would take from the host later. posix_fallocate() only fills holes: data stays. */
static int reserve(int fd, uint64_t size)
{
	int r = posix_fallocate(fd, 0, (off_t)size);

	return r ? -r : 0;
}

static int make_image(const char *image, uint64_t size, uid_t uid)
{
	_cleanup_free_ char *tmp = NULL;
	char owner[96], *mkfs[] = { MKFS_EXT4, "-q", "-F", "-m", "0", "-E", NULL, "--", NULL, NULL };
	int r;

	if (asprintf(&tmp, "%s.new", image) < 0)
		return -ENOMEM;
	/* A creation that died half-way left this name: it was never renamed into place. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return negative_errno();
	_cleanup_close_ int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return negative_errno();
	/* lazy_*_init=0: the inode tables and the journal are zeroed now, not by the kernel after
	 * the mount (MOUNT_OPTIONS). */
	snprintf(owner, sizeof(owner), "nodiscard,lazy_itable_init=0,lazy_journal_init=0,root_owner=%u:%u", (unsigned)uid,
		 (unsigned)uid);
	mkfs[6] = owner;
	mkfs[8] = tmp;
	r = reserve(fd, size);
	if (r == 0) {
		r = run_tool(mkfs, NULL);
		if (r > 0)
			r = -EIO;
	}
	if (r == 0)
		r = reserve(fd, size);
	if (r == 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r == 0 && rename(tmp, image) < 0)
		r = negative_errno();
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Grows or shrinks a file system that is not mounted. Shrinking fails when the data does not
 * fit; the image is then left as it was. */
static int resize_image(const char *image, uint64_t old_size, uint64_t size)
{
	char kib[32], *fsck[] = { E2FSCK, "-f", "-p", "--", (char *)image, NULL };
	char *resize[] = { RESIZE2FS, "--", (char *)image, kib, NULL };
	/* Without it, resize2fs leaves the new groups' inode tables to the kernel's lazy init. */
	char *resize_env[] = { "RESIZE2FS_FORCE_ITABLE_INIT=1", NULL };
	int r;

	/* resize2fs insists on a freshly checked file system; 0 and 1 (errors fixed) will do. */
	r = run_tool(fsck, NULL);
	if (r < 0)
		return r;
	if (r > 1)
		return -EUCLEAN;
	_cleanup_close_ int fd = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return negative_errno();
	snprintf(kib, sizeof(kib), "%" PRIu64 "K", size >> 10);
	if (size > old_size) {
		if ((r = reserve(fd, size)) < 0)
			return r;
		r = run_tool(resize, resize_env);
		if (r != 0) {
			/* Give the host its space back; the file system still ends where it did. */
			(void)!ftruncate(fd, (off_t)old_size);
			return r < 0 ? r : -EIO;
		}
		return reserve(fd, size);
	}
	r = run_tool(resize, resize_env);
	if (r < 0)
		return r;
	if (r > 0)
		return STATEIMG_SHRINK_FAILED;
	if (ftruncate(fd, (off_t)size) < 0)
		return negative_errno();
	return reserve(fd, size);
}

/* Attaches image to a free loop device (autoclear) and mounts it at mountpoint. */
static int attach_and_mount(const char *image, const char *mountpoint)
{
	char dev[32];
	int r = -EBUSY;

	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return negative_errno();
	_cleanup_close_ int backing = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (backing < 0)
		return negative_errno();
	/* An image mounted by an earlier version (without noinit_itable) may have holes the kernel
	 * punched: fill them before the skill can use the space (nothing to do for the others). */
	struct stat st;
	if (fstat(backing, &st) < 0)
		return negative_errno();
	if ((r = reserve(backing, (uint64_t)st.st_size)) < 0)
		return r;
	r = -EBUSY;
	_cleanup_close_ int loop = -1;
	/* Another process may take the free device between the two calls: ask again. */
	for (int tries = 0; tries < LOOP_TRIES; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return negative_errno();
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		loop = open(dev, O_RDWR | O_CLOEXEC);
		if (loop < 0)
			return negative_errno();
		struct loop_config cfg = { .fd = (uint32_t)backing, .info.lo_flags = LO_FLAGS_AUTOCLEAR };
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", image);
		if (ioctl(loop, LOOP_CONFIGURE, &cfg) == 0) {
			r = 0;
			break;
		}
		r = negative_errno();
		close(loop);
		loop = -1;
		if (r != -EBUSY)
			return r;
	}
	if (r < 0)
		return r;
	/* From here the mount holds the device; closing ours (cleanup) clears it if mount failed. */
	if (mount(dev, mountpoint, "ext4", MOUNT_FLAGS, MOUNT_OPTIONS) < 0)
		return negative_errno();
	return 0;
}

bool stateimg_is_mounted(const char *image, const char *mountpoint)
{
	struct statx stx;
	char sys[96], backing[PATH_MAX + 16];

	if (statx(AT_FDCWD, mountpoint, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0 ||
	    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return false;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/loop/backing_file", stx.stx_dev_major, stx.stx_dev_minor);
	_cleanup_close_ int fd = open(sys, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *real = realpath(image, NULL);
	if (fd < 0 || !real)
		return false;
	ssize_t n = read(fd, backing, sizeof(backing) - 1);
	if (n <= 0)
		return false;
	backing[n] = '\0';
	backing[strcspn(backing, "\n")] = '\0';
	return streq(backing, real);
}

/* The skill's uid owns the root; nobody else may enter. Redone at every mount because the
 * uid is the caller's to decide. lost+found is e2fsck's, not the skill's: gone from a new one. */
static int own_root(const char *mountpoint, uid_t uid, bool created)
{
	_cleanup_close_ int fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fchown(fd, uid, uid) < 0 || fchmod(fd, 0700) < 0)
		return negative_errno();
	if (created && unlinkat(fd, "lost+found", AT_REMOVEDIR) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}

int stateimg_mount(const char *image, const char *mountpoint, uint64_t size, uid_t uid,
		   struct stateimg_result *res)
{
	struct stateimg_result out = { 0 };
	struct stat st;
	int r;

	if (stateimg_is_mounted(image, mountpoint)) {
		if (stat(image, &st) < 0)
			return negative_errno();
		if ((uint64_t)st.st_size == size) {
			out.reused = true;
			goto done;
		}
		if ((r = stateimg_unmount(image, mountpoint)) < 0)
			return r;
	}
	if (lstat(image, &st) < 0) {
		if (errno != ENOENT)
			return negative_errno();
		if ((r = make_image(image, size, uid)) < 0)
			return r;
		out.created = true;
	} else if (!S_ISREG(st.st_mode) || st.st_uid != 0) {
		return -EPERM;
	} else if ((uint64_t)st.st_size != size) {
		if ((r = resize_image(image, (uint64_t)st.st_size, size)) != 0)
			return r;
		out.resized = true;
	}
	if ((r = attach_and_mount(image, mountpoint)) < 0)
		return r;
done:
	if ((r = own_root(mountpoint, uid, out.created)) < 0)
		return r;
	if (res)
		*res = out;
	return 0;
}

int stateimg_usage(const char *mountpoint, uint64_t *used, uint64_t *total)
{
	struct statvfs sv;

	if (statvfs(mountpoint, &sv) < 0)
		return negative_errno();
	*used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	return 0;
}

/* The file system outlives our unmount while a copy of the mount in another mount namespace
 * (a sandbox that just exited, torn down by the kernel a moment later) still holds it; the
 * image must not be touched until then. A mounted file system holds its loop device
 * exclusively, so an O_EXCL open succeeds once it is gone. The kernel sends no event for this:
 * ask for up to a second. */
static int wait_released(unsigned major, unsigned minor)
{
	char dev[64];

	/* Loop devices are block major 7, named by their minor (no partitions on ours). */
	if (major != LOOP_MAJOR)
		return 0;
	snprintf(dev, sizeof(dev), "/dev/loop%u", minor);
	for (int i = 0; i < RELEASE_TRIES; i++) {
		int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EBUSY)
			return 0; /* gone with its autoclear, or never a device of ours */
		struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

int stateimg_unmount(const char *image, const char *mountpoint)
{
	struct statx stx;
	bool was = false;

	/* Bounded: the same image mounted twice over itself is unmounted twice. */
	for (int i = 0; i < 4 && stateimg_is_mounted(image, mountpoint); i++) {
		if (statx(AT_FDCWD, mountpoint, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
			return negative_errno();
		if (umount2(mountpoint, 0) < 0 && (errno != EBUSY || umount2(mountpoint, MNT_DETACH) < 0))
			return negative_errno();
		was = true;
	}
	return was ? wait_released(stx.stx_dev_major, stx.stx_dev_minor) : 0;
}

int stateimg_adopt(const char *spare, const char *spare_mnt, const char *image, const char *mountpoint, uid_t uid)
{
	struct stat st;

	if (!stateimg_is_mounted(spare, spare_mnt))
		return -ENOENT;
	if (lstat(image, &st) == 0)
		return -EEXIST;
	/* A mount only: no name changes on the host file system here, since those wait for its
	 * journal (a commit under way, an fsync elsewhere) and this is on a skill's start. */
	if (mount(spare_mnt, mountpoint, NULL, MS_BIND, NULL) < 0)
		return negative_errno();
	STARTUP_TRACE("adopt: bound");
	int r = own_root(mountpoint, uid, true);
	if (r < 0)
		(void)umount2(mountpoint, MNT_DETACH);
	return r;
}

int stateimg_adopt_finish(const char *spare, const char *image)
{
	if (renameat2(AT_FDCWD, spare, AT_FDCWD, image, RENAME_NOREPLACE) < 0)
		return negative_errno();
	return 0;
}

int stateimg_clear(const char *mountpoint)
{
	struct statx stx;
	int n = 0;

	/* Bounded: nothing of ours stacks more than a few mounts at one place. */
	for (; n < 8; n++) {
		if (statx(AT_FDCWD, mountpoint, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
			return errno == ENOENT ? n : negative_errno();
		if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
			return n;
		if (umount2(mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			return negative_errno();
	}
	return n;
}

int stateimg_detach(const char *image, const char *mountpoint)
{
	int fd = -1;

	if (stateimg_is_mounted(image, mountpoint)) {
		fd = open(mountpoint, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return negative_errno();
		if (umount2(mountpoint, MNT_DETACH) < 0) {
			int r = negative_errno();
			close(fd);
			return r;
		}
	}
	if (unlink(image) < 0 && errno != ENOENT) {
		int r = negative_errno();
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd >= 0 ? fd : -ENOENT;
}

int stateimg_remove(const char *image, const char *mountpoint)
{
	int r = stateimg_unmount(image, mountpoint);

	if (r < 0)
		return r;
	if (unlink(image) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}
