// SPDX-License-Identifier: MIT
/* guard-none.c - the kernel guard's interface (guard.h) in a build without it (-Dbpf=disabled).
 *
 * Linked instead of guard.c, egress.c and ingress.c when libbpf, clang or bpftool is not used,
 * so that the daemon and `capbus run` keep one code path: whatever they ask of the guard is
 * -EOPNOTSUPP, exactly what a kernel without the hooks answers, and guard_built() lets them say
 * why. No state, no privilege. */
#include "guard.h"

#include <errno.h>

bool guard_built(void)
{
	return false;
}

int guard_probe(unsigned flags)
{
	return -EOPNOTSUPP;
}

int guard_open(struct guard **out, const char *socket_name, const char *scope_cgroup_path)
{
	return -EOPNOTSUPP;
}

int guard_allow_cgroup(struct guard *g, uint64_t cgroup_id)
{
	return -EOPNOTSUPP;
}

int guard_disallow_cgroup(struct guard *g, uint64_t cgroup_id)
{
	return -EOPNOTSUPP;
}

int guard_allow_uid(struct guard *g, uint32_t uid)
{
	return -EOPNOTSUPP;
}

int guard_disallow_uid(struct guard *g, uint32_t uid)
{
	return -EOPNOTSUPP;
}

int guard_clear(struct guard *g)
{
	return -EOPNOTSUPP;
}

int guard_events_fd(const struct guard *g)
{
	return -EOPNOTSUPP;
}

int guard_events_consume(struct guard *g, void (*cb)(const struct guard_event *ev, void *userdata),
			 void *userdata)
{
	return -EOPNOTSUPP;
}

int guard_get_stats(const struct guard *g, struct guard_stats *out)
{
	return -EOPNOTSUPP;
}

int guard_enable_run_stats(void)
{
	return -EOPNOTSUPP;
}

void guard_free(struct guard *g)
{
}

int egress_rule_parse(const char *s, struct egress_rule *out)
{
	return -EOPNOTSUPP;
}

int egress_attach(struct egress **out, int cgroup_fd, const struct egress_rule *rules, size_t n)
{
	return -EOPNOTSUPP;
}

int egress_get_stats(const struct egress *e, struct egress_stats *out)
{
	return -EOPNOTSUPP;
}

void egress_free(struct egress *e)
{
}

int ingress_net_parse(const char *s, struct ingress_net *out)
{
	return -EOPNOTSUPP;
}

int ingress_attach(struct ingress **out, int cgroup_fd, uint16_t port, const struct ingress_net *nets,
		   size_t n)
{
	return -EOPNOTSUPP;
}

int ingress_get_stats(const struct ingress *in, struct ingress_stats *out)
{
	return -EOPNOTSUPP;
}

void ingress_free(struct ingress *in)
{
}
