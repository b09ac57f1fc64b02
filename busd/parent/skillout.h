/* SPDX-License-Identifier: MIT */
/* skillout.h - a skill's stdout and stderr: pipes the daemon reads, lines it logs and keeps.
 *
 * Trust level: privileged parent, reading bytes a hostile skill wrote. The skill gets only the
 * write ends of two fresh pipes as its fds 1 and 2, never a descriptor of the daemon's own (a
 * pipe cannot be truncated, seeked or reopened as the daemon's log). The parent reads the other
 * ends without ever blocking, at most SKILLOUT_READ_BUDGET bytes per stream per wakeup, splits
 * the bytes into lines of at most SKILLOUT_LINE_MAX bytes (longer ones are cut and marked),
 * escapes control characters, backslashes, invalid UTF-8 and invisible formatting characters (a
 * skill cannot start a line of its own, send a terminal escape or reorder the text shown), and
 * passes each line through a token bucket of bytes that charges the line as the log gets it
 * (`skill ID[stdout]: `, the escaped text, the newline). A line within the budget is written as
 * `skill ID[stdout]: TEXT` to the daemon's stderr through a logsink (logsink.h: never blocking,
 * a whole line or nothing), or to the journal with CAPBUS_SKILL=ID when the daemon's stderr is the
 * journal, and kept in the skill's ring (outring.h) for `capbus logs`. A line over the budget, or
 * one the log would block on, is dropped and counted, and per reason one daemon line per second
 * at most says how many were. Memory per skill is bounded by the ring's budget plus two line
 * buffers. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parent/logsink.h"
#include "parent/outring.h"

#define SKILLOUT_LINE_MAX 4096
#define SKILLOUT_READ_BUDGET (64 * 1024)
/* What an escaped line of SKILLOUT_LINE_MAX bytes can grow to, with the cut marker. */
#define SKILLOUT_ESCAPED_MAX (4 * SKILLOUT_LINE_MAX + 64)

struct skillout;

struct skillout_limits {
	uint32_t rate;       /* bytes/s that reach the log and the ring */
	uint32_t burst;      /* bucket size in bytes */
	uint32_t ring_lines; /* lines kept for `capbus logs` */
	uint32_t ring_bytes; /* bytes kept (escaped text) */
	bool journal;        /* write to the journal instead of stderr (skillout_journal_wanted()) */
	struct logsink *sink; /* the daemon's stderr, borrowed, outliving every skillout; NULL: no log */
};

/* id is copied. Returns 0 or -ENOMEM. */
int skillout_new(const char *id, const struct skillout_limits *lim, struct skillout **out);
/* Flushes what is buffered, closes the pipes, frees the ring. Accepts NULL. */
void skillout_free(struct skillout *so);

/* A launch: fresh pipes. What is left in the previous launch's pipes is read first and they are
 * closed. *out_w and *err_w are the write ends for the child (close-on-exec, blocking; the caller
 * closes them once the child has them); the parent keeps the read ends, non-blocking and
 * close-on-exec. Returns 0 or a negative errno. */
int skillout_open(struct skillout *so, int *out_w, int *err_w);

/* The open read ends as poll entries. Returns the number used (at most 2). */
size_t skillout_pollfds(const struct skillout *so, struct pollfd *fds, size_t max);
/* Reads the entries that are its own and ready; closes a stream at end of file. */
void skillout_dispatch(struct skillout *so, const struct pollfd *fds, size_t n);
/* Reports lines dropped (by the rate limit, or because the log would block), at most once a
 * second, and tries again to finish a line the log took only part of. Returns the milliseconds
 * until it wants to be called again, or -1 when nothing is pending. */
int skillout_tick(struct skillout *so, uint64_t now_ms);

/* The ring, for `capbus logs`. */
const struct outring *skillout_ring(const struct skillout *so);

/* Escapes len bytes of a skill's line into out (room for 4 * len + 1 bytes), NUL-terminated:
 * bytes below 0x20 but tab, DEL, C1 controls (U+0080..U+009F), backslashes, bytes that are not
 * valid UTF-8, and each byte of U+061C, U+200B..U+200F, U+2028..U+202E, U+2060..U+2069 and U+FEFF
 * become \xNN (a backslash \\). Returns the length written. */
size_t skillout_escape(const uint8_t *in, size_t len, char *out);

/* True when the daemon's stderr is the journal: $JOURNAL_STREAM names the device and inode of
 * fd 2 (what systemd sets for a service's stderr), the journal's socket
 * /run/systemd/journal/socket exists, and capbusd was built with libsystemd. */
bool skillout_journal_wanted(void);
