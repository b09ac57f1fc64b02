/* SPDX-License-Identifier: MIT */
/* listener.h - create the bus socket safely (privileged parent).
 *
 * Path sockets live in a directory that must be ours, not a symlink and not writable by
 * anyone else; a lock file held with flock proves no live daemon owns the socket before a stale
 * one is replaced. Abstract sockets ("@name") are refused by the kernel when taken. */
#pragma once

/* Positive outcomes for the caller to report. */
enum {
	LISTENER_IN_USE = 1,   /* another live daemon owns the socket */
	LISTENER_UNSAFE_DIR = 2,
	LISTENER_NOT_SOCKET = 3,
	LISTENER_NAME_TAKEN = 4, /* abstract name in use: another daemon, or any other program */
};

struct listener {
	int fd;       /* listening, non-blocking, close-on-exec */
	int lock_fd;  /* path sockets: held for the daemon's lifetime */
	char *path;   /* path sockets: to unlink at exit; NULL for abstract */
};

int listener_open(const char *socket, unsigned mode, struct listener *out);
void listener_close(struct listener *l, bool unlink_socket);
