/* SPDX-License-Identifier: MIT */
/* guardctl.h - the daemon's side of the kernel guard and of its own peer check (parent only).
 *
 * kernel_guard "required" refuses to start without the eBPF guard, "auto" warns loudly and falls
 * back to socket modes plus the peer check, "off" uses neither. Whatever the guard does, the
 * peer check re-checks every accepted client against the same allow-list from the config. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/privsep.h"

struct guardctl;

/* Loads and attaches the guard as cfg->kernel_guard says. Returns 0, or a negative errno with
 * *why set to one line for the operator (kernel_guard "required" and no guard). */
int guardctl_new(const struct config *cfg, struct guardctl **out, const char **why);

/* Applies an allow-list (at start and on reload). Returns 0 or a negative errno. */
int guardctl_apply(struct guardctl *g, const struct guard_config *gc);

/* Ring buffer of denials to poll, or -1. */
int guardctl_events_fd(const struct guardctl *g);
/* Logs pending denials. */
void guardctl_dispatch(struct guardctl *g);

/* The peer check: uid on the list, or its cgroup (by id, as read at accept; 0 if unknown) within
 * an allowed subtree. pid is for the log only. */
/* The supervised gateway's cgroup v2 leaf (its id; 0: none runs): its processes may reach the
 * socket besides the configured allow-list, in the kernel and in the peer check. Returns 0 or a
 * negative errno from the guard. */
int guardctl_set_gateway(struct guardctl *g, uint64_t cgroup_id);
bool guardctl_peer_allowed(struct guardctl *g, uint32_t uid, pid_t pid, uint64_t cgroup_id);

void guardctl_info(const struct guardctl *g, struct ps_guard_info *info);

/* kernel_guard is not "off": every accepted peer is checked, skills get egress rules. */
bool guardctl_enabled(const struct guardctl *g);

void guardctl_free(struct guardctl *g);
