// SPDX-License-Identifier: MIT
/* test-delegate.c - the router's decision on delegated handshakes (busd/router/delegate.c).
 *
 * A compiled policy (gateway key, delegable and non-delegable identities) and every delegation
 * mode, including the supervised gateway's cgroup and uid that the integration tests cannot
 * reach until capbusd starts a gateway; then whole AUTH_D handshakes through hs_server_dauth(). */
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "router/delegate.h"

static void key_for(uint8_t key[CAPBUS_KEY_LEN], uint8_t b)
{
	memset(key, b, CAPBUS_KEY_LEN);
}

static struct policy *build(bool with_gateway)
{
	static const struct {
		const char *id, *manifest;
	} ids[] = {
		{ "admin", NULL },
		{ "alice", "{\"manifest_version\":1,\"id\":\"alice\",\"transports\":[\"socket\",\"gateway\"]}" },
		{ "web", "{\"manifest_version\":1,\"id\":\"web\",\"transports\":[\"gateway\"]}" },
		{ "carol", "{\"manifest_version\":1,\"id\":\"carol\"}" },
		{ "skill", "{\"manifest_version\":1,\"id\":\"skill\",\"exec\":[\"/bin/x\"]}" },
		{ "gateway", NULL },
	};
	struct policy_builder *b = NULL;
	struct policy *p = NULL;
	char **errors = NULL;
	size_t n_errors = 0;
	uint8_t key[CAPBUS_KEY_LEN];

	CHECK(policy_builder_new(&b) == 0);
	for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
		if (!with_gateway && strcmp(ids[i].id, "gateway") == 0)
			continue;
		key_for(key, (uint8_t)(0x10 + i));
		CHECK(policy_builder_add_key(b, ids[i].id, key) == 0);
		if (ids[i].manifest)
			CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, ids[i].id, "/m/x.json", ids[i].manifest,
						      strlen(ids[i].manifest)) == 0);
	}
	/* "carla" has a manifest with "gateway" but no key: not delegable either. */
	const char *carla = "{\"manifest_version\":1,\"id\":\"carla\",\"transports\":[\"gateway\"]}";
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "carla", "/m/carla.json", carla, strlen(carla)) == 0);
	CHECK(policy_builder_finish(b, 1, &p, &errors, &n_errors) == 0);
	CHECK(n_errors == 0);
	free(errors);
	return p;
}

static struct hs_delegation deleg(const char *gateway, const char *subject, uint8_t via)
{
	struct hs_delegation d = { .via = via };
	snprintf(d.gateway_id, sizeof(d.gateway_id), "%s", gateway);
	snprintf(d.subject_id, sizeof(d.subject_id), "%s", subject);
	return d;
}

/* The status for one delegation; *gw and *sk say whether real keys were handed out. */
static int run(struct delegate_ctx *x, const struct hs_delegation *d, bool *gw, bool *sk)
{
	uint8_t gw_key[CAPBUS_KEY_LEN], subject_key[CAPBUS_KEY_LEN], want[CAPBUS_KEY_LEN];

	memset(gw_key, 0xee, sizeof(gw_key));
	memset(subject_key, 0xee, sizeof(subject_key));
	int r = delegate_check(x, d, gw_key, subject_key);
	CHECK(r == x->checked);
	key_for(want, 0x15); /* gateway is ids[5] */
	*gw = memcmp(gw_key, want, CAPBUS_KEY_LEN) == 0;
	*sk = subject_key[0] != 0xee;
	return r;
}

static void test_modes(void)
{
	struct policy *p = build(true);
	struct ps_gateway_peer mode = { .mode = PS_DELEGATION_OFF };
	struct delegate_ctx x = { .policy = p, .mode = &mode, .cgroup_id = 77, .uid = 1000 };
	struct hs_delegation alice = deleg("gateway", "alice", HS_VIA_TOKEN);
	bool gw, sk;

	/* off: refused, but the gateway's key is still handed out (same work as an acceptance) */
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_REFUSED && gw && !sk);
	CHECK_STREQ(x.why, "delegation_off");
	for (uint32_t m = 3; m < 6; m++) {
		mode.mode = m;
		CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_REFUSED);
	}

	/* any: whoever proves the key */
	mode.mode = PS_DELEGATION_ANY;
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_OK && gw && !sk);
	struct hs_delegation web = deleg("gateway", "web", HS_VIA_LOCAL);
	CHECK(run(&x, &web, &gw, &sk) == HS_DSTATUS_OK);
	const char *const not_delegable[] = { "carol", "skill", "admin", "gateway", "nobody", "carla" };
	for (size_t i = 0; i < ARRAY_LEN(not_delegable); i++) {
		struct hs_delegation d = deleg("gateway", not_delegable[i], HS_VIA_CHALLENGE);
		CHECK_MSG(run(&x, &d, &gw, &sk) == HS_DSTATUS_NOT_DELEGABLE && gw && !sk, "%s", not_delegable[i]);
		CHECK_STREQ(x.why, "not_delegable");
	}
	/* via 3: the subject's key for the inner proof */
	struct hs_delegation ch = deleg("gateway", "alice", HS_VIA_CHALLENGE);
	CHECK(run(&x, &ch, &gw, &sk) == HS_DSTATUS_OK && gw && sk);
	/* another delegator, or a skill connection: refused */
	struct hs_delegation other = deleg("alice", "alice", HS_VIA_TOKEN);
	CHECK(run(&x, &other, &gw, &sk) == HS_DSTATUS_REFUSED);
	CHECK_STREQ(x.why, "not_the_gateway");
	x.adopted = true;
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_REFUSED);
	CHECK_STREQ(x.why, "skill_connection");
	x.adopted = false;

	/* supervised: the parent's cgroup and uid, both, and never cgroup 0 */
	mode = (struct ps_gateway_peer){ .mode = PS_DELEGATION_SUPERVISED, .cgroup_id = 77, .uid = 1000 };
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_OK);
	x.uid = 0;
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_REFUSED);
	CHECK_STREQ(x.why, "not_the_gateway_process");
	x.uid = 1000;
	x.cgroup_id = 78;
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_REFUSED);
	mode = (struct ps_gateway_peer){ .mode = PS_DELEGATION_SUPERVISED, .cgroup_id = 0, .uid = 0 };
	x.cgroup_id = 0;
	x.uid = 0;
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_REFUSED); /* "not running yet" matches nobody */
	policy_free(p);

	/* A policy without the gateway's key: nothing to prove against. */
	p = build(false);
	mode = (struct ps_gateway_peer){ .mode = PS_DELEGATION_ANY };
	x.policy = p;
	CHECK(run(&x, &alice, &gw, &sk) == HS_DSTATUS_REFUSED && !gw);
	CHECK_STREQ(x.why, "not_the_gateway");
	policy_free(p);
	CHECK_STREQ(delegate_via_name(HS_VIA_LOCAL), "local");
	CHECK_STREQ(delegate_via_name(HS_VIA_TOKEN), "token");
	CHECK_STREQ(delegate_via_name(HS_VIA_CHALLENGE), "challenge");
}

/* Whole handshakes: the gateway side's AUTH_D through hs_server_dauth() with delegate_check. */
static int handshake(struct delegate_ctx *x, const uint8_t gw_key[CAPBUS_KEY_LEN], const char *subject,
		     uint8_t via, const uint8_t *subject_key, const char **reason)
{
	uint8_t hello[HS_HELLO_LEN], auth[HS_DAUTH_MAX], reply[HS_DRESULT_MAX];
	size_t auth_len = 0, reply_len = 0;
	struct hs_server srv;
	struct hs_dclient c = { 0 };
	struct hs_session s, cs;
	struct hs_delegation d = deleg("gateway", subject, via), seen;
	int status = 99;

	hs_server_hello(&srv, hello);
	CHECK(hs_dclient_hello(&c, hello, sizeof(hello)) == HS_OK);
	if (via == HS_VIA_CHALLENGE) {
		randombytes_buf(d.inner_nc, HS_NONCE_LEN);
		hs_ws_proof(subject_key, false, c.ns, d.inner_nc, subject, d.inner_proof);
	}
	CHECK(hs_dclient_auth(&c, gw_key, &d, auth, &auth_len) == HS_OK);
	int r = hs_server_dauth(&srv, auth, auth_len, delegate_check, x, &seen, &s, reply, &reply_len);
	uint8_t inner_sp[HS_PROOF_LEN];
	int cr = hs_dclient_finish(&c, reply, reply_len, &cs, inner_sp, &status);
	CHECK((r == HS_OK) == (cr == HS_OK));
	if (r == HS_OK)
		CHECK(strcmp(s.id, subject) == 0 && strcmp(cs.id, subject) == 0);
	*reason = r == HS_OK ? "" : delegate_reason(x, reply[HS_MAGIC_LEN]);
	hs_dclient_clear(&c);
	return r == HS_OK ? 0 : status;
}

static void test_handshakes(void)
{
	struct policy *p = build(true);
	struct ps_gateway_peer mode = { .mode = PS_DELEGATION_ANY };
	struct delegate_ctx x = { .policy = p, .mode = &mode, .cgroup_id = 5, .uid = 6 };
	uint8_t gw[CAPBUS_KEY_LEN], wrong[CAPBUS_KEY_LEN], alice[CAPBUS_KEY_LEN], carol[CAPBUS_KEY_LEN];
	const char *why;

	key_for(gw, 0x15);
	key_for(alice, 0x11);
	key_for(carol, 0x13);
	key_for(wrong, 0x99);
	CHECK(handshake(&x, gw, "alice", HS_VIA_TOKEN, NULL, &why) == 0);
	CHECK(handshake(&x, gw, "alice", HS_VIA_CHALLENGE, alice, &why) == 0);
	CHECK(handshake(&x, gw, "carol", HS_VIA_TOKEN, NULL, &why) == HS_DSTATUS_NOT_DELEGABLE);
	CHECK_STREQ(why, "not_delegable");
	CHECK(handshake(&x, gw, "carol", HS_VIA_CHALLENGE, carol, &why) == HS_DSTATUS_CHALLENGE_FAILED);
	CHECK_STREQ(why, "not_delegable");
	CHECK(handshake(&x, gw, "alice", HS_VIA_CHALLENGE, carol, &why) == HS_DSTATUS_CHALLENGE_FAILED);
	CHECK_STREQ(why, "wrong_inner_proof");
	/* A wrong gateway key: 1 for the delegable and the non-delegable alike. */
	CHECK(handshake(&x, wrong, "alice", HS_VIA_TOKEN, NULL, &why) == HS_DSTATUS_REFUSED);
	CHECK_STREQ(why, "wrong_gateway_proof");
	CHECK(handshake(&x, wrong, "carol", HS_VIA_TOKEN, NULL, &why) == HS_DSTATUS_REFUSED);
	CHECK_STREQ(why, "wrong_gateway_proof");
	/* The admin's key is not the gateway's. */
	uint8_t admin[CAPBUS_KEY_LEN];
	key_for(admin, 0x10);
	CHECK(handshake(&x, admin, "alice", HS_VIA_TOKEN, NULL, &why) == HS_DSTATUS_REFUSED);
	/* Supervised, from the right process, and from another one with the right key. */
	mode = (struct ps_gateway_peer){ .mode = PS_DELEGATION_SUPERVISED, .cgroup_id = 5, .uid = 6 };
	CHECK(handshake(&x, gw, "web", HS_VIA_LOCAL, NULL, &why) == 0);
	x.cgroup_id = 9;
	CHECK(handshake(&x, gw, "web", HS_VIA_LOCAL, NULL, &why) == HS_DSTATUS_REFUSED);
	CHECK_STREQ(why, "not_the_gateway_process");
	policy_free(p);
}

int main(void)
{
	if (sodium_init() < 0)
		return 99;
	test_modes();
	test_handshakes();
	return check_finish("test-delegate");
}
