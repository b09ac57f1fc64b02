// SPDX-License-Identifier: MIT
/* log.c - escaped key=value log lines and rate limits. */
#include "common/log.h"

#include <stdarg.h>
#include <time.h>

/* Set once at start-up (and in each child after fork): the only mutable globals of the daemon. */
static enum log_level log_min_level = LOG_LEVEL_INFO;
static const char *log_role = "main";

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void log_setup(enum log_level level, const char *role)
{
	log_min_level = level;
	log_role = role;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (streq(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min_level;
}

static size_t log_vformat(char *buf, size_t size, enum log_level level, const char *event, const char *fmt, va_list ap)
{
	if (!log_enabled(level) || size < 2)
		return 0;
	int n = snprintf(buf, size, "capbusd[%s]: level=%s event=%s ", log_role, level_names[level], event);
	if (n < 0 || (size_t)n >= size)
		return 0;
	if (vsnprintf(buf + n, size - (size_t)n, fmt, ap) < 0)
		return 0;
	size_t len = strlen(buf);
	if (len >= size - 1)
		len = size - 2;
	buf[len++] = '\n';
	return len;
}

size_t log_format(char *buf, size_t size, enum log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	size_t len = log_vformat(buf, size, level, event, fmt, ap);
	va_end(ap);
	return len;
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	size_t len = log_vformat(line, sizeof(line), level, event, fmt, ap);
	va_end(ap);
	if (!len)
		return;
	/* One write per line so lines from the parent and the router never interleave. */
	ssize_t w _unused_ = write(STDERR_FILENO, line, len);
}

const char *log_quote(char *buf, size_t size, const char *s)
{
	size_t o = 0;

	if (size < 8)
		return "\"\"";
	buf[o++] = '"';
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[5];
		size_t n;
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			n = 2;
		} else if (ch < 0x20 || ch >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", ch);
			n = 4;
		} else {
			esc[0] = (char)ch;
			n = 1;
		}
		if (o + n + 5 > size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	*suppressed = 0;
	if (now_ms - rl->window_start_ms >= rl->interval_ms) {
		*suppressed = rl->suppressed;
		rl->window_start_ms = now_ms;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < rl->burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
