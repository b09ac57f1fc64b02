// SPDX-License-Identifier: MIT
/* ws.c - the gateway's libwebsockets side: context, listening vhosts, WebSocket callbacks.
 *
 * Trust level: every byte from a WebSocket peer is untrusted. Admission (lock-out, per-source
 * and total connection limits) runs at accept, before TLS and before any request byte is read;
 * one credential attempt per TCP connection; nothing from the client is read before its bus
 * session is open, and then only whole text messages up to max_message. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "gw-bus.h"
#include "gw-ws.h"
#include "util.h"

uint64_t gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct gw *gw_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void ws_queue_drop(struct gw_conn *conn)
{
	for (struct gw_msg *m = conn->q_head, *n; m; m = n) {
		n = m->next;
		free(m);
	}
	conn->gw->held -= conn->q_bytes + conn->inflight;
	conn->q_head = conn->q_tail = NULL;
	conn->q_bytes = conn->inflight = 0;
}

static void peer_describe(struct gw_peer *p)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (p->has_cgroup) {
		snprintf(p->desc, sizeof(p->desc), "cg:%llu", (unsigned long long)p->cgroup_id);
		return;
	}
	if (p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&p->addr;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
		snprintf(p->desc, sizeof(p->desc), "%s:%u", a, port);
	} else if (p->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&p->addr;
		port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) { /* an IPv4 peer of a dual-stack listener */
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], a, sizeof(a));
			snprintf(p->desc, sizeof(p->desc), "%s:%u", a, port);
			return;
		}
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(p->desc, sizeof(p->desc), "[%s]:%u", a, port);
	} else {
		snprintf(p->desc, sizeof(p->desc), "unknown");
	}
}

void gw_conn_free(struct gw_conn *conn)
{
	struct gw *gw = conn->gw;

	if (conn->state == GW_OPEN || conn->session_ok)
		log_event(LOG_LEVEL_INFO, "gateway_session_closed", "id=%s source=%s in=%llu out=%llu",
			  LOG_Q(conn->dec.id), LOG_Q(conn->peer.desc), (unsigned long long)conn->n_in,
			  (unsigned long long)conn->n_out);
	if (gw->ctx)
		lws_sul_schedule(gw->ctx, 0, &conn->bus_gone, NULL, LWS_SET_TIMER_USEC_CANCEL);
	if (conn->bus_wsi) {
		/* not a child of the WebSocket: closed here, on the next loop turn (lws closes it
		 * itself when the whole context is going) */
		lws_set_opaque_user_data(conn->bus_wsi, NULL);
		if (!gw->exiting)
			lws_set_timeout(conn->bus_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	if (conn->ws)
		lws_set_opaque_user_data(conn->ws, NULL);
	gw_sources_release(gw->sources, &conn->peer.key);
	gw->n_conns--;
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		gw->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	ws_queue_drop(conn);
	gw->held -= conn->rx_len;
	free(conn->rx);
	gw_bus_release(conn);
	sodium_memzero(conn, sizeof(*conn));
	free(conn);
}

/* The client's wsi is being destroyed: a close frame, FIN or RST, an error, a timeout. Whole
 * messages it sent that the gateway accepted may still sit in the bus out-queue (the router
 * reads slower than the client wrote): the conn outlives the client, without it, until they
 * are written or GW_DRAIN_S passes (bus.c); it still counts against max_connections and
 * max_per_source until then. A message still being assembled from fragments was never whole:
 * it is dropped. */
static void ws_gone(struct gw *gw, struct gw_conn *conn)
{
	if (gw->exiting || !conn->bus_wsi || !conn->session_ok || !gw_bus_pending(conn)) {
		gw_conn_free(conn);
		return;
	}
	lws_set_opaque_user_data(conn->ws, NULL);
	conn->ws = NULL;
	conn->state = GW_DRAINING;
	ws_queue_drop(conn);
	conn->gw->held -= conn->rx_len;
	free(conn->rx);
	conn->rx = NULL;
	conn->rx_len = 0;
	gw_bus_drain(conn);
}

/* The conn of a client wsi: its opaque pointer, or the conn bound to it at WSI_CREATE (lws
 * resets the opaque pointer after WSI_CREATE: adoption copies its own, NULL, in). */
static struct gw_conn *conn_of(struct lws *wsi)
{
	struct gw_conn *conn = lws_get_opaque_user_data(wsi);

	if (conn)
		return conn;
	for (conn = gw_of(wsi)->conns; conn; conn = conn->next)
		if (conn->ws == wsi) {
			lws_set_opaque_user_data(wsi, conn);
			return conn;
		}
	return NULL;
}

static bool ratelimited(struct gw *gw)
{
	uint64_t suppressed;

	return !log_ratelimit_ok(&gw->rl, gw_now_ms(), &suppressed);
}

/* Before TLS and before any request byte: is this source let in at all? */
static int filter_connection(struct gw *gw, struct lws *listener, struct lws_filter_network_conn_args *a)
{
	struct gw_peer peer = { 0 };
	const char *vname = lws_get_vhost_name(lws_get_vhost(listener));
	unsigned idx = vname && startswith(vname, "ws") ? (unsigned)atoi(vname + 2) : 0;
	int fd = a->accept_fd;
	uint64_t now = gw_now_ms(), retry = 0;
	char kbuf[64];

	if (fd < 0)
		return 1;
	if (gw->just_admitted && !gw->just_admitted->ws) /* admitted, but lws never made its wsi */
		gw_conn_free(gw->just_admitted);
	gw->just_admitted = NULL;
	memcpy(&peer.addr, &a->cli_addr, sizeof(peer.addr));
	peer.addrlen = a->clilen;
	peer.loopback = gw_addr_is_loopback((const struct sockaddr *)&peer.addr);
	if (gw->cfg.n_allow_from &&
	    !gw_net_match(gw->cfg.allow_from, gw->cfg.n_allow_from, (const struct sockaddr *)&peer.addr)) {
		gw->c.refused_allow_from++;
		return 1;
	}
	if (idx < gw->cfg.n_listen && !gw->cfg.listen[idx].tls && !peer.loopback)
		return 1; /* plain text is for loopback only */
	if (peer.loopback && gw->diag) {
		uint32_t uid;
		if (gw_diag_peer_cgroup(gw->diag, fd, &peer.cgroup_id, &uid) == 0)
			peer.has_cgroup = true;
	}
	if (peer.has_cgroup)
		gw_sources_key_cgroup(peer.cgroup_id, &peer.key);
	else
		gw_sources_key_addr((const struct sockaddr *)&peer.addr, &peer.key);
	peer_describe(&peer);
	if (gw->n_conns >= gw->cfg.max_connections) {
		gw->c.refused_connections++;
		if (!ratelimited(gw))
			log_event(LOG_LEVEL_WARNING, "gateway_refused", "reason=max_connections source=%s", LOG_Q(peer.desc));
		return 1;
	}
	switch (gw_sources_admit(gw->sources, &peer.key, gw->cfg.max_per_source, now, &retry)) {
	case GW_ADMIT_OK:
		break;
	case GW_ADMIT_LOCKED:
		gw->c.refused_locked++;
		if (!ratelimited(gw))
			log_event(LOG_LEVEL_WARNING, "gateway_refused", "reason=locked source=%s retry_ms=%llu",
				  gw_sources_key_str(&peer.key, kbuf, sizeof(kbuf)), (unsigned long long)retry);
		return 1;
	case GW_ADMIT_TOO_MANY:
		gw->c.refused_per_source++;
		if (!ratelimited(gw))
			log_event(LOG_LEVEL_WARNING, "gateway_refused", "reason=max_per_source source=%s",
				  gw_sources_key_str(&peer.key, kbuf, sizeof(kbuf)));
		return 1;
	case GW_ADMIT_FULL:
	default:
		gw->c.refused_full++;
		return 1;
	}
	struct gw_conn *conn = calloc(1, sizeof(*conn));
	if (!conn) {
		gw_sources_release(gw->sources, &peer.key);
		return 1;
	}
	conn->gw = gw;
	conn->peer = peer;
	conn->state = GW_ACCEPTED;
	conn->opened_ms = now;
	conn->next = gw->conns;
	if (gw->conns)
		gw->conns->prev = conn;
	gw->conns = conn;
	gw->n_conns++;
	gw->c.accepted++;
	conn->fd = fd;
	gw->just_admitted = conn;
	return 0;
}

static int http_refuse(struct lws *wsi, unsigned status)
{
	uint8_t buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	static const char realm[] = "Basic realm=\"capbus\"";

	if (lws_add_http_common_headers(wsi, status, "text/plain", 0, &p, end))
		return -1;
	if (status == 401 && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
							  (const unsigned char *)realm, sizeof(realm) - 1, &p, end))
		return -1;
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return 1; /* lws completes the transaction */
}

/* A header into buf (NUL-terminated), or NULL when absent. Overlong values are kept whole up to
 * the buffer, so the decision sees them as overlong. */
static const char *header(struct lws *wsi, enum lws_token_indexes t, char *buf, int n)
{
	if (lws_hdr_total_length(wsi, t) <= 0)
		return NULL;
	if (lws_hdr_copy(wsi, buf, n, t) < 0)
		return "\x01"; /* too long for us: certainly malformed */
	return buf;
}

static int confirm_upgrade(struct gw *gw, struct lws *wsi, struct gw_conn *conn, const char *proto)
{
	char path[512], token[256], auth_arg[64], authz[GW_AUTHORIZATION_MAX + 2], origin[300], host[300], frag[600];
	struct gw_http_req req = { 0 };
	uint64_t now = gw_now_ms();
	char kbuf[64];

	if (!conn || conn->attempted)
		return -1; /* one credential attempt per TCP connection */
	conn->attempted = true;
	if (!proto || !streq(proto, "websocket"))
		return -1;
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
		return http_refuse(wsi, 404);
	req.path = path;
	for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) >= 0; i++) {
		if (startswith(frag, "token=")) {
			if (req.n_token++ == 0) {
				snprintf(token, sizeof(token), "%.*s", (int)sizeof(token) - 1, frag + 6);
				req.token = token;
			}
		} else if (startswith(frag, "auth=") && !req.auth_arg) {
			snprintf(auth_arg, sizeof(auth_arg), "%.*s", (int)sizeof(auth_arg) - 1, frag + 5);
			req.auth_arg = auth_arg;
		}
		if (i > 64)
			break;
	}
	req.authorization = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof(authz));
	req.origin = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
	req.host = header(wsi, WSI_TOKEN_HOST, host, sizeof(host));
	req.tls = lws_is_ssl(wsi);
	gw_auth_decide(&gw->cfg, gw->tokens, gw->diag, &conn->peer, &req, now, &conn->dec);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(authz, sizeof(authz));
	if (conn->dec.http_status == 0)
		return 0;
	if (conn->dec.count_failure) {
		uint32_t failures = 0;
		uint32_t locked = gw_sources_fail(gw->sources, &conn->peer.key, now, &failures);
		gw->c.auth_failed++;
		if (!ratelimited(gw))
			log_event(LOG_LEVEL_WARNING, "gateway_auth_failed", "source=%s status=%d reason=%s tid=%s failures=%u",
				  LOG_Q(conn->peer.desc), conn->dec.http_status, conn->dec.reason,
				  conn->dec.tid[0] ? conn->dec.tid : "-", failures);
		if (locked) {
			gw->c.lockouts++;
			log_event(LOG_LEVEL_WARNING, "gateway_lockout", "source=%s failures=%u seconds=%u",
				  gw_sources_key_str(&conn->peer.key, kbuf, sizeof(kbuf)), failures, locked);
		}
	} else if (!ratelimited(gw)) {
		log_event(LOG_LEVEL_INFO, "gateway_refused", "source=%s status=%d reason=%s", LOG_Q(conn->peer.desc),
			  conn->dec.http_status, conn->dec.reason);
	}
	return http_refuse(wsi, (unsigned)conn->dec.http_status);
}

int gw_ws_queue(struct gw_conn *conn, const void *text, size_t len)
{
	struct gw_msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	if (conn->q_tail)
		conn->q_tail->next = m;
	else
		conn->q_head = m;
	conn->q_tail = m;
	conn->q_bytes += len;
	conn->gw->held += len;
	if (conn->ws)
		lws_callback_on_writable(conn->ws);
	return 0;
}

void gw_ws_end(struct gw_conn *conn, uint16_t code)
{
	if (conn->state == GW_CLOSING || conn->state == GW_DRAINING)
		return;
	conn->state = GW_CLOSING;
	conn->close_code = code;
	if (conn->ws) {
		lws_callback_on_writable(conn->ws);
		/* a client that does not read cannot hold the conn: drop it within 5 s anyway */
		lws_set_timeout(conn->ws, PENDING_TIMEOUT_USER_OK, 5);
	}
}

void gw_ws_opened(struct gw_conn *conn)
{
	if (conn->state == GW_OPEN)
		lws_set_timeout(conn->ws, NO_PENDING_TIMEOUT, 0);
	if (conn->ws_paused) {
		conn->ws_paused = false;
		lws_rx_flow_control(conn->ws, 1);
	}
}

static int close_with(struct lws *wsi, uint16_t code, const char *why)
{
	lws_close_reason(wsi, code, (unsigned char *)why, strlen(why));
	return -1;
}

void gw_memory_full(struct gw_conn *conn, const char *where)
{
	struct gw *gw = conn->gw;

	gw->c.memory_full++;
	if (!ratelimited(gw))
		log_event(LOG_LEVEL_WARNING, "gateway_memory_full", "id=%s source=%s at=%s held=%llu max_buffered=%u",
			  LOG_Q(conn->dec.id), LOG_Q(conn->peer.desc), where, (unsigned long long)gw->held,
			  gw->cfg.max_buffered);
}

/* Over the budget: the connection goes, and its unfinished message is given back at once (the
 * closing handshake may take a while). */
static int refuse_memory(struct gw_conn *conn, struct lws *wsi, const char *where)
{
	gw_memory_full(conn, where);
	conn->gw->held -= conn->rx_len;
	free(conn->rx);
	conn->rx = NULL;
	conn->rx_len = 0;
	conn->state = GW_CLOSING;
	return close_with(wsi, 1011, "gateway busy");
}

/* What one source may hold: a quarter of max_buffered, and at least three max_message (what a
 * client reading large messages in a row needs: one lws is sending, one queued, one arriving). */
static uint64_t source_share(const struct gw *gw)
{
	uint64_t q = gw->cfg.max_buffered / 4, m = 3 * (uint64_t)gw->max_message;

	return q > m ? q : m;
}

/* Bytes held for one source's connections (asked only once the whole budget passes a share). */
static uint64_t source_held(const struct gw *gw, const struct gw_source_key *key)
{
	uint64_t sum = 0;

	for (const struct gw_conn *c = gw->conns; c; c = c->next)
		if (!memcmp(&c->peer.key, key, sizeof(*key)))
			sum += c->rx_len + c->bout_cap + c->bin_cap + c->q_bytes + c->inflight;
	return sum;
}

int gw_budget_check(const struct gw_conn *conn, uint64_t more)
{
	const struct gw *gw = conn->gw;

	if (gw->held + more > gw->cfg.max_buffered)
		return -ENOSPC;
	if (gw->held + more > source_share(gw) && source_held(gw, &conn->peer.key) + more > source_share(gw))
		return -EDQUOT;
	return 0;
}

static int on_receive(struct gw *gw, struct lws *wsi, struct gw_conn *conn, const uint8_t *in, size_t len)
{
	size_t limit = conn->state == GW_CHALLENGE_WAIT ? GW_CHALLENGE_MSG_MAX : gw->max_message;

	if (conn->state != GW_OPEN && conn->state != GW_CHALLENGE_WAIT)
		return 0; /* closing: ignore */
	if (lws_frame_is_binary(wsi))
		return close_with(wsi, 1003, "text messages only");
	if (conn->rx_len + len > limit) {
		gw->c.too_big++;
		log_event(LOG_LEVEL_WARNING, "gateway_message_too_big", "id=%s source=%s limit=%zu",
			  LOG_Q(conn->dec.id), LOG_Q(conn->peer.desc), limit);
		return close_with(wsi, 1009, "message too big");
	}
	/* every client's messages together stay within max_buffered, far below the memory the
	 * gateway's cgroup allows, and no source holds the budget to shut everyone else out */
	int over = gw_budget_check(conn, len);
	if (over)
		return refuse_memory(conn, wsi, over == -ENOSPC ? "receive" : "receive_source");
	if (len) {
		uint8_t *p = realloc(conn->rx, conn->rx_len + len);
		if (!p)
			return -1;
		conn->rx = p;
		memcpy(conn->rx + conn->rx_len, in, len);
		conn->rx_len += len;
		gw->held += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	size_t n = conn->rx_len;
	conn->rx_len = 0;
	gw->held -= n;
	if (n == 0)
		return 0; /* an empty message is no bus message; Mycroft clients never send one */
	if (conn->state == GW_CHALLENGE_WAIT) {
		if (gw_bus_challenge_answer(conn, (const char *)conn->rx, n) < 0) {
			gw_sources_fail(gw->sources, &conn->peer.key, gw_now_ms(), NULL);
			gw->c.auth_failed++;
			log_event(LOG_LEVEL_WARNING, "gateway_auth_failed", "source=%s method=challenge reason=challenge",
				  LOG_Q(conn->peer.desc));
			return close_with(wsi, 1008, "expected capbus.auth");
		}
		return 0;
	}
	int r = gw_bus_send(conn, conn->rx, n);
	if (r == -ENOBUFS) {
		conn->ws_paused = true;
		lws_rx_flow_control(wsi, 0);
	} else if (r < 0) {
		return -1;
	}
	if (n > 65536) { /* do not keep a large buffer per idle client */
		free(conn->rx);
		conn->rx = NULL;
	}
	return 0;
}

static int on_writeable(struct gw *gw, struct lws *wsi, struct gw_conn *conn)
{
	struct gw_msg *m = conn->q_head;

	/* lws keeps what the socket did not take of the last message in a buffer of its own: it
	 * stays counted until lws has sent it all */
	if (lws_partial_buffered(wsi)) {
		lws_callback_on_writable(wsi); /* called again once lws has sent it */
		return 0;
	}
	gw->held -= conn->inflight;
	conn->inflight = 0;
	if (m) {
		conn->q_head = m->next;
		if (!conn->q_head)
			conn->q_tail = NULL;
		conn->q_bytes -= m->len;
		conn->inflight = m->len; /* moved from the queue to lws: held unchanged */
		int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		free(m);
		if (n < 0)
			return -1;
		if (conn->bus_paused && conn->q_bytes < GW_QUEUE_LOW && conn->bus_wsi) {
			conn->bus_paused = false;
			lws_rx_flow_control(conn->bus_wsi, 1);
		}
		if (conn->q_head) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	if (conn->state == GW_CLOSING) {
		if (conn->close_code)
			return close_with(wsi, conn->close_code, "");
		return -1; /* no close frame: the client's library reports an error and reconnects */
	}
	return 0;
}

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw *gw = gw_of(wsi);
	struct gw_conn *conn;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return filter_connection(gw, wsi, user);
	case LWS_CALLBACK_WSI_CREATE:
		/* lws creates the accepted connection's wsi right after the filter admitted it (its fd
		 * is not set yet): bind now, so WSI_DESTROY frees the conn even when the peer closes
		 * before sending anything */
		conn = gw->just_admitted;
		gw->just_admitted = NULL;
		if (conn && !conn->ws)
			conn->ws = wsi;
		return 0;
	case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
		conn_of(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(gw, wsi, conn_of(wsi), in);
	case LWS_CALLBACK_HTTP:
		conn = conn_of(wsi);
		if (!conn || conn->attempted)
			return -1;
		conn->attempted = true;
		lws_return_http_status(wsi, 426, NULL);
		return -1;
	case LWS_CALLBACK_ESTABLISHED:
		conn = conn_of(wsi);
		if (!conn || conn->dec.http_status || !conn->dec.method)
			return -1;
		conn->ws = wsi;
		conn->state = GW_BUS_WAIT;
		conn->ws_paused = true;
		lws_rx_flow_control(wsi, 0);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
				(int)((gw->cfg.handshake_timeout_ms + 999) / 1000));
		if (gw_bus_open(conn) < 0) {
			gw->c.bus_lost++;
			log_event(LOG_LEVEL_WARNING, "gateway_bus_unreachable", "id=%s source=%s", LOG_Q(conn->dec.id),
				  LOG_Q(conn->peer.desc));
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RECEIVE:
		conn = conn_of(wsi);
		return conn ? on_receive(gw, wsi, conn, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		conn = conn_of(wsi);
		return conn ? on_writeable(gw, wsi, conn) : -1;
	case LWS_CALLBACK_WSI_DESTROY:
		conn = conn_of(wsi);
		if (conn && conn->ws == wsi)
			ws_gone(gw, conn);
		return 0;
	default:
		return 0;
	}
}

/* Token store changes: a session whose token vanished was revoked. */
static void sweep_revoked(struct gw *gw)
{
	bool changed = false;

	if (!gw->tokens || gw_tokens_refresh(gw->tokens, &changed) < 0 || !changed)
		return;
	for (struct gw_conn *c = gw->conns; c; c = c->next)
		if (c->dec.method == GW_M_TOKEN && c->dec.tid[0] && c->state != GW_CLOSING && c->state != GW_DRAINING &&
		    !gw_tokens_live(gw->tokens, c->dec.tid)) {
			log_event(LOG_LEVEL_INFO, "gateway_token_revoked", "id=%s tid=%s", LOG_Q(c->dec.id), c->dec.tid);
			gw_ws_end(c, 1008);
		}
}

/* A connection that has not completed its upgrade within the handshake timeout is cut: lws's
 * own idle timer for a connection that sends nothing is longer, and a request trickled byte by
 * byte would hold a slot. */
static void sweep_slow(struct gw *gw, uint64_t now)
{
	for (struct gw_conn *c = gw->conns; c; c = c->next)
		if (c->state == GW_ACCEPTED && c->ws && !c->cut && now - c->opened_ms > gw->cfg.handshake_timeout_ms) {
			c->cut = true;
			lws_set_timeout(c->ws, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		}
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct gw *gw = lws_container_of(sul, struct gw, tick);
	uint64_t now = gw_now_ms();

	sweep_revoked(gw);
	sweep_slow(gw, now);
	if (now - gw->last_stats_ms >= 60000) {
		gw_ws_log_stats(gw);
		gw->last_stats_ms = now;
	}
	lws_sul_schedule(gw->ctx, 0, &gw->tick, tick, 250000);
}

void gw_ws_log_stats(struct gw *gw)
{
	struct gw_sources_stats st;

	gw_sources_get_stats(gw->sources, gw_now_ms(), &st);
	log_event(LOG_LEVEL_INFO, "gateway_stats",
		  "connections=%u accepted=%llu sessions=%llu auth_failed=%llu lockouts=%llu refused_locked=%llu "
		  "refused_per_source=%llu refused_full=%llu refused_connections=%llu refused_allow_from=%llu "
		  "delegation_refused=%llu too_big=%llu bus_lost=%llu drained=%llu drain_dropped=%llu sources_used=%llu "
		  "sources_locked=%llu lockout_evictions=%llu memory_full=%llu held=%llu",
		  gw->n_conns, (unsigned long long)gw->c.accepted, (unsigned long long)gw->c.sessions,
		  (unsigned long long)gw->c.auth_failed, (unsigned long long)gw->c.lockouts,
		  (unsigned long long)gw->c.refused_locked, (unsigned long long)gw->c.refused_per_source,
		  (unsigned long long)gw->c.refused_full, (unsigned long long)gw->c.refused_connections,
		  (unsigned long long)gw->c.refused_allow_from, (unsigned long long)gw->c.delegation_refused,
		  (unsigned long long)gw->c.too_big, (unsigned long long)gw->c.bus_lost, (unsigned long long)gw->c.drained,
		  (unsigned long long)gw->c.drain_dropped, (unsigned long long)st.used,
		  (unsigned long long)st.locked, (unsigned long long)st.evictions, (unsigned long long)gw->c.memory_full, (unsigned long long)gw->held);
}

static void lws_log_emit(int level, const char *line)
{
	char buf[256];
	size_t n = strlen(line);

	/* lws lines never carry request URIs at ERR|WARN; quote them all the same */
	snprintf(buf, sizeof(buf), "%.*s", (int)(n && line[n - 1] == '\n' ? n - 1 : n), line);
	log_event(level == LLL_ERR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARNING, "gateway_lws", "msg=%s", LOG_Q(buf));
}

static const struct lws_protocols ws_protocols[] = {
	/* index 0: what an upgrade without Sec-WebSocket-Protocol binds to (Mycroft clients send none) */
	{ "capbus", cb_ws, 0, 65536, 0, NULL, 65536 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};
static const struct lws_protocols bus_protocols[] = {
	{ "capbus-bus", gw_bus_callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};
static const lws_retry_bo_t retry = { .secs_since_valid_ping = 60, .secs_since_valid_hangup = 90 };

int gw_ws_create(struct gw *gw, char *err, size_t errlen)
{
	struct lws_context_creation_info info = { 0 };

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.timeout_secs = (gw->cfg.handshake_timeout_ms + 999) / 1000;
	info.fd_limit_per_thread = 2 * gw->cfg.max_connections + 32;
	info.max_http_header_data = 4096;
	info.max_http_header_pool = 64;
	info.pt_serv_buf_size = 65536;
	info.uid = -1;
	info.gid = -1;
	info.user = gw;
	gw->ctx = lws_create_context(&info);
	if (!gw->ctx) {
		snprintf(err, errlen, "lws_create_context failed");
		return -ENOMEM;
	}
	for (size_t i = 0; i < gw->cfg.n_listen; i++) {
		const struct gw_listen *l = &gw->cfg.listen[i];
		/* lws keeps the name pointer, not a copy: names that outlive this loop. The
		 * connection filter finds the listener's entry by it. */
		static const char *const names[GW_LISTEN_MAX] = { "ws0", "ws1", "ws2", "ws3", "ws4", "ws5", "ws6", "ws7" };
		struct lws_context_creation_info v = { 0 };

		v.vhost_name = names[i];
		v.iface = l->addr;
		v.port = l->port;
		v.protocols = ws_protocols;
		v.retry_and_idle_policy = &retry;
		v.keepalive_timeout = (int)((gw->cfg.handshake_timeout_ms + 999) / 1000);
		v.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
		/* An IPv4 address on a dual-stack socket would be the wildcard: lws binds an IPv6 socket
		 * and does not map the IPv4 literal, so 127.0.0.1 listened on every address. IPv4 gets an
		 * IPv4 socket bound to exactly that address, IPv6 a V6ONLY one. */
		if (l->family == AF_INET6)
			v.options |= LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE;
		else
			v.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
		if (l->tls) {
			v.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
			if (gw->tls_cert_pem && gw->tls_key_pem) {
				v.server_ssl_cert_mem = gw->tls_cert_pem;
				v.server_ssl_cert_mem_len = (unsigned)gw->tls_cert_len;
				v.server_ssl_private_key_mem = gw->tls_key_pem;
				v.server_ssl_private_key_mem_len = (unsigned)gw->tls_key_len;
			} else {
				v.ssl_cert_filepath = gw->cfg.tls_cert;
				v.ssl_private_key_filepath = gw->cfg.tls_key;
			}
			v.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
			v.ssl_cipher_list = "ECDHE+AESGCM:ECDHE+CHACHA20";
		}
		if (!lws_create_vhost(gw->ctx, &v)) {
			snprintf(err, errlen, "gateway.listen[%zu]: cannot listen on %s:%u%s", i, l->addr, l->port,
				 l->tls ? " with the configured TLS certificate and key" : "");
			return -EADDRNOTAVAIL;
		}
		if (!l->tls)
			log_event(LOG_LEVEL_WARNING, "gateway_plain_loopback", "listen=%s:%u", l->addr, l->port);
	}
	struct lws_context_creation_info b = { 0 };
	b.vhost_name = "bus";
	b.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	b.protocols = bus_protocols;
	gw->bus_vh = lws_create_vhost(gw->ctx, &b);
	if (!gw->bus_vh) {
		snprintf(err, errlen, "cannot create the bus vhost");
		return -ENOMEM;
	}
	gw->last_stats_ms = gw_now_ms();
	lws_sul_schedule(gw->ctx, 0, &gw->tick, tick, LWS_US_PER_SEC);
	return 0;
}

void gw_ws_destroy(struct gw *gw)
{
	gw->exiting = true; /* queued messages of clients still connected are dropped at exit */
	if (gw->ctx)
		lws_context_destroy(gw->ctx);
	gw->ctx = NULL;
	if (gw->just_admitted && !gw->just_admitted->ws)
		gw_conn_free(gw->just_admitted);
	gw->just_admitted = NULL;
	/* lws ended every wsi, and each conn ends with its last one: a conn left is a bug. Say so
	 * (tests look for it) and free it without touching the wsis lws has freed. */
	while (gw->conns) {
		struct gw_conn *c = gw->conns;
		log_event(LOG_LEVEL_ERROR, "gateway_conn_left", "id=%s state=%d", LOG_Q(c->dec.id), (int)c->state);
		c->ws = c->bus_wsi = NULL;
		gw_conn_free(c);
	}
}
