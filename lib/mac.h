/* SPDX-License-Identifier: MIT */
/* mac.h - per-direction frame authentication over an implicit sequence number.
 *
 * tag = ChaCha20-Poly1305-IETF(key = direction key, nonce = 4 zero bytes || seq_be64,
 *                             plaintext = empty, associated data = header || body).tag
 * The sequence number is never sent; each side counts, so a replayed, dropped or reordered frame
 * fails verification. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define MAC_KEY_LEN 32

struct mac_state {
	uint8_t key[MAC_KEY_LEN];
	uint64_t seq;
};

/* Writes the tag for the next frame in this direction and advances the sequence number. */
void mac_sign(struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN], const uint8_t *body,
	      size_t body_len, uint8_t tag[FRAME_TAG_LEN]);

/* Verifies the tag of the next expected frame in constant time. Advances the sequence number
 * only on success. Returns true when the frame is authentic. */
bool mac_verify(struct mac_state *m, const uint8_t header[FRAME_HEADER_LEN], const uint8_t *body,
		size_t body_len, const uint8_t tag[FRAME_TAG_LEN]);

/* Wipes the key. */
void mac_clear(struct mac_state *m);
