// SPDX-License-Identifier: MIT
/* keyfile.c - strict parser and careful writer for key files. */
#include "keyfile.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include "regfile.h"
#include "util.h"

#define KEYFILE_MAX 4096
/* The largest key file accepted: a full buffer of KEYFILE_MAX bytes is refused, as it always was. */
#define KEYFILE_MAX_SIZE (KEYFILE_MAX - 1)

const char *keyfile_strerror(int code)
{
	switch (code) {
	case KEYFILE_BAD_MODE:
		return "key file is readable by group or others (chmod 600 it)";
	case KEYFILE_BAD_OWNER:
		return "key file belongs to another user";
	case KEYFILE_MALFORMED:
		return "not a capbus key file";
	case KEYFILE_NOT_REGULAR:
		return "key file is not a regular file";
	case KEYFILE_NO_AUTHORITY:
		return "key file holds no admin authority (use the admin key file, state_dir/admin.key)";
	default:
		return "unknown key file error";
	}
}

static void wipe_buf(char (*p)[KEYFILE_MAX + 1])
{
	sodium_memzero(*p, sizeof(*p));
}

static bool parse_hex_key(const char *hex, uint8_t out[CAPBUS_KEY_LEN])
{
	size_t bin_len = 0;
	return strlen(hex) == 2 * CAPBUS_KEY_LEN &&
	       sodium_hex2bin(out, CAPBUS_KEY_LEN, hex, strlen(hex), NULL, &bin_len, NULL) == 0 &&
	       bin_len == CAPBUS_KEY_LEN;
}

/* What a parse found; the caller copies out only what it asked for. */
struct keyfile_parsed {
	char id[HS_ID_MAX + 1];
	uint8_t key[CAPBUS_KEY_LEN];
	uint8_t authority[CAPBUS_KEY_LEN];
	bool have_id, have_secret, have_authority;
};

static void wipe_parsed(struct keyfile_parsed *p)
{
	sodium_memzero(p, sizeof(*p));
}

/* Parses the whole text; every line must be a comment, blank, `id X`, `secret HEX` or
 * `authority HEX`, each at most once; authority only beside `id admin`. */
static int keyfile_parse(char *text, struct keyfile_parsed *p)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (startswith(line, "id ") && !p->have_id) {
			const char *v = line + 3;
			if (!hs_id_is_valid(v, strlen(v)))
				return KEYFILE_MALFORMED;
			memcpy(p->id, v, strlen(v) + 1);
			p->have_id = true;
		} else if (startswith(line, "secret ") && !p->have_secret) {
			if (!parse_hex_key(line + 7, p->key))
				return KEYFILE_MALFORMED;
			p->have_secret = true;
		} else if (startswith(line, "authority ") && !p->have_authority) {
			if (!parse_hex_key(line + 10, p->authority))
				return KEYFILE_MALFORMED;
			p->have_authority = true;
		} else {
			return KEYFILE_MALFORMED;
		}
	}
	/* The authority key belongs to the admin identity only: anywhere else it is a mistake. */
	if (!p->have_secret || (p->have_authority && (!p->have_id || !streq(p->id, "admin"))))
		return KEYFILE_MALFORMED;
	return 0;
}

/* Checks the owner and mode of the open key file, then reads and parses it. */
static int keyfile_read_checked(int fd, const struct stat *st, bool check_owner, struct keyfile_parsed *p)
{
	_cleanup_(wipe_buf) char text[KEYFILE_MAX + 1];

	if (check_owner && st->st_uid != geteuid())
		return KEYFILE_BAD_OWNER;
	if (st->st_mode & 077)
		return KEYFILE_BAD_MODE;
	ssize_t n = regfile_read_fd(fd, text, KEYFILE_MAX_SIZE);
	if (n == -EFBIG)
		return KEYFILE_MALFORMED;
	if (n < 0)
		return (int)n;
	if (memchr(text, '\0', (size_t)n))
		return KEYFILE_MALFORMED;
	return keyfile_parse(text, p);
}

/* Opens a key file by path: never follows a symlink, never blocks on a FIFO or device (refused as
 * KEYFILE_NOT_REGULAR), refuses one larger than KEYFILE_MAX_SIZE (KEYFILE_MALFORMED). */
static int keyfile_open(const char *path, int *fd, struct stat *st)
{
	int r = regfile_open(AT_FDCWD, path, 0, KEYFILE_MAX_SIZE, fd, st);

	if (r == -ELOOP || r == -REGFILE_E_NOT_REGULAR)
		return KEYFILE_NOT_REGULAR;
	if (r == -EFBIG)
		return KEYFILE_MALFORMED;
	return r;
}

/* Copies out the identity (required when id is given, refused in a master key file read with
 * id == NULL) and the key. */
static int keyfile_take(int r, const struct keyfile_parsed *p, char *id, uint8_t key[CAPBUS_KEY_LEN])
{
	if (r != 0)
		return r;
	if (!id != !p->have_id)
		return KEYFILE_MALFORMED;
	if (id)
		memcpy(id, p->id, strlen(p->id) + 1);
	memcpy(key, p->key, CAPBUS_KEY_LEN);
	return 0;
}

int keyfile_read(const char *path, char *id, uint8_t key[CAPBUS_KEY_LEN])
{
	_cleanup_close_ int fd = -1;
	_cleanup_(wipe_parsed) struct keyfile_parsed p = { 0 };
	struct stat st;
	int r = keyfile_open(path, &fd, &st);

	if (r != 0)
		return r;
	return keyfile_take(keyfile_read_checked(fd, &st, true, &p), &p, id, key);
}

int keyfile_read_fd(int fd, char *id, uint8_t key[CAPBUS_KEY_LEN])
{
	_cleanup_(wipe_parsed) struct keyfile_parsed p = { 0 };
	struct stat st;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return KEYFILE_NOT_REGULAR;
	if (st.st_size > KEYFILE_MAX_SIZE)
		return KEYFILE_MALFORMED;
	return keyfile_take(keyfile_read_checked(fd, &st, false, &p), &p, id, key);
}

int keyfile_read_authority(const char *path, uint8_t authority[CAPBUS_KEY_LEN])
{
	_cleanup_close_ int fd = -1;
	_cleanup_(wipe_parsed) struct keyfile_parsed p = { 0 };
	struct stat st;
	int r = keyfile_open(path, &fd, &st);

	if (r != 0)
		return r;
	r = keyfile_read_checked(fd, &st, true, &p);
	if (r != 0)
		return r;
	if (!p.have_authority)
		return KEYFILE_NO_AUTHORITY;
	memcpy(authority, p.authority, CAPBUS_KEY_LEN);
	return 0;
}

static int keyfile_write_text(const char *path, const char *id, const uint8_t key[CAPBUS_KEY_LEN],
			      const uint8_t *authority, bool exclusive)
{
	_cleanup_(wipe_buf) char text[KEYFILE_MAX + 1];
	char hex[2 * CAPBUS_KEY_LEN + 1], auth_hex[2 * CAPBUS_KEY_LEN + 1] = "";
	_cleanup_free_ char *tmp = NULL;

	if (id && !hs_id_is_valid(id, strlen(id)))
		return -EINVAL;
	sodium_bin2hex(hex, sizeof(hex), key, CAPBUS_KEY_LEN);
	if (authority)
		sodium_bin2hex(auth_hex, sizeof(auth_hex), authority, CAPBUS_KEY_LEN);
	int len = snprintf(text, sizeof(text), "# capbus key: keep private (mode 0600)\n%s%s%ssecret %s\n%s%s%s",
			   id ? "id " : "", id ? id : "", id ? "\n" : "", hex, authority ? "authority " : "",
			   auth_hex, authority ? "\n" : "");
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(auth_hex, sizeof(auth_hex));
	if (len < 0 || (size_t)len >= sizeof(text))
		return -EINVAL;
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
		return -ENOMEM;

	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	int r = 0;
	if (fchmod(fd, 0600) < 0 || write(fd, text, (size_t)len) != len || fsync(fd) < 0)
		r = negative_errno();
	else if (exclusive)
		r = link(tmp, path) < 0 ? negative_errno() : 0;
	else
		r = rename(tmp, path) < 0 ? negative_errno() : 0;
	if (r < 0 || exclusive)
		unlink(tmp);
	return r;
}

int keyfile_write(const char *path, const char *id, const uint8_t key[CAPBUS_KEY_LEN], bool exclusive)
{
	return keyfile_write_text(path, id, key, NULL, exclusive);
}

int keyfile_write_admin(const char *path, const uint8_t key[CAPBUS_KEY_LEN],
			const uint8_t authority[CAPBUS_KEY_LEN], bool exclusive)
{
	return keyfile_write_text(path, "admin", key, authority, exclusive);
}
