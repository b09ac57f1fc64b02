/* SPDX-License-Identifier: MIT */
/* envelope.h - the Mycroft-shaped JSON message: {"type": ..., "data": {...}, "context": {...}}.
 *
 * Untrusted input. Bodies are pre-scanned in one pass (strict UTF-8, no raw control bytes,
 * nesting depth) before cJSON sees them, then checked for shape: an object with a valid "type"
 * string, optional "data" and "context" objects, nothing else, no duplicate keys at the top
 * level or in "context" (a receiver that keeps the last duplicate must not see another type). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "json-scan.h"

#define ENVELOPE_TYPE_MAX 255
#define ENVELOPE_DEFAULT_DEPTH 32

/* Positive outcomes: the peer sent something that is not a valid message. */
enum {
	ENVELOPE_MALFORMED = 1,
	ENVELOPE_TOO_DEEP = 2,
	ENVELOPE_BAD_UTF8 = 3,
	ENVELOPE_NEEDS_TREE = 4, /* envelope_scan: only envelope_parse can judge this one */
};

struct envelope {
	cJSON *root;      /* owned */
	const char *type; /* points into root */
	cJSON *data;      /* object, created when absent */
	cJSON *context;   /* object, created when absent */
};

/* Type syntax: 1..255 bytes of UTF-8 without control characters (C0, DEL, C1), without the
 * characters unicode.h calls invisible, and without '*' (docs/protocol.md "Message types"). */
bool envelope_type_is_valid(const char *type, size_t len);

/* One pass over the raw bytes: strict UTF-8, no control bytes outside JSON whitespace,
 * depth <= max_depth. Returns 0 or ENVELOPE_BAD_UTF8 / ENVELOPE_TOO_DEEP / ENVELOPE_MALFORMED. */
int envelope_prescan(const uint8_t *body, size_t len, unsigned max_depth);

/* Prescans, parses and validates. On 0 *out owns a tree; otherwise *why says what was wrong
 * (static string) and *out is untouched. -ENOMEM on allocation failure. */
int envelope_parse(const uint8_t *body, size_t len, unsigned max_depth, struct envelope *out,
		   const char **why);

#define ENVELOPE_VIEW_CONTEXT_MAX 16

/* Where the parts of a message lie in its raw bytes: offsets into the scanned body. */
struct envelope_view {
	size_t type_off, type_len; /* the type string's bytes, no escapes */
	size_t data_off, data_len; /* the data object; data_len 0 when absent */
	size_t ctx_off, ctx_len;   /* the context object; ctx_len 0 when absent */
	size_t n_ctx;              /* context members in ctx[] (envelope_scan only) */
	struct json_member ctx[ENVELOPE_VIEW_CONTEXT_MAX]; /* offsets into the body */
};

/* envelope_parse's judgement without building a tree, for the common message. 0: valid, exactly
 * as envelope_parse would accept it, and *v says where its parts are. Anything else: ask
 * envelope_parse, which gives the reason or accepts what this scan leaves to it (escaped
 * top-level keys or type, more than ENVELOPE_VIEW_CONTEXT_MAX context members, escaped context
 * keys). */
int envelope_scan(const uint8_t *body, size_t len, unsigned max_depth, struct envelope_view *v);

/* The same without looking inside context (a receiver needs no more: the daemon checked it). */
int envelope_locate(const uint8_t *body, size_t len, unsigned max_depth, struct envelope_view *v);
/* envelope_locate for text envelope_serialize wrote from a validated message: a type with '"' or
 * '\\' is written escaped there, and v's type_off/type_len then cover the escaped form. */
int envelope_locate_written(const uint8_t *body, size_t len, unsigned max_depth, struct envelope_view *v);

/* Writes {"type":"T","data":D,"context":C} from parts already valid on their own: data_len 0
 * writes {} for data, ctx NULL leaves context out. out holds envelope_write_size() bytes;
 * returns the length written (no terminator). */
size_t envelope_write_size(size_t type_len, size_t data_len, size_t ctx_len);
size_t envelope_write(char *out, const char *type, size_t type_len, const char *data, size_t data_len,
		      const char *ctx, size_t ctx_len);

/* Bytes envelope_write_stamped may write for a body of body_len bytes. */
size_t envelope_stamped_size(size_t body_len, const char *sender);

/* Writes the message *v describes as the router delivers it: type, data as written, context
 * without any "sender" the client put there, then context.sender. out holds
 * envelope_stamped_size() bytes; returns the length written. */
size_t envelope_write_stamped(const struct envelope_view *v, const uint8_t *body, const char *sender, char *out);

/* Builds a fresh envelope (for senders). data_json may be NULL for {}. Returns 0,
 * a positive ENVELOPE_* code for bad data JSON, or -ENOMEM. */
int envelope_build(const char *type, const char *data_json, struct envelope *out, const char **why);

/* Sets context.sender, replacing whatever a client wrote there. */
int envelope_set_sender(struct envelope *e, const char *sender);

/* The router's serialisation of a message it parsed from raw[0..raw_len) (e is that parse),
 * stamped with sender: the same shape as envelope_write_stamped(). Only the type (whose charset
 * needs no escaping) is written afresh; data and every context member other than "sender"
 * (however its key is spelt) are copied from the validated input bytes, so no value passes
 * through a double or changes on the way. Caller frees. NULL on allocation failure (or when raw
 * is not the text e was parsed from). */
char *envelope_serialize_raw(const struct envelope *e, const uint8_t *raw, size_t raw_len, const char *sender,
			     size_t *len);

/* Writers for callers that build a message in a buffer they sized: envelope_put copies len
 * bytes to o, envelope_put_string writes s as a JSON string literal (quotes, escapes; at most
 * 2 + 6 * strlen(s) bytes; envelope_put_string_n the same for len bytes). All return the position
 * after what they wrote. */
char *envelope_put(char *o, const void *src, size_t len);
char *envelope_put_string(char *o, const char *s);
char *envelope_put_string_n(char *o, const char *s, size_t len);

/* A context member the router writes itself: its key (plain text, no escapes: a protocol name)
 * and its string value, or NULL to only drop what the client wrote under that key. */
struct envelope_member {
	const char *key;
	const char *value;
};

/* Same, for several members: every context member whose key (however it was spelt) is one of
 * set[].key is dropped, then the set members with a value are written after the client's, in
 * order. envelope_serialize_raw() is this with { "sender", sender }. */
char *envelope_serialize_raw_set(const struct envelope *e, const uint8_t *raw, size_t raw_len,
				 const struct envelope_member *set, size_t n_set, size_t *len);

/* Compact serialisation; caller frees with free(). NULL on allocation failure. */
char *envelope_serialize(const struct envelope *e, size_t *len);

void envelope_clear(struct envelope *e);

static inline void cjson_deletep(cJSON **p)
{
	cJSON_Delete(*p);
}
