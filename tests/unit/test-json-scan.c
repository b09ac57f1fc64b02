// SPDX-License-Identifier: MIT
/* test-json-scan.c - the strict JSON scanner and the envelope's tree-free path built on it. */
#include <cjson/cJSON.h>

#include "check.h"
#include "envelope.h"
#include "json-scan.h"

static int doc(const char *s)
{
	return json_scan_document((const uint8_t *)s, strlen(s), 32);
}

static void test_grammar(void)
{
	static const char *good[] = {
		"{}", "[]", " {\"a\" : [1, -0.5e+3, true, false, null, \"x\"]} \n", "\"\"", "0", "-0", "1e5",
		"{\"\":{}}", "[[[]]]", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\uD83D\\uDE00\"",
		"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
	};
	static const char *bad[] = {
		"", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[,1]", "{a:1}", "'x'", "01",
		"1.", ".5", "1e", "+1", "--1", "tru", "nul", "True", "{\"a\":1}x", "{} {}", "\"\\x\"",
		"\"\\u12\"", "\"\\u12G4\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
		"\"a\tb\"", "\"a\nb\"", "[1\x0b]", "\"unterminated",
		/* 64 characters: longer than a cJSON receiver reads as one number */
		"1234567890123456789012345678901234567890123456789012345678901234",
	};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		int r = doc(good[i]);
		if (r != 0)
			fprintf(stderr, "refused valid %s (%d)\n", good[i], r);
		CHECK(r == 0);
		/* Whatever the scanner accepts, cJSON parses. */
		cJSON *t = cJSON_Parse(good[i]);
		CHECK(t != NULL);
		cJSON_Delete(t);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int r = doc(bad[i]);
		if (r == 0)
			fprintf(stderr, "accepted invalid %s\n", bad[i]);
		CHECK(r != 0);
	}
	CHECK(doc("123456789012345678901234567890123456789012345678901234567890123") == 0); /* 63 */
}

static void test_utf8_and_depth(void)
{
	static const char *bad_utf8[] = {
		"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "[\xff]",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_utf8); i++)
		CHECK(doc(bad_utf8[i]) == JSON_SCAN_BAD_UTF8);
	CHECK(json_scan_document((const uint8_t *)"[[1]]", 5, 2) == 0);
	CHECK(json_scan_document((const uint8_t *)"[[[1]]]", 7, 2) == JSON_SCAN_TOO_DEEP);
	CHECK(json_scan_document((const uint8_t *)"{\"a\":{\"b\":{}}}", 14, 2) == JSON_SCAN_TOO_DEEP);
	/* Deep nesting is refused by the limit, never by the stack. */
	static char deep[100001];
	memset(deep, '[', sizeof(deep) - 1);
	CHECK(json_scan_document((const uint8_t *)deep, sizeof(deep) - 1, 1000000) == JSON_SCAN_TOO_DEEP);
}

/* The word-at-a-time string scan: a byte that needs a look at every position of a word. */
static void test_every_position(void)
{
	static const char specials[] = { '"', '\\', '\x01', '\x1f', '\x80' };
	for (size_t k = 0; k < ARRAY_LEN(specials); k++)
		for (size_t pos = 0; pos < 24; pos++) {
			char s[40];
			memset(s, 'a', sizeof(s));
			s[0] = '"';
			s[1 + pos] = specials[k];
			s[30] = '"';
			int r = json_scan_document((const uint8_t *)s, 31, 4);
			/* A lone quote ends the string early; the others are invalid where they stand. */
			CHECK(r != 0);
		}
	for (size_t len = 0; len < 24; len++) {
		char s[32];
		memset(s, 'a', sizeof(s));
		s[0] = '"';
		s[len + 1] = '"';
		CHECK(json_scan_document((const uint8_t *)s, len + 2, 4) == 0);
	}
	char ok[40];
	memset(ok, '~', sizeof(ok));
	ok[0] = '"';
	ok[39] = '"';
	CHECK(json_scan_document((const uint8_t *)ok, 40, 4) == 0);
}

static void test_members(void)
{
	const char *s = " { \"a\" : 1 , \"b\\n\" : {\"x\":[]} , \"c\":\"d\" } ";
	struct json_member m[2];
	size_t n = 0;

	CHECK(json_scan_object((const uint8_t *)s, strlen(s), 8, m, 2, &n) == 0);
	CHECK(n == 3);
	CHECK(m[0].key_len == 1 && s[m[0].key_off] == 'a' && !m[0].key_escaped);
	CHECK(m[0].val_len == 1 && s[m[0].val_off] == '1' && m[0].val_kind == '1');
	CHECK(m[1].key_escaped && m[1].key_len == 3);
	CHECK(m[1].val_kind == '{' && m[1].val_len == 8 && memcmp(s + m[1].val_off, "{\"x\":[]}", 8) == 0);
	CHECK(json_scan_object((const uint8_t *)"[1]", 3, 8, m, 2, &n) == JSON_SCAN_MALFORMED);
	CHECK(json_scan_object((const uint8_t *)"[\xff]", 3, 8, m, 2, &n) == JSON_SCAN_BAD_UTF8);
}

static int scan(const char *s, struct envelope_view *v)
{
	return envelope_scan((const uint8_t *)s, strlen(s), 32, v);
}

/* The tree-free path accepts only what envelope_parse accepts, and leaves the rest to it. */
static void test_envelope_scan(void)
{
	struct envelope_view v;
	const char *msg = "{\"type\":\"speak\",\"data\":{\"utterance\":\"hi\"},\"context\":{\"lang\":\"en\",\"sender\":\"x\"}}";

	CHECK(scan(msg, &v) == 0);
	CHECK(v.type_len == 5 && memcmp(msg + v.type_off, "speak", 5) == 0);
	CHECK(v.data_len == 18 && v.n_ctx == 2);
	char out[256];
	CHECK(envelope_stamped_size(strlen(msg), "org.example.a") <= sizeof(out));
	size_t len = envelope_write_stamped(&v, (const uint8_t *)msg, "org.example.a", out);
	out[len] = '\0';
	CHECK_STREQ(out, "{\"type\":\"speak\",\"data\":{\"utterance\":\"hi\"},"
			 "\"context\":{\"lang\":\"en\",\"sender\":\"org.example.a\"}}");
	CHECK(scan("{\"type\":\"ping\"}", &v) == 0);
	len = envelope_write_stamped(&v, (const uint8_t *)"{\"type\":\"ping\"}", "a\"b", out);
	out[len] = '\0';
	CHECK_STREQ(out, "{\"type\":\"ping\",\"data\":{},\"context\":{\"sender\":\"a\\\"b\"}}");

	static const char *refused[] = {
		"[]", "{}", "{\"data\":{}}", "{\"type\":\"a\",\"type\":\"b\"}", "{\"type\":\"a\",\"extra\":1}",
		"{\"type\":\"a*\"}", "{\"type\":1}", "{\"type\":\"a\",\"data\":[]}", "{\"type\":\"a\",\"context\":\"x\"}",
		"{\"type\":\"a\",\"context\":{\"k\":1,\"k\":2}}", "{\"type\":\"a\",\"data\":{\"n\":01}}",
	};
	for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
		CHECK(scan(refused[i], &v) == ENVELOPE_MALFORMED);
		struct envelope e = { 0 };
		const char *why = NULL;
		CHECK(envelope_parse((const uint8_t *)refused[i], strlen(refused[i]), 32, &e, &why) != 0);
	}
	/* Escapes in keys or type, or a large context: only the tree can judge. */
	static const char *tree[] = {
		"{\"typ\\u0065\":\"a\"}", "{\"type\":\"\\u0061\"}", "{\"type\":\"a\",\"context\":{\"s\\u0065nder\":1}}",
		"{\"type\":\"a\",\"context\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,"
		"\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,\"q\":1}}",
	};
	for (size_t i = 0; i < ARRAY_LEN(tree); i++) {
		CHECK(scan(tree[i], &v) == ENVELOPE_NEEDS_TREE);
		struct envelope e = { 0 };
		const char *why = NULL;
		CHECK(envelope_parse((const uint8_t *)tree[i], strlen(tree[i]), 32, &e, &why) == 0);
		envelope_clear(&e);
	}
}

int main(void)
{
	test_grammar();
	test_utf8_and_depth();
	test_every_position();
	test_members();
	test_envelope_scan();
	return check_finish("test-json-scan");
}
