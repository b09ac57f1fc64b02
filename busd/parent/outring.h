/* SPDX-License-Identifier: MIT */
/* outring.h - a bounded ring of a skill's recent output lines, numbered for `capbus logs`.
 *
 * Privileged parent only, but it holds nothing privileged: the lines were written by a skill and
 * escaped (skillout.c) before they get here. Every line gets the next sequence number (the first
 * is 1); the ring keeps the newest lines within both a line count and a byte budget, so a reader
 * that remembers the number after the last line it saw (its cursor) gets exactly the lines it has
 * not seen yet, and learns how many it missed when the ring moved on in between. No I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outring;

/* Streams, also the first character of each record outring_read() writes. */
enum outring_stream { OUTRING_STDOUT = 'o', OUTRING_STDERR = 'e', OUTRING_DAEMON = 'd' };

/* max_lines >= 1, max_bytes >= 1. Returns 0 or -ENOMEM. */
int outring_new(size_t max_lines, size_t max_bytes, struct outring **out);
void outring_free(struct outring *ring);

/* Appends one line (len bytes, no '\n' in it; longer than max_bytes: refused with -E2BIG),
 * evicting the oldest lines as needed. time_ms is the wall-clock time it arrived. Returns 0,
 * -E2BIG or -ENOMEM. */
int outring_push(struct outring *ring, enum outring_stream stream, uint64_t time_ms, const char *text, size_t len);

struct outring_answer {
	uint64_t first;   /* sequence number of the first line written (== next when none) */
	uint64_t next;    /* the cursor to ask with next time */
	uint64_t dropped; /* lines after the cursor that the ring no longer holds */
	uint32_t n_lines; /* lines written */
	bool more;        /* lines were left out for want of room in buf */
};

/* Writes the lines numbered cursor and after (cursor 0: from the oldest held) into buf as
 * records "S TIME_MS TEXT\n" (S an outring_stream), as many whole records as fit in size bytes.
 * Returns the number of bytes written. */
size_t outring_read(const struct outring *ring, uint64_t cursor, char *buf, size_t size, struct outring_answer *ans);

/* The number the next line will get. */
uint64_t outring_next_seq(const struct outring *ring);
