// SPDX-License-Identifier: MIT
/* test-pattern.c - message types, patterns, coverage, overlap and compiled pattern sets. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "pattern.h"

static bool tv(const char *s)
{
	return type_is_valid(s, strlen(s));
}

static void test_types(void)
{
	char longest[TYPE_MAX_LEN + 2];

	CHECK(tv("speak"));
	CHECK(tv("recognizer_loop:utterance"));
	CHECK(tv("mycroft.skills.loaded"));
	CHECK(tv("mycroft-weather.mycroftai:CurrentWeatherIntent"));
	CHECK(tv("a"));
	CHECK(tv("a.b:c-d_e.9"));
	CHECK(!tv(""));
	/* OVOS types: any UTF-8 without controls, invisible characters or '*' */
	CHECK(tv("."));
	CHECK(tv(".a"));
	CHECK(tv("a."));
	CHECK(tv("a:"));
	CHECK(tv("a..b"));
	CHECK(tv("a b"));
	CHECK(tv("a/b"));
	CHECK(tv("caf\xc3\xa9"));
	CHECK(tv("ovos-skill-personal.OpenVoiceOS:What Can You Do"));
	CHECK(!tv(""));
	CHECK(!tv("a*"));
	CHECK(!tv("*"));
	CHECK(!tv("a\tb"));
	CHECK(!tv("a\x7f"));
	CHECK(!tv("a\xc2\x9b"));
	CHECK(!tv("a\xe2\x80\x8f"));
	CHECK(!tv("a\xff"));
	CHECK(!tv("a\xc2\xa0" "b"));         /* NO-BREAK SPACE */
	CHECK(!tv("a\xe3\x80\x80" "b"));     /* IDEOGRAPHIC SPACE */
	CHECK(!tv("a\xe2\xa0\x80" "b"));     /* BRAILLE PATTERN BLANK */
	CHECK(!tv("a\xe2\x80\x8a" "b"));     /* HAIR SPACE */
	CHECK(tv("a\xd0\xb0" "b"));           /* a Cyrillic letter is a letter */
	CHECK(!type_is_valid(NULL, 0));
	/* Lengths: the len argument rules, not NUL termination. */
	CHECK(type_is_valid("speak.x", 5));
	CHECK(!type_is_valid("a\0b", 3));
	memset(longest, 'a', sizeof(longest));
	CHECK(type_is_valid(longest, TYPE_MAX_LEN));
	CHECK(!type_is_valid(longest, TYPE_MAX_LEN + 1));
}

static void test_validate(void)
{
	char buf[PATTERN_MAX_LEN + 2];

	CHECK(pattern_validate("*") == 0);
	CHECK(pattern_validate("speak") == 0);
	CHECK(pattern_validate("weather.*") == 0);
	CHECK(pattern_validate("recognizer_loop:*") == 0);
	CHECK(pattern_validate("a.b.c.*") == 0);
	CHECK(pattern_validate(NULL) == -EINVAL);
	CHECK(pattern_validate("") == -EINVAL);
	CHECK(pattern_validate("**") == -EINVAL);
	CHECK(pattern_validate(".*") == -EINVAL);
	CHECK(pattern_validate(":*") == -EINVAL);
	CHECK(pattern_validate("weather*") == -EINVAL);
	CHECK(pattern_validate("weather.**") == -EINVAL);
	CHECK(pattern_validate("weather..*") == 0);
	CHECK(pattern_validate("*.weather") == -EINVAL);
	CHECK(pattern_validate("a.*.b") == -EINVAL);
	CHECK(pattern_validate("weather.") == 0); /* an exact type now */
	CHECK(pattern_validate("we ather") == 0);
	CHECK(pattern_validate("we ather:*") == 0);
	CHECK(pattern_validate("we*ather") == -EINVAL);
	CHECK(pattern_validate("a.\x01*") == -EINVAL);
	CHECK(pattern_validate("a. *") == -EINVAL);
	memset(buf, 'a', sizeof(buf));
	buf[PATTERN_MAX_LEN] = '\0';
	CHECK(pattern_validate(buf) == 0);
	buf[PATTERN_MAX_LEN] = 'a';
	buf[PATTERN_MAX_LEN + 1] = '\0';
	CHECK(pattern_validate(buf) == -EINVAL);
	buf[PATTERN_MAX_LEN - 2] = '.';
	buf[PATTERN_MAX_LEN - 1] = '*';
	buf[PATTERN_MAX_LEN] = '\0';
	CHECK(pattern_validate(buf) == 0);
}

static void test_matches(void)
{
	CHECK(pattern_matches("*", "speak"));
	CHECK(pattern_matches("speak", "speak"));
	CHECK(!pattern_matches("speak", "speak.done"));
	CHECK(!pattern_matches("speak", "spea"));
	CHECK(pattern_matches("weather.*", "weather.today"));
	CHECK(pattern_matches("weather.*", "weather.a.b"));
	CHECK(pattern_matches("weather.*", "weather.a:b"));
	CHECK(!pattern_matches("weather.*", "weather"));
	CHECK(!pattern_matches("weather.*", "weatherx.today"));
	CHECK(!pattern_matches("weather.*", "weather:today"));
	CHECK(pattern_matches("recognizer_loop:*", "recognizer_loop:utterance"));
	CHECK(!pattern_matches("*", "bad\ntype"));
	CHECK(!pattern_matches("bad*", "bad.x"));
	CHECK(!pattern_matches(NULL, "x"));
	CHECK(!pattern_matches("x", NULL));
}

static void test_covers(void)
{
	CHECK(pattern_covers("*", "*"));
	CHECK(pattern_covers("*", "a.*"));
	CHECK(pattern_covers("*", "a"));
	CHECK(!pattern_covers("a.*", "*"));
	CHECK(!pattern_covers("a", "*"));
	CHECK(pattern_covers("a", "a"));
	CHECK(!pattern_covers("a", "b"));
	CHECK(!pattern_covers("a", "a.*"));
	CHECK(pattern_covers("a.*", "a.b"));
	CHECK(pattern_covers("a.*", "a.b.*"));
	CHECK(pattern_covers("a.*", "a.*"));
	CHECK(pattern_covers("a.*", "a.b:*"));
	CHECK(!pattern_covers("a.b.*", "a.*"));
	CHECK(!pattern_covers("a.*", "a:*"));
	CHECK(!pattern_covers("a.*", "a"));
	CHECK(!pattern_covers("a.*", "ab.c"));
	CHECK(!pattern_covers("bad*", "a"));
	CHECK(!pattern_covers("*", "bad*"));
}

static void test_overlaps(void)
{
	CHECK(pattern_overlaps("*", "capbus.*"));
	CHECK(pattern_overlaps("capbus.*", "*"));
	CHECK(pattern_overlaps("capbus.*", "capbus.*"));
	CHECK(pattern_overlaps("capbus.x", "capbus.*"));
	CHECK(pattern_overlaps("capbus.*", "capbus.x.y"));
	CHECK(pattern_overlaps("capbus.*", "capbus.x.*"));
	CHECK(pattern_overlaps("capbus.x.*", "capbus.*"));
	CHECK(!pattern_overlaps("capbus", "capbus.*"));
	CHECK(!pattern_overlaps("capbus.*", "capbusx.*"));
	CHECK(!pattern_overlaps("capbus.*", "capbus:*"));
	CHECK(pattern_overlaps("a", "a"));
	CHECK(!pattern_overlaps("a", "b"));
	CHECK(!pattern_overlaps("*", "a*"));
	CHECK(!pattern_overlaps("a\x01b", "*"));
}

/* Every relation agrees with its definition over a small universe of types. */
static void test_relations_brute_force(void)
{
	static const char *const patterns[] = { "*", "a", "a.b", "a:b", "a.b.c", "a.*", "a:*", "a.b.*", "a.b:*",
						"b.*", "ab.*", "ab", "a.bc" };
	static const char *const types[] = { "a", "b", "ab", "a.b", "a:b", "a.c", "a.b.c", "a.b:c", "a.bc",
					     "ab.c", "b.a", "a:b.c", "a.b.c.d", "x" };

	for (size_t i = 0; i < ARRAY_LEN(patterns); i++)
		for (size_t j = 0; j < ARRAY_LEN(patterns); j++) {
			const char *p = patterns[i], *q = patterns[j];
			bool all_in = true, some_both = false;

			for (size_t k = 0; k < ARRAY_LEN(types); k++) {
				bool mq = pattern_matches(q, types[k]), mp = pattern_matches(p, types[k]);

				if (mq && !mp)
					all_in = false;
				if (mq && mp)
					some_both = true;
			}
			/* The sample is finite: it can refute coverage and prove overlap. */
			if (!all_in)
				CHECK(!pattern_covers(p, q));
			if (some_both)
				CHECK(pattern_overlaps(p, q));
			CHECK(pattern_overlaps(p, q) == pattern_overlaps(q, p));
			if (pattern_covers(p, q))
				CHECK(pattern_overlaps(p, q));
		}
}

static void test_set(void)
{
	struct pattern_set *s = NULL;

	CHECK(pattern_set_new(&s) == 0);
	CHECK(pattern_set_count(s) == 0);
	CHECK(!pattern_set_match(s, "speak", 5));
	CHECK(!pattern_set_covers(s, "speak"));
	CHECK(pattern_set_add(s, "speak") == 0);
	CHECK(pattern_set_add(s, "intent.weather.*") == 0);
	CHECK(pattern_set_add(s, "recognizer_loop:*") == 0);
	CHECK(pattern_set_add(s, "speak") == 0);
	CHECK(pattern_set_add(s, "bad*") == -EINVAL);
	CHECK(pattern_set_add(s, "") == -EINVAL);
	CHECK(pattern_set_count(s) == 3);
	CHECK_STREQ(pattern_set_get(s, 0), "speak");
	CHECK_STREQ(pattern_set_get(s, 1), "intent.weather.*");
	CHECK_STREQ(pattern_set_get(s, 2), "recognizer_loop:*");
	CHECK(pattern_set_get(s, 3) == NULL);

	CHECK(pattern_set_match(s, "speak", 5));
	CHECK(!pattern_set_match(s, "speak.x", 7));
	CHECK(pattern_set_match(s, "speak.x", 5));
	CHECK(pattern_set_match(s, "intent.weather.today", 20));
	CHECK(pattern_set_match(s, "intent.weather.a.b", 18));
	CHECK(!pattern_set_match(s, "intent.weather", 14));
	CHECK(!pattern_set_match(s, "intent.weather.", 15)); /* longer than the prefix only */
	CHECK(pattern_set_match(s, "intent.weather..", 16));
	CHECK(!pattern_matches("intent.weather.*", "intent.weather."));
	CHECK(pattern_matches("intent.weather.*", "intent.weather. "));
	CHECK(!pattern_set_match(s, "intent.other", 12));
	CHECK(pattern_set_match(s, "recognizer_loop:utterance", 25));
	CHECK(!pattern_set_match(s, "recognizer_loop.utterance", 25));
	CHECK(!pattern_set_match(s, "intent.weather\x01x", 16));

	CHECK(pattern_set_covers(s, "intent.weather.today"));
	CHECK(pattern_set_covers(s, "intent.weather.*"));
	CHECK(pattern_set_covers(s, "intent.weather.x.*"));
	CHECK(!pattern_set_covers(s, "intent.*"));
	CHECK(!pattern_set_covers(s, "intent.weather"));
	CHECK(!pattern_set_covers(s, "*"));
	CHECK(pattern_set_covers(s, "speak"));
	CHECK(!pattern_set_covers(s, "speak.*"));
	CHECK(!pattern_set_covers(s, "bad*"));

	CHECK(pattern_set_add(s, "*") == 0);
	CHECK(pattern_set_add(s, "*") == 0);
	CHECK(pattern_set_count(s) == 4);
	CHECK(pattern_set_match(s, "anything.at:all", 15));
	CHECK(!pattern_set_match(s, "not*valid", 9));
	CHECK(pattern_set_covers(s, "*"));
	CHECK(pattern_set_covers(s, "intent.*"));
	pattern_set_free(s);
	pattern_set_free(NULL);
}

/* Large sets stay exact: compare against the pattern-by-pattern definition, and make sure
 * growing the hash tables kept every entry. */
static void test_set_many(void)
{
	struct pattern_set *s = NULL;
	char p[64], t[64];

	CHECK(pattern_set_new(&s) == 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(p, sizeof(p), i % 2 ? "skill%d.*" : "type.%d", i);
		CHECK(pattern_set_add(s, p) == 0);
	}
	CHECK(pattern_set_count(s) == 2000);
	for (int i = 0; i < 2000; i++) {
		bool odd = i % 2;

		snprintf(t, sizeof(t), "type.%d", i);
		CHECK(pattern_set_match(s, t, strlen(t)) == !odd);
		snprintf(t, sizeof(t), "skill%d.x.y", i);
		CHECK(pattern_set_match(s, t, strlen(t)) == odd);
		snprintf(t, sizeof(t), "skill%d:x", i);
		CHECK(!pattern_set_match(s, t, strlen(t)));
		snprintf(p, sizeof(p), "skill%d.sub.*", i);
		CHECK(pattern_set_covers(s, p) == odd);
	}
	pattern_set_free(s);
}

int main(void)
{
	test_types();
	test_validate();
	test_matches();
	test_covers();
	test_overlaps();
	test_relations_brute_force();
	test_set();
	test_set_many();
	return check_finish("test-pattern");
}
