/* SPDX-License-Identifier: MIT */
/* mac.h - per-direction frame authentication over an implicit sequence number.
 *
 * tag = first 16 bytes of HMAC-SHA-256(K_dir, BE64(seq) | header | body)   (RFC 4868 truncation)
 * The sequence number is never sent; each side counts, so a replayed, dropped or reordered frame
 * fails verification. The state holds key-equivalent material (the HMAC pads already hashed):
 * wipe it with mac_clear, or with sodium_memzero when it was copied by value. It owns no heap
 * memory, so copying it by value hands it on. */
#pragma once

#include <openssl/sha.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define MAC_KEY_LEN 32

struct mac_state {
	SHA256_CTX inner; /* SHA-256 after absorbing K_dir ^ ipad */
	SHA256_CTX outer; /* SHA-256 after absorbing K_dir ^ opad */
	uint64_t seq;
};

/* Keys one direction with a 32-byte session key and resets the sequence number to 0. The key is
 * not kept: only the two hash states derived from it. */
void mac_init(struct mac_state *m, const uint8_t key[MAC_KEY_LEN]);

/* Writes the tag for the next frame in this direction and advances the sequence number. */
void mac_sign(struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN], const uint8_t *body,
	      size_t body_len, uint8_t tag[FRAME_TAG_LEN]);

/* Verifies the tag of the next expected frame in constant time. Advances the sequence number
 * only on success. Returns true when the frame is authentic. */
bool mac_verify(struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN], const uint8_t *body,
		size_t body_len, const uint8_t tag[FRAME_TAG_LEN]);

/* Wipes the key material and the sequence number. */
void mac_clear(struct mac_state *m);
