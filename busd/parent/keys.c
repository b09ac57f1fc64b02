// SPDX-License-Identifier: MIT
/* keys.c - master key storage and client key derivation (privileged parent only). */
#include "parent/keys.h"

#include <sodium.h>
#include <sys/stat.h>

#include "keyfile.h"
#include "util.h"

#define KDF_LABEL "capbus-v1 client key"
#define AUTHORITY_KDF_LABEL "capbus-v1 admin authority"

int keys_load_master(int state_dir_fd, const char *state_dir, uint8_t **master)
{
	_cleanup_free_ char *path = NULL;
	uint8_t *key = sodium_malloc(CAPBUS_KEY_LEN);
	(void)state_dir_fd;

	if (!key)
		return -ENOMEM;
	if (asprintf(&path, "%s/master.key", state_dir) < 0) {
		sodium_free(key);
		return -ENOMEM;
	}
	int r = keyfile_read(path, NULL, key);
	if (r == -ENOENT) {
		randombytes_buf(key, CAPBUS_KEY_LEN);
		r = keyfile_write(path, NULL, key, true);
	}
	if (r != 0) {
		sodium_free(key);
		return r;
	}
	sodium_mprotect_readonly(key);
	*master = key;
	return 0;
}

void keys_free_master(uint8_t *master)
{
	if (master)
		sodium_free(master);
}

void keys_derive(const uint8_t *master, const char *id, uint8_t key[CAPBUS_KEY_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, master, CAPBUS_KEY_LEN, CAPBUS_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)KDF_LABEL, sizeof(KDF_LABEL));
	crypto_generichash_update(&st, (const uint8_t *)id, strlen(id));
	crypto_generichash_final(&st, key, CAPBUS_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}

void keys_derive_authority(const uint8_t *master, uint8_t key[CAPBUS_KEY_LEN])
{
	/* The label alone, NUL included: no identity's client key can collide with it, since
	 * those hash the client label first. */
	crypto_generichash(key, CAPBUS_KEY_LEN, (const uint8_t *)AUTHORITY_KDF_LABEL, sizeof(AUTHORITY_KDF_LABEL),
			   master, CAPBUS_KEY_LEN);
}

int keys_write_admin(const uint8_t *master, const char *state_dir)
{
	_cleanup_free_ char *path = NULL;
	uint8_t key[CAPBUS_KEY_LEN], authority[CAPBUS_KEY_LEN];
	char id[HS_ID_MAX + 1];
	struct stat st;
	int r;

	if (asprintf(&path, "%s/admin.key", state_dir) < 0)
		return -ENOMEM;
	keys_derive_authority(master, authority);
	if (lstat(path, &st) < 0) {
		keys_derive(master, "admin", key);
		r = keyfile_write_admin(path, key, authority, true);
		if (r == -EEXIST)
			r = 0;
		goto out;
	}
	/* An admin.key from before authority keys: add the line, keep its secret. One that has the
	 * line is left alone, whatever it holds. */
	r = keyfile_read_authority(path, key);
	if (r != KEYFILE_NO_AUTHORITY)
		goto out;
	r = keyfile_read(path, id, key);
	if (r == 0)
		r = streq(id, "admin") ? keyfile_write_admin(path, key, authority, false) : KEYFILE_MALFORMED;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(authority, sizeof(authority));
	return r;
}
