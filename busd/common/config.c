// SPDX-License-Identifier: MIT
/* config.c - strict JSON configuration for capbusd. */
#include "common/config.h"

#include "envelope.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>


#define CONFIG_MAX_SIZE (256 * 1024)

static int set_str(char **dst, const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

static int config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernel_guard = KERNEL_GUARD_AUTO;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->max_frame = 64 * 1024;
	cfg->max_depth = 32;
	cfg->handshake_timeout_ms = 5000;
	cfg->max_connections = 4096;
	cfg->max_pending = 256;
	cfg->max_queue = 8u * 1024 * 1024;
	cfg->byte_rate = 64u * 1024 * 1024;
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
	return 0;
}

static int fail(char **error, const char *path, const char *fmt, ...) _printf_(3, 4);
static int fail(char **error, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0 || asprintf(error, "%s: %s", path, msg) < 0)
		return -ENOMEM;
	return CONFIG_INVALID;
}

static int read_file(const char *path, char **out, size_t *out_len, char **error)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return fail(error, path, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_SIZE)
		return fail(error, path, "not a regular file of at most %d bytes", CONFIG_MAX_SIZE);
	char *buf = calloc(1, (size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(buf);
		return fail(error, path, "short read");
	}
	*out = buf;
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
};

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

static int parse_guard(const cJSON *obj, struct guard_config *out, const char *path, char **error)
{
	struct guard_config g = { 0 };
	int r = 0;

	if (!cJSON_IsObject(obj))
		return fail(error, path, "\"guard\" must be an object");
	for (const cJSON *item = obj->child; item && r == 0; item = item->next) {
		const char *key = item->string;
		if (streq(key, "scope")) {
			if (!cJSON_IsString(item) || !cgroup_path_ok(item->valuestring))
				r = fail(error, path, "\"guard.scope\" must be a cgroup v2 path such as \"/system.slice\"");
			else if (!(g.scope = strdup(item->valuestring)))
				r = -ENOMEM;
		} else if (streq(key, "allow_cgroups")) {
			int n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : -1;
			if (n < 0 || n > 4096 || !(g.allow_cgroups = calloc((size_t)n + 1, sizeof(char *)))) {
				r = n < 0 || n > 4096 ? fail(error, path, "\"guard.allow_cgroups\" must be an array of cgroup paths") : -ENOMEM;
				break;
			}
			for (const cJSON *c = item->child; c && r == 0; c = c->next) {
				if (!cJSON_IsString(c) || !cgroup_path_ok(c->valuestring))
					r = fail(error, path, "\"guard.allow_cgroups\" entries must be cgroup v2 paths such as \"/user.slice\"");
				else if (!(g.allow_cgroups[g.n_allow_cgroups++] = strdup(c->valuestring)))
					r = -ENOMEM;
			}
		} else if (streq(key, "allow_uids")) {
			int n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : -1;
			if (n < 0 || n > 1024 || !(g.allow_uids = calloc((size_t)n + 1, sizeof(uint32_t)))) {
				r = n < 0 || n > 1024 ? fail(error, path, "\"guard.allow_uids\" must be an array of uids") : -ENOMEM;
				break;
			}
			for (const cJSON *c = item->child; c && r == 0; c = c->next) {
				if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble > 4294967294.0 ||
				    c->valuedouble != (double)(uint32_t)c->valuedouble)
					r = fail(error, path, "\"guard.allow_uids\" entries must be uids");
				else
					g.allow_uids[g.n_allow_uids++] = (uint32_t)c->valuedouble;
			}
		} else if (streq(key, "simulate_missing_hook")) {
			if (!cJSON_IsBool(item))
				r = fail(error, path, "\"guard.simulate_missing_hook\" must be true or false");
			g.simulate_missing_hook = cJSON_IsTrue(item);
		} else {
			r = fail(error, path, "unknown key \"guard.%s\"", key);
		}
	}
	if (r == 0 && !g.allow_uids) {
		g.allow_uids = calloc(1, sizeof(uint32_t));
		g.n_allow_uids = 1;
		if (!g.allow_uids)
			r = -ENOMEM;
	}
	if (r != 0) {
		guard_config_free(&g);
		return r;
	}
	guard_config_free(out);
	*out = g;
	return 0;
}

static int apply_item(struct config *cfg, const cJSON *item, const char *path, char **error)
{
	const char *key = item->string;

	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++) {
		if (!streq(key, string_keys[i]))
			continue;
		if (!cJSON_IsString(item) || !item->valuestring[0])
			return fail(error, path, "\"%s\" must be a non-empty string", key);
		if (!streq(key, "user") && !streq(key, "socket") && item->valuestring[0] != '/')
			return fail(error, path, "\"%s\" must be an absolute path", key);
		return set_str(string_field(cfg, key), item->valuestring);
	}
	for (size_t i = 0; i < ARRAY_SIZE(number_keys); i++) {
		const struct number_key *nk = &number_keys[i];
		if (!streq(key, nk->name))
			continue;
		double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
		if (v < (double)nk->min || v > (double)nk->max || v != (double)(uint64_t)v)
			return fail(error, path, "\"%s\" must be an integer from %llu to %llu", key,
				    (unsigned long long)nk->min, (unsigned long long)nk->max);
		if (nk->is64)
			*(uint64_t *)((char *)cfg + nk->offset) = (uint64_t)v;
		else
			*(uint32_t *)((char *)cfg + nk->offset) = (uint32_t)v;
		return 0;
	}
	if (streq(key, "kernel_guard")) {
		const char *v = cJSON_IsString(item) ? item->valuestring : "";
		if (streq(v, "off"))
			cfg->kernel_guard = KERNEL_GUARD_OFF;
		else if (streq(v, "auto"))
			cfg->kernel_guard = KERNEL_GUARD_AUTO;
		else if (streq(v, "required"))
			cfg->kernel_guard = KERNEL_GUARD_REQUIRED;
		else
			return fail(error, path, "\"kernel_guard\" must be \"required\", \"auto\" or \"off\"");
		return 0;
	}
	if (streq(key, "log_level")) {
		if (!cJSON_IsString(item) || log_level_parse(item->valuestring, &cfg->log_level) < 0)
			return fail(error, path, "\"log_level\" must be \"debug\", \"info\", \"warning\" or \"error\"");
		return 0;
	}
	if (streq(key, "guard"))
		return parse_guard(item, &cfg->guard, path, error);
	if (streq(key, "socket_mode")) {
		if (!cJSON_IsNumber(item) || (item->valuedouble != 0600 && item->valuedouble != 0660))
			return fail(error, path, "\"socket_mode\" must be 384 (0600) or 432 (0660)");
		cfg->socket_mode = (uint32_t)item->valueint;
		return 0;
	}
	return fail(error, path, "unknown key \"%s\"", key);
}

int config_load(const char *path, struct config *cfg, char **error)
{
	_cleanup_free_ char *text = NULL;
	size_t text_len = 0;
	int r = config_init(cfg);

	if (r < 0 || !path)
		return r;
	r = read_file(path, &text, &text_len, error);
	if (r != 0)
		return r;
	_cleanup_(cjson_deletep) cJSON *root = NULL;
	size_t len = text_len;
	const char *end = NULL;
	/* Same strictness as for messages: UTF-8, no NUL or control bytes, no trailing bytes. */
	r = envelope_prescan((const uint8_t *)text, len, 16);
	if (r == ENVELOPE_BAD_UTF8 || r == ENVELOPE_TOO_DEEP)
		return fail(error, path, "not valid JSON (bad UTF-8, or nested too deeply)");
	if (r != 0)
		return fail(error, path, "not a JSON object: invalid JSON (syntax, control characters or \\u0000)");
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	while (root && end < text + len && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r'))
		end++;
	if (!cJSON_IsObject(root) || end != text + len)
		return fail(error, path, "not a JSON object, or bytes follow it");
	for (const cJSON *a = root->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (streq(a->string, b->string))
				return fail(error, path, "duplicate key \"%s\"", a->string);
	for (const cJSON *item = root->child; item; item = item->next) {
		r = apply_item(cfg, item, path, error);
		if (r != 0)
			return r;
	}
	if (!(cfg->path = strdup(path)))
		return -ENOMEM;
	const char *sock = cfg->socket;
	if (sock[0] == '@' ? strlen(sock) < 2 || strlen(sock) > 107 : sock[0] != '/' || strlen(sock) > 107)
		return fail(error, path, "\"socket\" must be an absolute path or @name, at most 107 bytes");
	return 0;
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
	guard_config_free(&cfg->guard);
	memset(cfg, 0, sizeof(*cfg));
}
