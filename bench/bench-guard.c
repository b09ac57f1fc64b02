/* SPDX-License-Identifier: MIT */
/* bench-guard.c - cost of the bus-socket guard on unix connect().
 *
 * Usage: bench-guard [-n CONNECTS] [-r RUNS]   (root; default 20000 connects, 5 runs)
 *
 * In a private cgroup subtree beneath this process's cgroup, a child performs CONNECTS times
 * socket() + connect() + close() to an abstract listener (an acceptor process drains it), with
 * and without a guard attached to the subtree, and for an unrelated name that the guard checks
 * but does not guard. Prints a markdown table of the median CPU ns per iteration over RUNS
 * runs (the caller's CPU time, so a busy machine does not inflate it), the guard program's own
 * cost from the kernel's run-time statistics, and the load/attach cost. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "guard-testlib.h"
#include "guard.h"
#include "util.h"

#define MAX_RUNS 101

struct loop_arg {
	const char *name;
	unsigned long n;
	int result_fd;
	uid_t uid;
};

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static int connect_loop(void *p)
{
	const struct loop_arg *a = p;
	struct sockaddr_un sa;
	socklen_t len = tl_unix_addr(a->name, &sa);
	uint64_t t0, ns;

	if (a->uid != (uid_t)-1 && setresuid(a->uid, a->uid, a->uid) < 0)
		return 3;
	/* CPU time of this (single-threaded) process, user + kernel: what the caller pays, and
	 * unaffected by time spent preempted on a busy machine. */
	t0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (unsigned long i = 0; i < a->n; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return 1;
		if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
			close(fd);
			return 2;
		}
		close(fd);
	}
	ns = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - t0) / a->n;
	if (write(a->result_fd, &ns, sizeof(ns)) != sizeof(ns))
		return 4;
	return 0;
}

/* Accept and close on both listeners until killed. */
static int acceptor(void *p)
{
	const int *lfds = p;
	struct pollfd pfd[2] = {{.fd = lfds[0], .events = POLLIN}, {.fd = lfds[1], .events = POLLIN}};

	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < 2; i++)
			if (pfd[i].revents & POLLIN)
				tl_drain(pfd[i].fd);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct bench_case {
	const char *label;
	const char *cg;
	const char *name;
	uid_t uid;
	uint64_t v[MAX_RUNS];
	uint64_t prog_runs, prog_ns; /* kernel accounting of the guard program during this case */
};

/* One run of every case, round after round, so drift on a shared machine hits all cases
 * alike. Returns 0 or -1. */
static int measure(struct bench_case *cases, size_t ncases, unsigned long n, int runs,
		   const struct guard *g)
{
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	for (int r = 0; r < runs; r++)
		for (size_t c = 0; c < ncases; c++) {
			struct loop_arg a = {.name = cases[c].name, .n = n, .result_fd = pfd[1],
					     .uid = cases[c].uid};
			struct guard_stats before = {}, after = {};
			int rc;

			if (guard_get_stats(g, &before) < 0)
				return -1;
			rc = tl_run_in(cases[c].cg, connect_loop, &a);
			if (guard_get_stats(g, &after) < 0)
				return -1;
			cases[c].prog_runs += after.prog_runs - before.prog_runs;
			cases[c].prog_ns += after.prog_run_ns - before.prog_run_ns;

			if (rc != 0 || read(pfd[0], &cases[c].v[r], sizeof(uint64_t)) != sizeof(uint64_t)) {
				fprintf(stderr, "bench-guard: run failed: child exit %d\n", rc);
				close(pfd[0]);
				close(pfd[1]);
				return -1;
			}
		}
	close(pfd[0]);
	close(pfd[1]);
	for (size_t c = 0; c < ncases; c++)
		qsort(cases[c].v, (size_t)runs, sizeof(uint64_t), cmp_u64);
	return 0;
}

/* Median wall time of guard_open()+guard_free() and of egress_attach()+egress_free() with two
 * rules, in microseconds: what a daemon start and a skill launch pay. */
static int measure_setup(const char *scope, const char *bus, int runs, uint64_t out[2])
{
	uint64_t v[2][MAX_RUNS];
	struct egress_rule rules[2];
	_cleanup_close_ int cgfd = open(scope, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (cgfd < 0 || egress_rule_parse("tcp:127.0.0.1:443", &rules[0]) < 0 ||
	    egress_rule_parse("udp6:*:53", &rules[1]) < 0)
		return -1;
	for (int r = 0; r < runs; r++) {
		struct guard *g = NULL;
		struct egress *e = NULL;
		uint64_t t0 = now_ns();

		if (guard_open(&g, bus, scope) < 0)
			return -1;
		guard_free(g);
		v[0][r] = (now_ns() - t0) / 1000;
		t0 = now_ns();
		if (egress_attach(&e, cgfd, rules, 2) < 0)
			return -1;
		egress_free(e);
		v[1][r] = (now_ns() - t0) / 1000;
	}
	for (int i = 0; i < 2; i++) {
		qsort(v[i], (size_t)runs, sizeof(uint64_t), cmp_u64);
		out[i] = v[i][runs / 2];
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* The guard is attached to guarded/ only; plain/ is the same depth without it. */
	static const char *const children[] = {"guarded", "guarded/allowed", "guarded/unrelated",
					       "plain", "plain/allowed", "plain/unrelated", NULL};
	unsigned long n = 20000;
	int runs = 5, opt, lfds[2], rc, stats_fd;
	char g_allowed[PATH_MAX], g_unrelated[PATH_MAX], p_allowed[PATH_MAX], p_unrelated[PATH_MAX];
	char scope[PATH_MAX], bus[64], free_name[64];
	uint64_t setup_us[2];
	struct tl_subtree t;
	struct guard *g = NULL;
	pid_t acc;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		uint64_t v;

		if (opt == 'n' && parse_u64(optarg, 100000000, &v) == 0 && v > 0)
			n = (unsigned long)v;
		else if (opt == 'r' && parse_u64(optarg, MAX_RUNS, &v) == 0 && v > 0)
			runs = (int)v;
		else {
			fprintf(stderr, "usage: %s [-n CONNECTS] [-r RUNS(1-%d)]\n", argv[0], MAX_RUNS);
			return 1;
		}
	}
	if (geteuid() != 0 || guard_probe(0) < 0) {
		fprintf(stderr, "bench-guard: needs root and a kernel with the unix connect hook\n");
		return 1;
	}
	if (tl_subtree_create(&t, "bench", children) < 0) {
		fprintf(stderr, "bench-guard: cannot create a cgroup subtree\n");
		tl_subtree_remove(&t);
		return 1;
	}
	tl_path(&t, "guarded", scope, sizeof(scope));
	tl_path(&t, "guarded/allowed", g_allowed, sizeof(g_allowed));
	tl_path(&t, "guarded/unrelated", g_unrelated, sizeof(g_unrelated));
	tl_path(&t, "plain/allowed", p_allowed, sizeof(p_allowed));
	tl_path(&t, "plain/unrelated", p_unrelated, sizeof(p_unrelated));
	snprintf(bus, sizeof(bus), "@capbus-bench-%d-bus", (int)getpid());
	snprintf(free_name, sizeof(free_name), "@capbus-bench-%d-other", (int)getpid());
	lfds[0] = tl_listen_abstract(bus + 1);
	lfds[1] = tl_listen_abstract(free_name + 1);
	REQUIRE(lfds[0] >= 0 && lfds[1] >= 0);
	acc = tl_spawn_in(NULL, acceptor, lfds);

	REQUIRE_EQ(guard_open(&g, bus, scope), 0);
	REQUIRE_EQ(guard_allow_cgroup(g, tl_cgroup_id(g_allowed)), 0);
	REQUIRE_EQ(guard_allow_uid(g, 4242), 0);

	struct bench_case cases[] = {
		{.label = "bus socket, no guard", .cg = p_allowed, .name = bus, .uid = (uid_t)-1},
		{.label = "bus socket, guard, caller's cgroup allowed", .cg = g_allowed, .name = bus, .uid = (uid_t)-1},
		{.label = "bus socket, guard, allowed by uid (after the ancestor walk)", .cg = g_unrelated, .name = bus, .uid = 4242},
		{.label = "unrelated socket, no guard", .cg = p_unrelated, .name = free_name, .uid = (uid_t)-1},
		{.label = "unrelated socket, guard attached", .cg = g_unrelated, .name = free_name, .uid = (uid_t)-1},
	};
	stats_fd = guard_enable_run_stats(); /* optional: the table says n/a without it */
	rc = measure(cases, ARRAY_SIZE(cases), n, runs, g);
	if (stats_fd >= 0)
		close(stats_fd);

	guard_free(g);
	if (rc == 0)
		rc = measure_setup(scope, bus, runs, setup_us);
	kill(acc, SIGKILL);
	tl_wait(acc);
	close(lfds[0]);
	close(lfds[1]);
	tl_subtree_remove(&t);
	if (rc < 0)
		return 1;

	printf("socket()+connect()+close() on an abstract unix socket, %lu per run, median of %d runs;\n"
	       "caller's CPU time (user+system) per iteration\n\n", n, runs);
	printf("| case | ns/connect (median) | vs. no guard | guard program ns/run (kernel stats) |\n"
	       "|---|---:|---:|---:|\n");
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		uint64_t med = cases[c].v[runs / 2];
		uint64_t ref = cases[c < 3 ? 0 : 3].v[runs / 2];
		char delta[32] = "", prog[32] = "n/a";

		if (c != 0 && c != 3)
			snprintf(delta, sizeof(delta), "%+lld", (long long)med - (long long)ref);
		if (cases[c].prog_runs)
			snprintf(prog, sizeof(prog), "%.0f", (double)cases[c].prog_ns / (double)cases[c].prog_runs);
		else if (c == 0 || c == 3)
			snprintf(prog, sizeof(prog), "(not run)");
		printf("| %s | %llu | %s | %s |\n", cases[c].label, (unsigned long long)med, delta, prog);
	}
	printf("\n| setup (median of %d) | us |\n|---|---:|\n", runs);
	printf("| guard_open() + guard_free() | %llu |\n", (unsigned long long)setup_us[0]);
	printf("| egress_attach() (2 rules, 9 links) + egress_free() | %llu |\n",
	       (unsigned long long)setup_us[1]);
	return 0;
}
