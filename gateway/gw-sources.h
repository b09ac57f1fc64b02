/* SPDX-License-Identifier: MIT */
/* gw-sources.h - per-source connection counts and failed-login lock-out, in fixed memory.
 *
 * A source is a remote address (IPv4, or the /64 of an IPv6 address) or, for a loopback
 * connection the kernel attributed, the connecting process's cgroup. Every entry point takes
 * peer-chosen keys, so the table is sized once, never grows, and is indexed with SipHash under
 * a key drawn at creation: an attacker cannot aim many keys at one bucket. No I/O, no logging,
 * no clock (callers pass now in milliseconds of CLOCK_MONOTONIC).
 *
 * Lock-out: a failure after more than forget_s seconds of calm starts a fresh count; at
 * `threshold` failures the source is locked for base_s seconds, doubling with every further
 * failure up to max_s. A success clears the count (not a running lock: a locked source is
 * refused before it can succeed). Eviction when a probe window is full: never an entry with
 * live connections; first an idle unlocked entry (oldest failure first), then the lock that
 * ends soonest. See docs/gateway.md for what that costs an attacker. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gwconfig.h"

/* kind: 4 IPv4 (b[0..3]), 6 IPv6 /64 (b[0..7]), 'c' cgroup id (b[0..7], host order); 0 unused.
 * The padding is always zero, so keys compare and hash as bytes. */
struct gw_source_key { uint8_t kind; uint8_t pad[7]; uint8_t b[16]; };
#define GW_SOURCE_IPV4 4
#define GW_SOURCE_IPV6 6
#define GW_SOURCE_CGROUP 'c'

/* Entries probed per key: a key lives in one of 16 slots after its hash. */
#define GW_SOURCES_WINDOW 16
/* The smallest table gw_sources_new accepts. */
#define GW_SOURCES_MIN GW_SOURCES_WINDOW

struct gw_sources;

/* A table of exactly capacity entries (>= GW_SOURCES_MIN; 48 bytes each), allocated here and
 * never resized. The parameters are copied; threshold and base_s must be >= 1 and
 * max_s >= base_s. Returns 0, -EINVAL or -ENOMEM. */
int gw_sources_new(struct gw_sources **out, size_t capacity, const struct gw_lockout_params *p);
void gw_sources_free(struct gw_sources *s);
static inline void gw_sources_freep(struct gw_sources **s) { gw_sources_free(*s); }

/* The key of an address: AF_INET as is, AF_INET6 by its /64 (one subscriber usually holds a
 * whole /64), v4-mapped IPv6 folded to the IPv4 key. Other families: kind 0 (never admitted). */
void gw_sources_key_addr(const struct sockaddr *sa, struct gw_source_key *k);
void gw_sources_key_cgroup(uint64_t cgroup_id, struct gw_source_key *k);
/* "203.0.113.7", "2001:db8:1:2::/64", "cg:181931": for log lines. Returns buf. */
const char *gw_sources_key_str(const struct gw_source_key *k, char *buf, size_t n);

enum gw_admit { GW_ADMIT_OK, GW_ADMIT_LOCKED, GW_ADMIT_TOO_MANY, GW_ADMIT_FULL };
/* A new connection from k. OK: counted (call gw_sources_release when it ends). LOCKED: the
 * source is locked out, *retry_ms (optional) says for how much longer. TOO_MANY: it already has
 * max_per_source live connections. FULL: every slot of its window holds a live connection. */
enum gw_admit gw_sources_admit(struct gw_sources *s, const struct gw_source_key *k,
			       uint32_t max_per_source, uint64_t now_ms, uint64_t *retry_ms);
/* One connection admitted for k has ended. */
void gw_sources_release(struct gw_sources *s, const struct gw_source_key *k);
bool gw_sources_locked(const struct gw_sources *s, const struct gw_source_key *k, uint64_t now_ms);
/* A failed authentication from k. Returns the seconds of a lock this failure started (0 if it
 * started none) and *failures (optional) the count so far. A source that has no entry and no
 * free slot is not recorded (returns 0, *failures 0): that happens only when 16 live
 * connections fill its window, which admission already refuses. */
uint32_t gw_sources_fail(struct gw_sources *s, const struct gw_source_key *k, uint64_t now_ms,
			 uint32_t *failures);
void gw_sources_success(struct gw_sources *s, const struct gw_source_key *k);

struct gw_sources_stats { uint64_t used, locked, evictions, full; };
void gw_sources_get_stats(const struct gw_sources *s, uint64_t now_ms, struct gw_sources_stats *out);
size_t gw_sources_capacity(const struct gw_sources *s);
