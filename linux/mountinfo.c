// SPDX-License-Identifier: MIT
/* mountinfo.c - parse lines of /proc/PID/mountinfo (see mountinfo.h). */
#include "mountinfo.h"

#include "util.h"

/* "\ooo" at s[i], all four bytes within len. */
static bool escape_at(const char *s, size_t i, size_t len)
{
	return s[i] == '\\' && i + 3 < len &&
	       s[i + 1] >= '0' && s[i + 1] <= '3' &&
	       s[i + 2] >= '0' && s[i + 2] <= '7' &&
	       s[i + 3] >= '0' && s[i + 3] <= '7';
}

int mountinfo_unescape(const char *s, size_t len, char *buf, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (escape_at(s, i, len)) {
			c = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= n)
			return -ENAMETOOLONG;
		buf[o++] = c;
	}
	buf[o] = 0;
	return 0;
}

/* Cuts the next space-separated field off *p (NUL-terminating it); NULL at the end of the line. */
static char *next_field(char **p)
{
	char *start = *p, *sp;

	if (!start || !*start)
		return NULL;
	sp = strchr(start, ' ');
	if (sp) {
		*sp = 0;
		*p = sp + 1;
	} else {
		*p = NULL;
	}
	return start;
}

int mountinfo_parse_line(char *line, struct mountinfo_entry *out)
{
	char *p = line, *field[5], *fstype, *source, *superopts, *f;
	size_t n = strlen(line);

	if (n > 0 && line[n - 1] == '\n')
		line[--n] = 0;
	for (int i = 0; i < 5; i++)
		if (!(field[i] = next_field(&p)) || !*field[i])
			return -EINVAL;
	/* The mount options, then optional fields ("shared:9"), up to the lone "-". */
	if (!(f = next_field(&p)) || !*f)
		return -EINVAL;
	do {
		if (!(f = next_field(&p)))
			return -EINVAL;
	} while (!streq(f, "-"));
	if (!(fstype = next_field(&p)) || !*fstype || !(source = next_field(&p)) ||
	    !(superopts = next_field(&p)) || p)
		return -EINVAL;
	/* Decoding only shortens: done in place. */
	for (int i = 3; i < 5; i++)
		if (mountinfo_unescape(field[i], strlen(field[i]), field[i], strlen(field[i]) + 1) < 0)
			return -EINVAL;
	*out = (struct mountinfo_entry){
		.root = field[3],
		.mount_point = field[4],
		.fstype = fstype,
		.super_options = superopts,
	};
	return 0;
}
