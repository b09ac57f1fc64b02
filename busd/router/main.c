// SPDX-License-Identifier: MIT
/* main.c - capbusd-router: the router program the privileged parent executes.
 *
 * Trust level: starts with whatever the parent gave it (possibly root), learns its whole
 * configuration from the parent over the privsep channel, then drops privileges before it reads
 * a client byte (router_main). It takes nothing from argv or the environment. */
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/privsep.h"
#include "router/router.h"

/* The descriptors the parent hands over (see capbusd(8)). */
#define ROUTER_LISTEN_FD 3
#define ROUTER_CHANNEL_FD 4

static int sockopt_int(int fd, int level, int name, int *out)
{
	socklen_t len = sizeof(*out);
	return getsockopt(fd, level, name, out, &len) < 0 ? negative_errno() : 0;
}

/* True when fd 3 is a listening socket and fd 4 a unix seqpacket socket: started by capbusd. */
static bool started_by_parent(void)
{
	int listening = 0, domain = 0, type = 0;

	return sockopt_int(ROUTER_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening) == 0 && listening == 1 &&
	       sockopt_int(ROUTER_CHANNEL_FD, SOL_SOCKET, SO_DOMAIN, &domain) == 0 && domain == AF_UNIX &&
	       sockopt_int(ROUTER_CHANNEL_FD, SOL_SOCKET, SO_TYPE, &type) == 0 && type == SOCK_SEQPACKET;
}

/* The shares and caps the parent derived (config.c): none zero, none above its whole. */
static bool limits_ok(const struct ps_router_config *c)
{
	return c->max_pending_per_peer >= 1 && c->max_pending_per_peer <= c->max_pending_per_uid &&
	       c->max_pending_per_uid <= c->max_pending && c->max_identity_connections >= 1 &&
	       c->max_subscriptions >= 1 && c->max_identity_subscriptions >= 1 && c->max_partial_bytes >= 1 &&
	       c->max_identity_partial_bytes >= 1;
}

/* The first message must be the configuration, and its values must make sense. */
static int read_config(struct ps_router_config *cfg)
{
	_cleanup_free_ uint8_t *buf = malloc(PS_MSG_MAX);
	struct ps_msg msg;
	const char *reason = NULL;

	if (!buf)
		return -ENOMEM;
	int ret = ps_read(ROUTER_CHANNEL_FD, PS_TO_ROUTER, buf, &msg);
	if (ret < 0 || ret == PS_EOF) {
		log_event(LOG_LEVEL_ERROR, "parent_gone", "error=%s", ret == PS_EOF ? "eof" : LOG_Q(strerror(-ret)));
		return -EPIPE;
	}
	if (ret == PS_MALFORMED)
		reason = msg.reason;
	else if (msg.type != PS_ROUTER_CONFIG)
		reason = "expected_router_config";
	else if (msg.u.router_config.log_level > LOG_LEVEL_ERROR || msg.u.router_config.uid == 0 ||
		 msg.u.router_config.gid == 0 || !limits_ok(&msg.u.router_config))
		reason = "bad_value";
	if (reason) {
		log_event(LOG_LEVEL_ERROR, "privsep_malformed", "type=%u name=%s size=%u reason=%s", msg.type,
			  ps_type_name(msg.type), msg.size, reason);
		ps_msg_wipe(&msg);
		return -EBADMSG;
	}
	*cfg = msg.u.router_config;
	ps_msg_wipe(&msg);
	return 0;
}

int main(int argc, char **argv)
{
	struct ps_router_config cfg;

	(void)argv;
	log_setup(LOG_LEVEL_INFO, "router");
	if (argc != 1 || !started_by_parent()) {
		fputs("capbusd-router: this program is started by capbusd, which passes the listening bus socket as\n"
		      "fd 3 and its privsep channel (a unix SOCK_SEQPACKET socket) as fd 4; it cannot run on its own.\n"
		      "Start capbusd instead (see capbusd(8)).\n",
		      stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Big buffers (a frame being read, a queued message) come from their own mappings and go
	 * back to the kernel when freed. glibc otherwise raises this threshold after the first big
	 * free, and later ones stay in the heap: closed connections that held partial frames would
	 * leave the router that much larger. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	/* Before the seccomp filter: libsodium may open /dev/urandom once here. */
	if (sodium_init() < 0) {
		log_event(LOG_LEVEL_ERROR, "router_setup_failed", "reason=\"libsodium failed to initialise\"");
		return 1;
	}
	if (read_config(&cfg) < 0)
		return 1;
	return router_main(&cfg, ROUTER_LISTEN_FD, ROUTER_CHANNEL_FD);
}
