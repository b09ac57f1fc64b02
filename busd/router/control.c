// SPDX-License-Identifier: MIT
/* control.c - the bus's own requests (type capbus.*): subscriptions, ping, and admin commands.
 *
 * Runs in the router on untrusted input. Admin commands that change policy or issue keys become
 * one PS_ADMIN request each, carrying the admin's nonce and tag: the router checks what it can
 * for friendly errors, the parent checks the authority and acts. Answers come back through
 * control_parent_reply() and control_nonce(). */
#include "router/control.h"

#include <sodium.h>

#include "grants.h"
#include "levels.h"
#include "manifest.h"
#include "pattern.h"
#include "common/log.h"
#include "common/privsep.h"
#include "router/router-parent.h"
#include "router/router.h"

static const char *data_string(const struct envelope *env, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(env->data, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Replies "<type>.reply" with data (consumed) plus the client's request number. */
static void reply(struct router *r, struct conn *c, const char *reply_type, const cJSON *request, cJSON *data)
{
	_cleanup_(cjson_deletep) cJSON *root = cJSON_CreateObject();
	cJSON *ctx = cJSON_CreateObject();

	if (!data)
		data = cJSON_CreateObject();
	if (!root || !ctx || !data) {
		cJSON_Delete(ctx);
		cJSON_Delete(data);
		return;
	}
	cJSON_AddItemToObject(root, "type", cJSON_CreateString(reply_type));
	if (request)
		cJSON_AddItemToObject(data, "request", cJSON_Duplicate(request, false));
	cJSON_AddItemToObject(root, "data", data);
	cJSON_AddStringToObject(ctx, "sender", "capbus");
	cJSON_AddItemToObject(root, "context", ctx);
	conn_send_envelope(r, c, root);
}

static void refuse(struct router *r, struct conn *c, const struct envelope *env, const char *code, const char *message)
{
	conn_send_error(r, c, code, message, env->type, cJSON_GetObjectItemCaseSensitive(env->data, "request"));
}

static void do_subscribe(struct router *r, struct conn *c, const struct envelope *env, bool subscribe,
			 const char *reply_type)
{
	const char *pattern = data_string(env, "pattern");
	const cJSON *request = cJSON_GetObjectItemCaseSensitive(env->data, "request");

	if (!pattern || pattern_validate(pattern) < 0) {
		refuse(r, c, env, "invalid", "\"pattern\" must be a type, a prefix ending in .* or :*, or *");
		return;
	}
	if (subscribe) {
		if (!policy_may_subscribe(router_policy(r), c->ident, pattern)) {
			router_counters(r)->denied_subscribe++;
			log_event(LOG_LEVEL_WARNING, "denied_subscribe", "id=%s pattern=%s", LOG_Q(c->session.id),
				  LOG_Q(pattern));
			refuse(r, c, env, "denied",
			       identity_may_subscribe(c->ident, pattern) ?
				       "this pattern is in another identity's namespace: only the dispatcher or a grant "
				       "lets an identity hear there" :
				       "the manifest does not allow receiving everything this pattern matches");
			return;
		}
		int ret = router_subscribe(r, c, pattern);
		if (ret != 0) {
			refuse(r, c, env, "quota",
			       ret == ROUTER_SUB_CONN_FULL ? "too many subscriptions on this connection (max_subscriptions, "
							     "max_subscription_bytes)" :
			       ret == ROUTER_SUB_IDENTITY_FULL ? "too many subscriptions for this identity "
								 "(max_identity_subscriptions, max_identity_subscription_bytes)" :
								 "out of memory");
			return;
		}
	} else {
		router_unsubscribe(r, c, pattern);
	}
	cJSON *data = cJSON_CreateObject();
	if (data)
		cJSON_AddStringToObject(data, "pattern", pattern);
	reply(r, c, reply_type, request, data);
}

/* Remembers who asked, so the parent's answer (serial) reaches them. Returns NULL on ENOMEM. */
static struct pending_op *track(struct router *r, struct conn *c, const struct envelope *env, uint64_t serial,
				const char *id)
{
	struct control *ctl = router_control(r);
	const cJSON *request = cJSON_GetObjectItemCaseSensitive(env->data, "request");

	if (ctl->n_ops == ctl->cap_ops) {
		size_t cap = ctl->cap_ops ? ctl->cap_ops * 2 : 8;
		struct pending_op *v = realloc(ctl->ops, cap * sizeof(*v));
		if (!v)
			return NULL;
		ctl->ops = v;
		ctl->cap_ops = cap;
	}
	struct pending_op *o = &ctl->ops[ctl->n_ops];
	memset(o, 0, sizeof(*o));
	o->serial = serial;
	o->op = serial;
	o->conn_serial = c->serial;
	o->request = cJSON_IsNumber(request) ? request->valuedouble : -1;
	o->final = true;
	snprintf(o->id, sizeof(o->id), "%s", id);
	snprintf(o->reply_type, sizeof(o->reply_type), "%s.reply", env->type);
	return o;
}

/* Queues a fixed privsep request (reload, guard query, nonce) answered by one message. */
static int send_ps(struct router *r, struct conn *c, const struct envelope *env, enum ps_type type, const char *id)
{
	struct control *ctl = router_control(r);
	struct ps_request req = { .serial = ctl->next_ps + 1 };
	struct pending_op *o = track(r, c, env, req.serial, id);

	if (!o)
		return -ENOMEM;
	snprintf(req.id, sizeof(req.id), "%s", id);
	int ret = router_ps_send(r, type, &req, sizeof(req), NULL, 0, -1);
	if (ret < 0)
		return ret;
	ctl->next_ps++;
	ctl->n_ops++;
	o->nonce = type == PS_ADMIN_NONCE;
	return 0;
}

/* A 64-hex-digit field of the request into out; all zeros when absent or malformed, which the
 * parent refuses like any other tag or nonce it did not make. */
static void data_hex32(const struct envelope *env, const char *key, uint8_t out[32])
{
	const char *hex = data_string(env, key);
	size_t bin_len = 0;

	if (!hex || strlen(hex) != 64 || sodium_hex2bin(out, 32, hex, 64, NULL, &bin_len, NULL) != 0 || bin_len != 32)
		memset(out, 0, 32);
}

/* Hands an admin operation to the parent, with the nonce and the admin's tag the client sent.
 * The router cannot check the tag (it never holds the authority key); the parent does. */
static void send_admin(struct router *r, struct conn *c, const struct envelope *env, enum authority_op op,
		       const char *id, const char *arg, const char *body)
{
	struct control *ctl = router_control(r);
	struct ps_admin f = { .serial = ctl->next_ps + 1, .op = op };
	size_t arg_len = arg ? strlen(arg) : 0, body_len = body ? strlen(body) : 0;

	if (arg_len + body_len > PS_TEXT_MAX) {
		refuse(r, c, env, "invalid", "the request is too large for the daemon (manifest and grants: 64 KiB)");
		return;
	}
	_cleanup_free_ char *text = malloc(arg_len + body_len + 1);
	struct pending_op *o = text ? track(r, c, env, f.serial, id) : NULL;
	if (!o) {
		refuse(r, c, env, "internal", "out of memory");
		return;
	}
	snprintf(f.id, sizeof(f.id), "%s", id);
	data_hex32(env, "nonce", f.nonce);
	data_hex32(env, "authority", f.tag);
	f.arg_len = (uint32_t)arg_len;
	f.body_len = (uint32_t)body_len;
	memcpy(text, arg ? arg : "", arg_len);
	memcpy(text + arg_len, body ? body : "", body_len);
	if (router_ps_send(r, PS_ADMIN, &f, sizeof(f), text, arg_len + body_len, -1) < 0) {
		refuse(r, c, env, "internal", "the privileged daemon is unreachable");
		return;
	}
	ctl->next_ps++;
	ctl->n_ops++;
	o->keygen = op == AUTHORITY_OP_KEYGEN;
}

static const struct identity *installed_identity(struct router *r, struct conn *c, const struct envelope *env,
						  const char *id)
{
	const struct identity *ident = id && hs_id_is_valid(id, strlen(id)) ? policy_find(router_policy(r), id) : NULL;

	if (!ident || ident->is_admin) {
		refuse(r, c, env, "unknown_id", "no manifest is installed for this identity (see: capbus install)");
		return NULL;
	}
	return ident;
}

static void do_keygen(struct router *r, struct conn *c, const struct envelope *env)
{
	const char *id = data_string(env, "id");

	if (!installed_identity(r, c, env, id))
		return;
	send_admin(r, c, env, AUTHORITY_OP_KEYGEN, id, NULL, NULL);
}

/* What the supervisor decided, in its own clock (CLOCK_MONOTONIC milliseconds of the parent):
 * the current start, the planned restart, and the recent exits. */
static void add_decisions(cJSON *s, const struct skill_status *k)
{
	cJSON *exits = cJSON_AddArrayToObject(s, "exits");

	cJSON_AddStringToObject(s, "clock", "monotonic_ms");
	cJSON_AddNumberToObject(s, "started_ms", k ? (double)k->st.started_ms : 0);
	if (k && k->st.next_start_ms) {
		cJSON_AddNumberToObject(s, "next_start_ms", (double)k->st.next_start_ms);
		cJSON_AddNumberToObject(s, "backoff_ms", k->st.backoff_ms);
	} else {
		cJSON_AddNullToObject(s, "next_start_ms");
		cJSON_AddNullToObject(s, "backoff_ms");
	}
	for (uint32_t i = 0; k && exits && i < k->st.n_exits && i < PS_SKILL_EXITS; i++) {
		const struct ps_skill_exit *ex = &k->st.exits[i];
		char reason[sizeof(ex->reason) + 1];
		cJSON *e = cJSON_CreateObject();
		if (!e)
			return;
		snprintf(reason, sizeof(reason), "%.*s", (int)sizeof(ex->reason), ex->reason);
		cJSON_AddNumberToObject(e, "started_ms", (double)ex->started_ms);
		cJSON_AddNumberToObject(e, "exited_ms", (double)ex->exited_ms);
		cJSON_AddStringToObject(e, "reason", reason);
		if (ex->next_start_ms) {
			cJSON_AddNumberToObject(e, "backoff_ms", ex->backoff_ms);
			cJSON_AddNumberToObject(e, "next_start_ms", (double)ex->next_start_ms);
		} else {
			cJSON_AddNullToObject(e, "backoff_ms");
			cJSON_AddNullToObject(e, "next_start_ms");
		}
		cJSON_AddItemToArray(exits, e);
	}
}

static void do_skills(struct router *r, struct conn *c, const struct envelope *env)
{
	cJSON *data = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(data, "skills");

	if (!data || !list) {
		cJSON_Delete(data);
		return;
	}
	for (size_t i = 0; i < router_policy(r)->n_identities; i++) {
		const struct identity *ident = &router_policy(r)->identities[i];
		if (!ident->manifest || !ident->manifest->exec)
			continue;
		const struct skill_status *k = router_skill_status(r, ident->id);
		cJSON *s = cJSON_CreateObject();
		if (!s)
			break;
		cJSON_AddStringToObject(s, "id", ident->id);
		cJSON_AddStringToObject(s, "state", k ? k->st.state : "stopped");
		cJSON_AddNumberToObject(s, "pid", k ? k->st.pid : 0);
		cJSON_AddNumberToObject(s, "restarts", k ? k->st.restarts : 0);
		if (k && k->st.last_exit[0])
			cJSON_AddStringToObject(s, "last_exit", k->st.last_exit);
		else
			cJSON_AddNullToObject(s, "last_exit");
		add_decisions(s, k);
		/* /state: the limit always; usage once its image is mounted. */
		cJSON_AddNumberToObject(s, "state_limit", (double)(k ? k->st.state_limit : ident->manifest->limits.state));
		if (k && k->st.state_size) {
			cJSON_AddNumberToObject(s, "state_used", (double)k->st.state_used);
			cJSON_AddNumberToObject(s, "state_size", (double)k->st.state_size);
		} else {
			cJSON_AddNullToObject(s, "state_used");
			cJSON_AddNullToObject(s, "state_size");
		}
		cJSON_AddItemToArray(list, s);
	}
	reply(r, c, "capbus.skills.reply", cJSON_GetObjectItemCaseSensitive(env->data, "request"), data);
}

static void do_stats(struct router *r, struct conn *c, const struct envelope *env)
{
	const struct counters *k = router_counters(r);
	cJSON *data = cJSON_CreateObject();
	const struct { const char *name; uint64_t v; } items[] = {
		{ "connections", router_n_conns(r) }, { "accepted", k->accepted }, { "refused_connections", k->refused_connections },
		{ "authenticated", k->authenticated }, { "auth_failed", k->auth_failed },
		{ "handshake_timeouts", k->handshake_timeouts },
		{ "frame_timeouts", k->frame_timeouts }, { "refused_partial", k->refused_partial }, { "malformed", k->malformed }, { "too_large", k->too_large },
		{ "bad_mac", k->bad_mac }, { "denied_send", k->denied_send }, { "denied_subscribe", k->denied_subscribe },
		{ "rate_limited", k->rate_limited }, { "quota", k->quota }, { "slow_consumers", k->slow_consumers },
		{ "messages", k->messages }, { "delivered", k->delivered }, { "revoked", k->revoked },
		{ "peer_denied", k->peer_denied }, { "peer_gone", k->peer_gone }, { "admin_refused", k->admin_refused },
		{ "calls", k->calls }, { "call_replies", k->call_replies }, { "call_timeouts", k->call_timeouts },
		{ "call_no_responder", k->call_no_responder }, { "call_refused", k->call_refused },
		{ "refused_pending", k->refused_pending }, { "evicted_pending", k->evicted_pending },
		{ "refused_identity_connections", k->refused_identity_connections },
		{ "refused_subscriptions", k->refused_subscriptions },
		{ "delegated", k->delegated }, { "delegation_refused", k->delegation_refused },
	};
	if (!data)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(items); i++)
		cJSON_AddNumberToObject(data, items[i].name, (double)items[i].v);
	reply(r, c, "capbus.stats.reply", cJSON_GetObjectItemCaseSensitive(env->data, "request"), data);
}

static void do_grant(struct router *r, struct conn *c, const struct envelope *env, bool grant)
{
	const char *id = data_string(env, "id"), *pattern = data_string(env, "pattern");
	const struct identity *ident = installed_identity(r, c, env, id);
	bool asked = false;

	if (!ident)
		return;
	if (!pattern || pattern_validate(pattern) < 0) {
		refuse(r, c, env, "invalid", "\"pattern\" must be a valid pattern");
		return;
	}
	for (size_t i = 0; i < ident->manifest->n_send && !asked; i++)
		asked = streq(ident->manifest->send[i], pattern);
	for (size_t i = 0; i < ident->manifest->n_receive && !asked; i++)
		asked = streq(ident->manifest->receive[i], pattern);
	if (grant && !asked) {
		refuse(r, c, env, "invalid", "the manifest does not ask for this pattern (grant the exact text it lists)");
		return;
	}
	if (grant && level_policy_classify(router_policy(r)->levels, PERM_SEND, pattern, NULL) == PERM_LEVEL_SYSTEM &&
	    level_policy_classify(router_policy(r)->levels, PERM_RECEIVE, pattern, NULL) == PERM_LEVEL_SYSTEM) {
		refuse(r, c, env, "denied", "system permissions are never granted to skills");
		return;
	}
	if (!grant && !identity_has_grant(ident, pattern)) {
		refuse(r, c, env, "invalid", "this pattern is not granted to this identity");
		return;
	}
	/* Granting what is granted goes to the parent too: only it may say yes to an admin request. */
	send_admin(r, c, env, grant ? AUTHORITY_OP_GRANT : AUTHORITY_OP_REVOKE, id, pattern, NULL);
}

/* capbus.token_add {id, tid, hash} / capbus.token_revoke {id, tid or "*"}: gateway tokens. Only
 * the hash of a token ever reaches the daemon; the parent checks the store line. */
static void do_token(struct router *r, struct conn *c, const struct envelope *env, bool add)
{
	const char *id = data_string(env, "id"), *tid = data_string(env, "tid"), *hash = data_string(env, "hash");

	if (!installed_identity(r, c, env, id))
		return;
	if (!tid || !*tid || strlen(tid) > 16 || (add && (!hash || strncmp(hash, "$argon2id$", 10) != 0))) {
		refuse(r, c, env, "invalid", add ? "\"tid\" and an argon2id \"hash\" are required" : "\"tid\" is required");
		return;
	}
	send_admin(r, c, env, add ? AUTHORITY_OP_TOKEN_ADD : AUTHORITY_OP_TOKEN_REVOKE, id, tid, add ? hash : NULL);
}

static void do_install(struct router *r, struct conn *c, const struct envelope *env)
{
	const char *text = data_string(env, "manifest");
	const cJSON *grants = cJSON_GetObjectItemCaseSensitive(env->data, "grant");
	struct manifest *m = NULL;
	struct permissions *perms = NULL;
	_cleanup_free_ char *err = NULL, *grants_text = NULL;
	const char *granted[256];
	size_t n_granted = 0, arg_len = 0;

	if (!text) {
		refuse(r, c, env, "invalid", "\"manifest\" must hold the manifest text");
		return;
	}
	if (grants && !cJSON_IsArray(grants)) {
		refuse(r, c, env, "invalid", "\"grant\" must be an array of patterns");
		return;
	}
	for (const cJSON *g = grants ? grants->child : NULL; g; g = g->next) {
		if (!cJSON_IsString(g) || pattern_validate(g->valuestring) < 0 || n_granted == ARRAY_SIZE(granted)) {
			refuse(r, c, env, "invalid", "\"grant\" must list valid patterns");
			return;
		}
		granted[n_granted++] = g->valuestring;
		arg_len += strlen(g->valuestring) + 1;
	}
	int ret = manifest_parse(text, strlen(text), "manifest", &m, &err);
	if (ret != 0) {
		refuse(r, c, env, "invalid", err ? err : "invalid manifest");
		return;
	}
	if (streq(m->id, "admin") || streq(m->id, HS_GATEWAY_ID)) {
		bool admin = streq(m->id, "admin");
		manifest_free(m);
		refuse(r, c, env, "invalid", admin ? "\"admin\" is reserved for the bus administrator" :
						  "\"gateway\" is reserved for the WebSocket gateway");
		return;
	}
	ret = permissions_compile(m, router_policy(r)->levels, granted, n_granted, &perms);
	/* Refuse with the first reason only: one clear error, not a flood of them. */
	for (size_t i = 0; ret == 0 && i < perms->n_denied; i++) {
		const struct permission_denial *d = &perms->denied[i];
		_cleanup_free_ char *msg = NULL;
		bool system = d->level == PERM_LEVEL_SYSTEM;
		int n = system ? asprintf(&msg, "it asks to %s \"%s\", a system permission no skill can have; remove it from the manifest",
					  perm_dir_name(d->dir), d->pattern)
			       : asprintf(&msg, "\"%s\" (%s) is dangerous: install again with --grant '%s' to allow it",
					  d->pattern, perm_dir_name(d->dir), d->pattern);
		if (n >= 0)
			refuse(r, c, env, system ? "denied" : "needs_grant", msg);
		ret = 1;
	}
	_cleanup_free_ char *id = ret == 0 ? strdup(m->id) : NULL;
	permissions_free(perms);
	manifest_free(m);
	if (ret != 0 || !id)
		return;
	/* The signed arg: the granted patterns in request order, joined by "\n". */
	grants_text = calloc(1, arg_len + 1);
	if (!grants_text) {
		refuse(r, c, env, "internal", "out of memory");
		return;
	}
	for (size_t i = 0; i < n_granted; i++) {
		if (i)
			strcat(grants_text, "\n");
		strcat(grants_text, granted[i]);
	}
	send_admin(r, c, env, AUTHORITY_OP_INSTALL, id, grants_text, text);
}

/* capbus.logs {"id": ID, "cursor": N}: a read-only question to the parent, which holds the rings. */
static void do_logs(struct router *r, struct conn *c, const struct envelope *env)
{
	struct control *ctl = router_control(r);
	const char *id = data_string(env, "id");
	const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(env->data, "cursor");
	struct ps_logs_query q = { .serial = ctl->next_ps + 1 };

	if (!id || !hs_id_is_valid(id, strlen(id))) {
		refuse(r, c, env, "invalid", "\"id\" must be a skill id");
		return;
	}
	if (cursor && (!cJSON_IsNumber(cursor) || cursor->valuedouble < 0 || cursor->valuedouble > 9007199254740992.0 ||
		       cursor->valuedouble != (double)(uint64_t)cursor->valuedouble)) {
		refuse(r, c, env, "invalid", "\"cursor\" must be a whole number from an earlier answer's \"next\"");
		return;
	}
	q.cursor = cursor ? (uint64_t)cursor->valuedouble : 0;
	snprintf(q.id, sizeof(q.id), "%s", id);
	struct pending_op *o = track(r, c, env, q.serial, id);
	if (!o) {
		refuse(r, c, env, "internal", "out of memory");
		return;
	}
	if (router_ps_send(r, PS_LOGS_QUERY, &q, sizeof(q), NULL, 0, -1) < 0) {
		refuse(r, c, env, "internal", "the privileged daemon is unreachable");
		return;
	}
	ctl->next_ps++;
	ctl->n_ops++;
	o->logs = true;
}

static void do_remove(struct router *r, struct conn *c, const struct envelope *env)
{
	const char *id = data_string(env, "id");

	if (!installed_identity(r, c, env, id))
		return;
	send_admin(r, c, env, AUTHORITY_OP_REMOVE, id, NULL, NULL);
}

void control_handle(struct router *r, struct conn *c, struct envelope *env)
{
	const char *type = env->type;
	const cJSON *request = cJSON_GetObjectItemCaseSensitive(env->data, "request");

	if (streq(type, "capbus.ping")) {
		reply(r, c, "capbus.ping.reply", request, NULL);
		return;
	}
	if (streq(type, "capbus.subscribe") || streq(type, "capbus.unsubscribe")) {
		bool sub = streq(type, "capbus.subscribe");
		do_subscribe(r, c, env, sub, sub ? "capbus.subscribe.reply" : "capbus.unsubscribe.reply");
		return;
	}
	if (!c->ident->is_admin) {
		router_counters(r)->denied_send++;
		log_event(LOG_LEVEL_WARNING, "denied_control", "id=%s type=%s", LOG_Q(c->session.id), LOG_Q(type));
		refuse(r, c, env, "denied", "only the admin identity may use this bus command");
		return;
	}
	/* Answers come back from the parent; bound what may be in flight (one request each). */
	if (router_control(r)->n_ops + 1 > ROUTER_MAX_PENDING_OPS && !streq(type, "capbus.skills") && !streq(type, "capbus.stats")) {
		refuse(r, c, env, "quota", "too many bus commands in flight: wait for the answers");
		return;
	}
	if (streq(type, "capbus.nonce")) {
		if (send_ps(r, c, env, PS_ADMIN_NONCE, "admin") < 0)
			refuse(r, c, env, "internal", "the privileged daemon is unreachable");
	} else if (streq(type, "capbus.keygen"))
		do_keygen(r, c, env);
	else if (streq(type, "capbus.skills"))
		do_skills(r, c, env);
	else if (streq(type, "capbus.stats"))
		do_stats(r, c, env);
	else if (streq(type, "capbus.install"))
		do_install(r, c, env);
	else if (streq(type, "capbus.remove"))
		do_remove(r, c, env);
	else if (streq(type, "capbus.logs"))
		do_logs(r, c, env);
	else if (streq(type, "capbus.grant"))
		do_grant(r, c, env, true);
	else if (streq(type, "capbus.revoke"))
		do_grant(r, c, env, false);
	else if (streq(type, "capbus.token_add") || streq(type, "capbus.token_revoke"))
		do_token(r, c, env, streq(type, "capbus.token_add"));
	else if (streq(type, "capbus.guard")) {
		if (send_ps(r, c, env, PS_GUARD_QUERY, "admin") < 0)
			refuse(r, c, env, "internal", "the privileged daemon is unreachable");
	} else if (streq(type, "capbus.reload")) {
		if (send_ps(r, c, env, PS_RELOAD, "admin") < 0)
			refuse(r, c, env, "internal", "the privileged daemon is unreachable");
	} else
		refuse(r, c, env, "invalid", "unknown bus command");
}

/* Removes the pending operation step with this privsep serial into *out; false if unknown. */
static bool take_op(struct control *ctl, uint64_t serial, struct pending_op *out)
{
	for (size_t i = 0; i < ctl->n_ops; i++)
		if (ctl->ops[i].serial == serial) {
			*out = ctl->ops[i];
			ctl->ops[i] = ctl->ops[--ctl->n_ops];
			return true;
		}
	return false;
}

void control_parent_reply(struct router *r, const struct ps_reply *rep)
{
	struct control *ctl = router_control(r);
	struct pending_op o;

	if (!take_op(ctl, rep->serial, &o))
		return;
	struct conn *c = o.conn_serial ? router_find_conn(r, o.conn_serial) : NULL;
	_cleanup_(cjson_deletep) cJSON *request = o.request >= 0 ? cJSON_CreateNumber(o.request) : NULL;

	if (rep->status < 0) {
		/* One failure answers the whole operation; its remaining steps answer nobody. */
		for (size_t j = 0; j < ctl->n_ops; j++)
			if (ctl->ops[j].op == o.op)
				ctl->ops[j].conn_serial = 0;
		if (rep->status == -EPERM) {
			/* The parent found no valid admin signature (it logged why). */
			router_counters(r)->admin_refused++;
			if (c)
				conn_send_error(r, c, "denied",
						"the request lacks the admin's authority: sign it with the admin key file "
						"(state_dir/admin.key), which holds the authority key",
						NULL, request);
		} else if (c) {
			conn_send_error(r, c, "internal", strerror(-rep->status), NULL, request);
		}
		return;
	}
	if (!o.final || !c)
		return;
	cJSON *data = cJSON_CreateObject();
	if (data)
		cJSON_AddStringToObject(data, "id", o.id);
	if (data && o.keygen) {
		char hex[2 * CAPBUS_KEY_LEN + 1];
		sodium_bin2hex(hex, sizeof(hex), rep->key, CAPBUS_KEY_LEN);
		cJSON_AddStringToObject(data, "secret", hex);
		sodium_memzero(hex, sizeof(hex));
	}
	reply(r, c, o.reply_type, request, data);
}

/* Takes the operation the parent answered (serial) into *o and returns the connection that asked,
 * or NULL when the operation is unknown or its connection is gone. */
static struct conn *take_answered_op(struct router *r, uint64_t serial, struct pending_op *o)
{
	if (!take_op(router_control(r), serial, o))
		return NULL;
	return router_find_conn(r, o->conn_serial);
}

void control_nonce(struct router *r, const struct ps_nonce *n)
{
	struct pending_op o;
	struct conn *c = take_answered_op(r, n->serial, &o);

	if (!c || !o.nonce)
		return;
	_cleanup_(cjson_deletep) cJSON *request = o.request >= 0 ? cJSON_CreateNumber(o.request) : NULL;
	cJSON *data = cJSON_CreateObject();
	char hex[2 * AUTHORITY_NONCE_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), n->nonce, sizeof(n->nonce));
	if (data)
		cJSON_AddStringToObject(data, "nonce", hex);
	reply(r, c, o.reply_type, request, data);
}

static const char *stream_name(char s)
{
	return s == 'o' ? "stdout" : s == 'e' ? "stderr" : "capbus";
}

void control_logs(struct router *r, const struct ps_logs *l, const char *text, size_t text_len)
{
	struct pending_op o;
	struct conn *c = take_answered_op(r, l->serial, &o);

	if (!c || !o.logs)
		return;
	_cleanup_(cjson_deletep) cJSON *request = o.request >= 0 ? cJSON_CreateNumber(o.request) : NULL;
	if (l->status == -ENOENT) {
		conn_send_error(r, c, "unknown_id", "no skill with this id is installed (see: capbus skills)", NULL, request);
		return;
	}
	if (l->status < 0) {
		conn_send_error(r, c, "internal", strerror(-l->status), NULL, request);
		return;
	}
	cJSON *data = cJSON_CreateObject();
	cJSON *lines = cJSON_AddArrayToObject(data, "lines");
	if (!data || !lines) {
		cJSON_Delete(data);
		return;
	}
	cJSON_AddStringToObject(data, "id", o.id);
	/* Records "S TIME_MS TEXT\n" from the parent; a record that does not parse ends the list. */
	uint64_t seq = l->first;
	for (size_t off = 0; off < text_len;) {
		const char *rec = text + off, *nl = memchr(rec, '\n', text_len - off);
		char *end = NULL;
		if (!nl || nl - rec < 4 || rec[1] != ' ')
			break;
		unsigned long long t = strtoull(rec + 2, &end, 10);
		if (!end || end >= nl || *end != ' ')
			break;
		_cleanup_free_ char *s = strndup(end + 1, (size_t)(nl - end - 1));
		cJSON *e = cJSON_CreateObject();
		if (!s || !e) {
			cJSON_Delete(e);
			break;
		}
		cJSON_AddNumberToObject(e, "seq", (double)seq++);
		cJSON_AddStringToObject(e, "stream", stream_name(rec[0]));
		cJSON_AddNumberToObject(e, "time_ms", (double)t);
		cJSON_AddStringToObject(e, "text", s);
		cJSON_AddItemToArray(lines, e);
		off = (size_t)(nl - text) + 1;
	}
	cJSON_AddNumberToObject(data, "next", (double)l->next);
	cJSON_AddNumberToObject(data, "dropped", (double)l->dropped);
	cJSON_AddBoolToObject(data, "more", l->more != 0);
	reply(r, c, o.reply_type, request, data);
}

void control_conn_gone(struct router *r, struct conn *c)
{
	struct control *ctl = router_control(r);

	for (size_t i = 0; i < ctl->n_ops; i++)
		if (ctl->ops[i].conn_serial == c->serial)
			ctl->ops[i].conn_serial = 0;
}

void control_clear(struct control *ctl)
{
	free(ctl->ops);
	*ctl = (struct control){ 0 };
}

void control_guard_info(struct router *r, const struct ps_guard_info *info)
{
	struct pending_op o;
	struct conn *c = take_answered_op(r, info->serial, &o);

	if (!c)
		return;
	_cleanup_(cjson_deletep) cJSON *request = o.request >= 0 ? cJSON_CreateNumber(o.request) : NULL;
	cJSON *data = cJSON_CreateObject();
	cJSON *uids = cJSON_AddArrayToObject(data, "allow_uids");
	cJSON *cgroups = cJSON_AddArrayToObject(data, "allow_cgroups");
	cJSON *counters = cJSON_AddObjectToObject(data, "counters");
	if (!data || !uids || !cgroups || !counters) {
		cJSON_Delete(data);
		return;
	}
	char mode[sizeof(info->mode)], scope[sizeof(info->scope)], sock[sizeof(info->socket)];
	snprintf(mode, sizeof(mode), "%.*s", (int)sizeof(mode) - 1, info->mode);
	snprintf(scope, sizeof(scope), "%.*s", (int)sizeof(scope) - 1, info->scope);
	snprintf(sock, sizeof(sock), "%.*s", (int)sizeof(sock) - 1, info->socket);
	cJSON_AddStringToObject(data, "mode", mode);
	cJSON_AddBoolToObject(data, "active", info->active != 0);
	cJSON_AddBoolToObject(data, "peer_check", info->peer_check != 0);
	cJSON_AddStringToObject(data, "scope", scope);
	cJSON_AddStringToObject(data, "socket", sock);
	for (uint32_t u = 0; u < info->n_uids && u < PS_GUARD_UIDS; u++)
		cJSON_AddItemToArray(uids, cJSON_CreateNumber(info->uids[u]));
	for (uint32_t g = 0; g < info->n_cgroups && g < PS_GUARD_CGROUPS; g++) {
		char path[sizeof(info->cgroups[0])];
		snprintf(path, sizeof(path), "%.*s", (int)sizeof(path) - 1, info->cgroups[g]);
		cJSON_AddItemToArray(cgroups, cJSON_CreateString(path));
	}
	cJSON_AddNumberToObject(counters, "denied", (double)info->denied);
	cJSON_AddNumberToObject(counters, "allowed_cgroup", (double)info->allowed_cgroup);
	cJSON_AddNumberToObject(counters, "allowed_uid", (double)info->allowed_uid);
	cJSON_AddNumberToObject(counters, "events_dropped", (double)info->events_dropped);
	cJSON_AddNumberToObject(counters, "peer_denied", (double)info->peer_denied);
	reply(r, c, o.reply_type, request, data);
}
