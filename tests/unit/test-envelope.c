// SPDX-License-Identifier: MIT
/* test-envelope.c - unit tests for lib/envelope.c: strict parsing of Mycroft-shaped messages.
 *
 * Every rule of "Messages" in docs/protocol.md gets accepted and refused examples: strict
 * UTF-8, control bytes, depth, trailing bytes, duplicate and unknown keys, type syntax, the
 * shape of data and context, sender stamping and serialisation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "envelope.h"

static int parse_n(const char *body, size_t len, unsigned depth)
{
	struct envelope e = { 0 };
	const char *why = NULL;
	int r = envelope_parse((const uint8_t *)body, len, depth, &e, &why);

	if (r == 0) {
		CHECK(why == NULL);
		CHECK(e.root && e.type && cJSON_IsObject(e.data) && cJSON_IsObject(e.context));
		envelope_clear(&e);
	} else {
		CHECK(why != NULL);
		CHECK(e.root == NULL);
	}
	return r;
}

static int parse(const char *body)
{
	return parse_n(body, strlen(body), ENVELOPE_DEFAULT_DEPTH);
}

#define CHECK_PARSE(body, expected)                                                            \
	do {                                                                                   \
		int _r = parse(body);                                                          \
		CHECK(_r == (expected));                                                       \
		if (_r != (expected))                                                          \
			fprintf(stderr, "  body %s: got %d, expected %d\n", #body, _r, (expected)); \
	} while (0)

static void test_valid(void)
{
	CHECK_PARSE("{\"type\":\"speak\"}", 0);
	CHECK_PARSE("{\"type\": \"speak\", \"data\": {\"utterance\": \"It is sunny\"}, "
		    "\"context\": {\"sender\": \"org.example.weather\"}}", 0);
	CHECK_PARSE(" \t\r\n{\"type\":\"recognizer_loop:utterance\",\"data\":{\"utterances\":[\"hi\"]}}\n", 0);
	CHECK_PARSE("{\"data\":{},\"type\":\"a\",\"context\":{}}", 0);
	CHECK_PARSE("{\"type\":\"a\",\"data\":{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}}", 0);
	CHECK_PARSE("{\"type\":\"a\",\"data\":{\"s\":\"\\ud83d\\ude00 \\\" \\\\ \\n \\u00e9\"}}", 0);
	/* Duplicate keys inside data are the sender's business. */
	CHECK_PARSE("{\"type\":\"a\",\"data\":{\"k\":1,\"k\":2}}", 0);
	CHECK_PARSE("{\"type\":\"a\",\"data\":{\"n\":[1,-2.5,1e10,true,false,null]}}", 0);

	struct envelope e = { 0 };
	const char *why = NULL;
	const char *body = "{\"type\":\"weather.today\",\"data\":{\"city\":\"Oslo\"}}";
	CHECK(envelope_parse((const uint8_t *)body, strlen(body), 32, &e, &why) == 0);
	CHECK_STREQ(e.type, "weather.today");
	CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e.data, "city")), "Oslo");
	CHECK(e.context && e.context->child == NULL); /* absent context becomes {} */
	envelope_clear(&e);
	CHECK(e.root == NULL && e.type == NULL);
}

static void test_bad_utf8(void)
{
	const char *bad[] = {
		"\xc0\xaf",             /* overlong '/' */
		"\xc1\xbf",             /* overlong */
		"\xe0\x80\xaf",         /* overlong 3-byte */
		"\xe0\x9f\xbf",         /* overlong 3-byte, top */
		"\xf0\x80\x80\xaf",     /* overlong 4-byte */
		"\xf0\x8f\xbf\xbf",     /* overlong 4-byte, top */
		"\xed\xa0\x80",         /* U+D800 */
		"\xed\xbf\xbf",         /* U+DFFF */
		"\xed\xa0\xbd\xed\xb8\x80", /* CESU-8 surrogate pair */
		"\xf4\x90\x80\x80",     /* U+110000 */
		"\xf5\x80\x80\x80",
		"\xf8\x88\x80\x80\x80", /* 5-byte form */
		"\xfe", "\xff",
		"\x80",                 /* lone continuation */
		"\xbf",
		"\xc3",                 /* truncated */
		"\xe2\x82",
		"\xf0\x9f\x98",
		"\xc3\x41",             /* continuation missing */
		"\xe2\x28\xa1",
	};
	const char *good[] = { "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
			       "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf" };
	char body[128];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(body, sizeof(body), "{\"type\":\"a\",\"data\":{\"s\":\"%s\"}}", bad[i]);
		CHECK(parse(body) == ENVELOPE_BAD_UTF8);
		/* In a key, and at the very end of the body (no closing bytes to lean on). */
		snprintf(body, sizeof(body), "{\"type\":\"a\",\"data\":{\"%s\":1}}", bad[i]);
		CHECK(parse(body) == ENVELOPE_BAD_UTF8);
		snprintf(body, sizeof(body), "{\"type\":\"a\"}%s", bad[i]);
		CHECK(parse(body) == ENVELOPE_BAD_UTF8);
		CHECK(envelope_prescan((const uint8_t *)bad[i], strlen(bad[i]), 32) == ENVELOPE_BAD_UTF8);
	}
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		snprintf(body, sizeof(body), "{\"type\":\"a\",\"data\":{\"s\":\"%s\"}}", good[i]);
		CHECK(parse(body) == 0);
	}
	/* Escaped lone surrogates are not valid JSON text either. */
	CHECK(parse("{\"type\":\"a\",\"data\":{\"s\":\"\\ud800\"}}") == ENVELOPE_MALFORMED);
	CHECK(parse("{\"type\":\"a\",\"data\":{\"s\":\"\\udc00\"}}") == ENVELOPE_MALFORMED);
	CHECK(parse("{\"type\":\"a\",\"data\":{\"s\":\"\\ud800\\u0041\"}}") == ENVELOPE_MALFORMED);
}

static void test_control_chars(void)
{
	char body[64];

	for (int c = 0; c < 0x20; c++) {
		int n = snprintf(body, sizeof(body), "{\"type\":\"a\",\"data\":{\"s\":\"x%cy\"}}", c);
		/* Raw control bytes inside strings, including tab and newline and NUL. */
		CHECK(parse_n(body, (size_t)n, 32) == ENVELOPE_MALFORMED);
		n = snprintf(body, sizeof(body), "{\"type\":\"a\",%c\"data\":{}}", c);
		bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r';
		CHECK(parse_n(body, (size_t)n, 32) == (ws ? 0 : ENVELOPE_MALFORMED));
	}
	/* Escaped control characters are fine. */
	CHECK(parse("{\"type\":\"a\",\"data\":{\"s\":\"\\t\\u0001\\u001f\"}}") == 0);
}

static char *nested(unsigned depth)
{
	/* root object + data object + (depth - 2) arrays */
	size_t cap = 64 + 2 * depth;
	char *s = malloc(cap);
	size_t o = (size_t)snprintf(s, cap, "{\"type\":\"a\",\"data\":{\"x\":");

	for (unsigned i = 2; i < depth; i++)
		s[o++] = '[';
	s[o++] = '1';
	for (unsigned i = 2; i < depth; i++)
		s[o++] = ']';
	s[o++] = '}';
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

static void test_depth(void)
{
	char *ok = nested(ENVELOPE_DEFAULT_DEPTH), *deep = nested(ENVELOPE_DEFAULT_DEPTH + 1);

	CHECK(parse(ok) == 0);
	CHECK(parse(deep) == ENVELOPE_TOO_DEEP);
	CHECK(parse_n(ok, strlen(ok), ENVELOPE_DEFAULT_DEPTH - 1) == ENVELOPE_TOO_DEEP);
	CHECK(parse_n(deep, strlen(deep), ENVELOPE_DEFAULT_DEPTH + 1) == 0);
	free(ok);
	free(deep);

	char *huge = nested(100000);
	CHECK(parse(huge) == ENVELOPE_TOO_DEEP);
	CHECK(parse_n(huge, strlen(huge), 200000) != 0); /* refused by the JSON parser's own limit */
	free(huge);

	/* Brackets inside strings do not count. */
	const char *in_string = "{\"type\":\"a\",\"data\":{\"s\":\"[[[[{{{{\\\"[[\"}}";
	const char *array = "{\"type\":\"a\",\"data\":{\"s\":[]}}";
	CHECK(parse_n(in_string, strlen(in_string), 2) == 0);
	CHECK(parse_n(array, strlen(array), 2) == ENVELOPE_TOO_DEEP);
	/* Unbalanced. */
	CHECK(parse("{\"type\":\"a\"}}") == ENVELOPE_MALFORMED);
	CHECK(parse("]{\"type\":\"a\"}") == ENVELOPE_MALFORMED);
	CHECK(parse("{\"type\":\"a\"") == ENVELOPE_MALFORMED);
	CHECK(parse("{\"type\":\"a}") == ENVELOPE_MALFORMED);
	CHECK(envelope_prescan((const uint8_t *)"{\"a\":\"\\\"}", 9, 32) == ENVELOPE_MALFORMED);
}

static void test_trailing_and_shape(void)
{
	CHECK_PARSE("{\"type\":\"a\"} x", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\"}{}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\"},", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\"}\"\"", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\"} \n\t\r", 0);
	CHECK(parse_n("{\"type\":\"a\"}\0", 13, 32) == ENVELOPE_MALFORMED);
	/* A shorter length stops where the caller said. */
	CHECK(parse_n("{\"type\":\"a\"}garbage", 12, 32) == 0);

	CHECK_PARSE("", ENVELOPE_MALFORMED);
	CHECK_PARSE("  ", ENVELOPE_MALFORMED);
	CHECK_PARSE("[]", ENVELOPE_MALFORMED);
	CHECK_PARSE("\"speak\"", ENVELOPE_MALFORMED);
	CHECK_PARSE("1", ENVELOPE_MALFORMED);
	CHECK_PARSE("null", ENVELOPE_MALFORMED);
	CHECK_PARSE("{}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{'type':'a'}", ENVELOPE_MALFORMED);

	/* data and context must be objects. */
	CHECK_PARSE("{\"type\":\"a\",\"data\":[]}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"data\":null}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"data\":\"x\"}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"context\":[]}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"context\":1}", ENVELOPE_MALFORMED);

	/* Unknown top-level keys, including near misses. */
	CHECK_PARSE("{\"type\":\"a\",\"extra\":1}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"Type\":\"a\"}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"Data\":{}}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"contexts\":{}}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"\":{}}", ENVELOPE_MALFORMED);
}

static void test_duplicates(void)
{
	CHECK_PARSE("{\"type\":\"a\",\"type\":\"b\"}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"type\":\"a\"}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"data\":{},\"data\":{}}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"context\":{},\"type\":\"a\",\"context\":{}}", ENVELOPE_MALFORMED);
	/* An escaped spelling of the same key is still the same key. */
	CHECK_PARSE("{\"type\":\"a\",\"\\u0074ype\":\"b\"}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"context\":{\"sender\":\"x\",\"sender\":\"y\"}}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"context\":{\"k\":1,\"k\":1}}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"a\",\"context\":{\"k\":1,\"K\":1}}", 0);
}

static void test_type_syntax(void)
{
	char body[400], type[300];

	CHECK_PARSE("{\"data\":{}}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":\"\"}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":1}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":null}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":[\"a\"]}", ENVELOPE_MALFORMED);
	CHECK_PARSE("{\"type\":{}}", ENVELOPE_MALFORMED);
	/* controls (C0, DEL, C1, escaped or not), invisible characters, '*', invalid UTF-8 */
	const char *bad[] = { "a*", "*", "weather.*", "a\\nb", "a\\u0001b", "a\x7f", "a\\u007fb", "a\xc2\x85",
			      "a\\u0085b", "a\xe2\x80\x8b" "b", "a\\u200bb", "a\xe2\x80\xae" "b", "a\xef\xbb\xbf",
			      "a\xe2\x80\xa8", "\xc3", "a\xc0\xaf" "b", "a\xed\xa0\x80" "b", "a\xf4\x90\x80\x80" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(body, sizeof(body), "{\"type\":\"%s\"}", bad[i]);
		CHECK(parse(body) != 0); /* malformed, or not UTF-8 at all */
	}
	const char *good[] = { "speak", "a", "A-Z_0.9:x", "recognizer_loop:utterance", "mycroft.skill.handler.complete",
			       "a b", "a/b", "caf\xc3\xa9", "a\\u0020b", "a\\\"b", "a,b", "a.", ".a", "a..b",
			       "ovos-skill-personal.OpenVoiceOS:WhoMadeYou.intent", "skill-x.author:Weather Intent",
			       "\xe5\xa4\xa9\xe6\xb0\x97", "a\\\\b" };
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		snprintf(body, sizeof(body), "{\"type\":\"%s\"}", good[i]);
		CHECK(parse(body) == 0);
		CHECK(envelope_type_is_valid(good[i], strlen(good[i])));
	}
	memset(type, 'a', ENVELOPE_TYPE_MAX);
	type[ENVELOPE_TYPE_MAX] = '\0';
	snprintf(body, sizeof(body), "{\"type\":\"%s\"}", type);
	CHECK(parse(body) == 0);
	type[ENVELOPE_TYPE_MAX] = 'a';
	type[ENVELOPE_TYPE_MAX + 1] = '\0';
	snprintf(body, sizeof(body), "{\"type\":\"%s\"}", type);
	CHECK(parse(body) == ENVELOPE_MALFORMED);
	CHECK(!envelope_type_is_valid(type, ENVELOPE_TYPE_MAX + 1));
	CHECK(!envelope_type_is_valid("", 0));
}

/* docs/protocol.md: "segments of [A-Za-z0-9_-] separated by . or :" - no empty segment. */
static void test_type_segments(void)
{
	/* No segment rule: OVOS types are free text between the separators */
	const char *good[] = { ".a", "a.", "a..b", ":", "a:", ":a", "a.:b" };
	char body[64];

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		snprintf(body, sizeof(body), "{\"type\":\"%s\"}", good[i]);
		int r = parse(body);
		CHECK(r == 0);
		if (r != 0)
			fprintf(stderr, "  type \"%s\" refused\n", good[i]);
	}
}

/* A NUL escaped into a string would be cut at the NUL by every C consumer: the router would
 * see another type or key than the text says. Such messages must be refused. */
static void test_escaped_nul(void)
{
	const char *bodies[] = {
		"{\"type\":\"speak\\u0000.evil\"}",
		"{\"type\\u0000x\":\"speak\"}",
		"{\"type\":\"a\",\"data\":{\"s\":\"x\\u0000y\"}}",
		"{\"type\":\"a\",\"data\":{\"k\\u0000\":1}}",
		"{\"type\":\"a\",\"context\":{\"sender\\u0000\":\"admin\"}}",
		"{\"type\":\"a\",\"data\":{\"s\":[\"\\u0000\"]}}",
	};

	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		int r = parse(bodies[i]);
		CHECK(r == ENVELOPE_MALFORMED);
		if (r != ENVELOPE_MALFORMED)
			fprintf(stderr, "  accepted: %s\n", bodies[i]);
	}
}

/* Numbers follow the RFC 8259 grammar; the parser underneath would take more and rewrite it. */
static void test_numbers(void)
{
	const char *good[] = { "0", "-0", "1", "-1", "10", "1.5", "-0.25", "1e3", "1E+3", "1e-3", "0.0e-0",
			       "123456789012345678901234567890" };
	const char *bad[] = { "01", "-01", "00", "1.", ".5", "-", "+1", "1e", "1e+", "1.e3", "0x10", "1..2",
			      "1.5.2", "1e3e4", "--1", "1-", "NaN", "Infinity", "-Infinity", "1 2" };
	char body[128];

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		snprintf(body, sizeof(body), "{\"type\":\"a\",\"data\":{\"n\":%s,\"v\":[%s]}}", good[i], good[i]);
		int r = parse(body);
		CHECK(r == 0);
		if (r != 0)
			fprintf(stderr, "  number %s refused\n", good[i]);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(body, sizeof(body), "{\"type\":\"a\",\"data\":{\"n\":%s}}", bad[i]);
		int r = parse(body);
		CHECK(r == ENVELOPE_MALFORMED);
		if (r != ENVELOPE_MALFORMED)
			fprintf(stderr, "  number %s accepted\n", bad[i]);
	}
	/* Inside strings anything goes. */
	CHECK(parse("{\"type\":\"a\",\"data\":{\"s\":\"01 1. .5 -\"}}") == 0);
	/* Escaped backslash followed by u0000 is not an escaped NUL. */
	CHECK(parse("{\"type\":\"a\",\"data\":{\"s\":\"\\\\u0000\"}}") == 0);
	CHECK(parse("{\"type\":\"a\",\"data\":{\"s\":\"\\\\\\u0000\"}}") == ENVELOPE_MALFORMED);
}

static void test_sender_and_serialize(void)
{
	struct envelope e = { 0 }, again = { 0 };
	const char *why = NULL;
	const char *body = "{\"type\":\"speak\",\"data\":{\"utterance\":\"hi \\\"you\\\"\"},"
			   "\"context\":{\"sender\":\"admin\",\"session\":7}}";
	size_t len = 0;

	CHECK(envelope_parse((const uint8_t *)body, strlen(body), 32, &e, &why) == 0);
	CHECK(envelope_set_sender(&e, "alice") == 0);
	CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e.context, "sender")), "alice");
	CHECK(cJSON_GetArraySize(e.context) == 2);
	char *s = envelope_serialize(&e, &len);
	CHECK(s && len == strlen(s));
	CHECK(strstr(s, "admin") == NULL);
	CHECK(strchr(s, ' ') == strstr(s, " \\\"you")); /* compact: the only space is in the data */
	CHECK(envelope_parse((const uint8_t *)s, len, 32, &again, &why) == 0);
	CHECK_STREQ(again.type, "speak");
	CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(again.context, "sender")), "alice");
	CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(again.data, "utterance")), "hi \"you\"");
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(again.context, "session")) == 7);
	free(s);
	envelope_clear(&again);
	/* Stamping twice keeps one sender. */
	CHECK(envelope_set_sender(&e, "bob") == 0);
	s = envelope_serialize(&e, NULL);
	CHECK(s && strstr(s, "\"sender\":\"bob\"") && !strstr(s, "alice"));
	free(s);
	envelope_clear(&e);

	/* No context at all: one is created. A non-string sender is replaced too. */
	body = "{\"type\":\"a\",\"context\":{\"sender\":{\"id\":\"admin\"}}}";
	CHECK(envelope_parse((const uint8_t *)body, strlen(body), 32, &e, &why) == 0);
	CHECK(envelope_set_sender(&e, "alice") == 0);
	s = envelope_serialize(&e, NULL);
	CHECK_STREQ(s, "{\"type\":\"a\",\"context\":{\"sender\":\"alice\"},\"data\":{}}");
	free(s);
	envelope_clear(&e);
	body = "{\"type\":\"a\"}";
	CHECK(envelope_parse((const uint8_t *)body, strlen(body), 32, &e, &why) == 0);
	CHECK(envelope_set_sender(&e, "alice") == 0);
	s = envelope_serialize(&e, NULL);
	CHECK_STREQ(s, "{\"type\":\"a\",\"data\":{},\"context\":{\"sender\":\"alice\"}}");
	free(s);
	envelope_clear(&e);
}

static void test_build(void)
{
	struct envelope e = { 0 };
	const char *why = NULL;

	CHECK(envelope_build("weather.today", "{\"city\": \"Oslo\"} \n", &e, &why) == 0);
	CHECK_STREQ(e.type, "weather.today");
	CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e.data, "city")), "Oslo");
	envelope_clear(&e);
	CHECK(envelope_build("ping", NULL, &e, &why) == 0);
	CHECK(cJSON_IsObject(e.data) && e.data->child == NULL);
	envelope_clear(&e);

	const char *bad_data[] = { "[]", "1", "\"x\"", "{", "{} x", "{}{}", "{\"a\":\"\xc0\xaf\"}", "" };
	for (size_t i = 0; i < ARRAY_LEN(bad_data); i++) {
		why = NULL;
		CHECK(envelope_build("a", bad_data[i], &e, &why) == ENVELOPE_MALFORMED);
		CHECK(why != NULL);
		CHECK(e.root == NULL);
	}
	CHECK(envelope_build("a*", NULL, &e, &why) == ENVELOPE_MALFORMED);
	CHECK(envelope_build("a\nb", NULL, &e, &why) == ENVELOPE_MALFORMED);
	CHECK(envelope_build("", NULL, &e, &why) == ENVELOPE_MALFORMED);

	/* A type holding '"' and '\\' is written escaped, and reads back as itself. */
	static const char odd[] = "say \"hi\" \\ caf\xc3\xa9:Weather Intent";
	char out[256];
	size_t len = envelope_write(out, odd, strlen(odd), NULL, 0, NULL, 0);
	CHECK(len < sizeof(out) && len <= envelope_write_size(strlen(odd), 0, 0));
	struct envelope back = { 0 };
	why = NULL;
	CHECK(envelope_parse((const uint8_t *)out, len, 32, &back, &why) == 0);
	CHECK(back.type && strcmp(back.type, odd) == 0);
	envelope_clear(&back);
}

/* The router copies data from the input: the result must mean what the full serialisation means. */
static void test_serialize_raw(void)
{
	static const char *const inputs[] = {
		"{\"type\":\"speak\",\"data\":{\"utterance\":\"hi\",\"n\":1.50,\"x\":[1,2,{\"y\":null}]}}",
		"{ \"data\" : { \"a\" : \"\\u00e9\\n\" } , \"type\" : \"a.b\" , \"context\" : {\"k\":\"v\"} }",
		"{\"type\":\"a:b\"}",
		"{\"context\":{\"sender\":\"forged\"},\"type\":\"a\",\"data\":{}}",
		"{\"t\\u0079pe\":\"a\",\"data\":{\"q\":true}}", /* escaped key: full serialisation */
		"{\"type\":\"a\",\"data\":{\"s\":\"}{][,\\\"\"}}",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct envelope e = { 0 }, a = { 0 }, b = { 0 };
		const char *why = NULL;
		size_t n = strlen(inputs[i]), l1 = 0, l2 = 0;
		CHECK(envelope_parse((const uint8_t *)inputs[i], n, 32, &e, &why) == 0);
		if (!e.root)
			continue;
		CHECK(envelope_set_sender(&e, "alice") == 0);
		char *full = envelope_serialize(&e, &l1), *raw = envelope_serialize_raw(&e, (const uint8_t *)inputs[i], n, "alice", &l2);
		CHECK(full && raw && l2 == strlen(raw));
		CHECK(envelope_parse((const uint8_t *)full, l1, 32, &a, &why) == 0);
		CHECK(envelope_parse((const uint8_t *)raw, l2, 32, &b, &why) == 0);
		CHECK(a.root && b.root && cJSON_Compare(a.root, b.root, true));
		const cJSON *sender = b.root ? cJSON_GetObjectItemCaseSensitive(b.context, "sender") : NULL;
		CHECK(cJSON_IsString(sender) && strcmp(sender->valuestring, "alice") == 0);
		free(full);
		free(raw);
		envelope_clear(&a);
		envelope_clear(&b);
		envelope_clear(&e);
	}
}

/* Escaped top-level and context keys take the tree path; values still arrive as written. */
static void test_serialize_raw_verbatim(void)
{
	static const char in[] = "{\"t\\u0079pe\":\"a.b\",\"data\":{\"big\":1e999,\"n\":9007199254740993},"
				 "\"c\\u006fntext\":{\"n\":9007199254740993,\"s\\u0065nder\":\"forged\",\"k\\u0065y\":1.0}}";
	static const char want[] = "{\"type\":\"a.b\",\"data\":{\"big\":1e999,\"n\":9007199254740993},"
				   "\"context\":{\"n\":9007199254740993,\"k\\u0065y\":1.0,\"sender\":\"al\\\"ice\"}}";
	struct envelope e = { 0 };
	const char *why = NULL;
	size_t len = 0;

	CHECK(envelope_parse((const uint8_t *)in, strlen(in), 32, &e, &why) == 0);
	char *out = e.root ? envelope_serialize_raw(&e, (const uint8_t *)in, strlen(in), "al\"ice", &len) : NULL;
	CHECK(out && len == strlen(want) && strcmp(out, want) == 0);
	free(out);
	envelope_clear(&e);
	/* No data and no context in the input: both written, {} and the sender alone. */
	CHECK(envelope_parse((const uint8_t *)"{\"typ\\u0065\":\"x\"}", 17, 32, &e, &why) == 0);
	out = e.root ? envelope_serialize_raw(&e, (const uint8_t *)"{\"typ\\u0065\":\"x\"}", 17, "a", &len) : NULL;
	CHECK(out && strcmp(out, "{\"type\":\"x\",\"data\":{},\"context\":{\"sender\":\"a\"}}") == 0);
	free(out);
	envelope_clear(&e);
}

int main(void)
{
	test_valid();
	test_bad_utf8();
	test_control_chars();
	test_depth();
	test_trailing_and_shape();
	test_duplicates();
	test_type_syntax();
	test_type_segments();
	test_escaped_nul();
	test_numbers();
	test_sender_and_serialize();
	test_build();
	test_serialize_raw();
	test_serialize_raw_verbatim();
	return check_finish("test-envelope");
}
