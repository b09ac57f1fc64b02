// SPDX-License-Identifier: MIT
/* skillout.c - read, split, escape, rate-limit, log and keep a skill's output (privileged parent). */
#include "parent/skillout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "common/log.h"
#include "handshake.h"
#include "json-scan.h"
#include "parent/logsink.h"
#include "unicode.h"
#include "util.h"

#define CUT_MARK " [cut: line longer than 4096 bytes]"
#define REPORT_INTERVAL_MS 1000
/* How soon to try again to finish a line the log took only part of. */
#define RETRY_MS 10
/* "skill ID[stdout]: " */
#define HEAD_MAX (HS_ID_MAX + 32)

/* Why lines were dropped. */
enum drop_reason { DROP_RATE, DROP_BLOCKED, DROP_REASONS };
static const char *const drop_names[DROP_REASONS] = { "rate", "log_blocked" };
static const char *const drop_notes[DROP_REASONS] = { "by the rate limit", "because the daemon's log would block" };

struct drops {
	uint64_t lines, bytes;
};

struct stream {
	int fd;                  /* read end, or -1 */
	enum outring_stream kind;
	const char *name;        /* "stdout", "stderr" */
	size_t len;              /* bytes of the current line in buf */
	bool cutting;            /* the current line was cut: skip up to its newline */
	uint8_t buf[SKILLOUT_LINE_MAX];
};

struct skillout {
	char *id;
	struct skillout_limits lim;
	struct outring *ring;
	struct stream out, err;
	/* token bucket in bytes, refilled from the monotonic clock */
	uint64_t tokens, refilled_ms;
	/* dropped lines not yet in a note of the ring, and not yet in a line of the log (that line
	 * itself may find the log blocked: then its counts wait for the next one) */
	struct drops ring_drops[DROP_REASONS], log_drops[DROP_REASONS];
	uint64_t last_report_ms;
};

static uint64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void stream_init(struct stream *s, enum outring_stream kind, const char *name)
{
	s->fd = -1;
	s->kind = kind;
	s->name = name;
}

int skillout_new(const char *id, const struct skillout_limits *lim, struct skillout **out)
{
	struct skillout *so = calloc(1, sizeof(*so));

	if (!so || !(so->id = strdup(id)) || outring_new(lim->ring_lines, lim->ring_bytes, &so->ring) < 0) {
		if (so)
			free(so->id);
		free(so);
		return -ENOMEM;
	}
	so->lim = *lim;
	so->tokens = lim->burst;
	so->refilled_ms = monotonic_ms();
	stream_init(&so->out, OUTRING_STDOUT, "stdout");
	stream_init(&so->err, OUTRING_STDERR, "stderr");
	*out = so;
	return 0;
}

/* A complete UTF-8 sequence at p (n bytes left) that is no control character: its length, else 0. */
static size_t utf8_printable(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len = p[0] < 0x80 ? 0 : json_utf8_decode(p, n, &cp);

	/* and the C1 controls (0x9b is a CSI) */
	if (len == 0 || (cp >= 0x80 && cp <= 0x9f) || unicode_is_invisible(cp))
		return 0;
	return len;
}

size_t skillout_escape(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		uint8_t c = in[i];
		if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
			i++;
			continue;
		}
		if ((c >= 0x20 && c < 0x7f) || c == '\t') {
			out[o++] = (char)c;
			i++;
			continue;
		}
		size_t u = c >= 0x80 ? utf8_printable(in + i, len - i) : 0;
		if (u) {
			memcpy(out + o, in + i, u);
			o += u;
			i += u;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 0xf];
		i++;
	}
	out[o] = '\0';
	return o;
}

bool skillout_journal_wanted(void)
{
#ifdef HAVE_LIBSYSTEMD
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	/* sd_journal_send() reports success when there is no journal to send to (ENOENT). */
	if (access("/run/systemd/journal/socket", F_OK) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
#else
	return false;
#endif
}

/* One line that passed the bucket to the daemon's log. line: the whole line as written to
 * standard error (head, escaped text, newline); text: the escaped text in it, NUL-terminated
 * where the newline goes. Returns 0, or -EAGAIN when the log would block (nothing written). */
static int deliver(struct skillout *so, enum outring_stream kind, const char *name, char *line, size_t len,
		   char *text, size_t text_len)
{
#ifdef HAVE_LIBSYSTEMD
	/* The journal socket may be gone while stderr still leads somewhere: then stderr. */
	if (so->lim.journal && sd_journal_send("MESSAGE=%s", text, "CAPBUS_SKILL=%s", so->id, "CAPBUS_STREAM=%s", name,
					       "PRIORITY=%d", kind == OUTRING_STDERR ? 4 : 6, "SYSLOG_IDENTIFIER=%s",
					       so->id, NULL) >= 0)
		return 0;
#else
	(void)kind;
	(void)name;
#endif
	text[text_len] = '\n';
	if (!so->lim.sink)
		return 0;
	/* One write per line, so lines never interleave with the daemon's; never a wait. */
	int r = logsink_write(so->lim.sink, line, len);
	return r == -EAGAIN ? r : 0; /* any other error: the log is gone, the ring still has the line */
}

static void count_drop(struct skillout *so, enum drop_reason why, uint64_t bytes)
{
	so->ring_drops[why].lines++;
	so->ring_drops[why].bytes += bytes;
	so->log_drops[why].lines++;
	so->log_drops[why].bytes += bytes;
}

static bool drops_pending(const struct skillout *so)
{
	for (int i = 0; i < DROP_REASONS; i++)
		if (so->ring_drops[i].lines || so->log_drops[i].lines)
			return true;
	return false;
}

/* A note in the ring and a daemon line per reason for the lines dropped since the last report. A
 * daemon line goes through the same sink as the skill's lines, so it never blocks either: when the
 * log cannot take it, its counts are added to the next one. */
static void report_dropped(struct skillout *so, uint64_t now)
{
	char text[160], line[1024];

	for (int i = 0; i < DROP_REASONS; i++) {
		struct drops *d = &so->ring_drops[i];
		if (d->lines) {
			int n = snprintf(text, sizeof(text), "capbusd: %llu lines (%llu bytes) suppressed %s",
					 (unsigned long long)d->lines, (unsigned long long)d->bytes, drop_notes[i]);
			if (n > 0)
				(void)outring_push(so->ring, OUTRING_DAEMON, realtime_ms(), text, (size_t)n);
			*d = (struct drops){ 0 };
		}
		d = &so->log_drops[i];
		if (!d->lines)
			continue;
		size_t len = log_format(line, sizeof(line), LOG_LEVEL_WARNING, "skill_output_suppressed",
					"id=%s lines=%llu bytes=%llu rate=%u burst=%u reason=%s", LOG_Q(so->id),
					(unsigned long long)d->lines, (unsigned long long)d->bytes, so->lim.rate,
					so->lim.burst, drop_names[i]);
		if (len && so->lim.sink && logsink_write(so->lim.sink, line, len) == -EAGAIN)
			continue;
		*d = (struct drops){ 0 };
	}
	so->last_report_ms = now;
}

static void refill(struct skillout *so, uint64_t now)
{
	if (now <= so->refilled_ms)
		return;
	uint64_t add = (now - so->refilled_ms) * so->lim.rate / 1000;
	if (add == 0)
		return; /* keep the remainder of the interval for the next call */
	so->tokens = so->tokens + add > so->lim.burst ? so->lim.burst : so->tokens + add;
	so->refilled_ms = now;
}

/* A complete line of the stream (raw bytes, no newline): escaped, through the bucket, out. The
 * bucket pays for the line as the log gets it: head, escaped text, cut mark, newline. */
static void line(struct skillout *so, struct stream *s, const uint8_t *raw, size_t len, bool cut)
{
	char out[HEAD_MAX + SKILLOUT_ESCAPED_MAX + 2];
	uint64_t now = monotonic_ms();
	int h = snprintf(out, HEAD_MAX, "skill %s[%s]: ", so->id, s->name);

	if (h < 0 || h >= HEAD_MAX)
		return; /* not with an id of at most HS_ID_MAX bytes */
	char *text = out + h;
	size_t n = skillout_escape(raw, len, text);
	if (cut) {
		memcpy(text + n, CUT_MARK, sizeof(CUT_MARK));
		n += sizeof(CUT_MARK) - 1;
	}
	size_t out_len = (size_t)h + n + 1;
	uint64_t cost = out_len;
	refill(so, now);
	if (so->tokens < cost) {
		count_drop(so, DROP_RATE, cost);
	} else if (deliver(so, s->kind, s->name, out, out_len, text, n) < 0) {
		count_drop(so, DROP_BLOCKED, cost);
	} else {
		so->tokens -= cost;
		(void)outring_push(so->ring, s->kind, realtime_ms(), text, n); /* -ENOMEM: the ring misses one line */
	}
	/* Once a second at most, even when the flood lets a line through now and then. */
	if (drops_pending(so) && now - so->last_report_ms >= REPORT_INTERVAL_MS)
		report_dropped(so, now);
}

/* Splits freshly read bytes into lines; a line that fills the buffer is cut there and the rest,
 * up to its newline, is dropped. */
static void feed(struct skillout *so, struct stream *s, const uint8_t *p, size_t n)
{
	while (n) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (s->cutting) {
			if (nl)
				s->cutting = false;
		} else {
			size_t room = sizeof(s->buf) - s->len, copy = take < room ? take : room;
			memcpy(s->buf + s->len, p, copy);
			s->len += copy;
			if (nl && take <= room) {
				line(so, s, s->buf, s->len, false);
				s->len = 0;
			} else if (s->len == sizeof(s->buf)) {
				line(so, s, s->buf, s->len, true);
				s->len = 0;
				s->cutting = !nl; /* with a newline in this chunk, the cut line is over */
			}
		}
		if (!nl)
			break;
		n -= take + 1;
		p += take + 1;
	}
}

/* Reads up to the budget; at end of file the last, unterminated line is delivered and the pipe
 * closed. drain: read until the pipe is empty (a launch is over), still bounded. */
static void read_stream(struct skillout *so, struct stream *s, size_t budget)
{
	uint8_t buf[16384];

	while (s->fd >= 0 && budget) {
		ssize_t n = read(s->fd, buf, budget < sizeof(buf) ? budget : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (s->len && !s->cutting)
				line(so, s, s->buf, s->len, false);
			s->len = 0;
			s->cutting = false;
			close(TAKE_FD(s->fd));
			return;
		}
		feed(so, s, buf, (size_t)n);
		budget -= (size_t)n;
	}
}

static void stream_close(struct skillout *so, struct stream *s)
{
	read_stream(so, s, SKILLOUT_READ_BUDGET);
	if (s->fd >= 0) {
		if (s->len && !s->cutting)
			line(so, s, s->buf, s->len, false);
		close(TAKE_FD(s->fd));
	}
	s->len = 0;
	s->cutting = false;
}

void skillout_free(struct skillout *so)
{
	if (!so)
		return;
	stream_close(so, &so->out);
	stream_close(so, &so->err);
	report_dropped(so, monotonic_ms());
	outring_free(so->ring);
	free(so->id);
	free(so);
}

static int make_pipe(struct stream *s, int *w)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return negative_errno();
	/* Only the daemon's end is non-blocking: the skill's writes block while the pipe is full. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int r = negative_errno();
		close(p[0]);
		close(p[1]);
		return r;
	}
	s->fd = p[0];
	*w = p[1];
	return 0;
}

int skillout_open(struct skillout *so, int *out_w, int *err_w)
{
	stream_close(so, &so->out);
	stream_close(so, &so->err);
	int r = make_pipe(&so->out, out_w);
	if (r < 0)
		return r;
	r = make_pipe(&so->err, err_w);
	if (r < 0) {
		close(TAKE_FD(so->out.fd));
		close(*out_w);
		return r;
	}
	return 0;
}

size_t skillout_pollfds(const struct skillout *so, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	if (so->out.fd >= 0 && n < max)
		fds[n++] = (struct pollfd){ .fd = so->out.fd, .events = POLLIN };
	if (so->err.fd >= 0 && n < max)
		fds[n++] = (struct pollfd){ .fd = so->err.fd, .events = POLLIN };
	return n;
}

void skillout_dispatch(struct skillout *so, const struct pollfd *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!fds[i].revents || fds[i].fd < 0)
			continue;
		if (fds[i].fd == so->out.fd)
			read_stream(so, &so->out, SKILLOUT_READ_BUDGET);
		else if (fds[i].fd == so->err.fd)
			read_stream(so, &so->err, SKILLOUT_READ_BUDGET);
	}
}

int skillout_tick(struct skillout *so, uint64_t now_ms)
{
	int wait = -1;

	if (so->lim.sink && logsink_flush(so->lim.sink) < 0)
		wait = RETRY_MS;
	if (!drops_pending(so))
		return wait;
	if (now_ms - so->last_report_ms >= REPORT_INTERVAL_MS)
		report_dropped(so, now_ms);
	if (!drops_pending(so))
		return wait;
	/* What the log could not take yet is tried again a second later. */
	int report = now_ms - so->last_report_ms >= REPORT_INTERVAL_MS
			     ? 0
			     : (int)(REPORT_INTERVAL_MS - (now_ms - so->last_report_ms));
	return wait < 0 || report < wait ? report : wait;
}

const struct outring *skillout_ring(const struct skillout *so)
{
	return so->ring;
}
