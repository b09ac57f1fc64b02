// SPDX-License-Identifier: MIT
/* fuzz-gw-challenge.c - libFuzzer target: the challenge answer parser (gw_challenge_parse,
 * gateway/auth.c), the first WebSocket message of an unauthenticated browser.
 *
 * An accepted message must be valid JSON, name a valid identity, and the canonical message built
 * from what was read must parse to the same values. */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-auth.h"
#include "json-scan.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[HS_ID_MAX + 1], id2[HS_ID_MAX + 1], hnc[65], hp[65], msg[512];
	uint8_t nc[HS_NONCE_LEN], proof[HS_PROOF_LEN], nc2[HS_NONCE_LEN], proof2[HS_PROOF_LEN];

	if (size > 4096)
		return 0;
	int r = gw_challenge_parse((const char *)data, size, id, nc, proof);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r != 0)
		return 0;
	if (size > GW_CHALLENGE_MSG_MAX || !hs_id_is_valid(id, strlen(id)) || json_scan_document(data, size, 128) != 0)
		abort();
	sodium_bin2hex(hnc, sizeof(hnc), nc, sizeof(nc));
	sodium_bin2hex(hp, sizeof(hp), proof, sizeof(proof));
	int n = snprintf(msg, sizeof(msg),
			 "{\"type\":\"capbus.auth\",\"data\":{\"id\":\"%s\",\"cnonce\":\"%s\",\"proof\":\"%s\"},\"context\":{}}", id,
			 hnc, hp);
	if (n < 0 || (size_t)n >= sizeof(msg) || gw_challenge_parse(msg, (size_t)n, id2, nc2, proof2) != 0 ||
	    strcmp(id, id2) != 0 || memcmp(nc, nc2, sizeof(nc)) != 0 || memcmp(proof, proof2, sizeof(proof)) != 0)
		abort();
	return 0;
}
