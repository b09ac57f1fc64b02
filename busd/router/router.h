/* SPDX-License-Identifier: MIT */
/* router.h - the unprivileged half of capbusd: every client byte is parsed here. */
#pragma once

#include "common/privsep.h"

/* Drops privileges, confines itself, tells the parent it is ready, and serves listen_fd until
 * SIGTERM or the parent goes away. ps_fd is the channel to the privileged parent, cfg what the
 * parent sent first on it. Returns the exit code (non-zero after a protocol violation). */
int router_main(const struct ps_router_config *cfg, int listen_fd, int ps_fd);
