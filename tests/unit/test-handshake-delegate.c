// SPDX-License-Identifier: MIT
/* test-handshake-delegate.c - unit tests for the delegated handshake (AUTH_D) in lib/handshake.c.
 *
 * Checks both sides against tests/vectors/delegate.txt (computed in Python from the formulas in
 * docs/protocol.md), every status of the daemon side with the gateway's proof deciding first,
 * nonce use, and that every truncated, extended or ill-formed body is refused before any key is
 * looked up. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "handshake.h"

#define VECTORS "tests/vectors/delegate.txt"
#define VECTORS_EXPECTED 5

static const uint8_t magic_d[HS_MAGIC_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 1, 2 };

static int hex_decode(const char *hex, uint8_t *out, size_t out_len)
{
	if (strlen(hex) != 2 * out_len)
		return -1;
	for (size_t i = 0; i < out_len; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* Whether a direction state tags a frame as one freshly keyed with key does. */
static bool same_key(const struct mac_state *m, const uint8_t key[MAC_KEY_LEN])
{
	struct mac_state a = *m, b;
	uint8_t hdr[FRAME_HEADER_LEN], ta[FRAME_TAG_LEN], tb[FRAME_TAG_LEN];

	mac_init(&b, key);
	b.seq = a.seq;
	frame_put_header(hdr, 5);
	mac_sign(&a, hdr, (const uint8_t *)"probe", 5, ta);
	mac_sign(&b, hdr, (const uint8_t *)"probe", 5, tb);
	return memcmp(ta, tb, FRAME_TAG_LEN) == 0;
}

/* What the daemon's check callback answers, and what it saw. */
struct daemon {
	int answer;
	uint8_t gw_key[CAPBUS_KEY_LEN];
	uint8_t subject_key[CAPBUS_KEY_LEN];
	bool give_keys;
	unsigned calls;
	struct hs_delegation seen;
};

static int check_cb(void *userdata, const struct hs_delegation *d, uint8_t gw_key[CAPBUS_KEY_LEN],
		    uint8_t subject_key[CAPBUS_KEY_LEN])
{
	struct daemon *x = userdata;

	x->calls++;
	x->seen = *d;
	if (x->give_keys) {
		memcpy(gw_key, x->gw_key, CAPBUS_KEY_LEN);
		memcpy(subject_key, x->subject_key, CAPBUS_KEY_LEN);
	}
	return x->answer;
}

struct vec {
	char name[32], subject[HS_ID_MAX + 1], peer[HS_PEER_MAX + 1];
	unsigned via, flags;
	uint8_t gw_key[32], ns[32], nc[32], subject_key[32], inner_nc[32];
	uint8_t auth[HS_DAUTH_MAX], result[HS_DRESULT_MAX], c2s[32], s2c[32];
	size_t auth_len, result_len;
};

static bool parse_vec(char *line, struct vec *v)
{
	char *f[14];
	size_t n = 0;

	for (char *tok = strtok(line, " \n"); tok && n < 14; tok = strtok(NULL, " \n"))
		f[n++] = tok;
	if (n != 14)
		return false;
	snprintf(v->name, sizeof(v->name), "%s", f[0]);
	v->via = (unsigned)atoi(f[1]);
	v->flags = (unsigned)atoi(f[2]);
	snprintf(v->subject, sizeof(v->subject), "%s", f[3]);
	snprintf(v->peer, sizeof(v->peer), "%s", strcmp(f[4], "-") == 0 ? "" : f[4]);
	v->auth_len = strlen(f[10]) / 2;
	v->result_len = strlen(f[11]) / 2;
	return v->auth_len <= sizeof(v->auth) && v->result_len <= sizeof(v->result) &&
	       hex_decode(f[5], v->gw_key, 32) == 0 && hex_decode(f[6], v->ns, 32) == 0 &&
	       hex_decode(f[7], v->nc, 32) == 0 && hex_decode(f[8], v->subject_key, 32) == 0 &&
	       hex_decode(f[9], v->inner_nc, 32) == 0 && hex_decode(f[10], v->auth, v->auth_len) == 0 &&
	       hex_decode(f[11], v->result, v->result_len) == 0 && hex_decode(f[12], v->c2s, 32) == 0 &&
	       hex_decode(f[13], v->s2c, 32) == 0;
}

static void delegation_of(const struct vec *v, struct hs_delegation *d)
{
	memset(d, 0, sizeof(*d));
	d->via = (uint8_t)v->via;
	d->flags = (uint8_t)v->flags;
	snprintf(d->gateway_id, sizeof(d->gateway_id), "%s", HS_GATEWAY_ID);
	snprintf(d->subject_id, sizeof(d->subject_id), "%s", v->subject);
	snprintf(d->peer, sizeof(d->peer), "%s", v->peer);
	memcpy(d->inner_nc, v->inner_nc, 32);
	if (v->via == HS_VIA_CHALLENGE)
		hs_ws_proof(v->subject_key, false, v->ns, v->inner_nc, v->subject, d->inner_proof);
}

static void check_vector(const struct vec *v)
{
	const size_t head = HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN;
	struct daemon x = { .answer = HS_DSTATUS_OK, .give_keys = true };
	struct hs_server srv;
	struct hs_session session;
	struct hs_delegation d, want;
	uint8_t reply[HS_DRESULT_MAX];
	size_t reply_len = 0;

	/* daemon side: the Python AUTH_D is accepted and answered with the Python RESULT_D */
	memcpy(x.gw_key, v->gw_key, 32);
	memcpy(x.subject_key, v->subject_key, 32);
	memcpy(srv.server_nonce, v->ns, 32);
	CHECK_MSG(hs_server_dauth(&srv, v->auth, v->auth_len, check_cb, &x, &d, &session, reply, &reply_len) == HS_OK,
		  "vector %s: not accepted", v->name);
	CHECK(x.calls == 1);
	CHECK(reply_len == v->result_len && memcmp(reply, v->result, reply_len) == 0);
	CHECK_STREQ(session.id, v->subject);
	CHECK(same_key(&session.rx, v->c2s) && same_key(&session.tx, v->s2c));
	CHECK(d.via == v->via && d.flags == v->flags && strcmp(d.peer, v->peer) == 0);
	CHECK(memcmp(srv.server_nonce, v->ns, 32) != 0); /* used up */

	/* gateway side: the TAIL it builds is the vector's, and the daemon accepts its AUTH_D */
	struct hs_dclient c = { 0 };
	uint8_t hello[HS_HELLO_LEN], out[HS_DAUTH_MAX];
	size_t out_len = 0;
	memcpy(hello, magic_d, HS_MAGIC_LEN);
	hello[6] = 0;
	memcpy(hello + HS_MAGIC_LEN, v->ns, 32);
	CHECK(hs_dclient_hello(&c, hello, sizeof(hello)) == HS_OK);
	delegation_of(v, &want);
	CHECK(hs_dclient_auth(&c, v->gw_key, &want, out, &out_len) == HS_OK);
	CHECK(out_len == v->auth_len && memcmp(out + head, v->auth + head, out_len - head) == 0);
	CHECK(memcmp(out, magic_d, HS_MAGIC_LEN) == 0);
	memcpy(srv.server_nonce, v->ns, 32);
	CHECK(hs_server_dauth(&srv, out, out_len, check_cb, &x, &d, &session, reply, &reply_len) == HS_OK);
	hs_dclient_clear(&c);

	/* gateway side, finishing with the vector's nonces: same keys, inner proof handed on */
	struct hs_session cs;
	uint8_t inner_sp[HS_PROOF_LEN] = { 0 };
	int status = 99;
	memset(&c, 0, sizeof(c));
	memcpy(c.ns, v->ns, 32);
	memcpy(c.nc, v->nc, 32);
	memcpy(c.key, v->gw_key, 32);
	memcpy(c.tail, v->auth + head, v->auth_len - head);
	c.tail_len = v->auth_len - head;
	c.via = (uint8_t)v->via;
	snprintf(c.subject_id, sizeof(c.subject_id), "%s", v->subject);
	CHECK(hs_dclient_finish(&c, v->result, v->result_len, &cs, inner_sp, &status) == HS_OK && status == 0);
	CHECK_STREQ(cs.id, v->subject);
	CHECK(same_key(&cs.tx, v->c2s) && same_key(&cs.rx, v->s2c));
	if (v->via == HS_VIA_CHALLENGE) {
		uint8_t sp[HS_PROOF_LEN];
		hs_ws_proof(v->subject_key, true, v->ns, v->inner_nc, v->subject, sp);
		CHECK(memcmp(inner_sp, sp, HS_PROOF_LEN) == 0);
		CHECK(memcmp(inner_sp, v->result + HS_MAGIC_LEN + 1 + HS_PROOF_LEN, HS_PROOF_LEN) == 0);
	}
	/* A squatter that does not know K_gateway cannot answer for the daemon. */
	uint8_t forged[HS_DRESULT_MAX];
	memcpy(forged, v->result, v->result_len);
	forged[HS_MAGIC_LEN + 1] ^= 1;
	CHECK(hs_dclient_finish(&c, forged, v->result_len, &cs, inner_sp, &status) == HS_REJECTED && status == -1);
	/* A RESULT_D of the wrong length for this via is malformed. */
	CHECK(hs_dclient_finish(&c, v->result, v->result_len - 1, &cs, inner_sp, &status) == HS_MALFORMED);
	hs_dclient_clear(&c);
}

static void test_vectors(void)
{
	const char *src = getenv("CAPBUS_SOURCE_DIR");
	char path[4096], line[2048];
	unsigned n = 0;

	CHECK(src != NULL);
	if (!src)
		return;
	snprintf(path, sizeof(path), "%s/" VECTORS, src);
	FILE *f = fopen(path, "re");
	CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct vec v;
		if (line[0] == '#')
			continue;
		CHECK(parse_vec(line, &v));
		check_vector(&v);
		n++;
	}
	fclose(f);
	CHECK(n == VECTORS_EXPECTED);
}

/* A fresh AUTH_D from the gateway side for d under gw_key, against server nonce ns. */
static size_t make_auth(const uint8_t gw_key[32], const struct hs_delegation *d, const uint8_t ns[32],
			uint8_t out[HS_DAUTH_MAX], struct hs_dclient *c)
{
	uint8_t hello[HS_HELLO_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 0, HS_PROTOCOL_VERSION };
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	memcpy(hello + HS_MAGIC_LEN, ns, 32);
	CHECK(hs_dclient_hello(c, hello, sizeof(hello)) == HS_OK);
	CHECK(hs_dclient_auth(c, gw_key, d, out, &len) == HS_OK);
	return len;
}

static struct hs_delegation base(uint8_t via, const char *subject)
{
	struct hs_delegation d = { .via = via, .flags = HS_DFLAG_SUB_PERMITTED };
	snprintf(d.gateway_id, sizeof(d.gateway_id), "%s", HS_GATEWAY_ID);
	snprintf(d.subject_id, sizeof(d.subject_id), "%s", subject);
	snprintf(d.peer, sizeof(d.peer), "%s", "203.0.113.7:51234");
	return d;
}

/* Runs one AUTH_D against a daemon answering `answer` with keys gw/subject; returns the status
 * byte of RESULT_D (or -1 when malformed). */
static int outcome(const uint8_t *body, size_t len, const uint8_t ns[32], struct daemon *x)
{
	struct hs_server srv;
	struct hs_session session;
	struct hs_delegation d;
	uint8_t reply[HS_DRESULT_MAX];
	size_t reply_len = 0;

	memcpy(srv.server_nonce, ns, 32);
	int r = hs_server_dauth(&srv, body, len, check_cb, x, &d, &session, reply, &reply_len);
	if (r == HS_MALFORMED)
		return -1;
	CHECK(memcmp(reply, magic_d, HS_MAGIC_LEN) == 0);
	CHECK((r == HS_OK) == (reply[HS_MAGIC_LEN] == 0));
	if (r != HS_OK)
		CHECK(reply_len == HS_DRESULT_FAIL_LEN);
	return reply[HS_MAGIC_LEN];
}

/* The gateway's proof decides first; the router's answer shows only behind a right one; via 3
 * hides "not delegable" behind "challenge failed". */
static void test_statuses(void)
{
	uint8_t ns[32], gw[32], alice[32], body[HS_DAUTH_MAX];
	struct daemon x = { .give_keys = true };
	struct hs_dclient c;

	randombytes_buf(ns, 32);
	randombytes_buf(gw, 32);
	randombytes_buf(alice, 32);
	memcpy(x.gw_key, gw, 32);
	memcpy(x.subject_key, alice, 32);
	struct hs_delegation tok = base(HS_VIA_TOKEN, "alice");
	size_t len = make_auth(gw, &tok, ns, body, &c);
	for (int answer = 0; answer <= 3; answer++) {
		x.answer = answer;
		CHECK(outcome(body, len, ns, &x) == answer);
	}
	/* A callback answer outside the statuses is a refusal. */
	x.answer = 7;
	CHECK(outcome(body, len, ns, &x) == HS_DSTATUS_REFUSED);
	x.answer = -5;
	CHECK(outcome(body, len, ns, &x) == HS_DSTATUS_REFUSED);
	/* Wrong gateway key: 1 whatever the router would have said. */
	uint8_t wrong[32];
	randombytes_buf(wrong, 32);
	len = make_auth(wrong, &tok, ns, body, &c);
	for (int answer = 0; answer <= 3; answer++) {
		x.answer = answer;
		CHECK(outcome(body, len, ns, &x) == HS_DSTATUS_REFUSED);
	}
	/* No key from the callback (unknown gateway): the random key it got fails the proof. */
	x.give_keys = false;
	x.answer = 0;
	len = make_auth(gw, &tok, ns, body, &c);
	CHECK(outcome(body, len, ns, &x) == HS_DSTATUS_REFUSED);
	x.give_keys = true;

	/* via 3: the browser's proof under alice's key */
	struct hs_delegation ch = base(HS_VIA_CHALLENGE, "alice");
	randombytes_buf(ch.inner_nc, 32);
	hs_ws_proof(alice, false, ns, ch.inner_nc, "alice", ch.inner_proof);
	len = make_auth(gw, &ch, ns, body, &c);
	x.answer = 0;
	CHECK(outcome(body, len, ns, &x) == 0);
	x.answer = HS_DSTATUS_NOT_DELEGABLE;
	CHECK(outcome(body, len, ns, &x) == HS_DSTATUS_CHALLENGE_FAILED);
	x.answer = HS_DSTATUS_REFUSED;
	CHECK(outcome(body, len, ns, &x) == HS_DSTATUS_REFUSED);
	/* under another key, for another nonce, or with the native label: challenge failed */
	uint8_t other_ns[32];
	randombytes_buf(other_ns, 32);
	struct hs_delegation bad[3] = { ch, ch, ch };
	hs_ws_proof(wrong, false, ns, ch.inner_nc, "alice", bad[0].inner_proof);
	hs_ws_proof(alice, false, other_ns, ch.inner_nc, "alice", bad[1].inner_proof);
	hs_ws_proof(alice, true, ns, ch.inner_nc, "alice", bad[2].inner_proof);
	x.answer = 0;
	for (int i = 0; i < 3; i++) {
		len = make_auth(gw, &bad[i], ns, body, &c);
		CHECK_MSG(outcome(body, len, ns, &x) == HS_DSTATUS_CHALLENGE_FAILED, "bad inner proof %d", i);
	}
	/* The server nonce serves one AUTH_D, accepted or not. */
	struct hs_server srv;
	struct hs_session session;
	struct hs_delegation d;
	uint8_t reply[HS_DRESULT_MAX];
	size_t reply_len;
	len = make_auth(gw, &tok, ns, body, &c);
	memcpy(srv.server_nonce, ns, 32);
	CHECK(hs_server_dauth(&srv, body, len, check_cb, &x, &d, &session, reply, &reply_len) == HS_OK);
	CHECK(hs_server_dauth(&srv, body, len, check_cb, &x, &d, &session, reply, &reply_len) == HS_REJECTED);
	CHECK(reply[HS_MAGIC_LEN] == HS_DSTATUS_REFUSED);
	/* The client sees the refusal statuses as they are. */
	int status = 99;
	uint8_t fail[HS_DRESULT_FAIL_LEN];
	memcpy(fail, magic_d, HS_MAGIC_LEN);
	for (uint8_t s = 1; s <= 4; s++) {
		fail[HS_MAGIC_LEN] = s;
		int r = hs_dclient_finish(&c, fail, sizeof(fail), &session, NULL, &status);
		CHECK(s <= 3 ? r == HS_REJECTED && status == s : r == HS_MALFORMED);
	}
	hs_dclient_clear(&c);
}

/* Every shorter or longer body, and each field made invalid: malformed, no key looked up. */
static void test_malformed(void)
{
	uint8_t ns[32], gw[32], body[HS_DAUTH_MAX + 8];
	struct daemon x = { .give_keys = true, .answer = 0 };
	struct hs_dclient c;
	const size_t tail = HS_MAGIC_LEN + HS_NONCE_LEN + HS_PROOF_LEN;

	randombytes_buf(ns, 32);
	randombytes_buf(gw, 32);
	memcpy(x.gw_key, gw, 32);
	for (uint8_t via = HS_VIA_LOCAL; via <= HS_VIA_CHALLENGE; via++) {
		struct hs_delegation d = base(via, "alice");
		size_t len = make_auth(gw, &d, ns, body, &c);
		for (size_t cut = 0; cut < len; cut++)
			CHECK_MSG(outcome(body, cut, ns, &x) == -1, "via %u cut to %zu accepted", via, cut);
		body[len] = 0;
		CHECK(outcome(body, len + 1, ns, &x) == -1);
	}
	CHECK(x.calls == 0);
	struct hs_delegation d = base(HS_VIA_TOKEN, "alice");
	size_t len = make_auth(gw, &d, ns, body, &c);
	/* offsets in the tail: via 0, flags 1, gw_len 2, "gateway" 3..9, id_len 10, "alice" 11..15, peer_len 16 */
	const struct {
		size_t off;
		uint8_t value;
		const char *what;
	} bad[] = {
		{ 0, 0, "via 0" },          { 0, 4, "via 4" },         { 1, 0x02, "unknown flag" },
		{ 1, 0x80, "high flag" },   { 2, 0, "empty gateway" }, { 2, 65, "gateway length 65" },
		{ 3, ':', "colon in gateway" }, { 10, 0, "empty subject" }, { 11, '.', "subject starting with ." },
		{ 12, '/', "slash in subject" },  { 16, 200, "peer longer than the body" }, { 17, ' ', "space in peer" },
		{ 17, 0x7f, "DEL in peer" }, { 17, 0, "NUL in peer" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		uint8_t copy[HS_DAUTH_MAX];
		memcpy(copy, body, len);
		copy[tail + bad[i].off] = bad[i].value;
		CHECK_MSG(outcome(copy, len, ns, &x) == -1, "%s accepted", bad[i].what);
	}
	/* The native magic, and another version of MAGIC_D, are not AUTH_D. */
	uint8_t copy[HS_DAUTH_MAX];
	memcpy(copy, body, len);
	copy[6] = 0;
	CHECK(!hs_is_delegated_auth(copy, len) && outcome(copy, len, ns, &x) == -1);
	copy[6] = 1;
	copy[7] = 1;
	CHECK(!hs_is_delegated_auth(copy, len) && outcome(copy, len, ns, &x) == -1);
	CHECK(hs_is_delegated_auth(body, len) && !hs_is_delegated_auth(body, 7));
	CHECK(x.calls == 0);

	/* The gateway side refuses to send what the daemon would refuse. */
	uint8_t out[HS_DAUTH_MAX];
	size_t out_len;
	struct hs_delegation e = base(HS_VIA_TOKEN, "alice");
	e.via = 4;
	CHECK(hs_dclient_auth(&c, gw, &e, out, &out_len) == HS_MALFORMED);
	e = base(HS_VIA_TOKEN, "alice");
	e.flags = 2;
	CHECK(hs_dclient_auth(&c, gw, &e, out, &out_len) == HS_MALFORMED);
	e = base(HS_VIA_TOKEN, "Al ce");
	CHECK(hs_dclient_auth(&c, gw, &e, out, &out_len) == HS_MALFORMED);
	e = base(HS_VIA_TOKEN, "alice");
	snprintf(e.peer, sizeof(e.peer), "a b");
	CHECK(hs_dclient_auth(&c, gw, &e, out, &out_len) == HS_MALFORMED);
	/* The largest possible AUTH_D fits HS_DAUTH_MAX and the handshake bound. */
	e = base(HS_VIA_CHALLENGE, "alice");
	memset(e.subject_id, 'a', HS_ID_MAX);
	memset(e.peer, '~', HS_PEER_MAX);
	CHECK(hs_dclient_auth(&c, gw, &e, out, &out_len) == HS_OK);
	CHECK(out_len == HS_DAUTH_MAX - (HS_ID_MAX - 7) && HS_CLIENT_MSG_MAX == HS_DAUTH_MAX);
	/* HELLO: another version is named, anything else malformed. */
	uint8_t hello[HS_HELLO_LEN] = { 'C', 'A', 'P', 'B', 'U', 'S', 0, 1 };
	CHECK(hs_dclient_hello(&c, hello, sizeof(hello)) == HS_VERSION);
	hello[7] = HS_PROTOCOL_VERSION;
	CHECK(hs_dclient_hello(&c, hello, sizeof(hello) - 1) == HS_MALFORMED);
	hello[6] = 1;
	CHECK(hs_dclient_hello(&c, hello, sizeof(hello)) == HS_MALFORMED);
	hs_dclient_clear(&c);
}

/* A native AUTH is never an AUTH_D (not even the gateway's), and a delegated session has a key
 * per direction. */
static void test_separation(void)
{
	uint8_t ns[32], gw[32], body[HS_DAUTH_MAX], out[HS_AUTH_MAX], hello[HS_HELLO_LEN];
	struct daemon x = { .give_keys = true, .answer = 0 };
	struct hs_dclient dc;
	struct hs_client nc = { 0 };
	size_t out_len;

	randombytes_buf(ns, 32);
	randombytes_buf(gw, 32);
	memcpy(x.gw_key, gw, 32);
	memcpy(hello, (const uint8_t[]){ 'C', 'A', 'P', 'B', 'U', 'S', 0, HS_PROTOCOL_VERSION }, HS_MAGIC_LEN);
	memcpy(hello + HS_MAGIC_LEN, ns, 32);
	CHECK(hs_client_auth(&nc, "gateway", gw, hello, sizeof(hello), out, &out_len) == HS_OK);
	CHECK(!hs_is_delegated_auth(out, out_len) && outcome(out, out_len, ns, &x) == -1);

	struct hs_delegation d = base(HS_VIA_TOKEN, "gateway");
	size_t len = make_auth(gw, &d, ns, body, &dc);
	struct hs_server srv;
	struct hs_session s;
	struct hs_delegation got;
	uint8_t reply[HS_DRESULT_MAX];
	size_t reply_len;
	memcpy(srv.server_nonce, ns, 32);
	CHECK(hs_server_dauth(&srv, body, len, check_cb, &x, &got, &s, reply, &reply_len) == HS_OK);
	uint8_t c2s_probe[FRAME_TAG_LEN], other[FRAME_TAG_LEN], hdr[FRAME_HEADER_LEN];
	struct mac_state a = s.rx;
	frame_put_header(hdr, 5);
	mac_sign(&a, hdr, (const uint8_t *)"probe", 5, c2s_probe);
	a = s.tx;
	mac_sign(&a, hdr, (const uint8_t *)"probe", 5, other);
	CHECK(memcmp(c2s_probe, other, FRAME_TAG_LEN) != 0); /* two directions, two keys */
	hs_client_clear(&nc);
	hs_dclient_clear(&dc);
}

int main(void)
{
	if (sodium_init() < 0)
		return 99;
	test_vectors();
	test_statuses();
	test_malformed();
	test_separation();
	return check_finish("test-handshake-delegate");
}
