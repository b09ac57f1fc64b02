/* SPDX-License-Identifier: MIT */
/* strset.h - a small open-addressing set of byte strings with caller-visible hashes.
 *
 * Internal to manifests/. The hash is 64-bit FNV-1a so that a caller walking a string once can
 * read off the hash of every prefix on the way (pattern_set_match relies on this to stay
 * O(len)). Entries are compared by full hash first, so a probe touches key bytes only on a
 * 64-bit hash match. Insert and lookup only; no removal. FNV-1a is not collision resistant: a
 * manifest author who picks colliding patterns slows matching against that manifest's own set
 * only, and by at most its pattern count (MANIFEST_MAX_PATTERNS). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRSET_HASH_INIT UINT64_C(0xcbf29ce484222325)

static inline uint64_t strset_hash_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * UINT64_C(0x100000001b3);
}

static inline uint64_t strset_hash(const char *s, size_t len)
{
	uint64_t h = STRSET_HASH_INIT;

	for (size_t i = 0; i < len; i++)
		h = strset_hash_step(h, (unsigned char)s[i]);
	return h;
}

struct strset_entry {
	uint64_t hash;
	const char *key; /* not owned; NULL marks a free slot */
	size_t len;
};

struct strset {
	struct strset_entry *slots;
	size_t cap; /* 0 or a power of two */
	size_t count;
};

/* A zeroed struct strset is a valid empty set. */
void strset_done(struct strset *s);

/* Adds key (not copied: it must outlive the set). Returns 1 if added, 0 if already present,
 * -ENOMEM. */
int strset_add(struct strset *s, const char *key, size_t len);

bool strset_contains_hashed(const struct strset *s, const char *key, size_t len, uint64_t hash);

static inline bool strset_contains(const struct strset *s, const char *key, size_t len)
{
	return strset_contains_hashed(s, key, len, strset_hash(key, len));
}
