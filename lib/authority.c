// SPDX-License-Identifier: MIT
/* authority.c - HMAC-SHA-256 tags over admin requests (libsodium); no I/O, no state. */
#include "authority.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define AUTHORITY_LABEL "capbus-admin-v1"

static const char *const op_names[] = {
	[AUTHORITY_OP_KEYGEN] = "keygen", [AUTHORITY_OP_INSTALL] = "install", [AUTHORITY_OP_REMOVE] = "remove",
	[AUTHORITY_OP_GRANT] = "grant",   [AUTHORITY_OP_REVOKE] = "revoke",
	[AUTHORITY_OP_TOKEN_ADD] = "token_add", [AUTHORITY_OP_TOKEN_REVOKE] = "token_revoke",
};

const char *authority_op_name(uint32_t op)
{
	return op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : NULL;
}

int authority_sign(const uint8_t key[AUTHORITY_KEY_LEN], const uint8_t nonce[AUTHORITY_NONCE_LEN], uint32_t op,
		   const char *id, const char *arg, size_t arg_len, const char *body, size_t body_len,
		   uint8_t tag[AUTHORITY_TAG_LEN])
{
	static const uint8_t nul = 0;
	const char *name = authority_op_name(op);
	crypto_auth_hmacsha256_state st;

	if (!name || !id || (arg_len && (!arg || memchr(arg, '\0', arg_len))) || (!body && body_len))
		return -EINVAL;
	crypto_auth_hmacsha256_init(&st, key, AUTHORITY_KEY_LEN);
	/* Each variable field but the last ends in NUL, which none of them may contain. */
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)AUTHORITY_LABEL, sizeof(AUTHORITY_LABEL));
	crypto_auth_hmacsha256_update(&st, nonce, AUTHORITY_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)name, strlen(name) + 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, strlen(id) + 1);
	if (arg_len)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)arg, arg_len);
	crypto_auth_hmacsha256_update(&st, &nul, 1);
	if (body_len)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, body_len);
	crypto_auth_hmacsha256_final(&st, tag);
	sodium_memzero(&st, sizeof(st));
	return 0;
}

bool authority_verify(const uint8_t key[AUTHORITY_KEY_LEN], const uint8_t nonce[AUTHORITY_NONCE_LEN], uint32_t op,
		      const char *id, const char *arg, size_t arg_len, const char *body, size_t body_len,
		      const uint8_t tag[AUTHORITY_TAG_LEN])
{
	uint8_t want[AUTHORITY_TAG_LEN];

	if (authority_sign(key, nonce, op, id, arg, arg_len, body, body_len, want) < 0)
		return false;
	bool ok = sodium_memcmp(want, tag, AUTHORITY_TAG_LEN) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}
