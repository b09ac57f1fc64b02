// SPDX-License-Identifier: MIT
/* test-calls.c - unit tests for busd/router/calls.c: the router's pending-call table.
 *
 * Links only calls.c. Checks what makes a call unforgeable: only a connection the request
 * reached can answer, once, with the reply type; the ids; the quota per owner and the table
 * bound; deadlines; connections that go away; slots reused without reviving old ids. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "router/calls.h"

static uint64_t open_call(struct calls *t, uint64_t caller, const char *owner, const char *call_id, uint64_t deadline)
{
	struct call_request req = { .caller = caller, .owner = owner, .call_id = call_id, .type = "calc.add",
				    .reply_type = "calc.add.response", .deadline_ms = deadline };
	uint64_t id = 0;
	REQUIRE(calls_open(t, &req, &id) == 0);
	return id;
}

static void test_ids(void)
{
	char wire[CALL_WIRE_ID_LEN + 1];
	uint64_t id = 0;

	calls_format_id(0x1234500001ull, wire);
	CHECK_STREQ(wire, "capbus:0000001234500001");
	CHECK(calls_parse_id(wire, strlen(wire), &id) && id == 0x1234500001ull);
	CHECK(!calls_parse_id("capbus:000000123450000", 22, &id));
	CHECK(!calls_parse_id("capbus:000000123450000G", 23, &id));
	CHECK(!calls_parse_id("capbus:0000000000000000", 23, &id)); /* 0 is never an id */
	CHECK(!calls_parse_id("capbuz:0000001234500001", 23, &id));
	CHECK(calls_id_is_valid("0123456789abcdef", 16));
	CHECK(calls_id_is_valid("a:b.c_d-e", 9));
	CHECK(!calls_id_is_valid("", 0));
	CHECK(!calls_id_is_valid("a b", 3));
	CHECK(!calls_id_is_valid("a\"b", 3));
	char longid[CALL_ID_MAX + 2];
	memset(longid, 'x', sizeof(longid));
	CHECK(calls_id_is_valid(longid, CALL_ID_MAX));
	CHECK(!calls_id_is_valid(longid, CALL_ID_MAX + 1));
	CHECK_MSG(!calls_id_is_valid(wire, strlen(wire)), "a router id is never a caller's call_id");
	CHECK_MSG(!calls_id_is_valid("capbus:0000000000000000", 23), "nor anything that looks like one");
	CHECK(!calls_id_is_valid("capbus:000000000000000F", 23));
	CHECK(!calls_id_is_valid("capbus:", 7));
	CHECK(calls_id_is_valid("capbus", 6));
	CHECK(calls_id_is_valid("my:capbus:1", 11));
}

static void test_binding(void)
{
	struct calls *t = NULL;
	struct call_end end;

	REQUIRE(calls_new(&t, 16, 4) == 0);
	uint64_t id = open_call(t, 1, "asker", "a1", 1000);
	CHECK(id != 0 && calls_pending(t) == 1 && calls_owner_pending(t, "asker") == 1);
	CHECK(calls_add_target(t, id, 2) == 0);
	CHECK(calls_add_target(t, id, 2) == 0);
	CHECK(calls_add_target(t, id, 3) == 0);
	CHECK(calls_n_targets(t, id) == 2);
	CHECK(calls_add_target(t, id + 1, 3) == -ENOENT);

	CHECK_MSG(calls_answer(t, id, 9, "calc.add.response", &end) == CALL_NOT_RECIPIENT,
		  "a connection the request never reached cannot answer");
	CHECK_MSG(calls_answer(t, id, 1, "calc.add.response", &end) == CALL_NOT_RECIPIENT,
		  "the caller cannot answer its own call unless the request reached it");
	CHECK_MSG(calls_answer(t, id, 2, "speak", &end) == CALL_OTHER_TYPE, "another type is not a reply");
	CHECK(calls_pending(t) == 1);
	/* Judging leaves the call pending until the router ends it. */
	memset(&end, 0, sizeof(end));
	CHECK(calls_judge(t, id, 3, "calc.add.response", &end) == CALL_BOUND);
	CHECK(end.caller == 1 && calls_pending(t) == 1);
	CHECK_STREQ(end.call_id, "a1");
	CHECK(calls_judge(t, id, 9, "calc.add.response", &end) == CALL_NOT_RECIPIENT);
	CHECK(calls_answer(t, id, 3, "calc.add.response", &end) == CALL_BOUND);
	CHECK(end.caller == 1);
	CHECK_STREQ(end.call_id, "a1");
	CHECK_STREQ(end.type, "calc.add");
	CHECK_STREQ(end.reply_type, "calc.add.response");
	CHECK(calls_pending(t) == 0 && calls_owner_pending(t, "asker") == 0);
	CHECK_MSG(calls_answer(t, id, 2, "calc.add.response", &end) == CALL_FINISHED, "a second reply is recognised");
	CHECK(calls_answer(t, id, 2, "speak", &end) == CALL_UNKNOWN);
	CHECK(calls_answer(t, 12345, 2, "calc.add.response", &end) == CALL_UNKNOWN);
	CHECK(calls_answer(t, 0, 2, "calc.add.response", &end) == CALL_UNKNOWN);
	calls_free(t);
}

static void test_quota(void)
{
	struct calls *t = NULL;
	struct call_request req = { .caller = 1, .owner = "greedy", .call_id = "g", .type = "a",
				    .reply_type = "a.response", .deadline_ms = 10 };
	uint64_t ids[8], id;

	REQUIRE(calls_new(&t, 6, 4) == 0);
	for (int i = 0; i < 4; i++)
		REQUIRE(calls_open(t, &req, &ids[i]) == 0);
	CHECK_MSG(calls_open(t, &req, &id) == CALLS_OWNER_QUOTA, "the fifth pending call of one owner is refused");
	req.caller = 2; /* another connection of the same identity counts against the same quota */
	CHECK(calls_open(t, &req, &id) == CALLS_OWNER_QUOTA);
	req.owner = "other";
	REQUIRE(calls_open(t, &req, &ids[4]) == 0);
	REQUIRE(calls_open(t, &req, &ids[5]) == 0);
	CHECK_MSG(calls_open(t, &req, &id) == CALLS_FULL, "the table holds at most max_calls");
	CHECK(calls_end(t, ids[0], NULL));
	CHECK(!calls_end(t, ids[0], NULL));
	req.owner = "greedy";
	CHECK(calls_open(t, &req, &ids[0]) == 0);
	/* Bad arguments. */
	req.call_id = "capbus:0000000000100000";
	CHECK(calls_open(t, &req, &id) == -EINVAL);
	req.call_id = "g";
	req.owner = "";
	CHECK(calls_open(t, &req, &id) == -EINVAL);
	CHECK(calls_new(&(struct calls *){ NULL }, 0, 1) == -EINVAL);
	calls_free(t);
}

static void test_deadlines_and_conns(void)
{
	struct calls *t = NULL;
	struct call_end end;

	REQUIRE(calls_new(&t, 64, 64) == 0);
	uint64_t a = open_call(t, 1, "x", "a", 100);
	uint64_t b = open_call(t, 1, "x", "b", 300);
	uint64_t c = open_call(t, 2, "y", "c", 1000);
	uint64_t d = open_call(t, 3, "z", "d", 1000);
	calls_add_target(t, a, 5);
	calls_add_target(t, c, 5);
	calls_add_target(t, c, 6);
	calls_add_target(t, d, 7);

	CHECK(!calls_next_expired(t, 99, &end));
	CHECK(calls_next_expired(t, 100, &end) && end.caller == 1 && strcmp(end.call_id, "a") == 0);
	CHECK(!calls_next_expired(t, 100, &end));
	CHECK(calls_answer(t, a, 5, "calc.add.response", &end) == CALL_FINISHED);

	calls_conn_gone(t, 5);
	CHECK_MSG(!calls_next_orphan(t, &end), "a call with another possible answerer is not orphaned");
	calls_conn_gone(t, 6);
	CHECK(calls_next_orphan(t, &end) && end.caller == 2 && strcmp(end.call_id, "c") == 0);
	CHECK(!calls_next_orphan(t, &end));
	CHECK(calls_pending(t) == 2);

	calls_conn_gone(t, 1); /* the caller of b leaves: its call ends silently */
	CHECK(calls_pending(t) == 1 && calls_owner_pending(t, "x") == 0);
	CHECK(!calls_next_orphan(t, &end) && !calls_next_expired(t, 500, &end));
	CHECK(calls_answer(t, b, 5, "calc.add.response", &end) == CALL_FINISHED);
	CHECK(calls_answer(t, d, 7, "calc.add.response", &end) == CALL_BOUND && end.caller == 3);
	CHECK(calls_pending(t) == 0 && calls_owner_pending(t, "z") == 0);
	calls_free(t);
}

static void test_reuse(void)
{
	struct calls *t = NULL;
	struct call_end end;
	uint64_t first;

	REQUIRE(calls_new(&t, 300, 300) == 0);
	first = open_call(t, 1, "x", "a", 100);
	calls_add_target(t, first, 2);
	CHECK(calls_answer(t, first, 2, "calc.add.response", &end) == CALL_BOUND);
	/* Many calls later, the first call's slot serves another call: the old id stays dead. */
	for (int i = 0; i < 1000; i++) {
		uint64_t id = open_call(t, 1, "x", "a", 100);
		CHECK(id != first);
		calls_add_target(t, id, 2);
		if (calls_answer(t, first, 2, "calc.add.response", &end) == CALL_BOUND) {
			CHECK_MSG(false, "an old id answered call %d", i);
			break;
		}
		REQUIRE(calls_answer(t, id, 2, "calc.add.response", &end) == CALL_BOUND);
	}
	CHECK(calls_pending(t) == 0);
	calls_free(t);
}

/* An ended call stays recognisable (CALL_FINISHED) while 255 more calls end after it, even
 * when many are pending. */
static void test_memory(void)
{
	struct calls *t = NULL;
	struct call_end end;
	uint64_t pending[300], first;

	REQUIRE(calls_new(&t, 8192, 8192) == 0);
	for (int i = 0; i < 300; i++)
		pending[i] = open_call(t, 1, "x", "p", 100);
	first = open_call(t, 1, "x", "a", 100);
	REQUIRE(calls_end(t, first, NULL));
	for (int i = 0; i < 255; i++) {
		uint64_t id = open_call(t, 1, "x", "a", 100);
		REQUIRE(calls_end(t, id, NULL));
	}
	CHECK_MSG(calls_answer(t, first, 2, "calc.add.response", &end) == CALL_FINISHED,
		  "an ended call is remembered while 255 later calls end");
	for (int i = 0; i < 300; i++)
		REQUIRE(calls_end(t, pending[i], NULL));
	calls_free(t);
}

int main(void)
{
	test_ids();
	test_binding();
	test_quota();
	test_deadlines_and_conns();
	test_reuse();
	test_memory();
	return check_finish("test-calls");
}
