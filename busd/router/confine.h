/* SPDX-License-Identifier: MIT */
/* confine.h - the router sheds privilege before it reads a client byte. */
#pragma once

#include "common/config.h"

/* In a fixed order: supplementary groups, gid, uid (to cfg->user when started as root),
 * capabilities, no_new_privs, not dumpable, then the router's own seccomp allow-list.
 * Returns 0 or a negative errno; the caller must not serve anybody after a failure. */
int confine_router(const struct config *cfg);
