/* SPDX-License-Identifier: MIT */
/* gw-confine.h - the gateway's post-initialisation restrictions (confine.c). */
#pragma once

/* When running as root: with a non-empty user, switch every id to that user (no groups);
 * without one, keep the ids but drop every capability (bounding set included). 0 (nothing to
 * do, or done), -ENOENT unknown user, -EPERM user is root or the drop did not stick, -errno. */
int gw_drop_user(const char *user);
enum { GW_CONFINE_SKIPPED = 1 };
/* no_new_privs, not dumpable, and a stacked seccomp filter: socket() only AF_UNIX/AF_NETLINK,
 * no bind/listen/exec/ptrace/process_vm_*. 0, GW_CONFINE_SKIPPED (sanitizer build: the leak
 * checker needs ptrace) or -errno. */
int gw_confine(void);
