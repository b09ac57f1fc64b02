// SPDX-License-Identifier: MIT
/* test-describe.c - the plain-words description shown before installing a skill. */
#include <string.h>

#include "check.h"
#include "describe.h"
#include "util.h"

static char *describe(const char *text, const struct level_policy *lp)
{
	struct manifest *m = NULL;
	char *d = NULL, *err = NULL;

	CHECK(manifest_parse(text, strlen(text), "t.json", &m, &err) == 0);
	if (err)
		fprintf(stderr, "%s\n", err);
	free(err);
	if (m)
		d = manifest_describe(m, lp);
	manifest_free(m);
	return d;
}

static void test_skill(const struct level_policy *lp)
{
	_cleanup_free_ char *d = describe(
		"{\"manifest_version\":1,\"id\":\"org.example.dictation\",\"version\":\"0.3.1\","
		"\"exec\":[\"/usr/bin/python3\",\"-m\",\"dict ation\",\"it's\",\"\\u001b[2J\"],"
		"\"bus\":{\"send\":[\"speak\",\"dictation.*\",\"capbus.shutdown\"],"
		"\"receive\":[\"recognizer_loop:utterance\",\"intent.dictation.*\",\"*\"]},"
		"\"sandbox\":{\"network\":[\"tcp:443\",\"udp:127.0.0.53:53\",\"tcp:[::1]:80\"],"
		"\"filesystem\":{\"read\":[\"/usr/share/zoneinfo\",\"/\"],\"write\":[\"$STATE\"]}},"
		"\"limits\":{\"memory\":\"64M\",\"pids\":8,\"cpu\":\"50%\",\"msg_rate\":20}}",
		lp);

	CHECK_CONTAINS(d, "Skill org.example.dictation version 0.3.1\n");
	CHECK_CONTAINS(d, "Runs a program in a sandbox: /usr/bin/python3 -m 'dict ation' 'it'\\''s' '\\x1b[2J'\n");
	CHECK_CONTAINS(d, "It may send:\n");
	CHECK_CONTAINS(d, "  - make the assistant say something out loud (speak) - normal\n");
	CHECK_CONTAINS(d, "  - send any \"dictation.*\" messages (dictation.*) - normal\n");
	CHECK_CONTAINS(d, "  - control the message bus itself (capbus.shutdown) - SYSTEM, never granted to skills (overlaps capbus.*)\n");
	CHECK_CONTAINS(d, "It may hear:\n");
	CHECK_CONTAINS(d, "  - hear everything you say (recognizer_loop:utterance) - DANGEROUS, needs --grant recognizer_loop:utterance\n");
	CHECK_CONTAINS(d, "  - receive any \"intent.dictation.*\" messages (intent.dictation.*) - normal\n");
	CHECK_CONTAINS(d, "  - hear every message on the bus, including everything you say (*) - DANGEROUS, needs --grant *\n");
	CHECK_CONTAINS(d, "Network: may connect to any host on TCP port 443, 127.0.0.53:53 (UDP), [::1]:80 (TCP)\n");
	CHECK_CONTAINS(d, "  read: /usr/share/zoneinfo, / (the whole file system)\n");
	CHECK_CONTAINS(d, "  write: its own state directory\n");
	CHECK_CONTAINS(d, "System calls: \"default\" profile\n");
	CHECK_CONTAINS(d, "Limits: memory 64 MiB, 8 processes, 50% of one CPU, 128 open files, 64 MiB of /state\n");
	CHECK_CONTAINS(d, "Messages: at most 20 per second\n");
}

static void test_external(const struct level_policy *lp)
{
	_cleanup_free_ char *d = describe("{\"manifest_version\":1,\"id\":\"alice\",\"bus\":{\"receive\":[\"speak.*\"]},"
					  "\"limits\":{\"memory\":4194305}}",
					  lp);

	CHECK_CONTAINS(d, "Skill alice\n");
	CHECK_CONTAINS(d, "External client: capbus does not start or sandbox it; it connects with its own key\n");
	CHECK_CONTAINS(d, "It may send:\n  nothing\n");
	CHECK_CONTAINS(d, "  - receive any \"speak.*\" messages (speak.*) - normal\n");
	CHECK(d && !strstr(d, "Network"));
	CHECK(d && !strstr(d, "Limits"));
	CHECK_CONTAINS(d, "Messages: at most 1000 per second\n");
	CHECK(d && !strstr(d, "gateway"));
}

static void test_gateway(const struct level_policy *lp)
{
	_cleanup_free_ char *both = describe("{\"manifest_version\":1,\"id\":\"web\",\"transports\":[\"socket\",\"gateway\"]}", lp);
	_cleanup_free_ char *only = describe("{\"manifest_version\":1,\"id\":\"web\",\"transports\":[\"gateway\"]}", lp);

	CHECK_CONTAINS(both, "External client: capbus does not start or sandbox it; it connects with its own key\n");
	CHECK_CONTAINS(both, "May be reached through the WebSocket gateway (from the network, with a token or a browser key)\n");
	CHECK_CONTAINS(only, "External client: capbus does not start or sandbox it; it has no connection of its own to the bus\n");
	CHECK_CONTAINS(only, "May be reached through the WebSocket gateway (from the network, with a token or a browser key)\n");
}

static void test_sizes(const struct level_policy *lp)
{
	_cleanup_free_ char *a = describe("{\"manifest_version\":1,\"id\":\"a\",\"exec\":[\"/x\"],\"limits\":{\"memory\":4194305}}", lp);
	_cleanup_free_ char *b = describe("{\"manifest_version\":1,\"id\":\"a\",\"exec\":[\"/x\"],\"limits\":{\"memory\":\"5000K\"}}", lp);
	_cleanup_free_ char *c = describe("{\"manifest_version\":1,\"id\":\"a\",\"exec\":[\"/x\"],\"limits\":{\"memory\":\"2G\"}}", lp);
	_cleanup_free_ char *e = describe("{\"manifest_version\":1,\"id\":\"a\",\"exec\":[\"/x\"],\"sandbox\":{\"filesystem\":{}}}", lp);

	CHECK_CONTAINS(a, "memory 4194305 bytes,");
	CHECK_CONTAINS(b, "memory 5000 KiB,");
	CHECK_CONTAINS(c, "memory 2 GiB,");
	CHECK_CONTAINS(e, "Network: none\n");
	CHECK_CONTAINS(e, "  read: nothing\n  write: nothing\n");
}

static void test_explain(void)
{
	static const struct {
		enum perm_dir dir;
		const char *pattern, *words;
	} cases[] = {
		{ PERM_RECEIVE, "recognizer_loop:utterance", "hear everything you say" },
		{ PERM_SEND, "recognizer_loop:utterance", "pretend you said something (inject spoken commands)" },
		{ PERM_SEND, "recognizer_loop:wakeword", "pretend to be the microphone and speech recognizer" },
		{ PERM_SEND, "mycroft.skills.loaded", "manage other skills" },
		{ PERM_RECEIVE, "mycroft.stop", "know when you ask the assistant to stop" },
		{ PERM_SEND, "*", "send any message at all, including ones that act for you" },
		{ PERM_SEND, "weather.today", "send \"weather.today\" messages" },
		{ PERM_RECEIVE, "recognizer_loop:*", "hear everything you say and when you speak" },
		{ PERM_RECEIVE, "mycroft.*", "receive any \"mycroft.*\" messages, which includes: know when you ask the assistant to stop" },
		{ PERM_SEND, "mycroft.*", "send any \"mycroft.*\" messages, which includes: make the assistant start listening to you" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		_cleanup_free_ char *w = permission_explain(cases[i].dir, cases[i].pattern);

		CHECK_STREQ(w, cases[i].words);
	}
}

int main(void)
{
	struct level_policy *lp = NULL;

	CHECK(level_policy_new_default(&lp) == 0);
	if (lp) {
		test_skill(lp);
		test_external(lp);
		test_gateway(lp);
		test_sizes(lp);
	}
	test_explain();
	level_policy_free(lp);
	return check_finish("test-describe");
}
