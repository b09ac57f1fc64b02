/* SPDX-License-Identifier: MIT */
/* stateimg.h - a skill's /state as an ext4 image of a fixed size on a loop device (root only).
 *
 * The kernel enforces the size: the image is a regular file of exactly the manifest's
 * limits.state bytes, its blocks reserved with fallocate() when it is made, so a skill that
 * fills /state gets ENOSPC inside and the host disk loses at most that much. The image is
 * formatted by mkfs.ext4 (fixed argv, empty environment), attached with LOOP_CONFIGURE
 * (autoclear: the loop device goes away with the last mount) and mounted nosuid,nodev,noexec.
 * The mount stays between starts of the skill; the sandbox binds its root at /state.
 *
 * Trust: the caller is the privileged parent (or `capbus run` as root). Paths come from the
 * daemon's configuration and validated skill ids; the image's contents are written only
 * through the mounted file system, never as a raw file by the skill. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Positive result of stateimg_mount(): the image holds more than the new, smaller size. */
#define STATEIMG_SHRINK_FAILED 1

struct stateimg_result {
	bool created;  /* a new, empty image was made */
	bool resized;  /* an existing image was grown or shrunk to the asked size */
	bool reused;   /* it was already mounted there (an earlier start or daemon) */
};

/* Makes sure image (a regular file) exists with exactly size bytes and is mounted at
 * mountpoint (an existing, empty directory), its root owned by uid:uid with mode 0700.
 * Creation is all or nothing: the image is prepared under a temporary name and renamed into
 * place; a full host disk fails with -ENOSPC and leaves nothing. Returns 0, -errno, or
 * STATEIMG_SHRINK_FAILED (the image is left as it was, unmounted). *res may be NULL. */
int stateimg_mount(const char *image, const char *mountpoint, uint64_t size, uid_t uid,
		   struct stateimg_result *res);

/* True iff mountpoint is the root of a mount of image (through its loop device). */
bool stateimg_is_mounted(const char *image, const char *mountpoint);

/* Bytes used and the file system's size (statvfs, as df shows them) of a mounted image. */
int stateimg_usage(const char *mountpoint, uint64_t *used, uint64_t *total);

/* Detaches the mount at mountpoint if image is mounted there (the loop device clears itself).
 * Returns 0 (also when nothing was mounted) or -errno. */
int stateimg_unmount(const char *image, const char *mountpoint);

/* Turns a prepared image into a skill's, in two steps. stateimg_adopt(): spare, mounted at
 * spare_mnt by stateimg_mount(), has its file system bound at mountpoint and its root given to
 * uid:uid, mode 0700; image must not exist. Only mounts, no name changes on the host file system
 * (which may wait for its journal): a new skill need not wait for mkfs, a new mount of a file
 * system or the host's journal. Returns 0 or -errno; on failure nothing changed.
 * stateimg_adopt_finish(), once the start is done: renames spare to image (which must not
 * exist: -EEXIST). Until then the file system is mounted under spare's name: a caller killed in
 * between finds mountpoint a mount of spare (stateimg_is_mounted()) and finishes the rename.
 * spare_mnt stays mounted throughout (the same file system, by then under image's name): the
 * caller detaches it with stateimg_clear() when it has time, and before it mounts anything else
 * there. */
int stateimg_adopt(const char *spare, const char *spare_mnt, const char *image, const char *mountpoint, uid_t uid);
int stateimg_adopt_finish(const char *spare, const char *image);
/* Detaches every mount stacked at mountpoint, whatever it is (lazily: MNT_DETACH). Returns the
 * number detached (0 when mountpoint is no mount point or does not exist) or -errno. */
int stateimg_clear(const char *mountpoint);

/* Removes image and its mount at mountpoint without waiting for the file system to be written
 * back and torn down: the mount is detached and image unlinked, and the returned O_PATH fd on
 * the file system's root is its last reference. Whoever closes that fd (a short-lived child,
 * say) pays for the teardown. Returns the fd, -ENOENT when image is not mounted there (image is
 * still unlinked), or another -errno. */
int stateimg_detach(const char *image, const char *mountpoint);

/* Unmounts and deletes image. Returns 0 (also when it did not exist) or -errno. */
int stateimg_remove(const char *image, const char *mountpoint);
