/* SPDX-License-Identifier: MIT */
/* check.h - minimal assertions for unit tests: report file:line, keep going, fail at the end.
 *
 * Test programs only. The counters are per test program; each test's main() returns
 * check_finish(). */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static unsigned check_count, check_failures;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		check_count++;                                                        \
		if (!(cond)) {                                                        \
			check_failures++;                                             \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

/* String equality; NULL only equals NULL. Prints both sides on failure. */
#define CHECK_STREQ(a, b)                                                             \
	do {                                                                          \
		const char *_ca = (a), *_cb = (b);                                    \
		check_count++;                                                        \
		if (!((_ca == NULL && _cb == NULL) || (_ca && _cb && strcmp(_ca, _cb) == 0))) { \
			check_failures++;                                             \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s\n  got:      %s\n  expected: %s\n", \
				__FILE__, __LINE__, #a, #b, _ca ? _ca : "(null)", _cb ? _cb : "(null)"); \
		}                                                                     \
	} while (0)

static inline int check_finish(const char *name)
{
	fprintf(stderr, "%s: %u checks, %u failed\n", name, check_count, check_failures);
	return check_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
