// SPDX-License-Identifier: MIT
/* test-keys.c - unit tests for busd/parent/keys.c: the authority key and the admin key file.
 *
 * The authority vector was computed with Python's hashlib:
 *   hashlib.blake2b(b"capbus-v1 admin authority\0", key=bytes(range(100, 132)), digest_size=32) */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "keyfile.h"
#include "parent/keys.h"

static char dir[] = "/tmp/capbus-test-keys-XXXXXX";

static void test_authority_vector(const uint8_t *master)
{
	uint8_t a[CAPBUS_KEY_LEN], k[CAPBUS_KEY_LEN];
	char hex[2 * CAPBUS_KEY_LEN + 1];

	keys_derive_authority(master, a);
	sodium_bin2hex(hex, sizeof(hex), a, sizeof(a));
	CHECK_STREQ(hex, "5ead815b3df1a28d52a6fe90e894519c2eadb35d225f2ceb2accbbb1d65070cf");
	keys_derive(master, "admin", k);
	CHECK(memcmp(a, k, sizeof(a)) != 0);
}

static void test_admin_file(const uint8_t *master)
{
	char path[64], id[HS_ID_MAX + 1];
	uint8_t key[CAPBUS_KEY_LEN], want[CAPBUS_KEY_LEN], a[CAPBUS_KEY_LEN], old[CAPBUS_KEY_LEN];
	struct stat st1, st2;

	snprintf(path, sizeof(path), "%s/admin.key", dir);
	keys_derive_authority(master, want);

	/* First start: id admin, its client key, the authority. */
	CHECK(keys_write_admin(master, dir) == 0);
	CHECK(keyfile_read(path, id, key) == 0 && strcmp(id, "admin") == 0);
	keys_derive(master, "admin", old);
	CHECK(memcmp(key, old, sizeof(key)) == 0);
	CHECK(keyfile_read_authority(path, a) == 0 && memcmp(a, want, sizeof(a)) == 0);

	/* A file with the line is never touched, whatever it holds. */
	CHECK(stat(path, &st1) == 0);
	CHECK(keys_write_admin(master, dir) == 0);
	CHECK(stat(path, &st2) == 0 && st1.st_ino == st2.st_ino && st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec);

	/* An admin.key from before: the line is added, its own secret kept (not re-derived). */
	memset(old, 0x5a, sizeof(old));
	CHECK(keyfile_write(path, "admin", old, false) == 0);
	CHECK(keyfile_read_authority(path, a) == KEYFILE_NO_AUTHORITY);
	CHECK(keys_write_admin(master, dir) == 0);
	CHECK(keyfile_read(path, id, key) == 0 && memcmp(key, old, sizeof(key)) == 0);
	CHECK(keyfile_read_authority(path, a) == 0 && memcmp(a, want, sizeof(a)) == 0);
	CHECK(stat(path, &st1) == 0 && (st1.st_mode & 0777) == 0600);

	/* Not an admin key file: reported, not rewritten. */
	CHECK(keyfile_write(path, "alice", old, false) == 0);
	CHECK(keys_write_admin(master, dir) == KEYFILE_MALFORMED);
	CHECK(keyfile_read_authority(path, a) == KEYFILE_NO_AUTHORITY);
	unlink(path);
}

int main(void)
{
	uint8_t master[CAPBUS_KEY_LEN];

	if (sodium_init() < 0 || !mkdtemp(dir))
		return 99;
	for (int i = 0; i < CAPBUS_KEY_LEN; i++)
		master[i] = (uint8_t)(100 + i);
	test_authority_vector(master);
	test_admin_file(master);
	rmdir(dir);
	return check_finish("test-keys");
}
