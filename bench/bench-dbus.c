/* SPDX-License-Identifier: MIT */
/* bench-dbus.c - D-Bus peer client (sd-bus), driven by bench/run; works with dbus-daemon and
 * dbus-broker alike.
 *
 *   bench-dbus sub  ADDRESS MEMBER EXPECT IDLE_MS   count signals matching a match rule
 *   bench-dbus pub  ADDRESS MEMBER COUNT            emit COUNT broadcast signals, pipelined
 *   bench-dbus echo ADDRESS                         own org.capbus.Bench, answer Echo(s) -> s
 *   bench-dbus call ADDRESS COUNT                   method-call round trips
 *   bench-dbus idle ADDRESS N                       hold N connections (after Hello)
 *
 * The argument of every signal and call is the same 256-byte Mycroft-style JSON message as on
 * the other buses (bench-common.h). */
#include "bench-common.h"

#include <stdbool.h>
#include <systemd/sd-bus.h>

#define IFACE "org.capbus.Bench"
#define OPATH "/org/capbus/Bench"
#define BUSNAME "org.capbus.Bench"

static sd_bus *open_or_die(const char *address)
{
	sd_bus *bus = NULL;
	int r = sd_bus_new(&bus);

	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, true);
	/* A burst of connects can fill the listen backlog of a unix socket (EAGAIN): retry. */
	for (int tries = 0; r >= 0 && tries < 500; tries++) {
		r = sd_bus_start(bus);
		if (r != -EAGAIN)
			break;
		sd_bus_unref(bus);
		bus = NULL;
		usleep(10000);
		r = sd_bus_new(&bus);
		if (r >= 0)
			r = sd_bus_set_address(bus, address);
		if (r >= 0)
			r = sd_bus_set_bus_client(bus, true);
	}
	if (r < 0) {
		fprintf(stderr, "bench-dbus: connect %s: %s\n", address, strerror(-r));
		exit(2);
	}
	return bus;
}

struct state {
	struct bench_count c;
	size_t bytes;
};

static int on_signal(sd_bus_message *m, void *p, sd_bus_error *e)
{
	struct state *s = p;
	const char *str;

	if (sd_bus_message_read(m, "s", &str) >= 0 && !s->bytes)
		s->bytes = strlen(str);
	bench_count_one(&s->c);
	return 0;
}

static int cmd_sub(char **argv)
{
	sd_bus *bus = open_or_die(argv[0]);
	uint64_t expect = bench_arg_ul(argv[2]);
	uint64_t idle_ns = bench_arg_ul(argv[3]) * 1000000u;
	struct state s = { 0 };
	char rule[256];
	const char *end = "ok";

	snprintf(rule, sizeof(rule), "type='signal',interface='" IFACE "',member='%s'", argv[1]);
	if (sd_bus_add_match(bus, NULL, rule, on_signal, &s) < 0)
		return 3;
	bench_ready();
	uint64_t last = bench_now_ns(), seen = 0;
	while (s.c.n < expect) {
		int r = sd_bus_process(bus, NULL);
		if (r < 0) {
			end = "closed";
			break;
		}
		if (r > 0)
			continue;
		uint64_t now = bench_now_ns();
		if (s.c.n != seen) {
			seen = s.c.n;
			last = now;
		} else if (now - last > (seen ? idle_ns : 120000000000u)) {
			end = "idle";
			break;
		}
		if (sd_bus_wait(bus, 100000) < 0) {
			end = "closed";
			break;
		}
	}
	char extra[96];
	snprintf(extra, sizeof(extra), "errors=0 bytes=%zu end=%s", s.bytes, end);
	bench_print_count(&s.c, extra);
	sd_bus_flush_close_unref(bus);
	return 0;
}

static int cmd_pub(char **argv)
{
	sd_bus *bus = open_or_die(argv[0]);
	uint64_t count = bench_arg_ul(argv[2]), sent = 0;
	char msg[BENCH_MSG_SIZE + 64];
	int r = 0;

	bench_message(msg, sizeof(msg), "bench.msg");
	bench_ready();
	bench_wait_go();
	uint64_t t0 = bench_now_ns();
	for (; sent < count; sent++) {
		r = sd_bus_emit_signal(bus, OPATH, IFACE, argv[1], "s", msg);
		if (r < 0)
			break;
		/* Bounded write queue: sd-bus queues what the socket does not take. */
		uint64_t q = 0;
		if ((sent & 63) == 63 && sd_bus_get_n_queued_write(bus, &q) >= 0 && q > 256 &&
		    (r = sd_bus_flush(bus)) < 0)
			break;
	}
	sd_bus_flush(bus);
	uint64_t t1 = bench_now_ns();
	printf("result sent=%llu start_ns=%llu end_ns=%llu cpu_us=%llu send=%s sync=ok code=-\n",
	       (unsigned long long)sent, (unsigned long long)t0, (unsigned long long)t1, bench_cpu_us(), r < 0 ? "fail" : "ok");
	fflush(stdout);
	sd_bus_flush_close_unref(bus);
	return 0;
}

static int method_echo(sd_bus_message *m, void *p, sd_bus_error *e)
{
	const char *str;
	int r = sd_bus_message_read(m, "s", &str);

	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "s", (const char *)p);
}

static const sd_bus_vtable echo_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Echo", "s", "s", method_echo, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

static int cmd_echo(char **argv)
{
	sd_bus *bus = open_or_die(argv[0]);
	char msg[BENCH_MSG_SIZE + 64];

	bench_message(msg, sizeof(msg), "bench.reply");
	if (sd_bus_add_object_vtable(bus, NULL, OPATH, IFACE, echo_vtable, msg) < 0 ||
	    sd_bus_request_name(bus, BUSNAME, 0) < 0)
		return 3;
	bench_ready();
	for (;;) {
		int r = sd_bus_process(bus, NULL);
		if (r < 0)
			break;
		if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
			break;
	}
	return 0;
}

static int cmd_call(char **argv)
{
	sd_bus *bus = open_or_die(argv[0]);
	uint64_t count = bench_arg_ul(argv[1]);
	uint64_t *lat = calloc(count, sizeof(*lat));
	char msg[BENCH_MSG_SIZE + 64];
	size_t n = 0;
	int r = 0;

	if (!lat)
		return 1;
	bench_message(msg, sizeof(msg), "bench.req");
	bench_ready();
	bench_wait_go();
	for (; n < count; n++) {
		sd_bus_error e = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = NULL;
		uint64_t t0 = bench_now_ns();

		r = sd_bus_call_method(bus, BUSNAME, OPATH, IFACE, "Echo", &e, &reply, "s", msg);
		sd_bus_error_free(&e);
		sd_bus_message_unref(reply);
		if (r < 0)
			break;
		lat[n] = bench_now_ns() - t0;
	}
	bench_print_latency(lat, n, r < 0 ? "end=error" : "end=ok");
	return 0;
}

static int cmd_idle(char **argv)
{
	unsigned long n = bench_arg_ul(argv[1]);
	sd_bus **conns = calloc(n ? n : 1, sizeof(*conns));

	if (!conns)
		return 1;
	bench_raise_nofile();
	for (unsigned long i = 0; i < n; i++)
		conns[i] = open_or_die(argv[0]);
	/* sd_bus_start sends Hello; wait for each answer so the broker holds the connection. */
	for (unsigned long i = 0; i < n; i++) {
		while (sd_bus_is_ready(conns[i]) <= 0)
			if (sd_bus_process(conns[i], NULL) < 0 || sd_bus_wait(conns[i], 10000000) < 0)
				exit(2);
	}
	bench_ready();
	bench_wait_go();
	for (unsigned long i = 0; i < n; i++)
		sd_bus_close_unref(conns[i]);
	printf("result idle=%lu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct bench_cmd cmds[] = {
		{ "sub", 4, cmd_sub }, { "pub", 3, cmd_pub }, { "echo", 1, cmd_echo },
		{ "call", 2, cmd_call }, { "idle", 2, cmd_idle },
	};

	return bench_dispatch(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]), "bench-dbus sub|pub|echo|call|idle ...");
}
