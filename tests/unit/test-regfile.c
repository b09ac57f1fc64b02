// SPDX-License-Identifier: MIT
/* test-regfile.c - lib/regfile.c: special files are refused without blocking, bounds hold. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "regfile.h"

static char dir[] = "/tmp/capbus-test-regfile.XXXXXX";
static int dfd = -1;

static void put(const char *name, const char *text, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, text, len) == (ssize_t)len);
	close(fd);
}

static ssize_t rd(const char *name, int flags, size_t max, char *buf)
{
	return regfile_read(dfd, name, flags, max, buf, NULL);
}

int main(void)
{
	char buf[65];

	/* A hang would be the failure: the alarm turns it into one. */
	alarm(20);
	REQUIRE(mkdtemp(dir) != NULL);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);

	put("ok", "hello", 5);
	CHECK(rd("ok", 0, 64, buf) == 5 && strcmp(buf, "hello") == 0);
	put("full", "0123456789", 10);
	CHECK(rd("full", 0, 10, buf) == 10);
	CHECK(rd("full", 0, 9, buf) == -EFBIG);
	CHECK(rd("missing", 0, 64, buf) == -ENOENT);

	REQUIRE(mkfifoat(dfd, "fifo", 0644) == 0);
	CHECK(rd("fifo", 0, 64, buf) == -REGFILE_E_NOT_REGULAR);
	CHECK(rd("fifo", REGFILE_FOLLOW, 64, buf) == -REGFILE_E_NOT_REGULAR);
	REQUIRE(mkdirat(dfd, "dir", 0755) == 0);
	CHECK(rd("dir", 0, 64, buf) == -REGFILE_E_NOT_REGULAR);

	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
	REQUIRE(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(rd("sock", 0, 64, buf) == -REGFILE_E_NOT_REGULAR);
	close(s);

	if (mknodat(dfd, "dev", S_IFCHR | 0644, makedev(1, 5)) == 0)
		CHECK(rd("dev", 0, 64, buf) == -REGFILE_E_NOT_REGULAR);

	REQUIRE(symlinkat("/dev/zero", dfd, "zero") == 0);
	CHECK(rd("zero", 0, 64, buf) == -ELOOP);
	CHECK(rd("zero", REGFILE_FOLLOW, 64, buf) == -REGFILE_E_NOT_REGULAR);
	REQUIRE(symlinkat("ok", dfd, "link") == 0);
	CHECK(rd("link", 0, 64, buf) == -ELOOP);
	CHECK(rd("link", REGFILE_FOLLOW, 64, buf) == 5);

	/* A sparse file: its size decides, not the blocks it uses. */
	int fd = openat(dfd, "sparse", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && ftruncate(fd, (off_t)1 << 40) == 0);
	close(fd);
	CHECK(rd("sparse", 0, 64, buf) == -EFBIG);

	/* An inherited fd reads from the start, and the position does not move. */
	fd = openat(dfd, "ok", O_RDONLY | O_CLOEXEC);
	REQUIRE(fd >= 0 && lseek(fd, 3, SEEK_SET) == 3);
	CHECK(regfile_read_fd(fd, buf, 64) == 5 && lseek(fd, 0, SEEK_CUR) == 3);
	close(fd);

	CHECK(strstr(regfile_strerror(-REGFILE_E_NOT_REGULAR), "not a regular file") != NULL);
	CHECK(strstr(regfile_strerror(-EFBIG), "larger") != NULL);

	const char *names[] = { "ok", "full", "fifo", "sock", "dev", "zero", "link", "sparse" };
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		unlinkat(dfd, names[i], 0);
	unlinkat(dfd, "dir", AT_REMOVEDIR);
	close(dfd);
	rmdir(dir);
	return check_finish("test-regfile");
}
