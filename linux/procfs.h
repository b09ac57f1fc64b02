/* SPDX-License-Identifier: MIT */
/* procfs.h - read a whole /proc (or /sys) file into memory.
 *
 * Part of linux/ (see linux/meson.build). The kernel writes these files: trusted in content,
 * still read with a bound and returned NUL-terminated. No state. */
#pragma once

#include <stddef.h>

/* Upper bound of a file read by proc_read_file (mountinfo on a busy host stays far below). */
#define PROC_FILE_MAX (16u * 1024 * 1024)

/* Reads all of path into a NUL-terminated heap buffer (*out, free()); *len_out (may be NULL)
 * gets its length. Returns 0, -EFBIG past PROC_FILE_MAX, or a negative errno from open/read;
 * outputs untouched on failure. */
int proc_read_file(const char *path, char **out, size_t *len_out);
