// SPDX-License-Identifier: MIT
/* test-mac.c - unit tests for lib/mac.c: per-direction frame tags with an implicit sequence.
 *
 * Checks the tag against the formula in docs/protocol.md, and that replayed, reordered,
 * altered or foreign-key frames fail without advancing the receiver's sequence number. */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "mac.h"

static void make_pair(struct mac_state *tx, struct mac_state *rx, uint8_t fill)
{
	memset(tx, 0, sizeof(*tx));
	memset(tx->key, fill, MAC_KEY_LEN);
	*rx = *tx;
}

/* tag = the ChaCha20-Poly1305-IETF AEAD tag of an empty plaintext, nonce 0^4 | BE64(seq),
 * associated data header | body: computed independently with libsodium's AEAD in one call. */
static void reference_tag(const uint8_t key[MAC_KEY_LEN], uint64_t seq, const uint8_t *body, uint32_t len,
			  uint8_t tag[FRAME_TAG_LEN])
{
	uint8_t ad[FRAME_HEADER_LEN + 64], nonce[12] = { 0 }, no_ciphertext[1];
	unsigned long long tag_len = 0;

	CHECK(len <= 64);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	frame_put_header(ad, len);
	memcpy(ad + FRAME_HEADER_LEN, body, len);
	CHECK(crypto_aead_chacha20poly1305_ietf_encrypt_detached(no_ciphertext, tag, &tag_len, NULL, 0, ad,
								FRAME_HEADER_LEN + len, NULL, nonce, key) == 0);
	CHECK(tag_len == FRAME_TAG_LEN);
}

static void test_known_answer(void)
{
	struct mac_state tx, rx;
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN], want[FRAME_TAG_LEN];
	const uint8_t body[] = "{\"type\":\"speak\"}";
	uint32_t len = sizeof(body) - 1;

	make_pair(&tx, &rx, 0x11);
	frame_put_header(hdr, len);
	for (uint64_t seq = 0; seq < 3; seq++) {
		mac_sign(&tx, hdr, body, len, tag);
		reference_tag(tx.key, seq, body, len, want);
		CHECK(memcmp(tag, want, FRAME_TAG_LEN) == 0);
		CHECK(tx.seq == seq + 1);
	}
	/* A large sequence number is encoded big-endian over all 8 bytes. */
	tx.seq = UINT64_C(0x0102030405060708);
	mac_sign(&tx, hdr, body, len, tag);
	reference_tag(tx.key, UINT64_C(0x0102030405060708), body, len, want);
	CHECK(memcmp(tag, want, FRAME_TAG_LEN) == 0);
	/* Every padding case of the associated data (header + body, padded to 16 bytes). */
	uint8_t varied[64];
	for (uint32_t n = 1; n <= sizeof(varied); n++) {
		varied[n - 1] = (uint8_t)(n * 7);
		frame_put_header(hdr, n);
		uint64_t seq = tx.seq;
		mac_sign(&tx, hdr, varied, n, tag);
		reference_tag(tx.key, seq, varied, n, want);
		CHECK(memcmp(tag, want, FRAME_TAG_LEN) == 0);
	}
}

static void test_sign_verify(void)
{
	struct mac_state tx, rx;
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN];
	const uint8_t body[] = "abc";

	make_pair(&tx, &rx, 0x22);
	frame_put_header(hdr, 3);
	for (int i = 0; i < 10; i++) {
		mac_sign(&tx, hdr, body, 3, tag);
		CHECK(mac_verify(&rx, hdr, body, 3, tag));
	}
	CHECK(tx.seq == 10 && rx.seq == 10);
}

static void test_replay_reorder(void)
{
	struct mac_state tx, rx;
	uint8_t hdr[FRAME_HEADER_LEN], t0[FRAME_TAG_LEN], t1[FRAME_TAG_LEN];
	const uint8_t b0[] = "first", b1[] = "other";

	make_pair(&tx, &rx, 0x33);
	frame_put_header(hdr, 5);
	mac_sign(&tx, hdr, b0, 5, t0);
	mac_sign(&tx, hdr, b1, 5, t1);

	/* Reordered: the second frame first fails, and does not advance the receiver. */
	CHECK(!mac_verify(&rx, hdr, b1, 5, t1));
	CHECK(rx.seq == 0);
	CHECK(mac_verify(&rx, hdr, b0, 5, t0));
	/* Replayed: the first frame again fails. */
	CHECK(!mac_verify(&rx, hdr, b0, 5, t0));
	CHECK(rx.seq == 1);
	CHECK(mac_verify(&rx, hdr, b1, 5, t1));
	/* Dropped: skipping a frame makes every later one fail. */
	uint8_t t2[FRAME_TAG_LEN], t3[FRAME_TAG_LEN];
	mac_sign(&tx, hdr, b0, 5, t2);
	mac_sign(&tx, hdr, b0, 5, t3);
	CHECK(!mac_verify(&rx, hdr, b0, 5, t3));
}

static void test_alterations(void)
{
	struct mac_state tx, rx;
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN];
	uint8_t body[16] = "0123456789abcdef";

	make_pair(&tx, &rx, 0x44);
	frame_put_header(hdr, sizeof(body));
	mac_sign(&tx, hdr, body, sizeof(body), tag);

	for (size_t i = 0; i < sizeof(body); i++) {
		body[i] ^= 1;
		CHECK(!mac_verify(&rx, hdr, body, sizeof(body), tag));
		body[i] ^= 1;
	}
	for (size_t i = 0; i < FRAME_HEADER_LEN; i++) {
		hdr[i] ^= 0x80;
		CHECK(!mac_verify(&rx, hdr, body, sizeof(body), tag));
		hdr[i] ^= 0x80;
	}
	for (size_t i = 0; i < FRAME_TAG_LEN; i++) {
		tag[i] ^= 1;
		CHECK(!mac_verify(&rx, hdr, body, sizeof(body), tag));
		tag[i] ^= 1;
	}
	/* A truncated body with the same tag fails too. */
	CHECK(!mac_verify(&rx, hdr, body, sizeof(body) - 1, tag));
	CHECK(rx.seq == 0);
	CHECK(mac_verify(&rx, hdr, body, sizeof(body), tag));

	/* The other direction's key (or any other key) does not verify. */
	struct mac_state other;
	make_pair(&tx, &rx, 0x44);
	make_pair(&other, &other, 0x45);
	mac_sign(&tx, hdr, body, sizeof(body), tag);
	CHECK(!mac_verify(&other, hdr, body, sizeof(body), tag));
	CHECK(other.seq == 0);
}

static void test_clear(void)
{
	struct mac_state m;
	static const struct mac_state zero;

	memset(&m, 0x77, sizeof(m));
	mac_clear(&m);
	CHECK(memcmp(&m, &zero, sizeof(m)) == 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 99;
	test_known_answer();
	test_sign_verify();
	test_replay_reorder();
	test_alterations();
	test_clear();
	return check_finish("test-mac");
}
