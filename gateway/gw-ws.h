/* SPDX-License-Identifier: MIT */
/* gw-ws.h - the gateway's libwebsockets context: listening vhosts, the bus vhost, the timer. */
#pragma once

#include <stddef.h>

#include "gw.h"

/* Creates the context and one vhost per gateway.listen entry (TLS from the cert and key files,
 * plain only where the config allowed it), plus the "bus" vhost the bus sockets are adopted
 * into. 0, or -errno with a one-line message in err. */
int gw_ws_create(struct gw *gw, char *err, size_t errlen);
void gw_ws_destroy(struct gw *gw);
/* One gateway_stats line with every counter. */
void gw_ws_log_stats(struct gw *gw);
