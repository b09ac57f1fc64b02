// SPDX-License-Identifier: MIT
/* test-util.c - unit tests for lib/util.c and the helpers in lib/util.h: number parsing,
 * string vectors, the monotonic clock.
 *
 * parse_u64() reads numbers from configuration and key material paths: whole string, digits
 * only, range checked, output untouched on failure. */
#include <fcntl.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "util.h"

static void test_parse_u64(void)
{
	uint64_t v;

	CHECK(parse_u64("0", UINT64_MAX, &v) == 0 && v == 0);
	CHECK(parse_u64("42", 42, &v) == 0 && v == 42);
	CHECK(parse_u64("007", 100, &v) == 0 && v == 7);
	CHECK(parse_u64("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
	CHECK(parse_u64("18446744073709551614", UINT64_MAX, &v) == 0 && v == UINT64_MAX - 1);
	CHECK(parse_u64("4294967296", UINT64_MAX, &v) == 0 && v == UINT64_C(4294967296));

	const char *einval[] = { "", "-1", "+1", " 1", "1 ", "1\n", "0x10", "1e3", "1.0", "١", "12a", "a12", "--", "1,000" };
	for (size_t i = 0; i < ARRAY_LEN(einval); i++) {
		v = 12345;
		CHECK(parse_u64(einval[i], UINT64_MAX, &v) == -EINVAL);
		CHECK(v == 12345);
	}
	CHECK(parse_u64(NULL, UINT64_MAX, &v) == -EINVAL);

	const char *erange[] = { "18446744073709551616", "18446744073709551620", "99999999999999999999",
				 "100000000000000000000000000000" };
	for (size_t i = 0; i < ARRAY_LEN(erange); i++) {
		v = 12345;
		CHECK(parse_u64(erange[i], UINT64_MAX, &v) == -ERANGE);
		CHECK(v == 12345);
	}
	v = 12345;
	CHECK(parse_u64("43", 42, &v) == -ERANGE && v == 12345);
	CHECK(parse_u64("1", 0, &v) == -ERANGE);
	CHECK(parse_u64("0", 0, &v) == 0 && v == 0);
}

static void test_helpers(void)
{
	CHECK(streq("a", "a") && !streq("a", "ab"));
	CHECK(startswith("capbus.ping", "capbus.") && !startswith("capbus", "capbus.") && startswith("x", ""));

	char *p = strdup("x");
	char *q = TAKE_PTR(p);
	CHECK(p == NULL && q != NULL);
	free(q);

	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int g = TAKE_FD(fd);
	CHECK(fd == -1 && g >= 0);
	{
		_cleanup_close_ int h = g;
		(void)h;
	}
	CHECK(fcntl(g, F_GETFD) < 0 && errno == EBADF); /* closed by the cleanup */
	{
		_cleanup_close_ int none = -1;
		(void)none;
		_cleanup_free_ char *nothing = NULL;
		(void)nothing;
	}

	errno = ENOENT;
	CHECK(negative_errno() == -ENOENT);
	errno = 0;
	CHECK(negative_errno() == -EIO);

	int arr[7];
	CHECK(ARRAY_SIZE(arr) == 7);
}

/* The one string-vector implementation every module shares: deep copies, NULL-safe frees. */
static void test_strv(void)
{
	static const char *const src[] = { "a", "", "ccc", NULL };
	char **v = NULL;

	CHECK(strv_length(NULL) == 0);
	CHECK(strv_length(src) == 3);
	CHECK(strv_copy(src, &v) == 0);
	CHECK(v && strv_length((const char *const *)v) == 3 && v[3] == NULL);
	CHECK(v && v[0] != src[0] && streq(v[0], "a") && streq(v[1], "") && streq(v[2], "ccc"));
	strv_free(v);
	CHECK(strv_copy(NULL, &v) == 0);
	CHECK(v && v[0] == NULL);
	strv_free(v);
	strv_free(NULL);
	{
		_cleanup_strv_free_ char **w = NULL;
		CHECK(strv_copy(src, &w) == 0); /* freed at scope end: LeakSanitizer would report it */
	}
}

/* Monotonic milliseconds: never backwards, and a 20 ms sleep shows as at least 20 ms. */
static void test_monotonic(void)
{
	uint64_t a = monotonic_ms(), b = monotonic_ms();
	struct timespec ts = { .tv_nsec = 20 * 1000000 };

	CHECK(a > 0 && b >= a);
	nanosleep(&ts, NULL);
	b = monotonic_ms();
	CHECK(b - a >= 20 && b - a < 10000);
}

int main(void)
{
	test_parse_u64();
	test_helpers();
	test_strv();
	test_monotonic();
	return check_finish("test-util");
}
