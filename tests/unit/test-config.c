// SPDX-License-Identifier: MIT
/* test-config.c - unit tests for busd/common/config.c: strict JSON configuration of capbusd.
 *
 * Each case writes a file into a temporary directory and loads it: defaults, every key,
 * unknown and duplicate keys, wrong types, ranges, trailing bytes, the guard section, and the
 * FILE:LINE:COL position of each error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common/config.h"

static char dir[] = "/tmp/capbus-test-config-XXXXXX";
static char path[128];

/* Loads text; returns the result and keeps the error (or NULL) in *error. */
static int load_len(const char *text, size_t len, struct config *cfg, char **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, text, len) == (ssize_t)len);
	close(fd);
	*error = NULL;
	return config_load(path, cfg, error);
}

static int load(const char *text, struct config *cfg, char **error)
{
	return load_len(text, strlen(text), cfg, error);
}

/* Expects CONFIG_INVALID with an error naming the file and containing `what`. */
static void check_invalid(const char *text, const char *what)
{
	struct config cfg;
	char *error = NULL;
	int r = load(text, &cfg, &error);

	CHECK(r == CONFIG_INVALID);
	if (r != CONFIG_INVALID) {
		fprintf(stderr, "  accepted: %s\n", text);
	} else {
		CHECK(error && strncmp(error, path, strlen(path)) == 0);
		CHECK(error && strstr(error, what) != NULL);
		if (error && !strstr(error, what))
			fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", error, what);
	}
	free(error);
	config_free(&cfg);
}

static void check_defaults(const struct config *cfg)
{
	CHECK_STREQ(cfg->socket, "/run/capbus/bus.sock");
	CHECK_STREQ(cfg->state_dir, "/var/lib/capbus");
	CHECK_STREQ(cfg->manifest_dir, "/etc/capbus/manifests");
	CHECK(cfg->policy_file == NULL);
	CHECK_STREQ(cfg->user, "capbus");
	CHECK(cfg->kernel_guard == KERNEL_GUARD_AUTO);
	CHECK(cfg->log_level == LOG_LEVEL_INFO);
	CHECK(cfg->max_frame == 65536);
	CHECK(cfg->max_depth == 32);
	CHECK(cfg->handshake_timeout_ms == 5000);
	CHECK(cfg->max_connections == 4096);
	CHECK(cfg->max_pending == 256);
	CHECK(cfg->max_queue == 8u * 1024 * 1024);
	CHECK(cfg->byte_rate == 64u * 1024 * 1024);
	CHECK(cfg->socket_mode == 0660);
	CHECK(cfg->max_pending_per_uid == 64 && cfg->max_pending_per_peer == 32);
	CHECK(cfg->max_identity_connections == 128);
	CHECK(cfg->max_subscriptions == 1024 && cfg->max_subscription_bytes == 512u * 1024);
	CHECK(cfg->max_identity_subscriptions == 4096 && cfg->max_identity_subscription_bytes == 2u * 1024 * 1024);
	CHECK(cfg->max_partial_bytes == UINT64_C(256) << 20 && cfg->max_identity_partial_bytes == UINT64_C(64) << 20);
}

static void test_defaults(void)
{
	struct config cfg;
	char *error = NULL;

	CHECK(config_load(NULL, &cfg, &error) == 0);
	CHECK(error == NULL);
	check_defaults(&cfg);
	config_free(&cfg);
	CHECK(cfg.socket == NULL);

	CHECK(load("{}", &cfg, &error) == 0);
	check_defaults(&cfg);
	config_free(&cfg);
	CHECK(load(" \n{ }\n", &cfg, &error) == 0);
	config_free(&cfg);

	CHECK(config_defaults_in("/tmp/demo", &cfg) == 0);
	CHECK_STREQ(cfg.socket, "/tmp/demo/run/bus.sock");
	CHECK_STREQ(cfg.state_dir, "/tmp/demo/state");
	CHECK(cfg.max_frame == 65536);
	config_free(&cfg);
}

static void test_all_keys(void)
{
	struct config cfg;
	char *error = NULL;
	const char *text =
		"{\"socket\": \"@capbus-test\", \"state_dir\": \"/s\", \"manifest_dir\": \"/m\",\n"
		" \"policy_file\": \"/p.json\", \"user\": \"nobody\", \"kernel_guard\": \"required\",\n"
		" \"log_level\": \"debug\", \"max_frame\": 256, \"max_depth\": 128,\n"
		" \"handshake_timeout_ms\": 600000, \"max_connections\": 1, \"max_pending\": 100000,\n"
		" \"max_queue\": 17179869184, \"byte_rate\": 1099511627776, \"socket_mode\": 384}";

	CHECK(load(text, &cfg, &error) == 0);
	CHECK(error == NULL);
	CHECK_STREQ(cfg.socket, "@capbus-test");
	CHECK_STREQ(cfg.state_dir, "/s");
	CHECK_STREQ(cfg.manifest_dir, "/m");
	CHECK_STREQ(cfg.policy_file, "/p.json");
	CHECK_STREQ(cfg.user, "nobody");
	CHECK(cfg.kernel_guard == KERNEL_GUARD_REQUIRED);
	CHECK(cfg.log_level == LOG_LEVEL_DEBUG);
	CHECK(cfg.max_frame == 256);
	CHECK(cfg.max_depth == 128);
	CHECK(cfg.handshake_timeout_ms == 600000);
	CHECK(cfg.max_connections == 1);
	CHECK(cfg.max_pending == 100000);
	CHECK(cfg.max_queue == UINT64_C(1) << 34);
	CHECK(cfg.byte_rate == UINT64_C(1) << 40);
	CHECK(cfg.socket_mode == 0600);
	config_free(&cfg);

	CHECK(load("{\"kernel_guard\": \"off\", \"log_level\": \"error\", \"socket_mode\": 432}", &cfg, &error) == 0);
	CHECK(cfg.kernel_guard == KERNEL_GUARD_OFF && cfg.log_level == LOG_LEVEL_ERROR && cfg.socket_mode == 0660);
	config_free(&cfg);
	CHECK(load("{\"log_level\": \"warning\", \"kernel_guard\": \"auto\"}", &cfg, &error) == 0);
	CHECK(cfg.kernel_guard == KERNEL_GUARD_AUTO && cfg.log_level == LOG_LEVEL_WARNING);
	config_free(&cfg);
	/* Lower bounds and the largest socket path. */
	char sock[256];
	snprintf(sock, sizeof(sock), "{\"socket\": \"/%0106d\", \"max_depth\": 2, \"max_frame\": 16777216}", 0);
	CHECK(load(sock, &cfg, &error) == 0);
	CHECK(strlen(cfg.socket) == 107 && cfg.max_depth == 2 && cfg.max_frame == 16777216);
	config_free(&cfg);
	/* The largest max_frame with the smallest byte_rate that can still carry it. */
	CHECK(load("{\"max_frame\": 2048, \"byte_rate\": 2068}", &cfg, &error) == 0);
	CHECK(cfg.max_frame == 2048 && cfg.byte_rate == 2068);
	config_free(&cfg);
}

/* Shares and caps: derived from the limits above them when left out, refused when set above them. */
static void test_limits(void)
{
	struct config cfg;
	char *error = NULL;

	CHECK(load("{\"max_pending\": 16}", &cfg, &error) == 0);
	CHECK(cfg.max_pending_per_uid == 4 && cfg.max_pending_per_peer == 2);
	config_free(&cfg);
	CHECK(load("{\"max_pending\": 1}", &cfg, &error) == 0);
	CHECK(cfg.max_pending_per_uid == 1 && cfg.max_pending_per_peer == 1);
	config_free(&cfg);
	CHECK(load("{\"max_pending\": 16, \"max_pending_per_peer\": 8}", &cfg, &error) == 0);
	CHECK(cfg.max_pending_per_uid == 8 && cfg.max_pending_per_peer == 8);
	config_free(&cfg);
	CHECK(load("{\"max_pending_per_uid\": 200, \"max_pending_per_peer\": 200}", &cfg, &error) == 0);
	CHECK(cfg.max_pending_per_uid == 200 && cfg.max_pending_per_peer == 200);
	config_free(&cfg);
	CHECK(load("{\"max_connections\": 10}", &cfg, &error) == 0);
	CHECK(cfg.max_identity_connections == 10);
	config_free(&cfg);
	CHECK(load("{\"max_subscriptions\": 10000, \"max_subscription_bytes\": 4194304}", &cfg, &error) == 0);
	CHECK(cfg.max_identity_subscriptions == 10000 && cfg.max_identity_subscription_bytes == 4194304);
	config_free(&cfg);
	CHECK(load("{\"max_identity_subscriptions\": 100, \"max_identity_subscription_bytes\": 2048}", &cfg, &error) == 0);
	CHECK(cfg.max_subscriptions == 100 && cfg.max_subscription_bytes == 2048);
	config_free(&cfg);
	/* The identity's share of partial-frame bytes follows a smaller whole. */
	CHECK(load("{\"max_partial_bytes\": 1048576}", &cfg, &error) == 0);
	CHECK(cfg.max_partial_bytes == 1048576 && cfg.max_identity_partial_bytes == 1048576);
	config_free(&cfg);
	CHECK(load("{\"max_partial_bytes\": 1099511627776, \"max_identity_partial_bytes\": 65556}", &cfg, &error) == 0);
	CHECK(cfg.max_partial_bytes == UINT64_C(1) << 40 && cfg.max_identity_partial_bytes == 65556);
	config_free(&cfg);

	check_invalid("{\"max_pending\": 16, \"max_pending_per_uid\": 17}",
		      "\"max_pending_per_uid\" (17) may not exceed \"max_pending\" (16)");
	check_invalid("{\"max_pending_per_uid\": 20, \"max_pending_per_peer\": 40}",
		      "\"max_pending_per_peer\" (40) may not exceed \"max_pending_per_uid\" (20)");
	check_invalid("{\"max_pending_per_peer\": 1000}", "\"max_pending_per_peer\" (1000) may not exceed \"max_pending\"");
	check_invalid("{\"max_identity_connections\": 5000}",
		      "\"max_identity_connections\" (5000) may not exceed \"max_connections\" (4096)");
	check_invalid("{\"max_subscriptions\": 10, \"max_identity_subscriptions\": 5}", "may not exceed");
	check_invalid("{\"max_subscription_bytes\": 4096, \"max_identity_subscription_bytes\": 2048}",
		      "\"max_subscription_bytes\" (4096) may not exceed");
	check_invalid("{\"max_partial_bytes\": 1048576, \"max_identity_partial_bytes\": 2097152}",
		      "\"max_identity_partial_bytes\" (2097152) may not exceed \"max_partial_bytes\" (1048576)");
	const char *numbers[] = {
		"{\"max_partial_bytes\": 65535}", "{\"max_partial_bytes\": 1099511627777}",
		"{\"max_identity_partial_bytes\": 65535}",
		"{\"max_pending_per_uid\": 0}", "{\"max_pending_per_peer\": 0}", "{\"max_identity_connections\": 0}",
		"{\"max_subscriptions\": 0}", "{\"max_subscription_bytes\": 1023}",
		"{\"max_subscription_bytes\": 1073741825}", "{\"max_identity_subscriptions\": 0}",
		"{\"max_identity_subscription_bytes\": 1023}", "{\"max_identity_subscription_bytes\": -1}",
	};
	for (size_t i = 0; i < ARRAY_LEN(numbers); i++)
		check_invalid(numbers[i], "must be an integer from");
}

static void test_invalid(void)
{
	check_invalid("{\"sockett\": \"/x\"}", "unknown key \"sockett\"");
	check_invalid("{\"Socket\": \"/x\"}", "unknown key");
	check_invalid("{\"max_frame\": 1024, \"max_frame\": 2048}", "duplicate key \"max_frame\"");
	check_invalid("{\"user\": \"a\", \"socket\": \"/x\", \"user\": \"b\"}", "duplicate key \"user\"");

	/* Not an object, or not JSON. */
	check_invalid("", "not a JSON object");
	check_invalid("[]", "not a JSON object");
	check_invalid("\"socket\"", "not a JSON object");
	check_invalid("{\"socket\": }", "not a JSON object");
	check_invalid("{\"socket\": \"/x\",}", "not a JSON object");

	/* Strings. */
	check_invalid("{\"socket\": 1}", "non-empty string");
	check_invalid("{\"user\": \"\"}", "non-empty string");
	check_invalid("{\"user\": null}", "non-empty string");
	check_invalid("{\"state_dir\": \"var/lib\"}", "absolute path");
	check_invalid("{\"manifest_dir\": \"./m\"}", "absolute path");
	check_invalid("{\"policy_file\": \"p.json\"}", "absolute path");
	check_invalid("{\"socket\": \"bus.sock\"}", "\"socket\"");
	check_invalid("{\"socket\": \"@\"}", "\"socket\"");
	char sock[256];
	snprintf(sock, sizeof(sock), "{\"socket\": \"/%0107d\"}", 0);
	check_invalid(sock, "at most 107");
	snprintf(sock, sizeof(sock), "{\"socket\": \"@%0107d\"}", 0);
	check_invalid(sock, "at most 107");

	/* Numbers: type, integer, range. */
	const char *numbers[] = {
		"{\"max_frame\": 255}", "{\"max_frame\": 16777217}", "{\"max_frame\": \"1024\"}",
		"{\"max_frame\": 1024.5}", "{\"max_frame\": -1}", "{\"max_frame\": true}", "{\"max_frame\": null}",
		"{\"max_frame\": 1e300}", "{\"max_depth\": 1}", "{\"max_depth\": 129}",
		"{\"handshake_timeout_ms\": 49}", "{\"handshake_timeout_ms\": 600001}",
		"{\"max_connections\": 0}", "{\"max_connections\": 1000001}", "{\"max_pending\": 0}",
		"{\"max_pending\": 100001}", "{\"max_queue\": 4095}", "{\"max_queue\": 17179869185}",
		"{\"byte_rate\": 1023}", "{\"byte_rate\": 1099511627777}", "{\"byte_rate\": 18446744073709551616}",
	};
	for (size_t i = 0; i < ARRAY_LEN(numbers); i++)
		check_invalid(numbers[i], "must be an integer from");

	check_invalid("{\"kernel_guard\": \"on\"}", "\"kernel_guard\" must be");
	check_invalid("{\"kernel_guard\": true}", "\"kernel_guard\" must be");
	check_invalid("{\"kernel_guard\": \"\"}", "\"kernel_guard\" must be");
	check_invalid("{\"log_level\": \"verbose\"}", "\"log_level\" must be");
	check_invalid("{\"log_level\": 1}", "\"log_level\" must be");
	check_invalid("{\"log_level\": \"INFO\"}", "\"log_level\" must be");
	check_invalid("{\"socket_mode\": 420}", "\"socket_mode\" must be");
	check_invalid("{\"socket_mode\": \"0600\"}", "\"socket_mode\" must be");
	check_invalid("{\"socket_mode\": 0}", "\"socket_mode\" must be");
}

/* Expects CONFIG_INVALID with exactly "<path>:" + where_what, e.g. "1:2: unknown key ...". */
static void check_error(const char *text, const char *where_what)
{
	struct config cfg;
	char *error = NULL;
	char want[512];

	snprintf(want, sizeof(want), "%s:%s", path, where_what);
	CHECK(load(text, &cfg, &error) == CONFIG_INVALID);
	CHECK(error && strcmp(error, want) == 0);
	if (!error || strcmp(error, want) != 0)
		fprintf(stderr, "  for %s\n  got  %s\n  want %s\n", text, error ? error : "(none)", want);
	free(error);
	config_free(&cfg);
}

/* Errors point at the offending key or value, as manifest errors do. */
static void test_positions(void)
{
	check_error("{\"sockett\": \"/x\"}", "1:2: unknown key \"sockett\" in the configuration");
	check_error("{\n  \"user\": \"a\",\n  \"user\": \"b\"\n}", "3:3: duplicate key \"user\" in the configuration");
	check_error("{\"log_level\": \"info\",\n \"max_frame\": \"1024\"}",
		    "2:15: \"max_frame\" must be an integer from 256 to 16777216");
	check_error("{\"max_queue\": 1e4}", "1:15: \"max_queue\" must be an integer from 4096 to 17179869184");
	check_error("{\"state_dir\": \"s\"}", "1:15: \"state_dir\" must be an absolute path");
	check_error("{\"user\": []}", "1:10: \"user\" must be a non-empty string");
	check_error("{\"kernel_guard\": \"on\"}", "1:18: \"kernel_guard\" must be \"required\", \"auto\" or \"off\"");
	check_error("{\"socket\": \"rel\"}", "1:12: \"socket\" must be an absolute path or @name, at most 107 bytes");
	/* Limits that contradict each other: the error points at byte_rate, or at max_frame when
	 * byte_rate is left at its default. */
	check_error("{\"max_frame\": 65536, \"byte_rate\": 1024}",
		    "1:35: \"byte_rate\" (1024) must be at least max_frame + 20 (65556): a message of max_frame bytes could never be sent");
	check_error("{\"byte_rate\": 2067,\n \"max_frame\": 2048}",
		    "1:15: \"byte_rate\" (2067) must be at least max_frame + 20 (2068): a message of max_frame bytes could never be sent");
	check_error("{\"max_frame\": 2048, \"byte_rate\": 1024}",
		    "1:34: \"byte_rate\" (1024) must be at least max_frame + 20 (2068): a message of max_frame bytes could never be sent");
	/* One frame of max_frame bytes must fit an identity's partial-frame bytes: the error points at
	 * max_identity_partial_bytes when the file sets it, else at max_partial_bytes. */
	check_error("{\"max_identity_partial_bytes\": 65555}",
		    "1:32: \"max_identity_partial_bytes\" (65555) must be at least max_frame + 20 (65556): a message of max_frame bytes could never be received");
	check_error("{\"max_partial_bytes\": 65536}",
		    "1:23: \"max_identity_partial_bytes\" (65536) must be at least max_frame + 20 (65556): a message of max_frame bytes could never be received");
	check_error("{\"max_identity_partial_bytes\": 1048576, \"max_frame\": 16777216, \"byte_rate\": 16777236}",
		    "1:32: \"max_identity_partial_bytes\" (1048576) must be at least max_frame + 20 (16777236): a message of max_frame bytes could never be received");
	/* Columns count characters, not bytes. */
	check_error("{\"user\": \"\xc3\xa9\", \"x\": 1}", "1:15: unknown key \"x\" in the configuration");

	/* Syntax, encoding and the top-level type. */
	check_error("", "1:1: not a JSON object: expected a value");
	check_error("{\"socket\": \"/x\",}", "1:17: not a JSON object: expected a string key");
	check_error("{\n\"user\": \"a\" \"socket\": 1}", "2:13: not a JSON object: expected ',' or '}'");
	check_error("{\"user\": \"\xff\"}", "1:11: not a JSON object: invalid UTF-8");
	check_error(" [1]", "1:2: the configuration is an array, not a JSON object");
	check_error("{\"guard\": {\"a\": {\"b\": {\"c\": {\"d\": {\"e\": {\"f\": {\"g\": {\"h\": {\"i\": {\"j\": {\"k\": {\"l\": "
		    "{\"m\": {\"n\": {\"o\": {}}}}}}}}}}}}}}}}}",
		    "1:101: not a JSON object: nesting too deep");

	/* The guard section. */
	check_error("{\"guard\": {\"allow_uid\": [0]}}", "1:12: unknown key \"allow_uid\" in guard");
	check_error("{\"guard\": {\"scope\": \"/a\", \"scope\": \"/b\"}}", "1:27: duplicate key \"scope\" in guard");
	check_error("{\"guard\": []}", "1:11: guard must be an object, not an array");
	check_error("{\"guard\": {\"scope\": \"a/b\"}}", "1:21: \"guard.scope\" must be a cgroup v2 path such as \"/system.slice\"");
	check_error("{\"guard\": {\"allow_uids\": [0, 1000, -1]}}",
		    "1:36: \"guard.allow_uids\" entries must be uids (0 to 4294967294)");
	check_error("{\"guard\": {\"allow_uids\": [4294967295]}}",
		    "1:27: \"guard.allow_uids\" entries must be uids (0 to 4294967294)");
	check_error("{\"guard\": {\"allow_uids\": 0}}", "1:26: \"guard.allow_uids\" must be an array of at most 1024 uids");
	check_error("{\"guard\": {\"allow_cgroups\": [\"/a\", \"/b/../c\"]}}",
		    "1:36: \"guard.allow_cgroups\" entries must be cgroup v2 paths such as \"/user.slice\"");
	check_error("{\"guard\": {\"simulate_missing_hook\": 1}}",
		    "1:37: \"guard.simulate_missing_hook\" must be true or false");
	check_error("{\"gateway\": {\"supervise\": \"no\"}}", "1:27: gateway.supervise: must be true or false");
	check_error("{\"gateway\": {\"superviser\": false}}", "1:14: unknown key \"superviser\" in gateway");
	check_error("{\"gateway\": true}", "1:13: gateway must be an object, not a boolean");
}

/* The "gateway" object turns delegated sessions on; supervise picks who may open them. */
static void test_gateway(void)
{
	struct config cfg;
	char *error = NULL;

	CHECK(load("{}", &cfg, &error) == 0);
	CHECK(!cfg.gateway);
	config_free(&cfg);
	/* Supervised (the default) needs somewhere to listen. */
	CHECK(load("{\"gateway\": {}}", &cfg, &error) == CONFIG_INVALID);
	CHECK(error && strstr(error, "gateway.listen"));
	free(error);
	error = NULL;
	config_free(&cfg);
	CHECK(load("{\"gateway\": {\"listen\": [\"127.0.0.1:8181\"], \"plain_loopback\": true}}", &cfg, &error) == 0);
	CHECK(cfg.gateway && cfg.gateway_supervise);
	config_free(&cfg);
	CHECK(load("{\"gateway\": {\"supervise\": false}}", &cfg, &error) == 0);
	CHECK(cfg.gateway && !cfg.gateway_supervise);
	config_free(&cfg);
	CHECK(load("{\"gateway\": {\"supervise\": true, \"listen\": [\"127.0.0.1:8181\"], \"plain_loopback\": true}}",
		   &cfg, &error) == 0);
	CHECK(cfg.gateway && cfg.gateway_supervise);
	config_free(&cfg);
}

static void test_guard(void)
{
	struct config cfg;
	char *error = NULL;

	CHECK(load("{}", &cfg, &error) == 0);
	CHECK(cfg.guard.n_allow_uids == 1 && cfg.guard.allow_uids[0] == 0 && !cfg.guard.scope);
	config_free(&cfg);
	CHECK(load("{\"guard\": {\"scope\": \"/t\", \"allow_cgroups\": [\"/t/ok\", \"/\"],\n"
		   "\"allow_uids\": [0, 4294967294], \"simulate_missing_hook\": true}}", &cfg, &error) == 0);
	CHECK(error == NULL);
	CHECK_STREQ(cfg.guard.scope, "/t");
	CHECK(cfg.guard.n_allow_cgroups == 2);
	CHECK_STREQ(cfg.guard.allow_cgroups[0], "/t/ok");
	CHECK_STREQ(cfg.guard.allow_cgroups[1], "/");
	CHECK(cfg.guard.n_allow_uids == 2 && cfg.guard.allow_uids[0] == 0 && cfg.guard.allow_uids[1] == 4294967294u);
	CHECK(cfg.guard.simulate_missing_hook);
	config_free(&cfg);
	/* An empty uid list allows nobody by uid; a guard without one keeps root. */
	CHECK(load("{\"guard\": {\"allow_uids\": []}}", &cfg, &error) == 0);
	CHECK(cfg.guard.n_allow_uids == 0);
	config_free(&cfg);
	CHECK(load("{\"guard\": {\"simulate_missing_hook\": false}}", &cfg, &error) == 0);
	CHECK(cfg.guard.n_allow_uids == 1 && cfg.guard.allow_uids[0] == 0 && !cfg.guard.simulate_missing_hook);
	config_free(&cfg);

	/* SIGHUP path: only the guard section is taken, and a bad file leaves the old one. */
	struct guard_config g = { 0 };
	CHECK(load("{\"guard\": {\"allow_uids\": [7]}}", &cfg, &error) == 0);
	config_free(&cfg);
	CHECK(config_reload_guard(path, &g, &error) == 0);
	CHECK(g.n_allow_uids == 1 && g.allow_uids[0] == 7);
	CHECK(load("{\"guard\": {\"allow_uids\": [8]}, \"bogus\": 1}", &cfg, &error) == CONFIG_INVALID);
	free(error);
	config_free(&cfg);
	error = NULL;
	CHECK(config_reload_guard(path, &g, &error) == CONFIG_INVALID);
	CHECK(error && strstr(error, ":1:32: unknown key \"bogus\""));
	CHECK(g.n_allow_uids == 1 && g.allow_uids[0] == 7);
	free(error);
	guard_config_free(&g);
}

/* Strictness the parser must not give up: bytes after the object, values that only equal
 * an allowed one after truncation, strings cut at an escaped NUL. */
static void test_strict(void)
{
	check_invalid("{\"max_frame\": 1024} x", "");
	check_invalid("{} {\"user\": \"root\"}", "");
	check_invalid("{\"socket_mode\": 384.5}", "\"socket_mode\" must be");
	check_invalid("{\"user\": \"capbus\\u0000root\"}", "");
	struct config cfg;
	char *error = NULL;
	CHECK(load_len("{}\0{\"user\": \"root\"}", 19, &cfg, &error) == CONFIG_INVALID);
	free(error);
	config_free(&cfg);
}

static void test_files(void)
{
	struct config cfg;
	char *error = NULL;

	CHECK(config_load("/nonexistent-capbus.json", &cfg, &error) == CONFIG_INVALID);
	CHECK(error && strstr(error, "/nonexistent-capbus.json: cannot open"));
	free(error);
	config_free(&cfg);
	CHECK(config_load(dir, &cfg, &error) == CONFIG_INVALID);
	CHECK(error && strstr(error, "not a regular file"));
	free(error);
	config_free(&cfg);

	/* At most 256 KiB. */
	size_t big = 256 * 1024 + 1;
	char *text = malloc(big + 1);
	memset(text, ' ', big);
	text[0] = '{';
	text[big - 1] = '}';
	text[big] = '\0';
	CHECK(load(text, &cfg, &error) == CONFIG_INVALID);
	CHECK(error && strstr(error, "at most"));
	free(error);
	config_free(&cfg);
	text[big - 2] = '}';
	CHECK(load_len(text, big - 1, &cfg, &error) == 0);
	config_free(&cfg);
	free(text);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(path, sizeof(path), "%s/capbusd.json", dir);
	test_defaults();
	test_all_keys();
	test_invalid();
	test_limits();
	test_strict();
	test_positions();
	test_guard();
	test_gateway();
	test_files();
	unlink(path);
	rmdir(dir);
	return check_finish("test-config");
}
