// SPDX-License-Identifier: MIT
/* filetxn.c - change several files as one unit: all of the new state, or none (privileged parent). */
#include "parent/filetxn.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* A name for a staged file: hidden (the manifest reader skips dot files) and unguessable, so
 * nothing else in the directory collides with it. */
static char *tmp_name(const char *name)
{
	uint64_t rnd;
	char *s = NULL;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return NULL;
	if (asprintf(&s, ".%s.%016llx.tmp", name, (unsigned long long)rnd) < 0)
		return NULL;
	return s;
}

static struct filetxn_entry *add_entry(struct filetxn *t, const char *dir, bool nofollow, const char *name, int *r)
{
	struct filetxn_entry *e;

	if (t->n == FILETXN_MAX || t->committed || strchr(name, '/')) {
		*r = -EINVAL;
		return NULL;
	}
	e = &t->e[t->n];
	*e = (struct filetxn_entry){ .dirfd = -1 };
	e->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (e->dirfd < 0) {
		*r = negative_errno();
		return NULL;
	}
	e->name = strdup(name);
	e->tmp = tmp_name(name);
	t->n++; /* from here filetxn_done owns it */
	*r = e->name && e->tmp ? 0 : -ENOMEM;
	return *r == 0 ? e : NULL;
}

static int write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

int filetxn_write(struct filetxn *t, const char *dir, bool nofollow, const char *name, const char *text, size_t len,
		  mode_t mode)
{
	int r;
	struct filetxn_entry *e = add_entry(t, dir, nofollow, name, &r);

	if (!e)
		return r;
	_cleanup_close_ int fd = openat(e->dirfd, e->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		r = negative_errno();
		free(TAKE_PTR(e->tmp)); /* not created: nothing to delete */
		return r;
	}
	/* fchmod: the umask must not decide a grants file's mode. fsync before the rename, or a crash
	 * could leave the new name pointing at an empty file. */
	if (fchmod(fd, mode) < 0)
		return negative_errno();
	r = write_all(fd, text, len);
	if (r == 0 && fsync(fd) < 0)
		r = negative_errno();
	return r;
}

int filetxn_unlink(struct filetxn *t, const char *dir, bool nofollow, const char *name)
{
	int r;
	struct filetxn_entry *e = add_entry(t, dir, nofollow, name, &r);

	if (e)
		e->remove = true;
	return r;
}

/* Puts entry e in place; records what it did so undo() can reverse it. */
static int apply(struct filetxn_entry *e)
{
	if (e->remove) {
		/* Moved aside, not deleted: moving it back is the rollback. */
		if (renameat2(e->dirfd, e->name, e->dirfd, e->tmp, RENAME_NOREPLACE) == 0) {
			e->had_old = e->swapped = true;
			return 0;
		}
		return errno == ENOENT ? 0 : negative_errno();
	}
	if (renameat2(e->dirfd, e->tmp, e->dirfd, e->name, RENAME_EXCHANGE) == 0) {
		e->had_old = e->swapped = true;
		return 0;
	}
	if (errno != ENOENT)
		return negative_errno();
	if (renameat2(e->dirfd, e->tmp, e->dirfd, e->name, RENAME_NOREPLACE) < 0)
		return negative_errno();
	e->swapped = true;
	return 0;
}

/* Reverses apply(). Renames within a directory need no space, so this fails only if someone
 * else changed the directory meanwhile; there is nothing better to do then than to go on. */
static void undo(struct filetxn_entry *e)
{
	if (!e->swapped)
		return;
	if (e->remove)
		(void)renameat2(e->dirfd, e->tmp, e->dirfd, e->name, RENAME_NOREPLACE);
	else if (e->had_old)
		(void)renameat2(e->dirfd, e->tmp, e->dirfd, e->name, RENAME_EXCHANGE);
	else
		(void)renameat2(e->dirfd, e->name, e->dirfd, e->tmp, RENAME_NOREPLACE);
	e->swapped = false;
}

int filetxn_commit(struct filetxn *t)
{
	int r = 0;
	size_t i;

	if (t->committed)
		return -EINVAL;
	for (i = 0; i < t->n && r == 0; i++)
		if (!t->e[i].tmp)
			r = -EINVAL; /* a stage that failed: the caller must not commit */
	for (i = 0; i < t->n && r == 0; i++)
		r = apply(&t->e[i]);
	if (r < 0) {
		while (i-- > 0)
			undo(&t->e[i]);
		return r;
	}
	t->committed = true;
	/* The renames are done and visible; a failing directory fsync cannot undo them, and
	 * reporting failure now would misstate what is on disk. */
	for (i = 0; i < t->n; i++)
		(void)fsync(t->e[i].dirfd);
	return 0;
}

void filetxn_done(struct filetxn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct filetxn_entry *e = &t->e[i];
		/* After a commit tmp holds the old version (or nothing); before, the staged new one. An
		 * uncommitted delete never moved anything, so its tmp names no file. */
		if (e->tmp && e->dirfd >= 0 && !(e->remove && !e->swapped) && unlinkat(e->dirfd, e->tmp, 0) < 0 &&
		    errno == EISDIR)
			(void)unlinkat(e->dirfd, e->tmp, AT_REMOVEDIR); /* an empty directory stood there */
		if (e->dirfd >= 0)
			close(e->dirfd);
		free(e->name);
		free(e->tmp);
	}
	t->n = 0;
}
