// SPDX-License-Identifier: MIT
/* test-gw-config.c - gateway/gwconfig.c as the gateway reads capbusd's configuration
 * (gw_config_parse): defaults, the daemon-wide values taken from the top level, plain versus
 * TLS per listen address, and one-line errors naming the member, with its position.
 *
 * Links only the gateway's configuration library; capbusd's own use (FILE:LINE:COL at start-up)
 * is tests/gateway/test_gw_config.py. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "gwconfig.h"

static int parse(const char *text, struct gw_config *c, char *err, size_t n)
{
	err[0] = 0;
	return gw_config_parse(text, strlen(text), c, err, n);
}

static void test_good(void)
{
	struct gw_config c;
	char err[256];

	CHECK(parse("{\"socket\":\"@bus\",\"max_frame\":1048576,\"state_dir\":\"/var/lib/x\",\"gateway\":{"
		    "\"listen\":[\"127.0.0.1:8181\",\"[::1]:8181\",\"192.168.1.10:8443\"],\"plain_loopback\":true,"
		    "\"tls\":{\"cert\":\"/nonexistent/c\",\"key\":\"/nonexistent/k\"},"
		    "\"allow_from\":[\"192.168.1.0/24\",\"2001:db8::/32\"],"
		    "\"local\":{\"/system.slice/ovos-audio.service\":\"ovos-audio\"},\"max_message\":0}}",
		    &c, err, sizeof(err)) == 0);
	CHECK_MSG(err[0] == 0, "err %s", err);
	CHECK(c.n_listen == 3 && c.listen[0].port == 8181 && c.listen[0].loopback && !c.listen[0].tls);
	CHECK(c.listen[1].family == AF_INET6 && c.listen[1].loopback && !c.listen[1].tls);
	CHECK(!c.listen[2].loopback && c.listen[2].tls && c.listen[2].port == 8443);
	CHECK_STREQ(c.listen[2].addr, "192.168.1.10");
	/* The gateway does not open the TLS files by path: capbusd hands them over. */
	CHECK(c.has_tls && strcmp(c.tls_cert, "/nonexistent/c") == 0);
	CHECK(c.n_allow_from == 2 && c.allow_from[0].prefix == 24 && c.allow_from[1].family == AF_INET6);
	CHECK(c.n_local == 1 && strcmp(c.local[0].id, "ovos-audio") == 0);
	CHECK_STREQ(c.route, "/core");
	CHECK(c.supervise && c.greeting && c.max_connections == 512 && c.max_per_source == 32);
	CHECK(c.lockout.threshold == 5 && c.lockout_capacity == 4096);
	CHECK_STREQ(c.socket, "@bus");
	CHECK_STREQ(c.state_dir, "/var/lib/x");
	CHECK(c.max_frame == 1048576 && c.max_message == 1048576 && c.handshake_timeout_ms == 5000);
}

static void expect_error(const char *gateway, const char *words)
{
	char text[1024], err[256];
	struct gw_config c;

	snprintf(text, sizeof(text), "{\"gateway\":%s}", gateway);
	CHECK_MSG(parse(text, &c, err, sizeof(err)) == GW_CONFIG_INVALID, "accepted: %s", gateway);
	CHECK_MSG(strstr(err, words) != NULL, "%s: error %s lacks %s", gateway, err, words);
	CHECK_MSG(strncmp(err, "<config>:1:", 11) == 0, "%s: error %s has no position", gateway, err);
}

static void test_errors(void)
{
	struct gw_config c;
	char err[256];

	CHECK(parse("{\"socket\":\"@x\"}", &c, err, sizeof(err)) == -ENOENT);
	CHECK(parse("[1]", &c, err, sizeof(err)) == GW_CONFIG_INVALID);
	expect_error("{}", "gateway.listen: missing");
	/* Only capbusd may leave listen out (supervise false: delegation alone); the gateway cannot. */
	expect_error("{\"supervise\":false}", "gateway.listen: missing");
	expect_error("{\"listen\":[\"127.0.0.1\"],\"plain_loopback\":true}", "gateway.listen[0]");
	expect_error("{\"listen\":[\"127.0.0.1:0181\"],\"plain_loopback\":true}", "port must be");
	expect_error("{\"listen\":[\"127.0.0.1:1023\"],\"plain_loopback\":true}", "port must be");
	expect_error("{\"listen\":[\"[::1:8181\"],\"plain_loopback\":true}", "gateway.listen[0]");
	expect_error("{\"listen\":[\"127.0.0.1:8181\",\"127.0.0.1:8181\"],\"plain_loopback\":true}", "repeats");
	expect_error("{\"listen\":[\"0.0.0.0:8443\"]}", "not a loopback address");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"]}", "plain_loopback");
	expect_error("{\"listen\":[\"::1:8181\"],\"plain_loopback\":true}", "gateway.listen[0]");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"allow_from\":[\"10.0.0.1/8\"]}",
		     "gateway.allow_from[0]");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"route\":\"/core?x\"}", "gateway.route");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"tls\":{\"cert\":\"/c\"}}",
		     "gateway.tls.key: missing");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"local\":{\"/a/..\":\"x\"}}",
		     "cgroup v2 path");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"local\":{\"/a\":\"no spaces\"}}",
		     "valid identity");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"max_message\":70000}", "max_frame");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"max_per_source\":600}", "max_connections");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"max_buffered\":1000}", "gateway.max_buffered");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"lockout\":{\"base_s\":10,\"max_s\":5}}",
		     "max_s");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":1}", "gateway.plain_loopback");
	expect_error("{\"listen\":[\"127.0.0.1:8181\"],\"plain_loopback\":true,\"bogus\":1}", "unknown key");
}

int main(void)
{
	test_good();
	test_errors();
	return check_finish("test-gw-config");
}
