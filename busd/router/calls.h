/* SPDX-License-Identifier: MIT */
/* calls.h - the router's pending-call table: who called, who may answer, until when.
 *
 * Trust level: router (unprivileged); no I/O, no JSON, no clock of its own: router.c feeds it
 * connection serials, identity names, types and times, and does the sending. Like a D-Bus method
 * call, a call is bound to its caller: the router gives it an id of its own, records the
 * connections the request reached, accepts one reply of the reply type from one of those, and
 * ends the call on that reply, at its deadline, when its last possible answerer is gone, or when
 * the caller goes. Every call belongs to an owner (the caller's identity), with a quota per owner
 * and a bound on the whole table, so no caller can grow the router's memory without limit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CALL_ID_MAX 64     /* a caller's own call_id: 1..64 bytes of [A-Za-z0-9._:-] */
#define CALL_OWNER_MAX 64  /* an identity name */
#define CALL_TYPE_MAX 255  /* a message type */
/* The router's call ids as written on the wire: "capbus:" and 16 lowercase hex digits. */
#define CALL_WIRE_PREFIX "capbus:"
#define CALL_WIRE_ID_LEN 23

struct calls;

/* What a caller asks for; strings are copied. */
struct call_request {
	uint64_t caller;        /* the caller's connection serial */
	const char *owner;      /* the caller's identity (the quota is counted per owner) */
	const char *call_id;    /* the caller's own id, echoed back to it (calls_id_is_valid) */
	const char *type;       /* the request's type */
	const char *reply_type; /* the only type accepted as the reply */
	uint64_t deadline_ms;
};

/* A call that ended without a reply, or the reply's binding: whom to tell, about what. */
struct call_end {
	uint64_t caller;
	char call_id[CALL_ID_MAX + 1];
	char type[CALL_TYPE_MAX + 1];       /* the request's type */
	char reply_type[CALL_TYPE_MAX + 1];
};

/* calls_open outcomes besides 0 and -errno: the caller must be refused. */
enum {
	CALLS_OWNER_QUOTA = 1, /* the owner has per_owner calls pending already */
	CALLS_FULL = 2,        /* the table holds max_calls pending calls */
};

/* calls_answer verdicts on a message that names a call by its router id. */
enum call_verdict {
	CALL_BOUND,         /* the reply: *end says whom it goes to; the call is over */
	CALL_NOT_RECIPIENT, /* the reply type, from a connection the request never reached: forged */
	CALL_OTHER_TYPE,    /* pending, but another type: not a reply (a context copied along) */
	CALL_FINISHED,      /* the reply type for a call that was answered or ended already */
	CALL_UNKNOWN,       /* no such call remembered */
};

/* An empty table of at most max_calls pending calls, per_owner of them per owner (both >= 1).
 * 0, -EINVAL or -ENOMEM. */
int calls_new(struct calls **out, uint32_t max_calls, uint32_t per_owner);
void calls_free(struct calls *t);

/* Opens a call; *id is its router id (never 0). 0, CALLS_OWNER_QUOTA, CALLS_FULL, -EINVAL
 * (a string too long or invalid), -ENOMEM. */
int calls_open(struct calls *t, const struct call_request *req, uint64_t *id);
/* Records that the request was delivered to connection conn (once per connection). 0, -ENOENT
 * (no such pending call), -ENOMEM. */
int calls_add_target(struct calls *t, uint64_t id, uint64_t conn);
/* How many connections the pending call id reached (0 when unknown). */
uint32_t calls_n_targets(const struct calls *t, uint64_t id);
/* Ends a pending call with no answer (nobody received it): fills *end, false when unknown. */
bool calls_end(struct calls *t, uint64_t id, struct call_end *end);

/* Judges a message of type `type` from connection `from` that names call id. On CALL_BOUND the
 * call is over and *end says whom to deliver the reply to. */
enum call_verdict calls_answer(struct calls *t, uint64_t id, uint64_t from, const char *type, struct call_end *end);
/* The same verdict, but CALL_BOUND leaves the call pending: the router ends it (calls_end) only
 * once the reply can be passed on, so a reply it cannot deliver consumes nothing. */
enum call_verdict calls_judge(struct calls *t, uint64_t id, uint64_t from, const char *type, struct call_end *end);

/* Ends one pending call whose deadline is <= now_ms: true and *end, or false when none is due. */
bool calls_next_expired(struct calls *t, uint64_t now_ms, struct call_end *end);

/* Connection conn is gone: its own calls end silently (nobody to tell), and it no longer counts
 * as a possible answerer; calls left without any are ended by calls_next_orphan. */
void calls_conn_gone(struct calls *t, uint64_t conn);
/* Ends one call that lost its last possible answerer: true and *end, or false. */
bool calls_next_orphan(struct calls *t, struct call_end *end);

uint32_t calls_pending(const struct calls *t);
uint32_t calls_owner_pending(const struct calls *t, const char *owner);

/* The router id as written on the wire (CALL_WIRE_ID_LEN bytes and a NUL). */
void calls_format_id(uint64_t id, char out[CALL_WIRE_ID_LEN + 1]);
/* Reads a router id written by calls_format_id: true and *id, false when s is not one. */
bool calls_parse_id(const char *s, size_t len, uint64_t *id);
/* A caller's own call_id: 1..CALL_ID_MAX bytes of [A-Za-z0-9._:-], not beginning with
 * CALL_WIRE_PREFIX (the router's ids, and everything that looks like one). */
bool calls_id_is_valid(const char *s, size_t len);
