/* SPDX-License-Identifier: MIT */
/* trace.h - start-up trace points, compiled in only with -DCAPBUS_STARTUP_TRACE.
 *
 * For profiling the launch path (bench/README.md says how): each point prints the monotonic
 * clock, the pid and a label to stderr. Async-signal-safe enough for the cloned child (one
 * clock_gettime and one write). In a normal build every point compiles to nothing. */
#pragma once

#ifdef CAPBUS_STARTUP_TRACE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void startup_trace(const char *what)
{
	struct timespec ts;
	char buf[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	int n = snprintf(buf, sizeof(buf), "startup-trace %ld.%06ld %d %s\n", (long)ts.tv_sec,
			 ts.tv_nsec / 1000, (int)getpid(), what);
	if (n > 0)
		(void)!write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}
#define STARTUP_TRACE(what) startup_trace(what)
#else
#define STARTUP_TRACE(what) ((void)0)
#endif
