// SPDX-License-Identifier: MIT
/* gatewayproc.c - capbusd's parent runs capbus-gateway: sandboxed, supervised, restarted.
 *
 * Privileged. What crosses into the sandbox is fixed: sealed memfds of the configuration file,
 * the gateway's own key (derived from the master key, never a client's) and the TLS files, read
 * here as root. The gateway's output comes back through a pipe and is logged line by line as
 * untrusted text. */
#include "parent/gatewayproc.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cgroupfs.h"
#include "common/log.h"
#include "guard.h"
#include "gwconfig.h"
#include "launch.h"
#include "parent/guardctl.h"
#include "parent/keys.h"
#include "pidfd-util.h"
#include "regfile.h"
#include "sandbox.h"

#ifndef CAPBUS_GATEWAY_PATH
#define CAPBUS_GATEWAY_PATH "/usr/libexec/capbus/capbus-gateway"
#endif

#define GW_BACKOFF_FIRST_MS 500
#define GW_BACKOFF_MAX_MS 30000
#define GW_CRASH_WINDOW_MS 60000
#define GW_CRASHES_BEFORE_FAILED 5
#define GW_STOP_GRACE_MS 5000
#define GW_TLS_FILE_MAX (1024 * 1024)
#define GW_OUT_LINE_MAX 1024
#define GW_INGRESS_LOG_MS 60000

struct gatewayproc {
	const struct config *cfg;
	const struct gw_config *gw;
	const uint8_t *master;
	struct guardctl *guard;
	char exec[PATH_MAX];
	char cgroup[64];
	char tokens_dir[512];
	uid_t uid;
	struct sandbox_plan *plan;
	struct ingress *ingress[GW_LISTEN_MAX];
	size_t n_ingress;
	pid_t pid;
	int pidfd, out_r;
	uint64_t cgroup_id;      /* of the running gateway's leaf; 0 when none runs */
	uint64_t next_start_ms;  /* 0: no start planned */
	uint64_t window_start_ms;
	unsigned crashes;
	bool failed;
	uint64_t next_stats_ms;  /* the ingress counters are logged when they changed, once a minute */
	struct ingress_stats logged;
	char line[GW_OUT_LINE_MAX];
	size_t line_len;
};

/* The program: capbusd --gateway PATH (tests), else the one built next to a capbusd run from its
 * build tree, else the installed one. */
static void pick_exec(const struct config *cfg, char *out, size_t size)
{
	if (cfg->gateway_exec) {
		snprintf(out, size, "%s", cfg->gateway_exec);
		return;
	}
#if defined(CAPBUS_BUILD_BUSD_DIR) && defined(CAPBUS_GATEWAY_BUILD_PATH)
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (streq(dirname(self), CAPBUS_BUILD_BUSD_DIR) && access(CAPBUS_GATEWAY_BUILD_PATH, X_OK) == 0) {
			snprintf(out, size, "%s", CAPBUS_GATEWAY_BUILD_PATH);
			return;
		}
	}
#endif
	snprintf(out, size, "%s", CAPBUS_GATEWAY_PATH);
}

int gatewayproc_new(const struct config *cfg, const uint8_t *master, struct guardctl *guard, struct gatewayproc **out)
{
	struct gatewayproc *g = calloc(1, sizeof(*g));
	uint8_t h[4];

	if (!g)
		return -ENOMEM;
	g->cfg = cfg;
	g->gw = cfg->gw;
	g->master = master;
	g->guard = guard;
	pick_exec(cfg, g->exec, sizeof(g->exec));
	g->pidfd = g->out_r = -1;
	/* Named like the skills' leaves (supervisor.c), so a daemon killed with -9 reclaims it. */
	crypto_generichash(h, sizeof(h), (const uint8_t *)cfg->state_dir, strlen(cfg->state_dir), NULL, 0);
	snprintf(g->cgroup, sizeof(g->cgroup), "capbus-%02x%02x%02x%02x-gateway", h[0], h[1], h[2], h[3]);
	snprintf(g->tokens_dir, sizeof(g->tokens_dir), "%s/gateway", cfg->state_dir);
	g->uid = launch_default_uid(HS_GATEWAY_ID, 0);
	*out = g;
	return 0;
}

/* A sealed read-only memfd holding len bytes of data. */
static int sealed_memfd(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return negative_errno();
	if ((len && write(fd, data, len) != (ssize_t)len) || fchmod(fd, 0400) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0) { /* a plain read() in the gateway starts at the beginning */
		int r = negative_errno();
		close(fd);
		return r < 0 ? r : -EIO;
	}
	return fd;
}

/* A file of root's, read into a memfd; private says it holds a secret (the TLS key): then it must
 * be root's and not readable by group or others, as key files are. */
static int file_memfd(const char *path, bool private, const char **why)
{
	_cleanup_free_ char *buf = malloc(GW_TLS_FILE_MAX + 1);
	struct stat st;

	if (!buf)
		return -ENOMEM;
	ssize_t n = regfile_read(AT_FDCWD, path, REGFILE_FOLLOW, GW_TLS_FILE_MAX, buf, &st);
	if (n < 0) {
		*why = "cannot be read";
		return (int)n;
	}
	if (private && (st.st_uid != geteuid() || (st.st_mode & 0077))) {
		sodium_memzero(buf, (size_t)n);
		*why = "must be owned by root with mode 0600";
		return -EPERM;
	}
	int fd = sealed_memfd("capbus-gateway-tls", buf, (size_t)n);
	sodium_memzero(buf, (size_t)n);
	return fd;
}

/* `gateway_ingress dropped=N unparsed=N`: the allow_from programs' counters of this run, when
 * they moved since the last line (or always, at the end of a run). */
static void log_ingress(struct gatewayproc *g, bool final)
{
	struct ingress_stats sum = { 0 };

	if (!g->n_ingress)
		return;
	for (size_t i = 0; i < g->n_ingress; i++) {
		struct ingress_stats st;
		if (ingress_get_stats(g->ingress[i], &st) == 0) {
			sum.dropped += st.dropped;
			sum.unparsed += st.unparsed;
		}
	}
	if (final || sum.dropped != g->logged.dropped || sum.unparsed != g->logged.unparsed)
		log_event(LOG_LEVEL_INFO, "gateway_ingress", "dropped=%llu unparsed=%llu", (unsigned long long)sum.dropped,
			  (unsigned long long)sum.unparsed);
	g->logged = final ? (struct ingress_stats){ 0 } : sum;
}

static void free_ingress(struct gatewayproc *g)
{
	log_ingress(g, true);
	for (size_t i = 0; i < g->n_ingress; i++)
		ingress_free(g->ingress[i]);
	g->n_ingress = 0;
}

static void add_net(struct ingress_net *nets, size_t *n, const struct gw_net *gn)
{
	struct ingress_net *in = &nets[(*n)++];

	memset(in, 0, sizeof(*in));
	in->family = gn->family == AF_INET ? 4 : 6;
	in->prefix_len = gn->prefix;
	memcpy(gn->family == AF_INET ? (void *)&in->addr.v4 : (void *)&in->addr.v6, gn->addr, gn->family == AF_INET ? 4 : 16);
}

/* gateway.allow_from on the new leaf, one program per distinct listening port, before anything
 * runs in it: the listener is created inside the leaf, so its SYNs are judged by them. */
static int attach_ingress(struct gatewayproc *g)
{
	const struct gw_config *c = g->gw;
	struct ingress_net nets[GW_NETS_MAX + 2];
	size_t n = 0;
	bool loopback = false;

	if (c->n_allow_from == 0)
		return 0;
	for (size_t i = 0; i < c->n_allow_from; i++)
		add_net(nets, &n, &c->allow_from[i]);
	for (size_t i = 0; i < c->n_listen; i++)
		loopback |= c->listen[i].loopback;
	/* Local services reach a loopback listener from loopback; martian filtering keeps remote
	 * senders out of 127/8 and ::1. */
	if (loopback) {
		struct gw_net lo4, lo6;
		gw_net_parse("127.0.0.0/8", &lo4);
		gw_net_parse("::1/128", &lo6);
		add_net(nets, &n, &lo4);
		add_net(nets, &n, &lo6);
	}
	const char *leaf = sandbox_plan_cgroup_path(g->plan, NULL);
	if (!leaf)
		return -ENOENT;
	_cleanup_close_ int fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	for (size_t i = 0; i < c->n_listen; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= c->listen[j].port == c->listen[i].port;
		if (seen)
			continue;
		int r = ingress_attach(&g->ingress[g->n_ingress], fd, c->listen[i].port, nets, n);
		if (r < 0)
			return r;
		g->n_ingress++;
	}
	if (loopback)
		log_event(LOG_LEVEL_INFO, "gateway_allow_from_loopback_added", "nets=\"127.0.0.0/8 ::1/128\"");
	return 0;
}

static void drop_run(struct gatewayproc *g)
{
	free_ingress(g);
	sandbox_plan_free(g->plan);
	g->plan = NULL;
	if (g->out_r >= 0)
		close(TAKE_FD(g->out_r));
	g->line_len = 0;
	if (g->cgroup_id)
		guardctl_set_gateway(g->guard, 0);
	g->cgroup_id = 0;
	g->pid = 0;
}

/* One start: memfds, a fresh leaf with the allow-list on it, the spawn. Fatal (the daemon
 * stops at start-up) is only what a restart cannot cure: see gatewayproc_start(). */
static int start(struct gatewayproc *g, bool *fatal)
{
	const struct gw_config *c = g->gw;
	_cleanup_free_ char *text = malloc(256 * 1024 + 1);
	int fds[4] = { -1, -1, -1, -1 }, out[2] = { -1, -1 };
	const char *why = NULL, *step = "files";
	size_t n_fds = c->has_tls ? 4 : 2;
	int r;

	*fatal = false;
	if (!text)
		return -ENOMEM;
	/* fd 3: capbusd's configuration as it was validated; the gateway reads "gateway" and the
	 * daemon-wide values from it. */
	ssize_t len = g->cfg->path ? regfile_read(AT_FDCWD, g->cfg->path, REGFILE_FOLLOW, 256 * 1024, text, NULL) : -ENOENT;
	r = len < 0 ? (int)len : (fds[0] = sealed_memfd("capbus-gateway-config", text, (size_t)len));
	if (r >= 0) {
		uint8_t key[CAPBUS_KEY_LEN];
		keys_derive(g->master, HS_GATEWAY_ID, key);
		r = fds[1] = launch_key_memfd(HS_GATEWAY_ID, key);
		sodium_memzero(key, sizeof(key));
	}
	if (r >= 0 && c->has_tls) {
		r = fds[2] = file_memfd(c->tls_cert, false, &why);
		if (r < 0)
			why = why ? why : "cannot be read", step = "tls.cert";
		else if ((r = fds[3] = file_memfd(c->tls_key, true, &why)) < 0)
			step = "tls.key";
		*fatal = r == -EPERM;
	}
	if (r >= 0 && pipe2(out, O_CLOEXEC) < 0)
		r = negative_errno();
	/* The token store's directory exists from the first start, as admin.c makes it (root, the
	 * gateway's group, 0750): it is bound into the sandbox only if it exists then, and tokens
	 * issued later must reach the running gateway. The sandbox's uid must traverse (not list)
	 * the state directory to reach it, as skills do (supervisor.c): 0711. */
	if (r >= 0) {
		step = "tokens";
		if (chmod(g->cfg->state_dir, 0711) < 0 || (mkdir(g->tokens_dir, 0750) < 0 && errno != EEXIST))
			r = negative_errno();
		else if (chown(g->tokens_dir, 0, (gid_t)g->uid) < 0 || chmod(g->tokens_dir, 0750) < 0)
			r = negative_errno();
	}
	char v2[256];
	bool have_v2 = cgroup_v2_mount(v2, sizeof(v2)) == 0;
	if (r >= 0) {
		step = "plan";
		struct launch_gateway_params lp = {
			.exec = g->exec, .uid = g->uid, .cgroup_name = g->cgroup,
			.read_paths = { g->tokens_dir, NULL },
			.fds = { fds[0], fds[1], fds[2], fds[3] }, .n_fds = n_fds, .stderr_fd = out[1],
			.max_connections = c->max_connections, .cgroup_v2 = have_v2 ? v2 : NULL,
		};
		(void)sandbox_cgroup_reclaim(g->cgroup); /* left by a daemon killed with -9 */
		r = launch_gateway_plan(&lp, &g->plan);
	}
	if (r >= 0 && g->cfg->kernel_guard != KERNEL_GUARD_OFF && c->n_allow_from) {
		step = "allow_from";
		r = attach_ingress(g);
		if (r < 0 && g->cfg->kernel_guard == KERNEL_GUARD_REQUIRED) {
			*fatal = true;
		} else if (r < 0) {
			log_event(LOG_LEVEL_WARNING, "gateway_allow_from_unenforced", "error=%s", LOG_Q(strerror(-r)));
			free_ingress(g);
			r = 0;
		}
	}
	if (r >= 0) {
		const char *leaf = sandbox_plan_cgroup_path(g->plan, NULL);
		step = "cgroup";
		r = leaf ? cgroup_id_of_path(leaf, &g->cgroup_id) : -ENOENT;
	}
	if (r >= 0) {
		/* Before it runs: its first connect to the bus must pass the guard. */
		step = "guard";
		r = guardctl_set_gateway(g->guard, g->cgroup_id);
	}
	if (r >= 0) {
		step = "spawn";
		r = sandbox_spawn(g->plan, &g->pid, &g->pidfd);
		if (r < 0 && sandbox_plan_failed_step(g->plan))
			step = sandbox_plan_failed_step(g->plan);
	}
	for (size_t i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (out[1] >= 0)
		close(out[1]);
	g->out_r = out[0];
	if (r < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_start_failed", "step=%s error=%s%s%s", LOG_Q(step), LOG_Q(strerror(-r)),
			  why ? " reason=" : "", why ? LOG_Q(why) : "");
		drop_run(g);
		return r;
	}
	fcntl(g->out_r, F_SETFL, O_NONBLOCK);
	for (size_t i = 0; i < c->n_listen; i++)
		if (!c->listen[i].tls)
			log_event(LOG_LEVEL_WARNING, "gateway_plain_loopback", "listen=%s:%u", LOG_Q(c->listen[i].addr),
				  c->listen[i].port);
	log_event(LOG_LEVEL_INFO, "gateway_started", "pid=%d uid=%u cgroup=%s cgroup_id=%llu program=%s allow_from=%zu",
		  (int)g->pid, (unsigned)g->uid, LOG_Q(g->cgroup), (unsigned long long)g->cgroup_id, LOG_Q(g->exec),
		  g->n_ingress ? c->n_allow_from : 0);
	return 0;
}

static void plan_restart(struct gatewayproc *g, uint64_t now)
{
	if (now - g->window_start_ms > GW_CRASH_WINDOW_MS) {
		g->window_start_ms = now;
		g->crashes = 0;
	}
	if (++g->crashes > GW_CRASHES_BEFORE_FAILED) {
		log_event(LOG_LEVEL_ERROR, "gateway_failed", "exits=%u window_ms=%u", g->crashes, GW_CRASH_WINDOW_MS);
		g->failed = true;
		g->next_start_ms = 0;
		return;
	}
	uint64_t delay = (uint64_t)GW_BACKOFF_FIRST_MS << (g->crashes - 1);
	if (delay > GW_BACKOFF_MAX_MS)
		delay = GW_BACKOFF_MAX_MS;
	g->next_start_ms = now + delay;
	log_event(LOG_LEVEL_INFO, "gateway_restart_planned", "backoff_ms=%llu", (unsigned long long)delay);
}

/* Configurations that start but cannot serve, said once at start-up with what to do. */
static void warn_config(const struct gatewayproc *g)
{
	/* The sandbox shows the gateway no host directory but /usr, its token store and the cgroup
	 * tree (its /tmp and /run are its own), and a path socket is root's, mode 0600 or 0660,
	 * while the gateway runs as a sandbox uid: only an abstract socket reaches it. */
	if (g->cfg->socket && g->cfg->socket[0] != '@')
		log_event(LOG_LEVEL_WARNING, "gateway_socket_unreachable", "socket=%s hint=%s", LOG_Q(g->cfg->socket),
			  LOG_Q("the sandboxed gateway cannot reach a filesystem socket and every WebSocket session "
				"will fail (gateway_bus_unreachable): set \"socket\" to an abstract name such as "
				"\"@capbus\""));
	/* gateway.user is for a gateway started by hand as root (capbus-gateway(8)). */
	if (g->gw->user[0])
		log_event(LOG_LEVEL_WARNING, "gateway_user_ignored", "user=%s uid=%u hint=%s", LOG_Q(g->gw->user),
			  (unsigned)g->uid,
			  LOG_Q("a supervised gateway always runs as its sandbox uid; gateway.user applies only to "
				"capbus-gateway started by hand as root: remove it"));
}

int gatewayproc_start(struct gatewayproc *g)
{
	bool fatal;
	int r;

	warn_config(g);
	r = start(g, &fatal);

	if (r < 0 && fatal)
		return r;
	if (r < 0)
		plan_restart(g, monotonic_ms());
	return 0;
}

void gatewayproc_peer(const struct gatewayproc *g, struct ps_gateway_peer *out)
{
	*out = (struct ps_gateway_peer){ .cgroup_id = g->cgroup_id, .uid = g->cgroup_id ? (uint32_t)g->uid : 0,
					 .mode = PS_DELEGATION_SUPERVISED };
}

size_t gatewayproc_pollfds(struct gatewayproc *g, struct pollfd *fds, size_t max, int *timeout_ms)
{
	size_t n = 0;

	if (g->pidfd >= 0 && n < max)
		fds[n++] = (struct pollfd){ .fd = g->pidfd, .events = POLLIN };
	if (g->out_r >= 0 && n < max)
		fds[n++] = (struct pollfd){ .fd = g->out_r, .events = POLLIN };
	if (g->n_ingress) {
		uint64_t now = monotonic_ms();
		if (!g->next_stats_ms)
			g->next_stats_ms = now + GW_INGRESS_LOG_MS;
		int wait = g->next_stats_ms > now ? (int)(g->next_stats_ms - now) : 0;
		if (*timeout_ms < 0 || wait < *timeout_ms)
			*timeout_ms = wait;
	}
	if (g->next_start_ms) {
		uint64_t now = monotonic_ms();
		int wait = g->next_start_ms > now ? (int)(g->next_start_ms - now) : 0;
		if (*timeout_ms < 0 || wait < *timeout_ms)
			*timeout_ms = wait;
	}
	return n;
}

/* The gateway's output: untrusted text, logged a line at a time, long lines cut. */
static void read_output(struct gatewayproc *g)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(g->out_r, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n' && g->line_len < sizeof(g->line) - 1) {
				g->line[g->line_len++] = buf[i];
				continue;
			}
			if (buf[i] != '\n')
				continue; /* the rest of an over-long line */
			g->line[g->line_len] = 0;
			log_event(LOG_LEVEL_INFO, "gateway_output", "line=%s", LOG_Q(g->line));
			g->line_len = 0;
		}
	}
	if (n == 0) {
		close(TAKE_FD(g->out_r));
		g->out_r = -1;
	}
}

static void reap(struct gatewayproc *g)
{
	struct sandbox_exit ex;
	char why[64] = "unknown";

	if (g->out_r >= 0)
		read_output(g);
	if (sandbox_wait(g->plan, g->pidfd, &ex) == 0) {
		if (ex.reason == SANDBOX_EXIT_CODE)
			snprintf(why, sizeof(why), "exit %d", ex.status);
		else if (ex.reason == SANDBOX_EXIT_SIGNAL)
			snprintf(why, sizeof(why), "signal %d", ex.status);
		else
			snprintf(why, sizeof(why), "%s", sandbox_exit_reason_name(ex.reason));
	}
	close(TAKE_FD(g->pidfd));
	g->pidfd = -1;
	log_event(LOG_LEVEL_WARNING, "gateway_exited", "pid=%d status=%s", (int)g->pid, LOG_Q(why));
	drop_run(g);
	plan_restart(g, monotonic_ms());
}

bool gatewayproc_dispatch(struct gatewayproc *g, const struct pollfd *fds, size_t n)
{
	bool changed = false;

	for (size_t i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == g->out_r && g->out_r >= 0)
			read_output(g);
		else if (fds[i].fd == g->pidfd && g->pidfd >= 0) {
			reap(g);
			changed = true;
		}
	}
	if (g->n_ingress && g->next_stats_ms && monotonic_ms() >= g->next_stats_ms) {
		log_ingress(g, false);
		g->next_stats_ms = monotonic_ms() + GW_INGRESS_LOG_MS;
	}
	if (g->next_start_ms && monotonic_ms() >= g->next_start_ms && g->pidfd < 0) {
		bool fatal;
		g->next_start_ms = 0;
		if (start(g, &fatal) < 0)
			plan_restart(g, monotonic_ms());
		changed = true;
	}
	return changed;
}

void gatewayproc_retry(struct gatewayproc *g)
{
	if (!g->failed)
		return;
	g->failed = false;
	g->crashes = 0;
	g->window_start_ms = monotonic_ms();
	g->next_start_ms = monotonic_ms(); /* the next dispatch starts it */
	log_event(LOG_LEVEL_INFO, "gateway_retry", "reason=SIGHUP");
}

void gatewayproc_free(struct gatewayproc *g)
{
	if (!g)
		return;
	if (g->pidfd >= 0) {
		pidfd_signal(g->pidfd, SIGTERM);
		struct pollfd p = { .fd = g->pidfd, .events = POLLIN };
		if (poll(&p, 1, GW_STOP_GRACE_MS) <= 0)
			pidfd_signal(g->pidfd, SIGKILL);
		struct sandbox_exit ex;
		sandbox_wait(g->plan, g->pidfd, &ex);
		close(g->pidfd);
		log_event(LOG_LEVEL_INFO, "gateway_stopped", "pid=%d", (int)g->pid);
	}
	drop_run(g);
	free(g);
}
