// SPDX-License-Identifier: MIT
/* test-cgroupfs.c - unit tests for linux/: mountinfo lines, cgroup hierarchy discovery (v2-only,
 * hybrid, bind-mounted subtrees), /proc/PID/cgroup entries, cgroup ids on this machine, and the
 * pidfd helpers.
 *
 * Links only linux/ (and util). The parsers run on fixed texts; the live checks need a mounted
 * cgroup v2 hierarchy, which every supported system has, and no privilege. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "cgroupfs.h"
#include "check.h"
#include "mountinfo.h"
#include "pidfd-util.h"
#include "procfs.h"
#include "util.h"

static const char hybrid[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"36 31 0:33 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char v2only[] =
	"22 1 0:21 / /proc rw - proc proc rw\n"
	"30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
/* A bind mount of a sub-cgroup first, then the real root; the mount point has a space. */
static const char nested[] =
	"50 1 0:26 /system.slice /srv/cg rw - cgroup2 cgroup2 rw\n"
	"51 1 0:26 / /run/my\\040cgroup rw master:3 - cgroup2 cgroup2 rw\n";
/* Only a subtree is visible (a container given part of the host's hierarchy). */
static const char subtree_only[] = "60 1 0:26 /lxc/box /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
static const char none[] = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n";

static void test_mountinfo_line(void)
{
	char line[] = "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n";
	struct mountinfo_entry e, keep = { .root = "keep" };
	char buf[16];

	CHECK(mountinfo_parse_line(line, &e) == 0);
	CHECK_STREQ(e.root, "/mnt1");
	CHECK_STREQ(e.mount_point, "/mnt 2");
	CHECK_STREQ(e.fstype, "ext3");
	CHECK_STREQ(e.super_options, "rw,errors=continue");

	/* Not the shape of a mountinfo line: refused, output untouched. */
	static const char *const bad[] = {
		"", "36 35 98:0 /mnt1 /mnt2 rw", "36 35 98:0 /mnt1 /mnt2 rw ext3 /dev/root rw",
		"36 35 98:0 /mnt1 /mnt2 rw - ext3", "36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw extra",
		"36 35 98:0 /mnt1", "36 35  /mnt1 /mnt2 rw - ext3 /dev/root rw",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char copy[128];

		snprintf(copy, sizeof(copy), "%s", bad[i]);
		e = keep;
		CHECK(mountinfo_parse_line(copy, &e) == -EINVAL);
		CHECK_STREQ(e.root, "keep");
	}

	CHECK(mountinfo_unescape("a\\011b\\134", 10, buf, sizeof(buf)) == 0);
	CHECK_STREQ(buf, "a\tb\\");
	CHECK(mountinfo_unescape("a\\01", 4, buf, sizeof(buf)) == 0); /* cut short: kept as is */
	CHECK_STREQ(buf, "a\\01");
	CHECK(mountinfo_unescape("abcdef", 6, buf, 6) == -ENAMETOOLONG);
	CHECK(mountinfo_unescape("abcde", 5, buf, 6) == 0);
}

static void test_v2_mount(void)
{
	char buf[PATH_MAX], tiny[8];

	CHECK(cgroup_v2_mount_from_mountinfo(hybrid, buf, sizeof(buf)) == 0);
	CHECK_STREQ(buf, "/sys/fs/cgroup/unified");
	CHECK(cgroup_v2_mount_from_mountinfo(v2only, buf, sizeof(buf)) == 0);
	CHECK_STREQ(buf, "/sys/fs/cgroup");
	CHECK(cgroup_v2_mount_from_mountinfo(nested, buf, sizeof(buf)) == 0);
	CHECK_STREQ(buf, "/run/my cgroup");
	CHECK(cgroup_v2_mount_from_mountinfo(subtree_only, buf, sizeof(buf)) == -ENOENT);
	CHECK(cgroup_v2_mount_from_mountinfo(none, buf, sizeof(buf)) == -ENOENT);
	CHECK(cgroup_v2_mount_from_mountinfo("", buf, sizeof(buf)) == -ENOENT);
	memcpy(tiny, "keep", 5);
	CHECK(cgroup_v2_mount_from_mountinfo(hybrid, tiny, sizeof(tiny)) == -ENAMETOOLONG);
	CHECK_STREQ(tiny, "keep"); /* untouched on failure */
}

static void check_find(const char *mi, const char *ctrl, int want, const char *mount, const char *root)
{
	char *m = NULL, *r = NULL;

	CHECK(cgroup_find_mount(mi, ctrl, &m, &r) == want);
	CHECK_STREQ(m, mount);
	CHECK_STREQ(r, root);
	free(m);
	free(r);
}

static void test_find_mount(void)
{
	check_find(hybrid, NULL, 0, "/sys/fs/cgroup/unified", "/");
	check_find(hybrid, "memory", 0, "/sys/fs/cgroup/memory", "/");
	check_find(hybrid, "cpu", 0, "/sys/fs/cgroup/cpu,cpuacct", "/");
	check_find(hybrid, "cpuacct", 0, "/sys/fs/cgroup/cpu,cpuacct", "/");
	check_find(hybrid, "pids", -ENOENT, NULL, NULL);
	check_find(v2only, "memory", -ENOENT, NULL, NULL); /* v2 controllers are no v1 mount */
	check_find(v2only, NULL, 0, "/sys/fs/cgroup", "/");
	check_find(nested, NULL, 0, "/run/my cgroup", "/"); /* the root wins over an earlier subtree */
	check_find(subtree_only, NULL, 0, "/sys/fs/cgroup", "/lxc/box");
	check_find(none, NULL, -ENOENT, NULL, NULL);
}

static void check_entry(const char *text, const char *ctrl, int want, const char *path)
{
	char *p = NULL;

	CHECK(cgroup_entry_from_text(text, ctrl, &p) == want);
	CHECK_STREQ(p, path);
	free(p);
}

static void test_entries(void)
{
	static const char hybrid_self[] =
		"12:pids:/user.slice/user-0.slice\n"
		"4:cpu,cpuacct:/user.slice\n"
		"3:cpuset:/\n"
		"1:name=systemd:/user.slice/user-0.slice/session-1.scope\n"
		"0::/user.slice/user-0.slice/session-1.scope\n";
	char *dir = NULL;

	check_entry(hybrid_self, NULL, 0, "/user.slice/user-0.slice/session-1.scope");
	check_entry(hybrid_self, "pids", 0, "/user.slice/user-0.slice");
	check_entry(hybrid_self, "cpu", 0, "/user.slice");
	check_entry(hybrid_self, "cpuset", 0, "/");
	check_entry(hybrid_self, "memory", -ENOENT, NULL);
	check_entry(hybrid_self, "name=systemd", 0, "/user.slice/user-0.slice/session-1.scope");
	check_entry("0::/a:b\n", NULL, 0, "/a:b"); /* a ':' in the path is part of it */
	check_entry("1:memory:/x\n", NULL, -ENOENT, NULL);
	check_entry("garbage\n0:/no-controllers-field\n", NULL, -ENOENT, NULL);
	check_entry("", NULL, -ENOENT, NULL);

	CHECK(cgroup_dir("/sys/fs/cgroup", "/", "/a/b", &dir) == 0);
	CHECK_STREQ(dir, "/sys/fs/cgroup/a/b");
	free(dir);
	CHECK(cgroup_dir("/sys/fs/cgroup", "/", "/", &dir) == 0);
	CHECK_STREQ(dir, "/sys/fs/cgroup");
	free(dir);
	CHECK(cgroup_dir("/c", "/lxc/box", "/lxc/box/skill", &dir) == 0);
	CHECK_STREQ(dir, "/c/skill");
	free(dir);
	dir = NULL;
	CHECK(cgroup_dir("/c", "/lxc/box", "/lxc/boxer", &dir) == -EOPNOTSUPP);
	CHECK(cgroup_dir("/c", "/lxc/box", "/other", &dir) == -EOPNOTSUPP);
	CHECK(cgroup_dir("/c", "/", "/a/../../etc", &dir) == -EINVAL);
	CHECK(dir == NULL);
}

/* This machine: the same answers through /proc as through the file handles. */
static void test_live(void)
{
	char mount[PATH_MAX], own[PATH_MAX], tiny[4];
	uint64_t id = 0, own_id = 0, pidfd_id = 0;
	char *rel = NULL, *text = NULL;
	size_t len = 0;
	int r;

	CHECK(proc_read_file("/proc/self/mountinfo", &text, &len) == 0);
	CHECK(text && strlen(text) == len && len > 0);
	free(text);
	CHECK(proc_read_file("/nonexistent/capbus", &text, NULL) == -ENOENT);

	CHECK(cgroup_v2_mount(mount, sizeof(mount)) == 0);
	CHECK(cgroup_id_of_path(mount, &id) == 0);
	CHECK(id == 1); /* the root cgroup's id */
	CHECK(cgroup_v2_path_of_pid(0, own, sizeof(own)) == 0);
	CHECK(startswith(own, mount));
	CHECK(cgroup_v2_path_of_pid(getpid(), own, sizeof(own)) == 0);
	CHECK(cgroup_id_of_path(own, &own_id) == 0);
	CHECK(own_id >= 1);
	CHECK(cgroup_entry_of_pid(0, NULL, &rel) == 0);
	CHECK(rel && (streq(rel, "/") ? streq(own, mount) : streq(own + strlen(mount), rel)));
	free(rel);
	CHECK(cgroup_v2_path_of_pid(getpid(), tiny, sizeof(tiny)) == -ENAMETOOLONG);
	CHECK(cgroup_v2_path_of_pid(-1, own, sizeof(own)) == -EINVAL);
	CHECK(cgroup_v2_path_of_pid(INT_MAX, own, sizeof(own)) == -ESRCH);
	CHECK(cgroup_id_of_path("/nonexistent/capbus", &id) == -ENOENT);

	/* And back from the id to the path (open_by_handle_at: root only). */
	char back[PATH_MAX];
	r = cgroup_v2_path_of_id(mount, own_id, back, sizeof(back));
	if (geteuid() == 0) {
		CHECK(r == 0);
		CHECK_STREQ(back, streq(own, mount) ? "/" : own + strlen(mount));
		CHECK(cgroup_v2_path_of_id(mount, 1, back, sizeof(back)) == 0);
		CHECK_STREQ(back, "/");
		CHECK(cgroup_v2_path_of_id(mount, own_id, tiny, 1) == -ENAMETOOLONG);
		r = cgroup_v2_path_of_id(mount, UINT64_MAX - 1, back, sizeof(back));
		CHECK(r == -ESTALE || r == -ENOENT);
	} else {
		CHECK(r == -EPERM);
	}

	/* The id a daemon reads from a peer's pidfd is the id of the peer's cgroup directory. */
	int pidfd = pidfd_open_pid(getpid());
	CHECK(pidfd >= 0);
	r = cgroup_id_of_pidfd(pidfd, &pidfd_id);
	if (r == -EOPNOTSUPP)
		fprintf(stderr, "note: PIDFD_GET_INFO unsupported here, pidfd id check skipped\n");
	else
		CHECK(r == 0 && pidfd_id == own_id);
	CHECK(pidfd_signal(pidfd, 0) == 0);
	close(pidfd);
	CHECK(cgroup_id_of_pidfd(-1, &pidfd_id) == -EBADF);
	CHECK(pidfd_signal(-1, 0) == -EBADF);
	CHECK(pidfd_open_pid(0) == -EINVAL);
}

/* A pidfd keeps naming its process after it is gone: signals fail with ESRCH, never reach a
 * new process that got the same pid. */
static void test_pidfd_exited(void)
{
	pid_t pid = fork();
	int pidfd, status;
	uint64_t id;

	if (pid == 0)
		_exit(0);
	CHECK(pid > 0);
	pidfd = pidfd_open_pid(pid);
	CHECK(pidfd >= 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(pidfd_signal(pidfd, SIGTERM) == -ESRCH);
	int r = cgroup_id_of_pidfd(pidfd, &id);
	CHECK(r == -ESRCH || r == -EOPNOTSUPP);
	close(pidfd);
	CHECK(pidfd_open_pid(pid) == -ESRCH);
}

int main(void)
{
	test_mountinfo_line();
	test_v2_mount();
	test_find_mount();
	test_entries();
	test_live();
	test_pidfd_exited();
	return check_finish("test-cgroupfs");
}
