// SPDX-License-Identifier: MIT
/* landlock.c - a Landlock domain that matches the sandbox's file-system view.
 *
 * Defence in depth behind the mount view: even if a mount were left writable by mistake, only the
 * state dir, /tmp and /dev/shm accept writes, and only the skill dir and /usr may be executed.
 * Rules on non-directories may only carry file rights, so those are masked per entry. */
#include "landlock.h"

#include <fcntl.h>
#include <sys/syscall.h>

#include "kernel.h"
#include "mounts.h"
#include "util.h"

#define LL_FILE_RIGHTS                                                                          \
	(SB_LL_FS_EXECUTE | SB_LL_FS_WRITE_FILE | SB_LL_FS_READ_FILE | SB_LL_FS_TRUNCATE |      \
	 SB_LL_FS_IOCTL_DEV)

int landlock_abi(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, SB_LANDLOCK_CREATE_RULESET_VERSION);
	return abi > 0 ? (int)abi : 0;
}

static uint64_t handled_fs(int abi)
{
	uint64_t m = (SB_LL_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */

	if (abi >= 2)
		m |= SB_LL_FS_REFER;
	if (abi >= 3)
		m |= SB_LL_FS_TRUNCATE;
	if (abi >= 5)
		m |= SB_LL_FS_IOCTL_DEV;
	return m;
}

int landlock_apply(const struct mount_plan *mp, int abi, bool network, bool host_network)
{
	struct sb_landlock_ruleset_attr attr = { .handled_access_fs = handled_fs(abi) };
	size_t size = sizeof(attr.handled_access_fs);
	int rs, r = 0;

	if (abi <= 0)
		return 0;
	if (abi >= 4) {
		/* No network: TCP bind and connect are refused even if a socket appeared somehow. */
		if (!network)
			attr.handled_access_net = SB_LL_NET_BIND_TCP | SB_LL_NET_CONNECT_TCP;
		size = offsetof(struct sb_landlock_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		/* In the host's network namespace the abstract names are the host's, the bus socket's
		 * among them, which the gateway must reach: only signals are scoped there. */
		attr.scoped = (host_network ? 0 : SB_LL_SCOPE_ABSTRACT_UNIX_SOCKET) | SB_LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	rs = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		return negative_errno();

	for (size_t i = 0; i < mp->n && r == 0; i++) {
		const struct mnt_entry *e = &mp->v[i];
		struct sb_landlock_path_beneath_attr pb;
		bool is_dir = e->kind != MNT_FILE && (e->kind != MNT_BIND || e->dir);

		if (!e->landlock || e->kind == MNT_SYMLINK)
			continue;
		pb.allowed_access = e->landlock & attr.handled_access_fs & (is_dir ? ~0ULL : LL_FILE_RIGHTS);
		pb.parent_fd = open(e->target, O_PATH | O_CLOEXEC);
		if (pb.parent_fd < 0) {
			r = negative_errno();
			break;
		}
		if (syscall(__NR_landlock_add_rule, rs, SB_LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			r = negative_errno();
		close(pb.parent_fd);
	}
	if (r == 0 && syscall(__NR_landlock_restrict_self, rs, 0) < 0)
		r = negative_errno();
	close(rs);
	return r;
}
