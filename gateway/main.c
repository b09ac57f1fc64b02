// SPDX-License-Identifier: MIT
/* main.c - capbus-gateway: Mycroft/OVOS WebSocket clients onto the capbus bus, one identity each.
 *
 * `capbus-gateway --supervised` (how capbusd starts it, in its sandbox): the daemon's
 * configuration, the gateway identity's key and the TLS certificate and key arrive as fds 3-6;
 * the cgroup tree is read at /cgroup. `capbus-gateway --config capbusd.json --key gateway.key
 * [--tokens FILE]` (development): the same from files. Either way the configuration is read by
 * gw_config_parse (the parser capbusd uses), the token store is opened, the listeners bound, the
 * process confined, then it serves until SIGTERM/SIGINT. Trust level: starts with whatever the
 * caller gives (the sandbox's uid supervised; root when started as root), loads its inputs, then
 * drops what it can before the first peer is accepted. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "gw-confine.h"
#include "gwconfig.h"
#include "gw-ws.h"
#include "gw.h"
#include "keyfile.h"
#include "util.h"

static struct gw *the_gw; /* for the signal handler only */

static void on_signal(int sig)
{
	if (the_gw) {
		the_gw->stop = 1;
		if (the_gw->ctx)
			lws_cancel_service(the_gw->ctx);
	}
}

/* All of fd from offset 0, NUL-terminated (the supervised gateway's memfds: pread, so nothing
 * depends on where the file offset was left). */
static int read_fd_text(int fd, size_t max, char **out, size_t *len)
{
	_cleanup_free_ char *buf = malloc(max + 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = pread(fd, buf + n, max + 1 - n, (off_t)n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max)
			return -EFBIG;
	}
	buf[n] = '\0';
	*len = n;
	*out = TAKE_PTR(buf);
	return 0;
}

static int read_text(const char *path, size_t max, char **out, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return negative_errno();
	return read_fd_text(fd, max, out, len);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: capbus-gateway --config FILE --key FILE [--tokens FILE] [--cgroup-root DIR]\n"
		   "                      [--log-level LEVEL]\n"
		   "       capbus-gateway --supervised [--log-level LEVEL]   (started by capbusd: fds 3-6)\n");
}

/* The fds capbusd's gatewayproc.c passes (CAPBUS_GATEWAY_FDS names the first): the configuration
 * it validated, the gateway's key, then the TLS certificate and key when the config has "tls". */
enum { SUP_CONFIG, SUP_KEY, SUP_TLS_CERT, SUP_TLS_KEY };

static int supervised_fd(int which)
{
	const char *e = getenv("CAPBUS_GATEWAY_FDS");
	char *end;
	long base = e ? strtol(e, &end, 10) : 3;

	if (e && (*end || base < 3 || base > 64))
		base = 3;
	return (int)base + which;
}

#define GW_TLS_FILE_MAX (1024 * 1024)

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "tokens", required_argument, NULL, 't' }, { "cgroup-root", required_argument, NULL, 'g' },
		{ "log-level", required_argument, NULL, 'l' }, { "supervised", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *key_path = NULL, *tokens_path = NULL, *cgroot = NULL;
	enum log_level level = LOG_LEVEL_INFO;
	static struct gw gw; /* large (the config holds fixed arrays): not on the stack */
	char err[512] = "", id[HS_ID_MAX + 1] = "", tpath[512];
	bool supervised = false;
	size_t len;
	int o, r;

	log_setup(level, "gateway");
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 'k': key_path = optarg; break;
		case 't': tokens_path = optarg; break;
		case 'g': cgroot = optarg; break;
		case 's': supervised = true; break;
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				usage(stderr);
				return 2;
			}
			log_setup(level, "gateway");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* Supervised, everything comes from capbusd: no path of the host is meaningful inside. */
	if (optind != argc || (supervised ? config_path || key_path || tokens_path || cgroot : !config_path || !key_path)) {
		usage(stderr);
		return 2;
	}
	if (!cgroot)
		cgroot = supervised ? "/cgroup" : "/sys/fs/cgroup"; /* the sandbox's read-only cgroup view */
	if (sodium_init() < 0)
		return 1;
	const char *config_name = supervised ? "fd" : config_path;
	_cleanup_free_ char *text = NULL;
	r = supervised ? read_fd_text(supervised_fd(SUP_CONFIG), 256 * 1024, &text, &len)
		       : read_text(config_path, 1 << 20, &text, &len);
	if (r < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_config", "path=%s error=%s", LOG_Q(config_name), strerror(-r));
		return 1;
	}
	r = gw_config_parse(text, len, &gw.cfg, err, sizeof(err));
	if (r == -ENOENT) {
		log_event(LOG_LEVEL_ERROR, "gateway_config", "path=%s error=%s", LOG_Q(config_name),
			  LOG_Q("no \"gateway\" object"));
		return 1;
	}
	if (r) {
		log_event(LOG_LEVEL_ERROR, "gateway_config", "path=%s error=%s", LOG_Q(config_name),
			  r < 0 ? strerror(-r) : LOG_Q(err));
		return 1;
	}
	if (!supervised && gw.cfg.supervise)
		log_event(LOG_LEVEL_WARNING, "gateway_standalone_supervised",
			  "hint=%s", LOG_Q("the daemon accepts a standalone gateway only with gateway.supervise false"));
	gw.max_message = gw.cfg.max_message ? gw.cfg.max_message : gw.cfg.max_frame;
	if (supervised) {
		r = keyfile_read_fd(supervised_fd(SUP_KEY), id, gw.key);
		close(supervised_fd(SUP_KEY));
	} else {
		r = keyfile_read(key_path, id, gw.key);
	}
	if (r != 0 || !streq(id, HS_GATEWAY_ID)) {
		log_event(LOG_LEVEL_ERROR, "gateway_key", "path=%s error=%s", LOG_Q(supervised ? "fd" : key_path),
			  r ? (r < 0 ? strerror(-r) : "not a usable key file") : "not the key of identity \"gateway\"");
		return 1;
	}
	if (supervised && gw.cfg.has_tls) {
		/* The files' paths are not visible in the sandbox: lws takes the PEM from memory. */
		if ((r = read_fd_text(supervised_fd(SUP_TLS_CERT), GW_TLS_FILE_MAX, &gw.tls_cert_pem, &gw.tls_cert_len)) < 0 ||
		    (r = read_fd_text(supervised_fd(SUP_TLS_KEY), GW_TLS_FILE_MAX, &gw.tls_key_pem, &gw.tls_key_len)) < 0) {
			log_event(LOG_LEVEL_ERROR, "gateway_tls", "error=%s", strerror(-r));
			return 1;
		}
		close(supervised_fd(SUP_TLS_CERT));
		close(supervised_fd(SUP_TLS_KEY));
	}
	if (supervised)
		close(supervised_fd(SUP_CONFIG));
	if (!tokens_path) {
		/* capbusd makes <state_dir>/gateway visible at the same path inside the sandbox. */
		snprintf(tpath, sizeof(tpath), "%s/gateway/tokens", gw.cfg.state_dir);
		tokens_path = tpath;
	}
	if ((r = gw_tokens_open(&gw.tokens, tokens_path)) < 0)
		log_event(LOG_LEVEL_WARNING, "gateway_tokens", "path=%s error=%s", LOG_Q(tokens_path), strerror(-r));
	if (!gw.tokens && r == -ENOMEM)
		return 1;
	if (gw.cfg.n_local && (r = gw_diag_open(&gw.diag, cgroot, gw.cfg.local, gw.cfg.n_local)) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_local", "cgroup_root=%s error=%s", LOG_Q(cgroot), strerror(-r));
		return 1;
	}
	if ((r = gw_sources_new(&gw.sources, gw.cfg.lockout_capacity > 4 * (size_t)gw.cfg.max_connections ? gw.cfg.lockout_capacity : 4 * (size_t)gw.cfg.max_connections,
				&gw.cfg.lockout)) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_sources", "error=%s", strerror(-r));
		return 1;
	}
	gw.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 20);
	the_gw = &gw;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = gw_ws_create(&gw, err, sizeof(err))) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_listen", "error=%s", LOG_Q(err));
		gw_ws_destroy(&gw);
		return 1;
	}
	if ((r = gw_drop_user(gw.cfg.user)) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_user", "user=%s error=%s", LOG_Q(gw.cfg.user), strerror(-r));
		return 1;
	}
	if ((r = gw_confine()) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_confine", "error=%s", strerror(-r));
		return 1;
	}
	if (r == GW_CONFINE_SKIPPED)
		log_event(LOG_LEVEL_WARNING, "gateway_seccomp_skipped", "reason=\"sanitizer build\"");
	if (!supervised)
		log_event(LOG_LEVEL_WARNING, "gateway_unsandboxed", "hint=%s",
			  LOG_Q("standalone: no namespaces, Landlock or cgroup; capbusd's supervision adds them"));
	log_event(LOG_LEVEL_INFO, "gateway_started", "supervised=%s uid=%u listeners=%zu route=%s max_message=%u tokens=%zu",
		  supervised ? "true" : "false", (unsigned)geteuid(), gw.cfg.n_listen, LOG_Q(gw.cfg.route), gw.max_message, gw.tokens ? gw_tokens_count(gw.tokens) : 0);
	while (!gw.stop && lws_service(gw.ctx, 0) >= 0)
		;
	gw_ws_log_stats(&gw);
	gw_ws_destroy(&gw);
	gw_tokens_free(gw.tokens);
	gw_diag_free(gw.diag);
	gw_sources_free(gw.sources);
	sodium_memzero(gw.key, sizeof(gw.key));
	if (gw.tls_key_pem)
		sodium_memzero(gw.tls_key_pem, gw.tls_key_len);
	free(gw.tls_cert_pem);
	free(gw.tls_key_pem);
	log_event(LOG_LEVEL_INFO, "gateway_stopped", "%s", "");
	return 0;
}
