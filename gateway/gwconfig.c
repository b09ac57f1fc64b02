// SPDX-License-Identifier: MIT
/* gwconfig.c - the `gateway` object of capbusd's configuration (gwconfig.h).
 *
 * Administrator text, trusted in intent and checked strictly: capbusd refuses a bad object at
 * start-up with "FILE:LINE:COL: gateway.listen[1]: ..." (the strict reader of json-doc.h), and
 * the supervised gateway re-reads the copy capbusd validated. Library code: no logging. */
#include "gwconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "json-doc.h"
#include "util.h"

#define GW_ROUTE_MAX 128
#define GW_NETS_PER_FAMILY 256

void gw_config_defaults(struct gw_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->route, "/core");
	c->supervise = true;
	c->greeting = true;
	c->max_connections = 512;
	c->max_per_source = 32;
	c->max_buffered = 64u << 20;
	c->lockout = (struct gw_lockout_params){ .threshold = 5, .base_s = 1, .max_s = 3600, .forget_s = 900 };
	c->lockout_capacity = 4096;
	/* The daemon's own defaults (busd/common/config.c), for a text that leaves them out. */
	strcpy(c->socket, "/run/capbus/bus.sock");
	strcpy(c->state_dir, "/var/lib/capbus");
	c->max_frame = 64 * 1024;
	c->handshake_timeout_ms = 5000;
	c->max_partial_bytes = UINT64_C(256) << 20;
	c->max_queue = 8u * 1024 * 1024;
}

/* "ADDR:PORT": a literal IPv4 address, or an IPv6 one in brackets; port 1024..65535 (the gateway
 * binds unprivileged), decimal without leading zeros. */
static int listen_parse(const char *s, struct gw_listen *out)
{
	struct gw_listen l = { 0 };
	const char *colon, *a = s;
	size_t alen;
	uint64_t port;
	uint8_t bytes[16];

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		a = s + 1;
		alen = (size_t)(close - a);
		colon = close + 1;
		l.family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		alen = (size_t)(colon - s);
		l.family = AF_INET;
	}
	if (alen == 0 || alen >= sizeof(l.addr))
		return -EINVAL;
	memcpy(l.addr, a, alen);
	l.addr[alen] = 0;
	if (inet_pton(l.family, l.addr, bytes) != 1)
		return -EINVAL;
	if (colon[1] == '0' || parse_u64(colon + 1, 65535, &port) < 0 || port < 1024)
		return -ERANGE;
	l.port = (uint16_t)port;
	if (l.family == AF_INET) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		memcpy(&sin.sin_addr, bytes, 4);
		l.loopback = gw_addr_is_loopback((struct sockaddr *)&sin);
	} else {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		memcpy(&sin6.sin6_addr, bytes, 16);
		l.loopback = gw_addr_is_loopback((struct sockaddr *)&sin6);
	}
	*out = l;
	return 0;
}

static int bool_member(struct json_doc *doc, const struct json_node *n, const char *what, bool *out)
{
	if (!json_is(n, JSON_TRUE) && !json_is(n, JSON_FALSE))
		return json_doc_fail(doc, n, false, "%s: must be true or false", what);
	*out = json_is(n, JSON_TRUE);
	return 0;
}

static int copy_str(struct json_doc *doc, const struct json_node *n, const char *what, char *dst, size_t size)
{
	if (!json_is(n, JSON_STRING) || !n->string[0] || strlen(n->string) >= size)
		return json_doc_fail(doc, n, false, "%s: must be a non-empty string of at most %zu bytes", what, size - 1);
	strcpy(dst, n->string);
	return 0;
}

static int uint_member(struct json_doc *doc, const struct json_node *n, const char *what, uint64_t min,
		       uint64_t max, uint32_t *out)
{
	uint64_t v;

	if (json_node_uint(doc, n, max, &v) < 0 || v < min)
		return json_doc_fail(doc, n, false, "%s: must be a whole number from %llu to %llu", what,
				     (unsigned long long)min, (unsigned long long)max);
	*out = (uint32_t)v;
	return 0;
}

/* A cgroup path relative to the v2 mount: "/a/b", no empty, "." or ".." component. */
static bool cgroup_path_ok(const char *s)
{
	size_t len = strlen(s);

	if (s[0] != '/' || len < 2 || len > 255 || s[len - 1] == '/' || strstr(s, "//"))
		return false;
	for (const char *p = s; (p = strstr(p, "/.")); p++)
		if (p[2] == '/' || p[2] == 0 || (p[2] == '.' && (p[3] == '/' || p[3] == 0)))
			return false;
	return true;
}

static int parse_listen(struct json_doc *doc, const struct json_node *arr, struct gw_config *c)
{
	if (!json_is(arr, JSON_ARRAY) || arr->n_children < 1 || arr->n_children > GW_LISTEN_MAX)
		return json_doc_fail(doc, arr, false, "gateway.listen: must be an array of 1 to %d \"ADDR:PORT\" strings",
				     GW_LISTEN_MAX);
	size_t i = 0;
	for (const struct json_node *e = arr->child; e; e = e->next, i++) {
		int r = json_is(e, JSON_STRING) ? listen_parse(e->string, &c->listen[i]) : -EINVAL;
		if (r == -ERANGE)
			return json_doc_fail(doc, e, false, "gateway.listen[%zu]: the port must be from 1024 to 65535", i);
		if (r < 0)
			return json_doc_fail(doc, e, false,
					     "gateway.listen[%zu]: must be \"IPV4:PORT\" or \"[IPV6]:PORT\" with a literal address",
					     i);
		for (size_t j = 0; j < i; j++)
			if (c->listen[j].family == c->listen[i].family && c->listen[j].port == c->listen[i].port &&
			    streq(c->listen[j].addr, c->listen[i].addr))
				return json_doc_fail(doc, e, false, "gateway.listen[%zu]: repeats gateway.listen[%zu]", i, j);
	}
	c->n_listen = i;
	return 0;
}

static int parse_tls(struct json_doc *doc, const struct json_node *obj, struct gw_config *c, bool check_files)
{
	static const char *const keys[] = { "cert", "key" };
	static const char *const what[] = { "gateway.tls.cert", "gateway.tls.key" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	char *dst[] = { c->tls_cert, c->tls_key };
	int r = json_doc_members(doc, obj, "gateway.tls", keys, ARRAY_SIZE(keys), f);

	if (r)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!f[i])
			return json_doc_fail(doc, obj, false, "%s: missing (TLS needs a certificate and its key)", what[i]);
		if (!json_is(f[i], JSON_STRING) || f[i]->string[0] != '/')
			return json_doc_fail(doc, f[i], false, "%s: must be an absolute path", what[i]);
		if ((r = copy_str(doc, f[i], what[i], dst[i], sizeof(c->tls_cert))))
			return r;
		/* Checked here so that capbusd names the line at start-up, not the gateway later. */
		if (check_files && access(dst[i], R_OK) != 0)
			return json_doc_fail(doc, f[i], false, "%s: cannot read %s: %s", what[i], dst[i], strerror(errno));
	}
	c->has_tls = true;
	return 0;
}

static int parse_allow_from(struct json_doc *doc, const struct json_node *arr, struct gw_config *c)
{
	size_t per_family[2] = { 0, 0 }, i = 0;

	if (!json_is(arr, JSON_ARRAY) || arr->n_children > GW_NETS_MAX)
		return json_doc_fail(doc, arr, false, "gateway.allow_from: must be an array of at most %d CIDRs",
				     GW_NETS_MAX);
	for (const struct json_node *e = arr->child; e; e = e->next, i++) {
		struct gw_net *n = &c->allow_from[i];
		if (!json_is(e, JSON_STRING) || gw_net_parse(e->string, n) < 0)
			return json_doc_fail(doc, e, false,
					     "gateway.allow_from[%zu]: must be a CIDR such as \"192.168.1.0/24\" with the host bits zero",
					     i);
		if (++per_family[n->family == AF_INET6] > GW_NETS_PER_FAMILY)
			return json_doc_fail(doc, e, false, "gateway.allow_from[%zu]: more than %d CIDRs of one family", i,
					     GW_NETS_PER_FAMILY);
	}
	c->n_allow_from = i;
	return 0;
}

static int parse_local(struct json_doc *doc, const struct json_node *obj, struct gw_config *c)
{
	if (!json_is(obj, JSON_OBJECT) || obj->n_children > GW_LOCAL_MAX)
		return json_doc_fail(doc, obj, false,
				     "gateway.local: must be an object of at most %d cgroup paths, each mapped to an identity",
				     GW_LOCAL_MAX);
	size_t i = 0;
	for (const struct json_node *e = obj->child; e; e = e->next, i++) {
		if (!cgroup_path_ok(e->key))
			return json_doc_fail(doc, e, true,
					     "gateway.local: key %zu must be a cgroup v2 path such as \"/system.slice/ovos-audio.service\"",
					     i);
		for (size_t j = 0; j < i; j++)
			if (streq(c->local[j].path, e->key))
				return json_doc_fail(doc, e, true, "gateway.local: cgroup path repeated");
		if (!json_is(e, JSON_STRING) || !hs_id_is_valid(e->string, strlen(e->string)))
			return json_doc_fail(doc, e, false, "gateway.local[\"%s\"]: must be a valid identity", e->key);
		strcpy(c->local[i].path, e->key);
		strcpy(c->local[i].id, e->string);
	}
	c->n_local = i;
	return 0;
}

static int parse_origins(struct json_doc *doc, const struct json_node *arr, struct gw_config *c)
{
	if (!json_is(arr, JSON_ARRAY) || arr->n_children > GW_ORIGINS_MAX)
		return json_doc_fail(doc, arr, false, "gateway.origins: must be an array of at most %d strings",
				     GW_ORIGINS_MAX);
	size_t i = 0;
	for (const struct json_node *e = arr->child; e; e = e->next, i++) {
		char what[48];
		snprintf(what, sizeof(what), "gateway.origins[%zu]", i);
		int r = copy_str(doc, e, what, c->origins[i], sizeof(c->origins[i]));
		if (r)
			return r;
	}
	c->n_origins = i;
	return 0;
}

static int parse_lockout(struct json_doc *doc, const struct json_node *obj, struct gw_config *c)
{
	static const char *const keys[] = { "threshold", "base_s", "max_s", "forget_s", "capacity" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	int r = json_doc_members(doc, obj, "gateway.lockout", keys, ARRAY_SIZE(keys), f);

	if (r)
		return r;
	if ((f[0] && (r = uint_member(doc, f[0], "gateway.lockout.threshold", 1, 1000, &c->lockout.threshold))) ||
	    (f[1] && (r = uint_member(doc, f[1], "gateway.lockout.base_s", 1, 86400, &c->lockout.base_s))) ||
	    (f[2] && (r = uint_member(doc, f[2], "gateway.lockout.max_s", 1, 7 * 86400, &c->lockout.max_s))) ||
	    (f[3] && (r = uint_member(doc, f[3], "gateway.lockout.forget_s", 1, 7 * 86400, &c->lockout.forget_s))) ||
	    (f[4] && (r = uint_member(doc, f[4], "gateway.lockout.capacity", 16, 1000000, &c->lockout_capacity))))
		return r;
	if (c->lockout.max_s < c->lockout.base_s)
		return json_doc_fail(doc, f[2] ? f[2] : obj, false, "gateway.lockout.max_s: may not be below base_s");
	return 0;
}

int gw_config_from_doc(struct json_doc *doc, const struct json_node *obj, struct gw_config *c, bool check_files)
{
	static const char *const keys[] = { "listen",	       "route",		 "tls",	    "plain_loopback",
					    "allow_from",      "local",		 "supervise", "user",
					    "max_connections", "max_per_source", "max_message", "origins",
					    "greeting",	       "lockout",	 "max_buffered" };
	const struct json_node *f[ARRAY_SIZE(keys)];
	int r = json_doc_members(doc, obj, "gateway", keys, ARRAY_SIZE(keys), f);

	if (r)
		return r;
	if (f[6] && (r = bool_member(doc, f[6], "gateway.supervise", &c->supervise)))
		return r;
	/* Without supervision capbusd starts nothing: only delegation is configured (development). */
	if (!f[0] && c->supervise)
		return json_doc_fail(doc, obj, false, "gateway.listen: missing (at least one \"ADDR:PORT\")");
	if (f[0] && (r = parse_listen(doc, f[0], c)))
		return r;
	if (f[1]) {
		if ((r = copy_str(doc, f[1], "gateway.route", c->route, sizeof(c->route))))
			return r;
		if (c->route[0] != '/' || strpbrk(c->route, "?# \t\r\n"))
			return json_doc_fail(doc, f[1], false, "gateway.route: must start with \"/\" and hold no ?, # or space");
	}
	if (f[2] && (r = parse_tls(doc, f[2], c, check_files)))
		return r;
	if (f[3] && (r = bool_member(doc, f[3], "gateway.plain_loopback", &c->plain_loopback)))
		return r;
	if (f[4] && (r = parse_allow_from(doc, f[4], c)))
		return r;
	if (f[5] && (r = parse_local(doc, f[5], c)))
		return r;
	if (f[7] && (r = copy_str(doc, f[7], "gateway.user", c->user, sizeof(c->user))))
		return r;
	if ((f[8] && (r = uint_member(doc, f[8], "gateway.max_connections", 1, 100000, &c->max_connections))) ||
	    (f[9] && (r = uint_member(doc, f[9], "gateway.max_per_source", 1, 100000, &c->max_per_source))) ||
	    (f[10] && (r = uint_member(doc, f[10], "gateway.max_message", 0, 16 * 1024 * 1024, &c->max_message))))
		return r;
	if (f[11] && (r = parse_origins(doc, f[11], c)))
		return r;
	if (f[12] && (r = bool_member(doc, f[12], "gateway.greeting", &c->greeting)))
		return r;
	if (f[13] && (r = parse_lockout(doc, f[13], c)))
		return r;
	if (f[14] && (r = uint_member(doc, f[14], "gateway.max_buffered", 1u << 20, 1u << 30, &c->max_buffered)))
		return r;
	if (c->max_per_source > c->max_connections)
		return json_doc_fail(doc, f[9], false, "gateway.max_per_source: may not exceed max_connections (%u)",
				     c->max_connections);
	/* Plain text only on loopback and only when asked for; everything else is TLS. */
	for (size_t i = 0; i < c->n_listen; i++) {
		struct gw_listen *l = &c->listen[i];
		const struct json_node *at = f[0] ? f[0]->child : obj;
		for (size_t j = 0; j < i; j++)
			at = at->next;
		l->tls = !(l->loopback && c->plain_loopback);
		if (l->tls && !c->has_tls)
			return json_doc_fail(doc, at, false,
					     l->loopback ? "gateway.listen[%zu]: needs \"tls\" (cert and key) or \"plain_loopback\": true" :
							   "gateway.listen[%zu]: not a loopback address, so it needs \"tls\" (cert and key)",
					     i);
	}
	return 0;
}

/* The member key of obj (for an error's position), else obj itself. */
static const struct json_node *member_or(const struct json_node *obj, const char *key)
{
	const struct json_node *at = obj;

	for (const struct json_node *e = obj->child; e; e = e->next)
		if (streq(e->key, key))
			at = e;
	return at;
}

int gw_config_check_frame(struct json_doc *doc, const struct json_node *obj, struct gw_config *c)
{
	if (c->max_message > c->max_frame)
		return json_doc_fail(doc, member_or(obj, "max_message"), false,
				     "gateway.max_message: may not exceed the daemon's max_frame (%u)", c->max_frame);
	if (!c->max_message)
		c->max_message = c->max_frame;
	if (c->max_buffered < c->max_message)
		return json_doc_fail(doc, member_or(obj, "max_buffered"), false,
				     "gateway.max_buffered: must hold at least one max_message (%u bytes)", c->max_message);
	return 0;
}

/* The daemon's top-level values the gateway needs; the daemon checked them, the gateway only
 * takes them (a missing one keeps the daemon's default). */
static int top_level(struct json_doc *doc, struct gw_config *c)
{
	for (const struct json_node *e = doc->root->child; e; e = e->next) {
		uint64_t v;

		if (streq(e->key, "socket") || streq(e->key, "state_dir")) {
			char *dst = streq(e->key, "socket") ? c->socket : c->state_dir;
			size_t size = streq(e->key, "socket") ? sizeof(c->socket) : sizeof(c->state_dir);
			int r = copy_str(doc, e, e->key, dst, size);
			if (r)
				return r;
			continue;
		}
		if (!streq(e->key, "max_frame") && !streq(e->key, "handshake_timeout_ms") &&
		    !streq(e->key, "max_partial_bytes") && !streq(e->key, "max_queue"))
			continue;
		if (json_node_uint(doc, e, UINT64_C(1) << 40, &v) < 0 || v == 0)
			return json_doc_fail(doc, e, false, "%s: must be a positive whole number", e->key);
		if (streq(e->key, "max_frame"))
			c->max_frame = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		else if (streq(e->key, "handshake_timeout_ms"))
			c->handshake_timeout_ms = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		else if (streq(e->key, "max_partial_bytes"))
			c->max_partial_bytes = v;
		else
			c->max_queue = v;
	}
	return 0;
}

int gw_config_parse(const char *text, size_t len, struct gw_config *out, char *err, size_t errlen)
{
	struct json_doc doc = { 0 };
	const struct json_node *gw = NULL;
	int r = json_doc_parse(&doc, text, len, "<config>", 256 * 1024, 16, "not a JSON object: ");

	gw_config_defaults(out);
	if (r == 0 && !json_is(doc.root, JSON_OBJECT))
		r = json_doc_fail(&doc, doc.root, false, "the configuration is not a JSON object");
	if (r == 0) {
		for (const struct json_node *e = doc.root->child; e; e = e->next)
			if (streq(e->key, "gateway"))
				gw = e;
		if (!gw)
			r = -ENOENT;
	}
	if (r == 0)
		r = top_level(&doc, out);
	if (r == 0)
		r = gw_config_from_doc(&doc, gw, out, false);
	if (r == 0)
		r = gw_config_check_frame(&doc, gw, out);
	/* The gateway itself has nothing to do without an address. */
	if (r == 0 && out->n_listen == 0)
		r = json_doc_fail(&doc, gw, false, "gateway.listen: missing (at least one \"ADDR:PORT\")");
	if (r == JSON_DOC_INVALID) {
		r = GW_CONFIG_INVALID;
		if (err && errlen)
			snprintf(err, errlen, "%s", doc.error ? doc.error : "invalid");
	}
	json_doc_done(&doc);
	return r;
}
