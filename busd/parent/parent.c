// SPDX-License-Identifier: MIT
/* parent.c - privileged parent: owns the socket, keys and policy files; parses no unsigned client bytes.
 *
 * It binds the socket, executes the router program (capbusd-router, which drops privileges and
 * does all parsing) with the socket and a privsep channel, sends it its configuration and policy
 * bundles, answers its fixed set of requests (admin operations go to admin.c, which checks the
 * admin's authority first), restarts it if it dies or breaks the channel protocol, and stops it
 * on SIGTERM. */
#include "parent/parent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "parent/admin.h"
#include "parent/bundle.h"
#include "parent/gatewayproc.h"
#include "parent/guardctl.h"
#include "keyfile.h"
#include "parent/keys.h"
#include "parent/listener.h"
#include "parent/outring.h"
#include "parent/routerproc.h"
#include "common/privsep.h"
#include "parent/supervisor.h"
#include "trace.h"

#define ROUTER_RESTART_WINDOW_MS 60000
#define ROUTER_RESTART_MAX 5

struct parent {
	struct config *cfg;
	struct guardctl *guard;
	struct listener listener;
	uint8_t *master;
	int sig_fd;
	int router_fd;
	pid_t router_pid;
	struct router_proc router;
	uint64_t restart_window_start;
	unsigned restarts;
	struct supervisor *supervisor;
	struct admin *admin;
	struct gatewayproc *gateway; /* NULL unless a "gateway" object with supervise true */
	bool router_lost;     /* the channel is shut down, waiting to be closed by the main loop */
	bool router_is_ready; /* it sent router_ready: confined, serving */
};

/* A router that breaks the channel protocol is not trusted any more: kill it; SIGCHLD then
 * restarts it (within the restart limit). */
static void drop_router(struct parent *p)
{
	kill(p->router_pid, SIGKILL);
	close(TAKE_FD(p->router_fd));
}

/* A send to the router failed: it is gone, or it stopped reading (the channel's send timeout,
 * routerproc.c). Either way it is dropped, never waited for. Callers may be deep in a reload or
 * an admin request that still holds the descriptor's number, so it is shut down here, not
 * closed: every later send fails at once, and the main loop closes it (EOF, or the router's
 * SIGCHLD). */
static void router_lost(struct parent *p, int r)
{
	if (p->router_fd < 0 || p->router_lost)
		return;
	p->router_lost = true;
	log_event(LOG_LEVEL_ERROR, "router_channel", "error=%s pid=%d",
		  r == -EAGAIN ? "\"send timed out: the router does not read\"" : LOG_Q(strerror(-r)), (int)p->router_pid);
	kill(p->router_pid, SIGKILL);
	shutdown(p->router_fd, SHUT_RDWR);
}

static int adopt_skill(void *userdata, const char *id, pid_t pid, uid_t uid, int fd)
{
	struct parent *p = userdata;
	struct ps_adopt a = { .pid = pid, .uid = uid };
	int r = -EPIPE;

	snprintf(a.id, sizeof(a.id), "%s", id);
	if (p->router_fd >= 0 && (r = ps_send_fd(p->router_fd, PS_ADOPT, &a, sizeof(a), fd)) < 0)
		router_lost(p, r);
	close(fd);
	return r;
}

static void skill_state(void *userdata, const struct ps_skill_state *st)
{
	struct parent *p = userdata;
	int r;

	if (p->router_fd >= 0 && (r = ps_send(p->router_fd, PS_SKILL_STATE, st, sizeof(*st), NULL, 0)) < 0)
		router_lost(p, r);
}

/* Policy changed on disk: tell the router, then bring the skills in line. A router that cannot
 * take the bundle is dropped (and restarted with the new policy); the daemon goes on. */
static int reload(struct parent *p)
{
	int r = p->router_fd >= 0 ? bundle_send(p->router_fd, p->cfg, p->master) : 0;
	if (r < 0)
		router_lost(p, r);
	STARTUP_TRACE("bundle sent");
	if (p->supervisor)
		supervisor_sync(p->supervisor);
	return r;
}

/* The state directory holds the master key: ours, a directory, private. */
static int prepare_state_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	if (lstat(dir, &st) < 0)
		return negative_errno();
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
		return -EPERM;
	return 0;
}

/* Who may open delegated sessions: off without a "gateway" object; any holder of the gateway's
 * key with gateway.supervise false; else only the gateway capbusd supervises, named by its
 * cgroup and uid while it runs (between runs cgroup 0 matches no peer: AUTH_D is refused). */
static int send_gateway_peer(struct parent *p)
{
	struct ps_gateway_peer gp = { .mode = !p->cfg->gateway ? PS_DELEGATION_OFF :
					       p->cfg->gateway_supervise ? PS_DELEGATION_SUPERVISED : PS_DELEGATION_ANY };

	if (p->gateway)
		gatewayproc_peer(p->gateway, &gp);
	return ps_send(p->router_fd, PS_GATEWAY_PEER, &gp, sizeof(gp), NULL, 0);
}

/* Executes the router and sends what it needs first: configuration, peer policy, delegation, a
 * bundle. */
static int spawn_router(struct parent *p)
{
	int r = router_proc_spawn(&p->router, p->listener.fd, &p->router_fd, &p->router_pid);
	if (r < 0)
		return r;
	p->router_lost = false;
	p->router_is_ready = false;
	log_event(LOG_LEVEL_INFO, "router_started", "pid=%d program=%s", (int)p->router_pid, LOG_Q(p->router.path));
	/* The configuration goes first: the router reads nothing else before it. */
	r = ps_send(p->router_fd, PS_ROUTER_CONFIG, &p->router.cfg, sizeof(p->router.cfg), NULL, 0);
	struct ps_peer_policy pp = { .check = guardctl_enabled(p->guard) };
	if (r == 0)
		r = ps_send(p->router_fd, PS_PEER_POLICY, &pp, sizeof(pp), NULL, 0);
	if (r == 0)
		r = send_gateway_peer(p);
	if (r == 0)
		r = bundle_send(p->router_fd, p->cfg, p->master);
	if (r < 0)
		router_lost(p, r);
	return 0;
}

static int reload_cb(void *userdata)
{
	return reload(userdata);
}

static int reply(struct parent *p, const struct ps_request *req, int status)
{
	struct ps_reply rep = { .serial = req->serial, .status = status };

	memcpy(rep.id, req->id, sizeof(rep.id));
	return ps_send(p->router_fd, PS_REPLY, &rep, sizeof(rep), NULL, 0);
}

/* `capbus logs`: read-only, like the guard query; the text is the skill's own escaped output. */
static int answer_logs(struct parent *p, const struct ps_logs_query *q)
{
	static const uint8_t zero_pad[sizeof(q->pad)];
	struct ps_logs ans = { .serial = q->serial };
	struct outring_answer ra;
	size_t len = 0;

	if (memcmp(q->pad, zero_pad, sizeof(zero_pad)) != 0)
		return -EBADMSG;
	_cleanup_free_ char *text = malloc(PS_TEXT_MAX);
	if (!text)
		return -ENOMEM;
	ans.status = p->supervisor ? supervisor_logs(p->supervisor, q->id, q->cursor, text, PS_TEXT_MAX, &ra, &len) : -ENOENT;
	if (ans.status == 0) {
		ans.n_lines = ra.n_lines;
		ans.first = ra.first;
		ans.next = ra.next;
		ans.dropped = ra.dropped;
		ans.more = ra.more;
	}
	return ps_send(p->router_fd, PS_LOGS, &ans, sizeof(ans), text, len);
}

/* One request from the router, already checked by the privsep decoder (type, direction, size,
 * descriptors, terminated id). */
static int handle_request(struct parent *p, const struct ps_msg *msg)
{
	const struct ps_request *req = &msg->u.request;

	/* The router says it is confined before it asks for anything, and says so once. */
	if (msg->type == PS_ROUTER_READY ? p->router_is_ready : !p->router_is_ready)
		return -EPROTO;
	switch (msg->type) {
	case PS_PEER_CHECK: {
		const struct ps_peer_check *pc = &msg->u.peer_check;
		struct ps_peer_verdict v = { .serial = pc->serial,
					     .allowed = guardctl_peer_allowed(p->guard, pc->uid, pc->pid, pc->cgroup_id) };
		return ps_send(p->router_fd, PS_PEER_VERDICT, &v, sizeof(v), NULL, 0);
	}
	case PS_GUARD_QUERY: {
		struct ps_guard_info info = { 0 };
		guardctl_info(p->guard, &info);
		info.serial = req->serial;
		return ps_send(p->router_fd, PS_GUARD_INFO, &info, sizeof(info), NULL, 0);
	}
	case PS_ROUTER_READY:
		p->router_is_ready = true;
		log_event(LOG_LEVEL_INFO, "router_ready", "pid=%d", (int)p->router_pid);
		return 0;
	case PS_RELOAD:
		return reply(p, req, reload(p));
	case PS_LOGS_QUERY:
		return answer_logs(p, &msg->u.logs_query);
	default: {
		/* Admin operations: checked for the admin's authority before anything is parsed. */
		int r = admin_handle(p->admin, p->router_fd, msg);
		return r == ADMIN_NOT_MINE ? -EBADMSG : r; /* the decoder lets only router -> parent types through */
	}
	}
	return 0;
}

static void router_readable(struct parent *p, uint8_t *buf)
{
	struct ps_msg msg;
	int r = ps_read(p->router_fd, PS_TO_PARENT, buf, &msg);

	if (r == PS_MALFORMED) {
		log_event(LOG_LEVEL_ERROR, "privsep_malformed", "type=%u name=%s size=%u reason=%s pid=%d", msg.type,
			  ps_type_name(msg.type), msg.size, msg.reason, (int)p->router_pid);
		drop_router(p);
		return;
	}
	if (r == PS_EOF || r < 0) {
		if (!p->router_lost) /* else router_lost() said why */
			log_event(LOG_LEVEL_ERROR, "router_channel", "error=%s", r == PS_EOF ? "eof" : LOG_Q(strerror(-r)));
		drop_router(p);
		return;
	}
	r = handle_request(p, &msg);
	/* Passed the table, failed a check only the handler can make: admin.c's (how the text
	 * splits, padding, the operation), or the order (router_ready first, once). Malformed all
	 * the same. */
	bool malformed = r == -EBADMSG || r == -EPROTO;
	if (malformed)
		log_event(LOG_LEVEL_ERROR, "privsep_malformed", "type=%u name=%s size=%u reason=%s pid=%d", msg.type,
			  ps_type_name(msg.type), msg.size, r == -EPROTO ? "out_of_order" : "bad_fields", (int)p->router_pid);
	ps_msg_wipe(&msg);
	if (malformed)
		drop_router(p);
	else if (r < 0)
		router_lost(p, r); /* an answer could not be sent */
}

static void stop_router(struct parent *p)
{
	if (p->router_pid <= 0)
		return;
	kill(p->router_pid, SIGTERM);
	waitpid(p->router_pid, NULL, 0);
	p->router_pid = 0;
	if (p->router_fd >= 0)
		close(TAKE_FD(p->router_fd));
}

/* The router died: a bug or an attack. Restart it unless that keeps happening. */
static int router_died(struct parent *p, int status)
{
	uint64_t now = monotonic_ms();

	if (WIFSIGNALED(status))
		log_event(LOG_LEVEL_ERROR, "router_died", "signal=%d", WTERMSIG(status));
	else
		log_event(LOG_LEVEL_ERROR, "router_died", "exit=%d", WEXITSTATUS(status));
	p->router_pid = 0;
	if (p->router_fd >= 0)
		close(TAKE_FD(p->router_fd));
	if (now - p->restart_window_start > ROUTER_RESTART_WINDOW_MS) {
		p->restart_window_start = now;
		p->restarts = 0;
	}
	if (++p->restarts > ROUTER_RESTART_MAX) {
		log_event(LOG_LEVEL_ERROR, "router_restart_limit", "restarts=%u window_ms=%u", p->restarts,
			  ROUTER_RESTART_WINDOW_MS);
		return -ECHILD;
	}
	int r = spawn_router(p);
	if (r == 0 && p->supervisor)
		supervisor_report_all(p->supervisor);
	return r;
}

static int handle_signal(struct parent *p, bool *stop)
{
	struct signalfd_siginfo si;

	if (read(p->sig_fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	switch (si.ssi_signo) {
	case SIGTERM:
	case SIGINT:
		log_event(LOG_LEVEL_INFO, "stopping", "signal=%u", si.ssi_signo);
		*stop = true;
		return 0;
	case SIGHUP:
		STARTUP_TRACE("SIGHUP");
		log_event(LOG_LEVEL_INFO, "reload", "reason=SIGHUP");
		if (p->cfg->path) {
			char *error = NULL;
			int r = config_reload_guard(p->cfg->path, &p->cfg->guard, &error);
			if (r == 0)
				r = guardctl_apply(p->guard, &p->cfg->guard);
			if (r != 0)
				log_event(LOG_LEVEL_ERROR, "guard_reload_failed", "error=%s",
					  LOG_Q(error ? error : strerror(-r)));
			free(error);
		}
		reload(p); /* a router that cannot take the new policy is dropped and restarted */
		if (p->gateway)
			gatewayproc_retry(p->gateway);
		return 0;
	case SIGCHLD: {
		int status;
		pid_t pid;
		/* Only the router: skills are reaped through their pidfds by the supervisor. */
		if (p->router_pid > 0 && (pid = waitpid(p->router_pid, &status, WNOHANG)) == p->router_pid)
			return router_died(p, status);
		return 0;
	}
	default:
		return 0;
	}
}

/* the signal, the router, the guard's events, the gateway's pidfd and output, and per skill its
 * pidfd and two output pipes */
#define POLL_MAX (5 + 3 * 256)

static int parent_loop(struct parent *p)
{
	_cleanup_free_ uint8_t *buf = malloc(PS_MSG_MAX);
	bool stop = false;

	if (!buf)
		return -ENOMEM;
	while (!stop) {
		struct pollfd fds[POLL_MAX] = { { .fd = p->sig_fd, .events = POLLIN }, { .fd = p->router_fd, .events = POLLIN },
						{ .fd = guardctl_events_fd(p->guard), .events = POLLIN } };
		int timeout = -1;
		size_t n_gw = p->gateway ? gatewayproc_pollfds(p->gateway, fds + 3, 2, &timeout) : 0;
		size_t n_skill = p->supervisor ? supervisor_pollfds(p->supervisor, fds + 3 + n_gw, POLL_MAX - 3 - n_gw, &timeout) : 0;
		int n = poll(fds, 3 + n_gw + n_skill, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (fds[0].revents & POLLIN) {
			int r = handle_signal(p, &stop);
			if (r < 0)
				return r;
			continue;
		}
		if (fds[2].revents)
			guardctl_dispatch(p->guard);
		if (p->router_fd >= 0 && fds[1].revents)
			router_readable(p, buf);
		if (p->gateway && gatewayproc_dispatch(p->gateway, fds + 3, n_gw) && p->router_fd >= 0) {
			int r = send_gateway_peer(p);
			if (r < 0)
				router_lost(p, r);
		}
		if (p->supervisor)
			supervisor_dispatch(p->supervisor, fds + 3 + n_gw, n_skill);
	}
	return 0;
}

static const char *listener_error(int r)
{
	switch (r) {
	case LISTENER_IN_USE:
		return "another capbusd is already serving this socket; stop it first or pick another \"socket\"";
	case LISTENER_NAME_TAKEN:
		return "the abstract name is in use: another capbusd is already serving it, or another program took it; pick another \"socket\"";
	case LISTENER_UNSAFE_DIR:
		return "the socket's directory must be a real directory owned by this user and not writable by others";
	case LISTENER_NOT_SOCKET:
		return "the socket path exists and is not a socket; remove it or pick another \"socket\"";
	default:
		return strerror(-r);
	}
}

int parent_run(struct config *cfg, const char *router_override)
{
	struct parent p = { .cfg = cfg, .sig_fd = -1, .router_fd = -1, .listener = { .fd = -1, .lock_fd = -1 } };
	sigset_t mask;
	int r;

	if (sodium_init() < 0) {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "reason=\"libsodium failed to initialise\"");
		return 1;
	}
	r = prepare_state_dir(cfg->state_dir);
	if (r < 0) {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "state_dir=%s reason=%s", LOG_Q(cfg->state_dir),
			  r == -EPERM ? "\"must be a directory owned by this user, not writable by others\"" : LOG_Q(strerror(-r)));
		return 1;
	}
	r = router_proc_prepare(&p.router, cfg, router_override);
	if (r != 0) {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "router=%s user=%s reason=%s", LOG_Q(p.router.path),
			  LOG_Q(cfg->user), r > 0 ? "\"the router must not run as root\"" : LOG_Q(strerror(-r)));
		return 1;
	}
	if (p.router.user_missing)
		log_event(LOG_LEVEL_WARNING, "router_user_missing", "user=%s fallback=nobody", LOG_Q(cfg->user));
	r = listener_open(cfg->socket, cfg->socket_mode, &p.listener);
	if (r != 0) {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "socket=%s reason=%s", LOG_Q(cfg->socket), LOG_Q(listener_error(r)));
		return 1;
	}
	const char *why = NULL;
	r = guardctl_new(cfg, &p.guard, &why);
	if (r < 0) {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "reason=%s", LOG_Q(why ? why : strerror(-r)));
		listener_close(&p.listener, true);
		guardctl_free(p.guard);
		return 1;
	}
	r = keys_load_master(-1, cfg->state_dir, &p.master);
	if (r != 0) {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "file=%s/master.key reason=%s", cfg->state_dir,
			  LOG_Q(r < 0 ? strerror(-r) : keyfile_strerror(r)));
		listener_close(&p.listener, true);
		guardctl_free(p.guard);
		return 1;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	p.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	struct admin_ops admin_ops = { .reload = reload_cb, .userdata = &p };
	r = admin_new(cfg, p.master, &admin_ops, &p.admin);
	if (r == 0)
		r = p.sig_fd < 0 ? negative_errno() : spawn_router(&p);
	if (r == 0) {
		r = keys_write_admin(p.master, cfg->state_dir);
		if (r > 0) {
			/* It holds the admin authority key: one that others may read, or that is not
			 * what we wrote, is refused like the master key, never served around. */
			log_event(LOG_LEVEL_ERROR, "startup_failed", "file=%s/admin.key reason=%s", cfg->state_dir,
				  LOG_Q(keyfile_strerror(r)));
			r = -EPERM;
		}
	}
	if (r == 0) {
		struct supervisor_ops ops = { .adopt = adopt_skill, .state = skill_state, .userdata = &p };
		r = supervisor_new(cfg, p.master, p.guard, &ops, &p.supervisor);
		if (r == 0)
			supervisor_sync(p.supervisor);
	}
	/* After the skills' leftover cgroups were reclaimed (the gateway's leaf shares their prefix). */
	if (r == 0 && cfg->gateway && cfg->gateway_supervise) {
		r = gatewayproc_new(cfg, p.master, p.guard, &p.gateway);
		if (r == 0 && (r = gatewayproc_start(p.gateway)) == 0 && p.router_fd >= 0 && send_gateway_peer(&p) < 0)
			router_lost(&p, -EPIPE);
	} else if (r == 0 && cfg->gateway_exec) {
		log_event(LOG_LEVEL_WARNING, "gateway_not_supervised", "program=%s reason=\"no gateway object with supervise true\"",
			  LOG_Q(cfg->gateway_exec));
	}
	if (r == 0) {
		log_event(LOG_LEVEL_INFO, "ready", "socket=%s state_dir=%s delegation=%s", LOG_Q(cfg->socket),
			  LOG_Q(cfg->state_dir), !cfg->gateway ? "off" : cfg->gateway_supervise ? "supervised" : "any");
		r = parent_loop(&p);
	} else {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "reason=%s", LOG_Q(strerror(-r)));
	}
	gatewayproc_free(p.gateway);
	supervisor_free(p.supervisor);
	stop_router(&p);
	admin_free(p.admin);
	listener_close(&p.listener, true);
	guardctl_free(p.guard);
	keys_free_master(p.master);
	if (p.sig_fd >= 0)
		close(p.sig_fd);
	return r < 0 ? 1 : 0;
}
