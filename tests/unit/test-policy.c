// SPDX-License-Identifier: MIT
/* test-policy.c - unit tests for busd/policy.c: compiling bundles and evaluating rights.
 *
 * Builds policies the way the router does from a bundle (manifest, grants and level-policy
 * texts plus keys) and checks who may send, receive and subscribe to what. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "router/policy.h"

static const char alice_manifest[] =
	"{\"manifest_version\": 1, \"id\": \"alice\",\n"
	" \"bus\": {\"send\": [\"speak\", \"mycroft.stop\", \"alice:*\"],\n"
	"         \"receive\": [\"speak.done\", \"alice:*\", \"mycroft.skill.handler.complete\"]},\n"
	" \"limits\": {\"msg_rate\": 50}}\n";

/* Asks for a dangerous receive ("speak"), a dangerous send ("system.*") and a system send
 * ("capbus.*"). */
static const char bob_manifest[] =
	"{\"manifest_version\": 1, \"id\": \"bob\",\n"
	" \"bus\": {\"send\": [\"bob.*\", \"system.*\", \"capbus.*\"], \"receive\": [\"speak\", \"bob.*\"]}}\n";

static void key_for(uint8_t key[CAPBUS_KEY_LEN], uint8_t b)
{
	memset(key, b, CAPBUS_KEY_LEN);
}

static void free_errors(char **errors, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(errors[i]);
	free(errors);
}

static bool send_ok(const struct identity *i, const char *type)
{
	return identity_may_send(i, type, strlen(type));
}

static bool recv_ok(const struct identity *i, const char *type)
{
	return identity_may_receive(i, type, strlen(type));
}

static struct policy *build(bool grant_bob, const char *levels, char ***errors, size_t *n_errors)
{
	struct policy_builder *b = NULL;
	struct policy *p = NULL;
	uint8_t key[CAPBUS_KEY_LEN];

	CHECK(policy_builder_new(&b) == 0);
	if (levels)
		CHECK(policy_builder_add_file(b, PS_FILE_LEVELS, "", "/etc/capbus/policy.json", levels, strlen(levels)) == 0);
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "alice", "/m/alice.json", alice_manifest,
				      sizeof(alice_manifest) - 1) == 0);
	key_for(key, 0xa1);
	CHECK(policy_builder_add_key(b, "alice", key) == 0);
	/* Key before manifest works too. */
	key_for(key, 0xb0);
	CHECK(policy_builder_add_key(b, "bob", key) == 0);
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "bob", "/m/bob.json", bob_manifest,
				      sizeof(bob_manifest) - 1) == 0);
	if (grant_bob) {
		const char *g = "# granted\nspeak\n  system.*  \ncapbus.*\n";
		CHECK(policy_builder_add_file(b, PS_FILE_GRANTS, "bob", "/s/grants/bob", g, strlen(g)) == 0);
	}
	key_for(key, 0xad);
	CHECK(policy_builder_add_key(b, "admin", key) == 0);
	/* A key without a manifest, a manifest without a key: neither becomes an identity. */
	key_for(key, 0xcc);
	CHECK(policy_builder_add_key(b, "carol", key) == 0);
	const char *dave = "{\"manifest_version\": 1, \"id\": \"dave\", \"bus\": {\"send\": [\"*\"]}}";
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "dave", "/m/dave.json", dave, strlen(dave)) == 0);
	/* A manifest whose id does not match its name, and a broken one. */
	const char *eve = "{\"manifest_version\": 1, \"id\": \"alice\", \"bus\": {\"send\": [\"*\"]}}";
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "eve", "/m/eve.json", eve, strlen(eve)) == 0);
	key_for(key, 0xee);
	CHECK(policy_builder_add_key(b, "eve", key) == 0);
	const char *frank = "{\"manifest_version\": 1, \"id\": \"frank\", \"bus\": {\"send\": [\"a*\"]}}";
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "frank", "/m/frank.json", frank, strlen(frank)) == 0);
	key_for(key, 0xff);
	CHECK(policy_builder_add_key(b, "frank", key) == 0);

	CHECK(policy_builder_finish(b, 7, &p, errors, n_errors) == 0);
	return p;
}

static void test_identities(void)
{
	char **errors = NULL;
	size_t n_errors = 0;
	struct policy *p = build(false, NULL, &errors, &n_errors);
	if (!p)
		return;

	CHECK(p->generation == 7);
	CHECK(p->n_identities == 3);
	for (size_t i = 1; i < p->n_identities; i++)
		CHECK(strcmp(p->identities[i - 1].id, p->identities[i].id) < 0);
	const struct identity *alice = policy_find(p, "alice"), *bob = policy_find(p, "bob"),
			      *admin = policy_find(p, "admin");
	CHECK(alice && bob && admin);
	CHECK(!policy_find(p, "carol") && !policy_find(p, "dave") && !policy_find(p, "eve") && !policy_find(p, "frank"));
	CHECK(!policy_find(p, "") && !policy_find(p, "alic") && !policy_find(p, "alice2"));
	char long_id[200];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	CHECK(!policy_find(p, long_id));

	/* Errors name the file; eve's mismatch and frank's syntax. */
	CHECK(n_errors == 2);
	bool saw_eve = false, saw_frank = false;
	for (size_t i = 0; i < n_errors; i++) {
		saw_eve |= strstr(errors[i], "/m/eve.json") && strstr(errors[i], "does not match");
		saw_frank |= strncmp(errors[i], "/m/frank.json:", 14) == 0;
	}
	CHECK(saw_eve && saw_frank);
	CHECK(errors && errors[n_errors] == NULL);
	free_errors(errors, n_errors);
	if (!alice || !bob || !admin) {
		policy_free(p);
		return;
	}

	uint8_t key[CAPBUS_KEY_LEN];
	key_for(key, 0xa1);
	CHECK(alice->has_key && sodium_memcmp(alice->key, key, CAPBUS_KEY_LEN) == 0);
	key_for(key, 0xad);
	CHECK(admin->has_key && sodium_memcmp(admin->key, key, CAPBUS_KEY_LEN) == 0);
	CHECK(admin->is_admin && !alice->is_admin && !bob->is_admin);
	CHECK(alice->msg_rate == 50 && bob->msg_rate == 1000 && admin->msg_rate == UINT32_MAX);

	/* alice: exactly her manifest. */
	CHECK(send_ok(alice, "speak") && send_ok(alice, "mycroft.stop") && send_ok(alice, "alice:x"));
	CHECK(send_ok(alice, "alice:x.y"));
	CHECK(!send_ok(alice, "alice") && !send_ok(alice, "speak.done") && !send_ok(alice, "bob.x"));
	CHECK(!send_ok(alice, "capbus.ping") && !send_ok(alice, "mycroft.stop.now"));
	CHECK(identity_may_send(alice, "speakXX", 5));
	CHECK(recv_ok(alice, "speak.done") && recv_ok(alice, "alice:y") && !recv_ok(alice, "speak"));
	CHECK(recv_ok(alice, "mycroft.skill.handler.complete") && !recv_ok(alice, "mycroft.stop"));
	CHECK(identity_may_subscribe(alice, "alice:*") && identity_may_subscribe(alice, "alice:x"));
	CHECK(identity_may_subscribe(alice, "alice:x.*") && identity_may_subscribe(alice, "speak.done"));
	CHECK(!identity_may_subscribe(alice, "*") && !identity_may_subscribe(alice, "speak"));
	CHECK(!identity_may_subscribe(alice, "speak.*") && !identity_may_subscribe(alice, "alice*"));
	CHECK(!identity_may_subscribe(alice, "") && !identity_may_subscribe(alice, "alice:"));
	/* Invalid types are never allowed, whatever the patterns. */
	CHECK(!send_ok(alice, "alice:*") && !send_ok(alice, "alice:x\ty") && !send_ok(alice, ""));

	/* bob without grants: only the normal part. */
	CHECK(send_ok(bob, "bob.x") && !send_ok(bob, "system.reboot") && !send_ok(bob, "capbus.ping"));
	CHECK(recv_ok(bob, "bob.y") && !recv_ok(bob, "speak"));
	CHECK(!identity_may_subscribe(bob, "speak"));
	CHECK(!identity_has_grant(bob, "speak") && bob->n_grants == 0);

	/* admin: any valid type or pattern, nothing invalid. */
	CHECK(send_ok(admin, "capbus.install") && send_ok(admin, "anything.at:all"));
	CHECK(!send_ok(admin, "") && !send_ok(admin, "a\x01b") && !send_ok(admin, "a*"));
	CHECK(send_ok(admin, "a..b") && send_ok(admin, "a b"));
	CHECK(recv_ok(admin, "speak") && !recv_ok(admin, "*"));
	CHECK(identity_may_subscribe(admin, "*") && identity_may_subscribe(admin, "a.*"));
	CHECK(!identity_may_subscribe(admin, "a*") && !identity_may_subscribe(admin, ""));
	policy_free(p);
}

static void test_grants(void)
{
	char **errors = NULL;
	size_t n_errors = 0;
	struct policy *p = build(true, NULL, &errors, &n_errors);
	free_errors(errors, n_errors);
	if (!p)
		return;
	const struct identity *bob = policy_find(p, "bob");
	CHECK(bob != NULL);
	if (bob) {
		/* Dangerous patterns come with their grant; system ones never do. */
		CHECK(recv_ok(bob, "speak") && identity_may_subscribe(bob, "speak"));
		CHECK(send_ok(bob, "system.reboot"));
		CHECK(!send_ok(bob, "capbus.ping") && !send_ok(bob, "capbus.install"));
		CHECK(identity_has_grant(bob, "speak") && identity_has_grant(bob, "system.*"));
		CHECK(!identity_has_grant(bob, "speak.*") && !identity_has_grant(bob, "spea"));
		CHECK(bob->n_grants == 3);
	}
	policy_free(p);
}

static void test_levels_file(void)
{
	char **errors = NULL;
	size_t n_errors = 0;

	/* A stricter system policy: "mycroft.*" sends become dangerous, alice loses mycroft.stop. */
	const char *strict = "{\"policy_version\": 1, \"dangerous\": {\"send\": [\"mycroft.*\"], \"receive\": []},"
			     " \"system\": {\"send\": [\"capbus.*\", \"bus.*\"], \"receive\": []}}";
	struct policy *p = build(false, strict, &errors, &n_errors);
	CHECK(n_errors == 2);
	free_errors(errors, n_errors);
	if (p) {
		const struct identity *alice = policy_find(p, "alice"), *bob = policy_find(p, "bob");
		CHECK(alice && !send_ok(alice, "mycroft.stop") && send_ok(alice, "speak"));
		/* Under this policy "speak" is normal to receive. */
		CHECK(bob && recv_ok(bob, "speak"));
		policy_free(p);
	}

	/* A broken level policy is reported and the built-in default applies (fail closed). */
	p = build(false, "{\"policy_version\": 2}", &errors, &n_errors);
	CHECK(n_errors == 3);
	bool saw = false;
	for (size_t i = 0; i < n_errors; i++)
		saw |= strncmp(errors[i], "/etc/capbus/policy.json:", 24) == 0;
	CHECK(saw);
	free_errors(errors, n_errors);
	if (p) {
		const struct identity *bob = policy_find(p, "bob");
		CHECK(bob && !recv_ok(bob, "speak") && !send_ok(bob, "capbus.ping"));
		policy_free(p);
	}
}

static void test_builder_edges(void)
{
	struct policy_builder *b = NULL;
	struct policy *p = NULL;
	char **errors = NULL;
	size_t n_errors = 0;
	uint8_t key[CAPBUS_KEY_LEN] = { 0 };

	/* Empty bundle: an empty policy. */
	CHECK(policy_builder_new(&b) == 0);
	CHECK(policy_builder_finish(b, 1, &p, &errors, &n_errors) == 0);
	CHECK(p && p->n_identities == 0 && n_errors == 0);
	CHECK(p && !policy_find(p, "alice"));
	policy_free(p);
	policy_free(NULL);
	CHECK(!policy_find(NULL, "alice"));

	/* Invalid ids are refused at the door. */
	CHECK(policy_builder_new(&b) == 0);
	CHECK(policy_builder_add_key(b, "Al ce", key) == -EINVAL);
	CHECK(policy_builder_add_key(b, "", key) == -EINVAL);
	CHECK(policy_builder_add_key(b, "../x", key) == -EINVAL);
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "a/b", "n", "{}", 2) == -EINVAL);
	CHECK(policy_builder_add_file(b, PS_FILE_GRANTS, ".x", "n", "", 0) == -EINVAL);
	/* A later file for the same identity replaces the earlier one; texts need no terminator. */
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "alice", "/m/alice.json", "garbage", 7) == 0);
	char *copy = malloc(sizeof(alice_manifest) - 1);
	memcpy(copy, alice_manifest, sizeof(alice_manifest) - 1);
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "alice", "/m/alice.json", copy, sizeof(alice_manifest) - 1) == 0);
	free(copy);
	CHECK(policy_builder_add_key(b, "alice", key) == 0);
	/* Many identities (the builder grows). */
	char id[32];
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "k%03d", i);
		CHECK(policy_builder_add_key(b, id, key) == 0);
	}
	CHECK(policy_builder_finish(b, 2, &p, &errors, &n_errors) == 0);
	CHECK(n_errors == 0);
	CHECK(p && p->n_identities == 1 && policy_find(p, "alice"));
	free_errors(errors, n_errors);
	policy_free(p);

	/* Freeing an unfinished builder is fine. */
	CHECK(policy_builder_new(&b) == 0);
	CHECK(policy_builder_add_key(b, "alice", key) == 0);
	policy_builder_free(b);
	policy_builder_free(NULL);
}

/* Who may log in natively and who may be delegated: "transports", admin, gateway, skills. */
static void test_transports(void)
{
	static const struct {
		const char *id, *manifest; /* NULL manifest: a key only (admin, gateway) */
		bool native, delegable;
	} cases[] = {
		{ "admin", NULL, true, false },
		{ "gateway", NULL, false, false },
		{ "plain", "{\"manifest_version\":1,\"id\":\"plain\"}", true, false },
		{ "both", "{\"manifest_version\":1,\"id\":\"both\",\"transports\":[\"socket\",\"gateway\"]}", true, true },
		{ "web", "{\"manifest_version\":1,\"id\":\"web\",\"transports\":[\"gateway\"]}", false, true },
		{ "skill", "{\"manifest_version\":1,\"id\":\"skill\",\"exec\":[\"/bin/x\"]}", true, false },
	};
	struct policy_builder *b = NULL;
	struct policy *p = NULL;
	char **errors = NULL;
	size_t n_errors = 0;
	uint8_t key[CAPBUS_KEY_LEN];

	CHECK(policy_builder_new(&b) == 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		key_for(key, (uint8_t)(0x60 + i));
		CHECK(policy_builder_add_key(b, cases[i].id, key) == 0);
		if (cases[i].manifest)
			CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, cases[i].id, "/m/x.json", cases[i].manifest,
						      strlen(cases[i].manifest)) == 0);
	}
	/* A gateway.json (which the parent never sends) would not make the gateway a session. */
	const char gw[] = "{\"manifest_version\":1,\"id\":\"gateway\",\"bus\":{\"send\":[\"*\"]}}";
	CHECK(policy_builder_add_file(b, PS_FILE_MANIFEST, "gateway", "/m/gateway.json", gw, strlen(gw)) == 0);
	CHECK(policy_builder_finish(b, 1, &p, &errors, &n_errors) == 0);
	CHECK(n_errors == 0);
	for (size_t i = 0; p && i < ARRAY_LEN(cases); i++) {
		const struct identity *ident = policy_find(p, cases[i].id);
		CHECK_MSG(ident != NULL, "%s missing", cases[i].id);
		if (!ident)
			continue;
		CHECK_MSG(identity_native_login(ident) == cases[i].native, "%s: native login", cases[i].id);
		CHECK_MSG(identity_delegable(ident) == cases[i].delegable, "%s: delegable", cases[i].id);
	}
	const struct identity *g = p ? policy_find(p, "gateway") : NULL;
	CHECK(g && g->is_gateway && !g->is_admin && g->has_key && !g->manifest && !g->perms);
	/* It has no permissions of its own. */
	CHECK(g && !identity_may_send(g, "speak", 5) && !identity_may_receive(g, "speak", 5) &&
	      !identity_may_subscribe(g, "*"));
	free_errors(errors, n_errors);
	policy_free(p);
}

int main(void)
{
	if (sodium_init() < 0)
		return 99;
	test_transports();
	test_identities();
	test_grants();
	test_levels_file();
	test_builder_edges();
	return check_finish("test-policy");
}
