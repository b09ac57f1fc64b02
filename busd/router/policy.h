/* SPDX-License-Identifier: MIT */
/* policy.h - the router's compiled, immutable view of who may do what.
 *
 * Built from a bundle the parent sends (manifest, grants and level-policy texts plus derived
 * keys); parsing happens here, in the unprivileged router. Lookups during routing touch no
 * JSON: send and receive checks are pattern-set probes whose cost does not grow with the
 * number of patterns. A policy is replaced whole on reload; connections re-resolve their
 * identity by id. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake.h"
#include "common/privsep.h"

struct manifest;
struct level_policy;
struct permissions;

struct identity {
	char id[PS_ID_LEN];
	bool is_admin;
	bool is_gateway;             /* the reserved "gateway": opens sessions for others, never its own */
	bool has_key;
	uint8_t *key;                /* CAPBUS_KEY_LEN bytes inside the policy's locked key arena */
	struct manifest *manifest;   /* NULL for admin */
	struct permissions *perms;   /* NULL for admin: admin may send and receive everything */
	char **grants;               /* granted patterns, NULL-terminated */
	size_t n_grants;
	uint32_t msg_rate;           /* messages per second */
	uint32_t transports;         /* MANIFEST_T_* (manifest.h); admin: socket only; gateway: none */
};

struct policy {
	struct identity *identities; /* sorted by id */
	size_t n_identities;
	struct level_policy *levels;
	uint8_t *key_arena;          /* sodium_malloc'd */
	uint64_t generation;
};

/* Accumulates one bundle; errors in individual files drop that identity and are collected as
 * "FILE:LINE:COL: message" strings for the caller to log. */
struct policy_builder;

int policy_builder_new(struct policy_builder **out);
int policy_builder_add_file(struct policy_builder *b, uint32_t kind, const char *id, const char *name,
			    const char *text, size_t len);
int policy_builder_add_key(struct policy_builder *b, const char *id, const uint8_t key[CAPBUS_KEY_LEN]);
/* Compiles; *out owns the new policy. The builder is consumed (freed) either way. */
int policy_builder_finish(struct policy_builder *b, uint64_t generation, struct policy **out,
			  char ***errors, size_t *n_errors);
void policy_builder_free(struct policy_builder *b);

const struct identity *policy_find(const struct policy *p, const char *id);
bool identity_may_send(const struct identity *ident, const char *type, size_t len);
bool identity_may_receive(const struct identity *ident, const char *type, size_t len);
/* A subscription pattern inside the receive permissions. */
bool identity_may_subscribe(const struct identity *ident, const char *pattern);
/* Namespaces (docs/protocol.md "Namespaces"): a type that begins with the id of an identity whose
 * manifest says "bus": {"namespace": true} and a '.' or ':' right after it lies in that identity's
 * namespace (the longest such id). Another identity sends or hears such a type only as the dispatcher the system
 * policy names (with "bus": {"dispatch": true} in its manifest), or through a grant of a pattern
 * that matches it, and then only as its manifest allows; the dispatcher needs no pattern. */
const struct identity *policy_namespace_owner(const struct policy *p, const char *type, size_t len);
bool policy_is_dispatcher(const struct policy *p, const struct identity *ident);
/* owner: policy_namespace_owner of the type (computed once per message). */
bool policy_may_send(const struct policy *p, const struct identity *ident, const struct identity *owner,
		     const char *type, size_t len);
bool policy_may_receive(const struct policy *p, const struct identity *ident, const struct identity *owner,
			const char *type, size_t len);
/* A subscription: identity_may_subscribe, and a pattern whose fixed text lies in another's
 * namespace only for the dispatcher or under a grant that covers it. */
bool policy_may_subscribe(const struct policy *p, const struct identity *ident, const char *pattern);

/* May this identity log in on its own connection (native AUTH)? Not the gateway, and not an
 * identity whose manifest leaves "socket" out of "transports". */
bool identity_native_login(const struct identity *ident);
/* May the gateway open sessions on its behalf? Only a manifest with "gateway" in "transports",
 * never admin, the gateway itself or a skill capbusd launches ("exec"). */
bool identity_delegable(const struct identity *ident);
/* Is pattern granted to this identity (exact text)? */
bool identity_has_grant(const struct identity *ident, const char *pattern);

void policy_free(struct policy *p);
