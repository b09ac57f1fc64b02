/* SPDX-License-Identifier: MIT */
/* util.h - cleanup attributes, ownership transfer and small helpers shared by every module.
 *
 * Header-only. Trust level: none needed; used on both sides of every boundary. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _must_check_ __attribute__((warn_unused_result))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand ownership of a pointer or fd on: returns the value and clears the local. */
#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })

static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Negative errno from the last failed libc call, never 0. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* NULL-terminated vectors of heap strings (argv-like). */

/* Frees every string and the vector; NULL-safe. */
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }
#define _cleanup_strv_free_ _cleanup_(strv_freep)
/* Number of strings before the terminating NULL; 0 for NULL. */
size_t strv_length(const char *const *v);
/* Deep copy of src (NULL copies as an empty vector). Returns 0 or -ENOMEM; *ret untouched on
 * failure. */
int strv_copy(const char *const *src, char ***ret);

/* CLOCK_MONOTONIC in milliseconds: for timeouts, rate limits and restart backoff, never for
 * wall-clock time. */
uint64_t monotonic_ms(void);

/* Strict decimal parse: whole string, no sign surprises, range checked. Returns 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);
