// SPDX-License-Identifier: MIT
/* fuzz-gw-token.c - libFuzzer target: gateway token strings and the token store (gateway/tokens.c).
 *
 * The input is tried as a token, as one store line and as a whole store text. An accepted token
 * must re-encode to itself; an accepted line must format back to itself; a store text the
 * editor accepts must come out unchanged by an edit that changes nothing, and again after a
 * revocation that found nothing to remove. */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw-tokens.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *secret = NULL;
	char tid[GW_TID_LEN + 1];
	struct gw_token_entry e;

	if (size > 65536)
		return 0;

	int r = gw_token_parse(s, size, tid, &secret);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0) {
		uint8_t bin[32];
		size_t bl = 0;
		char again[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
		if (memcmp(tid, s + 5, GW_TID_LEN) != 0 || secret != s + 22 ||
		    sodium_base642bin(bin, sizeof(bin), secret, GW_TOKEN_SECRET_LEN, NULL, &bl, NULL,
				      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || bl != 32)
			abort();
		sodium_bin2base64(again, sizeof(again), bin, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (memcmp(again, secret, GW_TOKEN_SECRET_LEN) != 0)
			abort();
	}

	r = gw_token_line_parse(s, size, &e);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0) {
		char line[512];
		int n = gw_token_line_format(&e, line, sizeof(line));
		if (n < 0 || (size_t)n != size + 1 || memcmp(line, s, size) != 0 || line[size] != '\n')
			abort();
	}

	char *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;
	r = gw_tokens_edit(s, size, NULL, NULL, NULL, &out, &len);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0) {
		if (len != size || memcmp(out, s, size) != 0 || out[len] != '\0')
			abort();
		/* revoking every token of an identity the store does not name changes nothing (the
		 * input may name this one: the fuzzer finds it in the dictionary) */
		r = gw_tokens_edit(out, len, NULL, NULL, "no-such-id", &out2, &len2);
		if (r != 0 || (!memmem(out, len, " no-such-id ", 12) && (len2 != len || memcmp(out2, out, len) != 0)))
			abort();
	}
	free(out);
	free(out2);
	return 0;
}
