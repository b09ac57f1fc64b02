/* SPDX-License-Identifier: MIT */
/* test-ingress.c - the remote transport's source-address allow-list against the real kernel.
 *
 * Listeners are created inside capbus-test-PID-ingress/gw (a socket belongs to the cgroup it was
 * created in), clients connect over loopback from 127.0.0.1 or 127.0.0.2 (or ::1). A refused
 * client's SYN is dropped: its non-blocking connect never completes and the drop counter moves.
 * Needs root: exit 77 otherwise (fail when CI=true). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>

#include "cgroupfs.h"
#include "guard-testlib.h"
#include "guard.h"
#include "util.h"

/* Non-blocking connect from src (NULL: kernel's choice) to dst:port. Returns the socket, which
 * is connected or still in progress. */
static int start_connect(const char *src, const char *dst, uint16_t port)
{
	struct sockaddr_storage ss = {}, bs = {};
	socklen_t len, blen = 0;
	bool v6 = strchr(dst, ':') != NULL;
	int fd;

	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss, *b = (struct sockaddr_in6 *)&bs;

		a->sin6_family = b->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		REQUIRE(inet_pton(AF_INET6, dst, &a->sin6_addr) == 1);
		REQUIRE(!src || inet_pton(AF_INET6, src, &b->sin6_addr) == 1);
		len = blen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss, *b = (struct sockaddr_in *)&bs;

		a->sin_family = b->sin_family = AF_INET;
		a->sin_port = htons(port);
		REQUIRE(inet_pton(AF_INET, dst, &a->sin_addr) == 1);
		REQUIRE(!src || inet_pton(AF_INET, src, &b->sin_addr) == 1);
		len = blen = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	REQUIRE(fd >= 0);
	if (src)
		REQUIRE(bind(fd, (struct sockaddr *)&bs, blen) == 0);
	REQUIRE(connect(fd, (struct sockaddr *)&ss, len) == 0 || errno == EINPROGRESS);
	return fd;
}

static bool connected_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int err = 0;
	socklen_t elen = sizeof(err);

	if (poll(&p, 1, ms) != 1)
		return false;
	REQUIRE(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0);
	return err == 0;
}

/* Wait (bounded) for the drop counter to pass `above`; the SYN on loopback is handled at once,
 * the bound only keeps a broken kernel from hanging the test. */
static uint64_t wait_dropped(const struct ingress *in, uint64_t above)
{
	struct ingress_stats st = {};

	for (int i = 0; i < 200; i++) {
		REQUIRE_EQ(ingress_get_stats(in, &st), 0);
		if (st.dropped > above)
			break;
		poll(NULL, 0, 10);
	}
	return st.dropped;
}

static void test_parse(void)
{
	struct ingress_net n, keep = {.prefix_len = 99};

	REQUIRE_EQ(ingress_net_parse("192.168.1.0/24", &n), 0);
	REQUIRE(n.family == 4 && n.prefix_len == 24);
	REQUIRE_EQ(ingress_net_parse("10.0.0.7", &n), 0);
	REQUIRE(n.family == 4 && n.prefix_len == 32);
	REQUIRE_EQ(ingress_net_parse("0.0.0.0/0", &n), 0);
	REQUIRE(n.prefix_len == 0);
	REQUIRE_EQ(ingress_net_parse("2001:db8::/32", &n), 0);
	REQUIRE(n.family == 6 && n.prefix_len == 32);
	REQUIRE_EQ(ingress_net_parse("::1", &n), 0);
	REQUIRE(n.family == 6 && n.prefix_len == 128);

	static const char *const bad[] = {
		"", "/24", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08",
		"10.0.0.0/8/8", "10.0.0.0 /8", "::1/129", "2001:db8::1/32", "host.example", "10.0.0",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		n = keep;
		if (ingress_net_parse(bad[i], &n) != -EINVAL) {
			fprintf(stderr, "accepted bad network '%s'\n", bad[i]);
			REQUIRE(!"bad network accepted");
		}
		REQUIRE(n.prefix_len == 99);
	}
}

int main(void)
{
	static const char *const children[] = {"gw", NULL};
	_cleanup_close_ int gwfd = -1;
	struct ingress *in = NULL;
	struct ingress_net nets[2];
	struct tl_subtree t;
	char own[PATH_MAX], gw[PATH_MAX];
	uint16_t p4 = 0, p6 = 0, pfree = 0;
	int l4, l6, lfree, c;
	uint64_t d;

	test_parse();
	tl_require_kernel_guard();
	REQUIRE(cgroup_v2_path_of_pid(0, own, sizeof(own)) == 0);
	REQUIRE(tl_subtree_create(&t, "ingress", children) == 0);
	tl_path(&t, "gw", gw, sizeof(gw));
	gwfd = open(gw, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(gwfd >= 0);

	/* The gateway's listening sockets belong to gw/. */
	REQUIRE_EQ(tl_enter_cgroup(gw), 0);
	l4 = tl_listen_inet(SOCK_STREAM, "0.0.0.0", &p4);
	l6 = tl_listen_inet(SOCK_STREAM, "::1", &p6);
	lfree = tl_listen_inet(SOCK_STREAM, "0.0.0.0", &pfree);
	REQUIRE_EQ(tl_enter_cgroup(own), 0);
	REQUIRE(l4 >= 0 && l6 >= 0 && lfree >= 0);

	/* IPv4: only 127.0.0.1/32 may reach p4. */
	REQUIRE_EQ(ingress_net_parse("127.0.0.1/32", &nets[0]), 0);
	REQUIRE_EQ(ingress_attach(&in, gwfd, p4, nets, 1), 0);
	c = start_connect("127.0.0.1", "127.0.0.1", p4);
	REQUIRE(connected_within(c, 2000));
	close(c);
	c = start_connect("127.0.0.2", "127.0.0.1", p4);
	d = wait_dropped(in, 0);
	REQUIRE(d >= 1);
	REQUIRE(!connected_within(c, 0));
	close(c);
	/* Other ports of the same cgroup are not filtered. */
	c = start_connect("127.0.0.2", "127.0.0.1", pfree);
	REQUIRE(connected_within(c, 2000));
	close(c);
	/* A wider network admits 127.0.0.2 too. */
	ingress_free(in);
	in = NULL;
	REQUIRE_EQ(ingress_net_parse("127.0.0.0/8", &nets[0]), 0);
	REQUIRE_EQ(ingress_attach(&in, gwfd, p4, nets, 1), 0);
	c = start_connect("127.0.0.2", "127.0.0.1", p4);
	REQUIRE(connected_within(c, 2000));
	close(c);
	ingress_free(in);
	in = NULL;

	/* IPv6: a list without ::1 refuses it; with ::1 admits it. */
	REQUIRE_EQ(ingress_net_parse("2001:db8::/32", &nets[0]), 0);
	REQUIRE_EQ(ingress_attach(&in, gwfd, p6, nets, 1), 0);
	c = start_connect(NULL, "::1", p6);
	REQUIRE(wait_dropped(in, 0) >= 1);
	REQUIRE(!connected_within(c, 0));
	close(c);
	ingress_free(in);
	in = NULL;
	REQUIRE_EQ(ingress_net_parse("::1/128", &nets[1]), 0);
	REQUIRE_EQ(ingress_attach(&in, gwfd, p6, nets, 2), 0);
	c = start_connect(NULL, "::1", p6);
	REQUIRE(connected_within(c, 2000));
	close(c);
	ingress_free(in);
	in = NULL;

	/* Empty list: nobody; freed: everybody again. */
	REQUIRE_EQ(ingress_attach(&in, gwfd, p4, NULL, 0), 0);
	c = start_connect("127.0.0.1", "127.0.0.1", p4);
	REQUIRE(wait_dropped(in, 0) >= 1);
	REQUIRE(!connected_within(c, 0));
	close(c);
	ingress_free(in);
	in = NULL;
	c = start_connect("127.0.0.2", "127.0.0.1", p4);
	REQUIRE(connected_within(c, 2000));
	close(c);

	REQUIRE_EQ(ingress_attach(&in, gwfd, 0, NULL, 0), -EINVAL);
	nets[0].family = 5;
	REQUIRE_EQ(ingress_attach(&in, gwfd, p4, nets, 1), -EINVAL);
	REQUIRE(in == NULL);

	close(l4);
	close(l6);
	close(lfree);
	tl_subtree_remove(&t);
	return check_finish("test-ingress");
}
