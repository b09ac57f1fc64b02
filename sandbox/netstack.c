// SPDX-License-Identifier: MIT
/* netstack.c - start, configure and stop the slirp4netns stack of a networked sandbox.
 *
 * Parent side, root. slirp4netns rather than pasta: it attaches to an existing namespace by pid
 * with fixed private addresses (pasta, as Debian 12 ships it, copies the host's addresses and
 * routes in and forwards every bound port both ways unless told otherwise), maps the host's
 * loopback only when asked, reports readiness and exits when a pipe closes (--ready-fd,
 * --exit-fd), and confines itself (--enable-sandbox: empty root, no capabilities;
 * --enable-seccomp). The stack is cloned straight into the skill's v2 leaf and joins its v1
 * leaves before it execs, so every socket it ever creates is judged by the egress programs.
 * It gets /dev/null as stdio and only its two pipes: no daemon descriptor, no key. */
#include "netstack.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "kernel.h"
#include "pidfd-util.h"
#include "util.h"

#define READY_TIMEOUT_MS 5000
#define EXIT_FD 3
#define READY_FD 4

int netstack_available(void)
{
	return access(NETSTACK_PATH, X_OK) == 0 ? 0 : negative_errno();
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap(int pidfd)
{
	siginfo_t si;

	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
}

/* In the cloned child: only system calls, no allocation (the daemon may be multi-threaded). */
static _noreturn_ void exec_stack(char *const *argv, int go_r, int exit_r, int ready_w)
{
	static char *const envp[] = { NULL };
	char b;
	int null;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(127);
	/* The parent moves us into the v1 leaves first; EOF means it gave up. */
	if (read(go_r, &b, 1) != 1)
		_exit(127);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || (exit_r = fcntl(exit_r, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (ready_w = fcntl(ready_w, F_DUPFD_CLOEXEC, 10)) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0 || dup2(exit_r, EXIT_FD) < 0 || dup2(ready_w, READY_FD) < 0)
		_exit(127);
	if (syscall(SYS_close_range, (unsigned)READY_FD + 1, ~0U, 0) < 0)
		_exit(127);
	execve(NETSTACK_PATH, argv, envp);
	_exit(127);
}

/* One request per connection on the API socket: write, half-close, read the answer. The socket
 * appears only once the stack has entered its loop, shortly after it reported ready. */
static int api_call(const char *path, const char *req, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512];
	size_t got = 0;
	ssize_t n;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return negative_errno();
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			size_t len = strlen(req);
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (write(fd, req, len) != (ssize_t)len || shutdown(fd, SHUT_WR) < 0)
				return -EIO;
			while (got < sizeof(buf) - 1) {
				int left = (int)(deadline - now_ms());

				if (left <= 0 || poll(&p, 1, left) <= 0)
					return -ETIMEDOUT;
				n = read(fd, buf + got, sizeof(buf) - 1 - got);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				got += (size_t)n;
			}
			buf[got] = '\0';
			return strstr(buf, "\"return\"") && !strstr(buf, "\"error\"") ? 0 : -EADDRINUSE;
		}
		if ((errno != ENOENT && errno != ECONNREFUSED) || now_ms() >= deadline)
			return errno == ENOENT || errno == ECONNREFUSED ? -ETIMEDOUT : negative_errno();
		(void)poll(NULL, 0, 2);
	}
}

/* Host side on 127.0.0.1 only: a skill's inbound port is a local service; the remote transport
 * has its own gateway and kernel allow-list. */
static int forward_ports(const struct netstack_config *cfg, const char *api, int64_t deadline)
{
	char req[256];
	int r;

	for (size_t i = 0; i < cfg->n_listen; i++) {
		snprintf(req, sizeof(req),
			 "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"tcp\", \"host_addr\": \"127.0.0.1\", "
			 "\"host_port\": %u, \"guest_addr\": \"" NETSTACK_GUEST_ADDR "\", \"guest_port\": %u}}",
			 cfg->listen[i], cfg->listen[i]);
		if ((r = api_call(api, req, deadline)) < 0)
			return r;
	}
	return 0;
}

static void remove_api_dir(char *dir, const char *api)
{
	if (!dir[0])
		return;
	(void)unlink(api);
	(void)rmdir(dir);
	dir[0] = '\0';
}

int netstack_start(const struct netstack_config *cfg, const struct cg_set *cg, pid_t target, struct netstack *ns)
{
	_cleanup_close_ int go_r = -1, go_w = -1, exit_r = -1, exit_w = -1, ready_r = -1, ready_w = -1, pidfd = -1;
	char pidstr[16], exitarg[16], readyarg[16], dir[64] = "", api[96] = "";
	char *argv[16];
	size_t a = 0;
	int fds[2], r;
	struct sb_clone_args args = {
		.flags = CLONE_PIDFD | CLONE_INTO_CGROUP,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cg_set_v2_fd(cg),
	};

	if (cfg->n_listen > NETSTACK_MAX_LISTEN)
		return -EINVAL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	go_r = fds[0], go_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	exit_r = fds[0], exit_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	ready_r = fds[0], ready_w = fds[1];
	if (cfg->n_listen) {
		/* The API socket lives in a root-only directory of its own, only while we use it. */
		snprintf(dir, sizeof(dir), "/tmp/capbus-netstack.XXXXXX");
		if (!mkdtemp(dir))
			return negative_errno();
		snprintf(api, sizeof(api), "%s/api.sock", dir);
	}

	snprintf(pidstr, sizeof(pidstr), "%d", (int)target);
	snprintf(exitarg, sizeof(exitarg), "--exit-fd=%d", EXIT_FD);
	snprintf(readyarg, sizeof(readyarg), "--ready-fd=%d", READY_FD);
	argv[a++] = (char *)"slirp4netns";
	argv[a++] = (char *)"--configure";
	argv[a++] = (char *)"--mtu=65520";
	if (!cfg->host_loopback)
		argv[a++] = (char *)"--disable-host-loopback";
	argv[a++] = (char *)"--enable-sandbox";
	argv[a++] = (char *)"--enable-seccomp";
	argv[a++] = exitarg;
	argv[a++] = readyarg;
	if (api[0]) {
		argv[a++] = (char *)"--api-socket";
		argv[a++] = api;
	}
	argv[a++] = pidstr;
	argv[a++] = (char *)"tap0";
	argv[a] = NULL;

	pid_t pid = (pid_t)sb_clone3(&args);
	if (pid < 0) {
		r = negative_errno();
		remove_api_dir(dir, api);
		return r;
	}
	if (pid == 0)
		exec_stack(argv, go_r, exit_r, ready_w);
	close(TAKE_FD(go_r));
	close(TAKE_FD(exit_r));
	close(TAKE_FD(ready_w));

	int64_t deadline = now_ms() + READY_TIMEOUT_MS;
	char b = 0;
	r = cg_set_join_v1(cg, pid);
	if (r == 0 && write(go_w, "g", 1) != 1)
		r = -EIO;
	if (r == 0) {
		struct pollfd p = { .fd = ready_r, .events = POLLIN };
		int left;

		while ((left = (int)(deadline - now_ms())) > 0 && (r = poll(&p, 1, left)) < 0 && errno == EINTR)
			;
		if (left <= 0 || r == 0)
			r = -ETIMEDOUT;
		else if (r < 0)
			r = negative_errno();
		else
			r = read(ready_r, &b, 1) == 1 && b == '1' ? 0 : -EIO; /* EOF: it exited first */
	}
	if (r == 0 && api[0])
		r = forward_ports(cfg, api, deadline);
	remove_api_dir(dir, api);
	if (r < 0) {
		(void)pidfd_signal(pidfd, SIGKILL);
		reap(pidfd);
		return r;
	}
	ns->pid = pid;
	ns->pidfd = TAKE_FD(pidfd);
	ns->exit_w = TAKE_FD(exit_w);
	return 0;
}

void netstack_stop(struct netstack *ns)
{
	if (ns->pidfd >= 0) {
		/* It keeps no state worth a clean exit, and SIGKILL cannot be ignored or delayed;
		 * --exit-fd (closed below) is for a launcher that dies without getting here. */
		(void)pidfd_signal(ns->pidfd, SIGKILL);
		reap(ns->pidfd);
		close(ns->pidfd);
	}
	if (ns->exit_w >= 0)
		close(ns->exit_w);
	*ns = (struct netstack)NETSTACK_INIT;
}
