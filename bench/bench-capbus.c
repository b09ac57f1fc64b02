/* SPDX-License-Identifier: MIT */
/* bench-capbus.c - capbus benchmark client (libcapbus), driven by bench/run.
 *
 *   bench-capbus sub  SOCKET KEY PATTERN EXPECT IDLE_MS   count deliveries until EXPECT or idle
 *   bench-capbus pub  SOCKET KEY TYPE COUNT                send COUNT messages, pipelined
 *   bench-capbus echo SOCKET KEY                           answer bench.req with bench.reply
 *   bench-capbus call SOCKET KEY COUNT call|raw            round trips: capbus_call, or a send
 *                                                          and a receive on a held subscription
 *   bench-capbus idle SOCKET KEY N                         hold N authenticated connections
 *
 * Line protocol: see bench-common.h. Every message is a 256-byte Mycroft-style envelope. */
#include "bench-common.h"

#include <stdbool.h>

#include <capbus.h>

static capbus *open_or_die(const char *sock, const char *key)
{
	capbus *bus = NULL;
	int r = capbus_connect(&bus, sock, key);

	if (r != 0) {
		fprintf(stderr, "bench-capbus: connect %s: %s\n", sock, capbus_strerror(r));
		exit(2);
	}
	return bus;
}

static int cmd_sub(char **argv)
{
	capbus *bus = open_or_die(argv[0], argv[1]);
	uint64_t expect = bench_arg_ul(argv[3]);
	int idle_ms = (int)bench_arg_ul(argv[4]);
	struct bench_count c = { 0 };
	unsigned long errors = 0;
	size_t bytes = 0;
	int r = capbus_subscribe(bus, argv[2], 10000);

	if (r != 0) {
		fprintf(stderr, "bench-capbus: subscribe %s: %s\n", argv[2], capbus_strerror(r));
		return 3;
	}
	bench_ready();
	while (c.n < expect) {
		capbus_msg *m = NULL;

		r = capbus_recv(bus, &m, c.n ? idle_ms : 120000);
		if (r == CAPBUS_E_DENIED || r == CAPBUS_E_REFUSED) {
			errors++;
			continue;
		}
		if (r != 0)
			break;
		if (bytes == 0)
			bytes = strlen(capbus_msg_json(m));
		bench_count_one(&c);
		capbus_msg_free(m);
	}
	char extra[128];
	snprintf(extra, sizeof(extra), "errors=%lu bytes=%zu end=%s", errors, bytes,
		 r == 0 ? "ok" : r == CAPBUS_E_TIMEOUT ? "idle" : "closed");
	bench_print_count(&c, extra);
	capbus_close(bus);
	return 0;
}

static int cmd_pub(char **argv)
{
	capbus *bus = open_or_die(argv[0], argv[1]);
	const char *type = argv[2];
	uint64_t count = bench_arg_ul(argv[3]), sent = 0;
	char data[BENCH_MSG_SIZE + 64];
	int r = 0;

	bench_data(data, sizeof(data), type, bench_context());
	bench_ready();
	bench_wait_go();
	uint64_t t0 = bench_now_ns();
	for (; sent < count; sent++) {
		r = capbus_send_ctx(bus, type, data, bench_context());
		if (r != 0)
			break;
	}
	uint64_t t1 = bench_now_ns();
	int s = capbus_sync(bus, 60000);
	printf("result sent=%llu start_ns=%llu end_ns=%llu cpu_us=%llu send=%s sync=%s code=%s\n",
	       (unsigned long long)sent, (unsigned long long)t0, (unsigned long long)t1, bench_cpu_us(),
	       r ? "fail" : "ok", s ? "refused" : "ok", s ? capbus_error_code(bus) : "-");
	fflush(stdout);
	capbus_close(bus);
	return 0;
}

static int cmd_echo(char **argv)
{
	capbus *bus = open_or_die(argv[0], argv[1]);
	char data[BENCH_MSG_SIZE + 64];
	int r = capbus_subscribe(bus, "bench.req", 10000);

	if (r != 0) {
		fprintf(stderr, "bench-capbus: subscribe bench.req: %s\n", capbus_strerror(r));
		return 3;
	}
	bench_data(data, sizeof(data), "bench.reply", "{\"call_id\":\"0123456789abcdef\"}");
	bench_ready();
	for (;;) {
		capbus_msg *m = NULL;
		char ctx[64];

		r = capbus_recv(bus, &m, -1);
		if (r == CAPBUS_E_DENIED || r == CAPBUS_E_REFUSED)
			continue;
		if (r != 0)
			break;
		/* Answer with the request's context.call_id (the router's id for the call), as a
		 * responder should. */
		const char *id = strstr(capbus_msg_json(m), "\"call_id\":\"");
		const char *end = id ? strchr(id + 11, '"') : NULL;
		if (id && end && end - (id + 11) <= 32)
			snprintf(ctx, sizeof(ctx), "{\"call_id\":\"%.*s\"}", (int)(end - (id + 11)), id + 11);
		else
			snprintf(ctx, sizeof(ctx), "{}");
		r = capbus_send_ctx(bus, "bench.reply", data, ctx);
		capbus_msg_free(m);
		if (r != 0)
			break;
	}
	capbus_close(bus);
	return 0;
}

static int cmd_call(char **argv)
{
	capbus *bus = open_or_die(argv[0], argv[1]);
	uint64_t count = bench_arg_ul(argv[2]);
	bool raw = strcmp(argv[3], "raw") == 0;
	uint64_t *lat = calloc(count, sizeof(*lat));
	char data[BENCH_MSG_SIZE + 64];
	size_t n = 0;
	int r = 0;

	if (!lat)
		return 1;
	bench_data(data, sizeof(data), "bench.req", "{}");
	if (raw && (r = capbus_subscribe(bus, "bench.reply", 10000)) != 0) {
		fprintf(stderr, "bench-capbus: subscribe bench.reply: %s\n", capbus_strerror(r));
		return 3;
	}
	bench_ready();
	bench_wait_go();
	for (; n < count; n++) {
		capbus_msg *m = NULL;
		uint64_t t0 = bench_now_ns();

		if (raw) {
			r = capbus_send(bus, "bench.req", data);
			while (r == 0) {
				r = capbus_recv(bus, &m, 10000);
				if (r == 0 && strcmp(capbus_msg_type(m), "bench.reply") == 0)
					break;
				capbus_msg_free(m);
				m = NULL;
			}
		} else {
			r = capbus_call(bus, "bench.req", data, "bench.reply", 10000, &m);
		}
		if (r != 0)
			break;
		lat[n] = bench_now_ns() - t0;
		capbus_msg_free(m);
	}
	bench_print_latency(lat, n, r ? "end=error" : "end=ok");
	capbus_close(bus);
	return 0;
}

static int cmd_idle(char **argv)
{
	unsigned long n = bench_arg_ul(argv[2]);
	capbus **conns = calloc(n ? n : 1, sizeof(*conns));

	if (!conns)
		return 1;
	bench_raise_nofile();
	for (unsigned long i = 0; i < n; i++)
		conns[i] = open_or_die(argv[0], argv[1]);
	/* One round trip on the last one: the router has seen every handshake before. */
	if (n)
		capbus_sync(conns[n - 1], 10000);
	bench_ready();
	bench_wait_go();
	for (unsigned long i = 0; i < n; i++)
		capbus_close(conns[i]);
	printf("result idle=%lu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct bench_cmd cmds[] = {
		{ "sub", 5, cmd_sub }, { "pub", 4, cmd_pub }, { "echo", 2, cmd_echo },
		{ "call", 4, cmd_call }, { "idle", 3, cmd_idle },
	};

	return bench_dispatch(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]), "bench-capbus sub|pub|echo|call|idle ...");
}
