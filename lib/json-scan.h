/* SPDX-License-Identifier: MIT */
/* json-scan.h - strict one-pass JSON validation (RFC 8259) that builds no tree.
 *
 * Untrusted input. Accepts exactly the RFC 8259 grammar over strict UTF-8, and refuses what a
 * parser would alter on its way to a receiver: the escape \u0000, unpaired surrogate escapes and
 * numbers longer than cJSON reads whole. Nesting is bounded by max_depth (the outermost object or
 * array is depth 1), and so is the recursion. Objects report their members as byte ranges, so a
 * caller can pick the few it needs without parsing the rest; the indexed scan records where every
 * value starts (for file:line:col diagnostics) and says what the first problem was, and where. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcomes (the ENVELOPE_* codes share these values). */
enum {
	JSON_SCAN_OK = 0,
	JSON_SCAN_MALFORMED = 1,
	JSON_SCAN_TOO_DEEP = 2,
	JSON_SCAN_BAD_UTF8 = 3,
};

#define JSON_SCAN_DEPTH_MAX 128u
/* The longest number cJSON reads whole (it copies at most 63 characters before converting). */
#define JSON_SCAN_NUMBER_MAX 63u
#define JSON_NO_KEY UINT32_MAX

/* The first problem of a refused text: byte offset and a static description. */
struct json_scan_error {
	size_t off;
	const char *msg;
};

/* Where a value starts, and the opening quote of its key (JSON_NO_KEY outside objects). */
struct json_pos {
	uint32_t value;
	uint32_t key;
};

/* Value positions in document (pre-)order: the order in which a walk of a cJSON tree of the
 * same text meets the values. */
struct json_index {
	struct json_pos *nodes; /* owned */
	size_t n, cap;
};

/* One member of an object: the key's bytes between the quotes (escapes not decoded) and the
 * value's bytes, both as offsets into the scanned text. */
struct json_member {
	uint32_t key_off, key_len;
	uint32_t val_off, val_len;
	bool key_escaped;
	char val_kind; /* first byte of the value: '{', '[', '"', 't', 'f', 'n' or a number's */
};

/* Validates a whole text: one value with optional whitespace around it. */
int json_scan_document(const uint8_t *p, size_t n, unsigned max_depth);

/* Validates the text as one object with optional whitespace around it and lists up to cap of
 * its members in order; *count is how many it has (may exceed cap). Offsets fit 32 bits:
 * texts of 4 GiB or more are refused. */
int json_scan_object(const uint8_t *p, size_t n, unsigned max_depth, struct json_member *members,
		     size_t cap, size_t *count);

/* json_scan_document with numbers of at most number_max characters, every value's position
 * recorded into *idx (zeroed on entry; release with json_index_done in every case) and the first
 * problem described in *err. Returns 0, a JSON_SCAN_* code, or -ENOMEM. */
int json_scan_indexed(const uint8_t *p, size_t n, unsigned max_depth, size_t number_max,
		      struct json_index *idx, struct json_scan_error *err);

void json_index_done(struct json_index *idx);

/* Number of bytes of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
size_t json_utf8_sequence(const uint8_t *p, size_t n);
/* The same, also giving the code point it encodes. */
size_t json_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp);
