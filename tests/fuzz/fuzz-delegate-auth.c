// SPDX-License-Identifier: MIT
/* fuzz-delegate-auth.c - libFuzzer target: the daemon side of the delegated handshake (AUTH_D).
 *
 * Input: an AUTH_D body. The daemon's nonce is fixed; the gateway's key is fuzz_alice_key()
 * (bytes 0..31); the only delegable subject is "alice" (key 0x40..0x5f), every other subject
 * is not delegable. Checks: only a well-formed body reaches the router's callback, and what it
 * sees encodes back to the same TAIL; a refusal is MAGIC_D | status with status 1..3, and 2 or 3
 * only behind a right gateway proof; an acceptance happens only for alice with the right
 * gateway proof (and, via 3, the right inner proof), and its RESULT_D and session keys are the
 * ones the gateway side derives; the nonce is used up whatever happened. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "handshake.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t magic_d[HS_MAGIC_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 1, HS_PROTOCOL_VERSION };

struct seen {
	unsigned calls;
	struct hs_delegation d;
};

static void subject_key(uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x40 + i);
}

static int check(void *userdata, const struct hs_delegation *d, uint8_t gw_key[CAPBUS_KEY_LEN],
		 uint8_t sk[CAPBUS_KEY_LEN])
{
	struct seen *s = userdata;

	s->calls++;
	s->d = *d;
	if (!hs_id_is_valid(d->gateway_id, strlen(d->gateway_id)) || !hs_id_is_valid(d->subject_id, strlen(d->subject_id)))
		abort(); /* the parser must never hand an invalid id on */
	if (strcmp(d->gateway_id, HS_GATEWAY_ID) != 0)
		return HS_DSTATUS_REFUSED;
	fuzz_alice_key(gw_key);
	if (strcmp(d->subject_id, "alice") != 0)
		return HS_DSTATUS_NOT_DELEGABLE;
	subject_key(sk);
	return HS_DSTATUS_OK;
}

/* HMAC-SHA256(gateway key, "capbus-v2 delegate client" | ns | nc | TAIL), written out here. */
static void gateway_proof(const uint8_t *body, size_t size, const uint8_t ns[32], uint8_t out[32])
{
	static const char label[] = "capbus-v2 delegate client";
	const size_t head = HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN;
	crypto_auth_hmacsha256_state st;
	uint8_t key[32];

	fuzz_alice_key(key);
	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_auth_hmacsha256_update(&st, ns, 32);
	crypto_auth_hmacsha256_update(&st, body + HS_MAGIC_LEN, HS_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, body + head, size - head);
	crypto_auth_hmacsha256_final(&st, out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_sodium_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t head = HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN;
	struct hs_server srv;
	struct hs_session session;
	struct hs_delegation d;
	struct seen seen = { 0 };
	uint8_t reply[HS_DRESULT_MAX], ns[HS_NONCE_LEN];
	size_t reply_len = 0;

	uint8_t *body = malloc(size ? size : 1);
	memcpy(body, data, size);
	fuzz_server_nonce(ns);
	memcpy(srv.server_nonce, ns, HS_NONCE_LEN);
	memset(&session, 0x33, sizeof(session));

	int r = hs_server_dauth(&srv, body, size, check, &seen, &d, &session, reply, &reply_len);
	if (r == HS_MALFORMED) {
		if (seen.calls != 0 || memcmp(srv.server_nonce, ns, HS_NONCE_LEN) != 0)
			abort();
		free(body);
		return 0;
	}
	if (seen.calls != 1 || !hs_is_delegated_auth(body, size) || memcmp(srv.server_nonce, ns, HS_NONCE_LEN) == 0 ||
	    memcmp(reply, magic_d, HS_MAGIC_LEN) != 0)
		abort();

	/* What the parser saw, encoded again by the gateway side, is the TAIL that came in. */
	struct hs_dclient c;
	uint8_t hello[HS_HELLO_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 0, HS_PROTOCOL_VERSION };
	uint8_t out[HS_DAUTH_MAX], gw_key[32], sk[32], proof[HS_PROOF_LEN];
	size_t out_len = 0;
	memset(&c, 0, sizeof(c));
	memcpy(hello + HS_MAGIC_LEN, ns, HS_NONCE_LEN);
	fuzz_alice_key(gw_key);
	subject_key(sk);
	if (hs_dclient_hello(&c, hello, sizeof(hello)) != HS_OK ||
	    hs_dclient_auth(&c, gw_key, &seen.d, out, &out_len) != HS_OK || out_len != size ||
	    memcmp(out + head, body + head, size - head) != 0)
		abort();
	gateway_proof(body, size, ns, proof);
	bool proof_ok = memcmp(body + HS_MAGIC_LEN + HS_NONCE_LEN, proof, HS_PROOF_LEN) == 0;
	bool inner_ok = true;
	if (seen.d.via == HS_VIA_CHALLENGE) {
		hs_ws_proof(sk, false, ns, seen.d.inner_nc, seen.d.subject_id, proof);
		inner_ok = memcmp(proof, seen.d.inner_proof, HS_PROOF_LEN) == 0;
	}

	int status = reply[HS_MAGIC_LEN];
	if (r == HS_REJECTED) {
		if (reply_len != HS_DRESULT_FAIL_LEN || status < 1 || status > 3)
			abort();
		/* Only someone with the gateway's key learns more than "refused". */
		if (status != HS_DSTATUS_REFUSED && (!proof_ok || strcmp(seen.d.gateway_id, HS_GATEWAY_ID) != 0))
			abort();
		if (strcmp(seen.d.gateway_id, HS_GATEWAY_ID) == 0 && strcmp(seen.d.subject_id, "alice") == 0 && proof_ok &&
		    inner_ok)
			abort(); /* a genuine AUTH_D for a delegable subject must pass */
	} else if (r == HS_OK) {
		if (strcmp(seen.d.gateway_id, HS_GATEWAY_ID) != 0 || strcmp(seen.d.subject_id, "alice") != 0 || !inner_ok ||
		    !proof_ok ||
		    strcmp(session.id, "alice") != 0 || status != 0 || session.rx.seq != 0 ||
		    fuzz_same_tags(&session.rx, &session.tx))
			abort();
		/* The gateway side, with the input's nonce, accepts the reply and derives mirrored keys. */
		struct hs_session cs;
		uint8_t inner_sp[HS_PROOF_LEN];
		int st = 99;
		memcpy(c.nc, body + HS_MAGIC_LEN, HS_NONCE_LEN);
		if (hs_dclient_finish(&c, reply, reply_len, &cs, inner_sp, &st) != HS_OK || st != 0 ||
		    !fuzz_same_tags(&cs.tx, &session.rx) || !fuzz_same_tags(&cs.rx, &session.tx))
			abort();
		if (seen.d.via == HS_VIA_CHALLENGE) {
			hs_ws_proof(sk, true, ns, seen.d.inner_nc, "alice", proof);
			if (memcmp(proof, inner_sp, HS_PROOF_LEN) != 0)
				abort();
		}
		/* The nonce is used up: the same AUTH_D does not work twice. */
		if (hs_server_dauth(&srv, body, size, check, &seen, &d, &session, reply, &reply_len) != HS_REJECTED ||
		    reply[HS_MAGIC_LEN] != HS_DSTATUS_REFUSED)
			abort();
	} else {
		abort();
	}
	hs_dclient_clear(&c);
	free(body);
	return 0;
}
