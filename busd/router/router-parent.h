/* SPDX-License-Identifier: MIT */
/* router-parent.h - the router's side of the privsep channel to the parent (router-parent.c). */
#pragma once

#include <stddef.h>

#include "common/privsep.h"

struct router;

/* A supervised skill as the parent last reported it. */
struct skill_status {
	struct ps_skill_state st;
};

/* Handles one packet from the parent; a malformed one stops the router. */
void router_parent_message(struct router *r);
/* Sends what is queued for the parent until the channel is full (then waits for EPOLLOUT). */
void router_ps_flush(struct router *r);
/* Queues a packet to the parent without ever blocking (the parent may be busy sending to us:
 * two blocking senders would deadlock). Takes a copy of passed_fd. 0 or a negative errno. */
int router_ps_send(struct router *r, enum ps_type type, const void *fixed, size_t fixed_len, const void *text,
		   size_t text_len, int passed_fd);
/* The last state the parent reported for skill id, or NULL. */
const struct skill_status *router_skill_status(const struct router *r, const char *id);
