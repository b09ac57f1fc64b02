// SPDX-License-Identifier: MIT
/* jsondoc.c - JSON documents with positioned errors, for the manifest and level parsers.
 *
 * Sees untrusted text only after jsonscan.c accepted it; positions come from the scan, values
 * from cJSON. Error messages quote document strings only through json_quote(). */
#include "jsondoc.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static _unused_ size_t count_nodes(const cJSON *node)
{
	size_t n = 1;

	for (const cJSON *c = node->child; c; c = c->next)
		n += count_nodes(c);
	return n;
}

int json_doc_parse(struct json_doc *doc, const char *text, size_t len, const char *filename,
		   size_t max_size, unsigned max_depth)
{
	const char *msg = NULL;
	size_t off = 0;
	int r;

	doc->text = text;
	doc->len = len;
	doc->filename = filename ? filename : "<input>";
	if (len > max_size)
		return json_doc_fail(doc, NULL, false, "file too large (%zu bytes, at most %zu)", len, max_size);
	r = json_scan(text, len, max_depth, &doc->idx, &off, &msg);
	if (r < 0)
		return r;
	if (r > 0) {
		unsigned line, col;
		char *e;

		json_offset_to_linecol(text, len, off, &line, &col);
		if (asprintf(&e, "%s:%u:%u: %s", doc->filename, line, col, msg) < 0)
			return -ENOMEM;
		doc->error = e;
		return JSON_DOC_INVALID;
	}
	doc->copy = malloc(len + 1);
	if (!doc->copy)
		return -ENOMEM;
	memcpy(doc->copy, text, len);
	doc->copy[len] = '\0';
	/* The scan above accepted strict JSON without NULs, which cJSON always parses, so a
	 * failure here can only be an allocation failure. */
	doc->root = cJSON_ParseWithOpts(doc->copy, NULL, true);
	if (!doc->root)
		return -ENOMEM;
	/* Positions are looked up by pre-order index, so both parsers must have seen the same
	 * values. */
	assert(count_nodes(doc->root) == doc->idx.n);
	return 0;
}

void json_doc_done(struct json_doc *doc)
{
	cJSON_Delete(doc->root);
	free(doc->copy);
	json_index_done(&doc->idx);
	free(doc->error);
	*doc = (struct json_doc){0};
}

/* Pre-order position of target below node, counting from *i; true once found. */
static bool find_preorder(const cJSON *node, const cJSON *target, size_t *i)
{
	if (node == target)
		return true;
	(*i)++;
	for (const cJSON *c = node->child; c; c = c->next)
		if (find_preorder(c, target, i))
			return true;
	return false;
}

static size_t item_offset(const struct json_doc *doc, const cJSON *item, bool at_key)
{
	size_t i = 0;

	if (!item || !doc->root || !find_preorder(doc->root, item, &i) || i >= doc->idx.n)
		return 0;
	if (at_key && doc->idx.nodes[i].key != JSON_NO_KEY)
		return doc->idx.nodes[i].key;
	return doc->idx.nodes[i].value;
}

int json_doc_fail(struct json_doc *doc, const cJSON *item, bool at_key, const char *fmt, ...)
{
	char *error = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = json_error_at(doc->text, doc->len, item_offset(doc, item, at_key), doc->filename, &error, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	free(doc->error);
	doc->error = error;
	return JSON_DOC_INVALID;
}

const char *json_type_name(const cJSON *item)
{
	if (cJSON_IsObject(item))
		return "an object";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsBool(item))
		return "a boolean";
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

int json_doc_members(struct json_doc *doc, const cJSON *obj, const char *what,
		     const char *const *keys, size_t n_keys, const cJSON **found)
{
	for (size_t i = 0; i < n_keys; i++)
		found[i] = NULL;
	if (!cJSON_IsObject(obj))
		return json_doc_fail(doc, obj, false, "%s must be an object, not %s", what, json_type_name(obj));
	for (const cJSON *c = obj->child; c; c = c->next) {
		size_t i;

		for (i = 0; i < n_keys; i++)
			if (streq(c->string, keys[i]))
				break;
		if (i == n_keys || found[i]) {
			_cleanup_free_ char *q = json_quote(c->string);

			if (!q)
				return -ENOMEM;
			return json_doc_fail(doc, c, true, "%s key %s in %s", i == n_keys ? "unknown" : "duplicate", q, what);
		}
		found[i] = c;
	}
	return 0;
}

int json_doc_uint(struct json_doc *doc, const cJSON *item, const char *what, uint64_t min,
		  uint64_t max, uint64_t *out)
{
	size_t i = 0, off, end;
	char buf[40];
	uint64_t v;

	if (!cJSON_IsNumber(item))
		return json_doc_fail(doc, item, false, "%s must be a number, not %s", what, json_type_name(item));
	if (!find_preorder(doc->root, item, &i) || i >= doc->idx.n)
		return json_doc_fail(doc, item, false, "%s: internal position error", what);
	off = doc->idx.nodes[i].value;
	for (end = off; end < doc->len && strchr("-+.eE0123456789", doc->text[end]) && doc->text[end]; end++)
		;
	if (end - off >= sizeof(buf))
		return json_doc_fail(doc, item, false, "%s must be a whole number from %" PRIu64 " to %" PRIu64, what, min, max);
	memcpy(buf, doc->text + off, end - off);
	buf[end - off] = '\0';
	if (parse_u64(buf, max, &v) < 0 || v < min)
		return json_doc_fail(doc, item, false, "%s must be a whole number from %" PRIu64 " to %" PRIu64, what, min, max);
	*out = v;
	return 0;
}

/* Copies a JSON array of strings into a NULL-terminated vector, checking each element and
 * refusing repeats when unique. Returns 0, JSON_DOC_INVALID, -ENOMEM. */
int json_doc_strv(struct json_doc *doc, const cJSON *arr, const char *what, size_t max,
			bool allow_empty, bool unique, json_check_fn check, char ***out, size_t *n_out)
{
	char **v;
	size_t n = 0;
	int r;

	if (!cJSON_IsArray(arr))
		return json_doc_fail(doc, arr, false, "%s must be an array of strings, not %s", what, json_type_name(arr));
	for (const cJSON *c = arr->child; c; c = c->next)
		n++;
	if (n == 0 && !allow_empty)
		return json_doc_fail(doc, arr, false, "%s must not be empty", what);
	if (n > max)
		return json_doc_fail(doc, arr, false, "%s has %zu entries, at most %zu are allowed", what, n, max);
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	n = 0;
	for (const cJSON *c = arr->child; c; c = c->next, n++) {
		const char *problem;

		if (!cJSON_IsString(c)) {
			r = json_doc_fail(doc, c, false, "%s[%zu] must be a string, not %s", what, n, json_type_name(c));
			goto fail;
		}
		problem = check ? check(c->valuestring) : NULL;
		if (!problem && unique)
			for (size_t j = 0; j < n; j++)
				if (streq(v[j], c->valuestring))
					problem = "is listed twice";
		if (problem) {
			_cleanup_free_ char *q = json_quote(c->valuestring);

			r = q ? json_doc_fail(doc, c, false, "%s[%zu] %s %s", what, n, q, problem) : -ENOMEM;
			goto fail;
		}
		v[n] = strdup(c->valuestring);
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

