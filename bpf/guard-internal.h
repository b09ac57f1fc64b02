/* SPDX-License-Identifier: MIT */
/* guard-internal.h - helpers shared by the two loaders (guard.c, egress.c); not installed.
 *
 * May use libbpf types: nothing here reaches the public guard.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <bpf/libbpf.h>

/* enum bpf_attach_type values newer than the 6.1 UAPI headers. */
#define GUARD_ATTACH_UNIX_CONNECT 49 /* BPF_CGROUP_UNIX_CONNECT, Linux 6.7 */
#define GUARD_ATTACH_UNIX_SENDMSG 50 /* BPF_CGROUP_UNIX_SENDMSG, Linux 6.7 */

/* "@name" or "/path" -> sun_path bytes (zero padded), length that matters, kind. */
int guard_parse_name(const char *name, char path[108], uint32_t *len, bool *abstract);

int guard_prepare_unix_prog(struct bpf_program *prog, int attach_type);

/* Translate a load/attach failure into -EOPNOTSUPP when it means "kernel cannot". */
int guard_map_load_error(int r);

/* Sum a per-CPU array of u64 counters, keys 0..nstats-1. */
int guard_read_percpu_stats(const struct bpf_map *map, uint64_t *out, unsigned nstats);

/* The kernel's run count and run time of one program (zero unless run-time stats are on). */
int guard_prog_run_stats(const struct bpf_program *prog, uint64_t *runs, uint64_t *ns);
