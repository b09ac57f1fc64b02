// SPDX-License-Identifier: MIT
/* listener.c - bind the bus socket without trampling a live daemon or trusting a hostile dir. */
#include "util.h"

#include "parent/listener.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static int check_dir(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT)
			return negative_errno();
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return negative_errno();
		if (lstat(dir, &st) < 0)
			return negative_errno();
	}
	if (!S_ISDIR(st.st_mode))
		return LISTENER_UNSAFE_DIR; /* symlinks included: lstat */
	if (st.st_uid != geteuid() || (st.st_mode & 0022))
		return LISTENER_UNSAFE_DIR;
	return 0;
}

static int bind_listen(const struct sockaddr_un *sa, socklen_t len)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return negative_errno();
	if (bind(fd, (const struct sockaddr *)sa, len) < 0)
		return errno == EADDRINUSE ? -EADDRINUSE : negative_errno();
	if (listen(fd, 512) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

static int open_abstract(const char *name, struct listener *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);

	if (len < 2 || len > sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path + 1, name + 1, len - 1);
	int fd = bind_listen(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	if (fd == -EADDRINUSE)
		return LISTENER_NAME_TAKEN;
	if (fd < 0)
		return fd;
	out->fd = fd;
	out->lock_fd = -1;
	out->path = NULL;
	return 0;
}

int listener_open(const char *socket_path, unsigned mode, struct listener *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *copy = strdup(socket_path), *lock_path = NULL, *path = NULL;
	_cleanup_close_ int lock_fd = -1;
	struct stat st;

	if (!copy)
		return -ENOMEM;
	if (socket_path[0] == '@')
		return open_abstract(socket_path, out);
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	int r = check_dir(dirname(copy));
	if (r != 0)
		return r;
	if (asprintf(&lock_path, "%s.lock", socket_path) < 0 || !(path = strdup(socket_path)))
		return -ENOMEM;
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (lock_fd < 0)
		return negative_errno();
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? LISTENER_IN_USE : negative_errno();

	/* We hold the lock, so whatever socket is there is stale; anything else is not ours to remove. */
	if (lstat(socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return LISTENER_NOT_SOCKET;
		if (unlink(socket_path) < 0)
			return negative_errno();
	}
	memcpy(sa.sun_path, socket_path, strlen(socket_path));
	mode_t old = umask(0177);
	int fd = bind_listen(&sa, sizeof(sa));
	umask(old);
	if (fd < 0)
		return fd == -EADDRINUSE ? LISTENER_IN_USE : fd;
	if (chmod(socket_path, mode) < 0) {
		r = negative_errno();
		close(fd);
		unlink(socket_path);
		return r;
	}
	out->fd = fd;
	out->lock_fd = TAKE_FD(lock_fd);
	out->path = TAKE_PTR(path);
	return 0;
}

void listener_close(struct listener *l, bool unlink_socket)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->path && unlink_socket)
		unlink(l->path);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	free(l->path);
	l->fd = l->lock_fd = -1;
	l->path = NULL;
}
