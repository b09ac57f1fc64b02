/* SPDX-License-Identifier: MIT */
/* gw-bus.h - one bus connection per WebSocket: dial, delegated handshake, framed messages.
 *
 * The gateway proves only its own key (AUTH_D, docs/protocol.md "Delegated sessions"); the
 * router binds the connection to the subject the authentication decision named, and enforces
 * that identity's manifest, stamping and rates on every frame exactly as for a native client.
 * Frames from the router are checked (length bound, MAC) before any byte reaches the client. */
#pragma once

#include "gw.h"

/* Dials the daemon's socket and adopts it into lws as a raw wsi of its own (not a child of
 * conn->ws: it outlives the client to drain). 0 or -errno. */
int gw_bus_open(struct gw_conn *conn);
/* One whole client message (text) for the bus: framed, tagged, queued. 0, -ENOBUFS (queue
 * full: the caller pauses the client), -EMSGSIZE. */
int gw_bus_send(struct gw_conn *conn, const uint8_t *body, size_t len);
/* The challenge answer (capbus.auth) of a conn in GW_CHALLENGE_WAIT: sends AUTH_D via 3. */
int gw_bus_challenge_answer(struct gw_conn *conn, const char *json, size_t len);
/* Bytes queued for the bus and not yet written. */
size_t gw_bus_pending(const struct gw_conn *conn);
/* The client is gone (conn in GW_DRAINING, ws NULL): write what is queued, then close the bus
 * wsi; at most GW_DRAIN_S seconds. The bus wsi's RAW_CLOSE frees the conn. */
void gw_bus_drain(struct gw_conn *conn);
/* Frees the bus buffers and wipes the session keys (the wsi itself is closed by gw_conn_free). */
void gw_bus_release(struct gw_conn *conn);
/* lws protocol callback of the "capbus-bus" vhost. */
int gw_bus_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* ws.c: queue a text message for the client (copied). 0 or -ENOMEM. */
int gw_ws_queue(struct gw_conn *conn, const void *text, size_t len);
/* ws.c: the bus is gone or refused us: end the client's TCP stream (with a close frame only
 * when code is non-zero: a final refusal), after what is queued. */
void gw_ws_end(struct gw_conn *conn, uint16_t code);
/* ws.c: the session is open: start reading the client. */
void gw_ws_opened(struct gw_conn *conn);
/* ws.c: would holding `more` bytes more for conn pass max_buffered (-ENOSPC), or its source's
 * share of it (a quarter, at least 3 x max_message) once the whole is past that share
 * (-EDQUOT)? 0 when it fits. */
int gw_budget_check(const struct gw_conn *conn, uint64_t more);
/* ws.c: max_buffered reached (counted, logged rate-limited); the caller closes conn. */
void gw_memory_full(struct gw_conn *conn, const char *where);
/* ws.c: frees the conn, its queues and source count, and closes its bus wsi if still open. */
void gw_conn_free(struct gw_conn *conn);
