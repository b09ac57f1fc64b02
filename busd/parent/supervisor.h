/* SPDX-License-Identifier: MIT */
/* supervisor.h - launch every skill whose manifest has "exec", each in its sandbox, and keep it
 * running (privileged parent only).
 *
 * A skill gets one end of a socketpair and a sealed memfd holding its key file as fds 3 and 4
 * (CAPBUS_FD, CAPBUS_KEY_FD); the other end goes to the router, bound to the skill's identity.
 * Their fds 1 and 2 are pipes this process reads (skillout.h).
 * Crashes are restarted with exponential backoff; a skill that keeps crashing is marked failed;
 * each exit, the delay chosen and the start planned are reported with the state.
 * Stopping the supervisor kills every skill's cgroup: no orphan survives the daemon. */
#pragma once

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/privsep.h"

struct supervisor;

struct supervisor_ops {
	/* Hands a launched skill's bus connection to the router (takes ownership of fd). */
	int (*adopt)(void *userdata, const char *id, pid_t pid, uid_t uid, int fd);
	/* Reports a state change for `capbus skills`. */
	void (*state)(void *userdata, const struct ps_skill_state *st);
	void *userdata;
};

struct guardctl;

/* guard (may be NULL) attaches each skill's egress rules to its cgroup before it starts. */
int supervisor_new(const struct config *cfg, const uint8_t *master, struct guardctl *guard,
		   const struct supervisor_ops *ops, struct supervisor **out);

/* Reconciles with the manifest directory: starts new skills, stops removed ones, restarts
 * changed ones. Failures are per skill and logged. */
void supervisor_sync(struct supervisor *s);

/* Fills fds with what to poll (the skills' pidfds and output pipes) and lowers *timeout_ms to
 * the next restart or output report.
 * Returns the number of entries used. */
size_t supervisor_pollfds(struct supervisor *s, struct pollfd *fds, size_t max, int *timeout_ms);

/* Handles the entries filled by supervisor_pollfds() after poll(), and due restarts. */
void supervisor_dispatch(struct supervisor *s, const struct pollfd *fds, size_t n);

/* The recent output of the skill id after cursor (outring_read()) into buf. Returns 0 with *len
 * bytes written, or -ENOENT when no skill of that id is installed. */
struct outring_answer;
int supervisor_logs(struct supervisor *s, const char *id, uint64_t cursor, char *buf, size_t size,
		    struct outring_answer *ans, size_t *len);

/* Sends the state of every skill again (after a router restart). */
void supervisor_report_all(struct supervisor *s);

/* Stops every skill (SIGTERM, a short grace period, then the cgroup is killed) and frees s. */
void supervisor_free(struct supervisor *s);
