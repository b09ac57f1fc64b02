// SPDX-License-Identifier: MIT
/* test-nonces.c - unit tests for busd/parent/nonces.c: single use, expiry, the bound. */
#include <string.h>

#include "check.h"
#include "parent/nonces.h"

static void test_single_use(void)
{
	struct nonces n;
	uint8_t a[AUTHORITY_NONCE_LEN], b[AUTHORITY_NONCE_LEN], zero[AUTHORITY_NONCE_LEN] = { 0 };

	nonces_init(&n, 60000);
	nonces_issue(&n, 1000, a);
	nonces_issue(&n, 1000, b);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(nonces_outstanding(&n, 1000) == 2);
	CHECK(nonces_consume(&n, 2000, zero) == NONCES_UNKNOWN);
	CHECK(nonces_consume(&n, 2000, a) == 0);
	CHECK(nonces_consume(&n, 2000, a) == NONCES_UNKNOWN);
	b[0] ^= 1;
	CHECK(nonces_consume(&n, 2000, b) == NONCES_UNKNOWN);
	b[0] ^= 1;
	CHECK(nonces_consume(&n, 2000, b) == 0);
	CHECK(nonces_outstanding(&n, 2000) == 0);
}

static void test_expiry(void)
{
	struct nonces n;
	uint8_t a[AUTHORITY_NONCE_LEN], b[AUTHORITY_NONCE_LEN];

	nonces_init(&n, 60000);
	nonces_issue(&n, 1000, a);
	nonces_issue(&n, 1000, b);
	CHECK(nonces_consume(&n, 61000, a) == 0);          /* exactly the lifetime: still valid */
	CHECK(nonces_consume(&n, 61001, b) == NONCES_EXPIRED);
	CHECK(nonces_consume(&n, 61001, b) == NONCES_UNKNOWN); /* expired ones are used up too */
}

/* At most NONCES_MAX outstanding: the oldest is dropped for a new one. */
static void test_bound(void)
{
	struct nonces n;
	uint8_t v[NONCES_MAX + 2][AUTHORITY_NONCE_LEN];

	nonces_init(&n, 60000);
	for (int i = 0; i < NONCES_MAX + 2; i++)
		nonces_issue(&n, 1000 + (uint64_t)i, v[i]);
	CHECK(nonces_outstanding(&n, 1000 + NONCES_MAX) == NONCES_MAX);
	CHECK(nonces_consume(&n, 2000, v[0]) == NONCES_UNKNOWN);
	CHECK(nonces_consume(&n, 2000, v[1]) == NONCES_UNKNOWN);
	for (int i = 2; i < NONCES_MAX + 2; i++)
		CHECK(nonces_consume(&n, 2000, v[i]) == 0);
	CHECK(nonces_outstanding(&n, 2000) == 0);
}

int main(void)
{
	test_single_use();
	test_expiry();
	test_bound();
	return check_finish("test-nonces");
}
