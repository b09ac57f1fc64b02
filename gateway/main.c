// SPDX-License-Identifier: MIT
/* main.c - capbus-gateway: Mycroft/OVOS WebSocket clients onto the capbus bus, one identity each.
 *
 * `capbus-gateway --config capbusd.json --key gateway.key [--tokens FILE]`: reads the daemon's
 * configuration (its "gateway" object and the top-level socket and limits), the gateway
 * identity's key and the token store, binds the listeners, confines itself, then serves until
 * SIGTERM/SIGINT. Trust level: starts with whatever the caller has (root when started as root),
 * loads its files, then drops what it can before the first peer is accepted. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gw-confine.h"
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

static void cjson_freep(cJSON **j)
{
	cJSON_Delete(*j);
}

static bool listen_parse(const char *s, struct gw_listen *l)
{
	char host[sizeof(l->addr)];
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return false;
		hl = (size_t)(rb - s - 1);
		if (hl == 0 || hl >= sizeof(l->addr))
			return false;
		memcpy(host, s + 1, hl);
		colon = rb + 1;
		l->family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof(l->addr))
			return false;
		memcpy(host, s, hl);
		l->family = AF_INET;
	}
	host[hl] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1024 || port > 65535)
		return false;
	struct sockaddr_storage ss = { 0 };
	if (l->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return false;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return false;
	}
	snprintf(l->addr, sizeof(l->addr), "%s", host);
	l->port = (uint16_t)port;
	l->loopback = gw_addr_is_loopback((struct sockaddr *)&ss);
	return true;
}

static bool str_into(const cJSON *o, const char *key, char *out, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return true;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= n)
		return false;
	snprintf(out, n, "%s", v->valuestring);
	return true;
}

static bool u32_into(const cJSON *o, const char *key, uint32_t *out, uint32_t min, uint32_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
	    v->valuedouble != (double)(uint32_t)v->valuedouble)
		return false;
	*out = (uint32_t)v->valuedouble;
	return true;
}

static bool bool_into(const cJSON *o, const char *key, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return true;
	if (!cJSON_IsBool(v))
		return false;
	*out = cJSON_IsTrue(v);
	return true;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return GW_CONFIG_INVALID; } while (0)

/* Until gateway/gwconfig.c's gw_config_parse exists: the part of capbusd's configuration the
 * gateway needs, into the same struct gw_config, so the swap is one call. */
static int config_parse_local(const char *text, struct gw_config *cfg, char *err, size_t errlen)
{
	_cleanup_(cjson_freep) cJSON *root = cJSON_Parse(text);
	const cJSON *g, *v;

	*cfg = (struct gw_config){
		.route = "/core", .greeting = true, .supervise = true,
		.max_connections = 512, .max_per_source = 32, .max_message = 0,
		.lockout = { .threshold = 5, .base_s = 1, .max_s = 3600, .forget_s = 900 },
		.lockout_capacity = 4096,
		.socket = "@capbus", .state_dir = "/var/lib/capbus",
		.max_frame = 64 * 1024, .handshake_timeout_ms = 5000,
		.max_partial_bytes = UINT64_C(256) << 20, .max_queue = 8u * 1024 * 1024,
	};
	if (!cJSON_IsObject(root))
		FAIL("not a JSON object");
	if (!str_into(root, "socket", cfg->socket, sizeof(cfg->socket)) ||
	    !str_into(root, "state_dir", cfg->state_dir, sizeof(cfg->state_dir)))
		FAIL("socket/state_dir: not a string of acceptable length");
	if (!u32_into(root, "max_frame", &cfg->max_frame, 256, 16u << 20))
		FAIL("max_frame: out of range");
	if (!u32_into(root, "handshake_timeout_ms", &cfg->handshake_timeout_ms, 50, 600000))
		FAIL("handshake_timeout_ms: out of range");
	g = cJSON_GetObjectItemCaseSensitive(root, "gateway");
	if (!g)
		return -ENOENT;
	if (!cJSON_IsObject(g))
		FAIL("gateway: not an object");
	if (!str_into(g, "route", cfg->route, sizeof(cfg->route)) || cfg->route[0] != '/' ||
	    strpbrk(cfg->route, "?#"))
		FAIL("gateway.route: a path starting with / without ? or #, at most 128 bytes");
	if (!bool_into(g, "plain_loopback", &cfg->plain_loopback) || !bool_into(g, "supervise", &cfg->supervise) ||
	    !bool_into(g, "greeting", &cfg->greeting))
		FAIL("gateway: plain_loopback, supervise and greeting are true or false");
	if (!str_into(g, "user", cfg->user, sizeof(cfg->user)))
		FAIL("gateway.user: not a user name");
	if (!u32_into(g, "max_connections", &cfg->max_connections, 1, 65536) ||
	    !u32_into(g, "max_per_source", &cfg->max_per_source, 1, 65536) ||
	    !u32_into(g, "max_message", &cfg->max_message, 0, cfg->max_frame))
		FAIL("gateway: max_connections, max_per_source 1..65536; max_message 0..max_frame");
	if ((v = cJSON_GetObjectItemCaseSensitive(g, "lockout"))) {
		if (!cJSON_IsObject(v) || !u32_into(v, "threshold", &cfg->lockout.threshold, 1, 1000) ||
		    !u32_into(v, "base_s", &cfg->lockout.base_s, 1, 86400) ||
		    !u32_into(v, "max_s", &cfg->lockout.max_s, 1, 86400 * 7) ||
		    !u32_into(v, "forget_s", &cfg->lockout.forget_s, 1, 86400 * 7) ||
		    !u32_into(v, "capacity", &cfg->lockout_capacity, GW_SOURCES_MIN, 1u << 20) ||
		    cfg->lockout.max_s < cfg->lockout.base_s)
			FAIL("gateway.lockout: threshold, base_s <= max_s, forget_s, capacity out of range");
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(g, "tls"))) {
		if (!cJSON_IsObject(v) || !str_into(v, "cert", cfg->tls_cert, sizeof(cfg->tls_cert)) ||
		    !str_into(v, "key", cfg->tls_key, sizeof(cfg->tls_key)) || !cfg->tls_cert[0] || !cfg->tls_key[0])
			FAIL("gateway.tls: {\"cert\": PATH, \"key\": PATH}");
		cfg->has_tls = true;
	}
	v = cJSON_GetObjectItemCaseSensitive(g, "listen");
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > GW_LISTEN_MAX)
		FAIL("gateway.listen: an array of 1..%d \"ADDR:PORT\"", GW_LISTEN_MAX);
	const cJSON *it;
	cJSON_ArrayForEach(it, v) {
		struct gw_listen *l = &cfg->listen[cfg->n_listen];
		if (!cJSON_IsString(it) || !listen_parse(it->valuestring, l))
			FAIL("gateway.listen[%zu]: not \"ADDR:PORT\" with a literal address and a port 1024..65535",
			     cfg->n_listen);
		l->tls = !(l->loopback && cfg->plain_loopback);
		if (l->tls && !cfg->has_tls)
			FAIL("gateway.listen[%zu]: %s needs \"tls\" (plain ws:// only on loopback with \"plain_loopback\": true)",
			     cfg->n_listen, l->loopback ? "a loopback address without plain_loopback" : "a non-loopback address");
		cfg->n_listen++;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(g, "allow_from"))) {
		if (!cJSON_IsArray(v))
			FAIL("gateway.allow_from: an array of CIDRs");
		cJSON_ArrayForEach(it, v) {
			if (cfg->n_allow_from >= GW_NETS_MAX || !cJSON_IsString(it) ||
			    gw_net_parse(it->valuestring, &cfg->allow_from[cfg->n_allow_from]) < 0)
				FAIL("gateway.allow_from[%zu]: not a CIDR with zero host bits", cfg->n_allow_from);
			cfg->n_allow_from++;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(g, "local"))) {
		if (!cJSON_IsObject(v))
			FAIL("gateway.local: an object of cgroup path -> identity");
		cJSON_ArrayForEach(it, v) {
			struct gw_local *m = &cfg->local[cfg->n_local];
			if (cfg->n_local >= GW_LOCAL_MAX || !cJSON_IsString(it) || it->string[0] != '/' ||
			    strlen(it->string) >= sizeof(m->path) || !hs_id_is_valid(it->valuestring, strlen(it->valuestring)))
				FAIL("gateway.local[%zu]: \"/cgroup/path\": \"identity\"", cfg->n_local);
			snprintf(m->path, sizeof(m->path), "%s", it->string);
			snprintf(m->id, sizeof(m->id), "%s", it->valuestring);
			cfg->n_local++;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(g, "origins"))) {
		if (!cJSON_IsArray(v))
			FAIL("gateway.origins: an array of strings");
		cJSON_ArrayForEach(it, v) {
			if (cfg->n_origins >= GW_ORIGINS_MAX || !cJSON_IsString(it) ||
			    strlen(it->valuestring) >= sizeof(cfg->origins[0]))
				FAIL("gateway.origins[%zu]: not an origin", cfg->n_origins);
			snprintf(cfg->origins[cfg->n_origins++], sizeof(cfg->origins[0]), "%s", it->valuestring);
		}
	}
	return 0;
}

static int read_text(const char *path, size_t max, char **out)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t n;

	if (!f)
		return negative_errno();
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, max + 1, f);
	if (ferror(f))
		return -EIO;
	if (n > max)
		return -EFBIG;
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: capbus-gateway --config FILE --key FILE [--tokens FILE] [--cgroup-root DIR]\n"
		   "                      [--log-level LEVEL]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "tokens", required_argument, NULL, 't' }, { "cgroup-root", required_argument, NULL, 'g' },
		{ "log-level", required_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *key_path = NULL, *tokens_path = NULL, *cgroot = "/sys/fs/cgroup";
	enum log_level level = LOG_LEVEL_INFO;
	static struct gw gw; /* large (the config holds fixed arrays): not on the stack */
	char err[256] = "", id[HS_ID_MAX + 1] = "", tpath[512];
	int o, r;

	log_setup(level, "gateway");
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 'k': key_path = optarg; break;
		case 't': tokens_path = optarg; break;
		case 'g': cgroot = optarg; break;
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
	if (!config_path || !key_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	_cleanup_free_ char *text = NULL;
	if ((r = read_text(config_path, 1 << 20, &text)) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_config", "path=%s error=%s", LOG_Q(config_path), strerror(-r));
		return 1;
	}
	r = config_parse_local(text, &gw.cfg, err, sizeof(err));
	if (r == -ENOENT) {
		log_event(LOG_LEVEL_ERROR, "gateway_config", "path=%s error=%s", LOG_Q(config_path),
			  LOG_Q("no \"gateway\" object"));
		return 1;
	}
	if (r) {
		log_event(LOG_LEVEL_ERROR, "gateway_config", "path=%s error=%s", LOG_Q(config_path), LOG_Q(err));
		return 1;
	}
	if (gw.cfg.supervise)
		log_event(LOG_LEVEL_WARNING, "gateway_standalone_supervised",
			  "hint=%s", LOG_Q("the daemon accepts a standalone gateway only with gateway.supervise false"));
	gw.max_message = gw.cfg.max_message ? gw.cfg.max_message : gw.cfg.max_frame;
	r = keyfile_read(key_path, id, gw.key);
	if (r != 0 || !streq(id, HS_GATEWAY_ID)) {
		log_event(LOG_LEVEL_ERROR, "gateway_key", "path=%s error=%s", LOG_Q(key_path),
			  r ? (r < 0 ? strerror(-r) : "not a usable key file") : "not the key of identity \"gateway\"");
		return 1;
	}
	if (!tokens_path) {
		snprintf(tpath, sizeof(tpath), "%s/gateway/tokens", gw.cfg.state_dir);
		tokens_path = tpath;
	}
	if ((r = gw_tokens_open(&gw.tokens, tokens_path)) < 0)
		log_event(LOG_LEVEL_WARNING, "gateway_tokens", "path=%s error=%s", LOG_Q(tokens_path), strerror(-r));
	if (!gw.tokens && r == -ENOMEM)
		return 1;
	if (gw.cfg.n_local && (r = gw_diag_open(&gw.diag, cgroot, gw.cfg.local, gw.cfg.n_local)) < 0) {
		log_event(LOG_LEVEL_ERROR, "gateway_local", "error=%s", strerror(-r));
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
	log_event(LOG_LEVEL_WARNING, "gateway_unsandboxed", "hint=%s",
		  LOG_Q("standalone: no namespaces, Landlock or cgroup; capbusd's supervision adds them"));
	log_event(LOG_LEVEL_INFO, "gateway_started", "listeners=%zu route=%s max_message=%u tokens=%zu",
		  gw.cfg.n_listen, LOG_Q(gw.cfg.route), gw.max_message, gw.tokens ? gw_tokens_count(gw.tokens) : 0);
	while (!gw.stop && lws_service(gw.ctx, 0) >= 0)
		;
	gw_ws_log_stats(&gw);
	gw_ws_destroy(&gw);
	gw_tokens_free(gw.tokens);
	gw_diag_free(gw.diag);
	gw_sources_free(gw.sources);
	sodium_memzero(gw.key, sizeof(gw.key));
	log_event(LOG_LEVEL_INFO, "gateway_stopped", "%s", "");
	return 0;
}
