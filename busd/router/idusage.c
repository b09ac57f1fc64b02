// SPDX-License-Identifier: MIT
/* idusage.c - per-identity usage counts shared by that identity's connections.
 *
 * Trust level: router (unprivileged); ids come from completed handshakes only. A plain list:
 * it is searched once per authentication, and holds one entry per connected identity. */
#include "router/idusage.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int id_usage_get(struct id_usage **head, const char *id, struct id_usage **out)
{
	struct id_usage *u;

	for (u = *head; u; u = u->next)
		if (strcmp(u->id, id) == 0)
			break;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		snprintf(u->id, sizeof(u->id), "%s", id);
		u->next = *head;
		*head = u;
	}
	u->refs++;
	*out = u;
	return 0;
}

void id_usage_put(struct id_usage **head, struct id_usage *u)
{
	if (!u)
		return;
	assert(u->refs > 0);
	if (--u->refs > 0)
		return;
	/* The last connection is gone, and with it everything it counted. */
	assert(u->conns == 0 && u->subs == 0 && u->sub_bytes == 0);
	for (struct id_usage **p = head; *p; p = &(*p)->next)
		if (*p == u) {
			*p = u->next;
			break;
		}
	free(u);
}

void id_usage_clear(struct id_usage **head)
{
	while (*head) {
		struct id_usage *u = *head;
		*head = u->next;
		free(u);
	}
}
