// SPDX-License-Identifier: MIT
/* test-authority.c - unit tests for lib/authority.c: the admin request tag.
 *
 * The vectors were computed independently with Python's hmac and hashlib:
 *   key = bytes(range(32)); nonce = bytes(range(0x40, 0x60))
 *   M = b"capbus-admin-v1\0" + nonce + op + b"\0" + id + b"\0" + arg + b"\0" + body
 *   hmac.new(key, M, hashlib.sha256).hexdigest() */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "authority.h"
#include "check.h"

static uint8_t key[AUTHORITY_KEY_LEN], nonce[AUTHORITY_NONCE_LEN];

static void check_vector(uint32_t op, const char *id, const char *arg, const char *body, const char *want_hex)
{
	uint8_t tag[AUTHORITY_TAG_LEN];
	char hex[2 * AUTHORITY_TAG_LEN + 1];

	CHECK(authority_sign(key, nonce, op, id, arg, strlen(arg), body, strlen(body), tag) == 0);
	sodium_bin2hex(hex, sizeof(hex), tag, sizeof(tag));
	CHECK_STREQ(hex, want_hex);
	CHECK(authority_verify(key, nonce, op, id, arg, strlen(arg), body, strlen(body), tag));
}

static void test_vectors(void)
{
	const char *manifest = "{\"manifest_version\": 1, \"id\": \"org.example.weather\"}";

	check_vector(AUTHORITY_OP_KEYGEN, "alice", "", "", "3db78879157a491751d3a9d6cd831dd62e125989aa386670c945061e4bb0bbae");
	check_vector(AUTHORITY_OP_INSTALL, "org.example.weather", "speak\nrecognizer_loop:utterance", manifest,
		     "9cafa9175d95e7910ed06c229a441ef43f3aaa61254305817a6b23c103bf81b8");
	check_vector(AUTHORITY_OP_REVOKE, "bob", "x.*", "", "c77ecdde4b95882e10c5fd4b495db46112cac4fc08d61185121d885be2417349");
}

/* Every field is bound: change any one and the tag no longer verifies. */
static void test_binding(void)
{
	uint8_t tag[AUTHORITY_TAG_LEN], other[AUTHORITY_KEY_LEN], nonce2[AUTHORITY_NONCE_LEN];

	CHECK(authority_sign(key, nonce, AUTHORITY_OP_GRANT, "bob", "x.*", 3, NULL, 0, tag) == 0);
	CHECK(authority_verify(key, nonce, AUTHORITY_OP_GRANT, "bob", "x.*", 3, NULL, 0, tag));
	CHECK(!authority_verify(key, nonce, AUTHORITY_OP_REVOKE, "bob", "x.*", 3, NULL, 0, tag));
	CHECK(!authority_verify(key, nonce, AUTHORITY_OP_GRANT, "bob2", "x.*", 3, NULL, 0, tag));
	CHECK(!authority_verify(key, nonce, AUTHORITY_OP_GRANT, "bob", "x.y", 3, NULL, 0, tag));
	CHECK(!authority_verify(key, nonce, AUTHORITY_OP_GRANT, "bob", "x.*", 3, "{}", 2, tag));
	memcpy(other, key, sizeof(other));
	other[31] ^= 1;
	CHECK(!authority_verify(other, nonce, AUTHORITY_OP_GRANT, "bob", "x.*", 3, NULL, 0, tag));
	memcpy(nonce2, nonce, sizeof(nonce2));
	nonce2[0] ^= 0x80;
	CHECK(!authority_verify(key, nonce2, AUTHORITY_OP_GRANT, "bob", "x.*", 3, NULL, 0, tag));
	tag[5] ^= 1;
	CHECK(!authority_verify(key, nonce, AUTHORITY_OP_GRANT, "bob", "x.*", 3, NULL, 0, tag));
	/* Moving a byte between id and arg changes M: "ab" + "c" is not "a" + "bc". */
	CHECK(authority_sign(key, nonce, AUTHORITY_OP_GRANT, "ab", "c", 1, NULL, 0, tag) == 0);
	CHECK(!authority_verify(key, nonce, AUTHORITY_OP_GRANT, "a", "bc", 2, NULL, 0, tag));
}

static void test_refusals(void)
{
	uint8_t tag[AUTHORITY_TAG_LEN];

	CHECK(authority_sign(key, nonce, 0, "bob", NULL, 0, NULL, 0, tag) == -EINVAL);
	CHECK(authority_sign(key, nonce, 8, "bob", NULL, 0, NULL, 0, tag) == -EINVAL);
	CHECK(authority_sign(key, nonce, AUTHORITY_OP_GRANT, NULL, NULL, 0, NULL, 0, tag) == -EINVAL);
	CHECK(authority_sign(key, nonce, AUTHORITY_OP_GRANT, "bob", "x\0y", 3, NULL, 0, tag) == -EINVAL);
	CHECK(!authority_verify(key, nonce, 99, "bob", NULL, 0, NULL, 0, tag));
	CHECK_STREQ(authority_op_name(AUTHORITY_OP_INSTALL), "install");
	CHECK_STREQ(authority_op_name(AUTHORITY_OP_TOKEN_ADD), "token_add");
	CHECK_STREQ(authority_op_name(AUTHORITY_OP_TOKEN_REVOKE), "token_revoke");
	CHECK(AUTHORITY_OP_TOKEN_ADD == 6 && AUTHORITY_OP_TOKEN_REVOKE == 7);
	CHECK(authority_op_name(0) == NULL && authority_op_name(8) == NULL && authority_op_name(UINT32_MAX) == NULL);
}

int main(void)
{
	for (int i = 0; i < AUTHORITY_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < AUTHORITY_NONCE_LEN; i++)
		nonce[i] = (uint8_t)(0x40 + i);
	test_vectors();
	test_binding();
	test_refusals();
	return check_finish("test-authority");
}
