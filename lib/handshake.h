/* SPDX-License-Identifier: MIT */
/* handshake.h - capbus mutual challenge-response handshake, both sides, as pure state machines.
 *
 * magic = "CAPBUS" 0x00 | version (HS_PROTOCOL_VERSION); any other version is refused at once.
 *
 *   daemon -> client  HELLO   magic | server_nonce[32]
 *   client -> daemon  AUTH    magic | client_nonce[32] | proof[32] | id_len u8 | id
 *   daemon -> client  RESULT  magic | status u8 | server_proof[32]   (proof only when status is 0)
 *
 * proof        = HMAC-SHA256(K_id, "capbus-v1 client" | ns | nc | id_len | id)
 * server_proof = HMAC-SHA256(K_id, "capbus-v1 server" | ns | nc | id_len | id)
 * session      = BLAKE2b-256(key = K_id, "capbus-v1 session" | ns | nc | id_len | id)
 * k_c2s, k_s2c = crypto_kdf_derive_from_key(session, 1 / 2, "capbus01")
 *
 * Delegated sessions (docs/protocol.md "Delegated sessions"): the reserved identity "gateway"
 * answers HELLO with AUTH_D instead, proving its own key only, and the daemon binds the
 * connection to the subject named in it. AUTH_D and its RESULT_D start with MAGIC_D =
 * "CAPBUS" 0x01 | version, so they can never be read as the native messages.
 *
 *   AUTH_D    MAGIC_D | nc[32] | proof[32] | TAIL
 *   TAIL      via u8 | flags u8 | gw_len u8 | gw_id | id_len u8 | id | peer_len u8 | peer
 *             [ | inner_nc[32] | inner_proof[32] ]                      only when via = 3
 *   RESULT_D  MAGIC_D | 0 | server_proof[32] [ | inner_server_proof[32] when via = 3 ]
 *             MAGIC_D | status u8 (1, 2 or 3)                           refused
 *
 * proof              = HMAC-SHA256(K_gateway, "capbus-v2 delegate client" | ns | nc | TAIL)
 * server_proof       = HMAC-SHA256(K_gateway, "capbus-v2 delegate server" | ns | nc | TAIL)
 * session            = BLAKE2b-256(key = K_gateway, "capbus-v2 delegate session" | ns | nc | TAIL)
 * inner_proof        = HMAC-SHA256(K_id, "capbus-ws-v1 client" | ns | inner_nc | id_len | id)
 * inner_server_proof = HMAC-SHA256(K_id, "capbus-ws-v1 server" | ns | inner_nc | id_len | id)
 *
 * No I/O here: callers move the bodies through frames. Inputs are untrusted and checked for
 * exact length. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mac.h"

#define HS_PROTOCOL_VERSION 2
#define CAPBUS_KEY_LEN 32
#define HS_NONCE_LEN 32
#define HS_PROOF_LEN 32
#define HS_MAGIC_LEN 8
#define HS_ID_MAX 64

#define HS_HELLO_LEN (HS_MAGIC_LEN + HS_NONCE_LEN)
#define HS_AUTH_MIN (HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN + 1 + 1)
#define HS_AUTH_MAX (HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN + 1 + HS_ID_MAX)
#define HS_RESULT_OK_LEN (HS_MAGIC_LEN + 1 + HS_PROOF_LEN)
#define HS_RESULT_FAIL_LEN (HS_MAGIC_LEN + 1)

/* Outcomes the caller must handle. */
enum {
	HS_OK = 0,
	HS_MALFORMED = 1, /* wrong size, magic (another version too) or id syntax */
	HS_REJECTED = 2,  /* unknown identity or wrong proof: authentication failed */
	HS_VERSION = 3,   /* client side: the daemon's HELLO names another protocol version */
};

enum { HS_STATUS_OK = 0, HS_STATUS_AUTH_FAILED = 1 };

/* Session result shared by both sides once the handshake completes. */
struct hs_session {
	char id[HS_ID_MAX + 1];
	struct mac_state rx; /* frames we receive */
	struct mac_state tx; /* frames we send */
};

/* Identity syntax: 1..64 bytes of [A-Za-z0-9._-], starting with a letter or digit (OVOS skill
 * ids such as "ovos-skill-personal.OpenVoiceOS"). Case matters: "a" and "A" are two identities. */
bool hs_id_is_valid(const char *id, size_t len);

/* --- daemon side --- */
struct hs_server {
	uint8_t server_nonce[HS_NONCE_LEN];
};

/* Looks up the key of an identity. Returns true and fills key when known. */
typedef bool (*hs_key_lookup_fn)(void *userdata, const char *id, uint8_t key[CAPBUS_KEY_LEN]);

/* Fills out[HS_HELLO_LEN] with a fresh challenge. */
void hs_server_hello(struct hs_server *s, uint8_t out[HS_HELLO_LEN]);

/* Verifies an AUTH body. On HS_OK fills *session and reply[HS_RESULT_OK_LEN]; on HS_REJECTED
 * fills reply[HS_RESULT_FAIL_LEN] (the caller sends it and closes); *reply_len says which.
 * Unknown identities cost the same work as known ones. */
int hs_server_auth(struct hs_server *s, const uint8_t *body, size_t len, hs_key_lookup_fn lookup,
		   void *userdata, struct hs_session *session, uint8_t reply[HS_RESULT_OK_LEN],
		   size_t *reply_len);

/* --- client side --- */
struct hs_client {
	uint8_t server_nonce[HS_NONCE_LEN];
	uint8_t client_nonce[HS_NONCE_LEN];
	char id[HS_ID_MAX + 1];
	uint8_t key[CAPBUS_KEY_LEN];
};

/* Answers a HELLO. Copies id and key into *c (wipe with hs_client_clear). Fills out and *out_len.
 * HS_VERSION when the HELLO is a capbus HELLO of another protocol version (e.g. 1). */
int hs_client_auth(struct hs_client *c, const char *id, const uint8_t key[CAPBUS_KEY_LEN],
		   const uint8_t *hello, size_t hello_len, uint8_t out[HS_AUTH_MAX], size_t *out_len);

/* Checks the RESULT: HS_OK and *session filled only when the daemon proved it knows the key. */
int hs_client_finish(struct hs_client *c, const uint8_t *body, size_t len, struct hs_session *session);

void hs_client_clear(struct hs_client *c);
void hs_session_clear(struct hs_session *s);

/* --- delegated sessions --- */
#define HS_MAGIC_KIND_DELEGATED 0x01 /* byte 6 of MAGIC_D (0x00 in every native message) */
#define HS_PEER_MAX 64
#define HS_GATEWAY_ID "gateway"

enum hs_via { HS_VIA_LOCAL = 1, HS_VIA_TOKEN = 2, HS_VIA_CHALLENGE = 3 };
#define HS_DFLAG_SUB_PERMITTED 0x01u
#define HS_DFLAGS_KNOWN HS_DFLAG_SUB_PERMITTED

/* RESULT_D status byte. Only the gateway's own proof being right lets 2 or 3 be told apart
 * from 1, so nobody without K_gateway learns which identities are delegable. */
enum hs_dstatus {
	HS_DSTATUS_OK = 0,
	HS_DSTATUS_REFUSED = 1,          /* gateway proof wrong, delegator not "gateway", delegation off
					  * or not from the supervised gateway's cgroup and uid */
	HS_DSTATUS_NOT_DELEGABLE = 2,    /* via 1, 2: subject unknown, reserved, or without "gateway" */
	HS_DSTATUS_CHALLENGE_FAILED = 3, /* via 3: inner proof wrong, or subject not delegable */
};

#define HS_DAUTH_MIN (HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN + 3 + 1 + 1 + 1 + 1)
#define HS_DAUTH_MAX (HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN + 3 + HS_ID_MAX + 1 + HS_ID_MAX \
		      + 1 + HS_PEER_MAX + HS_NONCE_LEN + HS_PROOF_LEN)
#define HS_DRESULT_FAIL_LEN (HS_MAGIC_LEN + 1)
#define HS_DRESULT_MAX (HS_MAGIC_LEN + 1 + 2 * HS_PROOF_LEN)
/* The largest handshake body a daemon accepts from a client, native or delegated. */
#define HS_CLIENT_MSG_MAX (HS_DAUTH_MAX > HS_AUTH_MAX ? HS_DAUTH_MAX : HS_AUTH_MAX)

/* The decoded TAIL of an AUTH_D (or what a gateway wants to put in one). */
struct hs_delegation {
	uint8_t via, flags;
	char gateway_id[HS_ID_MAX + 1];
	char subject_id[HS_ID_MAX + 1];
	char peer[HS_PEER_MAX + 1];         /* 0..64 bytes of 0x21..0x7e, for logs only */
	uint8_t inner_nc[HS_NONCE_LEN];     /* via == HS_VIA_CHALLENGE only */
	uint8_t inner_proof[HS_PROOF_LEN];
};

/* gateway side: one AUTH_D per bus connection */
struct hs_dclient {
	uint8_t ns[HS_NONCE_LEN];           /* the daemon's nonce: the challenge a browser signs */
	uint8_t nc[HS_NONCE_LEN];
	uint8_t key[CAPBUS_KEY_LEN];        /* the gateway's own key */
	uint8_t tail[HS_DAUTH_MAX];
	size_t tail_len;
	uint8_t via;
	char subject_id[HS_ID_MAX + 1];
};

/* Keeps the HELLO's nonce in c->ns. HS_OK, HS_VERSION (another protocol version) or HS_MALFORMED. */
int hs_dclient_hello(struct hs_dclient *c, const uint8_t *hello, size_t len);
/* Builds AUTH_D for d (d->inner_* used only for via 3) under the gateway's key, which is copied
 * into c (wipe with hs_dclient_clear). HS_OK with out and *out_len filled, or HS_MALFORMED when d
 * could not be sent (bad via, unknown flag, invalid id, peer outside 0x21..0x7e). */
int hs_dclient_auth(struct hs_dclient *c, const uint8_t gw_key[CAPBUS_KEY_LEN], const struct hs_delegation *d,
		    uint8_t out[HS_DAUTH_MAX], size_t *out_len);
/* Checks RESULT_D. HS_OK: the daemon proved it knows K_gateway; *session is bound to the subject
 * and, for via 3, inner_sp holds the inner server proof for the browser. HS_REJECTED: *status is
 * the daemon's hs_dstatus, or -1 when whoever answered could not prove K_gateway (a squatter).
 * HS_MALFORMED otherwise. inner_sp may be NULL unless via is 3. */
int hs_dclient_finish(struct hs_dclient *c, const uint8_t *body, size_t len, struct hs_session *session,
		      uint8_t inner_sp[HS_PROOF_LEN], int *status);
void hs_dclient_clear(struct hs_dclient *c);

/* daemon side */
/* Whether a handshake body is an AUTH_D (by its magic); hs_server_dauth() checks the rest. */
bool hs_is_delegated_auth(const uint8_t *body, size_t len);
/* Parses an AUTH_D body into *d: HS_OK or HS_MALFORMED (exact lengths, via, flags, ids, peer). */
int hs_parse_dauth(const uint8_t *body, size_t len, struct hs_delegation *d);

/* The daemon's decision about a well-formed AUTH_D, before any proof is checked: returns an
 * hs_dstatus and copies the gateway's key into gw_key and, for via 3, the subject's key into
 * subject_key. Both arrive filled with random bytes, so a callback that has no key leaves them:
 * every refusal then costs the same HMACs as an acceptance. */
typedef int (*hs_delegate_check_fn)(void *userdata, const struct hs_delegation *d, uint8_t gw_key[CAPBUS_KEY_LEN],
				    uint8_t subject_key[CAPBUS_KEY_LEN]);

/* Verifies an AUTH_D. HS_MALFORMED (nothing else done; the caller closes), or HS_OK / HS_REJECTED
 * with *d decoded and reply and *reply_len the RESULT_D to send. The gateway's proof decides first:
 * if it is wrong the status is 1 whatever check said. HS_OK fills *session (id = the subject).
 * The server nonce is used up either way. */
int hs_server_dauth(struct hs_server *s, const uint8_t *body, size_t len, hs_delegate_check_fn check,
		    void *userdata, struct hs_delegation *d, struct hs_session *session,
		    uint8_t reply[HS_DRESULT_MAX], size_t *reply_len);

/* The browser's (challenge method) proofs: server false "capbus-ws-v1 client", true "... server". */
void hs_ws_proof(const uint8_t key[CAPBUS_KEY_LEN], bool server, const uint8_t ns[HS_NONCE_LEN],
		 const uint8_t nc[HS_NONCE_LEN], const char *id, uint8_t out[HS_PROOF_LEN]);
