// SPDX-License-Identifier: MIT
/* tokens.c - gateway token syntax, the store of their hashes, verification (see gw-tokens.h).
 *
 * Trust level: gw_token_parse and gw_tokens_verify take bytes from the network; the store is
 * read with lib/regfile.c (regular file only, no symlink, bounded) and parsed strictly. The
 * table keeps hashes, never a token: a presented token lives only in the caller's buffer. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "gw-tokens.h"
#include "regfile.h"
#include "util.h"

struct gw_tokens {
	char *path;
	bool have_stat; /* false: no file was read (missing, or the last read failed) */
	struct stat st;
	struct gw_token_entry *e; /* sorted by tid */
	size_t n;
};

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_b64url(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

int gw_token_parse(const char *s, size_t len, char tid[GW_TID_LEN + 1], const char **secret)
{
	const size_t plen = sizeof(GW_TOKEN_PREFIX) - 1, soff = plen + GW_TID_LEN + 1;
	uint8_t bin[32];
	size_t bin_len = 0;
	const char *end = NULL;

	if (!s || len != GW_TOKEN_LEN || memcmp(s, GW_TOKEN_PREFIX, plen) != 0 || !is_lower_hex(s + plen, GW_TID_LEN) ||
	    s[plen + GW_TID_LEN] != '_' || !is_b64url(s + soff, GW_TOKEN_SECRET_LEN))
		return -EINVAL;
	/* Strict base64url: exact length, no padding, canonical trailing bits (libsodium refuses
	 * non-zero unused bits), nothing ignored. The alphabet is checked above because
	 * libsodium's decoder (1.0.18) takes some bytes >= 0x80 for digits. */
	if (sodium_base642bin(bin, sizeof(bin), s + soff, GW_TOKEN_SECRET_LEN, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    bin_len != sizeof(bin) || end != s + len) {
		sodium_memzero(bin, sizeof(bin));
		return -EINVAL;
	}
	sodium_memzero(bin, sizeof(bin));
	memcpy(tid, s + plen, GW_TID_LEN);
	tid[GW_TID_LEN] = '\0';
	if (secret)
		*secret = s + soff;
	return 0;
}

void gw_token_generate(char token[GW_TOKEN_LEN + 1], char tid[GW_TID_LEN + 1])
{
	uint8_t t[GW_TID_LEN / 2], secret[32];
	char t_hex[GW_TID_LEN + 1], s64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	randombytes_buf(t, sizeof(t));
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(t_hex, sizeof(t_hex), t, sizeof(t));
	sodium_bin2base64(s64, sizeof(s64), secret, sizeof(secret), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(token, GW_TOKEN_LEN + 1, GW_TOKEN_PREFIX "%s_%s", t_hex, s64);
	memcpy(tid, t_hex, sizeof(t_hex));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(s64, sizeof(s64));
}

int gw_token_hash(const char *token, size_t len, char hash[crypto_pwhash_STRBYTES])
{
	char tid[GW_TID_LEN + 1];

	if (gw_token_parse(token, len, tid, NULL) < 0)
		return -EINVAL;
	if (crypto_pwhash_str(hash, token, len, GW_TOKEN_OPSLIMIT, GW_TOKEN_MEMLIMIT) != 0)
		return -ENOMEM;
	return 0;
}

/* "$argon2id$v=19$m=M,t=T,p=1$SALT$HASH" with bounded costs. The salt and hash are left to
 * libsodium, which refuses a bad string at verify time (-EACCES then, never a crash). */
static bool hash_ok(const char *h, size_t len)
{
	static const char prefix[] = "$argon2id$v=19$m=";
	char buf[crypto_pwhash_STRBYTES];
	unsigned long long m, t, p;
	int used = 0;

	if (len >= crypto_pwhash_STRBYTES || len < sizeof(prefix) - 1 || memcmp(h, prefix, sizeof(prefix) - 1) != 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (h[i] < 0x21 || h[i] > 0x7e)
			return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	if (sscanf(buf + sizeof(prefix) - 1, "%llu,t=%llu,p=%llu$%n", &m, &t, &p, &used) != 3 || used == 0)
		return false;
	/* sscanf's %llu takes signs and spaces; the printable check excludes spaces, this the signs. */
	for (const char *c = buf + sizeof(prefix) - 1; c < buf + sizeof(prefix) - 1 + used; c++)
		if (*c == '-' || *c == '+')
			return false;
	return m >= 8 && m <= GW_TOKEN_MAX_M_KIB && t >= 1 && t <= GW_TOKEN_MAX_T && p == 1 &&
	       strchr(buf + sizeof(prefix) - 1 + used, '$') != NULL;
}

int gw_token_line_parse(const char *line, size_t len, struct gw_token_entry *out)
{
	struct gw_token_entry e = {};
	const char *p = line, *end = line + len, *sp;
	char num[21];
	uint64_t created;

	if (!line || len < GW_TID_LEN + 1 || !is_lower_hex(p, GW_TID_LEN) || p[GW_TID_LEN] != ' ')
		return -EINVAL;
	memcpy(e.tid, p, GW_TID_LEN);
	p += GW_TID_LEN + 1;

	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || !hs_id_is_valid(p, (size_t)(sp - p)))
		return -EINVAL;
	memcpy(e.id, p, (size_t)(sp - p));
	p = sp + 1;

	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p || (size_t)(sp - p) >= sizeof(num) || (p[0] == '0' && sp - p > 1))
		return -EINVAL;
	for (const char *c = p; c < sp; c++)
		if (*c < '0' || *c > '9')
			return -EINVAL;
	memcpy(num, p, (size_t)(sp - p));
	num[sp - p] = '\0';
	if (parse_u64(num, UINT64_MAX, &created) < 0)
		return -EINVAL;
	e.created = created;
	p = sp + 1;

	if (!hash_ok(p, (size_t)(end - p)))
		return -EINVAL;
	memcpy(e.hash, p, (size_t)(end - p));
	*out = e;
	return 0;
}

int gw_token_line_format(const struct gw_token_entry *e, char *buf, size_t n)
{
	int r;

	if (!is_lower_hex(e->tid, GW_TID_LEN) || e->tid[GW_TID_LEN] || !hs_id_is_valid(e->id, strnlen(e->id, sizeof(e->id))) ||
	    !hash_ok(e->hash, strnlen(e->hash, sizeof(e->hash))))
		return -EINVAL;
	r = snprintf(buf, n, "%s %s %llu %s\n", e->tid, e->id, (unsigned long long)e->created, e->hash);
	if (r < 0 || (size_t)r >= n)
		return -ENOSPC;
	return r;
}

static int cmp_tid(const void *a, const void *b)
{
	return strcmp(((const struct gw_token_entry *)a)->tid, ((const struct gw_token_entry *)b)->tid);
}

/* Calls fn for every line of a store text (without "\n"). -EINVAL if the text does not end in
 * "\n" or fn refuses a line. */
typedef int (*line_fn)(void *ud, const char *line, size_t len, bool comment);
static int for_each_line(const char *text, size_t len, line_fn fn, void *ud)
{
	const char *p = text, *end = text + len;
	int r;

	if (len > 0 && text[len - 1] != '\n')
		return -EINVAL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		bool comment = *p == '#';
		if (comment) {
			for (const char *c = p; c < nl; c++) /* comments are text too: no NUL, no control */
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					return -EINVAL;
		}
		r = fn(ud, p, (size_t)(nl - p), comment);
		if (r < 0)
			return r;
		p = nl + 1;
	}
	return 0;
}

struct load {
	struct gw_token_entry *e;
	size_t n, cap;
};

static int load_line(void *ud, const char *line, size_t len, bool comment)
{
	struct load *l = ud;

	if (comment)
		return 0;
	if (l->n >= l->cap)
		return -E2BIG;
	return gw_token_line_parse(line, len, &l->e[l->n++]) < 0 ? -EINVAL : 0;
}

/* Parses a whole store text into a sorted table. */
static int load_text(const char *text, size_t len, struct gw_token_entry **out, size_t *n_out)
{
	size_t lines = 0;
	struct load l = {};
	int r;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	l.cap = lines < GW_TOKENS_MAX ? lines : GW_TOKENS_MAX;
	l.e = calloc(l.cap ? l.cap : 1, sizeof(*l.e));
	if (!l.e)
		return -ENOMEM;
	r = for_each_line(text, len, load_line, &l);
	if (r == -E2BIG)
		r = -EINVAL;
	if (r == 0) {
		qsort(l.e, l.n, sizeof(*l.e), cmp_tid);
		for (size_t i = 1; i < l.n; i++)
			if (streq(l.e[i - 1].tid, l.e[i].tid))
				r = -EINVAL;
	}
	if (r < 0) {
		sodium_memzero(l.e, (l.cap ? l.cap : 1) * sizeof(*l.e));
		free(l.e);
		return r;
	}
	*out = l.e;
	*n_out = l.n;
	return 0;
}

static void table_clear(struct gw_tokens *t)
{
	if (t->e)
		sodium_memzero(t->e, t->n * sizeof(*t->e));
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

int gw_tokens_refresh(struct gw_tokens *t, bool *changed)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct gw_token_entry *e = NULL;
	struct stat st;
	size_t n = 0;
	ssize_t len;
	int r;

	*changed = false;
	r = regfile_open(AT_FDCWD, t->path, 0, GW_TOKENS_FILE_MAX, &fd, &st);
	if (r == -ENOENT) {
		/* No store: no tokens. */
		if (t->have_stat || t->n) {
			table_clear(t);
			*changed = true;
		}
		t->have_stat = false;
		return 0;
	}
	if (r == 0 && t->have_stat && st.st_dev == t->st.st_dev && st.st_ino == t->st.st_ino &&
	    st.st_size == t->st.st_size && st.st_mtim.tv_sec == t->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == t->st.st_mtim.tv_nsec)
		return 0;
	*changed = true;
	if (r == 0) {
		buf = malloc(GW_TOKENS_FILE_MAX + 1);
		if (!buf)
			r = -ENOMEM;
	}
	if (r == 0) {
		len = regfile_read_fd(fd, buf, GW_TOKENS_FILE_MAX);
		r = len < 0 ? (int)len : load_text(buf, (size_t)len, &e, &n);
	}
	table_clear(t);
	if (r < 0) {
		/* Fail closed: keep no token from an older version of the file. */
		t->have_stat = false;
		return r;
	}
	t->e = e;
	t->n = n;
	t->st = st;
	t->have_stat = true;
	return 0;
}

int gw_tokens_open(struct gw_tokens **out, const char *path)
{
	struct gw_tokens *t = calloc(1, sizeof(*t));
	bool changed;
	int r;

	if (!t)
		return -ENOMEM;
	t->path = strdup(path);
	if (!t->path) {
		free(t);
		return -ENOMEM;
	}
	r = gw_tokens_refresh(t, &changed);
	if (r < 0) {
		gw_tokens_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void gw_tokens_free(struct gw_tokens *t)
{
	if (!t)
		return;
	table_clear(t);
	free(t->path);
	free(t);
}

static const struct gw_token_entry *lookup(const struct gw_tokens *t, const char *tid)
{
	struct gw_token_entry key;

	if (t->n == 0 || strlen(tid) != GW_TID_LEN)
		return NULL;
	memcpy(key.tid, tid, GW_TID_LEN + 1);
	return bsearch(&key, t->e, t->n, sizeof(*t->e), cmp_tid);
}

int gw_tokens_verify(struct gw_tokens *t, const char *token, size_t len, char id[HS_ID_MAX + 1],
		     char tid[GW_TID_LEN + 1])
{
	char t_id[GW_TID_LEN + 1];
	const struct gw_token_entry *e;

	if (gw_token_parse(token, len, t_id, NULL) < 0)
		return -EINVAL;
	e = lookup(t, t_id);
	if (!e)
		return -ENOENT;
	if (crypto_pwhash_str_verify(e->hash, token, len) != 0)
		return -EACCES;
	memcpy(id, e->id, sizeof(e->id));
	memcpy(tid, t_id, sizeof(t_id));
	return 0;
}

bool gw_tokens_live(const struct gw_tokens *t, const char *tid)
{
	return tid && lookup(t, tid) != NULL;
}

size_t gw_tokens_count(const struct gw_tokens *t)
{
	return t->n;
}

/* --- the writer's side --- */

struct edit {
	const struct gw_token_entry *add;
	const char *revoke_tid, *revoke_id;
	bool found;
	size_t kept;
	char *out;
	size_t len;
};

static int edit_line(void *ud, const char *line, size_t len, bool comment)
{
	struct edit *ed = ud;
	struct gw_token_entry e;

	if (!comment) {
		if (gw_token_line_parse(line, len, &e) < 0)
			return -EINVAL;
		if (ed->add && streq(e.tid, ed->add->tid))
			return -EEXIST;
		if ((ed->revoke_tid && streq(e.tid, ed->revoke_tid)) || (ed->revoke_id && streq(e.id, ed->revoke_id))) {
			ed->found = true;
			return 0;
		}
		if (++ed->kept > GW_TOKENS_MAX)
			return -EINVAL;
	}
	memcpy(ed->out + ed->len, line, len);
	ed->len += len;
	ed->out[ed->len++] = '\n';
	return 0;
}

int gw_tokens_edit(const char *text, size_t len, const struct gw_token_entry *add, const char *revoke_tid,
		   const char *revoke_id, char **out, size_t *out_len)
{
	struct edit ed = { .add = add, .revoke_tid = revoke_tid, .revoke_id = revoke_id };
	char line[GW_TID_LEN + HS_ID_MAX + 24 + crypto_pwhash_STRBYTES];
	int n = 0, r;

	if (!text)
		len = 0;
	if (len > GW_TOKENS_FILE_MAX || memchr(text ? text : "", '\0', len))
		return -EINVAL;
	if (add) {
		n = gw_token_line_format(add, line, sizeof(line));
		if (n < 0)
			return n;
	}
	ed.out = malloc(len + (size_t)n + 1);
	if (!ed.out)
		return -ENOMEM;
	r = for_each_line(text ? text : "", len, edit_line, &ed);
	if (r == 0 && revoke_tid && !ed.found)
		r = -ENOENT;
	if (r == 0 && add && ed.kept >= GW_TOKENS_MAX)
		r = -E2BIG;
	if (r < 0) {
		free(ed.out);
		return r;
	}
	memcpy(ed.out + ed.len, line, (size_t)n);
	ed.len += (size_t)n;
	ed.out[ed.len] = '\0';
	*out = ed.out;
	*out_len = ed.len;
	return 0;
}
