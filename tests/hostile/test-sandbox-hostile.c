// SPDX-License-Identifier: MIT
/* test-sandbox-hostile.c - real attacks from inside a real capbus sandbox; each must fail, the
 * way we expect it to.
 *
 * argv[1] is the hostile program (escape.c). Every check asserts the failure mode (errno, or a
 * seccomp/OOM kill), not just a non-zero exit, so a sandbox that fails for the wrong reason (say
 * a missing library) does not pass. Needs root; skips (77) otherwise unless CI=true. */
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "sandbox-harness.h"

struct ctx {
	struct harness h;
	char *escape;
	char *dir;
};

/* Run one attack with defaults plus the caller's tweaks. */
static void attack(struct ctx *c, struct sandbox_spec *spec, struct run *r, const char *name, const char *arg)
{
	char cg[64];
	const char *argv[] = { c->escape, name, arg, NULL };

	spec->argv = argv;
	spec->skill_dir = spec->skill_dir ? spec->skill_dir : c->dir;
	harness_spec(&c->h, spec, cg, sizeof(cg));
	harness_run(spec, r, NULL, NULL);
	if (r->spawn_r < 0)
		fprintf(stderr, "# %s: spawn failed: %s (step %s)\n", name, strerror(-r->spawn_r),
			r->failed_step ? r->failed_step : "-");
	else
		fprintf(stderr, "# %s: reason=%s status=%d out=%s", name, sandbox_exit_reason_name(r->ex.reason),
			r->ex.status, r->out[0] ? r->out : "(none)\n");
}

static bool has(const struct run *r, const char *s)
{
	return strstr(r->out, s) != NULL;
}

/* The attack's system call came back with exactly this errno. */
static void expect_errno(struct ctx *c, const char *name, const char *arg, const char *err, bool network)
{
	struct sandbox_spec spec = { .network = network };
	struct run r;
	char want[64];

	attack(c, &spec, &r, name, arg);
	snprintf(want, sizeof(want), "\"ok\":false,\"errno\":\"%s\"", err);
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && r.ex.status == 0 && has(&r, want),
		      "%s%s%s fails with %s", name, arg ? " " : "", arg ? arg : "", err);
}

/* The attack reported failure and nothing it wrote ran (the copies run as "whoami"). */
static void expect_refused(struct ctx *c, const char *name, const char *arg)
{
	struct sandbox_spec spec = { 0 };
	struct run r;
	char want[96];

	attack(c, &spec, &r, name, arg);
	snprintf(want, sizeof(want), "\"attack\":\"%s\",\"ok\":false", name);
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && r.ex.status == 0 && has(&r, want) &&
			  !has(&r, "\"attack\":\"whoami\""),
		  "%s %s is refused and runs nothing", name, arg ? arg : "");
}

/* The seccomp filter killed the process before the call returned. */
/* Whether this kernel runs i386 system calls (int 0x80) at all: kernels built without IA32
 * emulation, or booted with ia32_emulation=0, fault the instruction with SIGSEGV before any
 * seccomp filter is consulted. Tried in a child outside the sandbox. */
static bool kernel_has_int80(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		long ret;
		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) /* i386 getpid */ : "memory");
		_exit(ret == (long)getpid() ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void expect_seccomp_kill(struct ctx *c, const char *name)
{
	struct sandbox_spec spec = { 0 };
	struct run r;

	attack(c, &spec, &r, name, NULL);
	if (!strcmp(name, "int80") && !kernel_has_int80()) {
		/* Nothing to filter: the attack still must not get through. */
		printf("# this kernel has no i386 system call entry: int 0x80 faults before seccomp\n");
		CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_SIGNAL && r.ex.status == SIGSEGV && r.out[0] == '\0',
			      "int80 faults (SIGSEGV) on a kernel without i386 system calls");
		return;
	}
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_SECCOMP && r.out[0] == '\0',
		      "%s is killed by seccomp (SIGSYS)", name);
}

static void test_files(struct ctx *c)
{
	char path[PATH_MAX], arg[PATH_MAX];
	int fd;

	expect_errno(c, "read-shadow", NULL, "ENOENT", false);
	expect_errno(c, "read-root", NULL, "ENOENT", false);
	expect_errno(c, "read-home", NULL, "ENOENT", false);

	/* A host file outside every bound path. */
	snprintf(path, sizeof(path), "/var/tmp/capbus-test-secret-%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	expect_errno(c, "read-host-file", path, "ENOENT", false);
	unlink(path);

	/* Writes anywhere but /state, /tmp and /dev/shm: read-only mounts. */
	expect_errno(c, "write-file", "/usr/capbus-x", "EROFS", false);
	expect_errno(c, "write-file", "/etc/capbus-x", "EROFS", false);
	expect_errno(c, "write-file", "/capbus-x", "EROFS", false);
	expect_errno(c, "write-file", "/dev/capbus-x", "EROFS", false);
	snprintf(arg, sizeof(arg), "%s/capbus-x", c->dir);
	expect_errno(c, "write-file", arg, "EROFS", false);

	/* Written files never run: /tmp and /dev/shm are noexec (and Landlock grants no execute). */
	expect_errno(c, "exec-copy", "/tmp", "EACCES", false);
	expect_errno(c, "exec-copy", "/dev/shm", "EACCES", false);

	/* Nor do written bytes that never had a path on a noexec mount. memfd: seccomp refuses
	 * memfd_create (even a sealed non-executable one could be mapped by the loader), and
	 * vm.memfd_noexec = 2 in the sandbox's pid namespace says the same behind it. */
	expect_errno(c, "memfd-exec", "plain", "EACCES", false);
	expect_errno(c, "memfd-exec", "exec", "EACCES", false);
	expect_errno(c, "memfd-exec", "seal", "EACCES", false);
	expect_errno(c, "ldso-memfd", NULL, "EACCES", false);
	{
		struct sandbox_spec spec = { 0 };
		struct run r;
		attack(c, &spec, &r, "memfd-noexec", NULL);
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"value\":\"2\""), "vm.memfd_noexec is 2 inside the sandbox");
	}
	/* O_TMPFILE: an unnamed file on the noexec mount. */
	expect_errno(c, "tmpfile-exec", "/tmp", "EACCES", false);
	expect_errno(c, "tmpfile-exec", "/dev/shm", "EACCES", false);
	/* The loader as the program, the written file as its argument: mmap(PROT_EXEC) of a file on
	 * a noexec mount fails, so the loader exits 127. */
	expect_refused(c, "ldso-exec", "/tmp");
	expect_refused(c, "ldso-exec", "/dev/shm");
}

/* Nothing inside names where the launcher lives: init is capbus-init from a memfd, not a clone
 * of this test (whose binary, arguments and environment are host paths), and the cgroup
 * namespace hides the cgroup paths; the skill dir is a private copy at /skill, so its host path
 * is neither a mount point nor a mount's root in the mount table. */
static void test_host_traces(struct ctx *c, const char *self, const char *argv0)
{
	struct sandbox_spec spec = { 0 };
	struct run r;
	char cg[64];
	/* The skill dir without its leading slash: as an argument naming the skill dir by its host
	 * path it would be rewritten to /skill. */
	const char *argv[] = { c->escape, "host-traces", self, argv0, c->dir + 1, NULL };

	spec.argv = argv;
	spec.skill_dir = c->dir;
	harness_spec(&c->h, &spec, cg, sizeof(cg));
	harness_run(&spec, &r, NULL, NULL);
	fprintf(stderr, "# host-traces: %s", r.out[0] ? r.out : "(none)\n");
	CHECK_MSG(r.spawn_r == 0 && has(&r, "\"attack\":\"host-traces\",\"ok\":false") &&
			  has(&r, "\"found\":\"\"") && has(&r, "\"exe\":\"/memfd:capbus-init (deleted)\""),
		  "no host path of the launcher (%s) or the skill dir (%s) in /proc/1/{cmdline,environ,exe}, "
		  "mountinfo, cgroup", self, c->dir);
}

/* A write the mount view would allow (proc is rw, the file is ours) that Landlock refuses. */
static void test_landlock(struct ctx *c, int abi)
{
	if (abi < 1) {
		printf("# no Landlock: its own check skipped\n");
		return;
	}
	expect_errno(c, "write-proc", NULL, "EACCES", false);
}

static void test_state_dir(struct ctx *c)
{
	char dir[] = "/var/tmp/capbus-state-XXXXXX", file[PATH_MAX];
	struct sandbox_spec spec = { 0 };
	struct stat st;
	struct run r;

	if (!mkdtemp(dir)) {
		CHECK_MSG(false, "mkdtemp");
		return;
	}
	spec.state_dir = dir;
	/* The state dir belongs to the skill's outer uid; harness_spec picks the next one. */
	if (chown(dir, SANDBOX_ID_BASE + 60000 + (c->h.seq % 5000), SANDBOX_ID_BASE + 60000 + (c->h.seq % 5000)) < 0)
		CHECK_MSG(false, "chown state dir");
	attack(c, &spec, &r, "write-file", "/state/written");
	snprintf(file, sizeof(file), "%s/written", dir);
	CHECK_MSG(r.spawn_r == 0 && has(&r, "\"ok\":true") && stat(file, &st) == 0 &&
				     st.st_uid == SANDBOX_ID_BASE + 60000 + ((c->h.seq - 1) % 5000),
		      "state dir is writable and files there belong to the skill's outer uid");
	unlink(file);
	rmdir(dir);
}

static void test_network(struct ctx *c)
{
	char name[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	expect_errno(c, "inet-socket", NULL, "EAFNOSUPPORT", false);
	expect_errno(c, "inet6-socket", NULL, "EAFNOSUPPORT", false);
	expect_errno(c, "packet-socket", NULL, "EAFNOSUPPORT", false);
	expect_errno(c, "netlink-socket", NULL, "EAFNOSUPPORT", false);
	expect_errno(c, "connect-out", "80", "EAFNOSUPPORT", false);
	/* Even with the network, raw packet sockets stay closed. */
	expect_errno(c, "packet-socket", NULL, "EAFNOSUPPORT", true);

	/* A host abstract socket: unreachable from the sandbox's own netns (with network too),
	 * with Landlock's abstract-socket scope behind that. */
	snprintf(name, sizeof(name), "capbus-test-abstract-%d", (int)getpid());
	memcpy(sun.sun_path + 1, name, strlen(name));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) < 0 ||
	    listen(fd, 1) < 0) {
		CHECK_MSG(false, "host abstract socket");
		return;
	}
	expect_errno(c, "abstract-unix", name, "ECONNREFUSED", false);
	{
		struct sandbox_plan *p = NULL;
		/* Probe the Landlock ABI the library sees. */
		const char *argv[] = { "/bin/true", NULL };
		char cg[64];
		struct sandbox_spec s = { .argv = argv };
		int abi = 0;
		harness_spec(&c->h, &s, cg, sizeof(cg));
		if (sandbox_plan_new(&s, &p) == 0)
			abi = sandbox_plan_landlock_abi(p);
		sandbox_plan_free(p);
		/* With network the sandbox still has its own network namespace (slirp4netns is its
		 * way out), so the host's abstract name does not exist there; Landlock's scope stays
		 * behind that. */
		if (abi >= 6)
			expect_errno(c, "abstract-unix", name, "ECONNREFUSED", true);
		else
			printf("# Landlock ABI %d < 6: abstract socket scoping not checked\n", abi);
	}
	close(fd);
}

static void test_processes(struct ctx *c)
{
	char arg[32];
	pid_t victim = fork();

	if (victim == 0) {
		pause();
		_exit(0);
	}
	snprintf(arg, sizeof(arg), "%d", (int)victim);
	{
		struct sandbox_spec spec = { 0 };
		struct run r;
		attack(c, &spec, &r, "kill-outside", arg);
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"errno\":\"ESRCH\",\"proc_visible\":false") &&
					     kill(victim, 0) == 0,
			      "a host process is invisible (ESRCH, not in /proc) and survives");
	}
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	{
		struct sandbox_spec spec = { 0 };
		struct run r;
		attack(c, &spec, &r, "list-pids", NULL);
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"pids\":2}"), "/proc shows only the sandbox's own two pids (init and the program)");
	}
}

static void test_syscalls(struct ctx *c)
{
	static const char *const killed[] = {
		"ptrace", "mount", "pivot-root", "unshare-user", "clone-newuser", "setns", "bpf", "perf",
		"io-uring", "keyctl", "add-key", "open-by-handle", "userfaultfd", "kexec", "init-module",
		"chroot", "setuid-root", "x32", "int80",
	};

	for (size_t i = 0; i < sizeof(killed) / sizeof(killed[0]); i++)
		expect_seccomp_kill(c, killed[i]);
	expect_errno(c, "clone3", NULL, "ENOSYS", false);
	expect_errno(c, "personality", NULL, "EPERM", false);
	{
		struct sandbox_spec spec = { 0 };
		struct run r;
		attack(c, &spec, &r, "userns-sysctl", NULL);
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"value\":\"0\""),
			      "user.max_user_namespaces is 0 inside (nested user namespaces off)");
	}
}

static void test_tty(struct ctx *c)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave = -1;
	char *name, buf[16];

	expect_errno(c, "tiocsti-devtty", NULL, "ENOENT", false);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(name = ptsname(master)) ||
	    (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		printf("# no pseudo-terminal: TIOCSTI on an inherited tty not checked\n");
		if (master >= 0)
			close(master);
		return;
	}
	for (int variant = 0; variant < 2; variant++) {
		struct sandbox_spec spec = { .keep_fds = &slave, .n_keep_fds = 1 };
		struct run r;
		attack(c, &spec, &r, variant ? "tiocsti-highbits" : "tiocsti", "3");
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"ok\":false,\"errno\":\"EPERM\""),
			      "%s on an inherited terminal fails with EPERM", variant ? "TIOCSTI with high bits set" : "TIOCSTI");
	}
	/* Nothing was typed into the terminal. */
	fcntl(master, F_SETFL, O_NONBLOCK);
	CHECK_MSG(read(master, buf, sizeof(buf)) < 0 && errno == EAGAIN, "no input was injected");
	close(slave);
	close(master);
}

static void test_setuid(struct ctx *c)
{
	char dir[] = "/var/tmp/capbus-suid-XXXXXX", bin[PATH_MAX], plain[PATH_MAX], cmd[PATH_MAX * 4 + 32];
	const char *argv[] = { plain, "setuid-exec", bin, NULL };
	char cg[64];
	struct sandbox_spec spec = { 0 };
	struct run r;

	if (!mkdtemp(dir)) {
		CHECK_MSG(false, "mkdtemp");
		return;
	}
	snprintf(bin, sizeof(bin), "%s/escape-suid", dir);
	snprintf(plain, sizeof(plain), "%s/escape", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && cp '%s' '%s'", c->escape, bin, c->escape, plain);
	if (chmod(dir, 0755) < 0 || system(cmd) != 0 || chown(bin, 0, 0) < 0 || chmod(bin, 04755) < 0) {
		CHECK_MSG(false, "make a set-uid root copy");
		return;
	}
	/* The whole skill dir is the copy: the program and its set-uid sibling. */
	spec.skill_dir = dir;
	spec.argv = argv;
	harness_spec(&c->h, &spec, cg, sizeof(cg));
	harness_run(&spec, &r, NULL, NULL);
	fprintf(stderr, "# setuid-exec: %s", r.out);
	CHECK_MSG(r.spawn_r == 0 && has(&r, "\"attack\":\"whoami\",\"ok\":true,\"errno\":\"0\",\"uid\":1000,\"euid\":1000"),
		      "a set-uid root binary runs without gaining any id (nosuid, no_new_privs, root unmapped)");
	CHECK_MSG(!has(&r, "passwd-stat") || has(&r, "\"passwd_owner\":65534"),
		      "/usr/bin/passwd is owned by an unmapped id inside");
	unlink(bin);
	unlink(plain);
	rmdir(dir);
}

static void read_pids_events(struct sandbox_plan *plan, void *data)
{
	const char *dir = sandbox_plan_cgroup_path(plan, "pids");
	char path[PATH_MAX], buf[128] = "";
	int fd;

	*(long *)data = -1;
	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/pids.events", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "max ", 4) == 0)
		*(long *)data = strtol(buf + 4, NULL, 10);
	close(fd);
}

static void test_limits(struct ctx *c)
{
	char cg[64];
	long max_events = -1;
	struct run r;

	{
		/* RLIMIT_NPROC set far above: only the pids cgroup can stop it. */
		const char *argv[] = { c->escape, "fork-bomb", NULL };
		struct sandbox_spec spec = { .argv = argv, .skill_dir = c->dir, .pids_max = 16, .nproc = 100000 };
		harness_spec(&c->h, &spec, cg, sizeof(cg));
		harness_run(&spec, &r, read_pids_events, &max_events);
		fprintf(stderr, "# fork-bomb: %s", r.out);
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"errno\":\"EAGAIN\",\"forked\":14}") && max_events > 0,
			      "fork bomb held at 16 tasks by the pids cgroup (EAGAIN, pids.events max=%ld)", max_events);
	}
	{
		const char *argv[] = { c->escape, "memory-bomb", NULL };
		struct sandbox_spec spec = { .argv = argv, .skill_dir = c->dir, .memory_max = 64 << 20 };
		harness_spec(&c->h, &spec, cg, sizeof(cg));
		harness_run(&spec, &r, NULL, NULL);
		CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_OOM,
			      "memory bomb is OOM-killed at 64 MiB and reported as OOM (got %s)",
			      sandbox_exit_reason_name(r.ex.reason));
	}
}

static void test_privileges(struct ctx *c)
{
	int keep[2];
	struct run r;

	if (pipe2(keep, O_CLOEXEC) < 0)
		return;
	{
		struct sandbox_spec spec = { .keep_fds = &keep[0], .n_keep_fds = 1 };
		attack(c, &spec, &r, "fds", NULL);
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"fds\":\"0 1 2 3\",\"stdin\":\"/dev/null\""),
			      "only stdio and the one kept fd are open; stdin is /dev/null");
	}
	close(keep[0]);
	close(keep[1]);
	{
		struct sandbox_spec spec = { 0 };
		attack(c, &spec, &r, "caps", NULL);
		CHECK_MSG(r.spawn_r == 0 &&
					     has(&r, "\"CapInh\":\"0000000000000000\",\"CapPrm\":\"0000000000000000\","
						     "\"CapEff\":\"0000000000000000\",\"CapBnd\":\"0000000000000000\","
						     "\"CapAmb\":\"0000000000000000\",\"NoNewPrivs\":\"1\",\"Seccomp\":\"2\""),
			      "no capabilities in any set, no_new_privs, seccomp filter mode");
	}
	{
		struct sandbox_spec spec = { 0 };
		attack(c, &spec, &r, "whoami", NULL);
		CHECK_MSG(r.spawn_r == 0 && has(&r, "\"uid\":1000,\"euid\":1000,\"gid\":1000,\"egid\":1000"),
			      "runs as the single mapped id 1000");
	}
}

static void test_python(struct ctx *c)
{
	static const char script[] =
		"import json, os, socket, subprocess, tempfile, hashlib\n"
		"with tempfile.NamedTemporaryFile(dir='/tmp') as f: f.write(b'x'); f.flush()\n"
		"subprocess.run(['/bin/true'], check=True)\n"
		"try:\n"
		"    socket.socket(socket.AF_INET, socket.SOCK_STREAM); inet = 'open'\n"
		"except OSError as e:\n"
		"    inet = e.errno\n"
		"a, b = socket.socketpair(); a.send(b'hi'); assert b.recv(2) == b'hi'\n"
		"try:\n"
		"    open('/etc/shadow'); shadow = 'read'\n"
		"except OSError as e:\n"
		"    shadow = e.errno\n"
		"print(json.dumps({'python': 'ok', 'uid': os.getuid(), 'inet': inet, 'shadow': shadow,\n"
		"                  'sha': hashlib.sha256(b'capbus').hexdigest()[:8]}))\n";
	const char *argv[] = { "/usr/bin/python3", "-c", script, NULL };
	struct sandbox_spec spec = { .argv = argv, .seccomp_profile = "python", .memory_max = 256 << 20, .pids_max = 64 };
	struct run r;
	char cg[64];

	if (access("/usr/bin/python3", X_OK) < 0) {
		printf("# /usr/bin/python3 absent: python check skipped\n");
		return;
	}
	harness_spec(&c->h, &spec, cg, sizeof(cg));
	harness_run(&spec, &r, NULL, NULL);
	fprintf(stderr, "# python: reason=%s status=%d out=%s", sandbox_exit_reason_name(r.ex.reason), r.ex.status, r.out);
	CHECK_MSG(r.spawn_r == 0 && r.ex.reason == SANDBOX_EXIT_CODE && r.ex.status == 0 &&
				     has(&r, "\"python\": \"ok\", \"uid\": 1000, \"inet\": 97, \"shadow\": 2"),
		      "python3 runs (tempfile, subprocess, socketpair) and still cannot open inet sockets or /etc/shadow");
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_require_root();
	if (argc < 2)
		check_skip("usage: test-sandbox-hostile ESCAPE-BINARY");
	c.escape = realpath(argv[1], NULL);
	if (!c.escape)
		check_skip("helper binary missing");
	c.dir = harness_dir_of(c.escape);
	{
		/* A kernel without what we need (clone3 into cgroup, cgroup2) is a skip, not a failure. */
		const char *a[] = { "/bin/true", NULL };
		struct sandbox_spec s = { .argv = a };
		struct run r;
		char cg[64];
		harness_spec(&c.h, &s, cg, sizeof(cg));
		harness_run(&s, &r, NULL, NULL);
		if (r.spawn_r == -EOPNOTSUPP || r.spawn_r == -ENOSYS)
			check_skip("kernel lacks cgroup2 or clone3");
	}

	test_files(&c);
	{
		const char *a[] = { "/bin/true", NULL };
		struct sandbox_spec s = { .argv = a };
		struct sandbox_plan *p = NULL;
		char cg[64];
		harness_spec(&c.h, &s, cg, sizeof(cg));
		if (sandbox_plan_new(&s, &p) == 0)
			test_landlock(&c, sandbox_plan_landlock_abi(p));
		sandbox_plan_free(p);
	}
	{
		char *self = realpath("/proc/self/exe", NULL);
		if (self)
			test_host_traces(&c, self, argv[0]);
		else
			CHECK_MSG(false, "realpath /proc/self/exe");
		free(self);
	}
	test_state_dir(&c);
	test_network(&c);
	test_processes(&c);
	test_syscalls(&c);
	test_tty(&c);
	test_setuid(&c);
	test_limits(&c);
	test_privileges(&c);
	test_python(&c);
	free(c.dir);
	free(c.escape);
	return check_finish("test-sandbox-hostile");
}
