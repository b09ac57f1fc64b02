// SPDX-License-Identifier: MIT
/* config.c - strict JSON configuration for capbusd. */
#include "config.h"

#include "envelope.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

static void cjson_deletep_cfg(cJSON **p)
{
	cJSON_Delete(*p);
}

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
	_cleanup_(cjson_deletep_cfg) cJSON *root = NULL;
	size_t len = text_len;
	const char *end = NULL;
	/* Same strictness as for messages: UTF-8, no NUL or control bytes, no trailing bytes. */
	if (envelope_prescan((const uint8_t *)text, len, 16) != 0)
		return fail(error, path, "not valid JSON (bad UTF-8, control characters, NUL, or nesting)");
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
	const char *sock = cfg->socket;
	if (sock[0] == '@' ? strlen(sock) < 2 || strlen(sock) > 107 : sock[0] != '/' || strlen(sock) > 107)
		return fail(error, path, "\"socket\" must be an absolute path or @name, at most 107 bytes");
	return 0;
}

void config_free(struct config *cfg)
{
	free(cfg->socket);
	free(cfg->state_dir);
	free(cfg->manifest_dir);
	free(cfg->policy_file);
	free(cfg->user);
	free(cfg->skills_dir);
	memset(cfg, 0, sizeof(*cfg));
}
