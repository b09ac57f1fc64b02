/* SPDX-License-Identifier: MIT */
/* kernel.h - kernel constants, structs and syscall wrappers newer than Debian 12's 6.1 headers.
 *
 * Header-only. Every definition is guarded so newer headers win; the numbers are the x86_64
 * (and generic) syscall numbers, which are shared by all architectures for these calls. */
#pragma once

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* struct clone_args as of Linux 5.7 (CLONE_INTO_CGROUP needs the cgroup field). */
struct sb_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};

/* mount_setattr(2), Linux 5.12. Own names so <linux/mount.h> and <sys/mount.h> never clash. */
/* memfd_create(2) flag from Linux 6.3: executable (explicitly, whatever vm.memfd_noexec says). */
#define SB_MFD_EXEC 0x0010U

#define SB_MOUNT_ATTR_RDONLY 0x00000001
#define SB_MOUNT_ATTR_NOSUID 0x00000002
#define SB_MOUNT_ATTR_NODEV 0x00000004
#define SB_MOUNT_ATTR_NOEXEC 0x00000008
#define SB_AT_RECURSIVE 0x8000

struct sb_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

/* Landlock, up to ABI 6 (Linux 6.12). */
#define SB_LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define SB_LANDLOCK_RULE_PATH_BENEATH 1

#define SB_LL_FS_EXECUTE (1ULL << 0)
#define SB_LL_FS_WRITE_FILE (1ULL << 1)
#define SB_LL_FS_READ_FILE (1ULL << 2)
#define SB_LL_FS_READ_DIR (1ULL << 3)
#define SB_LL_FS_REMOVE_DIR (1ULL << 4)
#define SB_LL_FS_REMOVE_FILE (1ULL << 5)
#define SB_LL_FS_MAKE_CHAR (1ULL << 6)
#define SB_LL_FS_MAKE_DIR (1ULL << 7)
#define SB_LL_FS_MAKE_REG (1ULL << 8)
#define SB_LL_FS_MAKE_SOCK (1ULL << 9)
#define SB_LL_FS_MAKE_FIFO (1ULL << 10)
#define SB_LL_FS_MAKE_BLOCK (1ULL << 11)
#define SB_LL_FS_MAKE_SYM (1ULL << 12)
#define SB_LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define SB_LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define SB_LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */

#define SB_LL_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define SB_LL_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */

#define SB_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define SB_LL_SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */

struct sb_landlock_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

struct sb_landlock_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static inline long sb_clone3(struct sb_clone_args *args)
{
	return syscall(__NR_clone3, args, sizeof(*args));
}

static inline int sb_mount_setattr(int dfd, const char *path, unsigned flags, struct sb_mount_attr *attr)
{
	return (int)syscall(__NR_mount_setattr, dfd, path, flags, attr, sizeof(*attr));
}

