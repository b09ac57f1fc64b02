// SPDX-License-Identifier: MIT
/* test-json-doc.c - unit tests for lib/json-doc.c, the strict JSON reader for files.
 *
 * The tree (types, keys, decoded strings, order, child counts), the recorded positions, the
 * FILE:LINE:COL errors with and without a syntax prefix, limits, and the helpers the
 * configuration and manifest parsers build on (members, uint, strv, quote). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json-doc.h"

static int parse(struct json_doc *doc, const char *text, const char *prefix)
{
	*doc = (struct json_doc){ 0 };
	return json_doc_parse(doc, text, strlen(text), "f.json", 4096, 4, prefix);
}

/* Parses text, expects JSON_DOC_INVALID with exactly error. */
static void expect_error(const char *text, const char *prefix, const char *error)
{
	struct json_doc doc;

	CHECK(parse(&doc, text, prefix) == JSON_DOC_INVALID);
	CHECK(doc.root == NULL);
	CHECK_STREQ(doc.error, error);
	json_doc_done(&doc);
}

static void test_tree(void)
{
	struct json_doc doc;
	const char *text = "{\"a\": [1, \"x\\ty\", true, false, null],\n \"b\\u00e9\": {\"c\": \"\\ud83d\\ude00\"}, \"d\": {}}";

	CHECK(parse(&doc, text, NULL) == 0);
	CHECK(doc.error == NULL);
	const struct json_node *root = doc.root;
	CHECK(json_is(root, JSON_OBJECT) && root->n_children == 3 && root->key == NULL);
	CHECK(root->off == 0 && root->key_off == UINT32_MAX);

	const struct json_node *a = root->child;
	CHECK_STREQ(a->key, "a");
	CHECK(json_is(a, JSON_ARRAY) && a->n_children == 5);
	CHECK(a->key_off == 1 && a->off == 6);
	const struct json_node *e = a->child;
	CHECK(json_is(e, JSON_NUMBER) && e->key == NULL && e->off == 7);
	e = e->next;
	CHECK(json_is(e, JSON_STRING) && e->off == 10);
	CHECK_STREQ(e->string, "x\ty");
	e = e->next;
	CHECK(json_is(e, JSON_TRUE));
	e = e->next;
	CHECK(json_is(e, JSON_FALSE));
	e = e->next;
	CHECK(json_is(e, JSON_NULL) && e->next == NULL && e->string == NULL);

	const struct json_node *b = a->next;
	CHECK_STREQ(b->key, "b\xc3\xa9");
	CHECK(json_is(b, JSON_OBJECT) && b->n_children == 1);
	CHECK(b->key_off == 39);
	CHECK_STREQ(b->child->key, "c");
	CHECK_STREQ(b->child->string, "\xf0\x9f\x98\x80");

	const struct json_node *d = b->next;
	CHECK(json_is(d, JSON_OBJECT) && d->n_children == 0 && d->child == NULL && d->next == NULL);
	CHECK(doc.n_nodes == 10);
	CHECK(!json_is(NULL, JSON_NULL));

	/* Errors point at a value or at its key, counting characters on the line. */
	CHECK(json_doc_fail(&doc, b->child, false, "bad %s", "c") == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:2:19: bad c");
	CHECK(json_doc_fail(&doc, b, true, "bad key") == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:2:2: bad key");
	CHECK(json_doc_fail(&doc, a->child, true, "no key") == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:8: no key");
	CHECK(json_doc_fail(&doc, NULL, false, "whole") == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:1: whole");
	json_doc_done(&doc);
	CHECK(doc.root == NULL && doc.error == NULL && doc.nodes == NULL);

	/* Scalars at the top, no file name. */
	doc = (struct json_doc){ 0 };
	CHECK(json_doc_parse(&doc, " \"s\" ", 5, NULL, 64, 1, NULL) == 0);
	CHECK(json_is(doc.root, JSON_STRING) && doc.root->off == 1);
	CHECK_STREQ(doc.root->string, "s");
	CHECK(json_doc_fail(&doc, doc.root, false, "x") == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "<input>:1:2: x");
	json_doc_done(&doc);
}

static void test_refused(void)
{
	expect_error("", NULL, "f.json:1:1: expected a value");
	expect_error("{\"a\":1,}", "not a JSON object: ", "f.json:1:8: not a JSON object: expected a string key");
	expect_error("{} {}", NULL, "f.json:1:4: trailing characters after the document");
	expect_error("[[[[[]]]]]", NULL, "f.json:1:5: nesting too deep");
	expect_error("[\"a\\u0000b\"]", NULL, "f.json:1:4: \\u0000 is not allowed");
	expect_error("[\"\xc3\"]", "P: ", "f.json:1:3: P: invalid UTF-8");
	expect_error("[123456789012345678901234567890123]", NULL, "f.json:1:2: number too long");

	struct json_doc doc = { 0 };
	CHECK(json_doc_parse(&doc, "[1]\0[2]", 7, "f.json", 4096, 4, NULL) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:4: NUL byte");
	json_doc_done(&doc);
	CHECK(json_doc_parse(&doc, "[1, 2]", 6, "f.json", 5, 4, "P: ") == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:1: file too large (6 bytes, at most 5)");
	json_doc_done(&doc);
}

static const char *no_x(const char *s)
{
	return strchr(s, 'x') ? "has an x" : NULL;
}

static void test_helpers(void)
{
	static const char *const keys[] = { "n", "s", "v" };
	const struct json_node *f[3];
	struct json_doc doc;
	uint64_t v = 42;
	char **strv = NULL;
	size_t n = 0;

	CHECK(parse(&doc, "{\"v\": [\"a\", \"b\"], \"n\": 18446744073709551615, \"s\": \"str\"}", NULL) == 0);
	CHECK(json_doc_members(&doc, doc.root, "top", keys, 3, f) == 0);
	CHECK(f[0] && f[1] && f[2] && f[0]->type == JSON_NUMBER);
	CHECK(json_node_uint(&doc, f[0], UINT64_MAX, &v) == 0 && v == UINT64_MAX);
	CHECK(json_node_uint(&doc, f[0], 10, &v) == -ERANGE && v == UINT64_MAX);
	CHECK(json_node_uint(&doc, f[1], 10, &v) == -EINVAL);
	CHECK(json_doc_uint(&doc, f[0], "n", 0, 10, &v) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:24: n must be a whole number from 0 to 10");
	CHECK(json_doc_uint(&doc, f[1], "s", 0, 10, &v) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:51: s must be a number, not a string");
	CHECK(json_doc_strv(&doc, f[2], "v", 2, false, true, no_x, &strv, &n) == 0);
	CHECK(n == 2 && strv[2] == NULL);
	CHECK_STREQ(strv[0], "a");
	CHECK_STREQ(strv[1], "b");
	strv_free(strv);
	CHECK(json_doc_strv(&doc, f[2], "v", 1, false, true, no_x, &strv, &n) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:7: v has 2 entries, at most 1 are allowed");
	CHECK(json_doc_members(&doc, f[2], "v", keys, 3, f) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:7: v must be an object, not an array");
	json_doc_done(&doc);

	/* Numbers are read from their text: no sign, fraction or exponent. */
	const char *numbers[] = { "[-1]", "[1.0]", "[1e3]", "[0.5]", "[18446744073709551616]" };
	for (size_t i = 0; i < ARRAY_LEN(numbers); i++) {
		CHECK(parse(&doc, numbers[i], NULL) == 0);
		CHECK(json_node_uint(&doc, doc.root->child, UINT64_MAX, &v) < 0);
		json_doc_done(&doc);
	}

	CHECK(parse(&doc, "{\"n\": 1, \"q\": 2}", NULL) == 0);
	CHECK(json_doc_members(&doc, doc.root, "top", keys, 3, f) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:10: unknown key \"q\" in top");
	json_doc_done(&doc);
	CHECK(parse(&doc, "{\"n\": 1, \"n\": 2}", NULL) == 0);
	CHECK(json_doc_members(&doc, doc.root, "top", keys, 3, f) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:10: duplicate key \"n\" in top");
	json_doc_done(&doc);
	CHECK(parse(&doc, "[\"a\", \"xa\", \"a\", 3]", NULL) == 0);
	CHECK(json_doc_strv(&doc, doc.root, "l", 9, true, false, no_x, &strv, &n) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:7: l[1] \"xa\" has an x");
	CHECK(json_doc_strv(&doc, doc.root, "l", 9, true, true, NULL, &strv, &n) == JSON_DOC_INVALID);
	CHECK_STREQ(doc.error, "f.json:1:13: l[2] \"a\" is listed twice");
	json_doc_done(&doc);

	char *q = json_quote("a\"\n\xc3\xa9");
	CHECK_STREQ(q, "\"a\\x22\\x0a\\xc3\\xa9\"");
	free(q);
	char long_s[80];
	memset(long_s, 'y', sizeof(long_s) - 1);
	long_s[sizeof(long_s) - 1] = '\0';
	q = json_quote(long_s);
	CHECK(q && strlen(q) == 64 + 2 + 3 && strcmp(q + 66, "...") == 0);
	free(q);
}

int main(void)
{
	test_tree();
	test_refused();
	test_helpers();
	return check_finish("test-json-doc");
}
