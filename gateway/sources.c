// SPDX-License-Identifier: MIT
/* sources.c - per-source connection counts and lock-out in a fixed table (see gw-sources.h).
 *
 * Trust level: every key is chosen by a peer (its address, or the cgroup it connects from).
 * One array, allocated at creation; no allocation per attempt. Open addressing: a key lives in
 * the GW_SOURCES_WINDOW slots after its SipHash-2-4 index (key drawn from randombytes per
 * table), so an attacker cannot tell which keys share a window, let alone pick them. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>

#include "gw-sources.h"
#include "util.h"

struct gw_source { /* 48 bytes */
	struct gw_source_key key;
	uint32_t conns;    /* live connections: never evicted while > 0 */
	uint16_t failures; /* failures since the last calm period or success */
	uint16_t used;     /* 1 when key is set */
	uint64_t last_fail_ms, locked_until_ms;
};
_Static_assert(sizeof(struct gw_source) == 48, "gw_source is 48 bytes");

struct gw_sources {
	size_t capacity;
	struct gw_lockout_params p;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	uint64_t evictions, full;
	struct gw_source e[];
};

int gw_sources_new(struct gw_sources **out, size_t capacity, const struct gw_lockout_params *p)
{
	struct gw_sources *s;

	if (!out || !p || capacity < GW_SOURCES_MIN || capacity > (SIZE_MAX - sizeof(*s)) / sizeof(struct gw_source) ||
	    p->threshold < 1 || p->base_s < 1 || p->max_s < p->base_s)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	s = calloc(1, sizeof(*s) + capacity * sizeof(struct gw_source));
	if (!s)
		return -ENOMEM;
	s->capacity = capacity;
	s->p = *p;
	randombytes_buf(s->hash_key, sizeof(s->hash_key));
	*out = s;
	return 0;
}

void gw_sources_free(struct gw_sources *s)
{
	if (s)
		sodium_memzero(s->hash_key, sizeof(s->hash_key));
	free(s);
}

size_t gw_sources_capacity(const struct gw_sources *s)
{
	return s->capacity;
}

void gw_sources_key_addr(const struct sockaddr *sa, struct gw_source_key *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		k->kind = GW_SOURCE_IPV4;
		memcpy(k->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			k->kind = GW_SOURCE_IPV4;
			memcpy(k->b, a + 12, 4);
		} else {
			k->kind = GW_SOURCE_IPV6;
			memcpy(k->b, a, 8);
		}
	}
}

void gw_sources_key_cgroup(uint64_t cgroup_id, struct gw_source_key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = GW_SOURCE_CGROUP;
	memcpy(k->b, &cgroup_id, sizeof(cgroup_id));
}

const char *gw_sources_key_str(const struct gw_source_key *k, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];
	uint8_t v6[16] = {};
	uint64_t id;

	if (n == 0)
		return buf;
	switch (k->kind) {
	case GW_SOURCE_IPV4:
		snprintf(buf, n, "%s", inet_ntop(AF_INET, k->b, a, sizeof(a)) ? a : "?");
		break;
	case GW_SOURCE_IPV6:
		memcpy(v6, k->b, 8);
		snprintf(buf, n, "%s/64", inet_ntop(AF_INET6, v6, a, sizeof(a)) ? a : "?");
		break;
	case GW_SOURCE_CGROUP:
		memcpy(&id, k->b, sizeof(id));
		snprintf(buf, n, "cg:%llu", (unsigned long long)id);
		break;
	default:
		snprintf(buf, n, "none");
	}
	return buf;
}

static bool is_locked(const struct gw_source *e, uint64_t now_ms)
{
	return e->used && e->locked_until_ms > now_ms;
}

/* Calm since the last failure or the end of the last lock, whichever is later: a lock that
 * ran out does not by itself wipe the count, so the next failure doubles the lock again. */
static bool is_calm(const struct gw_sources *s, const struct gw_source *e, uint64_t now_ms)
{
	uint64_t since = e->last_fail_ms > e->locked_until_ms ? e->last_fail_ms : e->locked_until_ms;
	return now_ms >= since && now_ms - since > (uint64_t)s->p.forget_s * 1000u;
}

/* A slot that holds nothing worth keeping: empty, or idle, unlocked and with no failure that
 * still counts. */
static bool is_free(const struct gw_sources *s, const struct gw_source *e, uint64_t now_ms)
{
	if (!e->used)
		return true;
	return e->conns == 0 && !is_locked(e, now_ms) && (e->failures == 0 || is_calm(s, e, now_ms));
}

static size_t slot_index(const struct gw_sources *s, const struct gw_source_key *k)
{
	uint64_t h;
	crypto_shorthash((uint8_t *)&h, (const uint8_t *)k, sizeof(*k), s->hash_key);
	return (size_t)(h % s->capacity);
}

static struct gw_source *find(const struct gw_sources *s, const struct gw_source_key *k)
{
	size_t i0 = slot_index(s, k);

	if (k->kind == 0)
		return NULL;
	for (size_t i = 0; i < GW_SOURCES_WINDOW; i++) {
		struct gw_source *e = (struct gw_source *)&s->e[(i0 + i) % s->capacity];
		if (e->used && memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	}
	return NULL;
}

/* The entry of k, created if missing: in a free slot of its window, else by evicting (see
 * gw-sources.h). NULL when every slot of the window has live connections. */
static struct gw_source *find_or_insert(struct gw_sources *s, const struct gw_source_key *k, uint64_t now_ms)
{
	struct gw_source *e = find(s, k), *idle = NULL, *lock = NULL;
	size_t i0;

	if (e || k->kind == 0)
		return e;
	i0 = slot_index(s, k);
	for (size_t i = 0; i < GW_SOURCES_WINDOW; i++) {
		struct gw_source *c = &s->e[(i0 + i) % s->capacity];
		if (is_free(s, c, now_ms)) {
			e = c;
			break;
		}
		if (c->conns > 0)
			continue;
		if (!is_locked(c, now_ms)) {
			if (!idle || c->last_fail_ms < idle->last_fail_ms)
				idle = c;
		} else if (!lock || c->locked_until_ms < lock->locked_until_ms) {
			lock = c;
		}
	}
	if (!e) {
		e = idle ? idle : lock;
		if (!e) {
			s->full++;
			return NULL;
		}
		s->evictions++;
	}
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->used = 1;
	return e;
}

enum gw_admit gw_sources_admit(struct gw_sources *s, const struct gw_source_key *k, uint32_t max_per_source,
			       uint64_t now_ms, uint64_t *retry_ms)
{
	struct gw_source *e = find(s, k);

	if (k->kind == 0)
		return GW_ADMIT_FULL;
	if (e && is_locked(e, now_ms)) {
		if (retry_ms)
			*retry_ms = e->locked_until_ms - now_ms;
		return GW_ADMIT_LOCKED;
	}
	if (e && e->conns >= max_per_source)
		return GW_ADMIT_TOO_MANY;
	if (!e) {
		if (max_per_source == 0)
			return GW_ADMIT_TOO_MANY;
		e = find_or_insert(s, k, now_ms);
		if (!e)
			return GW_ADMIT_FULL;
	}
	e->conns++;
	return GW_ADMIT_OK;
}

void gw_sources_release(struct gw_sources *s, const struct gw_source_key *k)
{
	struct gw_source *e = find(s, k);

	if (e && e->conns > 0)
		e->conns--;
}

bool gw_sources_locked(const struct gw_sources *s, const struct gw_source_key *k, uint64_t now_ms)
{
	const struct gw_source *e = find(s, k);
	return e && is_locked(e, now_ms);
}

static uint32_t lock_seconds(const struct gw_lockout_params *p, uint32_t failures)
{
	uint32_t shift = failures - p->threshold;

	if (shift >= 32 || (uint64_t)p->base_s << shift >= p->max_s)
		return p->max_s;
	return p->base_s << shift;
}

uint32_t gw_sources_fail(struct gw_sources *s, const struct gw_source_key *k, uint64_t now_ms, uint32_t *failures)
{
	struct gw_source *e = find_or_insert(s, k, now_ms);
	uint32_t secs = 0;

	if (!e) {
		if (failures)
			*failures = 0;
		return 0;
	}
	if (e->failures > 0 && !is_locked(e, now_ms) && is_calm(s, e, now_ms))
		e->failures = 0;
	if (e->failures < UINT16_MAX)
		e->failures++;
	e->last_fail_ms = now_ms;
	if (e->failures >= s->p.threshold) {
		secs = lock_seconds(&s->p, e->failures);
		uint64_t until = now_ms + (uint64_t)secs * 1000u;
		if (until > e->locked_until_ms)
			e->locked_until_ms = until;
	}
	if (failures)
		*failures = e->failures;
	return secs;
}

void gw_sources_success(struct gw_sources *s, const struct gw_source_key *k)
{
	struct gw_source *e = find(s, k);

	if (e)
		e->failures = 0;
}

void gw_sources_get_stats(const struct gw_sources *s, uint64_t now_ms, struct gw_sources_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < s->capacity; i++) {
		const struct gw_source *e = &s->e[i];
		if (!is_free(s, e, now_ms))
			out->used++;
		if (is_locked(e, now_ms))
			out->locked++;
	}
	out->evictions = s->evictions;
	out->full = s->full;
}
