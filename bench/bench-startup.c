// SPDX-License-Identifier: MIT
/* bench-startup.c - launch-to-exit time of /bin/true: capbus sandbox vs bwrap vs fork+exec.
 *
 * Usage: bench-startup CAPBUS-SANDBOX-BINARY [RUNS]. Prints a markdown table of medians (and
 * 90th percentiles) over RUNS runs (default 200) of each launcher, interleaved so that machine
 * noise hits every row alike, and the CPU time each launch costs (user + system, launcher and
 * children), which load does not inflate the way it inflates wall time. The last row is a
 * networked sandbox (its own namespace, slirp4netns attached and stopped each run). Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

extern char **environ;

enum { ROW_FORK, ROW_BWRAP, ROW_CLI, ROW_LIB_SPAWN, ROW_LIB_FULL, ROW_LIB_NET, ROW_MAX };

static const char *const row_names[ROW_MAX] = {
	[ROW_FORK] = "fork+exec (no sandbox)",
	[ROW_BWRAP] = "bwrap --unshare-all",
	[ROW_CLI] = "capbus-sandbox (CLI)",
	[ROW_LIB_SPAWN] = "libsandbox: spawn+wait (plan reused)",
	[ROW_LIB_FULL] = "libsandbox: plan+spawn+wait+free",
	[ROW_LIB_NET] = "libsandbox: spawn+wait, network (slirp4netns)",
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time in ms of this process and every task it starts (perf task-clock, inherited), read
 * whenever all of them have exited: the work a launch costs, whoever does it (children that are
 * never waited for included), which unlike wall time does not grow with the machine's load. */
static int cpu_counter(void)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_TASK_CLOCK,
		.inherit = 1,
		.exclude_hv = 1,
	};

	return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static double cpu_ms(int fd)
{
	uint64_t ns = 0;

	if (fd < 0 || read(fd, &ns, sizeof(ns)) != sizeof(ns))
		return 0;
	return (double)ns / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Spawn argv with stdout/stderr to /dev/null, wait; returns ms or -1. */
static double time_exec(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	double t0 = now_ms();
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return now_ms() - t0;
}

static double time_lib(struct sandbox_plan *plan)
{
	struct sandbox_exit ex;
	double t0 = now_ms();
	int pidfd = -1;
	pid_t pid;

	if (sandbox_spawn(plan, &pid, &pidfd) < 0)
		return -1;
	if (sandbox_wait(plan, pidfd, &ex) < 0 || ex.reason != SANDBOX_EXIT_CODE || ex.status != 0) {
		close(pidfd);
		return -1;
	}
	close(pidfd);
	return now_ms() - t0;
}

static double time_lib_full(const struct sandbox_spec *spec)
{
	struct sandbox_plan *plan = NULL;
	double t0 = now_ms(), t;

	if (sandbox_plan_new(spec, &plan) < 0)
		return -1;
	t = time_lib(plan);
	sandbox_plan_free(plan);
	return t < 0 ? -1 : now_ms() - t0;
}

int main(int argc, char **argv)
{
	static const char *const true_argv[] = { "/bin/true", NULL };
	char *fork_argv[] = { "/bin/true", NULL };
	char *bwrap_argv[] = { "/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
			       "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink",
			       "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
			       "/bin/true", NULL };
	char *cli_argv[] = { argc > 1 ? argv[1] : NULL, "--uid", "265000", "--cgroup", NULL, "--", "/bin/true", NULL };
	uint64_t runs_arg = 200;
	int runs;
	char cgname[64], cgcli[64], cgnet[64];
	struct sandbox_spec spec = { .argv = true_argv, .uid = 265001, .gid = 265001,
				     .stdout_fd = SANDBOX_FD_NULL, .stderr_fd = SANDBOX_FD_NULL,
				     .cgroup_name = cgname };
	/* A networked sandbox: the same, plus its user-mode network stack started and stopped. */
	struct sandbox_spec net_spec = { .argv = true_argv, .uid = 265002, .gid = 265002, .network = true,
					 .stdout_fd = SANDBOX_FD_NULL, .stderr_fd = SANDBOX_FD_NULL,
					 .cgroup_name = cgnet };
	struct sandbox_plan *plan = NULL, *net_plan = NULL;
	double *t[ROW_MAX], cpu[ROW_MAX] = { 0 };
	int n[ROW_MAX] = { 0 }, failed[ROW_MAX] = { 0 };
	bool have_bwrap = access(bwrap_argv[0], X_OK) == 0;
	int cfd = cpu_counter();

	if (argc > 2 && parse_u64(argv[2], 100000, &runs_arg) < 0)
		runs_arg = 0;
	runs = (int)runs_arg;
	if (argc < 2 || runs < 1) {
		fprintf(stderr, "usage: bench-startup CAPBUS-SANDBOX-BINARY [RUNS]\n");
		return 1;
	}
	snprintf(cgname, sizeof(cgname), "capbus-bench-%d", (int)getpid());
	snprintf(cgcli, sizeof(cgcli), "capbus-bench-cli-%d", (int)getpid());
	cli_argv[4] = cgcli;
	snprintf(cgnet, sizeof(cgnet), "capbus-bench-net-%d", (int)getpid());
	if (sandbox_plan_new(&net_spec, &net_plan) < 0)
		net_plan = NULL; /* no slirp4netns: that row reads n/a */
	if (sandbox_plan_new(&spec, &plan) < 0) {
		fprintf(stderr, "bench-startup: cannot plan a sandbox (root needed)\n");
		return 1;
	}
	for (int r = 0; r < ROW_MAX; r++)
		t[r] = calloc((size_t)runs, sizeof(double));

	for (int i = 0; i < runs; i++) {
		double v[ROW_MAX], c0;

		c0 = cpu_ms(cfd);
		v[ROW_FORK] = time_exec(fork_argv);
		cpu[ROW_FORK] += cpu_ms(cfd) - c0, c0 = cpu_ms(cfd);
		v[ROW_BWRAP] = have_bwrap ? time_exec(bwrap_argv) : -1;
		cpu[ROW_BWRAP] += cpu_ms(cfd) - c0, c0 = cpu_ms(cfd);
		v[ROW_CLI] = time_exec(cli_argv);
		cpu[ROW_CLI] += cpu_ms(cfd) - c0, c0 = cpu_ms(cfd);
		v[ROW_LIB_SPAWN] = time_lib(plan);
		cpu[ROW_LIB_SPAWN] += cpu_ms(cfd) - c0;
		snprintf(cgname, sizeof(cgname), "capbus-bench-%d-%d", (int)getpid(), i);
		c0 = cpu_ms(cfd);
		v[ROW_LIB_FULL] = time_lib_full(&spec);
		cpu[ROW_LIB_FULL] += cpu_ms(cfd) - c0, c0 = cpu_ms(cfd);
		v[ROW_LIB_NET] = net_plan ? time_lib(net_plan) : -1;
		cpu[ROW_LIB_NET] += cpu_ms(cfd) - c0;
		for (int r = 0; r < ROW_MAX; r++) {
			if (v[r] >= 0)
				t[r][n[r]++] = v[r];
			else
				failed[r]++;
		}
	}
	sandbox_plan_free(plan);
	sandbox_plan_free(net_plan);
	if (cfd >= 0)
		close(cfd);

	printf("| launcher (/bin/true, %d runs) | median ms | p90 ms | vs bwrap | CPU ms/run |\n|---|---:|---:|---:|---:|\n", runs);
	double bwrap_median = 0;
	if (n[ROW_BWRAP]) {
		qsort(t[ROW_BWRAP], (size_t)n[ROW_BWRAP], sizeof(double), cmp_double);
		bwrap_median = t[ROW_BWRAP][n[ROW_BWRAP] / 2];
	}
	for (int r = 0; r < ROW_MAX; r++) {
		if (!n[r]) {
			printf("| %s | n/a | n/a | | |\n", row_names[r]);
			continue;
		}
		qsort(t[r], (size_t)n[r], sizeof(double), cmp_double);
		double med = t[r][n[r] / 2], p90 = t[r][(n[r] * 9) / 10];
		if (bwrap_median > 0)
			printf("| %s | %.2f | %.2f | %.2fx | %.2f |\n", row_names[r], med, p90, med / bwrap_median, cpu[r] / runs);
		else
			printf("| %s | %.2f | %.2f | | %.2f |\n", row_names[r], med, p90, cpu[r] / runs);
		if (failed[r])
			printf("<!-- %s: %d failed runs -->\n", row_names[r], failed[r]);
	}
	for (int r = 0; r < ROW_MAX; r++)
		free(t[r]);
	return 0;
}
