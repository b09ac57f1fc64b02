// SPDX-License-Identifier: MIT
/* mac.c - keyed BLAKE2b frame tags (libsodium crypto_generichash). */
#include "mac.h"

#include <sodium.h>

static void mac_compute(const struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN],
			const uint8_t *body, size_t body_len, uint8_t tag[FRAME_TAG_LEN])
{
	crypto_generichash_state st;
	uint8_t seq[8];

	for (int i = 0; i < 8; i++)
		seq[i] = (uint8_t)(m->seq >> (56 - 8 * i));
	crypto_generichash_init(&st, m->key, MAC_KEY_LEN, FRAME_TAG_LEN);
	crypto_generichash_update(&st, seq, sizeof(seq));
	crypto_generichash_update(&st, header, FRAME_HEADER_LEN);
	crypto_generichash_update(&st, body, body_len);
	crypto_generichash_final(&st, tag, FRAME_TAG_LEN);
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
