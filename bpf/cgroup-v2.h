/* SPDX-License-Identifier: MIT */
/* cgroup-v2.h - find the cgroup v2 hierarchy, cgroup ids and a process's v2 cgroup.
 *
 * Works on v2-only systems (/sys/fs/cgroup) and the hybrid layout (/sys/fs/cgroup/unified).
 * Reads /proc only; no state. Returns 0 or a negative errno; outputs untouched on failure. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo (the first cgroup2 mount
 * of the hierarchy's root). -ENOENT if none, -ENAMETOOLONG if buf is too small. */
int cgroup_v2_mount(char *buf, size_t n);

/* Same, from a mountinfo text (for tests). */
int cgroup_v2_mount_from_mountinfo(const char *mountinfo, char *buf, size_t n);

/* The cgroup id of a v2 directory (the id bpf_get_current_cgroup_id() reports), from its
 * file handle. */
int cgroup_id_of_path(const char *path, uint64_t *id);

/* The v2 cgroup id of the process behind a pidfd (e.g. from SO_PEERPIDFD), race-free, with the
 * PIDFD_GET_INFO ioctl (Linux 6.13+). -EOPNOTSUPP on older kernels, -ESRCH once the process has
 * exited and been reaped. */
int cgroup_id_of_pidfd(int pidfd, uint64_t *id);

/* Absolute path of pid's v2 cgroup (mount point + "0::" entry of /proc/PID/cgroup); pid 0 is
 * the caller. -ENOENT if the process is gone or has no v2 entry. */
int cgroup_v2_path_of_pid(pid_t pid, char *buf, size_t n);
