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

/* Identity syntax: 1..64 bytes of [a-z0-9._-], starting with a letter or digit. */
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
