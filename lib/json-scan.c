// SPDX-License-Identifier: MIT
/* json-scan.c - strict JSON validation without a tree. Parses untrusted bytes. */
#include "json-scan.h"

#include <string.h>

/* The longest number cJSON reads whole (it copies at most 63 characters before converting):
 * a longer one would fail in every cJSON-based receiver. */
#define NUMBER_MAX_LEN 63

struct scan {
	const uint8_t *p;
	size_t n, i;
	unsigned max_depth;
};

size_t json_utf8_sequence(const uint8_t *p, size_t n)
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
	while (s->i < s->n) {
		uint8_t b = s->p[s->i];
		if (b != ' ' && b != '\t' && b != '\n' && b != '\r')
			return;
		s->i++;
	}
}

/* What an unexpected byte is: invalid UTF-8 gets its own answer. */
static int unexpected(const struct scan *s)
{
	if (s->i < s->n && s->p[s->i] >= 0x80 && json_utf8_sequence(s->p + s->i, s->n - s->i) == 0)
		return JSON_SCAN_BAD_UTF8;
	return JSON_SCAN_MALFORMED;
}

static bool hex4(const struct scan *s, size_t at, unsigned *out)
{
	unsigned v = 0;

	if (at > s->n || s->n - at < 4)
		return false;
	for (size_t k = 0; k < 4; k++) {
		uint8_t b = s->p[at + k];
		unsigned d;
		if (is_digit(b))
			d = b - '0';
		else if (b >= 'a' && b <= 'f')
			d = b - 'a' + 10;
		else if (b >= 'A' && b <= 'F')
			d = b - 'A' + 10;
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* A \u escape at p[i] == '\\' (p[i + 1] == 'u'): index after it, or 0 when refused. Surrogates
 * must come as a high-low pair; \u0000 is refused (parsers cut the string there). */
static size_t unicode_escape(const struct scan *s, size_t i)
{
	unsigned cp, low;

	if (!hex4(s, i + 2, &cp) || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return 0;
	i += 6;
	if (cp < 0xd800 || cp > 0xdbff)
		return i;
	if (s->n - i < 2 || s->p[i] != '\\' || s->p[i + 1] != 'u' || !hex4(s, i + 2, &low) || low < 0xdc00 ||
	    low > 0xdfff)
		return 0;
	return i + 6;
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
	size_t n = s->n, i = s->i + 1;

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
			return JSON_SCAN_MALFORMED;
		uint8_t b = p[i];
		if (b == '"') {
			s->i = i + 1;
			return JSON_SCAN_OK;
		}
		if (b == '\\') {
			*escaped = true;
			if (i + 1 >= n)
				return JSON_SCAN_MALFORMED;
			uint8_t e = p[i + 1];
			if (e == 'u') {
				i = unicode_escape(s, i);
				if (i == 0)
					return JSON_SCAN_MALFORMED;
				continue;
			}
			if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
				return JSON_SCAN_MALFORMED;
			i += 2;
			continue;
		}
		if (b < 0x20)
			return JSON_SCAN_MALFORMED;
		size_t len = json_utf8_sequence(p + i, n - i);
		if (len == 0)
			return JSON_SCAN_BAD_UTF8;
		i += len;
	}
}

/* A number (RFC 8259 grammar: no leading zeros, digits after '.' and in the exponent). */
static int scan_number(struct scan *s)
{
	const uint8_t *p = s->p;
	size_t n = s->n, i = s->i, start = s->i;

	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if (i < n && p[i] >= '1' && p[i] <= '9')
		while (i < n && is_digit(p[i]))
			i++;
	else
		return JSON_SCAN_MALFORMED;
	if (i < n && p[i] == '.') {
		size_t digits = ++i;
		while (i < n && is_digit(p[i]))
			i++;
		if (i == digits)
			return JSON_SCAN_MALFORMED;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t digits = i;
		while (i < n && is_digit(p[i]))
			i++;
		if (i == digits)
			return JSON_SCAN_MALFORMED;
	}
	if (i - start > NUMBER_MAX_LEN)
		return JSON_SCAN_MALFORMED;
	s->i = i;
	return JSON_SCAN_OK;
}

static int scan_literal(struct scan *s, const char *word, size_t len)
{
	if (s->n - s->i < len || memcmp(s->p + s->i, word, len) != 0)
		return JSON_SCAN_MALFORMED;
	s->i += len;
	return JSON_SCAN_OK;
}

static int scan_value(struct scan *s, unsigned depth);

/* Steps over the opening bracket; true when `close` follows at once (an empty container). */
static bool open_container(struct scan *s, uint8_t close)
{
	s->i++;
	skip_ws(s);
	if (s->i < s->n && s->p[s->i] == close) {
		s->i++;
		return true;
	}
	return false;
}

/* After a member or an element: 1 when a ',' announces another, 0 when `close` ends the
 * container, -1 when neither follows. */
static int next_item(struct scan *s, uint8_t close)
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
	return -1;
}

/* An object at p[i] == '{', at nesting depth `depth` (its own). */
static int scan_object(struct scan *s, unsigned depth, struct json_member *m, size_t cap, size_t *count)
{
	size_t k = 0;

	*count = 0;
	if (open_container(s, '}'))
		return JSON_SCAN_OK;
	for (;;) {
		bool escaped;
		if (s->i >= s->n || s->p[s->i] != '"')
			return unexpected(s);
		size_t key = s->i + 1;
		int r = scan_string(s, &escaped);
		if (r != JSON_SCAN_OK)
			return r;
		size_t key_end = s->i - 1;
		skip_ws(s);
		if (s->i >= s->n || s->p[s->i] != ':')
			return unexpected(s);
		s->i++;
		skip_ws(s);
		size_t val = s->i;
		if (val < s->n && k < cap)
			m[k] = (struct json_member){ .key_off = (uint32_t)key, .key_len = (uint32_t)(key_end - key),
						    .val_off = (uint32_t)val, .key_escaped = escaped,
						    .val_kind = (char)s->p[val] };
		r = scan_value(s, depth);
		if (r != JSON_SCAN_OK)
			return r;
		if (k < cap)
			m[k].val_len = (uint32_t)(s->i - val);
		k++;
		int more = next_item(s, '}');
		if (more < 0)
			return unexpected(s);
		if (more == 0) {
			*count = k;
			return JSON_SCAN_OK;
		}
	}
}

static int scan_array(struct scan *s, unsigned depth)
{
	if (open_container(s, ']'))
		return JSON_SCAN_OK;
	for (;;) {
		int r = scan_value(s, depth);
		if (r != JSON_SCAN_OK)
			return r;
		int more = next_item(s, ']');
		if (more < 0)
			return unexpected(s);
		if (more == 0)
			return JSON_SCAN_OK;
	}
}

/* One value at p[i] (no leading whitespace), inside `depth` levels of nesting. */
static int scan_value(struct scan *s, unsigned depth)
{
	bool escaped;
	size_t count;

	if (s->i >= s->n)
		return JSON_SCAN_MALFORMED;
	switch (s->p[s->i]) {
	case '{':
		if (depth + 1 > s->max_depth)
			return JSON_SCAN_TOO_DEEP;
		return scan_object(s, depth + 1, NULL, 0, &count);
	case '[':
		if (depth + 1 > s->max_depth)
			return JSON_SCAN_TOO_DEEP;
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
		return unexpected(s);
	}
}

static int scan_end(struct scan *s, int r)
{
	if (r != JSON_SCAN_OK)
		return r;
	skip_ws(s);
	return s->i == s->n ? JSON_SCAN_OK : unexpected(s);
}

static unsigned depth_limit(unsigned max_depth)
{
	return max_depth < JSON_SCAN_DEPTH_MAX ? max_depth : JSON_SCAN_DEPTH_MAX;
}

int json_scan_document(const uint8_t *p, size_t n, unsigned max_depth)
{
	struct scan s = { .p = p, .n = n, .max_depth = depth_limit(max_depth) };

	if (n >= UINT32_MAX)
		return JSON_SCAN_MALFORMED;
	skip_ws(&s);
	return scan_end(&s, scan_value(&s, 0));
}

int json_scan_object(const uint8_t *p, size_t n, unsigned max_depth, struct json_member *members,
		     size_t cap, size_t *count)
{
	struct scan s = { .p = p, .n = n, .max_depth = depth_limit(max_depth) };

	*count = 0;
	if (n >= UINT32_MAX)
		return JSON_SCAN_MALFORMED;
	skip_ws(&s);
	if (s.i >= n || p[s.i] != '{') {
		/* Invalid UTF-8 and depth keep their own answers; any other value is malformed here. */
		int r = scan_end(&s, scan_value(&s, 0));
		return r != JSON_SCAN_OK ? r : JSON_SCAN_MALFORMED;
	}
	if (s.max_depth < 1)
		return JSON_SCAN_TOO_DEEP;
	return scan_end(&s, scan_object(&s, 1, members, cap, count));
}
