// SPDX-License-Identifier: MIT
/* fuzz-pattern.c - libFuzzer target: pattern relations and compiled sets against their
 * definitions.
 *
 * Input: newline-separated strings. Each line is tried as a pattern and as a type; the set
 * built from all valid patterns must agree with matching them one by one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *lines[MAX_LINES];
	size_t n = 0;
	struct pattern_set *set = NULL;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf, *nl; n < MAX_LINES; p = nl + 1) {
		lines[n++] = p;
		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
	}
	if (pattern_set_new(&set) < 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (pattern_validate(lines[i]) == 0 && pattern_set_add(set, lines[i]) < 0)
			abort();

	for (size_t i = 0; i < n; i++) {
		const char *t = lines[i];
		size_t tlen = strlen(t);
		bool any = false, valid = type_is_valid(t, tlen);

		if (valid && pattern_validate(t) != 0)
			abort(); /* every type is an exact pattern */
		for (size_t j = 0; j < pattern_set_count(set); j++)
			if (pattern_matches(pattern_set_get(set, j), t))
				any = true;
		if (any != pattern_set_match(set, t, tlen))
			abort();
		if (!valid && any)
			abort();

		for (size_t j = 0; j < n; j++) {
			const char *a = lines[i], *b = lines[j];
			bool cov = pattern_covers(a, b), ov = pattern_overlaps(a, b);

			if (ov != pattern_overlaps(b, a))
				abort();
			if (cov && !ov)
				abort();
			if (cov && pattern_covers(b, a) && strcmp(a, b) != 0)
				abort(); /* patterns are canonical: mutual coverage means equality */
			/* covers(a, b) and b matches t imply a matches t; a and b matching a common t
			 * implies overlap. */
			for (size_t k = 0; k < n; k++) {
				bool mb = pattern_matches(b, lines[k]), ma = pattern_matches(a, lines[k]);

				if (cov && mb && !ma)
					abort();
				if (ma && mb && !ov)
					abort();
			}
		}
		/* A set covers a pattern exactly when one of its members does. */
		if (pattern_validate(t) == 0) {
			bool member = false;

			for (size_t j = 0; j < pattern_set_count(set); j++)
				if (pattern_covers(pattern_set_get(set, j), t))
					member = true;
			if (member != pattern_set_covers(set, t))
				abort();
		}
	}
	pattern_set_free(set);
	free(buf);
	return 0;
}
