/* SPDX-License-Identifier: MIT */
/* authority.h - the admin's signature on an admin request (internal; not part of capbus.h).
 *
 * Used on both sides of the trust boundary: the CLI (and tests) make tags with the authority key
 * from the admin key file; the privileged parent checks them. The router, which holds every bus
 * key but never the authority key, can neither make nor check one. The signed bytes are
 *   M = "capbus-admin-v1" NUL | nonce (32 bytes) | op NUL | id NUL | arg NUL | body
 * and the tag is HMAC-SHA-256(authority key, M). See docs/protocol.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTHORITY_KEY_LEN 32
#define AUTHORITY_NONCE_LEN 32
#define AUTHORITY_TAG_LEN 32

/* The admin operations that carry the admin's authority. The numbers travel in privsep
 * messages; 0 is never valid. */
enum authority_op {
	AUTHORITY_OP_KEYGEN = 1,
	AUTHORITY_OP_INSTALL,
	AUTHORITY_OP_REMOVE,
	AUTHORITY_OP_GRANT,
	AUTHORITY_OP_REVOKE,
	AUTHORITY_OP_TOKEN_ADD,    /* id: the identity; arg: the token's tid; body: its pwhash string */
	AUTHORITY_OP_TOKEN_REVOKE, /* id: the identity; arg: a tid, or "*" for all of id's tokens */
};

/* "keygen", "install", ... or NULL for a number that is no operation. */
const char *authority_op_name(uint32_t op);

/* Computes the tag over M. id and arg must hold no NUL byte within their lengths (the encoding
 * would become ambiguous): -EINVAL then, and also for an unknown op. Returns 0 otherwise. */
int authority_sign(const uint8_t key[AUTHORITY_KEY_LEN], const uint8_t nonce[AUTHORITY_NONCE_LEN], uint32_t op,
		   const char *id, const char *arg, size_t arg_len, const char *body, size_t body_len,
		   uint8_t tag[AUTHORITY_TAG_LEN]);

/* True when tag is the tag of these bytes under key; compared in constant time. */
bool authority_verify(const uint8_t key[AUTHORITY_KEY_LEN], const uint8_t nonce[AUTHORITY_NONCE_LEN], uint32_t op,
		      const char *id, const char *arg, size_t arg_len, const char *body, size_t body_len,
		      const uint8_t tag[AUTHORITY_TAG_LEN]);
