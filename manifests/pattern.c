// SPDX-License-Identifier: MIT
/* pattern.c - message-type patterns: validation, matching, coverage and overlap.
 *
 * Runs in the router on every message and subscription, so everything here is allocation-free
 * except building a set, and bounded by the length of its inputs. */
#include "pattern.h"

#include "envelope.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strset.h"
#include "util.h"

static bool is_sep(char c)
{
	return c == '.' || c == ':';
}

/* One rule for the whole bus: the same check the wire parser applies to every message. */
bool type_is_valid(const char *s, size_t len)
{
	return s && envelope_type_is_valid(s, len);
}

enum kind { KIND_INVALID, KIND_ALL, KIND_PREFIX, KIND_EXACT };

/* For KIND_PREFIX, *plen is the prefix length including its separator. */
static enum kind classify(const char *p, size_t *plen)
{
	size_t len;

	if (!p)
		return KIND_INVALID;
	len = strnlen(p, PATTERN_MAX_LEN + 1);
	if (len > PATTERN_MAX_LEN || len == 0)
		return KIND_INVALID;
	if (len == 1 && p[0] == '*')
		return KIND_ALL;
	if (p[len - 1] == '*') {
		/* a prefix of at least one character before its separator, and nothing a type may not hold */
		if (len < 3 || !is_sep(p[len - 2]) || !type_is_valid(p, len - 1))
			return KIND_INVALID;
		*plen = len - 1;
		return KIND_PREFIX;
	}
	if (!type_is_valid(p, len))
		return KIND_INVALID;
	*plen = len;
	return KIND_EXACT;
}

int pattern_validate(const char *s)
{
	size_t n;

	return classify(s, &n) == KIND_INVALID ? -EINVAL : 0;
}

static bool prefix_matches(const char *prefix, size_t plen, const char *type, size_t tlen)
{
	/* "weather.*" matches what starts with "weather." and is longer: not "weather." itself */
	return tlen > plen && memcmp(prefix, type, plen) == 0;
}

bool pattern_matches(const char *pattern, const char *type)
{
	size_t plen = 0, tlen;
	enum kind k = classify(pattern, &plen);

	if (k == KIND_INVALID || !type)
		return false;
	tlen = strnlen(type, TYPE_MAX_LEN + 1);
	if (!type_is_valid(type, tlen))
		return false;
	switch (k) {
	case KIND_ALL:
		return true;
	case KIND_PREFIX:
		return prefix_matches(pattern, plen, type, tlen);
	case KIND_EXACT:
		return plen == tlen && memcmp(pattern, type, tlen) == 0;
	default:
		return false;
	}
}

bool pattern_covers(const char *outer, const char *inner)
{
	size_t olen = 0, ilen = 0;
	enum kind ko = classify(outer, &olen), ki = classify(inner, &ilen);

	if (ko == KIND_INVALID || ki == KIND_INVALID)
		return false;
	if (ko == KIND_ALL)
		return true;
	if (ki == KIND_ALL)
		return false;
	if (ki == KIND_EXACT)
		return ko == KIND_EXACT ? olen == ilen && memcmp(outer, inner, ilen) == 0
					: prefix_matches(outer, olen, inner, ilen);
	/* inner is a prefix: it matches infinitely many types, so only a prefix can cover it, and
	 * only one that inner's own prefix starts with ("a." covers "a.b.*", not the reverse). */
	return ko == KIND_PREFIX && ilen >= olen && memcmp(outer, inner, olen) == 0;
}

bool pattern_overlaps(const char *a, const char *b)
{
	size_t alen = 0, blen = 0;
	enum kind ka = classify(a, &alen), kb = classify(b, &blen);

	if (ka == KIND_INVALID || kb == KIND_INVALID)
		return false;
	if (ka == KIND_ALL || kb == KIND_ALL)
		return true;
	if (ka == KIND_EXACT && kb == KIND_EXACT)
		return alen == blen && memcmp(a, b, alen) == 0;
	if (ka == KIND_EXACT)
		return prefix_matches(b, blen, a, alen);
	if (kb == KIND_EXACT)
		return prefix_matches(a, alen, b, blen);
	/* Two prefixes share a type iff one starts with the other. */
	return memcmp(a, b, alen < blen ? alen : blen) == 0;
}

struct pattern_set {
	bool all;
	struct strset exact;	/* full types */
	struct strset prefixes; /* prefixes including the trailing separator, without '*' */
	char **patterns;	/* owned, insertion order; keys of the strsets point into these */
	size_t count, cap;
};

int pattern_set_new(struct pattern_set **out)
{
	struct pattern_set *set = calloc(1, sizeof(*set));

	if (!set)
		return -ENOMEM;
	*out = set;
	return 0;
}

void pattern_set_free(struct pattern_set *set)
{
	if (!set)
		return;
	strset_done(&set->exact);
	strset_done(&set->prefixes);
	for (size_t i = 0; i < set->count; i++)
		free(set->patterns[i]);
	free(set->patterns);
	free(set);
}

static bool set_has(const struct pattern_set *set, enum kind k, const char *p, size_t plen)
{
	switch (k) {
	case KIND_ALL:
		return set->all;
	case KIND_PREFIX:
		return strset_contains(&set->prefixes, p, plen);
	case KIND_EXACT:
		return strset_contains(&set->exact, p, plen);
	default:
		return false;
	}
}

int pattern_set_add(struct pattern_set *set, const char *pattern)
{
	size_t plen = 0;
	enum kind k = classify(pattern, &plen);
	_cleanup_free_ char *copy = NULL;
	int r = 0;

	if (k == KIND_INVALID)
		return -EINVAL;
	if (set_has(set, k, pattern, plen))
		return 0;
	if (set->count == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		char **p;

		if (cap > SIZE_MAX / sizeof(char *))
			return -ENOMEM;
		p = realloc(set->patterns, cap * sizeof(char *));
		if (!p)
			return -ENOMEM;
		set->patterns = p;
		set->cap = cap;
	}
	copy = strdup(pattern);
	if (!copy)
		return -ENOMEM;
	if (k == KIND_PREFIX)
		r = strset_add(&set->prefixes, copy, plen);
	else if (k == KIND_EXACT)
		r = strset_add(&set->exact, copy, plen);
	else
		set->all = true;
	if (r < 0)
		return r;
	set->patterns[set->count++] = TAKE_PTR(copy);
	return 0;
}

/* Probes every prefix of s[0..len) that ends in a separator, hashing each byte once; with
 * shorter, only those shorter than s (a type ending in '.' is not matched by its own prefix). */
static bool prefix_probe(const struct pattern_set *set, const char *s, size_t len, bool shorter)
{
	uint64_t h = STRSET_HASH_INIT;

	if (set->prefixes.count == 0)
		return false;
	for (size_t i = 0; i < len - shorter; i++) {
		h = strset_hash_step(h, (unsigned char)s[i]);
		if (is_sep(s[i]) && strset_contains_hashed(&set->prefixes, s, i + 1, h))
			return true;
	}
	return false;
}

bool pattern_set_match(const struct pattern_set *set, const char *type, size_t len)
{
	if (!type_is_valid(type, len))
		return false;
	if (set->all)
		return true;
	return strset_contains(&set->exact, type, len) || prefix_probe(set, type, len, true);
}

bool pattern_set_covers(const struct pattern_set *set, const char *pattern)
{
	size_t plen = 0;
	enum kind k = classify(pattern, &plen);

	switch (k) {
	case KIND_ALL:
		return set->all;
	case KIND_EXACT:
		return pattern_set_match(set, pattern, plen);
	case KIND_PREFIX:
		/* Only a prefix pattern can cover infinitely many types (see pattern_covers);
		 * prefix_probe includes the pattern's own prefix since it ends in a separator. */
		return set->all || prefix_probe(set, pattern, plen, false);
	default:
		return false;
	}
}

size_t pattern_set_count(const struct pattern_set *set)
{
	return set->count;
}

const char *pattern_set_get(const struct pattern_set *set, size_t i)
{
	return i < set->count ? set->patterns[i] : NULL;
}
