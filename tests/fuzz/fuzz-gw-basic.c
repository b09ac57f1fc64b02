// SPDX-License-Identifier: MIT
/* fuzz-gw-basic.c - libFuzzer target: the gateway's Authorization: Basic parser (gateway/auth.c)
 * and the decision that uses it.
 *
 * Input: an Authorization header value. An accepted value must carry a syntactically valid
 * token and an empty or valid user, and the canonical header built from them must parse to the
 * same; the decision over the value (no token store) must be a counted 401 whose reason says
 * whether the parser accepted the value. */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-auth.h"

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
	char token[GW_TOKEN_LEN + 1], user[HS_ID_MAX + 1], tid[GW_TID_LEN + 1];
	char token2[GW_TOKEN_LEN + 1], user2[HS_ID_MAX + 1];
	char value[GW_AUTHORIZATION_MAX + 2];
	static struct gw_config cfg = { .route = "/core" };
	struct gw_peer peer = {};
	struct gw_decision d;

	if (size > GW_AUTHORIZATION_MAX + 1)
		return 0;
	int r = gw_basic_parse((const char *)data, size, token, user);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0) {
		if (strlen(token) != GW_TOKEN_LEN || gw_token_parse(token, GW_TOKEN_LEN, tid, NULL) != 0)
			abort();
		if (user[0] && !hs_id_is_valid(user, strlen(user)))
			abort();
		char cred[GW_TOKEN_LEN + HS_ID_MAX + 2], b64[256];
		size_t n = (size_t)snprintf(cred, sizeof(cred), "%s:%s", user[0] ? user : token, user[0] ? token : "");
		sodium_bin2base64(b64, sizeof(b64), (const uint8_t *)cred, n, sodium_base64_VARIANT_ORIGINAL);
		n = (size_t)snprintf(value, sizeof(value), "Basic %s", b64);
		if (gw_basic_parse(value, n, token2, user2) != 0 || strcmp(token, token2) != 0 || strcmp(user, user2) != 0)
			abort();
	}

	/* The decision, as the gateway's callback makes it: the header is a C string there, so it
	 * sees the value up to a NUL. The token is never in the (absent) store. */
	memcpy(value, data, size);
	value[size] = '\0';
	struct gw_http_req req = { .path = "/core", .authorization = value, .tls = true };
	gw_auth_decide(&cfg, NULL, NULL, &peer, &req, 1, &d);
	if (d.http_status != 401 || !d.count_failure || d.method != GW_M_NONE || !d.reason)
		abort();
	int r2 = gw_basic_parse(value, strnlen(value, GW_AUTHORIZATION_MAX + 1), token2, user2);
	if (strcmp(d.reason, r2 == 0 ? "unknown_token" : "malformed") != 0)
		abort();
	return 0;
}
