/* SPDX-License-Identifier: MIT */
/* parent.h - the privileged half of capbusd: files, keys, the socket, the router's life. */
#pragma once

#include "common/config.h"

/* Runs the daemon until SIGTERM/SIGINT. router_override names the router program to execute
 * (capbusd --router, for development and tests); NULL: capbusd-router next to this executable,
 * else the installed one. Returns the process exit code. */
int parent_run(struct config *cfg, const char *router_override);
