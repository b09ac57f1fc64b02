/* SPDX-License-Identifier: MIT */
/* guard.h - kernel guard: who may connect to the bus socket, where a skill may connect, and
 * which sources may reach the remote transport's port.
 *
 * Public API of guard_lib (bpf/). Plain C: no libbpf type leaves bpf/. Runs in the privileged
 * daemon parent; needs CAP_BPF + CAP_NET_ADMIN (root in practice) and a kernel with the cgroup
 * unix connect hook (Linux 6.7+) plus BTF. Library code does not log: every function returns 0
 * or a negative errno and the caller logs once with context. Objects are not thread-safe.
 * Attachments are bpf_links held by this process only, never pinned: they disappear when the
 * object is freed or the process dies, whichever comes first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

/* ---- build ----------------------------------------------------------------------------- */

/* false when capbus was built without the kernel guard (-Dbpf=disabled, or no libbpf, clang
 * or bpftool with -Dbpf=auto): guard_lib is then bpf/guard-none.c, where every function below
 * returns -EOPNOTSUPP and the free functions accept only NULL. Callers use it to tell the
 * operator why there is no guard. */
bool guard_built(void);

/* ---- capability probe ---------------------------------------------------------------- */

/* Pretend the kernel lacks the hook (tests of the daemon's fallback, kernel_guard=auto). */
#define GUARD_PROBE_FORCE_UNSUPPORTED 0x1u

/* 0 if a guard can be loaded here: the program is loaded (not attached) and unloaded again.
 * -EOPNOTSUPP if the kernel lacks the unix connect hook, kfuncs or BTF (or the flag forces it),
 * -EPERM without privilege, -EINVAL for unknown flags, other negative errno otherwise. */
int guard_probe(unsigned flags);

/* ---- bus-socket guard ---------------------------------------------------------------- */

struct guard;

/* A refused connect, copied out of the ring buffer. comm is NUL-terminated. target is the
 * address the caller passed: a path up to its first NUL, or an abstract name written with a
 * leading '@' (the remaining bytes raw, so they may contain NULs: use target_len); a NUL
 * follows target_len bytes. Everything here is chosen by the caller: escape before logging. */
struct guard_event {
	uint64_t cgroup_id; /* caller's cgroup v2 id */
	uint32_t pid;       /* caller's process id, as seen from the initial pid namespace */
	uint32_t tid;       /* caller's thread id */
	uint32_t uid;       /* caller's uid and gid, initial user namespace */
	uint32_t gid;
	char comm[16 + 1];
	size_t target_len;  /* bytes in target, '@' included for abstract names */
	char target[108 + 2];
};

struct guard_stats {
	uint64_t denied;           /* connects to the bus name refused */
	uint64_t allowed_cgroup;   /* connects to the bus name allowed by cgroup */
	uint64_t allowed_uid;      /* ... by uid */
	uint64_t events_dropped;   /* denials not reported because the ring buffer was full */
	/* Kernel accounting of the program itself (every unix connect beneath the scope); zero
	 * unless run-time statistics are on (guard_enable_run_stats() or the sysctl
	 * kernel.bpf_stats_enabled). */
	uint64_t prog_runs;
	uint64_t prog_run_ns;
};

/* Load a guard for socket_name and attach it to a cgroup v2 directory.
 * socket_name: "@name" (abstract, matched exactly: same bytes, same length; the guarded
 *   default) or "/absolute/path" (matched as written; defense in depth only, since paths
 *   alias). At most 107 bytes after the '@', 108 for a path.
 * scope_cgroup_path: cgroup v2 directory to attach to; NULL = root of the v2 hierarchy.
 *   Only sockets created beneath the scope are checked.
 * Several guards (different names or scopes) coexist; each has its own maps.
 * On success *out owns the attachment; on failure *out is untouched.
 * Returns 0, -EINVAL (bad name, or scope not a cgroup v2 directory), -ENOENT (scope missing),
 * -EOPNOTSUPP (kernel lacks the hook), or another negative errno. */
int guard_open(struct guard **out, const char *socket_name, const char *scope_cgroup_path);

/* Allow-list edits; effective for the next connect. Allowing a cgroup allows its whole
 * subtree (up to 32 levels deep). Adding an entry twice is not an error; removing a missing
 * one returns -ENOENT. -E2BIG when the map is full (4096 cgroups, 1024 uids). */
int guard_allow_cgroup(struct guard *g, uint64_t cgroup_id);
int guard_disallow_cgroup(struct guard *g, uint64_t cgroup_id);
int guard_allow_uid(struct guard *g, uint32_t uid);
int guard_disallow_uid(struct guard *g, uint32_t uid);
/* Empty both allow-lists: nobody may connect until entries are added again. */
int guard_clear(struct guard *g);

/* Ring buffer of denials: an fd for epoll (EPOLLIN when events are pending), owned by g. */
int guard_events_fd(const struct guard *g);
/* Call cb for every pending event, without blocking. Returns the number of events consumed
 * (>= 0) or a negative errno. cb must not free g. */
int guard_events_consume(struct guard *g, void (*cb)(const struct guard_event *ev, void *userdata),
			 void *userdata);

int guard_get_stats(const struct guard *g, struct guard_stats *out);

/* Turn on the kernel's per-program run-time statistics for as long as the returned fd is open
 * (BPF_ENABLE_STATS; they cost a little on every program run, so benches and diagnostics only).
 * Returns the fd or a negative errno. */
int guard_enable_run_stats(void);

/* Detach, unload, close. Accepts NULL. */
void guard_free(struct guard *g);

static inline void guard_freep(struct guard **g)
{
	guard_free(*g);
}

/* ---- skill egress guard -------------------------------------------------------------- */

enum egress_proto {
	EGRESS_TCP = 1,
	EGRESS_UDP = 2,
	EGRESS_TCP_LISTEN = 3, /* bind() to `port` allowed (any address, any_addr set); not a destination */
	EGRESS_UDP_SOCKET = 4, /* UDP sockets of `family` may be created (no destination; any_addr set,
				* port 0): the network stack's configuration socket needs one */
};

struct egress_rule {
	enum egress_proto proto;
	int family;                 /* 4 or 6 */
	bool any_addr;
	union {
		struct in_addr v4;  /* family 4 */
		struct in6_addr v6; /* family 6 */
	} addr;
	uint16_t port;              /* host byte order; 0 = any port */
};

struct egress;

/* Strict parse of "tcp:127.0.0.1:8080", "udp:[::1]:53", "tcp:10.0.0.1:*", "tcp4:*:443",
 * "udp6:*:*": a wildcard address needs the family in the protocol ("tcp:*:443" is refused).
 * Returns 0 or -EINVAL; *out untouched on failure. */
int egress_rule_parse(const char *s, struct egress_rule *out);

/* Load an egress guard and attach it to the (skill's) cgroup v2 directory open at cgroup_fd
 * (the caller keeps its fd). n == 0: no inet socket can be created at all. Otherwise inet
 * sockets only of the (family, tcp/udp) pairs the rules mention, and connect()/sendto() only
 * to a listed destination; bind() only to port 0 or to the port of an EGRESS_TCP_LISTEN rule
 * (TCP; such a rule also allows TCP sockets of its family). Unix connects and
 * unix sendto with an address are always refused.
 * Returns 0, -EINVAL (bad rule), -E2BIG (more than 64 rules), -EOPNOTSUPP or negative errno. */
int egress_attach(struct egress **out, int cgroup_fd, const struct egress_rule *rules, size_t n);

struct egress_stats {
	uint64_t denied_create;
	uint64_t denied_connect;
	uint64_t denied_sendmsg;
	uint64_t denied_unix;
	uint64_t denied_bind;
};
int egress_get_stats(const struct egress *e, struct egress_stats *out);

/* Detach, unload. Accepts NULL. */
void egress_free(struct egress *e);

static inline void egress_freep(struct egress **e)
{
	egress_free(*e);
}

/* ---- remote transport: source-address allow-list ------------------------------------- */

struct ingress_net {
	int family;                 /* 4 or 6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	unsigned prefix_len;        /* 0..32 or 0..128 */
};

/* Strict parse of "192.168.1.0/24", "10.0.0.7" (= /32), "2001:db8::/32", "::1" (= /128).
 * Bits beyond the prefix must be zero. Returns 0 or -EINVAL; *out untouched on failure. */
int ingress_net_parse(const char *s, struct ingress_net *out);

struct ingress;

/* Load a source-address allow-list for the listening port `port` (host byte order) and attach
 * it to the gateway's cgroup v2 directory open at cgroup_fd: packets to that port on sockets of
 * the cgroup from sources outside every listed network are dropped in the kernel (a refused
 * client's SYN never reaches the listener). n == 0 drops everything to the port. At most 256
 * networks per family. Returns 0, -EINVAL, -E2BIG or negative errno. */
int ingress_attach(struct ingress **out, int cgroup_fd, uint16_t port, const struct ingress_net *nets,
		   size_t n);

struct ingress_stats {
	uint64_t dropped;   /* packets to the port from a source not on the list */
	uint64_t unparsed;  /* packets to the port that were neither IPv4 nor IPv6 (dropped) */
};
int ingress_get_stats(const struct ingress *in, struct ingress_stats *out);

/* Detach, unload. Accepts NULL. */
void ingress_free(struct ingress *in);

static inline void ingress_freep(struct ingress **in)
{
	ingress_free(*in);
}
