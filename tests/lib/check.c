/* SPDX-License-Identifier: MIT */
/* check.c - counters and exits behind check.h.
 *
 * Test code. The state below is the test program's own (one program, one set of counters);
 * the pid taken before main() tells the test process from the children it forks. */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "check.h"

static unsigned check_count, check_failures;
static pid_t check_main_pid;
static void (*check_abort_fn)(void);

__attribute__((constructor)) static void check_init(void)
{
	check_main_pid = getpid();
}

bool check_report(bool ok, const char *file, int line, const char *what)
{
	check_count++;
	if (!ok) {
		check_failures++;
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
	}
	return ok;
}

bool check_report_msg(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	check_count++;
	if (!ok)
		check_failures++;
	printf("%s %u - ", ok ? "ok" : "not ok", check_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		fprintf(stderr, "%s:%d: CHECK failed (see \"not ok %u\")\n", file, line, check_count);
	return ok;
}

static _Noreturn void check_abort(void)
{
	if (getpid() != check_main_pid)
		_exit(CHECK_EXIT_CHILD);
	if (check_abort_fn)
		check_abort_fn();
	exit(EXIT_FAILURE);
}

void check_require(bool ok, const char *file, int line, const char *what)
{
	int saved = errno;

	check_count++;
	if (ok)
		return;
	check_failures++;
	fprintf(stderr, "%s:%d: REQUIRE failed: %s (errno=%d %s)\n", file, line, what, saved, strerror(saved));
	check_abort();
}

void check_require_eq(long long a, long long b, const char *file, int line, const char *sa, const char *sb)
{
	check_count++;
	if (a == b)
		return;
	check_failures++;
	fprintf(stderr, "%s:%d: REQUIRE failed: %s == %s (%lld != %lld)\n", file, line, sa, sb, a, b);
	check_abort();
}

_Noreturn void check_skip(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && strcmp(ci, "true") == 0) {
		fprintf(stderr, "FAIL (CI=true, cannot skip): %s\n", why);
		exit(EXIT_FAILURE);
	}
	fprintf(stderr, "SKIP: %s\n", why);
	exit(CHECK_EXIT_SKIP);
}

void check_on_abort(void (*fn)(void))
{
	check_abort_fn = fn;
}

int check_finish(const char *name)
{
	if (check_count == 0) {
		fprintf(stderr, "%s: FAIL: no check ran\n", name);
		return EXIT_FAILURE;
	}
	fprintf(stderr, "%s: %u checks, %u failed\n", name, check_count, check_failures);
	return check_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
