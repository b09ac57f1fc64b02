/* SPDX-License-Identifier: MIT */
/* bench-relay.c - the physical limit: a tiny relay process forwarding 256-byte messages between
 * processes over socketpairs, with no framing, parsing, authentication or policy.
 *
 *   bench-relay flow NPUB NSUB COUNT   NPUB publishers send COUNT messages in all (one write()
 *                                      each); the relay forwards whole messages to every
 *                                      subscriber; prints deliveries, seconds, relay CPU
 *   bench-relay rtt COUNT              client -> relay -> echo -> relay -> client round trips
 *
 * Prints "result ..." lines in the format bench/run reads. */
#include "bench-common.h"

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define MAX_PEERS 64
#define CHUNK (64 * 1024)

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Forwards whole messages from any input to every output until all inputs closed. */
static void relay(int *in, int nin, int *out, int nout)
{
	struct pollfd p[MAX_PEERS];
	static char buf[MAX_PEERS][CHUNK + BENCH_MSG_SIZE];
	size_t have[MAX_PEERS] = { 0 };
	int open = nin;

	for (int i = 0; i < nin; i++)
		p[i] = (struct pollfd){ .fd = in[i], .events = POLLIN };
	while (open > 0) {
		if (poll(p, (nfds_t)nin, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (int i = 0; i < nin; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t r = read(p[i].fd, buf[i] + have[i], CHUNK);
			if (r <= 0) {
				p[i].fd = -1;
				open--;
				continue;
			}
			have[i] += (size_t)r;
			size_t whole = have[i] - have[i] % BENCH_MSG_SIZE;
			for (int o = 0; o < nout; o++)
				if (write_all(out[o], buf[i], whole) < 0)
					_exit(1);
			memmove(buf[i], buf[i] + whole, have[i] - whole);
			have[i] -= whole;
		}
	}
	for (int o = 0; o < nout; o++)
		close(out[o]);
	_exit(0);
}

static void publisher(int fd, int go, uint64_t count)
{
	char msg[BENCH_MSG_SIZE + 64];
	char c;

	bench_message(msg, sizeof(msg), "bench.msg");
	if (read(go, &c, 1) < 0)
		_exit(1);
	for (uint64_t i = 0; i < count; i++)
		if (write_all(fd, msg, BENCH_MSG_SIZE) < 0)
			_exit(1);
	_exit(0);
}

static void subscriber(int fd, int report)
{
	static char buf[CHUNK];
	uint64_t bytes = 0, last = 0;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		bytes += (uint64_t)r;
		last = bench_now_ns();
	}
	uint64_t res[2] = { bytes / BENCH_MSG_SIZE, last };
	if (write(report, res, sizeof(res)) != sizeof(res))
		_exit(1);
	_exit(0);
}

static uint64_t cpu_us(const struct rusage *ru)
{
	return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
}

static int cmd_flow(int npub, int nsub, uint64_t count)
{
	int pin[MAX_PEERS], pout[MAX_PEERS], sin[MAX_PEERS], sout[MAX_PEERS], go[2], rep[2];
	pid_t relay_pid, kids[2 * MAX_PEERS];
	int nk = 0;

	if (npub < 1 || nsub < 1 || npub > MAX_PEERS || nsub > MAX_PEERS || pipe(go) < 0 || pipe(rep) < 0)
		return 1;
	for (int i = 0; i < npub; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			return 1;
		pin[i] = sv[0];
		pout[i] = sv[1];
	}
	for (int i = 0; i < nsub; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			return 1;
		sin[i] = sv[0];
		sout[i] = sv[1];
	}
	relay_pid = fork();
	if (relay_pid == 0) {
		close(go[1]);
		for (int i = 0; i < npub; i++)
			close(pout[i]);
		for (int i = 0; i < nsub; i++)
			close(sin[i]);
		relay(pin, npub, sout, nsub);
	}
	for (int i = 0; i < npub; i++)
		close(pin[i]);
	for (int i = 0; i < nsub; i++)
		close(sout[i]);
	for (int i = 0; i < nsub; i++) {
		pid_t k = fork();
		if (k == 0) {
			close(go[1]);
			for (int j = 0; j < npub; j++)
				close(pout[j]);
			subscriber(sin[i], rep[1]);
		}
		kids[nk++] = k;
		close(sin[i]);
	}
	for (int i = 0; i < npub; i++) {
		pid_t k = fork();
		if (k == 0 && close(go[1]) == 0)
			publisher(pout[i], go[0], count / (uint64_t)npub + (i < (int)(count % (uint64_t)npub)));
		kids[nk++] = k;
		close(pout[i]);
	}
	bench_ready();
	bench_wait_go();
	uint64_t t0 = bench_now_ns();
	close(go[1]);  /* EOF releases every publisher */
	uint64_t delivered = 0, last = 0;
	for (int i = 0; i < nsub; i++) {
		uint64_t res[2];
		if (read(rep[0], res, sizeof(res)) != sizeof(res))
			return 1;
		delivered += res[0];
		if (res[1] > last)
			last = res[1];
	}
	struct rusage ru;
	int st;
	if (wait4(relay_pid, &st, 0, &ru) < 0)
		return 1;
	for (int i = 0; i < nk; i++)
		waitpid(kids[i], &st, 0);
	printf("result count=%llu first_ns=%llu last_ns=%llu broker_cpu_us=%llu\n", (unsigned long long)delivered,
	       (unsigned long long)t0, (unsigned long long)last, (unsigned long long)cpu_us(&ru));
	return 0;
}

static int cmd_rtt(uint64_t count)
{
	int c[2], e[2];
	uint64_t *lat = calloc(count ? count : 1, sizeof(*lat));
	char msg[BENCH_MSG_SIZE + 64], buf[BENCH_MSG_SIZE];

	if (!lat || socketpair(AF_UNIX, SOCK_STREAM, 0, c) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, e) < 0)
		return 1;
	pid_t r = fork();
	if (r == 0) {
		/* Relay: client <-> echo, message by message. */
		struct pollfd p[2] = { { .fd = c[1], .events = POLLIN }, { .fd = e[1], .events = POLLIN } };
		for (;;) {
			if (poll(p, 2, -1) < 0)
				continue;
			for (int i = 0; i < 2; i++) {
				if (!(p[i].revents & (POLLIN | POLLHUP)))
					continue;
				ssize_t n = read(p[i].fd, buf, sizeof(buf));
				if (n <= 0 || write_all(p[1 - i].fd, buf, (size_t)n) < 0)
					_exit(0);
			}
		}
	}
	pid_t k = fork();
	if (k == 0) {
		close(c[0]);
		close(c[1]);
		close(e[1]);
		for (;;) {
			size_t got = 0;
			while (got < BENCH_MSG_SIZE) {
				ssize_t n = read(e[0], buf + got, BENCH_MSG_SIZE - got);
				if (n <= 0)
					_exit(0);
				got += (size_t)n;
			}
			if (write_all(e[0], buf, BENCH_MSG_SIZE) < 0)
				_exit(0);
		}
	}
	close(c[1]);
	close(e[0]);
	close(e[1]);
	bench_message(msg, sizeof(msg), "bench.req");
	bench_ready();
	bench_wait_go();
	size_t i;
	for (i = 0; i < count; i++) {
		uint64_t t0 = bench_now_ns();
		size_t got = 0;
		if (write_all(c[0], msg, BENCH_MSG_SIZE) < 0)
			break;
		while (got < BENCH_MSG_SIZE) {
			ssize_t n = read(c[0], buf + got, BENCH_MSG_SIZE - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got < BENCH_MSG_SIZE)
			break;
		lat[i] = bench_now_ns() - t0;
	}
	close(c[0]);
	int st;
	kill(r, SIGTERM);
	kill(k, SIGTERM);
	waitpid(r, &st, 0);
	waitpid(k, &st, 0);
	bench_print_latency(lat, i, i == count ? "end=ok" : "end=error");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && strcmp(argv[1], "flow") == 0)
		return cmd_flow((int)bench_arg_ul(argv[2]), (int)bench_arg_ul(argv[3]), bench_arg_ul(argv[4]));
	if (argc == 3 && strcmp(argv[1], "rtt") == 0)
		return cmd_rtt(bench_arg_ul(argv[2]));
	fprintf(stderr, "usage: bench-relay flow NPUB NSUB COUNT | bench-relay rtt COUNT\n");
	return 1;
}
