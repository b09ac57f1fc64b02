/* SPDX-License-Identifier: MIT */
/* ingress.c - loader of the remote transport's source-address allow-list (ingress_guard.bpf.c).
 *
 * Privileged daemon side: open skeleton -> rodata (the port) -> load -> fill the LPM tries ->
 * attach to the gateway's cgroup as a bpf_link (not pinned). */
#include <arpa/inet.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "guard.h"
#include "guard-internal.h"
#include "ingress_guard.h"
#include "ingress_guard.skel.h"
#include "util.h"

struct ingress {
	struct ingress_guard_bpf *skel;
	struct bpf_link *link;
};

/* Are all bits of addr (len bytes) beyond prefix zero? */
static bool host_bits_zero(const uint8_t *addr, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned first = (unsigned)i * 8;
		uint8_t mask;

		if (first + 8 <= prefix)
			continue;
		mask = first >= prefix ? 0xff : (uint8_t)(0xff >> (prefix - first));
		if (addr[i] & mask)
			return false;
	}
	return true;
}

int ingress_net_parse(const char *s, struct ingress_net *out)
{
	struct ingress_net net = {};
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash;
	size_t alen;
	uint64_t prefix;

	if (!s || !out)
		return -EINVAL;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = 0;
	if (inet_pton(AF_INET, addr, &net.addr.v4) == 1)
		net.family = 4;
	else if (inet_pton(AF_INET6, addr, &net.addr.v6) == 1)
		net.family = 6;
	else
		return -EINVAL;
	prefix = net.family == 4 ? 32 : 128;
	if (slash && parse_u64(slash + 1, prefix, &prefix) < 0)
		return -EINVAL;
	if (slash && slash[1] == '0' && slash[2] != 0) /* no leading zeros: "/08" */
		return -EINVAL;
	net.prefix_len = (unsigned)prefix;
	if (!host_bits_zero((const uint8_t *)&net.addr, net.family == 4 ? 4 : 16, net.prefix_len))
		return -EINVAL;
	*out = net;
	return 0;
}

int ingress_attach(struct ingress **out, int cgroup_fd, uint16_t port, const struct ingress_net *nets,
		   size_t n)
{
	_cleanup_(ingress_freep) struct ingress *in = NULL;
	size_t n4 = 0, n6 = 0;
	int r;

	if (!out || cgroup_fd < 0 || port == 0 || (n > 0 && !nets))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (nets[i].family == 4 && nets[i].prefix_len <= 32)
			n4++;
		else if (nets[i].family == 6 && nets[i].prefix_len <= 128)
			n6++;
		else
			return -EINVAL;
	}
	if (n4 > INGRESS_MAX_NETS || n6 > INGRESS_MAX_NETS)
		return -E2BIG;

	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->skel = ingress_guard_bpf__open();
	if (!in->skel)
		return negative_errno();
	in->skel->rodata->guarded_port = port;
	r = ingress_guard_bpf__load(in->skel);
	if (r < 0)
		return guard_map_load_error(r);

	for (size_t i = 0; i < n; i++) {
		uint8_t one = 1;

		if (nets[i].family == 4) {
			struct ingress_key4 k = {.prefixlen = nets[i].prefix_len};

			memcpy(k.addr, &nets[i].addr.v4, 4);
			r = bpf_map__update_elem(in->skel->maps.nets4, &k, sizeof(k), &one, 1, BPF_ANY);
		} else {
			struct ingress_key6 k = {.prefixlen = nets[i].prefix_len};

			memcpy(k.addr, &nets[i].addr.v6, 16);
			r = bpf_map__update_elem(in->skel->maps.nets6, &k, sizeof(k), &one, 1, BPF_ANY);
		}
		if (r < 0)
			return r;
	}

	in->link = bpf_program__attach_cgroup(in->skel->progs.capbus_ingress, cgroup_fd);
	if (!in->link)
		return negative_errno();
	*out = TAKE_PTR(in);
	return 0;
}

int ingress_get_stats(const struct ingress *in, struct ingress_stats *out)
{
	uint64_t v[INGRESS_STAT_MAX];
	int r;

	if (!in || !out)
		return -EINVAL;
	r = guard_read_percpu_stats(in->skel->maps.stats, v, INGRESS_STAT_MAX);
	if (r < 0)
		return r;
	out->dropped = v[INGRESS_STAT_DROPPED];
	out->unparsed = v[INGRESS_STAT_UNPARSED];
	return 0;
}

void ingress_free(struct ingress *in)
{
	if (!in)
		return;
	bpf_link__destroy(in->link);
	ingress_guard_bpf__destroy(in->skel);
	free(in);
}
