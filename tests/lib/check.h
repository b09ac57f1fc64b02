/* SPDX-License-Identifier: MIT */
/* check.h - the one assertion and skip vocabulary of the C tests.
 *
 * Test programs only: they may exit. Every C test links check.c, which holds the counters of
 * the one test program it is linked into.
 *   CHECK*    count the check and carry on; a failure is reported and fails the test at the end.
 *   CHECK_MSG the same with a sentence, printed as "ok N - ..." or "not ok N - ...", for checks
 *             whose condition alone does not say what is being checked (tables, attacks).
 *   REQUIRE*  count the check and end the program at once when it fails: what follows cannot
 *             run. In a forked child a failure is _exit(CHECK_EXIT_CHILD), so the parent sees it
 *             and no exit handler of the parent runs twice.
 * main() returns check_finish(): a test program that ran no check at all fails, since a test
 * that checked nothing proves nothing. check_skip() is the only way a C test may skip. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define CHECK_EXIT_SKIP 77
/* Exit status of a forked child whose REQUIRE failed. */
#define CHECK_EXIT_CHILD 200

/* Count one check; on failure report file:line and what. Returns ok. */
bool check_report(bool ok, const char *file, int line, const char *what);
/* Count one check and print it as "ok N - <message>" or "not ok N - <message>". */
bool check_report_msg(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Count one check; on failure report it (with errno) and end the program, see above. */
void check_require(bool ok, const char *file, int line, const char *what);
void check_require_eq(long long a, long long b, const char *file, int line, const char *sa, const char *sb);

/* A test that cannot run here (no root, no kernel feature): exit 77 with the reason, or, when
 * the environment says CI=true, fail: CI must run every test. */
_Noreturn void check_skip(const char *why);

/* Called before the main process exits on a failed REQUIRE (to remove cgroups the test made);
 * NULL clears it. */
void check_on_abort(void (*fn)(void));

/* main's return value: prints "<name>: N checks, M failed"; fails when a check failed or when
 * no check ran. */
int check_finish(const char *name);

#define CHECK(cond) check_report(!!(cond), __FILE__, __LINE__, #cond)

#define CHECK_MSG(cond, ...) check_report_msg(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* String equality; NULL only equals NULL. Prints both sides on failure. */
#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *_ca = (a), *_cb = (b);                                                 \
		if (!check_report((_ca == NULL && _cb == NULL) || (_ca && _cb && strcmp(_ca, _cb) == 0), \
				  __FILE__, __LINE__, #a " == " #b))                               \
			fprintf(stderr, "  got:      %s\n  expected: %s\n", _ca ? _ca : "(null)",    \
				_cb ? _cb : "(null)");                                             \
	} while (0)

/* hay contains needle (a NULL hay contains nothing). Prints hay on failure. */
#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *_ch = (hay);                                                           \
		if (!check_report(_ch && strstr(_ch, needle), __FILE__, __LINE__, #hay " contains " #needle)) \
			fprintf(stderr, "  in:\n%s\n", _ch ? _ch : "(null)");                     \
	} while (0)

#define REQUIRE(cond) check_require(!!(cond), __FILE__, __LINE__, #cond)

#define REQUIRE_EQ(a, b) check_require_eq((long long)(a), (long long)(b), __FILE__, __LINE__, #a, #b)
