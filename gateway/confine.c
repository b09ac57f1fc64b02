// SPDX-License-Identifier: MIT
/* confine.c - the gateway's own restrictions once its sockets exist (design §6 step 5).
 *
 * After the lws context has bound its listeners and the sock_diag socket is open, the gateway
 * needs no new listening socket, no outbound TCP or UDP, no exec and no other process. A second
 * seccomp filter stacks on whatever the launcher installed (the stricter answer wins): socket()
 * only for AF_UNIX (the bus) and AF_NETLINK (sock_diag); bind, listen, exec, ptrace and
 * process_vm_* refused. Trust level: runs in the gateway before it serves anyone. */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <pwd.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gw-confine.h"
#include "util.h"

static void ctx_release(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}

/* Every capability gone, the bounding set included, ids unchanged: root without a user to
 * switch to still owns its files, but can no longer bypass permissions or act on others. */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return negative_errno();
	if (syscall(SYS_capset, &h, d) < 0)
		return negative_errno();
	return 0;
}

int gw_drop_user(const char *user)
{
	if (geteuid() != 0)
		return 0;
	if (!user || !user[0])
		return drop_caps();
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return -ENOENT;
	if (pw->pw_uid == 0)
		return -EPERM;
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return negative_errno();
	if (setuid(0) == 0)
		return -EPERM;
	return 0;
}

int gw_confine(void)
{
	_cleanup_(ctx_release) scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	static const int denied[] = {
		SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
		SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	};
	int r;

	if (!c)
		return -ENOMEM;
#if defined(__SANITIZE_ADDRESS__)
	/* The leak checker ptraces the process at exit: the filter is enforced in regular builds. */
	return GW_CONFINE_SKIPPED;
#endif
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return negative_errno();
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		if ((r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), denied[i], 0)) < 0)
			return r;
	}
	/* socket(): only AF_UNIX and AF_NETLINK; accepted TCP sockets need no socket() call. One
	 * rule per other family (libseccomp compares an argument once per rule). */
	for (int fam = 0; fam < AF_MAX; fam++) {
		if (fam == AF_UNIX || fam == AF_NETLINK)
			continue;
		if ((r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
					  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam))) < 0)
			return r;
	}
	if ((r = seccomp_rule_add(c, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				  SCMP_A0(SCMP_CMP_GE, (scmp_datum_t)AF_MAX))) < 0)
		return r;
	return seccomp_load(c);
}
