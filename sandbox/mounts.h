/* SPDX-License-Identifier: MIT */
/* mounts.h - the sandbox's file-system view: planned in the parent, built in the child.
 *
 * The parent turns a spec into an ordered list of entries (tmpfs, bind, proc, symlink, small
 * file, directory copy) with resolved host paths, mount attributes and the Landlock access each
 * target gets.
 * The child applies the list beneath a fresh tmpfs and pivots into it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sandbox_spec;

enum mnt_kind {
	MNT_DIR,     /* a directory in the root tmpfs (carries a Landlock rule) */
	MNT_TMPFS,   /* source: mount options */
	MNT_PROC,    /* a fresh procfs for the new pid namespace */
	MNT_BIND,    /* source: resolved host path */
	MNT_SYMLINK, /* source: link target */
	MNT_FILE,    /* source: file contents, len bytes */
	MNT_SEAL,    /* set attrs recursively on the mount at target once it is populated */
	MNT_COPY,    /* source: resolved host directory, copied into a private tmpfs (options: opts) */
};

struct mnt_entry {
	enum mnt_kind kind;
	char *source;
	char *target;      /* absolute, inside the sandbox */
	bool dir;          /* MNT_BIND: the source is a directory */
	uint64_t attrs;    /* SB_MOUNT_ATTR_* set recursively (binds) */
	uint64_t landlock; /* SB_LL_FS_* granted beneath target; 0 = no rule */
	size_t len;        /* MNT_FILE: bytes in source */
	char *opts;        /* MNT_COPY: tmpfs options sized for the copy */
	int src_fd;        /* child-side: O_PATH of source while it is being bound */
};

struct mount_plan {
	struct mnt_entry *v;
	size_t n;
};

/* Build the ordered list. Returns 0, -EINVAL for a path that is relative, reserved or unsafe,
 * -ENOENT for one that does not exist, or a negative errno. */
int mount_plan_build(const struct sandbox_spec *spec, struct mount_plan *mp);

void mount_plan_done(struct mount_plan *mp);

/* Child side, in a fresh mount namespace with capabilities over it: build the tree beneath a
 * tmpfs at `stage`, pivot into it and detach the old root. No allocation. */
int mount_plan_apply(struct mount_plan *mp, const char *stage);
