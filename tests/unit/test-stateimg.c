// SPDX-License-Identifier: MIT
/* test-stateimg.c - sandbox/stateimg.c on real loop devices (root): the size holds, an image is
 * reserved rather than sparse (also after a resize and while mounted), reused, grown, refused a
 * shrink below its data, adopted from a spare, detached, and never half made on a full disk. Skips (77) without root or loop devices
 * unless CI=true. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "stateimg.h"

#define MIB (UINT64_C(1) << 20)

static char base[] = "/tmp/capbus-stateimg-XXXXXX";

static char *at(const char *name)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, 256, "%s/%s", base, name);
	return p;
}

/* Writes name (under dir) until the file system says no; returns bytes written, *err the errno. */
static uint64_t fill(const char *dir, const char *name, uint64_t max, int *err)
{
	static char buf[1 << 16];
	char path[300];
	uint64_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	*err = fd < 0 ? errno : 0;
	while (fd >= 0 && n < max) {
		ssize_t w = write(fd, buf, sizeof(buf));
		if (w <= 0) {
			*err = w < 0 ? errno : ENOSPC;
			break;
		}
		n += (uint64_t)w;
	}
	if (fd >= 0 && *err == 0 && fsync(fd) < 0)
		*err = errno;
	if (fd >= 0)
		close(fd);
	return n;
}

/* Loop devices whose backing file lies under base. */
static int loops_here(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		char p[300], backing[512] = "";
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
		FILE *f = fopen(p, "re");
		if (f && fgets(backing, sizeof(backing), f) && strncmp(backing, base, strlen(base)) == 0)
			n++;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* Every byte of the image is the host's disk already: no hole anywhere. */
static bool dense(const char *image)
{
	struct stat st;

	return stat(image, &st) == 0 && (uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size;
}

static void print_blocks(const char *what, const char *image)
{
	struct stat st;

	if (stat(image, &st) == 0)
		fprintf(stderr, "# %s: size %lld, allocated %lld\n", what, (long long)st.st_size,
			(long long)st.st_blocks * 512);
}

/* Block groups whose inode table is not yet zeroed (dumpe2fs of an unmounted image): the kernel
 * would zero them after a mount, through the loop device, which punches holes in the image. */
static int groups_not_zeroed(const char *image)
{
	char cmd[400], line[512];
	int groups = 0, zeroed = 0;

	snprintf(cmd, sizeof(cmd), "/usr/sbin/dumpe2fs '%s' 2>/dev/null", image);
	FILE *f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Group ", 6) == 0 && line[6] >= '0' && line[6] <= '9') { /* "Group 3: ..." */
			groups++;
			zeroed += strstr(line, "ITABLE_ZEROED") != NULL;
		}
	if (!f || pclose(f) != 0 || groups == 0)
		return -1;
	return groups - zeroed;
}

static void cleanup(void)
{
	stateimg_remove(at("a.img"), at("a"));
	stateimg_remove(at("c.img"), at("c"));
	stateimg_remove(at("b.img"), at("b"));
	stateimg_remove(at(".spare.img"), at("spare"));
	umount2(at("small"), MNT_DETACH);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
}

int main(void)
{
	struct stateimg_result res;
	struct stat st;
	uint64_t used, total;
	int err;

	if (geteuid() != 0)
		check_skip("needs root (loop devices, mounts)");
	if (access("/dev/loop-control", F_OK) < 0)
		check_skip("no /dev/loop-control");
	REQUIRE(mkdtemp(base) != NULL);
	check_on_abort(cleanup);
	REQUIRE(mkdir(at("a"), 0700) == 0);

	/* A new image: exactly the size, its blocks reserved, its root the skill's. */
	CHECK(stateimg_mount(at("a.img"), at("a"), 8 * MIB, 200123, &res) == 0 && res.created);
	CHECK(stateimg_is_mounted(at("a.img"), at("a")));
	CHECK(stat(at("a.img"), &st) == 0 && (uint64_t)st.st_size == 8 * MIB && (uint64_t)st.st_blocks * 512 >= 8 * MIB);
	CHECK(stat(at("a"), &st) == 0 && st.st_uid == 200123 && st.st_gid == 200123 && (st.st_mode & 07777) == 0700);
	CHECK(access(at("a/lost+found"), F_OK) < 0 && errno == ENOENT);
	CHECK(access(at("a.img.new"), F_OK) < 0);

	/* The kernel holds the limit, for root too (no reserved blocks to dip into). */
	uint64_t n = fill(at("a"), "big", 64 * MIB, &err);
	CHECK_MSG(err == ENOSPC && n <= 8 * MIB && n >= 5 * MIB, "wrote %llu bytes, then %s", (unsigned long long)n,
		  strerror(err));
	CHECK(stateimg_usage(at("a"), &used, &total) == 0 && used >= n && total <= 8 * MIB);

	/* Mounted with the same size: nothing to do. */
	CHECK(stateimg_mount(at("a.img"), at("a"), 8 * MIB, 200123, &res) == 0 && res.reused);

	/* Grown: the data stays. */
	CHECK(unlink(at("a/big")) == 0);
	fill(at("a"), "mark", 4096, &err);
	CHECK(stateimg_mount(at("a.img"), at("a"), 12 * MIB, 200123, &res) == 0 && res.resized);
	CHECK(stat(at("a.img"), &st) == 0 && (uint64_t)st.st_size == 12 * MIB);
	CHECK(access(at("a/mark"), F_OK) == 0);
	CHECK(stateimg_usage(at("a"), &used, &total) == 0 && total > 8 * MIB && total <= 12 * MIB);

	/* A shrink below the data is refused and changes nothing. */
	n = fill(at("a"), "data", 9 * MIB, &err);
	CHECK(n == 9 * MIB && err == 0);
	CHECK(stateimg_mount(at("a.img"), at("a"), 4 * MIB, 200123, &res) == STATEIMG_SHRINK_FAILED);
	CHECK(stat(at("a.img"), &st) == 0 && (uint64_t)st.st_size == 12 * MIB);
	CHECK(!stateimg_is_mounted(at("a.img"), at("a")));
	CHECK(stateimg_mount(at("a.img"), at("a"), 12 * MIB, 200123, &res) == 0 && !res.created && !res.resized);
	CHECK(access(at("a/data"), F_OK) == 0 && access(at("a/mark"), F_OK) == 0);

	/* Nothing sparse, after mkfs, after a resize and while mounted: mkfs.ext4 and resize2fs punch
	 * holes where they zero a regular file, and the kernel zeroes inode tables left to it (its
	 * lazy init, within 5 s of a mount) through the loop device, which punches holes too. Big
	 * enough for several block groups. */
	REQUIRE(mkdir(at("c"), 0700) == 0);
	CHECK(stateimg_mount(at("c.img"), at("c"), 64 * MIB, 200126, &res) == 0 && res.created);
	print_blocks("made", at("c.img"));
	CHECK_MSG(dense(at("c.img")), "a new image is sparse");
	CHECK(stateimg_mount(at("c.img"), at("c"), 96 * MIB, 200126, &res) == 0 && res.resized);
	print_blocks("grown", at("c.img"));
	CHECK_MSG(dense(at("c.img")), "a grown image is sparse");
	for (int i = 0; i < 70 && dense(at("c.img")); i++)
		usleep(100 * 1000);
	print_blocks("mounted 7 s", at("c.img"));
	CHECK_MSG(dense(at("c.img")), "a mounted image became sparse");
	CHECK(stateimg_unmount(at("c.img"), at("c")) == 0);
	int left = groups_not_zeroed(at("c.img"));
	CHECK_MSG(left == 0, "%d block groups of the image left for the kernel to zero", left);
	CHECK(stateimg_remove(at("c.img"), at("c")) == 0);

	/* A spare made ahead becomes another skill's image under its name. */
	REQUIRE(mkdir(at("spare"), 0700) == 0 && mkdir(at("b"), 0700) == 0);
	CHECK(stateimg_mount(at(".spare.img"), at("spare"), 4 * MIB, 0, &res) == 0 && res.created);
	CHECK(stateimg_adopt(at(".spare.img"), at("spare"), at("b.img"), at("b"), 200124) == 0);
	/* Mounted, not renamed yet: the name changes only with the second step. */
	CHECK(stateimg_is_mounted(at(".spare.img"), at("b")) && access(at("b.img"), F_OK) < 0);
	CHECK(stat(at("b"), &st) == 0 && st.st_uid == 200124 && (st.st_mode & 07777) == 0700);
	CHECK(stateimg_adopt_finish(at(".spare.img"), at("b.img")) == 0);
	CHECK(stateimg_is_mounted(at("b.img"), at("b")) && !stateimg_is_mounted(at(".spare.img"), at("spare")));
	CHECK(access(at(".spare.img"), F_OK) < 0);
	/* The spare's own mount is left for the caller: the same file system, now b.img's. */
	CHECK(stateimg_is_mounted(at("b.img"), at("spare")));
	CHECK(stateimg_clear(at("spare")) == 1 && stateimg_clear(at("spare")) == 0);
	CHECK(stateimg_is_mounted(at("b.img"), at("b")));
	CHECK(stateimg_adopt(at(".spare.img"), at("spare"), at("a.img"), at("a"), 200124) == -ENOENT);

	/* Detached: gone from the tree at once; the fd is the file system's last reference. */
	int fd = stateimg_detach(at("b.img"), at("b"));
	CHECK(fd >= 0 && access(at("b.img"), F_OK) < 0 && !stateimg_is_mounted(at("b.img"), at("b")));
	if (fd >= 0)
		close(fd);
	CHECK(stateimg_detach(at("b.img"), at("b")) == -ENOENT);

	/* A host disk too small: ENOSPC, and nothing left behind. */
	REQUIRE(mkdir(at("small"), 0700) == 0);
	REQUIRE(mount("tmpfs", at("small"), "tmpfs", 0, "size=6m,mode=0700") == 0);
	REQUIRE(mkdir(at("small/x"), 0700) == 0);
	CHECK(stateimg_mount(at("small/x.img"), at("small/x"), 8 * MIB, 200125, &res) == -ENOSPC);
	CHECK(access(at("small/x.img"), F_OK) < 0 && access(at("small/x.img.new"), F_OK) < 0);
	CHECK(!stateimg_is_mounted(at("small/x.img"), at("small/x")));

	/* Removed: image and loop devices gone. */
	CHECK(stateimg_remove(at("a.img"), at("a")) == 0 && access(at("a.img"), F_OK) < 0);
	/* The kernel clears an autoclear loop device from a work queue, a moment after its last user. */
	for (int i = 0; i < 200 && loops_here() > 0; i++)
		usleep(10 * 1000);
	CHECK_MSG(loops_here() == 0, "%d loop devices still backed by %s", loops_here(), base);
	cleanup();
	return check_finish("test-stateimg");
}
