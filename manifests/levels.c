// SPDX-License-Identifier: MIT
/* levels.c - protection-level policy: parser, compiled-in default and classification.
 *
 * The policy file is root-owned configuration, but it is parsed as strictly as a manifest:
 * a typo in it would silently turn a dangerous permission into a normal one. */
#include "levels.h"

#include <assert.h>
#include <inttypes.h>

#include "json-doc.h"
#include "handshake.h"
#include "pattern.h"

/* Default vocabulary, from the Mycroft / OpenVoiceOS message types:
 * - capbus.* is the bus's own control namespace and bus.* its error and status frames: only
 *   the daemon sends them.
 * - Injecting utterances or faking the microphone pipeline (recognizer_loop:*), starting the
 *   microphone (mycroft.mic.*), managing other skills, changing configuration and power or
 *   update requests (system.*) act for the user: dangerous to send.
 * - Hearing what the user says (recognizer_loop:utterance), what the assistant reads out to
 *   the user (speak: messages, calendars), or the bus's control traffic is dangerous to
 *   receive; "*" overlaps all of those and is therefore dangerous too.
 * Receiving capbus.* is dangerous rather than system so that "*" stays grantable, as
 * DESIGN.md says it is; the router still never delivers control replies to other skills. */
static const char default_policy[] =
	"{\n"
	"  \"policy_version\": 1,\n"
	"  \"dangerous\": {\n"
	"    \"send\": [\"recognizer_loop:*\", \"mycroft.mic.*\", \"mycroft.skills.*\", \"skillmanager.*\",\n"
	"             \"configuration.*\", \"system.*\", \"mycroft.device.*\"],\n"
	"    \"receive\": [\"recognizer_loop:utterance\", \"recognizer_loop:record_begin\",\n"
	"                \"recognizer_loop:record_end\", \"speak\", \"capbus.*\"]\n"
	"  },\n"
	"  \"system\": {\n"
	"    \"send\": [\"capbus.*\", \"bus.*\"],\n"
	"    \"receive\": []\n"
	"  }\n"
	"}\n";

struct level_policy {
	/* [level - 1][dir]: only dangerous and system are stored. NULL-terminated. */
	char **patterns[2][2];
	size_t n[2][2];
	char *dispatcher; /* the one identity that may dispatch into every namespace, or NULL */
};

const char *level_policy_dispatcher(const struct level_policy *lp)
{
	return lp ? lp->dispatcher : NULL;
}

const char *level_policy_default_text(void)
{
	return default_policy;
}

void level_policy_free(struct level_policy *lp)
{
	if (!lp)
		return;
	for (int l = 0; l < 2; l++)
		for (int d = 0; d < 2; d++)
			strv_free(lp->patterns[l][d]);
	free(lp->dispatcher);
	free(lp);
}

static void level_policy_freep(struct level_policy **lp)
{
	level_policy_free(*lp);
}

static const char *check_pattern(const char *s)
{
	return pattern_validate(s) < 0 ? "is not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")" : NULL;
}

static int parse_level(struct json_doc *doc, const struct json_node *item, const char *name, struct level_policy *lp,
		       int level)
{
	static const char *const keys[] = { "send", "receive" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	char what[32];
	int r;

	r = json_doc_members(doc, item, name, keys, ARRAY_SIZE(keys), f);
	if (r)
		return r;
	for (int d = 0; d < 2; d++) {
		if (!f[d])
			continue;
		snprintf(what, sizeof(what), "%s.%s", name, keys[d]);
		r = json_doc_strv(doc, f[d], what, LEVEL_POLICY_MAX_PATTERNS, true, true, check_pattern,
				  &lp->patterns[level][d], &lp->n[level][d]);
		if (r)
			return r;
	}
	return 0;
}

static int parse_root(struct json_doc *doc, struct level_policy *lp)
{
	static const char *const keys[] = { "policy_version", "dangerous", "system", "dispatcher" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	uint64_t v;
	int r;

	r = json_doc_members(doc, doc->root, "the policy", keys, ARRAY_SIZE(keys), f);
	if (r)
		return r;
	if (!f[0])
		return json_doc_fail(doc, doc->root, false, "missing \"policy_version\" (must be 1)");
	r = json_doc_uint(doc, f[0], "policy_version", 0, UINT32_MAX, &v);
	if (r)
		return r;
	if (v != 1)
		return json_doc_fail(doc, f[0], false, "unsupported policy_version %" PRIu64 " (this capbus reads 1)", v);
	if (f[1] && (r = parse_level(doc, f[1], "dangerous", lp, 0)))
		return r;
	if (f[2] && (r = parse_level(doc, f[2], "system", lp, 1)))
		return r;
	if (f[3]) {
		if (!json_is(f[3], JSON_STRING) || !hs_id_is_valid(f[3]->string, strlen(f[3]->string)))
			return json_doc_fail(doc, f[3], false,
					     "dispatcher must be an identity: 1 to 64 characters of [A-Za-z0-9._-] "
					     "starting with a letter or digit");
		if (!(lp->dispatcher = strdup(f[3]->string)))
			return -ENOMEM;
	}
	for (int l = 0; l < 2; l++)
		for (int d = 0; d < 2; d++)
			if (!lp->patterns[l][d] && !(lp->patterns[l][d] = calloc(1, sizeof(char *))))
				return -ENOMEM;
	return 0;
}

int level_policy_parse(const char *text, size_t len, const char *filename, struct level_policy **out,
		       char **error_out)
{
	_cleanup_(level_policy_freep) struct level_policy *lp = NULL;
	struct json_doc doc = {0};
	int r;

	lp = calloc(1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	r = json_doc_parse(&doc, text, len, filename, LEVEL_POLICY_MAX_SIZE, 16, NULL);
	if (r == 0)
		r = parse_root(&doc, lp);
	if (r > 0) {
		r = LEVEL_POLICY_INVALID;
		if (error_out)
			*error_out = TAKE_PTR(doc.error);
	} else if (r == 0) {
		*out = TAKE_PTR(lp);
	}
	json_doc_done(&doc);
	return r;
}

int level_policy_new_default(struct level_policy **out)
{
	int r = level_policy_parse(default_policy, sizeof(default_policy) - 1, "<built-in policy>", out, NULL);

	/* The default is tested; only allocation can fail. */
	return r > 0 ? -EINVAL : r;
}

static const char *first_overlap(char **list, const char *pattern)
{
	for (char **p = list; p && *p; p++)
		if (pattern_overlaps(*p, pattern))
			return *p;
	return NULL;
}

enum perm_level level_policy_classify(const struct level_policy *lp, enum perm_dir dir, const char *pattern,
				      const char **because)
{
	const char *hit;

	assert(dir == PERM_SEND || dir == PERM_RECEIVE);
	if (because)
		*because = NULL;
	if (pattern_validate(pattern) < 0)
		return PERM_LEVEL_SYSTEM;
	hit = first_overlap(lp->patterns[1][dir], pattern);
	if (hit) {
		if (because)
			*because = hit;
		return PERM_LEVEL_SYSTEM;
	}
	hit = first_overlap(lp->patterns[0][dir], pattern);
	if (hit) {
		if (because)
			*because = hit;
		return PERM_LEVEL_DANGEROUS;
	}
	return PERM_LEVEL_NORMAL;
}

const char *const *level_policy_patterns(const struct level_policy *lp, enum perm_level level, enum perm_dir dir,
					 size_t *n)
{
	static const char *const none[] = { NULL };

	if (level == PERM_LEVEL_NORMAL) {
		if (n)
			*n = 0;
		return none;
	}
	if (n)
		*n = lp->n[level - 1][dir];
	return (const char *const *)lp->patterns[level - 1][dir];
}

const char *perm_level_name(enum perm_level level)
{
	switch (level) {
	case PERM_LEVEL_NORMAL:
		return "normal";
	case PERM_LEVEL_DANGEROUS:
		return "dangerous";
	case PERM_LEVEL_SYSTEM:
		return "system";
	}
	return "invalid";
}

const char *perm_dir_name(enum perm_dir dir)
{
	return dir == PERM_SEND ? "send" : "receive";
}
