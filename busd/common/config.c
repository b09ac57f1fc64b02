// SPDX-License-Identifier: MIT
/* config.c - strict JSON configuration for capbusd.
 *
 * Runs in the privileged parent on root's file (and again on SIGHUP for the guard section).
 * The text goes through the same strict reader as manifests (json-doc.h), so every error names
 * the file, line and column, and an unknown key, a repeated key or a wrong type is refused
 * rather than replaced by a default. */
#include "common/config.h"

#include <assert.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/param.h>
#include <sys/stat.h>

#include "frame.h"
#include "gwconfig.h"
#include "json-doc.h"
#include "regfile.h"

#define CONFIG_MAX_SIZE (256 * 1024)
/* The file is a flat object with one nested section; deeper nesting is a mistake. */
#define CONFIG_MAX_DEPTH 16

static int set_str(char **dst, const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

static void derive_limits(struct config *cfg);

static int config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernel_guard = KERNEL_GUARD_AUTO;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->max_frame = 64 * 1024;
	cfg->max_depth = 32;
	cfg->handshake_timeout_ms = 5000;
	cfg->max_partial_bytes = UINT64_C(256) << 20;
	cfg->max_connections = 4096;
	cfg->max_pending = 256;
	cfg->max_queue = 8u * 1024 * 1024;
	cfg->byte_rate = 64u * 1024 * 1024;
	cfg->skill_log_rate = 16384;
	cfg->skill_log_burst = 65536;
	cfg->skill_log_lines = 1000;
	cfg->skill_log_bytes = 256 * 1024;
	cfg->socket_mode = 0660;
	cfg->guard.allow_uids = calloc(1, sizeof(uint32_t)); /* root */
	if (!cfg->guard.allow_uids)
		return -ENOMEM;
	cfg->guard.n_allow_uids = 1;
	if (set_str(&cfg->socket, "/run/capbus/bus.sock") < 0 || set_str(&cfg->state_dir, "/var/lib/capbus") < 0 ||
	    set_str(&cfg->manifest_dir, "/etc/capbus/manifests") < 0 || set_str(&cfg->user, "capbus") < 0 ||
	    set_str(&cfg->skills_dir, "/usr/lib/capbus/skills") < 0)
		return -ENOMEM;
	return 0;
}

int config_defaults_in(const char *dir, struct config *cfg)
{
	_cleanup_free_ char *sock = NULL, *state = NULL, *manifests = NULL, *skills = NULL;
	int r = config_init(cfg);
	if (r < 0)
		return r;
	if (asprintf(&sock, "%s/run/bus.sock", dir) < 0 || asprintf(&state, "%s/state", dir) < 0 ||
	    asprintf(&manifests, "%s/manifests", dir) < 0 || asprintf(&skills, "%s/skills", dir) < 0)
		return -ENOMEM;
	if (set_str(&cfg->socket, sock) < 0 || set_str(&cfg->state_dir, state) < 0 ||
	    set_str(&cfg->manifest_dir, manifests) < 0 || set_str(&cfg->skills_dir, skills) < 0)
		return -ENOMEM;
	derive_limits(cfg);
	return 0;
}

/* An error about the file as a whole (it cannot be read): "FILE: message". */
static int fail_file(char **error, const char *path, const char *fmt, ...) _printf_(3, 4);
static int fail_file(char **error, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		msg = NULL;
		return -ENOMEM;
	}
	if (asprintf(error, "%s: %s", path, msg) < 0)
		return -ENOMEM;
	return CONFIG_INVALID;
}

static int read_file(const char *path, char **out, size_t *out_len, char **error)
{
	/* The path is the one given on the command line: a symlink to it is followed on purpose; a
	 * FIFO or device there is refused rather than read (regfile.h). */
	_cleanup_free_ char *buf = malloc(CONFIG_MAX_SIZE + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t n = regfile_read(AT_FDCWD, path, REGFILE_FOLLOW, CONFIG_MAX_SIZE, buf, NULL);
	if (n == -EFBIG || n == -REGFILE_E_NOT_REGULAR)
		return fail_file(error, path, "not a regular file of at most %d bytes", CONFIG_MAX_SIZE);
	if (n < 0)
		return fail_file(error, path, "cannot open: %s", strerror((int)-n));
	*out = TAKE_PTR(buf);
	*out_len = (size_t)n;
	return 0;
}

static const char *const string_keys[] = { "socket", "state_dir", "manifest_dir", "policy_file", "user", "skills_dir" };
struct number_key {
	const char *name;
	uint64_t min, max;
	size_t offset;
	bool is64;
};
static const struct number_key number_keys[] = {
	{ "max_frame", 256, 16 * 1024 * 1024, offsetof(struct config, max_frame), false },
	{ "max_depth", 2, 128, offsetof(struct config, max_depth), false },
	{ "handshake_timeout_ms", 50, 600000, offsetof(struct config, handshake_timeout_ms), false },
	{ "max_connections", 1, 1000000, offsetof(struct config, max_connections), false },
	{ "max_pending", 1, 100000, offsetof(struct config, max_pending), false },
	{ "max_queue", 4096, UINT64_C(1) << 34, offsetof(struct config, max_queue), true },
	{ "byte_rate", 1024, UINT64_C(1) << 40, offsetof(struct config, byte_rate), true },
	{ "max_pending_per_uid", 1, 100000, offsetof(struct config, max_pending_per_uid), false },
	{ "max_pending_per_peer", 1, 100000, offsetof(struct config, max_pending_per_peer), false },
	{ "max_identity_connections", 1, 1000000, offsetof(struct config, max_identity_connections), false },
	{ "max_subscriptions", 1, 1000000, offsetof(struct config, max_subscriptions), false },
	{ "max_subscription_bytes", 1024, UINT64_C(1) << 30, offsetof(struct config, max_subscription_bytes), false },
	{ "max_identity_subscriptions", 1, 10000000, offsetof(struct config, max_identity_subscriptions), false },
	{ "max_identity_subscription_bytes", 1024, UINT64_C(1) << 40,
	  offsetof(struct config, max_identity_subscription_bytes), true },
	{ "max_partial_bytes", 65536, UINT64_C(1) << 40, offsetof(struct config, max_partial_bytes), true },
	{ "max_identity_partial_bytes", 65536, UINT64_C(1) << 40, offsetof(struct config, max_identity_partial_bytes), true },
	{ "skill_log_rate", 64, 1u << 30, offsetof(struct config, skill_log_rate), false },
	{ "skill_log_burst", 4096, 1u << 30, offsetof(struct config, skill_log_burst), false },
	{ "skill_log_lines", 16, 100000, offsetof(struct config, skill_log_lines), false },
	{ "skill_log_bytes", 16384, 64u << 20, offsetof(struct config, skill_log_bytes), false },
};
/* Every key of the top level; json_doc_members() refuses any other and any repeat. */
static const char *const config_keys[] = {
	"socket", "state_dir", "manifest_dir", "policy_file", "user", "skills_dir",
	"max_frame", "max_depth", "handshake_timeout_ms", "max_connections", "max_pending", "max_queue", "byte_rate",
	"kernel_guard", "log_level", "socket_mode", "guard",
	"max_pending_per_uid", "max_pending_per_peer", "max_identity_connections", "max_subscriptions",
	"max_subscription_bytes", "max_identity_subscriptions", "max_identity_subscription_bytes",
	"max_partial_bytes", "max_identity_partial_bytes",
	"skill_log_rate", "skill_log_burst", "skill_log_lines", "skill_log_bytes", "gateway",
};

/* Fills the shares and caps the file left out (still 0) from the limits above them, so that a
 * file setting only max_pending or max_connections stays consistent. */
static void derive_limits(struct config *cfg)
{
	if (!cfg->max_pending_per_uid)
		cfg->max_pending_per_uid = MAX(MAX(cfg->max_pending / 4, 1u), cfg->max_pending_per_peer);
	if (!cfg->max_pending_per_peer)
		cfg->max_pending_per_peer = MAX(cfg->max_pending_per_uid / 2, 1u);
	if (!cfg->max_identity_connections)
		cfg->max_identity_connections = MIN(128u, cfg->max_connections);
	if (!cfg->max_identity_subscriptions)
		cfg->max_identity_subscriptions = MAX(4096u, cfg->max_subscriptions);
	if (!cfg->max_subscriptions)
		cfg->max_subscriptions = MIN(1024u, cfg->max_identity_subscriptions);
	if (!cfg->max_identity_subscription_bytes)
		cfg->max_identity_subscription_bytes = MAX(UINT64_C(2) << 20, (uint64_t)cfg->max_subscription_bytes);
	if (!cfg->max_subscription_bytes)
		cfg->max_subscription_bytes = (uint32_t)MIN(UINT64_C(512) << 10, cfg->max_identity_subscription_bytes);
	if (!cfg->max_identity_partial_bytes)
		cfg->max_identity_partial_bytes = MIN(UINT64_C(64) << 20, cfg->max_partial_bytes);
}

/* The member of the top level named key (NULL when the file leaves it out). */
static const struct json_node *member(const struct json_node *const *f, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (streq(config_keys[i], key))
			return f[i];
	return NULL;
}

/* A share may not exceed what it is a share of: "small" <= "big", blamed on whichever the file
 * set (derive_limits() never makes an inconsistent pair of its own). */
static int check_le(struct json_doc *doc, const struct json_node *const *f, const char *small, uint64_t small_v,
		    const char *big, uint64_t big_v)
{
	if (small_v <= big_v)
		return 0;
	const struct json_node *at = member(f, small) ? member(f, small) : member(f, big) ? member(f, big) : doc->root;
	return json_doc_fail(doc, at, false, "\"%s\" (%llu) may not exceed \"%s\" (%llu)", small,
			     (unsigned long long)small_v, big, (unsigned long long)big_v);
}

static int check_limits(struct json_doc *doc, const struct json_node *const *f, const struct config *cfg)
{
	int r;

	if ((r = check_le(doc, f, "max_pending_per_peer", cfg->max_pending_per_peer, "max_pending", cfg->max_pending)) ||
	    (r = check_le(doc, f, "max_pending_per_peer", cfg->max_pending_per_peer, "max_pending_per_uid",
			  cfg->max_pending_per_uid)) ||
	    (r = check_le(doc, f, "max_pending_per_uid", cfg->max_pending_per_uid, "max_pending", cfg->max_pending)) ||
	    (r = check_le(doc, f, "max_identity_connections", cfg->max_identity_connections, "max_connections",
			  cfg->max_connections)) ||
	    (r = check_le(doc, f, "max_subscriptions", cfg->max_subscriptions, "max_identity_subscriptions",
			  cfg->max_identity_subscriptions)) ||
	    (r = check_le(doc, f, "max_subscription_bytes", cfg->max_subscription_bytes,
			  "max_identity_subscription_bytes", cfg->max_identity_subscription_bytes)) ||
	    (r = check_le(doc, f, "max_identity_partial_bytes", cfg->max_identity_partial_bytes, "max_partial_bytes",
			  cfg->max_partial_bytes)))
		return r;
	return 0;
}

static char **string_field(struct config *cfg, const char *name)
{
	if (streq(name, "socket"))
		return &cfg->socket;
	if (streq(name, "state_dir"))
		return &cfg->state_dir;
	if (streq(name, "manifest_dir"))
		return &cfg->manifest_dir;
	if (streq(name, "policy_file"))
		return &cfg->policy_file;
	if (streq(name, "skills_dir"))
		return &cfg->skills_dir;
	return &cfg->user;
}

void guard_config_free(struct guard_config *g)
{
	free(g->scope);
	for (size_t i = 0; i < g->n_allow_cgroups; i++)
		free(g->allow_cgroups[i]);
	free(g->allow_cgroups);
	free(g->allow_uids);
	memset(g, 0, sizeof(*g));
}

static void guard_config_freep(struct guard_config *g)
{
	guard_config_free(g);
}

/* A cgroup path relative to the v2 mount: "/", or "/a/b" without "." or ".." components. */
static bool cgroup_path_ok(const char *s)
{
	if (s[0] != '/' || strlen(s) > 1024 || strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../"))
		return false;
	size_t len = strlen(s);
	if (len > 1 && s[len - 1] == '/')
		return false;
	return !(len >= 2 && streq(s + len - 2, "/.")) && !(len >= 3 && streq(s + len - 3, "/.."));
}

static int parse_allow_cgroups(struct json_doc *doc, const struct json_node *arr, struct guard_config *g)
{
	if (!json_is(arr, JSON_ARRAY) || arr->n_children > 4096)
		return json_doc_fail(doc, arr, false, "\"guard.allow_cgroups\" must be an array of at most 4096 cgroup paths");
	g->allow_cgroups = calloc(arr->n_children + 1, sizeof(char *));
	if (!g->allow_cgroups)
		return -ENOMEM;
	for (const struct json_node *c = arr->child; c; c = c->next) {
		if (!json_is(c, JSON_STRING) || !cgroup_path_ok(c->string))
			return json_doc_fail(doc, c, false,
					     "\"guard.allow_cgroups\" entries must be cgroup v2 paths such as \"/user.slice\"");
		g->allow_cgroups[g->n_allow_cgroups] = strdup(c->string);
		if (!g->allow_cgroups[g->n_allow_cgroups])
			return -ENOMEM;
		g->n_allow_cgroups++;
	}
	return 0;
}

static int parse_allow_uids(struct json_doc *doc, const struct json_node *arr, struct guard_config *g)
{
	if (!json_is(arr, JSON_ARRAY) || arr->n_children > 1024)
		return json_doc_fail(doc, arr, false, "\"guard.allow_uids\" must be an array of at most 1024 uids");
	/* One more than needed, so an empty list still allocates (and means: nobody by uid). */
	g->allow_uids = calloc(arr->n_children + 1, sizeof(uint32_t));
	if (!g->allow_uids)
		return -ENOMEM;
	for (const struct json_node *c = arr->child; c; c = c->next) {
		uint64_t v;

		/* (uid_t)-1 means "no change" to the kernel, never a user. */
		if (json_node_uint(doc, c, UINT32_MAX - 1, &v) < 0)
			return json_doc_fail(doc, c, false, "\"guard.allow_uids\" entries must be uids (0 to 4294967294)");
		g->allow_uids[g->n_allow_uids++] = (uint32_t)v;
	}
	return 0;
}

static int parse_guard(struct json_doc *doc, const struct json_node *obj, struct guard_config *out)
{
	static const char *const keys[] = { "scope", "allow_cgroups", "allow_uids", "simulate_missing_hook" };
	_cleanup_(guard_config_freep) struct guard_config g = { 0 };
	const struct json_node *f[ARRAY_SIZE(keys)];
	int r;

	r = json_doc_members(doc, obj, "guard", keys, ARRAY_SIZE(keys), f);
	if (r)
		return r;
	if (f[0]) {
		if (!json_is(f[0], JSON_STRING) || !cgroup_path_ok(f[0]->string))
			return json_doc_fail(doc, f[0], false, "\"guard.scope\" must be a cgroup v2 path such as \"/system.slice\"");
		g.scope = strdup(f[0]->string);
		if (!g.scope)
			return -ENOMEM;
	}
	if (f[1] && (r = parse_allow_cgroups(doc, f[1], &g)))
		return r;
	if (f[2] && (r = parse_allow_uids(doc, f[2], &g)))
		return r;
	if (f[3]) {
		if (!json_is(f[3], JSON_TRUE) && !json_is(f[3], JSON_FALSE))
			return json_doc_fail(doc, f[3], false, "\"guard.simulate_missing_hook\" must be true or false");
		g.simulate_missing_hook = json_is(f[3], JSON_TRUE);
	}
	if (!g.allow_uids) {
		g.allow_uids = calloc(1, sizeof(uint32_t)); /* root */
		if (!g.allow_uids)
			return -ENOMEM;
		g.n_allow_uids = 1;
	}
	guard_config_free(out);
	*out = g;
	g = (struct guard_config){ 0 };
	return 0;
}

/* "gateway": its presence turns delegated sessions on (docs/protocol.md "Delegated sessions")
 * and, unless "supervise" is false, makes capbusd start and supervise capbus-gateway
 * (parent/gatewayproc.c). The object is read by gateway/gwconfig.c, the same code the gateway
 * reads its copy with; its TLS files must be readable now, so a missing one is named at start-up.
 * supervise false lets any peer holding the gateway's key delegate (development). */
static int parse_gateway(struct json_doc *doc, const struct json_node *obj, struct config *cfg)
{
	struct gw_config *gw = calloc(1, sizeof(*gw));
	int r;

	if (!gw)
		return -ENOMEM;
	free(cfg->gw);
	cfg->gw = gw;
	gw_config_defaults(gw);
	r = gw_config_from_doc(doc, obj, gw, true);
	if (r)
		return r;
	cfg->gateway = true;
	cfg->gateway_supervise = gw->supervise;
	return 0;
}

/* The gateway's copy of the daemon-wide values it needs, and its max_message against max_frame:
 * known only once the whole top level is read. */
static int finish_gateway(struct json_doc *doc, const struct json_node *const *f, struct config *cfg)
{
	struct gw_config *gw = cfg->gw;

	if (!gw)
		return 0;
	if (strlen(cfg->socket) >= sizeof(gw->socket) || strlen(cfg->state_dir) >= sizeof(gw->state_dir))
		return json_doc_fail(doc, member(f, "gateway"), false, "gateway: socket or state_dir path too long for the gateway");
	strcpy(gw->socket, cfg->socket);
	strcpy(gw->state_dir, cfg->state_dir);
	gw->max_frame = cfg->max_frame;
	gw->handshake_timeout_ms = cfg->handshake_timeout_ms;
	gw->max_partial_bytes = cfg->max_partial_bytes;
	gw->max_queue = cfg->max_queue;
	return gw_config_check_frame(doc, member(f, "gateway"), gw);
}

static int apply_item(struct json_doc *doc, struct config *cfg, const struct json_node *item)
{
	const char *key = item->key;

	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++) {
		if (!streq(key, string_keys[i]))
			continue;
		if (!json_is(item, JSON_STRING) || !item->string[0])
			return json_doc_fail(doc, item, false, "\"%s\" must be a non-empty string", key);
		if (!streq(key, "user") && !streq(key, "socket") && item->string[0] != '/')
			return json_doc_fail(doc, item, false, "\"%s\" must be an absolute path", key);
		return set_str(string_field(cfg, key), item->string);
	}
	for (size_t i = 0; i < ARRAY_SIZE(number_keys); i++) {
		const struct number_key *nk = &number_keys[i];
		uint64_t v;

		if (!streq(key, nk->name))
			continue;
		if (json_node_uint(doc, item, nk->max, &v) < 0 || v < nk->min)
			return json_doc_fail(doc, item, false, "\"%s\" must be an integer from %llu to %llu", key,
					     (unsigned long long)nk->min, (unsigned long long)nk->max);
		if (nk->is64)
			*(uint64_t *)((char *)cfg + nk->offset) = v;
		else
			*(uint32_t *)((char *)cfg + nk->offset) = (uint32_t)v;
		return 0;
	}
	if (streq(key, "kernel_guard")) {
		const char *v = json_is(item, JSON_STRING) ? item->string : "";
		if (streq(v, "off"))
			cfg->kernel_guard = KERNEL_GUARD_OFF;
		else if (streq(v, "auto"))
			cfg->kernel_guard = KERNEL_GUARD_AUTO;
		else if (streq(v, "required"))
			cfg->kernel_guard = KERNEL_GUARD_REQUIRED;
		else
			return json_doc_fail(doc, item, false, "\"kernel_guard\" must be \"required\", \"auto\" or \"off\"");
		return 0;
	}
	if (streq(key, "log_level")) {
		if (!json_is(item, JSON_STRING) || log_level_parse(item->string, &cfg->log_level) < 0)
			return json_doc_fail(doc, item, false, "\"log_level\" must be \"debug\", \"info\", \"warning\" or \"error\"");
		return 0;
	}
	if (streq(key, "socket_mode")) {
		uint64_t v;

		if (json_node_uint(doc, item, 0777, &v) < 0 || (v != 0600 && v != 0660))
			return json_doc_fail(doc, item, false, "\"socket_mode\" must be 384 (0600) or 432 (0660)");
		cfg->socket_mode = (uint32_t)v;
		return 0;
	}
	if (streq(key, "gateway"))
		return parse_gateway(doc, item, cfg);
	/* json_doc_members() let only config_keys through. */
	assert(streq(key, "guard"));
	return parse_guard(doc, item, &cfg->guard);
}

/* Limits that are valid alone but contradict each other. A message of max_frame bytes costs
 * its sender a frame (header, body, tag) of byte tokens, and the byte bucket never holds more
 * than byte_rate: below that, such a message would be refused forever. (max_queue needs no
 * rule: a reader with an empty queue takes any message; see router/outq.c.) The error points
 * at byte_rate when the file sets it, else at max_frame. */
static int check_byte_rate(struct json_doc *doc, const struct json_node *const *f, const struct config *cfg)
{
	uint64_t frame = (uint64_t)cfg->max_frame + FRAME_HEADER_LEN + FRAME_TAG_LEN;

	if (cfg->byte_rate >= frame)
		return 0;
	const struct json_node *at = member(f, "byte_rate");
	if (!at)
		at = member(f, "max_frame");
	return json_doc_fail(doc, at ? at : doc->root, false,
			     "\"byte_rate\" (%llu) must be at least max_frame + %u (%llu): a message of max_frame bytes could never be sent",
			     (unsigned long long)cfg->byte_rate, FRAME_HEADER_LEN + FRAME_TAG_LEN, (unsigned long long)frame);
}

/* The router buffers a whole frame (header, body, tag) before reading it, and that buffer counts
 * against max_identity_partial_bytes (and max_partial_bytes, never smaller): below one frame of
 * max_frame bytes, such a message would close its sender's connection every time. */
static int check_partial(struct json_doc *doc, const struct json_node *const *f, const struct config *cfg)
{
	uint64_t frame = (uint64_t)cfg->max_frame + FRAME_HEADER_LEN + FRAME_TAG_LEN;

	if (cfg->max_identity_partial_bytes >= frame)
		return 0;
	const char *key = member(f, "max_identity_partial_bytes") ? "max_identity_partial_bytes" :
			  member(f, "max_partial_bytes")          ? "max_partial_bytes" :
								    "max_frame";
	const struct json_node *at = member(f, key);
	return json_doc_fail(doc, at ? at : doc->root, false,
			     "\"max_identity_partial_bytes\" (%llu) must be at least max_frame + %u (%llu): a message of max_frame bytes could never be received",
			     (unsigned long long)cfg->max_identity_partial_bytes, FRAME_HEADER_LEN + FRAME_TAG_LEN,
			     (unsigned long long)frame);
}

/* Applies the parsed document to cfg. Returns 0, JSON_DOC_INVALID (doc->error set), -ENOMEM. */
static int apply_doc(struct json_doc *doc, struct config *cfg)
{
	const struct json_node *f[ARRAY_SIZE(config_keys)];
	int r;

	if (!json_is(doc->root, JSON_OBJECT))
		return json_doc_fail(doc, doc->root, false, "the configuration is %s, not a JSON object",
				     json_type_name(doc->root));
	r = json_doc_members(doc, doc->root, "the configuration", config_keys, ARRAY_SIZE(config_keys), f);
	if (r)
		return r;
	/* In document order, so the first bad value in the file is the one reported. */
	for (const struct json_node *item = doc->root->child; item; item = item->next) {
		r = apply_item(doc, cfg, item);
		if (r)
			return r;
	}
	r = check_byte_rate(doc, f, cfg);
	if (r)
		return r;
	const char *sock = cfg->socket;
	if (sock[0] == '@' ? strlen(sock) < 2 || strlen(sock) > 107 : sock[0] != '/' || strlen(sock) > 107)
		return json_doc_fail(doc, f[0], false, "\"socket\" must be an absolute path or @name, at most 107 bytes");
	derive_limits(cfg);
	r = check_limits(doc, f, cfg);
	if (r)
		return r;
	r = check_partial(doc, f, cfg);
	if (r)
		return r;
	return finish_gateway(doc, f, cfg);
}

int config_load(const char *path, struct config *cfg, char **error)
{
	_cleanup_free_ char *text = NULL;
	struct json_doc doc = { 0 };
	size_t len = 0;
	int r = config_init(cfg);

	if (r < 0)
		return r;
	if (!path) {
		derive_limits(cfg);
		return 0;
	}
	r = read_file(path, &text, &len, error);
	if (r != 0)
		return r;
	r = json_doc_parse(&doc, text, len, path, CONFIG_MAX_SIZE, CONFIG_MAX_DEPTH, "not a JSON object: ");
	if (r == 0)
		r = apply_doc(&doc, cfg);
	if (r == JSON_DOC_INVALID) {
		r = CONFIG_INVALID;
		*error = TAKE_PTR(doc.error);
	}
	json_doc_done(&doc);
	if (r == 0 && !(cfg->path = strdup(path)))
		r = -ENOMEM;
	return r;
}

int config_reload_guard(const char *path, struct guard_config *guard, char **error)
{
	struct config fresh;
	int r = config_load(path, &fresh, error);

	if (r == 0) {
		guard_config_free(guard);
		*guard = fresh.guard;
		memset(&fresh.guard, 0, sizeof(fresh.guard));
	}
	config_free(&fresh);
	return r;
}

void config_free(struct config *cfg)
{
	free(cfg->socket);
	free(cfg->state_dir);
	free(cfg->manifest_dir);
	free(cfg->policy_file);
	free(cfg->user);
	free(cfg->skills_dir);
	free(cfg->path);
	free(cfg->gw);
	free(cfg->gateway_exec);
	guard_config_free(&cfg->guard);
	memset(cfg, 0, sizeof(*cfg));
}
