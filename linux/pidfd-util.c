// SPDX-License-Identifier: MIT
/* pidfd-util.c - pidfd wrappers (see pidfd-util.h). */
#include "pidfd-util.h"

#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "util.h"

/* Debian 12's headers have both numbers; these are for older build hosts. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* include/uapi/linux/pidfd.h (Linux 6.13), absent from older headers: the first, 64-byte
 * version of struct pidfd_info, which every kernel with the ioctl accepts. */
struct capbus_pidfd_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t spare0;
};
_Static_assert(sizeof(struct capbus_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0");
#define CAPBUS_PIDFD_INFO_CGROUPID (1ULL << 2)
#define CAPBUS_PIDFD_GET_INFO _IOWR(0xFF, 11, struct capbus_pidfd_info)

int pidfd_open_pid(pid_t pid)
{
	int fd;

	if (pid <= 0)
		return -EINVAL;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? negative_errno() : fd;
}

int pidfd_signal(int pidfd, int sig)
{
	if (pidfd < 0)
		return -EBADF;
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return negative_errno();
	return 0;
}

int cgroup_id_of_pidfd(int pidfd, uint64_t *id)
{
	struct capbus_pidfd_info info = {.mask = CAPBUS_PIDFD_INFO_CGROUPID};

	if (pidfd < 0)
		return -EBADF;
	if (ioctl(pidfd, CAPBUS_PIDFD_GET_INFO, &info) < 0)
		return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : negative_errno();
	if (!(info.mask & CAPBUS_PIDFD_INFO_CGROUPID))
		return -EOPNOTSUPP; /* no cgroup v2 id to report (e.g. no v2 hierarchy) */
	*id = info.cgroupid;
	return 0;
}
