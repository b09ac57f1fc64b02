/* SPDX-License-Identifier: MIT */
/* fuzz-common.h - shared by the handshake fuzz targets: a deterministic random source.
 *
 * libFuzzer needs the same input to take the same path. The handshake draws nonces (and, for
 * unknown identities, a dummy key) from libsodium's random source; the fuzz targets replace it
 * with a constant stream so that a seed can carry a valid proof. Never used outside fuzzing.
 * Also: a check shared by the JSON targets, and a key comparison for the handshake targets. */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mac.h"

#define FUZZ_RANDOM_BYTE 0xc1

static const char *fuzz_random_name(void)
{
	return "capbus-fuzz-constant";
}

static uint32_t fuzz_random(void)
{
	return 0xc1c1c1c1u;
}

static void fuzz_random_buf(void *const buf, const size_t size)
{
	memset(buf, FUZZ_RANDOM_BYTE, size);
}

static struct randombytes_implementation fuzz_random_impl = {
	.implementation_name = fuzz_random_name,
	.random = fuzz_random,
	.buf = fuzz_random_buf,
};

static inline void fuzz_sodium_setup(void)
{
	if (randombytes_set_implementation(&fuzz_random_impl) != 0 || sodium_init() < 0)
		abort();
}

/* The key the fuzz daemon knows for "alice": bytes 0, 1, ..., 31. */
static inline void fuzz_alice_key(uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
}

/* The fixed server nonce: bytes 0xa0, 0xa1, ... */
static inline void fuzz_server_nonce(uint8_t nonce[32])
{
	for (int i = 0; i < 32; i++)
		nonce[i] = (uint8_t)(0xa0 + i);
}

/* HMAC-SHA256(key, label | ns | nc | id_len | id), written out independently of the library. */
static inline void fuzz_proof(const uint8_t key[32], const char *label, const uint8_t ns[32], const uint8_t nc[32],
			      const char *id, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;
	uint8_t id_len = (uint8_t)strlen(id);

	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_auth_hmacsha256_update(&st, ns, 32);
	crypto_auth_hmacsha256_update(&st, nc, 32);
	crypto_auth_hmacsha256_update(&st, &id_len, 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, id_len);
	crypto_auth_hmacsha256_final(&st, out);
}

/* Whether two direction states tag a probe frame alike, i.e. hold the same key (the raw key is
 * not kept in a mac_state). The states are copied, so their sequence numbers do not move. */
static inline bool fuzz_same_tags(const struct mac_state *a, const struct mac_state *b)
{
	struct mac_state ca = *a, cb = *b;
	uint8_t hdr[FRAME_HEADER_LEN], ta[FRAME_TAG_LEN], tb[FRAME_TAG_LEN];

	frame_put_header(hdr, 2);
	mac_sign(&ca, hdr, (const uint8_t *)"{}", 2, ta);
	mac_sign(&cb, hdr, (const uint8_t *)"{}", 2, tb);
	return memcmp(ta, tb, FRAME_TAG_LEN) == 0;
}

/* An escaped NUL (\u0000 after an odd run of backslashes) anywhere in the raw body. Every C
 * consumer would cut the string there, so no accepted message may contain one. */
static inline bool fuzz_has_escaped_nul(const uint8_t *body, size_t size)
{
	for (size_t i = 0; i + 6 <= size; i++) {
		if (memcmp(body + i, "\\u0000", 6) != 0)
			continue;
		size_t run = 1;
		while (run <= i && body[i - run] == '\\')
			run++;
		if (run % 2 == 1)
			return true;
	}
	return false;
}
