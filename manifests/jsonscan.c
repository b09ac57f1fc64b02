// SPDX-License-Identifier: MIT
/* jsonscan.c - strict, position-recording JSON syntax pass (RFC 8259, UTF-8 only).
 *
 * Handles untrusted bytes: every read is bounds-checked against len, recursion is bounded by
 * max_depth, and the only allocation is the offset list. */
#include "jsonscan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Longer numbers are refused: nothing in a manifest needs them and cJSON truncates them. */
#define NUMBER_MAX_LEN 32

struct scanner {
	const unsigned char *s;
	size_t len, pos;
	unsigned max_depth;
	struct json_index *idx;
	const char *err;
	size_t err_off;
};

static int fail(struct scanner *sc, size_t off, const char *msg)
{
	sc->err = msg;
	sc->err_off = off;
	return JSON_SCAN_INVALID;
}

/* Length of the UTF-8 sequence at s[0..n), or 0 if it is not a valid one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t cp, min;

	if (c < 0x80)
		return c ? 1 : 0;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < need + 1)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

size_t utf8_check(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(s + i, len - i);

		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

static void skip_ws(struct scanner *sc)
{
	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		sc->pos++;
	}
}

static int record(struct scanner *sc, size_t value, size_t key)
{
	struct json_index *idx = sc->idx;

	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 32;
		struct json_pos *p = realloc(idx->nodes, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		idx->nodes = p;
		idx->cap = cap;
	}
	idx->nodes[idx->n++] = (struct json_pos){ .value = (uint32_t)value,
						  .key = key == SIZE_MAX ? JSON_NO_KEY : (uint32_t)key };
	return 0;
}

static int hex4(struct scanner *sc, size_t at, unsigned *out)
{
	unsigned v = 0;

	if (sc->len - at < 4)
		return fail(sc, at, "truncated \\u escape");
	for (size_t i = at; i < at + 4; i++) {
		unsigned char c = sc->s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(sc, i, "invalid hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static int scan_string(struct scanner *sc)
{
	size_t start = sc->pos;

	sc->pos++; /* opening quote */
	for (;;) {
		unsigned char c;

		if (sc->pos >= sc->len)
			return fail(sc, start, "unterminated string");
		c = sc->s[sc->pos];
		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(sc, sc->pos, c ? "control character in string" : "NUL byte");
		if (c == '\\') {
			size_t esc = sc->pos;
			unsigned cp, lo;
			int r;

			if (sc->pos + 1 >= sc->len)
				return fail(sc, start, "unterminated string");
			c = sc->s[sc->pos + 1];
			if (c != 'u') {
				if (!c || !strchr("\"\\/bfnrt", c))
					return fail(sc, esc, "invalid escape in string");
				sc->pos += 2;
				continue;
			}
			r = hex4(sc, sc->pos + 2, &cp);
			if (r)
				return r;
			sc->pos += 6;
			if (cp == 0)
				return fail(sc, esc, "\\u0000 is not allowed");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(sc, esc, "unpaired surrogate in \\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (sc->len - sc->pos < 2 || sc->s[sc->pos] != '\\' || sc->s[sc->pos + 1] != 'u')
					return fail(sc, esc, "unpaired surrogate in \\u escape");
				r = hex4(sc, sc->pos + 2, &lo);
				if (r)
					return r;
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(sc, esc, "unpaired surrogate in \\u escape");
				sc->pos += 6;
			}
			continue;
		}
		{
			size_t n = utf8_seq(sc->s + sc->pos, sc->len - sc->pos);

			if (n == 0)
				return fail(sc, sc->pos, "invalid UTF-8");
			sc->pos += n;
		}
	}
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static size_t digits(struct scanner *sc)
{
	size_t n = 0;

	while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
		sc->pos++, n++;
	return n;
}

static int scan_number(struct scanner *sc)
{
	size_t start = sc->pos;

	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '0') {
		sc->pos++;
		if (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			return fail(sc, start, "leading zero in number");
	} else if (digits(sc) == 0) {
		return fail(sc, start, "invalid number");
	}
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		sc->pos++;
		if (digits(sc) == 0)
			return fail(sc, start, "invalid number");
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		sc->pos++;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (digits(sc) == 0)
			return fail(sc, start, "invalid number");
	}
	if (sc->pos - start > NUMBER_MAX_LEN)
		return fail(sc, start, "number too long");
	return 0;
}

static int scan_literal(struct scanner *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
		return fail(sc, sc->pos, "invalid literal");
	sc->pos += n;
	return 0;
}

static int scan_value(struct scanner *sc, unsigned depth, size_t key);

static int scan_container(struct scanner *sc, unsigned depth, bool object)
{
	char close = object ? '}' : ']';
	size_t open = sc->pos;
	int r;

	if (depth > sc->max_depth)
		return fail(sc, open, "nesting too deep");
	sc->pos++;
	skip_ws(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == (unsigned char)close) {
		sc->pos++;
		return 0;
	}
	for (;;) {
		size_t key = SIZE_MAX;

		skip_ws(sc);
		if (object) {
			if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
				return fail(sc, sc->pos, "expected a string key");
			key = sc->pos;
			r = scan_string(sc);
			if (r)
				return r;
			skip_ws(sc);
			if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
				return fail(sc, sc->pos, "expected ':'");
			sc->pos++;
		}
		r = scan_value(sc, depth, key);
		if (r)
			return r;
		skip_ws(sc);
		if (sc->pos >= sc->len)
			return fail(sc, open, object ? "unterminated object" : "unterminated array");
		if (sc->s[sc->pos] == (unsigned char)close) {
			sc->pos++;
			return 0;
		}
		if (sc->s[sc->pos] != ',')
			return fail(sc, sc->pos, object ? "expected ',' or '}'" : "expected ',' or ']'");
		sc->pos++;
	}
}

static int scan_value(struct scanner *sc, unsigned depth, size_t key)
{
	int r;

	skip_ws(sc);
	if (sc->pos >= sc->len)
		return fail(sc, sc->pos, "expected a value");
	r = record(sc, sc->pos, key);
	if (r < 0)
		return r;
	switch (sc->s[sc->pos]) {
	case '{':
		return scan_container(sc, depth + 1, true);
	case '[':
		return scan_container(sc, depth + 1, false);
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	case '-':
	case '0' ... '9':
		return scan_number(sc);
	default:
		return fail(sc, sc->pos, sc->s[sc->pos] ? "expected a value" : "NUL byte");
	}
}

int json_scan(const char *text, size_t len, unsigned max_depth, struct json_index *idx,
	      size_t *err_off, const char **err_msg)
{
	struct scanner sc = { .s = (const unsigned char *)text, .len = len, .max_depth = max_depth, .idx = idx };
	size_t bad = utf8_check(text, len);
	int r;

	/* Checked over the whole text first so a NUL or bad byte is reported as such even where
	 * the grammar would have complained about something else. */
	if (bad < len)
		r = fail(&sc, bad, text[bad] ? "invalid UTF-8" : "NUL byte");
	else if (len >= UINT32_MAX)
		r = fail(&sc, 0, "document too large");
	else {
		r = scan_value(&sc, 0, SIZE_MAX);
		if (r == 0) {
			skip_ws(&sc);
			if (sc.pos < len)
				r = fail(&sc, sc.pos, "trailing characters after the document");
		}
	}
	if (r > 0) {
		*err_off = sc.err_off;
		*err_msg = sc.err;
	}
	return r;
}

void json_index_done(struct json_index *idx)
{
	free(idx->nodes);
	*idx = (struct json_index){0};
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
