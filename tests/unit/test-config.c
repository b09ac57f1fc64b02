// SPDX-License-Identifier: MIT
/* test-config.c - unit tests for busd/config.c: strict JSON configuration of capbusd.
 *
 * Each case writes a file into a temporary directory and loads it: defaults, every key,
 * unknown and duplicate keys, wrong types, ranges, and trailing bytes. */
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
	test_strict();
	test_files();
	unlink(path);
	rmdir(dir);
	return check_finish("test-config");
}
