// SPDX-License-Identifier: MIT
/* json-doc.c - the strict JSON reader for files, with FILE:LINE:COL errors.
 *
 * Handles untrusted bytes. The strict scan (json-scan.c) runs first and records where every
 * value starts; only text it accepted reaches cJSON, which decodes strings and is then copied
 * into plain nodes and freed, so no cJSON type leaves this file. Error messages quote document
 * strings only through json_quote(). */
#include "json-doc.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>

#include "json-scan.h"

size_t utf8_check(const char *text, size_t len)
{
	const uint8_t *s = (const uint8_t *)text;

	for (size_t i = 0; i < len;) {
		size_t n = s[i] ? json_utf8_sequence(s + i, len - i) : 0;

		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

void json_offset_to_linecol(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n')
			l++, c = 1;
		else if (((unsigned char)text[i] & 0xc0) != 0x80)
			c++;
	}
	*line = l;
	*col = c;
}

int json_error_at(const char *text, size_t len, size_t off, const char *filename, char **out, const char *fmt,
		  va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	unsigned line, col;
	char *e;

	if (vasprintf(&msg, fmt, ap) < 0) {
		msg = NULL;
		return -ENOMEM;
	}
	json_offset_to_linecol(text, len, off, &line, &col);
	if (asprintf(&e, "%s:%u:%u: %s", filename ? filename : "<input>", line, col, msg) < 0)
		return -ENOMEM;
	*out = e;
	return 0;
}

/* Records "FILE:LINE:COL: message" for byte offset off as the document's error. */
static int vfail_at(struct json_doc *doc, size_t off, const char *fmt, va_list ap) _printf_(3, 0);
static int vfail_at(struct json_doc *doc, size_t off, const char *fmt, va_list ap)
{
	char *error = NULL;
	int r = json_error_at(doc->text, doc->len, off, doc->filename, &error, fmt, ap);

	if (r < 0)
		return r;
	free(doc->error);
	doc->error = error;
	return JSON_DOC_INVALID;
}

static int fail_at(struct json_doc *doc, size_t off, const char *fmt, ...) _printf_(3, 4);
static int fail_at(struct json_doc *doc, size_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = vfail_at(doc, off, fmt, ap);
	va_end(ap);
	return r;
}

/* Bytes the keys and string values below c take with their NULs. */
static size_t string_bytes(const cJSON *c)
{
	size_t n = (c->string ? strlen(c->string) + 1 : 0) + (cJSON_IsString(c) ? strlen(c->valuestring) + 1 : 0);

	for (const cJSON *k = c->child; k; k = k->next)
		n += string_bytes(k);
	return n;
}

struct builder {
	const struct json_index *idx;
	struct json_node *nodes;
	size_t n;
	char *str; /* next free byte of the string pool */
};

static const char *pool_copy(struct builder *b, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = b->str;

	memcpy(p, s, n);
	b->str += n;
	return p;
}

static enum json_type node_type(const cJSON *c)
{
	if (cJSON_IsObject(c))
		return JSON_OBJECT;
	if (cJSON_IsArray(c))
		return JSON_ARRAY;
	if (cJSON_IsString(c))
		return JSON_STRING;
	if (cJSON_IsNumber(c))
		return JSON_NUMBER;
	if (cJSON_IsTrue(c))
		return JSON_TRUE;
	if (cJSON_IsFalse(c))
		return JSON_FALSE;
	return JSON_NULL;
}

/* Copies c and what is below it in pre-order, the order in which the scan recorded positions;
 * recursion is bounded by the scan's depth limit. */
static struct json_node *build(struct builder *b, const cJSON *c)
{
	struct json_node *node, *prev = NULL;
	const struct json_pos *pos;

	/* Both parsers accepted the same text, so they see the same values. */
	assert(b->n < b->idx->n);
	node = &b->nodes[b->n];
	pos = &b->idx->nodes[b->n++];
	node->type = node_type(c);
	node->off = pos->value;
	node->key_off = pos->key;
	if (c->string)
		node->key = pool_copy(b, c->string);
	if (node->type == JSON_STRING)
		node->string = pool_copy(b, c->valuestring);
	for (const cJSON *k = c->child; k; k = k->next) {
		struct json_node *kn = build(b, k);

		if (prev)
			prev->next = kn;
		else
			node->child = kn;
		prev = kn;
		node->n_children++;
	}
	return node;
}

static void cjson_freep(cJSON **c)
{
	cJSON_Delete(*c);
}

int json_doc_parse(struct json_doc *doc, const char *text, size_t len, const char *filename,
		   size_t max_size, unsigned max_depth, const char *syntax_prefix)
{
	_cleanup_(json_index_done) struct json_index idx = { 0 };
	_cleanup_(cjson_freep) cJSON *root = NULL;
	_cleanup_free_ char *copy = NULL;
	struct json_scan_error err = { 0 };
	struct builder b = { 0 };
	size_t bad;
	int r;

	doc->text = text;
	doc->len = len;
	doc->filename = filename ? filename : "<input>";
	if (!syntax_prefix)
		syntax_prefix = "";
	if (len > max_size)
		return fail_at(doc, 0, "file too large (%zu bytes, at most %zu)", len, max_size);
	/* Checked over the whole text first so a NUL or bad byte is reported as such even where
	 * the grammar would have complained about something else. */
	bad = utf8_check(text, len);
	if (bad < len)
		return fail_at(doc, bad, "%s%s", syntax_prefix, text[bad] ? "invalid UTF-8" : "NUL byte");
	r = json_scan_indexed((const uint8_t *)text, len, max_depth, JSON_DOC_NUMBER_MAX, &idx, &err);
	if (r < 0)
		return r;
	if (r > 0)
		return fail_at(doc, err.off, "%s%s", syntax_prefix, err.msg);

	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	/* The scan accepted strict JSON without NULs, which cJSON always parses, so a failure here
	 * can only be an allocation failure. */
	root = cJSON_ParseWithOpts(copy, NULL, true);
	if (!root)
		return -ENOMEM;
	b.idx = &idx;
	b.nodes = calloc(idx.n, sizeof(*b.nodes));
	doc->strings = malloc(string_bytes(root) + 1);
	if (!b.nodes || !doc->strings) {
		free(b.nodes);
		return -ENOMEM;
	}
	b.str = doc->strings;
	doc->root = build(&b, root);
	assert(b.n == idx.n);
	doc->nodes = b.nodes;
	doc->n_nodes = b.n;
	return 0;
}

void json_doc_done(struct json_doc *doc)
{
	free(doc->nodes);
	free(doc->strings);
	free(doc->error);
	*doc = (struct json_doc){ 0 };
}

int json_doc_fail(struct json_doc *doc, const struct json_node *node, bool at_key, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;

	if (node)
		off = at_key && node->key_off != JSON_NO_KEY ? node->key_off : node->off;
	va_start(ap, fmt);
	int r = vfail_at(doc, off, fmt, ap);
	va_end(ap);
	return r;
}

const char *json_type_name(const struct json_node *n)
{
	switch (n ? n->type : JSON_NULL) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_NUMBER:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

char *json_quote(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strnlen(s, 64);
	char *out = malloc(n * 4 + 6), *p = out;

	if (!out)
		return NULL;
	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			*p++ = (char)c;
		} else {
			*p++ = '\\';
			*p++ = 'x';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p++ = '"';
	if (s[n]) {
		memcpy(p, "...", 3);
		p += 3;
	}
	*p = '\0';
	return out;
}

int json_doc_members(struct json_doc *doc, const struct json_node *obj, const char *what,
		     const char *const *keys, size_t n_keys, const struct json_node **found)
{
	for (size_t i = 0; i < n_keys; i++)
		found[i] = NULL;
	if (!json_is(obj, JSON_OBJECT))
		return json_doc_fail(doc, obj, false, "%s must be an object, not %s", what, json_type_name(obj));
	for (const struct json_node *c = obj->child; c; c = c->next) {
		size_t i;

		for (i = 0; i < n_keys; i++)
			if (streq(c->key, keys[i]))
				break;
		if (i == n_keys || found[i]) {
			_cleanup_free_ char *q = json_quote(c->key);

			if (!q)
				return -ENOMEM;
			return json_doc_fail(doc, c, true, "%s key %s in %s", i == n_keys ? "unknown" : "duplicate", q, what);
		}
		found[i] = c;
	}
	return 0;
}

int json_node_uint(const struct json_doc *doc, const struct json_node *n, uint64_t max, uint64_t *out)
{
	char buf[JSON_DOC_NUMBER_MAX + 1];
	size_t end;

	if (!json_is(n, JSON_NUMBER))
		return -EINVAL;
	for (end = n->off; end < doc->len && doc->text[end] && strchr("-+.eE0123456789", doc->text[end]); end++)
		;
	/* The scan bounded number length; anything longer is not from this document. */
	if (end - n->off >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, doc->text + n->off, end - n->off);
	buf[end - n->off] = '\0';
	return parse_u64(buf, max, out);
}

int json_doc_uint(struct json_doc *doc, const struct json_node *n, const char *what, uint64_t min,
		  uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (!json_is(n, JSON_NUMBER))
		return json_doc_fail(doc, n, false, "%s must be a number, not %s", what, json_type_name(n));
	if (json_node_uint(doc, n, max, &v) < 0 || v < min)
		return json_doc_fail(doc, n, false, "%s must be a whole number from %" PRIu64 " to %" PRIu64, what, min, max);
	*out = v;
	return 0;
}

int json_doc_strv(struct json_doc *doc, const struct json_node *arr, const char *what, size_t max,
		  bool allow_empty, bool unique, json_check_fn check, char ***out, size_t *n_out)
{
	char **v;
	size_t n;
	int r;

	if (!json_is(arr, JSON_ARRAY))
		return json_doc_fail(doc, arr, false, "%s must be an array of strings, not %s", what, json_type_name(arr));
	n = arr->n_children;
	if (n == 0 && !allow_empty)
		return json_doc_fail(doc, arr, false, "%s must not be empty", what);
	if (n > max)
		return json_doc_fail(doc, arr, false, "%s has %zu entries, at most %zu are allowed", what, n, max);
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	n = 0;
	for (const struct json_node *c = arr->child; c; c = c->next, n++) {
		const char *problem;

		if (!json_is(c, JSON_STRING)) {
			r = json_doc_fail(doc, c, false, "%s[%zu] must be a string, not %s", what, n, json_type_name(c));
			goto fail;
		}
		problem = check ? check(c->string) : NULL;
		if (!problem && unique)
			for (size_t j = 0; j < n; j++)
				if (streq(v[j], c->string))
					problem = "is listed twice";
		if (problem) {
			_cleanup_free_ char *q = json_quote(c->string);

			r = q ? json_doc_fail(doc, c, false, "%s[%zu] %s %s", what, n, q, problem) : -ENOMEM;
			goto fail;
		}
		v[n] = strdup(c->string);
		if (!v[n]) {
			r = -ENOMEM;
			goto fail;
		}
	}
	*out = v;
	*n_out = n;
	return 0;
fail:
	strv_free(v);
	return r;
}
