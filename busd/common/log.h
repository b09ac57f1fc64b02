/* SPDX-License-Identifier: MIT */
/* log.h - structured one-line logging to stderr: `capbusd[role]: level=.. event=.. key=value ...`.
 *
 * Only top-level code logs. Peer-controlled strings go through LOG_Q(), which quotes and escapes
 * them so a client cannot forge log lines. Never pass a key or a payload. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "util.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARNING, LOG_LEVEL_ERROR };

/* The process-wide level and role name (set once in main and after fork). */
void log_setup(enum log_level level, const char *role);
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);

/* fmt holds the key=value fields after level and event. */
void log_event(enum log_level level, const char *event, const char *fmt, ...) _printf_(3, 4);

/* The line log_event() would write (newline included, not terminated), for a caller that writes
 * it itself. Returns its length, 0 when the level is not logged or size is too small. */
size_t log_format(char *buf, size_t size, enum log_level level, const char *event, const char *fmt, ...)
	_printf_(5, 6);

/* Quotes s into buf ("..." with \\, \", \xNN escapes, truncated with "..."). Returns buf. */
const char *log_quote(char *buf, size_t size, const char *s);
#define LOG_Q(s) log_quote((char[200]){ 0 }, 200, (s))

/* Token-bucket limit for log lines a peer can trigger. */
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned interval_ms;
	unsigned burst;
	unsigned count;
	uint64_t suppressed;
};
#define LOG_RATELIMIT_INIT(interval, burst_) { .interval_ms = (interval), .burst = (burst_) }

/* True when a line may be written now; says how many were suppressed before it. */
bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);

