/* SPDX-License-Identifier: MIT */
/* cgroup-v2.c - cgroup v2 discovery helpers for the kernel guard.
 *
 * Parses /proc/self/mountinfo and /proc/PID/cgroup, which the kernel writes: they are trusted
 * in content but still parsed strictly and with bounded buffers. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "cgroup-v2.h"
#include "util.h"

#define PROC_FILE_MAX (16u * 1024 * 1024)

/* include/uapi/linux/pidfd.h (Linux 6.13), absent from older headers: the first, 64-byte
 * version of struct pidfd_info, which every kernel with the ioctl accepts. */
struct capbus_pidfd_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t spare0;
};
_Static_assert(sizeof(struct capbus_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0");
#define CAPBUS_PIDFD_INFO_CGROUPID (1ULL << 2)
#define CAPBUS_PIDFD_GET_INFO _IOWR(0xFF, 11, struct capbus_pidfd_info)

/* Read a whole /proc file into a NUL-terminated heap buffer. */
static int read_proc_file(const char *path, char **out)
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
	*out = TAKE_PTR(buf);
	return 0;
}

/* Copy a mountinfo field (space-terminated, octal escapes \ooo) into buf. */
static int unescape_field(const char *s, size_t len, char *buf, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < len &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= n)
			return -ENAMETOOLONG;
		buf[o++] = c;
	}
	if (n == 0)
		return -ENAMETOOLONG;
	buf[o] = 0;
	return 0;
}

int cgroup_v2_mount_from_mountinfo(const char *mountinfo, char *buf, size_t n)
{
	const char *line = mountinfo;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t linelen = end ? (size_t)(end - line) : strlen(line);
		const char *field[5] = {};
		size_t flen[5] = {};
		const char *p = line, *lim = line + linelen, *sep;
		int i;

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... " - " FSTYPE SOURCE OPTS */
		for (i = 0; i < 5 && p < lim; i++) {
			const char *sp = memchr(p, ' ', (size_t)(lim - p));

			field[i] = p;
			flen[i] = sp ? (size_t)(sp - p) : (size_t)(lim - p);
			p = sp ? sp + 1 : lim;
		}
		sep = NULL;
		for (const char *q = p; q + 3 <= lim; q++)
			if (q[0] == '-' && q[1] == ' ' && (q == p || q[-1] == ' ')) {
				sep = q + 2;
				break;
			}
		if (i == 5 && sep && (size_t)(lim - sep) >= 8 && memcmp(sep, "cgroup2 ", 8) == 0 &&
		    flen[3] == 1 && field[3][0] == '/') {
			char tmp[PATH_MAX];
			int r = unescape_field(field[4], flen[4], tmp, sizeof(tmp));

			if (r < 0)
				return r;
			if (strlen(tmp) + 1 > n)
				return -ENAMETOOLONG;
			memcpy(buf, tmp, strlen(tmp) + 1);
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int cgroup_v2_mount(char *buf, size_t n)
{
	_cleanup_free_ char *mi = NULL;
	int r;

	r = read_proc_file("/proc/self/mountinfo", &mi);
	if (r < 0)
		return r;
	return cgroup_v2_mount_from_mountinfo(mi, buf, n);
}

int cgroup_id_of_path(const char *path, uint64_t *id)
{
	union {
		struct file_handle fh;
		char storage[sizeof(struct file_handle) + 64];
	} h = {};
	int mount_id;
	uint64_t v;

	h.fh.handle_bytes = 64;
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return negative_errno();
	/* kernfs encodes a cgroup's handle as its 64-bit id. */
	if (h.fh.handle_bytes != sizeof(v))
		return -EPROTO;
	memcpy(&v, h.fh.f_handle, sizeof(v));
	*id = v;
	return 0;
}

int cgroup_id_of_pidfd(int pidfd, uint64_t *id)
{
	struct capbus_pidfd_info info = {.mask = CAPBUS_PIDFD_INFO_CGROUPID};

	if (pidfd < 0)
		return -EBADF;
	if (ioctl(pidfd, CAPBUS_PIDFD_GET_INFO, &info) < 0)
		return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : negative_errno();
	if (!(info.mask & CAPBUS_PIDFD_INFO_CGROUPID))
		return -EOPNOTSUPP; /* no cgroup v2 id to report (e.g. no v2 hierarchy) */
	*id = info.cgroupid;
	return 0;
}

int cgroup_v2_path_of_pid(pid_t pid, char *buf, size_t n)
{
	_cleanup_free_ char *text = NULL;
	char proc[64], mount[PATH_MAX];
	const char *line, *rel = NULL;
	size_t rellen = 0;
	int r;

	if (pid < 0)
		return -EINVAL;
	if (pid == 0)
		snprintf(proc, sizeof(proc), "/proc/self/cgroup");
	else
		snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)pid);
	r = read_proc_file(proc, &text);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	for (line = text; line && *line;) {
		const char *end = strchr(line, '\n');

		if (startswith(line, "0::")) {
			rel = line + 3;
			rellen = end ? (size_t)(end - rel) : strlen(rel);
			break;
		}
		line = end ? end + 1 : NULL;
	}
	if (!rel || rellen == 0 || rel[0] != '/')
		return -ENOENT;
	if (rellen >= 10 && memcmp(rel + rellen - 10, " (deleted)", 10) == 0)
		return -ENOENT;
	r = cgroup_v2_mount(mount, sizeof(mount));
	if (r < 0)
		return r;
	if (rellen == 1) /* the root */
		rellen = 0;
	if (strlen(mount) + rellen + 1 > n)
		return -ENAMETOOLONG;
	snprintf(buf, n, "%s%.*s", mount, (int)rellen, rel);
	return 0;
}
