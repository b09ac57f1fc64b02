// SPDX-License-Identifier: MIT
/* test-levels.c - protection-level policy: default, classification, parse errors. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "levels.h"
#include "pattern.h"
#include "util.h"

static char *parse_err(const char *text)
{
	struct level_policy *lp = NULL;
	char *err = NULL;
	int r = level_policy_parse(text, strlen(text), "policy.json", &lp, &err);

	if (r == 0) {
		level_policy_free(lp);
		return strdup("OK");
	}
	CHECK(r == LEVEL_POLICY_INVALID);
	CHECK(lp == NULL);
	return err ? err : strdup("(no message)");
}

#define EXPECT(text, expected)                             \
	do {                                               \
		_cleanup_free_ char *_e = parse_err(text); \
		CHECK_STREQ(_e, expected);                 \
	} while (0)

static void check_level(const struct level_policy *lp, enum perm_dir dir, const char *p, enum perm_level want,
			const char *want_because)
{
	const char *because = "unset";
	enum perm_level got = level_policy_classify(lp, dir, p, &because);

	if (got != want)
		fprintf(stderr, "%s %s: got %s, want %s\n", perm_dir_name(dir), p, perm_level_name(got),
			perm_level_name(want));
	CHECK(got == want);
	CHECK_STREQ(because, want_because);
}

static void test_default(void)
{
	struct level_policy *lp = NULL;
	const char *const *list;
	size_t n = 99;

	CHECK(level_policy_new_default(&lp) == 0);
	if (!lp)
		return;
	/* Every listed pattern is valid (the parser checks) and the text is what is compiled in. */
	{
		_cleanup_free_ char *e = parse_err(level_policy_default_text());

		CHECK_STREQ(e, "OK");
	}
	check_level(lp, PERM_SEND, "speak", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_SEND, "weather.*", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_SEND, "mycroft.stop", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_SEND, "recognizer_loop:utterance", PERM_LEVEL_DANGEROUS, "recognizer_loop:*");
	check_level(lp, PERM_SEND, "mycroft.skills.*", PERM_LEVEL_DANGEROUS, "mycroft.skills.*");
	check_level(lp, PERM_SEND, "mycroft.*", PERM_LEVEL_DANGEROUS, "mycroft.mic.*");
	check_level(lp, PERM_SEND, "system.reboot", PERM_LEVEL_DANGEROUS, "system.*");
	check_level(lp, PERM_SEND, "capbus.*", PERM_LEVEL_SYSTEM, "capbus.*");
	check_level(lp, PERM_SEND, "capbus.x", PERM_LEVEL_SYSTEM, "capbus.*");
	check_level(lp, PERM_SEND, "capbus.x.*", PERM_LEVEL_SYSTEM, "capbus.*");
	check_level(lp, PERM_SEND, "bus.error", PERM_LEVEL_SYSTEM, "bus.*");
	check_level(lp, PERM_SEND, "*", PERM_LEVEL_SYSTEM, "capbus.*");
	check_level(lp, PERM_SEND, "capbus", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_SEND, "capbusx.y", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_RECEIVE, "intent.weather.*", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_RECEIVE, "speak.done", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_RECEIVE, "recognizer_loop:utterance", PERM_LEVEL_DANGEROUS, "recognizer_loop:utterance");
	check_level(lp, PERM_RECEIVE, "recognizer_loop:*", PERM_LEVEL_DANGEROUS, "recognizer_loop:utterance");
	check_level(lp, PERM_RECEIVE, "recognizer_loop:wakeword", PERM_LEVEL_NORMAL, NULL);
	check_level(lp, PERM_RECEIVE, "speak", PERM_LEVEL_DANGEROUS, "speak");
	check_level(lp, PERM_RECEIVE, "*", PERM_LEVEL_DANGEROUS, "recognizer_loop:utterance");
	check_level(lp, PERM_RECEIVE, "capbus.skills", PERM_LEVEL_DANGEROUS, "capbus.*");
	/* Fail closed on what should have been validated. */
	check_level(lp, PERM_RECEIVE, "bad*", PERM_LEVEL_SYSTEM, NULL);
	check_level(lp, PERM_SEND, "", PERM_LEVEL_SYSTEM, NULL);

	list = level_policy_patterns(lp, PERM_LEVEL_SYSTEM, PERM_SEND, &n);
	CHECK(n == 2);
	CHECK_STREQ(list[0], "capbus.*");
	CHECK_STREQ(list[1], "bus.*");
	CHECK(list[2] == NULL);
	list = level_policy_patterns(lp, PERM_LEVEL_SYSTEM, PERM_RECEIVE, &n);
	CHECK(n == 0 && list[0] == NULL);
	list = level_policy_patterns(lp, PERM_LEVEL_NORMAL, PERM_SEND, &n);
	CHECK(n == 0 && list[0] == NULL);
	list = level_policy_patterns(lp, PERM_LEVEL_DANGEROUS, PERM_RECEIVE, NULL);
	CHECK_STREQ(list[0], "recognizer_loop:utterance");
	level_policy_free(lp);
	level_policy_free(NULL);
}

static void test_custom(void)
{
	static const char text[] = "{\"policy_version\":1,\"system\":{\"receive\":[\"capbus.*\"]},"
				   "\"dangerous\":{\"receive\":[\"*\"]}}";
	struct level_policy *lp = NULL;

	CHECK(level_policy_parse(text, strlen(text), "p.json", &lp, NULL) == 0);
	if (!lp)
		return;
	/* "*" overlaps the system namespace, so it can never be granted under this policy. */
	check_level(lp, PERM_RECEIVE, "*", PERM_LEVEL_SYSTEM, "capbus.*");
	check_level(lp, PERM_RECEIVE, "speak", PERM_LEVEL_DANGEROUS, "*");
	check_level(lp, PERM_SEND, "capbus.x", PERM_LEVEL_NORMAL, NULL);
	CHECK(level_policy_classify(lp, PERM_SEND, "capbus.x", NULL) == PERM_LEVEL_NORMAL);
	level_policy_free(lp);

	EXPECT("{\"policy_version\":1}", "OK");
}

static void test_errors(void)
{
	EXPECT("", "policy.json:1:1: expected a value");
	EXPECT("[]", "policy.json:1:1: the policy must be an object, not an array");
	EXPECT("{}", "policy.json:1:1: missing \"policy_version\" (must be 1)");
	EXPECT("{\"policy_version\":2}", "policy.json:1:19: unsupported policy_version 2 (this capbus reads 1)");
	EXPECT("{\"policy_version\":true}", "policy.json:1:19: policy_version must be a number, not a boolean");
	EXPECT("{\"policy_version\":1,\"normal\":{}}", "policy.json:1:21: unknown key \"normal\" in the policy");
	EXPECT("{\"policy_version\":1,\"system\":{},\"system\":{}}",
	       "policy.json:1:33: duplicate key \"system\" in the policy");
	EXPECT("{\"policy_version\":1,\"system\":[]}", "policy.json:1:30: system must be an object, not an array");
	EXPECT("{\"policy_version\":1,\"dangerous\":{\"hear\":[]}}", "policy.json:1:34: unknown key \"hear\" in dangerous");
	EXPECT("{\"policy_version\":1,\"dangerous\":{\"send\":\"x\"}}",
	       "policy.json:1:41: dangerous.send must be an array of strings, not a string");
	EXPECT("{\n  \"policy_version\": 1,\n  \"system\": {\n    \"send\": [\"capbus.*\", \"bus*\"]\n  }\n}\n",
	       "policy.json:4:26: system.send[1] \"bus*\" is not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
	EXPECT("{\"policy_version\":1,\"system\":{\"send\":[\"a\",\"a\"]}}", "policy.json:1:43: system.send[1] \"a\" is listed twice");
	{
		struct level_policy *lp = NULL;

		CHECK(level_policy_parse("{", 1, NULL, &lp, NULL) == LEVEL_POLICY_INVALID && !lp);
	}
}

static void test_limits(void)
{
	char *big = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&big, &size);

	if (!f)
		return;
	fputs("{\"policy_version\":1,\"dangerous\":{\"send\":[", f);
	for (int i = 0; i <= LEVEL_POLICY_MAX_PATTERNS; i++)
		fprintf(f, "%s\"t%d\"", i ? "," : "", i);
	fputs("]}}", f);
	fclose(f);
	EXPECT(big, "policy.json:1:41: dangerous.send has 1025 entries, at most 1024 are allowed");
	free(big);

	big = malloc(LEVEL_POLICY_MAX_SIZE + 2);
	if (!big)
		return;
	memset(big, ' ', LEVEL_POLICY_MAX_SIZE + 1);
	big[LEVEL_POLICY_MAX_SIZE + 1] = '\0';
	EXPECT(big, "policy.json:1:1: file too large (65537 bytes, at most 65536)");
	free(big);
}

static void test_names(void)
{
	CHECK_STREQ(perm_level_name(PERM_LEVEL_NORMAL), "normal");
	CHECK_STREQ(perm_level_name(PERM_LEVEL_DANGEROUS), "dangerous");
	CHECK_STREQ(perm_level_name(PERM_LEVEL_SYSTEM), "system");
	CHECK_STREQ(perm_level_name((enum perm_level)7), "invalid");
	CHECK_STREQ(perm_dir_name(PERM_SEND), "send");
	CHECK_STREQ(perm_dir_name(PERM_RECEIVE), "receive");
}

int main(void)
{
	test_default();
	test_custom();
	test_errors();
	test_limits();
	test_names();
	return check_finish("test-levels");
}
