// SPDX-License-Identifier: MIT
/* mac.c - frame tags: the ChaCha20-Poly1305 (RFC 8439) tag of an empty plaintext with the frame as
 * associated data, computed with libsodium's primitives so that header and body need not be
 * contiguous. The result equals crypto_aead_chacha20poly1305_ietf_encrypt_detached's tag. */
#include "mac.h"

#include <sodium.h>

static void mac_compute(const struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN],
			const uint8_t *body, size_t body_len, uint8_t tag[FRAME_TAG_LEN])
{
	static const uint8_t zeros[16];
	crypto_onetimeauth_state st;
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };
	uint8_t one_time_key[crypto_onetimeauth_KEYBYTES], lengths[16] = { 0 };
	uint64_t ad_len = FRAME_HEADER_LEN + (uint64_t)body_len;

	/* nonce = 4 zero bytes | BE64(seq): never reused, every direction has its own key. */
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(m->seq >> (56 - 8 * i));
	crypto_stream_chacha20_ietf(one_time_key, sizeof(one_time_key), nonce, m->key);
	/* Poly1305 over AD | pad16 | (no ciphertext) | LE64(ad_len) | LE64(0) */
	for (int i = 0; i < 8; i++)
		lengths[i] = (uint8_t)(ad_len >> (8 * i));
	crypto_onetimeauth_init(&st, one_time_key);
	crypto_onetimeauth_update(&st, header, FRAME_HEADER_LEN);
	crypto_onetimeauth_update(&st, body, body_len);
	crypto_onetimeauth_update(&st, zeros, (16 - ad_len % 16) % 16);
	crypto_onetimeauth_update(&st, lengths, sizeof(lengths));
	crypto_onetimeauth_final(&st, tag);
	sodium_memzero(one_time_key, sizeof(one_time_key));
	sodium_memzero(&st, sizeof(st));
}

void mac_sign(struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN], const uint8_t *body,
	      size_t body_len, uint8_t tag[FRAME_TAG_LEN])
{
	mac_compute(m, header, body, body_len, tag);
	m->seq++;
}

bool mac_verify(struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN], const uint8_t *body,
		size_t body_len, const uint8_t tag[FRAME_TAG_LEN])
{
	uint8_t expected[FRAME_TAG_LEN];

	mac_compute(m, header, body, body_len, expected);
	bool ok = crypto_verify_16(expected, tag) == 0; /* constant time */
	if (ok)
		m->seq++;
	return ok;
}

void mac_clear(struct mac_state *m)
{
	sodium_memzero(m, sizeof(*m));
}
