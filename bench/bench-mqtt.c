/* SPDX-License-Identifier: MIT */
/* bench-mqtt.c - MQTT peer client (libmosquitto, QoS 0), driven by bench/run.
 *
 *   bench-mqtt sub  HOST PORT TOPIC EXPECT IDLE_MS
 *   bench-mqtt pub  HOST PORT TOPIC COUNT
 *   bench-mqtt echo HOST PORT                  answer bench/req on bench/reply
 *   bench-mqtt call HOST PORT COUNT            request/response over two topics
 *   bench-mqtt idle HOST PORT N
 *
 * HOST may be a unix socket path with PORT 0. Same line protocol and message as the capbus
 * client (bench-common.h). */
#include "bench-common.h"

#include <mosquitto.h>
#include <poll.h>
#include <stdbool.h>

struct state {
	struct bench_count c;
	uint64_t expect;
	bool got;            /* call: reply arrived */
	bool subscribed;
	size_t bytes;
	char reply[BENCH_MSG_SIZE + 64];
};

static void on_message(struct mosquitto *m, void *p, const struct mosquitto_message *msg)
{
	struct state *s = p;

	if (!s->bytes)
		s->bytes = (size_t)msg->payloadlen;
	bench_count_one(&s->c);
	s->got = true;
}

static void on_echo(struct mosquitto *m, void *p, const struct mosquitto_message *msg)
{
	struct state *s = p;

	mosquitto_publish(m, NULL, "bench/reply", (int)strlen(s->reply), s->reply, 0, false);
}

static void on_subscribe(struct mosquitto *m, void *p, int mid, int n, const int *qos)
{
	((struct state *)p)->subscribed = true;
}

static struct mosquitto *open_or_die(const char *host, const char *port, struct state *s)
{
	struct mosquitto *m = mosquitto_new(NULL, true, s);
	int r;

	if (!m)
		exit(1);
	/* A burst of connects can fill the listen backlog of a unix socket (EAGAIN): retry. */
	for (int tries = 0; tries < 500; tries++) {
		r = mosquitto_connect(m, host, (int)bench_arg_ul(port), 600);
		if (!(r == MOSQ_ERR_ERRNO && errno == EAGAIN))
			break;
		usleep(10000);
	}
	if (r != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bench-mqtt: connect %s:%s: %s\n", host, port, mosquitto_strerror(r));
		exit(2);
	}
	return m;
}

static void subscribe_or_die(struct mosquitto *m, struct state *s, const char *topic)
{
	mosquitto_subscribe_callback_set(m, on_subscribe);
	if (mosquitto_subscribe(m, NULL, topic, 0) != MOSQ_ERR_SUCCESS)
		exit(3);
	while (!s->subscribed)
		if (mosquitto_loop(m, 10000, 1) != MOSQ_ERR_SUCCESS)
			exit(3);
}

/* Writes what libmosquitto queued, waiting for the socket when it is full: pipelining with a
 * bounded queue. */
static int drain(struct mosquitto *m)
{
	while (mosquitto_want_write(m)) {
		struct pollfd p = { .fd = mosquitto_socket(m), .events = POLLOUT };

		if (poll(&p, 1, 10000) <= 0)
			return -1;
		if (mosquitto_loop_write(m, 1) != MOSQ_ERR_SUCCESS)
			return -1;
	}
	return 0;
}

static int cmd_sub(char **argv)
{
	struct state s = { .expect = bench_arg_ul(argv[3]) };
	struct mosquitto *m = open_or_die(argv[0], argv[1], &s);
	int idle_ms = (int)bench_arg_ul(argv[4]);
	const char *end = "ok";

	mosquitto_message_callback_set(m, on_message);
	subscribe_or_die(m, &s, argv[2]);
	bench_ready();
	uint64_t last = bench_now_ns(), seen = 0;
	while (s.c.n < s.expect) {
		if (mosquitto_loop(m, 100, 1000) != MOSQ_ERR_SUCCESS) {
			end = "closed";
			break;
		}
		uint64_t now = bench_now_ns();
		if (s.c.n != seen) {
			seen = s.c.n;
			last = now;
		} else if (now - last > (seen ? (uint64_t)idle_ms : 120000u) * 1000000u) {
			end = "idle";
			break;
		}
	}
	char extra[96];
	snprintf(extra, sizeof(extra), "errors=0 bytes=%zu end=%s", s.bytes, end);
	bench_print_count(&s.c, extra);
	mosquitto_destroy(m);
	return 0;
}

static int cmd_pub(char **argv)
{
	struct state s = { 0 };
	struct mosquitto *m = open_or_die(argv[0], argv[1], &s);
	uint64_t count = bench_arg_ul(argv[3]), sent = 0;
	char msg[BENCH_MSG_SIZE + 64];
	int r = 0;

	bench_message(msg, sizeof(msg), "bench.msg");
	/* Let the CONNACK arrive first. */
	mosquitto_loop(m, 100, 1);
	bench_ready();
	bench_wait_go();
	uint64_t t0 = bench_now_ns();
	for (; sent < count; sent++) {
		r = mosquitto_publish(m, NULL, argv[2], (int)strlen(msg), msg, 0, false);
		if (r != MOSQ_ERR_SUCCESS || ((sent & 15) == 15 && drain(m) < 0))
			break;
	}
	drain(m);
	uint64_t t1 = bench_now_ns();
	printf("result sent=%llu start_ns=%llu end_ns=%llu cpu_us=%llu send=%s sync=ok code=-\n",
	       (unsigned long long)sent, (unsigned long long)t0, (unsigned long long)t1, bench_cpu_us(), r ? "fail" : "ok");
	fflush(stdout);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	return 0;
}

static int cmd_echo(char **argv)
{
	struct state s = { 0 };
	struct mosquitto *m = open_or_die(argv[0], argv[1], &s);

	bench_message(s.reply, sizeof(s.reply), "bench.reply");
	subscribe_or_die(m, &s, "bench/req");
	mosquitto_message_callback_set(m, on_echo);
	bench_ready();
	mosquitto_loop_forever(m, -1, 1);
	return 0;
}

static int cmd_call(char **argv)
{
	struct state s = { 0 };
	struct mosquitto *m = open_or_die(argv[0], argv[1], &s);
	uint64_t count = bench_arg_ul(argv[2]);
	uint64_t *lat = calloc(count, sizeof(*lat));
	char msg[BENCH_MSG_SIZE + 64];
	size_t n = 0;
	const char *end = "end=ok";

	if (!lat)
		return 1;
	bench_message(msg, sizeof(msg), "bench.req");
	subscribe_or_die(m, &s, "bench/reply");
	mosquitto_message_callback_set(m, on_message);
	bench_ready();
	bench_wait_go();
	for (; n < count; n++) {
		uint64_t t0 = bench_now_ns();

		s.got = false;
		if (mosquitto_publish(m, NULL, "bench/req", (int)strlen(msg), msg, 0, false) != MOSQ_ERR_SUCCESS ||
		    drain(m) < 0) {
			end = "end=error";
			break;
		}
		while (!s.got)
			if (mosquitto_loop(m, 10000, 1) != MOSQ_ERR_SUCCESS || bench_now_ns() - t0 > 10000000000u)
				break;
		if (!s.got) {
			end = "end=timeout";
			break;
		}
		lat[n] = bench_now_ns() - t0;
	}
	bench_print_latency(lat, n, end);
	return 0;
}

static int cmd_idle(char **argv)
{
	unsigned long n = bench_arg_ul(argv[2]);
	struct mosquitto **conns = calloc(n ? n : 1, sizeof(*conns));
	struct state s = { 0 };

	if (!conns)
		return 1;
	bench_raise_nofile();
	for (unsigned long i = 0; i < n; i++)
		conns[i] = open_or_die(argv[0], argv[1], &s);
	for (unsigned long i = 0; i < n; i++)
		mosquitto_loop(conns[i], 1000, 1);  /* CONNACK */
	bench_ready();
	bench_wait_go();
	for (unsigned long i = 0; i < n; i++)
		mosquitto_destroy(conns[i]);
	printf("result idle=%lu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct bench_cmd cmds[] = {
		{ "sub", 5, cmd_sub }, { "pub", 4, cmd_pub }, { "echo", 2, cmd_echo },
		{ "call", 3, cmd_call }, { "idle", 3, cmd_idle },
	};

	mosquitto_lib_init();
	return bench_dispatch(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]), "bench-mqtt sub|pub|echo|call|idle ...");
}
