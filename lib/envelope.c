// SPDX-License-Identifier: MIT
/* envelope.c - validate and (re)build Mycroft-shaped JSON messages. Parses untrusted bytes. */
#include "envelope.h"
#include "json-scan.h"
#include "unicode.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

bool envelope_type_is_valid(const char *type, size_t len)
{
	const uint8_t *p = (const uint8_t *)type;

	if (len == 0 || len > ENVELOPE_TYPE_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x80) {
			/* '*' is the pattern wildcard: no type holds one, so no pattern is ambiguous */
			if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '*')
				return false;
			i++;
			continue;
		}
		uint32_t cp;
		size_t n = json_utf8_decode(p + i, len - i, &cp);
		if (n == 0 || cp <= 0x9f || unicode_is_invisible(cp))
			return false; /* not UTF-8, a C1 control, or a character no reader sees */
		i += n;
	}
	return true;
}

int envelope_prescan(const uint8_t *body, size_t len, unsigned max_depth)
{
	return json_scan_document(body, len, max_depth);
}

static bool key_is(const uint8_t *body, const struct json_member *m, const char *name, size_t len)
{
	return m->key_len == len && memcmp(body + m->key_off, name, len) == 0;
}

static bool same_key(const uint8_t *body, const struct json_member *a, const struct json_member *b)
{
	return a->key_len == b->key_len && memcmp(body + a->key_off, body + b->key_off, a->key_len) == 0;
}

static int locate(const uint8_t *body, size_t len, unsigned max_depth, bool escaped_type, struct envelope_view *v);

int envelope_locate(const uint8_t *body, size_t len, unsigned max_depth, struct envelope_view *v)
{
	return locate(body, len, max_depth, false, v);
}

int envelope_locate_written(const uint8_t *body, size_t len, unsigned max_depth, struct envelope_view *v)
{
	return locate(body, len, max_depth, true, v);
}

static int locate(const uint8_t *body, size_t len, unsigned max_depth, bool escaped_type, struct envelope_view *v)
{
	struct json_member top[3];
	size_t n = 0;
	bool seen[3] = { false };

	int r = json_scan_object(body, len, max_depth, top, 3, &n);
	if (r != 0)
		return r;
	if (n > 3)
		return ENVELOPE_MALFORMED; /* a duplicate or an unknown key */
	memset(v, 0, offsetof(struct envelope_view, ctx));
	for (size_t i = 0; i < n; i++) {
		const struct json_member *m = &top[i];
		int which = key_is(body, m, "type", 4) ? 0 : key_is(body, m, "data", 4) ? 1 :
			    key_is(body, m, "context", 7) ? 2 : -1;
		if (m->key_escaped)
			return ENVELOPE_NEEDS_TREE;
		if (which < 0 || seen[which])
			return ENVELOPE_MALFORMED;
		seen[which] = true;
		if (which == 0) {
			if (m->val_kind != '"')
				return ENVELOPE_MALFORMED;
			v->type_off = m->val_off + 1;
			v->type_len = m->val_len - 2;
			if (memchr(body + v->type_off, '\\', v->type_len)) {
				if (!escaped_type)
					return ENVELOPE_NEEDS_TREE;
			} else if (!envelope_type_is_valid((const char *)body + v->type_off, v->type_len)) {
				return ENVELOPE_MALFORMED;
			}
		} else if (m->val_kind != '{') {
			return ENVELOPE_MALFORMED;
		} else if (which == 1) {
			v->data_off = m->val_off;
			v->data_len = m->val_len;
		} else {
			v->ctx_off = m->val_off;
			v->ctx_len = m->val_len;
		}
	}
	return seen[0] ? 0 : ENVELOPE_MALFORMED;
}

int envelope_scan(const uint8_t *body, size_t len, unsigned max_depth, struct envelope_view *v)
{
	int r = envelope_locate(body, len, max_depth, v);

	if (r != 0 || v->ctx_len == 0)
		return r;
	/* Already validated: this pass only lists the members. */
	r = json_scan_object(body + v->ctx_off, v->ctx_len, JSON_SCAN_DEPTH_MAX, v->ctx, ENVELOPE_VIEW_CONTEXT_MAX,
			     &v->n_ctx);
	if (r != 0 || v->n_ctx > ENVELOPE_VIEW_CONTEXT_MAX)
		return ENVELOPE_NEEDS_TREE;
	for (size_t i = 0; i < v->n_ctx; i++) {
		v->ctx[i].key_off += (uint32_t)v->ctx_off;
		v->ctx[i].val_off += (uint32_t)v->ctx_off;
		if (v->ctx[i].key_escaped)
			return ENVELOPE_NEEDS_TREE;
		for (size_t j = 0; j < i; j++)
			if (same_key(body, &v->ctx[i], &v->ctx[j]))
				return ENVELOPE_MALFORMED;
	}
	return 0;
}

size_t envelope_stamped_size(size_t body_len, const char *sender)
{
	/* Braces, keys and quotes of the fixed parts, "{}" for absent objects, the sender escaped. */
	return body_len + 64 + 6 * strlen(sender);
}

char *envelope_put(char *o, const void *src, size_t len)
{
	memcpy(o, src, len);
	return o + len;
}

char *envelope_put_string_n(char *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	*o++ = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			*o++ = '\\';
			*o++ = (char)ch;
		} else if (ch < 0x20) {
			o = envelope_put(o, "\\u00", 4);
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		} else {
			*o++ = (char)ch;
		}
	}
	*o++ = '"';
	return o;
}

char *envelope_put_string(char *o, const char *s)
{
	return envelope_put_string_n(o, s, strlen(s));
}

/* {"type":"T","data":D (D absent: {}): what every writer of a message starts with. */
static char *put_head(char *o, const char *type, size_t type_len, const char *data, size_t data_len)
{
	/* A type may hold '"' or '\\' (escaped in the JSON it came in; a type read from a view is
	 * still escaped, and has neither) */
	o = envelope_put(o, "{\"type\":", 8);
	o = envelope_put_string_n(o, type, type_len);
	o = envelope_put(o, ",\"data\":", 8);
	return data_len ? envelope_put(o, data, data_len) : envelope_put(o, "{}", 2);
}

size_t envelope_write_size(size_t type_len, size_t data_len, size_t ctx_len)
{
	return 8 + 2 * type_len + 2 + 8 + (data_len ? data_len : 2) + 11 + ctx_len + 1;
}

size_t envelope_write(char *out, const char *type, size_t type_len, const char *data, size_t data_len,
		      const char *ctx, size_t ctx_len)
{
	char *o = put_head(out, type, type_len, data, data_len);

	if (ctx) {
		o = envelope_put(o, ",\"context\":", 11);
		o = envelope_put(o, ctx, ctx_len);
	}
	*o++ = '}';
	return (size_t)(o - out);
}

size_t envelope_write_stamped(const struct envelope_view *v, const uint8_t *body, const char *sender, char *out)
{
	char *o = put_head(out, (const char *)body + v->type_off, v->type_len, (const char *)body + v->data_off,
			   v->data_len);

	o = envelope_put(o, ",\"context\":{", 12);
	for (size_t i = 0; i < v->n_ctx; i++) {
		const struct json_member *m = &v->ctx[i];
		if (key_is(body, m, "sender", 6))
			continue;
		*o++ = '"';
		o = envelope_put(o, body + m->key_off, m->key_len);
		o = envelope_put(o, "\":", 2);
		o = envelope_put(o, body + m->val_off, m->val_len);
		*o++ = ',';
	}
	o = envelope_put(o, "\"sender\":", 9);
	o = envelope_put_string(o, sender);
	o = envelope_put(o, "}}", 2);
	return (size_t)(o - out);
}

/* Index of the first non-whitespace byte at or after i (JSON whitespace). */
static size_t skip_ws(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

static bool has_duplicate_keys(const cJSON *obj)
{
	for (const cJSON *a = obj->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return true;
	return false;
}

/* Ensures root[name] is an object, creating an empty one when absent. */
static int object_member(cJSON *root, const char *name, cJSON **out)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!item) {
		item = cJSON_AddObjectToObject(root, name);
		if (!item)
			return -ENOMEM;
	}
	if (!cJSON_IsObject(item))
		return ENVELOPE_MALFORMED;
	*out = item;
	return 0;
}

static int envelope_adopt(cJSON *root, struct envelope *out, const char **why)
{
	if (!cJSON_IsObject(root)) {
		*why = "message is not a JSON object";
		return ENVELOPE_MALFORMED;
	}
	if (has_duplicate_keys(root)) {
		*why = "duplicate key in message";
		return ENVELOPE_MALFORMED;
	}
	for (const cJSON *it = root->child; it; it = it->next)
		if (strcmp(it->string, "type") != 0 && strcmp(it->string, "data") != 0 &&
		    strcmp(it->string, "context") != 0) {
			*why = "unknown top-level key (only type, data, context)";
			return ENVELOPE_MALFORMED;
		}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(type) || !envelope_type_is_valid(type->valuestring, strlen(type->valuestring))) {
		*why = "\"type\" must be a string of 1-255 bytes of UTF-8 without control or invisible characters or *";
		return ENVELOPE_MALFORMED;
	}
	cJSON *data, *context;
	int r = object_member(root, "data", &data);
	if (r == 0)
		r = object_member(root, "context", &context);
	if (r != 0) {
		*why = r < 0 ? "out of memory" : "\"data\" and \"context\" must be objects";
		return r;
	}
	if (has_duplicate_keys(context)) {
		*why = "duplicate key in context";
		return ENVELOPE_MALFORMED;
	}
	out->root = root;
	out->type = type->valuestring;
	out->data = data;
	out->context = context;
	return 0;
}

/* Why the prescan refused a text, for the two refusals that protect a value from being changed
 * on its way (a receiver could not carry it as written); anything else is just invalid JSON.
 * Runs only on refused messages. */
static const char *malformed_why(const uint8_t *body, size_t len, unsigned max_depth)
{
	struct json_index idx = { 0 };
	struct json_scan_error err = { 0 };
	const char *why = "message is not valid JSON";

	if (json_scan_indexed(body, len, max_depth, JSON_SCAN_NUMBER_MAX, &idx, &err) == JSON_SCAN_MALFORMED &&
	    err.msg) {
		if (strcmp(err.msg, "number too long") == 0)
			why = "message is not valid JSON here: a number longer than 63 characters (receivers read at most 63)";
		else if (strcmp(err.msg, "\\u0000 is not allowed") == 0)
			why = "message is not valid JSON here: \\u0000 in a string (receivers end strings at NUL)";
	}
	json_index_done(&idx);
	return why;
}

int envelope_parse(const uint8_t *body, size_t len, unsigned max_depth, struct envelope *out,
		   const char **why)
{
	const char *end = NULL;
	int r = envelope_prescan(body, len, max_depth);

	if (r != 0) {
		*why = r == ENVELOPE_BAD_UTF8 ? "message is not valid UTF-8" :
		       r == ENVELOPE_TOO_DEEP ? "message nests too deeply" : malformed_why(body, len, max_depth);
		return r;
	}
	cJSON *root = cJSON_ParseWithLengthOpts((const char *)body, len, &end, false);
	if (!root) {
		*why = "message is not valid JSON";
		return ENVELOPE_MALFORMED;
	}
	if (skip_ws(body, len, (size_t)(end - (const char *)body)) != len) {
		cJSON_Delete(root);
		*why = "trailing bytes after the JSON message";
		return ENVELOPE_MALFORMED;
	}
	r = envelope_adopt(root, out, why);
	if (r != 0)
		cJSON_Delete(root);
	return r;
}

int envelope_build(const char *type, const char *data_json, struct envelope *out, const char **why)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *data = NULL;

	if (!root)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(root, "type", type))
		goto nomem;
	if (data_json) {
		size_t len = strlen(data_json);
		const char *end = NULL;
		int r = envelope_prescan((const uint8_t *)data_json, len, ENVELOPE_DEFAULT_DEPTH);
		data = r == 0 ? cJSON_ParseWithLengthOpts(data_json, len, &end, false) : NULL;
		if (!data || skip_ws((const uint8_t *)data_json, len, (size_t)(end - data_json)) != len ||
		    !cJSON_IsObject(data)) {
			cJSON_Delete(data);
			cJSON_Delete(root);
			*why = "data must be a JSON object, e.g. '{\"key\": \"value\"}'";
			return ENVELOPE_MALFORMED;
		}
		cJSON_AddItemToObject(root, "data", data);
	}
	int r = envelope_adopt(root, out, why);
	if (r != 0)
		cJSON_Delete(root);
	return r;
nomem:
	cJSON_Delete(root);
	return -ENOMEM;
}

int envelope_set_sender(struct envelope *e, const char *sender)
{
	cJSON *value = cJSON_CreateString(sender);

	if (!value)
		return -ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(e->context, "sender"))
		cJSON_ReplaceItemInObjectCaseSensitive(e->context, "sender", value);
	else
		cJSON_AddItemToObject(e->context, "sender", value);
	return 0;
}

char *envelope_serialize(const struct envelope *e, size_t *len)
{
	char *s = cJSON_PrintUnformatted(e->root);

	if (s && len)
		*len = strlen(s);
	return s;
}

/* The member of e's tree that raw member i of obj_raw stands for: cJSON keeps members in input
 * order, and a parsed tree only gains members at the end (absent data or context). */
static const cJSON *nth_child(const cJSON *obj, size_t i)
{
	const cJSON *it = obj ? obj->child : NULL;

	while (it && i--)
		it = it->next;
	return it;
}

/* Whether key is one of the members the caller writes itself. */
static bool key_is_set(const char *key, const struct envelope_member *set, size_t n_set)
{
	for (size_t i = 0; i < n_set; i++)
		if (strcmp(key, set[i].key) == 0)
			return true;
	return false;
}

char *envelope_serialize_raw_set(const struct envelope *e, const uint8_t *raw, size_t raw_len,
				 const struct envelope_member *set, size_t n_set, size_t *len)
{
	struct json_member top[3];
	size_t n_top = 0, n_ctx = 0, ds = 0, dl = 0, cs = 0, cl = 0, set_bytes = 0;

	/* envelope_parse accepted raw: three members at most, named type, data, context (perhaps
	 * escaped: the tree says which is which). */
	if (json_scan_object(raw, raw_len, JSON_SCAN_DEPTH_MAX, top, 3, &n_top) != 0 || n_top > 3)
		return NULL;
	for (size_t i = 0; i < n_top; i++) {
		const cJSON *member = nth_child(e->root, i);
		if (!member)
			return NULL;
		if (strcmp(member->string, "data") == 0) {
			ds = top[i].val_off;
			dl = top[i].val_len;
		} else if (strcmp(member->string, "context") == 0) {
			cs = top[i].val_off;
			cl = top[i].val_len;
		}
	}
	struct json_member *ctx = NULL;
	if (cl > 0) {
		if (json_scan_object(raw + cs, cl, JSON_SCAN_DEPTH_MAX, NULL, 0, &n_ctx) != 0)
			return NULL;
		ctx = calloc(n_ctx ? n_ctx : 1, sizeof(*ctx));
		if (!ctx || json_scan_object(raw + cs, cl, JSON_SCAN_DEPTH_MAX, ctx, n_ctx, &n_ctx) != 0) {
			free(ctx);
			return NULL;
		}
	}
	for (size_t i = 0; i < n_set; i++)
		if (set[i].value)
			set_bytes += 4 + strlen(set[i].key) + 6 * strlen(set[i].value);
	size_t type_len = strlen(e->type);
	/* Fixed parts and separators, the members as written, the set members escaped. */
	char *out = malloc(64 + 2 * type_len + dl + cl + 4 * n_ctx + set_bytes);
	if (!out) {
		free(ctx);
		return NULL;
	}
	char *o = put_head(out, e->type, type_len, (const char *)raw + ds, dl);
	o = envelope_put(o, ",\"context\":{", 12);
	bool first = true;
	for (size_t i = 0; i < n_ctx; i++) {
		const cJSON *member = nth_child(e->context, i);
		/* A member the caller sets, however it was spelt (escapes included), is its to write. */
		if (!member || key_is_set(member->string, set, n_set))
			continue;
		o = envelope_put(o, first ? "\"" : ",\"", first ? 1 : 2);
		o = envelope_put(o, raw + cs + ctx[i].key_off, ctx[i].key_len);
		o = envelope_put(o, "\":", 2);
		o = envelope_put(o, raw + cs + ctx[i].val_off, ctx[i].val_len);
		first = false;
	}
	free(ctx);
	for (size_t i = 0; i < n_set; i++) {
		if (!set[i].value)
			continue;
		o = envelope_put(o, first ? "\"" : ",\"", first ? 1 : 2);
		o = envelope_put(o, set[i].key, strlen(set[i].key));
		o = envelope_put(o, "\":", 2);
		o = envelope_put_string(o, set[i].value);
		first = false;
	}
	o = envelope_put(o, "}}", 2);
	*o = '\0';
	if (len)
		*len = (size_t)(o - out);
	return out;
}

char *envelope_serialize_raw(const struct envelope *e, const uint8_t *raw, size_t raw_len, const char *sender,
			     size_t *len)
{
	const struct envelope_member set[] = { { "sender", sender } };

	return envelope_serialize_raw_set(e, raw, raw_len, set, 1, len);
}

void envelope_clear(struct envelope *e)
{
	cJSON_Delete(e->root);
	memset(e, 0, sizeof(*e));
}
