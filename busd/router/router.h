/* SPDX-License-Identifier: MIT */
/* router.h - the unprivileged half of capbusd: every client byte is parsed here. */
#pragma once

#include "common/config.h"

/* Drops privileges, confines itself, and serves listen_fd until SIGTERM or the parent goes away.
 * ps_fd is the channel to the privileged parent. Returns the exit code. */
int router_main(const struct config *cfg, int listen_fd, int ps_fd);
