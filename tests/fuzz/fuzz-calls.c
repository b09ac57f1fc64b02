// SPDX-License-Identifier: MIT
/* fuzz-calls.c - libFuzzer target: the router's pending-call table against a plain model.
 *
 * Input: a sequence of 4-byte operations (open, deliver to, answer, expire, connection gone,
 * end) over eight callers, four owners and sixteen connections. After every operation the table
 * must agree with the model: a reply is bound only when the call is pending, the type is the
 * reply type and the sender is a connection the request reached; a bound, expired or orphaned
 * call is reported once, to its own caller; an id of a finished call never binds again; quotas
 * and counts match. The table is small so that the quota, the bound and slot reuse are reached. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/calls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CALLS 24
#define PER_OWNER 8
#define N_OWNERS 4
#define N_CONNS 16
#define N_FINISHED 256

struct model_call {
	uint64_t id;
	uint64_t caller;
	unsigned owner;
	uint64_t deadline;
	uint32_t targets; /* bit per connection */
	bool had_target;
	char call_id[16];
};

struct model {
	struct model_call pending[MAX_CALLS];
	size_t n;
	uint64_t finished[N_FINISHED];
	size_t n_finished;
	unsigned counter;
};

static const char *owners[N_OWNERS] = { "alice", "bob", "carol", "dave" };
static const char *reply_types[2] = { "calc.add.response", "speak" };

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

static size_t find(const struct model *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->pending[i].id == id)
			return i;
	return SIZE_MAX;
}

static bool was_finished(const struct model *m, uint64_t id)
{
	size_t n = m->n_finished < N_FINISHED ? m->n_finished : N_FINISHED;
	for (size_t i = 0; i < n; i++)
		if (m->finished[i] == id)
			return true;
	return false;
}

/* Removes call i from the model after the table reported its end in *end. */
static void model_end(struct model *m, size_t i, const struct call_end *end)
{
	struct model_call *c = &m->pending[i];
	if (end && (end->caller != c->caller || strcmp(end->call_id, c->call_id) != 0 ||
		    strcmp(end->type, "calc.add") != 0 || strcmp(end->reply_type, reply_types[0]) != 0))
		FAIL("call end reported for the wrong call");
	m->finished[m->n_finished++ % N_FINISHED] = c->id;
	m->pending[i] = m->pending[--m->n];
}

static size_t by_call_id(const struct model *m, const char *call_id)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->pending[i].call_id, call_id) == 0)
			return i;
	return SIZE_MAX;
}

static void check_counts(const struct calls *t, const struct model *m)
{
	if (calls_pending(t) != m->n)
		FAIL("pending %u, model %zu", calls_pending(t), m->n);
	for (unsigned o = 0; o < N_OWNERS; o++) {
		uint32_t want = 0;
		for (size_t i = 0; i < m->n; i++)
			want += m->pending[i].owner == o;
		if (calls_owner_pending(t, owners[o]) != want)
			FAIL("owner %s: %u pending, model %u", owners[o], calls_owner_pending(t, owners[o]), want);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct calls *t = NULL;
	struct call_end end;
	uint64_t now = 0;

	memset(&m, 0, sizeof(m));
	if (calls_new(&t, MAX_CALLS, PER_OWNER) != 0)
		abort();
	for (size_t off = 0; off + 4 <= size; off += 4) {
		unsigned op = data[off] % 6, a = data[off + 1], b = data[off + 2], c = data[off + 3];
		now += c % 8;

		if (op == 0) { /* open */
			struct model_call mc = { .caller = 100 + a % 8, .owner = b % N_OWNERS, .deadline = now + c % 64 };
			snprintf(mc.call_id, sizeof(mc.call_id), "c%u", m.counter++);
			struct call_request req = { .caller = mc.caller, .owner = owners[mc.owner], .call_id = mc.call_id,
						    .type = "calc.add", .reply_type = reply_types[0],
						    .deadline_ms = mc.deadline };
			unsigned owned = 0;
			for (size_t i = 0; i < m.n; i++)
				owned += m.pending[i].owner == mc.owner;
			int want = owned >= PER_OWNER ? CALLS_OWNER_QUOTA : m.n >= MAX_CALLS ? CALLS_FULL : 0;
			int got = calls_open(t, &req, &mc.id);
			if (got < 0)
				abort(); /* out of memory in a fuzzer: not a finding */
			if (got != want)
				FAIL("open: %d, model %d", got, want);
			if (got == 0) {
				if (mc.id == 0 || find(&m, mc.id) != SIZE_MAX || was_finished(&m, mc.id))
					FAIL("open: id %llx reused", (unsigned long long)mc.id);
				m.pending[m.n++] = mc;
			}
		} else if (op == 1 && m.n) { /* deliver to a connection */
			struct model_call *mc = &m.pending[a % m.n];
			unsigned conn = b % N_CONNS;
			if (calls_add_target(t, mc->id, conn) != 0)
				abort();
			mc->targets |= 1u << conn;
			mc->had_target = true;
			if (calls_n_targets(t, mc->id) != (uint32_t)__builtin_popcount(mc->targets))
				FAIL("targets differ");
		} else if (op == 2) { /* answer: a pending, a finished or a made-up id */
			uint64_t id;
			unsigned kind = a % 3;
			if (kind == 0 && m.n)
				id = m.pending[b % m.n].id;
			else if (kind == 1 && m.n_finished)
				id = m.finished[b % (m.n_finished < N_FINISHED ? m.n_finished : N_FINISHED)];
			else
				id = ((uint64_t)1 << 60) | b;
			const char *type = reply_types[c & 1];
			uint64_t from = (c >> 1) % N_CONNS;
			enum call_verdict v = calls_answer(t, id, from, type, &end);
			size_t i = find(&m, id);
			if (i != SIZE_MAX) {
				struct model_call *mc = &m.pending[i];
				enum call_verdict want = (c & 1) ? CALL_OTHER_TYPE :
							 (mc->targets >> from) & 1 ? CALL_BOUND : CALL_NOT_RECIPIENT;
				if (v != want)
					FAIL("answer pending: %d, model %d", v, want);
				if (v == CALL_BOUND)
					model_end(&m, i, &end);
			} else if (was_finished(&m, id)) {
				if (v != CALL_UNKNOWN && !(v == CALL_FINISHED && !(c & 1)))
					FAIL("answer finished: %d", v);
			} else if (v != CALL_UNKNOWN) {
				FAIL("answer unknown: %d", v);
			}
		} else if (op == 3) { /* expire */
			while (calls_next_expired(t, now, &end)) {
				size_t i = by_call_id(&m, end.call_id);
				if (i == SIZE_MAX || m.pending[i].deadline > now)
					FAIL("expired a call that is not due");
				model_end(&m, i, &end);
			}
			for (size_t i = 0; i < m.n; i++)
				if (m.pending[i].deadline <= now)
					FAIL("a due call was not expired");
		} else if (op == 4) { /* a connection (or a caller) goes */
			bool caller = a & 1;
			uint64_t conn = caller ? 100 + b % 8 : b % N_CONNS;
			calls_conn_gone(t, conn);
			bool orphan[MAX_CALLS] = { false };
			for (size_t i = 0; i < m.n;) {
				struct model_call *mc = &m.pending[i];
				if (mc->caller == conn) {
					model_end(&m, i, NULL);
					continue;
				}
				if (!caller && ((mc->targets >> conn) & 1)) {
					mc->targets &= ~(1u << conn);
					orphan[i] = mc->targets == 0;
				}
				i++;
			}
			/* Mark by call id: model_end reorders the array. */
			char names[MAX_CALLS][16];
			size_t n_names = 0;
			for (size_t i = 0; i < m.n; i++)
				if (orphan[i])
					memcpy(names[n_names++], m.pending[i].call_id, 16);
			size_t seen = 0;
			while (calls_next_orphan(t, &end)) {
				bool expected = false;
				for (size_t k = 0; k < n_names; k++)
					expected |= strcmp(names[k], end.call_id) == 0;
				size_t i = by_call_id(&m, end.call_id);
				if (!expected || i == SIZE_MAX)
					FAIL("orphan %s not expected", end.call_id);
				model_end(&m, i, &end);
				seen++;
			}
			if (seen != n_names)
				FAIL("orphans: %zu, model %zu", seen, n_names);
		} else if (op == 5 && m.n) { /* nobody received it */
			size_t i = a % m.n;
			if (!calls_end(t, m.pending[i].id, &end))
				FAIL("end of a pending call failed");
			model_end(&m, i, &end);
		}
		check_counts(t, &m);
	}
	calls_free(t);
	return 0;
}
