// SPDX-License-Identifier: MIT
/* test-gw-tokens.c - gateway/tokens.c: token syntax, generation, the store line format, the store
 * file (strict parse, reload on change, fail closed, special files refused), verification (ok,
 * wrong secret, unknown tid without hashing) and revocation through gw_tokens_edit.
 *
 * Links only the gateway's authentication library. Prints the time of one verify at the
 * configured cost (docs/gateway.md records it). */
#include <fcntl.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "gw-tokens.h"
#include "regfile.h"
#include "util.h"

/* The table of bad lines is a list of printf formats filled with a good hash. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static char dir[] = "/tmp/capbus-test-gw-tokens.XXXXXX";
static char store[128];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes the store as capbusd's parent does: a new file renamed over the old one. */
static void put_store(const char *text)
{
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.tmp", store);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	REQUIRE(rename(tmp, store) == 0);
}

static void test_syntax(void)
{
	char token[GW_TOKEN_LEN + 1], tid[GW_TID_LEN + 1], tid2[GW_TID_LEN + 1], other[GW_TOKEN_LEN + 1];
	const char *secret = NULL;
	regex_t re;

	gw_token_generate(token, tid);
	REQUIRE(regcomp(&re, "^cbt1_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$", REG_EXTENDED | REG_NOSUB) == 0);
	CHECK_MSG(regexec(&re, token, 0, NULL, 0) == 0, "generated token has the documented form: %s", token);
	regfree(&re);
	CHECK(strlen(token) == GW_TOKEN_LEN);
	CHECK(gw_token_parse(token, strlen(token), tid2, &secret) == 0);
	CHECK_STREQ(tid2, tid);
	CHECK(secret == token + 22);
	gw_token_generate(other, tid2);
	CHECK_MSG(strcmp(token, other) != 0 && strcmp(tid, tid2) != 0, "two tokens differ");

	/* Every variation of a good token is refused. */
	struct {
		size_t pos;
		char ch;
		const char *why;
	} edits[] = {
		{ 0, 'C', "prefix case" }, { 3, '2', "another version" }, { 4, '-', "prefix separator" },
		{ 5, 'A', "upper-case tid" }, { 7, 'g', "tid not hex" }, { 21, '-', "tid separator" },
		{ 30, '+', "standard base64 '+'" }, { 31, '/', "standard base64 '/'" }, { 64, '=', "padding" },
		{ 40, '\0', "a NUL inside" }, { 50, (char)0xc3, "a non-ASCII byte" }, { 22, ' ', "a space" },
	};
	for (size_t i = 0; i < ARRAY_LEN(edits); i++) {
		char t[GW_TOKEN_LEN + 1];
		memcpy(t, token, sizeof(t));
		if (t[edits[i].pos] == edits[i].ch)
			continue;
		t[edits[i].pos] = edits[i].ch;
		CHECK_MSG(gw_token_parse(t, GW_TOKEN_LEN, tid2, NULL) == -EINVAL, "token refused: %s", edits[i].why);
	}
	CHECK(gw_token_parse(token, GW_TOKEN_LEN - 1, tid2, NULL) == -EINVAL);
	char longer[GW_TOKEN_LEN + 2];
	snprintf(longer, sizeof(longer), "%sA", token);
	CHECK(gw_token_parse(longer, GW_TOKEN_LEN + 1, tid2, NULL) == -EINVAL);
	CHECK(gw_token_parse(NULL, 0, tid2, NULL) == -EINVAL);

	/* The last base64url character carries 4 unused bits: they must be zero (one spelling per
	 * secret). 32 zero bytes end in "A"; "B" sets an unused bit. */
	char t0[] = "cbt1_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	CHECK(gw_token_parse(t0, strlen(t0), tid2, NULL) == 0);
	t0[GW_TOKEN_LEN - 1] = 'B';
	CHECK_MSG(gw_token_parse(t0, strlen(t0), tid2, NULL) == -EINVAL, "non-canonical last character refused");
}

static const char hash_tail[] = "$argon2id$v=19$m=8192,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

static void test_lines(void)
{
	struct gw_token_entry e = { .created = 9 }, keep = { .created = 77 };
	char line[512];

	snprintf(line, sizeof(line), "3f2a9c0d11e4b7a2 ovos-phone 1796680000 %s", hash_tail);
	CHECK(gw_token_line_parse(line, strlen(line), &e) == 0);
	CHECK_STREQ(e.tid, "3f2a9c0d11e4b7a2");
	CHECK_STREQ(e.id, "ovos-phone");
	CHECK(e.created == 1796680000ull);
	CHECK_STREQ(e.hash, hash_tail);
	char again[512];
	CHECK(gw_token_line_format(&e, again, sizeof(again)) == (int)strlen(line) + 1);
	CHECK(strncmp(again, line, strlen(line)) == 0 && again[strlen(line)] == '\n');
	CHECK(gw_token_line_format(&e, again, 20) == -ENOSPC);

	const char *bad[] = {
		"3f2a9c0d11e4b7a2  ovos-phone 1 %s",          /* two spaces */
		"3F2A9C0D11E4B7A2 ovos-phone 1 %s",           /* upper-case tid */
		"3f2a9c0d11e4b7a ovos-phone 1 %s",            /* short tid */
		"3f2a9c0d11e4b7a2 Ov:os 1 %s",                /* invalid id */
		"3f2a9c0d11e4b7a2 ovos-phone 01 %s",          /* leading zero */
		"3f2a9c0d11e4b7a2 ovos-phone -1 %s",          /* sign */
		"3f2a9c0d11e4b7a2 ovos-phone 18446744073709551616 %s", /* > u64 */
		"3f2a9c0d11e4b7a2 ovos-phone 1 %s\r",         /* CR */
		"3f2a9c0d11e4b7a2 ovos-phone 1 %s extra",     /* a fifth field */
		"3f2a9c0d11e4b7a2 ovos-phone 1",              /* no hash */
		"3f2a9c0d11e4b7a2 ovos-phone 1 $argon2i$v=19$m=8192,t=2,p=1$c2FsdA$aGFzaA", /* not argon2id */
		"3f2a9c0d11e4b7a2 ovos-phone 1 $argon2id$v=19$m=1048576,t=2,p=1$c2FsdA$aGFzaA", /* 1 GiB */
		"3f2a9c0d11e4b7a2 ovos-phone 1 $argon2id$v=19$m=8192,t=100,p=1$c2FsdA$aGFzaA",  /* 100 passes */
		"3f2a9c0d11e4b7a2 ovos-phone 1 $argon2id$v=19$m=8192,t=2,p=4$c2FsdA$aGFzaA",    /* lanes */
		"3f2a9c0d11e4b7a2 ovos-phone 1 $argon2id$v=19$m=+8192,t=2,p=1$c2FsdA$aGFzaA",   /* sign */
		"3f2a9c0d11e4b7a2 ovos-phone 1 $argon2id$v=19$m=8192,t=2,p=1",                  /* no salt */
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(line, sizeof(line), bad[i], hash_tail);
		e = keep;
		CHECK_MSG(gw_token_line_parse(line, strlen(line), &e) == -EINVAL && e.created == 77, "line refused: %s",
			  bad[i]);
	}
	/* A hash of crypto_pwhash_STRBYTES characters or more. */
	char huge[400];
	snprintf(huge, sizeof(huge), "3f2a9c0d11e4b7a2 a 1 %s%s", hash_tail, hash_tail + 40);
	CHECK(gw_token_line_parse(huge, strlen(huge), &e) == -EINVAL);
	/* A NUL inside the line. */
	snprintf(line, sizeof(line), "3f2a9c0d11e4b7a2 ovos-phone 1 %s", hash_tail);
	size_t len = strlen(line);
	line[40] = '\0';
	CHECK(gw_token_line_parse(line, len, &e) == -EINVAL);
}

static void test_store(void)
{
	_cleanup_(gw_tokens_freep) struct gw_tokens *t = NULL;
	char tok_a[GW_TOKEN_LEN + 1], tid_a[GW_TID_LEN + 1], tok_b[GW_TOKEN_LEN + 1], tid_b[GW_TID_LEN + 1];
	char tok_c[GW_TOKEN_LEN + 1], tid_c[GW_TID_LEN + 1];
	struct gw_token_entry ea = { .created = 1 }, eb = { .created = 2 }, ec = { .created = 3 };
	char id[HS_ID_MAX + 1], tid[GW_TID_LEN + 1];
	_cleanup_free_ char *text = NULL, *text2 = NULL, *text3 = NULL;
	size_t len;
	bool changed;

	gw_token_generate(tok_a, tid_a);
	gw_token_generate(tok_b, tid_b);
	gw_token_generate(tok_c, tid_c);
	memcpy(ea.tid, tid_a, sizeof(tid_a));
	memcpy(eb.tid, tid_b, sizeof(tid_b));
	memcpy(ec.tid, tid_c, sizeof(tid_c));
	strcpy(ea.id, "ovos-phone");
	strcpy(eb.id, "alice");
	strcpy(ec.id, "alice");
	REQUIRE(gw_token_hash(tok_a, GW_TOKEN_LEN, ea.hash) == 0);
	REQUIRE(gw_token_hash(tok_b, GW_TOKEN_LEN, eb.hash) == 0);
	REQUIRE(gw_token_hash(tok_c, GW_TOKEN_LEN, ec.hash) == 0);
	CHECK(startswith(ea.hash, "$argon2id$v=19$m=4096,t=2,p=1$"));
	CHECK(gw_token_hash("nope", 4, ea.hash + 0) == -EINVAL);

	/* The store as the parent builds it: a comment, then one line per token. */
	const char head[] = "# capbus gateway tokens: TID IDENTITY CREATED HASH\n";
	REQUIRE(gw_tokens_edit(head, strlen(head), &ea, NULL, NULL, &text, &len) == 0);
	REQUIRE(gw_tokens_edit(text, len, &eb, NULL, NULL, &text2, &len) == 0);
	free(text);
	text = TAKE_PTR(text2);
	REQUIRE(gw_tokens_edit(text, len, &ec, NULL, NULL, &text2, &len) == 0);
	free(text);
	text = TAKE_PTR(text2);
	CHECK(startswith(text, head));
	CHECK_MSG(strstr(text, tok_a + 22) == NULL && strstr(text, tok_b + 22) == NULL, "the store holds no secret");
	CHECK(gw_tokens_edit(text, len, &eb, NULL, NULL, &text2, &len) == -EEXIST);
	put_store(text);

	/* No store file yet is an empty store. */
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	REQUIRE(gw_tokens_open(&t, missing) == 0);
	CHECK(gw_tokens_count(t) == 0);
	CHECK(gw_tokens_verify(t, tok_a, GW_TOKEN_LEN, id, tid) == -ENOENT);
	gw_tokens_free(TAKE_PTR(t));

	REQUIRE(gw_tokens_open(&t, store) == 0);
	CHECK(gw_tokens_count(t) == 3);
	CHECK(gw_tokens_refresh(t, &changed) == 0 && !changed);

	/* One verify at the configured cost, timed. */
	double t0 = now_s();
	int r = gw_tokens_verify(t, tok_a, GW_TOKEN_LEN, id, tid);
	double known = now_s() - t0;
	CHECK(r == 0);
	CHECK_STREQ(id, "ovos-phone");
	CHECK_STREQ(tid, tid_a);
	printf("# one gw_tokens_verify (argon2id m=4 MiB t=2): %.1f ms\n", known * 1000);

	/* Wrong secret with a known tid: -EACCES; outputs untouched. */
	char wrong[GW_TOKEN_LEN + 1];
	memcpy(wrong, tok_a, sizeof(wrong));
	memcpy(wrong + 22, tok_b + 22, GW_TOKEN_SECRET_LEN);
	strcpy(id, "untouched");
	CHECK(gw_tokens_verify(t, wrong, GW_TOKEN_LEN, id, tid) == -EACCES);
	CHECK_STREQ(id, "untouched");
	/* A valid token of another tid with a's secret: -EACCES too (the hash covers the tid). */
	memcpy(wrong, tok_b, sizeof(wrong));
	memcpy(wrong + 22, tok_a + 22, GW_TOKEN_SECRET_LEN);
	CHECK(gw_tokens_verify(t, wrong, GW_TOKEN_LEN, id, tid) == -EACCES);

	/* Unknown tid: refused without hashing, so it costs far less than a verify. */
	char unknown[GW_TOKEN_LEN + 1], utid[GW_TID_LEN + 1];
	gw_token_generate(unknown, utid);
	/* The fastest of 20 tries, so that a preemption on a loaded machine does not count. */
	double unknown_s = 1e9;
	for (int i = 0; i < 20; i++) {
		t0 = now_s();
		CHECK(gw_tokens_verify(t, unknown, GW_TOKEN_LEN, id, tid) == -ENOENT);
		double d = now_s() - t0;
		unknown_s = d < unknown_s ? d : unknown_s;
	}
	CHECK_MSG(unknown_s < known / 10, "unknown tid: %.3f ms, no hash computed", unknown_s * 1000);
	CHECK(gw_tokens_verify(t, "cbt1_garbage", 12, id, tid) == -EINVAL);

	CHECK(gw_tokens_verify(t, tok_b, GW_TOKEN_LEN, id, tid) == 0);
	CHECK_STREQ(id, "alice");
	CHECK(gw_tokens_live(t, tid_b) && gw_tokens_live(t, tid_c) && !gw_tokens_live(t, utid));

	/* Revoke b by tid: after the rewrite the next refresh sees it gone. */
	CHECK(gw_tokens_edit(text, len, NULL, utid, NULL, &text2, &len) == -ENOENT);
	REQUIRE(gw_tokens_edit(text, len, NULL, tid_b, NULL, &text2, &len) == 0);
	put_store(text2);
	CHECK(gw_tokens_refresh(t, &changed) == 0 && changed);
	CHECK_MSG(!gw_tokens_live(t, tid_b) && gw_tokens_live(t, tid_c), "revoked tid gone, the other kept");
	CHECK(gw_tokens_verify(t, tok_b, GW_TOKEN_LEN, id, tid) == -ENOENT);
	CHECK(gw_tokens_verify(t, tok_c, GW_TOKEN_LEN, id, tid) == 0);

	/* Revoke every token of alice. */
	REQUIRE(gw_tokens_edit(text2, len, NULL, NULL, "alice", &text3, &len) == 0);
	put_store(text3);
	CHECK(gw_tokens_refresh(t, &changed) == 0 && changed);
	CHECK(gw_tokens_count(t) == 1 && gw_tokens_live(t, tid_a) && !gw_tokens_live(t, tid_c));

	/* A broken rewrite: the table empties (fail closed), and comes back with a good file. */
	put_store("# comment\nnot a token line\n");
	CHECK(gw_tokens_refresh(t, &changed) == -EINVAL);
	CHECK_MSG(gw_tokens_count(t) == 0 && gw_tokens_verify(t, tok_a, GW_TOKEN_LEN, id, tid) == -ENOENT,
		  "a malformed store keeps no token valid");
	put_store(text3);
	CHECK(gw_tokens_refresh(t, &changed) == 0 && changed && gw_tokens_count(t) == 1);

	/* Duplicate tids, a missing final newline, a NUL, a control byte in a comment: refused. */
	char dup[2048];
	snprintf(dup, sizeof(dup), "%s%s", text3, text3);
	put_store(dup);
	CHECK(gw_tokens_refresh(t, &changed) == -EINVAL && gw_tokens_count(t) == 0);
	snprintf(dup, sizeof(dup), "%s", text3);
	dup[strlen(dup) - 1] = '\0';
	put_store(dup);
	CHECK(gw_tokens_refresh(t, &changed) == -EINVAL);
	put_store("# a\x01 comment\n");
	CHECK(gw_tokens_refresh(t, &changed) == -EINVAL);
	CHECK(gw_tokens_edit("x\n", 2, NULL, NULL, "alice", &text2, &len) == -EINVAL);

	/* A symbolic link or a FIFO in the store's place: refused, table empty. */
	put_store(text3);
	CHECK(gw_tokens_refresh(t, &changed) == 0 && gw_tokens_count(t) == 1);
	char real[160];
	snprintf(real, sizeof(real), "%s/real", dir);
	REQUIRE(rename(store, real) == 0);
	REQUIRE(symlink(real, store) == 0);
	CHECK(gw_tokens_refresh(t, &changed) == -ELOOP && gw_tokens_count(t) == 0);
	unlink(store);
	REQUIRE(mkfifo(store, 0600) == 0);
	CHECK(gw_tokens_refresh(t, &changed) == -REGFILE_E_NOT_REGULAR && gw_tokens_count(t) == 0);
	unlink(store);
	unlink(real);
	/* Removed: an empty store. */
	CHECK(gw_tokens_refresh(t, &changed) == 0 && gw_tokens_count(t) == 0);

	/* Too big: refused without reading it. */
	int fd = open(store, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	REQUIRE(fd >= 0 && ftruncate(fd, GW_TOKENS_FILE_MAX + 1) == 0);
	close(fd);
	CHECK(gw_tokens_refresh(t, &changed) == -EFBIG);
	unlink(store);
}

int main(void)
{
	REQUIRE(sodium_init() >= 0);
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(store, sizeof(store), "%s/tokens", dir);
	test_syntax();
	test_lines();
	test_store();
	rmdir(dir);
	return check_finish("test-gw-tokens");
}
