// SPDX-License-Identifier: MIT
/* delegate.c - the router's decision on a delegated handshake (see delegate.h). */
#include "router/delegate.h"

#include <string.h>

#include "util.h"

static int decide(struct delegate_ctx *x, const struct hs_delegation *d, uint8_t gw_key[CAPBUS_KEY_LEN],
		  uint8_t subject_key[CAPBUS_KEY_LEN])
{
	const struct identity *gw = policy_find(x->policy, HS_GATEWAY_ID);
	const struct ps_gateway_peer *m = x->mode;

	/* The key first, whatever the verdict: a refusal must cost the same proof check. */
	if (gw && gw->is_gateway && gw->has_key)
		memcpy(gw_key, gw->key, CAPBUS_KEY_LEN);
	if (m->mode != PS_DELEGATION_ANY && m->mode != PS_DELEGATION_SUPERVISED) {
		x->why = "delegation_off";
		return HS_DSTATUS_REFUSED;
	}
	/* The supervised gateway is known by the cgroup and uid the parent gave it: its key alone,
	 * stolen, opens nothing from another process. */
	if (m->mode == PS_DELEGATION_SUPERVISED && (m->cgroup_id == 0 || x->cgroup_id != m->cgroup_id || x->uid != m->uid)) {
		x->why = "not_the_gateway_process";
		return HS_DSTATUS_REFUSED;
	}
	if (!streq(d->gateway_id, HS_GATEWAY_ID) || !gw || !gw->is_gateway) {
		x->why = "not_the_gateway";
		return HS_DSTATUS_REFUSED;
	}
	/* A launched skill's connection may be its own identity and nothing else. */
	if (x->adopted) {
		x->why = "skill_connection";
		return HS_DSTATUS_REFUSED;
	}
	const struct identity *subject = policy_find(x->policy, d->subject_id);
	if (!subject || !subject->has_key || !identity_delegable(subject)) {
		x->why = "not_delegable";
		return HS_DSTATUS_NOT_DELEGABLE;
	}
	if (d->via == HS_VIA_CHALLENGE)
		memcpy(subject_key, subject->key, CAPBUS_KEY_LEN);
	return HS_DSTATUS_OK;
}

int delegate_check(void *userdata, const struct hs_delegation *d, uint8_t gw_key[CAPBUS_KEY_LEN],
		   uint8_t subject_key[CAPBUS_KEY_LEN])
{
	struct delegate_ctx *x = userdata;

	x->why = "";
	x->checked = decide(x, d, gw_key, subject_key);
	return x->checked;
}

const char *delegate_reason(const struct delegate_ctx *x, uint8_t status)
{
	if (status == HS_DSTATUS_REFUSED && x->checked != HS_DSTATUS_REFUSED)
		return "wrong_gateway_proof";
	if (status == HS_DSTATUS_CHALLENGE_FAILED && x->checked == HS_DSTATUS_OK)
		return "wrong_inner_proof";
	return x->why;
}

const char *delegate_via_name(uint8_t via)
{
	return via == HS_VIA_LOCAL ? "local" : via == HS_VIA_TOKEN ? "token" : "challenge";
}
