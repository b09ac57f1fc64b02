/* SPDX-License-Identifier: MIT */
/* gw-tokens.h - gateway tokens: their syntax, the store file of their hashes, verification.
 *
 * A token is `cbt1_<tid>_<secret>`: tid 16 lowercase hex digits (8 random bytes, public: it
 * names the token in logs and in `--revoke`), secret 43 base64url characters without padding
 * (32 random bytes). Only crypto_pwhash_str (argon2id) of the whole 65-byte token is stored.
 *
 * Store: one line per token, `TID IDENTITY CREATED HASH`, fields separated by one space, lines
 * ending in "\n"; lines starting with "#" are comments. At most GW_TOKENS_MAX tokens and
 * GW_TOKENS_FILE_MAX bytes; tids unique; a single bad line refuses the whole file.
 *
 * Trust level: token strings come from the network (untrusted, parsed before anything else);
 * the store is written only by capbusd's parent and read-only to the gateway, but still parsed
 * strictly and with bounds. Library code: no logging. */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw-hs.h"

#define GW_TOKEN_LEN 65
#define GW_TID_LEN 16
#define GW_TOKEN_PREFIX "cbt1_"
#define GW_TOKEN_SECRET_LEN 43 /* base64url of 32 bytes, no padding */
#define GW_TOKENS_MAX 4096
#define GW_TOKENS_FILE_MAX (1024 * 1024)

/* Hash cost: argon2id, 2 passes over 4 MiB. A token holds 256 random bits, so the slow hash
 * protects a leaked store, not a guessable secret; the cost is what one verify stalls the
 * gateway's single-threaded loop for. Measured on the 2-core CI machine under its usual load
 * (docs/gateway.md): 8 MiB took 6-35 ms at best and 23-54 ms on average, above the 25 ms
 * budget; 4 MiB 2-6 ms at best, 17-25 ms on average. The verify reads the cost from each
 * stored string, so lines made at another cost keep working. Lines whose cost exceeds the
 * caps below are refused, so a store line cannot stall the loop. */
#define GW_TOKEN_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define GW_TOKEN_MEMLIMIT (4u * 1024u * 1024u)
#define GW_TOKEN_MAX_M_KIB 65536u
#define GW_TOKEN_MAX_T 8u

struct gw_token_entry {
	char tid[GW_TID_LEN + 1];
	char id[HS_ID_MAX + 1];
	uint64_t created;
	char hash[crypto_pwhash_STRBYTES];
};

/* Token syntax only (no store): exactly GW_TOKEN_LEN bytes of the form above, with a canonical
 * base64url secret. 0 with tid filled and *secret (optional) pointing into s, or -EINVAL. */
int gw_token_parse(const char *s, size_t len, char tid[GW_TID_LEN + 1], const char **secret);

/* A new token from randombytes, NUL-terminated, with its tid. */
void gw_token_generate(char token[GW_TOKEN_LEN + 1], char tid[GW_TID_LEN + 1]);
/* crypto_pwhash_str of the token at the GW_TOKEN_* cost. 0, -EINVAL (not a token) or -ENOMEM. */
int gw_token_hash(const char *token, size_t len, char hash[crypto_pwhash_STRBYTES]);

/* One store line without its "\n" (len bytes, no NUL needed). 0 or -EINVAL; *out untouched on
 * failure. Shared with the parent, which checks a line before writing it. */
int gw_token_line_parse(const char *line, size_t len, struct gw_token_entry *out);
/* "TID IDENTITY CREATED HASH\n" into buf. Returns the length, or -EINVAL (entry not valid) or
 * -ENOSPC. */
int gw_token_line_format(const struct gw_token_entry *e, char *buf, size_t n);

/* A new store text from an old one (text may be NULL/empty: no store yet), for the writer
 * (capbusd's parent), which writes it atomically. With add: the entry appended (-EEXIST if its
 * tid is taken, -E2BIG past GW_TOKENS_MAX). With revoke_tid: that token removed (-ENOENT if
 * absent). With revoke_id: every token of that identity removed (none is fine). Comments are
 * kept. *out is malloc'd and NUL-terminated. -EINVAL when text is not a valid store. */
int gw_tokens_edit(const char *text, size_t len, const struct gw_token_entry *add, const char *revoke_tid,
		   const char *revoke_id, char **out, size_t *out_len);

struct gw_tokens;

/* Opens the store at path and reads it (a missing file is an empty store). 0, -ENOMEM, or the
 * error of gw_tokens_refresh. */
int gw_tokens_open(struct gw_tokens **out, const char *path);
/* Re-reads the store when (st_dev, st_ino, st_mtim, st_size) changed. 0 with *changed set.
 * On any error (unreadable, malformed, too big) the table is emptied (no token is valid until
 * a good file is read: revocations are never lost to a bad rewrite) and the error returned:
 * -EINVAL malformed, -EFBIG too big, regfile errors. A missing file is an empty store. */
int gw_tokens_refresh(struct gw_tokens *t, bool *changed);
/* Verifies a presented token against the table as last read (refresh first). 0 with id and tid
 * filled; -EINVAL malformed (no hash computed); -ENOENT unknown tid (no hash computed either: a
 * tid is not a secret, and hashing for unknown tids would let anyone burn the gateway's CPU);
 * -EACCES wrong secret (after crypto_pwhash_str_verify). id/tid untouched on failure. */
int gw_tokens_verify(struct gw_tokens *t, const char *token, size_t len, char id[HS_ID_MAX + 1],
		     char tid[GW_TID_LEN + 1]);
/* Whether the table holds tid (a live session whose tid vanished was revoked). */
bool gw_tokens_live(const struct gw_tokens *t, const char *tid);
size_t gw_tokens_count(const struct gw_tokens *t);
void gw_tokens_free(struct gw_tokens *t);
static inline void gw_tokens_freep(struct gw_tokens **t) { gw_tokens_free(*t); }
