/* SPDX-License-Identifier: MIT */
/* nonces.h - the admin nonces the parent has issued and not yet seen used (privileged parent).
 *
 * A bounded table: each nonce is random, single use and expires; when the table is full the
 * oldest is dropped. Time is passed in so that expiry needs no clock here. No I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authority.h"

#define NONCES_MAX 64

struct nonces {
	struct {
		uint8_t nonce[AUTHORITY_NONCE_LEN];
		uint64_t issued_ms;
		bool used; /* slot holds an outstanding nonce */
	} slot[NONCES_MAX];
	uint64_t ttl_ms;
};

/* Outcomes of nonces_consume(). */
enum {
	NONCES_UNKNOWN = 1, /* never issued, already used, or dropped for a newer one */
	NONCES_EXPIRED = 2, /* issued more than ttl_ms ago (now consumed as well) */
};

void nonces_init(struct nonces *n, uint64_t ttl_ms);

/* Makes a fresh random nonce into out and remembers it, dropping the oldest one when full. */
void nonces_issue(struct nonces *n, uint64_t now_ms, uint8_t out[AUTHORITY_NONCE_LEN]);

/* Forgets nonce if outstanding. Returns 0 when it was outstanding and fresh, else a NONCES_*
 * code. The comparison runs in constant time per slot. */
int nonces_consume(struct nonces *n, uint64_t now_ms, const uint8_t nonce[AUTHORITY_NONCE_LEN]);

/* Outstanding, unexpired nonces (for tests). */
size_t nonces_outstanding(const struct nonces *n, uint64_t now_ms);
