// SPDX-License-Identifier: MIT
/* envelope.c - validate and (re)build Mycroft-shaped JSON messages. Parses untrusted bytes. */
#include "envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool envelope_type_is_valid(const char *type, size_t len)
{
	bool segment_start = true;

	if (len == 0 || len > ENVELOPE_TYPE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)type[i];
		if (ch == '.' || ch == ':') {
			if (segment_start)
				return false; /* empty segment */
			segment_start = true;
			continue;
		}
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == '_' || ch == '-';
		if (!ok)
			return false;
		segment_start = false;
	}
	return !segment_start;
}

/* Length of a valid UTF-8 sequence starting at p (at most n bytes), 0 if invalid. */
static size_t utf8_sequence(const uint8_t *p, size_t n)
{
	uint8_t b = p[0];
	size_t len;
	uint32_t cp;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
		cp = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		cp = b & 0x0f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		cp = b & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

/* Length of a JSON number at p (RFC 8259 grammar), 0 if it is not one. cJSON is more lenient
 * (leading zeros, "1."), and whatever it accepts would reach receivers rewritten. */
static size_t json_number(const uint8_t *p, size_t n)
{
	size_t i = 0;

	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if (i < n && p[i] >= '1' && p[i] <= '9')
		while (i < n && is_digit(p[i]))
			i++;
	else
		return 0;
	if (i < n && p[i] == '.') {
		size_t start = ++i;
		while (i < n && is_digit(p[i]))
			i++;
		if (i == start)
			return 0;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t start = i;
		while (i < n && is_digit(p[i]))
			i++;
		if (i == start)
			return 0;
	}
	/* A number ends at a delimiter, never at another number character. */
	if (i < n && (is_digit(p[i]) || p[i] == '.' || p[i] == 'e' || p[i] == 'E' || p[i] == '-' || p[i] == '+'))
		return 0;
	return i;
}

/* Bytes that need no attention inside a string: printable ASCII other than '"' and '\\'.
 * Built once by the compiler; scanning a string is one table load per byte. */
#define PLAIN_8(b) ((b) >= 0x20 && (b) < 0x80 && (b) != '"' && (b) != '\\')
#define PLAIN_ROW(r)                                                                                \
	PLAIN_8(r + 0), PLAIN_8(r + 1), PLAIN_8(r + 2), PLAIN_8(r + 3), PLAIN_8(r + 4), PLAIN_8(r + 5), \
		PLAIN_8(r + 6), PLAIN_8(r + 7), PLAIN_8(r + 8), PLAIN_8(r + 9), PLAIN_8(r + 10),          \
		PLAIN_8(r + 11), PLAIN_8(r + 12), PLAIN_8(r + 13), PLAIN_8(r + 14), PLAIN_8(r + 15)
static const bool plain_in_string[256] = {
	PLAIN_ROW(0x00), PLAIN_ROW(0x10), PLAIN_ROW(0x20), PLAIN_ROW(0x30), PLAIN_ROW(0x40), PLAIN_ROW(0x50),
	PLAIN_ROW(0x60), PLAIN_ROW(0x70), PLAIN_ROW(0x80), PLAIN_ROW(0x90), PLAIN_ROW(0xa0), PLAIN_ROW(0xb0),
	PLAIN_ROW(0xc0), PLAIN_ROW(0xd0), PLAIN_ROW(0xe0), PLAIN_ROW(0xf0),
};

int envelope_prescan(const uint8_t *body, size_t len, unsigned max_depth)
{
	unsigned depth = 0;
	bool in_string = false, escaped = false;

	for (size_t i = 0; i < len;) {
		if (in_string && !escaped)
			while (i < len && plain_in_string[body[i]])
				i++;
		if (i >= len)
			break;
		uint8_t b = body[i];
		if (b >= 0x80) {
			size_t n = utf8_sequence(body + i, len - i);
			if (n == 0)
				return ENVELOPE_BAD_UTF8;
			i += n;
			escaped = false;
			continue;
		}
		if (b < 0x20 && (in_string || (b != ' ' && b != '\t' && b != '\n' && b != '\r')))
			return ENVELOPE_MALFORMED;
		if (in_string) {
			if (escaped) {
				/* \u0000 would be cut short by the parser and reach receivers altered. */
				if (b == 'u' && len - i >= 5 && memcmp(body + i + 1, "0000", 4) == 0)
					return ENVELOPE_MALFORMED;
				escaped = false;
			} else if (b == '\\') {
				escaped = true;
			} else if (b == '"') {
				in_string = false;
			}
		} else if (b == '"') {
			in_string = true;
		} else if (b == '{' || b == '[') {
			if (++depth > max_depth)
				return ENVELOPE_TOO_DEEP;
		} else if (b == '}' || b == ']') {
			if (depth == 0)
				return ENVELOPE_MALFORMED;
			depth--;
		} else if (b == '-' || is_digit(b)) {
			size_t n = json_number(body + i, len - i);
			if (n == 0)
				return ENVELOPE_MALFORMED;
			i += n;
			continue;
		}
		i++;
	}
	return in_string || depth != 0 ? ENVELOPE_MALFORMED : 0;
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
		*why = "\"type\" must be a string of 1-255 characters [A-Za-z0-9._:-]";
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

int envelope_parse(const uint8_t *body, size_t len, unsigned max_depth, struct envelope *out,
		   const char **why)
{
	const char *end = NULL;
	int r = envelope_prescan(body, len, max_depth);

	if (r != 0) {
		*why = r == ENVELOPE_BAD_UTF8 ? "message is not valid UTF-8" :
		       r == ENVELOPE_TOO_DEEP ? "message nests too deeply" : "message is not valid JSON";
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

/* End of the string starting at p[i] == '"' (index after the closing quote); *escaped tells
 * whether it held a backslash. Input already validated: quotes balance. */
static size_t string_end(const uint8_t *p, size_t n, size_t i, bool *escaped)
{
	*escaped = false;
	for (i++; i < n; i++) {
		if (p[i] == '\\') {
			*escaped = true;
			i++;
		} else if (p[i] == '"') {
			return i + 1;
		}
	}
	return n;
}

/* End of the JSON value starting at p[i]. */
static size_t value_end(const uint8_t *p, size_t n, size_t i)
{
	unsigned depth = 0;
	bool esc;

	while (i < n) {
		uint8_t b = p[i];
		if (b == '"') {
			i = string_end(p, n, i, &esc);
			if (depth == 0)
				return i;
			continue;
		}
		if (b == '{' || b == '[') {
			depth++;
		} else if (b == '}' || b == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (b == ',' || b == ' ' || b == '\t' || b == '\n' || b == '\r')) {
			return i;
		}
		i++;
	}
	return n;
}

/* The [start, end) of the top-level "data" value in validated input, or false when a top-level
 * key is escaped (then raw keys do not say which is which). */
static bool find_data(const uint8_t *p, size_t n, size_t *start, size_t *end)
{
	size_t i = skip_ws(p, n, 0);
	bool esc;

	*start = *end = 0;
	if (i >= n || p[i] != '{')
		return false;
	i = skip_ws(p, n, i + 1);
	while (i < n && p[i] == '"') {
		size_t key = i + 1, key_end = string_end(p, n, i, &esc);
		if (esc)
			return false;
		i = skip_ws(p, n, key_end);
		if (i >= n || p[i] != ':')
			return false;
		i = skip_ws(p, n, i + 1);
		size_t v = i;
		i = value_end(p, n, i);
		if (key_end - 1 - key == 4 && memcmp(p + key, "data", 4) == 0) {
			*start = v;
			*end = i;
		}
		i = skip_ws(p, n, i);
		if (i < n && p[i] == ',')
			i = skip_ws(p, n, i + 1);
	}
	return true;
}

char *envelope_serialize_raw(const struct envelope *e, const uint8_t *raw, size_t raw_len, size_t *len)
{
	size_t ds, de;

	if (!find_data(raw, raw_len, &ds, &de))
		return envelope_serialize(e, len);
	char *ctx = cJSON_PrintUnformatted(e->context);
	if (!ctx)
		return NULL;
	const char *data = ds < de ? (const char *)raw + ds : "{}";
	size_t data_len = ds < de ? de - ds : 2, type_len = strlen(e->type), ctx_len = strlen(ctx);
	/* {"type":"T","data":D,"context":C} */
	size_t total = 9 + type_len + 9 + data_len + 11 + ctx_len + 1;
	char *out = malloc(total + 1);
	if (out) {
		char *o = out;
		memcpy(o, "{\"type\":\"", 9), o += 9;
		memcpy(o, e->type, type_len), o += type_len; /* the type charset needs no escaping */
		memcpy(o, "\",\"data\":", 9), o += 9;
		memcpy(o, data, data_len), o += data_len;
		memcpy(o, ",\"context\":", 11), o += 11;
		memcpy(o, ctx, ctx_len), o += ctx_len;
		*o++ = '}';
		*o = '\0';
		if (len)
			*len = (size_t)(o - out);
	}
	free(ctx);
	return out;
}

void envelope_clear(struct envelope *e)
{
	cJSON_Delete(e->root);
	memset(e, 0, sizeof(*e));
}
