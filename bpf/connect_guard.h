/* SPDX-License-Identifier: MIT */
/* connect_guard.h - layout shared by connect_guard.bpf.c and its loader guard.c.
 *
 * Included by BPF code (types from vmlinux-min.h) and by user space (types from
 * <linux/types.h>). Every struct here crosses the kernel boundary: fixed-width fields only,
 * explicit padding, no pointers. */
#pragma once

#define GUARD_PATH_MAX 108       /* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define GUARD_COMM_LEN 16
#define GUARD_MAX_LEVELS 32      /* ancestor levels looked up; deeper ones are not consulted */
#define GUARD_MAX_CGROUPS 4096   /* allow-list sizes */
#define GUARD_MAX_UIDS 1024
#define GUARD_RINGBUF_BYTES (256 * 1024)

/* One denied connect, as written to the ring buffer. */
struct guard_event_bpf {
	__u64 cgroup_id;   /* caller's cgroup v2 id */
	__u32 pid;         /* caller's process id (kernel tgid), initial pid namespace */
	__u32 tid;         /* caller's thread id */
	__u32 uid;         /* caller's uid, initial user namespace */
	__u32 gid;
	__u32 target_len;  /* bytes of sun_path the caller passed (address length minus family) */
	char comm[GUARD_COMM_LEN];
	char target[GUARD_PATH_MAX];
};

enum {
	GUARD_STAT_DENIED,
	GUARD_STAT_ALLOWED_CGROUP,
	GUARD_STAT_ALLOWED_UID,
	GUARD_STAT_EVENTS_DROPPED,
	GUARD_STAT_MAX,
};
