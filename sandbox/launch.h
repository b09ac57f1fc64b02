/* SPDX-License-Identifier: MIT */
/* launch.h - one skill launch from its manifest: the sandbox plan, the key handed over as a
 * sealed memfd, and the egress rules on its cgroup.
 *
 * Shared by capbusd's supervisor and `capbus run`, so a skill author's foreground run is the
 * same sandbox the daemon builds. Its own small library (launch_lib) beside the sandbox: it
 * joins manifests/, the sandbox and the kernel guard's egress loader, which the sandbox library
 * and the capbus-sandbox tool do not need, and it holds nothing of the daemon, so the CLI links
 * it without linking busd/. Parent side, root only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "handshake.h"

struct manifest;
struct manifest_sandbox;
struct sandbox_plan;
struct egress;

struct launch_params {
	const struct manifest *manifest;
	const char *skill_dir;   /* bound read-only (and the working directory) when it exists */
	const char *state_dir;   /* bound read-write at /state */
	uid_t uid;               /* outer uid and gid, from the sandbox's reserved range */
	const char *cgroup_name;
	int bus_fd;              /* becomes fd 3 (CAPBUS_FD) */
	int key_fd;              /* becomes fd 4 (CAPBUS_KEY_FD) */
	/* Fds 1 and 2: a pipe's write end each (the daemon reads the other ends), or
	 * SANDBOX_FD_INHERIT (0, the default: `capbus run` prints to the author's terminal). */
	int stdout_fd, stderr_fd;
	const struct sandbox_filter *filter; /* NULL, or launch_filter() of this manifest, kept by
					      * the caller: saves compiling it again per start */
};

/* Builds the plan (cgroups created, seccomp compiled). Returns 0 or a negative errno. */
int launch_plan(const struct launch_params *lp, struct sandbox_plan **out);

/* The manifest's seccomp program, compiled (sandbox_filter_new) for its profile and network.
 * Returns 0 or a negative errno; the caller frees *out (sandbox_filter_free). */
int launch_filter(const struct manifest *m, struct sandbox_filter **out);

/* A sealed, read-only memfd holding the key file of id. Returns the fd or a negative errno. */
int launch_key_memfd(const char *id, const uint8_t key[CAPBUS_KEY_LEN]);

/* Attaches the manifest's network allow-list to the plan's cgroup v2 leaf ("network": "none"
 * allows nothing). Returns 0, -EOPNOTSUPP when the kernel has no egress hook or capbus was built
 * without the guard (guard_built() says which), or another negative errno; *out is the
 * attachment to free with the plan (egress_free). */
int launch_egress(const struct sandbox_plan *plan, const struct manifest_sandbox *sb, struct egress **out);

/* capbus-gateway under capbusd (launch-gateway.c): host network namespace, its own cgroup leaf,
 * fds 3.. in order: the configuration, the gateway's key file, and with TLS the certificate and
 * its key (all sealed memfds). */
struct launch_gateway_params {
	const char *exec;              /* absolute; outside /usr its directory is copied in */
	uid_t uid;                     /* outer uid and gid, from the sandbox's range */
	const char *cgroup_name;
	const char *read_paths[2];     /* read-only at their own paths when they are directories */
	int fds[4];
	size_t n_fds;                  /* 2, or 4 with TLS */
	int stderr_fd;                 /* fds 1 and 2: a pipe the daemon reads */
	uint32_t max_connections;      /* RLIMIT_NOFILE = 2 * this + 64 */
	const char *cgroup_v2;         /* the v2 mount, seen read-only at /cgroup; NULL: none */
};
int launch_gateway_plan(const struct launch_gateway_params *gp, struct sandbox_plan **out);

/* The uid a skill gets when nothing pins it yet: derived from its id, stable across runs. */
uid_t launch_default_uid(const char *id, uint32_t attempt);
