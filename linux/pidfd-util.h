/* SPDX-License-Identifier: MIT */
/* pidfd-util.h - pidfds: open one, signal through one, read its process's cgroup v2 id.
 *
 * Part of linux/ (see linux/meson.build). A pidfd names one process for good: signals and
 * queries through it can never reach a recycled pid. Wrappers own names, so glibc's
 * <sys/pidfd.h> (2.36+) never clashes. Returns 0 (or the fd) or a negative errno. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* A pidfd (close-on-exec) for pid. Returns the fd or a negative errno (-ESRCH: no such pid). */
int pidfd_open_pid(pid_t pid);

/* Sends sig to the process behind pidfd. Returns 0, -ESRCH once it has exited, or a negative
 * errno. */
int pidfd_signal(int pidfd, int sig);

/* The v2 cgroup id of the process behind a pidfd (e.g. from SO_PEERPIDFD), race-free, with the
 * PIDFD_GET_INFO ioctl (Linux 6.13+). -EBADF for a negative fd, -EOPNOTSUPP on older kernels,
 * -ESRCH once the process has exited and been reaped. */
int cgroup_id_of_pidfd(int pidfd, uint64_t *id);
