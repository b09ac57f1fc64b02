/* SPDX-License-Identifier: MIT */
/* callroute.h - request/response through the router: calls bound to their caller.
 *
 * Trust level: router (unprivileged); the context fields read here come from hostile clients.
 * A routed message whose context carries "call_id" is a call (the caller's own id) or the answer
 * to one (an id the router gave the request). The router replaces the caller's id by its own on
 * the way to the receivers, accepts one reply of the reply type from a connection the request
 * reached, and delivers it to the caller alone, marked with context "bound_call" (a field only
 * the router writes: it is removed from every message a client sends). The table itself is
 * calls.c; this module reads the fields, writes the stamped bytes and does the sending. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "router/calls.h"
#include "router/conn.h"

struct router;

/* Fixed limits (capbusd(8), docs/protocol.md). */
#define CALLS_PER_IDENTITY 64       /* pending calls of one identity */
#define CALLS_MAX 8192              /* pending calls in the whole router */
#define CALL_TIMEOUT_DEFAULT_MS 30000
#define CALL_TIMEOUT_MAX_MS 300000

/* What a message's context says about calls. */
struct call_fields {
	bool has_call_id;     /* "call_id" is present (whatever its value) */
	bool has_bound;       /* "bound_call" is present: always removed */
	bool call_id_ok;      /* a string without escapes, at most CALL_ID_MAX bytes */
	char call_id[CALL_ID_MAX + 1];
	bool has_reply_type, reply_type_ok;
	char reply_type[CALL_TYPE_MAX + 1];
	bool has_timeout, timeout_ok;
	uint64_t timeout_ms;
};

/* A message on its way through the router, in whichever form it was read: scanned (view and
 * body) or parsed (env, with raw the bytes it was parsed from). */
struct call_msg {
	const char *type;
	size_t type_len;
	const struct envelope_view *view;
	const uint8_t *body;
	struct envelope *env;
	const uint8_t *raw;
	size_t raw_len;
};

void call_fields_from_view(const struct envelope_view *v, const uint8_t *body, struct call_fields *out);
void call_fields_from_tree(const cJSON *context, struct call_fields *out);

/* Routes m from c (its send permission already checked) when its fields ask for the call path
 * (has_call_id or has_bound); returns false, doing nothing, for an ordinary message. */
bool call_route(struct router *r, struct conn *c, const struct call_msg *m, const struct call_fields *f);

/* Answers the callers of calls past their deadline (timer tick) and of calls that lost their
 * last possible answerer (after connections were freed). */
void call_expire(struct router *r);
void call_orphans(struct router *r);
