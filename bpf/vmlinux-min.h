/* SPDX-License-Identifier: MIT */
/* vmlinux-min.h - the few kernel types the capbus BPF programs use, written by hand.
 *
 * Replaces a generated vmlinux.h so that building capbus needs neither the build machine's
 * kernel BTF nor kernel headers of a particular version. Three kinds of definitions:
 *   - fixed-width integer types and UAPI constants (stable ABI, copied by value);
 *   - struct bpf_sock_addr, the UAPI program context (the verifier rewrites every access, so
 *     its layout is ABI, not relocated);
 *   - kernel-internal structs read through kfunc pointers, marked preserve_access_index so
 *     that libbpf relocates every field offset against the running kernel's BTF (CO-RE).
 *     Only the fields used are declared; order and size do not need to match the kernel. */
#pragma once

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* UAPI constants (include/uapi/linux/bpf.h, socket.h, in.h). */
enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LPM_TRIE = 11,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum {
	BPF_ANY = 0,
	BPF_F_NO_PREALLOC = 1U << 0,
};

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define IPPROTO_IP 0
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* UAPI context of BPF_PROG_TYPE_CGROUP_SOCK_ADDR programs. */
struct bpf_sock_addr {
	__u32 user_family;
	__u32 user_ip4;
	__u32 user_ip6[4];
	__u32 user_port;
	__u32 family;
	__u32 type;
	__u32 protocol;
	__u32 msg_src_ip4;
	__u32 msg_src_ip6[4];
	__u64 sk; /* struct bpf_sock * */
};

/* UAPI context of BPF_PROG_TYPE_CGROUP_SKB programs. Prefix only (through local_port). */
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;     /* ETH_P_*, network byte order */
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
	__u32 priority;
	__u32 ingress_ifindex;
	__u32 ifindex;
	__u32 tc_index;
	__u32 cb[5];
	__u32 hash;
	__u32 tc_classid;
	__u32 data;
	__u32 data_end;
	__u32 napi_id;
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;   /* of the receiving socket, host byte order */
};

/* UAPI context of BPF_PROG_TYPE_CGROUP_SOCK programs (sock_create). Prefix only. */
struct bpf_sock {
	__u32 bound_dev_if;
	__u32 family;
	__u32 type;
	__u32 protocol;
};

/* Kernel-internal, relocated (CO-RE). */
struct sockaddr {
	unsigned short sa_family;
} __attribute__((preserve_access_index));

struct sockaddr_un {
	unsigned short sun_family;
	char sun_path[108];
} __attribute__((preserve_access_index));

/* What bpf_cast_to_kern_ctx() returns for a cgroup_sock_addr context. */
struct bpf_sock_addr_kern {
	struct sockaddr *uaddr;
	__u32 uaddrlen;
} __attribute__((preserve_access_index));
