// SPDX-License-Identifier: MIT
/* router.c - the unprivileged router: handshakes, MAC checks, policy, routing.
 *
 * Trust level: everything a client sends is hostile. A bad frame, key or message costs that
 * connection at most; the router itself never exits because of a client. It holds no privilege
 * and no file-system access (see confine.c) and learns policy only from the parent. */
#include "router/router.h"

#include <assert.h>
#include <signal.h>
#include <sodium.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "pidfd-util.h"
#include "router/callroute.h"
#include "router/confine.h"
#include "router/delegate.h"
#include "frame.h"
#include "mac.h"
#include "common/privsep.h"
#include "router/router-internal.h"

#define TICK_MS 200
#define EVENTS_MAX 128
#define ACCEPT_BURST 64
#define READ_CHUNK (16 * 1024)
#define ERRORS_PER_SECOND 50
/* What one subscription is charged beyond its pattern's bytes: the router keeps the pattern twice
 * (the connection's list and the index key) plus index slots and list entries. An estimate: the
 * byte limits bound memory, they do not measure malloc's own overhead. */
#define SUB_OVERHEAD 256
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static size_t sub_cost(const char *pattern)
{
	return strlen(pattern) + SUB_OVERHEAD;
}

/* Drops subscription i of c from the index and from the counts (c's list is left to the caller). */
static void sub_release(struct router *r, struct conn *c, uint32_t i)
{
	size_t cost = sub_cost(c->subs[i]);

	subindex_remove(r->subs, c->subs[i], c);
	c->sub_bytes -= cost;
	if (c->usage) {
		c->usage->subs--;
		c->usage->sub_bytes -= cost;
	}
	free(c->subs[i]);
}

/* A connection on its way out (doomed, or closing after its last frame) gives back its
 * pending-handshake slot and its place among its identity's connections at once, so that a new
 * connection in the same loop iteration can have them. */
static void conn_release_slots(struct router *r, struct conn *c)
{
	if (c->pending_counted) {
		c->pending_counted = false;
		pending_remove(&r->pending, c->uid, c->cgroup_id);
	}
	if (c->conn_counted) {
		c->conn_counted = false;
		c->usage->conns--;
	}
}

/* Takes c out of the subscription index: nothing is delivered to it from here on. */
static void conn_drop_subscriptions(struct router *r, struct conn *c)
{
	for (uint32_t i = 0; i < c->n_subs; i++)
		sub_release(r, c, i);
	free(c->subs);
	c->subs = NULL;
	c->n_subs = 0;
}

/* Gives back a connection's input buffer and what of it counted against max_partial_bytes. The
 * identity share is taken only once c->usage is set (after the handshake; handshake frames never
 * grow the buffer beyond READ_CHUNK), and c->usage stays until conn_free, so it matches. */
static void conn_in_free(struct router *r, struct conn *c)
{
	r->partial_bytes -= c->in_counted;
	if (c->usage)
		c->usage->partial_bytes -= c->in_counted;
	c->in_counted = 0;
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	c->frame_deadline_ms = 0;
}

/* Grows c's input buffer to needed bytes for a frame still arriving, unless the bytes held for
 * incomplete frames (all connections, or this identity's) would pass their cap: a client could
 * otherwise declare max_frame on many connections, send part of each and hold that memory. */
static int conn_in_grow(struct router *r, struct conn *c, size_t needed)
{
	uint64_t more = needed - c->in_counted;
	if (r->partial_bytes + more > r->cfg->max_partial_bytes ||
	    (c->usage && c->usage->partial_bytes + more > r->cfg->max_identity_partial_bytes))
		return -ENOBUFS;
	uint8_t *p = realloc(c->in, needed);
	if (!p)
		return -ENOMEM;
	c->in = p;
	c->in_cap = (uint32_t)needed;
	r->partial_bytes += more;
	if (c->usage)
		c->usage->partial_bytes += more;
	c->in_counted = (uint32_t)needed;
	return 0;
}

static void conn_free(struct router *r, struct conn *c)
{
	control_conn_gone(r, c);
	/* Its calls end; calls it was the last possible answerer of are answered by call_orphans. */
	if (c->state == CONN_READY)
		calls_conn_gone(r->calls, c->serial);
	conn_drop_subscriptions(r, c);
	outq_clear(c);
	conn_in_free(r, c);
	conn_release_slots(r, c);
	id_usage_put(&r->usage, c->usage);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->n_conns--;
	/* Deregister explicitly: the socket may live on in another process for a moment (a skill's
	 * pair, inherited by a sandbox child that has not closed it yet), and epoll would keep
	 * reporting it for this freed connection. */
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	sodium_memzero(&c->session, sizeof(c->session));
	free(c);
}

void conn_doom(struct router *r, struct conn *c, const char *reason)
{
	if (c->doomed)
		return;
	c->doomed = true;
	conn_release_slots(r, c);
	if (reason) {
		uint64_t suppressed;
		if (log_ratelimit_ok(&r->rl_client, r->now_ms, &suppressed))
			log_event(LOG_LEVEL_WARNING, "disconnect", "reason=%s id=%s pid=%d uid=%u suppressed=%llu", reason,
				  c->state == CONN_READY ? LOG_Q(c->session.id) : "-", (int)c->pid, (unsigned)c->uid,
				  (unsigned long long)suppressed);
	}
	c->dead_next = r->dead_head;
	r->dead_head = c;
}

void conn_close_after_flush(struct router *r, struct conn *c)
{
	if (c->close_after_flush)
		return;
	c->close_after_flush = true;
	/* A closing connection is a receiver no more, and a peer that never reads its last frames
	 * does not keep it (and its queue) forever: timer_tick closes it at this deadline. */
	conn_drop_subscriptions(r, c);
	if (c->state == CONN_READY) /* a handshake keeps its own, earlier deadline */
		c->deadline_ms = r->now_ms + r->cfg->handshake_timeout_ms;
	conn_release_slots(r, c);
	outq_schedule(&r->outq, c);
}

void conn_lose_identity(struct router *r, struct conn *c)
{
	c->ident = NULL;
	if (c->doomed)
		return;
	r->counters.revoked++;
	conn_send_error(r, c, "revoked", "this identity was removed from the bus", NULL, NULL);
	conn_close_after_flush(r, c);
}

int conn_push(struct router *r, struct conn *c, struct msgbuf *buf, bool sign)
{
	if (c->write_lost)
		return 0; /* nobody reads it any more */
	int ret = outq_push(&r->outq, c, buf, sign);

	if (ret == -ENOBUFS) {
		r->counters.slow_consumers++;
		conn_doom(r, c, "slow_consumer");
	} else if (ret < 0) {
		conn_doom(r, c, "out_of_memory");
	}
	return ret;
}

const struct policy *router_policy(const struct router *r)
{
	return r->policy;
}

struct counters *router_counters(struct router *r)
{
	return &r->counters;
}

uint32_t router_n_conns(const struct router *r)
{
	return r->n_conns;
}

struct control *router_control(struct router *r)
{
	return &r->control;
}

struct conn *router_find_conn(struct router *r, uint64_t serial)
{
	for (struct conn *c = r->conns; c; c = c->next)
		if (c->serial == serial && !c->doomed)
			return c;
	return NULL;
}

int conn_send_envelope(struct router *r, struct conn *c, cJSON *root)
{
	_cleanup_free_ char *text = cJSON_PrintUnformatted(root);
	if (!text)
		return -ENOMEM;
	struct msgbuf *b = msgbuf_new(text, strlen(text));
	if (!b)
		return -ENOMEM;
	int ret = conn_push(r, c, b, true);
	msgbuf_unref(b);
	return ret;
}

bool conn_error_budget(struct router *r, struct conn *c, bool always)
{
	/* A client that provokes errors in a loop gets a bounded number of answers. */
	if (r->now_ms - c->err_window_ms >= 1000) {
		c->err_window_ms = r->now_ms;
		c->err_budget = ERRORS_PER_SECOND;
	}
	if (c->err_budget == 0 && !always)
		return false;
	if (c->err_budget > 0)
		c->err_budget--;
	return true;
}

cJSON *error_envelope_new(const char *code, const char *message, cJSON **data, cJSON **ctx)
{
	cJSON *root = cJSON_CreateObject();

	*data = cJSON_AddObjectToObject(root, "data");
	*ctx = cJSON_AddObjectToObject(root, "context");
	if (!root || !*data || !*ctx || !cJSON_AddStringToObject(root, "type", "bus.error") ||
	    !cJSON_AddStringToObject(*data, "code", code) || !cJSON_AddStringToObject(*data, "message", message)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

void conn_send_error(struct router *r, struct conn *c, const char *code, const char *message,
		     const char *type, const cJSON *request)
{
	if (c->doomed || c->state != CONN_READY)
		return;
	/* A refused bus request is always answered (the client waits for it), bounded by the
	 * output queue. */
	if (!conn_error_budget(r, c, request != NULL))
		return;
	cJSON *data, *ctx;
	_cleanup_(cjson_deletep) cJSON *root = error_envelope_new(code, message, &data, &ctx);
	if (!root || !cJSON_AddStringToObject(ctx, "sender", "capbus"))
		return;
	if (type)
		cJSON_AddStringToObject(data, "type", type);
	if (request)
		cJSON_AddItemToObject(data, "request", cJSON_Duplicate(request, false));
	conn_send_envelope(r, c, root);
}

static void log_refusal(struct router *r, struct conn *c, const char *event, const char *type)
{
	uint64_t suppressed;
	if (log_ratelimit_ok(&r->rl_client, r->now_ms, &suppressed))
		log_event(LOG_LEVEL_WARNING, event, "id=%s pid=%d type=%s suppressed=%llu", LOG_Q(c->session.id),
			  (int)c->pid, type ? LOG_Q(type) : "-", (unsigned long long)suppressed);
}

/* A subscription a limit refused: counted, and logged (rate-limited) with the limit's name. */
static int refuse_subscription(struct router *r, struct conn *c, const char *pattern, int why)
{
	uint64_t suppressed;

	r->counters.refused_subscriptions++;
	if (log_ratelimit_ok(&r->rl_client, r->now_ms, &suppressed))
		log_event(LOG_LEVEL_WARNING, "subscription_refused", "reason=%s id=%s pid=%d pattern=%s suppressed=%llu",
			  why == ROUTER_SUB_CONN_FULL ? "connection_limit" : "identity_limit", LOG_Q(c->session.id),
			  (int)c->pid, LOG_Q(pattern), (unsigned long long)suppressed);
	return why;
}

int router_subscribe(struct router *r, struct conn *c, const char *pattern)
{
	const struct ps_router_config *cfg = r->cfg;
	struct id_usage *u = c->usage;
	size_t cost = sub_cost(pattern);

	assert(u);
	for (uint32_t i = 0; i < c->n_subs; i++)
		if (streq(c->subs[i], pattern))
			return 0;
	if (c->n_subs >= cfg->max_subscriptions || c->sub_bytes + cost > cfg->max_subscription_bytes)
		return refuse_subscription(r, c, pattern, ROUTER_SUB_CONN_FULL);
	if (u->subs >= cfg->max_identity_subscriptions || u->sub_bytes + cost > cfg->max_identity_subscription_bytes)
		return refuse_subscription(r, c, pattern, ROUTER_SUB_IDENTITY_FULL);
	char **v = realloc(c->subs, (c->n_subs + 1) * sizeof(char *));
	if (!v)
		return -ENOMEM;
	c->subs = v;
	if (!(v[c->n_subs] = strdup(pattern)))
		return -ENOMEM;
	int ret = subindex_add(r->subs, pattern, c);
	if (ret < 0) {
		free(v[c->n_subs]);
		return ret;
	}
	c->n_subs++;
	c->sub_bytes += cost;
	u->subs++;
	u->sub_bytes += cost;
	return 0;
}

void router_unsubscribe(struct router *r, struct conn *c, const char *pattern)
{
	for (uint32_t i = 0; i < c->n_subs; i++)
		if (streq(c->subs[i], pattern)) {
			sub_release(r, c, i);
			c->subs[i] = c->subs[--c->n_subs];
			return;
		}
}

/* Token buckets for messages (manifest msg_rate) and bytes (config byte_rate), burst = 1 s. */
static int conn_charge(struct router *r, struct conn *c, size_t bytes)
{
	uint64_t elapsed = r->now_ms - c->tokens_ms;
	uint64_t rate = c->ident->msg_rate;
	uint64_t msg_cap = rate * 1000, byte_cap = r->cfg->byte_rate;

	if (elapsed > 0) {
		c->tokens_ms = r->now_ms;
		c->msg_tokens = c->msg_tokens + elapsed * rate > msg_cap ? msg_cap : c->msg_tokens + elapsed * rate;
		uint64_t add = elapsed * byte_cap / 1000;
		c->byte_tokens = c->byte_tokens + add > byte_cap ? byte_cap : c->byte_tokens + add;
	}
	if (bytes > c->byte_tokens)
		return 2;
	if (c->ident->msg_rate != UINT32_MAX) {
		if (c->msg_tokens < 1000)
			return 1;
		c->msg_tokens -= 1000;
	}
	c->byte_tokens -= bytes;
	return 0;
}

/* Tells a client over its rate or byte quota; `request` is echoed so a waiting call can fail. */
static void refuse_charge(struct router *r, struct conn *c, int charge, const char *type, const cJSON *request)
{
	bool quota = charge == 2;
	if (quota)
		r->counters.quota++;
	else
		r->counters.rate_limited++;
	log_refusal(r, c, quota ? "quota" : "rate_limited", type);
	conn_send_error(r, c, quota ? "quota" : "rate_limited",
			quota ? "byte quota exceeded; slow down" : "message rate limit of the manifest exceeded", type,
			request);
}

static bool charge_ok(struct router *r, struct conn *c, const struct envelope *env, size_t frame_len)
{
	int charge = conn_charge(r, c, frame_len);
	if (charge == 0)
		return true;
	refuse_charge(r, c, charge, env->type, cJSON_GetObjectItemCaseSensitive(env->data, "request"));
	return false;
}

struct delivery {
	struct router *r;
	struct msgbuf *buf;
	const char *type;
	size_t type_len;
	const struct identity *owner; /* whose namespace the type is in, or NULL */
	uint64_t call; /* a call's router id: record who got the request */
};

static void deliver_one(void *sub, void *userdata)
{
	struct conn *c = sub;
	struct delivery *d = userdata;

	/* A closing or doomed connection has left the index already (conn_close_after_flush,
	 * conn_free); these checks are the backstop, so is the identity check below. */
	if (c->doomed || c->close_after_flush || !c->ident || c->last_stamp == d->r->stamp)
		return;
	c->last_stamp = d->r->stamp;
	/* Subscriptions were checked when made and on every reload. */
	if (!policy_may_receive(d->r->policy, c->ident, d->owner, d->type, d->type_len))
		return;
	if (conn_push(d->r, c, d->buf, true) != 0)
		return;
	d->r->counters.delivered++;
	/* Out of memory here only means this receiver's answer will not count. */
	if (d->call)
		calls_add_target(d->r->calls, d->call, c->serial);
}

static bool may_send(struct router *r, struct conn *c, const char *type, size_t type_len)
{
	const struct identity *owner = policy_namespace_owner(r->policy, type, type_len);

	if (policy_may_send(r->policy, c->ident, owner, type, type_len))
		return true;
	r->counters.denied_send++;
	log_refusal(r, c, "denied_send", type);
	if (owner && owner != c->ident && identity_may_send(c->ident, type, type_len))
		conn_send_error(r, c, "denied", "this type is in another identity's namespace: only the dispatcher or a grant "
				"lets an identity send there", type, NULL);
	else
		conn_send_error(r, c, "denied", "the manifest does not allow sending this type", type, NULL);
	return false;
}

void router_deliver(struct router *r, struct msgbuf *buf, const char *type, size_t type_len, uint64_t call)
{
	struct delivery d = { .r = r, .buf = buf, .type = type, .type_len = type_len, .call = call,
			      .owner = policy_namespace_owner(r->policy, type, type_len) };

	r->counters.messages++;
	r->stamp++;
	subindex_match(r->subs, type, type_len, deliver_one, &d);
}

/* A message the router accepted but cannot deliver: its sender hears why, in order with
 * everything else it is answered, so a later ping still confirms every earlier send. */
static void refuse_undeliverable(struct router *r, struct conn *c, const char *type, int err)
{
	bool too_large = err == -EMSGSIZE;
	if (too_large)
		r->counters.too_large++;
	log_refusal(r, c, too_large ? "too_large" : "internal", type);
	conn_send_error(r, c, too_large ? "too_large" : "internal",
			too_large ? "message above the 16 MiB frame limit once stamped with its sender" :
				    "out of memory: message dropped",
			type, NULL);
}

/* The tree path: messages the scan left to envelope_parse. */
static void route_message(struct router *r, struct conn *c, struct envelope *env, const uint8_t *raw, size_t raw_len)
{
	const char *type = env->type;
	size_t type_len = strlen(type);

	if (!may_send(r, c, type, type_len))
		return;
	struct call_fields f;
	call_fields_from_tree(env->context, &f);
	struct call_msg m = { .type = type, .type_len = type_len, .env = env, .raw = raw, .raw_len = raw_len };
	if (call_route(r, c, &m, &f))
		return;
	size_t len = 0;
	_cleanup_free_ char *text = envelope_serialize_raw(env, raw, raw_len, c->session.id, &len);
	if (!text || len > FRAME_MAX_BODY_HARD) {
		refuse_undeliverable(r, c, type, text ? -EMSGSIZE : -ENOMEM);
		return;
	}
	struct msgbuf *buf = msgbuf_new(text, len);
	if (!buf) {
		refuse_undeliverable(r, c, type, -ENOMEM);
		return;
	}
	router_deliver(r, buf, type, type_len, 0);
	msgbuf_unref(buf);
}

/* The common path: a message envelope_scan accepted is stamped straight from its bytes into the
 * buffer every receiver shares, with no tree and no copy in between. */
static void route_scanned(struct router *r, struct conn *c, const struct envelope_view *view, const struct frame_view *v)
{
	char type[ENVELOPE_TYPE_MAX + 1];

	memcpy(type, v->body + view->type_off, view->type_len);
	type[view->type_len] = '\0';
	int charge = conn_charge(r, c, v->total_len);
	if (charge != 0) {
		/* Rare: parse the whole message for the request id a refusal echoes. */
		_cleanup_(envelope_clear) struct envelope env = { 0 };
		const char *why = NULL;
		bool parsed = envelope_parse(v->body, v->body_len, r->cfg->max_depth, &env, &why) == 0;
		refuse_charge(r, c, charge, type, parsed ? cJSON_GetObjectItemCaseSensitive(env.data, "request") : NULL);
		return;
	}
	if (!may_send(r, c, type, view->type_len))
		return;
	struct call_fields f;
	call_fields_from_view(view, v->body, &f);
	struct call_msg m = { .type = type, .type_len = view->type_len, .view = view, .body = v->body, .raw = v->body,
			      .raw_len = v->body_len };
	if (call_route(r, c, &m, &f))
		return;
	struct msgbuf *buf = msgbuf_alloc(envelope_stamped_size(v->body_len, c->session.id));
	if (!buf) {
		refuse_undeliverable(r, c, type, -ENOMEM);
		return;
	}
	size_t len = envelope_write_stamped(view, v->body, c->session.id, (char *)buf->data);
	if (len <= FRAME_MAX_BODY_HARD) {
		buf->len = (uint32_t)len;
		router_deliver(r, buf, type, view->type_len, 0);
	} else {
		refuse_undeliverable(r, c, type, -EMSGSIZE);
	}
	msgbuf_unref(buf);
}

static bool lookup_key(void *userdata, const char *id, uint8_t key[CAPBUS_KEY_LEN])
{
	struct router *r = userdata;
	const struct identity *ident = policy_find(r->policy, id);

	/* The gateway's key opens delegated sessions only, and an identity whose manifest leaves
	 * "socket" out of "transports" has no login of its own. */
	if (!ident || !ident->has_key || !identity_native_login(ident))
		return false;
	memcpy(key, ident->key, CAPBUS_KEY_LEN);
	return true;
}

/* Counts a just-authenticated c against its identity. False when it may not stay: its identity
 * already holds max_identity_connections (c is told why, after the handshake so the refusal is
 * authenticated, and closed), or no memory. */
static bool count_identity_conn(struct router *r, struct conn *c)
{
	uint64_t suppressed;

	if (id_usage_get(&r->usage, c->session.id, &c->usage) < 0) {
		conn_doom(r, c, "out_of_memory");
		return false;
	}
	if (c->usage->conns < r->cfg->max_identity_connections) {
		c->usage->conns++;
		c->conn_counted = true;
		return true;
	}
	r->counters.refused_identity_connections++;
	if (log_ratelimit_ok(&r->rl_conn, r->now_ms, &suppressed))
		log_event(LOG_LEVEL_WARNING, "connection_refused",
			  "reason=identity_connections id=%s pid=%d uid=%u limit=%u suppressed=%llu", LOG_Q(c->session.id),
			  (int)c->pid, (unsigned)c->uid, r->cfg->max_identity_connections, (unsigned long long)suppressed);
	conn_send_error(r, c, "quota", "this identity has max_identity_connections connections already", NULL, NULL);
	conn_close_after_flush(r, c);
	return false;
}

static void handle_auth(struct router *r, struct conn *c, const struct frame_view *v)
{
	uint8_t reply[HS_DRESULT_MAX];
	size_t reply_len = 0;
	struct hs_session session;
	struct hs_delegation d = { 0 };
	struct delegate_ctx dx = { .policy = r->policy, .mode = &r->gateway, .cgroup_id = c->cgroup_id, .uid = c->uid,
				   .adopted = c->expected_id[0] != '\0', .checked = HS_DSTATUS_OK, .why = "" };
	uint64_t suppressed;
	bool delegated = hs_is_delegated_auth(v->body, v->body_len);

	memset(&session, 0, sizeof(session));
	int ret = delegated ? hs_server_dauth(&c->hs, v->body, v->body_len, delegate_check, &dx, &d, &session, reply,
					      &reply_len) :
			      hs_server_auth(&c->hs, v->body, v->body_len, lookup_key, r, &session, reply, &reply_len);
	if (ret == HS_MALFORMED) {
		r->counters.malformed++;
		conn_doom(r, c, "malformed_handshake");
		return;
	}
	struct msgbuf *b = msgbuf_new(reply, reply_len);
	if (b) {
		conn_push(r, c, b, false);
		msgbuf_unref(b);
	}
	if (ret == HS_REJECTED && delegated) {
		r->counters.delegation_refused++;
		if (log_ratelimit_ok(&r->rl_auth, r->now_ms, &suppressed))
			log_event(LOG_LEVEL_WARNING, "delegation_refused",
				  "status=%u reason=%s gateway=%s id=%s via=%s peer=%s pid=%d uid=%u suppressed=%llu",
				  (unsigned)reply[HS_MAGIC_LEN], delegate_reason(&dx, reply[HS_MAGIC_LEN]),
				  LOG_Q(d.gateway_id), LOG_Q(d.subject_id), delegate_via_name(d.via), LOG_Q(d.peer), (int)c->pid,
				  (unsigned)c->uid, (unsigned long long)suppressed);
		conn_close_after_flush(r, c);
		return;
	}
	if (ret == HS_REJECTED) {
		r->counters.auth_failed++;
		if (log_ratelimit_ok(&r->rl_auth, r->now_ms, &suppressed))
			log_event(LOG_LEVEL_WARNING, "auth_failed", "id=%s pid=%d uid=%u suppressed=%llu",
				  LOG_Q(session.id[0] ? session.id : "?"), (int)c->pid, (unsigned)c->uid,
				  (unsigned long long)suppressed);
		conn_close_after_flush(r, c);
		return;
	}
	if (c->expected_id[0] && !streq(c->expected_id, session.id)) {
		/* A skill presenting someone else's key: refuse, whatever the key. */
		r->counters.auth_failed++;
		log_event(LOG_LEVEL_WARNING, "auth_failed", "reason=wrong_identity expected=%s id=%s pid=%d",
			  LOG_Q(c->expected_id), LOG_Q(session.id), (int)c->pid);
		sodium_memzero(&session, sizeof(session));
		conn_doom(r, c, NULL);
		return;
	}
	c->session = session;
	sodium_memzero(&session, sizeof(session));
	sodium_memzero(&c->hs, sizeof(c->hs));
	c->ident = policy_find(r->policy, c->session.id);
	c->state = CONN_READY;
	conn_release_slots(r, c); /* its pending-handshake slot */
	c->tokens_ms = r->now_ms;
	c->msg_tokens = (uint64_t)c->ident->msg_rate * 1000;
	if (c->ident->msg_rate == UINT32_MAX)
		c->msg_tokens = 0;
	c->byte_tokens = r->cfg->byte_rate;
	if (!count_identity_conn(r, c))
		return;
	r->counters.authenticated++;
	if (!delegated) {
		log_event(LOG_LEVEL_INFO, "authenticated", "id=%s pid=%d uid=%u", LOG_Q(c->session.id), (int)c->pid,
			  (unsigned)c->uid);
		return;
	}
	c->via_gateway = true;
	memcpy(c->peer_desc, d.peer, sizeof(c->peer_desc));
	r->counters.delegated++;
	log_event(LOG_LEVEL_INFO, "authenticated", "id=%s via=gateway method=%s peer=%s pid=%d uid=%u",
		  LOG_Q(c->session.id), delegate_via_name(d.via), LOG_Q(d.peer), (int)c->pid, (unsigned)c->uid);
	if (d.flags & HS_DFLAG_SUB_PERMITTED) {
		/* Mycroft clients hear the whole bus: "*" here, and delivery still goes through the
		 * manifest's receive list (router_deliver), so it is exactly what the identity may hear.
		 * It takes one subscription of the identity's quota like any other. */
		c->sub_permitted = true;
		int sr = router_subscribe(r, c, "*");
		if (sr < 0)
			conn_doom(r, c, "out_of_memory");
		else if (sr > 0)
			conn_send_error(r, c, "quota", "no subscription left for \"*\"", "*", NULL);
	}
}

static void handle_frame(struct router *r, struct conn *c, const struct frame_view *v)
{
	_cleanup_(envelope_clear) struct envelope env = { 0 };
	const char *why = NULL;

	if (c->close_after_flush || (c->state == CONN_READY && !c->ident))
		return; /* on its way out: ignore whatever else it sends */
	if (c->state == CONN_CHECKING) {
		conn_doom(r, c, "spoke_before_hello");
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		handle_auth(r, c, v);
		return;
	}
	if (!mac_verify(&c->session.rx, v->header, v->body, v->body_len, v->tag)) {
		/* Tampered, replayed or reordered: nothing more from this stream can be trusted. */
		r->counters.bad_mac++;
		conn_doom(r, c, "bad_mac");
		return;
	}
	struct envelope_view view;
	if (envelope_scan(v->body, v->body_len, r->cfg->max_depth, &view) == 0 &&
	    !(view.type_len > 7 && memcmp(v->body + view.type_off, "capbus.", 7) == 0)) {
		route_scanned(r, c, &view, v);
		return;
	}
	int ret = envelope_parse(v->body, v->body_len, r->cfg->max_depth, &env, &why);
	if (ret != 0) {
		r->counters.malformed++;
		log_refusal(r, c, "malformed", NULL);
		conn_send_error(r, c, "malformed", why ? why : "malformed message", NULL, NULL);
		return;
	}
	/* Every frame costs tokens, bus requests included, so none of them can be used to flood. */
	if (!charge_ok(r, c, &env, v->total_len))
		return;
	if (startswith(env.type, "capbus.")) {
		control_handle(r, c, &env);
		return;
	}
	route_message(r, c, &env, v->body, v->body_len);
}

/* Reads once and routes every whole frame. True when it read bytes (there may be more). */
static bool conn_readable(struct router *r, struct conn *c)
{
	uint32_t tag_len;
	size_t off = 0;

	if (!c->in) {
		c->in_cap = READ_CHUNK;
		c->in = malloc(c->in_cap);
		if (!c->in) {
			conn_doom(r, c, "out_of_memory");
			return false;
		}
	}
	ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return false;
		conn_doom(r, c, NULL);
		return false;
	}
	c->in_len += (uint32_t)n;
	while (!c->doomed) {
		struct frame_view v;
		size_t needed = 0;
		tag_len = c->state == CONN_READY ? FRAME_TAG_LEN : 0;
		if (c->state == CONN_CHECKING) {
			conn_doom(r, c, "spoke_before_hello");
			return false;
		}
		uint32_t max = c->state == CONN_READY ? r->cfg->max_frame : HS_CLIENT_MSG_MAX;
		int ret = frame_parse(c->in + off, c->in_len - off, max, tag_len, &v, &needed);
		if (ret == FRAME_INCOMPLETE) {
			/* Grow only to what the declared (already bounded) frame needs. */
			int g = needed > c->in_cap ? conn_in_grow(r, c, needed) : 0;
			if (g == -ENOBUFS) {
				r->counters.refused_partial++;
				conn_doom(r, c, "partial_limit");
				conn_in_free(r, c);
				return false;
			}
			if (g < 0) {
				conn_doom(r, c, "out_of_memory");
				return false;
			}
			break;
		}
		if (ret != FRAME_OK) {
			r->counters.too_large += ret == FRAME_TOO_LARGE;
			r->counters.malformed += ret != FRAME_TOO_LARGE;
			if (c->state == CONN_READY) {
				conn_send_error(r, c, ret == FRAME_TOO_LARGE ? "too_large" : "malformed",
						ret == FRAME_TOO_LARGE ? "frame larger than the daemon's max_frame" :
									 "empty frame",
						NULL, NULL);
				conn_close_after_flush(r, c);
				log_refusal(r, c, ret == FRAME_TOO_LARGE ? "too_large" : "malformed", NULL);
				c->in_len = 0;
				return false;
			}
			conn_doom(r, c, ret == FRAME_TOO_LARGE ? "oversized_handshake" : "malformed_handshake");
			return false;
		}
		handle_frame(r, c, &v);
		off += v.total_len;
		if (c->close_after_flush)
			break;
	}
	if (c->doomed || c->close_after_flush) {
		c->in_len = 0;
	} else if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= (uint32_t)off;
	}
	if (c->in_len == 0) {
		conn_in_free(r, c);
	} else if (c->state == CONN_READY && (off > 0 || !c->frame_deadline_ms)) {
		/* A frame has started: the rest is due within the timeout, or timer_tick closes it.
		 * The clock restarts only when a frame completes, not with every byte of a slow one. */
		c->frame_deadline_ms = r->now_ms + r->cfg->handshake_timeout_ms;
	}
	return !c->doomed;
}

/* Registers a new connection (accepted, or a launched skill's) and greets it. */
void conn_greet(struct router *r, struct conn *c)
{
	uint8_t hello[HS_HELLO_LEN];

	c->state = CONN_HANDSHAKE;
	hs_server_hello(&c->hs, hello);
	struct msgbuf *b = msgbuf_new(hello, sizeof(hello));
	if (b) {
		conn_push(r, c, b, false);
		msgbuf_unref(b);
	}
}

/* Registers a new connection and greets it, or (accepted, with peer checks on) first asks the
 * parent whether the peer may be here at all. */
struct conn *conn_new(struct router *r, int fd, pid_t pid, uid_t uid, uint64_t cgroup_id, bool accepted)
{
	/* No descriptor may travel over the bus (kernels that know SO_PASSRIGHTS). */
	int zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero));
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->watch.kind = WATCH_CONN;
	c->fd = fd;
	c->serial = ++r->next_serial;
	c->pid = pid;
	c->uid = uid;
	c->cgroup_id = cgroup_id;
	c->state = CONN_HANDSHAKE;
	c->deadline_ms = r->now_ms + r->cfg->handshake_timeout_ms;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->watch };
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		free(c);
		return NULL;
	}
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	r->n_conns++;
	r->counters.accepted++;
	if (accepted) {
		/* accept_clients() decided there is a slot for this peer. */
		if (pending_add(&r->pending, uid, cgroup_id) < 0) {
			conn_doom(r, c, "out_of_memory");
			return c;
		}
		c->pending_counted = true;
	}
	if (!accepted || !r->peer_check) {
		conn_greet(r, c);
		return c;
	}
	c->state = CONN_CHECKING;
	struct ps_peer_check pc = { .serial = c->serial, .uid = uid, .pid = pid, .cgroup_id = cgroup_id };
	if (router_ps_send(r, PS_PEER_CHECK, &pc, sizeof(pc), NULL, 0, -1) < 0)
		conn_doom(r, c, "peer_check_unavailable");
	return c;
}

/* The peer's cgroup, read at accept through a pidfd: it names this very process even if the pid
 * is reused later, and it stays readable after the process exits (until it is reaped). 0 in
 * *cgroup_id when the kernel cannot say (older kernels); -ESRCH when the peer is already gone. */
static int peer_cgroup(int fd, uint64_t *cgroup_id)
{
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);

	*cgroup_id = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0 || pidfd < 0)
		return 0;
	int ret = cgroup_id_of_pidfd(pidfd, cgroup_id);
	close(pidfd);
	if (ret == -ESRCH)
		return ret;
	if (ret < 0)
		*cgroup_id = 0;
	return 0;
}

static void log_refused(struct router *r, const char *reason, const struct ucred *cred, uint64_t cgroup_id)
{
	uint64_t suppressed;

	r->counters.refused_connections++;
	if (log_ratelimit_ok(&r->rl_conn, r->now_ms, &suppressed))
		log_event(LOG_LEVEL_WARNING, "connection_refused", "reason=%s pid=%d uid=%u cgroup=%llu suppressed=%llu",
			  reason, (int)cred->pid, (unsigned)cred->uid, (unsigned long long)cgroup_id,
			  (unsigned long long)suppressed);
}

/* Closes the oldest connection of `victim` still in the handshake, so that a peer holding fewer
 * slots gets one (pending_decide). */
static void evict_pending(struct router *r, const struct pending_peer *victim, const struct ucred *cred,
			  uint64_t cgroup_id)
{
	struct conn *oldest = NULL;
	uint64_t suppressed;

	for (struct conn *c = r->conns; c; c = c->next) /* newest first */
		if (c->pending_counted && c->uid == victim->uid && c->cgroup_id == victim->cgroup)
			oldest = c;
	assert(oldest);
	r->counters.evicted_pending++;
	if (log_ratelimit_ok(&r->rl_conn, r->now_ms, &suppressed))
		log_event(LOG_LEVEL_WARNING, "pending_evicted",
			  "uid=%u cgroup=%llu held=%u for_uid=%u for_cgroup=%llu suppressed=%llu", (unsigned)victim->uid,
			  (unsigned long long)victim->cgroup, victim->n, (unsigned)cred->uid,
			  (unsigned long long)cgroup_id, (unsigned long long)suppressed);
	conn_doom(r, oldest, NULL);
}

static void accept_clients(struct router *r)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				uint64_t suppressed;
				if (log_ratelimit_ok(&r->rl_conn, r->now_ms, &suppressed))
					log_event(LOG_LEVEL_ERROR, "accept_failed", "error=%s", LOG_Q(strerror(errno)));
			}
			return;
		}
		struct ucred cred = { .uid = (uid_t)-1 };
		socklen_t len = sizeof(cred);
		uint64_t cgroup_id;
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		if (peer_cgroup(fd, &cgroup_id) == -ESRCH) {
			/* The peer is gone: nobody can be checked, nobody is served (not a refusal). */
			r->counters.peer_gone++;
			close(fd);
			continue;
		}
		if (r->n_conns >= r->cfg->max_connections) {
			log_refused(r, "max_connections", &cred, cgroup_id);
			close(fd);
			continue;
		}
		struct pending_peer victim;
		enum pending_verdict verdict = pending_decide(&r->pending, &r->pending_limits, cred.uid, cgroup_id, &victim);
		if (verdict == PENDING_EVICT) {
			evict_pending(r, &victim, &cred, cgroup_id);
		} else if (verdict != PENDING_ADMIT) {
			r->counters.refused_pending++;
			log_refused(r, pending_verdict_name(verdict), &cred, cgroup_id);
			close(fd);
			continue;
		}
		conn_new(r, fd, cred.pid, cred.uid, cgroup_id, true);
	}
}

static void timer_tick(struct router *r)
{
	uint64_t expirations;
	if (read(r->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	for (struct conn *c = r->conns; c; c = c->next) {
		if (c->doomed || r->now_ms <= c->deadline_ms)
			continue;
		if (c->state != CONN_READY) {
			r->counters.handshake_timeouts++;
			conn_doom(r, c, "handshake_timeout");
		} else if (c->close_after_flush) {
			conn_doom(r, c, "close_timeout");
		}
	}
	for (struct conn *c = r->conns; c; c = c->next) {
		if (c->doomed || !c->frame_deadline_ms || r->now_ms <= c->frame_deadline_ms)
			continue;
		r->counters.frame_timeouts++;
		conn_doom(r, c, "frame_timeout");
		conn_in_free(r, c);
	}
	call_expire(r);
}

/* End of an iteration: write what was queued, then free what was closed (flushing may close),
 * then answer the calls those closes left without an answerer (which queues more). */
/* A write to c failed: its peer stopped reading (it closed, or half-closed). What it sent
 * before is still in the socket and counts as sent: route every whole frame of it, then drop the
 * connection. A bounded number of reads (a socket buffer's worth and more), so that a peer that
 * keeps writing cannot hold the router here. */
static void conn_write_failed(struct router *r, struct conn *c)
{
	c->write_lost = true;
	for (int i = 0; i < 256 && !c->doomed && !c->close_after_flush && conn_readable(r, c); i++)
		;
	conn_doom(r, c, NULL);
}

static void flush_all(struct router *r)
{
	do {
		while (r->outq.flush_head) {
			struct conn *c = r->outq.flush_head;
			r->outq.flush_head = c->flush_next;
			c->in_flush_list = false;
			if (!c->doomed && outq_flush(&r->outq, c) != 0)
				conn_write_failed(r, c); /* a dead peer, or closed after its last frame */
		}
		while (r->dead_head) {
			struct conn *c = r->dead_head;
			r->dead_head = c->dead_next;
			conn_free(r, c);
		}
		call_orphans(r);
	} while (r->outq.flush_head || r->dead_head);
}

static int router_setup(struct router *r, const struct ps_router_config *cfg, int listen_fd, int ps_fd)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->listen_fd = listen_fd;
	r->ps_fd = ps_fd;
	r->w_listen.kind = WATCH_LISTEN;
	r->w_parent.kind = WATCH_PARENT;
	r->w_timer.kind = WATCH_TIMER;
	r->rl_auth = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 10);
	r->rl_conn = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 10);
	r->rl_client = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 20);
	r->ps_buf = malloc(PS_MSG_MAX);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!r->ps_buf || r->epfd < 0 || r->timer_fd < 0 || subindex_new(&r->subs) < 0 ||
	    calls_new(&r->calls, CALLS_MAX, CALLS_PER_IDENTITY) < 0)
		return -ENOMEM;
	r->outq = (struct outq_ctx){ .epfd = r->epfd, .max_queue = cfg->max_queue };
	r->pending_limits = (struct pending_limits){
		.total = cfg->max_pending, .per_uid = cfg->max_pending_per_uid, .per_peer = cfg->max_pending_per_peer,
	};
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L }, .it_value = { 0, TICK_MS * 1000000L } };
	timerfd_settime(r->timer_fd, 0, &its, NULL);
	/* The listening socket is watched only once a policy is in force (policy_swap): until then
	 * clients wait in the backlog instead of failing to authenticate. */
	struct { int fd; struct watch *w; } watches[] = {
		{ ps_fd, &r->w_parent }, { r->timer_fd, &r->w_timer },
	};
	for (size_t i = 0; i < ARRAY_SIZE(watches); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = watches[i].w };
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, watches[i].fd, &ev) < 0)
			return negative_errno();
	}
	return 0;
}

static void router_teardown(struct router *r)
{
	while (r->conns)
		conn_free(r, r->conns);
	pending_clear(&r->pending);
	id_usage_clear(&r->usage);
	policy_free(r->policy);
	policy_builder_free(r->building);
	subindex_free(r->subs);
	calls_free(r->calls);
	control_clear(&r->control);
	free(r->skills);
	while (r->ps_out_head) {
		struct ps_out *o = r->ps_out_head;
		r->ps_out_head = o->next;
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
	free(r->ps_buf);
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->timer_fd >= 0)
		close(r->timer_fd);
}

int router_main(const struct ps_router_config *cfg, int listen_fd, int ps_fd)
{
	struct router r;
	struct epoll_event events[EVENTS_MAX];

	log_setup((enum log_level)cfg->log_level, "router");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	int ret = router_setup(&r, cfg, listen_fd, ps_fd);
	if (ret < 0) {
		log_event(LOG_LEVEL_ERROR, "router_setup_failed", "error=%s", LOG_Q(strerror(-ret)));
		return 1;
	}
	ret = confine_router(cfg);
	if (ret < 0) {
		/* Fail closed: a router that could not shed its privileges serves nobody. */
		log_event(LOG_LEVEL_ERROR, "confine_failed", "error=%s", LOG_Q(strerror(-ret)));
		router_teardown(&r);
		return 1;
	}
	/* Only now, confined, does the parent hear from us (and only now are clients accepted: the
	 * listening socket is watched once the first policy bundle is in force). */
	router_ps_send(&r, PS_ROUTER_READY, NULL, 0, NULL, 0, -1);
	while (!r.stop) {
		int n = epoll_wait(r.epfd, events, EVENTS_MAX, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		r.now_ms = monotonic_ms();
		for (int i = 0; i < n; i++) {
			struct watch *w = events[i].data.ptr;
			switch (w->kind) {
			case WATCH_LISTEN:
				accept_clients(&r);
				break;
			case WATCH_PARENT:
				if (events[i].events & EPOLLOUT)
					router_ps_flush(&r);
				if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					router_parent_message(&r);
				break;
			case WATCH_TIMER:
				timer_tick(&r);
				break;
			case WATCH_CONN: {
				struct conn *c = (struct conn *)w;
				if (c->doomed)
					break;
				if (events[i].events & EPOLLOUT && outq_flush(&r.outq, c) != 0)
					conn_write_failed(&r, c);
				if (!c->doomed && events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					conn_readable(&r, c);
				break;
			}
			default:
				break;
			}
		}
		flush_all(&r);
	}
	router_teardown(&r);
	return r.exit_code;
}
