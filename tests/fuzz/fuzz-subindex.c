// SPDX-License-Identifier: MIT
/* fuzz-subindex.c - libFuzzer target: the subscription index against a plain list.
 *
 * Input: a sequence of 4-byte operations (add, remove, match) over generated patterns and four
 * subscribers. After every operation the index must report, for the probed type, exactly the
 * subscribers the list says match, once per matching pattern. Many distinct patterns and
 * add/remove churn exercise growth and tombstone reuse. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/subindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 4096
#define N_SUBS 4

struct entry {
	char pattern[32];
	uintptr_t sub;
};

static bool matches(const char *pattern, const char *type)
{
	size_t pl = strlen(pattern), tl = strlen(type);

	if (strcmp(pattern, "*") == 0)
		return true;
	if (pl >= 2 && pattern[pl - 1] == '*')
		return tl > pl - 1 && memcmp(pattern, type, pl - 1) == 0;
	return strcmp(pattern, type) == 0;
}

static void count(void *sub, void *userdata)
{
	unsigned *counts = userdata;
	uintptr_t s = (uintptr_t)sub;
	if (s < 1 || s > N_SUBS)
		abort();
	counts[s - 1]++;
}

/* Pattern or type number k, shape v. */
static void make(char *out, size_t size, unsigned k, unsigned v)
{
	switch (v % 5) {
	case 0: snprintf(out, size, "s%u", k); break;
	case 1: snprintf(out, size, "s%u.*", k); break;
	case 2: snprintf(out, size, "s%u.x", k); break;
	case 3: snprintf(out, size, "s%u.x:*", k); break;
	default: snprintf(out, size, "*"); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct entry entries[MAX_ENTRIES];
	struct subindex *idx = NULL;
	size_t n = 0;

	if (subindex_new(&idx) < 0)
		abort();
	for (size_t off = 0; off + 4 <= size; off += 4) {
		unsigned op = data[off] % 4, k = (unsigned)(data[off + 1] | data[off + 2] << 8) % 3000;
		unsigned v = data[off + 3] % 5;
		uintptr_t sub = 1 + (data[off + 3] / 5) % N_SUBS;
		char pat[32];
		make(pat, sizeof(pat), k, v);

		if (op == 0 || op == 3) { /* add, unless already there (a caller's bug) */
			size_t i;
			for (i = 0; i < n; i++)
				if (entries[i].sub == sub && strcmp(entries[i].pattern, pat) == 0)
					break;
			if (i < n || n == MAX_ENTRIES)
				continue;
			if (subindex_add(idx, pat, (void *)sub) < 0)
				abort();
			snprintf(entries[n].pattern, sizeof(entries[n].pattern), "%s", pat);
			entries[n++].sub = sub;
			if (op == 3) { /* and straight away remove it again: churn */
				subindex_remove(idx, pat, (void *)sub);
				n--;
			}
		} else if (op == 1) { /* remove (also when absent) */
			subindex_remove(idx, pat, (void *)sub);
			for (size_t i = 0; i < n; i++)
				if (entries[i].sub == sub && strcmp(entries[i].pattern, pat) == 0) {
					entries[i] = entries[--n];
					break;
				}
		}
		/* Probe a type derived from the same numbers. */
		char type[32];
		make(type, sizeof(type), k, v == 4 ? 0 : v == 1 ? 2 : v == 3 ? 2 : v);
		if (v == 3)
			strcat(type, ":y");
		unsigned got[N_SUBS] = { 0 }, want[N_SUBS] = { 0 };
		subindex_match(idx, type, strlen(type), count, got);
		for (size_t i = 0; i < n; i++)
			if (matches(entries[i].pattern, type))
				want[entries[i].sub - 1]++;
		if (memcmp(got, want, sizeof(got)) != 0)
			abort();
	}
	subindex_free(idx);
	return 0;
}
