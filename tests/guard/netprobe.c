// SPDX-License-Identifier: MIT
/* netprobe.c - a skill for the guard tests: tries network actions from inside its sandbox and
 * reports each outcome over the bus connection it inherited.
 *
 *   netprobe ACTION...
 *
 * ACTION is one of
 *   tcp4:A.B.C.D:PORT   socket(AF_INET, SOCK_STREAM) + connect (+ a line of text when connected)
 *   tcp6:[ADDR]:PORT    the same over AF_INET6
 *   udp4:A.B.C.D:PORT   socket(AF_INET, SOCK_DGRAM) + sendto
 *   unix:@NAME|PATH     socket(AF_UNIX, SOCK_STREAM) + connect
 *   bind4:A.B.C.D:PORT  socket(AF_INET, SOCK_STREAM) + bind + listen (a service on a fixed port)
 *
 * Every round (ROUNDS times, ROUND_MS apart) each action is tried afresh and reported as
 *   {"type": "probe.result", "data": {"action": A, "step": "socket"|"connect"|"done",
 *    "errno": N, "errname": "EPERM", "round": R}}
 * so that a listener that subscribes late still sees every action. step "done" with errno 0
 * means the action succeeded; otherwise step says which call failed with errno.
 */
#include <capbus.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 200
#define ROUND_MS 250

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENETUNREACH: return "ENETUNREACH";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EADDRINUSE: return "EADDRINUSE";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINPROGRESS: return "EINPROGRESS";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	default: return "other";
	}
}

struct outcome {
	const char *step;
	int err;
};

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Parses "A.B.C.D:PORT" or "[ADDR]:PORT". */
static int parse_inet(const char *s, int family, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	int port = atoi(colon + 1);
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	size_t n = strlen(host);
	if (n < 2 || host[0] != '[' || host[n - 1] != ']')
		return -1;
	host[n - 1] = '\0';
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	*len = sizeof(*sin6);
	return inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) == 1 ? 0 : -1;
}

static struct outcome try_inet(const char *spec, int family, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct outcome o = { "parse", EINVAL };

	if (parse_inet(spec, family, &ss, &len) < 0)
		return o;
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (struct outcome){ "socket", errno };
	set_timeouts(fd);
	if (type == SOCK_DGRAM) {
		if (sendto(fd, "probe\n", 6, 0, (struct sockaddr *)&ss, len) < 0)
			o = (struct outcome){ "sendto", errno };
		else
			o = (struct outcome){ "done", 0 };
	} else if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		o = (struct outcome){ "connect", errno };
	} else {
		/* Tell the listener who this is; it checks that the probe really got through. */
		(void)!write(fd, "netprobe\n", 9);
		o = (struct outcome){ "done", 0 };
	}
	close(fd);
	return o;
}

static struct outcome try_bind(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (parse_inet(spec, AF_INET, &ss, &len) < 0)
		return (struct outcome){ "parse", EINVAL };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (struct outcome){ "socket", errno };
	struct outcome o = { "done", 0 };
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		o = (struct outcome){ "bind", errno };
	else if (listen(fd, 1) < 0)
		o = (struct outcome){ "listen", errno };
	close(fd);
	return o;
}

static struct outcome try_unix(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	socklen_t len;

	if (n < 2 || n >= sizeof(sa.sun_path))
		return (struct outcome){ "parse", EINVAL };
	if (name[0] == '@') {
		memcpy(sa.sun_path + 1, name + 1, n - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		memcpy(sa.sun_path, name, n);
		len = sizeof(sa);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (struct outcome){ "socket", errno };
	struct outcome o = { "done", 0 };
	if (connect(fd, (struct sockaddr *)&sa, len) < 0)
		o = (struct outcome){ "connect", errno };
	close(fd);
	return o;
}

static struct outcome run_action(const char *a)
{
	if (strncmp(a, "tcp4:", 5) == 0)
		return try_inet(a + 5, AF_INET, SOCK_STREAM);
	if (strncmp(a, "tcp6:", 5) == 0)
		return try_inet(a + 5, AF_INET6, SOCK_STREAM);
	if (strncmp(a, "udp4:", 5) == 0)
		return try_inet(a + 5, AF_INET, SOCK_DGRAM);
	if (strncmp(a, "unix:", 5) == 0)
		return try_unix(a + 5);
	if (strncmp(a, "bind4:", 6) == 0)
		return try_bind(a + 6);
	return (struct outcome){ "parse", EINVAL };
}

int main(int argc, char **argv)
{
	capbus *bus = NULL;
	char data[512];

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	int r = capbus_open(&bus, NULL, NULL);
	if (r != 0) {
		fprintf(stderr, "netprobe: cannot open the bus: %s\n", capbus_strerror(r));
		return 1;
	}
	for (int round = 0; round < ROUNDS && !stop_requested; round++) {
		for (int i = 1; i < argc && !stop_requested; i++) {
			struct outcome o = run_action(argv[i]);
			/* Actions come from the test's manifest: plain ASCII without quotes. */
			snprintf(data, sizeof(data),
				 "{\"action\": \"%s\", \"step\": \"%s\", \"errno\": %d, \"errname\": \"%s\", \"round\": %d}",
				 argv[i], o.step, o.err, errname(o.err), round);
			r = capbus_send(bus, "probe.result", data);
			if (r != 0) {
				fprintf(stderr, "netprobe: send: %s\n", capbus_strerror(r));
				capbus_close(bus);
				return 1;
			}
		}
		struct timespec ts = { .tv_sec = 0, .tv_nsec = ROUND_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	capbus_close(bus);
	return 0;
}
