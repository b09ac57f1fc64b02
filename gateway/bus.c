// SPDX-License-Identifier: MIT
/* bus.c - the gateway's bus connections: one per WebSocket, opened with a delegated handshake.
 *
 * Trust level: the router is trusted, but every frame it sends is still length-bounded and, after
 * the handshake, MAC-checked before it is forwarded. Client bytes arrive here only as whole
 * WebSocket text messages already bounded by max_message; they are forwarded verbatim (the router
 * validates JSON, shape and policy, as for a native client). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "frame.h"
#include "gw-bus.h"
#include "util.h"

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	socklen_t salen;

	if (len == 0 || len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (path[0] == '@') {
		memcpy(sa.sun_path + 1, path + 1, len - 1); /* abstract: no trailing NUL */
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		memcpy(sa.sun_path, path, len);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	/* A unix connect completes at once or fails (EAGAIN: the router's backlog is full). */
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		int r = negative_errno();
		close(fd);
		return r;
	}
	return fd;
}

int gw_bus_open(struct gw_conn *conn)
{
	struct gw *gw = conn->gw;
	int fd = dial(gw->cfg.socket);

	if (fd < 0)
		return fd;
	lws_adopt_desc_t ad = {
		.vh = gw->bus_vh,
		.type = LWS_ADOPT_SOCKET,
		.fd.sockfd = fd,
		.vh_prot_name = "capbus-bus",
		/* no parent: lws would close it with the WebSocket, and the messages the client sent
		 * that are still queued for the router would be lost (gw_bus_drain) */
		.opaque = conn,
	};
	conn->bus_wsi = lws_adopt_descriptor_vhost_via_info(&ad);
	if (!conn->bus_wsi)
		return -ENOMEM; /* lws closed fd */
	return 0;
}

/* The bus buffers' allocations count against max_buffered (gw->held) as allocated, not as
 * filled: a buffer keeps its size until shrink() gives it back. */
static int reserve(struct gw_conn *conn, uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	conn->gw->held += n - *cap;
	*buf = p;
	*cap = n;
	return 0;
}

/* An empty buffer above 64 KiB is given back (one large message must not pin it). */
static void shrink(struct gw_conn *conn, uint8_t **buf, size_t *cap)
{
	if (*cap <= 65536)
		return;
	conn->gw->held -= *cap;
	free(*buf);
	*buf = NULL;
	*cap = 0;
}

/* Writes what the socket takes now, and asks for a writable callback for the rest. Writing at
 * once (not only from the callback) keeps the out-queue short while the router keeps up. */
static int flush(struct gw_conn *conn)
{
	if (!conn->bus_wsi || conn->bout_off == conn->bout_len)
		return 0;
	ssize_t n = write(lws_get_socket_fd(conn->bus_wsi), conn->bout + conn->bout_off, conn->bout_len - conn->bout_off);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return negative_errno();
	if (n > 0)
		conn->bout_off += (size_t)n;
	if (conn->bout_off == conn->bout_len) {
		conn->bout_off = conn->bout_len = 0;
		shrink(conn, &conn->bout, &conn->bout_cap);
	} else
		lws_callback_on_writable(conn->bus_wsi);
	return 0;
}

/* Appends one frame (tagged once the session is open) to the bus out-queue. */
static int queue_frame(struct gw_conn *conn, const uint8_t *body, size_t len, bool tagged)
{
	size_t total = FRAME_HEADER_LEN + len + (tagged ? FRAME_TAG_LEN : 0);

	if (conn->bout_off && conn->bout_off == conn->bout_len)
		conn->bout_off = conn->bout_len = 0;
	if (reserve(conn, &conn->bout, &conn->bout_cap, conn->bout_len + total) < 0)
		return -ENOMEM;
	uint8_t *p = conn->bout + conn->bout_len;
	frame_put_header(p, (uint32_t)len);
	memcpy(p + FRAME_HEADER_LEN, body, len);
	if (tagged)
		mac_sign(&conn->session.tx, p, p + FRAME_HEADER_LEN, len, p + FRAME_HEADER_LEN + len);
	conn->bout_len += total;
	return flush(conn);
}

int gw_bus_send(struct gw_conn *conn, const uint8_t *body, size_t len)
{
	if (conn->state != GW_OPEN)
		return -ENOTCONN;
	if (len == 0 || len > conn->gw->max_message)
		return -EMSGSIZE;
	int r = queue_frame(conn, body, len, true);
	if (r < 0)
		return r == -ENOMEM ? r : -EPIPE;
	conn->n_in++;
	return conn->bout_len - conn->bout_off > GW_QUEUE_HIGH ? -ENOBUFS : 0;
}

static void send_dauth(struct gw_conn *conn, const struct hs_delegation *d)
{
	uint8_t out[HS_DAUTH_MAX];
	size_t out_len = 0;

	if (hs_dclient_auth(&conn->hs, conn->gw->key, d, out, &out_len) != HS_OK ||
	    queue_frame(conn, out, out_len, false) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_delegation_error", "id=%s source=%s", LOG_Q(d->subject_id),
			  LOG_Q(conn->peer.desc));
		gw_ws_end(conn, 1011);
	}
	sodium_memzero(out, sizeof(out));
}

static void delegation(struct gw_conn *conn, struct hs_delegation *d, uint8_t via)
{
	memset(d, 0, sizeof(*d));
	d->via = via;
	d->flags = HS_DFLAG_SUB_PERMITTED; /* Mycroft semantics: everything the manifest lets it hear */
	snprintf(d->gateway_id, sizeof(d->gateway_id), "%s", HS_GATEWAY_ID);
	snprintf(d->subject_id, sizeof(d->subject_id), "%s", conn->dec.id);
	snprintf(d->peer, sizeof(d->peer), "%s", conn->peer.desc);
}

static void on_hello(struct gw_conn *conn, const uint8_t *body, size_t len)
{
	conn->hello_done = true;
	if (hs_dclient_hello(&conn->hs, body, len) != HS_OK) {
		log_event(LOG_LEVEL_ERROR, "gateway_bus_hello_bad", "source=%s", LOG_Q(conn->peer.desc));
		gw_ws_end(conn, 0);
		return;
	}
	if (conn->dec.method == GW_M_CHALLENGE) {
		char text[256];
		int n = gw_challenge_format(text, sizeof(text), conn->hs.ns);
		if (n < 0 || gw_ws_queue(conn, text, (size_t)n) < 0) {
			gw_ws_end(conn, 1011);
			return;
		}
		conn->state = GW_CHALLENGE_WAIT;
		gw_ws_opened(conn); /* read the one capbus.auth message */
		return;
	}
	struct hs_delegation d;
	delegation(conn, &d, (uint8_t)conn->dec.method);
	send_dauth(conn, &d);
	sodium_memzero(&d, sizeof(d));
}

int gw_bus_challenge_answer(struct gw_conn *conn, const char *json, size_t len)
{
	struct hs_delegation d;
	char id[HS_ID_MAX + 1];
	uint8_t nc[HS_NONCE_LEN], proof[HS_PROOF_LEN];

	if (gw_challenge_parse(json, len, id, nc, proof) < 0)
		return -EINVAL;
	snprintf(conn->dec.id, sizeof(conn->dec.id), "%s", id);
	delegation(conn, &d, HS_VIA_CHALLENGE);
	memcpy(d.inner_nc, nc, sizeof(nc));
	memcpy(d.inner_proof, proof, sizeof(proof));
	conn->state = GW_BUS_WAIT;
	lws_rx_flow_control(conn->ws, 0);
	conn->ws_paused = true;
	send_dauth(conn, &d);
	sodium_memzero(&d, sizeof(d));
	return 0;
}

static const char *method_name(enum gw_method m)
{
	return m == GW_M_LOCAL ? "local" : m == GW_M_TOKEN ? "token" : m == GW_M_CHALLENGE ? "challenge" : "none";
}

static void on_result(struct gw_conn *conn, const uint8_t *body, size_t len)
{
	struct gw *gw = conn->gw;
	uint8_t inner_sp[HS_PROOF_LEN];
	int status = -1;
	int r = hs_dclient_finish(&conn->hs, body, len, &conn->session, inner_sp, &status);
	bool challenge = conn->dec.method == GW_M_CHALLENGE;

	hs_dclient_clear(&conn->hs);
	if (r != HS_OK) {
		if (status == HS_DSTATUS_NOT_DELEGABLE || status == HS_DSTATUS_CHALLENGE_FAILED) {
			gw->c.delegation_refused++;
			log_event(LOG_LEVEL_WARNING, "gateway_delegation_refused", "id=%s method=%s status=%d source=%s",
				  LOG_Q(conn->dec.id), method_name(conn->dec.method), status, LOG_Q(conn->peer.desc));
			if (challenge) {
				static const char denied[] = "{\"type\":\"bus.error\",\"data\":{\"code\":\"denied\","
							     "\"message\":\"authentication failed\"},\"context\":{}}";
				gw_ws_queue(conn, denied, sizeof(denied) - 1);
				gw_sources_fail(gw->sources, &conn->peer.key, gw_now_ms(), NULL);
				gw->c.auth_failed++;
			}
			gw_ws_end(conn, 1008);
		} else {
			log_event(LOG_LEVEL_ERROR, "gateway_delegation_failed", "id=%s status=%d hint=%s",
				  LOG_Q(conn->dec.id), status,
				  "the daemon refused the gateway's key: check gateway.supervise and --key");
			gw_ws_end(conn, 1011);
		}
		return;
	}
	conn->session_ok = true;
	conn->state = GW_OPEN;
	gw->c.sessions++;
	gw_sources_success(gw->sources, &conn->peer.key);
	log_event(LOG_LEVEL_INFO, "gateway_session_open", "id=%s method=%s source=%s tid=%s",
		  LOG_Q(conn->dec.id), method_name(conn->dec.method),
		  LOG_Q(conn->peer.desc), conn->dec.tid[0] ? conn->dec.tid : "-");
	if (challenge) {
		char text[256];
		int n = gw_authenticated_format(text, sizeof(text), conn->dec.id, inner_sp);
		if (n > 0)
			gw_ws_queue(conn, text, (size_t)n);
	}
	sodium_memzero(inner_sp, sizeof(inner_sp));
	if (gw->cfg.greeting) {
		static const char hi[] = "{\"type\":\"connected\",\"data\":{},\"context\":{}}";
		gw_ws_queue(conn, hi, sizeof(hi) - 1);
	}
	gw_ws_opened(conn);
}

/* Frames in the bus in-buffer: handshake bodies untagged, then tagged messages to the client. */
static int consume(struct gw_conn *conn)
{
	size_t off = 0;
	/* A delivered copy carries context.sender and may pass max_frame; the router never sends a
	 * body above the protocol's hard cap. */
	uint32_t max = FRAME_MAX_BODY_HARD;

	while (off < conn->bin_len && conn->state != GW_CLOSING) {
		struct frame_view f;
		size_t needed;
		bool tagged = conn->session_ok;
		int r = frame_parse(conn->bin + off, conn->bin_len - off, max, tagged ? FRAME_TAG_LEN : 0, &f, &needed);
		if (r == FRAME_INCOMPLETE)
			break;
		if (r != FRAME_OK)
			return -EPROTO;
		if (!tagged) {
			if (conn->state == GW_BUS_WAIT && !conn->hello_done)
				on_hello(conn, f.body, f.body_len);
			else if (conn->state == GW_BUS_WAIT)
				on_result(conn, f.body, f.body_len);
			else
				return -EPROTO; /* nothing may come while the client answers the challenge */
		} else {
			if (!mac_verify(&conn->session.rx, f.header, f.body, f.body_len, f.tag))
				return -EBADMSG;
			/* a client that does not read its messages goes, before it holds the budget */
			int over = gw_budget_check(conn, f.body_len);
			if (over)
				return over;
			if (gw_ws_queue(conn, f.body, f.body_len) < 0)
				return -ENOMEM;
			conn->n_out++;
		}
		off += f.total_len;
	}
	memmove(conn->bin, conn->bin + off, conn->bin_len - off);
	conn->bin_len -= off;
	if (conn->bin_len == 0)
		shrink(conn, &conn->bin, &conn->bin_cap);
	if (!conn->bus_paused && conn->q_bytes > GW_QUEUE_HIGH && conn->bus_wsi) {
		lws_rx_flow_control(conn->bus_wsi, 0);
		conn->bus_paused = true;
	}
	return 0;
}

size_t gw_bus_pending(const struct gw_conn *conn)
{
	return conn->bout_len - conn->bout_off;
}

void gw_bus_drain(struct gw_conn *conn)
{
	size_t before = gw_bus_pending(conn);
	int r = flush(conn);

	if (r < 0 || !gw_bus_pending(conn)) {
		/* written (or the bus is broken): close it; RAW_CLOSE frees the conn */
		if (r == 0)
			conn->gw->c.drained++;
		lws_set_timeout(conn->bus_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	log_event(LOG_LEVEL_INFO, "gateway_draining", "id=%s source=%s bytes=%zu deadline_s=%d", LOG_Q(conn->dec.id),
		  LOG_Q(conn->peer.desc), before, GW_DRAIN_S);
	/* a router that does not read cannot pin the memory: lws closes the bus connection then */
	lws_set_timeout(conn->bus_wsi, PENDING_TIMEOUT_USER_OK, GW_DRAIN_S);
}

void gw_bus_release(struct gw_conn *conn)
{
	hs_dclient_clear(&conn->hs);
	hs_session_clear(&conn->session);
	conn->gw->held -= conn->bin_cap + conn->bout_cap;
	free(conn->bin);
	free(conn->bout);
	conn->bin = conn->bout = NULL;
	conn->bin_len = conn->bin_cap = conn->bout_len = conn->bout_off = conn->bout_cap = 0;
	conn->bus_wsi = NULL;
}

static void bus_gone(lws_sorted_usec_list_t *sul)
{
	struct gw_conn *conn = lws_container_of(sul, struct gw_conn, bus_gone);

	if (conn->state == GW_CLOSING)
		return;
	conn->gw->c.bus_lost++;
	log_event(LOG_LEVEL_INFO, "gateway_bus_closed", "id=%s source=%s", LOG_Q(conn->dec.id), LOG_Q(conn->peer.desc));
	gw_ws_end(conn, 0); /* the daemon went away: no close frame, so clients retry */
}

int gw_bus_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw_conn *conn = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		return 0;
	case LWS_CALLBACK_RAW_RX:
		/* closing, or draining for a client that is gone: nobody to deliver to */
		if (!conn || conn->state == GW_CLOSING || conn->state == GW_DRAINING)
			return 0;
		/* consume() leaves less than one whole frame behind */
		if (conn->bin_len + len > (size_t)FRAME_MAX_BODY_HARD + FRAME_HEADER_LEN + FRAME_TAG_LEN + len)
			goto bad;
		/* the in-buffer's growth is held too: the same budget as a whole message (consume) */
		int r = conn->bin_len + len > conn->bin_cap ? gw_budget_check(conn, conn->bin_len + len - conn->bin_cap) : 0;
		if (r == 0) {
			if (reserve(conn, &conn->bin, &conn->bin_cap, conn->bin_len + len) < 0)
				goto bad;
			memcpy(conn->bin + conn->bin_len, in, len);
			conn->bin_len += len;
			r = consume(conn);
		}
		if (r == -ENOSPC || r == -EDQUOT) {
			gw_memory_full(conn, r == -ENOSPC ? "deliver" : "deliver_source");
			gw_ws_end(conn, 1011);
			return -1;
		}
		if (r < 0)
			goto bad;
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE: {
		if (!conn)
			return 0;
		if (flush(conn) < 0)
			goto bad;
		if (conn->state == GW_DRAINING) {
			if (gw_bus_pending(conn))
				return 0;
			conn->gw->c.drained++;
			return -1; /* all written: close; RAW_CLOSE frees the conn */
		}
		if (conn->ws_paused && conn->state == GW_OPEN && conn->bout_len - conn->bout_off < GW_QUEUE_LOW) {
			conn->ws_paused = false;
			lws_rx_flow_control(conn->ws, 1);
		}
		return 0;
	}
	case LWS_CALLBACK_RAW_CLOSE:
		if (!conn)
			return 0;
		conn->bus_wsi = NULL;
		if (conn->state == GW_DRAINING) {
			/* written, the drain deadline passed, or the router went away */
			if (gw_bus_pending(conn)) {
				conn->gw->c.drain_dropped++;
				log_event(LOG_LEVEL_WARNING, "gateway_drain_dropped", "id=%s source=%s bytes=%zu",
					  LOG_Q(conn->dec.id), LOG_Q(conn->peer.desc), gw_bus_pending(conn));
			}
			gw_conn_free(conn);
			return 0;
		}
		/* decide on the next loop turn, when a WebSocket dying at the same time has freed its
		 * conn (and this timer) */
		if (conn->state != GW_CLOSING && !conn->gw->exiting)
			lws_sul_schedule(lws_get_context(wsi), 0, &conn->bus_gone, bus_gone, 1);
		return 0;
	default:
		return 0;
	}
bad:
	if (conn) {
		log_event(LOG_LEVEL_WARNING, "gateway_bus_error", "id=%s source=%s", LOG_Q(conn->dec.id),
			  LOG_Q(conn->peer.desc));
		gw_ws_end(conn, 0); /* a draining conn has no client: RAW_CLOSE frees it */
	}
	return -1;
}
