/* SPDX-License-Identifier: MIT */
/* json-doc.h - the one strict JSON reader for files: capbusd's configuration, manifests and the
 * protection-level policy.
 *
 * Input may be untrusted (a skill author writes the manifest that the daemon reads as root).
 * The text is checked by the strict scan of json-scan.h (RFC 8259, UTF-8, no NUL, bounded depth
 * and number length) before anything is decoded, and the result is a read-only tree of plain C
 * nodes that remember where each value and key starts, so every error a caller reports reads
 * "FILE:LINE:COL: message" and points at the offending value or key. cJSON decodes the strings
 * inside json-doc.c and never leaves it. Only the first error is kept. Not part of libcapbus. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Positive result: the document is invalid and doc->error says why. */
#define JSON_DOC_INVALID 1
/* No file the reader serves needs longer numbers. */
#define JSON_DOC_NUMBER_MAX 32

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

/* One value. Nodes and their strings belong to the json_doc and live until json_doc_done(). */
struct json_node {
	enum json_type type;
	const char *key;               /* decoded member name; NULL outside objects */
	const char *string;            /* decoded JSON_STRING value (no NUL inside); NULL otherwise */
	const struct json_node *child; /* first element or member of an array or object */
	const struct json_node *next;  /* next element or member of the parent */
	size_t n_children;
	uint32_t off;                  /* byte offset where the value starts */
	uint32_t key_off;              /* byte offset of its key's opening quote; UINT32_MAX if none */
};

struct json_doc {
	const char *text; /* borrowed */
	size_t len;
	const char *filename; /* borrowed; "<input>" when none was given */
	const struct json_node *root;
	struct json_node *nodes; /* owned, in document order */
	size_t n_nodes;
	char *strings; /* owned: every key and string value, NUL-terminated */
	char *error;   /* owned; taken by the caller */
};

/* NULL-safe type test. */
static inline bool json_is(const struct json_node *n, enum json_type t)
{
	return n && n->type == t;
}

/* Checks size, encoding, syntax and depth, then decodes. Returns 0, -ENOMEM or JSON_DOC_INVALID
 * (doc->error set; for a syntax error "FILE:LINE:COL: " + syntax_prefix + what the scan found,
 * syntax_prefix may be NULL). doc must be zeroed; release it with json_doc_done() in every case. */
int json_doc_parse(struct json_doc *doc, const char *text, size_t len, const char *filename,
		   size_t max_size, unsigned max_depth, const char *syntax_prefix);

void json_doc_done(struct json_doc *doc);

/* Records "FILE:LINE:COL: message" for node (at its key when at_key and it has one; NULL means
 * the start of the document). Returns JSON_DOC_INVALID, or -ENOMEM. */
int json_doc_fail(struct json_doc *doc, const struct json_node *node, bool at_key, const char *fmt, ...)
	_printf_(4, 5);

/* Splits an object into known members: found[i] is the member named keys[i] or NULL. Unknown
 * and repeated keys are errors ("unknown key \"k\" in WHAT", at the key), because a typo must not
 * silently drop a restriction. Fails if obj is not an object. Returns 0, JSON_DOC_INVALID,
 * -ENOMEM. */
int json_doc_members(struct json_doc *doc, const struct json_node *obj, const char *what,
		     const char *const *keys, size_t n_keys, const struct json_node **found);

/* The value of a number written as plain digits (no sign, fraction or exponent; the raw text is
 * parsed, not a double) of at most max. Returns 0, -EINVAL (not a number or not plain digits) or
 * -ERANGE; *out untouched on failure. Records no error: callers word their own. */
int json_node_uint(const struct json_doc *doc, const struct json_node *n, uint64_t max, uint64_t *out);

/* json_node_uint from min to max, with the error "WHAT must be a whole number from MIN to MAX"
 * (or "must be a number, not TYPE"). Returns 0, JSON_DOC_INVALID, -ENOMEM. */
int json_doc_uint(struct json_doc *doc, const struct json_node *n, const char *what, uint64_t min,
		  uint64_t max, uint64_t *out);

/* Human name of a node's type ("a string", "an object", ..., "null"). */
const char *json_type_name(const struct json_node *n);

/* Quotes s for a message: printable ASCII kept, everything else as \xNN, cut after 64 bytes. */
char *json_quote(const char *s);

/* Element check for json_doc_strv: NULL if s is fine, else what is wrong with it. */
typedef const char *(*json_check_fn)(const char *s);

/* Copies a JSON array of strings into a NULL-terminated vector (*n_out entries), checking
 * each element with check (may be NULL) and refusing repeats when unique. Returns 0,
 * JSON_DOC_INVALID, -ENOMEM; outputs untouched on failure. */
int json_doc_strv(struct json_doc *doc, const struct json_node *arr, const char *what, size_t max,
		  bool allow_empty, bool unique, json_check_fn check, char ***out, size_t *n_out);

/* Line-oriented helpers for other text files that report errors the same way (grants files). */

/* 1-based line and column (in characters) of byte offset off. */
void json_offset_to_linecol(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);

/* Formats "FILE:LINE:COL: message" for byte offset off of text into a new *out (NULL filename:
 * "<input>"). Returns 0 or -ENOMEM (*out untouched). */
int json_error_at(const char *text, size_t len, size_t off, const char *filename, char **out, const char *fmt,
		  va_list ap);

/* First byte of text[0..len) that breaks UTF-8 or is a NUL, or len if none. */
size_t utf8_check(const char *text, size_t len);
