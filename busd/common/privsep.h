/* SPDX-License-Identifier: MIT */
/* privsep.h - the fixed, typed messages between the privileged parent and the router.
 *
 * SOCK_SEQPACKET keeps message boundaries. Every message is a struct ps_header followed by a
 * payload whose size the receiver checks exactly (fixed structs) or against a bound (file bytes).
 * The parent never parses JSON or client bytes that came through the router unless they carry
 * the admin's authority (PS_ADMIN: an HMAC under a key the router never holds, over the exact
 * request bytes and a nonce the parent issued); everything else it only moves as opaque,
 * size-checked text to the router, which does all parsing. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "authority.h"
#include "handshake.h"

#define PS_ID_LEN (HS_ID_MAX + 1)
#define PS_TEXT_MAX (64 * 1024)
#define PS_MSG_MAX (sizeof(struct ps_header) + sizeof(struct ps_file) + PS_TEXT_MAX)

enum ps_type {
	/* parent -> router: a new policy bundle */
	PS_BUNDLE_BEGIN = 1, /* no payload */
	PS_BUNDLE_FILE,      /* struct ps_file + text */
	PS_BUNDLE_KEY,       /* struct ps_key */
	PS_BUNDLE_END,       /* no payload: compile and swap */
	/* router -> parent: requests; parent -> router: PS_REPLY. 5-8 held the unsigned admin
	 * requests (keygen, write manifest, write grants, remove): gone, never reuse them. */
	PS_RELOAD = 9,       /* struct ps_request: re-read everything, send a bundle */
	PS_REPLY,            /* struct ps_reply */
	/* parent -> router: skills */
	PS_ADOPT,            /* struct ps_adopt + one fd (SCM_RIGHTS): a launched skill's connection */
	PS_SKILL_STATE,      /* struct ps_skill_state */
	/* peer check and guard */
	PS_PEER_POLICY,      /* parent -> router: struct ps_peer_policy */
	PS_PEER_CHECK,       /* router -> parent: struct ps_peer_check */
	PS_PEER_VERDICT,     /* parent -> router: struct ps_peer_verdict */
	PS_GUARD_QUERY,      /* router -> parent: struct ps_request */
	PS_GUARD_INFO,       /* parent -> router: struct ps_guard_info */

	/* Admin operations, signed by the admin (busd/parent/admin.c). */
	PS_ADMIN_NONCE = 20, /* router -> parent: struct ps_request; answered by PS_NONCE */
	PS_NONCE,            /* parent -> router: struct ps_nonce */
	PS_ADMIN,            /* router -> parent: struct ps_admin + arg + body; answered by PS_REPLY */
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

struct ps_skill_state {
	char id[PS_ID_LEN];
	char state[16];      /* running, restarting, stopped, failed */
	int32_t pid;
	uint32_t restarts;
	char last_exit[48];  /* "exit 1", "signal 9", "seccomp", "oom", or "" */
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

/* Sends header + payload parts as one packet. Returns 0 or a negative errno. */
int ps_send(int fd, enum ps_type type, const void *fixed, size_t fixed_len, const void *text, size_t text_len);

/* One packet, optionally with a descriptor (passed_fd < 0: none), with extra sendmsg flags
 * (MSG_DONTWAIT for a sender that must never block). Returns 0 or a negative errno (-EAGAIN). */
int ps_send_packet(int fd, const void *packet, size_t len, int passed_fd, int flags);

/* Sends a small fixed payload (at most 256 bytes) with one descriptor (PS_ADOPT); passed_fd < 0: none. */
int ps_send_fd(int fd, enum ps_type type, const void *fixed, size_t fixed_len, int passed_fd);

/* Receives one packet into buf (PS_MSG_MAX bytes). Returns the packet length, 0 on EOF, or a
 * negative errno; -EBADMSG when the header is inconsistent with the packet length. */
ssize_t ps_recv(int fd, uint8_t *buf, struct ps_header *hdr);

/* Same; a descriptor that came with the packet is stored in *passed_fd (else -1). Only the
 * router calls this, and only PS_ADOPT may carry one: the caller closes it otherwise. */
ssize_t ps_recv_fd(int fd, uint8_t *buf, struct ps_header *hdr, int *passed_fd);
