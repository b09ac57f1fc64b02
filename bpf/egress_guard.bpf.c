// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* egress_guard.bpf.c - kernel side of a skill's network egress limits.
 *
 * One instance is loaded per skill and attached to that skill's cgroup. It runs for sockets
 * created beneath that cgroup:
 *   - sock_create: an AF_INET/AF_INET6 socket may be created only as TCP or UDP of a family the
 *     rules mention for that protocol (no raw, ICMP, SCTP ...);
 *   - connect4/6 and sendmsg4/6 (UDP without connect): the destination must match a rule
 *     {family, proto, addr or any, port or any} in the rules map;
 *   - bind4/6: to port 0 (an ephemeral port for a client), or for TCP to a port the manifest's
 *     "listen" names (rule proto EGRESS_PROTO_LISTEN): the skill's listener in its own network
 *     namespace and the user-mode stack's forwarding listener on the host side;
 *   - unix connect and unix sendmsg with an address: always refused. The skill's bus
 *     connection is inherited already connected and needs neither.
 * A refused call fails with EPERM. Nothing here depends on the calling task: the sandbox puts
 * the skill in its cgroup before it creates any socket. */
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "egress_guard.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* EGRESS_CREATE_* bits; set by the loader from the rules. */
const volatile __u32 allow_create = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESS_MAX_RULES);
	__type(key, struct egress_key);
	__type(value, __u8);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EGRESS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline int deny(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
	return 0;
}

static __always_inline __u8 proto_of(__u32 type, __u32 protocol)
{
	if (type == SOCK_STREAM && (protocol == IPPROTO_TCP || protocol == IPPROTO_IP))
		return EGRESS_PROTO_TCP;
	if (type == SOCK_DGRAM && (protocol == IPPROTO_UDP || protocol == IPPROTO_IP))
		return EGRESS_PROTO_UDP;
	return 0;
}

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 (addresses in network byte order). */
static __always_inline bool is_loopback(const struct egress_key *k)
{
	if (k->family == 4)
		return (bpf_ntohl(k->addr[0]) >> 24) == 127;
	if (k->addr[0] != 0 || k->addr[1] != 0)
		return false;
	if (k->addr[2] == 0 && k->addr[3] == bpf_htonl(1))
		return true;
	return k->addr[2] == bpf_htonl(0xffff) && (bpf_ntohl(k->addr[3]) >> 24) == 127;
}

/* Exact, any address, any port, both. A rule for any address never covers a loopback
 * destination: the user-mode stack reaches the host's loopback from inside the skill's cgroup,
 * so "any host" would otherwise open every host-local service on that port; loopback is reached
 * only through a rule that names it. */
static __always_inline bool rule_matches(struct egress_key *k)
{
	__u32 a0 = k->addr[0], a1 = k->addr[1], a2 = k->addr[2], a3 = k->addr[3];
	__u16 port = k->port;

	k->wild = 0;
	if (bpf_map_lookup_elem(&rules, k))
		return true;
	k->wild = EGRESS_WILD_PORT;
	k->port = 0;
	if (bpf_map_lookup_elem(&rules, k))
		return true;
	if (is_loopback(k))
		return false;
	k->wild = EGRESS_WILD_ADDR;
	k->port = port;
	k->addr[0] = k->addr[1] = k->addr[2] = k->addr[3] = 0;
	if (bpf_map_lookup_elem(&rules, k))
		return true;
	k->wild = EGRESS_WILD_ADDR | EGRESS_WILD_PORT;
	k->port = 0;
	if (bpf_map_lookup_elem(&rules, k))
		return true;
	k->addr[0] = a0, k->addr[1] = a1, k->addr[2] = a2, k->addr[3] = a3;
	return false;
}

static __always_inline int check4(struct bpf_sock_addr *ctx, __u32 stat)
{
	struct egress_key k = {};

	k.family = 4;
	k.proto = proto_of(ctx->type, ctx->protocol);
	if (!k.proto || ctx->user_family != AF_INET)
		return deny(stat);
	k.port = (__u16)ctx->user_port;
	k.addr[0] = ctx->user_ip4;
	return rule_matches(&k) ? 1 : deny(stat);
}

static __always_inline int check6(struct bpf_sock_addr *ctx, __u32 stat)
{
	struct egress_key k = {};

	k.family = 6;
	k.proto = proto_of(ctx->type, ctx->protocol);
	if (!k.proto || ctx->user_family != AF_INET6)
		return deny(stat);
	k.port = (__u16)ctx->user_port;
	k.addr[0] = ctx->user_ip6[0];
	k.addr[1] = ctx->user_ip6[1];
	k.addr[2] = ctx->user_ip6[2];
	k.addr[3] = ctx->user_ip6[3];
	return rule_matches(&k) ? 1 : deny(stat);
}

SEC("cgroup/sock_create")
int capbus_egress_create(struct bpf_sock *sk)
{
	__u8 proto = proto_of(sk->type, sk->protocol);
	__u32 bit = 0;

	if (sk->family == AF_INET)
		bit = proto == EGRESS_PROTO_TCP ? EGRESS_CREATE_TCP4 :
		      proto == EGRESS_PROTO_UDP ? EGRESS_CREATE_UDP4 : 0;
	else if (sk->family == AF_INET6)
		bit = proto == EGRESS_PROTO_TCP ? EGRESS_CREATE_TCP6 :
		      proto == EGRESS_PROTO_UDP ? EGRESS_CREATE_UDP6 : 0;
	else
		return 1; /* this hook only runs for inet families */
	if (bit && (allow_create & bit))
		return 1;
	return deny(EGRESS_STAT_DENIED_CREATE);
}

SEC("cgroup/connect4")
int capbus_egress_connect4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, EGRESS_STAT_DENIED_CONNECT);
}

SEC("cgroup/connect6")
int capbus_egress_connect6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, EGRESS_STAT_DENIED_CONNECT);
}

SEC("cgroup/sendmsg4")
int capbus_egress_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, EGRESS_STAT_DENIED_SENDMSG);
}

SEC("cgroup/sendmsg6")
int capbus_egress_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, EGRESS_STAT_DENIED_SENDMSG);
}

static __always_inline int check_bind(struct bpf_sock_addr *ctx, __u8 family)
{
	struct egress_key k = {};

	if (ctx->user_port == 0)
		return 1;
	if (proto_of(ctx->type, ctx->protocol) != EGRESS_PROTO_TCP)
		return deny(EGRESS_STAT_DENIED_BIND);
	k.family = family;
	k.proto = EGRESS_PROTO_LISTEN;
	k.wild = EGRESS_WILD_ADDR;
	k.port = (__u16)ctx->user_port;
	return bpf_map_lookup_elem(&rules, &k) ? 1 : deny(EGRESS_STAT_DENIED_BIND);
}

SEC("cgroup/bind4")
int capbus_egress_bind4(struct bpf_sock_addr *ctx)
{
	return check_bind(ctx, 4);
}

SEC("cgroup/bind6")
int capbus_egress_bind6(struct bpf_sock_addr *ctx)
{
	return check_bind(ctx, 6);
}

/* libbpf 1.1 does not know these two section names; the loader sets type and attach type. */
SEC("cgroup/connect_unix")
int capbus_egress_unix_connect(struct bpf_sock_addr *ctx)
{
	return deny(EGRESS_STAT_DENIED_UNIX);
}

SEC("cgroup/sendmsg_unix")
int capbus_egress_unix_sendmsg(struct bpf_sock_addr *ctx)
{
	return deny(EGRESS_STAT_DENIED_UNIX);
}
