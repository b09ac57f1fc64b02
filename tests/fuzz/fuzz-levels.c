// SPDX-License-Identifier: MIT
/* fuzz-levels.c - libFuzzer target: the level-policy and grants-file parsers.
 *
 * The first byte picks the parser (even: policy, odd: grants); the rest is the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grants.h"
#include "levels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_policy(const char *text, size_t len)
{
	struct level_policy *lp = NULL;
	char *err = NULL;
	int r = level_policy_parse(text, len, "policy.json", &lp, &err);

	if (r < 0)
		abort();
	if (r > 0) {
		if (!err || lp || strncmp(err, "policy.json:", 12) != 0)
			abort();
		free(err);
		return;
	}
	/* A listed system pattern is classified system, whatever else the policy says. */
	for (int d = PERM_SEND; d <= PERM_RECEIVE; d++) {
		const char *const *sys = level_policy_patterns(lp, PERM_LEVEL_SYSTEM, d, NULL);
		const char *const *dng = level_policy_patterns(lp, PERM_LEVEL_DANGEROUS, d, NULL);

		for (size_t i = 0; sys[i]; i++)
			if (level_policy_classify(lp, d, sys[i], NULL) != PERM_LEVEL_SYSTEM)
				abort();
		for (size_t i = 0; dng[i]; i++)
			if (level_policy_classify(lp, d, dng[i], NULL) == PERM_LEVEL_NORMAL)
				abort();
		if (level_policy_classify(lp, d, "*", NULL) == PERM_LEVEL_NORMAL && (sys[0] || dng[0]))
			abort();
	}
	level_policy_free(lp);
}

static void fuzz_grants(const char *text, size_t len)
{
	char **v = NULL, *err = NULL, *out;
	size_t n = 0;
	int r = grants_parse(text, len, "grants", &v, &n, &err);

	if (r < 0)
		abort();
	if (r > 0) {
		if (!err || v || strncmp(err, "grants:", 7) != 0)
			abort();
		free(err);
		return;
	}
	/* What parses must format and parse back to the same list. */
	out = grants_format((const char *const *)v, n);
	if (!out)
		abort();
	{
		char **w = NULL;
		size_t m = 0;

		if (grants_parse(out, strlen(out), "grants", &w, &m, NULL) != 0 || m != n)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (strcmp(v[i], w[i]) != 0)
				abort();
			free(w[i]);
		}
		free(w);
	}
	free(out);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_grants((const char *)data + 1, size - 1);
	else
		fuzz_policy((const char *)data + 1, size - 1);
	return 0;
}
