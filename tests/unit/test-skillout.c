// SPDX-License-Identifier: MIT
/* test-skillout.c - unit tests for busd/parent/skillout.c and logsink.c: escaping, lines through
 * real pipes (split, cut, rate-limited by what the log gets, kept in the ring), and a log that
 * would block (a pipe nobody reads): lines dropped and counted, never a wait, never half a line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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
	/* Line and paragraph separators, NEL, zero-width and bidirectional controls, the BOM. */
	esc("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", 9, "a\\xe2\\x80\\xa8b\\xe2\\x80\\xa9c");
	esc("\xc2\x85", 2, "\\xc2\\x85");
	esc("\xe2\x80\xae" "x", 4, "\\xe2\\x80\\xaex");          /* RLO */
	esc("\xe2\x80\x8b\xe2\x80\x8f", 6, "\\xe2\\x80\\x8b\\xe2\\x80\\x8f"); /* ZWSP, RLM */
	esc("\xe2\x80\xaa\xe2\x80\xac", 6, "\\xe2\\x80\\xaa\\xe2\\x80\\xac"); /* LRE, PDF */
	esc("\xe2\x81\xa0\xe2\x81\xa4", 6, "\\xe2\\x81\\xa0\\xe2\\x81\\xa4"); /* WJ, INVISIBLE PLUS */
	esc("\xe2\x81\xa6\xe2\x81\xa9", 6, "\\xe2\\x81\\xa6\\xe2\\x81\\xa9"); /* LRI, PDI */
	esc("\xef\xbb\xbf" "x", 4, "\\xef\\xbb\\xbfx");           /* BOM */
	esc("\xd8\x9c", 2, "\\xd8\\x9c");                         /* ARABIC LETTER MARK */
	/* Tag characters that spell hidden ASCII, deprecated format controls, soft hyphen, fillers,
	 * variation selectors, interlinear annotation. */
	esc("A\xf3\xa0\x81\x89" "B", 6, "A\\xf3\\xa0\\x81\\x89B");                  /* TAG LATIN CAPITAL I */
	esc("\xe2\x81\xaa\xe2\x81\xaf", 6, "\\xe2\\x81\\xaa\\xe2\\x81\\xaf"); /* U+206A, U+206F */
	esc("\xc2\xad", 2, "\\xc2\\xad");                                       /* SOFT HYPHEN */
	esc("\xe3\x85\xa4\xef\xbe\xa0", 6, "\\xe3\\x85\\xa4\\xef\\xbe\\xa0"); /* HANGUL FILLER, HALFWIDTH */
	esc("\xef\xb8\x8f", 3, "\\xef\\xb8\\x8f");                           /* VARIATION SELECTOR-16 */
	esc("\xef\xbf\xb9", 3, "\\xef\\xbf\\xb9");                           /* INTERLINEAR ANNOTATION ANCHOR */
	esc("\xe1\xa0\x8e", 3, "\\xe1\\xa0\\x8e");                           /* MONGOLIAN VOWEL SEPARATOR */
	/* Visible neighbours stay: U+00AC, U+FE10, U+FFFC (OBJECT REPLACEMENT CHARACTER), a CJK letter
	 * and an emoji. */
	esc("\xc2\xac\xef\xb8\x90\xef\xbf\xbc\xe6\x97\xa5\xf0\x9f\x98\x80", 15,
	    "\xc2\xac\xef\xb8\x90\xef\xbf\xbc\xe6\x97\xa5\xf0\x9f\x98\x80");
	/* Their neighbours stay: EM DASH U+2014, U+2070, U+FEFE; the spaces that are not U+0020 (EN
	 * QUAD U+2000, NARROW NBSP U+202F) are escaped, one cannot tell them from it. */
	esc("\xe2\x80\x80\xe2\x80\x94\xe2\x80\xaf\xe2\x81\xb0\xef\xbb\xbe", 15,
	    "\\xe2\\x80\\x80\xe2\x80\x94\\xe2\\x80\\xaf\xe2\x81\xb0\xef\xbb\xbe");
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

/* The read end of a pipe that stands for the daemon's stderr, and a sink on its write end. */
struct logpipe {
	int r, w;
	struct logsink *sink;
};

static void logpipe_open(struct logpipe *lp)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	lp->r = p[0];
	lp->w = p[1];
	REQUIRE(fcntl(lp->r, F_SETFL, O_NONBLOCK) == 0);
	REQUIRE(logsink_new(lp->w, &lp->sink) == 0);
	CHECK(logsink_kind(lp->sink) == LOGSINK_REOPENED);
	/* The shared description stays blocking: only the sink's own is not. */
	CHECK((fcntl(lp->w, F_GETFL) & O_NONBLOCK) == 0);
}

/* What the pipe holds now (appended at buf + *len, NUL-terminated). */
static void logpipe_read(struct logpipe *lp, char *buf, size_t size, size_t *len)
{
	ssize_t n;
	while (*len + 1 < size && (n = read(lp->r, buf + *len, size - 1 - *len)) > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
}

static void logpipe_close(struct logpipe *lp)
{
	logsink_free(lp->sink);
	close(lp->w);
	close(lp->r);
}

/* Every line whole: a skill's with its prefix, or the daemon's, each ending in a newline. */
static size_t whole_lines(const char *buf, size_t len, const char *prefix, size_t *skill_bytes)
{
	size_t lines = 0;
	*skill_bytes = 0;
	for (const char *p = buf; p < buf + len;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		CHECK_MSG(nl != NULL, "a line without its newline at byte %zu", (size_t)(p - buf));
		if (!nl)
			break;
		bool skill = !strncmp(p, prefix, strlen(prefix)), daemon = !strncmp(p, "capbusd[", 8);
		CHECK_MSG(skill || daemon, "a line that is neither a skill's nor the daemon's at byte %zu: %.40s",
			  (size_t)(p - buf), p);
		if (skill)
			*skill_bytes += (size_t)(nl + 1 - p);
		lines++;
		p = nl + 1;
	}
	return lines;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Empty lines and lines of control characters cost what the log gets (the prefix, the escapes,
 * the newline), not their length in the pipe: the log grows by at most burst + rate * time. */
static void test_budget(void)
{
	struct logpipe lp;
	logpipe_open(&lp);
	struct skillout_limits lim = { .rate = 64, .burst = 8192, .ring_lines = 100000, .ring_bytes = 1 << 24,
				       .sink = lp.sink };
	struct outring_answer a;
	struct skillout *so;
	static char chunk[8192], log[1 << 20], ring[1 << 20];
	size_t len = 0, skill_bytes;
	int out_w, err_w;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = i % 64 < 48 ? '\n' : (i % 64 == 63 ? '\n' : '\x01');
	uint64_t t0 = now_ms();
	REQUIRE(skillout_new("t.budget", &lim, &so) == 0);
	REQUIRE(skillout_open(so, &out_w, &err_w) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(write(out_w, chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk));
	close(out_w);
	close(err_w);
	drain(so, ring, sizeof(ring), &a);
	CHECK(skillout_tick(so, UINT64_MAX / 2) == -1);
	uint64_t elapsed = now_ms() - t0;
	logpipe_read(&lp, log, sizeof(log), &len);
	size_t lines = whole_lines(log, len, "skill t.budget[stdout]: ", &skill_bytes);
	printf("# budget: %zu bytes of skill lines (%zu lines in the log) in %llu ms, bucket %u + %u/s\n", skill_bytes,
	       lines, (unsigned long long)elapsed, lim.burst, lim.rate);
	CHECK_MSG(skill_bytes <= lim.burst + lim.rate * (elapsed + 1000) / 1000,
		  "the log grew by %zu bytes of skill lines, over %u + %u/s", skill_bytes, lim.burst, lim.rate);
	CHECK(skill_bytes > lim.burst / 2); /* and the bucket was used */
	CHECK_CONTAINS(log, "event=skill_output_suppressed id=\"t.budget\"");
	CHECK_CONTAINS(log, "reason=rate");
	CHECK_CONTAINS(ring, "suppressed by the rate limit");
	skillout_free(so);
	logpipe_close(&lp);
}

/* A log nobody reads: the skill's lines never make the caller wait; what does not fit is dropped
 * and counted, a line cut short by the full pipe is finished before any other, and every line in
 * the log is whole. */
static void test_blocked_log(void)
{
	struct logpipe lp;
	logpipe_open(&lp);
	struct skillout_limits lim = { .rate = 1u << 30, .burst = 1u << 30, .ring_lines = 100000, .ring_bytes = 1 << 26,
				       .sink = lp.sink };
	struct outring_answer a;
	struct skillout *so;
	static char line[6001], log[1 << 22], ring[1 << 20];
	size_t len = 0, skill_bytes;
	int out_w, err_w;

	/* A wait would hang here: the alarm turns it into a failure. */
	signal(SIGALRM, SIG_DFL);
	alarm(20);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	REQUIRE(skillout_new("t.slow", &lim, &so) == 0);
	REQUIRE(skillout_open(so, &out_w, &err_w) == 0);
	REQUIRE(fcntl(out_w, F_SETFL, O_NONBLOCK) == 0);
	/* 6000-byte lines (more than PIPE_BUF with the prefix: the full pipe cuts them), then short ones. */
	size_t written = 0;
	for (int round = 0; round < 40; round++) {
		ssize_t w;
		while ((w = write(out_w, line, round % 2 ? 100 : sizeof(line))) > 0)
			written += (size_t)w;
		struct pollfd fds[2];
		size_t n = skillout_pollfds(so, fds, 2);
		for (size_t j = 0; j < n; j++)
			fds[j].revents = POLLIN;
		skillout_dispatch(so, fds, n);
		if (round % 2)
			CHECK(write(out_w, "\n", 1) == 1);
	}
	close(out_w);
	close(err_w);
	drain(so, ring, sizeof(ring), &a);
	CHECK(skillout_tick(so, UINT64_MAX / 2) >= 0); /* the note waits for room in the log */
	CHECK_CONTAINS(ring, "because the daemon's log would block");
	/* The reader comes back: the cut line is finished, the counts reach the log. */
	for (int i = 0; i < 50 && (logsink_pending(lp.sink) || i < 3); i++) {
		logpipe_read(&lp, log, sizeof(log), &len);
		skillout_tick(so, UINT64_MAX / 2 + (uint64_t)i * 2000);
	}
	logpipe_read(&lp, log, sizeof(log), &len);
	CHECK(!logsink_pending(lp.sink));
	size_t lines = whole_lines(log, len, "skill t.slow[stdout]: ", &skill_bytes);
	printf("# blocked log: %zu bytes written by the skill, %zu lines (%zu bytes) in the log\n", written, lines, len);
	CHECK(lines > 1);
	CHECK_CONTAINS(log, "reason=log_blocked");
	alarm(0);
	skillout_free(so);
	logpipe_close(&lp);
}

/* What the sink makes of each kind of stderr. */
static void test_sink_kinds(void)
{
	struct logsink *sink;
	char path[] = "/tmp/test-skillout.XXXXXX";
	int fd = mkstemp(path), sv[2];

	REQUIRE(fd >= 0);
	unlink(path);
	REQUIRE(logsink_new(fd, &sink) == 0);
	CHECK(logsink_kind(sink) == LOGSINK_FILE);
	CHECK(logsink_write(sink, "file line\n", 10) == 0);
	CHECK(lseek(fd, 0, SEEK_CUR) == 10); /* the shared offset moved: the daemon's next line follows */
	logsink_free(sink);
	close(fd);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	REQUIRE(logsink_new(sv[0], &sink) == 0);
	CHECK(logsink_kind(sink) == LOGSINK_SOCKET);
	int r = 0, n = 0;
	while ((r = logsink_write(sink, "socket line\n", 12)) == 0 && n < 1000000)
		n++;
	CHECK(r == -EAGAIN); /* a full socket refuses, it does not block */
	CHECK((fcntl(sv[0], F_GETFL) & O_NONBLOCK) == 0);
	logsink_free(sink);
	close(sv[0]);
	close(sv[1]);
}

static void test_pipes(void)
{
	struct logpipe lp;
	logpipe_open(&lp);
	struct skillout_limits lim = { .rate = 64, .burst = 8192, .ring_lines = 100, .ring_bytes = 65536, .sink = lp.sink };
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
	static char log[1 << 16];
	size_t len = 0, skill_bytes;
	logpipe_read(&lp, log, sizeof(log), &len);
	whole_lines(log, len, "skill t.x[", &skill_bytes);
	CHECK_CONTAINS(log, "skill t.x[stdout]: two\\x1b\n");
	CHECK_CONTAINS(log, "skill t.x[stderr]: err\n");
	logpipe_close(&lp);
}

int main(void)
{
	test_escape();
	test_pipes();
	test_budget();
	test_blocked_log();
	test_sink_kinds();
	return check_finish("test-skillout");
}
