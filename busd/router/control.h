/* SPDX-License-Identifier: MIT */
/* control.h - the bus's own requests (capbus.*) and the admin operations waiting on the parent.
 *
 * Trust level: router (unprivileged), on untrusted input. control.c reaches the rest of the
 * router only through the functions in router/router.h and router/router-parent.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/privsep.h"
#include "envelope.h"
#include "router/conn.h"

struct router;

#define ROUTER_MAX_PENDING_OPS 64

struct pending_op {
	uint64_t serial;        /* privsep request serial */
	uint64_t op;            /* groups the requests of one admin command */
	uint64_t conn_serial;
	double request;         /* the client's data.request */
	char reply_type[64];
	bool final;
	char id[PS_ID_LEN];
	bool keygen;
	bool nonce;             /* capbus.nonce: answered by PS_NONCE */
	bool logs;              /* capbus.logs: answered by PS_LOGS */
};

/* Requests sent to the parent and not answered yet. */
struct control {
	struct pending_op *ops;
	size_t n_ops, cap_ops;
	uint64_t next_ps;       /* serial of the last privsep request */
};

void control_handle(struct router *r, struct conn *c, struct envelope *env);
void control_parent_reply(struct router *r, const struct ps_reply *rep);
void control_conn_gone(struct router *r, struct conn *c);
void control_guard_info(struct router *r, const struct ps_guard_info *info);
void control_nonce(struct router *r, const struct ps_nonce *n);
/* The parent's answer to capbus.logs: the records in text (text_len bytes) become the reply. */
void control_logs(struct router *r, const struct ps_logs *l, const char *text, size_t text_len);
/* Frees what is pending (at the router's end). */
void control_clear(struct control *ctl);
