/* SPDX-License-Identifier: MIT */
/* config.h - capbusd configuration: JSON file, strict keys, embedded defaults.
 *
 * Trusted input (root's file), still parsed strictly by the reader manifests use (json-doc.h):
 * an unknown key, a repeated key or a wrong type is an error, because a typo in a security
 * setting must not silently fall back to a default. */
#pragma once

#include <stdint.h>

#include "common/log.h"

struct gw_config;

enum kernel_guard_mode { KERNEL_GUARD_OFF, KERNEL_GUARD_AUTO, KERNEL_GUARD_REQUIRED };

/* Who may reach the bus socket: enforced by the kernel guard and by the daemon's own peer check. */
struct guard_config {
	char *scope;            /* cgroup v2 path (relative to the v2 mount) to attach to; NULL = root */
	char **allow_cgroups;   /* cgroup v2 paths (relative to the v2 mount); their subtrees are allowed */
	size_t n_allow_cgroups;
	uint32_t *allow_uids;   /* default: root only */
	size_t n_allow_uids;
	bool simulate_missing_hook; /* testing: behave as on a kernel without the hook */
};

struct config {
	char *socket;          /* "/run/capbus/bus.sock" or "@capbus" (abstract) */
	char *state_dir;
	char *manifest_dir;
	char *policy_file;     /* NULL: /etc/capbus/policy.json when present, else built-in */
	char *user;            /* account the router runs as when started as root */
	char *skills_dir;      /* skills' own files: <skills_dir>/<id>/ is bound read-only */
	enum kernel_guard_mode kernel_guard;
	enum log_level log_level;
	uint32_t max_frame;          /* bytes of one message body */
	uint32_t max_depth;          /* JSON nesting */
	uint32_t handshake_timeout_ms;
	uint32_t max_connections;
	uint32_t max_pending;        /* connections still in the handshake */
	uint64_t max_queue;          /* bytes queued to one slow reader before it is cut off */
	uint64_t byte_rate;          /* bytes/s one connection may send (burst: one second) */
	/* Fair shares and per-identity caps. Left out of the file, each is derived from the limit
	 * above it; set explicitly, it may not exceed that limit (config_load refuses). */
	uint32_t max_pending_per_uid;        /* of max_pending, per peer uid (default a quarter) */
	uint32_t max_pending_per_peer;       /* of that, per (uid, cgroup) (default half of it) */
	uint32_t max_identity_connections;   /* authenticated connections of one identity (128) */
	uint64_t max_partial_bytes;          /* buffered bytes of incomplete frames, all connections */
	uint64_t max_identity_partial_bytes; /* the same, one identity's connections */
	uint32_t max_subscriptions;          /* patterns one connection may hold (1024) */
	uint32_t max_subscription_bytes;     /* their accounted bytes (512 KiB) */
	uint32_t max_identity_subscriptions; /* patterns over all connections of one identity (4096) */
	uint64_t max_identity_subscription_bytes; /* their accounted bytes (2 MiB) */
	/* Skills' stdout and stderr (busd/parent/skillout.c): a token bucket per skill of
	 * skill_log_rate bytes/s holding at most skill_log_burst bytes, and a ring of the most recent
	 * skill_log_lines lines or skill_log_bytes bytes, whichever is reached first. */
	uint32_t skill_log_rate;     /* 16384 */
	uint32_t skill_log_burst;    /* 65536 */
	uint32_t skill_log_lines;    /* 1000 */
	uint32_t skill_log_bytes;    /* 262144 */
	uint32_t socket_mode;        /* path sockets: 0660 */
	struct guard_config guard;
	bool gateway;                /* a "gateway" object: delegated sessions may be opened */
	bool gateway_supervise;      /* gateway.supervise (default true): only the supervised gateway */
	struct gw_config *gw;        /* the "gateway" object (gateway/gwconfig.h), NULL without one */
	char *gateway_exec;          /* --gateway PATH (development, tests): program run instead of
				      * the installed capbus-gateway; NULL: the installed one */
	char *path;                  /* the file it came from (re-read on SIGHUP), NULL for --demo */
};

/* Re-reads path and takes only its "guard" section into *guard (on success the old one is freed);
 * the whole file must still be valid. Returns as config_load(). */
int config_reload_guard(const char *path, struct guard_config *guard, char **error);
void guard_config_free(struct guard_config *g);

/* Fills defaults, then reads path when given (NULL: defaults only). On error returns a positive
 * CONFIG_INVALID with *error set (caller frees) to "FILE:LINE:COL: message" for a problem in the
 * text, pointing at the offending value or key, or "FILE: message" when the file cannot be read;
 * or a negative errno. Either way cfg holds allocations that config_free() releases. */
enum { CONFIG_INVALID = 1 };
int config_load(const char *path, struct config *cfg, char **error);

/* The embedded defaults for a self-contained demo: everything under dir. */
int config_defaults_in(const char *dir, struct config *cfg);

void config_free(struct config *cfg);
