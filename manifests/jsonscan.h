/* SPDX-License-Identifier: MIT */
/* jsonscan.h - the strict JSON scan of lib/json-scan.h as the manifest files need it.
 *
 * Internal to manifests/. cJSON builds the tree but keeps no positions and accepts more than
 * RFC 8259 in places; this pass runs first on the raw bytes, rejects anything that is not
 * strict JSON in valid UTF-8 without NUL bytes, bounds nesting and number length, and lists
 * value offsets in document (pre-)order, which is the order in which a walk of the cJSON tree
 * meets the same values; errors become FILE:LINE:COL messages. */
#pragma once

#include <stdarg.h>

#include <stddef.h>
#include <stdint.h>

#include "json-scan.h"

#define JSON_SCAN_INVALID 1
/* Nothing in a manifest needs longer numbers. */
#define MANIFEST_NUMBER_MAX 32

/* Scans text[0..len) (len < 4 GiB). Returns 0 with idx filled, -ENOMEM, or JSON_SCAN_INVALID
 * with *err_off and *err_msg (a static string) describing the first problem. idx must be
 * zeroed on entry and released with json_index_done() in every case. */
int json_scan(const char *text, size_t len, unsigned max_depth, struct json_index *idx,
	      size_t *err_off, const char **err_msg);

/* 1-based line and column (in characters) of byte offset off. */
void json_offset_to_linecol(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);

/* Formats "FILE:LINE:COL: message" for byte offset off of text into a new *out (NULL filename:
 * "<input>"). Returns 0 or -ENOMEM (*out untouched). */
int json_error_at(const char *text, size_t len, size_t off, const char *filename, char **out, const char *fmt,
		  va_list ap);

/* First byte of text[0..len) that breaks UTF-8 or is a NUL, or len if none. */
size_t utf8_check(const char *text, size_t len);
