/* SPDX-License-Identifier: MIT */
/* bench-layers.c - what each per-message step of the router costs, in isolation.
 *
 * The daemon has no switch to turn a security layer off, so the layers are timed here, with the
 * daemon's own code: the frame MAC (mac_sign + mac_verify of one 256-byte frame, what the router
 * does per delivered frame: verify in, sign out; HMAC-SHA-256-128 since protocol version 2, next
 * to it the same work done through EVP_MAC with a re-init per message, and protocol version 1's
 * ChaCha20-Poly1305 tag, both for comparison only), the policy checks (identity_may_send +
 * identity_may_receive with manifests of 10 and of 1000 patterns), and for comparison the JSON
 * work every message pays (envelope_scan + envelope_write_stamped; the tree path that messages
 * with escaped keys take next to it) and the subscription lookup.
 * Times are thread CPU time per operation, so other load on the machine inflates them little.
 *
 *   bench-layers [ITERATIONS]     (default 1000000; prints "result layer=... ns=..." lines) */
#include "bench-common.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>

#include "envelope.h"
#include "mac.h"
#include "router/policy.h"
#include "common/privsep.h"
#include "router/subindex.h"

static volatile uint64_t sink;

/* CPU time of this thread: the figures stay meaningful on a loaded machine. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define bench_now_ns cpu_ns

static void report(const char *layer, uint64_t t0, uint64_t t1, unsigned long n)
{
	printf("result layer=%s ns=%.1f\n", layer, (double)(t1 - t0) / (double)n);
}

static char *manifest_text(const char *id, unsigned patterns)
{
	size_t cap = 256 + (size_t)patterns * 32;
	char *s = malloc(cap);
	size_t n = 0;

	if (!s)
		exit(1);
	n += (size_t)snprintf(s + n, cap - n, "{\"manifest_version\":1,\"id\":\"%s\",\"bus\":{\"send\":[", id);
	for (int dir = 0; dir < 2; dir++) {
		for (unsigned i = 0; i + 1 < patterns; i++)
			n += (size_t)snprintf(s + n, cap - n, "\"bench.x%u.*\",", i);
		n += (size_t)snprintf(s + n, cap - n, "\"bench.msg\"]%s", dir ? "" : ",\"receive\":[");
	}
	snprintf(s + n, cap - n, "},\"limits\":{\"msg_rate\":100000}}");
	return s;
}

static void bench_policy(unsigned patterns, unsigned long iters)
{
	struct policy_builder *b = NULL;
	struct policy *p = NULL;
	char **errors = NULL;
	size_t n_errors = 0;
	uint8_t key[CAPBUS_KEY_LEN] = { 1 };
	char *text = manifest_text("bench", patterns);
	char name[64];

	if (policy_builder_new(&b) < 0 ||
	    policy_builder_add_file(b, PS_FILE_MANIFEST, "bench", "bench.json", text, strlen(text)) < 0 ||
	    policy_builder_add_key(b, "bench", key) < 0 ||
	    policy_builder_finish(b, 1, &p, &errors, &n_errors) < 0) {
		fprintf(stderr, "bench-layers: policy build failed\n");
		exit(1);
	}
	for (size_t i = 0; i < n_errors; i++)
		fprintf(stderr, "bench-layers: %s\n", errors[i]);
	const struct identity *id = policy_find(p, "bench");
	if (!id) {
		fprintf(stderr, "bench-layers: identity missing\n");
		exit(1);
	}
	/* The matching pattern is the last one listed; a type matched by a wildcard is probed too. */
	static const char *types[] = { "bench.msg", "bench.x5.weather" };
	for (int t = 0; t < 2; t++) {
		size_t len = strlen(types[t]);
		uint64_t ok = 0, t0 = bench_now_ns();
		for (unsigned long i = 0; i < iters; i++)
			ok += identity_may_send(id, types[t], len) + identity_may_receive(id, types[t], len);
		uint64_t t1 = bench_now_ns();
		sink += ok;
		snprintf(name, sizeof(name), "policy_send+receive_%upatterns_%s", patterns, t ? "wildcard" : "exact");
		report(name, t0, t1, iters);
	}
	policy_free(p);
	free(text);
}

/* Protocol version 1's tag, kept here only to show what the change to HMAC costs: the
 * ChaCha20-Poly1305-IETF tag of an empty plaintext, nonce 0^4 | BE64(seq), AD header | body. */
static void v1_tag(const uint8_t key[32], uint64_t seq, const uint8_t *hdr, const uint8_t *body, size_t len,
		   uint8_t tag[FRAME_TAG_LEN])
{
	static const uint8_t zeros[16];
	crypto_onetimeauth_state st;
	uint8_t nonce[12] = { 0 }, otk[32], lengths[16] = { 0 };
	uint64_t ad_len = FRAME_HEADER_LEN + (uint64_t)len;

	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	crypto_stream_chacha20_ietf(otk, sizeof(otk), nonce, key);
	for (int i = 0; i < 8; i++)
		lengths[i] = (uint8_t)(ad_len >> (8 * i));
	crypto_onetimeauth_init(&st, otk);
	crypto_onetimeauth_update(&st, hdr, FRAME_HEADER_LEN);
	crypto_onetimeauth_update(&st, body, len);
	crypto_onetimeauth_update(&st, zeros, (16 - ad_len % 16) % 16);
	crypto_onetimeauth_update(&st, lengths, sizeof(lengths));
	crypto_onetimeauth_final(&st, tag);
}

static void bench_v1_tag(const uint8_t *hdr, const char *msg, size_t len, unsigned long iters)
{
	uint8_t key[32], tag[FRAME_TAG_LEN], expected[FRAME_TAG_LEN];
	uint64_t bad = 0;

	randombytes_buf(key, sizeof(key));
	uint64_t t0 = bench_now_ns();
	for (unsigned long i = 0; i < iters; i++) {
		v1_tag(key, i, hdr, (const uint8_t *)msg, len, tag);
		v1_tag(key, i, hdr, (const uint8_t *)msg, len, expected);
		bad += crypto_verify_16(expected, tag) != 0;
	}
	uint64_t t1 = bench_now_ns();
	sink += bad;
	report("v1_chacha20poly1305_sign+verify_256B", t0, t1, iters);
}

/* The same HMAC-SHA-256-128 through OpenSSL's EVP_MAC, key set once, EVP_MAC_init(ctx, NULL...)
 * per message: the documented API, which copies (and allocates) digest contexts each time. */
static void evp_tag(EVP_MAC_CTX *ctx, uint64_t seq, const uint8_t *hdr, const uint8_t *body, size_t len,
		    uint8_t tag[FRAME_TAG_LEN])
{
	uint8_t seq_be[8], full[32];
	size_t out_len = 0;

	for (int i = 0; i < 8; i++)
		seq_be[i] = (uint8_t)(seq >> (56 - 8 * i));
	if (!EVP_MAC_init(ctx, NULL, 0, NULL) || !EVP_MAC_update(ctx, seq_be, 8) ||
	    !EVP_MAC_update(ctx, hdr, FRAME_HEADER_LEN) || !EVP_MAC_update(ctx, body, len) ||
	    !EVP_MAC_final(ctx, full, &out_len, sizeof(full)))
		memset(full, 0, sizeof(full));
	memcpy(tag, full, FRAME_TAG_LEN);
}

static void bench_evp_mac(const uint8_t key[32], const uint8_t *hdr, const char *msg, size_t len,
			  unsigned long iters)
{
	uint8_t tag[FRAME_TAG_LEN], expected[FRAME_TAG_LEN];
	uint64_t bad = 0;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				OSSL_PARAM_construct_end() };

	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *tx = mac ? EVP_MAC_CTX_new(mac) : NULL, *rx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!tx || !rx || !EVP_MAC_init(tx, key, 32, params) || !EVP_MAC_init(rx, key, 32, params)) {
		fprintf(stderr, "bench-layers: EVP_MAC HMAC-SHA256 unavailable\n");
		goto out;
	}
	uint64_t t0 = bench_now_ns();
	for (unsigned long i = 0; i < iters; i++) {
		evp_tag(tx, i, hdr, (const uint8_t *)msg, len, tag);
		evp_tag(rx, i, hdr, (const uint8_t *)msg, len, expected);
		bad += CRYPTO_memcmp(expected, tag, FRAME_TAG_LEN) != 0;
	}
	uint64_t t1 = bench_now_ns();
	sink += bad;
	report("hmac_evp_mac_reinit_sign+verify_256B", t0, t1, iters);
out:
	EVP_MAC_CTX_free(tx);
	EVP_MAC_CTX_free(rx);
	EVP_MAC_free(mac);
}

static void count_sub(void *sub, void *userdata)
{
	(*(uint64_t *)userdata)++;
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? bench_arg_ul(argv[1]) : 1000000;
	char msg[BENCH_MSG_SIZE + 64];
	struct mac_state tx, rx;
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN], key[MAC_KEY_LEN];

	if (sodium_init() < 0 || iters == 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_message(msg, sizeof(msg), "bench.msg");
	size_t len = strlen(msg);

	/* MAC: one sign (router -> receiver) and one verify (sender -> router) per delivery. */
	randombytes_buf(key, sizeof(key));
	mac_init(&tx, key);
	mac_init(&rx, key);
	frame_put_header(hdr, (uint32_t)len);
	uint64_t bad = 0, t0 = bench_now_ns();
	for (unsigned long i = 0; i < iters; i++) {
		mac_sign(&tx, hdr, (const uint8_t *)msg, len, tag);
		bad += !mac_verify(&rx, hdr, (const uint8_t *)msg, len, tag);
	}
	uint64_t t1 = bench_now_ns();
	if (bad)
		fprintf(stderr, "bench-layers: %llu MAC failures\n", (unsigned long long)bad);
	report("mac_sign+mac_verify_256B", t0, t1, iters);
	mac_clear(&tx);
	mac_clear(&rx);
	bench_evp_mac(key, hdr, msg, len, iters);
	bench_v1_tag(hdr, msg, len, iters);

	bench_policy(10, iters);
	bench_policy(1000, iters);

	/* JSON, as the router does it: validate and locate the parts without a tree, write the
	 * stamped message (per routed message). */
	unsigned long jiters = iters / 10 ? iters / 10 : 1;
	static char stamped[BENCH_MSG_SIZE * 2 + 256];
	if (envelope_stamped_size(len, "org.example.bench") > sizeof(stamped))
		return 1;
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < jiters; i++) {
		struct envelope_view view;
		if (envelope_scan((const uint8_t *)msg, len, 32, &view) != 0)
			return 1;
		sink += envelope_write_stamped(&view, (const uint8_t *)msg, "org.example.bench", stamped);
	}
	t1 = bench_now_ns();
	report("json_scan+stamp_256B", t0, t1, jiters);

	/* The tree path messages with escaped keys take: parse, stamp, serialise. */
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < jiters; i++) {
		struct envelope env = { 0 };
		const char *why = NULL;
		size_t out_len = 0;
		if (envelope_parse((const uint8_t *)msg, len, 32, &env, &why) != 0)
			return 1;
		envelope_set_sender(&env, "org.example.bench");
		char *out = envelope_serialize(&env, &out_len);
		sink += out_len;
		free(out);
		envelope_clear(&env);
	}
	t1 = bench_now_ns();
	report("json_tree_parse+stamp+serialise_256B", t0, t1, jiters);

	/* Subscription lookup among 1000 subscribers of distinct types plus one match. */
	struct subindex *idx = NULL;
	static char pats[1000][32];
	if (subindex_new(&idx) < 0)
		return 1;
	for (int i = 0; i < 1000; i++) {
		snprintf(pats[i], sizeof(pats[i]), i ? "bench.idle%d" : "bench.msg", i);
		subindex_add(idx, pats[i], pats[i]);
	}
	uint64_t hits = 0;
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < iters; i++)
		subindex_match(idx, "bench.msg", 9, count_sub, &hits);
	t1 = bench_now_ns();
	sink += hits;
	report("subscription_match_1000subs", t0, t1, iters);
	subindex_free(idx);
	return 0;
}
