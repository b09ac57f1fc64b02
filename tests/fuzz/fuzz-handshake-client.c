// SPDX-License-Identifier: MIT
/* fuzz-handshake-client.c - libFuzzer target: the client side of the handshake.
 *
 * Input: one length byte n, then n bytes of HELLO, then a RESULT body. The client ("alice",
 * fixed key) answers the HELLO; when that succeeds it checks the RESULT. Checks: a HELLO is
 * answered only when it is exactly magic + nonce (another protocol version is named as such), the AUTH carries the documented proof, and
 * a RESULT is accepted only when it carries the server proof for exactly these nonces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "handshake.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_sodium_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t magic[HS_MAGIC_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 0, HS_PROTOCOL_VERSION };
	struct hs_client cli;
	struct hs_session session;
	uint8_t key[CAPBUS_KEY_LEN], auth[HS_AUTH_MAX], proof[HS_PROOF_LEN];
	size_t auth_len = 0;

	if (size < 1)
		return 0;
	size_t hello_len = data[0];
	if (hello_len > size - 1)
		hello_len = size - 1;
	uint8_t *hello = malloc(hello_len ? hello_len : 1);
	memcpy(hello, data + 1, hello_len);
	size_t result_len = size - 1 - hello_len;
	uint8_t *result = malloc(result_len ? result_len : 1);
	memcpy(result, data + 1 + hello_len, result_len);

	fuzz_alice_key(key);
	memset(&cli, 0, sizeof(cli));
	int r = hs_client_auth(&cli, "alice", key, hello, hello_len, auth, &auth_len);
	bool well_formed = hello_len == HS_HELLO_LEN && memcmp(hello, magic, HS_MAGIC_LEN) == 0;
	bool other_version = hello_len >= HS_MAGIC_LEN && memcmp(hello, magic, HS_MAGIC_LEN - 1) == 0 &&
			     hello[HS_MAGIC_LEN - 1] != HS_PROTOCOL_VERSION;
	if (r != (well_formed ? HS_OK : other_version ? HS_VERSION : HS_MALFORMED))
		abort();
	if (r != HS_OK)
		goto out;
	const uint8_t *ns = hello + HS_MAGIC_LEN, *nc = auth + HS_MAGIC_LEN;
	if (auth_len != HS_AUTH_MIN - 1 + 5 || memcmp(auth, magic, HS_MAGIC_LEN) != 0 ||
	    auth[HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN] != 5 || memcmp(auth + HS_AUTH_MIN - 1, "alice", 5) != 0)
		abort();
	fuzz_proof(key, "capbus-v1 client", ns, nc, "alice", proof);
	if (memcmp(proof, auth + HS_MAGIC_LEN + HS_NONCE_LEN, HS_PROOF_LEN) != 0)
		abort();

	memset(&session, 0x44, sizeof(session));
	r = hs_client_finish(&cli, result, result_len, &session);
	fuzz_proof(key, "capbus-v1 server", ns, nc, "alice", proof);
	bool genuine = result_len == HS_RESULT_OK_LEN && memcmp(result, magic, HS_MAGIC_LEN) == 0 &&
		       result[HS_MAGIC_LEN] == HS_STATUS_OK && memcmp(result + HS_MAGIC_LEN + 1, proof, HS_PROOF_LEN) == 0;
	switch (r) {
	case HS_OK:
		if (!genuine || strcmp(session.id, "alice") != 0 || session.rx.seq != 0 || session.tx.seq != 0 ||
		    fuzz_same_tags(&session.rx, &session.tx))
			abort();
		break;
	case HS_REJECTED:
	case HS_MALFORMED:
		if (genuine)
			abort();
		/* A refusal is exactly magic + a non-zero status; anything else is malformed. */
		if ((r == HS_REJECTED) !=
		    ((result_len == HS_RESULT_FAIL_LEN && memcmp(result, magic, HS_MAGIC_LEN) == 0 && result[HS_MAGIC_LEN] != 0) ||
		     (result_len == HS_RESULT_OK_LEN && memcmp(result, magic, HS_MAGIC_LEN) == 0 && result[HS_MAGIC_LEN] == 0)))
			abort();
		break;
	default:
		abort();
	}
	hs_client_clear(&cli);
out:
	free(hello);
	free(result);
	return 0;
}
