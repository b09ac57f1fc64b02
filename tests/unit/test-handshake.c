// SPDX-License-Identifier: MIT
/* test-handshake.c - unit tests for lib/handshake.c: both sides of the mutual handshake.
 *
 * Runs the client and daemon state machines against each other in memory, checks proofs and
 * session keys against the formulas in docs/protocol.md computed independently here, and feeds
 * each side malformed, forged and replayed messages. */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "handshake.h"

/* Protocol version 2: the last magic byte. */
static const uint8_t magic[HS_MAGIC_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 0, 2 };

/* Whether a direction state tags a frame as one freshly keyed with key does (at its own seq). */
static bool same_key(const struct mac_state *m, const uint8_t key[MAC_KEY_LEN])
{
	struct mac_state a = *m, b;
	uint8_t hdr[FRAME_HEADER_LEN], ta[FRAME_TAG_LEN], tb[FRAME_TAG_LEN];

	mac_init(&b, key);
	b.seq = a.seq;
	frame_put_header(hdr, 5);
	mac_sign(&a, hdr, (const uint8_t *)"probe", 5, ta);
	mac_sign(&b, hdr, (const uint8_t *)"probe", 5, tb);
	mac_clear(&a);
	mac_clear(&b);
	return memcmp(ta, tb, FRAME_TAG_LEN) == 0;
}

/* A daemon key table with one identity. */
struct table {
	const char *id;
	uint8_t key[CAPBUS_KEY_LEN];
	unsigned lookups;
};

static bool table_lookup(void *userdata, const char *id, uint8_t key[CAPBUS_KEY_LEN])
{
	struct table *t = userdata;

	t->lookups++;
	if (strcmp(id, t->id) != 0)
		return false;
	memcpy(key, t->key, CAPBUS_KEY_LEN);
	return true;
}

static void ref_proof(const uint8_t key[CAPBUS_KEY_LEN], const char *label, const uint8_t *ns, const uint8_t *nc,
		      const char *id, uint8_t out[HS_PROOF_LEN])
{
	uint8_t msg[256];
	size_t n = 0, id_len = strlen(id);

	memcpy(msg + n, label, strlen(label));
	n += strlen(label);
	memcpy(msg + n, ns, HS_NONCE_LEN);
	n += HS_NONCE_LEN;
	memcpy(msg + n, nc, HS_NONCE_LEN);
	n += HS_NONCE_LEN;
	msg[n++] = (uint8_t)id_len;
	memcpy(msg + n, id, id_len);
	n += id_len;
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, CAPBUS_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, msg, n);
	crypto_auth_hmacsha256_final(&st, out);
}

static void ref_session(const uint8_t key[CAPBUS_KEY_LEN], const uint8_t *ns, const uint8_t *nc, const char *id,
			uint8_t c2s[MAC_KEY_LEN], uint8_t s2c[MAC_KEY_LEN])
{
	uint8_t msg[256], session[32];
	size_t n = 0, id_len = strlen(id);
	const char *label = "capbus-v1 session";

	memcpy(msg + n, label, strlen(label));
	n += strlen(label);
	memcpy(msg + n, ns, HS_NONCE_LEN);
	n += HS_NONCE_LEN;
	memcpy(msg + n, nc, HS_NONCE_LEN);
	n += HS_NONCE_LEN;
	msg[n++] = (uint8_t)id_len;
	memcpy(msg + n, id, id_len);
	n += id_len;
	crypto_generichash(session, sizeof(session), msg, n, key, CAPBUS_KEY_LEN);
	crypto_kdf_derive_from_key(c2s, MAC_KEY_LEN, 1, "capbus01", session);
	crypto_kdf_derive_from_key(s2c, MAC_KEY_LEN, 2, "capbus01", session);
}

static void test_id_syntax(void)
{
	const char *good[] = { "a", "0", "alice", "org.example.weather", "a-b_c.d", "9lives", "Alice",
			       "ovos-skill-personal.OpenVoiceOS", "Z",
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */ };
	const char *bad[] = { "", ".a", "-a", "_a", "a b", "a/b", "a\n", "ä", "a:b", "a*", "a\\b",
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 65 */ };

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		CHECK(hs_id_is_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		CHECK(!hs_id_is_valid(bad[i], strlen(bad[i])));
	/* The length is what counts, not a terminator. */
	CHECK(hs_id_is_valid("abc\0def", 3));
	CHECK(!hs_id_is_valid("abc\0def", 7));
}

/* Runs HELLO and AUTH; returns the AUTH length. */
static size_t client_step(struct hs_server *srv, struct hs_client *cli, const char *id,
			  const uint8_t key[CAPBUS_KEY_LEN], uint8_t auth[HS_AUTH_MAX])
{
	uint8_t hello[HS_HELLO_LEN];
	size_t auth_len = 0;

	hs_server_hello(srv, hello);
	CHECK(memcmp(hello, magic, HS_MAGIC_LEN) == 0);
	CHECK(memcmp(hello + HS_MAGIC_LEN, srv->server_nonce, HS_NONCE_LEN) == 0);
	CHECK(hs_client_auth(cli, id, key, hello, sizeof(hello), auth, &auth_len) == HS_OK);
	CHECK(auth_len == HS_AUTH_MIN - 1 + strlen(id));
	return auth_len;
}

static void test_happy_path(void)
{
	struct table t = { .id = "org.example.weather" };
	struct hs_server srv;
	struct hs_client cli;
	struct hs_session ss, cs;
	uint8_t auth[HS_AUTH_MAX], reply[HS_RESULT_OK_LEN], proof[HS_PROOF_LEN];
	uint8_t ns[HS_NONCE_LEN], nc[HS_NONCE_LEN];
	size_t reply_len = 0;

	randombytes_buf(t.key, sizeof(t.key));
	size_t auth_len = client_step(&srv, &cli, t.id, t.key, auth);
	memcpy(ns, srv.server_nonce, HS_NONCE_LEN);
	memcpy(nc, auth + HS_MAGIC_LEN, HS_NONCE_LEN);

	/* AUTH layout and proof as documented. */
	CHECK(memcmp(auth, magic, HS_MAGIC_LEN) == 0);
	ref_proof(t.key, "capbus-v1 client", ns, nc, t.id, proof);
	CHECK(memcmp(auth + HS_MAGIC_LEN + HS_NONCE_LEN, proof, HS_PROOF_LEN) == 0);
	CHECK(auth[HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN] == strlen(t.id));
	CHECK(memcmp(auth + HS_AUTH_MIN - 1, t.id, strlen(t.id)) == 0);

	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_OK);
	CHECK(reply_len == HS_RESULT_OK_LEN);
	CHECK(memcmp(reply, magic, HS_MAGIC_LEN) == 0);
	CHECK(reply[HS_MAGIC_LEN] == HS_STATUS_OK);
	ref_proof(t.key, "capbus-v1 server", ns, nc, t.id, proof);
	CHECK(memcmp(reply + HS_MAGIC_LEN + 1, proof, HS_PROOF_LEN) == 0);
	/* The nonce is used up. */
	CHECK(memcmp(srv.server_nonce, ns, HS_NONCE_LEN) != 0);

	CHECK(hs_client_finish(&cli, reply, reply_len, &cs) == HS_OK);
	CHECK(strcmp(ss.id, t.id) == 0);
	CHECK(strcmp(cs.id, t.id) == 0);

	/* Keys match across sides, differ per direction, and follow the documented KDF: each side's
	 * direction state signs exactly like one keyed with the reference key. */
	uint8_t c2s[MAC_KEY_LEN], s2c[MAC_KEY_LEN];
	ref_session(t.key, ns, nc, t.id, c2s, s2c);
	CHECK(same_key(&cs.tx, c2s));
	CHECK(same_key(&ss.rx, c2s));
	CHECK(same_key(&cs.rx, s2c));
	CHECK(same_key(&ss.tx, s2c));
	CHECK(!same_key(&cs.tx, s2c));
	CHECK(!same_key(&cs.tx, t.key));
	CHECK(cs.tx.seq == 0 && cs.rx.seq == 0 && ss.tx.seq == 0 && ss.rx.seq == 0);

	/* Frames flow both ways with the derived keys. */
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN];
	frame_put_header(hdr, 2);
	mac_sign(&cs.tx, hdr, (const uint8_t *)"{}", 2, tag);
	CHECK(mac_verify(&ss.rx, hdr, (const uint8_t *)"{}", 2, tag));
	mac_sign(&ss.tx, hdr, (const uint8_t *)"{}", 2, tag);
	CHECK(mac_verify(&cs.rx, hdr, (const uint8_t *)"{}", 2, tag));
	/* A frame reflected back to its sender does not verify. */
	mac_sign(&cs.tx, hdr, (const uint8_t *)"{}", 2, tag);
	CHECK(!mac_verify(&cs.rx, hdr, (const uint8_t *)"{}", 2, tag));

	/* A second handshake gets different session keys. */
	struct hs_client cli2;
	struct hs_session ss2, cs2;
	auth_len = client_step(&srv, &cli2, t.id, t.key, auth);
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss2, reply, &reply_len) == HS_OK);
	CHECK(hs_client_finish(&cli2, reply, reply_len, &cs2) == HS_OK);
	CHECK(!same_key(&cs2.tx, c2s));
	hs_session_clear(&ss2);
	hs_session_clear(&cs2);

	hs_client_clear(&cli);
	hs_session_clear(&cs);
	static const struct hs_client zero_client;
	static const struct hs_session zero_session;
	CHECK(memcmp(&cli, &zero_client, sizeof(cli)) == 0);
	CHECK(memcmp(&cs, &zero_session, sizeof(cs)) == 0);
}

static void test_wrong_key_and_unknown_id(void)
{
	struct table t = { .id = "alice" };
	struct hs_server srv;
	struct hs_client cli;
	struct hs_session ss, cs;
	uint8_t auth[HS_AUTH_MAX], reply[HS_RESULT_OK_LEN], wrong[CAPBUS_KEY_LEN];
	size_t reply_len = 0;

	randombytes_buf(t.key, sizeof(t.key));
	memcpy(wrong, t.key, sizeof(wrong));
	wrong[31] ^= 1;

	/* Wrong key. */
	size_t auth_len = client_step(&srv, &cli, "alice", wrong, auth);
	t.lookups = 0;
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_REJECTED);
	CHECK(t.lookups == 1);
	CHECK(reply_len == HS_RESULT_FAIL_LEN);
	CHECK(memcmp(reply, magic, HS_MAGIC_LEN) == 0 && reply[HS_MAGIC_LEN] == HS_STATUS_AUTH_FAILED);
	uint8_t fail_reply[HS_RESULT_FAIL_LEN];
	memcpy(fail_reply, reply, sizeof(fail_reply));
	CHECK(hs_client_finish(&cli, reply, reply_len, &cs) == HS_REJECTED);

	/* Unknown identity: same lookup, same outcome, same reply bytes. */
	auth_len = client_step(&srv, &cli, "mallory", t.key, auth);
	t.lookups = 0;
	reply_len = 0;
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_REJECTED);
	CHECK(t.lookups == 1);
	CHECK(reply_len == HS_RESULT_FAIL_LEN);
	CHECK(memcmp(reply, fail_reply, HS_RESULT_FAIL_LEN) == 0);

	/* A valid proof for alice's key presented under another name fails: the id is bound. */
	struct table t2 = { .id = "bob" };
	memcpy(t2.key, t.key, sizeof(t2.key));
	auth_len = client_step(&srv, &cli, "alice", t.key, auth);
	uint8_t forged[HS_AUTH_MAX];
	memcpy(forged, auth, auth_len);
	memcpy(forged + HS_AUTH_MIN - 1, "bobby", 5);
	forged[HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN] = 3; /* "bob" */
	CHECK(hs_server_auth(&srv, forged, HS_AUTH_MIN - 1 + 3, table_lookup, &t2, &ss, reply, &reply_len) ==
	      HS_REJECTED);
	/* After failures the right key still works. */
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_OK);
}

static void test_server_malformed(void)
{
	struct table t = { .id = "alice" };
	struct hs_server srv;
	struct hs_client cli;
	struct hs_session ss;
	uint8_t auth[HS_AUTH_MAX + 8], bad[HS_AUTH_MAX + 8], reply[HS_RESULT_OK_LEN];
	size_t reply_len = 0;

	randombytes_buf(t.key, sizeof(t.key));
	size_t auth_len = client_step(&srv, &cli, "alice", t.key, auth);
	const size_t id_len_at = HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN;

	t.lookups = 0;
	/* Every shorter length, and longer ones. */
	for (size_t len = 0; len < auth_len; len++)
		CHECK(hs_server_auth(&srv, auth, len, table_lookup, &t, &ss, reply, &reply_len) == HS_MALFORMED);
	memset(auth + auth_len, 'a', 8);
	for (size_t len = auth_len + 1; len <= auth_len + 8; len++)
		CHECK(hs_server_auth(&srv, auth, len, table_lookup, &t, &ss, reply, &reply_len) == HS_MALFORMED);
	/* Bad magic, byte by byte. */
	for (size_t i = 0; i < HS_MAGIC_LEN; i++) {
		memcpy(bad, auth, auth_len);
		bad[i] ^= 0x20;
		CHECK(hs_server_auth(&srv, bad, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_MALFORMED);
	}
	/* An AUTH of protocol version 1, otherwise intact, is refused before any key lookup. */
	memcpy(bad, auth, auth_len);
	bad[HS_MAGIC_LEN - 1] = 1;
	CHECK(hs_server_auth(&srv, bad, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_MALFORMED);
	/* id_len disagreeing with the body length. */
	const uint8_t id_lens[] = { 0, 4, 6, 64, 65, 255 };
	for (size_t i = 0; i < ARRAY_LEN(id_lens); i++) {
		memcpy(bad, auth, auth_len);
		bad[id_len_at] = id_lens[i];
		CHECK(hs_server_auth(&srv, bad, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_MALFORMED);
	}
	/* id syntax: space, leading separator, NUL, slash, newline. */
	const char *bad_ids[] = { "Al ce", ".lice", "al\0ce", "a/ice", "alic\n" };
	for (size_t i = 0; i < ARRAY_LEN(bad_ids); i++) {
		memcpy(bad, auth, auth_len);
		memcpy(bad + HS_AUTH_MIN - 1, bad_ids[i], 5);
		CHECK(hs_server_auth(&srv, bad, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_MALFORMED);
	}
	/* Maximum length with a 65-byte id claim is beyond HS_AUTH_MAX. */
	memset(bad, 'a', sizeof(bad));
	memcpy(bad, magic, HS_MAGIC_LEN);
	bad[id_len_at] = 65;
	CHECK(hs_server_auth(&srv, bad, HS_AUTH_MAX + 1, table_lookup, &t, &ss, reply, &reply_len) == HS_MALFORMED);
	/* Malformed input never reaches the key lookup. */
	CHECK(t.lookups == 0);
	/* The well-formed original still works afterwards. */
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_OK);

	/* A 64-byte id is accepted syntactically (rejected only by the lookup). */
	char long_id[HS_ID_MAX + 1];
	memset(long_id, 'z', HS_ID_MAX);
	long_id[HS_ID_MAX] = '\0';
	auth_len = client_step(&srv, &cli, long_id, t.key, auth);
	CHECK(auth_len == HS_AUTH_MAX);
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_REJECTED);
}

static void test_client_malformed(void)
{
	struct hs_server srv;
	struct hs_client cli;
	uint8_t hello[HS_HELLO_LEN + 1], auth[HS_AUTH_MAX], key[CAPBUS_KEY_LEN] = { 1 };
	size_t auth_len = 0;

	hs_server_hello(&srv, hello);
	hello[HS_HELLO_LEN] = 0;
	CHECK(hs_client_auth(&cli, "alice", key, hello, HS_HELLO_LEN - 1, auth, &auth_len) == HS_MALFORMED);
	CHECK(hs_client_auth(&cli, "alice", key, hello, HS_HELLO_LEN + 1, auth, &auth_len) == HS_MALFORMED);
	CHECK(hs_client_auth(&cli, "alice", key, hello, 0, auth, &auth_len) == HS_MALFORMED);
	for (size_t i = 0; i < HS_MAGIC_LEN - 1; i++) {
		hello[i] ^= 1;
		CHECK(hs_client_auth(&cli, "alice", key, hello, HS_HELLO_LEN, auth, &auth_len) == HS_MALFORMED);
		hello[i] ^= 1;
	}
	/* A daemon of another protocol version (1: ChaCha20-Poly1305 tags) is named as such, whatever
	 * the length of its HELLO, and gets no AUTH. */
	const uint8_t other_versions[] = { 0, 1, 3, 0xff };
	for (size_t i = 0; i < ARRAY_LEN(other_versions); i++) {
		hello[HS_MAGIC_LEN - 1] = other_versions[i];
		auth_len = 0;
		CHECK(hs_client_auth(&cli, "alice", key, hello, HS_HELLO_LEN, auth, &auth_len) == HS_VERSION);
		CHECK(hs_client_auth(&cli, "alice", key, hello, HS_HELLO_LEN + 1, auth, &auth_len) == HS_VERSION);
		CHECK(auth_len == 0);
	}
	hello[HS_MAGIC_LEN - 1] = HS_PROTOCOL_VERSION;
	CHECK(hs_client_auth(&cli, "Al ce", key, hello, HS_HELLO_LEN, auth, &auth_len) == HS_MALFORMED);
	CHECK(hs_client_auth(&cli, "", key, hello, HS_HELLO_LEN, auth, &auth_len) == HS_MALFORMED);
	CHECK(hs_client_auth(&cli, "alice", key, hello, HS_HELLO_LEN, auth, &auth_len) == HS_OK);
}

/* Something that squats the socket answers HELLO/RESULT without knowing the key. */
static void test_fake_server(void)
{
	struct table t = { .id = "alice" };
	struct hs_server srv;
	struct hs_client cli;
	struct hs_session cs;
	uint8_t auth[HS_AUTH_MAX], reply[HS_RESULT_OK_LEN + 1];

	randombytes_buf(t.key, sizeof(t.key));
	client_step(&srv, &cli, "alice", t.key, auth);
	const uint8_t *nc = auth + HS_MAGIC_LEN;

	/* "Accepted" with a random proof. */
	memcpy(reply, magic, HS_MAGIC_LEN);
	reply[HS_MAGIC_LEN] = HS_STATUS_OK;
	randombytes_buf(reply + HS_MAGIC_LEN + 1, HS_PROOF_LEN);
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN, &cs) == HS_REJECTED);
	/* With a proof under another key. */
	uint8_t other[CAPBUS_KEY_LEN];
	randombytes_buf(other, sizeof(other));
	ref_proof(other, "capbus-v1 server", srv.server_nonce, nc, "alice", reply + HS_MAGIC_LEN + 1);
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN, &cs) == HS_REJECTED);
	/* Reflecting the client's own proof back. */
	memcpy(reply + HS_MAGIC_LEN + 1, auth + HS_MAGIC_LEN + HS_NONCE_LEN, HS_PROOF_LEN);
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN, &cs) == HS_REJECTED);
	/* Right key but for another client nonce. */
	uint8_t nc2[HS_NONCE_LEN];
	memcpy(nc2, nc, HS_NONCE_LEN);
	nc2[0] ^= 1;
	ref_proof(t.key, "capbus-v1 server", srv.server_nonce, nc2, "alice", reply + HS_MAGIC_LEN + 1);
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN, &cs) == HS_REJECTED);

	/* Shapes. */
	ref_proof(t.key, "capbus-v1 server", srv.server_nonce, nc, "alice", reply + HS_MAGIC_LEN + 1);
	for (size_t len = 0; len < HS_RESULT_FAIL_LEN; len++)
		CHECK(hs_client_finish(&cli, reply, len, &cs) == HS_MALFORMED);
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_FAIL_LEN, &cs) == HS_MALFORMED); /* OK without proof */
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN - 1, &cs) == HS_MALFORMED);
	reply[HS_RESULT_OK_LEN] = 0;
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN + 1, &cs) == HS_MALFORMED);
	reply[0] = 'c';
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN, &cs) == HS_MALFORMED);
	reply[0] = 'C';
	reply[HS_MAGIC_LEN] = HS_STATUS_AUTH_FAILED;
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN, &cs) == HS_MALFORMED); /* refusal with a tail */
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_FAIL_LEN, &cs) == HS_REJECTED);
	/* The genuine answer still works after all that. */
	reply[HS_MAGIC_LEN] = HS_STATUS_OK;
	CHECK(hs_client_finish(&cli, reply, HS_RESULT_OK_LEN, &cs) == HS_OK);
}

static void test_replay(void)
{
	struct table t = { .id = "alice" };
	struct hs_server srv, srv2;
	struct hs_client cli;
	struct hs_session ss;
	uint8_t auth[HS_AUTH_MAX], reply[HS_RESULT_OK_LEN], hello[HS_HELLO_LEN];
	size_t reply_len = 0;

	randombytes_buf(t.key, sizeof(t.key));
	size_t auth_len = client_step(&srv, &cli, "alice", t.key, auth);
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_OK);

	/* The same AUTH against a new connection (new server nonce) fails. */
	hs_server_hello(&srv2, hello);
	CHECK(hs_server_auth(&srv2, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_REJECTED);
	CHECK(reply_len == HS_RESULT_FAIL_LEN);
	/* And against the same server once its nonce has been used. */
	CHECK(hs_server_auth(&srv, auth, auth_len, table_lookup, &t, &ss, reply, &reply_len) == HS_REJECTED);
}

int main(void)
{
	if (sodium_init() < 0)
		return 99;
	test_id_syntax();
	test_happy_path();
	test_wrong_key_and_unknown_id();
	test_server_malformed();
	test_client_malformed();
	test_fake_server();
	test_replay();
	return check_finish("test-handshake");
}
