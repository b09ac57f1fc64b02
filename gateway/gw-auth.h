/* SPDX-License-Identifier: MIT */
/* gw-auth.h - who a WebSocket upgrade request is: the gateway's authentication decision.
 *
 * gw_auth_decide looks at one HTTP upgrade request (path, `token=` and `auth=` URL arguments,
 * Authorization, Origin, Host) and the peer (address, loopback, cgroup) and picks exactly one
 * method, first match wins (docs/gateway.md):
 *   1. a token, in `?token=` (exactly one) or `Authorization: Basic` (not both);
 *   2. `?auth=challenge`: the browser/capbus-aware challenge, decided after the upgrade;
 *   3. a loopback peer whose cgroup is mapped to an identity, from a page of no other origin;
 *   4. nothing: 401.
 * Plain (non-TLS) requests are accepted only from loopback and only with `plain_loopback`.
 * The challenge messages (gw_challenge_*) are the JSON texts of the challenge method.
 *
 * Trust level: every request byte is the network's. Parsers are bounded and strict: no
 * lenient base64, no NUL, no trailing bytes, no duplicate members. Library code: no logging;
 * the decision carries a static reason word for the caller's log line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw-diag.h"
#include "gw-hs.h"
#include "gw-sources.h"
#include "gw-tokens.h"
#include "gwconfig.h"

/* The longest Authorization header value looked at; longer is malformed. */
#define GW_AUTHORIZATION_MAX 1024
/* The longest capbus.auth message (the challenge answer); longer is refused. */
#define GW_CHALLENGE_MSG_MAX 1024

enum gw_method { GW_M_NONE = 0, GW_M_LOCAL = HS_VIA_LOCAL, GW_M_TOKEN = HS_VIA_TOKEN,
                 GW_M_CHALLENGE = HS_VIA_CHALLENGE };
struct gw_peer {
	struct sockaddr_storage addr; socklen_t addrlen;
	bool loopback, has_cgroup; uint64_t cgroup_id;
	struct gw_source_key key; char desc[HS_PEER_MAX + 1];      /* "203.0.113.7:51234", "cg:181931" */
};
struct gw_http_req {
	const char *path;                          /* WSI_TOKEN_GET_URI */
	const char *token; int n_token;            /* first "token=" value, and how many there were */
	const char *auth_arg;                      /* "auth=" value or NULL */
	const char *authorization, *origin, *host; /* NULL when absent */
	bool tls;
};
struct gw_decision {
	int http_status;                           /* 0: upgrade; else 400, 401, 403, 404 */
	enum gw_method method;
	char id[HS_ID_MAX + 1];                    /* local and token: the subject */
	char tid[GW_TID_LEN + 1];                  /* token only */
	const char *reason;                        /* static word for the log */
	bool count_failure;                        /* call gw_sources_fail */
};
/* Fills *out; never fails (a refusal is a decision). tokens and diag may be NULL (no token
 * store: every token is unknown; no map: no local identity). A syntactically valid token
 * triggers gw_tokens_refresh first, so a revocation is seen by the next attempt. Reasons:
 * "token", "local", "challenge" on success; "not_found" (404), "plain_not_loopback",
 * "plain_not_allowed" (403), "duplicate_token", "two_credentials", "bad_auth_arg" (400),
 * "malformed", "unknown_token", "bad_secret", "user_mismatch", "store_error", "origin",
 * "unmapped_cgroup", "no_credentials" (401). count_failure is set for every 400 and 401. */
void gw_auth_decide(const struct gw_config *cfg, struct gw_tokens *tokens, struct gw_diag *diag,
		    const struct gw_peer *peer, const struct gw_http_req *req, uint64_t now_ms,
		    struct gw_decision *out);

/* An Authorization header value, "Basic <base64(user:pass)>": the scheme case-insensitive,
 * one or more spaces, then strict padded base64 (RFC 4648 §4) and nothing after it. The token is
 * pass when non-empty (user then names the identity, or is "token"), else user (an API key as
 * user name, empty password). 0 with token (syntax checked) and user ("" when the token was the
 * user name); -EINVAL otherwise (not Basic, overlong, bad base64, NUL or control bytes, no
 * colon, not a token). Outputs untouched on failure. */
int gw_basic_parse(const char *value, size_t len, char token[GW_TOKEN_LEN + 1], char user[HS_ID_MAX + 1]);

/* {"type":"capbus.challenge","data":{"version":1,"nonce":"<64 hex>"},"context":{}}.
 * Returns the length (NUL written) or -ENOSPC. */
int gw_challenge_format(char *out, size_t n, const uint8_t ns[HS_NONCE_LEN]);
/* {"type":"capbus.auth","data":{"id":ID,"cnonce":"<64 hex>","proof":"<64 hex>"},"context":{...}}
 * in any member order, "context" optional (an object when present), no other member, no
 * duplicate, no escape in the members read, at most GW_CHALLENGE_MSG_MAX bytes, valid JSON.
 * 0 with the three outputs, or -EINVAL (outputs untouched). */
int gw_challenge_parse(const char *json, size_t len, char id[HS_ID_MAX + 1],
		       uint8_t nc[HS_NONCE_LEN], uint8_t proof[HS_PROOF_LEN]);
/* {"type":"capbus.authenticated","data":{"id":ID,"server_proof":"<64 hex>"},"context":{}}.
 * Returns the length or -ENOSPC; -EINVAL for an invalid id. */
int gw_authenticated_format(char *out, size_t n, const char *id, const uint8_t sp[HS_PROOF_LEN]);
