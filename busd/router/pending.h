/* SPDX-License-Identifier: MIT */
/* pending.h - fair shares of the pending-handshake slots, by kernel peer identity.
 *
 * Trust level: router (unprivileged). The keys are what the kernel says about a connecting
 * process at accept (SO_PEERCRED uid, and the cgroup v2 id read through SO_PEERPIDFD), so a
 * client cannot choose them. A "peer" is one (uid, cgroup) pair. No I/O and no connections
 * here: the table counts, pending_decide() rules, and router.c acts on the verdict. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct pending_limits {
	uint32_t total;    /* max_pending: every accepted connection still in the handshake */
	uint32_t per_uid;  /* max_pending_per_uid */
	uint32_t per_peer; /* max_pending_per_peer: one (uid, cgroup) */
};

struct pending_peer {
	uint32_t uid;
	uint64_t cgroup; /* 0 when the kernel could not say */
	uint32_t n;      /* its connections in the handshake */
};

struct pending_uid {
	uint32_t uid;
	uint32_t n; /* the sum over its peers */
};

/* Only peers and uids that hold at least one slot have an entry, so neither array is ever longer
 * than limits.total. */
struct pending_table {
	struct pending_peer *peers;
	size_t n_peers, cap_peers;
	struct pending_uid *uids;
	size_t n_uids, cap_uids;
	uint32_t total;
};

/* pending_decide() verdicts: admit, admit after closing one of *victim's connections, or refuse
 * because this peer, this uid, or (when nobody holds more than its fair share) everyone is full. */
enum pending_verdict {
	PENDING_ADMIT = 0,
	PENDING_EVICT,
	PENDING_REFUSE_PEER,
	PENDING_REFUSE_UID,
	PENDING_REFUSE_FULL,
};

/* What to do with a new connection from (uid, cgroup). When every slot is taken, the uid that
 * holds the most gives one up to a uid holding at least two fewer (so a new uid always gets in
 * while anyone holds more than one); within one uid, the cgroup holding the most gives one up to
 * a cgroup of that uid holding at least two fewer. On PENDING_EVICT, *victim names the peer that
 * must close one connection (its oldest, router.c's choice) before pending_add(). */
enum pending_verdict pending_decide(const struct pending_table *t, const struct pending_limits *l, uint32_t uid,
				    uint64_t cgroup, struct pending_peer *victim);

/* Counts one more, or one fewer, connection in the handshake for (uid, cgroup). pending_add
 * returns 0 or -ENOMEM; pending_remove of a peer that holds nothing is a caller bug (asserted). */
int pending_add(struct pending_table *t, uint32_t uid, uint64_t cgroup);
void pending_remove(struct pending_table *t, uint32_t uid, uint64_t cgroup);

/* Pending connections of one uid, or of one peer. */
uint32_t pending_of_uid(const struct pending_table *t, uint32_t uid);
uint32_t pending_of_peer(const struct pending_table *t, uint32_t uid, uint64_t cgroup);

/* The short name of a verdict for logs ("pending_peer", ...). */
const char *pending_verdict_name(enum pending_verdict v);

void pending_clear(struct pending_table *t);
