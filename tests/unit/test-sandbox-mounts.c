// SPDX-License-Identifier: MIT
/* test-sandbox-mounts.c - the planned file-system view, checked entry by entry.
 *
 * Links only the mount planner; builds plans (no mounting, no root needed) and checks what
 * the sandbox will see, with which attributes and which Landlock rights. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "check.h"
#include "kernel.h"
#include "mounts.h"
#include "sandbox.h"

static const struct mnt_entry *find(const struct mount_plan *mp, const char *target, enum mnt_kind kind)
{
	for (size_t i = 0; i < mp->n; i++)
		if (strcmp(mp->v[i].target, target) == 0 && mp->v[i].kind == kind)
			return &mp->v[i];
	return NULL;
}

static ssize_t index_of(const struct mount_plan *mp, const char *target)
{
	for (size_t i = 0; i < mp->n; i++)
		if (strcmp(mp->v[i].target, target) == 0)
			return (ssize_t)i;
	return -1;
}

static int plan_error(const char *skill, const char *ro, const char *state)
{
	const char *paths[] = { ro, NULL };
	struct sandbox_spec s = { .skill_dir = skill, .read_paths = ro ? paths : NULL, .state_dir = state };
	struct mount_plan mp = { 0 };
	int r = mount_plan_build(&s, &mp);

	mount_plan_done(&mp);
	return r;
}

int main(void)
{
	char state[] = "/tmp/capbus-mounts-state-XXXXXX", skill[] = "/tmp/capbus-mounts-skill-XXXXXX", file[64];
	const char *ro[] = { "/usr/share/doc", "/usr/share", NULL };
	struct sandbox_spec s = { .skill_dir = skill, .read_paths = ro, .state_dir = state };
	struct mount_plan mp = { 0 };
	const struct mnt_entry *e;
	uint64_t ro_attrs = SB_MOUNT_ATTR_RDONLY | SB_MOUNT_ATTR_NOSUID | SB_MOUNT_ATTR_NODEV;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(state) || !mkdtemp(skill))
		return 1;
	snprintf(file, sizeof(file), "%s/run", skill);
	{
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		if (fd < 0 || write(fd, "x", 1) != 1)
			return 1;
		close(fd);
	}
	CHECK_MSG(mount_plan_build(&s, &mp) == 0, "a plan with skill dir, read paths and state dir");

	e = find(&mp, "/usr", MNT_BIND);
	CHECK_MSG(e && e->dir && (e->attrs & ro_attrs) == ro_attrs && (e->landlock & SB_LL_FS_EXECUTE) &&
		      !(e->landlock & SB_LL_FS_WRITE_FILE),
	      "/usr: read-only, nosuid, nodev bind; Landlock read+execute, no write");
	e = find(&mp, SANDBOX_STATE_PATH, MNT_BIND);
	CHECK_MSG(e && strcmp(e->source, state) == 0 && !(e->attrs & SB_MOUNT_ATTR_RDONLY) &&
		      (e->attrs & SB_MOUNT_ATTR_NOEXEC) && (e->landlock & SB_LL_FS_WRITE_FILE) &&
		      !(e->landlock & SB_LL_FS_EXECUTE),
	      "state dir: writable, noexec at /state; Landlock write, no execute");
	e = find(&mp, "/usr/share/doc", MNT_BIND);
	CHECK_MSG(e && (e->attrs & SB_MOUNT_ATTR_NOEXEC) && (e->attrs & SB_MOUNT_ATTR_RDONLY) &&
		      !(e->landlock & (SB_LL_FS_EXECUTE | SB_LL_FS_WRITE_FILE)),
	      "read path: read-only and noexec; Landlock read only");
	e = find(&mp, SANDBOX_SKILL_PATH, MNT_COPY);
	CHECK_MSG(e && strcmp(e->source, skill) == 0 && (e->attrs & SB_MOUNT_ATTR_RDONLY) &&
		      !(e->attrs & SB_MOUNT_ATTR_NOEXEC) && (e->landlock & SB_LL_FS_EXECUTE) && e->opts &&
		      strstr(e->opts, "size=") && strstr(e->opts, "nr_inodes="),
	      "skill dir: copied into a sized tmpfs at " SANDBOX_SKILL_PATH ", read-only, executable");
	CHECK_MSG(index_of(&mp, skill) < 0, "the skill dir's host path is no target");
	CHECK_MSG(index_of(&mp, "/usr/share") < index_of(&mp, "/usr/share/doc"),
	      "a nested read path is bound after its parent (shortest first)");
	CHECK_MSG(index_of(&mp, "/usr") < index_of(&mp, "/usr/share"), "caller paths come after the system binds");
	e = find(&mp, "/tmp", MNT_TMPFS);
	CHECK_MSG(e && (e->attrs & MS_NOEXEC) && (e->attrs & MS_NOSUID) && (e->attrs & MS_NODEV) && strstr(e->source, "size="),
	      "/tmp: private tmpfs, size-limited, nosuid nodev noexec");
	e = find(&mp, "/proc", MNT_PROC);
	CHECK_MSG(e && !(e->landlock & SB_LL_FS_WRITE_FILE), "/proc: fresh procfs; Landlock read only");
	CHECK_MSG(find(&mp, "/dev/null", MNT_BIND) && find(&mp, "/dev/urandom", MNT_BIND) && find(&mp, "/dev", MNT_SEAL) &&
		      index_of(&mp, "/dev/tty") < 0 && index_of(&mp, "/dev/pts") < 0,
	      "/dev: null, zero, full, random, urandom, sealed; no tty, no pts");
	{
		ssize_t seal = -1, shm = index_of(&mp, "/dev/shm");
		for (size_t i = 0; i < mp.n; i++)
			if (mp.v[i].kind == MNT_SEAL)
				seal = (ssize_t)i;
		/* index_of finds the /dev/shm directory entry, made before the seal. */
		CHECK_MSG(seal > index_of(&mp, "/dev/urandom") && shm >= 0 && shm < seal && find(&mp, "/dev/shm", MNT_TMPFS) &&
			      (ssize_t)(find(&mp, "/dev/shm", MNT_TMPFS) - mp.v) > seal,
		      "/dev is sealed after its nodes, /dev/shm mounted on the sealed /dev");
	}
	CHECK_MSG(find(&mp, "/etc/passwd", MNT_FILE) && find(&mp, "/etc/group", MNT_FILE) && !find(&mp, "/etc/shadow", MNT_BIND) &&
		      index_of(&mp, "/etc/shadow") < 0 && index_of(&mp, "/root") < 0 && index_of(&mp, "/home") < 0,
	      "/etc holds a synthetic passwd and group; no shadow, no /root, no /home");
	e = find(&mp, "/etc/passwd", MNT_FILE);
	CHECK_MSG(e && strstr(e->source, "skill:x:1000:1000:") && !strstr(e->source, "root:"), "passwd knows only the skill and nobody");
	CHECK_MSG(!find(&mp, "/etc/resolv.conf", MNT_BIND) && !find(&mp, "/etc/resolv.conf", MNT_FILE),
		  "no resolver configuration without network");
	mount_plan_done(&mp);

	s.network = true;
	CHECK_MSG(mount_plan_build(&s, &mp) == 0, "a plan with network");
	e = find(&mp, "/etc/resolv.conf", MNT_FILE);
	CHECK_MSG(e && !strcmp(e->source, "nameserver 10.0.2.3\n") && !find(&mp, "/etc/resolv.conf", MNT_BIND),
		  "with network, resolv.conf names the network stack's DNS forwarder, not the host's resolver");
	mount_plan_done(&mp);

	CHECK_MSG(plan_error(NULL, "/", NULL) == -EINVAL, "read path / refused");
	CHECK_MSG(plan_error(NULL, "/etc", NULL) == -EINVAL, "read path /etc refused");
	CHECK_MSG(plan_error(NULL, "/proc/1", NULL) == -EINVAL, "read path under /proc refused");
	CHECK_MSG(plan_error(NULL, "/dev/sda", NULL) == -EINVAL || plan_error(NULL, "/dev", NULL) == -EINVAL, "read path under /dev refused");
	CHECK_MSG(plan_error(NULL, "/sys/kernel", NULL) == -EINVAL, "read path under /sys refused");
	CHECK_MSG(plan_error(NULL, "relative/path", NULL) == -EINVAL, "relative read path refused");
	CHECK_MSG(plan_error(NULL, "/nonexistent/capbus", NULL) == -ENOENT, "missing read path: ENOENT");
	CHECK_MSG(plan_error("/usr/bin/..", NULL, NULL) == -EINVAL, "skill dir resolving to /usr refused");
	CHECK_MSG(plan_error(NULL, NULL, "/etc/hostname") == -ENOTDIR || access("/etc/hostname", F_OK) != 0, "state dir must be a directory");

	CHECK_MSG(plan_error("/tmp/capbus-no-such-skill-dir", NULL, NULL) == -ENOENT, "missing skill dir: ENOENT");
	CHECK_MSG(plan_error(file, NULL, NULL) == -ENOTDIR, "skill dir must be a directory");
	unlink(file);
	rmdir(skill);
	rmdir(state);
	return check_finish("test-sandbox-mounts");
}
