// SPDX-License-Identifier: MIT
/* test-mac.c - unit tests for lib/mac.c: per-direction frame tags with an implicit sequence.
 *
 * Checks the tag against vectors computed by Python's hmac (tests/vectors/frame-tags.txt) and
 * against libcrypto's one-shot HMAC(), and that replayed, reordered, altered or foreign-key
 * frames fail without advancing the receiver's sequence number. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mac.h"

#define VECTORS "tests/vectors/frame-tags.txt"
#define VECTORS_EXPECTED 52
#define BODY_MAX 65536

static void make_pair(struct mac_state *tx, struct mac_state *rx, uint8_t fill)
{
	uint8_t key[MAC_KEY_LEN];

	memset(key, fill, sizeof(key));
	mac_init(tx, key);
	*rx = *tx;
}

/* tag = HMAC-SHA-256(key, BE64(seq) | header | body)[:16], computed in one call by libcrypto's
 * HMAC() over a contiguous copy: another code path than lib/mac.c's precomputed states. */
static void reference_tag(const uint8_t key[MAC_KEY_LEN], uint64_t seq, const uint8_t *body, uint32_t len,
			  uint8_t tag[FRAME_TAG_LEN])
{
	static uint8_t msg[8 + FRAME_HEADER_LEN + 1024];
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;

	CHECK(len <= 1024);
	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(seq >> (56 - 8 * i));
	frame_put_header(msg + 8, len);
	memcpy(msg + 8 + FRAME_HEADER_LEN, body, len);
	CHECK(HMAC(EVP_sha256(), key, MAC_KEY_LEN, msg, 8 + FRAME_HEADER_LEN + len, full, &full_len) != NULL);
	CHECK(full_len == 32);
	memcpy(tag, full, FRAME_TAG_LEN);
}

static int hex_decode(const char *hex, uint8_t *out, size_t out_len)
{
	size_t bin_len = 0;

	if (strlen(hex) != 2 * out_len ||
	    sodium_hex2bin(out, out_len, hex, strlen(hex), NULL, &bin_len, NULL) != 0 || bin_len != out_len)
		return -EINVAL;
	return 0;
}

/* One vector: the tag, then that it verifies, and that a flipped bit or another seq does not. */
static void check_vector(const uint8_t key[MAC_KEY_LEN], uint64_t seq, uint8_t *body, uint32_t len,
			 const uint8_t want[FRAME_TAG_LEN], unsigned line)
{
	struct mac_state tx, rx;
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN];

	mac_init(&tx, key);
	rx = tx;
	tx.seq = rx.seq = seq;
	frame_put_header(hdr, len);
	mac_sign(&tx, hdr, body, len, tag);
	if (memcmp(tag, want, FRAME_TAG_LEN) != 0)
		fprintf(stderr, VECTORS ":%u: tag differs\n", line);
	CHECK(memcmp(tag, want, FRAME_TAG_LEN) == 0);
	CHECK(tx.seq == seq + 1); /* wraps at 2^64 - 1, where no session ever gets */

	rx.seq = seq ^ 1;
	CHECK(!mac_verify(&rx, hdr, body, len, want));
	rx.seq = seq ^ (UINT64_C(1) << 63);
	CHECK(!mac_verify(&rx, hdr, body, len, want));
	rx.seq = seq;
	uint8_t bad[FRAME_TAG_LEN];
	memcpy(bad, want, FRAME_TAG_LEN);
	bad[line % FRAME_TAG_LEN] ^= 0x01;
	CHECK(!mac_verify(&rx, hdr, body, len, bad));
	hdr[3] ^= 0x80;
	CHECK(!mac_verify(&rx, hdr, body, len, want));
	hdr[3] ^= 0x80;
	if (len > 0) {
		body[len - 1] ^= 0x40;
		CHECK(!mac_verify(&rx, hdr, body, len, want));
		body[len - 1] ^= 0x40;
	}
	CHECK(rx.seq == seq);
	CHECK(mac_verify(&rx, hdr, body, len, want));
	CHECK(rx.seq == seq + 1);
	mac_clear(&tx);
	mac_clear(&rx);
}

/* The vectors shared with the Python SDK's test, produced by Python's hmac module. */
static void test_python_vectors(void)
{
	const char *src = getenv("CAPBUS_SOURCE_DIR");
	char path[4096], text[512], key_hex[65], tag_hex[33];
	uint8_t key[MAC_KEY_LEN], want[FRAME_TAG_LEN];
	unsigned long long seq;
	unsigned len, line = 0, vectors = 0;

	CHECK(src != NULL);
	if (!src)
		return;
	snprintf(path, sizeof(path), "%s/" VECTORS, src);
	FILE *f = fopen(path, "re");
	CHECK(f != NULL);
	if (!f)
		return;
	uint8_t *body = malloc(BODY_MAX);
	CHECK(body != NULL);
	while (body && fgets(text, sizeof(text), f)) {
		line++;
		if (text[0] == '#')
			continue;
		int n = sscanf(text, "%64s %llu %u %32s", key_hex, &seq, &len, tag_hex);
		CHECK(n == 4 && len <= BODY_MAX);
		if (n != 4 || len > BODY_MAX)
			continue;
		CHECK(hex_decode(key_hex, key, sizeof(key)) == 0 && hex_decode(tag_hex, want, sizeof(want)) == 0);
		for (uint32_t i = 0; i < len; i++)
			body[i] = (uint8_t)(7 * i + len);
		check_vector(key, (uint64_t)seq, body, len, want, line);
		vectors++;
	}
	CHECK(vectors == VECTORS_EXPECTED);
	free(body);
	fclose(f);
}

static void test_known_answer(void)
{
	struct mac_state tx, rx;
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN], want[FRAME_TAG_LEN], key[MAC_KEY_LEN];
	const uint8_t body[] = "{\"type\":\"speak\"}";
	uint32_t len = sizeof(body) - 1;

	memset(key, 0x11, sizeof(key));
	make_pair(&tx, &rx, 0x11);
	frame_put_header(hdr, len);
	for (uint64_t seq = 0; seq < 3; seq++) {
		mac_sign(&tx, hdr, body, len, tag);
		reference_tag(key, seq, body, len, want);
		CHECK(memcmp(tag, want, FRAME_TAG_LEN) == 0);
		CHECK(tx.seq == seq + 1);
	}
	/* A large sequence number is encoded big-endian over all 8 bytes. */
	tx.seq = UINT64_C(0x0102030405060708);
	mac_sign(&tx, hdr, body, len, tag);
	reference_tag(key, UINT64_C(0x0102030405060708), body, len, want);
	CHECK(memcmp(tag, want, FRAME_TAG_LEN) == 0);
	/* Every length across the first SHA-256 blocks and their padding (input = 12 + len bytes). */
	static uint8_t varied[300];
	for (uint32_t n = 0; n <= sizeof(varied); n++) {
		if (n > 0)
			varied[n - 1] = (uint8_t)(n * 7);
		frame_put_header(hdr, n);
		uint64_t seq = tx.seq;
		mac_sign(&tx, hdr, varied, n, tag);
		reference_tag(key, seq, varied, n, want);
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
	make_pair(&other, &rx, 0x45);
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
	test_python_vectors();
	test_known_answer();
	test_sign_verify();
	test_replay_reorder();
	test_alterations();
	test_clear();
	return check_finish("test-mac");
}
