// SPDX-License-Identifier: MIT
/* auth.c - the gateway's authentication decision and the challenge messages (see gw-auth.h).
 *
 * Trust level: every string here comes from an HTTP request or a WebSocket message of an
 * unauthenticated peer. Each parser has a length bound, reads no byte past it, and refuses
 * rather than repairs. A token is verified (argon2id) only when its syntax is right and its tid
 * is in the store, so a flood of garbage costs no hashing. */
#include <arpa/inet.h>
#include <stdio.h>
#include <strings.h>

#include "gw-auth.h"
#include "json-scan.h"
#include "util.h"

/* --- Authorization: Basic --- */

int gw_basic_parse(const char *value, size_t len, char token[GW_TOKEN_LEN + 1], char user[HS_ID_MAX + 1])
{
	uint8_t bin[GW_AUTHORIZATION_MAX];
	char tid[GW_TID_LEN + 1];
	const char *b64, *end = NULL, *colon;
	size_t bin_len = 0, b64_len, ulen, plen;
	int r = -EINVAL;

	if (!value || len > GW_AUTHORIZATION_MAX || len < 6 || strncasecmp(value, "basic ", 6) != 0)
		return -EINVAL;
	b64 = value + 6;
	while (b64 < value + len && *b64 == ' ')
		b64++;
	b64_len = (size_t)(value + len - b64);
	if (b64_len == 0 || b64_len % 4 != 0)
		return -EINVAL;
	/* The alphabet first: libsodium's decoder (1.0.18) takes some bytes >= 0x80 for digits.
	 * "=" only as the last one or two characters. */
	for (size_t i = 0; i < b64_len; i++) {
		char c = b64[i];
		bool digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (!digit && !(c == '=' && i >= b64_len - 2 && (i == b64_len - 1 || b64[b64_len - 1] == '=')))
			return -EINVAL;
	}
	if (sodium_base642bin(bin, sizeof(bin), b64, b64_len, NULL, &bin_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != value + len)
		goto out;
	/* Only visible ASCII: no NUL (a C consumer would cut there), no control byte, no space, no
	 * byte of a multi-byte sequence: neither ids nor tokens contain any. */
	for (size_t i = 0; i < bin_len; i++)
		if (bin[i] < 0x21 || bin[i] > 0x7e)
			goto out;
	colon = memchr(bin, ':', bin_len);
	if (!colon)
		goto out;
	ulen = (size_t)((const uint8_t *)colon - bin);
	plen = bin_len - ulen - 1;
	if (plen > 0) {
		/* user:token; the user is a claim checked against the token's identity. */
		if (ulen > HS_ID_MAX || (ulen > 0 && !hs_id_is_valid((const char *)bin, ulen)) ||
		    gw_token_parse(colon + 1, plen, tid, NULL) < 0)
			goto out;
		memcpy(token, colon + 1, plen);
		token[plen] = '\0';
		memcpy(user, bin, ulen);
		user[ulen] = '\0';
	} else {
		/* token: (an API key as the user name, empty password) */
		if (gw_token_parse((const char *)bin, ulen, tid, NULL) < 0)
			goto out;
		memcpy(token, bin, ulen);
		token[ulen] = '\0';
		user[0] = '\0';
	}
	r = 0;
out:
	sodium_memzero(bin, sizeof(bin));
	return r;
}

/* --- the decision --- */

/* "localhost", "127.x.y.z" or "[::1]", each with an optional ":PORT". */
static bool host_is_loopback(const char *host)
{
	char name[64];
	const char *port = NULL;
	size_t nlen;

	if (!host || strlen(host) >= sizeof(name))
		return false;
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (!close)
			return false;
		nlen = (size_t)(close - host - 1);
		memcpy(name, host + 1, nlen);
		name[nlen] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return false;
		struct in6_addr a6;
		if (inet_pton(AF_INET6, name, &a6) != 1 || !IN6_IS_ADDR_LOOPBACK(&a6))
			return false;
	} else {
		const char *c = strchr(host, ':');
		nlen = c ? (size_t)(c - host) : strlen(host);
		memcpy(name, host, nlen);
		name[nlen] = '\0';
		if (c)
			port = c + 1;
		struct in_addr a4;
		if (strcasecmp(name, "localhost") != 0 &&
		    (inet_pton(AF_INET, name, &a4) != 1 || ((const uint8_t *)&a4)[0] != 127))
			return false;
	}
	if (port) {
		size_t plen = strlen(port);
		if (plen == 0 || plen > 5 || strspn(port, "0123456789") != plen)
			return false;
	}
	return true;
}

static bool origin_is(const char *origin, const char *scheme, const char *host)
{
	size_t slen = strlen(scheme);
	return strncmp(origin, scheme, slen) == 0 && strcasecmp(origin + slen, host) == 0;
}

/* A browser always sends Origin on a WebSocket upgrade; a page of another site must not borrow
 * the cgroup of the browser it runs in. The page's own origin counts only when Host is a
 * loopback name, so a DNS-rebound name (evil.example resolving to 127.0.0.1) does not pass. */
static bool origin_ok(const struct gw_config *cfg, const struct gw_http_req *req)
{
	if (!req->origin)
		return true;
	for (size_t i = 0; i < cfg->n_origins && i < GW_ORIGINS_MAX; i++)
		if (streq(req->origin, cfg->origins[i]))
			return true;
	return host_is_loopback(req->host) &&
	       (origin_is(req->origin, "http://", req->host) || origin_is(req->origin, "https://", req->host));
}

static void refuse(struct gw_decision *out, int status, const char *reason, bool count)
{
	out->http_status = status;
	out->method = GW_M_NONE;
	out->id[0] = out->tid[0] = '\0';
	out->reason = reason;
	out->count_failure = count;
}

static void decide_token(const struct gw_http_req *req, struct gw_tokens *tokens, struct gw_decision *out)
{
	char token[GW_TOKEN_LEN + 1], user[HS_ID_MAX + 1] = "", id[HS_ID_MAX + 1], tid[GW_TID_LEN + 1];
	bool changed;
	int r;

	if (req->n_token > 0) {
		size_t len = strnlen(req->token, GW_TOKEN_LEN + 1);
		r = gw_token_parse(req->token, len, tid, NULL);
		if (r == 0) {
			memcpy(token, req->token, len);
			token[len] = '\0';
		}
	} else {
		r = gw_basic_parse(req->authorization, strnlen(req->authorization, GW_AUTHORIZATION_MAX + 1), token, user);
	}
	if (r < 0) {
		refuse(out, 401, "malformed", true);
		return;
	}
	if (!tokens) {
		r = -ENOENT;
	} else if (gw_tokens_refresh(tokens, &changed) < 0) {
		/* A broken store is the operator's problem, not this client's: not counted. */
		refuse(out, 401, "store_error", false);
		sodium_memzero(token, sizeof(token));
		return;
	} else {
		r = gw_tokens_verify(tokens, token, GW_TOKEN_LEN, id, tid);
	}
	sodium_memzero(token, sizeof(token));
	if (r == -ENOENT)
		refuse(out, 401, "unknown_token", true);
	else if (r < 0)
		refuse(out, 401, r == -EACCES ? "bad_secret" : "malformed", true);
	else if (user[0] && !streq(user, "token") && !streq(user, id))
		refuse(out, 401, "user_mismatch", true);
	else {
		out->http_status = 0;
		out->method = GW_M_TOKEN;
		memcpy(out->id, id, sizeof(out->id));
		memcpy(out->tid, tid, sizeof(out->tid));
		out->reason = "token";
		out->count_failure = false;
	}
}

void gw_auth_decide(const struct gw_config *cfg, struct gw_tokens *tokens, struct gw_diag *diag,
		    const struct gw_peer *peer, const struct gw_http_req *req, uint64_t now_ms,
		    struct gw_decision *out)
{
	memset(out, 0, sizeof(*out));

	if (!req->path || !streq(req->path, cfg->route))
		return refuse(out, 404, "not_found", false);
	/* No plain vhost listens off loopback; checked again so that no wiring mistake can make
	 * a token travel in clear across a network. */
	if (!req->tls && !peer->loopback)
		return refuse(out, 403, "plain_not_loopback", false);
	if (!req->tls && !cfg->plain_loopback)
		return refuse(out, 403, "plain_not_allowed", false);

	if (req->n_token < 0 || req->n_token > 1)
		return refuse(out, 400, "duplicate_token", true);
	if (req->n_token == 1 && !req->token)
		return refuse(out, 401, "malformed", true);
	if (req->n_token == 1 && req->authorization)
		return refuse(out, 400, "two_credentials", true);
	if (req->n_token == 1 || req->authorization)
		return decide_token(req, tokens, out);

	if (req->auth_arg) {
		if (!streq(req->auth_arg, "challenge"))
			return refuse(out, 400, "bad_auth_arg", true);
		out->http_status = 0;
		out->method = GW_M_CHALLENGE;
		out->reason = "challenge";
		return;
	}

	if (peer->loopback && peer->has_cgroup) {
		const char *id = diag ? gw_diag_identity(diag, peer->cgroup_id, now_ms) : NULL;
		if (!id)
			return refuse(out, 401, "unmapped_cgroup", true);
		if (!origin_ok(cfg, req))
			return refuse(out, 401, "origin", true);
		out->http_status = 0;
		out->method = GW_M_LOCAL;
		snprintf(out->id, sizeof(out->id), "%s", id);
		out->reason = "local";
		return;
	}
	refuse(out, 401, "no_credentials", true);
}

/* --- challenge messages --- */

int gw_challenge_format(char *out, size_t n, const uint8_t ns[HS_NONCE_LEN])
{
	char hex[2 * HS_NONCE_LEN + 1];
	int r;

	sodium_bin2hex(hex, sizeof(hex), ns, HS_NONCE_LEN);
	r = snprintf(out, n, "{\"type\":\"capbus.challenge\",\"data\":{\"version\":1,\"nonce\":\"%s\"},\"context\":{}}",
		     hex);
	return r < 0 || (size_t)r >= n ? -ENOSPC : r;
}

int gw_authenticated_format(char *out, size_t n, const char *id, const uint8_t sp[HS_PROOF_LEN])
{
	char hex[2 * HS_PROOF_LEN + 1];
	int r;

	if (!id || !hs_id_is_valid(id, strlen(id)))
		return -EINVAL;
	sodium_bin2hex(hex, sizeof(hex), sp, HS_PROOF_LEN);
	r = snprintf(out, n,
		     "{\"type\":\"capbus.authenticated\",\"data\":{\"id\":\"%s\",\"server_proof\":\"%s\"},\"context\":{}}",
		     id, hex);
	return r < 0 || (size_t)r >= n ? -ENOSPC : r;
}

static bool key_is(const char *json, const struct json_member *m, const char *name)
{
	return !m->key_escaped && m->key_len == strlen(name) && memcmp(json + m->key_off, name, m->key_len) == 0;
}

/* The bytes between the quotes of a string value without any escape, or NULL. */
static const char *plain_string(const char *json, const struct json_member *m, size_t *len)
{
	if (m->val_kind != '"' || m->val_len < 2 || memchr(json + m->val_off, '\\', m->val_len))
		return NULL;
	*len = m->val_len - 2;
	return json + m->val_off + 1;
}

static bool hex32(const char *s, size_t len, uint8_t out[32])
{
	size_t bin_len = 0;
	const char *end = NULL;

	return len == 64 && sodium_hex2bin(out, 32, s, len, NULL, &bin_len, &end) == 0 && bin_len == 32 &&
	       end == s + len;
}

int gw_challenge_parse(const char *json, size_t len, char id[HS_ID_MAX + 1], uint8_t nc[HS_NONCE_LEN],
		       uint8_t proof[HS_PROOF_LEN])
{
	struct json_member top[4], data[4];
	size_t n_top = 0, n_data = 0, slen;
	bool seen_type = false, seen_data = false, seen_ctx = false, seen_id = false, seen_nc = false, seen_p = false;
	const struct json_member *dm = NULL;
	char t_id[HS_ID_MAX + 1];
	uint8_t t_nc[HS_NONCE_LEN], t_p[HS_PROOF_LEN];
	const char *s;

	if (!json || len > GW_CHALLENGE_MSG_MAX ||
	    json_scan_object((const uint8_t *)json, len, 8, top, ARRAY_SIZE(top), &n_top) != JSON_SCAN_OK ||
	    n_top > 3)
		return -EINVAL;
	for (size_t i = 0; i < n_top; i++) {
		const struct json_member *m = &top[i];
		if (key_is(json, m, "type") && !seen_type) {
			seen_type = true;
			s = plain_string(json, m, &slen);
			if (!s || slen != strlen("capbus.auth") || memcmp(s, "capbus.auth", slen) != 0)
				return -EINVAL;
		} else if (key_is(json, m, "data") && !seen_data && m->val_kind == '{') {
			seen_data = true;
			dm = m;
		} else if (key_is(json, m, "context") && !seen_ctx && m->val_kind == '{') {
			seen_ctx = true;
		} else {
			return -EINVAL;
		}
	}
	if (!seen_type || !dm)
		return -EINVAL;
	/* The data object, scanned on its own (already validated as part of the whole). */
	if (json_scan_object((const uint8_t *)json + dm->val_off, dm->val_len, 7, data, ARRAY_SIZE(data), &n_data) !=
		    JSON_SCAN_OK ||
	    n_data != 3)
		return -EINVAL;
	for (size_t i = 0; i < n_data; i++) {
		const struct json_member *m = &data[i];
		const char *base = json + dm->val_off;
		s = plain_string(base, m, &slen);
		if (!s)
			return -EINVAL;
		if (key_is(base, m, "id") && !seen_id) {
			seen_id = true;
			if (!hs_id_is_valid(s, slen))
				return -EINVAL;
			memcpy(t_id, s, slen);
			t_id[slen] = '\0';
		} else if (key_is(base, m, "cnonce") && !seen_nc) {
			seen_nc = true;
			if (!hex32(s, slen, t_nc))
				return -EINVAL;
		} else if (key_is(base, m, "proof") && !seen_p) {
			seen_p = true;
			if (!hex32(s, slen, t_p))
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	memcpy(id, t_id, sizeof(t_id));
	memcpy(nc, t_nc, sizeof(t_nc));
	memcpy(proof, t_p, sizeof(t_p));
	return 0;
}
