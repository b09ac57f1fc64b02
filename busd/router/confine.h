/* SPDX-License-Identifier: MIT */
/* confine.h - the router sheds privilege before it reads a client byte. */
#pragma once

#include "common/privsep.h"

/* In a fixed order: capability bounding set, supplementary groups, gid, uid (to cfg->uid/gid,
 * which the parent resolved from the configured user, when started as root),
 * capabilities, no_new_privs, not dumpable, then the router's own seccomp allow-list.
 * Returns 0 or a negative errno; the caller must not serve anybody after a failure. */
int confine_router(const struct ps_router_config *cfg);
