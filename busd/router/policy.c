// SPDX-License-Identifier: MIT
/* policy.c - compile bundles into identities with pattern sets; evaluate send/receive rights. */
#include "router/policy.h"

#include <sodium.h>

#include "grants.h"
#include "levels.h"
#include "manifest.h"
#include "pattern.h"
#include "util.h"

struct pending_identity {
	char id[PS_ID_LEN];
	char *name;
	char *manifest_text;
	size_t manifest_len;
	char *grants_name;
	char *grants_text;
	size_t grants_len;
	uint8_t key[CAPBUS_KEY_LEN];
	bool has_key;
};

struct policy_builder {
	struct pending_identity *items;
	size_t n_items, cap;
	char *levels_text;
	size_t levels_len;
	char *levels_name;
	bool has_levels;
};

int policy_builder_new(struct policy_builder **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static struct pending_identity *pending_get(struct policy_builder *b, const char *id)
{
	for (size_t i = 0; i < b->n_items; i++)
		if (streq(b->items[i].id, id))
			return &b->items[i];
	if (b->n_items == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct pending_identity *p = realloc(b->items, cap * sizeof(*p));
		if (!p)
			return NULL;
		b->items = p;
		b->cap = cap;
	}
	struct pending_identity *it = &b->items[b->n_items++];
	memset(it, 0, sizeof(*it));
	snprintf(it->id, sizeof(it->id), "%s", id);
	return it;
}

static char *memdup_text(const char *text, size_t len)
{
	char *s = malloc(len + 1);
	if (s) {
		memcpy(s, text, len);
		s[len] = '\0';
	}
	return s;
}

int policy_builder_add_file(struct policy_builder *b, uint32_t kind, const char *id, const char *name,
			    const char *text, size_t len)
{
	if (kind == PS_FILE_LEVELS) {
		free(b->levels_text);
		free(b->levels_name);
		b->levels_text = memdup_text(text, len);
		b->levels_name = strdup(name);
		b->levels_len = len;
		b->has_levels = true;
		return b->levels_text && b->levels_name ? 0 : -ENOMEM;
	}
	if (kind != PS_FILE_MANIFEST && kind != PS_FILE_GRANTS)
		return -EINVAL;
	if (!hs_id_is_valid(id, strlen(id)))
		return -EINVAL;
	struct pending_identity *it = pending_get(b, id);
	if (!it)
		return -ENOMEM;
	char **dst_text = kind == PS_FILE_MANIFEST ? &it->manifest_text : &it->grants_text;
	char **dst_name = kind == PS_FILE_MANIFEST ? &it->name : &it->grants_name;
	free(*dst_text);
	free(*dst_name);
	*dst_text = memdup_text(text, len);
	*dst_name = strdup(name);
	if (kind == PS_FILE_MANIFEST)
		it->manifest_len = len;
	else
		it->grants_len = len;
	return *dst_text && *dst_name ? 0 : -ENOMEM;
}

int policy_builder_add_key(struct policy_builder *b, const char *id, const uint8_t key[CAPBUS_KEY_LEN])
{
	if (!hs_id_is_valid(id, strlen(id)))
		return -EINVAL;
	struct pending_identity *it = pending_get(b, id);
	if (!it)
		return -ENOMEM;
	memcpy(it->key, key, CAPBUS_KEY_LEN);
	it->has_key = true;
	return 0;
}

void policy_builder_free(struct policy_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_items; i++) {
		struct pending_identity *it = &b->items[i];
		free(it->name);
		free(it->manifest_text);
		free(it->grants_name);
		free(it->grants_text);
	}
	if (b->items)
		sodium_memzero(b->items, b->cap * sizeof(*b->items));
	free(b->items);
	free(b->levels_text);
	free(b->levels_name);
	free(b);
}

static int push_error(char ***errors, size_t *n, char *msg)
{
	if (!msg)
		return -ENOMEM;
	char **v = realloc(*errors, (*n + 2) * sizeof(char *));
	if (!v) {
		free(msg);
		return -ENOMEM;
	}
	v[(*n)++] = msg;
	v[*n] = NULL;
	*errors = v;
	return 0;
}

static int cmp_identity(const void *a, const void *b)
{
	return strcmp(((const struct identity *)a)->id, ((const struct identity *)b)->id);
}

/* Compiles one pending identity; a broken file costs only that identity. */
static int compile_identity(const struct pending_identity *it, const struct level_policy *levels,
			    struct identity *out, char ***errors, size_t *n_errors)
{
	char *err = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", it->id);
	if (streq(it->id, "admin")) {
		out->is_admin = true;
		out->msg_rate = UINT32_MAX;
		out->transports = MANIFEST_T_SOCKET;
		return 0;
	}
	if (streq(it->id, HS_GATEWAY_ID)) {
		/* Only its key matters: it proves who opens delegated sessions and is never a session. */
		out->is_gateway = true;
		return 0;
	}
	if (!it->manifest_text)
		return 1; /* a key without a manifest: nothing to compile */
	r = manifest_parse(it->manifest_text, it->manifest_len, it->name, &out->manifest, &err);
	if (r == 0) {
		_cleanup_free_ char *base = NULL;
		if (asprintf(&base, "%s.json", it->id) < 0)
			return -ENOMEM;
		if (manifest_check_filename(out->manifest, base) != 0) {
			r = 1;
			if (asprintf(&err, "%s: manifest id \"%s\" does not match its file name", it->name,
				     out->manifest->id) < 0)
				err = NULL;
		}
	}
	if (r == 0 && it->grants_text) {
		r = grants_parse(it->grants_text, it->grants_len, it->grants_name, &out->grants, &out->n_grants, &err);
	}
	if (r == 0)
		r = permissions_compile(out->manifest, levels, (const char *const *)out->grants, out->n_grants,
					&out->perms);
	if (r < 0)
		return r;
	if (r > 0) {
		manifest_free(out->manifest);
		out->manifest = NULL;
		strv_free(out->grants);
		out->grants = NULL;
		return err ? push_error(errors, n_errors, err) < 0 ? -ENOMEM : 1 : 1;
	}
	out->msg_rate = out->manifest->limits.msg_rate;
	out->transports = out->manifest->transports;
	return 0;
}

int policy_builder_finish(struct policy_builder *b, uint64_t generation, struct policy **out,
			  char ***errors, size_t *n_errors)
{
	struct policy *p = calloc(1, sizeof(*p));
	char *err = NULL;
	int r = 0;

	*errors = NULL;
	*n_errors = 0;
	if (!p) {
		policy_builder_free(b);
		return -ENOMEM;
	}
	p->generation = generation;
	if (b->has_levels) {
		r = level_policy_parse(b->levels_text, b->levels_len, b->levels_name, &p->levels, &err);
		if (r > 0) {
			/* Fail closed: without a readable system policy, treat everything not built in as the default says. */
			push_error(errors, n_errors, err);
			r = 0;
		}
	}
	if (r == 0 && !p->levels)
		r = level_policy_new_default(&p->levels);
	p->identities = calloc(b->n_items ? b->n_items : 1, sizeof(*p->identities));
	p->key_arena = sodium_malloc((b->n_items ? b->n_items : 1) * CAPBUS_KEY_LEN);
	if (r < 0 || !p->identities || !p->key_arena) {
		policy_builder_free(b);
		policy_free(p);
		return r < 0 ? r : -ENOMEM;
	}
	for (size_t i = 0; i < b->n_items && r >= 0; i++) {
		struct pending_identity *it = &b->items[i];
		struct identity *ident = &p->identities[p->n_identities];
		if (!it->has_key)
			continue;
		r = compile_identity(it, p->levels, ident, errors, n_errors);
		if (r != 0)
			continue;
		ident->key = p->key_arena + p->n_identities * CAPBUS_KEY_LEN;
		memcpy(ident->key, it->key, CAPBUS_KEY_LEN);
		ident->has_key = true;
		p->n_identities++;
	}
	policy_builder_free(b);
	if (r < 0) {
		policy_free(p);
		return r;
	}
	sodium_mprotect_readonly(p->key_arena);
	qsort(p->identities, p->n_identities, sizeof(*p->identities), cmp_identity);
	*out = p;
	return 0;
}

const struct identity *policy_find(const struct policy *p, const char *id)
{
	struct identity key;

	if (!p || strlen(id) >= sizeof(key.id))
		return NULL;
	snprintf(key.id, sizeof(key.id), "%s", id);
	return bsearch(&key, p->identities, p->n_identities, sizeof(key), cmp_identity);
}

/* The gateway has no permissions (perms NULL): it never holds a session of its own. */
bool identity_may_send(const struct identity *ident, const char *type, size_t len)
{
	if (ident->is_admin)
		return type_is_valid(type, len);
	return ident->perms && pattern_set_match(ident->perms->send, type, len);
}

bool identity_may_receive(const struct identity *ident, const char *type, size_t len)
{
	if (ident->is_admin)
		return type_is_valid(type, len);
	return ident->perms && pattern_set_match(ident->perms->receive, type, len);
}

bool identity_may_subscribe(const struct identity *ident, const char *pattern)
{
	if (ident->is_admin)
		return pattern_validate(pattern) == 0;
	return ident->perms && pattern_set_covers(ident->perms->receive, pattern);
}

const struct identity *policy_namespace_owner(const struct policy *p, const char *type, size_t len)
{
	const struct identity *owner = NULL;
	struct identity key;

	if (!p)
		return NULL;
	/* one lookup per separator within an id's length: the longest id wins */
	for (size_t i = 1; i < len && i < sizeof(key.id); i++) {
		if (type[i] != '.' && type[i] != ':')
			continue;
		memcpy(key.id, type, i);
		key.id[i] = '\0';
		const struct identity *y = bsearch(&key, p->identities, p->n_identities, sizeof(key), cmp_identity);
		if (y && y->manifest && y->manifest->namespace)
			owner = y;
	}
	return owner;
}

bool policy_is_dispatcher(const struct policy *p, const struct identity *ident)
{
	const char *d = p ? level_policy_dispatcher(p->levels) : NULL;

	return d && ident->manifest && ident->manifest->dispatch && streq(d, ident->id);
}

/* A grant of ident's that matches the type (another identity's namespace, granted by the admin). */
static bool granted_type(const struct identity *ident, const char *type, size_t len)
{
	char t[TYPE_MAX_LEN + 1];

	if (len > TYPE_MAX_LEN)
		return false;
	memcpy(t, type, len);
	t[len] = '\0';
	for (size_t i = 0; i < ident->n_grants; i++)
		if (pattern_matches(ident->grants[i], t))
			return true;
	return false;
}

/* Outside another identity's namespace the manifest decides (its check for the direction);
 * inside it, the dispatcher may, and anyone else only by a grant and as the manifest allows. */
static bool namespace_then(const struct policy *p, const struct identity *ident, const struct identity *owner,
			   const char *type, size_t len,
			   bool (*manifest_allows)(const struct identity *, const char *, size_t))
{
	if (owner && owner != ident && !ident->is_admin) {
		if (policy_is_dispatcher(p, ident))
			return type_is_valid(type, len);
		if (!granted_type(ident, type, len))
			return false;
	}
	return manifest_allows(ident, type, len);
}

bool policy_may_send(const struct policy *p, const struct identity *ident, const struct identity *owner,
		     const char *type, size_t len)
{
	return namespace_then(p, ident, owner, type, len, identity_may_send);
}

bool policy_may_receive(const struct policy *p, const struct identity *ident, const struct identity *owner,
			const char *type, size_t len)
{
	return namespace_then(p, ident, owner, type, len, identity_may_receive);
}

bool policy_may_subscribe(const struct policy *p, const struct identity *ident, const char *pattern)
{
	size_t len = strnlen(pattern, PATTERN_MAX_LEN + 1);

	if (pattern_validate(pattern) < 0)
		return false;
	if (ident->is_admin || streq(pattern, "*"))
		return identity_may_subscribe(ident, pattern); /* deliveries are filtered one by one */
	size_t fixed = pattern[len - 1] == '*' ? len - 1 : len;
	const struct identity *owner = policy_namespace_owner(p, pattern, fixed);
	if (!owner || owner == ident)
		return identity_may_subscribe(ident, pattern);
	if (policy_is_dispatcher(p, ident))
		return true;
	for (size_t i = 0; i < ident->n_grants; i++)
		if (pattern_covers(ident->grants[i], pattern))
			return identity_may_subscribe(ident, pattern);
	return false;
}

bool identity_native_login(const struct identity *ident)
{
	return !ident->is_gateway && (ident->transports & MANIFEST_T_SOCKET);
}

bool identity_delegable(const struct identity *ident)
{
	return !ident->is_admin && !ident->is_gateway && ident->manifest && !ident->manifest->exec &&
	       (ident->transports & MANIFEST_T_GATEWAY);
}

bool identity_has_grant(const struct identity *ident, const char *pattern)
{
	for (size_t i = 0; i < ident->n_grants; i++)
		if (streq(ident->grants[i], pattern))
			return true;
	return false;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_identities; i++) {
		struct identity *ident = &p->identities[i];
		manifest_free(ident->manifest);
		permissions_free(ident->perms);
		strv_free(ident->grants);
	}
	free(p->identities);
	level_policy_free(p->levels);
	if (p->key_arena)
		sodium_free(p->key_arena);
	free(p);
}
