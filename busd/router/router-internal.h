/* SPDX-License-Identifier: MIT */
/* router-internal.h - state shared by the router's modules (router.c, control.c, outq.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"
#include "envelope.h"
#include "handshake.h"
#include "common/log.h"
#include "router/policy.h"
#include "router/subindex.h"

enum watch_kind { WATCH_CONN, WATCH_LISTEN, WATCH_PARENT, WATCH_TIMER, WATCH_SIGNAL };

struct watch {
	enum watch_kind kind;
};

/* One message body shared by every receiver's queue. */
struct msgbuf {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

struct outq_entry {
	struct msgbuf *buf;
	uint8_t hdr[4];
	uint8_t tag[16];
	uint8_t tag_len; /* 0 during the handshake */
	uint32_t sent;   /* bytes of hdr+body+tag already written */
};

enum conn_state { CONN_CHECKING, CONN_HANDSHAKE, CONN_READY }; /* CHECKING: the parent's peer check is pending */

struct conn {
	struct watch watch;
	int fd;
	enum conn_state state;
	bool doomed;             /* closed at the end of this loop iteration */
	bool close_after_flush;  /* closed once its queue is written */
	bool in_flush_list;
	bool want_out;           /* EPOLLOUT armed */
	uint64_t serial;
	pid_t pid;
	uid_t uid;
	uint64_t deadline_ms;    /* handshake deadline */
	struct hs_server hs;
	struct hs_session session;
	const struct identity *ident;
	char expected_id[PS_ID_LEN]; /* adopted skill connections: the only identity accepted */
	char **subs;             /* subscribed patterns */
	uint32_t n_subs;
	uint8_t *in;             /* allocated only while bytes are pending */
	uint32_t in_len, in_cap;
	struct outq_entry *q;    /* ring, allocated only while non-empty */
	uint32_t q_head, q_len, q_cap;
	uint64_t q_bytes;
	uint64_t last_stamp;     /* delivery dedup */
	uint64_t tokens_ms;      /* last refill */
	uint64_t msg_tokens;     /* milli-messages */
	uint64_t byte_tokens;    /* bytes */
	uint32_t err_budget;     /* error frames left this second */
	uint64_t err_window_ms;
	struct conn *prev, *next;
	struct conn *flush_next; /* intrusive: no allocation can fail on these paths */
	struct conn *dead_next;
};

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
};

/* A packet for the parent that could not be sent at once (the router never blocks on it). */
struct ps_out {
	struct ps_out *next;
	int fd;      /* descriptor to pass along, or -1 */
	size_t len;
	uint8_t data[];
};

#define ROUTER_MAX_PENDING_OPS 64

struct counters {
	uint64_t accepted, refused_connections, authenticated, auth_failed, handshake_timeouts;
	uint64_t malformed, too_large, bad_mac, denied_send, denied_subscribe, rate_limited, quota;
	uint64_t slow_consumers, delivered, messages, revoked, peer_denied, peer_gone;
	uint64_t admin_refused; /* admin requests the parent refused for want of authority */
};

struct skill_status {
	struct ps_skill_state st;
};

struct router {
	const struct config *cfg;
	int epfd, listen_fd, ps_fd, timer_fd;
	struct watch w_listen, w_parent, w_timer;
	struct policy *policy;
	struct policy_builder *building;
	uint64_t generation;
	struct subindex *subs;
	struct conn *conns;
	uint32_t n_conns, n_pending;
	struct conn *flush_head; /* connections with queued output this iteration */
	struct conn *dead_head;  /* connections to free at the end of this iteration */
	uint64_t stamp;
	uint64_t next_serial;
	uint64_t next_ps;
	struct ps_out *ps_out_head, *ps_out_tail;
	bool ps_want_out;
	struct pending_op *ops;
	size_t n_ops, cap_ops;
	uint64_t now_ms;
	uint8_t *ps_buf;
	bool stop;
	bool peer_check;          /* ask the parent about every accepted peer */
	struct counters counters;
	struct skill_status *skills; /* reported by the parent's supervisor */
	size_t n_skills;
	struct log_ratelimit rl_auth, rl_conn, rl_client;
};

/* router.c */
/* Registers a new connection and greets it, or first asks the parent to check the peer. */
struct conn *conn_new(struct router *r, int fd, pid_t pid, uid_t uid, bool check_peer);
/* Sends the handshake's HELLO: the connection may now authenticate. */
void conn_greet(struct router *r, struct conn *c);
int conn_send_envelope(struct router *r, struct conn *c, cJSON *root);
void conn_send_error(struct router *r, struct conn *c, const char *code, const char *message,
		     const char *type, const cJSON *request);
void conn_doom(struct router *r, struct conn *c, const char *reason);
struct conn *router_find_conn(struct router *r, uint64_t serial);
int router_subscribe(struct router *r, struct conn *c, const char *pattern);
void router_unsubscribe(struct router *r, struct conn *c, const char *pattern);

/* router-parent.c */
/* Handles one packet from the parent. */
void router_parent_message(struct router *r);
/* Sends what is queued for the parent until the channel is full (then waits for EPOLLOUT). */
void router_ps_flush(struct router *r);
/* Queues a packet to the parent without ever blocking (the parent may be busy sending to us:
 * two blocking senders would deadlock). Takes a copy of passed_fd. 0 or a negative errno. */
int router_ps_send(struct router *r, enum ps_type type, const void *fixed, size_t fixed_len, const void *text,
		   size_t text_len, int passed_fd);

/* outq.c */
int outq_push(struct router *r, struct conn *c, struct msgbuf *buf, bool sign);
int outq_flush(struct router *r, struct conn *c);
void outq_clear(struct conn *c);
/* Puts c on this iteration's flush list (also used to close a connection after its last frame). */
void outq_schedule(struct router *r, struct conn *c);
void conn_close_after_flush(struct router *r, struct conn *c);
struct msgbuf *msgbuf_new(const void *data, size_t len);
/* A buffer of cap bytes to write into; set len before pushing it. */
struct msgbuf *msgbuf_alloc(size_t cap);
void msgbuf_unref(struct msgbuf *b);

/* control.c */
void control_handle(struct router *r, struct conn *c, struct envelope *env);
void control_parent_reply(struct router *r, const struct ps_reply *rep);
void control_conn_gone(struct router *r, struct conn *c);
void control_guard_info(struct router *r, const struct ps_guard_info *info);
void control_nonce(struct router *r, const struct ps_nonce *n);
