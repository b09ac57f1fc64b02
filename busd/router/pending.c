// SPDX-License-Identifier: MIT
/* pending.c - fair shares of the pending-handshake slots, by kernel peer identity.
 *
 * Trust level: router (unprivileged); pure bookkeeping on kernel-supplied keys. A flood of idle
 * connects, or of connects in a loop, from one process takes at most max_pending_per_peer slots,
 * from one uid at most max_pending_per_uid, and when several uids fill the table together, a
 * newcomer takes a slot from whoever holds the most. Linear scans: the table holds at most
 * max_pending entries, and it is consulted once per accepted connection. */
#include "router/pending.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static struct pending_peer *find(const struct pending_table *t, uint32_t uid, uint64_t cgroup)
{
	for (size_t i = 0; i < t->n_peers; i++)
		if (t->peers[i].uid == uid && t->peers[i].cgroup == cgroup)
			return &t->peers[i];
	return NULL;
}

uint32_t pending_of_peer(const struct pending_table *t, uint32_t uid, uint64_t cgroup)
{
	const struct pending_peer *p = find(t, uid, cgroup);
	return p ? p->n : 0;
}

static struct pending_uid *find_uid(const struct pending_table *t, uint32_t uid)
{
	for (size_t i = 0; i < t->n_uids; i++)
		if (t->uids[i].uid == uid)
			return &t->uids[i];
	return NULL;
}

uint32_t pending_of_uid(const struct pending_table *t, uint32_t uid)
{
	const struct pending_uid *u = find_uid(t, uid);
	return u ? u->n : 0;
}

/* The peer of `uid` holding the most (the first such, for a stable choice). */
static const struct pending_peer *largest_peer_of(const struct pending_table *t, uint32_t uid)
{
	const struct pending_peer *best = NULL;
	for (size_t i = 0; i < t->n_peers; i++)
		if (t->peers[i].uid == uid && (!best || t->peers[i].n > best->n))
			best = &t->peers[i];
	return best;
}

enum pending_verdict pending_decide(const struct pending_table *t, const struct pending_limits *l, uint32_t uid,
				    uint64_t cgroup, struct pending_peer *victim)
{
	uint32_t mine_peer = pending_of_peer(t, uid, cgroup), mine_uid = pending_of_uid(t, uid);

	if (mine_peer >= l->per_peer)
		return PENDING_REFUSE_PEER;
	if (mine_uid >= l->per_uid)
		return PENDING_REFUSE_UID;
	if (t->total < l->total)
		return PENDING_ADMIT;
	/* Full. The uid holding the most gives way if, after the swap, it still holds at least as
	 * many as the newcomer's uid: taking from an equal would only trade places. */
	uint32_t top_uid = uid, top_n = mine_uid;
	for (size_t i = 0; i < t->n_uids; i++)
		if (t->uids[i].n > top_n) {
			top_uid = t->uids[i].uid;
			top_n = t->uids[i].n;
		}
	const struct pending_peer *p = NULL;
	if (top_uid != uid && top_n >= mine_uid + 2) {
		p = largest_peer_of(t, top_uid);
	} else {
		/* The same rule among the cgroups of the newcomer's own uid. */
		const struct pending_peer *q = largest_peer_of(t, uid);
		if (q && q->cgroup != cgroup && q->n >= mine_peer + 2)
			p = q;
	}
	if (!p)
		return PENDING_REFUSE_FULL;
	*victim = *p;
	return PENDING_EVICT;
}

/* Room for one more peer and one more uid entry, so pending_add cannot fail half-way. */
static int reserve(struct pending_table *t)
{
	if (t->n_peers == t->cap_peers) {
		size_t cap = t->cap_peers ? t->cap_peers * 2 : 16;
		struct pending_peer *v = realloc(t->peers, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->peers = v;
		t->cap_peers = cap;
	}
	if (t->n_uids == t->cap_uids) {
		size_t cap = t->cap_uids ? t->cap_uids * 2 : 16;
		struct pending_uid *v = realloc(t->uids, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->uids = v;
		t->cap_uids = cap;
	}
	return 0;
}

int pending_add(struct pending_table *t, uint32_t uid, uint64_t cgroup)
{
	if (reserve(t) < 0)
		return -ENOMEM;
	struct pending_peer *p = find(t, uid, cgroup);
	struct pending_uid *u = find_uid(t, uid);

	if (!p) {
		p = &t->peers[t->n_peers++];
		*p = (struct pending_peer){ .uid = uid, .cgroup = cgroup };
	}
	if (!u) {
		u = &t->uids[t->n_uids++];
		*u = (struct pending_uid){ .uid = uid };
	}
	p->n++;
	u->n++;
	t->total++;
	return 0;
}

void pending_remove(struct pending_table *t, uint32_t uid, uint64_t cgroup)
{
	struct pending_peer *p = find(t, uid, cgroup);
	struct pending_uid *u = find_uid(t, uid);

	assert(p && u && p->n > 0 && u->n >= p->n && t->total > 0);
	t->total--;
	if (--p->n == 0)
		*p = t->peers[--t->n_peers];
	if (--u->n == 0)
		*u = t->uids[--t->n_uids];
}

const char *pending_verdict_name(enum pending_verdict v)
{
	switch (v) {
	case PENDING_ADMIT:
		return "admit";
	case PENDING_EVICT:
		return "evict";
	case PENDING_REFUSE_PEER:
		return "pending_peer";
	case PENDING_REFUSE_UID:
		return "pending_uid";
	case PENDING_REFUSE_FULL:
		return "pending_full";
	}
	return "?";
}

void pending_clear(struct pending_table *t)
{
	free(t->peers);
	free(t->uids);
	*t = (struct pending_table){ 0 };
}
