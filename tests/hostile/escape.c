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
 * The log-* modes attack the daemon's handling of a skill's stdout and stderr: a flood, a flood
 * of lines that grow when logged (empty, or escaped), forged lines, truncating or seeking fds 1
 * and 2, a line per run, a line every few milliseconds.
 * Two for /state: "fill-state MIB" and "state-mark TEXT". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
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
	case ESPIPE: return "ESPIPE";
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

/* Copy /proc/self/exe into fd (a written file: the bytes are ours now). */
static int copy_self(int out)
{
	char buf[65536];
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (in < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			close(in);
			return -1;
		}
	close(in);
	return n < 0 ? -1 : 0;
}

/* execveat(fd, "", AT_EMPTY_PATH) as "whoami": only returns on failure. */
static int exec_fd(const char *attack, int fd)
{
	char *const argv[] = { "escape", "whoami", NULL };
	extern char **environ;

	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	return report(attack, -1, "\"stage\":\"exec\"");
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


/* Names of the network interfaces a NETLINK_ROUTE dump shows, as a JSON array body. */
static int net_links(char *out, size_t outlen)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = { .nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		  .ifi = { .ifi_family = AF_UNSPEC } };
	static char buf[32768];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	out[0] = '\0';
	if (fd < 0 || send(fd, &req, sizeof(req), 0) < 0)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				close(fd);
				return h->nlmsg_type == NLMSG_DONE ? 0 : -1;
			}
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
			for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
				if (rta->rta_type == IFLA_IFNAME && strlen(out) + 40 < outlen)
					snprintf(out + strlen(out), outlen - strlen(out), "%s\"%.32s\"", out[0] ? "," : "",
						 (char *)RTA_DATA(rta));
		}
	}
	close(fd);
	return 0;
}

/* Unix sockets a NETLINK_SOCK_DIAG dump lists: how many, and whether one is bound to the
 * abstract name `marker`. */
static int unix_diag(const char *marker, int *count, bool *seen)
{
	struct {
		struct nlmsghdr nh;
		struct unix_diag_req r;
	} req = { .nh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		  .r = { .sdiag_family = AF_UNIX, .udiag_states = ~0U, .udiag_show = UDIAG_SHOW_NAME } };
	static char buf[32768];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	*count = 0;
	*seen = false;
	if (fd < 0 || send(fd, &req, sizeof(req), 0) < 0)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				close(fd);
				return h->nlmsg_type == NLMSG_DONE ? 0 : -1;
			}
			struct unix_diag_msg *m = NLMSG_DATA(h);
			int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
			(*count)++;
			for (struct rtattr *rta = (struct rtattr *)(m + 1); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
				if (rta->rta_type == UNIX_DIAG_NAME && RTA_PAYLOAD(rta) == strlen(marker) + 1 &&
				    !memcmp((char *)RTA_DATA(rta) + 1, marker, strlen(marker)))
					*seen = true;
		}
	}
	close(fd);
	return 0;
}

/* /proc/net/unix: sockets listed (header excluded), and whether @marker is among them. */
static int proc_net_unix(const char *marker, int *count, bool *seen)
{
	char line[512], want[160];
	FILE *f = fopen("/proc/net/unix", "re");

	*count = 0;
	*seen = false;
	if (!f)
		return -1;
	snprintf(want, sizeof(want), " @%s\n", marker);
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		(*count)++;
		size_t n = strlen(line), w = strlen(want);
		if (n >= w && !strcmp(line + n - w, want))
			*seen = true;
	}
	fclose(f);
	return 0;
}

static int parse_in(const char *addr, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)num(port));
	return inet_pton(AF_INET, addr, &sin->sin_addr) == 1 ? 0 : -1;
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
	if (!strcmp(a, "net-view")) { /* argv[2]: an abstract name the host listens on */
		char links[1024], extra[1200];
		int n, r;
		bool seen;

		r = net_links(links, sizeof(links));
		snprintf(extra, sizeof(extra), "\"links\":[%s]", links);
		report("net-links", r, extra);
		r = unix_diag(arg, &n, &seen);
		snprintf(extra, sizeof(extra), "\"count\":%d,\"marker_seen\":%s", n, seen ? "true" : "false");
		report("net-unix-diag", r, extra);
		r = proc_net_unix(arg, &n, &seen);
		snprintf(extra, sizeof(extra), "\"count\":%d,\"marker_seen\":%s", n, seen ? "true" : "false");
		return report("net-proc-unix", r, extra);
	}
	if (!strcmp(a, "bind-listen")) { /* argv[2]: port to bind (0: an ephemeral one), then listen */
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)num(arg)) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return report(a, fd, "\"stage\":\"socket\"");
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return report(a, -1, "\"stage\":\"bind\"");
		return report(a, listen(fd, 4), "\"stage\":\"listen\"");
	}
	if (!strcmp(a, "connect-tcp")) { /* argv[2] ADDR, argv[3] PORT: connect, read one line */
		struct sockaddr_in sin;
		char extra[256], got[64] = "";
		struct timeval tv = { .tv_sec = 5 };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return report(a, fd, "\"stage\":\"socket\"");
		if (argc < 4 || parse_in(arg, argv[3], &sin) < 0)
			return 2;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return report(a, -1, "\"stage\":\"connect\"");
		ssize_t n = read(fd, got, sizeof(got) - 1);
		got[n > 0 ? n : 0] = '\0';
		got[strcspn(got, "\r\n\"\\")] = '\0';
		snprintf(extra, sizeof(extra), "\"stage\":\"read\",\"reply\":\"%s\"", got);
		return report(a, n > 0 ? 0 : -1, extra);
	}
	if (!strcmp(a, "dns-send")) { /* the resolver /etc/resolv.conf names, and a datagram to it */
		char line[128] = "", extra[256];
		struct sockaddr_in sin;
		FILE *f = fopen("/etc/resolv.conf", "re");
		int fd;
		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = '\0';
			fclose(f);
		}
		line[strcspn(line, "\r\n\"\\")] = '\0';
		if (strncmp(line, "nameserver ", 11) || parse_in(line + 11, "53", &sin) < 0) {
			snprintf(extra, sizeof(extra), "\"stage\":\"resolv.conf\",\"resolv\":\"%s\"", line);
			return report(a, -1, extra);
		}
		snprintf(extra, sizeof(extra), "\"stage\":\"sendto\",\"resolv\":\"%s\"", line);
		if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
			return report(a, fd, "\"stage\":\"socket\"");
		return report(a, (int)sendto(fd, "q", 1, 0, (struct sockaddr *)&sin, sizeof(sin)), extra);
	}
	if (!strcmp(a, "listen-accept")) { /* argv[2] PORT: listen on it, greet one client */
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)num(arg)) };
		struct timeval tv = { .tv_sec = 30 };
		int one = 1, c, fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return report(a, fd, "\"stage\":\"socket\"");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return report(a, -1, "\"stage\":\"bind\"");
		if (listen(fd, 4) < 0)
			return report(a, -1, "\"stage\":\"listen\"");
		if ((c = accept(fd, NULL, NULL)) < 0)
			return report(a, -1, "\"stage\":\"accept\"");
		return report(a, write(c, "hello-from-skill\n", 17) == 17 ? 0 : -1, "\"stage\":\"accept\"");
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
	if (!strcmp(a, "memfd-exec")) { /* argv[2]: plain, exec or seal (memfd_create flags) */
		unsigned flags = !strcmp(arg, "exec") ? 0x10U /* MFD_EXEC */
			       : !strcmp(arg, "seal") ? 0x8U /* MFD_NOEXEC_SEAL */ : 0U;
		int fd = (int)syscall(SYS_memfd_create, "x", flags);
		if (fd < 0)
			return report(a, -1, "\"stage\":\"create\"");
		if (copy_self(fd) < 0)
			return report(a, -1, "\"stage\":\"copy\"");
		(void)fchmod(fd, 0755); /* sealed: EPERM */
		return exec_fd(a, fd);
	}
	if (!strcmp(a, "tmpfile-exec")) { /* argv[2]: a writable dir; an unnamed file there */
		int fd = open(arg, O_TMPFILE | O_RDWR, 0755);
		if (fd < 0)
			return report(a, -1, "\"stage\":\"create\"");
		if (copy_self(fd) < 0)
			return report(a, -1, "\"stage\":\"copy\"");
		return exec_fd(a, fd);
	}
	if (!strcmp(a, "memfd-noexec")) { /* the pid namespace's vm.memfd_noexec */
		char buf[16] = "", extra[48];
		int fd = open("/proc/sys/vm/memfd_noexec", O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (n <= 0)
			return report(a, -1, NULL);
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(extra, sizeof(extra), "\"value\":\"%s\"", buf);
		return report(a, 0, extra);
	}
	if (!strcmp(a, "ldso-memfd")) { /* the loader maps a sealed non-executable memfd copy */
		char path[64], extra[96];
		int fd = (int)syscall(SYS_memfd_create, "x", 0x8U /* MFD_NOEXEC_SEAL */), st;
		pid_t pid;
		if (fd < 0)
			return report(a, -1, "\"stage\":\"create\"");
		if (copy_self(fd) < 0)
			return report(a, -1, "\"stage\":\"copy\"");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);
			dup2(devnull, 2);
			execl("/lib64/ld-linux-x86-64.so.2", "ld.so", path, "whoami", (char *)NULL);
			_exit(126);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			return report(a, -1, "\"stage\":\"fork\"");
		snprintf(extra, sizeof(extra), "\"stage\":\"run\",\"status\":%d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		errno = 0;
		return report(a, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1, extra);
	}
	if (!strcmp(a, "ldso-exec")) { /* argv[2]: writable dir; the dynamic loader maps a copy */
		char dst[256], extra[96];
		int out, st;
		pid_t pid;
		snprintf(dst, sizeof(dst), "%s/escape-ld", arg);
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (out < 0 || copy_self(out) < 0)
			return report(a, -1, "\"stage\":\"copy\"");
		close(out);
		/* In a child: the loader replaces the process, and its failure is an exit status. */
		pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);
			dup2(devnull, 2); /* the loader's own error text is not a JSON line */
			execl("/lib64/ld-linux-x86-64.so.2", "ld.so", dst, "whoami", (char *)NULL);
			_exit(126);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			return report(a, -1, "\"stage\":\"fork\"");
		/* The copy ran iff it exited 0 (whoami printed its own line first). */
		snprintf(extra, sizeof(extra), "\"status\":%d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		errno = 0;
		return report(a, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1, extra);
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
	if (!strcmp(a, "host-traces")) { /* argv[2..]: host paths that must not show */
		/* Where a sandbox could show its launcher's host paths: init's command line,
		 * environment and executable, our mount table and cgroup paths. */
		static const char *const files[] = { "/proc/1/cmdline", "/proc/1/environ", "/proc/1/exe",
						     "/proc/self/mountinfo", "/proc/self/cgroup" };
		static const char *const keys[] = { "cmdline", "environ", "exe", "mountinfo", "cgroup" };
		char extra[1024] = "\"found\":\"", exe[512] = "";
		bool any = false;
		for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
			static char text[65536];
			ssize_t n = 0;
			if (f == 2) {
				n = readlink(files[f], exe, sizeof(exe) - 1);
				exe[n > 0 ? n : 0] = '\0';
				snprintf(text, sizeof(text), "%s", exe);
			} else {
				int fd = open(files[f], O_RDONLY);
				size_t got = 0;
				while (fd >= 0 && got < sizeof(text) - 1 && (n = read(fd, text + got, sizeof(text) - 1 - got)) > 0)
					got += (size_t)n;
				for (size_t i = 0; i < got; i++)
					if (!text[i])
						text[i] = ' ';
				text[got] = '\0';
				if (fd >= 0)
					close(fd);
				else
					n = -1;
			}
			if (n < 0 && f != 2)
				continue;
			for (int i = 2; i < argc; i++)
				if (argv[i][0] && strstr(text, argv[i])) {
					char which[32];
					/* source#index of the first path found there (index 2 = argv[2]) */
					snprintf(which, sizeof(which), "%s%s#%d", any ? "," : "", keys[f], i);
					strncat(extra, which, sizeof(extra) - strlen(extra) - 1);
					any = true;
					break;
				}
		}
		strncat(extra, "\",\"exe\":\"", sizeof(extra) - strlen(extra) - 1);
		for (char *c = exe; *c; c++)
			if (*c == '"' || *c == '\\')
				*c = '_';
		strncat(extra, exe, sizeof(extra) - strlen(extra) - 1);
		strncat(extra, "\"", sizeof(extra) - strlen(extra) - 1);
		errno = 0;
		return report(a, any ? 0 : -1, extra);
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
	if (!strcmp(a, "log-flood")) { /* argv[2]: MiB to write to stdout as fast as it can, 1 KiB lines */
		static char chunk[65536];
		long total = (long)num(arg) << 20, done = 0;
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (i % 1024 == 1023) ? '\n' : 'A' + (char)(i % 26);
		while (done < total) {
			ssize_t w = write(1, chunk, sizeof(chunk));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			done += w;
		}
		char extra[64];
		snprintf(extra, sizeof(extra), "\"written\":%ld", done);
		return report(a, done == total ? 0 : -1, extra);
	}
	if (!strcmp(a, "log-amplify")) { /* argv[2]: MiB of empty lines and lines of control characters */
		static char chunk[65536];
		long total = (long)num(arg) << 20, done = 0;
		/* 48 empty lines, then 15 bytes of \x01 (60 once escaped) and a newline, per 64 bytes */
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = i % 64 < 48 || i % 64 == 63 ? '\n' : '\x01';
		while (done < total) {
			ssize_t w = write(1, chunk, sizeof(chunk));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			done += w;
		}
		char extra[64];
		snprintf(extra, sizeof(extra), "\"written\":%ld", done);
		return report(a, done == total ? 0 : -1, extra);
	}
	if (!strcmp(a, "log-forge")) { /* lines that try to pass for the daemon's, or to rewrite the screen */
		static const char forged[] =
			"capbusd[parent]: level=error event=forged_plain id=\"x\"\n"
			"harmless\rcapbusd[parent]: level=error event=forged_cr\n"
			"\x1b[2K\x1b[1Gcapbusd[parent]: level=error event=forged_esc\n"
			"\xc2\x9b" "2Kcapbusd[parent]: level=error event=forged_csi\n"
			"two\x0bthree\x0c" "four back\\slash \xff" " caf\xc3\xa9\n"
			/* a line break for some readers (U+2028, U+2029, NEL), and text that a terminal shows
			 * reordered (RLO ... PDF, RLI ... PDI) or hidden (ZWSP, ZWJ, WJ, BOM) */
			"ls\xe2\x80\xa8" "capbusd[parent]: level=error event=forged_ls \xe2\x80\xa9 ps \xc2\x85 nel"
			" \xe2\x80\xae" "rlo\xe2\x80\xac \xe2\x81\xa7" "rli\xe2\x81\xa9 zw\xe2\x80\x8b\xe2\x80\x8d\xe2\x81\xa0"
			" bom\xef\xbb\xbf end\n";
		ssize_t w = write(1, forged, sizeof(forged) - 1);
		static const char err_forged[] = "\ncapbusd[parent]: level=error event=forged_stderr\n";
		(void)!write(2, err_forged, sizeof(err_forged) - 1);
		/* A line of 10000 bytes: cut at 4096 and marked; the rest must not become a line of its own. */
		static char longline[10001];
		memset(longline, 'L', 10000);
		memcpy(longline + 5000, "forged_longtail", 15);
		longline[10000] = '\n';
		(void)!write(2, longline, sizeof(longline));
		/* ends at the exit (end of file) */
		static const char tail[] = "no newline at the end: forged_tail";
		(void)!write(2, tail, sizeof(tail) - 1);
		return report(a, w == (ssize_t)sizeof(forged) - 1 ? 0 : -1, NULL);
	}
	if (!strcmp(a, "log-fds")) { /* what fds 1 and 2 are, and whether they can be truncated or seeked */
		char t1[128] = "", t2[128] = "", extra[1024], list[128] = "";
		struct stat st1, st2;
		ssize_t n = readlink("/proc/self/fd/1", t1, sizeof(t1) - 1);
		t1[n > 0 ? n : 0] = '\0';
		n = readlink("/proc/self/fd/2", t2, sizeof(t2) - 1);
		t2[n > 0 ? n : 0] = '\0';
		int tr1 = ftruncate(1, 0), e1 = errno;
		int tr2 = ftruncate(2, 0), e2 = errno;
		off_t sk1 = lseek(1, 0, SEEK_SET);
		int e3 = errno;
		off_t sk2 = lseek(2, 0, SEEK_END);
		int e4 = errno;
		bool fifo1 = fstat(1, &st1) == 0 && S_ISFIFO(st1.st_mode), fifo2 = fstat(2, &st2) == 0 && S_ISFIFO(st2.st_mode);
		DIR *d = opendir("/proc/self/fd");
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || num(de->d_name) == dirfd(d))
				continue;
			if (strlen(list) + strlen(de->d_name) + 2 < sizeof(list))
				strcat(strcat(list, list[0] ? " " : ""), de->d_name);
		}
		if (d)
			closedir(d);
		/* fcntl(F_GETFL) on 1: a pipe's write end, O_WRONLY; reopening it via /proc gets the same pipe */
		int reopen = open("/proc/self/fd/1", O_WRONLY | O_TRUNC);
		int e5 = errno;
		snprintf(extra, sizeof(extra),
			 "\"fd1\":\"%s\",\"fd2\":\"%s\",\"fifo1\":%s,\"fifo2\":%s,\"truncate1\":\"%s\",\"truncate2\":\"%s\","
			 "\"lseek1\":\"%s\",\"lseek2\":\"%s\",\"fds\":\"%s\",\"reopen\":\"%s\"",
			 t1, t2, fifo1 ? "true" : "false", fifo2 ? "true" : "false", tr1 == 0 ? "0" : ename(e1),
			 tr2 == 0 ? "0" : ename(e2), sk1 >= 0 ? "0" : ename(e3), sk2 >= 0 ? "0" : ename(e4), list,
			 reopen >= 0 ? "0" : ename(e5));
		return report(a, tr1 == 0 || tr2 == 0 || sk1 >= 0 || sk2 >= 0 ? 0 : -1, extra);
	}
	if (!strcmp(a, "log-ticks")) { /* reports, then prints "tick N" every argv[2] ms until stopped */
		bus_report(a, 0, false);
		for (unsigned i = 1;; i++) {
			printf("tick %u\n", i);
			fflush(stdout);
			sleep_ms(num(arg));
		}
	}
	if (!strcmp(a, "log-run")) { /* prints a line naming this run, then exits 1 after argv[2] ms */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long run = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
		printf("run %lld on stdout\n", run);
		fprintf(stderr, "run %lld on stderr\n", run);
		fflush(stdout);
		sleep_ms(num(arg));
		exit(1);
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
