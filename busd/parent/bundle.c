// SPDX-License-Identifier: MIT
/* bundle.c - move policy files between disk and the router (privileged parent). */
#include "parent/bundle.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include "grants.h"
#include "levels.h"
#include "manifest.h"
#include "parent/filetxn.h"
#include "parent/keys.h"
#include "regfile.h"
#include "common/privsep.h"

/* Reads a regular file of at most max bytes that nobody but its owner (root or us) can write,
 * without blocking on whatever else may sit under its name (lib/regfile.h). buf holds
 * PS_TEXT_MAX + 1 bytes. Returns the length, or a negative errno (-EPERM: writable by others or
 * owned by another user; -ELOOP, -REGFILE_E_NOT_REGULAR, -EFBIG: see regfile_open). */
static ssize_t read_policy_file(int dirfd, const char *name, size_t max, char *buf)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r = regfile_open(dirfd, name, 0, max < PS_TEXT_MAX ? max : PS_TEXT_MAX, &fd, &st);

	if (r < 0)
		return r;
	if ((st.st_mode & 0022) || (st.st_uid != 0 && st.st_uid != geteuid()))
		return -EPERM;
	return regfile_read_fd(fd, buf, max < PS_TEXT_MAX ? max : PS_TEXT_MAX);
}

/* Why a file was skipped, for the log line. */
static const char *skip_reason(ssize_t r)
{
	return r == -EPERM ? "writable by group or others, or owned by another user" : regfile_strerror((int)r);
}

static int send_file(int fd, enum ps_file_kind kind, const char *id, const char *path, const char *text, size_t len)
{
	struct ps_file f = { .kind = kind };

	snprintf(f.id, sizeof(f.id), "%s", id);
	snprintf(f.name, sizeof(f.name), "%s", path);
	return ps_send(fd, PS_BUNDLE_FILE, &f, sizeof(f), text, len);
}

static int send_key(int fd, const uint8_t *master, const char *id)
{
	struct ps_key k = { 0 };

	snprintf(k.id, sizeof(k.id), "%s", id);
	keys_derive(master, id, k.key);
	int r = ps_send(fd, PS_BUNDLE_KEY, &k, sizeof(k), NULL, 0);
	sodium_memzero(&k, sizeof(k));
	return r;
}

static int dir_is_safe(int dirfd)
{
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return negative_errno();
	return (st.st_mode & 0022) || (st.st_uid != 0 && st.st_uid != geteuid()) ? -EPERM : 0;
}

static int send_levels(int fd, const struct config *cfg, char *buf)
{
	const char *path = cfg->policy_file ? cfg->policy_file : BUNDLE_SYSTEM_POLICY;
	ssize_t n = read_policy_file(AT_FDCWD, path, LEVEL_POLICY_MAX_SIZE, buf);

	if (n == -ENOENT && !cfg->policy_file)
		return 0; /* the router falls back to the built-in policy */
	if (n < 0) {
		log_event(LOG_LEVEL_ERROR, "policy_unreadable", "path=%s error=%s", LOG_Q(path), LOG_Q(skip_reason(n)));
		/* Send an empty file: the router then refuses every dangerous permission. */
		n = 0;
	}
	return send_file(fd, PS_FILE_LEVELS, "", path, buf, (size_t)n);
}

static int send_identity(int fd, const struct config *cfg, int grants_fd, const uint8_t *master, const char *id,
			 const char *path, const char *text, size_t len, char *buf)
{
	int r = send_file(fd, PS_FILE_MANIFEST, id, path, text, len);
	if (r < 0)
		return r;
	if (grants_fd >= 0) {
		ssize_t n = read_policy_file(grants_fd, id, GRANTS_MAX_SIZE, buf);
		if (n >= 0) {
			_cleanup_free_ char *gpath = NULL;
			if (asprintf(&gpath, "%s/grants/%s", cfg->state_dir, id) < 0)
				return -ENOMEM;
			r = send_file(fd, PS_FILE_GRANTS, id, gpath, buf, (size_t)n);
			if (r < 0)
				return r;
		} else if (n != -ENOENT) {
			/* The identity keeps only its normal permissions: fail closed. */
			_cleanup_free_ char *gpath = NULL;
			if (asprintf(&gpath, "%s/grants/%s", cfg->state_dir, id) < 0)
				return -ENOMEM;
			log_event(LOG_LEVEL_ERROR, "grants_unreadable", "id=%s path=%s error=%s", LOG_Q(id), LOG_Q(gpath),
				  LOG_Q(skip_reason(n)));
		}
	}
	return send_key(fd, master, id);
}

int bundle_foreach_manifest(const struct config *cfg, bundle_manifest_fn fn, void *userdata)
{
	_cleanup_free_ char *text = malloc(PS_TEXT_MAX + 1);
	struct dirent **names = NULL;
	int r = 0;

	if (!text)
		return -ENOMEM;
	_cleanup_close_ int dirfd = open(cfg->manifest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || dir_is_safe(dirfd) < 0) {
		log_event(LOG_LEVEL_ERROR, "manifest_dir_unusable", "path=%s error=%s", LOG_Q(cfg->manifest_dir),
			  dirfd < 0 ? LOG_Q(strerror(errno)) : "\"writable by group or others\"");
		return 0;
	}
	int n = scandirat(dirfd, ".", &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		char id[PS_ID_LEN];
		_cleanup_free_ char *path = NULL;
		if (r < 0 || name[0] == '.' || len <= 5 || !streq(name + len - 5, ".json"))
			goto next;
		if (asprintf(&path, "%s/%s", cfg->manifest_dir, name) < 0) {
			r = -ENOMEM;
			goto next;
		}
		if (len - 5 >= sizeof(id) || !hs_id_is_valid(name, len - 5) || streq(name, "admin.json") ||
		    streq(name, HS_GATEWAY_ID ".json")) {
			log_event(LOG_LEVEL_WARNING, "manifest_skipped", "path=%s reason=\"file name is not a valid identity\"",
				  LOG_Q(path));
			goto next;
		}
		memcpy(id, name, len - 5);
		id[len - 5] = '\0';
		ssize_t tl = read_policy_file(dirfd, name, MANIFEST_MAX_SIZE, text);
		if (tl < 0) {
			log_event(LOG_LEVEL_WARNING, "manifest_skipped", "path=%s reason=%s", LOG_Q(path), LOG_Q(skip_reason(tl)));
			goto next;
		}
		r = fn(id, path, text, (size_t)tl, userdata);
next:
		free(names[i]);
	}
	free(names);
	return r;
}

struct send_ctx {
	int fd;
	const struct config *cfg;
	const uint8_t *master;
	int grants_fd;
	char *buf;
};

static int send_one(const char *id, const char *path, const char *text, size_t len, void *userdata)
{
	struct send_ctx *ctx = userdata;
	return send_identity(ctx->fd, ctx->cfg, ctx->grants_fd, ctx->master, id, path, text, len, ctx->buf);
}

int bundle_send(int fd, const struct config *cfg, const uint8_t *master)
{
	_cleanup_free_ char *buf = malloc(PS_TEXT_MAX + 1), *grants_dir = NULL;
	_cleanup_close_ int grants_fd = -1;
	int r;

	if (!buf || asprintf(&grants_dir, "%s/grants", cfg->state_dir) < 0)
		return -ENOMEM;
	grants_fd = open(grants_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (grants_fd >= 0 && dir_is_safe(grants_fd) < 0) {
		log_event(LOG_LEVEL_ERROR, "grants_dir_unsafe", "path=%s", LOG_Q(grants_dir));
		close(TAKE_FD(grants_fd));
	}
	r = ps_send(fd, PS_BUNDLE_BEGIN, NULL, 0, NULL, 0);
	if (r == 0)
		r = send_levels(fd, cfg, buf);
	if (r == 0)
		r = send_key(fd, master, "admin");
	if (r == 0)
		r = send_key(fd, master, HS_GATEWAY_ID); /* proves delegated sessions; never a session itself */
	if (r == 0) {
		struct send_ctx ctx = { .fd = fd, .cfg = cfg, .master = master, .grants_fd = grants_fd, .buf = buf };
		r = bundle_foreach_manifest(cfg, send_one, &ctx);
	}
	if (r < 0)
		return r;
	return ps_send(fd, PS_BUNDLE_END, NULL, 0, NULL, 0);
}

/* Bytes the router may ask us to store: text, no NUL, within bounds. */
static bool text_is_plain(const char *text, size_t len)
{
	return len <= PS_TEXT_MAX && !memchr(text, '\0', len);
}

/* The grants directory, created on first use. */
static int ensure_grants_dir(const struct config *cfg, char **out)
{
	if (asprintf(out, "%s/grants", cfg->state_dir) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	if (mkdir(*out, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

/* Stages the grants file of id: its new text, or its deletion when text is empty. */
static int stage_grants(struct filetxn *t, const char *dir, const char *id, const char *text, size_t len)
{
	if (len == 0)
		return filetxn_unlink(t, dir, true, id);
	return filetxn_write(t, dir, true, id, text, len, 0600);
}

int bundle_install(const struct config *cfg, const char *id, const char *manifest, size_t manifest_len,
		   const char *grants, size_t grants_len)
{
	_cleanup_(filetxn_done) struct filetxn t = FILETXN_INIT;
	_cleanup_free_ char *gdir = NULL, *name = NULL;
	int r;

	if (!hs_id_is_valid(id, strlen(id)) || streq(id, "admin") || streq(id, HS_GATEWAY_ID) || !text_is_plain(manifest, manifest_len) ||
	    !text_is_plain(grants, grants_len))
		return -EINVAL;
	if (asprintf(&name, "%s.json", id) < 0)
		return -ENOMEM;
	r = ensure_grants_dir(cfg, &gdir);
	/* The manifest last: it is what makes the identity exist, so a crash between the two renames
	 * leaves at worst grants that no manifest uses yet. */
	if (r == 0)
		r = stage_grants(&t, gdir, id, grants, grants_len);
	if (r == 0)
		r = filetxn_write(&t, cfg->manifest_dir, false, name, manifest, manifest_len, 0644);
	if (r == 0)
		r = filetxn_commit(&t);
	return r;
}

int bundle_write_grants(const struct config *cfg, const char *id, const char *text, size_t len)
{
	_cleanup_(filetxn_done) struct filetxn t = FILETXN_INIT;
	_cleanup_free_ char *gdir = NULL;

	if (!hs_id_is_valid(id, strlen(id)) || !text_is_plain(text, len))
		return -EINVAL;
	int r = ensure_grants_dir(cfg, &gdir);
	if (r == 0)
		r = stage_grants(&t, gdir, id, text, len);
	if (r == 0)
		r = filetxn_commit(&t);
	return r;
}

ssize_t bundle_read_grants(const struct config *cfg, const char *id, char *buf)
{
	_cleanup_free_ char *dir = NULL;

	if (!hs_id_is_valid(id, strlen(id)))
		return -EINVAL;
	if (asprintf(&dir, "%s/grants", cfg->state_dir) < 0)
		return -ENOMEM;
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return negative_errno();
	if (dir_is_safe(dirfd) < 0)
		return -EPERM;
	return read_policy_file(dirfd, id, GRANTS_MAX_SIZE, buf);
}

bool bundle_has_manifest(const struct config *cfg, const char *id)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (!hs_id_is_valid(id, strlen(id)) || asprintf(&path, "%s/%s.json", cfg->manifest_dir, id) < 0)
		return false;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Files of a removed skill beyond its manifest and grants: nothing yet. Removal calls this after
 * the manifest and grants are gone, so whatever is deleted here belongs to an identity that no
 * longer exists; it is best effort (the removal stands whatever happens here). Extend it for
 * per-skill files kept under state_dir (the skill's state image, for instance). */
static void remove_skill_extras(const struct config *cfg, const char *id)
{
	(void)cfg;
	(void)id;
}

int bundle_remove(const struct config *cfg, const char *id)
{
	_cleanup_(filetxn_done) struct filetxn t = FILETXN_INIT;
	_cleanup_free_ char *manifest = NULL, *gdir = NULL;

	if (!hs_id_is_valid(id, strlen(id)) || streq(id, "admin") || streq(id, HS_GATEWAY_ID))
		return -EINVAL;
	if (asprintf(&manifest, "%s.json", id) < 0 || asprintf(&gdir, "%s/grants", cfg->state_dir) < 0)
		return -ENOMEM;
	if (!bundle_has_manifest(cfg, id))
		return -ENOENT;
	/* The manifest first: once it is gone the identity no longer exists, whatever else a crash
	 * leaves behind. */
	int r = filetxn_unlink(&t, cfg->manifest_dir, false, manifest);
	if (r == 0 && access(gdir, F_OK) == 0)
		r = filetxn_unlink(&t, gdir, true, id);
	if (r == 0)
		r = filetxn_commit(&t);
	if (r == 0)
		remove_skill_extras(cfg, id);
	return r;
}
