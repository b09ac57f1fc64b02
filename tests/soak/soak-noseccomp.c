// SPDX-License-Identifier: MIT
/* soak-noseccomp.so - preloaded into capbusd only by `soak.py --valgrind`.
 *
 * valgrind cannot run a process that installs a seccomp filter: it does not know the seccomp
 * system call (so libseccomp's seccomp_init fails and the router, failing closed, exits), and a
 * filter would kill valgrind's own system calls anyway. Memory checking is what the valgrind run
 * is for, so there these libseccomp entry points accept everything and install nothing. Never
 * used outside that run; every other test runs the router confined. */
#include <seccomp.h>
#include <stdint.h>

static int dummy_filter;

scmp_filter_ctx seccomp_init(uint32_t def_action)
{
	(void)def_action;
	return &dummy_filter;
}

int seccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt, ...)
{
	(void)ctx, (void)action, (void)syscall, (void)arg_cnt;
	return 0;
}

int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value)
{
	(void)ctx, (void)attr, (void)value;
	return 0;
}

int seccomp_load(const scmp_filter_ctx ctx)
{
	(void)ctx;
	return 0;
}

void seccomp_release(scmp_filter_ctx ctx)
{
	(void)ctx;
}
