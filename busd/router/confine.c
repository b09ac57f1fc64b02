// SPDX-License-Identifier: MIT
/* confine.c - privilege drop and seccomp allow-list of the router process. */
#include "router/confine.h"

#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "common/log.h"

/* _IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info) with the 64-byte first version of the struct. */
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, char[64])

/* The ids come from the parent, which resolved the configured user: the router reads no files. */
static int drop_ids(const struct ps_router_config *cfg)
{
	uid_t uid = cfg->uid;
	gid_t gid = cfg->gid;

	if (geteuid() != 0)
		return 0; /* already unprivileged: nothing to drop */
	if (uid == 0 || gid == 0)
		return -EPERM; /* refusing to run the parser as root */
	/* The bounding set goes first: after the uid change we could no longer drop it. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return negative_errno();
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return negative_errno();
	if (setuid(0) == 0 || seteuid(0) == 0)
		return -EPERM; /* the drop did not stick */
	return 0;
}

/* What an epoll loop over sockets with libsodium and malloc needs, and nothing else. */
static const int router_syscalls[] _unused_ = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(close),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(accept4), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(fcntl),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(mprotect), SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(getrandom),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(futex), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(sched_yield), SCMP_SYS(timerfd_settime),
};

static int install_seccomp(void)
{
#if defined(__SANITIZE_ADDRESS__)
	/* Sanitizer runtimes open files and ptrace themselves when they report: the allow-list is
	 * enforced in regular builds only. */
	log_event(LOG_LEVEL_WARNING, "router_seccomp_skipped", "reason=\"sanitizer build\"");
	return 0;
#else
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(router_syscalls); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, router_syscalls[i], 0);
		if (r < 0 && r != -EDOM) /* -EDOM: not on this architecture */
			goto out;
	}
	/* One ioctl only: reading a peer's cgroup id from its pidfd (PIDFD_GET_INFO, first version). */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, PIDFD_GET_INFO_V0));
	if (r < 0)
		goto out;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (r == 0)
		r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
#endif
}

int confine_router(const struct ps_router_config *cfg)
{
	int r = drop_ids(cfg);
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return negative_errno();
	return install_seccomp();
}
