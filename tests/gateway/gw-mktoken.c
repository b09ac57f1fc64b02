// SPDX-License-Identifier: MIT
/* gw-mktoken.c - test helper: mints a gateway token into a token store file.
 *
 * `gw-mktoken STORE IDENTITY` appends a new token's hash line to STORE (created if missing,
 * replaced atomically) and prints the token on stdout, as `capbus token` will. Test-only: it
 * writes the store directly instead of asking the daemon. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw-tokens.h"
#include "util.h"

int main(int argc, char **argv)
{
	struct gw_token_entry e = { 0 };
	char token[GW_TOKEN_LEN + 1], tmp[4096];
	_cleanup_free_ char *old = NULL, *out = NULL;
	size_t old_len = 0, out_len = 0;
	FILE *f;

	if (argc != 3 || sodium_init() < 0)
		return 2;
	if ((f = fopen(argv[1], "re"))) {
		old = malloc(GW_TOKENS_FILE_MAX + 1);
		if (!old)
			return 1;
		old_len = fread(old, 1, GW_TOKENS_FILE_MAX, f);
		fclose(f);
	}
	gw_token_generate(token, e.tid);
	snprintf(e.id, sizeof(e.id), "%s", argv[2]);
	e.created = (uint64_t)time(NULL);
	if (gw_token_hash(token, GW_TOKEN_LEN, e.hash) < 0 ||
	    gw_tokens_edit(old, old_len, &e, NULL, NULL, &out, &out_len) < 0) {
		fprintf(stderr, "gw-mktoken: cannot add a token for %s\n", argv[2]);
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	if (!(f = fopen(tmp, "we")) || fwrite(out, 1, out_len, f) != out_len || fclose(f) != 0 ||
	    rename(tmp, argv[1]) < 0) {
		fprintf(stderr, "gw-mktoken: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("%s %s\n", token, e.tid);
	return 0;
}
