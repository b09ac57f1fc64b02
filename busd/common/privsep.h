/* SPDX-License-Identifier: MIT */
/* privsep.h - the fixed, typed messages between the privileged parent and the router.
 *
 * Trust level: both processes include this; each treats what the other sends as untrusted.
 * SOCK_SEQPACKET keeps message boundaries. Every message is a struct ps_header followed by a
 * payload. One table (privsep.c) says, per type, who may receive it, its exact size (or fixed
 * struct + bounded text) and whether a descriptor comes with it; one decoder (ps_read) checks
 * every packet against it for both processes. A malformed packet is fatal to the channel.
 * The parent never parses JSON or client bytes that came through the router unless they carry
 * the admin's authority (PS_ADMIN: an HMAC under a key the router never holds, over the exact
 * request bytes and a nonce the parent issued); everything else it only reads and writes as
 * files, derives keys from, or moves as opaque, size-checked text to the router, which does all
 * parsing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "authority.h"
#include "handshake.h"

#define PS_ID_LEN (HS_ID_MAX + 1)
#define PS_TEXT_MAX (64 * 1024)
#define PS_MSG_MAX (sizeof(struct ps_header) + sizeof(struct ps_file) + PS_TEXT_MAX)

/* Numeric values are part of the channel: never renumber. 20 and up: the admin block. */
enum ps_type {
	/* parent -> router: a new policy bundle */
	PS_BUNDLE_BEGIN = 1,   /* no payload */
	PS_BUNDLE_FILE = 2,    /* struct ps_file + text */
	PS_BUNDLE_KEY = 3,     /* struct ps_key */
	PS_BUNDLE_END = 4,     /* no payload: compile and swap */
	/* router -> parent: requests; parent -> router: PS_REPLY. 5-8 held the unsigned admin
	 * requests (keygen, write manifest, write grants, remove): gone, never reuse them. */
	PS_RELOAD = 9,         /* struct ps_request: re-read everything, send a bundle */
	PS_REPLY = 10,         /* struct ps_reply */
	/* parent -> router: skills */
	PS_ADOPT = 11,         /* struct ps_adopt + one fd (SCM_RIGHTS): a launched skill's connection */
	PS_SKILL_STATE = 12,   /* struct ps_skill_state */
	/* peer check and guard */
	PS_PEER_POLICY = 13,   /* parent -> router: struct ps_peer_policy */
	PS_PEER_CHECK = 14,    /* router -> parent: struct ps_peer_check */
	PS_PEER_VERDICT = 15,  /* parent -> router: struct ps_peer_verdict */
	PS_GUARD_QUERY = 16,   /* router -> parent: struct ps_request */
	PS_GUARD_INFO = 17,    /* parent -> router: struct ps_guard_info */
	/* the router's life */
	PS_ROUTER_CONFIG = 18, /* parent -> router: struct ps_router_config, always the first message */
	PS_ROUTER_READY = 19,  /* router -> parent: no payload; confined, serving */
	/* admin operations, signed by the admin (busd/parent/admin.c) */
	PS_ADMIN_NONCE = 20,   /* router -> parent: struct ps_request; answered by PS_NONCE */
	PS_NONCE = 21,         /* parent -> router: struct ps_nonce */
	PS_ADMIN = 22,         /* router -> parent: struct ps_admin + arg + body; answered by PS_REPLY */
	/* a skill's recent output (`capbus logs`): read-only, like PS_GUARD_QUERY */
	PS_LOGS_QUERY = 23,    /* router -> parent: struct ps_logs_query; answered by PS_LOGS */
	PS_LOGS = 24,          /* parent -> router: struct ps_logs + the lines as text */
	/* delegated sessions (docs/protocol.md "Delegated sessions") */
	PS_GATEWAY_PEER = 25,  /* parent -> router: struct ps_gateway_peer */
};

enum ps_file_kind { PS_FILE_LEVELS = 1, PS_FILE_MANIFEST, PS_FILE_GRANTS };

struct ps_header {
	uint32_t type;
	uint32_t len; /* payload bytes after the header */
};

struct ps_file {
	uint32_t kind;
	char id[PS_ID_LEN];   /* manifest and grants: the identity (file name stem) */
	char name[256];       /* for error messages: the path it came from */
};

struct ps_key {
	char id[PS_ID_LEN];
	uint8_t key[CAPBUS_KEY_LEN];
};

struct ps_request {
	uint64_t serial;
	char id[PS_ID_LEN];
};

struct ps_reply {
	uint64_t serial;
	int32_t status;               /* 0 or a negative errno; -EPERM: the admin's authority is missing */
	char id[PS_ID_LEN];
	uint8_t key[CAPBUS_KEY_LEN];  /* PS_ADMIN keygen only */
};

/* A fresh nonce: single use, valid PS_NONCE_TTL_MS, at most PS_NONCE_MAX outstanding. */
#define PS_NONCE_TTL_MS 60000
#define PS_NONCE_MAX 64
struct ps_nonce {
	uint64_t serial;
	uint8_t nonce[AUTHORITY_NONCE_LEN];
};

/* One admin operation with the admin's tag over exactly these bytes (lib/authority.h):
 * arg_len bytes of arg, then body_len bytes of body follow the struct; hdr.len must equal
 * sizeof(struct ps_admin) + arg_len + body_len, with arg_len + body_len <= PS_TEXT_MAX. */
struct ps_admin {
	uint64_t serial;
	uint32_t op;        /* enum authority_op */
	uint32_t arg_len;
	uint32_t body_len;
	uint32_t reserved;  /* 0 */
	uint8_t nonce[AUTHORITY_NONCE_LEN];
	uint8_t tag[AUTHORITY_TAG_LEN];
	char id[PS_ID_LEN]; /* NUL-terminated */
	uint8_t pad[7];     /* 0; makes the size a multiple of 8 with no implicit padding */
};
_Static_assert(sizeof(struct ps_admin) == 160, "struct ps_admin has a fixed wire size");
_Static_assert(sizeof(struct ps_admin) <= sizeof(struct ps_file), "PS_MSG_MAX must hold a PS_ADMIN");

/* The router must see this identity authenticate on the adopted connection, nothing else. */
struct ps_adopt {
	char id[PS_ID_LEN];
	int32_t pid;  /* the skill's process, for the log */
	uint32_t uid; /* its outer uid */
};

/* What the supervisor decided at one exit of a skill. Times are CLOCK_MONOTONIC milliseconds of
 * the parent (the clock its restart timer runs on). */
struct ps_skill_exit {
	uint64_t started_ms;    /* start of the run that ended */
	uint64_t exited_ms;     /* when the exit was reaped (or the start failed) */
	uint64_t next_start_ms; /* the start it planned; 0: none (a clean exit, failed, or stopped) */
	uint32_t backoff_ms;    /* the delay it chose: next_start_ms - exited_ms; 0: none */
	char reason[20];        /* "exit 1", "signal 9", "oom", ...; may fill the array (no NUL) */
};
#define PS_SKILL_EXITS 8

struct ps_skill_state {
	char id[PS_ID_LEN];
	char state[16];      /* running, restarting, stopped, failed */
	int32_t pid;
	uint32_t restarts;
	char last_exit[48];  /* "exit 1", "signal 9", "seccomp", "oom", or "" */
	uint32_t n_exits;    /* valid entries of exits, the oldest first */
	uint64_t started_ms;    /* the current or last start, 0: never */
	uint64_t next_start_ms; /* restarting: when; else 0 */
	uint32_t backoff_ms;    /* restarting: the delay chosen; else 0 */
	uint32_t pad;           /* 0 */
	uint64_t state_limit; /* limits.state: the size of its /state image, bytes */
	uint64_t state_used;  /* statvfs of the mounted image: bytes in use ... */
	uint64_t state_size;  /* ... of this many (0: not mounted) */
	struct ps_skill_exit exits[PS_SKILL_EXITS];
};
_Static_assert(sizeof(struct ps_skill_state) == 192 + 48 * PS_SKILL_EXITS, "struct ps_skill_state has no implicit padding");

/* `capbus logs ID`: the lines numbered cursor and after (0: from the oldest held). */
struct ps_logs_query {
	uint64_t serial;
	uint64_t cursor;
	char id[PS_ID_LEN];
	uint8_t pad[7];      /* 0 */
};

/* The answer: status 0 and n_lines records "S TIME_MS TEXT\n" as text (busd/parent/outring.h),
 * or -ENOENT when no skill has that id (then no text). */
struct ps_logs {
	uint64_t serial;
	int32_t status;
	uint32_t n_lines;
	uint64_t first;      /* number of the first line sent */
	uint64_t next;       /* cursor for the next query */
	uint64_t dropped;    /* lines after the cursor the ring no longer held */
	uint32_t more;       /* 1: more lines are ready than fitted */
	uint32_t pad;        /* 0 */
};

struct ps_peer_policy {
	uint32_t check; /* 1: every accepted peer must pass the parent's allow-list check */
};

struct ps_peer_check {
	uint64_t serial;    /* the connection */
	uint64_t cgroup_id; /* the peer's cgroup v2 id at accept (SO_PEERPIDFD + PIDFD_GET_INFO), 0 if unknown */
	uint32_t uid;       /* SO_PEERCRED */
	int32_t pid;
};

struct ps_peer_verdict {
	uint64_t serial;
	uint32_t allowed;
};

/* Who may open delegated sessions (AUTH_D as "gateway"). Sent after the peer policy at every
 * router start, and again whenever it changes (the supervised gateway restarted). */
enum ps_delegation {
	PS_DELEGATION_OFF = 0,        /* no AUTH_D accepted: the default */
	PS_DELEGATION_ANY = 1,        /* any peer with the gateway's key (gateway.supervise false) */
	PS_DELEGATION_SUPERVISED = 2, /* only a peer in cgroup_id (non-zero) running as uid */
};
struct ps_gateway_peer {
	uint64_t cgroup_id; /* cgroup v2 id of the supervised gateway's cgroup; 0 until one runs */
	uint32_t uid;
	uint32_t mode;      /* enum ps_delegation; any other value is treated as off */
};
_Static_assert(sizeof(struct ps_gateway_peer) == 16, "struct ps_gateway_peer has a fixed wire size");

#define PS_GUARD_UIDS 32
#define PS_GUARD_CGROUPS 8
struct ps_guard_info {
	uint64_t serial;
	char mode[16];       /* off, auto, required */
	uint32_t active;     /* the kernel guard is attached */
	uint32_t peer_check; /* the daemon checks peers itself */
	char scope[256];
	char socket[110];
	uint64_t denied, allowed_cgroup, allowed_uid, events_dropped, peer_denied;
	uint32_t n_uids;     /* total; the first PS_GUARD_UIDS are listed */
	uint32_t uids[PS_GUARD_UIDS];
	uint32_t n_cgroups;
	char cgroups[PS_GUARD_CGROUPS][128];
};

/* Everything the router needs to know from the configuration, resolved by the parent (the router
 * cannot read files or the user database). Sent once, before anything else. */
struct ps_router_config {
	uint32_t log_level;            /* enum log_level */
	uint32_t uid, gid;             /* the router drops to these when started as root; never 0 */
	uint32_t max_frame;
	uint32_t max_depth;
	uint32_t handshake_timeout_ms;
	uint32_t max_connections;
	uint32_t max_pending;
	uint64_t max_queue;
	uint64_t byte_rate;
	/* Per-peer, per-identity and per-connection limits (config.h). Six uint32 then one uint64,
	 * so the struct has no padding. */
	uint32_t max_pending_per_uid;
	uint32_t max_pending_per_peer;
	uint32_t max_identity_connections;
	uint32_t max_subscriptions;
	uint32_t max_identity_subscriptions;
	uint32_t max_subscription_bytes;
	uint64_t max_identity_subscription_bytes;
	/* Bytes held for incomplete incoming frames, over all connections and per identity. */
	uint64_t max_partial_bytes;
	uint64_t max_identity_partial_bytes;
};

/* ---- the message table and its decoder ------------------------------------------------ */

enum ps_dir { PS_TO_ROUTER = 1, PS_TO_PARENT = 2 };

/* A char array of a fixed struct that must hold a NUL: count arrays of len bytes from off. */
struct ps_text_field {
	uint16_t off, len, count;
};

#define PS_TEXT_FIELDS_MAX 4

/* One row per message type. */
struct ps_type_info {
	const char *name;
	enum ps_dir dir;        /* who receives it */
	uint32_t fixed;         /* exact size of the fixed struct (0: no payload) */
	uint32_t text_max;      /* 0: exactly `fixed` bytes; else up to this many bytes of text after it */
	bool fd;                /* exactly one descriptor comes with it (else none may) */
	bool secret;            /* carries key material: the decoder wipes the packet buffer */
	struct ps_text_field text_fields[PS_TEXT_FIELDS_MAX];
};

/* The row for a type, or NULL when there is no such type. */
const struct ps_type_info *ps_type_info(uint32_t type);
/* Its name, or "unknown". */
const char *ps_type_name(uint32_t type);

/* A decoded, validated message: the fixed part copied into an aligned union. */
struct ps_msg {
	uint32_t type;
	uint32_t size;          /* payload bytes as received (for the log) */
	int fd;                 /* the descriptor that came with it, or -1; the caller owns it */
	const char *reason;     /* PS_MALFORMED: why, a short static word for the log */
	const char *text;       /* variable part (points into the caller's buffer), NULL if none */
	size_t text_len;
	union {
		struct ps_file file;
		struct ps_key key;
		struct ps_request request;
		struct ps_reply reply;
		struct ps_adopt adopt;
		struct ps_skill_state skill_state;
		struct ps_peer_policy peer_policy;
		struct ps_peer_check peer_check;
		struct ps_peer_verdict peer_verdict;
		struct ps_guard_info guard_info;
		struct ps_router_config router_config;
		struct ps_nonce nonce;
		struct ps_admin admin;
		struct ps_logs_query logs_query;
		struct ps_logs logs;
		struct ps_gateway_peer gateway_peer;
	} u;
};

/* Outcomes of ps_read() besides 0 (a valid message) and a negative errno (I/O). */
enum { PS_MALFORMED = 1, PS_EOF = 2 };

/* Receives one packet on fd meant for the receiver `to` and checks it against the table: known
 * type, right direction, exact size (or fixed + bounded text), the descriptor rule, NUL-terminated
 * char arrays. buf holds PS_MSG_MAX bytes; msg->text points into it. Returns 0 with *msg filled
 * (msg->fd owned by the caller), PS_MALFORMED with msg->type, msg->size and msg->reason set and
 * every received descriptor closed, PS_EOF when the other side is gone, or a negative errno.
 * The caller wipes *msg after a secret type (ps_msg_wipe). */
int ps_read(int fd, enum ps_dir to, uint8_t *buf, struct ps_msg *msg);

/* The same checks on a packet already received (n bytes in buf, n_fds descriptors, the first
 * in passed_fd). Takes passed_fd: on success it moves to msg->fd, else it is closed. */
int ps_decode(uint8_t *buf, size_t n, size_t n_fds, int passed_fd, bool truncated, enum ps_dir to,
	      struct ps_msg *msg);

/* Closes msg->fd if still held and wipes the message (it may hold a key). */
void ps_msg_wipe(struct ps_msg *msg);

/* Whether a packet the caller is about to send fits its row: 0 or -EINVAL. Senders check so a
 * bug shows up on the sending side, not as a malformed message on the other. */
int ps_check_outgoing(uint32_t type, size_t fixed_len, size_t text_len, bool with_fd);

/* Sends header + payload parts as one packet. Returns 0 or a negative errno. */
int ps_send(int fd, enum ps_type type, const void *fixed, size_t fixed_len, const void *text, size_t text_len);

/* One packet, optionally with a descriptor (passed_fd < 0: none), with extra sendmsg flags
 * (MSG_DONTWAIT for a sender that must never block). Returns 0 or a negative errno (-EAGAIN). */
int ps_send_packet(int fd, const void *packet, size_t len, int passed_fd, int flags);

/* Sends a small fixed payload (at most 256 bytes) with one descriptor (PS_ADOPT); passed_fd < 0: none. */
int ps_send_fd(int fd, enum ps_type type, const void *fixed, size_t fixed_len, int passed_fd);
