// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* connect_guard.bpf.c - kernel side of the bus-socket guard (cgroup unix connect hook).
 *
 * Runs in the kernel for every connect() on an AF_UNIX socket created beneath the cgroup it is
 * attached to. If the address is the guarded bus name (set in rodata at load time, one name per
 * loaded instance), the connect is allowed only when the CALLING TASK's cgroup, one of its
 * ancestors, or its uid is on an allow-list map the daemon keeps. The decision never looks at
 * the socket's owner, so a socket passed from an allowed process does not help. Denials return
 * 0 (connect fails with EPERM), bump a counter and go to a ring buffer. Every other connect is
 * left alone (return 1). */
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "connect_guard.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Set by the loader between open and load. guard_name holds sun_path as the caller must pass
 * it: an abstract name starts with a NUL byte. */
const volatile char guard_name[GUARD_PATH_MAX] = {};
const volatile __u32 guard_name_len = 0;
const volatile __u32 guard_abstract = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GUARD_MAX_CGROUPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u8);
} allowed_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GUARD_MAX_UIDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u8);
} allowed_uids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GUARD_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GUARD_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

/* Does the address the caller passed name the guarded socket?
 * Abstract names have no aliases and are compared exactly, length included. A filesystem path
 * matches as the kernel would read it: the first guard_name_len bytes equal and the name ends
 * there (address ends, or a NUL follows). Path aliases are not resolved here: that check is
 * defense in depth only. */
static __always_inline bool target_matches(struct sockaddr_un *un, __u32 addrlen)
{
	__u32 n = guard_name_len;
	__u32 pathlen;

	if (addrlen < 2 + n || n == 0 || n > GUARD_PATH_MAX)
		return false;
	pathlen = addrlen - 2;
	if (guard_abstract && pathlen != n)
		return false;

#pragma clang loop unroll(full)
	for (int i = 0; i < GUARD_PATH_MAX; i++) {
		if (i < n) {
			if (un->sun_path[i] != guard_name[i])
				return false;
		} else {
			/* i == n: a longer address must end the name with a NUL. */
			if (pathlen > n && un->sun_path[i] != 0)
				return false;
			break;
		}
	}
	return true;
}

static __always_inline bool caller_allowed(void)
{
	__u64 id = bpf_get_current_cgroup_id();
	__u32 uid;

	if (bpf_map_lookup_elem(&allowed_cgroups, &id)) {
		count(GUARD_STAT_ALLOWED_CGROUP);
		return true;
	}
	for (int level = 0; level < GUARD_MAX_LEVELS; level++) {
		id = bpf_get_current_ancestor_cgroup_id(level);
		if (id == 0)
			break;
		if (bpf_map_lookup_elem(&allowed_cgroups, &id)) {
			count(GUARD_STAT_ALLOWED_CGROUP);
			return true;
		}
	}
	uid = (__u32)bpf_get_current_uid_gid();
	if (bpf_map_lookup_elem(&allowed_uids, &uid)) {
		count(GUARD_STAT_ALLOWED_UID);
		return true;
	}
	return false;
}

static __always_inline void report(struct sockaddr_un *un, __u32 addrlen)
{
	struct guard_event_bpf *e;
	__u64 pid_tgid, uid_gid;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(GUARD_STAT_EVENTS_DROPPED);
		return;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	uid_gid = bpf_get_current_uid_gid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->target_len = addrlen >= 2 ? addrlen - 2 : 0;
	if (e->target_len > GUARD_PATH_MAX)
		e->target_len = GUARD_PATH_MAX;
	if (bpf_get_current_comm(e->comm, sizeof(e->comm)) < 0)
		e->comm[0] = 0;
#pragma clang loop unroll(full)
	for (int i = 0; i < GUARD_PATH_MAX; i++)
		e->target[i] = un->sun_path[i];
	bpf_ringbuf_submit(e, 0);
}

/* libbpf 1.1 does not know this section name; the loader sets the program type
 * (CGROUP_SOCK_ADDR) and expected attach type (BPF_CGROUP_UNIX_CONNECT) itself. */
SEC("cgroup/connect_unix")
int capbus_guard_connect(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *kctx = bpf_cast_to_kern_ctx(ctx);
	struct sockaddr_un *un;
	__u32 addrlen;

	addrlen = kctx->uaddrlen;
	un = bpf_rdonly_cast(kctx->uaddr, bpf_core_type_id_kernel(struct sockaddr_un));
	if (!target_matches(un, addrlen))
		return 1;
	if (caller_allowed())
		return 1;
	count(GUARD_STAT_DENIED);
	report(un, addrlen);
	return 0;
}
