// SPDX-License-Identifier: MIT
/* subindex.c - open-addressing hash of subscription patterns to subscriber lists. */
#include "router/subindex.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

struct slot {
	char *key; /* NULL: empty; TOMBSTONE: deleted */
	uint64_t hash;
	struct sublist list;
};

struct subindex {
	struct slot *slots;
	size_t cap;  /* power of two */
	size_t used; /* live + tombstones */
};

static char tombstone_marker;
#define TOMBSTONE (&tombstone_marker)

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int subindex_new(struct subindex **out)
{
	struct subindex *idx = calloc(1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	idx->cap = 64;
	idx->slots = calloc(idx->cap, sizeof(*idx->slots));
	if (!idx->slots) {
		free(idx);
		return -ENOMEM;
	}
	*out = idx;
	return 0;
}

void subindex_free(struct subindex *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->cap; i++)
		if (idx->slots[i].key && idx->slots[i].key != TOMBSTONE) {
			free(idx->slots[i].key);
			free(idx->slots[i].list.items);
		}
	free(idx->slots);
	free(idx);
}

static struct slot *lookup(const struct subindex *idx, const char *key, size_t len, uint64_t h)
{
	size_t mask = idx->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct slot *s = &idx->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMBSTONE && s->hash == h && strlen(s->key) == len && memcmp(s->key, key, len) == 0)
			return s;
	}
}

/* Rehashes into a table sized for the live entries: doubles when they fill it, otherwise just
 * clears the tombstones that subscribe/unsubscribe churn leaves behind. */
static int grow(struct subindex *idx)
{
	size_t live = 0;
	for (size_t i = 0; i < idx->cap; i++)
		live += idx->slots[i].key && idx->slots[i].key != TOMBSTONE;
	size_t cap = (live + 1) * 2 > idx->cap ? idx->cap * 2 : idx->cap;
	struct slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < idx->cap; i++) {
		struct slot *s = &idx->slots[i];
		if (!s->key || s->key == TOMBSTONE)
			continue;
		size_t j = s->hash & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(idx->slots);
	idx->slots = slots;
	idx->cap = cap;
	idx->used = live;
	return 0;
}

int subindex_add(struct subindex *idx, const char *pattern, void *sub)
{
	size_t len = strlen(pattern);
	uint64_t h = hash_bytes(pattern, len);
	struct slot *s = lookup(idx, pattern, len, h);

	if (!s) {
		if ((idx->used + 1) * 4 > idx->cap * 3 && grow(idx) < 0)
			return -ENOMEM;
		size_t mask = idx->cap - 1, i = h & mask;
		while (idx->slots[i].key && idx->slots[i].key != TOMBSTONE)
			i = (i + 1) & mask;
		s = &idx->slots[i];
		char *key = strdup(pattern);
		if (!key)
			return -ENOMEM;
		if (!s->key)
			idx->used++;
		memset(s, 0, sizeof(*s));
		s->key = key;
		s->hash = h;
	}
	if (s->list.n == s->list.cap) {
		size_t cap = s->list.cap ? s->list.cap * 2 : 4;
		void **items = realloc(s->list.items, cap * sizeof(void *));
		if (!items)
			return -ENOMEM;
		s->list.items = items;
		s->list.cap = cap;
	}
	s->list.items[s->list.n++] = sub;
	return 0;
}

void subindex_remove(struct subindex *idx, const char *pattern, void *sub)
{
	size_t len = strlen(pattern);
	struct slot *s = lookup(idx, pattern, len, hash_bytes(pattern, len));

	if (!s)
		return;
	for (size_t i = 0; i < s->list.n; i++)
		if (s->list.items[i] == sub) {
			s->list.items[i] = s->list.items[--s->list.n];
			break;
		}
	if (s->list.n == 0) {
		free(s->key);
		free(s->list.items);
		memset(s, 0, sizeof(*s));
		s->key = TOMBSTONE;
	}
}

static void report(const struct subindex *idx, const char *key, size_t len, void (*fn)(void *, void *), void *ud)
{
	const struct slot *s = lookup(idx, key, len, hash_bytes(key, len));
	if (!s)
		return;
	for (size_t i = 0; i < s->list.n; i++)
		fn(s->list.items[i], ud);
}

void subindex_match(const struct subindex *idx, const char *type, size_t len,
		    void (*fn)(void *sub, void *userdata), void *userdata)
{
	char prefix[260];

	report(idx, type, len, fn, userdata);
	/* Each prefix that ends at a separator, as the wildcard pattern "prefix*". */
	for (size_t i = 0; i + 1 < len && i + 2 <= sizeof(prefix); i++) {
		if (type[i] != '.' && type[i] != ':')
			continue;
		memcpy(prefix, type, i + 1);
		prefix[i + 1] = '*';
		report(idx, prefix, i + 2, fn, userdata);
	}
	report(idx, "*", 1, fn, userdata);
}
