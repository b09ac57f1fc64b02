// SPDX-License-Identifier: MIT
/* callroute.c - calls bound to their caller: the context fields, the stamped bytes, the answers.
 *
 * Trust level: router (unprivileged). Everything read here was written by a hostile client:
 * the caller chooses only its own call_id (echoed back to it alone), the receivers only ever see
 * the router's id, and a reply counts only when calls.c says its sender is a connection the
 * request reached. The router answers a call itself (bus.error, marked like a reply) when it
 * times out, nobody can answer it, or its caller may no longer receive the reply, so a caller
 * always hears back; a reply it cannot pass on is refused to its sender, never dropped. */
#include "router/callroute.h"

#include <errno.h>
#include <stdio.h>

#include "frame.h"
#include "router/router-internal.h"

static bool key_is(const uint8_t *body, const struct json_member *m, const char *name)
{
	size_t len = strlen(name);
	return m->key_len == len && memcmp(body + m->key_off, name, len) == 0;
}

/* A string value without escapes of at most max bytes, copied into out. */
static bool plain_string(const uint8_t *body, const struct json_member *m, char *out, size_t max)
{
	if (m->val_kind != '"' || m->val_len < 2 || m->val_len - 2 > max)
		return false;
	const uint8_t *s = body + m->val_off + 1;
	size_t len = m->val_len - 2;
	if (memchr(s, '\\', len)) {
		/* Rare: a type may be written with escapes ("\u00e9", "\""): decode it as JSON does */
		cJSON *str = cJSON_ParseWithLength((const char *)s - 1, len + 2);
		bool ok = cJSON_IsString(str) && strlen(str->valuestring) <= max;
		if (ok)
			strcpy(out, str->valuestring);
		cJSON_Delete(str);
		return ok;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static bool parse_ms(const uint8_t *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

void call_fields_from_view(const struct envelope_view *v, const uint8_t *body, struct call_fields *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < v->n_ctx; i++) {
		const struct json_member *m = &v->ctx[i];
		if (key_is(body, m, "call_id")) {
			out->has_call_id = true;
			out->call_id_ok = plain_string(body, m, out->call_id, CALL_ID_MAX);
		} else if (key_is(body, m, "bound_call")) {
			out->has_bound = true;
		} else if (key_is(body, m, "reply_type")) {
			out->has_reply_type = true;
			out->reply_type_ok = plain_string(body, m, out->reply_type, CALL_TYPE_MAX) &&
					     envelope_type_is_valid(out->reply_type, strlen(out->reply_type));
		} else if (key_is(body, m, "call_timeout_ms")) {
			out->has_timeout = true;
			out->timeout_ok = parse_ms(body + m->val_off, m->val_len, &out->timeout_ms);
		}
	}
}

void call_fields_from_tree(const cJSON *context, struct call_fields *out)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(context, "call_id");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(context, "reply_type");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(context, "call_timeout_ms");

	memset(out, 0, sizeof(*out));
	out->has_bound = cJSON_GetObjectItemCaseSensitive(context, "bound_call") != NULL;
	if (id) {
		out->has_call_id = true;
		out->call_id_ok = cJSON_IsString(id) && strlen(id->valuestring) <= CALL_ID_MAX;
		if (out->call_id_ok)
			strcpy(out->call_id, id->valuestring);
	}
	if (rt) {
		out->has_reply_type = true;
		out->reply_type_ok = cJSON_IsString(rt) && strlen(rt->valuestring) <= CALL_TYPE_MAX &&
				     envelope_type_is_valid(rt->valuestring, strlen(rt->valuestring));
		if (out->reply_type_ok)
			strcpy(out->reply_type, rt->valuestring);
	}
	if (to) {
		out->has_timeout = true;
		out->timeout_ok = cJSON_IsNumber(to) && to->valuedouble >= 0 && to->valuedouble <= 999999999 &&
				  to->valuedouble == (double)(uint64_t)to->valuedouble;
		if (out->timeout_ok)
			out->timeout_ms = (uint64_t)to->valuedouble;
	}
}


/* The scanned message as delivered: type and data as written, the context members as written
 * except the router's own (sender, call_id, bound_call), then call_id and bound_call when given,
 * then sender. */
static struct msgbuf *write_scanned(const struct call_msg *m, const char *sender, const char *call_id,
				    const char *bound)
{
	const struct envelope_view *v = m->view;
	const uint8_t *body = m->body;
	size_t cap = m->raw_len + 128 + 6 * (strlen(sender) + 2 * CALL_ID_MAX);
	struct msgbuf *buf = msgbuf_alloc(cap);

	if (!buf)
		return NULL;
	char *out = (char *)buf->data, *o = out;
	o = envelope_put(o, "{\"type\":\"", 9);
	o = envelope_put(o, body + v->type_off, v->type_len);
	o = envelope_put(o, "\",\"data\":", 9);
	o = v->data_len ? envelope_put(o, body + v->data_off, v->data_len) : envelope_put(o, "{}", 2);
	o = envelope_put(o, ",\"context\":{", 12);
	for (size_t i = 0; i < v->n_ctx; i++) {
		const struct json_member *mm = &v->ctx[i];
		if (key_is(body, mm, "sender") || key_is(body, mm, "call_id") || key_is(body, mm, "bound_call"))
			continue;
		*o++ = '"';
		o = envelope_put(o, body + mm->key_off, mm->key_len);
		o = envelope_put(o, "\":", 2);
		o = envelope_put(o, body + mm->val_off, mm->val_len);
		*o++ = ',';
	}
	if (call_id) {
		o = envelope_put(o, "\"call_id\":", 10);
		o = envelope_put_string(o, call_id);
		*o++ = ',';
	}
	if (bound) {
		o = envelope_put(o, "\"bound_call\":", 13);
		o = envelope_put_string(o, bound);
		*o++ = ',';
	}
	o = envelope_put(o, "\"sender\":", 9);
	o = envelope_put_string(o, sender);
	o = envelope_put(o, "}}", 2);
	buf->len = (uint32_t)(o - out);
	return buf;
}

/* The parsed message as delivered, with the same context rules, through its tree. */
static struct msgbuf *write_tree(const struct call_msg *m, const char *sender, const char *call_id, const char *bound)
{
	/* The client's call_id and bound_call are never passed on as written: the router's, or none. */
	const struct envelope_member set[] = { { "call_id", call_id }, { "bound_call", bound }, { "sender", sender } };
	size_t len = 0;
	_cleanup_free_ char *text = envelope_serialize_raw_set(m->env, m->raw, m->raw_len, set, ARRAY_SIZE(set), &len);
	return text ? msgbuf_new(text, len) : NULL;
}

/* The message as delivered, or NULL and *err: -EMSGSIZE when the copy would pass the 16 MiB
 * frame limit (the caller's call_id and bound_call can make it up to 2 x 64 bytes and more
 * longer than what was sent), -ENOMEM. */
static struct msgbuf *write_msg(const struct call_msg *m, const char *sender, const char *call_id, const char *bound,
				int *err)
{
	struct msgbuf *buf = m->view ? write_scanned(m, sender, call_id, bound) : write_tree(m, sender, call_id, bound);

	if (!buf) {
		*err = -ENOMEM;
		return NULL;
	}
	if (buf->len > FRAME_MAX_BODY_HARD) {
		msgbuf_unref(buf);
		*err = -EMSGSIZE;
		return NULL;
	}
	return buf;
}

/* A bus.error about call call_id of type `type`, bound to it like a reply: data.call_id, and
 * context call_id and bound_call. Budgeted like every error unless `answer` (the one answer a
 * call gets when nobody replies: a caller waits for it). */
static void send_call_error(struct router *r, struct conn *c, const char *code, const char *message,
			    const char *type, const char *call_id, bool answer)
{
	if (c->doomed || c->state != CONN_READY || !conn_error_budget(r, c, answer))
		return;
	cJSON *data, *ctx;
	_cleanup_(cjson_deletep) cJSON *root = error_envelope_new(code, message, &data, &ctx);
	if (!root || !cJSON_AddStringToObject(data, "type", type) || !cJSON_AddStringToObject(data, "call_id", call_id) ||
	    !cJSON_AddStringToObject(ctx, "call_id", call_id) || !cJSON_AddStringToObject(ctx, "bound_call", call_id) ||
	    !cJSON_AddStringToObject(ctx, "sender", "capbus"))
		return;
	conn_send_envelope(r, c, root);
}

static void log_call_refusal(struct router *r, struct conn *c, const char *reason, const char *type)
{
	uint64_t suppressed;

	r->counters.call_refused++;
	if (log_ratelimit_ok(&r->rl_client, r->now_ms, &suppressed))
		log_event(LOG_LEVEL_WARNING, "call_refused", "reason=%s id=%s pid=%d type=%s suppressed=%llu", reason,
			  LOG_Q(c->session.id), (int)c->pid, LOG_Q(type), (unsigned long long)suppressed);
}

/* A message whose delivered copy cannot be made: its sender hears why (never silence). */
static void refuse_undeliverable(struct router *r, struct conn *c, const struct call_msg *m, int err, const char *what)
{
	bool too_large = err == -EMSGSIZE;
	char message[160];

	if (too_large)
		r->counters.too_large++;
	log_call_refusal(r, c, too_large ? "too_large" : "internal", m->type);
	snprintf(message, sizeof(message), "%s: %s", too_large ? "above the 16 MiB frame limit once bound" :
		 "out of memory", what);
	conn_send_error(r, c, too_large ? "too_large" : "internal", message, m->type, NULL);
}

/* An ordinary message that carried a call field: delivered without the router's fields. */
static void route_plain(struct router *r, struct conn *c, const struct call_msg *m)
{
	int err = 0;
	struct msgbuf *buf = write_msg(m, c->session.id, NULL, NULL, &err);

	if (!buf) {
		refuse_undeliverable(r, c, m, err, "message dropped");
		return;
	}
	router_deliver(r, buf, m->type, m->type_len, 0);
	msgbuf_unref(buf);
}

static void route_answer(struct router *r, struct conn *c, const struct call_msg *m, uint64_t id)
{
	struct call_end end;

	/* The verdict leaves the call pending: it ends only on a reply that reaches the caller or
	 * on the router's own answer, so a reply that cannot be passed on consumes nothing. */
	switch (calls_judge(r->calls, id, c->serial, m->type, &end)) {
	case CALL_BOUND: {
		struct conn *caller = router_find_conn(r, end.caller);
		if (!caller || caller->state != CONN_READY || !caller->ident) {
			/* The caller is going away: its calls end with it, nobody is left to tell. */
			calls_end(r->calls, id, NULL);
			r->counters.messages++;
			r->counters.call_replies++;
			return;
		}
		/* The caller's permissions may have changed since it called (revoke, reload): the call
		 * is over, and both ends hear it rather than a reply vanishing. */
		if (!policy_may_receive(r->policy, caller->ident,
					policy_namespace_owner(r->policy, end.reply_type, strlen(end.reply_type)),
					end.reply_type, strlen(end.reply_type))) {
			calls_end(r->calls, id, NULL);
			log_call_refusal(r, c, "caller_denied_reply", m->type);
			conn_send_error(r, c, "denied", "the caller may no longer receive the reply type; the call is over",
					m->type, NULL);
			send_call_error(r, caller, "denied", "the manifest no longer allows receiving the reply type",
					end.type, end.call_id, true);
			return;
		}
		int err = 0;
		struct msgbuf *buf = write_msg(m, c->session.id, end.call_id, end.call_id, &err);
		if (!buf) {
			refuse_undeliverable(r, c, m, err, "reply not delivered, the call is still pending");
			return;
		}
		calls_end(r->calls, id, NULL);
		r->counters.messages++;
		r->counters.call_replies++;
		if (conn_push(r, caller, buf, true) == 0)
			r->counters.delivered++;
		msgbuf_unref(buf);
		return;
	}
	case CALL_NOT_RECIPIENT:
		log_call_refusal(r, c, "not_a_recipient", m->type);
		conn_send_error(r, c, "denied", "only a connection the call was delivered to may answer it", m->type, NULL);
		return;
	case CALL_FINISHED:
		log_call_refusal(r, c, "call_finished", m->type);
		conn_send_error(r, c, "call_finished", "the call was already answered, or has ended", m->type, NULL);
		return;
	case CALL_OTHER_TYPE:
	case CALL_UNKNOWN:
	default:
		/* Not a reply: a context copied along onto another message (Mycroft's forward). */
		route_plain(r, c, m);
		return;
	}
}

static void route_new_call(struct router *r, struct conn *c, const struct call_msg *m, const struct call_fields *f)
{
	char reply_type[CALL_TYPE_MAX + 1];
	uint64_t timeout = CALL_TIMEOUT_DEFAULT_MS;

	if (f->has_reply_type) {
		if (!f->reply_type_ok) {
			log_call_refusal(r, c, "invalid", m->type);
			send_call_error(r, c, "invalid", "context.reply_type must be a message type", m->type, f->call_id, false);
			return;
		}
		strcpy(reply_type, f->reply_type);
	} else if (m->type_len + 9 > CALL_TYPE_MAX) {
		log_call_refusal(r, c, "invalid", m->type);
		send_call_error(r, c, "invalid", "the type is too long for a \".response\" reply type", m->type, f->call_id, false);
		return;
	} else {
		snprintf(reply_type, sizeof(reply_type), "%.*s.response", (int)m->type_len, m->type);
	}
	if (f->has_timeout) {
		if (!f->timeout_ok || f->timeout_ms == 0 || f->timeout_ms > CALL_TIMEOUT_MAX_MS) {
			log_call_refusal(r, c, "invalid", m->type);
			send_call_error(r, c, "invalid", "context.call_timeout_ms must be an integer from 1 to 300000", m->type,
					f->call_id, false);
			return;
		}
		timeout = f->timeout_ms;
	}
	if (!policy_may_receive(r->policy, c->ident, policy_namespace_owner(r->policy, reply_type, strlen(reply_type)),
				reply_type, strlen(reply_type))) {
		log_call_refusal(r, c, "denied_reply_type", m->type);
		send_call_error(r, c, "denied",
				identity_may_receive(c->ident, reply_type, strlen(reply_type)) ?
					"the reply type is in another identity's namespace: only the dispatcher or a "
					"grant lets an identity hear there" :
					"the manifest does not allow receiving the reply type",
				m->type, f->call_id, false);
		return;
	}
	struct call_request req = {
		.caller = c->serial, .owner = c->session.id, .call_id = f->call_id, .type = m->type,
		.reply_type = reply_type, .deadline_ms = r->now_ms + timeout,
	};
	uint64_t id = 0;
	int ret = calls_open(r->calls, &req, &id);
	if (ret != 0) {
		bool quota = ret == CALLS_OWNER_QUOTA || ret == CALLS_FULL;
		if (quota)
			r->counters.quota++;
		log_call_refusal(r, c, quota ? "quota" : "internal", m->type);
		send_call_error(r, c, quota ? "quota" : "internal",
				ret == CALLS_OWNER_QUOTA ? "too many pending calls of this identity" :
				ret == CALLS_FULL ? "too many pending calls on the bus" : "cannot track the call",
				m->type, f->call_id, false);
		return;
	}
	char wire[CALL_WIRE_ID_LEN + 1];
	calls_format_id(id, wire);
	int err = 0;
	struct msgbuf *buf = write_msg(m, c->session.id, wire, NULL, &err);
	if (!buf) {
		/* Refused, bound to the call like every refusal of a call: not "nobody could receive it". */
		bool too_large = err == -EMSGSIZE;
		calls_end(r->calls, id, NULL);
		if (too_large)
			r->counters.too_large++;
		log_call_refusal(r, c, too_large ? "too_large" : "internal", m->type);
		send_call_error(r, c, too_large ? "too_large" : "internal",
				too_large ? "the call is above the 16 MiB frame limit once stamped with the call id and sender" :
					    "out of memory: call dropped",
				m->type, f->call_id, false);
		return;
	}
	r->counters.calls++;
	router_deliver(r, buf, m->type, m->type_len, id);
	msgbuf_unref(buf);
	if (calls_n_targets(r->calls, id) == 0) {
		calls_end(r->calls, id, NULL);
		r->counters.call_no_responder++;
		send_call_error(r, c, "no_responder", "no connection could receive the call", m->type, f->call_id, true);
	}
}

bool call_route(struct router *r, struct conn *c, const struct call_msg *m, const struct call_fields *f)
{
	uint64_t id;

	if (!f->has_call_id && !f->has_bound)
		return false;
	if (!f->has_call_id) {
		route_plain(r, c, m); /* bound_call is the router's alone */
		return true;
	}
	if (f->call_id_ok && calls_parse_id(f->call_id, strlen(f->call_id), &id)) {
		route_answer(r, c, m, id);
		return true;
	}
	if (!f->call_id_ok || !calls_id_is_valid(f->call_id, strlen(f->call_id))) {
		log_call_refusal(r, c, "invalid", m->type);
		conn_send_error(r, c, "invalid", "context.call_id must be 1 to 64 characters of [A-Za-z0-9._:-]", m->type,
				NULL);
		return true;
	}
	route_new_call(r, c, m, f);
	return true;
}

static void answer_ended(struct router *r, const struct call_end *end, const char *code, const char *message)
{
	struct conn *caller = router_find_conn(r, end->caller);

	if (caller)
		send_call_error(r, caller, code, message, end->type, end->call_id, true);
}

void call_expire(struct router *r)
{
	struct call_end end;

	while (calls_next_expired(r->calls, r->now_ms, &end)) {
		r->counters.call_timeouts++;
		answer_ended(r, &end, "timeout", "no reply before the call's deadline");
	}
}

void call_orphans(struct router *r)
{
	struct call_end end;

	while (calls_next_orphan(r->calls, &end)) {
		r->counters.call_no_responder++;
		answer_ended(r, &end, "no_responder", "every connection the call reached has gone");
	}
}
