// SPDX-License-Identifier: MIT
/* strset.c - open-addressing string set (linear probing, load factor at most 1/2).
 *
 * The keys come from manifests and policy; lookups may carry peer-chosen bytes. A peer only
 * picks where a probe starts, so its cost is bounded by the clusters the set's owner built. */
#include "strset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void strset_done(struct strset *s)
{
	if (!s)
		return;
	free(s->slots);
	*s = (struct strset){0};
}

static void insert_slot(struct strset_entry *slots, size_t cap, const struct strset_entry *e)
{
	size_t mask = cap - 1;

	for (size_t i = (size_t)e->hash & mask;; i = (i + 1) & mask) {
		if (!slots[i].key) {
			slots[i] = *e;
			return;
		}
	}
}

static int grow(struct strset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 16;
	struct strset_entry *slots;

	if (cap < s->cap || cap > SIZE_MAX / sizeof(*slots))
		return -ENOMEM;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i].key)
			insert_slot(slots, cap, &s->slots[i]);
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

bool strset_contains_hashed(const struct strset *s, const char *key, size_t len, uint64_t hash)
{
	size_t mask;

	if (s->count == 0)
		return false;
	mask = s->cap - 1;
	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		const struct strset_entry *e = &s->slots[i];

		if (!e->key)
			return false;
		if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
			return true;
	}
}

int strset_add(struct strset *s, const char *key, size_t len)
{
	uint64_t hash = strset_hash(key, len);
	int r;

	if (strset_contains_hashed(s, key, len, hash))
		return 0;
	/* Keep at least half the slots free so probe chains stay short. */
	if ((s->count + 1) * 2 > s->cap) {
		r = grow(s);
		if (r < 0)
			return r;
	}
	insert_slot(s->slots, s->cap, &(struct strset_entry){ .hash = hash, .key = key, .len = len });
	s->count++;
	return 1;
}
