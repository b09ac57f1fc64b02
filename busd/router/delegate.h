/* SPDX-License-Identifier: MIT */
/* delegate.h - may this connection open a delegated session (AUTH_D), and for whom?
 *
 * Trust level: router (unprivileged). The router's half of hs_server_dauth() (lib/handshake.h):
 * decides from the compiled policy, the delegation mode the parent sent (PS_GATEWAY_PEER) and
 * what the kernel said about the connecting process. Pure: no I/O, no logging; router.c logs
 * the verdict with the reason recorded here. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "common/privsep.h"
#include "handshake.h"
#include "router/policy.h"

/* One AUTH_D being checked; pass it as hs_server_dauth()'s userdata with delegate_check. */
struct delegate_ctx {
	const struct policy *policy;
	const struct ps_gateway_peer *mode; /* from the parent; mode 0 (off) until it says otherwise */
	uint64_t cgroup_id;                 /* the peer's cgroup v2 id at accept (0: unknown) */
	uint32_t uid;                       /* the peer's uid (SO_PEERCRED) */
	bool adopted;                       /* a skill connection the parent handed over */
	int checked;                        /* out: what delegate_check() returned */
	const char *why;                    /* out: its reason when it refused */
};

/* hs_delegate_check_fn: an hs_dstatus. Copies the gateway's key into gw_key whenever the policy
 * has one, and the subject's into subject_key for via 3 when the subject may be delegated. */
int delegate_check(void *userdata, const struct hs_delegation *d, uint8_t gw_key[CAPBUS_KEY_LEN],
		   uint8_t subject_key[CAPBUS_KEY_LEN]);

/* Why RESULT_D carried status (1, 2 or 3), for the log: hs_server_dauth() overrides the check
 * with a wrong proof, so a status the check did not give comes from a proof. */
const char *delegate_reason(const struct delegate_ctx *x, uint8_t status);

/* "local", "token" or "challenge". */
const char *delegate_via_name(uint8_t via);
