// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* ingress_guard.bpf.c - kernel side of the remote transport's source-address allow-list.
 *
 * A cgroup_skb ingress program attached to the gateway's cgroup. For every packet delivered to
 * a socket of that cgroup whose local port is the guarded listening port (set in rodata), the
 * packet's source address must fall in one of the allowed networks (two LPM tries, IPv4 and
 * IPv6); otherwise it is dropped (a refused client's SYN never reaches the listener). Packets to
 * other ports pass. The decision reads only the fixed IP header: no L4 parsing, since the
 * receiving socket already tells the local port. */
#include "vmlinux-min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ingress_guard.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u32 guarded_port = 0; /* host byte order */

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, INGRESS_MAX_NETS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ingress_key4);
	__type(value, __u8);
} nets4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, INGRESS_MAX_NETS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ingress_key6);
	__type(value, __u8);
} nets6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, INGRESS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline int drop(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
	return 0;
}

SEC("cgroup_skb/ingress")
int capbus_ingress(struct __sk_buff *skb)
{
	if (skb->local_port != guarded_port)
		return 1;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct ingress_key4 k = {.prefixlen = 32};

		/* iphdr.saddr is at offset 12 */
		if (bpf_skb_load_bytes(skb, 12, k.addr, sizeof(k.addr)) < 0)
			return drop(INGRESS_STAT_UNPARSED);
		return bpf_map_lookup_elem(&nets4, &k) ? 1 : drop(INGRESS_STAT_DROPPED);
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ingress_key6 k = {.prefixlen = 128};

		/* ipv6hdr.saddr is at offset 8 */
		if (bpf_skb_load_bytes(skb, 8, k.addr, sizeof(k.addr)) < 0)
			return drop(INGRESS_STAT_UNPARSED);
		return bpf_map_lookup_elem(&nets6, &k) ? 1 : drop(INGRESS_STAT_DROPPED);
	}
	return drop(INGRESS_STAT_UNPARSED);
}
