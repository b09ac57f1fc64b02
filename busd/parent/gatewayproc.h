/* SPDX-License-Identifier: MIT */
/* gatewayproc.h - capbusd's parent starts, supervises and stops capbus-gateway (privileged).
 *
 * When the configuration has a "gateway" object with supervise true, the parent launches the
 * gateway sandboxed (sandbox/launch-gateway.c) in a fresh cgroup leaf per start, with the
 * ingress allow-list (gateway.allow_from) on that leaf first, restarts it after an exit with a
 * growing delay, and gives up after too many exits in a minute. The router learns the leaf's id
 * and the uid (PS_GATEWAY_PEER): only that process may open delegated sessions. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/privsep.h"

struct gatewayproc;
struct guardctl;

/* Prepares (nothing runs yet). Returns 0 or a negative errno. */
int gatewayproc_new(const struct config *cfg, const uint8_t *master, struct guardctl *guard, struct gatewayproc **out);

/* The first start. Returns 0 (started, or a start that failed and will be retried), or a
 * negative errno when the daemon must not run: kernel_guard "required" and the allow-list could
 * not be attached, or a TLS file that is not root's own private file. */
int gatewayproc_start(struct gatewayproc *g);

/* What the router must be told now (mode 2 with the running gateway's cgroup id and uid). */
void gatewayproc_peer(const struct gatewayproc *g, struct ps_gateway_peer *out);

/* Adds the pidfd and the output pipe to fds and lowers *timeout_ms to the next restart. */
size_t gatewayproc_pollfds(struct gatewayproc *g, struct pollfd *fds, size_t max, int *timeout_ms);

/* Handles what poll reported (fds as filled by gatewayproc_pollfds) and due restarts. Returns
 * true when the peer changed and the router must be sent gatewayproc_peer() again. */
bool gatewayproc_dispatch(struct gatewayproc *g, const struct pollfd *fds, size_t n);

/* SIGHUP: a gateway that failed (too many exits) is started again, with a fresh count. */
void gatewayproc_retry(struct gatewayproc *g);

/* SIGTERM, 5 s grace, SIGKILL; the cgroup and the allow-list go with it. Accepts NULL. */
void gatewayproc_free(struct gatewayproc *g);
