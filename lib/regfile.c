// SPDX-License-Identifier: MIT
/* regfile.c - open and read a regular file of bounded size without ever blocking on it. */
#include "regfile.h"

#include <fcntl.h>

#include "util.h"

static int check_stat(const struct stat *st, size_t max)
{
	if (!S_ISREG(st->st_mode))
		return -REGFILE_E_NOT_REGULAR;
	/* A sparse file may claim terabytes while using no space: the size alone decides. */
	if (st->st_size < 0 || (uint64_t)st->st_size > max)
		return -EFBIG;
	return 0;
}

int regfile_open(int dirfd, const char *name, int flags, size_t max, int *fd_out, struct stat *st_out)
{
	bool follow = flags & REGFILE_FOLLOW;
	struct stat st;
	int r;

	/* Look before opening: opening a device node can have effects of its own (a tape rewinds, a
	 * modem hangs up), so the common case never opens one. The fstat below is the real check,
	 * since the name may be swapped between the two. */
	if (fstatat(dirfd, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
		return negative_errno();
	if (!follow && S_ISLNK(st.st_mode))
		return -ELOOP;
	r = check_stat(&st, max);
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO swapped in after the look must not block the open (nor the read). */
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	r = check_stat(&st, max);
	if (r < 0)
		return r;
	if (st_out)
		*st_out = st;
	*fd_out = TAKE_FD(fd);
	return 0;
}

ssize_t regfile_read_fd(int fd, char *buf, size_t max)
{
	size_t used = 0;

	for (;;) {
		/* One byte more than allowed tells a file that grew past the bound from one that fits. */
		char extra;
		ssize_t n = used < max ? pread(fd, buf + used, max - used, (off_t)used) : pread(fd, &extra, 1, (off_t)used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		if (used == max)
			return -EFBIG;
		used += (size_t)n;
	}
	buf[used] = '\0';
	return (ssize_t)used;
}

ssize_t regfile_read(int dirfd, const char *name, int flags, size_t max, char *buf, struct stat *st_out)
{
	_cleanup_close_ int fd = -1;
	int r = regfile_open(dirfd, name, flags, max, &fd, st_out);

	if (r < 0)
		return r;
	return regfile_read_fd(fd, buf, max);
}

const char *regfile_strerror(int r)
{
	switch (-r) {
	case REGFILE_E_NOT_REGULAR:
		return "not a regular file (a FIFO, socket, device node or directory)";
	case ELOOP:
		return "a symbolic link (not followed here)";
	case EFBIG:
		return "larger than the maximum size for this kind of file";
	default:
		return strerror(-r);
	}
}
