/* SPDX-License-Identifier: MIT */
/* mountinfo.h - parse lines of /proc/PID/mountinfo.
 *
 * Part of linux/ (see linux/meson.build). The kernel writes the file, but mount points come from
 * whoever mounted: fields are parsed strictly and octal escapes (\040 for a space) decoded.
 * No I/O, no state. */
#pragma once

#include <stddef.h>

/* One line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS".
 * All fields point into the line, which mountinfo_parse_line rewrites in place. */
struct mountinfo_entry {
	const char *root;        /* unescaped: the mounted directory inside its file system */
	const char *mount_point; /* unescaped */
	const char *fstype;
	const char *super_options;
};

/* Splits one line (NUL-terminated, trailing newline allowed) in place. Returns 0 or -EINVAL for
 * a line that does not have the shape above; *out untouched on failure. */
int mountinfo_parse_line(char *line, struct mountinfo_entry *out);

/* Decodes the \ooo escapes of s[0..len) into buf (NUL-terminated). Returns 0 or -ENAMETOOLONG
 * when buf is too small. */
int mountinfo_unescape(const char *s, size_t len, char *buf, size_t n);
