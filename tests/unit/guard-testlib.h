/* SPDX-License-Identifier: MIT */
/* guard-testlib.h - fixtures for the kernel guard tests and bench: a private cgroup v2
 * subtree beneath the caller's own cgroup, children run inside a given cgroup, unix and inet
 * listeners. Assertions and the skip rule are check.h's. Test code only. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "check.h"

/* Root and a kernel with the unix connect hook, or check_skip(). */
void tl_require_kernel_guard(void);

/* A subtree <own v2 cgroup>/capbus-test-<pid>-<tag> with the given relative children
 * ("allowed", "allowed/child", ...), created in order. Removed by tl_subtree_remove(). */
struct tl_subtree {
	char root[PATH_MAX];
	char *children[16];
	int nchildren;
};
int tl_subtree_create(struct tl_subtree *t, const char *tag, const char *const *children);
void tl_subtree_remove(struct tl_subtree *t);
/* Absolute path of a child ("" = the subtree root); static storage per call site is not
 * used: the result is written to buf. */
const char *tl_path(const struct tl_subtree *t, const char *child, char *buf, size_t n);
uint64_t tl_cgroup_id(const char *path);

/* Move the calling process into a cgroup v2 directory. Returns 0 or negative errno. */
int tl_enter_cgroup(const char *path);

/* fork; the child enters cgroup `path` (NULL: stays), runs fn(arg) and exits with its return
 * value (0..255). The parent waits and returns that value, or -1 if the child died. */
int tl_run_in(const char *path, int (*fn)(void *), void *arg);
pid_t tl_spawn_in(const char *path, int (*fn)(void *), void *arg);
int tl_wait(pid_t pid);

/* Abstract stream listener on "@name" (name without '@'). Returns fd or negative errno. */
int tl_listen_abstract(const char *name);
int tl_listen_path(const char *path);
/* Connect a fresh unix stream socket to "@name" or "/path": 0 or errno (positive). */
int tl_connect_unix(const char *name);
int tl_connect_fd(int fd, const char *name);
/* sockaddr for "@name" or "/path": address length returned. */
socklen_t tl_unix_addr(const char *name, struct sockaddr_un *sa);
/* Accept and close everything queued on a listener (non-blocking). */
void tl_drain(int lfd);

/* TCP/UDP listener on addr (numeric v4/v6) and port (0 = ephemeral); *port set on return. */
int tl_listen_inet(int type, const char *addr, uint16_t *port);
/* Connect (or for SOCK_DGRAM sendto) a fresh socket: 0 or positive errno. */
int tl_connect_inet(int type, const char *addr, uint16_t port);

/* Send/receive one fd over a unix socket (SCM_RIGHTS). */
int tl_send_fd(int sock, int fd);
int tl_recv_fd(int sock);
