/* SPDX-License-Identifier: MIT */
/* subindex.h - who subscribed to what: pattern -> subscribers, probed per message.
 *
 * Finding the receivers of a type costs one probe for the exact type, one per '.' or ':'
 * prefix, and one for "*": independent of how many patterns or connections exist. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct subindex;

struct sublist {
	void **items; /* subscribers (opaque connection pointers) */
	size_t n, cap;
};

int subindex_new(struct subindex **out);
void subindex_free(struct subindex *idx);

/* Adds sub under pattern (already validated). 0, or -ENOMEM. Adding twice is the caller's bug. */
int subindex_add(struct subindex *idx, const char *pattern, void *sub);
/* Removes sub from pattern; no-op when absent. */
void subindex_remove(struct subindex *idx, const char *pattern, void *sub);

/* Calls fn for every subscriber whose pattern matches type (a subscriber with several matching
 * patterns is reported once per pattern; the caller dedups). */
void subindex_match(const struct subindex *idx, const char *type, size_t len,
		    void (*fn)(void *sub, void *userdata), void *userdata);
