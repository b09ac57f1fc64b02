/* SPDX-License-Identifier: MIT */
/* filter.h - compile a named seccomp allow-list into a classic BPF program.
 *
 * Parent side: the program is compiled with libseccomp before the fork and only installed in
 * the child (filter_install), so the child never allocates or parses anything. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>

struct filter_prog {
	struct sock_filter *insns;
	unsigned short len;
};

/* Compile profile ("default" or "python"). network adds AF_INET/AF_INET6/AF_NETLINK sockets;
 * with network and without listen, listen() fails with EPERM; permissive logs instead of killing. Returns 0, -EINVAL for an unknown profile, or a negative
 * errno. The caller owns prog->insns (filter_prog_done). */
int filter_compile(const char *profile, bool network, bool listen, bool permissive, struct filter_prog *prog);

void filter_prog_done(struct filter_prog *prog);

/* A copy of src (its own instructions). Returns 0 or -ENOMEM. */
int filter_prog_copy(const struct filter_prog *src, struct filter_prog *dst);

/* Child side: install the program on the calling thread. Needs no_new_privs. */
int filter_install(const struct filter_prog *prog);
