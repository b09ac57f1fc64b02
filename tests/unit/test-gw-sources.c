// SPDX-License-Identifier: MIT
/* test-gw-sources.c - gateway/sources.c: the lock-out schedule (growing interval, cap, forget
 * time, success), per-source connection counts, and a flood of failures from many sources:
 * the table never grows, live and good sources are untouched, and flooding cannot evict a
 * locked source before fresher locks.
 *
 * Links only the gateway's authentication library. */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sodium.h>

#include "check.h"
#include "gw-sources.h"
#include "util.h"

static const struct gw_lockout_params params = { .threshold = 3, .base_s = 1, .max_s = 8, .forget_s = 10 };

static void key4(uint32_t addr, struct gw_source_key *k)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };
	gw_sources_key_addr((struct sockaddr *)&in, k);
}

static void test_keys(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 }, b = { .sin6_family = AF_INET6 }, m = { .sin6_family = AF_INET6 };
	struct gw_source_key ka, kb, km, k4, kc;
	char buf[64];

	inet_pton(AF_INET6, "2001:db8:1:2::1", &a.sin6_addr);
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::7", &b.sin6_addr);
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &m.sin6_addr);
	gw_sources_key_addr((struct sockaddr *)&a, &ka);
	gw_sources_key_addr((struct sockaddr *)&b, &kb);
	gw_sources_key_addr((struct sockaddr *)&m, &km);
	key4(0xc0000207, &k4);
	gw_sources_key_cgroup(181931, &kc);
	CHECK_MSG(memcmp(&ka, &kb, sizeof(ka)) == 0, "one IPv6 /64 is one source");
	CHECK_MSG(memcmp(&km, &k4, sizeof(km)) == 0, "a v4-mapped address is its IPv4 source");
	CHECK_STREQ(gw_sources_key_str(&ka, buf, sizeof(buf)), "2001:db8:1:2::/64");
	CHECK_STREQ(gw_sources_key_str(&k4, buf, sizeof(buf)), "192.0.2.7");
	CHECK_STREQ(gw_sources_key_str(&kc, buf, sizeof(buf)), "cg:181931");

	struct sockaddr sa = { .sa_family = AF_UNIX };
	gw_sources_key_addr(&sa, &ka);
	CHECK(ka.kind == 0);
}

static void test_new(void)
{
	struct gw_sources *s = NULL;
	struct gw_lockout_params bad = params;

	CHECK(gw_sources_new(&s, GW_SOURCES_MIN - 1, &params) == -EINVAL);
	bad.threshold = 0;
	CHECK(gw_sources_new(&s, 64, &bad) == -EINVAL);
	bad = params;
	bad.max_s = 0;
	CHECK(gw_sources_new(&s, 64, &bad) == -EINVAL);
	CHECK(s == NULL);
	gw_sources_free(NULL);
}

static void test_schedule(void)
{
	_cleanup_(gw_sources_freep) struct gw_sources *s = NULL;
	struct gw_source_key k, other;
	uint64_t now = 1000000, retry = 0;
	uint32_t failures = 0;

	REQUIRE(gw_sources_new(&s, 64, &params) == 0);
	key4(0x0a000001, &k);
	key4(0x0a000002, &other);

	CHECK(gw_sources_fail(s, &k, now, &failures) == 0 && failures == 1);
	CHECK(gw_sources_fail(s, &k, now, &failures) == 0 && failures == 2);
	CHECK(!gw_sources_locked(s, &k, now));
	CHECK_MSG(gw_sources_fail(s, &k, now, &failures) == 1 && failures == 3, "the threshold locks for base_s");
	CHECK(gw_sources_locked(s, &k, now));
	CHECK(gw_sources_admit(s, &k, 4, now + 500, &retry) == GW_ADMIT_LOCKED && retry == 500);
	CHECK_MSG(gw_sources_admit(s, &other, 4, now + 500, NULL) == GW_ADMIT_OK, "another source is not locked");
	gw_sources_release(s, &other);

	/* Each further failure doubles, up to max_s. */
	uint32_t expect[] = { 2, 4, 8, 8, 8 };
	for (size_t i = 0; i < ARRAY_LEN(expect); i++) {
		now += 9000; /* past every lock so far (at most 8 s), within forget_s (10 s) of its end */
		CHECK(!gw_sources_locked(s, &k, now));
		CHECK_MSG(gw_sources_fail(s, &k, now, &failures) == expect[i], "failure %u locks for %u s", failures,
			  expect[i]);
	}
	CHECK(gw_sources_admit(s, &k, 4, now + 7999, NULL) == GW_ADMIT_LOCKED);
	CHECK(gw_sources_admit(s, &k, 4, now + 8000, NULL) == GW_ADMIT_OK);
	gw_sources_release(s, &k);

	/* Calm for more than forget_s after the end of the lock: a fresh count. */
	now += 8000 + 10 * 1000 + 1;
	CHECK_MSG(gw_sources_fail(s, &k, now, &failures) == 0 && failures == 1, "forget_s after the lock: counting anew");

	/* A success clears the count. */
	CHECK(gw_sources_fail(s, &k, now, &failures) == 0 && failures == 2);
	gw_sources_success(s, &k);
	CHECK_MSG(gw_sources_fail(s, &k, now, &failures) == 0 && failures == 1, "a success resets the count");

	/* Lock seconds never overflow, whatever the count. */
	for (int i = 0; i < 70000; i++)
		gw_sources_fail(s, &k, now, &failures);
	CHECK(failures == UINT16_MAX);
	CHECK(gw_sources_fail(s, &k, now, NULL) == 8);
}

static void test_per_source(void)
{
	_cleanup_(gw_sources_freep) struct gw_sources *s = NULL;
	struct gw_source_key k;

	REQUIRE(gw_sources_new(&s, 64, &params) == 0);
	gw_sources_key_cgroup(42, &k);
	CHECK(gw_sources_admit(s, &k, 2, 1, NULL) == GW_ADMIT_OK);
	CHECK(gw_sources_admit(s, &k, 2, 1, NULL) == GW_ADMIT_OK);
	CHECK_MSG(gw_sources_admit(s, &k, 2, 1, NULL) == GW_ADMIT_TOO_MANY, "max_per_source live connections");
	gw_sources_release(s, &k);
	CHECK(gw_sources_admit(s, &k, 2, 1, NULL) == GW_ADMIT_OK);
	CHECK(gw_sources_admit(s, &k, 0, 1, NULL) == GW_ADMIT_TOO_MANY);

	struct gw_source_key none = {};
	CHECK(gw_sources_admit(s, &none, 2, 1, NULL) == GW_ADMIT_FULL);
}

/* capacity 16 = one window: every key competes for the same 16 slots, so the eviction order
 * can be checked exactly. */
static void test_eviction_order(void)
{
	_cleanup_(gw_sources_freep) struct gw_sources *s = NULL;
	struct gw_source_key k[16], fresh, locked_long, newcomer;
	struct gw_sources_stats st;
	uint64_t now = 5000000;

	REQUIRE(gw_sources_new(&s, 16, &params) == 0);

	/* 16 live connections: nobody else gets in, nothing is evicted. */
	for (int i = 0; i < 16; i++) {
		key4(0x0b000000u + (uint32_t)i, &k[i]);
		REQUIRE(gw_sources_admit(s, &k[i], 4, now, NULL) == GW_ADMIT_OK);
	}
	key4(0x0c000001, &newcomer);
	CHECK_MSG(gw_sources_admit(s, &newcomer, 4, now, NULL) == GW_ADMIT_FULL, "a window of live connections refuses");
	CHECK(gw_sources_fail(s, &newcomer, now, NULL) == 0);
	gw_sources_get_stats(s, now, &st);
	CHECK(st.full == 2 && st.evictions == 0 && st.used == 16);

	/* All idle, with failures at different times (below the threshold): the oldest goes. */
	for (int i = 0; i < 16; i++) {
		gw_sources_release(s, &k[i]);
		gw_sources_fail(s, &k[i], now + (uint64_t)(i == 5 ? 0 : 100 + i), NULL);
	}
	now += 1000;
	CHECK(gw_sources_fail(s, &newcomer, now, NULL) == 0);
	gw_sources_get_stats(s, now, &st);
	CHECK(st.evictions == 1);
	/* k[5] lost its count: it starts again at 1 */
	uint32_t f = 0;
	gw_sources_fail(s, &k[5], now, &f);
	CHECK_MSG(f == 1, "the idle entry with the oldest failure was evicted first");

	/* All locked: the lock that ends soonest goes, never a longer one. */
	gw_sources_free(s);
	s = NULL;
	REQUIRE(gw_sources_new(&s, 16, &params) == 0);
	key4(0x0d000001, &locked_long);
	for (int i = 0; i < 6; i++)
		gw_sources_fail(s, &locked_long, now, NULL); /* 1,2,4,8 -> locked for 8 s */
	for (int i = 0; i < 15; i++)
		for (int j = 0; j < 3; j++)
			gw_sources_fail(s, &k[i], now + 100 + (uint64_t)i, NULL); /* locked 1 s each */
	key4(0x0d000002, &fresh);
	for (int round = 0; round < 200; round++) {
		struct gw_source_key a;
		key4(0x0e000000u + (uint32_t)round, &a);
		for (int j = 0; j < 3; j++)
			gw_sources_fail(s, &a, now + 200, NULL);
	}
	CHECK_MSG(gw_sources_locked(s, &locked_long, now + 200), "200 fresh lock-outs did not evict the long lock");
	gw_sources_get_stats(s, now + 200, &st);
	CHECK(st.used == 16 && st.locked == 16 && st.evictions > 0);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks;
}

/* 100 000 failures from 100 000 addresses (random, so spread over every window) against a table
 * of 256 entries, while a good client holds a connection, a known source is locked out and
 * another good source logs in now and then. */
static void test_flood(void)
{
	_cleanup_(gw_sources_freep) struct gw_sources *s = NULL;
	struct gw_lockout_params p = { .threshold = 5, .base_s = 1, .max_s = 3600, .forget_s = 900 };
	struct gw_source_key good, locked, occasional, a;
	struct gw_sources_stats st;
	uint64_t now = 1000, retry = 0;
	size_t before;
	bool good_ok = true;

	REQUIRE(gw_sources_new(&s, 256, &p) == 0);
	gw_sources_key_cgroup(7, &good);
	key4(0x0a0a0a0a, &locked);
	key4(0x0a0a0a0b, &occasional);
	REQUIRE(gw_sources_admit(s, &good, 32, now, NULL) == GW_ADMIT_OK);
	for (int i = 0; i < 12; i++)
		gw_sources_fail(s, &locked, now, NULL); /* failure 12: locked for 128 s */
	REQUIRE(gw_sources_locked(s, &locked, now));

	before = heap_in_use();
	for (uint32_t i = 0; i < 100000; i++) {
		key4(randombytes_random(), &a);
		now += 1; /* 100 s of flood in all */
		if (gw_sources_admit(s, &a, 32, now, NULL) == GW_ADMIT_OK) {
			gw_sources_fail(s, &a, now, NULL);
			gw_sources_release(s, &a);
		}
		if (i % 1000 == 0) {
			good_ok &= gw_sources_admit(s, &occasional, 32, now, NULL) == GW_ADMIT_OK;
			gw_sources_success(s, &occasional);
			gw_sources_release(s, &occasional);
		}
	}
	CHECK_MSG(heap_in_use() == before, "no allocation during the flood (heap in use %zu -> %zu)", before, heap_in_use());
	gw_sources_get_stats(s, now, &st);
	CHECK(st.used <= gw_sources_capacity(s));
	CHECK_MSG(st.evictions > 90000, "evictions happened (%llu)", (unsigned long long)st.evictions);
	CHECK_MSG(good_ok, "a good source was admitted throughout the flood");
	CHECK_MSG(gw_sources_admit(s, &good, 32, now, NULL) == GW_ADMIT_OK, "the live connection's entry survived");
	CHECK_MSG(gw_sources_admit(s, &locked, 32, now, &retry) == GW_ADMIT_LOCKED && retry > 27000,
		  "the locked source is still locked after 100 000 failures from other sources");

	/* The same flood, every attacker locking itself out (5 failures each): fresh 1 s locks end
	 * before the 128 s one, so they are evicted first. */
	for (uint32_t i = 0; i < 20000; i++) {
		key4(randombytes_random(), &a);
		now += 1;
		for (int j = 0; j < 5; j++)
			gw_sources_fail(s, &a, now, NULL);
	}
	CHECK_MSG(gw_sources_locked(s, &locked, now), "self-locking attackers do not unlock it either");
}

int main(void)
{
	REQUIRE(sodium_init() >= 0);
	test_keys();
	test_new();
	test_schedule();
	test_per_source();
	test_eviction_order();
	test_flood();
	return check_finish("test-gw-sources");
}
