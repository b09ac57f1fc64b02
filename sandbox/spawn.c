// SPDX-License-Identifier: MIT
/* spawn.c - clone the child into its namespaces and cgroup, finish its setup from outside.
 *
 * Parent side of the launch. clone3 creates the child with every namespace, a pidfd and
 * CLONE_INTO_CGROUP, so it never runs a single instruction outside its v2 cgroup. While the child
 * waits on the sync pipe the parent writes its id maps and rlimits and, for a networked sandbox,
 * starts its user-mode network stack (netstack.c); then, while the child builds its mount
 * namespace, the parent moves it into the v1 cgroups (hybrid layout) and tells it so with a
 * second byte it waits for before dropping privileges; then the error pipe tells whether
 * the program reached execve, and
 * the status pipe later carries how the program ended, from the sandbox's init. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "child.h"
#include "kernel.h"
#include "netstack.h"
#include "pidfd-util.h"
#include "sandbox.h"
#include "trace.h"

static int write_proc(pid_t pid, const char *file, const char *value)
{
	char path[64];
	size_t n = strlen(value);
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (write(fd, value, n) != (ssize_t)n)
		r = negative_errno();
	close(fd);
	return r;
}

/* Set from outside, where the limits are known to take effect before the first instruction.
 * Never above our own hard limit: raising it would need CAP_SYS_RESOURCE, and a lower limit
 * only makes the sandbox stricter. */
static int set_rlimit(pid_t pid, int resource, uint64_t value)
{
	struct rlimit own, rl;

	if (getrlimit(resource, &own) < 0)
		return negative_errno();
	if (own.rlim_max != RLIM_INFINITY && value > own.rlim_max)
		value = own.rlim_max;
	rl.rlim_cur = rl.rlim_max = value;
	return prlimit(pid, resource, &rl, NULL) < 0 ? negative_errno() : 0;
}

static int set_rlimits(const struct sandbox_plan *p, pid_t pid)
{
	int r;

	/* RLIMIT_NOFILE is set by the child itself once it has closed what it inherited (step
	 * "nofile"): a low limit would otherwise make every open() before that fail with EMFILE. */
	if ((r = set_rlimit(pid, RLIMIT_CORE, 0)) < 0)
		return r;
	return p->nproc ? set_rlimit(pid, RLIMIT_NPROC, p->nproc) : 0;
}

static int setup_child(struct sandbox_plan *p, pid_t pid)
{
	char map[64];
	int r;

	/* One id each way; setgroups stays allowed so the child can drop root's groups. */
	snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_INNER_ID, (unsigned)p->uid);
	if ((r = write_proc(pid, "uid_map", map)) < 0)
		return r;
	snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_INNER_ID, (unsigned)p->gid);
	if ((r = write_proc(pid, "gid_map", map)) < 0)
		return r;
	return set_rlimits(p, pid);
}

/* The stack configures the namespace from outside while the child still waits, so the program
 * finds its interfaces up from its first instruction. */
static int setup_network(struct sandbox_plan *p, pid_t pid)
{
	return p->network ? netstack_start(&p->net, p->cg, pid, &p->stack) : 0;
}

static void reap(int pidfd)
{
	siginfo_t si;

	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
}

int sandbox_spawn(struct sandbox_plan *p, pid_t *ret_pid, int *ret_pidfd)
{
	_cleanup_close_ int sync_r = -1, sync_w = -1, err_r = -1, err_w = -1, stat_r = -1, stat_w = -1, pidfd = -1;
	int sync[2], errp[2], statp[2];
	struct child_failure f;
	struct sb_clone_args args = {
		.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
			 CLONE_NEWCGROUP | CLONE_PIDFD | CLONE_INTO_CGROUP | (p->host_network ? 0 : CLONE_NEWNET),
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cg_set_v2_fd(p->cg),
	};
	ssize_t n;
	pid_t pid;
	int r;

	p->failed_step = NULL;
	netstack_stop(&p->stack); /* a previous spawn's, if its exit was never classified */
	if (pipe2(sync, O_CLOEXEC) < 0)
		return negative_errno();
	sync_r = sync[0];
	sync_w = sync[1];
	if (pipe2(errp, O_CLOEXEC) < 0)
		return negative_errno();
	err_r = errp[0];
	err_w = errp[1];
	if (pipe2(statp, O_CLOEXEC | O_NONBLOCK) < 0)
		return negative_errno();
	stat_r = statp[0];
	stat_w = statp[1];
	if (p->status_fd >= 0) {
		close(p->status_fd);
		p->status_fd = -1;
	}
	p->oom_base = 0;
	(void)cg_set_oom_kills(p->cg, &p->oom_base);
	/* Best effort: without it the join below only takes longer. A helper still running from the
	 * last spawn is waited for first: it runs on the plan's stack. */
	cg_warm_reap(p->warm_pid);
	p->warm_pid = 0;
	(void)cg_set_warm_v1(p->cg, p->warm_stack, sizeof(p->warm_stack), &p->warm_pid);

	STARTUP_TRACE("spawn: clone3");
	pid = (pid_t)sb_clone3(&args);
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		close(sync_w);
		close(err_r);
		close(stat_r);
		child_run(p, sync_r, err_w, stat_w);
	}
	/* The child's ends: only the child may hold them, or EOF would never come. */
	close(TAKE_FD(sync_r));
	close(TAKE_FD(err_w));
	close(TAKE_FD(stat_w));

	STARTUP_TRACE("spawn: cloned");
	if ((r = setup_child(p, pid)) < 0) {
		/* The child sees EOF on the sync pipe and exits; make sure. */
		(void)pidfd_signal(pidfd, SIGKILL);
		reap(pidfd);
		p->failed_step = "parent-setup";
		return r;
	}
	if ((r = setup_network(p, pid)) < 0) {
		(void)pidfd_signal(pidfd, SIGKILL);
		reap(pidfd);
		p->failed_step = "netstack";
		return r;
	}
	STARTUP_TRACE("spawn: child set up");
	if (write(sync_w, "g", 1) != 1) {
		r = negative_errno();
		(void)pidfd_signal(pidfd, SIGKILL);
		reap(pidfd);
		netstack_stop(&p->stack);
		return r;
	}
	/* The v1 moves (hybrid layout) wait on the kernel's cgroup locks; the child builds its
	 * mount namespace meanwhile and waits for the second byte (step "wait-cgroups") before it
	 * drops privileges, so the program still starts in every cgroup. */
	if ((r = cg_set_join_v1(p->cg, pid)) < 0) {
		(void)pidfd_signal(pidfd, SIGKILL);
		reap(pidfd);
		netstack_stop(&p->stack);
		p->failed_step = "parent-setup";
		return r;
	}
	STARTUP_TRACE("spawn: v1 cgroups joined");
	if (write(sync_w, "c", 1) != 1) {
		r = negative_errno();
		(void)pidfd_signal(pidfd, SIGKILL);
		reap(pidfd);
		netstack_stop(&p->stack);
		return r;
	}
	do
		n = read(err_r, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	STARTUP_TRACE("spawn: exec seen");
	if (cg_warm_done(p->warm_pid))
		p->warm_pid = 0;
	if (n == 0) { /* close-on-exec closed the pipe: execve succeeded */
		*ret_pid = pid;
		*ret_pidfd = TAKE_FD(pidfd);
		p->status_fd = TAKE_FD(stat_r);
		return 0;
	}
	(void)pidfd_signal(pidfd, SIGKILL);
	reap(pidfd);
	netstack_stop(&p->stack);
	if (n != (ssize_t)sizeof(f) || f.err <= 0 || !child_step_name(f.step))
		return -EIO;
	p->failed_step = child_step_name(f.step);
	return -f.err;
}

/* What ended the program: init's report if there is one (the program is its child), else the
 * siginfo of init itself (killed from outside, or by an OOM kill of the whole group). */
int sandbox_classify(struct sandbox_plan *p, const siginfo_t *si, struct sandbox_exit *ret)
{
	uint64_t ooms = 0;
	int st, sig;

	netstack_stop(&p->stack); /* the sandbox is gone: so is its way out */
	if (p->status_fd >= 0 && read(p->status_fd, &st, sizeof(st)) == (ssize_t)sizeof(st)) {
		if (WIFEXITED(st)) {
			*ret = (struct sandbox_exit){ SANDBOX_EXIT_CODE, WEXITSTATUS(st) };
			return 0;
		}
		if (!WIFSIGNALED(st))
			return -EINVAL;
		sig = WTERMSIG(st);
	} else if (si->si_code == CLD_EXITED) {
		*ret = (struct sandbox_exit){ SANDBOX_EXIT_CODE, si->si_status };
		return 0;
	} else if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) {
		sig = si->si_status;
	} else {
		return -EINVAL;
	}
	if (sig == SIGSYS)
		*ret = (struct sandbox_exit){ SANDBOX_EXIT_SECCOMP, SIGSYS };
	else if (sig == SIGKILL && cg_set_oom_kills(p->cg, &ooms) == 0 && ooms > p->oom_base)
		*ret = (struct sandbox_exit){ SANDBOX_EXIT_OOM, SIGKILL };
	else
		*ret = (struct sandbox_exit){ SANDBOX_EXIT_SIGNAL, sig };
	return 0;
}

int sandbox_wait(struct sandbox_plan *p, int pidfd, struct sandbox_exit *ret)
{
	siginfo_t si = { 0 };

	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
		if (errno != EINTR)
			return negative_errno();
	return sandbox_classify(p, &si, ret);
}

int sandbox_exit_code(const struct sandbox_exit *e)
{
	return e->reason == SANDBOX_EXIT_CODE ? e->status : 128 + e->status;
}

const char *sandbox_exit_reason_name(enum sandbox_exit_reason reason)
{
	switch (reason) {
	case SANDBOX_EXIT_CODE:
		return "exited";
	case SANDBOX_EXIT_SIGNAL:
		return "signal";
	case SANDBOX_EXIT_SECCOMP:
		return "seccomp";
	case SANDBOX_EXIT_OOM:
		return "oom";
	}
	return "unknown";
}
