// SPDX-License-Identifier: MIT
/* child.c - the ordered list of steps the freshly cloned child runs before exec.
 *
 * Runs as pid 1 of new user, mount, pid, ipc, uts, cgroup (and network) namespaces, already in
 * its v2 cgroup (CLONE_INTO_CGROUP). Each step either succeeds or the child reports the step
 * and errno on the error pipe and _exit(127)s: the program is never exec'd with a half-applied
 * sandbox. Order matters: mounts need capabilities, so privileges go after them; Landlock and
 * seccomp need no_new_privs; seccomp comes last because the filter forbids the earlier steps.
 * The last step forks: the program execs, and this process execs capbus-init (sandbox/init.c)
 * from a sealed memfd to stay behind as its confined init.
 * Trust: runs only planned data from the parent; allocates nothing. */
#include "child.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kernel.h"
#include "landlock.h"
#include "sandbox.h"
#include "trace.h"

/* Where the new root is assembled: our mount namespace is private, so covering /tmp here does
 * not touch the host, and every source was opened before. */
#define STAGE "/tmp"

/* The program's process runs only a read, sigprocmask and execve on it before its execve. */
#define PROGRAM_STACK (64 * 1024)

struct child_ctx {
	struct sandbox_plan *plan;
	int sync_fd;
	int err_fd;
	int status_fd; /* init reports the program's wait status here */
	int init_fd;   /* capbus-init's memfd, exec'd by fd as pid 1 */
	uint32_t step; /* index of the running step */
};

static int step_wait_parent(struct child_ctx *c)
{
	char b;
	ssize_t n;

	do
		n = read(c->sync_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	/* Kept open: step_rearm_death_signal uses it to see whether the parent is still there. */
	return n == 1 ? 0 : -ECANCELED; /* EOF: the parent gave up on us */
}

/* The parent moves us into the v1 cgroups (hybrid layout) while we build the mount namespace;
 * nothing of the program's runs before they are joined. The pids and memory limits then cover
 * every task the program can make: init clones it only in step_exec. */
static int step_wait_cgroups(struct child_ctx *c)
{
	char b;
	ssize_t n;

	do
		n = read(c->sync_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return n == 1 && b == 'c' ? 0 : -ECANCELED;
}

/* Any change of uid, gid or fsuid clears the parent-death signal: set it again after the last
 * one. The parent holds the sync pipe's write end until we exec, so a hang-up there means it
 * died in between and nobody would kill us. */
static int step_rearm_death_signal(struct child_ctx *c)
{
	struct pollfd p = { .fd = c->sync_fd, .events = POLLIN };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return negative_errno();
	if (poll(&p, 1, 0) < 0)
		return negative_errno();
	if (p.revents & (POLLHUP | POLLERR))
		return -ECANCELED;
	close(c->sync_fd);
	c->sync_fd = -1;
	return 0;
}

/* Before waiting for the parent: if it dies after this, we get SIGKILL; if it died before, the
 * sync pipe reads EOF. Either way no orphan goes on alone. */
static int step_die_with_parent(struct child_ctx *c)
{
	return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ? negative_errno() : 0;
}

/* A new session: no controlling terminal to reach back through. */
static int step_session(struct child_ctx *c)
{
	return setsid() < 0 ? negative_errno() : 0;
}

/* Nested user namespaces would hand the program a fresh set of capabilities: allow none
 * (seccomp also kills unshare and namespace flags on clone). */
static int step_userns_limit(struct child_ctx *c)
{
	int fd = open("/proc/sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return negative_errno();
	if (write(fd, "0", 1) != 1)
		r = negative_errno();
	close(fd);
	return r;
}

/* Bytes the skill writes never become a new program image: with vm.memfd_noexec = 2 the kernel
 * refuses every memfd that is not created with MFD_NOEXEC_SEAL (non-executable mode, exec bit
 * sealed). From Linux 6.3 the value belongs to this pid namespace (we are its init and hold
 * CAP_SYS_ADMIN over it), a child namespace can never lower it, and the host's stays as it is.
 * Older kernels have no such file: seccomp refuses the same memfd_create flags there. */
static int step_memfd_noexec(struct child_ctx *c)
{
	int fd = open("/proc/sys/vm/memfd_noexec", O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (write(fd, "2", 1) != 1)
		r = negative_errno();
	close(fd);
	return r;
}

static int step_hostname(struct child_ctx *c)
{
	const char *h = c->plan->hostname;
	return sethostname(h, strlen(h)) < 0 ? negative_errno() : 0;
}

/* New inodes (mount points, /etc/passwd) need an owner that is mapped in our user namespace;
 * host root is not, so create them as the skill. Capabilities are untouched by setfsuid. */
static int step_fs_ids(struct child_ctx *c)
{
	setfsgid(SANDBOX_INNER_ID);
	setfsuid(SANDBOX_INNER_ID);
	if ((uid_t)setfsuid((uid_t)-1) != SANDBOX_INNER_ID || (gid_t)setfsgid((gid_t)-1) != SANDBOX_INNER_ID)
		return -EPERM;
	return 0;
}

static int step_mounts(struct child_ctx *c)
{
	return mount_plan_apply(&c->plan->mounts, STAGE);
}

static int step_chdir(struct child_ctx *c)
{
	return chdir(c->plan->cwd) < 0 ? negative_errno() : 0;
}

/* Bounding set, ambient set and securebits first (they need CAP_SETPCAP), then ids, then the
 * remaining capability sets. Supplementary groups go too: we were cloned from root, and a kernel
 * group id carried along would still count on host files. */
static int step_drop_privileges(struct child_ctx *c)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	uid_t uid = SANDBOX_INNER_ID;
	gid_t gid = SANDBOX_INNER_ID;

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return negative_errno();
	for (unsigned long cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the last capability this kernel knows */
			return negative_errno();
		}
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
			  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return negative_errno();
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return negative_errno();
	if (syscall(SYS_capset, &hdr, data) < 0)
		return negative_errno();
	return 0;
}

static int step_no_new_privs(struct child_ctx *c)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? negative_errno() : 0;
}

/* stdin from /dev/null, stdout/stderr as asked, keep_fds at 3.., then the error and status
 * pipes and capbus-init's memfd (close-on-exec), everything else closed. Everything is first moved above the target
 * range so no dup2 can clobber a source. */
static int step_fds(struct child_ctx *c)
{
	struct sandbox_plan *p = c->plan;
	int errslot = 3 + (int)p->n_keep_fds, statslot = errslot + 1, initslot = statslot + 1, base = initslot + 1;
	int tmp[PLAN_MAX_KEEP_FDS], devnull, out = -1, err = -1, errp, statp, initp;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return negative_errno();
	if ((devnull = fcntl(devnull, F_DUPFD_CLOEXEC, base)) < 0 ||
	    (errp = fcntl(c->err_fd, F_DUPFD_CLOEXEC, base)) < 0 ||
	    (statp = fcntl(c->status_fd, F_DUPFD_CLOEXEC, base)) < 0 ||
	    (initp = fcntl(c->init_fd, F_DUPFD_CLOEXEC, base)) < 0)
		return negative_errno();
	for (size_t i = 0; i < p->n_keep_fds; i++)
		if ((tmp[i] = fcntl(p->keep_fds[i], F_DUPFD_CLOEXEC, base)) < 0)
			return negative_errno();
	if (p->stdout_fd > 0 && (out = fcntl(p->stdout_fd, F_DUPFD_CLOEXEC, base)) < 0)
		return negative_errno();
	if (p->stderr_fd > 0 && (err = fcntl(p->stderr_fd, F_DUPFD_CLOEXEC, base)) < 0)
		return negative_errno();

	if (dup2(devnull, 0) < 0)
		return negative_errno();
	if (p->stdout_fd != SANDBOX_FD_INHERIT && dup2(out >= 0 ? out : devnull, 1) < 0)
		return negative_errno();
	if (p->stderr_fd != SANDBOX_FD_INHERIT && dup2(err >= 0 ? err : devnull, 2) < 0)
		return negative_errno();
	for (size_t i = 0; i < p->n_keep_fds; i++)
		if (dup2(tmp[i], 3 + (int)i) < 0)
			return negative_errno();
	if (dup3(errp, errslot, O_CLOEXEC) < 0 || dup3(statp, statslot, O_CLOEXEC) < 0 ||
	    dup3(initp, initslot, O_CLOEXEC) < 0)
		return negative_errno();
	c->err_fd = errslot;
	c->status_fd = statslot;
	c->init_fd = initslot;
	if (syscall(SYS_close_range, (unsigned)base, ~0U, 0) < 0)
		return negative_errno();
	return 0;
}

/* After step_fds: only the kept descriptors are left, so a low limit cannot starve the steps
 * that still open files. Never above the current hard limit (raising needs a capability). */
static int step_nofile(struct child_ctx *c)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return negative_errno();
	rlim_t want = c->plan->nofile;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? negative_errno() : 0;
}

/* The caller may ignore signals (SIGPIPE, say); exec keeps that, so reset every disposition.
 * The mask is reset in step_exec, after init has forked. */
static int step_signals(struct child_ctx *c)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL); /* EINVAL for the ones libc reserves */
	return 0;
}

static int step_landlock(struct child_ctx *c)
{
	return landlock_apply(&c->plan->mounts, c->plan->landlock_abi, c->plan->network || c->plan->host_network,
			      c->plan->host_network);
}

static int step_seccomp(struct child_ctx *c)
{
	return filter_install(&c->plan->filter);
}

/* Init's descriptors when it execs capbus-init (sandbox/init.c): the status pipe at 3, as that
 * program expects; the memfd and the error pipe close on exec. */
#define INIT_STATUS_FD 3
#define INIT_IMAGE_FD 4
#define INIT_ERR_FD 5
#define INIT_GATE_FD 6 /* the program's gate: capbus-init closes it once it runs */

/* pid 1 of the namespace becomes capbus-init, a program of its own exec'd from a sealed memfd:
 * /proc/1/cmdline, exe and environ show "capbus-init PID", a memfd and nothing, rather than this
 * process's caller (the daemon's host path and arguments). It stays under the same seccomp
 * filter and Landlock domain. The error pipe is close-on-exec here too, so the launcher sees EOF
 * only once both the program and capbus-init have exec'd; if capbus-init cannot be exec'd, the
 * program is killed and the step reported. Never returns. */
static _noreturn_ void exec_init(struct child_ctx *c, pid_t program, int gate_w)
{
	struct child_failure f = { .step = c->step };
	char pid[16], *const argv[] = { "capbus-init", pid, NULL }, *const envp[] = { NULL };
	int status, image, err, gate;
	size_t n = 0;
	char digits[16];

	/* Above the target slots first, so no dup clobbers a source. */
	if ((status = fcntl(c->status_fd, F_DUPFD_CLOEXEC, INIT_GATE_FD + 1)) < 0 ||
	    (image = fcntl(c->init_fd, F_DUPFD_CLOEXEC, INIT_GATE_FD + 1)) < 0 ||
	    (err = fcntl(c->err_fd, F_DUPFD_CLOEXEC, INIT_GATE_FD + 1)) < 0 ||
	    (gate = fcntl(gate_w, F_DUPFD_CLOEXEC, INIT_GATE_FD + 1)) < 0 ||
	    dup3(status, INIT_STATUS_FD, 0) < 0 || dup3(image, INIT_IMAGE_FD, O_CLOEXEC) < 0 ||
	    dup3(err, INIT_ERR_FD, O_CLOEXEC) < 0 || dup3(gate, INIT_GATE_FD, 0) < 0) {
		f.err = errno;
		(void)!write(c->err_fd, &f, sizeof(f));
		(void)kill(program, SIGKILL);
		_exit(127);
	}
	/* Nothing but these: the program's stdio and bus connection are its own. */
	(void)syscall(SYS_close_range, 0U, 2U, 0);
	(void)syscall(SYS_close_range, (unsigned)INIT_GATE_FD + 1, ~0U, 0);
	for (unsigned v = (unsigned)program; n == 0 || v; v /= 10)
		digits[n++] = (char)('0' + v % 10);
	for (size_t i = 0; i < n; i++)
		pid[i] = digits[n - 1 - i];
	pid[n] = '\0';
	syscall(SYS_execveat, INIT_IMAGE_FD, "", argv, envp, AT_EMPTY_PATH);
	f.err = errno;
	(void)!write(INIT_ERR_FD, &f, sizeof(f));
	(void)kill(program, SIGKILL);
	_exit(127);
}

/* What the program's process needs: set before the clone, read only afterwards. */
struct program_ctx {
	struct sandbox_plan *plan;
	int gate_r, gate_w;
	int err_fd;
	uint32_t step;
};

/* The program's process until its execve. It shares this process's memory (CLONE_VM) and runs
 * on a stack of its own; before the gate opens it writes nothing shared (not even errno, which
 * lives in the thread block both use: only a failing call would set it), and the gate opens only
 * once capbus-init runs in this process's place (or this process died), so from then on that
 * memory is the program's process's alone. */
static int program_main(void *arg)
{
	struct program_ctx *pc = arg;
	struct sandbox_plan *p = pc->plan;
	struct child_failure f = { .step = pc->step, .err = ENOENT };
	sigset_t none;
	char b;

	close(pc->gate_w); /* its fd table is a copy (no CLONE_FILES): only init's end must stay */
	while (read(pc->gate_r, &b, 1) < 0 && errno == EINTR)
		;
	close(pc->gate_r);
	STARTUP_TRACE("exec: gate passed");
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		f.err = errno;
	else
		for (size_t i = 0; i < PLAN_MAX_EXEC_PATHS && p->exec_paths[i]; i++) {
			execve(p->exec_paths[i], p->argv, p->envp);
			if (errno != ENOENT || f.err == ENOENT)
				f.err = errno;
		}
	(void)!write(pc->err_fd, &f, sizeof(f));
	_exit(127);
}

/* Only fork, execve and what init needs are allowed from here. All signals are blocked across
 * the clone and stay blocked through capbus-init's exec (the mask and pending signals survive
 * execve), so init misses none; the program gets an empty mask back. The program waits at a gate
 * (a pipe whose only write end this process hands to capbus-init as fd 6, which capbus-init
 * closes once it runs) until capbus-init has replaced this process: before that, /proc/1 is a
 * copy of the launcher, whose command line names host paths, and during the exec its command
 * line is empty; the program must see neither. The program's process is a clone that shares this
 * process's memory (CLONE_VM, as posix_spawn does, but without CLONE_VFORK: this process must
 * go on to exec first): nothing is copied for a process that only waits and execs, and the
 * launcher's address space is torn down once, by the program's execve. */
static int step_exec(struct child_ctx *c)
{
	sigset_t all;
	int gate[2];
	pid_t pid;

	sigfillset(&all);
	if (pipe2(gate, O_CLOEXEC) < 0)
		return negative_errno();
	/* Never unmapped here: this process execs next, which drops its whole address space. */
	void *stack = mmap(NULL, PROGRAM_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
			   -1, 0);
	if (stack == MAP_FAILED)
		return negative_errno();
	struct program_ctx pc = {
		.plan = c->plan, .gate_r = gate[0], .gate_w = gate[1], .err_fd = c->err_fd, .step = c->step,
	};
	if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
		return negative_errno();
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer cannot follow a function on a stack of its own (it warns, and may report
	 * what is not there): a sanitizer build forks, as posix_spawn's fallback does */
	pid = fork();
	if (pid == 0)
		_exit(program_main(&pc));
#else
	pid = clone(program_main, (char *)stack + PROGRAM_STACK, CLONE_VM | SIGCHLD, &pc);
#endif
	if (pid < 0)
		return negative_errno();
	close(gate[0]);
	STARTUP_TRACE("exec: forked");
	exec_init(c, pid, gate[1]);
}

static const struct {
	const char *name;
	int (*run)(struct child_ctx *c);
} steps[] = {
	{ "die-with-parent", step_die_with_parent },
	{ "wait-parent", step_wait_parent },
	{ "session", step_session },
	{ "userns-limit", step_userns_limit },
	{ "memfd-noexec", step_memfd_noexec },
	{ "hostname", step_hostname },
	{ "fs-ids", step_fs_ids },
	{ "mounts", step_mounts },
	{ "chdir", step_chdir },
	{ "wait-cgroups", step_wait_cgroups },
	{ "drop-privileges", step_drop_privileges },
	{ "rearm-death-signal", step_rearm_death_signal },
	{ "no-new-privs", step_no_new_privs },
	{ "fds", step_fds },
	{ "nofile", step_nofile },
	{ "signals", step_signals },
	{ "landlock", step_landlock },
	{ "seccomp", step_seccomp },
	{ "exec", step_exec },
};

const char *child_step_name(uint32_t i)
{
	return i < ARRAY_SIZE(steps) ? steps[i].name : NULL;
}

void child_run(struct sandbox_plan *plan, int sync_fd, int err_fd, int status_fd)
{
	struct child_ctx c = {
		.plan = plan, .sync_fd = sync_fd, .err_fd = err_fd, .status_fd = status_fd, .init_fd = plan->init_fd,
	};

	for (uint32_t i = 0; i < ARRAY_SIZE(steps); i++) {
		int r;

		c.step = i;
		STARTUP_TRACE(steps[i].name);
		r = steps[i].run(&c);

		if (r < 0) {
			struct child_failure f = { .step = i, .err = -r };
			(void)!write(c.err_fd, &f, sizeof(f));
			_exit(127);
		}
	}
	_exit(127); /* step_exec does not return on success */
}
