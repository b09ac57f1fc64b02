// SPDX-License-Identifier: MIT
/* test-sandbox.c - the sandbox library's API: spec validation, spawn, exit classification,
 * cgroup life cycle, permissive seccomp mode.
 *
 * Links only sandbox/. argv[1] is the hostile helper program (used for its harmless modes).
 * Needs root; skips (77) otherwise unless CI=true. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "sandbox-harness.h"

static struct harness h;

static int plan_result(struct sandbox_spec *spec)
{
	struct sandbox_plan *p = NULL;
	char cg[64];
	int r;

	if (!spec->cgroup_name)
		harness_spec(&h, spec, cg, sizeof(cg));
	r = sandbox_plan_new(spec, &p);
	sandbox_plan_free(p);
	return r;
}

static void test_validation(void)
{
	const char *argv[] = { "/bin/true", NULL }, *rel[] = { "./true", NULL }, *empty[] = { NULL };
	struct sandbox_spec s;
	char cg[64];
	int bad = 999;

#define SPEC(...) (s = (struct sandbox_spec){ .argv = argv, __VA_ARGS__ }, harness_spec(&h, &s, cg, sizeof(cg)), &s)
	CHECK_MSG(plan_result(SPEC(0)) == 0, "a minimal spec is accepted");
	(void)SPEC(0);
	s.uid = 0;
	CHECK_MSG(plan_result(&s) == -EINVAL, "uid 0 refused");
	s.uid = 1000;
	CHECK_MSG(plan_result(&s) == -EINVAL, "a uid outside the reserved range is refused");
	s.uid = SANDBOX_ID_BASE + SANDBOX_ID_COUNT;
	CHECK_MSG(plan_result(&s) == -EINVAL, "the first uid past the range is refused");
	s.uid = SANDBOX_ID_BASE;
	s.gid = 0;
	CHECK_MSG(plan_result(&s) == -EINVAL, "gid 0 refused");

	(void)SPEC(0);
	s.argv = empty;
	CHECK_MSG(plan_result(&s) == -EINVAL, "empty argv refused");
	s.argv = rel;
	CHECK_MSG(plan_result(&s) == -EINVAL, "relative program path refused");
	CHECK_MSG(plan_result(SPEC(.seccomp_profile = "nope")) == -EINVAL, "unknown seccomp profile refused");
	CHECK_MSG(plan_result(SPEC(.seccomp_profile = "python")) == 0, "python profile accepted");
	{
		const char *ro[] = { "/", NULL };
		CHECK_MSG(plan_result(SPEC(.read_paths = ro)) == -EINVAL, "read path / refused");
	}
	{
		const char *ro[] = { "/proc/self", NULL };
		CHECK_MSG(plan_result(SPEC(.read_paths = ro)) == -EINVAL, "read path under /proc refused");
	}
	{
		const char *ro[] = { "/etc", NULL };
		CHECK_MSG(plan_result(SPEC(.read_paths = ro)) == -EINVAL, "read path /etc (whole) refused");
	}
	{
		const char *ro[] = { "usr/share", NULL };
		CHECK_MSG(plan_result(SPEC(.read_paths = ro)) == -EINVAL, "relative read path refused");
	}
	{
		const char *ro[] = { "/nonexistent/capbus", NULL };
		CHECK_MSG(plan_result(SPEC(.read_paths = ro)) == -ENOENT, "missing read path: ENOENT");
	}
	{
		const char *ro[] = { "/usr/share", NULL };
		CHECK_MSG(plan_result(SPEC(.read_paths = ro)) == 0, "read path /usr/share accepted");
	}
	CHECK_MSG(plan_result(SPEC(.state_dir = "/etc/hostname")) == -ENOTDIR, "state dir must be a directory");
	CHECK_MSG(plan_result(SPEC(.keep_fds = &bad, .n_keep_fds = 1)) == -EBADF, "a closed keep fd is refused");
	CHECK_MSG(plan_result(SPEC(.stdout_fd = bad)) == -EBADF, "a closed stdout fd is refused");
	s = (struct sandbox_spec){ .argv = argv };
	harness_spec(&h, &s, cg, sizeof(cg));
	s.cgroup_name = "../escape";
	CHECK_MSG(plan_result(&s) == -EINVAL, "cgroup name with .. refused");
	s.cgroup_name = "a/b";
	CHECK_MSG(plan_result(&s) == -EINVAL, "cgroup name with / refused");
	s.cgroup_name = "";
	CHECK_MSG(plan_result(&s) == -EINVAL, "empty cgroup name refused");
#undef SPEC
}

static void test_cgroup_lifecycle(void)
{
	const char *argv[] = { "/bin/true", NULL };
	struct sandbox_spec s = { .argv = argv, .memory_max = 32 << 20, .pids_max = 8, .cpu_percent = 50 };
	struct sandbox_plan *p = NULL, *q = NULL;
	char cg[64], v2[PATH_MAX] = "", mem[PATH_MAX] = "", buf[64] = "";
	struct stat st;
	int fd, r;

	harness_spec(&h, &s, cg, sizeof(cg));
	r = sandbox_plan_new(&s, &p);
	CHECK_MSG(r == 0, "plan with limits (%s)", strerror(-r));
	if (r < 0)
		return;
	snprintf(v2, sizeof(v2), "%s", sandbox_plan_cgroup_path(p, NULL));
	snprintf(mem, sizeof(mem), "%s", sandbox_plan_cgroup_path(p, "memory"));
	CHECK_MSG(stat(v2, &st) == 0 && S_ISDIR(st.st_mode), "v2 leaf exists: %s", v2);
	CHECK_MSG(strstr(v2, cg) && strcmp(v2 + strlen(v2) - strlen(cg), cg) == 0, "leaf named as asked");
	CHECK_MSG(sandbox_plan_cgroup_path(p, "pids") && sandbox_plan_cgroup_path(p, "cpu"),
		      "pids and cpu limits placed (%s layout)", sandbox_plan_cgroup_layout(p));
	{
		char f[PATH_MAX + 32];
		snprintf(f, sizeof(f), "%s/%s", mem, strcmp(mem, v2) == 0 ? "memory.max" : "memory.limit_in_bytes");
		fd = open(f, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		CHECK_MSG(strtoull(buf, NULL, 10) == 32ULL << 20, "memory limit written (%s)", f);
	}
	/* The same leaf twice: never adopt an existing cgroup. */
	r = sandbox_plan_new(&s, &q);
	CHECK_MSG(r == -EEXIST, "second plan with the same cgroup name: EEXIST");
	sandbox_plan_free(q);

	/* Spawn twice from one plan. */
	for (int i = 0; i < 2; i++) {
		pid_t pid;
		int pidfd = -1;
		struct sandbox_exit ex;
		r = sandbox_spawn(p, &pid, &pidfd);
		CHECK_MSG(r == 0 && sandbox_wait(p, pidfd, &ex) == 0 && ex.reason == SANDBOX_EXIT_CODE && ex.status == 0,
			      "spawn %d of one plan runs /bin/true", i + 1);
		if (pidfd >= 0)
			close(pidfd);
	}
	sandbox_plan_free(p);
	CHECK_MSG(stat(v2, &st) < 0 && errno == ENOENT, "v2 leaf removed by sandbox_plan_free");
	CHECK_MSG(stat(mem, &st) < 0 && errno == ENOENT, "memory leaf removed by sandbox_plan_free");
}

static int write_str(const char *dir, const char *file, const char *v)
{
	char path[PATH_MAX];
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write(fd, v, strlen(v)) == (ssize_t)strlen(v) ? 0 : -errno;
	close(fd);
	return r;
}

/* A daemon that moved itself into a leaf asks for its skills one level up (cgroup_up = 1). */
static void test_cgroup_up(void)
{
	const char *argv[] = { "/bin/true", NULL };
	struct sandbox_spec s = { .argv = argv };
	struct sandbox_plan *p = NULL;
	char cg[64], own[PATH_MAX], self[PATH_MAX + 64], pid[32], expect[PATH_MAX + 128];
	int r;

	harness_spec(&h, &s, cg, sizeof(cg));
	if (sandbox_plan_new(&s, &p) < 0) {
		CHECK_MSG(false, "plan for cgroup_up");
		return;
	}
	snprintf(own, sizeof(own), "%s", sandbox_plan_cgroup_path(p, NULL));
	sandbox_plan_free(p);
	*strrchr(own, '/') = '\0'; /* our own v2 cgroup directory */

	snprintf(self, sizeof(self), "%s/capbus-test-self-%d", own, (int)getpid());
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (mkdir(self, 0755) < 0 || write_str(self, "cgroup.procs", pid) < 0) {
		CHECK_MSG(false, "move the test into a leaf of its own cgroup");
		rmdir(self);
		return;
	}
	s.cgroup_up = 1;
	r = sandbox_plan_new(&s, &p);
	snprintf(expect, sizeof(expect), "%s/%s", own, cg);
	CHECK_MSG(r == 0 && strcmp(sandbox_plan_cgroup_path(p, NULL), expect) == 0,
		      "cgroup_up = 1 creates the leaf beside the caller's leaf, not inside it");
	sandbox_plan_free(p);
	s.cgroup_up = 64;
	CHECK_MSG(sandbox_plan_new(&s, &p) == -EINVAL, "cgroup_up past the hierarchy root is refused");
	write_str(own, "cgroup.procs", pid);
	rmdir(self);
}

static void test_exits(void)
{
	struct sandbox_spec s;
	struct run r;
	char cg[64];

	{
		const char *argv[] = { "/bin/sh", "-c", "echo hello; exit 3", NULL };
		s = (struct sandbox_spec){ .argv = argv };
		harness_spec(&h, &s, cg, sizeof(cg));
		harness_run(&s, &r, NULL, NULL);
		CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && r.ex.status == 3 &&
					  strcmp(r.out, "hello\n") == 0 && sandbox_exit_code(&r.ex) == 3,
			      "exit code and stdout come through");
	}
	{
		/* A kept fd arrives as fd 3 and carries data both ways (the bus connection case). */
		const char *argv[] = { "/bin/sh", "-c", "read line <&3; echo \"got $line\" >&3", NULL };
		int sp[2];
		char buf[64] = "";
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
			s = (struct sandbox_spec){ .argv = argv, .keep_fds = &sp[1], .n_keep_fds = 1 };
			harness_spec(&h, &s, cg, sizeof(cg));
			(void)!write(sp[0], "ping\n", 5);
			harness_run(&s, &r, NULL, NULL);
			close(sp[1]);
			ssize_t n = read(sp[0], buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			close(sp[0]);
		}
		CHECK_MSG(r.spawn_r == 0 && r.ex.status == 0 && strcmp(buf, "got ping\n") == 0,
			      "a kept socket is fd 3 inside and works both ways");
	}
	{
		const char *argv[] = { "/nonexistent-program", NULL };
		s = (struct sandbox_spec){ .argv = argv };
		harness_spec(&h, &s, cg, sizeof(cg));
		harness_run(&s, &r, NULL, NULL);
		CHECK_MSG(r.spawn_r == -ENOENT && r.failed_step && strcmp(r.failed_step, "exec") == 0,
			      "a missing program fails spawn with ENOENT at step exec");
	}
	{
		const char *argv[] = { "true", NULL };
		s = (struct sandbox_spec){ .argv = argv };
		harness_spec(&h, &s, cg, sizeof(cg));
		harness_run(&s, &r, NULL, NULL);
		CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && r.ex.status == 0,
			      "a bare program name is found in the sandbox's /usr/bin");
	}
	{
		/* Killed from outside: a plain signal exit, not mistaken for OOM or seccomp. */
		const char *argv[] = { "/bin/sleep", "30", NULL };
		struct sandbox_plan *p = NULL;
		struct sandbox_exit ex = { 0 };
		int pidfd = -1;
		pid_t pid;
		s = (struct sandbox_spec){ .argv = argv, .memory_max = 64 << 20 };
		harness_spec(&h, &s, cg, sizeof(cg));
		if (sandbox_plan_new(&s, &p) == 0 && sandbox_spawn(p, &pid, &pidfd) == 0) {
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			sandbox_wait(p, pidfd, &ex);
			close(pidfd);
		}
		CHECK_MSG(ex.reason == SANDBOX_EXIT_SIGNAL && ex.status == SIGKILL && sandbox_exit_code(&ex) == 137,
			      "SIGKILL from outside is reported as signal 9 (128+9)");
		sandbox_plan_free(p);
	}
	{
		/* SIGTERM to the sandbox (its init) reaches a program that never installed a handler:
		 * a namespace's init would silently drop it. */
		const char *argv[] = { "/bin/sleep", "30", NULL };
		struct sandbox_plan *p = NULL;
		struct sandbox_exit ex = { 0 };
		int pidfd = -1;
		pid_t pid;
		s = (struct sandbox_spec){ .argv = argv };
		harness_spec(&h, &s, cg, sizeof(cg));
		if (sandbox_plan_new(&s, &p) == 0 && sandbox_spawn(p, &pid, &pidfd) == 0) {
			syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
			sandbox_wait(p, pidfd, &ex);
			close(pidfd);
		}
		CHECK_MSG(ex.reason == SANDBOX_EXIT_SIGNAL && ex.status == SIGTERM,
			      "SIGTERM is forwarded to the program and reported as signal 15");
		sandbox_plan_free(p);
	}
	{
		struct sandbox_exit e = { SANDBOX_EXIT_SECCOMP, SIGSYS };
		CHECK_MSG(sandbox_exit_code(&e) == 128 + SIGSYS && strcmp(sandbox_exit_reason_name(e.reason), "seccomp") == 0,
			      "seccomp exit maps to 128+SIGSYS");
	}
}

static void test_permissive(const char *escape)
{
	char *dir = harness_dir_of(escape), cg[64];
	const char *argv[] = { escape, "bpf", NULL };
	struct sandbox_spec s = { .argv = argv, .skill_dir = dir, .seccomp_permissive = true };
	struct run r;

	harness_spec(&h, &s, cg, sizeof(cg));
	harness_run(&s, &r, NULL, NULL);
	/* Logged, not killed; the kernel itself still refuses bpf() without capabilities. */
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && strstr(r.out, "\"attack\":\"bpf\",\"ok\":false"),
		      "permissive seccomp mode logs instead of killing");
	free(dir);
}

/* A precompiled program (sandbox_filter_new, what capbusd keeps per profile) is used only for
 * the profile, network setting and mode it was compiled for, and confines exactly like one
 * compiled by the plan: the forbidden call still kills, the allowed ones still work. */
static void test_precompiled_filter(const char *escape)
{
	struct sandbox_filter *def = NULL, *py = NULL, *net = NULL, *lis = NULL;
	char *dir = harness_dir_of(escape), cg[64];
	const char *kill_argv[] = { escape, "bpf", NULL }, *ok_argv[] = { "/bin/sh", "-c", "echo fine", NULL };
	struct sandbox_spec s;
	struct run r;

	CHECK_MSG(sandbox_filter_new("nope", false, false, false, &def) == -EINVAL, "unknown profile: no filter");
	CHECK_MSG(sandbox_filter_new(NULL, false, false, false, &def) == 0 &&
			  sandbox_filter_new("python", false, false, false, &py) == 0 &&
			  sandbox_filter_new("default", true, false, false, &net) == 0 &&
			  sandbox_filter_new("default", true, true, false, &lis) == 0,
		      "filters compile for default, python, with network and with inbound ports");
	if (!def || !py || !net || !lis)
		goto out;
	CHECK_MSG(plan_result(&(struct sandbox_spec){ .argv = ok_argv, .filter = def }) == 0,
		      "a filter of the spec's own profile is accepted");
	CHECK_MSG(plan_result(&(struct sandbox_spec){ .argv = ok_argv, .seccomp_profile = "default", .filter = def }) == 0,
		      "\"default\" and no profile are the same profile");
	CHECK_MSG(plan_result(&(struct sandbox_spec){ .argv = ok_argv, .filter = py }) == -EINVAL,
		      "a python filter for a default-profile spec is refused");
	CHECK_MSG(plan_result(&(struct sandbox_spec){ .argv = ok_argv, .filter = net }) == -EINVAL,
		      "a networked filter for a spec without network is refused");
	CHECK_MSG(plan_result(&(struct sandbox_spec){ .argv = ok_argv, .network = true, .filter = net }) == 0,
		      "a networked filter for a networked spec is accepted");
	CHECK_MSG(plan_result(&(struct sandbox_spec){ .argv = ok_argv, .network = true, .filter = lis }) == -EINVAL,
		      "a filter that allows listen() for a spec without inbound ports is refused");
	CHECK_MSG(plan_result(&(struct sandbox_spec){ .argv = ok_argv, .seccomp_permissive = true, .filter = def }) == -EINVAL,
		      "a killing filter for a permissive spec is refused");

	s = (struct sandbox_spec){ .argv = kill_argv, .skill_dir = dir, .filter = def };
	harness_spec(&h, &s, cg, sizeof(cg));
	harness_run(&s, &r, NULL, NULL);
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_SECCOMP, "a precompiled filter kills bpf() (SIGSYS)");
	s = (struct sandbox_spec){ .argv = ok_argv, .filter = def };
	harness_spec(&h, &s, cg, sizeof(cg));
	harness_run(&s, &r, NULL, NULL);
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && r.ex.status == 0 && strcmp(r.out, "fine\n") == 0,
		      "a precompiled filter runs a shell");
out:
	sandbox_filter_free(def);
	sandbox_filter_free(py);
	sandbox_filter_free(net);
	sandbox_filter_free(lis);
	free(dir);
}

static void note_layout(struct sandbox_plan *plan, void *data)
{
	*(bool *)data = strcmp(sandbox_plan_cgroup_layout(plan), "hybrid") == 0;
}

/* The program itself (not only the sandbox's init) is in every cgroup with a limit from its
 * first instruction: on the hybrid layout the parent moves the child into its v1 leaves while
 * the child builds its mounts, and the child waits for that before the program is forked. */
static void test_program_in_cgroups(void)
{
	const char *argv[] = { "/bin/cat", "/proc/self/cgroup", NULL };
	struct sandbox_spec s = { .argv = argv, .memory_max = 64 << 20, .pids_max = 16 };
	char cg[64], want[96];
	bool hybrid = false;
	struct run r;

	harness_spec(&h, &s, cg, sizeof(cg));
	harness_run(&s, &r, note_layout, &hybrid);
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && r.ex.status == 0, "cat /proc/self/cgroup runs");
	bool ok;
	if (!hybrid) {
		/* v2 only: born in the leaf, which is the root of its cgroup namespace. */
		ok = strstr(r.out, "0::/\n") != NULL;
		CHECK_MSG(ok, "v2: the program is in its leaf");
	} else {
		/* Inside its cgroup namespace the v1 leaves show as /NAME (the namespace's root is
		 * where the child was born, our own v1 cgroup). */
		snprintf(want, sizeof(want), ":memory:/%s\n", cg);
		ok = strstr(r.out, want) != NULL;
		CHECK_MSG(ok, "hybrid: the program is in its v1 memory leaf");
		snprintf(want, sizeof(want), ":pids:/%s\n", cg);
		ok = ok && strstr(r.out, want) != NULL;
		CHECK_MSG(strstr(r.out, want) != NULL, "hybrid: the program is in its v1 pids leaf");
	}
	if (!ok)
		fprintf(stderr, "# the program's /proc/self/cgroup:\n%s", r.out);
}

/* The program's very first look at pid 1 already sees capbus-init: until capbus-init is exec'd,
 * pid 1 is a copy of the launcher, whose command line names host paths. Launched many times,
 * since a program that runs before that exec would see it only now and then. */
static void test_init_before_program(void)
{
	const char *argv[] = { "/bin/cat", "/proc/1/cmdline", NULL };
	unsigned bad = 0;

	for (int i = 0; i < 40; i++) {
		struct sandbox_spec s = { .argv = argv };
		char cg[64];
		struct run r;

		harness_spec(&h, &s, cg, sizeof(cg));
		harness_run(&s, &r, NULL, NULL);
		if (r.spawn_r != 0 || r.ex.reason != SANDBOX_EXIT_CODE || strncmp(r.out, "capbus-init", 11) != 0) {
			if (!bad++)
				fprintf(stderr, "# /proc/1/cmdline as the program saw it: %.200s\n", r.out);
		}
	}
	CHECK_MSG(bad == 0, "pid 1 is capbus-init before the program runs (40 launches)");
}

/* A caller that blocks and ignores signals must not pass that on to the program. */
static void test_signals(const char *escape)
{
	char *dir = harness_dir_of(escape), cg[64];
	const char *argv[] = { escape, "signals", NULL };
	struct sandbox_spec s = { .argv = argv, .skill_dir = dir };
	sigset_t block, old;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe, old_usr1;
	struct run r;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGUSR1, &ign, &old_usr1);
	harness_spec(&h, &s, cg, sizeof(cg));
	harness_run(&s, &r, NULL, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGUSR1, &old_usr1, NULL);
	CHECK_MSG(r.spawn_r == 0 && strstr(r.out, "\"blocked\":0,\"ignored\":0"),
		      "the program starts with no blocked and no ignored signals");
	free(dir);
}

static void test_landlock_reported(void)
{
	const char *argv[] = { "/bin/true", NULL };
	struct sandbox_spec s = { .argv = argv };
	struct sandbox_plan *p = NULL;
	char cg[64];

	harness_spec(&h, &s, cg, sizeof(cg));
	if (sandbox_plan_new(&s, &p) == 0) {
		int abi = sandbox_plan_landlock_abi(p);
		printf("# Landlock ABI %d\n", abi);
		CHECK_MSG(abi >= 0, "Landlock ABI reported (%d; 0 = running without)", abi);
	}
	sandbox_plan_free(p);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_require_root();
	if (argc < 2)
		check_skip("usage: test-sandbox ESCAPE-BINARY");
	{
		const char *a[] = { "/bin/true", NULL };
		struct sandbox_spec s = { .argv = a };
		struct run r;
		char cg[64];
		harness_spec(&h, &s, cg, sizeof(cg));
		harness_run(&s, &r, NULL, NULL);
		if (r.spawn_r == -EOPNOTSUPP || r.spawn_r == -ENOSYS)
			check_skip("kernel lacks cgroup2 or clone3");
	}
	test_validation();
	test_cgroup_lifecycle();
	test_cgroup_up();
	test_exits();
	test_program_in_cgroups();
	test_init_before_program();
	{
		char *escape = realpath(argv[1], NULL);
		if (!escape)
			check_skip("helper binary missing");
		test_permissive(escape);
		test_signals(escape);
		test_precompiled_filter(escape);
		free(escape);
	}
	test_landlock_reported();
	return check_finish("test-sandbox");
}
