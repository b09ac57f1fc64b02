// SPDX-License-Identifier: MIT
/* json-scan.c - strict JSON validation without a tree. Parses untrusted bytes: every read is
 * bounds-checked, recursion is bounded by the depth limit, and the only allocation is the
 * optional position index. */
#include "json-scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct scan {
	const uint8_t *p;
	size_t n, i;
	unsigned max_depth;
	size_t number_max;
	struct json_index *idx; /* NULL: positions not wanted */
	struct json_scan_error err;
};

size_t json_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp_out)
{
	uint8_t b = p[0];
	size_t len;
	uint32_t cp;

	if (b < 0x80) {
		*cp_out = b;
		return 1;
	}
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
	/* overlong forms, surrogates, beyond Unicode */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_out = cp;
	return len;
}

size_t json_utf8_sequence(const uint8_t *p, size_t n)
{
	uint32_t cp;

	return json_utf8_decode(p, n, &cp);
}

/* Bytes that need no attention inside a string: printable ASCII other than '"' and '\\'.
 * Built by the compiler; scanning a string is one table load per byte. */
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

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static bool is_ws(uint8_t b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

/* Compact JSON has no whitespace: the first test decides, without a call. */
static inline void skip_ws(struct scan *s)
{
	if (s->i >= s->n || !is_ws(s->p[s->i]))
		return;
	while (s->i < s->n && is_ws(s->p[s->i]))
		s->i++;
}

/* Records the first problem; returns code. */
static int fail(struct scan *s, size_t off, int code, const char *msg)
{
	s->err = (struct json_scan_error){ .off = off, .msg = msg };
	return code;
}

/* An unexpected byte at p[i]: invalid UTF-8 keeps its own answer. */
static int unexpected(struct scan *s, const char *msg)
{
	if (s->i < s->n && s->p[s->i] >= 0x80 && json_utf8_sequence(s->p + s->i, s->n - s->i) == 0)
		return fail(s, s->i, JSON_SCAN_BAD_UTF8, "invalid UTF-8");
	return fail(s, s->i, JSON_SCAN_MALFORMED, s->i < s->n && s->p[s->i] == 0 ? "NUL byte" : msg);
}

static int record(struct scan *s, size_t value, size_t key)
{
	struct json_index *idx = s->idx;

	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 32;
		struct json_pos *nodes = realloc(idx->nodes, cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		idx->nodes = nodes;
		idx->cap = cap;
	}
	idx->nodes[idx->n++] = (struct json_pos){ .value = (uint32_t)value, .key = (uint32_t)key };
	return 0;
}

static int hex4(struct scan *s, size_t at, unsigned *out)
{
	unsigned v = 0;

	if (at > s->n || s->n - at < 4)
		return fail(s, at, JSON_SCAN_MALFORMED, "truncated \\u escape");
	for (size_t k = at; k < at + 4; k++) {
		uint8_t b = s->p[k];
		unsigned d;
		if (is_digit(b))
			d = b - '0';
		else if (b >= 'a' && b <= 'f')
			d = b - 'a' + 10;
		else if (b >= 'A' && b <= 'F')
			d = b - 'A' + 10;
		else
			return fail(s, k, JSON_SCAN_MALFORMED, "invalid hex digit in \\u escape");
		v = v << 4 | d;
	}
	*out = v;
	return JSON_SCAN_OK;
}

/* A \u escape at p[*i] == '\\' (p[*i + 1] == 'u'); *i moves past it. Surrogates must come as a
 * high-low pair; \u0000 is refused (parsers cut the string there). */
static int unicode_escape(struct scan *s, size_t *i)
{
	size_t esc = *i;
	unsigned cp, low;
	int r = hex4(s, esc + 2, &cp);

	if (r != JSON_SCAN_OK)
		return r;
	*i = esc + 6;
	if (cp == 0)
		return fail(s, esc, JSON_SCAN_MALFORMED, "\\u0000 is not allowed");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(s, esc, JSON_SCAN_MALFORMED, "unpaired surrogate in \\u escape");
	if (cp < 0xd800 || cp > 0xdbff)
		return JSON_SCAN_OK;
	if (s->n - *i < 2 || s->p[*i] != '\\' || s->p[*i + 1] != 'u')
		return fail(s, esc, JSON_SCAN_MALFORMED, "unpaired surrogate in \\u escape");
	r = hex4(s, *i + 2, &low);
	if (r != JSON_SCAN_OK)
		return r;
	if (low < 0xdc00 || low > 0xdfff)
		return fail(s, esc, JSON_SCAN_MALFORMED, "unpaired surrogate in \\u escape");
	*i += 6;
	return JSON_SCAN_OK;
}

/* Whether any of 8 bytes needs attention in a string: below 0x20, '"', '\\' or non-ASCII.
 * (Word-at-a-time tests from "Bit Twiddling Hacks": a byte is zero or less than k.) */
static bool word_needs_attention(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
	uint64_t below_space = (w - ones * 0x20) & ~w;
	uint64_t zero_quote = (quote - ones) & ~quote, zero_backslash = (backslash - ones) & ~backslash;

	return ((below_space | zero_quote | zero_backslash) & highs) || (w & highs);
}

/* A string at p[i] == '"'. */
static int scan_string(struct scan *s, bool *escaped)
{
	const uint8_t *p = s->p;
	size_t n = s->n, start = s->i, i = s->i + 1;

	*escaped = false;
	for (;;) {
		/* Eight plain bytes at a time, then byte by byte up to the one that needs a look. */
		while (n - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, sizeof(w));
			if (word_needs_attention(w))
				break;
			i += 8;
		}
		while (i < n && plain_in_string[p[i]])
			i++;
		if (i >= n)
			return fail(s, start, JSON_SCAN_MALFORMED, "unterminated string");
		uint8_t b = p[i];
		if (b == '"') {
			s->i = i + 1;
			return JSON_SCAN_OK;
		}
		if (b == '\\') {
			*escaped = true;
			if (i + 1 >= n)
				return fail(s, start, JSON_SCAN_MALFORMED, "unterminated string");
			uint8_t e = p[i + 1];
			if (e == 'u') {
				int r = unicode_escape(s, &i);
				if (r != JSON_SCAN_OK)
					return r;
				continue;
			}
			if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
				return fail(s, i, JSON_SCAN_MALFORMED, "invalid escape in string");
			i += 2;
			continue;
		}
		if (b < 0x20)
			return fail(s, i, JSON_SCAN_MALFORMED, b ? "control character in string" : "NUL byte");
		size_t len = json_utf8_sequence(p + i, n - i);
		if (len == 0)
			return fail(s, i, JSON_SCAN_BAD_UTF8, "invalid UTF-8");
		i += len;
	}
}

static size_t digits(const struct scan *s, size_t i)
{
	while (i < s->n && is_digit(s->p[i]))
		i++;
	return i;
}

/* A number (RFC 8259 grammar: no leading zeros, digits after '.' and in the exponent). */
static int scan_number(struct scan *s)
{
	const uint8_t *p = s->p;
	size_t n = s->n, i = s->i, start = s->i, after;

	if (p[i] == '-')
		i++;
	if (i < n && p[i] == '0') {
		i++;
		if (i < n && is_digit(p[i]))
			return fail(s, start, JSON_SCAN_MALFORMED, "leading zero in number");
	} else if ((after = digits(s, i)) == i) {
		return fail(s, start, JSON_SCAN_MALFORMED, "invalid number");
	} else {
		i = after;
	}
	if (i < n && p[i] == '.') {
		after = digits(s, ++i);
		if (after == i)
			return fail(s, start, JSON_SCAN_MALFORMED, "invalid number");
		i = after;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		after = digits(s, i);
		if (after == i)
			return fail(s, start, JSON_SCAN_MALFORMED, "invalid number");
		i = after;
	}
	if (i - start > s->number_max)
		return fail(s, start, JSON_SCAN_MALFORMED, "number too long");
	s->i = i;
	return JSON_SCAN_OK;
}

static int scan_literal(struct scan *s, const char *word, size_t len)
{
	if (s->n - s->i < len || memcmp(s->p + s->i, word, len) != 0)
		return fail(s, s->i, JSON_SCAN_MALFORMED, "invalid literal");
	s->i += len;
	return JSON_SCAN_OK;
}

static int scan_value(struct scan *s, unsigned depth, size_t key);

/* Steps over the opening bracket at nesting depth `depth` (the container's own); *empty tells
 * whether `close` follows at once. */
static int open_container(struct scan *s, unsigned depth, uint8_t close, bool *empty)
{
	if (depth > s->max_depth)
		return fail(s, s->i, JSON_SCAN_TOO_DEEP, "nesting too deep");
	s->i++;
	skip_ws(s);
	*empty = s->i < s->n && s->p[s->i] == close;
	if (*empty)
		s->i++;
	return JSON_SCAN_OK;
}

/* After a member or an element: 1 when a ',' announces another, 0 when `close` ends the
 * container that opened at `open`, or the refusal's code negated. */
static int next_item(struct scan *s, size_t open, uint8_t close)
{
	skip_ws(s);
	if (s->i < s->n && s->p[s->i] == ',') {
		s->i++;
		skip_ws(s);
		return 1;
	}
	if (s->i < s->n && s->p[s->i] == close) {
		s->i++;
		return 0;
	}
	if (s->i >= s->n)
		return -fail(s, open, JSON_SCAN_MALFORMED, close == '}' ? "unterminated object" : "unterminated array");
	return -unexpected(s, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* An object at p[i] == '{', at nesting depth `depth` (its own); lists up to cap members. */
static int scan_object(struct scan *s, unsigned depth, struct json_member *m, size_t cap, size_t *count)
{
	size_t open = s->i, k = 0;
	bool empty;
	int r = open_container(s, depth, '}', &empty);

	*count = 0;
	if (r != JSON_SCAN_OK || empty)
		return r;
	for (;;) {
		bool escaped;
		if (s->i >= s->n || s->p[s->i] != '"')
			return unexpected(s, "expected a string key");
		size_t quote = s->i;
		r = scan_string(s, &escaped);
		if (r != JSON_SCAN_OK)
			return r;
		size_t key_end = s->i - 1;
		skip_ws(s);
		if (s->i >= s->n || s->p[s->i] != ':')
			return unexpected(s, "expected ':'");
		s->i++;
		skip_ws(s);
		size_t val = s->i;
		if (val < s->n && k < cap)
			m[k] = (struct json_member){ .key_off = (uint32_t)quote + 1,
						    .key_len = (uint32_t)(key_end - quote - 1),
						    .val_off = (uint32_t)val, .key_escaped = escaped,
						    .val_kind = (char)s->p[val] };
		r = scan_value(s, depth, quote);
		if (r != JSON_SCAN_OK)
			return r;
		if (k < cap)
			m[k].val_len = (uint32_t)(s->i - val);
		k++;
		int more = next_item(s, open, '}');
		if (more < 0)
			return -more;
		if (more == 0) {
			*count = k;
			return JSON_SCAN_OK;
		}
	}
}

static int scan_array(struct scan *s, unsigned depth)
{
	size_t open = s->i;
	bool empty;
	int r = open_container(s, depth, ']', &empty);

	if (r != JSON_SCAN_OK || empty)
		return r;
	for (;;) {
		r = scan_value(s, depth, JSON_NO_KEY);
		if (r != JSON_SCAN_OK)
			return r;
		int more = next_item(s, open, ']');
		if (more < 0)
			return -more;
		if (more == 0)
			return JSON_SCAN_OK;
	}
}

/* One value, inside `depth` levels of nesting; key is the offset of its key's opening quote. */
static int scan_value(struct scan *s, unsigned depth, size_t key)
{
	bool escaped;
	size_t count;

	skip_ws(s);
	if (s->i >= s->n)
		return fail(s, s->i, JSON_SCAN_MALFORMED, "expected a value");
	if (s->idx) {
		int r = record(s, s->i, key);
		if (r < 0)
			return r;
	}
	switch (s->p[s->i]) {
	case '{':
		return scan_object(s, depth + 1, NULL, 0, &count);
	case '[':
		return scan_array(s, depth + 1);
	case '"':
		return scan_string(s, &escaped);
	case 't':
		return scan_literal(s, "true", 4);
	case 'f':
		return scan_literal(s, "false", 5);
	case 'n':
		return scan_literal(s, "null", 4);
	default:
		if (s->p[s->i] == '-' || is_digit(s->p[s->i]))
			return scan_number(s);
		return unexpected(s, "expected a value");
	}
}

static int scan_end(struct scan *s, int r)
{
	if (r != JSON_SCAN_OK)
		return r;
	skip_ws(s);
	return s->i == s->n ? JSON_SCAN_OK : unexpected(s, "trailing characters after the document");
}

static struct scan scan_start(const uint8_t *p, size_t n, unsigned max_depth, size_t number_max)
{
	return (struct scan){ .p = p, .n = n, .number_max = number_max,
			      .max_depth = max_depth < JSON_SCAN_DEPTH_MAX ? max_depth : JSON_SCAN_DEPTH_MAX };
}

static int scan_text(struct scan *s)
{
	if (s->n >= UINT32_MAX)
		return fail(s, 0, JSON_SCAN_MALFORMED, "document too large");
	return scan_end(s, scan_value(s, 0, JSON_NO_KEY));
}

int json_scan_document(const uint8_t *p, size_t n, unsigned max_depth)
{
	struct scan s = scan_start(p, n, max_depth, JSON_SCAN_NUMBER_MAX);

	return scan_text(&s);
}

int json_scan_indexed(const uint8_t *p, size_t n, unsigned max_depth, size_t number_max,
		      struct json_index *idx, struct json_scan_error *err)
{
	struct scan s = scan_start(p, n, max_depth, number_max);

	s.idx = idx;
	int r = scan_text(&s);
	if (r > 0)
		*err = s.err;
	return r;
}

int json_scan_object(const uint8_t *p, size_t n, unsigned max_depth, struct json_member *members,
		     size_t cap, size_t *count)
{
	struct scan s = scan_start(p, n, max_depth, JSON_SCAN_NUMBER_MAX);

	*count = 0;
	if (n >= UINT32_MAX)
		return JSON_SCAN_MALFORMED;
	skip_ws(&s);
	if (s.i >= n || p[s.i] != '{') {
		/* Invalid UTF-8 and depth keep their own answers; any other value is malformed here. */
		int r = scan_text(&s);
		return r != JSON_SCAN_OK ? r : JSON_SCAN_MALFORMED;
	}
	return scan_end(&s, scan_object(&s, 1, members, cap, count));
}

void json_index_done(struct json_index *idx)
{
	free(idx->nodes);
	*idx = (struct json_index){ 0 };
}
