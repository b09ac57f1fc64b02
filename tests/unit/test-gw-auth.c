// SPDX-License-Identifier: MIT
/* test-gw-auth.c - gateway/auth.c and gwnet.c: every branch of gw_auth_decide with a real token
 * store and a real cgroup map, the Basic parser and the challenge messages under hostile input
 * (overlong, duplicate, bad base64, NUL, non-UTF-8, trailing bytes), and the address helpers.
 *
 * Links the gateway's authentication library and linux/ (to find the cgroup v2 mount). No
 * privilege needed: the map names the v2 root, whose id the test reads with stat. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgroupfs.h"
#include "check.h"
#include "gw-auth.h"
#include "util.h"

/* The hostile tables below are printf formats filled with the good nonce and proof. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static char dir[] = "/tmp/capbus-test-gw-auth.XXXXXX";
static char store[128];
static char tok[GW_TOKEN_LEN + 1], tid[GW_TID_LEN + 1];
static struct gw_config cfg;
static struct gw_tokens *tokens;
static struct gw_diag *diag;
static uint64_t root_id;

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void basic_of(const char *cred, size_t len, char *out, size_t n)
{
	char b64[2048];
	sodium_bin2base64(b64, sizeof(b64), (const uint8_t *)cred, len, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, n, "Basic %s", b64);
}

static struct gw_peer peer_addr(const char *addr, bool v6)
{
	struct gw_peer p = {};
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p.addr;
		in6->sin6_family = AF_INET6;
		REQUIRE(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1);
		p.addrlen = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;
		in->sin_family = AF_INET;
		REQUIRE(inet_pton(AF_INET, addr, &in->sin_addr) == 1);
		p.addrlen = sizeof(*in);
	}
	p.loopback = gw_addr_is_loopback((struct sockaddr *)&p.addr);
	gw_sources_key_addr((struct sockaddr *)&p.addr, &p.key);
	return p;
}

static struct gw_peer peer_local(uint64_t cgroup_id)
{
	struct gw_peer p = peer_addr("127.0.0.1", false);
	p.has_cgroup = true;
	p.cgroup_id = cgroup_id;
	gw_sources_key_cgroup(cgroup_id, &p.key);
	return p;
}

/* One decision, checked: status, method, reason, and whether it counts as a failure. */
static void expect(const char *what, const struct gw_peer *p, const struct gw_http_req *req, int status,
		   enum gw_method m, const char *reason, const char *id)
{
	struct gw_decision d;

	memset(&d, 0xa5, sizeof(d));
	gw_auth_decide(&cfg, tokens, diag, p, req, 1000, &d);
	bool ok = d.http_status == status && d.method == m && d.reason && streq(d.reason, reason) &&
		  d.count_failure == (status == 400 || status == 401) && (!id || streq(d.id, id)) &&
		  (m == GW_M_TOKEN ? streq(d.tid, tid) : d.tid[0] == '\0') && (id || m == GW_M_CHALLENGE || d.id[0] == '\0');
	CHECK_MSG(ok, "%s -> %d %s", what, status, reason);
	if (!ok)
		fprintf(stderr, "  got %d method=%d reason=%s count=%d id=%s\n", d.http_status, d.method,
			d.reason ? d.reason : "(null)", d.count_failure, d.id);
}

static void test_decide(void)
{
	struct gw_peer remote = peer_addr("203.0.113.7", false), lo = peer_addr("127.0.0.1", false);
	struct gw_peer lo6 = peer_addr("::1", true), mapped_lo = peer_addr("::ffff:127.0.0.2", true);
	struct gw_peer local = peer_local(root_id), unmapped = peer_local(root_id + 1000000007ull);
	struct gw_http_req r;
	char hdr[2048], cred[256], wrong[GW_TOKEN_LEN + 1], unknown[GW_TOKEN_LEN + 1], utid[GW_TID_LEN + 1];

	CHECK(lo6.loopback && mapped_lo.loopback && !remote.loopback);

	/* Route and transport. */
	r = (struct gw_http_req){ .path = "/core/", .tls = true, .token = tok, .n_token = 1 };
	expect("another path", &remote, &r, 404, GW_M_NONE, "not_found", NULL);
	r.path = NULL;
	expect("no path", &remote, &r, 404, GW_M_NONE, "not_found", NULL);
	r = (struct gw_http_req){ .path = "/core", .tls = false, .token = tok, .n_token = 1 };
	expect("plain from the network", &remote, &r, 403, GW_M_NONE, "plain_not_loopback", NULL);
	cfg.plain_loopback = false;
	expect("plain on loopback, not allowed", &lo, &r, 403, GW_M_NONE, "plain_not_allowed", NULL);
	cfg.plain_loopback = true;
	expect("plain on loopback, allowed", &lo, &r, 0, GW_M_TOKEN, "token", "ovos-phone");
	expect("plain on ::1, allowed", &lo6, &r, 0, GW_M_TOKEN, "token", "ovos-phone");

	/* ?token= */
	r = (struct gw_http_req){ .path = "/core", .tls = true, .token = tok, .n_token = 1 };
	expect("?token= over TLS", &remote, &r, 0, GW_M_TOKEN, "token", "ovos-phone");
	r.n_token = 2;
	expect("two token= arguments", &remote, &r, 400, GW_M_NONE, "duplicate_token", NULL);
	r.n_token = 1;
	r.token = NULL;
	expect("token count without a value", &remote, &r, 401, GW_M_NONE, "malformed", NULL);
	r.token = "";
	expect("empty token", &remote, &r, 401, GW_M_NONE, "malformed", NULL);
	char overlong[4096];
	memset(overlong, 'a', sizeof(overlong) - 1);
	overlong[sizeof(overlong) - 1] = '\0';
	memcpy(overlong, tok, GW_TOKEN_LEN);
	r.token = overlong;
	expect("overlong token", &remote, &r, 401, GW_M_NONE, "malformed", NULL);
	snprintf(hdr, sizeof(hdr), "%s\xff", tok);
	hdr[GW_TOKEN_LEN - 1] = (char)0xc3; /* non-UTF-8 inside, 65 bytes */
	hdr[GW_TOKEN_LEN] = '\0';
	r.token = hdr;
	expect("non-UTF-8 byte in the token", &remote, &r, 401, GW_M_NONE, "malformed", NULL);
	memcpy(wrong, tok, sizeof(wrong));
	wrong[30] = wrong[30] == 'A' ? 'B' : 'A';
	r.token = wrong;
	expect("wrong secret", &remote, &r, 401, GW_M_NONE, "bad_secret", NULL);
	gw_token_generate(unknown, utid);
	r.token = unknown;
	expect("unknown tid", &remote, &r, 401, GW_M_NONE, "unknown_token", NULL);
	r.token = tok;
	r.authorization = "Basic Zm9vOmJhcg==";
	expect("token= and Authorization", &remote, &r, 400, GW_M_NONE, "two_credentials", NULL);

	/* Authorization: Basic, both forms. */
	r = (struct gw_http_req){ .path = "/core", .tls = true, .authorization = hdr };
	snprintf(cred, sizeof(cred), "%s:", tok);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	expect("Basic TOKEN: (API key as user)", &remote, &r, 0, GW_M_TOKEN, "token", "ovos-phone");
	snprintf(cred, sizeof(cred), "ovos-phone:%s", tok);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	expect("Basic ID:TOKEN", &remote, &r, 0, GW_M_TOKEN, "token", "ovos-phone");
	snprintf(cred, sizeof(cred), "token:%s", tok);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	expect("Basic token:TOKEN", &remote, &r, 0, GW_M_TOKEN, "token", "ovos-phone");
	snprintf(cred, sizeof(cred), "alice:%s", tok);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	expect("Basic with another identity", &remote, &r, 401, GW_M_NONE, "user_mismatch", NULL);
	snprintf(cred, sizeof(cred), "ovos-phone:%s", wrong);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	expect("Basic with a wrong secret", &remote, &r, 401, GW_M_NONE, "bad_secret", NULL);
	r.authorization = "Bearer abc";
	expect("another scheme", &remote, &r, 401, GW_M_NONE, "malformed", NULL);

	/* A store that cannot be read is not the client's failure. */
	write_file(store, "garbage\n");
	r = (struct gw_http_req){ .path = "/core", .tls = true, .token = tok, .n_token = 1 };
	struct gw_decision d;
	gw_auth_decide(&cfg, tokens, diag, &remote, &r, 1000, &d);
	CHECK_MSG(d.http_status == 401 && streq(d.reason, "store_error") && !d.count_failure,
		  "broken store -> 401 store_error, not counted");
	r.token = "garbage";
	expect("malformed token never reads the store", &remote, &r, 401, GW_M_NONE, "malformed", NULL);
	unlink(store);
	r.token = tok;
	expect("store removed: every token unknown", &remote, &r, 401, GW_M_NONE, "unknown_token", NULL);
	struct gw_tokens *keep = tokens;
	tokens = NULL;
	expect("no store at all", &remote, &r, 401, GW_M_NONE, "unknown_token", NULL);
	tokens = keep;

	/* ?auth= */
	r = (struct gw_http_req){ .path = "/core", .tls = true, .auth_arg = "challenge" };
	expect("auth=challenge", &remote, &r, 0, GW_M_CHALLENGE, "challenge", NULL);
	expect("auth=challenge from a mapped cgroup: challenge first", &local, &r, 0, GW_M_CHALLENGE, "challenge", NULL);
	r.auth_arg = "Challenge";
	expect("auth=Challenge", &remote, &r, 400, GW_M_NONE, "bad_auth_arg", NULL);
	r.auth_arg = "";
	expect("auth=", &remote, &r, 400, GW_M_NONE, "bad_auth_arg", NULL);

	/* Local: mapped cgroup, Origin rules. */
	r = (struct gw_http_req){ .path = "/core", .tls = false, .host = "127.0.0.1:8181" };
	expect("mapped cgroup, no Origin", &local, &r, 0, GW_M_LOCAL, "local", "ovos-audio");
	r.origin = "http://127.0.0.1:8181";
	expect("mapped cgroup, Origin = http://Host", &local, &r, 0, GW_M_LOCAL, "local", "ovos-audio");
	r.origin = "https://127.0.0.1:8181";
	expect("mapped cgroup, Origin = https://Host", &local, &r, 0, GW_M_LOCAL, "local", "ovos-audio");
	r.origin = "http://evil.example";
	expect("mapped cgroup, page of another site", &local, &r, 401, GW_M_NONE, "origin", NULL);
	r.origin = "null";
	expect("mapped cgroup, Origin null", &local, &r, 401, GW_M_NONE, "origin", NULL);
	r.host = "evil.example:8181";
	r.origin = "http://evil.example:8181";
	expect("DNS rebinding: Origin = Host, but Host not loopback", &local, &r, 401, GW_M_NONE, "origin", NULL);
	r.host = "[::1]:8181";
	r.origin = "http://[::1]:8181";
	expect("Host [::1]:PORT", &local, &r, 0, GW_M_LOCAL, "local", "ovos-audio");
	r.host = "localhost:8181";
	r.origin = "http://localhost:8181";
	expect("Host localhost:PORT", &local, &r, 0, GW_M_LOCAL, "local", "ovos-audio");
	r.origin = "http://localhost:8182";
	expect("Origin with another port", &local, &r, 401, GW_M_NONE, "origin", NULL);
	r.host = "localhost:81x1";
	r.origin = "http://localhost:81x1";
	expect("Host with a bad port", &local, &r, 401, GW_M_NONE, "origin", NULL);
	r.host = NULL;
	r.origin = "http://127.0.0.1:8181";
	expect("Origin without Host", &local, &r, 401, GW_M_NONE, "origin", NULL);
	r.origin = "https://ui.example";
	expect("listed origin", &local, &r, 0, GW_M_LOCAL, "local", "ovos-audio");
	r.origin = NULL;
	expect("unmapped cgroup", &unmapped, &r, 401, GW_M_NONE, "unmapped_cgroup", NULL);
	struct gw_diag *keep_diag = diag;
	diag = NULL;
	expect("no map", &local, &r, 401, GW_M_NONE, "unmapped_cgroup", NULL);
	diag = keep_diag;
	r.tls = true;
	expect("loopback without a cgroup", &lo, &r, 401, GW_M_NONE, "no_credentials", NULL);
	expect("the network, nothing", &remote, &r, 401, GW_M_NONE, "no_credentials", NULL);
	struct gw_peer remote_cg = remote;
	remote_cg.has_cgroup = true;
	remote_cg.cgroup_id = root_id;
	expect("a cgroup is never trusted off loopback", &remote_cg, &r, 401, GW_M_NONE, "no_credentials", NULL);
}

static void test_basic(void)
{
	char token[GW_TOKEN_LEN + 1] = "keep", user[HS_ID_MAX + 1] = "keep", hdr[4096], cred[2048];

	snprintf(cred, sizeof(cred), "%s:", tok);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	CHECK(gw_basic_parse(hdr, strlen(hdr), token, user) == 0);
	CHECK_STREQ(token, tok);
	CHECK_STREQ(user, "");
	/* Scheme case-insensitive, several spaces. */
	char *b64 = hdr + 6;
	char h2[4200];
	snprintf(h2, sizeof(h2), "bAsIc   %s", b64);
	CHECK(gw_basic_parse(h2, strlen(h2), token, user) == 0);

	struct {
		const char *cred;
		size_t len;
		const char *why;
	} bad[] = {
		{ "nocolon", 7, "no colon" },
		{ ":", 1, "empty both" },
		{ "ovos-phone:", 11, "user only, not a token" },
		{ "ovos-phone:not-a-token", 22, "password not a token" },
		{ "Ov os:TOKEN", 11, "invalid user" },
		{ "a\0b:TOKEN", 9, "NUL in the user" },
		{ "a\tb:TOKEN", 9, "control byte" },
		{ "\xc3\xa9:TOKEN", 8, "non-ASCII user" },
		{ "id:TOKEN:x", 10, "two colons: the password is TOKEN:x" },
		{ "id: TOKEN", 9, "a space" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		/* TOKEN stands for the good token */
		char c[256];
		size_t n = 0;
		for (size_t j = 0; j < bad[i].len; j++) {
			if (j + 5 <= bad[i].len && memcmp(bad[i].cred + j, "TOKEN", 5) == 0) {
				memcpy(c + n, tok, GW_TOKEN_LEN);
				n += GW_TOKEN_LEN;
				j += 4;
			} else {
				c[n++] = bad[i].cred[j];
			}
		}
		basic_of(c, n, hdr, sizeof(hdr));
		strcpy(user, "keep");
		CHECK_MSG(gw_basic_parse(hdr, strlen(hdr), token, user) == -EINVAL && streq(user, "keep"),
			  "Basic refused: %s", bad[i].why);
	}

	/* Bad base64 and framing. */
	snprintf(cred, sizeof(cred), "%s:", tok);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	size_t len = strlen(hdr);
	const char *raw[] = { "Basic", "Basic ", "Basi xyz", "Bearer Zm9v", "Basic Zm9vOmJhcg", "Basic Zm9v OmJh",
			      "Basic Zm9vOmJhcg==\r", "Basic Zm9vOmJhcg===", "Basic Zm9v*mJhcg==", "Basic Zm9v\nOmJh" };
	for (size_t i = 0; i < ARRAY_LEN(raw); i++)
		CHECK_MSG(gw_basic_parse(raw[i], strlen(raw[i]), token, user) == -EINVAL, "refused: \"%s\"", raw[i]);
	CHECK_MSG(gw_basic_parse(hdr, len - 1, token, user) == -EINVAL, "truncated base64");
	hdr[len - 2] = '-'; /* base64url's character in standard base64 */
	CHECK(gw_basic_parse(hdr, len, token, user) == -EINVAL);
	CHECK(gw_basic_parse("Basic QQ==", 10, token, user) == -EINVAL); /* "A": no colon */
	/* Overlong: a valid header padded past 1024 bytes with spaces before the base64. */
	char big[GW_AUTHORIZATION_MAX + 64];
	snprintf(cred, sizeof(cred), "%s:", tok);
	basic_of(cred, strlen(cred), hdr, sizeof(hdr));
	memset(big, ' ', sizeof(big));
	memcpy(big, "Basic", 5);
	size_t blen = strlen(hdr + 6);
	memcpy(big + GW_AUTHORIZATION_MAX - blen, hdr + 6, blen);
	CHECK_MSG(gw_basic_parse(big, GW_AUTHORIZATION_MAX, token, user) == 0, "exactly 1024 bytes is accepted");
	memmove(big + GW_AUTHORIZATION_MAX + 1 - blen, hdr + 6, blen);
	big[GW_AUTHORIZATION_MAX - blen] = ' ';
	CHECK_MSG(gw_basic_parse(big, GW_AUTHORIZATION_MAX + 1, token, user) == -EINVAL, "1025 bytes is refused");
	CHECK(gw_basic_parse(NULL, 0, token, user) == -EINVAL);
}

static void test_challenge(void)
{
	uint8_t ns[HS_NONCE_LEN], nc[HS_NONCE_LEN], proof[HS_PROOF_LEN], nc2[HS_NONCE_LEN], p2[HS_PROOF_LEN];
	char out[512], id[HS_ID_MAX + 1], hex_nc[65], hex_p[65], msg[2048];

	for (int i = 0; i < 32; i++) {
		ns[i] = (uint8_t)i;
		nc[i] = (uint8_t)(0xa0 + i);
		proof[i] = (uint8_t)(0x40 + i);
	}
	int n = gw_challenge_format(out, sizeof(out), ns);
	CHECK_STREQ(out, "{\"type\":\"capbus.challenge\",\"data\":{\"version\":1,\"nonce\":"
			 "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"},\"context\":{}}");
	CHECK(n == (int)strlen(out));
	CHECK(gw_challenge_format(out, (size_t)n, ns) == -ENOSPC);
	n = gw_authenticated_format(out, sizeof(out), "alice", proof);
	CHECK_CONTAINS(out, "{\"type\":\"capbus.authenticated\",\"data\":{\"id\":\"alice\",\"server_proof\":\"404142");
	CHECK(n == (int)strlen(out));
	CHECK(gw_authenticated_format(out, sizeof(out), "Al\"ice", proof) == -EINVAL);
	CHECK(gw_authenticated_format(out, 10, "alice", proof) == -ENOSPC);

	sodium_bin2hex(hex_nc, sizeof(hex_nc), nc, sizeof(nc));
	sodium_bin2hex(hex_p, sizeof(hex_p), proof, sizeof(proof));
#define AUTH(fmt, ...) (snprintf(msg, sizeof(msg), fmt, __VA_ARGS__), msg)
	const char *good = AUTH("{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"},"
				"\"context\":{}}",
				hex_nc, hex_p);
	CHECK(gw_challenge_parse(good, strlen(good), id, nc2, p2) == 0);
	CHECK_STREQ(id, "alice");
	CHECK(memcmp(nc2, nc, 32) == 0 && memcmp(p2, proof, 32) == 0);
	good = AUTH(" { \"context\" : {\"session\":{\"a\":[1,2]}}, \"data\":{\"proof\":\"%s\",\"id\":\"b.c\",\"cnonce\":\"%s\"},"
		    "\"type\":\"capbus.auth\"}\n",
		    hex_p, hex_nc);
	CHECK_MSG(gw_challenge_parse(good, strlen(good), id, nc2, p2) == 0 && streq(id, "b.c"), "any order, context kept out");
	good = AUTH("{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}", hex_nc, hex_p);
	CHECK_MSG(gw_challenge_parse(good, strlen(good), id, nc2, p2) == 0, "no context");

	const char *bad[] = {
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"},\"extra\":1}",
		"{\"type\":\"capbus.auth\",\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.aut\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus\\u002eauth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"t\\u0079pe\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"id\":\"bob\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"Al ce\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"al\\u0000ice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s0\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%.62s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"x%.63s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\",\"x\":1}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\"},\"proof\":\"%s\"}",
		"{\"type\":\"capbus.auth\",\"data\":[\"alice\",\"%s\",\"%s\"]}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"},\"context\":[]}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}x",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}",
		"[{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}]",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"al\xffice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}",
		"{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"},\"context\":{\"x\":\"\xc3\"}}",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		AUTH(bad[i], hex_nc, hex_p);
		strcpy(id, "keep");
		CHECK_MSG(gw_challenge_parse(msg, strlen(msg), id, nc2, p2) == -EINVAL && streq(id, "keep"),
			  "capbus.auth refused (%zu): %.70s", i, msg);
	}
	/* A raw NUL inside, and the size bound. */
	good = AUTH("{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"}}", hex_nc, hex_p);
	size_t glen = strlen(good);
	msg[20] = '\0';
	CHECK(gw_challenge_parse(msg, glen, id, nc2, p2) == -EINVAL);
	char big[GW_CHALLENGE_MSG_MAX + 2];
	AUTH("{\"type\":\"capbus.auth\",\"data\":{\"id\":\"alice\",\"cnonce\":\"%s\",\"proof\":\"%s\"},\"context\":{\"p\":\"", hex_nc, hex_p);
	size_t mlen = strlen(msg);
	memcpy(big, msg, mlen);
	memset(big + mlen, 'x', sizeof(big) - mlen);
	memcpy(big + GW_CHALLENGE_MSG_MAX - 3, "\"}}", 3);
	CHECK_MSG(gw_challenge_parse(big, GW_CHALLENGE_MSG_MAX, id, nc2, p2) == 0, "1024 bytes accepted");
	memcpy(big + GW_CHALLENGE_MSG_MAX - 3, "x\"}}", 4);
	CHECK_MSG(gw_challenge_parse(big, GW_CHALLENGE_MSG_MAX + 1, id, nc2, p2) == -EINVAL, "1025 bytes refused");
#undef AUTH
}

static void test_net(void)
{
	struct gw_net n = {}, keep = { .prefix = 99 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6 };
	struct gw_net nets[2];

	CHECK(gw_net_parse("192.168.1.0/24", &nets[0]) == 0 && nets[0].family == AF_INET && nets[0].prefix == 24);
	CHECK(gw_net_parse("2001:db8::/32", &nets[1]) == 0 && nets[1].family == AF_INET6);
	CHECK(gw_net_parse("10.0.0.1", &n) == 0 && n.prefix == 32);
	const char *bad[] = { "192.168.1.1/24", "192.168.1.0/33", "192.168.1.0/08", "192.168.1.0/", "/24", "x/8",
			      "2001:db8::1/32", "192.168.1.0/-1", "192.168.1.0/24 ", "" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		n = keep;
		CHECK_MSG(gw_net_parse(bad[i], &n) == -EINVAL && n.prefix == 99, "CIDR refused: \"%s\"", bad[i]);
	}
	inet_pton(AF_INET, "192.168.1.77", &a.sin_addr);
	CHECK(gw_net_match(nets, 2, (struct sockaddr *)&a));
	inet_pton(AF_INET, "192.168.2.77", &a.sin_addr);
	CHECK(!gw_net_match(nets, 2, (struct sockaddr *)&a));
	inet_pton(AF_INET6, "::ffff:192.168.1.5", &b.sin6_addr);
	CHECK_MSG(gw_net_match(nets, 2, (struct sockaddr *)&b), "v4-mapped matches the IPv4 net");
	inet_pton(AF_INET6, "2001:db8:ffff::1", &b.sin6_addr);
	CHECK(gw_net_match(nets, 2, (struct sockaddr *)&b));
	inet_pton(AF_INET6, "2001:db9::1", &b.sin6_addr);
	CHECK(!gw_net_match(nets, 2, (struct sockaddr *)&b));
	CHECK(!gw_net_match(nets, 0, (struct sockaddr *)&b));

	const char *lo[] = { "127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1" };
	const char *notlo[] = { "128.0.0.1", "10.0.0.1", "::2", "::ffff:10.0.0.1", "::127.0.0.1", "0.0.0.0", "::" };
	for (size_t i = 0; i < ARRAY_LEN(lo); i++) {
		struct gw_peer p = peer_addr(lo[i], strchr(lo[i], ':') != NULL);
		CHECK_MSG(p.loopback, "%s is loopback", lo[i]);
	}
	for (size_t i = 0; i < ARRAY_LEN(notlo); i++) {
		struct gw_peer p = peer_addr(notlo[i], strchr(notlo[i], ':') != NULL);
		CHECK_MSG(!p.loopback, "%s is not loopback", notlo[i]);
	}
	struct sockaddr u = { .sa_family = AF_UNIX };
	CHECK(!gw_addr_is_loopback(&u) && !gw_addr_is_loopback(NULL));
}

int main(void)
{
	char mount[256], text[1024];
	struct gw_token_entry e = { .created = 1 };
	struct gw_local map[1] = { { .path = "/", .id = "ovos-audio" } };
	struct stat st;

	REQUIRE(sodium_init() >= 0);
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(store, sizeof(store), "%s/tokens", dir);
	gw_token_generate(tok, tid);
	memcpy(e.tid, tid, sizeof(tid));
	strcpy(e.id, "ovos-phone");
	REQUIRE(gw_token_hash(tok, GW_TOKEN_LEN, e.hash) == 0);
	REQUIRE(gw_token_line_format(&e, text, sizeof(text)) > 0);
	write_file(store, text);
	REQUIRE(gw_tokens_open(&tokens, store) == 0);

	if (cgroup_v2_mount(mount, sizeof(mount)) < 0)
		check_skip("no cgroup v2 hierarchy mounted");
	REQUIRE(stat(mount, &st) == 0);
	root_id = st.st_ino;
	REQUIRE(gw_diag_open(&diag, mount, map, 1) == 0);

	snprintf(cfg.route, sizeof(cfg.route), "/core");
	cfg.plain_loopback = true;
	snprintf(cfg.origins[0], sizeof(cfg.origins[0]), "https://ui.example");
	cfg.n_origins = 1;

	test_decide();
	test_basic();
	test_challenge();
	test_net();

	gw_tokens_free(tokens);
	gw_diag_free(diag);
	unlink(store);
	rmdir(dir);
	return check_finish("test-gw-auth");
}
