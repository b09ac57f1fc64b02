// SPDX-License-Identifier: MIT
/* jsonscan.c - the manifests' JSON syntax pass: lib/json-scan.c with whole-text UTF-8 and NUL
 * reporting first, and FILE:LINE:COL messages. Handles untrusted bytes. */
#include "jsonscan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

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

int json_scan(const char *text, size_t len, unsigned max_depth, struct json_index *idx,
	      size_t *err_off, const char **err_msg)
{
	struct json_scan_error err = { 0 };
	size_t bad = utf8_check(text, len);

	/* Checked over the whole text first so a NUL or bad byte is reported as such even where
	 * the grammar would have complained about something else. */
	if (bad < len) {
		*err_off = bad;
		*err_msg = text[bad] ? "invalid UTF-8" : "NUL byte";
		return JSON_SCAN_INVALID;
	}
	int r = json_scan_indexed((const uint8_t *)text, len, max_depth, MANIFEST_NUMBER_MAX, idx, &err);
	if (r > 0) {
		*err_off = err.off;
		*err_msg = err.msg;
		return JSON_SCAN_INVALID;
	}
	return r;
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
