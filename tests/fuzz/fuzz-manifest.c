// SPDX-License-Identifier: MIT
/* fuzz-manifest.c - libFuzzer target: manifest parser, filename check and description.
 *
 * Run with -dict=tests/fuzz/manifest.dict (also useful for fuzz-levels). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "describe.h"
#include "grants.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m = NULL;
	struct level_policy *lp = NULL;
	struct permissions *p = NULL;
	char *err = NULL;
	int r;

	r = manifest_parse((const char *)data, size, "fuzz.json", &m, &err);
	/* Without memory pressure the only outcomes are success or a positioned error. */
	if (r < 0)
		abort();
	if (r > 0) {
		if (!err || m || strncmp(err, "fuzz.json:", 10) != 0)
			abort();
		free(err);
		return 0;
	}
	if (err || !m)
		abort();
	if ((manifest_check_filename(m, "fuzz.json") == 0) != (strcmp(m->id, "fuzz") == 0))
		abort();
	if (level_policy_new_default(&lp) < 0)
		abort();
	free(manifest_describe(m, lp));
	/* Grant whatever the manifest asks for: system patterns must still stay out. */
	if (permissions_compile(m, lp, (const char *const *)m->receive, m->n_receive, &p) < 0)
		abort();
	for (size_t i = 0; i < p->n_denied; i++)
		if (p->denied[i].level == PERM_LEVEL_NORMAL)
			abort();
	for (size_t i = 0; i < pattern_set_count(p->send); i++)
		if (level_policy_classify(lp, PERM_SEND, pattern_set_get(p->send, i), NULL) == PERM_LEVEL_SYSTEM)
			abort();
	permissions_free(p);
	level_policy_free(lp);
	manifest_free(m);
	return 0;
}
