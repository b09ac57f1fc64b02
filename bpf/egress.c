/* SPDX-License-Identifier: MIT */
/* egress.c - loader of a skill's egress guard (egress_guard.bpf.c) and the rule parser.
 *
 * Privileged daemon side. One instance per skill cgroup: open skeleton -> rodata (which inet
 * sockets may exist) -> load -> rules map -> attach all nine hooks as bpf_links (not pinned).
 * Rules come from a validated manifest but are re-checked here. */
#include <arpa/inet.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "guard.h"
#include "guard-internal.h"
#include "egress_guard.h"
#include "egress_guard.skel.h"
#include "util.h"

#define EGRESS_NPROGS 9

struct egress {
	struct egress_guard_bpf *skel;
	struct bpf_link *links[EGRESS_NPROGS];
};

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	int r;

	if (streq(s, "*")) {
		*port = 0;
		return 0;
	}
	r = parse_u64(s, 65535, &v);
	if (r < 0 || v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int egress_rule_parse(const char *s, struct egress_rule *out)
{
	struct egress_rule rule = {};
	char addr[INET6_ADDRSTRLEN + 1];
	const char *p, *portstr;
	size_t alen;
	int want_family = 0;

	if (!s || !out)
		return -EINVAL;
	if (startswith(s, "tcp"))
		rule.proto = EGRESS_TCP;
	else if (startswith(s, "udp"))
		rule.proto = EGRESS_UDP;
	else
		return -EINVAL;
	p = s + 3;
	if (*p == '4' || *p == '6')
		want_family = *p++ - '0';
	if (*p++ != ':')
		return -EINVAL;

	if (*p == '[') {
		const char *close = strchr(p, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		alen = (size_t)(close - p - 1);
		if (alen == 0 || alen >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, p + 1, alen);
		addr[alen] = 0;
		if (inet_pton(AF_INET6, addr, &rule.addr.v6) != 1)
			return -EINVAL;
		rule.family = 6;
		portstr = close + 2;
	} else {
		const char *colon = strchr(p, ':');

		if (!colon)
			return -EINVAL;
		alen = (size_t)(colon - p);
		if (alen == 0 || alen >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, p, alen);
		addr[alen] = 0;
		portstr = colon + 1;
		if (streq(addr, "*")) {
			/* A wildcard address needs the family spelled out: tcp4:*:443. */
			if (!want_family)
				return -EINVAL;
			rule.any_addr = true;
			rule.family = want_family;
		} else {
			if (inet_pton(AF_INET, addr, &rule.addr.v4) != 1)
				return -EINVAL;
			rule.family = 4;
		}
	}
	if (want_family && want_family != rule.family)
		return -EINVAL;
	if (parse_port(portstr, &rule.port) < 0)
		return -EINVAL;
	*out = rule;
	return 0;
}

static int rule_to_key(const struct egress_rule *r, struct egress_key *k, uint32_t *create_bit)
{
	memset(k, 0, sizeof(*k));
	if (r->proto != EGRESS_TCP && r->proto != EGRESS_UDP && r->proto != EGRESS_TCP_LISTEN &&
	    r->proto != EGRESS_UDP_SOCKET)
		return -EINVAL;
	if (r->family != 4 && r->family != 6)
		return -EINVAL;
	k->family = (uint8_t)r->family;
	if (r->proto == EGRESS_TCP_LISTEN) {
		/* A port to bind, on any address: the stack's listener on the host and the skill's
		 * in its own namespace. */
		if (r->port == 0 || !r->any_addr)
			return -EINVAL;
		k->proto = EGRESS_PROTO_LISTEN;
		k->wild = EGRESS_WILD_ADDR;
		k->port = htons(r->port);
		*create_bit = r->family == 4 ? EGRESS_CREATE_TCP4 : EGRESS_CREATE_TCP6;
		return 0;
	}
	if (r->proto == EGRESS_UDP_SOCKET) {
		/* A key no lookup ever makes: the rule only sets the create bit. */
		if (r->port != 0 || !r->any_addr)
			return -EINVAL;
		k->proto = EGRESS_PROTO_SOCKET;
		k->wild = EGRESS_WILD_ADDR | EGRESS_WILD_PORT;
		*create_bit = r->family == 4 ? EGRESS_CREATE_UDP4 : EGRESS_CREATE_UDP6;
		return 0;
	}
	k->proto = r->proto == EGRESS_TCP ? EGRESS_PROTO_TCP : EGRESS_PROTO_UDP;
	if (r->any_addr)
		k->wild |= EGRESS_WILD_ADDR;
	else if (r->family == 4)
		memcpy(&k->addr[0], &r->addr.v4, 4);
	else
		memcpy(k->addr, &r->addr.v6, 16);
	if (r->port == 0)
		k->wild |= EGRESS_WILD_PORT;
	else
		k->port = htons(r->port);
	if (r->family == 4)
		*create_bit = r->proto == EGRESS_TCP ? EGRESS_CREATE_TCP4 : EGRESS_CREATE_UDP4;
	else
		*create_bit = r->proto == EGRESS_TCP ? EGRESS_CREATE_TCP6 : EGRESS_CREATE_UDP6;
	return 0;
}

int egress_attach(struct egress **out, int cgroup_fd, const struct egress_rule *rules, size_t n)
{
	_cleanup_(egress_freep) struct egress *e = NULL;
	struct egress_key keys[EGRESS_MAX_RULES];
	uint32_t allow = 0;
	struct bpf_program *progs[EGRESS_NPROGS];
	int r;

	if (!out || cgroup_fd < 0 || (n > 0 && !rules))
		return -EINVAL;
	if (n > EGRESS_MAX_RULES)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		uint32_t bit;

		r = rule_to_key(&rules[i], &keys[i], &bit);
		if (r < 0)
			return r;
		allow |= bit;
	}

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->skel = egress_guard_bpf__open();
	if (!e->skel)
		return negative_errno();
	r = guard_prepare_unix_prog(e->skel->progs.capbus_egress_unix_connect, GUARD_ATTACH_UNIX_CONNECT);
	if (r < 0)
		return r;
	r = guard_prepare_unix_prog(e->skel->progs.capbus_egress_unix_sendmsg, GUARD_ATTACH_UNIX_SENDMSG);
	if (r < 0)
		return r;
	e->skel->rodata->allow_create = allow;

	r = egress_guard_bpf__load(e->skel);
	if (r < 0)
		return guard_map_load_error(r);

	for (size_t i = 0; i < n; i++) {
		uint8_t one = 1;

		r = bpf_map__update_elem(e->skel->maps.rules, &keys[i], sizeof(keys[i]), &one, sizeof(one),
					 BPF_ANY);
		if (r < 0)
			return r;
	}

	progs[0] = e->skel->progs.capbus_egress_create;
	progs[1] = e->skel->progs.capbus_egress_connect4;
	progs[2] = e->skel->progs.capbus_egress_connect6;
	progs[3] = e->skel->progs.capbus_egress_sendmsg4;
	progs[4] = e->skel->progs.capbus_egress_sendmsg6;
	progs[5] = e->skel->progs.capbus_egress_bind4;
	progs[6] = e->skel->progs.capbus_egress_bind6;
	progs[7] = e->skel->progs.capbus_egress_unix_connect;
	progs[8] = e->skel->progs.capbus_egress_unix_sendmsg;
	for (size_t i = 0; i < EGRESS_NPROGS; i++) {
		e->links[i] = bpf_program__attach_cgroup(progs[i], cgroup_fd);
		if (!e->links[i])
			return negative_errno();
	}

	*out = TAKE_PTR(e);
	return 0;
}

int egress_get_stats(const struct egress *e, struct egress_stats *out)
{
	uint64_t v[EGRESS_STAT_MAX];
	int r;

	if (!e || !out)
		return -EINVAL;
	r = guard_read_percpu_stats(e->skel->maps.stats, v, EGRESS_STAT_MAX);
	if (r < 0)
		return r;
	out->denied_create = v[EGRESS_STAT_DENIED_CREATE];
	out->denied_connect = v[EGRESS_STAT_DENIED_CONNECT];
	out->denied_sendmsg = v[EGRESS_STAT_DENIED_SENDMSG];
	out->denied_unix = v[EGRESS_STAT_DENIED_UNIX];
	out->denied_bind = v[EGRESS_STAT_DENIED_BIND];
	return 0;
}

void egress_free(struct egress *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < EGRESS_NPROGS; i++)
		bpf_link__destroy(e->links[i]);
	egress_guard_bpf__destroy(e->skel);
	free(e);
}
