/* SPDX-License-Identifier: MIT */
/* bench-ws.c - WebSocket benchmark client: publisher, subscriber, echo and caller over plain ws://.
 *
 * Trust: a benchmark tool run by bench/run against servers it started itself (capbus-gateway or
 * bench-ws-relay); the server's frames are parsed with bounds checks but not distrusted further.
 * A minimal RFC 6455 client on a blocking TCP socket (no TLS, no extensions), so its own cost is
 * small and the same for both servers.
 *
 *   bench-ws sub  HOST PORT PATH GREETING EXPECT IDLE_MS   count "bench.msg" messages
 *   bench-ws pub  HOST PORT PATH GREETING COUNT            send COUNT "bench.msg" after go,
 *                                                         then stay connected 3 s
 *   bench-ws echo HOST PORT PATH GREETING                  answer each bench.req with bench.reply
 *   bench-ws call HOST PORT PATH GREETING COUNT            COUNT round trips, one at a time
 *
 * PATH is the request target (for the gateway "/core?token=..."). GREETING 1: wait for the
 * gateway's "connected" message before saying ready (the session is open only then); 0: the
 * relay sends none. Line protocol with bench/run: bench-common.h. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bench-common.h"

#define WS_MAX_MSG (1u << 20)
#define PUB_LINGER_MS 3000

struct ws {
	int fd;
	unsigned char in[1 << 16];
	size_t in_len, in_off;
	char *msg;          /* the last complete text message, NUL-terminated */
	size_t msg_len;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Fills the input buffer; timeout_ms < 0 blocks. Returns 1 on data, 0 on timeout, -1 at the end. */
static int fill(struct ws *w, int timeout_ms)
{
	if (w->in_off == w->in_len)
		w->in_off = w->in_len = 0;
	if (w->in_off > 0 && w->in_len == sizeof(w->in)) {
		memmove(w->in, w->in + w->in_off, w->in_len - w->in_off);
		w->in_len -= w->in_off;
		w->in_off = 0;
	}
	if (timeout_ms >= 0) {
		struct pollfd p = { .fd = w->fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);

		if (r == 0)
			return 0;
		if (r < 0)
			return -1;
	}
	ssize_t n = read(w->fd, w->in + w->in_len, sizeof(w->in) - w->in_len);

	if (n <= 0)
		return -1;
	w->in_len += (size_t)n;
	return 1;
}

static int need(struct ws *w, size_t n, int timeout_ms)
{
	while (w->in_len - w->in_off < n) {
		int r = fill(w, timeout_ms);

		if (r <= 0)
			return r;
	}
	return 1;
}

/* One frame to the server: FIN, the opcode, masked as a client must. */
static int ws_send(struct ws *w, int opcode, const char *data, size_t len)
{
	unsigned char hdr[14], mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t h = 0;
	char stack[BENCH_MSG_SIZE * 2];
	char *body = len <= sizeof(stack) ? stack : malloc(len);

	if (!body)
		return -1;
	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		hdr[h++] = (unsigned char)(0x80 | len);
	} else if (len <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	memcpy(hdr + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		body[i] = (char)(data[i] ^ mask[i & 3]);
	struct iovec iov[2] = { { hdr, h }, { body, len } };
	ssize_t want = (ssize_t)(h + len), n = writev(w->fd, iov, 2);
	int r = 0;

	if (n < 0)
		r = -1;
	else if (n < want)  /* a short write: send the rest in order */
		r = (size_t)n < h ? (write_all(w->fd, hdr + n, h - (size_t)n) || write_all(w->fd, body, len))
				  : write_all(w->fd, body + ((size_t)n - h), want - n);
	if (body != stack)
		free(body);
	return r;
}

/* The next text message into w->msg. Returns 1, 0 on timeout (only before a frame starts),
 * -1 when the connection ended (close frame, EOF, error). Pings are answered. */
static int ws_recv(struct ws *w, int timeout_ms)
{
	w->msg_len = 0;
	for (;;) {
		int r = need(w, 2, timeout_ms);

		if (r <= 0)
			return r;
		unsigned char *p = w->in + w->in_off;
		int op = p[0] & 0x0f;
		bool fin = p[0] & 0x80;
		uint64_t len = p[1] & 0x7f;
		size_t h = 2;

		if (p[1] & 0x80)
			return -1;  /* a server never masks */
		if (len == 126)
			h += 2;
		else if (len == 127)
			h += 8;
		if (need(w, h, -1) <= 0)
			return -1;
		p = w->in + w->in_off;
		if (len == 126)
			len = (uint64_t)p[2] << 8 | p[3];
		else if (len == 127) {
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
		}
		if (len > WS_MAX_MSG || w->msg_len + len > WS_MAX_MSG)
			return -1;
		w->in_off += h;
		char *dst = NULL;

		if (op == 0 || op == 1) {
			char *m = realloc(w->msg, w->msg_len + len + 1);

			if (!m)
				return -1;
			w->msg = m;
			dst = m + w->msg_len;
		}
		char ctl[125];
		size_t got = 0;

		if (op >= 8) {
			if (len > sizeof(ctl))
				return -1;
			dst = ctl;
		}
		while (got < len) {
			size_t have = w->in_len - w->in_off, take = have < len - got ? have : (size_t)(len - got);

			if (dst)
				memcpy(dst + got, w->in + w->in_off, take);
			w->in_off += take;
			got += take;
			if (got < len && fill(w, -1) <= 0)
				return -1;
		}
		if (op == 8)
			return -1;
		if (op == 9) {
			if (ws_send(w, 10, ctl, len))
				return -1;
			continue;
		}
		if (op != 0 && op != 1)
			continue;
		w->msg_len += len;
		w->msg[w->msg_len] = 0;
		if (fin)
			return 1;
	}
}

static struct ws *ws_connect(const char *host, const char *port, const char *path)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct ws *w = calloc(1, sizeof(*w));
	char req[4096];
	int one = 1;

	if (!w || getaddrinfo(host, port, &hints, &ai) != 0)
		goto fail;
	w->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->fd < 0 || connect(w->fd, ai->ai_addr, ai->ai_addrlen) != 0)
		goto fail;
	freeaddrinfo(ai);
	ai = NULL;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 path, host, port);
	if (n < 0 || (size_t)n >= sizeof(req) || write_all(w->fd, req, (size_t)n))
		goto fail;
	/* The response head, up to the blank line; what follows stays in the buffer. */
	for (;;) {
		if (fill(w, 10000) <= 0)
			goto fail;
		unsigned char *end = memmem(w->in, w->in_len, "\r\n\r\n", 4);

		if (end) {
			if (w->in_len < 12 || memcmp(w->in, "HTTP/1.1 101", 12) != 0) {
				fprintf(stderr, "bench-ws: upgrade refused: %.*s\n", (int)(end - w->in), w->in);
				goto fail;
			}
			w->in_off = (size_t)(end - w->in) + 4;
			return w;
		}
		if (w->in_len == sizeof(w->in))
			goto fail;
	}
fail:
	fprintf(stderr, "bench-ws: cannot connect to %s:%s%s: %s\n", host, port, path, strerror(errno));
	if (ai)
		freeaddrinfo(ai);
	exit(2);
}

static void ws_close(struct ws *w)
{
	close(w->fd);
	free(w->msg);
	free(w);
}

/* Whether a message has this type. A substring test is enough here: the bench messages carry no
 * other "type" member, and the router may put the members in any order. */
static bool msg_is(const struct ws *w, const char *type)
{
	char want[64];
	int n = snprintf(want, sizeof(want), "\"type\":\"%s\"", type);

	return w->msg_len >= (size_t)n && memmem(w->msg, w->msg_len, want, (size_t)n) != NULL;
}

static struct ws *open_ready(char **argv)
{
	struct ws *w = ws_connect(argv[0], argv[1], argv[2]);

	if (strcmp(argv[3], "1") == 0) {
		/* The gateway's session is open once its greeting arrives. */
		do {
			if (ws_recv(w, 20000) <= 0) {
				fprintf(stderr, "bench-ws: no greeting\n");
				exit(2);
			}
		} while (!msg_is(w, "connected"));
	}
	return w;
}

static int cmd_sub(char **argv)
{
	struct ws *w = open_ready(argv);
	uint64_t expect = bench_arg_ul(argv[4]);
	int idle_ms = (int)bench_arg_ul(argv[5]), r = 1;
	struct bench_count c = { 0 };
	size_t bytes = 0;

	bench_ready();
	while (c.n < expect) {
		r = ws_recv(w, c.n ? idle_ms : 120000);
		if (r <= 0)
			break;
		if (!msg_is(w, "bench.msg"))
			continue;
		if (bytes == 0)
			bytes = w->msg_len;
		bench_count_one(&c);
	}
	char extra[96];

	snprintf(extra, sizeof(extra), "bytes=%zu end=%s", bytes, r > 0 ? "ok" : r == 0 ? "idle" : "closed");
	bench_print_count(&c, extra);
	ws_close(w);
	return 0;
}

static int cmd_pub(char **argv)
{
	struct ws *w = open_ready(argv);
	uint64_t count = bench_arg_ul(argv[4]), sent = 0;
	char msg[BENCH_MSG_SIZE + 64];
	size_t len;

	bench_message(msg, sizeof(msg), "bench.msg");
	len = strlen(msg);
	bench_ready();
	bench_wait_go();
	uint64_t start = bench_now_ns();

	while (sent < count && ws_send(w, 1, msg, len) == 0)
		sent++;
	uint64_t end = bench_now_ns();

	printf("result sent=%llu start_ns=%llu end_ns=%llu cpu_us=%llu code=%s\n", (unsigned long long)sent,
	       (unsigned long long)start, (unsigned long long)end, bench_cpu_us(), sent == count ? "-" : "write");
	/* Stay connected a while: capbus-gateway drops what it still holds for the bus when the
	 * client leaves (up to 1 MiB), and unread input at close() would make the kernel reset the
	 * connection. Then end with a FIN. */
	uint64_t linger_end = bench_now_ns() + PUB_LINGER_MS * 1000000ull;

	while (bench_now_ns() < linger_end && ws_recv(w, 100) >= 0)
		;
	shutdown(w->fd, SHUT_WR);
	while (ws_recv(w, 200) > 0)
		;
	ws_close(w);
	return 0;
}

static int cmd_echo(char **argv)
{
	struct ws *w = open_ready(argv);
	char reply[BENCH_MSG_SIZE + 64];
	size_t len;

	bench_message(reply, sizeof(reply), "bench.reply");
	len = strlen(reply);
	bench_ready();
	while (ws_recv(w, -1) > 0)
		if (msg_is(w, "bench.req") && ws_send(w, 1, reply, len))
			break;
	printf("result echo=done\n");
	ws_close(w);
	return 0;
}

static int cmd_call(char **argv)
{
	struct ws *w = open_ready(argv);
	uint64_t count = bench_arg_ul(argv[4]);
	uint64_t *lat = calloc(count ? count : 1, sizeof(*lat));
	char req[BENCH_MSG_SIZE + 64];
	size_t len, n = 0;
	int r = 1;

	if (!lat)
		return 1;
	bench_message(req, sizeof(req), "bench.req");
	len = strlen(req);
	bench_ready();
	bench_wait_go();
	for (; n < count; n++) {
		uint64_t t0 = bench_now_ns();

		if (ws_send(w, 1, req, len)) {
			r = -1;
			break;
		}
		while ((r = ws_recv(w, 10000)) > 0 && !msg_is(w, "bench.reply"))
			;
		if (r <= 0)
			break;
		lat[n] = bench_now_ns() - t0;
	}
	bench_print_latency(lat, n, r > 0 ? "end=ok" : "end=error");
	free(lat);
	ws_close(w);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct bench_cmd cmds[] = {
		{ "sub", 6, cmd_sub }, { "pub", 5, cmd_pub }, { "echo", 4, cmd_echo }, { "call", 5, cmd_call },
	};

	return bench_dispatch(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]), "bench-ws");
}
