// SPDX-License-Identifier: MIT
/* test-skillout.c - unit tests for busd/parent/skillout.c: escaping, and lines through real pipes
 * (split, cut, rate-limited, kept in the ring). */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "parent/skillout.h"

static void esc(const char *in, size_t len, const char *want)
{
	char out[4 * 64 + 1];
	REQUIRE(len <= 64);
	size_t n = skillout_escape((const uint8_t *)in, len, out);
	CHECK(n == strlen(out));
	CHECK_STREQ(out, want);
}

static void test_escape(void)
{
	esc("plain text\t1", 12, "plain text\t1");
	esc("a\rb\x1b[2Kc", 8, "a\\x0db\\x1b[2Kc");
	esc("nul\0x", 5, "nul\\x00x");
	esc("back\\slash", 10, "back\\\\slash");
	esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82");
	esc("\xc2\x9b" "2J", 4, "\\xc2\\x9b2J");        /* C1 CSI */
	esc("\xff\xc3", 2, "\\xff\\xc3");               /* invalid, truncated */
	esc("\xc0\xaf", 2, "\\xc0\\xaf");               /* overlong */
	esc("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");      /* surrogate */
	esc("\x7f", 1, "\\x7f");
}

/* Reads everything the skill side wrote into the ring, the way the supervisor's loop does. */
static size_t drain(struct skillout *so, char *buf, size_t size, struct outring_answer *a)
{
	struct pollfd fds[2];
	for (int i = 0; i < 100; i++) {
		size_t n = skillout_pollfds(so, fds, 2);
		if (n == 0)
			break;
		for (size_t j = 0; j < n; j++)
			fds[j].revents = POLLIN;
		skillout_dispatch(so, fds, n);
	}
	size_t n = outring_read(skillout_ring(so), 0, buf, size - 1, a);
	buf[n] = '\0';
	return n;
}

static void test_pipes(void)
{
	struct skillout_limits lim = { .rate = 64, .burst = 8192, .ring_lines = 100, .ring_bytes = 65536 };
	struct skillout *so;
	struct outring_answer a;
	static char buf[65536], big[10000];
	int out_w, err_w;

	REQUIRE(skillout_new("t.x", &lim, &so) == 0);
	REQUIRE(skillout_open(so, &out_w, &err_w) == 0);
	/* The skill's ends block; the daemon's do not. */
	CHECK((fcntl(out_w, F_GETFL) & O_NONBLOCK) == 0);
	CHECK((fcntl(out_w, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(write(out_w, "one\ntwo\x1b\nthr", 12) == 12);
	CHECK(write(err_w, "err\n", 4) == 4);
	memset(big, 'L', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	CHECK(write(err_w, big, sizeof(big)) == (ssize_t)sizeof(big));
	CHECK(write(out_w, "ee\n", 3) == 3);
	close(out_w);
	close(err_w);
	drain(so, buf, sizeof(buf), &a);
	CHECK_CONTAINS(buf, "o ");
	CHECK_CONTAINS(buf, " one\n");
	CHECK_CONTAINS(buf, " two\\x1b\n");
	CHECK_CONTAINS(buf, " three\n");
	CHECK_CONTAINS(buf, " err\n");
	CHECK_CONTAINS(buf, "[cut: line longer than 4096 bytes]\n");
	CHECK(a.n_lines == 5); /* one, two, three, err, the cut line; its tail is no line */
	/* The bucket (8192 bytes, 64/s) is spent: the next lines are dropped and counted, and the
	 * report of how many is a line of the daemon's. */
	REQUIRE(skillout_open(so, &out_w, &err_w) == 0);
	for (int i = 0; i < 200; i++)
		CHECK(write(out_w, "flood flood flood flood flood flood flood flood\n", 48) == 48);
	close(out_w);
	close(err_w);
	drain(so, buf, sizeof(buf), &a);
	CHECK(a.n_lines < 5 + 200);
	CHECK(skillout_tick(so, UINT64_MAX / 2) == -1); /* reported now */
	drain(so, buf, sizeof(buf), &a);
	CHECK_CONTAINS(buf, "d ");
	CHECK_CONTAINS(buf, "suppressed by the rate limit");
	skillout_free(so);
}

int main(void)
{
	test_escape();
	test_pipes();
	return check_finish("test-skillout");
}
