/* SPDX-License-Identifier: MIT */
/* bench-ready.c - launch to first bus message, driven by bench/run (startup scenario).
 *
 *   bench-ready [SOCKET KEY]        the probe: connects (the inherited bus and key fds when
 *                                   CAPBUS_FD is set, as a sandboxed skill; else SOCKET with the
 *                                   key file KEY), sends one "bench.ready", waits for the daemon
 *                                   to have processed it, exits 0
 *   bench-ready watch SOCKET KEY    the subscriber and trigger: connects, subscribes to
 *                                   "bench.ready", prints "ready", then per line on stdin:
 *       hup PID                     t0, kill(PID, SIGHUP) (capbusd starts the skill whose
 *                                   manifest was just written), waits for "bench.ready"
 *       exec ARGV...                t0, posix_spawn(ARGV) (words separated by spaces), waits
 *                                   for "bench.ready", then reaps the child
 *     and answers "result ns=N main_ns=M sender=ID" (CLOCK_MONOTONIC from t0 to the delivery,
 *     and to the probe's main(), which the probe puts in its message) or "result ns=-1 error=...".
 *
 * The probe links the non-sanitized client library so it runs under the skill seccomp filter
 * and memory limit like any C skill. */
#include "bench-common.h"

#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <sys/wait.h>

#include <capbus.h>

#define READY_TYPE "bench.ready"
#define WAIT_MS 20000

extern char **environ;

static int probe(int argc, char **argv)
{
	uint64_t start = bench_now_ns();
	capbus *bus = NULL;
	char data[64];
	int r;

	if (getenv("CAPBUS_FD"))
		r = capbus_open(&bus, NULL, NULL);
	else if (argc >= 3)
		r = capbus_connect(&bus, argv[1], argv[2]);
	else
		r = CAPBUS_E_INVALID;
	if (r != 0) {
		fprintf(stderr, "bench-ready: connect: %s\n", capbus_strerror(r));
		return 2;
	}
	/* When main() began: splits the launch from the connection (CLOCK_MONOTONIC is not
	 * namespaced by either sandbox). */
	snprintf(data, sizeof(data), "{\"start_ns\":\"%llu\"}", (unsigned long long)start);
	r = capbus_send(bus, READY_TYPE, data);
	if (r == 0)
		r = capbus_sync(bus, 10000);
	if (r != 0)
		fprintf(stderr, "bench-ready: send: %s\n", capbus_strerror(r));
	capbus_close(bus);
	return r == 0 ? 0 : 3;
}

/* Drops deliveries left from an earlier launch. */
static void drain(capbus *bus)
{
	capbus_msg *m;

	while (capbus_recv(bus, &m, 0) == 0)
		capbus_msg_free(m);
}

/* Waits for the next "bench.ready"; returns its delivery time or 0 on a timeout / error. */
static uint64_t wait_ready(capbus *bus, char *sender, size_t cap, uint64_t *start)
{
	uint64_t end = bench_now_ns() + (uint64_t)WAIT_MS * 1000000u;

	for (;;) {
		uint64_t now = bench_now_ns();
		capbus_msg *m = NULL;

		if (now >= end)
			return 0;
		int r = capbus_recv(bus, &m, (int)((end - now) / 1000000u) + 1);
		uint64_t t = bench_now_ns();
		if (r == CAPBUS_E_DENIED || r == CAPBUS_E_REFUSED)
			continue;
		if (r != 0)
			return 0;
		bool hit = strcmp(capbus_msg_type(m), READY_TYPE) == 0;
		if (hit) {
			const char *s = capbus_msg_get_string(m, "start_ns");
			snprintf(sender, cap, "%s", capbus_msg_sender(m) ? capbus_msg_sender(m) : "-");
			*start = s ? strtoull(s, NULL, 10) : 0;
		}
		capbus_msg_free(m);
		if (hit)
			return t;
	}
}

static int watch(char **argv)
{
	capbus *bus = NULL;
	char line[4096];
	int r = capbus_connect(&bus, argv[0], argv[1]);

	if (r != 0) {
		fprintf(stderr, "bench-ready: connect %s: %s\n", argv[0], capbus_strerror(r));
		return 2;
	}
	r = capbus_subscribe(bus, READY_TYPE, 10000);
	if (r != 0) {
		fprintf(stderr, "bench-ready: subscribe: %s\n", capbus_strerror(r));
		return 3;
	}
	bench_ready();
	while (fgets(line, sizeof(line), stdin)) {
		char *words[128];
		size_t n = 0;
		char *save = NULL;

		for (char *w = strtok_r(line, " \t\n", &save); w && n < 127; w = strtok_r(NULL, " \t\n", &save))
			words[n++] = w;
		words[n] = NULL;
		if (n == 0)
			continue;
		drain(bus);
		char sender[128] = "-";
		uint64_t t0, t1 = 0, start = 0;
		pid_t child = -1;
		if (strcmp(words[0], "hup") == 0 && n == 2) {
			t0 = bench_now_ns();
			if (kill((pid_t)atol(words[1]), SIGHUP) < 0) {
				printf("result ns=-1 error=kill:%d\n", errno);
				fflush(stdout);
				continue;
			}
		} else if (strcmp(words[0], "exec") == 0 && n >= 2) {
			t0 = bench_now_ns();
			int e = posix_spawn(&child, words[1], NULL, NULL, words + 1, environ);
			if (e != 0) {
				printf("result ns=-1 error=spawn:%d\n", e);
				fflush(stdout);
				continue;
			}
		} else {
			printf("result ns=-1 error=command\n");
			fflush(stdout);
			continue;
		}
		t1 = wait_ready(bus, sender, sizeof(sender), &start);
		int status = 0;
		if (child > 0) {
			if (!t1)
				kill(child, SIGKILL);
			if (waitpid(child, &status, 0) < 0)
				status = -1;
		}
		if (!t1)
			printf("result ns=-1 error=timeout\n");
		else if (child > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			printf("result ns=-1 error=exit:%d\n", status);
		else
			printf("result ns=%llu main_ns=%lld sender=%s\n", (unsigned long long)(t1 - t0),
			       start >= t0 && start <= t1 ? (long long)(start - t0) : -1LL, sender);
		fflush(stdout);
	}
	capbus_close(bus);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "watch") == 0)
		return watch(argv + 2);
	return probe(argc, argv);
}
