/* SPDX-License-Identifier: MIT */
/* keyfile.h - reading and writing capbus key files.
 *
 * A key file is text:   # comment lines
 *                       id <identity>        (absent in the daemon's master key)
 *                       secret <64 hex digits>
 *                       authority <64 hex digits>   (only in the admin key file, id admin)
 * It must be a regular file owned by the reading user with no group or other permission bits;
 * anything else is refused, because a key others can read is no longer a key. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "handshake.h"

/* Positive outcomes the caller reports to the user. */
enum {
	KEYFILE_BAD_MODE = 1,   /* group/other bits set */
	KEYFILE_BAD_OWNER = 2,  /* not owned by the effective uid */
	KEYFILE_MALFORMED = 3,  /* not a key file */
	KEYFILE_NOT_REGULAR = 4,
	KEYFILE_NO_AUTHORITY = 5, /* a valid key file without an authority line */
};

/* Reads path into id (HS_ID_MAX+1 bytes; may be NULL for the master key) and key.
 * Returns 0, a negative errno, or one of the KEYFILE_* codes. */
int keyfile_read(const char *path, char *id, uint8_t key[CAPBUS_KEY_LEN]);

/* Same, from an already open fd (a key handed to a sandboxed skill). The owner check is skipped:
 * whoever could pass us the fd already had it. */
int keyfile_read_fd(int fd, char *id, uint8_t key[CAPBUS_KEY_LEN]);

/* Reads the admin authority key of an admin key file (same checks as keyfile_read). Returns 0,
 * a negative errno, KEYFILE_NO_AUTHORITY when the file is a valid key file without that line,
 * or another KEYFILE_* code. authority is untouched unless 0 is returned. */
int keyfile_read_authority(const char *path, uint8_t authority[CAPBUS_KEY_LEN]);

/* Writes a key file atomically with mode 0600 (temporary file + rename). id may be NULL.
 * When exclusive is set, an existing file is never replaced (-EEXIST). */
int keyfile_write(const char *path, const char *id, const uint8_t key[CAPBUS_KEY_LEN], bool exclusive);

/* Same for the admin key file: id admin, the secret, then the authority line. */
int keyfile_write_admin(const char *path, const uint8_t key[CAPBUS_KEY_LEN],
			const uint8_t authority[CAPBUS_KEY_LEN], bool exclusive);

/* Human words for a KEYFILE_* code. */
const char *keyfile_strerror(int code);
