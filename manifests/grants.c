// SPDX-License-Identifier: MIT
/* grants.c - effective permissions of an identity and the grants file parser.
 *
 * Grants files are written by the daemon but live on disk where an administrator may edit
 * them, so they are parsed strictly: one bad line rejects the file rather than granting a
 * guess. */
#include "grants.h"

#include <stdarg.h>

#include "json-doc.h"
#include "strset.h"
#include "util.h"

void permissions_free(struct permissions *p)
{
	if (!p)
		return;
	pattern_set_free(p->send);
	pattern_set_free(p->receive);
	for (size_t i = 0; i < p->n_denied; i++) {
		free(p->denied[i].pattern);
		free(p->denied[i].because);
	}
	free(p->denied);
	free(p);
}

static void permissions_freep(struct permissions **p)
{
	permissions_free(*p);
}

static bool is_granted(const char *pattern, const char *const *granted, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (granted[i] && streq(granted[i], pattern))
			return true;
	return false;
}

static int deny(struct permissions *p, enum perm_dir dir, enum perm_level level, const char *pattern,
		const char *because)
{
	struct permission_denial *d;

	/* Sized by the caller: one slot per requested pattern. */
	d = &p->denied[p->n_denied];
	*d = (struct permission_denial){ .dir = dir, .level = level };
	d->pattern = strdup(pattern);
	d->because = strdup(because ? because : "");
	p->n_denied++;
	return d->pattern && d->because ? 0 : -ENOMEM;
}

static int compile_dir(struct permissions *p, const struct level_policy *lp, enum perm_dir dir,
		       char *const *requested, const char *const *granted, size_t n_granted, struct pattern_set *set)
{
	for (char *const *r = requested; r && *r; r++) {
		const char *because = NULL;
		enum perm_level level = level_policy_classify(lp, dir, *r, &because);
		int k;

		if (level == PERM_LEVEL_NORMAL || (level == PERM_LEVEL_DANGEROUS && is_granted(*r, granted, n_granted)))
			k = pattern_set_add(set, *r);
		else
			k = deny(p, dir, level, *r, because);
		if (k < 0)
			return k;
	}
	return 0;
}

int permissions_compile(const struct manifest *m, const struct level_policy *lp, const char *const *granted,
			size_t n_granted, struct permissions **out)
{
	_cleanup_(permissions_freep) struct permissions *p = NULL;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->denied = calloc(m->n_send + m->n_receive + 1, sizeof(*p->denied));
	if (!p->denied)
		return -ENOMEM;
	r = pattern_set_new(&p->send);
	if (r < 0)
		return r;
	r = pattern_set_new(&p->receive);
	if (r < 0)
		return r;
	r = compile_dir(p, lp, PERM_SEND, m->send, granted, n_granted, p->send);
	if (r < 0)
		return r;
	r = compile_dir(p, lp, PERM_RECEIVE, m->receive, granted, n_granted, p->receive);
	if (r < 0)
		return r;
	*out = TAKE_PTR(p);
	return 0;
}

static int grants_fail(const char *text, size_t len, const char *filename, size_t off, char **error_out,
		       const char *fmt, ...) _printf_(6, 7);

static int grants_fail(const char *text, size_t len, const char *filename, size_t off, char **error_out,
		       const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!error_out)
		return GRANTS_INVALID;
	va_start(ap, fmt);
	r = json_error_at(text, len, off, filename, error_out, fmt, ap);
	va_end(ap);
	return r < 0 ? r : GRANTS_INVALID;
}

int grants_parse(const char *text, size_t len, const char *filename, char ***patterns_out, size_t *n_out,
		 char **error_out)
{
	_cleanup_(strset_done) struct strset seen = {0};
	_cleanup_(strv_freep) char **v = NULL;
	size_t n = 0, cap = 0, bad;

	if (len > GRANTS_MAX_SIZE)
		return grants_fail(text, len, filename, 0, error_out, "file too large (%zu bytes, at most %d)", len,
				   GRANTS_MAX_SIZE);
	bad = utf8_check(text, len);
	if (bad < len)
		return grants_fail(text, len, filename, bad, error_out, text[bad] ? "invalid UTF-8" : "NUL byte");
	v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len, next = nl ? end + 1 : len;
		size_t a = pos, b;
		char *copy;

		while (a < end && (text[a] == ' ' || text[a] == '\t'))
			a++;
		b = end;
		while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t'))
			b--;
		pos = next;
		if (a == b || text[a] == '#')
			continue;
		for (size_t i = a; i < b; i++) {
			if (text[i] == '\r')
				return grants_fail(text, len, filename, i, error_out,
						   "carriage return (lines must end in \\n alone)");
			/* a type may hold spaces and '#', but " #" reads as a comment after a pattern */
			if (text[i] == '\t' || (unsigned char)text[i] < 0x20 || (text[i] == '#' && text[i - 1] == ' '))
				return grants_fail(text, len, filename, i, error_out,
						   "one pattern per line; comments must start their own line");
		}
		copy = strndup(text + a, b - a);
		if (!copy)
			return -ENOMEM;
		if (pattern_validate(copy) < 0 || strlen(copy) != b - a) {
			free(copy);
			return grants_fail(text, len, filename, a, error_out,
					   "not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")");
		}
		/* A hash set keeps this linear: the file may hold thousands of lines. */
		if (strset_contains(&seen, copy, b - a)) {
			free(copy);
			return grants_fail(text, len, filename, a, error_out, "pattern granted twice");
		}
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof(char *));

			if (!nv) {
				free(copy);
				return -ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = copy;
		v[n] = NULL;
		if (strset_add(&seen, copy, b - a) < 0)
			return -ENOMEM;
	}
	*patterns_out = TAKE_PTR(v);
	*n_out = n;
	return 0;
}

bool grants_pattern_storable(const char *pattern)
{
	size_t len = strlen(pattern);

	return pattern_validate(pattern) == 0 && pattern[0] != ' ' && pattern[0] != '#' && pattern[len - 1] != ' ' &&
	       !strstr(pattern, " #");
}

char *grants_format(const char *const *patterns, size_t n)
{
	static const char header[] = "# capbus grants: one pattern per line\n";
	size_t size = sizeof(header);
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		size += strlen(patterns[i]) + 1;
	out = malloc(size);
	if (!out)
		return NULL;
	p = stpcpy(out, header);
	for (size_t i = 0; i < n; i++) {
		p = stpcpy(p, patterns[i]);
		*p++ = '\n';
	}
	*p = '\0';
	return out;
}
