/* SPDX-License-Identifier: MIT */
/* logsink.h - whole lines to the daemon's standard error, never blocking the daemon.
 *
 * Trust level: privileged parent. The lines are a skill's output (escaped by skillout.c) and the
 * daemon's notes about it; how fast they are taken is up to whoever reads the daemon's standard
 * error, which may be slow or stopped. So a line is written without waiting, and a line the log
 * cannot take now is refused (the caller drops and counts it) instead of stalling the parent.
 *
 * How depends on what the descriptor is, looked at once in logsink_new():
 * - a regular file: written as it is (a file has no reader to wait for; O_APPEND or not, the
 *   descriptor's own offset stays right for the daemon's other lines);
 * - a socket (the journal's stream): send(2) with MSG_DONTWAIT;
 * - anything else (a pipe, a terminal): a second open file description of the same object from
 *   /proc/self/fd/N with O_NONBLOCK, so the flag never changes the shared descriptor that the
 *   daemon's own lines, the router and the process that started the daemon write through. If
 *   that open fails, a line is written only when poll(2) finds the descriptor writable.
 * A line is written whole or not at all: a write that takes only part of it (possible for a line
 * longer than PIPE_BUF, or on a socket or terminal) keeps the rest, and no other line is written
 * before that rest is (logsink_flush(), called again until it returns 0). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The longest line logsink_write() takes, newline included. */
#define LOGSINK_LINE_MAX 32768

enum logsink_kind { LOGSINK_FILE, LOGSINK_SOCKET, LOGSINK_REOPENED, LOGSINK_POLLED };

struct logsink;

/* fd is borrowed (the daemon's STDERR_FILENO) and must stay open while the sink lives.
 * Returns 0 or -ENOMEM. */
int logsink_new(int fd, struct logsink **out);
/* Closes the descriptor the sink opened itself; what is left of a cut line is lost. Accepts NULL. */
void logsink_free(struct logsink *sink);

/* One line of len bytes, its newline included. Returns 0 when it was written (or, cut short by the
 * log, its rest is kept to finish it), -EAGAIN when the log would block now or the rest of an
 * earlier line is still waiting (nothing of this line was written), -E2BIG for a line longer than
 * LOGSINK_LINE_MAX, or the negative errno of the write (nothing written either). */
int logsink_write(struct logsink *sink, const char *line, size_t len);
/* Writes what is left of a cut line, without blocking. Returns 0 when nothing is left, -EAGAIN
 * when some still is. */
int logsink_flush(struct logsink *sink);
bool logsink_pending(const struct logsink *sink);
enum logsink_kind logsink_kind(const struct logsink *sink);
