/* SPDX-License-Identifier: MIT */
/* bench-common.h - helpers shared by the benchmark clients: clocks, the test message, the
 * line protocol with bench/run.
 *
 * Every client prints "ready" once it is connected (and subscribed), waits for a line on stdin
 * before it starts sending (receivers start counting at once), and ends with one line
 * "result key=value ...". Times are CLOCK_MONOTONIC nanoseconds, comparable between processes,
 * so the harness measures from the first send to the last delivery across all clients. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MSG_SIZE 256

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_ready(void)
{
	fputs("ready\n", stdout);
	fflush(stdout);
}

/* Blocks until the harness says go (any line) or closes stdin. */
static inline void bench_wait_go(void)
{
	char line[64];

	if (!fgets(line, sizeof(line), stdin))
		return;
}

/* The Mycroft-style data object for a message whose whole JSON envelope,
 *     {"type":"<type>","data":<data>,"context":<ctx>}
 * is BENCH_MSG_SIZE bytes. */
static inline void bench_data(char *out, size_t cap, const char *type, const char *ctx)
{
	static const char head[] = "{\"utterance\":\"";
	static const char tail[] = "\",\"lang\":\"en-us\"}";
	size_t fixed = strlen("{\"type\":\"\",\"data\":,\"context\":}") + strlen(type) + strlen(ctx) +
		       strlen(head) + strlen(tail);
	size_t pad = fixed < BENCH_MSG_SIZE ? BENCH_MSG_SIZE - fixed : 1;
	size_t n = 0;

	if (cap < sizeof(head) + sizeof(tail) + pad)
		abort();
	memcpy(out, head, strlen(head));
	n += strlen(head);
	for (size_t i = 0; i < pad; i++)
		out[n++] = "what is the weather like tomorrow in "[i % 37];
	memcpy(out + n, tail, sizeof(tail));
}

/* The whole envelope as one string (for buses that carry opaque payloads). */
static inline void bench_message(char *out, size_t cap, const char *type)
{
	char data[BENCH_MSG_SIZE + 64];
	static const char ctx[] = "{\"source\":\"bench\",\"destination\":[\"skills\"]}";

	bench_data(data, sizeof(data), type, ctx);
	snprintf(out, cap, "{\"type\":\"%s\",\"data\":%s,\"context\":%s}", type, data, ctx);
}

static inline const char *bench_context(void)
{
	return "{\"source\":\"bench\",\"destination\":[\"skills\"]}";
}

/* CPU time this process has used (user + system), microseconds. */
static inline unsigned long long bench_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (unsigned long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (unsigned long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static inline void bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Prints p50/p99/mean of n latencies (sorts them). */
static inline void bench_print_latency(uint64_t *lat, size_t n, const char *extra)
{
	uint64_t sum = 0;

	if (n == 0) {
		printf("result n=0 %s\n", extra);
		return;
	}
	qsort(lat, n, sizeof(*lat), bench_cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += lat[i];
	printf("result n=%zu p50_ns=%llu p99_ns=%llu mean_ns=%llu %s\n", n,
	       (unsigned long long)lat[n / 2], (unsigned long long)lat[(n * 99) / 100],
	       (unsigned long long)(sum / n), extra);
	fflush(stdout);
}

/* Receiver bookkeeping. */
struct bench_count {
	uint64_t n, first_ns, last_ns;
};

static inline void bench_count_one(struct bench_count *c)
{
	uint64_t t = bench_now_ns();

	if (c->n++ == 0)
		c->first_ns = t;
	c->last_ns = t;
}

static inline void bench_print_count(const struct bench_count *c, const char *extra)
{
	printf("result count=%llu first_ns=%llu last_ns=%llu cpu_us=%llu %s\n", (unsigned long long)c->n,
	       (unsigned long long)c->first_ns, (unsigned long long)c->last_ns, bench_cpu_us(), extra);
	fflush(stdout);
}

static inline unsigned long bench_arg_ul(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "bench: not a number: %s\n", s);
		exit(1);
	}
	return v;
}

/* One subcommand of a benchmark client: its name, how many arguments it takes, its body. */
struct bench_cmd {
	const char *name;
	int args;
	int (*fn)(char **argv);
};

/* Runs the subcommand argv[1] names with the exact number of arguments it takes. */
static inline int bench_dispatch(int argc, char **argv, const struct bench_cmd *cmds, size_t n_cmds,
				 const char *usage)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; argc >= 2 && i < n_cmds; i++)
		if (strcmp(argv[1], cmds[i].name) == 0 && argc - 2 == cmds[i].args)
			return cmds[i].fn(argv + 2);
	fprintf(stderr, "usage: %s (see the source header)\n", usage);
	return 1;
}
