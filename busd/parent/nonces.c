// SPDX-License-Identifier: MIT
/* nonces.c - issue and consume single-use admin nonces (privileged parent). */
#include "parent/nonces.h"

#include <sodium.h>
#include <string.h>

void nonces_init(struct nonces *n, uint64_t ttl_ms)
{
	memset(n, 0, sizeof(*n));
	n->ttl_ms = ttl_ms;
}

static bool expired(const struct nonces *n, size_t i, uint64_t now_ms)
{
	return now_ms > n->slot[i].issued_ms + n->ttl_ms;
}

void nonces_issue(struct nonces *n, uint64_t now_ms, uint8_t out[AUTHORITY_NONCE_LEN])
{
	size_t pick = 0;

	/* A free or expired slot, else the oldest: an admin who asked for more than NONCES_MAX
	 * nonces without using them loses the oldest, never the daemon its memory. */
	for (size_t i = 0; i < NONCES_MAX; i++) {
		if (!n->slot[i].used || expired(n, i, now_ms)) {
			pick = i;
			break;
		}
		if (n->slot[i].issued_ms < n->slot[pick].issued_ms)
			pick = i;
	}
	randombytes_buf(n->slot[pick].nonce, AUTHORITY_NONCE_LEN);
	n->slot[pick].issued_ms = now_ms;
	n->slot[pick].used = true;
	memcpy(out, n->slot[pick].nonce, AUTHORITY_NONCE_LEN);
}

int nonces_consume(struct nonces *n, uint64_t now_ms, const uint8_t nonce[AUTHORITY_NONCE_LEN])
{
	for (size_t i = 0; i < NONCES_MAX; i++) {
		if (!n->slot[i].used || sodium_memcmp(n->slot[i].nonce, nonce, AUTHORITY_NONCE_LEN) != 0)
			continue;
		bool stale = expired(n, i, now_ms);
		sodium_memzero(&n->slot[i], sizeof(n->slot[i]));
		return stale ? NONCES_EXPIRED : 0;
	}
	return NONCES_UNKNOWN;
}

size_t nonces_outstanding(const struct nonces *n, uint64_t now_ms)
{
	size_t count = 0;
	for (size_t i = 0; i < NONCES_MAX; i++)
		count += n->slot[i].used && !expired(n, i, now_ms);
	return count;
}
