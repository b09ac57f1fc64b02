/* SPDX-License-Identifier: MIT */
/* bench-ws-relay.c - the WebSocket floor for bench/run: a libwebsockets server that forwards
 * every text message to every other client, with no authentication, parsing or policy.
 *
 * Trust: a benchmark tool; it listens on a loopback port bench/run chose and serves only the
 * benchmark's own clients (bench-ws). It does what capbus-gateway does per message (one lws
 * receive, one lws write per recipient) and nothing else, so the difference to the gateway is
 * the cost of the bus behind it.
 *
 *   bench-ws-relay PORT      listens on 127.0.0.1:PORT, prints "ready", serves until killed
 *
 * Each message is stored once, reference-counted, and queued to every other client; a client's
 * queue is written when lws says the socket is writable. Queues are not bounded: the benchmark
 * sends a known number of messages. */
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELAY_MAX_MSG (1u << 20)

struct msg {
	unsigned refs;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the message */
};

struct qnode {
	struct qnode *next;
	struct msg *m;
};

struct session {
	struct session *next, *prev;
	struct lws *wsi;
	struct qnode *head, *tail;
	unsigned char *rx;
	size_t rx_len;
};

struct relay {
	struct session *sessions;
};

static void msg_unref(struct msg *m)
{
	if (--m->refs == 0)
		free(m);
}

static void enqueue(struct session *s, struct msg *m)
{
	struct qnode *q = malloc(sizeof(*q));

	if (!q)
		return; /* out of memory: this client misses the message, the count shows it */
	q->next = NULL;
	q->m = m;
	m->refs++;
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	lws_callback_on_writable(s->wsi);
}

static void forward(struct relay *r, struct session *from)
{
	struct msg *m = malloc(sizeof(*m) + LWS_PRE + from->rx_len);

	if (!m)
		return;
	m->refs = 1; /* held while it is queued */
	m->len = from->rx_len;
	memcpy(m->buf + LWS_PRE, from->rx, from->rx_len);
	for (struct session *s = r->sessions; s; s = s->next)
		if (s != from)
			enqueue(s, m);
	msg_unref(m);
}

static int write_some(struct session *s)
{
	while (s->head) {
		struct qnode *q = s->head;

		if (lws_write(s->wsi, q->m->buf + LWS_PRE, q->m->len, LWS_WRITE_TEXT) < (int)q->m->len)
			return -1;
		s->head = q->next;
		if (!s->head)
			s->tail = NULL;
		msg_unref(q->m);
		free(q);
		if (lws_send_pipe_choked(s->wsi))
			break;
	}
	if (s->head)
		lws_callback_on_writable(s->wsi);
	return 0;
}

static void session_end(struct relay *r, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (r->sessions == s)
		r->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	while (s->head) {
		struct qnode *q = s->head;

		s->head = q->next;
		msg_unref(q->m);
		free(q);
	}
	free(s->rx);
	s->rx = NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct relay *r = lws_context_user(lws_get_context(wsi));
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		s->next = r->sessions;
		if (r->sessions)
			r->sessions->prev = s;
		r->sessions = s;
		break;
	case LWS_CALLBACK_CLOSED:
		session_end(r, s);
		break;
	case LWS_CALLBACK_RECEIVE: {
		if (lws_frame_is_binary(wsi) || s->rx_len + len > RELAY_MAX_MSG)
			return -1;
		unsigned char *rx = realloc(s->rx, s->rx_len + len + 1);

		if (!rx)
			return -1;
		s->rx = rx;
		memcpy(rx + s->rx_len, in, len);
		s->rx_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			if (s->rx_len)
				forward(r, s);
			s->rx_len = 0;
		}
		break;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return write_some(s);
	default:
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct relay relay = { 0 };
	const struct lws_protocols protocols[] = {
		{ .name = "bench", .callback = callback, .per_session_data_size = sizeof(struct session),
		  .rx_buffer_size = 65536 },
		{ 0 }, /* the end of the list */
	};
	struct lws_context_creation_info info = { 0 };
	char *end = NULL;
	long port = argc == 2 ? strtol(argv[1], &end, 10) : -1;

	if (port <= 0 || port > 65535 || *end) {
		fprintf(stderr, "usage: bench-ws-relay PORT\n");
		return 1;
	}
	lws_set_log_level(LLL_ERR, NULL);
	info.port = (int)port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.user = &relay;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	struct lws_context *ctx = lws_create_context(&info);

	if (!ctx) {
		fprintf(stderr, "bench-ws-relay: cannot listen on 127.0.0.1:%ld\n", port);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	return 0;
}
