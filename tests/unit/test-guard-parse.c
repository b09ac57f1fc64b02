/* SPDX-License-Identifier: MIT */
/* test-guard-parse.c - the parts of bpf/ that need no privilege: egress rule parsing, argument
 * checks and the forced-unsupported probe. The cgroup helpers the guard uses are linux/'s,
 * tested by tests/unit/test-cgroupfs.c. */
#include <arpa/inet.h>
#include <stdio.h>

#include "guard-testlib.h"
#include "guard.h"
#include "util.h"

static void test_rules(void)
{
	struct egress_rule r, untouched = {.port = 4242};
	struct in_addr lo;
	struct in6_addr lo6;

	inet_pton(AF_INET, "127.0.0.1", &lo);
	inet_pton(AF_INET6, "::1", &lo6);

	REQUIRE(egress_rule_parse("tcp:127.0.0.1:8080", &r) == 0);
	REQUIRE(r.proto == EGRESS_TCP && r.family == 4 && !r.any_addr && r.port == 8080);
	REQUIRE(r.addr.v4.s_addr == lo.s_addr);
	REQUIRE(egress_rule_parse("udp:[::1]:53", &r) == 0);
	REQUIRE(r.proto == EGRESS_UDP && r.family == 6 && !r.any_addr && r.port == 53);
	REQUIRE(memcmp(&r.addr.v6, &lo6, 16) == 0);
	REQUIRE(egress_rule_parse("tcp4:*:443", &r) == 0);
	REQUIRE(r.family == 4 && r.any_addr && r.port == 443);
	REQUIRE(egress_rule_parse("udp6:*:*", &r) == 0);
	REQUIRE(r.family == 6 && r.any_addr && r.port == 0);
	REQUIRE(egress_rule_parse("tcp:10.1.2.3:*", &r) == 0);
	REQUIRE(r.port == 0 && !r.any_addr);
	REQUIRE(egress_rule_parse("tcp6:[2001:db8::1]:65535", &r) == 0);
	REQUIRE(r.port == 65535);

	static const char *const bad[] = {
		"", "tcp", "tcp:", "tcp::80", "tcp:*:80", "sctp:1.2.3.4:1", "tcp:1.2.3.4:0",
		"tcp:1.2.3.4:65536", "tcp:1.2.3.4:+80", "tcp:1.2.3.4:80 ", "tcp:1.2.3.4: 80",
		"tcp:1.2.3:80", "tcp:::1:80", "tcp:[::1]80", "tcp:[::1:80", "tcp:[]:80",
		"tcp4:[::1]:80", "tcp6:1.2.3.4:80", "tcp:[1.2.3.4]:80", "tcp:1.2.3.4:80:1",
		"TCP:1.2.3.4:80", "tcp5:*:1", "udp:1.2.3.4:-1", "tcp:1.2.3.4:0x50",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = untouched;
		if (egress_rule_parse(bad[i], &r) != -EINVAL) {
			fprintf(stderr, "accepted bad rule '%s'\n", bad[i]);
			REQUIRE(!"bad rule accepted");
		}
		REQUIRE(r.port == 4242); /* output untouched on failure */
	}
}

static void test_args(void)
{
	struct guard *g = (struct guard *)0x1;
	struct egress *e = (struct egress *)0x1;
	struct egress_rule r = {.proto = 9, .family = 4};
	char name[200];

	REQUIRE_EQ(guard_probe(GUARD_PROBE_FORCE_UNSUPPORTED), -EOPNOTSUPP);
	REQUIRE_EQ(guard_probe(0x80), -EINVAL);
	REQUIRE_EQ(guard_open(&g, "relative", NULL), -EINVAL);
	REQUIRE_EQ(guard_open(&g, "@", NULL), -EINVAL);
	REQUIRE_EQ(guard_open(&g, "", NULL), -EINVAL);
	REQUIRE_EQ(guard_open(&g, NULL, NULL), -EINVAL);
	memset(name, 'a', sizeof(name));
	name[0] = '@';
	name[109] = 0; /* '@' + 108 bytes: one too many */
	REQUIRE_EQ(guard_open(&g, name, NULL), -EINVAL);
	name[0] = '/';
	REQUIRE_EQ(guard_open(&g, name, NULL), -EINVAL); /* 109 bytes */
	REQUIRE(g == (struct guard *)0x1);
	REQUIRE_EQ(guard_open(&g, "@x", "/nonexistent/capbus-scope"), -ENOENT);
	REQUIRE_EQ(guard_open(&g, "@x", "/tmp"), -EINVAL); /* not a cgroup v2 directory */
	REQUIRE_EQ(egress_attach(&e, 0, &r, 1), -EINVAL);
	REQUIRE_EQ(egress_attach(&e, -1, NULL, 0), -EINVAL);
	REQUIRE_EQ(egress_attach(&e, 0, NULL, 65), -EINVAL);
	REQUIRE(e == (struct egress *)0x1);
	guard_free(NULL);
	egress_free(NULL);
}

int main(void)
{
	test_rules();
	test_args();
	return check_finish("test-guard-parse");
}
