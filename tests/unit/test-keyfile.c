// SPDX-License-Identifier: MIT
/* test-keyfile.c - unit tests for lib/keyfile.c: strict key file parser and careful writer.
 *
 * Works in a fresh temporary directory. Covers the round trip, the permission and file-type
 * checks, malformed contents and exclusive creation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "keyfile.h"

/* The malformed cases below are printf templates for the secret. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static char dir[] = "/tmp/capbus-test-keyfile-XXXXXX";
static const char hex64[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static char *path_in(const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void write_text(const char *name, const char *text, size_t len, mode_t mode)
{
	char *p = path_in(name);
	unlink(p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, text, len) == (ssize_t)len);
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
	free(p);
}

static int read_named(const char *name, char id[HS_ID_MAX + 1], uint8_t key[CAPBUS_KEY_LEN])
{
	char *p = path_in(name);
	int r = keyfile_read(p, id, key);
	free(p);
	return r;
}

static size_t count_entries(void)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static void test_round_trip(void)
{
	uint8_t key[CAPBUS_KEY_LEN], back[CAPBUS_KEY_LEN];
	char id[HS_ID_MAX + 1];
	char *p = path_in("alice.key");
	struct stat st;

	for (int i = 0; i < CAPBUS_KEY_LEN; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	CHECK(keyfile_write(p, "alice", key, false) == 0);
	CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	CHECK(keyfile_read(p, id, back) == 0);
	CHECK_STREQ(id, "alice");
	CHECK(memcmp(key, back, sizeof(key)) == 0);

	/* Same from an open fd. */
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	memset(back, 0, sizeof(back));
	CHECK(keyfile_read_fd(fd, id, back) == 0);
	CHECK(memcmp(key, back, sizeof(key)) == 0);
	close(fd);

	/* The text is as documented. */
	char text[512] = { 0 };
	fd = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(read(fd, text, sizeof(text) - 1) > 0);
	close(fd);
	CHECK(strncmp(text, "# capbus key", 12) == 0);
	CHECK(strstr(text, "\nid alice\nsecret 01080f161d") != NULL);

	/* Master key: no id line; reading it with an id buffer fails, without one succeeds. */
	char *m = path_in("master.key");
	CHECK(keyfile_write(m, NULL, key, false) == 0);
	CHECK(keyfile_read(m, NULL, back) == 0);
	CHECK(memcmp(key, back, sizeof(key)) == 0);
	CHECK(keyfile_read(m, id, back) == KEYFILE_MALFORMED);
	/* A client key with an id is not a master key. */
	CHECK(keyfile_read(p, NULL, back) == KEYFILE_MALFORMED);

	/* Non-exclusive write replaces. */
	key[0] ^= 0xff;
	CHECK(keyfile_write(p, "alice2", key, false) == 0);
	CHECK(keyfile_read(p, id, back) == 0);
	CHECK_STREQ(id, "alice2");
	CHECK(memcmp(key, back, sizeof(key)) == 0);

	CHECK(keyfile_write(p, "Not valid", key, false) == -EINVAL);
	CHECK(keyfile_write(p, "", key, false) == -EINVAL);
	CHECK(count_entries() == 2); /* no temporary files left behind */
	unlink(p);
	unlink(m);
	free(p);
	free(m);
}

static void test_exclusive(void)
{
	uint8_t key[CAPBUS_KEY_LEN] = { 1 }, other[CAPBUS_KEY_LEN] = { 2 }, back[CAPBUS_KEY_LEN];
	char id[HS_ID_MAX + 1];
	char *p = path_in("x.key");

	CHECK(keyfile_write(p, "x", key, true) == 0);
	CHECK(keyfile_write(p, "y", other, true) == -EEXIST);
	CHECK(keyfile_read(p, id, back) == 0);
	CHECK_STREQ(id, "x");
	CHECK(memcmp(back, key, sizeof(key)) == 0);
	CHECK(count_entries() == 1);
	/* Exclusive never follows or replaces a symlink either. */
	char *l = path_in("link.key");
	CHECK(symlink("/nonexistent-capbus-target", l) == 0);
	CHECK(keyfile_write(l, "x", key, true) == -EEXIST);
	struct stat st;
	CHECK(stat("/nonexistent-capbus-target", &st) < 0);
	CHECK(count_entries() == 2);
	unlink(l);
	unlink(p);
	free(l);
	free(p);

	/* Into a directory that does not exist. */
	CHECK(keyfile_write("/nonexistent-capbus-dir/k", "x", key, true) == -ENOENT);
}

static void test_checks(void)
{
	uint8_t key[CAPBUS_KEY_LEN];
	char id[HS_ID_MAX + 1];
	char text[256];

	int n = snprintf(text, sizeof(text), "id alice\nsecret %s\n", hex64);
	const mode_t bad_modes[] = { 0644, 0640, 0604, 0660, 0606, 0601, 0610, 0700 | 040, 0777 };
	for (size_t i = 0; i < ARRAY_LEN(bad_modes); i++) {
		write_text("k", text, (size_t)n, bad_modes[i]);
		CHECK(read_named("k", id, key) == KEYFILE_BAD_MODE);
	}
	const mode_t good_modes[] = { 0600, 0400, 0700 };
	for (size_t i = 0; i < ARRAY_LEN(good_modes); i++) {
		write_text("k", text, (size_t)n, good_modes[i]);
		CHECK(read_named("k", id, key) == 0);
	}
	CHECK(key[0] == 0 && key[31] == 0x1f);

	/* A symlink to a perfectly good key file is refused. */
	char *target = path_in("k"), *link_path = path_in("link");
	CHECK(symlink(target, link_path) == 0);
	CHECK(keyfile_read(link_path, id, key) == KEYFILE_NOT_REGULAR);
	unlink(link_path);
	/* A directory, a device. */
	CHECK(keyfile_read(dir, id, key) == KEYFILE_NOT_REGULAR);
	CHECK(keyfile_read("/dev/null", id, key) == KEYFILE_NOT_REGULAR);
	CHECK(keyfile_read("/nonexistent-capbus-key", id, key) == -ENOENT);
	/* From an fd the owner is not checked, the mode is. */
	write_text("k", text, (size_t)n, 0644);
	int fd = open(target, O_RDONLY | O_CLOEXEC);
	CHECK(keyfile_read_fd(fd, id, key) == KEYFILE_BAD_MODE);
	close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(keyfile_read_fd(fd, id, key) == KEYFILE_NOT_REGULAR);
	close(fd);
	CHECK(keyfile_read_fd(-1, id, key) == -EBADF);
	unlink(target);
	free(target);
	free(link_path);

	/* Owner check (only meaningful when we can create a file owned by someone else). */
	if (geteuid() == 0) {
		write_text("k", text, (size_t)n, 0600);
		char *p = path_in("k");
		CHECK(chown(p, 65534, 65534) == 0);
		CHECK(keyfile_read(p, id, key) == KEYFILE_BAD_OWNER);
		unlink(p);
		free(p);
	}

	for (int code = 0; code <= 5; code++)
		CHECK(keyfile_strerror(code) != NULL);
}

static void test_malformed(void)
{
	uint8_t key[CAPBUS_KEY_LEN];
	char id[HS_ID_MAX + 1];
	char text[8192];
	const char *bad[] = {
		"",
		"# only a comment\n",
		"id alice\n",                                   /* no secret */
		"secret %s\n",                                  /* no id, but one is expected */
		"id alice\nsecret 0001\n",                     /* short */
		"id alice\nsecret %s00\n",                     /* long */
		"id alice\nsecret %.63s\n",                    /* odd length */
		"id alice\nsecret %.62szz\n",                  /* not hex */
		"id alice\nsecret %.62s:0\n",
		"id alice\nsecret  %s\n",                      /* two spaces */
		"id alice\nsecret %s \n",                      /* trailing space */
		"id alice\nsecret\t%s\n",
		"id alice\r\nsecret %s\r\n",                   /* CRLF */
		"id Al ce\nsecret %s\n",
		"id \nsecret %s\n",
		"id .alice\nsecret %s\n",
		"id aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nsecret %s\n", /* 65 */
		"id alice\nid alice\nsecret %s\n",             /* repeated */
		"id alice\nsecret %s\nsecret %s\n",
		"id alice\nsecret %s\nextra\n",
		" id alice\nsecret %s\n",
		"ID alice\nsecret %s\n",
		"id alice\nsecret %s\n ",
		"id alice\n#\nsecret %s\n\x01",
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int n = snprintf(text, sizeof(text), bad[i], hex64, hex64);
		write_text("k", text, (size_t)n, 0600);
		int r = read_named("k", id, key);
		CHECK(r == KEYFILE_MALFORMED);
		if (r != KEYFILE_MALFORMED)
			fprintf(stderr, "  case %zu accepted (%d)\n", i, r);
	}
	/* A NUL byte anywhere. */
	int n = snprintf(text, sizeof(text), "id alice\nsecret %s\n", hex64);
	text[3] = '\0';
	write_text("k", text, (size_t)n, 0600);
	CHECK(read_named("k", id, key) == KEYFILE_MALFORMED);
	n = snprintf(text, sizeof(text), "id alice\nsecret %s\n", hex64);
	write_text("k", text, (size_t)n + 1, 0600);
	CHECK(read_named("k", id, key) == KEYFILE_MALFORMED);

	/* Accepted variations: comments, blank lines, no final newline, either order, capitals. */
	const char *good[] = {
		"# c\n\nid alice\n\n# c\nsecret %s\n",
		"id alice\nsecret %s",
		"secret %s\nid alice\n",
		"id a\nsecret %s\n",
		"id aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nsecret %s\n", /* 64 */
	};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		n = snprintf(text, sizeof(text), good[i], hex64);
		write_text("k", text, (size_t)n, 0600);
		CHECK(read_named("k", id, key) == 0);
		CHECK(key[1] == 1 && key[31] == 0x1f);
	}

	/* Size: up to 4095 bytes are read, 4096 and more are refused. */
	n = snprintf(text, sizeof(text), "id alice\nsecret %s\n", hex64);
	memset(text + n, '#', 4095 - (size_t)n - 1);
	text[4094] = '\n';
	write_text("k", text, 4095, 0600);
	CHECK(read_named("k", id, key) == 0);
	memset(text + n, '#', 4096 - (size_t)n - 1);
	text[4095] = '\n';
	write_text("k", text, 4096, 0600);
	CHECK(read_named("k", id, key) == KEYFILE_MALFORMED);
	write_text("k", text, 8000, 0600);
	CHECK(read_named("k", id, key) == KEYFILE_MALFORMED);

	char *p = path_in("k");
	unlink(p);
	free(p);
}

/* The admin key file's optional authority line: written by keyfile_write_admin, read by
 * keyfile_read_authority, accepted by keyfile_read, and strict like the other lines. */
static void test_authority(void)
{
	static const char hex_b[] = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
	uint8_t key[CAPBUS_KEY_LEN], auth[CAPBUS_KEY_LEN], want[CAPBUS_KEY_LEN], got[CAPBUS_KEY_LEN];
	char id[HS_ID_MAX + 1], text[512];
	char *p = path_in("a");

	for (int i = 0; i < CAPBUS_KEY_LEN; i++) {
		key[i] = (uint8_t)i;
		auth[i] = (uint8_t)(0x20 + i);
	}
	unlink(p);
	CHECK(keyfile_write_admin(p, key, auth, true) == 0);
	CHECK(keyfile_read(p, id, got) == 0 && strcmp(id, "admin") == 0 && memcmp(got, key, sizeof(key)) == 0);
	memset(want, 0xaa, sizeof(want));
	CHECK(keyfile_read_authority(p, want) == 0 && memcmp(want, auth, sizeof(auth)) == 0);
	CHECK(keyfile_write_admin(p, key, auth, true) == -EEXIST);

	/* A key file without the line: valid, but no authority; the output is untouched. */
	CHECK(keyfile_write(p, "alice", key, false) == 0);
	memset(want, 0xaa, sizeof(want));
	CHECK(keyfile_read_authority(p, want) == KEYFILE_NO_AUTHORITY && want[0] == 0xaa && want[31] == 0xaa);
	free(p);

	/* Either order of lines is fine; the line belongs to id admin only; never twice; 64 hex digits. */
	snprintf(text, sizeof(text), "authority %s\nid admin\nsecret %s\n", hex_b, hex64);
	write_text("a", text, strlen(text), 0600);
	CHECK(read_named("a", id, got) == 0);
	const char *bad[] = {
		"id alice\nsecret %s\nauthority %s\n",
		"secret %s\nauthority %s\n",
		"id admin\nsecret %s\nauthority %s\nauthority %s\n",
		"id admin\nsecret %s\nauthority %.63s\n",
		"id admin\nsecret %s\nauthority %sff\n",
		"id admin\nsecret %s\nauthority  %s\n",
		"id admin\nsecret %s\nauthority %.62sxz\n",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(text, sizeof(text), bad[i], hex64, hex_b, hex_b);
		write_text("a", text, strlen(text), 0600);
		CHECK(read_named("a", id, got) == KEYFILE_MALFORMED);
		char *q = path_in("a");
		CHECK(keyfile_read_authority(q, want) == KEYFILE_MALFORMED);
		free(q);
	}
	/* The same mode check as every key file. */
	snprintf(text, sizeof(text), "id admin\nsecret %s\nauthority %s\n", hex64, hex_b);
	write_text("a", text, strlen(text), 0640);
	p = path_in("a");
	CHECK(keyfile_read_authority(p, want) == KEYFILE_BAD_MODE);
	unlink(p);
	free(p);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	test_round_trip();
	test_exclusive();
	test_checks();
	test_malformed();
	test_authority();
	rmdir(dir);
	return check_finish("test-keyfile");
}
