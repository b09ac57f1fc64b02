/* SPDX-License-Identifier: MIT */
/* parent.h - the privileged half of capbusd: files, keys, the socket, the router's life. */
#pragma once

#include "common/config.h"

/* Runs the daemon until SIGTERM/SIGINT. router_path: NULL, or (development) a program to exec
 * as the router instead of the built-in one. Returns the process exit code. */
int parent_run(struct config *cfg, const char *router_path);
