// SPDX-License-Identifier: MIT
/* main.c - capbus-sandbox: run one program in the capbus skill sandbox from the command line.
 *
 * Arguments in, one sandbox_spec out; the library does the rest. Exit code: the program's, or
 * 128 + signal, 127 if the sandbox could not be set up, 1 for usage errors. SIGINT/SIGTERM/SIGHUP
 * kill the sandboxed program so its cgroups are still removed. */
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>

#include "pidfd-util.h"
#include "sandbox.h"
#include "util.h"

#define MAX_LIST 64

static void usage(FILE *f)
{
	fputs("Usage: capbus-sandbox [OPTION]... -- PROGRAM [ARG]...\n"
	      "Run PROGRAM in the capbus skill sandbox: own uid, new user/mount/pid/net/ipc/uts/cgroup\n"
	      "namespaces, minimal read-only root, seccomp allow-list, Landlock, cgroup limits.\n\n"
	      "  --uid N            outer uid, 200000..265535 (default: 200000 + pid % 65536)\n"
	      "  --gid N            outer gid (default: the uid)\n"
	      "  --skill-dir DIR    copy DIR into a read-only (executable) tmpfs at /skill; cwd;\n"
	      "                     arguments naming DIR by its host path are rewritten\n"
	      "  --ro PATH          bind PATH read-only, no exec, at its own path (repeatable)\n"
	      "  --state DIR        bind DIR read-write at /state (must be writable by the uid)\n"
	      "  --net              network through slirp4netns in its own namespace (default: none)\n"
	      "  --profile NAME     seccomp profile: default, python (default: default)\n"
	      "  --seccomp-log      log forbidden system calls instead of killing (profiling only)\n"
	      "  --memory BYTES     memory limit, K/M/G suffix allowed\n"
	      "  --pids N           task limit\n"
	      "  --cpu PCT          CPU limit in percent of one CPU\n"
	      "  --nofile N         RLIMIT_NOFILE (default: 1024)\n"
	      "  --keep-fd N        pass fd N on as 3, 4, ... (repeatable)\n"
	      "  --setenv VAR=VAL   add to the (otherwise minimal) environment (repeatable)\n"
	      "  --cgroup NAME      cgroup leaf name (default: capbus-sandbox-PID)\n"
	      "  --verbose          report setup facts and the exit reason on stderr\n"
	      "  --help             show this help\n",
	      f);
}

static int parse_size(const char *s, uint64_t *ret)
{
	char buf[32];
	size_t n = strlen(s);
	unsigned shift = 0;
	uint64_t v;
	int r;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	}
	if (shift)
		buf[n - 1] = '\0';
	if ((r = parse_u64(buf, UINT64_MAX >> shift, &v)) < 0)
		return r;
	*ret = v << shift;
	return 0;
}

static _noreturn_ void die_usage(const char *what, const char *arg)
{
	fprintf(stderr, "capbus-sandbox: %s '%s'; see --help\n", what, arg);
	exit(1);
}

static uint64_t num(const char *opt, const char *arg, uint64_t max)
{
	uint64_t v;

	if (parse_u64(arg, max, &v) < 0)
		die_usage(opt, arg);
	return v;
}

/* Wait for the child, killing it if we are asked to stop. */
static int wait_child(struct sandbox_plan *plan, int pidfd, struct sandbox_exit *ex)
{
	sigset_t mask;
	_cleanup_close_ int sfd = -1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	for (;;) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

		if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (p[0].revents)
			return sandbox_wait(plan, pidfd, ex);
		if (p[1].revents) {
			struct signalfd_siginfo si;
			(void)!read(sfd, &si, sizeof(si));
			(void)pidfd_signal(pidfd, SIGKILL);
		}
	}
}

int main(int argc, char **argv)
{
	enum { O_UID = 256, O_GID, O_SKILL, O_RO, O_STATE, O_NET, O_PROFILE, O_SLOG, O_MEM, O_PIDS, O_CPU,
	       O_NOFILE, O_KEEP, O_SETENV, O_CGROUP, O_VERBOSE, O_HELP };
	static const struct option opts[] = {
		{ "uid", required_argument, NULL, O_UID },       { "gid", required_argument, NULL, O_GID },
		{ "skill-dir", required_argument, NULL, O_SKILL }, { "ro", required_argument, NULL, O_RO },
		{ "state", required_argument, NULL, O_STATE },   { "net", no_argument, NULL, O_NET },
		{ "profile", required_argument, NULL, O_PROFILE }, { "seccomp-log", no_argument, NULL, O_SLOG },
		{ "memory", required_argument, NULL, O_MEM },    { "pids", required_argument, NULL, O_PIDS },
		{ "cpu", required_argument, NULL, O_CPU },       { "nofile", required_argument, NULL, O_NOFILE },
		{ "keep-fd", required_argument, NULL, O_KEEP },  { "setenv", required_argument, NULL, O_SETENV },
		{ "cgroup", required_argument, NULL, O_CGROUP }, { "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },           { NULL, 0, NULL, 0 },
	};
	struct sandbox_spec spec = { .stdout_fd = SANDBOX_FD_INHERIT, .stderr_fd = SANDBOX_FD_INHERIT };
	const char *ro[MAX_LIST + 1] = { NULL }, *env[MAX_LIST + 5] = { NULL };
	int keep[MAX_LIST];
	size_t n_ro = 0, n_env = 0;
	bool verbose = false, have_uid = false, have_gid = false;
	char cgname[64], statevar[] = "STATE=" SANDBOX_STATE_PATH;
	_cleanup_sandbox_plan_ struct sandbox_plan *plan = NULL;
	_cleanup_close_ int pidfd = -1;
	struct sandbox_exit ex;
	sigset_t mask;
	pid_t pid;
	int c, r;

	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case O_UID: spec.uid = (uid_t)num("bad --uid", optarg, UINT32_MAX); have_uid = true; break;
		case O_GID: spec.gid = (gid_t)num("bad --gid", optarg, UINT32_MAX); have_gid = true; break;
		case O_SKILL: spec.skill_dir = optarg; break;
		case O_RO:
			if (n_ro == MAX_LIST)
				die_usage("too many --ro, at", optarg);
			ro[n_ro++] = optarg;
			break;
		case O_STATE: spec.state_dir = optarg; break;
		case O_NET: spec.network = true; break;
		case O_PROFILE: spec.seccomp_profile = optarg; break;
		case O_SLOG: spec.seccomp_permissive = true; break;
		case O_MEM:
			if (parse_size(optarg, &spec.memory_max) < 0)
				die_usage("bad --memory", optarg);
			break;
		case O_PIDS: spec.pids_max = num("bad --pids", optarg, UINT32_MAX); break;
		case O_CPU: spec.cpu_percent = (unsigned)num("bad --cpu", optarg, 100000); break;
		case O_NOFILE: spec.nofile = num("bad --nofile", optarg, 1 << 20); break;
		case O_KEEP:
			if (spec.n_keep_fds == MAX_LIST)
				die_usage("too many --keep-fd, at", optarg);
			keep[spec.n_keep_fds++] = (int)num("bad --keep-fd", optarg, INT32_MAX);
			break;
		case O_SETENV:
			if (!strchr(optarg, '=') || optarg[0] == '=' || n_env == MAX_LIST)
				die_usage("bad --setenv", optarg);
			env[n_env++] = optarg;
			break;
		case O_CGROUP: spec.cgroup_name = optarg; break;
		case O_VERBOSE: verbose = true; break;
		case O_HELP: case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "capbus-sandbox: unknown option or missing value '%s'; see --help\n",
				argv[optind - 1]);
			return 1;
		}
	}
	if (optind >= argc) {
		fputs("capbus-sandbox: no program given; usage: capbus-sandbox [OPTION]... -- PROGRAM [ARG]...\n", stderr);
		return 1;
	}
	if (!have_uid)
		spec.uid = SANDBOX_ID_BASE + (uid_t)getpid() % SANDBOX_ID_COUNT;
	if (!have_gid)
		spec.gid = spec.uid;
	if (!spec.cgroup_name) {
		snprintf(cgname, sizeof(cgname), "capbus-sandbox-%d", (int)getpid());
		spec.cgroup_name = cgname;
	}
	env[n_env++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	env[n_env++] = spec.state_dir ? "HOME=" SANDBOX_STATE_PATH : "HOME=/";
	if (spec.state_dir)
		env[n_env++] = statevar;
	spec.read_paths = ro;
	spec.envp = env;
	spec.keep_fds = keep;
	spec.argv = (const char *const *)argv + optind;

	r = sandbox_plan_new(&spec, &plan);
	if (r == -EINVAL) {
		fprintf(stderr, "capbus-sandbox: invalid setting (uid/gid must be %u..%u, paths absolute and "
			"not reserved, profile default or python): %s\n",
			SANDBOX_ID_BASE, SANDBOX_ID_BASE + SANDBOX_ID_COUNT - 1, strerror(-r));
		return 1;
	}
	if (r == -ENOENT || r == -ENOTDIR) {
		fprintf(stderr, "capbus-sandbox: --skill-dir, --ro or --state names a missing path: %s\n", strerror(-r));
		return 1;
	}
	if (r == -EEXIST) {
		fprintf(stderr, "capbus-sandbox: cgroup '%s' already exists; pick another --cgroup\n", spec.cgroup_name);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "capbus-sandbox: cannot prepare the sandbox (root needed for ids and cgroups): %s\n",
			strerror(-r));
		return 127;
	}
	if (verbose)
		fprintf(stderr, "capbus-sandbox: uid=%u landlock_abi=%d cgroups=%s cgroup=%s\n", (unsigned)spec.uid,
			sandbox_plan_landlock_abi(plan), sandbox_plan_cgroup_layout(plan),
			sandbox_plan_cgroup_path(plan, NULL));

	/* Blocked before the child exists so no stop request slips between spawn and wait. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	r = sandbox_spawn(plan, &pid, &pidfd);
	if (r < 0) {
		const char *step = sandbox_plan_failed_step(plan);
		fprintf(stderr, "capbus-sandbox: sandbox setup failed at step %s: %s\n", step ? step : "clone",
			strerror(-r));
		return 127;
	}
	r = wait_child(plan, pidfd, &ex);
	if (r < 0) {
		fprintf(stderr, "capbus-sandbox: waiting for the program failed: %s\n", strerror(-r));
		return 127;
	}
	if (verbose || ex.reason == SANDBOX_EXIT_SECCOMP || ex.reason == SANDBOX_EXIT_OOM)
		fprintf(stderr, "capbus-sandbox: pid=%d reason=%s status=%d\n", (int)pid,
			sandbox_exit_reason_name(ex.reason), ex.status);
	return sandbox_exit_code(&ex);
}
