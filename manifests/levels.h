/* SPDX-License-Identifier: MIT */
/* levels.h - protection levels of bus permissions (normal, dangerous, system).
 *
 * As on Android, the system policy sorts what a manifest may ask for into levels: normal
 * permissions come with installation, dangerous ones need an explicit grant, system ones are
 * never given to skills. The policy file (LEVEL_POLICY_PATH) lists, per level and direction,
 * patterns of message types; a default is compiled in. Format:
 *
 *   {"policy_version": 1,
 *    "dangerous": {"send": [PATTERN...], "receive": [PATTERN...]},
 *    "system":    {"send": [PATTERN...], "receive": [PATTERN...]},
 *    "dispatcher": ID}
 *
 * A requested pattern P is system if it overlaps (could match a type in common with) any
 * system pattern of its direction, else dangerous if it overlaps a dangerous one, else normal.
 * Overlap rather than containment is what makes "*" as dangerous as the worst type it could
 * match. Parse errors follow manifest.h: "FILE:LINE:COL: message". */
#pragma once

#include <stddef.h>

#define LEVEL_POLICY_PATH "/etc/capbus/policy.json"
/* Positive result: the policy text is invalid; *error_out says why. */
#define LEVEL_POLICY_INVALID 1
#define LEVEL_POLICY_MAX_SIZE (64 * 1024)
#define LEVEL_POLICY_MAX_PATTERNS 1024

enum perm_level {
	PERM_LEVEL_NORMAL,
	PERM_LEVEL_DANGEROUS,
	PERM_LEVEL_SYSTEM,
};

enum perm_dir {
	PERM_SEND,
	PERM_RECEIVE,
};

struct level_policy;

/* The compiled-in default policy (JSON text, static storage). */
const char *level_policy_default_text(void);

/* Parses text[0..len). Returns 0 with a new policy in *out, -ENOMEM, or LEVEL_POLICY_INVALID
 * with a malloc'd message in *error_out (when non-NULL). Outputs untouched on failure. */
int level_policy_parse(const char *text, size_t len, const char *filename, struct level_policy **out,
		       char **error_out);

/* The compiled-in default. Returns 0 or -ENOMEM. */
int level_policy_new_default(struct level_policy **out);

/* NULL-safe. */
void level_policy_free(struct level_policy *lp);

/* Level of a requested pattern. An invalid pattern is PERM_LEVEL_SYSTEM so that a caller
 * that skipped validation fails closed. When because is non-NULL it receives the policy
 * pattern that decided a non-normal level (owned by lp), or NULL. */
enum perm_level level_policy_classify(const struct level_policy *lp, enum perm_dir dir, const char *pattern,
				      const char **because);

/* Patterns listed for a level and direction (PERM_LEVEL_NORMAL has none): a NULL-terminated
 * vector owned by lp; *n receives the count when n is non-NULL. */
const char *const *level_policy_patterns(const struct level_policy *lp, enum perm_level level, enum perm_dir dir,
					 size_t *n);

/* The identity the policy names as dispatcher (it may send into and hear every identity's
 * namespace, when its manifest asks with "bus": {"dispatch": true}), or NULL. */
const char *level_policy_dispatcher(const struct level_policy *lp);

/* "normal", "dangerous", "system". */
const char *perm_level_name(enum perm_level level);
/* "send", "receive". */
const char *perm_dir_name(enum perm_dir dir);
