// SPDX-License-Identifier: MIT
/* manifest.c - manifest parser and validator.
 *
 * Input is untrusted (a skill author writes it; the daemon reads it as root), so every field
 * is checked against an explicit syntax and range here, once, and the result is plain C data.
 * A key the parser does not know is an error rather than ignored: a misspelt "sandbox" or
 * "limits" must not silently leave a skill with the defaults. */
#include "manifest.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/socket.h>

#include "handshake.h"
#include "json-doc.h"
#include "pattern.h"

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	free(m->id);
	free(m->version);
	strv_free(m->exec);
	strv_free(m->send);
	strv_free(m->receive);
	for (size_t i = 0; i < m->sandbox.n_net_rules; i++)
		free(m->sandbox.net_rules[i].text);
	free(m->sandbox.net_rules);
	strv_free(m->sandbox.fs_read);
	strv_free(m->sandbox.fs_write);
	free(m->sandbox.syscalls);
	free(m);
}

static void manifest_freep(struct manifest **m)
{
	manifest_free(*m);
}

bool manifest_id_is_valid(const char *s)
{
	/* One rule with the handshake; starting with a letter or digit rules out "." and ".." as
	 * file names. */
	return hs_id_is_valid(s, strnlen(s, MANIFEST_ID_MAX + 1));
}

int manifest_check_filename(const struct manifest *m, const char *basename)
{
	size_t n = strlen(m->id);

	if (strchr(basename, '/') || strncmp(basename, m->id, n) != 0 || !streq(basename + n, ".json"))
		return MANIFEST_NAME_MISMATCH;
	return 0;
}

/* Returns why p is not an acceptable absolute path, or NULL. Paths must already be in normal
 * form so that what the sandbox binds is exactly what was shown to the user. */
static const char *path_problem(const char *p)
{
	size_t n = strnlen(p, PATH_MAX);

	if (n == 0)
		return "must not be empty";
	if (p[0] != '/')
		return "must be an absolute path";
	if (n >= PATH_MAX)
		return "is too long";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return "must not contain control characters";
	if (n > 1 && p[n - 1] == '/')
		return "must not end in '/'";
	for (const char *c = p; *c;) {
		size_t len;

		c++; /* the '/' */
		len = strcspn(c, "/");
		if ((n > 1 && len == 0) || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return "must be normalized (no '//', '.' or '..' components)";
		c += len;
	}
	return NULL;
}

/* s with every "{id}" replaced by id (malloc'd), or NULL without memory. */
static char *expand_id(const char *s, const char *id)
{
	size_t n = 0, idlen = strlen(id), plen = strlen(MANIFEST_ID_PLACEHOLDER);

	for (const char *p = strstr(s, MANIFEST_ID_PLACEHOLDER); p; p = strstr(p + plen, MANIFEST_ID_PLACEHOLDER))
		n++;
	char *out = malloc(strlen(s) + n * idlen + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s, *q; *p; p = q + plen) {
		q = strstr(p, MANIFEST_ID_PLACEHOLDER);
		if (!q) {
			o = stpcpy(o, p);
			break;
		}
		o = mempcpy(o, p, (size_t)(q - p));
		o = stpcpy(o, id);
	}
	*o = '\0';
	return out;
}

static const char *check_pattern(const char *s)
{
	/* The id only changes the length, checked once it is known (parse_bus) */
	_cleanup_free_ char *e = expand_id(s, "x");

	if (!e)
		return "could not be checked (out of memory)";
	return pattern_validate(e) < 0 ? "is not a valid pattern (an exact type, \"prefix.*\", \"prefix:*\" or \"*\")" : NULL;
}

/* Replaces "{id}" in every pattern of v by the manifest's id. */
static int expand_patterns(struct json_doc *doc, const struct json_node *arr, const char *what, char **v, const char *id)
{
	for (size_t i = 0; v[i]; i++) {
		if (!strstr(v[i], MANIFEST_ID_PLACEHOLDER))
			continue;
		char *e = expand_id(v[i], id);
		if (!e)
			return -ENOMEM;
		if (pattern_validate(e) < 0) {
			free(e);
			return json_doc_fail(doc, arr, false, "%s[%zu] is longer than %d bytes once {id} is replaced by \"%s\"",
					     what, i, PATTERN_MAX_LEN, id);
		}
		free(v[i]);
		v[i] = e;
	}
	return 0;
}

static const char *check_read_path(const char *s)
{
	return path_problem(s);
}

static const char *check_write_path(const char *s)
{
	if (streq(s, MANIFEST_STATE_DIR))
		return NULL;
	/* A writable root would undo the read-only system the sandbox is built on. */
	if (streq(s, "/"))
		return "would make the whole file system writable";
	return path_problem(s);
}

static const char *check_exec_arg(const char *s)
{
	return strlen(s) >= 4096 ? "is too long" : NULL;
}

static int string_field(struct json_doc *doc, const struct json_node *item, const char *what, const char *charset,
			const char *charset_name, size_t max, char **out)
{
	size_t n;

	if (!json_is(item, JSON_STRING))
		return json_doc_fail(doc, item, false, "%s must be a string, not %s", what, json_type_name(item));
	n = strlen(item->string);
	if (n == 0 || n > max || item->string[strspn(item->string, charset)])
		return json_doc_fail(doc, item, false, "%s must be 1 to %zu characters of %s", what, max, charset_name);
	*out = strdup(item->string);
	return *out ? 0 : -ENOMEM;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGIT "0123456789"

static int parse_port(const char *s, uint16_t *out)
{
	uint64_t v;

	if (parse_u64(s, 65535, &v) < 0 || v == 0)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* "PROTO:PORT", "PROTO:IPV4:PORT" or "PROTO:[IPV6]:PORT"; host names are refused because the
 * kernel guard enforces addresses, not names. */
static int parse_net_rule(const char *s, struct net_rule *rule)
{
	char buf[96];
	char *host, *port;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if (startswith(buf, "tcp:"))
		rule->proto = NET_PROTO_TCP;
	else if (startswith(buf, "udp:"))
		rule->proto = NET_PROTO_UDP;
	else
		return -EINVAL;
	host = buf + 4;
	if (host[0] == '[') {
		char *end = strchr(host, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		*end = '\0';
		port = end + 2;
		rule->family = AF_INET6;
		if (inet_pton(AF_INET6, host + 1, rule->addr) != 1)
			return -EINVAL;
	} else {
		port = strrchr(host, ':');
		if (!port) {
			port = host;
			rule->family = AF_UNSPEC;
		} else {
			*port++ = '\0';
			rule->family = AF_INET;
			if (inet_pton(AF_INET, host, rule->addr) != 1)
				return -EINVAL;
		}
	}
	return parse_port(port, &rule->port);
}

static int parse_connect(struct json_doc *doc, const struct json_node *item, const char *what,
			 struct manifest_sandbox *sb)
{
	size_t n = 0;

	if (!json_is(item, JSON_ARRAY))
		return json_doc_fail(doc, item, false, "%s must be an array of strings, not %s", what,
				     json_type_name(item));
	for (const struct json_node *c = item->child; c; c = c->next)
		n++;
	if (n > MANIFEST_MAX_NET_RULES)
		return json_doc_fail(doc, item, false, "%s has %zu entries, at most %d are allowed", what, n,
				     MANIFEST_MAX_NET_RULES);
	sb->net_rules = calloc(n ? n : 1, sizeof(*sb->net_rules));
	if (!sb->net_rules)
		return -ENOMEM;
	for (const struct json_node *c = item->child; c; c = c->next) {
		struct net_rule *rule = &sb->net_rules[sb->n_net_rules];

		if (!json_is(c, JSON_STRING))
			return json_doc_fail(doc, c, false, "%s[%zu] must be a string, not %s", what, sb->n_net_rules,
					     json_type_name(c));
		if (parse_net_rule(c->string, rule) < 0) {
			_cleanup_free_ char *q = json_quote(c->string);

			return q ? json_doc_fail(doc, c, false,
						 "%s[%zu] %s is not \"tcp|udp:PORT\", \"tcp|udp:IPV4:PORT\" or \"tcp|udp:[IPV6]:PORT\"",
						 what, sb->n_net_rules, q)
				 : -ENOMEM;
		}
		rule->text = strdup(c->string);
		if (!rule->text)
			return -ENOMEM;
		sb->n_net_rules++;
	}
	return 0;
}

/* "listen": [PORT, ...], inbound TCP ports forwarded from the host's loopback. */
static int parse_listen(struct json_doc *doc, const struct json_node *item, struct manifest_sandbox *sb)
{
	static const char what[] = "sandbox.network.listen";
	size_t n = 0;
	int r;

	if (!json_is(item, JSON_ARRAY))
		return json_doc_fail(doc, item, false, "%s must be an array of port numbers, not %s", what,
				     json_type_name(item));
	for (const struct json_node *c = item->child; c; c = c->next) {
		uint64_t v;

		if (n == MANIFEST_MAX_LISTEN)
			return json_doc_fail(doc, item, false, "%s has more than %d entries", what, MANIFEST_MAX_LISTEN);
		if ((r = json_doc_uint(doc, c, what, 1, 65535, &v)))
			return r;
		for (size_t i = 0; i < n; i++)
			if (sb->listen[i] == v)
				return json_doc_fail(doc, c, false, "%s lists port %u twice", what, (unsigned)v);
		sb->listen[n++] = (uint16_t)v;
	}
	sb->n_listen = n;
	return 0;
}

/* "none", an array of outbound rules (the original form, kept), or
 * {"connect": [RULE, ...], "listen": [PORT, ...]}. */
static int parse_network(struct json_doc *doc, const struct json_node *item, struct manifest_sandbox *sb)
{
	static const char *const keys[] = { "connect", "listen" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	int r;

	if (json_is(item, JSON_STRING)) {
		if (!streq(item->string, "none"))
			return json_doc_fail(doc, item, false,
					     "sandbox.network must be \"none\", an array like [\"tcp:443\"] or {\"connect\": [...], \"listen\": [PORT]}");
		return 0;
	}
	if (json_is(item, JSON_ARRAY)) {
		if (!item->child)
			return json_doc_fail(doc, item, false, "sandbox.network must not be empty (use \"none\")");
		r = parse_connect(doc, item, "sandbox.network", sb);
	} else if (json_is(item, JSON_OBJECT)) {
		r = json_doc_members(doc, item, "sandbox.network", keys, ARRAY_SIZE(keys), f);
		if (!r && f[0])
			r = parse_connect(doc, f[0], "sandbox.network.connect", sb);
		if (!r && f[1])
			r = parse_listen(doc, f[1], sb);
		if (!r && sb->n_net_rules == 0 && sb->n_listen == 0)
			return json_doc_fail(doc, item, false, "sandbox.network must not be empty (use \"none\")");
	} else {
		return json_doc_fail(doc, item, false, "sandbox.network must be \"none\", an array or an object, not %s",
				     json_type_name(item));
	}
	if (r)
		return r;
	sb->network = true;
	return 0;
}

static int parse_sandbox(struct json_doc *doc, const struct json_node *item, struct manifest_sandbox *sb)
{
	static const char *const keys[] = { "network", "filesystem", "syscalls" };
	static const char *const fs_keys[] = { "read", "write" };
	const struct json_node *f[ARRAY_SIZE(keys)], *fs[ARRAY_SIZE(fs_keys)];
	int r;

	r = json_doc_members(doc, item, "sandbox", keys, ARRAY_SIZE(keys), f);
	if (r)
		return r;
	if (f[0]) {
		r = parse_network(doc, f[0], sb);
		if (r)
			return r;
	}
	if (f[1]) {
		r = json_doc_members(doc, f[1], "sandbox.filesystem", fs_keys, ARRAY_SIZE(fs_keys), fs);
		if (r)
			return r;
		if (fs[0]) {
			r = json_doc_strv(doc, fs[0], "sandbox.filesystem.read", MANIFEST_MAX_PATHS, true, true,
					 check_read_path, &sb->fs_read, &sb->n_fs_read);
			if (r)
				return r;
		}
		if (fs[1]) {
			r = json_doc_strv(doc, fs[1], "sandbox.filesystem.write", MANIFEST_MAX_PATHS, true, true,
					 check_write_path, &sb->fs_write, &sb->n_fs_write);
			if (r)
				return r;
		}
	}
	if (f[2]) {
		r = string_field(doc, f[2], "sandbox.syscalls", LOWER DIGIT "_-", "[a-z0-9_-]", 32, &sb->syscalls);
		if (r)
			return r;
	}
	return 0;
}

/* "128M", "1G", "65536" or a plain number of bytes; K/M/G/T are powers of 1024. what names the
 * key and msg says what it accepts, for the error. */
static int parse_size(struct json_doc *doc, const struct json_node *item, const char *what, const char *msg,
		      uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v, shift = 0;
	char buf[32];
	size_t n;

	if (json_is(item, JSON_NUMBER))
		return json_doc_uint(doc, item, what, min, max, out);
	if (!json_is(item, JSON_STRING) || (n = strlen(item->string)) == 0 || n >= sizeof(buf))
		return json_doc_fail(doc, item, false, "%s", msg);
	memcpy(buf, item->string, n + 1);
	switch (buf[n - 1]) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	}
	if (shift)
		buf[n - 1] = '\0';
	if (parse_u64(buf, max >> shift, &v) < 0 || (v << shift) < min)
		return json_doc_fail(doc, item, false, "%s", msg);
	*out = v << shift;
	return 0;
}

static int parse_memory(struct json_doc *doc, const struct json_node *item, uint64_t *out)
{
	return parse_size(doc, item, "limits.memory", "limits.memory must be bytes or a size like \"128M\" or \"1G\", from 4M to 1T",
			  MANIFEST_MEMORY_MIN, MANIFEST_MEMORY_MAX, out);
}

/* Whole MiB: the image is formatted in 1 KiB blocks and resized in KiB, and a limit that is not
 * a round size is more likely a typo than a wish. */
static int parse_state(struct json_doc *doc, const struct json_node *item, uint64_t *out)
{
	static const char msg[] = "limits.state must be bytes or a size like \"64M\" or \"1G\", a whole number of MiB from 4M to 64G";
	uint64_t v;
	int r = parse_size(doc, item, "limits.state", msg, MANIFEST_STATE_MIN, MANIFEST_STATE_MAX, &v);

	if (r)
		return r;
	if (v % (UINT64_C(1) << 20))
		return json_doc_fail(doc, item, false, "%s", msg);
	*out = v;
	return 0;
}

static int parse_cpu(struct json_doc *doc, const struct json_node *item, uint32_t *out)
{
	char buf[16];
	uint64_t v;
	size_t n;

	if (!json_is(item, JSON_STRING) || (n = strlen(item->string)) < 2 || n >= sizeof(buf) ||
	    item->string[n - 1] != '%')
		goto bad;
	memcpy(buf, item->string, n - 1);
	buf[n - 1] = '\0';
	if (parse_u64(buf, MANIFEST_CPU_MAX, &v) < 0 || v == 0)
		goto bad;
	*out = (uint32_t)v;
	return 0;
bad:
	return json_doc_fail(doc, item, false, "limits.cpu must be a percentage of one CPU like \"25%%\", from 1%% to %d%%",
			     MANIFEST_CPU_MAX);
}

static int parse_u32_limit(struct json_doc *doc, const struct json_node *item, const char *what, uint64_t min,
			   uint64_t max, uint32_t *out)
{
	uint64_t v;
	int r = json_doc_uint(doc, item, what, min, max, &v);

	if (r == 0)
		*out = (uint32_t)v;
	return r;
}

static int parse_limits(struct json_doc *doc, const struct json_node *item, struct manifest_limits *l)
{
	static const char *const keys[] = { "memory", "pids", "cpu", "nofile", "msg_rate", "state" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	int r;

	r = json_doc_members(doc, item, "limits", keys, ARRAY_SIZE(keys), f);
	if (r)
		return r;
	if (f[0] && (r = parse_memory(doc, f[0], &l->memory)))
		return r;
	if (f[1] && (r = parse_u32_limit(doc, f[1], "limits.pids", 1, MANIFEST_PIDS_MAX, &l->pids)))
		return r;
	if (f[2] && (r = parse_cpu(doc, f[2], &l->cpu_percent)))
		return r;
	if (f[3] && (r = parse_u32_limit(doc, f[3], "limits.nofile", MANIFEST_NOFILE_MIN, MANIFEST_NOFILE_MAX, &l->nofile)))
		return r;
	if (f[4] && (r = parse_u32_limit(doc, f[4], "limits.msg_rate", 1, MANIFEST_MSG_RATE_MAX, &l->msg_rate)))
		return r;
	if (f[5] && (r = parse_state(doc, f[5], &l->state)))
		return r;
	return 0;
}

/* "namespace": true: receive "ID:*" and "ID.*" as if written. */
static int receive_own_namespace(struct manifest *m)
{
	static const char *const seps[] = { ":*", ".*" };

	for (size_t s = 0; s < ARRAY_SIZE(seps); s++) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s%s", m->id, seps[s]) < 0)
			return -ENOMEM;
		bool have = false;
		for (size_t i = 0; i < m->n_receive && !have; i++)
			have = !strcmp(m->receive[i], p);
		if (have)
			continue;
		char **v = realloc(m->receive, (m->n_receive + 2) * sizeof(char *));
		if (!v)
			return -ENOMEM;
		m->receive = v;
		m->receive[m->n_receive++] = TAKE_PTR(p);
		m->receive[m->n_receive] = NULL;
	}
	return 0;
}

static int parse_bus(struct json_doc *doc, const struct json_node *item, struct manifest *m)
{
	static const char *const keys[] = { "send", "receive", "dispatch", "namespace" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	int r;

	r = json_doc_members(doc, item, "bus", keys, ARRAY_SIZE(keys), f);
	if (r)
		return r;
	if (f[0] && ((r = json_doc_strv(doc, f[0], "bus.send", MANIFEST_MAX_PATTERNS, true, true, check_pattern,
				       &m->send, &m->n_send)) ||
		     (r = expand_patterns(doc, f[0], "bus.send", m->send, m->id))))
		return r;
	if (f[1] && ((r = json_doc_strv(doc, f[1], "bus.receive", MANIFEST_MAX_PATTERNS, true, true, check_pattern,
				       &m->receive, &m->n_receive)) ||
		     (r = expand_patterns(doc, f[1], "bus.receive", m->receive, m->id))))
		return r;
	if (f[2]) {
		if (!json_is(f[2], JSON_TRUE) && !json_is(f[2], JSON_FALSE))
			return json_doc_fail(doc, f[2], false, "bus.dispatch must be true or false");
		m->dispatch = json_is(f[2], JSON_TRUE);
	}
	if (f[3]) {
		if (!json_is(f[3], JSON_TRUE) && !json_is(f[3], JSON_FALSE))
			return json_doc_fail(doc, f[3], false, "bus.namespace must be true or false");
		m->namespace = json_is(f[3], JSON_TRUE);
	}
	return m->namespace ? receive_own_namespace(m) : 0;
}

/* "transports": a non-empty array of unique names from {"socket", "gateway"}. */
static int parse_transports(struct json_doc *doc, const struct json_node *item, struct manifest *m)
{
	static const char *const names[] = { "socket", "gateway" };
	static const uint32_t bits[] = { MANIFEST_T_SOCKET, MANIFEST_T_GATEWAY };
	const char *const what = "\"transports\" must be a non-empty array of unique names from \"socket\" and \"gateway\"";

	if (!json_is(item, JSON_ARRAY) || !item->child)
		return json_doc_fail(doc, item, false, "%s", what);
	m->transports = 0;
	for (const struct json_node *c = item->child; c; c = c->next) {
		size_t i;
		for (i = 0; i < ARRAY_SIZE(names) && !(json_is(c, JSON_STRING) && streq(c->string, names[i])); i++)
			;
		if (i == ARRAY_SIZE(names) || (m->transports & bits[i]))
			return json_doc_fail(doc, c, false, "%s", what);
		m->transports |= bits[i];
	}
	return 0;
}

static int empty_strv(char ***v)
{
	if (*v)
		return 0;
	*v = calloc(1, sizeof(char *));
	return *v ? 0 : -ENOMEM;
}

static int parse_root(struct json_doc *doc, struct manifest *m)
{
	static const char *const keys[] = { "manifest_version", "id", "version", "exec", "bus", "sandbox", "limits",
					    "transports" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	uint64_t v;
	int r;

	r = json_doc_members(doc, doc->root, "the manifest", keys, ARRAY_SIZE(keys), f);
	if (r)
		return r;
	if (!f[0])
		return json_doc_fail(doc, doc->root, false, "missing \"manifest_version\" (must be 1)");
	r = json_doc_uint(doc, f[0], "manifest_version", 0, UINT32_MAX, &v);
	if (r)
		return r;
	if (v != 1)
		return json_doc_fail(doc, f[0], false, "unsupported manifest_version %" PRIu64 " (this capbus reads 1)", v);
	m->manifest_version = 1;

	if (!f[1])
		return json_doc_fail(doc, doc->root, false, "missing \"id\"");
	if (!json_is(f[1], JSON_STRING) || !manifest_id_is_valid(f[1]->string))
		return json_doc_fail(doc, f[1], false,
				     "id must be 1 to %d characters of [A-Za-z0-9._-] starting with a letter or digit",
				     MANIFEST_ID_MAX);
	m->id = strdup(f[1]->string);
	if (!m->id)
		return -ENOMEM;

	if (f[2] && (r = string_field(doc, f[2], "version", LOWER UPPER DIGIT ".+~_-", "[A-Za-z0-9.+~_-]", 64, &m->version)))
		return r;
	if (f[3]) {
		r = json_doc_strv(doc, f[3], "exec", MANIFEST_MAX_ARGS, false, false, check_exec_arg, &m->exec, &m->n_exec);
		if (r)
			return r;
		if (path_problem(m->exec[0])) {
			_cleanup_free_ char *q = json_quote(m->exec[0]);

			return q ? json_doc_fail(doc, f[3]->child, false, "exec[0] %s %s", q, path_problem(m->exec[0]))
				 : -ENOMEM;
		}
	}
	if (f[4] && (r = parse_bus(doc, f[4], m)))
		return r;
	if (f[5] && (r = parse_sandbox(doc, f[5], &m->sandbox)))
		return r;
	if (f[6] && (r = parse_limits(doc, f[6], &m->limits)))
		return r;
	if (f[7] && (r = parse_transports(doc, f[7], m)))
		return r;
	/* A launched skill has one way to the bus, the connection capbusd hands it: a session opened
	 * from the network in its name would escape everything its sandbox promises. */
	if (f[3] && (m->transports & MANIFEST_T_GATEWAY))
		return json_doc_fail(doc, f[7], false,
				     "\"transports\": a skill launched by capbusd reaches the bus through its inherited "
				     "connection; \"gateway\" is only for external clients");
	if (!m->sandbox.syscalls && !(m->sandbox.syscalls = strdup(MANIFEST_DEFAULT_SYSCALLS)))
		return -ENOMEM;
	if ((r = empty_strv(&m->send)) < 0 || (r = empty_strv(&m->receive)) < 0 ||
	    (r = empty_strv(&m->sandbox.fs_read)) < 0 || (r = empty_strv(&m->sandbox.fs_write)) < 0)
		return r;
	return 0;
}

int manifest_parse(const char *text, size_t len, const char *filename, struct manifest **out,
		   char **error_out)
{
	_cleanup_(manifest_freep) struct manifest *m = NULL;
	struct json_doc doc = {0};
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->limits = (struct manifest_limits){
		.memory = MANIFEST_DEFAULT_MEMORY,
		.pids = MANIFEST_DEFAULT_PIDS,
		.cpu_percent = MANIFEST_DEFAULT_CPU_PERCENT,
		.nofile = MANIFEST_DEFAULT_NOFILE,
		.msg_rate = MANIFEST_DEFAULT_MSG_RATE,
		.state = MANIFEST_DEFAULT_STATE,
	};
	m->transports = MANIFEST_T_SOCKET;
	r = json_doc_parse(&doc, text, len, filename, MANIFEST_MAX_SIZE, MANIFEST_MAX_DEPTH, NULL);
	if (r == 0)
		r = parse_root(&doc, m);
	if (r > 0) {
		r = MANIFEST_INVALID;
		if (error_out)
			*error_out = TAKE_PTR(doc.error);
	} else if (r == 0) {
		*out = TAKE_PTR(m);
	}
	json_doc_done(&doc);
	return r;
}
