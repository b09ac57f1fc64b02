/* SPDX-License-Identifier: MIT */
/* grants.h - the effective bus permissions of one identity, and the grants file format.
 *
 * permissions_compile() is pure: manifest + level policy + the identity's grants in, compiled
 * pattern sets out. The daemon stores grants per identity in <state_dir>/grants/<id>: UTF-8
 * text, one pattern per line, exactly as written in the manifest; blank lines and lines whose
 * first non-blank character is '#' are ignored; spaces and tabs around a pattern are allowed,
 * anything else on the line is an error. */
#pragma once

#include <stddef.h>

#include "levels.h"
#include "manifest.h"
#include "pattern.h"

/* Positive result: the grants text is invalid; *error_out says why. */
#define GRANTS_INVALID 1
#define GRANTS_MAX_SIZE (64 * 1024)

/* A requested pattern that is not in effect, and why. */
struct permission_denial {
	enum perm_dir dir;
	enum perm_level level; /* PERM_LEVEL_DANGEROUS (not granted) or PERM_LEVEL_SYSTEM (never) */
	char *pattern;	       /* as written in the manifest */
	char *because;	       /* the policy pattern it overlaps */
};

struct permissions {
	struct pattern_set *send;    /* never NULL after compile */
	struct pattern_set *receive; /* never NULL after compile */
	struct permission_denial *denied;
	size_t n_denied;
};

/* Builds the effective permissions of m: every normal pattern, plus each dangerous pattern
 * whose exact text appears in granted[0..n_granted), never a system one. Grants that name
 * no pattern of the manifest are ignored (they may outlive a manifest update). Returns 0 with
 * *out set (free with permissions_free), or -ENOMEM. */
int permissions_compile(const struct manifest *m, const struct level_policy *lp, const char *const *granted,
			size_t n_granted, struct permissions **out);

/* NULL-safe. */
void permissions_free(struct permissions *p);

/* Parses a grants file. Returns 0 with a NULL-terminated vector of validated, distinct patterns
 * in *patterns_out (free each and the vector) and its length in *n_out; -ENOMEM; or
 * GRANTS_INVALID with a malloc'd "FILE:LINE:COL: message" in *error_out (when non-NULL).
 * Outputs untouched on failure. */
int grants_parse(const char *text, size_t len, const char *filename, char ***patterns_out, size_t *n_out,
		 char **error_out);

/* True iff pattern is valid and a grants file can hold it as written: a line is trimmed, a line
 * that starts with '#' is a comment, and " #" inside reads as a trailing comment. */
bool grants_pattern_storable(const char *pattern);

/* Renders patterns as a grants file (a header comment, then one per line). Returns a malloc'd
 * string, or NULL on allocation failure. The patterns must be valid. */
char *grants_format(const char *const *patterns, size_t n);
