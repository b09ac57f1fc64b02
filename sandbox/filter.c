// SPDX-License-Identifier: MIT
/* filter.c - compile a named seccomp allow-list into a classic BPF program.
 *
 * Allow-list, default action SCMP_ACT_KILL_PROCESS: anything not named here kills the whole
 * sandboxed process with SIGSYS. That is what closes, among others, ptrace, mount/umount2/
 * pivot_root, bpf, perf_event_open, io_uring_*, keyctl/add_key/request_key, unshare/setns,
 * open_by_handle_at, kexec_*, (f)init_module/delete_module, userfaultfd, setuid/setgroups and
 * friends, and the new mount API. Only the native architecture is in the filter and the
 * bad-architecture action is also a process kill, so `int 0x80` (i386) and x32 calls
 * (nr | 0x40000000) die before any rule is looked at. A few calls get an errno instead of a kill
 * because ordinary programs probe them: clone3 (ENOSYS, so glibc falls back to clone, whose
 * flags a classic filter can see), socket families (EAFNOSUPPORT), terminal-injection ioctls,
 * personality and unknown prctl options (EPERM), memfd_create (EACCES).
 *
 * The "gateway" profile (capbus-gateway, launch-gateway.c) is "default" plus what a program
 * needs to confine itself further: seccomp(2), whose filters only ever add restrictions (the
 * kernel wants no_new_privs, already set), and prctl(PR_SET_DUMPABLE). */
#include "filter.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "util.h"

/* What a dynamically linked C program and CPython need; no process-wide or namespace-wide
 * state changes, no kernel interfaces beyond files, sockets, memory, time and signals. */
static const char *const default_syscalls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
	"pwritev2", "open", "openat", "openat2", "close", "close_range", "creat", "lseek", "fstat",
	"stat", "lstat", "newfstatat", "statx", "fstatfs", "statfs", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
	"linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown",
	"fchownat", "umask", "utime", "utimes", "utimensat", "futimesat", "truncate", "ftruncate",
	"fallocate", "fsync", "fdatasync", "sync_file_range", "fadvise64", "readahead", "flock",
	"fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "getxattr", "lgetxattr", "fgetxattr",
	"listxattr", "llistxattr", "flistxattr",
	"mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore", "brk", "mlock",
	"munlock",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
	"rt_sigsuspend", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "kill", "tgkill",
	"tkill", "pause", "signalfd", "signalfd4", "pidfd_open", "pidfd_send_signal",
	"nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
	"alarm", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
	"timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "getgroups", "getpgrp", "getpgid", "setpgid", "getsid", "setsid", "capget",
	"getrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
	"sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
	"sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "uname",
	"sysinfo", "times", "getcpu", "futex", "set_robust_list", "get_robust_list",
	"set_tid_address", "rseq", "arch_prctl", "restart_syscall", "exit", "exit_group", "wait4",
	"waitid", "execve", "execveat", "fork", "vfork", "getrandom",
	"eventfd", "eventfd2", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6", "inotify_init",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch", "sendfile", "splice", "tee",
	"copy_file_range",
	"connect", "accept", "accept4", "bind", "shutdown", "sendto", "recvfrom",
	"sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "getsockname", "getpeername", "setsockopt",
	"getsockopt",
};

/* CPython's os and multiprocessing modules reach a little further. */
static const char *const python_syscalls[] = {
	"sched_setaffinity", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
	"fremovexattr",
};

/* Terminal ioctls that inject input, take over the console or switch line disciplines. */
static const unsigned long denied_ioctls[] = {
	TIOCSTI, TIOCLINUX, TIOCSETD, TIOCCONS, TIOCSCTTY, TIOCVHANGUP,
};

/* prctl options a program may use; everything else fails with EPERM. */
static const unsigned long allowed_prctls[] = {
	PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_NAME, PR_GET_NAME,
	PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_SECUREBITS, PR_SET_NO_NEW_PRIVS,
	PR_GET_NO_NEW_PRIVS, PR_GET_TIMERSLACK, PR_SET_TIMERSLACK, PR_SET_CHILD_SUBREAPER,
	PR_GET_CHILD_SUBREAPER, 0x53564d41 /* PR_SET_VMA: glibc names its mappings */,
};

/* Any namespace flag on clone(2). */
#define CLONE_NS_FLAGS 0x7E020000UL

static void ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int r;

		if (nr == __NR_SCMP_ERROR)
			continue; /* older libseccomp: the call stays killed */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			return r;
	}
	return 0;
}

/* The comparisons are on the low 32 bits: the kernel truncates these arguments to int, so a
 * caller setting high bits must not slip past an equality test. A trailing "arg >= 0" rule is
 * libseccomp's way of saying "every other value". */
static int add_arg_rules(scmp_filter_ctx ctx, bool network, bool listen, bool stack)
{
	int r;

	/* A networked skill without an inbound port listens on nothing, not even an ephemeral port
	 * (bind(0) is allowed for clients, and listen() alone would bind one). Without network
	 * only unix sockets exist, in a namespace of their own. */
	if ((r = seccomp_rule_add(ctx, network && !listen ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW,
				  SCMP_SYS(listen), 0)) < 0)
		return r;

	for (size_t i = 0; i < ARRAY_SIZE(denied_ioctls); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
					  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, denied_ioctls[i]))) < 0)
			return r;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_GE, 0))) < 0)
		return r;

	for (size_t i = 0; i < ARRAY_SIZE(allowed_prctls); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
					  SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffUL, allowed_prctls[i]))) < 0)
			return r;
	if (stack && (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
					   SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffUL, PR_SET_DUMPABLE))) < 0)
		return r;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_GE, 0))) < 0)
		return r;

	/* personality: only the query and plain PER_LINUX; no READ_IMPLIES_EXEC, no ASLR off. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
				  SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffUL, 0xffffffffUL))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
				  SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffUL, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1, SCMP_A0(SCMP_CMP_GE, 0))) < 0)
		return r;

	/* No memfd at all: its bytes are the skill's own, and even one sealed non-executable (the
	 * only kind vm.memfd_noexec = 2 lets the kernel create in the sandbox) can be mapped with
	 * PROT_EXEC, which is all the dynamic loader needs to run it as a program
	 * (ld.so /proc/self/fd/N). Every other place a skill can write is a noexec mount. EACCES,
	 * as the kernel answers under vm.memfd_noexec = 2. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(memfd_create), 0)) < 0)
		return r;

	/* clone without namespace flags; anything else falls to the default kill. clone3 passes its
	 * flags in memory a classic filter cannot read, hence ENOSYS and glibc's fallback. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		return r;

	const int families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };
	for (size_t i = 0; i < (network ? ARRAY_SIZE(families) : 1); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
					  SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffUL, (unsigned)families[i]))) < 0)
			return r;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_GE, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
				  SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffUL, AF_UNIX))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_GE, 0))) < 0)
		return r;
	return 0;
}

/* libseccomp 2.5 exports only to an fd; read the program back from a memfd. */
static int export_prog(scmp_filter_ctx ctx, struct filter_prog *prog)
{
	_cleanup_close_ int fd = memfd_create("capbus-seccomp", MFD_CLOEXEC);
	struct stat st;
	void *buf;
	int r;

	if (fd < 0)
		return negative_errno();
	if ((r = seccomp_export_bpf(ctx, fd)) < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return -E2BIG;
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return -ENOMEM;
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		return -EIO;
	}
	prog->insns = buf;
	prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

int filter_compile(const char *profile, bool network, bool listen, bool permissive, struct filter_prog *prog)
{
	_cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
	bool python = false, stack = false;
	int r;

	if (profile && streq(profile, "python"))
		python = true;
	else if (profile && streq(profile, "gateway"))
		stack = true;
	else if (profile && !streq(profile, "default"))
		return -EINVAL;

	ctx = seccomp_init(permissive ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* Native architecture only; everything else (i386 via int 0x80, x32) is killed. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = allow_names(ctx, default_syscalls, ARRAY_SIZE(default_syscalls))) < 0 ||
	    (python && (r = allow_names(ctx, python_syscalls, ARRAY_SIZE(python_syscalls))) < 0) ||
	    (stack && (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 0)) < 0) ||
	    (r = add_arg_rules(ctx, network, listen, stack)) < 0)
		return r;
	return export_prog(ctx, prog);
}

void filter_prog_done(struct filter_prog *prog)
{
	free(prog->insns);
	prog->insns = NULL;
	prog->len = 0;
}

int filter_prog_copy(const struct filter_prog *src, struct filter_prog *dst)
{
	dst->insns = malloc(src->len * sizeof(*src->insns));
	if (!dst->insns)
		return -ENOMEM;
	memcpy(dst->insns, src->insns, src->len * sizeof(*src->insns));
	dst->len = src->len;
	return 0;
}

int filter_install(const struct filter_prog *prog)
{
	struct sock_fprog fp = { .len = prog->len, .filter = prog->insns };

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0)
		return negative_errno();
	return 0;
}
