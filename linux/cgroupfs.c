// SPDX-License-Identifier: MIT
/* cgroupfs.c - cgroup hierarchy discovery and cgroup v2 ids (see cgroupfs.h).
 *
 * Parses /proc/self/mountinfo and /proc/PID/cgroup, which the kernel writes: trusted in content
 * but still parsed strictly and with bounded buffers. */
#include "cgroupfs.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>

#include "mountinfo.h"
#include "procfs.h"
#include "util.h"

/* true if the sep-separated list contains word exactly. */
static bool list_has(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static bool is_hierarchy(const struct mountinfo_entry *e, const char *controller)
{
	if (!controller)
		return streq(e->fstype, "cgroup2");
	return streq(e->fstype, "cgroup") && list_has(e->super_options, controller, ',');
}

int cgroup_find_mount(const char *mountinfo, const char *controller, char **mount, char **root)
{
	_cleanup_free_ char *first_mount = NULL, *first_root = NULL;

	for (const char *line = mountinfo; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		_cleanup_free_ char *copy = strndup(line, len);
		struct mountinfo_entry e;

		if (!copy)
			return -ENOMEM;
		line = end ? end + 1 : NULL;
		if (mountinfo_parse_line(copy, &e) < 0 || !is_hierarchy(&e, controller))
			continue;
		if (streq(e.root, "/")) {
			char *m = strdup(e.mount_point), *r = strdup(e.root);

			if (!m || !r) {
				free(m);
				free(r);
				return -ENOMEM;
			}
			*mount = m;
			*root = r;
			return 0;
		}
		if (!first_mount) {
			first_mount = strdup(e.mount_point);
			first_root = strdup(e.root);
			if (!first_mount || !first_root)
				return -ENOMEM;
		}
	}
	if (!first_mount)
		return -ENOENT;
	*mount = TAKE_PTR(first_mount);
	*root = TAKE_PTR(first_root);
	return 0;
}

int cgroup_v2_mount_from_mountinfo(const char *mountinfo, char *buf, size_t n)
{
	_cleanup_free_ char *mount = NULL, *root = NULL;
	int r;

	r = cgroup_find_mount(mountinfo, NULL, &mount, &root);
	if (r < 0)
		return r;
	if (!streq(root, "/"))
		return -ENOENT; /* only a subtree is mounted: ids and paths need the root */
	if (strlen(mount) + 1 > n)
		return -ENAMETOOLONG;
	memcpy(buf, mount, strlen(mount) + 1);
	return 0;
}

int cgroup_v2_mount(char *buf, size_t n)
{
	_cleanup_free_ char *mi = NULL;
	int r;

	r = proc_read_file("/proc/self/mountinfo", &mi, NULL);
	if (r < 0)
		return r;
	return cgroup_v2_mount_from_mountinfo(mi, buf, n);
}

int cgroup_entry_from_text(const char *proc_cgroup, const char *controller, char **out)
{
	for (const char *line = proc_cgroup; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		_cleanup_free_ char *copy = strndup(line, len);
		char *ctrls, *path;

		if (!copy)
			return -ENOMEM;
		line = end ? end + 1 : NULL;
		/* "ID:CONTROLLERS:PATH"; the path itself may contain ':'. */
		ctrls = strchr(copy, ':');
		if (!ctrls)
			continue;
		*ctrls++ = 0;
		path = strchr(ctrls, ':');
		if (!path)
			continue;
		*path++ = 0;
		if (controller ? !list_has(ctrls, controller, ',') : !(streq(copy, "0") && *ctrls == 0))
			continue;
		char *p = strdup(path);
		if (!p)
			return -ENOMEM;
		*out = p;
		return 0;
	}
	return -ENOENT;
}

int cgroup_entry_of_pid(pid_t pid, const char *controller, char **out)
{
	_cleanup_free_ char *text = NULL;
	char proc[64];
	int r;

	if (pid < 0)
		return -EINVAL;
	if (pid == 0)
		snprintf(proc, sizeof(proc), "/proc/self/cgroup");
	else
		snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)pid);
	r = proc_read_file(proc, &text, NULL);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	return cgroup_entry_from_text(text, controller, out);
}

int cgroup_dir(const char *mount, const char *root, const char *rel, char **out)
{
	if (!streq(root, "/")) {
		size_t n = strlen(root);

		if (strncmp(rel, root, n) != 0 || (rel[n] != '/' && rel[n] != '\0'))
			return -EOPNOTSUPP; /* the cgroup is not visible through this mount */
		rel += n;
	}
	if (strstr(rel, "/.."))
		return -EINVAL;
	if (asprintf(out, "%s%s", mount, streq(rel, "/") ? "" : rel) < 0)
		return -ENOMEM;
	return 0;
}

int cgroup_v2_path_of_pid(pid_t pid, char *buf, size_t n)
{
	_cleanup_free_ char *rel = NULL;
	char mount[PATH_MAX];
	size_t rellen;
	int r;

	r = cgroup_entry_of_pid(pid, NULL, &rel);
	if (r < 0)
		return r;
	rellen = strlen(rel);
	if (rellen == 0 || rel[0] != '/')
		return -ENOENT;
	if (rellen >= 10 && streq(rel + rellen - 10, " (deleted)"))
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

int cgroup_v2_path_of_id(const char *mount, uint64_t id, char *buf, size_t n)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = 0xfe /* FILEID_KERNFS */ } };
	char link[64], path[PATH_MAX];
	size_t m = strlen(mount);
	const char *rel;
	ssize_t len;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	_cleanup_close_ int mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return negative_errno();
	_cleanup_close_ int fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, path, sizeof(path) - 1);
	if (len < 0)
		return negative_errno();
	path[len] = '\0';
	/* Seen through another mount (a bind of a subtree): the whole path says where. */
	rel = strncmp(path, mount, m) == 0 && (path[m] == '/' || path[m] == '\0') ? path + m : path;
	if (!*rel)
		rel = "/";
	if (strlen(rel) >= n)
		return -ENAMETOOLONG;
	memcpy(buf, rel, strlen(rel) + 1);
	return 0;
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
