/* SPDX-License-Identifier: MIT */
/* router.h - the unprivileged half of capbusd: every client byte is parsed here.
 *
 * router_main() is the program's entry (router/main.c). The rest is what router.c offers the
 * router's other modules, on a struct router they do not see into (router-internal.h). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/privsep.h"
#include "envelope.h"
#include "router/conn.h"
#include "router/policy.h"

struct router;
struct control;

/* Drops privileges, confines itself, tells the parent it is ready, and serves listen_fd until
 * SIGTERM or the parent goes away. ps_fd is the channel to the privileged parent, cfg what the
 * parent sent first on it. Returns the exit code (non-zero after a protocol violation). */
int router_main(const struct ps_router_config *cfg, int listen_fd, int ps_fd);

struct counters {
	uint64_t accepted, refused_connections, authenticated, auth_failed, handshake_timeouts, frame_timeouts, refused_partial;
	uint64_t malformed, too_large, bad_mac, denied_send, denied_subscribe, rate_limited, quota;
	uint64_t slow_consumers, delivered, messages, revoked, peer_denied, peer_gone;
	uint64_t admin_refused; /* admin requests the parent refused for want of authority */
	uint64_t calls, call_replies, call_timeouts, call_no_responder, call_refused;
	/* refused_connections counts every refusal at accept; these say which limit refused. */
	uint64_t refused_pending, evicted_pending, refused_identity_connections, refused_subscriptions;
	/* delegated sessions opened (AUTH_D accepted) and refused (RESULT_D status 1, 2 or 3) */
	uint64_t delegated, delegation_refused;
};

/* Registers a new connection and greets it. accepted: it came through the listening socket, so it
 * takes a pending-handshake slot of its peer (uid, cgroup_id) and, when the parent checks peers,
 * waits for that check first; otherwise it is a launched skill's connection. */
struct conn *conn_new(struct router *r, int fd, pid_t pid, uid_t uid, uint64_t cgroup_id, bool accepted);
/* Sends the handshake's HELLO: the connection may now authenticate. */
void conn_greet(struct router *r, struct conn *c);
/* Queues buf for c (outq_push); a slow consumer or a failed allocation costs c its connection. */
int conn_push(struct router *r, struct conn *c, struct msgbuf *buf, bool sign);
int conn_send_envelope(struct router *r, struct conn *c, cJSON *root);
/* A bus.error with data.code and data.message and an empty context, for the caller to complete
 * (data and ctx point into it; the daemon's context.sender goes last). NULL when out of memory. */
cJSON *error_envelope_new(const char *code, const char *message, cJSON **data, cJSON **ctx);
void conn_send_error(struct router *r, struct conn *c, const char *code, const char *message,
		     const char *type, const cJSON *request);
/* Takes one error frame from c's budget (50 a second): false when it is spent, unless `always`
 * (an answer the client waits for, which still uses up the budget). */
bool conn_error_budget(struct router *r, struct conn *c, bool always);
/* Closed at the end of this loop iteration; reason (if any) is logged, rate-limited. */
void conn_doom(struct router *r, struct conn *c, const char *reason);
/* Closed once what is queued for it is written, or at the handshake_timeout_ms deadline if the
 * peer does not read it; leaves the subscription index at once. */
void conn_close_after_flush(struct router *r, struct conn *c);
/* Its identity left the policy: told so (revoked), then closed like conn_close_after_flush.
 * c->ident is NULL from here on. */
void conn_lose_identity(struct router *r, struct conn *c);
struct conn *router_find_conn(struct router *r, uint64_t serial);
/* Adds pattern (validated and allowed) to c's subscriptions. 0 (also when already there),
 * ROUTER_SUB_CONN_FULL or ROUTER_SUB_IDENTITY_FULL when a subscription limit refuses it (counted
 * and logged here), or -ENOMEM. */
enum { ROUTER_SUB_CONN_FULL = 1, ROUTER_SUB_IDENTITY_FULL = 2 };
int router_subscribe(struct router *r, struct conn *c, const char *pattern);
void router_unsubscribe(struct router *r, struct conn *c, const char *pattern);

/* The policy in force (NULL until the first bundle), the counters, open connections, and the
 * state control.c keeps in the router. */
const struct policy *router_policy(const struct router *r);
struct counters *router_counters(struct router *r);
uint32_t router_n_conns(const struct router *r);
struct control *router_control(struct router *r);
