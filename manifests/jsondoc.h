/* SPDX-License-Identifier: MIT */
/* jsondoc.h - a parsed policy document: cJSON tree plus positions for error messages.
 *
 * Internal to manifests/ (the only place cJSON is used). Shared by the manifest and the
 * protection-level parsers so both report errors the same way: "FILE:LINE:COL: message",
 * pointing at the offending value or key. Only the first error is kept. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonscan.h"
#include "util.h"

/* Positive result: the document is invalid and doc->error says why. */
#define JSON_DOC_INVALID 1

struct json_doc {
	const char *text; /* borrowed */
	size_t len;
	const char *filename; /* borrowed */
	char *copy;	      /* NUL-terminated copy cJSON parses */
	cJSON *root;
	struct json_index idx;
	char *error; /* owned; taken by the caller */
};

/* Checks size, encoding, syntax and depth, then parses. Returns 0, -ENOMEM or JSON_DOC_INVALID
 * (doc->error set). doc must be zeroed; release it with json_doc_done() in every case. */
int json_doc_parse(struct json_doc *doc, const char *text, size_t len, const char *filename,
		   size_t max_size, unsigned max_depth);

void json_doc_done(struct json_doc *doc);

/* Records "FILE:LINE:COL: message" for item (at its key when at_key and it has one; NULL means
 * the start of the document). Returns JSON_DOC_INVALID, or -ENOMEM. */
int json_doc_fail(struct json_doc *doc, const cJSON *item, bool at_key, const char *fmt, ...)
	_printf_(4, 5);

/* Splits an object into known members: found[i] is the member named keys[i] or NULL. Unknown
 * and repeated keys are errors (a typo must not silently drop a restriction). Fails if obj is
 * not an object. Returns 0, JSON_DOC_INVALID, -ENOMEM. */
int json_doc_members(struct json_doc *doc, const cJSON *obj, const char *what,
		     const char *const *keys, size_t n_keys, const cJSON **found);

/* Reads a non-negative integer written as plain digits (no sign, fraction or exponent; the raw
 * text is parsed, not the double). Returns 0, JSON_DOC_INVALID, -ENOMEM. */
int json_doc_uint(struct json_doc *doc, const cJSON *item, const char *what, uint64_t min,
		  uint64_t max, uint64_t *out);

/* Human name of item's JSON type ("a string", "an object", ...). */
const char *json_type_name(const cJSON *item);

/* Quotes s for a message: printable ASCII kept, everything else as \xNN, cut after 64 bytes. */
char *json_quote(const char *s);

/* Element check for json_doc_strv: NULL if s is fine, else what is wrong with it. */
typedef const char *(*json_check_fn)(const char *s);

/* Copies a JSON array of strings into a NULL-terminated vector (*n_out entries), checking
 * each element with check (may be NULL) and refusing repeats when unique. Returns 0,
 * JSON_DOC_INVALID, -ENOMEM; outputs untouched on failure. */
int json_doc_strv(struct json_doc *doc, const cJSON *arr, const char *what, size_t max,
		  bool allow_empty, bool unique, json_check_fn check, char ***out, size_t *n_out);
