/* SPDX-License-Identifier: MIT */
/* filetxn.h - change several files as one unit: all of the new state, or none of it (privileged
 * parent).
 *
 * Every change is staged first: new contents are written to a temporary name in the target's own
 * directory and fsync'd. Only when every file is staged does commit swap them into place, one
 * rename each (renameat2 RENAME_EXCHANGE, so the old file stays under the temporary name). A
 * rename in one directory needs no new blocks or inodes, and if one fails anyway the renames
 * already done are swapped back, so on return the files are either all new or all old. The old
 * versions are deleted only after the last rename. This is what makes install, grant, revoke and
 * remove atomic on a full disk (docs/architecture.md, "Changing policy files"). A crash between
 * two renames can still leave the earlier ones done: callers order the entries so that the last
 * one is the commit point. Needs a file system with RENAME_EXCHANGE (ext4, xfs, btrfs, tmpfs,
 * f2fs, overlayfs); elsewhere a write fails with -EINVAL and nothing changes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FILETXN_MAX 4

struct filetxn_entry {
	int dirfd;   /* owned */
	char *name;  /* final name in dirfd */
	char *tmp;   /* staged new contents; after commit, the old file (if any) */
	bool remove; /* the entry deletes name */
	bool had_old;
	bool swapped;
};

struct filetxn {
	struct filetxn_entry e[FILETXN_MAX];
	size_t n;
	bool committed;
};

#define FILETXN_INIT { .n = 0 }

/* Stages dir/name with text (len bytes) and mode: writes and fsyncs a temporary file next to it.
 * dir is opened without following a symlink when nofollow is set. Returns 0 or a negative errno
 * (-ENOSPC, -EDQUOT on a full disk; the transaction stays usable only to be freed). */
int filetxn_write(struct filetxn *t, const char *dir, bool nofollow, const char *name, const char *text, size_t len,
		  mode_t mode);

/* Stages the deletion of dir/name (nothing happens to it until commit; a missing file is fine). */
int filetxn_unlink(struct filetxn *t, const char *dir, bool nofollow, const char *name);

/* Puts every staged change in place, in the order staged, or none: on failure the changes already
 * made are undone and the error is returned. Then syncs the directories and deletes the old
 * versions. Returns 0 or a negative errno. */
int filetxn_commit(struct filetxn *t);

/* Deletes what was staged and not committed, closes the directories. Safe on a zeroed or
 * partly built transaction; use with _cleanup_(filetxn_done). */
void filetxn_done(struct filetxn *t);
