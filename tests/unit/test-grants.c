// SPDX-License-Identifier: MIT
/* test-grants.c - grants file parsing and compiling the effective permissions. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "grants.h"
#include "util.h"

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static char *parse_err(const char *text, size_t len)
{
	char **v = NULL, *err = NULL;
	size_t n = 99;
	int r = grants_parse(text, len, "grants/x", &v, &n, &err);

	if (r == 0) {
		free_strv(v);
		return strdup("OK");
	}
	CHECK(r == GRANTS_INVALID);
	CHECK(v == NULL && n == 99);
	return err ? err : strdup("(no message)");
}

#define EXPECT(text, expected)                                           \
	do {                                                             \
		_cleanup_free_ char *_e = parse_err(text, strlen(text)); \
		CHECK_STREQ(_e, expected);                               \
	} while (0)

static void test_parse(void)
{
	static const char text[] = "# granted by capbus install\n"
				   "\n"
				   "recognizer_loop:utterance\n"
				   "   \t\n"
				   "  *\t\n"
				   "\t# indented comment\n"
				   "mycroft.skills.*";
	char **v = NULL;
	size_t n = 0;

	CHECK(grants_parse(text, strlen(text), "g", &v, &n, NULL) == 0);
	CHECK(n == 3);
	if (v && n == 3) {
		CHECK_STREQ(v[0], "recognizer_loop:utterance");
		CHECK_STREQ(v[1], "*");
		CHECK_STREQ(v[2], "mycroft.skills.*");
		CHECK(v[3] == NULL);
	}
	free_strv(v);
	v = NULL;
	CHECK(grants_parse("", 0, "g", &v, &n, NULL) == 0 && n == 0 && v && !v[0]);
	free_strv(v);

	EXPECT("a\nb\n", "OK");
	EXPECT("speak\nweather*\n", "grants/x:2:1: not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
	EXPECT("speak\n  speak\n", "grants/x:2:3: pattern granted twice");
	EXPECT("speak # why\n", "grants/x:1:7: one pattern per line; comments must start their own line");
	EXPECT("a #b\n", "grants/x:1:3: one pattern per line; comments must start their own line");
	EXPECT("a\tb\n", "grants/x:1:2: one pattern per line; comments must start their own line");
	EXPECT("a b*\n", "grants/x:1:1: not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
	EXPECT("speak\r\n", "grants/x:1:6: carriage return (lines must end in \\n alone)");
	EXPECT("speak\x0b\n", "grants/x:1:6: one pattern per line; comments must start their own line");
	EXPECT("# \xff\n", "grants/x:1:3: invalid UTF-8");
	EXPECT("\xe2\x80\x8bspeak\n", "grants/x:1:1: not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
	{
		static const char nul[] = "a\n\0b\n";
		_cleanup_free_ char *e = parse_err(nul, sizeof(nul) - 1);

		CHECK_STREQ(e, "grants/x:2:1: NUL byte");
	}
	{
		_cleanup_free_ char *big = malloc(GRANTS_MAX_SIZE + 2);

		if (big) {
			memset(big, '\n', GRANTS_MAX_SIZE + 1);
			big[GRANTS_MAX_SIZE + 1] = '\0';
			EXPECT(big, "grants/x:1:1: file too large (65537 bytes, at most 65536)");
			/* Many distinct lines stay fast (hash set, not pairwise compares). */
			for (size_t i = 0; i + 8 <= GRANTS_MAX_SIZE; i += 8)
				snprintf(big + i, 9, "t%06zu\n", i / 8);
			big[GRANTS_MAX_SIZE] = '\0';
			EXPECT(big, "OK");
		}
	}
	{
		char **out = NULL;
		size_t n_out = 5;

		CHECK(grants_parse("x\ty", 3, NULL, &out, &n_out, NULL) == GRANTS_INVALID && !out && n_out == 5);
	}
}

static void test_format(void)
{
	static const char *const p[] = { "recognizer_loop:utterance", "*" };
	_cleanup_free_ char *text = grants_format(p, 2);
	char **v = NULL;
	size_t n = 0;

	CHECK_STREQ(text, "# capbus grants: one pattern per line\nrecognizer_loop:utterance\n*\n");
	CHECK(text && grants_parse(text, strlen(text), "g", &v, &n, NULL) == 0 && n == 2);
	free_strv(v);
	{
		_cleanup_free_ char *empty = grants_format(NULL, 0);

		CHECK_STREQ(empty, "# capbus grants: one pattern per line\n");
	}
}

static struct manifest *parse(const char *text)
{
	struct manifest *m = NULL;

	CHECK(manifest_parse(text, strlen(text), "t.json", &m, NULL) == 0);
	return m;
}

static bool has_denial(const struct permissions *p, enum perm_dir dir, const char *pattern, enum perm_level level,
		       const char *because)
{
	for (size_t i = 0; i < p->n_denied; i++)
		if (p->denied[i].dir == dir && streq(p->denied[i].pattern, pattern) && p->denied[i].level == level &&
		    streq(p->denied[i].because, because))
			return true;
	return false;
}

static void test_compile(void)
{
	struct manifest *m = parse("{\"manifest_version\":1,\"id\":\"x\",\"bus\":{"
				   "\"send\":[\"speak\",\"recognizer_loop:utterance\",\"capbus.x\",\"weather.*\"],"
				   "\"receive\":[\"intent.weather.*\",\"*\",\"recognizer_loop:utterance\"]}}");
	struct level_policy *lp = NULL;
	struct permissions *p = NULL;
	static const char *const granted[] = { "*", "capbus.x", "not.requested", "intent.*" };

	CHECK(level_policy_new_default(&lp) == 0);
	if (!m || !lp)
		goto out;

	/* Nothing granted: only normal patterns. */
	CHECK(permissions_compile(m, lp, NULL, 0, &p) == 0);
	if (p) {
		CHECK(pattern_set_count(p->send) == 2);
		CHECK(pattern_set_match(p->send, "speak", 5));
		CHECK(pattern_set_match(p->send, "weather.today", 13));
		CHECK(!pattern_set_match(p->send, "recognizer_loop:utterance", 25));
		CHECK(!pattern_set_match(p->send, "capbus.x", 8));
		CHECK(pattern_set_count(p->receive) == 1);
		CHECK(pattern_set_covers(p->receive, "intent.weather.*"));
		CHECK(!pattern_set_match(p->receive, "speak", 5));
		CHECK(p->n_denied == 4);
		CHECK(has_denial(p, PERM_SEND, "recognizer_loop:utterance", PERM_LEVEL_DANGEROUS, "recognizer_loop:*"));
		CHECK(has_denial(p, PERM_SEND, "capbus.x", PERM_LEVEL_SYSTEM, "capbus.*"));
		CHECK(has_denial(p, PERM_RECEIVE, "*", PERM_LEVEL_DANGEROUS, "recognizer_loop:utterance"));
		CHECK(has_denial(p, PERM_RECEIVE, "recognizer_loop:utterance", PERM_LEVEL_DANGEROUS,
				 "recognizer_loop:utterance"));
	}
	permissions_free(p);
	p = NULL;

	/* "*" granted, as written; a grant of a system pattern changes nothing; grants the manifest
	 * does not request are ignored, and "intent.*" does not stand in for anything else. */
	CHECK(permissions_compile(m, lp, granted, ARRAY_LEN(granted), &p) == 0);
	if (p) {
		CHECK(pattern_set_count(p->send) == 2);
		CHECK(!pattern_set_match(p->send, "capbus.x", 8));
		CHECK(pattern_set_count(p->receive) == 2);
		CHECK(pattern_set_match(p->receive, "speak", 5));
		CHECK(pattern_set_covers(p->receive, "*"));
		CHECK(p->n_denied == 3);
		CHECK(has_denial(p, PERM_SEND, "capbus.x", PERM_LEVEL_SYSTEM, "capbus.*"));
		CHECK(has_denial(p, PERM_RECEIVE, "recognizer_loop:utterance", PERM_LEVEL_DANGEROUS,
				 "recognizer_loop:utterance"));
		CHECK(!has_denial(p, PERM_RECEIVE, "*", PERM_LEVEL_DANGEROUS, "recognizer_loop:utterance"));
	}
	permissions_free(p);
	p = NULL;
	permissions_free(NULL);

	/* An external client with no bus section gets empty sets, not NULL ones. */
	manifest_free(m);
	m = parse("{\"manifest_version\":1,\"id\":\"alice\"}");
	if (m && permissions_compile(m, lp, NULL, 0, &p) == 0) {
		CHECK(pattern_set_count(p->send) == 0 && pattern_set_count(p->receive) == 0 && p->n_denied == 0);
		CHECK(!pattern_set_match(p->send, "speak", 5));
	}
	permissions_free(p);
out:
	manifest_free(m);
	level_policy_free(lp);
}

int main(void)
{
	test_parse();
	test_format();
	test_compile();
	return check_finish("test-grants");
}
