/* SPDX-License-Identifier: MIT */
/* child.h - the ordered list of steps the freshly cloned child runs before exec.
 *
 * Internal to sandbox/. */
#pragma once

#include "plan.h"
#include "util.h"

/* What the child sends on the error pipe when a step fails: exactly this many bytes. */
struct child_failure {
	uint32_t step;
	int32_t err; /* positive errno */
};

/* Run every step, fork the program and exec capbus-init (plan->init_fd) to stay behind as its
 * init; on any failure report it on err_fd and _exit(127). sync_fd yields one byte once the parent has written the id maps and
 * joined the cgroups. status_fd receives the program's raw wait status (an int) when it ends. */
_noreturn_ void child_run(struct sandbox_plan *plan, int sync_fd, int err_fd, int status_fd);

/* Name of step index i, NULL if out of range. */
const char *child_step_name(uint32_t i);
