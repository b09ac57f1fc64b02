/* SPDX-License-Identifier: MIT */
/* regfile.h - open and read a regular file of bounded size without ever blocking on it.
 *
 * Every file the daemon and the CLI read from a directory goes through here: a FIFO, socket,
 * device node, directory or symbolic link planted under a file's name is refused before it can
 * hang the reader (O_NONBLOCK, type checked with fstat), and a file larger than the bound of its
 * kind is refused without being read. Internal helper (not exported by libcapbus); no logging.
 * Trust level: the files are attacker-placeable, the caller is usually privileged. */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Follow a symbolic link in the last component (only for paths a user names on purpose, such as
 * `capbusd --config FILE` or `capbus install FILE`). Without it a symlink is refused (-ELOOP). */
#define REGFILE_FOLLOW 0x1

/* The error for "exists, but is not a regular file" (FIFO, socket, device, directory). */
#define REGFILE_E_NOT_REGULAR EMEDIUMTYPE

/* Opens dirfd/name (dirfd may be AT_FDCWD) read-only with O_NONBLOCK|O_CLOEXEC|O_NOCTTY (and
 * O_NOFOLLOW unless REGFILE_FOLLOW), after checking with lstat/stat and again with fstat that it
 * is a regular file of at most max bytes. Returns 0 with the fd in *fd_out (and its stat in
 * *st_out when non-NULL), or a negative errno: -ENOENT, -ELOOP (a symlink was not followed),
 * -REGFILE_E_NOT_REGULAR, -EFBIG (larger than max), or what open/fstat failed with. Outputs
 * untouched on failure. */
int regfile_open(int dirfd, const char *name, int flags, size_t max, int *fd_out, struct stat *st_out);

/* Reads the whole file behind fd from offset 0 (with pread: the file position does not move, so
 * an inherited fd reads the same twice) into buf (room for max + 1 bytes; a NUL is stored after the
 * data). Returns the length, or -EFBIG when it holds more than max bytes (it may have grown
 * since the fstat), or a negative errno. */
ssize_t regfile_read_fd(int fd, char *buf, size_t max);

/* regfile_open + regfile_read_fd into buf (max + 1 bytes). Returns the length or a negative
 * errno as above; *st_out (optional) receives the file's stat for owner and mode checks. */
ssize_t regfile_read(int dirfd, const char *name, int flags, size_t max, char *buf, struct stat *st_out);

/* A short human reason for a negative return of the functions above ("not a regular file (a
 * FIFO)" needs the stat, so this names only the class): for log lines and CLI messages. */
const char *regfile_strerror(int r);
