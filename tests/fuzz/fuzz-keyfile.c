// SPDX-License-Identifier: MIT
/* fuzz-keyfile.c - libFuzzer target: the key file parser.
 *
 * A memfd reports mode 0777, which the permission check refuses before parsing (checked once
 * at start-up). The parser is therefore fed through a private temporary file with mode 0600,
 * read both by path and by fd, with and without an id. An accepted key file must write back
 * and read back to the same id and key. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/capbus-fuzz-keyfile-XXXXXX";
static char path[64], copy_path[64];
static int fd = -1;

static void cleanup(void)
{
	unlink(path);
	unlink(copy_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0 || !mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(copy_path, sizeof(copy_path), "%s/copy", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	atexit(cleanup);

	/* A memfd's mode is refused before a single byte is parsed. */
	int mfd = memfd_create("capbus-fuzz-key", MFD_CLOEXEC);
	const char good[] = "id alice\nsecret 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	char id[HS_ID_MAX + 1];
	uint8_t key[CAPBUS_KEY_LEN];
	if (mfd < 0 || write(mfd, good, sizeof(good) - 1) != (ssize_t)(sizeof(good) - 1) ||
	    keyfile_read_fd(mfd, id, key) != KEYFILE_BAD_MODE)
		abort();
	close(mfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[HS_ID_MAX + 1], id2[HS_ID_MAX + 1];
	uint8_t key[CAPBUS_KEY_LEN], key2[CAPBUS_KEY_LEN];

	if (size > 8192)
		return 0;
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();

	memset(id, 0, sizeof(id));
	int r = keyfile_read_fd(fd, id, key);
	if (r < 0 || r > KEYFILE_NOT_REGULAR)
		abort();
	if (keyfile_read(path, id2, key2) != r)
		abort();
	if (r == 0) {
		if (!hs_id_is_valid(id, strlen(id)) || strcmp(id, id2) != 0 || memcmp(key, key2, sizeof(key)) != 0)
			abort();
		if (keyfile_write(copy_path, id, key, false) != 0 || keyfile_read(copy_path, id2, key2) != 0 ||
		    strcmp(id, id2) != 0 || memcmp(key, key2, sizeof(key)) != 0)
			abort();
	} else if (r != KEYFILE_MALFORMED) {
		abort(); /* a private regular file of ours: only its contents can be wrong */
	}

	/* The authority reader finds a key only in a valid key file of id admin; text the key reader
	 * accepts is never malformed to it. */
	uint8_t auth[CAPBUS_KEY_LEN];
	int a = keyfile_read_authority(path, auth);
	if ((a != 0 && a != KEYFILE_NO_AUTHORITY && a != KEYFILE_MALFORMED) || (a == 0 && (r != 0 || strcmp(id, "admin") != 0)) ||
	    (r == 0 && a == KEYFILE_MALFORMED))
		abort();

	/* As a master key (no id expected). */
	int m = keyfile_read_fd(fd, NULL, key);
	if (m != 0 && m != KEYFILE_MALFORMED)
		abort();
	if (m == 0 && r == 0)
		abort(); /* one text cannot be both a client key and a master key */
	return 0;
}
