// SPDX-License-Identifier: MIT
/* test-manifest.c - manifest parsing: examples, defaults, and every rejection with its position. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "manifest.h"
#include "util.h"

/* Parses text as "t.json"; returns the error string (or "OK") for comparison. */
static char *parse_err(const char *text, size_t len)
{
	struct manifest *m = NULL;
	char *err = NULL;
	int r = manifest_parse(text, len, "t.json", &m, &err);

	if (r == 0) {
		CHECK(err == NULL);
		manifest_free(m);
		return strdup("OK");
	}
	CHECK(r == MANIFEST_INVALID);
	CHECK(m == NULL);
	return err ? err : strdup("(no message)");
}

#define EXPECT(text, expected)                                   \
	do {                                                     \
		_cleanup_free_ char *_e = parse_err(text, strlen(text)); \
		CHECK_STREQ(_e, expected);                       \
	} while (0)

/* A minimal valid manifest with one extra member spliced in. */
#define WITH(member) "{\"manifest_version\":1,\"id\":\"x\"," member "}"

static struct manifest *parse_ok(const char *text)
{
	struct manifest *m = NULL;
	_cleanup_free_ char *err = NULL;
	int r = manifest_parse(text, strlen(text), "t.json", &m, &err);

	CHECK(r == 0);
	if (err)
		fprintf(stderr, "unexpected error: %s\n", err);
	return m;
}

static char *read_example(const char *name, size_t *len)
{
	const char *src = getenv("CAPBUS_SOURCE_DIR");
	_cleanup_free_ char *path = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char *buf;

	if (asprintf(&path, "%s/manifests/examples/%s", src ? src : ".", name) < 0)
		return NULL;
	f = fopen(path, "re");
	if (!f)
		return NULL;
	buf = malloc(MANIFEST_MAX_SIZE + 1);
	if (!buf)
		return NULL;
	*len = fread(buf, 1, MANIFEST_MAX_SIZE + 1, f);
	return buf;
}

static void test_examples(void)
{
	static const char *const names[] = { "org.example.weather.json", "alice.json", "org.example.dictation.json" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		size_t len = 0;
		_cleanup_free_ char *text = read_example(names[i], &len);
		_cleanup_free_ char *err = NULL;
		struct manifest *m = NULL;

		CHECK(text != NULL);
		if (!text)
			continue;
		CHECK(manifest_parse(text, len, names[i], &m, &err) == 0);
		if (err)
			fprintf(stderr, "%s\n", err);
		if (!m)
			continue;
		CHECK(manifest_check_filename(m, names[i]) == 0);
		manifest_free(m);
	}
}

static void test_full(void)
{
	size_t len = 0;
	_cleanup_free_ char *text = read_example("org.example.weather.json", &len);
	struct manifest *m = NULL;

	CHECK(text && manifest_parse(text, len, "w.json", &m, NULL) == 0);
	if (!m)
		return;
	CHECK(m->manifest_version == 1);
	CHECK_STREQ(m->id, "org.example.weather");
	CHECK_STREQ(m->version, "1.0.0");
	CHECK(m->n_exec == 3);
	CHECK_STREQ(m->exec[0], "/usr/bin/python3");
	CHECK_STREQ(m->exec[2], "weather_skill");
	CHECK(m->exec[3] == NULL);
	CHECK(m->n_send == 2 && m->n_receive == 2);
	CHECK_STREQ(m->send[1], "weather.*");
	CHECK(m->send[2] == NULL);
	CHECK_STREQ(m->receive[0], "intent.weather.*");
	CHECK(m->sandbox.network);
	CHECK(m->sandbox.n_net_rules == 2);
	CHECK(m->sandbox.net_rules[0].proto == NET_PROTO_TCP);
	CHECK(m->sandbox.net_rules[0].family == AF_UNSPEC);
	CHECK(m->sandbox.net_rules[0].port == 443);
	CHECK(m->sandbox.net_rules[1].proto == NET_PROTO_UDP);
	CHECK(m->sandbox.net_rules[1].family == AF_INET);
	CHECK(memcmp(m->sandbox.net_rules[1].addr, "\x7f\x00\x00\x35", 4) == 0);
	CHECK(m->sandbox.net_rules[1].port == 53);
	CHECK_STREQ(m->sandbox.net_rules[1].text, "udp:127.0.0.53:53");
	CHECK(m->sandbox.n_fs_read == 1 && m->sandbox.n_fs_write == 1);
	CHECK_STREQ(m->sandbox.fs_read[0], "/usr/share/zoneinfo");
	CHECK_STREQ(m->sandbox.fs_write[0], "$STATE");
	CHECK_STREQ(m->sandbox.syscalls, "default");
	CHECK(m->limits.memory == 128u << 20);
	CHECK(m->limits.pids == 32);
	CHECK(m->limits.cpu_percent == 25);
	CHECK(m->limits.nofile == 64);
	CHECK(m->limits.msg_rate == 200);
	manifest_free(m);
}

static void test_defaults(void)
{
	struct manifest *m = parse_ok("{\"manifest_version\": 1, \"id\": \"alice\"}");

	if (!m)
		return;
	CHECK_STREQ(m->id, "alice");
	CHECK(m->version == NULL);
	CHECK(m->exec == NULL && m->n_exec == 0);
	CHECK(m->send && m->send[0] == NULL && m->n_send == 0);
	CHECK(m->receive && m->receive[0] == NULL && m->n_receive == 0);
	CHECK(!m->sandbox.network && m->sandbox.n_net_rules == 0);
	CHECK(m->sandbox.fs_read && !m->sandbox.fs_read[0]);
	CHECK(m->sandbox.fs_write && !m->sandbox.fs_write[0]);
	CHECK_STREQ(m->sandbox.syscalls, MANIFEST_DEFAULT_SYSCALLS);
	CHECK(m->limits.memory == 256u << 20);
	CHECK(m->limits.pids == 64);
	CHECK(m->limits.cpu_percent == 100);
	CHECK(m->limits.nofile == 128);
	CHECK(m->limits.msg_rate == 1000);
	CHECK(m->limits.state == 64u << 20);
	CHECK(m->transports == MANIFEST_T_SOCKET);
	manifest_free(m);
	manifest_free(NULL);
}

static void test_values(void)
{
	struct manifest *m;

	m = parse_ok(WITH("\"limits\":{\"memory\":\"1G\",\"cpu\":\"250%\"}"));
	CHECK(m && m->limits.memory == 1u << 30 && m->limits.cpu_percent == 250);
	manifest_free(m);
	m = parse_ok(WITH("\"limits\":{\"memory\":67108864}"));
	CHECK(m && m->limits.memory == 64u << 20);
	manifest_free(m);
	m = parse_ok(WITH("\"limits\":{\"memory\":\"8192K\"}"));
	CHECK(m && m->limits.memory == 8u << 20);
	manifest_free(m);
	m = parse_ok(WITH("\"limits\":{\"memory\":\"1T\"}"));
	CHECK(m && m->limits.memory == UINT64_C(1) << 40);
	manifest_free(m);
	m = parse_ok(WITH("\"limits\":{\"state\":\"1G\"}"));
	CHECK(m && m->limits.state == 1u << 30);
	manifest_free(m);
	m = parse_ok(WITH("\"limits\":{\"state\":\"64G\"}"));
	CHECK(m && m->limits.state == UINT64_C(64) << 30);
	manifest_free(m);
	m = parse_ok(WITH("\"limits\":{\"state\":4194304}"));
	CHECK(m && m->limits.state == 4u << 20);
	manifest_free(m);
	m = parse_ok(WITH("\"limits\":{\"memory\":\"4194304\"}"));
	CHECK(m && m->limits.memory == 4u << 20);
	manifest_free(m);
	m = parse_ok(WITH("\"sandbox\":{\"network\":[\"tcp:[::1]:80\",\"tcp:127.0.0.1:8080\"]}"));
	CHECK(m && m->sandbox.n_net_rules == 2);
	if (m) {
		CHECK(m->sandbox.net_rules[0].family == AF_INET6);
		CHECK(m->sandbox.net_rules[0].addr[15] == 1 && m->sandbox.net_rules[0].addr[0] == 0);
		CHECK(m->sandbox.net_rules[0].port == 80);
		CHECK(m->sandbox.net_rules[1].port == 8080);
	}
	manifest_free(m);
	m = parse_ok(WITH("\"sandbox\":{\"network\":\"none\",\"filesystem\":{\"read\":[\"/\",\"/etc/ssl/certs\"],\"write\":[]},\"syscalls\":\"net-client\"}"));
	CHECK(m && m->sandbox.n_fs_read == 2 && m->sandbox.n_fs_write == 0 && !m->sandbox.network);
	CHECK(m && streq(m->sandbox.syscalls, "net-client"));
	manifest_free(m);
	/* Escapes decode; a reverse-DNS id with every allowed character. */
	m = parse_ok("{\"manifest_version\":1,\"id\":\"org.ex-am_ple.0\",\"version\":\"1.0+b~1\",\"exec\":[\"\\/bin\\/x\",\"\\u00e9\\ud83d\\ude00\",\"\"]}");
	CHECK(m && streq(m->exec[0], "/bin/x") && streq(m->exec[1], "\xc3\xa9\xf0\x9f\x98\x80") && streq(m->exec[2], ""));
	manifest_free(m);
	/* error_out is optional. */
	CHECK(manifest_parse("{}", 2, "t.json", &m, NULL) == MANIFEST_INVALID);
	/* No filename. */
	{
		_cleanup_free_ char *err = NULL;

		CHECK(manifest_parse("[]", 2, NULL, &m, &err) == MANIFEST_INVALID);
		CHECK_STREQ(err, "<input>:1:1: the manifest must be an object, not an array");
	}
}

static void test_syntax_errors(void)
{
	_cleanup_free_ char *big = NULL;
	char deep[128];

	EXPECT("", "t.json:1:1: expected a value");
	EXPECT("  \n ", "t.json:2:2: expected a value");
	EXPECT("{\"a\":1} x", "t.json:1:9: trailing characters after the document");
	EXPECT("{\"a\":1}{}", "t.json:1:8: trailing characters after the document");
	EXPECT("{\"a\" 1}", "t.json:1:6: expected ':'");
	EXPECT("{\"a\":1,}", "t.json:1:8: expected a string key");
	EXPECT("{'a':1}", "t.json:1:2: expected a string key");
	EXPECT("[1 2]", "t.json:1:4: expected ',' or ']'");
	EXPECT("{\"a\":1 \"b\":2}", "t.json:1:8: expected ',' or '}'");
	EXPECT("{\"a\":[1,2", "t.json:1:6: unterminated array");
	EXPECT("{\"a\":1", "t.json:1:1: unterminated object");
	EXPECT("{\"a\":\"x}", "t.json:1:6: unterminated string");
	EXPECT("{\"a\":\"x\\q\"}", "t.json:1:8: invalid escape in string");
	EXPECT("{\"a\":\"\\u00zz\"}", "t.json:1:11: invalid hex digit in \\u escape");
	EXPECT("{\"a\":\"\\u00", "t.json:1:9: truncated \\u escape");
	EXPECT("{\"id\":\"x\\u0000y\"}", "t.json:1:9: \\u0000 is not allowed");
	EXPECT("{\"a\":\"\\udc00\"}", "t.json:1:7: unpaired surrogate in \\u escape");
	EXPECT("{\"a\":\"\\ud800x\"}", "t.json:1:7: unpaired surrogate in \\u escape");
	EXPECT("{\"a\":\"\\ud800\\u0041\"}", "t.json:1:7: unpaired surrogate in \\u escape");
	EXPECT("{\"a\":\"tab\there\"}", "t.json:1:10: control character in string");
	EXPECT("{\"a\":01}", "t.json:1:6: leading zero in number");
	EXPECT("{\"a\":-}", "t.json:1:6: invalid number");
	EXPECT("{\"a\":1.}", "t.json:1:6: invalid number");
	EXPECT("{\"a\":1e}", "t.json:1:6: invalid number");
	EXPECT("{\"a\":+1}", "t.json:1:6: expected a value");
	EXPECT("{\"a\":123456789012345678901234567890123}", "t.json:1:6: number too long");
	EXPECT("{\"a\":tru}", "t.json:1:6: invalid literal");
	EXPECT("{\"a\":nul", "t.json:1:6: invalid literal");
	EXPECT("{\"a\":\"caf\xc3\"}", "t.json:1:10: invalid UTF-8");
	EXPECT("{\"a\":\"\xc0\xaf\"}", "t.json:1:7: invalid UTF-8");
	EXPECT("{\"a\":\"\xed\xa0\x80\"}", "t.json:1:7: invalid UTF-8");
	EXPECT("{\"a\":\"\xf4\x90\x80\x80\"}", "t.json:1:7: invalid UTF-8");
	/* Columns count characters, not bytes. */
	EXPECT("{\"\xc3\xa9\xc3\xa9\":1 x}", "t.json:1:9: expected ',' or '}'");
	{
		static const char nul[] = "{\"id\":\"a\0b\"}";
		_cleanup_free_ char *e = parse_err(nul, sizeof(nul) - 1);

		CHECK_STREQ(e, "t.json:1:9: NUL byte");
	}
	/* Depth 16 is fine, 17 is not. */
	memset(deep, 0, sizeof(deep));
	for (int i = 0; i < 15; i++)
		strcat(deep, "[");
	strcat(deep, "1");
	for (int i = 0; i < 15; i++)
		strcat(deep, "]");
	{
		char doc[256];

		snprintf(doc, sizeof(doc), "{\"a\":%s}", deep);
		EXPECT(doc, "t.json:1:2: unknown key \"a\" in the manifest");
		snprintf(doc, sizeof(doc), "{\"a\":[%s]}", deep);
		EXPECT(doc, "t.json:1:21: nesting too deep");
	}
	big = malloc(MANIFEST_MAX_SIZE + 2);
	if (big) {
		memset(big, ' ', MANIFEST_MAX_SIZE + 1);
		big[0] = '{';
		big[MANIFEST_MAX_SIZE] = '}';
		big[MANIFEST_MAX_SIZE + 1] = '\0';
		EXPECT(big, "t.json:1:1: file too large (65537 bytes, at most 65536)");
		big[MANIFEST_MAX_SIZE] = '\0';
		big[MANIFEST_MAX_SIZE - 1] = '}';
		EXPECT(big, "t.json:1:1: missing \"manifest_version\" (must be 1)");
	}
}

static void test_schema_errors(void)
{
	EXPECT("[]", "t.json:1:1: the manifest must be an object, not an array");
	EXPECT("\"x\"", "t.json:1:1: the manifest must be an object, not a string");
	EXPECT("{\"id\":\"x\"}", "t.json:1:1: missing \"manifest_version\" (must be 1)");
	EXPECT("{\"manifest_version\":1}", "t.json:1:1: missing \"id\"");
	EXPECT("{\"manifest_version\":2,\"id\":\"x\"}", "t.json:1:21: unsupported manifest_version 2 (this capbus reads 1)");
	EXPECT("{\"manifest_version\":\"1\",\"id\":\"x\"}", "t.json:1:21: manifest_version must be a number, not a string");
	EXPECT("{\"manifest_version\":1.0,\"id\":\"x\"}",
	       "t.json:1:21: manifest_version must be a whole number from 0 to 4294967295");
	EXPECT("{\"manifest_version\":1e0,\"id\":\"x\"}",
	       "t.json:1:21: manifest_version must be a whole number from 0 to 4294967295");
	EXPECT("{\"manifest_version\":-1,\"id\":\"x\"}",
	       "t.json:1:21: manifest_version must be a whole number from 0 to 4294967295");
	EXPECT("{\"manifest_version\":1,\"manifest_version\":1,\"id\":\"x\"}",
	       "t.json:1:23: duplicate key \"manifest_version\" in the manifest");
	EXPECT(WITH("\"Exec\":[]"), "t.json:1:32: unknown key \"Exec\" in the manifest");
	EXPECT(WITH("\"a\\nb\":[]"), "t.json:1:32: unknown key \"a\\x0ab\" in the manifest");

	/* id */
	EXPECT("{\"manifest_version\":1,\"id\":\"Al ce\"}",
	       "t.json:1:28: id must be 1 to 64 characters of [A-Za-z0-9._-] starting with a letter or digit");
	EXPECT("{\"manifest_version\":1,\"id\":\"\"}",
	       "t.json:1:28: id must be 1 to 64 characters of [A-Za-z0-9._-] starting with a letter or digit");
	EXPECT("{\"manifest_version\":1,\"id\":\".x\"}",
	       "t.json:1:28: id must be 1 to 64 characters of [A-Za-z0-9._-] starting with a letter or digit");
	EXPECT("{\"manifest_version\":1,\"id\":\"a/b\"}",
	       "t.json:1:28: id must be 1 to 64 characters of [A-Za-z0-9._-] starting with a letter or digit");
	EXPECT("{\"manifest_version\":1,\"id\":7}",
	       "t.json:1:28: id must be 1 to 64 characters of [A-Za-z0-9._-] starting with a letter or digit");
	EXPECT("{\"manifest_version\":1,\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	       "t.json:1:28: id must be 1 to 64 characters of [A-Za-z0-9._-] starting with a letter or digit");
	EXPECT("{\"manifest_version\":1,\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "OK");

	/* version */
	EXPECT(WITH("\"version\":\"1.0 beta\""), "t.json:1:42: version must be 1 to 64 characters of [A-Za-z0-9.+~_-]");
	EXPECT(WITH("\"version\":1"), "t.json:1:42: version must be a string, not a number");

	/* exec */
	EXPECT(WITH("\"exec\":\"/bin/x\""), "t.json:1:39: exec must be an array of strings, not a string");
	EXPECT(WITH("\"exec\":[]"), "t.json:1:39: exec must not be empty");
	EXPECT(WITH("\"exec\":[\"/bin/x\",1]"), "t.json:1:49: exec[1] must be a string, not a number");
	EXPECT(WITH("\"exec\":[\"python3\"]"), "t.json:1:40: exec[0] \"python3\" must be an absolute path");
	EXPECT(WITH("\"exec\":[\"/usr/../bin/sh\"]"),
	       "t.json:1:40: exec[0] \"/usr/../bin/sh\" must be normalized (no '//', '.' or '..' components)");
	EXPECT(WITH("\"exec\":[\"\"]"), "t.json:1:40: exec[0] \"\" must not be empty");
	EXPECT(WITH("\"exec\":[\"/bin/\\u001b\"]"), "t.json:1:40: exec[0] \"/bin/\\x1b\" must not contain control characters");

	/* bus */
	EXPECT(WITH("\"bus\":[]"), "t.json:1:38: bus must be an object, not an array");
	EXPECT(WITH("\"bus\":{\"recieve\":[]}"), "t.json:1:39: unknown key \"recieve\" in bus");
	EXPECT(WITH("\"bus\":{\"send\":\"speak\"}"), "t.json:1:46: bus.send must be an array of strings, not a string");
	EXPECT(WITH("\"bus\":{\"send\":[\"speak\",\"weather*\"]}"),
	       "t.json:1:55: bus.send[1] \"weather*\" is not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
	EXPECT(WITH("\"bus\":{\"receive\":[\"a\",\"b\",\"a\"]}"), "t.json:1:58: bus.receive[2] \"a\" is listed twice");
	EXPECT(WITH("\"bus\":{\"receive\":[null]}"), "t.json:1:50: bus.receive[0] must be a string, not null");
	EXPECT(WITH("\"bus\":{\"send\":[],\"send\":[]}"), "t.json:1:49: duplicate key \"send\" in bus");

	/* sandbox */
	EXPECT(WITH("\"sandbox\":{\"network\":\"all\"}"),
	       "t.json:1:53: sandbox.network must be \"none\", an array like [\"tcp:443\"] or {\"connect\": [...], \"listen\": [PORT]}");
	EXPECT(WITH("\"sandbox\":{\"network\":false}"),
	       "t.json:1:53: sandbox.network must be \"none\", an array or an object, not a boolean");
	EXPECT(WITH("\"sandbox\":{\"network\":{}}"), "t.json:1:53: sandbox.network must not be empty (use \"none\")");
	EXPECT(WITH("\"sandbox\":{\"network\":{\"listen\":[80,80]}}"),
	       "t.json:1:67: sandbox.network.listen lists port 80 twice");
	EXPECT(WITH("\"sandbox\":{\"network\":{\"listen\":[0]}}"),
	       "t.json:1:64: sandbox.network.listen must be a whole number from 1 to 65535");
	EXPECT(WITH("\"sandbox\":{\"network\":{\"connect\":[\"tcp:x\"]}}"),
	       "t.json:1:65: sandbox.network.connect[0] \"tcp:x\" is not \"tcp|udp:PORT\", \"tcp|udp:IPV4:PORT\" or \"tcp|udp:[IPV6]:PORT\"");
	EXPECT(WITH("\"sandbox\":{\"network\":{\"accept\":[80]}}"),
	       "t.json:1:54: unknown key \"accept\" in sandbox.network");
	EXPECT(WITH("\"sandbox\":{\"network\":[]}"), "t.json:1:53: sandbox.network must not be empty (use \"none\")");
	EXPECT(WITH("\"sandbox\":{\"network\":[1]}"), "t.json:1:54: sandbox.network[0] must be a string, not a number");
	EXPECT(WITH("\"sandbox\":{\"network\":[\"tcp:443\",\"http:80\"]}"),
	       "t.json:1:64: sandbox.network[1] \"http:80\" is not \"tcp|udp:PORT\", \"tcp|udp:IPV4:PORT\" or \"tcp|udp:[IPV6]:PORT\"");
	EXPECT(WITH("\"sandbox\":{\"syscalls\":\"Default\"}"),
	       "t.json:1:54: sandbox.syscalls must be 1 to 32 characters of [a-z0-9_-]");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"read\":[\"/a//b\"]}}"),
	       "t.json:1:65: sandbox.filesystem.read[0] \"/a//b\" must be normalized (no '//', '.' or '..' components)");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"read\":[\"/a/./b\"]}}"),
	       "t.json:1:65: sandbox.filesystem.read[0] \"/a/./b\" must be normalized (no '//', '.' or '..' components)");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"read\":[\"/a/\"]}}"),
	       "t.json:1:65: sandbox.filesystem.read[0] \"/a/\" must not end in '/'");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"read\":[\"$STATE\"]}}"),
	       "t.json:1:65: sandbox.filesystem.read[0] \"$STATE\" must be an absolute path");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"write\":[\"$HOME\"]}}"),
	       "t.json:1:66: sandbox.filesystem.write[0] \"$HOME\" must be an absolute path");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"write\":[\"/\"]}}"),
	       "t.json:1:66: sandbox.filesystem.write[0] \"/\" would make the whole file system writable");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"write\":[\"/x\",\"/x\"]}}"),
	       "t.json:1:71: sandbox.filesystem.write[1] \"/x\" is listed twice");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":{\"exec\":[]}}"),
	       "t.json:1:57: unknown key \"exec\" in sandbox.filesystem");
	EXPECT(WITH("\"sandbox\":{\"filesystem\":[]}"), "t.json:1:56: sandbox.filesystem must be an object, not an array");
	EXPECT(WITH("\"sandbox\":{\"network\":\"none\",\"netwrok\":\"none\"}"),
	       "t.json:1:60: unknown key \"netwrok\" in sandbox");

	/* limits */
	EXPECT(WITH("\"limits\":{\"memory\":\"3M\"}"),
	       "t.json:1:51: limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T");
	EXPECT(WITH("\"limits\":{\"memory\":\"2T\"}"),
	       "t.json:1:51: limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T");
	EXPECT(WITH("\"limits\":{\"memory\":\"12X\"}"),
	       "t.json:1:51: limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T");
	EXPECT(WITH("\"limits\":{\"memory\":\"M\"}"),
	       "t.json:1:51: limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T");
	EXPECT(WITH("\"limits\":{\"memory\":\"-1G\"}"),
	       "t.json:1:51: limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T");
	EXPECT(WITH("\"limits\":{\"memory\":\"99999999999999999999G\"}"),
	       "t.json:1:51: limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T");
	EXPECT(WITH("\"limits\":{\"memory\":true}"),
	       "t.json:1:51: limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T");
	EXPECT(WITH("\"limits\":{\"memory\":1.5e9}"),
	       "t.json:1:51: limits.memory must be a whole number from 4194304 to 1099511627776");
	EXPECT(WITH("\"limits\":{\"state\":\"3M\"}"),
	       "t.json:1:50: limits.state must be bytes or a size like \"64M\" or \"1G\", a whole number of MiB from 4M to 64G");
	EXPECT(WITH("\"limits\":{\"state\":\"65G\"}"),
	       "t.json:1:50: limits.state must be bytes or a size like \"64M\" or \"1G\", a whole number of MiB from 4M to 64G");
	EXPECT(WITH("\"limits\":{\"state\":\"4100K\"}"),
	       "t.json:1:50: limits.state must be bytes or a size like \"64M\" or \"1G\", a whole number of MiB from 4M to 64G");
	EXPECT(WITH("\"limits\":{\"state\":\"64m\"}"),
	       "t.json:1:50: limits.state must be bytes or a size like \"64M\" or \"1G\", a whole number of MiB from 4M to 64G");
	EXPECT(WITH("\"limits\":{\"state\":\"\"}"),
	       "t.json:1:50: limits.state must be bytes or a size like \"64M\" or \"1G\", a whole number of MiB from 4M to 64G");
	EXPECT(WITH("\"limits\":{\"state\":-1}"),
	       "t.json:1:50: limits.state must be a whole number from 4194304 to 68719476736");
	EXPECT(WITH("\"limits\":{\"state\":true}"),
	       "t.json:1:50: limits.state must be bytes or a size like \"64M\" or \"1G\", a whole number of MiB from 4M to 64G");
	EXPECT(WITH("\"limits\":{\"state\":1.5e9}"),
	       "t.json:1:50: limits.state must be a whole number from 4194304 to 68719476736");
	EXPECT(WITH("\"limits\":{\"pids\":0}"), "t.json:1:49: limits.pids must be a whole number from 1 to 4096");
	EXPECT(WITH("\"limits\":{\"pids\":4097}"), "t.json:1:49: limits.pids must be a whole number from 1 to 4096");
	EXPECT(WITH("\"limits\":{\"pids\":\"32\"}"), "t.json:1:49: limits.pids must be a number, not a string");
	EXPECT(WITH("\"limits\":{\"cpu\":\"25\"}"),
	       "t.json:1:48: limits.cpu must be a percentage of one CPU like \"25%\", from 1% to 6400%");
	EXPECT(WITH("\"limits\":{\"cpu\":\"0%\"}"),
	       "t.json:1:48: limits.cpu must be a percentage of one CPU like \"25%\", from 1% to 6400%");
	EXPECT(WITH("\"limits\":{\"cpu\":\"6401%\"}"),
	       "t.json:1:48: limits.cpu must be a percentage of one CPU like \"25%\", from 1% to 6400%");
	EXPECT(WITH("\"limits\":{\"cpu\":25}"),
	       "t.json:1:48: limits.cpu must be a percentage of one CPU like \"25%\", from 1% to 6400%");
	EXPECT(WITH("\"limits\":{\"nofile\":15}"), "t.json:1:51: limits.nofile must be a whole number from 16 to 65536");
	EXPECT(WITH("\"limits\":{\"msg_rate\":0}"), "t.json:1:53: limits.msg_rate must be a whole number from 1 to 1000000");
	EXPECT(WITH("\"limits\":{\"msg_rate\":1000001}"),
	       "t.json:1:53: limits.msg_rate must be a whole number from 1 to 1000000");
	EXPECT(WITH("\"limits\":{\"rate\":1}"), "t.json:1:42: unknown key \"rate\" in limits");
	EXPECT(WITH("\"limits\":[]"), "t.json:1:41: limits must be an object, not an array");
}

/* Multi-line documents: the position is the offending value's, on its own line. */
static void test_positions(void)
{
	EXPECT("{\n"
	       "  \"manifest_version\": 1,\n"
	       "  \"id\": \"org.example.weather\",\n"
	       "  \"bus\": {\n"
	       "    \"send\": [\"speak\",\n"
	       "             \"weather*\"]\n"
	       "  }\n"
	       "}\n",
	       "t.json:6:14: bus.send[1] \"weather*\" is not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
	EXPECT("{\n"
	       "  \"manifest_version\": 1,\n"
	       "  \"id\": \"x\",\n"
	       "  \"sandbox\": {\n"
	       "\t\"network\": \"none\",\n"
	       "\t\"filesytem\": {}\n"
	       "  }\n"
	       "}\n",
	       "t.json:6:2: unknown key \"filesytem\" in sandbox");
	EXPECT("{\n"
	       "  \"manifest_version\": 1,\n"
	       "  \"id\": \"x\",\n"
	       "  \"limits\": {\"memory\": \"128M\", \"pids\": 32,\n"
	       "             \"cpu\": \"25 %\"}\n"
	       "}\n",
	       "t.json:5:21: limits.cpu must be a percentage of one CPU like \"25%\", from 1% to 6400%");
	EXPECT("{\n"
	       "  \"manifest_version\": 1,\n"
	       "  \"id\": \"x\",\n"
	       "  \"exec\": [\"/bin/x\"],\n"
	       "  \"exec\": [\"/bin/y\"]\n"
	       "}\n",
	       "t.json:5:3: duplicate key \"exec\" in the manifest");
}

/* "transports": default socket; socket and/or gateway; never gateway for a launched skill. */
static void test_transports(void)
{
	const char *const ok[][2] = {
		{ WITH("\"bus\":{}"), "1" },
		{ WITH("\"transports\":[\"socket\"]"), "1" },
		{ WITH("\"transports\":[\"gateway\"]"), "2" },
		{ WITH("\"transports\":[\"gateway\",\"socket\"]"), "3" },
		{ WITH("\"exec\":[\"/bin/x\"],\"transports\":[\"socket\"]"), "1" },
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		struct manifest *m = parse_ok(ok[i][0]);
		CHECK_MSG(m && m->transports == (uint32_t)atoi(ok[i][1]), "%s", ok[i][0]);
		manifest_free(m);
	}
	CHECK(MANIFEST_T_SOCKET == 1 && MANIFEST_T_GATEWAY == 2);
	const char *const what = "\"transports\" must be a non-empty array of unique names from \"socket\" and \"gateway\"";
	char want[256];
	snprintf(want, sizeof(want), "t.json:1:45: %s", what);
	EXPECT(WITH("\"transports\":[]"), want);
	EXPECT(WITH("\"transports\":\"gateway\""), want);
	snprintf(want, sizeof(want), "t.json:1:46: %s", what);
	EXPECT(WITH("\"transports\":[\"websocket\"]"), want);
	EXPECT(WITH("\"transports\":[\"Socket\"]"), want);
	EXPECT(WITH("\"transports\":[null]"), want);
	snprintf(want, sizeof(want), "t.json:1:55: %s", what);
	EXPECT(WITH("\"transports\":[\"socket\",\"socket\"]"), want);
	EXPECT(WITH("\"exec\":[\"/bin/x\"],\"transports\":[\"socket\",\"gateway\"]"),
	       "t.json:1:63: \"transports\": a skill launched by capbusd reaches the bus through its inherited connection; "
	       "\"gateway\" is only for external clients");
	EXPECT(WITH("\"transports\":[\"gateway\"],\"exec\":[\"/bin/x\"]"),
	       "t.json:1:45: \"transports\": a skill launched by capbusd reaches the bus through its inherited connection; "
	       "\"gateway\" is only for external clients");
}

static void test_net_rules(void)
{
	static const char *const good[] = { "tcp:443", "udp:53", "tcp:1", "tcp:65535", "udp:127.0.0.53:53",
					    "tcp:[::1]:80", "tcp:[2001:db8::1]:443", "tcp:0.0.0.0:1" };
	static const char *const bad[] = { "tcp:0", "tcp:65536", "tcp:", "tcp", ":443", "sctp:1", "TCP:443",
					   "tcp:-1", "tcp:+1", "tcp:example.com:443", "tcp:1.2.3:80", "tcp:::1:80",
					   "tcp:[::1]80", "tcp:[::1]:", "tcp:[::1", "tcp:[fe80::1%eth0]:80",
					   "tcp:256.0.0.1:80", "tcp:443 ", "tcp: 443",
					   "tcp:[::1]:80aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };

	for (size_t i = 0; i < ARRAY_LEN(good) + ARRAY_LEN(bad); i++) {
		bool ok = i < ARRAY_LEN(good);
		const char *rule = ok ? good[i] : bad[i - ARRAY_LEN(good)];
		char doc[512];
		struct manifest *m = NULL;
		int r;

		snprintf(doc, sizeof(doc), WITH("\"sandbox\":{\"network\":[\"%s\"]}"), rule);
		r = manifest_parse(doc, strlen(doc), "t.json", &m, NULL);
		if ((r == 0) != ok)
			fprintf(stderr, "net rule %s: got %d\n", rule, r);
		CHECK((r == 0) == ok);
		manifest_free(m);
	}
}

/* before + [ "pre0post", "pre1post", ... ] + after, with n elements numbered from first. */
static char *doc_with_array(const char *before, const char *pre, const char *post, int first, int n,
			    const char *after)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs(before, f);
	fputc('[', f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\"%s%d%s\"", i ? "," : "", pre, first + i, post);
	fputc(']', f);
	fputs(after, f);
	fclose(f);
	return buf;
}

static void test_counts(void)
{
#define HEAD "{\"manifest_version\":1,\"id\":\"x\","
	static const struct {
		const char *before, *pre, *post, *after;
		int first, max;
		const char *error;
	} cases[] = {
		{ HEAD "\"bus\":{\"send\":", "t", "", "}}", 0, MANIFEST_MAX_PATTERNS,
		  "t.json:1:46: bus.send has 1025 entries, at most 1024 are allowed" },
		{ HEAD "\"bus\":{\"receive\":", "t", ".*", "}}", 0, MANIFEST_MAX_PATTERNS,
		  "t.json:1:49: bus.receive has 1025 entries, at most 1024 are allowed" },
		{ HEAD "\"exec\":", "/a", "", "}", 0, MANIFEST_MAX_ARGS,
		  "t.json:1:39: exec has 257 entries, at most 256 are allowed" },
		{ HEAD "\"sandbox\":{\"filesystem\":{\"read\":", "/p", "", "}}}", 0, MANIFEST_MAX_PATHS,
		  "t.json:1:64: sandbox.filesystem.read has 65 entries, at most 64 are allowed" },
		{ HEAD "\"sandbox\":{\"network\":", "tcp:", "", "}}", 1, MANIFEST_MAX_NET_RULES,
		  "t.json:1:53: sandbox.network has 65 entries, at most 64 are allowed" },
	};
#undef HEAD

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		_cleanup_free_ char *ok = doc_with_array(cases[i].before, cases[i].pre, cases[i].post, cases[i].first,
							 cases[i].max, cases[i].after);
		_cleanup_free_ char *bad = doc_with_array(cases[i].before, cases[i].pre, cases[i].post, cases[i].first,
							  cases[i].max + 1, cases[i].after);

		CHECK(ok && bad);
		if (!ok || !bad)
			continue;
		EXPECT(ok, "OK");
		EXPECT(bad, cases[i].error);
	}
}

static void test_lengths(void)
{
	_cleanup_free_ char *arg = malloc(5000), *doc = NULL;

	if (!arg)
		return;
	memset(arg, 'a', 4096);
	arg[0] = '/';
	arg[4096] = '\0';
	if (asprintf(&doc, WITH("\"exec\":[\"/bin/x\",\"%s\"]"), arg) >= 0) {
		_cleanup_free_ char *e = parse_err(doc, strlen(doc));

		CHECK_STREQ(e, "t.json:1:49: exec[1] \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... is too long");
	}
	free(doc);
	doc = NULL;
	if (asprintf(&doc, WITH("\"sandbox\":{\"filesystem\":{\"read\":[\"%s\"]}}"), arg) >= 0) {
		_cleanup_free_ char *e = parse_err(doc, strlen(doc));

		CHECK(startswith(e, "t.json:1:65: sandbox.filesystem.read[0] \"/aaaa"));
		CHECK(strstr(e, "\"... is too long") != NULL);
	}
	/* One byte shorter is fine for both. */
	arg[4095] = '\0';
	free(doc);
	doc = NULL;
	if (asprintf(&doc, WITH("\"exec\":[\"%s\",\"%s\"]"), arg, arg) >= 0)
		EXPECT(doc, "OK");
}

/* "{id}" in patterns, "namespace" and "dispatch" (manifests/README.md "Namespaces"). */
static void test_namespaces(void)
{
	struct manifest *m = parse_ok("{\"manifest_version\":1,\"id\":\"sk.Au\",\"bus\":{\"send\":[\"{id}.x\","
				      "\"a.{id}.{id}:*\"],\"receive\":[\"sk.Au:*\"],\"namespace\":true}}");
	CHECK(m != NULL);
	if (m) {
		CHECK(m->namespace && !m->dispatch);
		CHECK(m->n_send == 2 && !strcmp(m->send[0], "sk.Au.x") && !strcmp(m->send[1], "a.sk.Au.sk.Au:*"));
		/* ID:* was written: only ID.* is added */
		CHECK(m->n_receive == 2 && !strcmp(m->receive[0], "sk.Au:*") && !strcmp(m->receive[1], "sk.Au.*"));
		manifest_free(m);
	}
	m = parse_ok(WITH("\"bus\":{\"dispatch\":true}"));
	CHECK(m && m->dispatch && !m->namespace && m->n_receive == 0);
	manifest_free(m);
	EXPECT(WITH("\"bus\":{\"namespace\":1}"), "t.json:1:51: bus.namespace must be true or false");
	EXPECT(WITH("\"bus\":{\"dispatch\":\"yes\"}"), "t.json:1:50: bus.dispatch must be true or false");
	EXPECT(WITH("\"bus\":{\"send\":[\"{id}*\"]}"),
	       "t.json:1:47: bus.send[0] \"{id}*\" is not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
	/* 64-character id, 4 placeholders: 256 bytes once replaced */
	char text[512];
	snprintf(text, sizeof(text), "{\"manifest_version\":1,\"id\":\"%064d\",\"bus\":{\"receive\":[\"{id}{id}{id}{id}\"]}}", 7);
	_cleanup_free_ char *e = parse_err(text, strlen(text));
	CHECK(e && strstr(e, "bus.receive[0] is longer than 255 bytes once {id} is replaced"));
}

static void test_filename(void)
{
	struct manifest *m = parse_ok("{\"manifest_version\":1,\"id\":\"org.example.weather\"}");

	if (!m)
		return;
	CHECK(manifest_check_filename(m, "org.example.weather.json") == 0);
	CHECK(manifest_check_filename(m, "org.example.weather") == MANIFEST_NAME_MISMATCH);
	CHECK(manifest_check_filename(m, "org.example.weather.json.bak") == MANIFEST_NAME_MISMATCH);
	CHECK(manifest_check_filename(m, "org.example.json") == MANIFEST_NAME_MISMATCH);
	CHECK(manifest_check_filename(m, "x/org.example.weather.json") == MANIFEST_NAME_MISMATCH);
	CHECK(manifest_check_filename(m, "org.example.weather.JSON") == MANIFEST_NAME_MISMATCH);
	CHECK(manifest_check_filename(m, ".json") == MANIFEST_NAME_MISMATCH);
	CHECK(manifest_check_filename(m, "") == MANIFEST_NAME_MISMATCH);
	manifest_free(m);

	CHECK(manifest_id_is_valid("alice"));
	CHECK(manifest_id_is_valid("0"));
	CHECK(!manifest_id_is_valid("-x"));
	CHECK(!manifest_id_is_valid("x y"));
}

int main(void)
{
	test_examples();
	test_full();
	test_defaults();
	test_values();
	test_syntax_errors();
	test_schema_errors();
	test_positions();
	test_transports();
	test_net_rules();
	test_counts();
	test_lengths();
	test_namespaces();
	test_filename();
	return check_finish("test-manifest");
}
