/* SPDX-License-Identifier: MIT */
/* router-internal.h - the router's state: seen by router.c and router-parent.c only.
 *
 * callroute.c includes it too (calls are routing). control.c and outq.c do not include this: they work through router/router.h, conn.h and
 * router-parent.h, so what they can touch is written down in those headers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/log.h"
#include "common/privsep.h"
#include "router/calls.h"
#include "router/conn.h"
#include "router/control.h"
#include "router/idusage.h"
#include "router/pending.h"
#include "router/policy.h"
#include "router/router-parent.h"
#include "router/router.h"
#include "router/subindex.h"

/* A packet for the parent that could not be sent at once (the router never blocks on it). */
struct ps_out {
	struct ps_out *next;
	int fd;      /* descriptor to pass along, or -1 */
	size_t len;
	uint8_t data[];
};

struct router {
	const struct ps_router_config *cfg; /* from the parent, before anything else */
	uint64_t partial_bytes;             /* grown input buffers of all connections (conn->in_counted) */
	int epfd, listen_fd, ps_fd, timer_fd;
	struct watch w_listen, w_parent, w_timer;
	struct policy *policy;
	struct policy_builder *building;
	uint64_t generation;
	struct subindex *subs;
	struct calls *calls;      /* pending calls (callroute.c) */
	struct conn *conns;
	uint32_t n_conns;
	struct pending_table pending;  /* accepted connections in the handshake, by kernel peer */
	struct pending_limits pending_limits;
	struct id_usage *usage;        /* per connected identity: connections and subscriptions */
	struct outq_ctx outq;    /* epoll, queue limit, connections with queued output this iteration */
	struct conn *dead_head;  /* connections to free at the end of this iteration */
	uint64_t stamp;
	uint64_t next_serial;
	struct ps_out *ps_out_head, *ps_out_tail;
	bool ps_want_out;
	struct control control;   /* control.c's own: admin requests waiting on the parent */
	uint64_t now_ms;
	uint8_t *ps_buf;
	bool stop;
	int exit_code;            /* 1 after a protocol violation by the parent */
	bool peer_check;          /* ask the parent about every accepted peer */
	struct ps_gateway_peer gateway; /* who may open delegated sessions (mode 0 until told) */
	struct counters counters;
	struct skill_status *skills; /* reported by the parent's supervisor */
	size_t n_skills;
	struct log_ratelimit rl_auth, rl_conn, rl_client;
};

/* Hands buf to every subscriber of type whose manifest lets it receive the type; call (a call's
 * router id, or 0) records the connections that got it. */
void router_deliver(struct router *r, struct msgbuf *buf, const char *type, size_t type_len, uint64_t call);
