// SPDX-License-Identifier: MIT
/* test-pending.c - unit tests for busd/router/pending.c: fair shares of pending-handshake slots.
 *
 * The table alone, no sockets: the share limits, who gives way when the table is full, and that
 * the counts return to zero. */
#include "router/pending.h"

#include "check.h"

static const struct pending_limits L = { .total = 8, .per_uid = 4, .per_peer = 2 };

static enum pending_verdict try_add(struct pending_table *t, uint32_t uid, uint64_t cg, struct pending_peer *victim)
{
	enum pending_verdict v = pending_decide(t, &L, uid, cg, victim);
	if (v == PENDING_EVICT)
		pending_remove(t, victim->uid, victim->cgroup);
	if (v == PENDING_ADMIT || v == PENDING_EVICT)
		CHECK(pending_add(t, uid, cg) == 0);
	return v;
}

static void test_shares(void)
{
	struct pending_table t = { 0 };
	struct pending_peer victim;

	/* One peer: two slots, then refused as a peer. */
	CHECK(try_add(&t, 1000, 7, &victim) == PENDING_ADMIT);
	CHECK(try_add(&t, 1000, 7, &victim) == PENDING_ADMIT);
	CHECK(try_add(&t, 1000, 7, &victim) == PENDING_REFUSE_PEER);
	/* The same uid in other cgroups: up to its uid share. */
	CHECK(try_add(&t, 1000, 8, &victim) == PENDING_ADMIT);
	CHECK(try_add(&t, 1000, 9, &victim) == PENDING_ADMIT);
	CHECK(try_add(&t, 1000, 10, &victim) == PENDING_REFUSE_UID);
	CHECK(pending_of_uid(&t, 1000) == 4 && pending_of_peer(&t, 1000, 7) == 2 && t.total == 4);
	/* Another uid is untouched by all that. */
	CHECK(try_add(&t, 0, 1, &victim) == PENDING_ADMIT);
	CHECK(pending_of_uid(&t, 0) == 1);
	pending_clear(&t);
}

static void test_full(void)
{
	struct pending_table t = { 0 };
	struct pending_peer victim;

	/* Uids 1 and 2 fill the table with 4 each (two cgroups of 2). */
	for (uint32_t uid = 1; uid <= 2; uid++)
		for (uint64_t cg = 1; cg <= 2; cg++) {
			CHECK(try_add(&t, uid, cg, &victim) == PENDING_ADMIT);
			CHECK(try_add(&t, uid, cg, &victim) == PENDING_ADMIT);
		}
	CHECK(t.total == 8);
	/* A new uid takes a slot from the largest holder. */
	CHECK(try_add(&t, 3, 1, &victim) == PENDING_EVICT);
	CHECK(victim.uid == 1 || victim.uid == 2);
	CHECK(victim.n == 2);
	CHECK(t.total == 8 && pending_of_uid(&t, 3) == 1);
	/* Uid 3 (1) and the uid that gave way (3) are within two of each other now: uid 3 gets
	 * another from the one still holding 4, then no more (4 - 1 < 2 + 2 after that). */
	CHECK(try_add(&t, 3, 2, &victim) == PENDING_EVICT);
	CHECK(pending_of_uid(&t, 1) == 3 && pending_of_uid(&t, 2) == 3 && pending_of_uid(&t, 3) == 2);
	CHECK(try_add(&t, 3, 3, &victim) == PENDING_REFUSE_FULL);
	/* Uid 1 holds the most: no other uid gives way to it, but within uid 1 a cgroup holding two
	 * gives way to a new cgroup of the same uid. */
	CHECK(try_add(&t, 1, 3, &victim) == PENDING_EVICT);
	CHECK(victim.uid == 1 && victim.cgroup != 3 && victim.n == 2);
	CHECK(pending_of_uid(&t, 1) == 3 && pending_of_uid(&t, 2) == 3);
	/* Now every cgroup of uid 1 holds one: nothing left to even out. */
	CHECK(try_add(&t, 1, 4, &victim) == PENDING_REFUSE_FULL);
	/* Everything given back: no entry left. */
	for (uint32_t uid = 1; uid <= 3; uid++)
		for (uint64_t cg = 1; cg <= 3; cg++)
			while (pending_of_peer(&t, uid, cg) > 0)
				pending_remove(&t, uid, cg);
	CHECK(t.total == 0 && t.n_peers == 0 && t.n_uids == 0);
	pending_clear(&t);
}

static void test_full_one_uid(void)
{
	struct pending_table t = { 0 };
	struct pending_peer victim;
	const struct pending_limits one = { .total = 4, .per_uid = 4, .per_peer = 4 };

	/* One uid, one cgroup holds everything; the same uid from another cgroup gets a slot. */
	for (int i = 0; i < 4; i++)
		CHECK(pending_decide(&t, &one, 5, 1, &victim) == PENDING_ADMIT && pending_add(&t, 5, 1) == 0);
	CHECK(pending_decide(&t, &one, 5, 2, &victim) == PENDING_REFUSE_UID);
	const struct pending_limits wide = { .total = 4, .per_uid = 8, .per_peer = 8 };
	CHECK(pending_decide(&t, &wide, 5, 2, &victim) == PENDING_EVICT);
	CHECK(victim.uid == 5 && victim.cgroup == 1 && victim.n == 4);
	CHECK(pending_decide(&t, &wide, 5, 1, &victim) == PENDING_REFUSE_FULL);
	CHECK(pending_decide(&t, &wide, 6, 1, &victim) == PENDING_EVICT);
	pending_clear(&t);
}

int main(void)
{
	test_shares();
	test_full();
	test_full_one_uid();
	return check_finish("test-pending");
}
