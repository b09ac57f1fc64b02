// SPDX-License-Identifier: MIT
/* handshake.c - mutual HMAC challenge-response and session key derivation (libsodium). */
#include "handshake.h"

#include <sodium.h>
#include <stdio.h>
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
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
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

/* ---- delegated sessions ---------------------------------------------------------------- */

static const uint8_t hs_magic_d[HS_MAGIC_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', HS_MAGIC_KIND_DELEGATED,
						  HS_PROTOCOL_VERSION };
#define LABEL_D_CLIENT "capbus-v2 delegate client"
#define LABEL_D_SERVER "capbus-v2 delegate server"
#define LABEL_D_SESSION "capbus-v2 delegate session"
#define LABEL_WS_CLIENT "capbus-ws-v1 client"
#define LABEL_WS_SERVER "capbus-ws-v1 server"

void hs_ws_proof(const uint8_t key[CAPBUS_KEY_LEN], bool server, const uint8_t ns[HS_NONCE_LEN],
		 const uint8_t nc[HS_NONCE_LEN], const char *id, uint8_t out[HS_PROOF_LEN])
{
	hs_proof(key, server ? LABEL_WS_SERVER : LABEL_WS_CLIENT, ns, nc, id, out);
}

/* HMAC-SHA256(key, label | ns | nc | tail) */
static void hs_dproof(const uint8_t key[CAPBUS_KEY_LEN], const char *label, const uint8_t *ns, const uint8_t *nc,
		      const uint8_t *tail, size_t tail_len, uint8_t out[HS_PROOF_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, CAPBUS_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_auth_hmacsha256_update(&st, ns, HS_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, nc, HS_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, tail, tail_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Session keys of a delegated connection: keyed with K_gateway over the whole transcript, so
 * they differ from any native session's, and bound to the subject named in the TAIL. */
static void hs_dderive(const uint8_t key[CAPBUS_KEY_LEN], const uint8_t *ns, const uint8_t *nc, const uint8_t *tail,
		       size_t tail_len, const char *subject, bool is_server, struct hs_session *s)
{
	crypto_generichash_state st;
	uint8_t session[crypto_kdf_KEYBYTES];
	uint8_t c2s[MAC_KEY_LEN], s2c[MAC_KEY_LEN];

	crypto_generichash_init(&st, key, CAPBUS_KEY_LEN, sizeof(session));
	crypto_generichash_update(&st, (const uint8_t *)LABEL_D_SESSION, strlen(LABEL_D_SESSION));
	crypto_generichash_update(&st, ns, HS_NONCE_LEN);
	crypto_generichash_update(&st, nc, HS_NONCE_LEN);
	crypto_generichash_update(&st, tail, tail_len);
	crypto_generichash_final(&st, session, sizeof(session));
	crypto_kdf_derive_from_key(c2s, sizeof(c2s), 1, KDF_CONTEXT, session);
	crypto_kdf_derive_from_key(s2c, sizeof(s2c), 2, KDF_CONTEXT, session);

	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", subject);
	mac_init(is_server ? &s->rx : &s->tx, c2s);
	mac_init(is_server ? &s->tx : &s->rx, s2c);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(session, sizeof(session));
	sodium_memzero(c2s, sizeof(c2s));
	sodium_memzero(s2c, sizeof(s2c));
}

static bool hs_peer_is_valid(const char *p, size_t len)
{
	if (len > HS_PEER_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((uint8_t)p[i] < 0x21 || (uint8_t)p[i] > 0x7e)
			return false;
	return true;
}

/* One length-prefixed field of the TAIL at *off: its bytes copied to out (NUL-terminated). */
static bool take_field(const uint8_t *tail, size_t len, size_t *off, size_t max, char *out, size_t *out_len)
{
	if (*off >= len)
		return false;
	size_t n = tail[(*off)++];
	if (n > max || n > len - *off)
		return false;
	memcpy(out, tail + *off, n);
	out[n] = '\0';
	*off += n;
	*out_len = n;
	return true;
}

bool hs_is_delegated_auth(const uint8_t *body, size_t len)
{
	return len >= HS_MAGIC_LEN && memcmp(body, hs_magic_d, HS_MAGIC_LEN) == 0;
}

int hs_parse_dauth(const uint8_t *body, size_t len, struct hs_delegation *d)
{
	struct hs_delegation v;
	size_t off, n;

	memset(&v, 0, sizeof(v));
	if (len < HS_DAUTH_MIN || len > HS_DAUTH_MAX || !hs_is_delegated_auth(body, len))
		return HS_MALFORMED;
	const uint8_t *tail = body + HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN;
	size_t tail_len = len - (HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN);
	v.via = tail[0];
	v.flags = tail[1];
	if (v.via < HS_VIA_LOCAL || v.via > HS_VIA_CHALLENGE || (v.flags & ~HS_DFLAGS_KNOWN))
		return HS_MALFORMED;
	off = 2;
	if (!take_field(tail, tail_len, &off, HS_ID_MAX, v.gateway_id, &n) || !hs_id_is_valid(v.gateway_id, n) ||
	    !take_field(tail, tail_len, &off, HS_ID_MAX, v.subject_id, &n) || !hs_id_is_valid(v.subject_id, n) ||
	    !take_field(tail, tail_len, &off, HS_PEER_MAX, v.peer, &n) || !hs_peer_is_valid(v.peer, n))
		return HS_MALFORMED;
	size_t rest = v.via == HS_VIA_CHALLENGE ? HS_NONCE_LEN + HS_PROOF_LEN : 0;
	if (tail_len - off != rest)
		return HS_MALFORMED;
	if (rest) {
		memcpy(v.inner_nc, tail + off, HS_NONCE_LEN);
		memcpy(v.inner_proof, tail + off + HS_NONCE_LEN, HS_PROOF_LEN);
	}
	*d = v;
	return HS_OK;
}

int hs_server_dauth(struct hs_server *s, const uint8_t *body, size_t len, hs_delegate_check_fn check,
		    void *userdata, struct hs_delegation *d, struct hs_session *session,
		    uint8_t reply[HS_DRESULT_MAX], size_t *reply_len)
{
	uint8_t gw_key[CAPBUS_KEY_LEN], subject_key[CAPBUS_KEY_LEN], expected[HS_PROOF_LEN];

	if (hs_parse_dauth(body, len, d) != HS_OK)
		return HS_MALFORMED;
	const uint8_t *nc = body + HS_MAGIC_LEN;
	const uint8_t *proof = nc + HS_NONCE_LEN;
	const uint8_t *tail = proof + HS_PROOF_LEN;
	size_t tail_len = len - (size_t)(tail - body);
	bool challenge = d->via == HS_VIA_CHALLENGE;

	/* Random keys unless check supplies real ones: a refusal does the same work as a success. */
	randombytes_buf(gw_key, sizeof(gw_key));
	randombytes_buf(subject_key, sizeof(subject_key));
	int status = check(userdata, d, gw_key, subject_key);
	hs_dproof(gw_key, LABEL_D_CLIENT, s->server_nonce, nc, tail, tail_len, expected);
	bool gw_ok = sodium_memcmp(expected, proof, HS_PROOF_LEN) == 0;
	bool inner_ok = true;
	if (challenge) {
		hs_ws_proof(subject_key, false, s->server_nonce, d->inner_nc, d->subject_id, expected);
		inner_ok = sodium_memcmp(expected, d->inner_proof, HS_PROOF_LEN) == 0;
	}
	if (!gw_ok)
		status = HS_DSTATUS_REFUSED;
	else if (status == HS_DSTATUS_OK && !inner_ok)
		status = HS_DSTATUS_CHALLENGE_FAILED;
	else if (challenge && status == HS_DSTATUS_NOT_DELEGABLE)
		status = HS_DSTATUS_CHALLENGE_FAILED; /* a browser learns nothing about who exists */
	else if (status < HS_DSTATUS_OK || status > HS_DSTATUS_CHALLENGE_FAILED)
		status = HS_DSTATUS_REFUSED;

	memcpy(reply, hs_magic_d, HS_MAGIC_LEN);
	reply[HS_MAGIC_LEN] = (uint8_t)status;
	if (status != HS_DSTATUS_OK) {
		*reply_len = HS_DRESULT_FAIL_LEN;
	} else {
		hs_dproof(gw_key, LABEL_D_SERVER, s->server_nonce, nc, tail, tail_len, reply + HS_MAGIC_LEN + 1);
		*reply_len = HS_MAGIC_LEN + 1 + HS_PROOF_LEN;
		if (challenge) {
			hs_ws_proof(subject_key, true, s->server_nonce, d->inner_nc, d->subject_id, reply + *reply_len);
			*reply_len += HS_PROOF_LEN;
		}
		hs_dderive(gw_key, s->server_nonce, nc, tail, tail_len, d->subject_id, true, session);
	}
	/* One AUTH_D per nonce, whatever the outcome: the daemon closes after a refusal anyway. */
	randombytes_buf(s->server_nonce, HS_NONCE_LEN);
	sodium_memzero(gw_key, sizeof(gw_key));
	sodium_memzero(subject_key, sizeof(subject_key));
	return status == HS_DSTATUS_OK ? HS_OK : HS_REJECTED;
}

int hs_dclient_hello(struct hs_dclient *c, const uint8_t *hello, size_t len)
{
	if (len >= HS_MAGIC_LEN && memcmp(hello, hs_magic, HS_MAGIC_LEN - 1) == 0 &&
	    hello[HS_MAGIC_LEN - 1] != HS_PROTOCOL_VERSION)
		return HS_VERSION;
	if (len != HS_HELLO_LEN || memcmp(hello, hs_magic, HS_MAGIC_LEN) != 0)
		return HS_MALFORMED;
	memcpy(c->ns, hello + HS_MAGIC_LEN, HS_NONCE_LEN);
	return HS_OK;
}

int hs_dclient_auth(struct hs_dclient *c, const uint8_t gw_key[CAPBUS_KEY_LEN], const struct hs_delegation *d,
		    uint8_t out[HS_DAUTH_MAX], size_t *out_len)
{
	size_t gw_len = strnlen(d->gateway_id, sizeof(d->gateway_id));
	size_t id_len = strnlen(d->subject_id, sizeof(d->subject_id));
	size_t peer_len = strnlen(d->peer, sizeof(d->peer));
	uint8_t *t = c->tail;
	size_t n = 0;

	if (d->via < HS_VIA_LOCAL || d->via > HS_VIA_CHALLENGE || (d->flags & ~HS_DFLAGS_KNOWN) ||
	    !hs_id_is_valid(d->gateway_id, gw_len) || !hs_id_is_valid(d->subject_id, id_len) ||
	    !hs_peer_is_valid(d->peer, peer_len))
		return HS_MALFORMED;
	t[n++] = d->via;
	t[n++] = d->flags;
	t[n++] = (uint8_t)gw_len;
	memcpy(t + n, d->gateway_id, gw_len);
	n += gw_len;
	t[n++] = (uint8_t)id_len;
	memcpy(t + n, d->subject_id, id_len);
	n += id_len;
	t[n++] = (uint8_t)peer_len;
	memcpy(t + n, d->peer, peer_len);
	n += peer_len;
	if (d->via == HS_VIA_CHALLENGE) {
		memcpy(t + n, d->inner_nc, HS_NONCE_LEN);
		n += HS_NONCE_LEN;
		memcpy(t + n, d->inner_proof, HS_PROOF_LEN);
		n += HS_PROOF_LEN;
	}
	c->tail_len = n;
	c->via = d->via;
	memcpy(c->subject_id, d->subject_id, id_len + 1);
	memcpy(c->key, gw_key, CAPBUS_KEY_LEN);
	randombytes_buf(c->nc, HS_NONCE_LEN);

	memcpy(out, hs_magic_d, HS_MAGIC_LEN);
	memcpy(out + HS_MAGIC_LEN, c->nc, HS_NONCE_LEN);
	hs_dproof(c->key, LABEL_D_CLIENT, c->ns, c->nc, t, n, out + HS_MAGIC_LEN + HS_NONCE_LEN);
	memcpy(out + HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN, t, n);
	*out_len = HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN + n;
	return HS_OK;
}

int hs_dclient_finish(struct hs_dclient *c, const uint8_t *body, size_t len, struct hs_session *session,
		      uint8_t inner_sp[HS_PROOF_LEN], int *status)
{
	uint8_t expected[HS_PROOF_LEN];
	bool challenge = c->via == HS_VIA_CHALLENGE;
	size_t ok_len = HS_MAGIC_LEN + 1 + HS_PROOF_LEN + (challenge ? HS_PROOF_LEN : 0);

	if (len < HS_DRESULT_FAIL_LEN || memcmp(body, hs_magic_d, HS_MAGIC_LEN) != 0)
		return HS_MALFORMED;
	if (body[HS_MAGIC_LEN] != HS_DSTATUS_OK) {
		if (len != HS_DRESULT_FAIL_LEN || body[HS_MAGIC_LEN] > HS_DSTATUS_CHALLENGE_FAILED)
			return HS_MALFORMED;
		*status = body[HS_MAGIC_LEN];
		return HS_REJECTED;
	}
	if (len != ok_len)
		return HS_MALFORMED;
	hs_dproof(c->key, LABEL_D_SERVER, c->ns, c->nc, c->tail, c->tail_len, expected);
	if (sodium_memcmp(expected, body + HS_MAGIC_LEN + 1, HS_PROOF_LEN) != 0) {
		*status = -1; /* whoever answered does not know K_gateway: not our daemon */
		return HS_REJECTED;
	}
	if (challenge)
		memcpy(inner_sp, body + HS_MAGIC_LEN + 1 + HS_PROOF_LEN, HS_PROOF_LEN);
	*status = HS_DSTATUS_OK;
	hs_dderive(c->key, c->ns, c->nc, c->tail, c->tail_len, c->subject_id, false, session);
	return HS_OK;
}

void hs_dclient_clear(struct hs_dclient *c)
{
	sodium_memzero(c, sizeof(*c));
}
