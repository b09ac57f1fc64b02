/* SPDX-License-Identifier: MIT */
/* pattern.h - message types, type patterns and compiled pattern sets.
 *
 * Pure functions, no I/O; safe on untrusted input. A message type is 1..255 bytes of UTF-8
 * without control characters, invisible characters (unicode.h) or '*' (envelope.h: one rule for
 * the whole bus). A pattern is one of:
 *   - an exact type, matching only itself;
 *   - a prefix of at least one character ending in '.' or ':', followed by '*' ("weather.*",
 *     "recognizer_loop:*"), matching every type that starts with the prefix and is longer than
 *     it ("weather.*" matches "weather.today" and "weather.a.b", not "weather" or "weather.");
 *   - "*" alone, matching every type.
 * Patterns are at most 255 bytes. Nothing else (no '*' elsewhere, no regex) is accepted; as no
 * type holds a '*', a pattern never reads as two things. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define TYPE_MAX_LEN 255
#define PATTERN_MAX_LEN 255

/* True iff s[0..len) is a valid message type. */
bool type_is_valid(const char *s, size_t len);

/* 0 if s is a valid pattern, -EINVAL otherwise (including NULL). */
int pattern_validate(const char *s);

/* True iff the valid type `type` matches the valid pattern `pattern`; false if either is
 * invalid. */
bool pattern_matches(const char *pattern, const char *type);

/* True iff every type matching `inner` also matches `outer`; false if either is invalid. */
bool pattern_covers(const char *outer, const char *inner);

/* True iff some type matches both patterns; false if either is invalid. */
bool pattern_overlaps(const char *a, const char *b);

/* A compiled, deduplicated set of patterns. Matching costs O(length of the type) whatever the
 * number of patterns: one probe for the exact type, one per '.' or ':' for prefixes. */
struct pattern_set;

/* Returns 0 or -ENOMEM. */
int pattern_set_new(struct pattern_set **out);

/* NULL-safe. */
void pattern_set_free(struct pattern_set *set);

/* Copies and adds a pattern. Returns 0 (also when already present), -EINVAL for an invalid
 * pattern (the set is unchanged), -ENOMEM. */
int pattern_set_add(struct pattern_set *set, const char *pattern);

/* True iff the type type[0..len) is valid and matches some pattern of the set. */
bool pattern_set_match(const struct pattern_set *set, const char *type, size_t len);

/* True iff every type matching `pattern` matches the set, i.e. a subscription to `pattern`
 * stays inside the set. False for an invalid pattern. */
bool pattern_set_covers(const struct pattern_set *set, const char *pattern);

/* Number of distinct patterns. */
size_t pattern_set_count(const struct pattern_set *set);

/* The i-th pattern in insertion order (i < pattern_set_count); owned by the set. */
const char *pattern_set_get(const struct pattern_set *set, size_t i);
