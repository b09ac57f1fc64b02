/* SPDX-License-Identifier: MIT */
/* manifest.h - a skill's manifest: identity, program, bus permissions, sandbox and limits.
 *
 * manifest_parse() turns untrusted JSON text into an immutable, fully validated struct with
 * plain C fields; nothing downstream needs to re-check syntax. The format is described in
 * DESIGN.md ("Manifests"). Strict: unknown or repeated keys, wrong types, out-of-range values,
 * NUL bytes, invalid UTF-8, nesting deeper than MANIFEST_MAX_DEPTH and files larger than
 * MANIFEST_MAX_SIZE are all errors, reported as "FILE:LINE:COL: message". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Positive result: the input is invalid; *error_out says why. */
#define MANIFEST_INVALID 1
/* Positive result of manifest_check_filename(). */
#define MANIFEST_NAME_MISMATCH 2

#define MANIFEST_MAX_SIZE (64 * 1024)
#define MANIFEST_MAX_DEPTH 16
#define MANIFEST_ID_MAX 64
/* In a bus pattern, stands for the manifest's own id ("{id}:*", "ovos.skills.fallback.{id}.*"). */
#define MANIFEST_ID_PLACEHOLDER "{id}"
#define MANIFEST_MAX_ARGS 256
#define MANIFEST_MAX_PATTERNS 1024
#define MANIFEST_MAX_PATHS 64
#define MANIFEST_MAX_NET_RULES 64
#define MANIFEST_MAX_LISTEN 8 /* inbound TCP ports a networked skill may ask for */

/* Defaults applied when a key is absent. */
#define MANIFEST_DEFAULT_MEMORY (UINT64_C(256) << 20) /* bytes */
#define MANIFEST_DEFAULT_PIDS 64
#define MANIFEST_DEFAULT_CPU_PERCENT 100 /* of one CPU */
#define MANIFEST_DEFAULT_NOFILE 128
#define MANIFEST_DEFAULT_MSG_RATE 1000 /* messages per second */
#define MANIFEST_DEFAULT_SYSCALLS "default"
#define MANIFEST_DEFAULT_STATE (UINT64_C(64) << 20) /* bytes of /state */

/* Accepted ranges. */
#define MANIFEST_MEMORY_MIN (UINT64_C(4) << 20)
#define MANIFEST_MEMORY_MAX (UINT64_C(1) << 40)
#define MANIFEST_PIDS_MAX 4096
#define MANIFEST_CPU_MAX 6400 /* percent: 64 CPUs */
#define MANIFEST_NOFILE_MIN 16
#define MANIFEST_NOFILE_MAX 65536
#define MANIFEST_MSG_RATE_MAX 1000000
#define MANIFEST_STATE_MIN (UINT64_C(4) << 20)
#define MANIFEST_STATE_MAX (UINT64_C(64) << 30)

/* The write path that stands for the skill's own state directory. */
#define MANIFEST_STATE_DIR "$STATE"

enum net_proto {
	NET_PROTO_TCP,
	NET_PROTO_UDP,
};

/* One allowed outbound destination: "tcp:443" (any host), "udp:127.0.0.53:53",
 * "tcp:[::1]:80". */
struct net_rule {
	enum net_proto proto;
	int family;	  /* AF_UNSPEC (any host), AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
	uint16_t port;	  /* host byte order, 1..65535 */
	char *text;	  /* as written */
};

struct manifest_sandbox {
	bool network;		   /* false: "none" (the default), no network at all */
	struct net_rule *net_rules; /* outbound; n_net_rules + n_listen >= 1 when network */
	size_t n_net_rules;
	uint16_t listen[MANIFEST_MAX_LISTEN]; /* inbound TCP ports, host byte order, distinct */
	size_t n_listen;
	char **fs_read; /* absolute, normalized paths; NULL-terminated, may be empty */
	size_t n_fs_read;
	char **fs_write; /* absolute paths or MANIFEST_STATE_DIR; NULL-terminated */
	size_t n_fs_write;
	char *syscalls; /* profile name, default MANIFEST_DEFAULT_SYSCALLS; sandbox/ resolves it */
};

struct manifest_limits {
	uint64_t memory;	/* bytes */
	uint32_t pids;
	uint32_t cpu_percent; /* 100 = one full CPU */
	uint32_t nofile;
	uint32_t msg_rate; /* messages per second */
	uint64_t state;	   /* bytes of /state, whole MiB: the size of its file-system image */
};

/* How an identity may reach the bus ("transports"): its own connection to the socket, and/or
 * sessions the WebSocket gateway opens on its behalf (docs/protocol.md "Delegated sessions"). */
#define MANIFEST_T_SOCKET 0x1u
#define MANIFEST_T_GATEWAY 0x2u

struct manifest {
	unsigned manifest_version; /* always 1 */
	char *id;		   /* [A-Za-z0-9._-]{1,64}, starts with a letter or digit */
	char *version;		   /* NULL when absent */
	char **exec;		   /* NULL for an external client; else NULL-terminated argv, exec[0] absolute */
	size_t n_exec;
	char **send; /* validated patterns, "{id}" replaced by id, NULL-terminated, may be empty */
	size_t n_send;
	char **receive;
	size_t n_receive;
	bool dispatch;        /* "bus.dispatch": asks to send into and hear every identity's namespace */
	bool namespace;       /* "bus.namespace": owns ID:* and ID.* (and receives them) */
	struct manifest_sandbox sandbox;
	struct manifest_limits limits;
	uint32_t transports; /* MANIFEST_T_* bits; default MANIFEST_T_SOCKET, never empty */
};

/* Parses and validates text[0..len). filename only labels errors. On success returns 0 and a
 * new manifest in *out (free with manifest_free). Returns -ENOMEM, or MANIFEST_INVALID with a
 * malloc'd "FILE:LINE:COL: message" in *error_out (when error_out is non-NULL). Outputs are
 * untouched on failure. */
int manifest_parse(const char *text, size_t len, const char *filename, struct manifest **out,
		   char **error_out);

/* NULL-safe. */
void manifest_free(struct manifest *m);

/* Identities are keyed on the file name, so "X.json" must declare id "X". Returns 0 or
 * MANIFEST_NAME_MISMATCH (also for a basename containing '/'). */
int manifest_check_filename(const struct manifest *m, const char *basename);

/* True iff s is a syntactically valid manifest id. */
bool manifest_id_is_valid(const char *s);
