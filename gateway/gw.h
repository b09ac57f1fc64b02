/* SPDX-License-Identifier: MIT */
/* gw.h - the gateway process's state: one struct gw, one struct gw_conn per WebSocket.
 *
 * A gw_conn lives from the TCP accept (FILTER_NETWORK_CONNECTION) to the WebSocket wsi's
 * destruction, or, when the client leaves messages it sent still queued for the bus, until they
 * are written (GW_DRAINING, at most GW_DRAIN_S seconds); it owns the source count taken at
 * admission and, once the upgrade is accepted, one bus connection (bus.c) carrying the session
 * the router bound to the subject identity.
 * Everything runs on lws's single thread. Trust level: the process is unprivileged after
 * start-up; its peers (WebSocket clients) are untrusted, the router is trusted. */
#pragma once

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw-auth.h"
#include "gw-diag.h"
#include "gw-sources.h"
#include "gw-tokens.h"
#include "gwconfig.h"
#include "common/log.h"
#include "handshake.h"

/* ws out-queue above this: stop reading the bus; resume below GW_QUEUE_LOW. Same for the bus
 * out-queue and the WebSocket's reads. */
#define GW_QUEUE_HIGH (1u << 20)
#define GW_QUEUE_LOW (256u << 10)
/* A client gone with messages still in the bus out-queue: its conn writes them for at most this
 * long, so a router that does not read cannot pin the memory (docs/gateway.md). */
#define GW_DRAIN_S 5

enum gw_conn_state {
	GW_ACCEPTED,      /* TCP accepted, HTTP not yet judged */
	GW_BUS_WAIT,      /* upgraded; bus handshake in progress (HELLO, then RESULT_D) */
	GW_CHALLENGE_WAIT,/* challenge sent to the client; waiting for its capbus.auth */
	GW_OPEN,          /* session open: frames both ways */
	GW_CLOSING,       /* draining the ws out-queue, then drop (no close frame) */
	GW_DRAINING,      /* the client is gone (ws NULL): writing its queued messages to the bus */
};

/* One queued WebSocket message: LWS_PRE bytes of headroom, then len bytes of text. */
struct gw_msg {
	struct gw_msg *next;
	size_t len;
	uint8_t buf[];
};

struct gw;

struct gw_conn {
	struct gw *gw;
	struct gw_conn *prev, *next; /* gw->conns */
	struct lws *ws;          /* the client's wsi, once bound; NULL again once it is destroyed */
	struct lws *bus_wsi;     /* the adopted bus socket (not a child of ws: it outlives it to drain) */
	enum gw_conn_state state;
	int fd;                  /* the accepted socket (lws owns it) */
	bool cut;                /* killed for taking too long to upgrade */
	bool attempted;          /* one credential attempt per TCP connection */
	bool refused_close;      /* a final refusal: send a close frame with close_code */
	uint16_t close_code;
	struct gw_peer peer;
	struct gw_decision dec;
	uint64_t opened_ms;
	uint64_t n_in, n_out;    /* messages client -> bus, bus -> client */

	/* bus side (bus.c) */
	struct hs_dclient hs;
	struct hs_session session;
	lws_sorted_usec_list_t bus_gone;      /* deferred reaction to the bus closing */
	bool hello_done;
	bool session_ok;
	uint8_t *bin; size_t bin_len, bin_cap;   /* bytes read from the bus, not yet whole frames */
	uint8_t *bout; size_t bout_len, bout_off, bout_cap; /* bytes to write to the bus */
	bool bus_paused;         /* bus reads stopped: ws queue full */
	bool ws_paused;          /* ws reads stopped: bus queue full or session not open */

	/* ws side (ws.c) */
	uint8_t *rx; size_t rx_len;              /* message being assembled from fragments */
	struct gw_msg *q_head, *q_tail;          /* messages to the client */
	size_t q_bytes;
	size_t inflight;                         /* the message lws took last: counted until sent */
};

struct gw_counters {
	uint64_t accepted, refused_locked, refused_per_source, refused_full, refused_connections,
		auth_failed, lockouts, sessions, delegation_refused, too_big, bus_lost, refused_allow_from,
		drained, drain_dropped, /* clients gone with messages queued: written all / not all */
		memory_full;            /* conns closed because max_buffered was reached */
};

struct gw {
	struct gw_config cfg;
	uint8_t key[CAPBUS_KEY_LEN];             /* the gateway identity's key */
	char *tls_cert_pem, *tls_key_pem;        /* supervised: the TLS files capbusd passed; else NULL */
	size_t tls_cert_len, tls_key_len;
	struct lws_context *ctx;
	struct lws_vhost *bus_vh;
	struct gw_tokens *tokens;                /* NULL: no store given */
	struct gw_diag *diag;                    /* NULL: no local map */
	struct gw_sources *sources;
	uint32_t n_conns;
	uint32_t max_message;                    /* effective: min(max_message or max_frame, max_frame) */
	struct gw_counters c;
	uint64_t held;                           /* bytes of messages held: rx, bout, ws queues */
	lws_sorted_usec_list_t tick;
	struct gw_conn *conns;                   /* every live conn */
	struct gw_conn *just_admitted;           /* admitted by the filter, wsi not yet created */
	struct log_ratelimit rl;                 /* peer-triggered log lines */
	uint64_t last_stats_ms;
	bool exiting;                            /* context being destroyed: no conn starts draining */
	volatile int stop;
};

uint64_t gw_now_ms(void);
