/* SPDX-License-Identifier: MIT */
/* parent.h - the privileged half of capbusd: files, keys, the socket, the router's life. */
#pragma once

#include "common/config.h"

/* Runs the daemon until SIGTERM/SIGINT. Returns the process exit code. */
int parent_run(struct config *cfg);
