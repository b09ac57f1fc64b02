/* SPDX-License-Identifier: MIT */
/* gw-diag.h - which local cgroup a loopback TCP peer connected from, and which identity that is.
 *
 * The kernel attributes every socket to the cgroup v2 of the process that created it. For an
 * accepted loopback connection, one exact SOCK_DIAG_BY_FAMILY request (no dump) asks for the
 * peer's socket by its 4-tuple and reads INET_DIAG_CGROUP_ID. The answer counts only when the
 * peer's socket and ours are both ESTABLISHED (a closed peer's orphaned socket still reports its
 * cgroup; a port reused after a close would report someone else's), the reply echoes the tuple
 * and the id is non-zero. Needs no privilege.
 *
 * The identity map: configured cgroup paths (relative to the v2 mount) resolved to their ids
 * (the directory's inode number on cgroup v2, never reused); a miss re-resolves at most every
 * 100 ms, so a restarted service (new cgroup, new id) is found again, and a stale entry can
 * only miss, never name another cgroup. Exact cgroup only, no descendants.
 *
 * Trust level: peer addresses come from the kernel; the netlink reply comes from the kernel
 * but is parsed with bounds. Library code: no logging. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gwconfig.h"

#define GW_DIAG_RESOLVE_MS 100

struct gw_diag;

/* Opens the NETLINK_SOCK_DIAG socket (do it before confinement) and resolves map. cgroup2_mount
 * is the v2 mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). Paths
 * that do not exist yet are simply unmapped until they do. 0, -EINVAL (a path not absolute,
 * with "..", or too long; an invalid id), -ENOMEM or the socket's error. */
int gw_diag_open(struct gw_diag **out, const char *cgroup2_mount, const struct gw_local *map, size_t n);
/* The cgroup id (and the uid) of the peer's socket of accepted_fd, a TCP socket from loopback.
 * 0; -ENOENT: no attribution (peer gone, either end not ESTABLISHED, no attribute, reply not for
 * this tuple); -EAFNOSUPPORT: not a TCP loopback connection; -ETIMEDOUT: the kernel did not answer
 * in 200 ms; other -errno from the sockets. *cgroup_id, *uid untouched on failure. */
int gw_diag_peer_cgroup(struct gw_diag *d, int accepted_fd, uint64_t *cgroup_id, uint32_t *uid);
/* The identity mapped to cgroup_id, NULL when unmapped. now_ms (CLOCK_MONOTONIC) paces the
 * re-resolution on a miss. The string lives until the next reload or free. */
const char *gw_diag_identity(struct gw_diag *d, uint64_t cgroup_id, uint64_t now_ms);
/* Replaces the map (same rules as gw_diag_open); the old one stays on failure. */
int gw_diag_reload_map(struct gw_diag *d, const struct gw_local *map, size_t n);
void gw_diag_free(struct gw_diag *d);
static inline void gw_diag_freep(struct gw_diag **d) { gw_diag_free(*d); }
