// SPDX-License-Identifier: MIT
/* handshake.c - mutual HMAC challenge-response and session key derivation (libsodium). */
#include "handshake.h"

#include <sodium.h>
#include <string.h>

/* "CAPBUS" 0x00 then the protocol version byte: 2 since frame tags became HMAC-SHA-256-128. */
static const uint8_t hs_magic[HS_MAGIC_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 0, HS_PROTOCOL_VERSION };
#define LABEL_CLIENT "capbus-v1 client"
#define LABEL_SERVER "capbus-v1 server"
#define LABEL_SESSION "capbus-v1 session"
#define KDF_CONTEXT "capbus01"

bool hs_id_is_valid(const char *id, size_t len)
{
	if (len == 0 || len > HS_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = id[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
			return false;
	}
	return true;
}

/* HMAC-SHA256(key, label | ns | nc | id_len | id) */
static void hs_proof(const uint8_t key[CAPBUS_KEY_LEN], const char *label, const uint8_t *ns,
		     const uint8_t *nc, const char *id, uint8_t out[HS_PROOF_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t id_len = (uint8_t)strlen(id);

	crypto_auth_hmacsha256_init(&st, key, CAPBUS_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_auth_hmacsha256_update(&st, ns, HS_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, nc, HS_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, &id_len, 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, id_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Derives both direction keys; is_server picks which is rx and which tx. */
static void hs_derive(const uint8_t key[CAPBUS_KEY_LEN], const uint8_t *ns, const uint8_t *nc,
		      const char *id, bool is_server, struct hs_session *s)
{
	crypto_generichash_state st;
	uint8_t session[crypto_kdf_KEYBYTES];
	uint8_t id_len = (uint8_t)strlen(id);
	uint8_t c2s[MAC_KEY_LEN], s2c[MAC_KEY_LEN];

	crypto_generichash_init(&st, key, CAPBUS_KEY_LEN, sizeof(session));
	crypto_generichash_update(&st, (const uint8_t *)LABEL_SESSION, strlen(LABEL_SESSION));
	crypto_generichash_update(&st, ns, HS_NONCE_LEN);
	crypto_generichash_update(&st, nc, HS_NONCE_LEN);
	crypto_generichash_update(&st, &id_len, 1);
	crypto_generichash_update(&st, (const uint8_t *)id, id_len);
	crypto_generichash_final(&st, session, sizeof(session));
	crypto_kdf_derive_from_key(c2s, sizeof(c2s), 1, KDF_CONTEXT, session);
	crypto_kdf_derive_from_key(s2c, sizeof(s2c), 2, KDF_CONTEXT, session);

	memset(s, 0, sizeof(*s));
	memcpy(s->id, id, id_len);
	mac_init(is_server ? &s->rx : &s->tx, c2s);
	mac_init(is_server ? &s->tx : &s->rx, s2c);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(session, sizeof(session));
	sodium_memzero(c2s, sizeof(c2s));
	sodium_memzero(s2c, sizeof(s2c));
}

void hs_server_hello(struct hs_server *s, uint8_t out[HS_HELLO_LEN])
{
	randombytes_buf(s->server_nonce, HS_NONCE_LEN);
	memcpy(out, hs_magic, HS_MAGIC_LEN);
	memcpy(out + HS_MAGIC_LEN, s->server_nonce, HS_NONCE_LEN);
}

int hs_server_auth(struct hs_server *s, const uint8_t *body, size_t len, hs_key_lookup_fn lookup,
		   void *userdata, struct hs_session *session, uint8_t reply[HS_RESULT_OK_LEN],
		   size_t *reply_len)
{
	uint8_t key[CAPBUS_KEY_LEN], expected[HS_PROOF_LEN];
	char id[HS_ID_MAX + 1];

	if (len < HS_AUTH_MIN || len > HS_AUTH_MAX || memcmp(body, hs_magic, HS_MAGIC_LEN) != 0)
		return HS_MALFORMED;
	const uint8_t *nc = body + HS_MAGIC_LEN;
	const uint8_t *proof = nc + HS_NONCE_LEN;
	size_t id_len = proof[HS_PROOF_LEN];
	const char *id_bytes = (const char *)proof + HS_PROOF_LEN + 1;
	if (HS_AUTH_MIN - 1 + id_len != len || !hs_id_is_valid(id_bytes, id_len))
		return HS_MALFORMED;
	memcpy(id, id_bytes, id_len);
	id[id_len] = '\0';

	/* An unknown identity is checked against a random key so both failures look alike. */
	bool known = lookup(userdata, id, key);
	if (!known)
		randombytes_buf(key, sizeof(key));
	hs_proof(key, LABEL_CLIENT, s->server_nonce, nc, id, expected);
	bool ok = (sodium_memcmp(expected, proof, HS_PROOF_LEN) == 0) & known;

	memcpy(reply, hs_magic, HS_MAGIC_LEN);
	if (!ok) {
		reply[HS_MAGIC_LEN] = HS_STATUS_AUTH_FAILED;
		*reply_len = HS_RESULT_FAIL_LEN;
		sodium_memzero(key, sizeof(key));
		return HS_REJECTED;
	}
	reply[HS_MAGIC_LEN] = HS_STATUS_OK;
	hs_proof(key, LABEL_SERVER, s->server_nonce, nc, id, reply + HS_MAGIC_LEN + 1);
	*reply_len = HS_RESULT_OK_LEN;
	hs_derive(key, s->server_nonce, nc, id, true, session);
	/* Each server nonce serves one handshake only. */
	randombytes_buf(s->server_nonce, HS_NONCE_LEN);
	sodium_memzero(key, sizeof(key));
	return HS_OK;
}

int hs_client_auth(struct hs_client *c, const char *id, const uint8_t key[CAPBUS_KEY_LEN],
		   const uint8_t *hello, size_t hello_len, uint8_t out[HS_AUTH_MAX], size_t *out_len)
{
	size_t id_len = strlen(id);

	if (!hs_id_is_valid(id, id_len))
		return HS_MALFORMED;
	/* A daemon of another protocol version says so in its first bytes: name it, do not guess. */
	if (hello_len >= HS_MAGIC_LEN && memcmp(hello, hs_magic, HS_MAGIC_LEN - 1) == 0 &&
	    hello[HS_MAGIC_LEN - 1] != HS_PROTOCOL_VERSION)
		return HS_VERSION;
	if (hello_len != HS_HELLO_LEN || memcmp(hello, hs_magic, HS_MAGIC_LEN) != 0)
		return HS_MALFORMED;
	memcpy(c->server_nonce, hello + HS_MAGIC_LEN, HS_NONCE_LEN);
	randombytes_buf(c->client_nonce, HS_NONCE_LEN);
	memcpy(c->id, id, id_len + 1);
	memcpy(c->key, key, CAPBUS_KEY_LEN);

	memcpy(out, hs_magic, HS_MAGIC_LEN);
	memcpy(out + HS_MAGIC_LEN, c->client_nonce, HS_NONCE_LEN);
	hs_proof(c->key, LABEL_CLIENT, c->server_nonce, c->client_nonce, id, out + HS_MAGIC_LEN + HS_NONCE_LEN);
	out[HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN] = (uint8_t)id_len;
	memcpy(out + HS_AUTH_MIN - 1, id, id_len);
	*out_len = HS_AUTH_MIN - 1 + id_len;
	return HS_OK;
}

int hs_client_finish(struct hs_client *c, const uint8_t *body, size_t len, struct hs_session *session)
{
	uint8_t expected[HS_PROOF_LEN];

	if (len < HS_RESULT_FAIL_LEN || memcmp(body, hs_magic, HS_MAGIC_LEN) != 0)
		return HS_MALFORMED;
	if (body[HS_MAGIC_LEN] != HS_STATUS_OK)
		return len == HS_RESULT_FAIL_LEN ? HS_REJECTED : HS_MALFORMED;
	if (len != HS_RESULT_OK_LEN)
		return HS_MALFORMED;
	hs_proof(c->key, LABEL_SERVER, c->server_nonce, c->client_nonce, c->id, expected);
	if (sodium_memcmp(expected, body + HS_MAGIC_LEN + 1, HS_PROOF_LEN) != 0)
		return HS_REJECTED; /* whoever answered does not know our key: not our daemon */
	hs_derive(c->key, c->server_nonce, c->client_nonce, c->id, false, session);
	return HS_OK;
}

void hs_client_clear(struct hs_client *c)
{
	sodium_memzero(c, sizeof(*c));
}

void hs_session_clear(struct hs_session *s)
{
	sodium_memzero(s, sizeof(*s));
}
