// SPDX-License-Identifier: MIT
/* escape.c - hostile skill: tries one sandbox escape named by argv[1], prints one JSON line.
 *
 * Runs inside the capbus sandbox under test. Output: {"attack":NAME,"ok":BOOL,"errno":"E..."}
 * where ok means the forbidden thing worked. Attacks the seccomp filter kills print nothing; the
 * test then checks the SIGSYS exit instead. The attacks themselves use libc only.
 *
 * Launched by capbusd ($CAPBUS_FD set), it also reports over its inherited bus connection once the
 * attack is over: one message of type "hostile.report" with data
 * {"attack": NAME, "result": <the last line printed>, "results": [<every line>], "exit": CODE}.
 * Programs it executes run without $CAPBUS_FD; their lines are relayed. A few modes exist for
 * supervision tests: "exit CODE [DELAY_MS]", "segv [DELAY_MS]" and "hold" (report, then wait).
 * Two for /state: "fill-state MIB" and "state-mark TEXT". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capbus.h"

/* Strict non-negative int; the attacks take pids, fds and ports from the test. */
static int num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 0x7fffffff) {
		fprintf(stderr, "escape: bad number '%s'\n", s);
		exit(2);
	}
	return (int)v;
}

static const char *ename(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EACCES: return "EACCES";
	case EROFS: return "EROFS";
	case EAGAIN: return "EAGAIN";
	case ENOSYS: return "ENOSYS";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENOTTY: return "ENOTTY";
	case ENXIO: return "ENXIO";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case ENETUNREACH: return "ENETUNREACH";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case EDQUOT: return "EDQUOT";
	default: return "other";
	}
}

/* Every line printed, as a JSON array body, for the bus report. */
static char lines[16384];
static char last_line[4096];

static void record(const char *line)
{
	size_t n = strcspn(line, "\n");

	if (n == 0 || line[0] != '{' || n >= sizeof(last_line))
		return;
	memcpy(last_line, line, n);
	last_line[n] = '\0';
	if (strlen(lines) + n + 2 < sizeof(lines)) {
		if (lines[0])
			strcat(lines, ",");
		strncat(lines, line, n);
	}
}

static int report(const char *attack, int rc, const char *extra)
{
	int e = rc < 0 ? errno : 0;
	char line[4096];

	snprintf(line, sizeof(line), "{\"attack\":\"%s\",\"ok\":%s,\"errno\":\"%s\"%s%s}\n", attack,
		 rc < 0 ? "false" : "true", ename(e), extra ? "," : "", extra ? extra : "");
	fputs(line, stdout);
	fflush(stdout);
	record(line);
	return 0;
}

/* Bus mode: the inherited connection, saved before the attack runs. */
static char bus_fd_env[16], key_fd_env[16];

static int bus_report(const char *attack, int code, bool keep_open)
{
	capbus *bus = NULL;
	static char data[sizeof(lines) + sizeof(last_line) + 256];
	int r;

	setenv("CAPBUS_FD", bus_fd_env, 1);
	setenv("CAPBUS_KEY_FD", key_fd_env, 1);
	r = capbus_open(&bus, NULL, NULL);
	if (r != 0) {
		fprintf(stderr, "escape: capbus_open: %d\n", r);
		return r;
	}
	snprintf(data, sizeof(data), "{\"attack\":\"%s\",\"result\":%s,\"results\":[%s],\"exit\":%d}", attack,
		 last_line[0] ? last_line : "null", lines, code);
	r = capbus_send(bus, "hostile.report", data);
	if (r == 0)
		r = capbus_sync(bus, 5000);
	if (r != 0)
		fprintf(stderr, "escape: hostile.report: %d\n", r);
	if (!keep_open || r != 0)
		capbus_close(bus);
	return r;
}

static int try_open(const char *attack, const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	int r = report(attack, fd, NULL);
	if (fd >= 0)
		close(fd);
	return r;
}

static long raw_x32_getpid(void)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(0x40000000L | 39) : "rcx", "r11", "memory");
	return ret;
}

static long raw_int80_getpid(void)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
	return ret;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int attack(int argc, char **argv)
{
	const char *a = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : "";

	if (!strcmp(a, "read-shadow"))
		return try_open(a, "/etc/shadow", O_RDONLY);
	if (!strcmp(a, "read-root"))
		return try_open(a, "/root", O_RDONLY | O_DIRECTORY);
	if (!strcmp(a, "read-home"))
		return try_open(a, "/home", O_RDONLY | O_DIRECTORY);
	if (!strcmp(a, "read-host-file")) /* a host path that is not bound in */
		return try_open(a, arg, O_RDONLY);
	if (!strcmp(a, "write-file")) /* argv[2]: where to create a file */
		return try_open(a, arg, O_WRONLY | O_CREAT | O_TRUNC);
	if (!strcmp(a, "inet-socket"))
		return report(a, socket(AF_INET, SOCK_STREAM, 0), NULL);
	if (!strcmp(a, "inet6-socket"))
		return report(a, socket(AF_INET6, SOCK_DGRAM, 0), NULL);
	if (!strcmp(a, "packet-socket"))
		return report(a, socket(AF_PACKET, SOCK_RAW, 0), NULL);
	if (!strcmp(a, "netlink-socket"))
		return report(a, socket(AF_NETLINK, SOCK_RAW, 0), NULL);
	if (!strcmp(a, "connect-out")) { /* with --net: TCP connect to argv[2] port on 127.0.0.1 */
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)num(arg)),
					   .sin_addr.s_addr = htonl(0x7f000001) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return report(a, fd, "\"stage\":\"socket\"");
		return report(a, connect(fd, (struct sockaddr *)&sin, sizeof(sin)), "\"stage\":\"connect\"");
	}
	if (!strcmp(a, "abstract-unix")) { /* argv[2]: abstract name without the leading NUL */
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		size_t n = strlen(arg);
		if (n + 1 > sizeof(sun.sun_path))
			return 2;
		memcpy(sun.sun_path + 1, arg, n);
		return report(a, connect(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)), NULL);
	}
	if (!strcmp(a, "kill-outside")) { /* argv[2]: a host pid */
		char extra[64], path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%s", arg);
		snprintf(extra, sizeof(extra), "\"proc_visible\":%s", stat(path, &st) == 0 ? "true" : "false");
		return report(a, kill(num(arg), SIGKILL), extra);
	}
	if (!strcmp(a, "list-pids")) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		int n = 0;
		char extra[32];
		while (d && (de = readdir(d)))
			if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
				n++;
		snprintf(extra, sizeof(extra), "\"pids\":%d", n);
		return report(a, d ? 0 : -1, extra);
	}
	if (!strcmp(a, "ptrace"))
		return report(a, (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL), NULL);
	if (!strcmp(a, "mount"))
		return report(a, mount("none", "/tmp", "tmpfs", 0, NULL), NULL);
	if (!strcmp(a, "pivot-root"))
		return report(a, (int)syscall(SYS_pivot_root, "/tmp", "/tmp"), NULL);
	if (!strcmp(a, "unshare-user"))
		return report(a, unshare(CLONE_NEWUSER), NULL);
	if (!strcmp(a, "clone-newuser")) {
		long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
		if (r == 0)
			_exit(0);
		return report(a, (int)r, NULL);
	}
	if (!strcmp(a, "clone3")) {
		uint64_t args[11] = { 0 };
		args[4] = SIGCHLD;
		long r = syscall(435, args, sizeof(args));
		if (r == 0)
			_exit(0);
		return report(a, (int)r, NULL);
	}
	if (!strcmp(a, "setns")) {
		int fd = open("/proc/self/ns/net", O_RDONLY);
		return report(a, setns(fd, 0), NULL);
	}
	if (!strcmp(a, "userns-sysctl")) {
		char buf[32] = "", extra[64];
		int fd = open("/proc/sys/user/max_user_namespaces", O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (n > 0)
			buf[strcspn(buf, "\n")] = '\0';
		snprintf(extra, sizeof(extra), "\"value\":\"%s\"", buf);
		return report(a, (int)n, extra);
	}
	if (!strcmp(a, "bpf")) {
		char attr[128] = { 0 };
		return report(a, (int)syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof(attr)), NULL);
	}
	if (!strcmp(a, "perf")) {
		struct perf_event_attr pe = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(pe),
					      .config = PERF_COUNT_SW_CPU_CLOCK };
		return report(a, (int)syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0), NULL);
	}
	if (!strcmp(a, "io-uring")) {
		char params[120] = { 0 };
		return report(a, (int)syscall(425 /* io_uring_setup */, 8, params), NULL);
	}
	if (!strcmp(a, "keyctl"))
		return report(a, (int)syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0), NULL);
	if (!strcmp(a, "add-key"))
		return report(a, (int)syscall(SYS_add_key, "user", "x", "y", 1, -3), NULL);
	if (!strcmp(a, "exec-copy")) { /* copy ourselves to argv[2] (a writable dir), exec the copy */
		char dst[256], buf[65536];
		int in = open("/proc/self/exe", O_RDONLY), out;
		ssize_t n;
		snprintf(dst, sizeof(dst), "%s/escape-copy", arg);
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (in < 0 || out < 0)
			return report(a, -1, "\"stage\":\"copy\"");
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				return report(a, -1, "\"stage\":\"copy\"");
		close(out);
		execl(dst, dst, "whoami", (char *)NULL);
		return report(a, -1, "\"stage\":\"exec\"");
	}
	if (!strcmp(a, "write-proc")) /* DAC allows our own comm; only Landlock says no */
		return try_open(a, "/proc/self/comm", O_WRONLY);
	if (!strcmp(a, "userfaultfd"))
		return report(a, (int)syscall(SYS_userfaultfd, 0), NULL);
	if (!strcmp(a, "kexec"))
		return report(a, (int)syscall(SYS_kexec_file_load, -1, -1, 0, "", 0), NULL);
	if (!strcmp(a, "init-module"))
		return report(a, (int)syscall(SYS_finit_module, 0, "", 0), NULL);
	if (!strcmp(a, "chroot"))
		return report(a, chroot("/tmp"), NULL);
	if (!strcmp(a, "setuid-root"))
		return report(a, setuid(0), NULL);
	if (!strcmp(a, "open-by-handle")) {
		char h[136] = { 0 };
		return report(a, (int)syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY), NULL);
	}
	if (!strcmp(a, "tiocsti")) { /* argv[2]: fd of a terminal */
		char c = 'x', extra[48];
		int fd = num(arg);
		snprintf(extra, sizeof(extra), "\"isatty\":%s", isatty(fd) ? "true" : "false");
		return report(a, ioctl(fd, TIOCSTI, &c), extra);
	}
	if (!strcmp(a, "tiocsti-highbits")) { /* same request with garbage in the upper 32 bits */
		char c = 'x';
		return report(a, (int)syscall(SYS_ioctl, num(arg), 0xdead00000000UL | TIOCSTI, &c), NULL);
	}
	if (!strcmp(a, "tiocsti-devtty"))
		return try_open(a, "/dev/tty", O_RDWR);
	if (!strcmp(a, "x32"))
		return report(a, (int)raw_x32_getpid(), NULL);
	if (!strcmp(a, "int80"))
		return report(a, (int)raw_int80_getpid(), NULL);
	if (!strcmp(a, "personality"))
		return report(a, (int)syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */), NULL);
	if (!strcmp(a, "whoami")) {
		char extra[96];
		snprintf(extra, sizeof(extra), "\"uid\":%u,\"euid\":%u,\"gid\":%u,\"egid\":%u", getuid(), geteuid(),
			 getgid(), getegid());
		return report(a, 0, extra);
	}
	if (!strcmp(a, "setuid-exec")) { /* argv[2]: a set-uid copy of this program */
		struct stat st;
		char extra[96];
		if (stat("/usr/bin/passwd", &st) == 0) {
			/* The real root owns it on the host; in here root does not exist. */
			snprintf(extra, sizeof(extra), "\"passwd_suid\":%s,\"passwd_owner\":%u",
				 st.st_mode & S_ISUID ? "true" : "false", st.st_uid);
			report("passwd-stat", 0, extra);
		}
		/* The child's lines come back through a pipe and are printed (and recorded) here. */
		int p[2];
		if (pipe(p) < 0)
			return report(a, -1, "\"stage\":\"pipe\"");
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execl(arg, arg, "whoami", (char *)NULL);
			report(a, -1, "\"stage\":\"exec\"");
			_exit(126);
		}
		close(p[1]);
		FILE *f = fdopen(p[0], "r");
		char line[4096];
		while (f && fgets(line, sizeof(line), f)) {
			fputs(line, stdout);
			record(line);
		}
		fflush(stdout);
		if (f)
			fclose(f);
		int status;
		waitpid(pid, &status, 0);
		return 0;
	}
	if (!strcmp(a, "fork-bomb")) {
		int n = 0;
		char extra[32];
		for (;;) {
			pid_t pid = fork();
			if (pid == 0) {
				pause();
				_exit(0);
			}
			if (pid < 0)
				break;
			if (++n > 10000)
				break;
		}
		snprintf(extra, sizeof(extra), "\"forked\":%d", n);
		return report(a, -1, extra);
	}
	if (!strcmp(a, "memory-bomb")) {
		for (size_t total = 0; total < (8UL << 30); total += 1 << 20) {
			char *p = malloc(1 << 20);
			if (!p)
				return report(a, -1, "\"stage\":\"malloc\"");
			memset(p, 0x5a, 1 << 20);
		}
		return report(a, 0, NULL);
	}
	if (!strcmp(a, "fds")) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *de;
		char list[256] = "", extra[600], stdin_target[256] = "";
		ssize_t n = readlink("/proc/self/fd/0", stdin_target, sizeof(stdin_target) - 1);
		stdin_target[n > 0 ? n : 0] = '\0';
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || num(de->d_name) == dirfd(d))
				continue;
			if (strlen(list) + strlen(de->d_name) + 2 < sizeof(list))
				strcat(strcat(list, list[0] ? " " : ""), de->d_name);
		}
		snprintf(extra, sizeof(extra), "\"fds\":\"%s\",\"stdin\":\"%s\"", list, stdin_target);
		return report(a, d ? 0 : -1, extra);
	}
	if (!strcmp(a, "signals")) { /* inherited blocked or ignored signals */
		sigset_t cur;
		struct sigaction sa;
		int blocked = 0, ignored = 0;
		char extra[64];
		sigprocmask(SIG_SETMASK, NULL, &cur);
		for (int s = 1; s < 32; s++) {
			blocked += sigismember(&cur, s) == 1;
			if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
				ignored++;
		}
		snprintf(extra, sizeof(extra), "\"blocked\":%d,\"ignored\":%d", blocked, ignored);
		return report(a, 0, extra);
	}
	if (!strcmp(a, "caps")) {
		FILE *f = fopen("/proc/self/status", "r");
		char line[256], extra[512] = "";
		while (f && fgets(line, sizeof(line), f)) {
			const char *keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp:" };
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				if (!strncmp(line, keys[i], strlen(keys[i]))) {
					char *v = strchr(line, ':') + 1;
					v += strspn(v, " \t");
					v[strcspn(v, "\n")] = '\0';
					char kv[80];
					snprintf(kv, sizeof(kv), "%s\"%.*s\":\"%s\"", extra[0] ? "," : "",
						 (int)strcspn(line, ":"), line, v);
					strncat(extra, kv, sizeof(extra) - strlen(extra) - 1);
				}
		}
		return report(a, f ? 0 : -1, extra);
	}
	if (!strcmp(a, "exit")) { /* argv[2]: code, argv[3]: ms to live first */
		if (argc > 3)
			sleep_ms(num(argv[3]));
		exit(num(arg));
	}
	if (!strcmp(a, "segv")) { /* argv[2]: ms to live first */
		if (argc > 2)
			sleep_ms(num(arg));
		raise(SIGSEGV);
		return 3;
	}
	if (!strcmp(a, "fill-state")) { /* argv[2]: MiB to try to write into /state */
		static char buf[1 << 16];
		char extra[512], root[256] = "?";
		long long written = 0, limit = (long long)num(arg) << 20;
		int fd = open("/state/fill", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = 0, e = 0;
		struct statvfs sv;
		FILE *mi;
		char line[1024];

		memset(buf, 0x5a, sizeof(buf));
		if (fd < 0)
			return report(a, -1, "\"stage\":\"open\"");
		while (written < limit) {
			ssize_t n = write(fd, buf, sizeof(buf));
			if (n <= 0) {
				rc = -1;
				e = n < 0 ? errno : ENOSPC;
				break;
			}
			written += n;
		}
		if (rc == 0 && fsync(fd) < 0) { /* a loop device may only say no at writeback */
			rc = -1;
			e = errno;
		}
		close(fd);
		/* How /state is mounted, as the skill sees it: the root and source of its entry. */
		if ((mi = fopen("/proc/self/mountinfo", "re"))) {
			while (fgets(line, sizeof(line), mi)) {
				char r[256], mnt[256];
				if (sscanf(line, "%*s %*s %*s %255s %255s", r, mnt) == 2 && !strcmp(mnt, "/state"))
					snprintf(root, sizeof(root), "%s", r);
			}
			fclose(mi);
		}
		snprintf(extra, sizeof(extra), "\"written\":%lld,\"root\":\"%s\",\"total\":%llu", written, root,
			 statvfs("/state", &sv) == 0 ? (unsigned long long)sv.f_blocks * sv.f_frsize : 0ULL);
		errno = e;
		return report(a, rc, extra);
	}
	if (!strcmp(a, "state-mark")) { /* reads /state/mark (what an earlier run left), then writes argv[2] there */
		char old[64] = "", extra[160];
		int fd = open("/state/mark", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, old, sizeof(old) - 1);
			old[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		old[strcspn(old, "\"\\\n")] = '\0';
		fd = open("/state/mark", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int rc = fd < 0 || write(fd, arg, strlen(arg)) != (ssize_t)strlen(arg) || fsync(fd) < 0 ? -1 : 0;
		if (fd >= 0)
			close(fd);
		snprintf(extra, sizeof(extra), "\"before\":\"%s\"", old);
		return report(a, rc, extra);
	}
	if (!strcmp(a, "hold")) /* reports (in bus mode), then waits for a signal */
		return report(a, 0, NULL);
	fprintf(stderr, "escape: unknown attack '%s'\n", a);
	return 2;
}

int main(int argc, char **argv)
{
	const char *bus_fd = getenv("CAPBUS_FD"), *key_fd = getenv("CAPBUS_KEY_FD");
	const char *a = argc > 1 ? argv[1] : "";
	bool bus_mode = bus_fd && key_fd;

	if (bus_mode) {
		/* Programs the attack executes must not take over the connection. */
		snprintf(bus_fd_env, sizeof(bus_fd_env), "%s", bus_fd);
		snprintf(key_fd_env, sizeof(key_fd_env), "%s", key_fd);
		unsetenv("CAPBUS_FD");
		unsetenv("CAPBUS_KEY_FD");
	}
	int code = attack(argc, argv);
	if (!bus_mode)
		return code;
	bool hold = !strcmp(a, "hold");
	if (bus_report(a, code, hold) != 0)
		return 4;
	if (hold) /* connected until the supervisor stops it */
		for (;;)
			pause();
	return code;
}
