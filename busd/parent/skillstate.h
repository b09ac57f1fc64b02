/* SPDX-License-Identifier: MIT */
/* skillstate.h - every skill's /state image under the daemon's state_dir (privileged parent).
 *
 * <state_dir>/state-images/ID.img is mounted at <state_dir>/skills/ID, the directory the sandbox
 * binds at /state (sandbox/stateimg.h does the kernel work). This module decides where images
 * live, moves aside state directories of earlier versions, keeps a spare image ready for the
 * next new skill and leaves slow work (making a spare, tearing a removed image down) to short-
 * lived children it reaps by pid. Skill ids are validated before they get here. */
#pragma once

#include <stdbool.h>
#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

struct skillstate;

/* state_dir must outlive the object. Returns 0 or -ENOMEM. */
int skillstate_new(const char *state_dir, struct skillstate **out);

/* Waits for the helpers, unmounts the spare (images stay) and frees ss. NULL-safe. */
void skillstate_free(struct skillstate *ss);

/* Mounts id's image of limit bytes at dir (an existing directory owned by uid:uid), making it
 * (from the spare when one fits, waiting for a spare still being made), growing or shrinking it
 * as needed; logs what it did. Returns 0, -EFBIG when the data does not fit a smaller limit
 * (nothing changed), or another -errno. */
int skillstate_mount(struct skillstate *ss, const char *id, const char *dir, uint64_t limit, uid_t uid);

/* True iff id's image is mounted at dir. */
bool skillstate_is_mounted(struct skillstate *ss, const char *id, const char *dir);

/* Unmounts id's image, keeping it (the daemon stops, the manifest became invalid). */
void skillstate_unmount(struct skillstate *ss, const char *id, const char *dir);

/* Unmounts, keeping the images, every image mounted under <state_dir>/skills/ whose id keep()
 * rejects (keep NULL: every one): mounts a daemon killed with SIGKILL left for skills that have
 * no manifest any more. Only a mount of the id's own image is touched; logs each. */
void skillstate_unmount_others(struct skillstate *ss, bool (*keep)(const char *id, void *userdata), void *userdata);

/* Deletes id's image and its mount point dir (the manifest was deleted). */
void skillstate_remove(struct skillstate *ss, const char *id, const char *dir);

/* Milliseconds until skillstate_tick() has work (-1: none). */
int skillstate_timeout(struct skillstate *ss, uint64_t now_ms);

/* Fills fds with up to max descriptors that become readable when a spare image is made (the
 * next one can start then); returns how many. skillstate_tick() handles them. */
size_t skillstate_pollfds(struct skillstate *ss, struct pollfd *fds, size_t max);
/* Reaps finished helpers, finishes adoptions and makes the next spare when it is due. */
void skillstate_tick(struct skillstate *ss, uint64_t now_ms);
