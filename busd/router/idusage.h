/* SPDX-License-Identifier: MIT */
/* idusage.h - what one identity holds across all its connections: connections, subscriptions.
 *
 * Trust level: router (unprivileged). Entries are keyed by the authenticated id, not by the
 * policy's identity objects, so they survive a policy swap; each connection of the identity
 * holds a reference, and the entry goes with the last one. No limits here: router.c compares
 * the counts with the configuration. */
#pragma once

#include <stdint.h>

#include "handshake.h"

struct id_usage {
	struct id_usage *next;
	char id[HS_ID_MAX + 1];
	uint32_t refs;      /* connections that point here */
	uint32_t conns;     /* authenticated connections counted against max_identity_connections */
	uint32_t subs;      /* subscriptions over all its connections */
	uint64_t sub_bytes; /* their accounted bytes */
	uint64_t partial_bytes; /* buffers grown for incomplete incoming frames (router.c) */
};

/* The entry for id in the list at *head, created when missing, with one more reference.
 * 0 and *out set, or -ENOMEM. */
int id_usage_get(struct id_usage **head, const char *id, struct id_usage **out);
/* Drops one reference; the entry is freed with its last. NULL is ignored. */
void id_usage_put(struct id_usage **head, struct id_usage *u);
/* Frees the whole list (router teardown). */
void id_usage_clear(struct id_usage **head);
