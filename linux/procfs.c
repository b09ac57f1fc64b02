// SPDX-License-Identifier: MIT
/* procfs.c - read a whole /proc file into memory (see procfs.h). */
#include "procfs.h"

#include <fcntl.h>

#include "util.h"

int proc_read_file(const char *path, char **out, size_t *len_out)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t size = 4096, len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (len + 1 >= size) {
			char *nbuf;

			if (size >= PROC_FILE_MAX)
				return -EFBIG;
			nbuf = realloc(buf, size * 2);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
			size *= 2;
		}
		/* /proc files are generated per read: read until EOF, never trust st_size. */
		r = read(fd, buf + len, size - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = 0;
	if (len_out)
		*len_out = len;
	*out = TAKE_PTR(buf);
	return 0;
}
