/* SPDX-License-Identifier: MIT */
/* test-egress.c - a skill cgroup's egress guard against the real kernel.
 *
 * Subtree capbus-test-PID-egress/{none, net, wild} beneath this process's cgroup; each child
 * cgroup gets its own egress instance; listeners on loopback (v4, v6, and 127.0.0.2) are
 * created by the test process outside the subtree. Needs root and the unix hook: exit 77
 * otherwise (fail when CI=true). */
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#include "guard-testlib.h"
#include "guard.h"
#include "util.h"

struct inet_arg {
	int family;
	int type;
	int protocol;
	const char *addr;
	uint16_t port;
};

static int child_socket(void *p)
{
	const struct inet_arg *a = p;
	int fd = socket(a->family, a->type | SOCK_CLOEXEC, a->protocol);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int child_inet(void *p)
{
	const struct inet_arg *a = p;

	return tl_connect_inet(a->type, a->addr, a->port);
}

/* connect() on a UDP socket: judged by the connect hook like TCP, and sends nothing. */
static int child_udp_connect(void *p)
{
	const struct inet_arg *a = p;
	int family = strchr(a->addr, ':') ? AF_INET6 : AF_INET;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(a->port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(a->port) };
	_cleanup_close_ int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	if (family == AF_INET6 ? inet_pton(AF_INET6, a->addr, &s6.sin6_addr) != 1 : inet_pton(AF_INET, a->addr, &s4.sin_addr) != 1)
		return EINVAL;
	if (family == AF_INET6 ? connect(fd, (struct sockaddr *)&s6, sizeof(s6)) < 0 : connect(fd, (struct sockaddr *)&s4, sizeof(s4)) < 0)
		return errno;
	return 0;
}

static int udp_connect_in(const char *cg, const char *addr, uint16_t port)
{
	struct inet_arg a = {.type = SOCK_DGRAM, .addr = addr, .port = port};

	return tl_run_in(cg, child_udp_connect, &a);
}

static int child_unix_connect(void *p)
{
	return tl_connect_unix(p);
}

static int child_unix_sendto(void *p)
{
	struct sockaddr_un sa;
	socklen_t len = tl_unix_addr(p, &sa);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	if (sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, len) < 0)
		return errno;
	return 0;
}

/* A socketpair made inside the skill cgroup keeps working: no address, no hook. */
static int child_socketpair(void *p)
{
	int sp[2];
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return errno;
	if (write(sp[0], "x", 1) != 1 || read(sp[1], &c, 1) != 1)
		return 220;
	close(sp[0]);
	close(sp[1]);
	return 0;
}

struct bind_arg {
	const char *addr;
	uint16_t port;
};

/* bind a TCP socket of the address's family: 0 or errno. */
static int child_bind(void *p)
{
	const struct bind_arg *a = p;
	uint16_t port = a->port;
	int fd = tl_listen_inet(SOCK_STREAM, a->addr, &port);

	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

static int bind_in(const char *cg, const char *addr, uint16_t port)
{
	struct bind_arg a = {.addr = addr, .port = port};

	return tl_run_in(cg, child_bind, &a);
}

static int connect_in(const char *cg, int type, const char *addr, uint16_t port)
{
	struct inet_arg a = {.type = type, .addr = addr, .port = port};

	return tl_run_in(cg, child_inet, &a);
}

static int socket_in(const char *cg, int family, int type, int protocol)
{
	struct inet_arg a = {.family = family, .type = type, .protocol = protocol};

	return tl_run_in(cg, child_socket, &a);
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	REQUIRE(fd >= 0);
	return fd;
}

struct listeners {
	uint16_t p1, p2, p6a, p6b, pu;
	int fds[8];
	int n;
	bool have_lo2;
};

static void listeners_open(struct listeners *l)
{
	uint16_t port;
	int fd;

	memset(l, 0, sizeof(*l));
	l->fds[l->n++] = tl_listen_inet(SOCK_STREAM, "127.0.0.1", &l->p1);
	l->fds[l->n++] = tl_listen_inet(SOCK_STREAM, "127.0.0.1", &l->p2);
	l->fds[l->n++] = tl_listen_inet(SOCK_STREAM, "::1", &l->p6a);
	l->fds[l->n++] = tl_listen_inet(SOCK_STREAM, "::1", &l->p6b);
	l->fds[l->n++] = tl_listen_inet(SOCK_DGRAM, "127.0.0.1", &l->pu);
	for (int i = 0; i < l->n; i++)
		REQUIRE(l->fds[i] >= 0);
	/* Same port on another loopback address, so a refusal there is the guard's. */
	port = l->p1;
	fd = tl_listen_inet(SOCK_STREAM, "127.0.0.2", &port);
	if (fd >= 0) {
		l->fds[l->n++] = fd;
		l->have_lo2 = true;
	}
}

static void listeners_close(struct listeners *l)
{
	for (int i = 0; i < l->n; i++)
		close(l->fds[i]);
}

static void test_no_network(const struct tl_subtree *t, const char *bus)
{
	_cleanup_(egress_freep) struct egress *e = NULL;
	_cleanup_close_ int cgfd = -1;
	struct egress_stats st;
	char cg[PATH_MAX];

	tl_path(t, "none", cg, sizeof(cg));
	cgfd = open_dir(cg);
	/* Before: all of it works. */
	REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_STREAM, 0), 0);
	REQUIRE_EQ(tl_run_in(cg, child_unix_connect, (void *)bus), 0);

	REQUIRE_EQ(egress_attach(&e, cgfd, NULL, 0), 0);
	REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_STREAM, 0), EPERM);
	REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_DGRAM, 0), EPERM);
	REQUIRE_EQ(socket_in(cg, AF_INET6, SOCK_STREAM, 0), EPERM);
	REQUIRE_EQ(socket_in(cg, AF_INET6, SOCK_DGRAM, 0), EPERM);
	REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM);
	REQUIRE_EQ(tl_run_in(cg, child_unix_connect, (void *)bus), EPERM);
	REQUIRE_EQ(tl_run_in(cg, child_unix_sendto, (void *)bus), EPERM);
	REQUIRE_EQ(tl_run_in(cg, child_socketpair, NULL), 0);
	REQUIRE_EQ(egress_get_stats(e, &st), 0);
	REQUIRE_EQ(st.denied_create, 5);
	REQUIRE_EQ(st.denied_unix, 2);

	egress_free(TAKE_PTR(e));
	REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_STREAM, 0), 0);
}

static void test_rules(const struct tl_subtree *t, const struct listeners *l, const char *bus)
{
	_cleanup_(egress_freep) struct egress *e = NULL;
	_cleanup_close_ int cgfd = -1;
	struct egress_rule rules[3];
	struct egress_stats st;
	char cg[PATH_MAX], spec[64];
	int have_mptcp = socket_in(NULL, AF_INET, SOCK_STREAM, IPPROTO_MPTCP) == 0;
	uint16_t free_port = 0;
	int tmp = tl_listen_inet(SOCK_STREAM, "127.0.0.1", &free_port);

	/* A port that was free a moment ago: binding it would succeed without the guard. */
	REQUIRE(tmp >= 0);
	close(tmp);

	tl_path(t, "net", cg, sizeof(cg));
	cgfd = open_dir(cg);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u", l->p1);
	REQUIRE_EQ(egress_rule_parse(spec, &rules[0]), 0);
	snprintf(spec, sizeof(spec), "tcp:[::1]:%u", l->p6a);
	REQUIRE_EQ(egress_rule_parse(spec, &rules[1]), 0);
	snprintf(spec, sizeof(spec), "udp:127.0.0.1:%u", l->pu);
	REQUIRE_EQ(egress_rule_parse(spec, &rules[2]), 0);
	REQUIRE_EQ(egress_attach(&e, cgfd, rules, ARRAY_SIZE(rules)), 0);

	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.1", l->p1), 0);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.1", l->p2), EPERM);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.2", l->p1), EPERM);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "::1", l->p6a), 0);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "::1", l->p6b), EPERM);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "::2", l->p6a), EPERM);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "::ffff:127.0.0.1", l->p1), EPERM); /* v4-mapped */
	/* UDP: unconnected sendto goes through the sendmsg hook. */
	REQUIRE_EQ(connect_in(cg, SOCK_DGRAM, "127.0.0.1", l->pu), 0);
	REQUIRE_EQ(connect_in(cg, SOCK_DGRAM, "127.0.0.1", l->p2), EPERM);
	/* Families/protocols not granted cannot even be created. */
	REQUIRE_EQ(socket_in(cg, AF_INET6, SOCK_DGRAM, 0), EPERM);
	REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM);
	if (have_mptcp) /* TCP in all but name: still not granted */
		REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_STREAM, IPPROTO_MPTCP), EPERM);
	REQUIRE_EQ(tl_run_in(cg, child_unix_connect, (void *)bus), EPERM);
	/* No listening service on a fixed port; an ephemeral bind is what clients do anyway. */
	REQUIRE_EQ(bind_in(cg, "127.0.0.1", 0), 0);
	REQUIRE_EQ(bind_in(cg, "::1", 0), 0);
	REQUIRE_EQ(bind_in(cg, "127.0.0.1", free_port), EPERM);
	REQUIRE_EQ(bind_in(cg, "::1", free_port), EPERM);

	REQUIRE_EQ(egress_get_stats(e, &st), 0);
	REQUIRE_EQ(st.denied_bind, 2);
	REQUIRE_EQ(st.denied_connect, 5);
	REQUIRE_EQ(st.denied_sendmsg, 1);
	REQUIRE_EQ(st.denied_create, 2 + have_mptcp);
	REQUIRE_EQ(st.denied_unix, 1);

	/* Meanwhile, outside the skill cgroup nothing is filtered. */
	REQUIRE_EQ(connect_in(NULL, SOCK_STREAM, "127.0.0.1", l->p2), 0);
}

/* Wildcards: any port of a named address; any address, except loopback, on a port. The user-mode
 * stack of a networked skill reaches the host's loopback from the skill's cgroup, so "any host"
 * must not cover 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104: only a rule naming the address does.
 * A UDP connect() sends nothing, so a documentation address (192.0.2.1) shows the rule's verdict
 * without any traffic leaving the machine. */
static void test_wildcards(const struct tl_subtree *t, const struct listeners *l)
{
	_cleanup_(egress_freep) struct egress *e = NULL;
	_cleanup_close_ int cgfd = -1;
	struct egress_rule rules[4];
	char cg[PATH_MAX], spec[64];

	tl_path(t, "wild", cg, sizeof(cg));
	cgfd = open_dir(cg);
	snprintf(spec, sizeof(spec), "tcp4:*:%u", l->p1);
	REQUIRE_EQ(egress_rule_parse(spec, &rules[0]), 0);
	REQUIRE_EQ(egress_rule_parse("tcp:127.0.0.1:*", &rules[1]), 0);
	snprintf(spec, sizeof(spec), "udp4:*:%u", l->pu);
	REQUIRE_EQ(egress_rule_parse(spec, &rules[2]), 0);
	snprintf(spec, sizeof(spec), "udp6:*:%u", l->pu);
	REQUIRE_EQ(egress_rule_parse(spec, &rules[3]), 0);
	REQUIRE_EQ(egress_attach(&e, cgfd, rules, ARRAY_SIZE(rules)), 0);

	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.1", l->p2), 0); /* any port of a named address */
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.1", l->p1), 0);
	if (l->have_lo2) /* any address: but not loopback */
		REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.2", l->p1), EPERM);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.2", l->p2), EPERM);
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "::1", l->p6a), EPERM);
	REQUIRE(udp_connect_in(cg, "192.0.2.1", l->pu) != EPERM); /* any address */
	REQUIRE_EQ(udp_connect_in(cg, "192.0.2.1", (uint16_t)(l->pu + 1)), EPERM); /* another port */
	REQUIRE_EQ(udp_connect_in(cg, "127.0.0.1", l->pu), EPERM);
	REQUIRE_EQ(udp_connect_in(cg, "127.9.9.9", l->pu), EPERM);
	REQUIRE_EQ(udp_connect_in(cg, "::1", l->pu), EPERM);
	REQUIRE_EQ(udp_connect_in(cg, "::ffff:127.0.0.1", l->pu), EPERM);
	REQUIRE(udp_connect_in(cg, "2001:db8::1", l->pu) != EPERM);
}

/* The rule kinds that name no destination: a TCP port that may be bound (the manifest's
 * "listen"), and UDP sockets that may exist (the network stack's configuration socket). */
static void test_listen_and_udp_socket(const struct tl_subtree *t, const struct listeners *l)
{
	_cleanup_(egress_freep) struct egress *e = NULL;
	_cleanup_close_ int cgfd = -1;
	uint16_t port = 0, other = 0;
	int a = tl_listen_inet(SOCK_STREAM, "127.0.0.1", &port), b = tl_listen_inet(SOCK_STREAM, "127.0.0.1", &other);
	char cg[PATH_MAX];

	/* Two ports that were free a moment ago. */
	REQUIRE(a >= 0 && b >= 0);
	close(a);
	close(b);
	struct egress_rule rules[] = {
		{ .proto = EGRESS_TCP_LISTEN, .family = 4, .any_addr = true, .port = port },
		{ .proto = EGRESS_UDP_SOCKET, .family = 4, .any_addr = true },
	};
	tl_path(t, "wild", cg, sizeof(cg));
	cgfd = open_dir(cg);
	REQUIRE_EQ(egress_attach(&e, cgfd, rules, ARRAY_SIZE(rules)), 0);

	REQUIRE_EQ(bind_in(cg, "127.0.0.1", port), 0);
	REQUIRE_EQ(bind_in(cg, "127.0.0.1", other), EPERM);
	REQUIRE_EQ(bind_in(cg, "::1", port), EPERM); /* no family-6 rule: no IPv6 socket */
	REQUIRE_EQ(connect_in(cg, SOCK_STREAM, "127.0.0.1", l->p1), EPERM); /* no destination */
	REQUIRE_EQ(socket_in(cg, AF_INET, SOCK_DGRAM, 0), 0);
	REQUIRE_EQ(udp_connect_in(cg, "127.0.0.1", l->pu), EPERM);
	REQUIRE_EQ(socket_in(cg, AF_INET6, SOCK_DGRAM, 0), EPERM);

	struct egress_rule bad[] = {
		{ .proto = EGRESS_TCP_LISTEN, .family = 4, .any_addr = true, .port = 0 },
		{ .proto = EGRESS_TCP_LISTEN, .family = 4, .any_addr = false, .port = port },
		{ .proto = EGRESS_UDP_SOCKET, .family = 4, .any_addr = true, .port = 53 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct egress *x = NULL;
		REQUIRE_EQ(egress_attach(&x, cgfd, &bad[i], 1), -EINVAL);
	}
}

static void test_limits(const struct tl_subtree *t)
{
	struct egress_rule many[65];
	struct egress *e = NULL;
	_cleanup_close_ int cgfd = -1;
	char cg[PATH_MAX];

	tl_path(t, "none", cg, sizeof(cg));
	cgfd = open_dir(cg);
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = (struct egress_rule){.proto = EGRESS_TCP, .family = 4, .any_addr = true,
					       .port = (uint16_t)(i + 1)};
	REQUIRE_EQ(egress_attach(&e, cgfd, many, 65), -E2BIG);
	REQUIRE_EQ(egress_attach(&e, cgfd, many, 64), 0);
	egress_free(e);
	e = NULL;
	many[3].family = 5;
	REQUIRE_EQ(egress_attach(&e, cgfd, many, 4), -EINVAL);
	REQUIRE(e == NULL);
}

int main(void)
{
	static const char *const children[] = {"none", "net", "wild", NULL};
	struct tl_subtree t;
	struct listeners l;
	char bus[64];
	int lfd;

	tl_require_kernel_guard();
	REQUIRE(tl_subtree_create(&t, "egress", children) == 0);
	snprintf(bus, sizeof(bus), "@capbus-test-%d-egress", (int)getpid());
	lfd = tl_listen_abstract(bus + 1);
	REQUIRE(lfd >= 0);
	listeners_open(&l);

	test_no_network(&t, bus);
	test_rules(&t, &l, bus);
	test_wildcards(&t, &l);
	test_listen_and_udp_socket(&t, &l);
	test_limits(&t);

	listeners_close(&l);
	close(lfd);
	tl_subtree_remove(&t);
	return check_finish("test-egress");
}
