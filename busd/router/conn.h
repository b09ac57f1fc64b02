/* SPDX-License-Identifier: MIT */
/* conn.h - one client connection and its output queue (outq.c), shared by router.c and outq.c.
 *
 * Trust level: router (unprivileged). A connection's fields are written by router.c (framing,
 * handshake, quotas) and outq.c (the queue); the other modules only read identity and state.
 * The queue knows nothing of the router: it reports what happened and router.c decides. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/privsep.h"
#include "handshake.h"
#include "router/idusage.h"
#include "router/policy.h"

enum watch_kind { WATCH_CONN, WATCH_LISTEN, WATCH_PARENT, WATCH_TIMER, WATCH_SIGNAL };

/* What an epoll event points at: the first member of everything the loop watches. */
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
	bool write_lost;         /* a write failed: its input is still routed, nothing more is queued */
	bool in_flush_list;
	bool want_out;           /* EPOLLOUT armed */
	uint64_t serial;
	pid_t pid;
	uid_t uid;
	uint64_t cgroup_id;      /* the peer's cgroup v2 id at accept (0: unknown, or a launched skill) */
	bool pending_counted;    /* holds one of its peer's pending-handshake slots (router/pending.h) */
	bool conn_counted;       /* counted against its identity's max_identity_connections */
	struct id_usage *usage;  /* after the handshake: what its identity holds (router/idusage.h) */
	uint64_t deadline_ms;    /* handshake deadline; once closing, when it is closed unread */
	struct hs_server hs;
	struct hs_session session;
	const struct identity *ident;
	char expected_id[PS_ID_LEN]; /* adopted skill connections: the only identity accepted */
	bool via_gateway;        /* a delegated session (AUTH_D): session.id is the subject */
	bool sub_permitted;      /* AUTH_D asked for "*", delivery filtered by the manifest */
	char peer_desc[HS_PEER_MAX + 1]; /* the gateway's description of the client, for the log */
	char **subs;             /* subscribed patterns */
	uint32_t n_subs;
	uint64_t sub_bytes;      /* accounted bytes of subs (router_subscribe) */
	uint8_t *in;             /* allocated only while bytes are pending */
	uint32_t in_len, in_cap;
	uint32_t in_counted;     /* of in_cap, counted against max_partial_bytes (and its identity's) */
	uint64_t frame_deadline_ms; /* READY with part of a frame buffered: when the rest is due; else 0 */
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

/* What the queues share: the loop's epoll (to arm EPOLLOUT), the per-reader byte limit, and the
 * list of connections with output queued in this iteration. */
struct outq_ctx {
	int epfd;
	uint64_t max_queue;
	struct conn *flush_head;
};

/* outq_flush: the queue is written and the connection asked to be closed after it. */
enum { OUTQ_CLOSE = 1 };

struct msgbuf *msgbuf_new(const void *data, size_t len);
/* A buffer of cap bytes to write into; set len before pushing it. */
struct msgbuf *msgbuf_alloc(size_t cap);
void msgbuf_unref(struct msgbuf *b);

/* Queues buf (a new reference) for c, signed with c's session key when sign, and schedules a
 * flush. 0 (also when c is doomed: nothing is queued), -ENOBUFS when c already has bytes queued
 * and would pass max_queue (a slow consumer; an empty queue takes any message), -ENOMEM. The
 * caller decides what happens to c. */
int outq_push(struct outq_ctx *q, struct conn *c, struct msgbuf *buf, bool sign);
/* Writes as much as the socket takes. 0 when drained or it would block, OUTQ_CLOSE when drained
 * and c->close_after_flush, a negative errno on a dead peer. */
int outq_flush(struct outq_ctx *q, struct conn *c);
void outq_clear(struct conn *c);
/* Puts c on this iteration's flush list (also used to close a connection after its last frame). */
void outq_schedule(struct outq_ctx *q, struct conn *c);
