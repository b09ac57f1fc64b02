// SPDX-License-Identifier: MIT
/* fuzz-handshake-server.c - libFuzzer target: the daemon side of the handshake.
 *
 * Input: an AUTH body. The daemon's nonce is fixed and it knows one identity, "alice", so a
 * seed can carry a valid proof and mutations explore both the accepted and the refused paths.
 * Checks: only well-formed bodies reach the key lookup; a refusal is the 9-byte RESULT; an
 * acceptance happens only for alice with the right proof, and its RESULT and session keys
 * are the ones a genuine client derives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "handshake.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned lookups;

static bool lookup(void *userdata, const char *id, uint8_t key[CAPBUS_KEY_LEN])
{
	lookups++;
	if (!hs_id_is_valid(id, strlen(id)))
		abort(); /* the parser must never hand an invalid id on */
	if (strcmp(id, "alice") != 0)
		return false;
	fuzz_alice_key(key);
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_sodium_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t magic[HS_MAGIC_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 0, HS_PROTOCOL_VERSION };
	struct hs_server srv;
	struct hs_session session;
	uint8_t reply[HS_RESULT_OK_LEN], ns[HS_NONCE_LEN];
	size_t reply_len = 0;

	/* A private copy, so reads past the input are caught exactly. */
	uint8_t *body = malloc(size ? size : 1);
	memcpy(body, data, size);
	fuzz_server_nonce(ns);
	memcpy(srv.server_nonce, ns, HS_NONCE_LEN);
	lookups = 0;
	memset(&session, 0x33, sizeof(session));

	int r = hs_server_auth(&srv, body, size, lookup, NULL, &session, reply, &reply_len);
	switch (r) {
	case HS_MALFORMED:
		if (lookups != 0)
			abort();
		break;
	case HS_REJECTED:
		if (lookups != 1 || reply_len != HS_RESULT_FAIL_LEN || memcmp(reply, magic, HS_MAGIC_LEN) != 0 ||
		    reply[HS_MAGIC_LEN] != HS_STATUS_AUTH_FAILED)
			abort();
		/* Refusing does not use up the nonce. */
		if (memcmp(srv.server_nonce, ns, HS_NONCE_LEN) != 0)
			abort();
		break;
	case HS_OK: {
		size_t id_len = size - (HS_AUTH_MIN - 1);
		const uint8_t *nc = body + HS_MAGIC_LEN;
		uint8_t key[CAPBUS_KEY_LEN], proof[HS_PROOF_LEN];
		if (lookups != 1 || id_len != 5 || memcmp(body + HS_AUTH_MIN - 1, "alice", 5) != 0)
			abort();
		fuzz_alice_key(key);
		fuzz_proof(key, "capbus-v1 client", ns, nc, "alice", proof);
		if (memcmp(proof, body + HS_MAGIC_LEN + HS_NONCE_LEN, HS_PROOF_LEN) != 0)
			abort();
		if (reply_len != HS_RESULT_OK_LEN || memcmp(reply, magic, HS_MAGIC_LEN) != 0 || reply[HS_MAGIC_LEN] != 0)
			abort();
		fuzz_proof(key, "capbus-v1 server", ns, nc, "alice", proof);
		if (memcmp(proof, reply + HS_MAGIC_LEN + 1, HS_PROOF_LEN) != 0)
			abort();
		if (strcmp(session.id, "alice") != 0 || session.rx.seq != 0 || session.tx.seq != 0 ||
		    fuzz_same_tags(&session.rx, &session.tx))
			abort();
		/* A genuine client with the same nonces accepts the RESULT and derives mirrored keys. */
		struct hs_client cli;
		struct hs_session cs;
		memset(&cli, 0, sizeof(cli));
		memcpy(cli.server_nonce, ns, HS_NONCE_LEN);
		memcpy(cli.client_nonce, nc, HS_NONCE_LEN);
		memcpy(cli.id, "alice", 6);
		memcpy(cli.key, key, CAPBUS_KEY_LEN);
		if (hs_client_finish(&cli, reply, reply_len, &cs) != HS_OK ||
		    !fuzz_same_tags(&cs.tx, &session.rx) || !fuzz_same_tags(&cs.rx, &session.tx) ||
		    strcmp(cs.id, session.id) != 0)
			abort();
		/* The nonce is used up: the same AUTH does not work twice. */
		if (hs_server_auth(&srv, body, size, lookup, NULL, &session, reply, &reply_len) != HS_REJECTED)
			abort();
		break;
	}
	default:
		abort();
	}
	free(body);
	return 0;
}
