/* SPDX-License-Identifier: MIT */
/* netstack.h - the user-mode network stack (slirp4netns) that is a networked sandbox's only way out.
 *
 * Internal to sandbox/, parent side, root. The sandbox always gets its own network namespace;
 * with network granted, slirp4netns attaches to it by pid (a tap device, loopback up, a default
 * route) and relays its traffic through ordinary sockets on the host side. The stack runs in the
 * skill's own cgroups (v2 leaf from its first instruction, v1 leaves before it execs), so the
 * egress programs on the leaf judge each connect it makes and its memory and tasks count against
 * the skill's limits. It holds no descriptor of ours but the two pipes of its protocol. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct cg_set;

#define NETSTACK_PATH "/usr/bin/slirp4netns"
#define NETSTACK_MAX_LISTEN 8

/* Addresses slirp4netns --configure sets up inside; fixed, so nothing of the host shows. */
#define NETSTACK_GUEST_ADDR "10.0.2.100"
#define NETSTACK_GATEWAY_ADDR "10.0.2.2" /* the host's loopback when host_loopback is set */
#define NETSTACK_DNS_ADDR "10.0.2.3"     /* relays to the first resolver of the host's resolv.conf */

struct netstack_config {
	bool host_loopback; /* the gateway address reaches the host's 127.0.0.1 */
	uint16_t listen[NETSTACK_MAX_LISTEN]; /* TCP ports forwarded from the host's 127.0.0.1 */
	size_t n_listen;
};

struct netstack {
	pid_t pid;  /* 0 when not running */
	int pidfd;  /* -1 when not running */
	int exit_w; /* the stack exits when this closes (--exit-fd) */
};

#define NETSTACK_INIT { .pid = 0, .pidfd = -1, .exit_w = -1 }

/* -ENOENT when the stack's binary is missing: checked at plan time, for a clear error. */
int netstack_available(void);

/* Attach a stack to the network namespace of target (a child still waiting to exec) and wait
 * until it has configured it and set up the forwarded ports. Returns 0 or a negative errno
 * (-ETIMEDOUT, -EIO when it exited before it was ready); nothing is left running on failure. */
int netstack_start(const struct netstack_config *cfg, const struct cg_set *cg, pid_t target, struct netstack *ns);

/* Stop and reap it. Idempotent. */
void netstack_stop(struct netstack *ns);
