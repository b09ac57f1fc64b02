// SPDX-License-Identifier: MIT
/* admin.c - check the admin's authority on an admin request, then act (privileged parent). */
#include "parent/admin.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "gw-tokens.h"
#include "regfile.h"
#include "grants.h"
#include "launch.h"
#include "manifest.h"
#include "parent/bundle.h"
#include "parent/keys.h"
#include "parent/nonces.h"
#include "pattern.h"

struct admin {
	const struct config *cfg;
	const uint8_t *master;
	uint8_t *authority; /* sodium_malloc'd, read-only */
	struct admin_ops ops;
	struct nonces nonces;
	uint64_t refused;
	struct log_ratelimit rl_refused;
};

/* One checked request: the fixed part, then its arg and body as NUL-terminated copies. */
struct admin_request {
	struct ps_admin fixed;
	char *arg;
	char *body;
};

int admin_new(const struct config *cfg, const uint8_t *master, const struct admin_ops *ops, struct admin **out)
{
	struct admin *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->authority = sodium_malloc(AUTHORITY_KEY_LEN);
	if (!a->authority) {
		free(a);
		return -ENOMEM;
	}
	keys_derive_authority(master, a->authority);
	sodium_mprotect_readonly(a->authority);
	a->cfg = cfg;
	a->master = master;
	a->ops = *ops;
	nonces_init(&a->nonces, PS_NONCE_TTL_MS);
	a->rl_refused = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 20);
	*out = a;
	return 0;
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	sodium_free(a->authority);
	sodium_memzero(&a->nonces, sizeof(a->nonces));
	free(a);
}

uint64_t admin_refused(const struct admin *a)
{
	return a->refused;
}

static int reply(int fd, const struct ps_admin *req, int status, const uint8_t *key)
{
	struct ps_reply rep = { .serial = req->serial, .status = status };

	memcpy(rep.id, req->id, sizeof(rep.id));
	if (key)
		memcpy(rep.key, key, CAPBUS_KEY_LEN);
	int r = ps_send(fd, PS_REPLY, &rep, sizeof(rep), NULL, 0);
	sodium_memzero(&rep, sizeof(rep));
	return r;
}

static int issue_nonce(struct admin *a, int fd, const struct ps_request *req)
{
	struct ps_nonce n = { .serial = req->serial };

	nonces_issue(&a->nonces, monotonic_ms(), n.nonce);
	return ps_send(fd, PS_NONCE, &n, sizeof(n), NULL, 0);
}

/* len bytes of p and a NUL after them; the bytes may hold NULs themselves (then the tag fails). */
static char *copy_text(const uint8_t *p, size_t len)
{
	char *s = malloc(len + 1);
	if (s) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

/* The decoder checked the type's size, the text bound and the id's NUL; what it cannot know:
 * how the text splits into arg and body, zero padding, a known operation. Else the channel is
 * broken. */
static int decode(const struct ps_msg *msg, struct admin_request *req)
{
	struct ps_admin *f = &req->fixed;
	static const uint8_t zero_pad[sizeof(f->pad)];
	const uint8_t *text = (const uint8_t *)msg->text;

	*f = msg->u.admin;
	if ((uint64_t)f->arg_len + f->body_len != msg->text_len || f->reserved != 0 ||
	    memcmp(f->pad, zero_pad, sizeof(zero_pad)) != 0 || !authority_op_name(f->op))
		return -EBADMSG;
	req->arg = copy_text(text, f->arg_len);
	req->body = copy_text(text + f->arg_len, f->body_len);
	if (!req->arg || !req->body)
		return -ENOMEM;
	return 0;
}

/* The nonce must be outstanding (it is used up either way), then the tag must match. Returns
 * NULL when the request carries the admin's authority, else the reason for the log. */
static const char *check_authority(struct admin *a, const struct ps_admin *f, const char *arg, const char *body)
{
	int r = nonces_consume(&a->nonces, monotonic_ms(), f->nonce);

	if (r == NONCES_UNKNOWN)
		return "unknown_nonce";
	if (r == NONCES_EXPIRED)
		return "expired_nonce";
	if (sodium_is_zero(f->tag, sizeof(f->tag)))
		return "no_authority";
	if (!authority_verify(a->authority, f->nonce, f->op, f->id, arg, f->arg_len, body, f->body_len, f->tag))
		return "bad_tag";
	return NULL;
}

/* Patterns joined by "\n" (possibly none) into a grants file text. */
static int grants_from_arg(char *arg, char **text_out)
{
	const char *v[256];
	size_t n = 0;
	char *save = NULL;

	if (arg[0]) {
		/* strtok_r would skip an empty line; an empty pattern is invalid, so refuse it. */
		size_t len = strlen(arg);
		if (arg[0] == '\n' || arg[len - 1] == '\n' || strstr(arg, "\n\n"))
			return -EINVAL;
		for (char *p = strtok_r(arg, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
			if (n == ARRAY_SIZE(v) || !grants_pattern_storable(p))
				return -EINVAL;
			v[n++] = p;
		}
	}
	*text_out = n ? grants_format(v, n) : strdup("");
	return *text_out ? 0 : -ENOMEM;
}

static int do_install(struct admin *a, struct admin_request *req)
{
	struct manifest *m = NULL;
	_cleanup_free_ char *grants = NULL;
	const char *id = req->fixed.id;

	if (!hs_id_is_valid(id, strlen(id)) || streq(id, "admin") || streq(id, HS_GATEWAY_ID))
		return -EINVAL;
	int r = manifest_parse(req->body, req->fixed.body_len, "manifest", &m, NULL);
	if (r != 0)
		return r < 0 ? r : -EINVAL;
	bool same = streq(m->id, id);
	manifest_free(m);
	if (!same)
		return -EINVAL;
	r = grants_from_arg(req->arg, &grants);
	if (r == 0)
		r = bundle_install(a->cfg, id, req->body, req->fixed.body_len, grants, strlen(grants));
	return r;
}

/* grant/revoke: the identity's grants file with the pattern added or dropped. */
static int do_grant(struct admin *a, struct admin_request *req, bool grant)
{
	const char *id = req->fixed.id, *pattern = req->arg;
	_cleanup_free_ char *text = malloc(PS_TEXT_MAX + 1), *out = NULL;
	char **v = NULL;
	size_t n = 0;

	if (!text)
		return -ENOMEM;
	if (!hs_id_is_valid(id, strlen(id)) || !(grant ? grants_pattern_storable(pattern) : pattern_validate(pattern) == 0))
		return -EINVAL;
	if (!bundle_has_manifest(a->cfg, id))
		return -ENOENT;
	ssize_t len = bundle_read_grants(a->cfg, id, text);
	if (len < 0 && len != -ENOENT)
		return (int)len;
	if (len > 0 && grants_parse(text, (size_t)len, "grants", &v, &n, NULL) != 0)
		return -EINVAL;
	/* The kept patterns, plus the new one; room for one more than the file holds. */
	const char **keep = calloc(n + 1, sizeof(char *));
	size_t k = 0;
	bool had = false;
	int r = keep ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (streq(v[i], pattern)) {
			had = true;
			if (!grant)
				continue;
		}
		keep[k++] = v[i];
	}
	if (r == 0 && grant && !had)
		keep[k++] = pattern;
	if (r == 0) {
		out = k ? grants_format(keep, k) : strdup("");
		r = out ? bundle_write_grants(a->cfg, id, out, strlen(out)) : -ENOMEM;
	}
	free(keep);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return r;
}

/* <state_dir>/gateway/tokens, rewritten whole: a temporary file, fsync, rename, directory fsync.
 * Owner root, group the gateway's gid (its sandbox uid and gid are equal), mode 0640 in a 0750
 * directory: the supervised gateway reads it, nobody else does. */
static int write_tokens(const struct admin *a, const char *text, size_t len)
{
	_cleanup_free_ char *dir = NULL, *path = NULL, *tmp = NULL;
	gid_t gid = (gid_t)launch_default_uid(HS_GATEWAY_ID, 0);

	if (asprintf(&dir, "%s/gateway", a->cfg->state_dir) < 0 || asprintf(&path, "%s/tokens", dir) < 0 ||
	    asprintf(&tmp, "%s/.tokens.tmp", dir) < 0)
		return -ENOMEM;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return negative_errno();
	if (chown(dir, 0, gid) < 0 || chmod(dir, 0750) < 0)
		return negative_errno();
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	if (write(fd, text, len) != (ssize_t)len || fchown(fd, 0, gid) < 0 || fchmod(fd, 0640) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		int r = errno ? -errno : -EIO;
		unlink(tmp);
		return r;
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

/* token_add and token_revoke: the store with one line added, or one (or all of an identity's)
 * removed. The line is checked as the gateway will read it. */
static int do_token(struct admin *a, struct admin_request *req, bool add)
{
	const char *id = req->fixed.id;
	_cleanup_free_ char *path = NULL, *old = malloc(GW_TOKENS_FILE_MAX + 1), *text = NULL;
	struct gw_token_entry e = { 0 };
	size_t len = 0;

	if (!old || asprintf(&path, "%s/gateway/tokens", a->cfg->state_dir) < 0)
		return -ENOMEM;
	if (!hs_id_is_valid(id, strlen(id)) || streq(id, "admin") || streq(id, HS_GATEWAY_ID))
		return -EINVAL;
	if (add) {
		char line[GW_TID_LEN + HS_ID_MAX + crypto_pwhash_STRBYTES + 32];
		int n = snprintf(line, sizeof(line), "%s %s %llu %s", req->arg, id, (unsigned long long)time(NULL),
				 req->body ? req->body : "");
		if (n < 0 || (size_t)n >= sizeof(line) || gw_token_line_parse(line, (size_t)n, &e) < 0)
			return -EINVAL;
	} else if (!req->arg || (!streq(req->arg, "*") && strlen(req->arg) != GW_TID_LEN)) {
		return -EINVAL;
	}
	ssize_t n = regfile_read(AT_FDCWD, path, 0, GW_TOKENS_FILE_MAX, old, NULL);
	if (n == -ENOENT)
		n = 0;
	if (n < 0)
		return (int)n;
	if (!add && !streq(req->arg, "*")) {
		/* A tid names one identity's token: revoking another's through this id is refused. */
		_cleanup_free_ char *only = NULL;
		size_t only_len = 0;
		int r = gw_tokens_edit(old, (size_t)n, NULL, NULL, id, &only, &only_len);
		if (r < 0)
			return r;
		_cleanup_free_ char *probe = NULL;
		size_t probe_len = 0;
		if (gw_tokens_edit(only, only_len, NULL, req->arg, NULL, &probe, &probe_len) == 0)
			return -ENOENT; /* still there once id's tokens are gone: another identity's */
	}
	int r = gw_tokens_edit(old, (size_t)n, add ? &e : NULL, add || streq(req->arg, "*") ? NULL : req->arg,
			       !add && streq(req->arg, "*") ? id : NULL, &text, &len);
	if (r < 0)
		return r;
	return write_tokens(a, text, len);
}

/* Runs an authorised operation. Returns its status; *key is set for keygen. */
static int act(struct admin *a, struct admin_request *req, uint8_t key[CAPBUS_KEY_LEN], bool *issued)
{
	const char *id = req->fixed.id;
	int r;

	switch (req->fixed.op) {
	case AUTHORITY_OP_KEYGEN:
		if (!hs_id_is_valid(id, strlen(id)) || req->fixed.arg_len || req->fixed.body_len)
			return -EINVAL;
		keys_derive(a->master, id, key);
		*issued = true;
		return 0;
	case AUTHORITY_OP_INSTALL:
		r = do_install(a, req);
		break;
	case AUTHORITY_OP_REMOVE:
		r = req->fixed.arg_len || req->fixed.body_len ? -EINVAL : bundle_remove(a->cfg, id);
		break;
	case AUTHORITY_OP_GRANT:
	case AUTHORITY_OP_REVOKE:
		r = req->fixed.body_len ? -EINVAL : do_grant(a, req, req->fixed.op == AUTHORITY_OP_GRANT);
		break;
	case AUTHORITY_OP_TOKEN_ADD:
	case AUTHORITY_OP_TOKEN_REVOKE:
		/* The gateway re-reads the store itself: no policy reload. */
		return do_token(a, req, req->fixed.op == AUTHORITY_OP_TOKEN_ADD);
	default:
		return -EINVAL;
	}
	if (r == 0 && a->ops.reload)
		a->ops.reload(a->ops.userdata);
	return r;
}

static int handle_admin(struct admin *a, int fd, const struct ps_msg *msg)
{
	struct admin_request req = { 0 };
	uint8_t key[CAPBUS_KEY_LEN];
	bool issued = false;
	uint64_t suppressed = 0;

	int r = decode(msg, &req);
	if (r < 0)
		goto out;
	const char *op = authority_op_name(req.fixed.op), *why = check_authority(a, &req.fixed, req.arg, req.body);
	if (why) {
		a->refused++;
		if (log_ratelimit_ok(&a->rl_refused, monotonic_ms(), &suppressed))
			log_event(LOG_LEVEL_WARNING, "admin_authority_refused", "op=%s id=%s reason=%s refused=%llu suppressed=%llu",
				  op, LOG_Q(req.fixed.id), why, (unsigned long long)a->refused,
				  (unsigned long long)suppressed);
		r = reply(fd, &req.fixed, -EPERM, NULL);
		goto out;
	}
	int status = act(a, &req, key, &issued);
	if (status < 0)
		log_event(LOG_LEVEL_WARNING, "admin_failed", "op=%s id=%s error=%s", op, LOG_Q(req.fixed.id),
			  LOG_Q(strerror(-status)));
	else
		log_event(LOG_LEVEL_INFO, issued ? "key_issued" : "admin_done", "op=%s id=%s", op, LOG_Q(req.fixed.id));
	r = reply(fd, &req.fixed, status, issued ? key : NULL);
	sodium_memzero(key, sizeof(key));
out:
	free(req.arg);
	free(req.body);
	return r;
}

int admin_handle(struct admin *a, int router_fd, const struct ps_msg *msg)
{
	switch (msg->type) {
	case PS_ADMIN_NONCE:
		return issue_nonce(a, router_fd, &msg->u.request);
	case PS_ADMIN:
		return handle_admin(a, router_fd, msg);
	default:
		return ADMIN_NOT_MINE;
	}
}
