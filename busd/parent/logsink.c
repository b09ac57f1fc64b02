// SPDX-License-Identifier: MIT
/* logsink.c - non-blocking, whole-line writes to the daemon's standard error (privileged parent). */
#include "parent/logsink.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "util.h"

struct logsink {
	int fd;        /* the borrowed descriptor */
	int own;       /* LOGSINK_REOPENED: the sink's own, non-blocking description of it, else -1 */
	enum logsink_kind kind;
	size_t off, len; /* the rest of a cut line: rest[off..len) */
	char rest[LOGSINK_LINE_MAX];
};

/* A non-blocking description of the object fd refers to, or -errno. Checked to be the same
 * object: /proc/self/fd/N is a name, and a name is looked up again. */
static int reopen_nonblocking(int fd, const struct stat *st)
{
	char path[64];
	struct stat st2;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	_cleanup_close_ int own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (own < 0)
		return negative_errno();
	if (fstat(own, &st2) < 0)
		return negative_errno();
	if (st2.st_dev != st->st_dev || st2.st_ino != st->st_ino || st2.st_rdev != st->st_rdev)
		return -ESTALE;
	return TAKE_FD(own);
}

int logsink_new(int fd, struct logsink **out)
{
	struct logsink *sink = calloc(1, sizeof(*sink));
	struct stat st;

	if (!sink)
		return -ENOMEM;
	sink->fd = fd;
	sink->own = -1;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode)) {
		/* A closed descriptor: writes fail with EBADF, as the daemon's own lines do. */
		sink->kind = LOGSINK_FILE;
	} else if (S_ISSOCK(st.st_mode)) {
		sink->kind = LOGSINK_SOCKET; /* reopening a socket through /proc fails (ENXIO) */
	} else {
		int own = reopen_nonblocking(fd, &st);
		sink->kind = own >= 0 ? LOGSINK_REOPENED : LOGSINK_POLLED;
		sink->own = own >= 0 ? own : -1;
	}
	*out = sink;
	return 0;
}

void logsink_free(struct logsink *sink)
{
	if (!sink)
		return;
	if (sink->own >= 0)
		close(sink->own);
	free(sink);
}

/* One attempt: bytes taken (0 when none could be), or -errno. */
static ssize_t put(struct logsink *sink, const char *p, size_t n)
{
	ssize_t w;

	switch (sink->kind) {
	case LOGSINK_SOCKET:
		w = send(sink->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	case LOGSINK_REOPENED:
		w = write(sink->own, p, n);
		break;
	case LOGSINK_POLLED: {
		struct pollfd pfd = { .fd = sink->fd, .events = POLLOUT };
		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLOUT))
			return 0;
		w = write(sink->fd, p, n);
		break;
	}
	default:
		w = write(sink->fd, p, n);
		break;
	}
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : negative_errno();
	return w;
}

int logsink_flush(struct logsink *sink)
{
	while (sink->off < sink->len) {
		ssize_t w = put(sink, sink->rest + sink->off, sink->len - sink->off);
		if (w == 0)
			return -EAGAIN;
		if (w < 0)
			break; /* the log is gone or broken: the rest cannot be written anyway */
		sink->off += (size_t)w;
	}
	sink->off = sink->len = 0;
	return 0;
}

int logsink_write(struct logsink *sink, const char *line, size_t len)
{
	if (len > LOGSINK_LINE_MAX)
		return -E2BIG;
	if (logsink_flush(sink) < 0)
		return -EAGAIN;
	ssize_t w = put(sink, line, len);
	if (w == 0)
		return -EAGAIN;
	if (w < 0)
		return (int)w;
	/* A file's short write is a full disk or a size limit: retrying would not finish it. */
	if ((size_t)w < len && sink->kind != LOGSINK_FILE) {
		memcpy(sink->rest, line + w, len - (size_t)w);
		sink->off = 0;
		sink->len = len - (size_t)w;
	}
	return 0;
}

bool logsink_pending(const struct logsink *sink)
{
	return sink->off < sink->len;
}

enum logsink_kind logsink_kind(const struct logsink *sink)
{
	return sink->kind;
}
