// SPDX-License-Identifier: MIT
/* test-log.c - unit tests for busd/log.c: quoting of peer strings, line format, rate limits.
 *
 * log_quote() is what stops a client from forging log lines, so it is checked on every byte
 * value and on every buffer size around its truncation point. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/log.h"

static void test_quote_basic(void)
{
	char buf[200];

	CHECK_STREQ(log_quote(buf, sizeof(buf), "alice"), "\"alice\"");
	CHECK_STREQ(log_quote(buf, sizeof(buf), ""), "\"\"");
	CHECK_STREQ(log_quote(buf, sizeof(buf), NULL), "\"\"");
	CHECK_STREQ(log_quote(buf, sizeof(buf), "a\"b\\c"), "\"a\\\"b\\\\c\"");
	CHECK_STREQ(log_quote(buf, sizeof(buf), "x\ny level=error event=forged"),
		    "\"x\\x0ay level=error event=forged\"");
	CHECK_STREQ(log_quote(buf, sizeof(buf), "\r\t\x1b[31m"), "\"\\x0d\\x09\\x1b[31m\"");
	CHECK_STREQ(log_quote(buf, sizeof(buf), "caf\xc3\xa9\x7f"), "\"caf\\xc3\\xa9\\x7f\"");
	CHECK_STREQ(LOG_Q("it's"), "\"it's\"");
	/* Too small a buffer gives an empty quoted string, never an overflow. */
	CHECK_STREQ(log_quote(buf, 7, "abc"), "\"\"");
	CHECK_STREQ(log_quote(buf, 0, "abc"), "\"\"");
}

/* Every byte value comes out as printable ASCII without a bare quote or newline. */
static void test_quote_all_bytes(void)
{
	char in[256], buf[1200];

	for (int i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	const char *q = log_quote(buf, sizeof(buf), in);
	size_t len = strlen(q);
	CHECK(q[0] == '"' && q[len - 1] == '"');
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)q[i];
		CHECK(c >= 0x20 && c < 0x7f);
		if (c == '\\') {
			CHECK(q[i + 1] == '\\' || q[i + 1] == '"' || q[i + 1] == 'x');
			i++; /* skip the escaped character */
		} else {
			CHECK(c != '"');
		}
	}
	CHECK(strstr(q, "...") == NULL);
}

/* Around the truncation point: the output fits, stays quoted and says it was cut. */
static void test_quote_truncation(void)
{
	char in[600];
	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	for (size_t i = 0; i < sizeof(in) - 1; i += 3)
		in[i] = (i % 2) ? '"' : '\n';

	for (size_t size = 8; size < 300; size++) {
		char buf[320];
		memset(buf, 0x5a, sizeof(buf));
		const char *q = log_quote(buf, size, in);
		size_t len = strlen(q);
		CHECK(q == buf);
		CHECK(len < size);
		CHECK((unsigned char)buf[size] == 0x5a); /* nothing written past size */
		CHECK(q[0] == '"' && q[len - 1] == '"');
		CHECK(len >= 5 && memcmp(q + len - 4, "...\"", 4) == 0);
		/* An escape is never cut in half. */
		CHECK(q[len - 5] != '\\' || (len >= 6 && q[len - 6] == '\\'));
	}
	/* A string that exactly fits is not marked as truncated. */
	char buf[16];
	CHECK_STREQ(log_quote(buf, sizeof(buf), "abcdefghij"), "\"abcdefghij\"");
}

static void test_levels(void)
{
	enum log_level l;

	CHECK(log_level_parse("debug", &l) == 0 && l == LOG_LEVEL_DEBUG);
	CHECK(log_level_parse("info", &l) == 0 && l == LOG_LEVEL_INFO);
	CHECK(log_level_parse("warning", &l) == 0 && l == LOG_LEVEL_WARNING);
	CHECK(log_level_parse("error", &l) == 0 && l == LOG_LEVEL_ERROR);
	l = LOG_LEVEL_ERROR;
	CHECK(log_level_parse("warn", &l) == -EINVAL && l == LOG_LEVEL_ERROR);
	CHECK(log_level_parse("", &l) == -EINVAL);
	CHECK(log_level_parse("Info", &l) == -EINVAL);

	log_setup(LOG_LEVEL_WARNING, "test");
	CHECK(!log_enabled(LOG_LEVEL_DEBUG) && !log_enabled(LOG_LEVEL_INFO));
	CHECK(log_enabled(LOG_LEVEL_WARNING) && log_enabled(LOG_LEVEL_ERROR));
}

/* Runs log_event with stderr redirected into a pipe; returns what was written. */
static size_t capture(char *out, size_t size, enum log_level level, const char *event, const char *value)
{
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	int saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	log_event(level, event, "peer=%s n=%d", value, 7);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	ssize_t n = read(p[0], out, size - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void test_event(void)
{
	char out[4096];

	log_setup(LOG_LEVEL_INFO, "router");
	capture(out, sizeof(out), LOG_LEVEL_WARNING, "denied", LOG_Q("a\nb"));
	CHECK_STREQ(out, "capbusd[router]: level=warning event=denied peer=\"a\\x0ab\" n=7\n");
	CHECK(capture(out, sizeof(out), LOG_LEVEL_DEBUG, "noise", "x") == 0);

	/* An overlong line is cut but still ends in exactly one newline. */
	char big[3000];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	size_t n = capture(out, sizeof(out), LOG_LEVEL_ERROR, "big", big);
	CHECK(n == 1023);
	CHECK(out[n - 1] == '\n' && memchr(out, '\n', n - 1) == NULL);
	log_setup(LOG_LEVEL_INFO, "main");
}

static void test_ratelimit(void)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1000, 3);
	uint64_t suppressed = 99;
	uint64_t t = 5000;

	CHECK(log_ratelimit_ok(&rl, t, &suppressed) && suppressed == 0);
	CHECK(log_ratelimit_ok(&rl, t + 1, &suppressed) && suppressed == 0);
	CHECK(log_ratelimit_ok(&rl, t + 2, &suppressed));
	for (int i = 0; i < 10; i++)
		CHECK(!log_ratelimit_ok(&rl, t + 500, &suppressed));
	CHECK(!log_ratelimit_ok(&rl, t + 999, &suppressed));
	/* Next window: allowed again, and told how many were dropped. */
	CHECK(log_ratelimit_ok(&rl, t + 1000, &suppressed) && suppressed == 11);
	CHECK(log_ratelimit_ok(&rl, t + 1001, &suppressed) && suppressed == 0);
	CHECK(log_ratelimit_ok(&rl, t + 1002, &suppressed));
	CHECK(!log_ratelimit_ok(&rl, t + 1003, &suppressed));
	/* A long pause: one suppressed line reported, full burst available. */
	CHECK(log_ratelimit_ok(&rl, t + 100000, &suppressed) && suppressed == 1);
	CHECK(log_ratelimit_ok(&rl, t + 100000, &suppressed) && suppressed == 0);

	/* burst 0 suppresses everything; the count still accumulates. */
	struct log_ratelimit none = LOG_RATELIMIT_INIT(1000, 0);
	CHECK(!log_ratelimit_ok(&none, 10000, &suppressed));
	CHECK(!log_ratelimit_ok(&none, 10001, &suppressed));
	CHECK(!log_ratelimit_ok(&none, 11000, &suppressed) && suppressed == 2);

	uint64_t a = monotonic_ms(), b = monotonic_ms();
	CHECK(a > 0 && b >= a);
}

int main(void)
{
	test_quote_basic();
	test_quote_all_bytes();
	test_quote_truncation();
	test_levels();
	test_event();
	test_ratelimit();
	return check_finish("test-log");
}
