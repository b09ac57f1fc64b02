// SPDX-License-Identifier: MIT
/* test-filetxn.c - busd/parent/filetxn.c: all of the staged changes, or none of them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "parent/filetxn.h"

static char dir[] = "/tmp/capbus-test-filetxn.XXXXXX";

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	REQUIRE(f != NULL);
	fputs(text, f);
	fclose(f);
}

/* The file's text, "-" when it does not exist. */
static const char *get(const char *name)
{
	static char buf[256];
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	if (!f)
		return "-";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Number of entries in dir, . and .. excluded: nothing staged may stay behind. */
static int count(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	REQUIRE(d != NULL);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

int main(void)
{
	REQUIRE(mkdtemp(dir) != NULL);

	/* A new file and a replaced one, together. */
	put("a", "old a");
	{
		struct filetxn t = FILETXN_INIT;
		CHECK(filetxn_write(&t, dir, true, "a", "new a", 5, 0600) == 0);
		CHECK(filetxn_write(&t, dir, true, "b", "new b", 5, 0644) == 0);
		CHECK_STREQ(get("a"), "old a"); /* nothing before commit */
		CHECK_STREQ(get("b"), "-");
		CHECK(filetxn_commit(&t) == 0);
		filetxn_done(&t);
		CHECK_STREQ(get("a"), "new a");
		CHECK_STREQ(get("b"), "new b");
		CHECK(count() == 2);
		struct stat st;
		char p[256];
		snprintf(p, sizeof(p), "%s/a", dir);
		CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
	}

	/* Not committed: the staged files go, the old ones stay. */
	{
		struct filetxn t = FILETXN_INIT;
		CHECK(filetxn_write(&t, dir, true, "a", "other", 5, 0600) == 0);
		CHECK(filetxn_unlink(&t, dir, true, "b") == 0);
		filetxn_done(&t);
		CHECK_STREQ(get("a"), "new a");
		CHECK_STREQ(get("b"), "new b");
		CHECK(count() == 2);
	}

	/* The third step fails at commit (its staged file vanished): the first two are undone. */
	{
		struct filetxn t = FILETXN_INIT;
		CHECK(filetxn_write(&t, dir, true, "a", "third a", 7, 0600) == 0);
		CHECK(filetxn_unlink(&t, dir, true, "b") == 0);
		CHECK(filetxn_write(&t, dir, true, "c", "new c", 5, 0600) == 0);
		char p[256];
		snprintf(p, sizeof(p), "%s/%s", dir, t.e[2].tmp);
		REQUIRE(unlink(p) == 0);
		CHECK(filetxn_commit(&t) == -ENOENT);
		filetxn_done(&t);
		CHECK_STREQ(get("a"), "new a");
		CHECK_STREQ(get("b"), "new b");
		CHECK_STREQ(get("c"), "-");
		CHECK(count() == 2);
	}

	/* Deleting, also a file that is not there. */
	{
		struct filetxn t = FILETXN_INIT;
		CHECK(filetxn_unlink(&t, dir, true, "b") == 0);
		CHECK(filetxn_unlink(&t, dir, true, "nothere") == 0);
		CHECK(filetxn_commit(&t) == 0);
		CHECK(filetxn_commit(&t) == -EINVAL); /* once only */
		filetxn_done(&t);
		CHECK_STREQ(get("b"), "-");
		CHECK(count() == 1);
	}

	/* Names with a slash and too many entries are refused. */
	{
		struct filetxn t = FILETXN_INIT;
		CHECK(filetxn_write(&t, dir, true, "x/y", "", 0, 0600) == -EINVAL);
		for (int i = 0; i < FILETXN_MAX; i++)
			CHECK(filetxn_unlink(&t, dir, true, "a") == 0);
		CHECK(filetxn_unlink(&t, dir, true, "a") == -EINVAL);
		filetxn_done(&t);
	}

	CHECK_STREQ(get("a"), "new a");
	unlink(strcat(strcpy((char[256]){ 0 }, dir), "/a"));
	CHECK(rmdir(dir) == 0);
	return check_finish("test-filetxn");
}
