/* SPDX-License-Identifier: MIT */
/* landlock.h - a Landlock domain that matches the sandbox's file-system view.
 *
 * The ABI is probed in the parent; the ruleset is built in the child after pivot_root, from the
 * Landlock access recorded on each mount entry (read-only binds read, state and /tmp read-write),
 * plus TCP denial without network and, from ABI 6, abstract-unix-socket and signal scoping. */
#pragma once

#include <stdbool.h>

struct mount_plan;

/* Landlock ABI version of the running kernel, 0 if it has none (or it is disabled). */
int landlock_abi(void);

/* Child side: create the ruleset, add the rules, restrict the calling thread. Needs
 * no_new_privs. abi 0 does nothing. No allocation. */
int landlock_apply(const struct mount_plan *mp, int abi, bool network, bool host_network);
