// SPDX-License-Identifier: MIT
/* gwnet.c - address helpers of gwconfig.h: CIDR parsing, matching and the loopback test.
 *
 * Pure functions. gw_net_parse reads administrator text; gw_net_match and gw_addr_is_loopback
 * judge peer addresses (untrusted, but fixed-size kernel structures). A v4-mapped IPv6 address
 * (::ffff:a.b.c.d, what a dual-stack listener reports for an IPv4 peer) is judged as the IPv4
 * address it carries, so one rule covers both listener kinds. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "gwconfig.h"
#include "util.h"

static bool host_bits_zero(const uint8_t *a, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;
		uint8_t mask = keep == 8 ? 0xff : (uint8_t)(0xff00u >> keep);
		if (a[i] & (uint8_t)~mask)
			return false;
	}
	return true;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return (a[full] & mask) == (net[full] & mask);
}

int gw_net_parse(const char *s, struct gw_net *out)
{
	struct gw_net net = {};
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
	if (inet_pton(AF_INET, addr, net.addr) == 1)
		net.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, net.addr) == 1)
		net.family = AF_INET6;
	else
		return -EINVAL;
	prefix = net.family == AF_INET ? 32 : 128;
	if (slash && parse_u64(slash + 1, prefix, &prefix) < 0)
		return -EINVAL;
	if (slash && slash[1] == '0' && slash[2] != 0) /* no leading zeros: "/08" */
		return -EINVAL;
	net.prefix = (unsigned)prefix;
	if (!host_bits_zero(net.addr, net.family == AF_INET ? 4 : 16, net.prefix))
		return -EINVAL;
	*out = net;
	return 0;
}

/* The address of sa as (family, bytes), v4-mapped folded to AF_INET. 0 for other families. */
static int addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(out, a + 12, 4);
			return AF_INET;
		}
		memcpy(out, a, 16);
		return AF_INET6;
	}
	return 0;
}

bool gw_net_match(const struct gw_net *nets, size_t n, const struct sockaddr *sa)
{
	uint8_t a[16];
	int family = addr_bytes(sa, a);

	if (!family)
		return false;
	for (size_t i = 0; i < n; i++)
		if (nets[i].family == family && prefix_match(a, nets[i].addr, nets[i].prefix))
			return true;
	return false;
}

bool gw_addr_is_loopback(const struct sockaddr *sa)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };
	uint8_t a[16];
	int family = addr_bytes(sa, a);

	if (family == AF_INET)
		return a[0] == 127;
	if (family == AF_INET6)
		return memcmp(a, v6_loopback, 16) == 0;
	return false;
}
