/* SPDX-License-Identifier: MIT */
/* cgroupfs.h - where the cgroup hierarchies are mounted, where a process sits in them, and
 * cgroup v2 ids.
 *
 * Part of linux/ (see linux/meson.build); used by sandbox/ (skill cgroups), bpf/ (guard scope)
 * and busd/ (allow-lists). Works on v2-only systems (/sys/fs/cgroup) and on the hybrid layout
 * (v2 at /sys/fs/cgroup/unified, v1 controllers beside it). Reads /proc only; no state.
 * Returns 0 or a negative errno; outputs untouched on failure. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where a hierarchy is mounted, from a mountinfo text: controller NULL for cgroup v2, else the
 * v1 hierarchy whose super options name that controller exactly ("cpu" never matches
 * "cpuacct"). A mount of the hierarchy's root ("/") wins; otherwise the first mount of it,
 * whose *root then says which subtree it shows. *mount and *root are malloc'd.
 * Returns 0, -ENOENT (no such mount) or -ENOMEM. */
int cgroup_find_mount(const char *mountinfo, const char *controller, char **mount, char **root);

/* Mount point of the cgroup v2 hierarchy's root, from a mountinfo text (the first cgroup2 mount
 * of root "/"). -ENOENT if none, -ENAMETOOLONG if buf is too small. */
int cgroup_v2_mount_from_mountinfo(const char *mountinfo, char *buf, size_t n);

/* Same, from /proc/self/mountinfo. */
int cgroup_v2_mount(char *buf, size_t n);

/* A process's cgroup in one hierarchy, relative to that hierarchy, from a /proc/PID/cgroup
 * text: controller NULL for the v2 entry ("0::/path"), else the v1 entry whose controller list
 * names it exactly ("4:cpu,cpuacct:/path"). *out is malloc'd. Returns 0, -ENOENT (no such
 * entry) or -ENOMEM. */
int cgroup_entry_from_text(const char *proc_cgroup, const char *controller, char **out);

/* Same, from /proc/PID/cgroup; pid 0 is the caller. -ESRCH if the process is gone. */
int cgroup_entry_of_pid(pid_t pid, const char *controller, char **out);

/* The directory of cgroup rel (relative to its hierarchy) seen through a mount of that
 * hierarchy's subtree root at mount. *out is malloc'd. Returns 0, -EOPNOTSUPP when rel is not
 * visible through this mount, -EINVAL for a path with "/..", or -ENOMEM. */
int cgroup_dir(const char *mount, const char *root, const char *rel, char **out);

/* Absolute path of pid's v2 cgroup (mount point + "0::" entry of /proc/PID/cgroup); pid 0 is
 * the caller. -ENOENT if the process has no v2 entry or its cgroup was removed, -ESRCH if the
 * process is gone. */
int cgroup_v2_path_of_pid(pid_t pid, char *buf, size_t n);

/* The path of the v2 cgroup with this id, relative to the v2 mount point mount ("/" for the
 * root): by the id itself, so a log names the cgroup a denied connect came from even after the
 * process has exited or moved. Needs CAP_DAC_READ_SEARCH (open_by_handle_at): -EPERM without.
 * -ESTALE or -ENOENT when no such cgroup exists (any more), -ENAMETOOLONG if buf is too small. */
int cgroup_v2_path_of_id(const char *mount, uint64_t id, char *buf, size_t n);

/* The cgroup id of a v2 directory (the id bpf_get_current_cgroup_id() reports), from its
 * file handle. */
int cgroup_id_of_path(const char *path, uint64_t *id);
