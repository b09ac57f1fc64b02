/* SPDX-License-Identifier: MIT */
/* bundle.h - the parent's side of policy: read manifests, grants and the level policy from disk,
 * derive the keys of their identities, and ship it all to the router as opaque text. Also the
 * file reads and writes of admin operations (install, grant, revoke, remove). Parses nothing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"

/* Reads and sends one complete bundle (BEGIN, files, keys, END) over fd. Unsafe files are
 * skipped with a log line. Returns 0 or a negative errno (the channel failed). */
int bundle_send(int fd, const struct config *cfg, const uint8_t *master);

/* Calls fn for every usable manifest file (safe owner and mode, name is a valid identity) in
 * name order; unusable files are skipped with a log line. Stops at the first negative return. */
typedef int (*bundle_manifest_fn)(const char *id, const char *path, const char *text, size_t len, void *userdata);
int bundle_foreach_manifest(const struct config *cfg, bundle_manifest_fn fn, void *userdata);

/* File writes for admin operations whose authority the parent checked (parent/admin.c); the text
 * is re-checked for size and bytes here. Each is all or nothing (parent/filetxn.h): on a negative
 * return the files on disk are exactly as before.
 * bundle_install: the manifest and grants file of id together (empty grants: no grants file).
 * bundle_write_grants: the grants file alone (empty text deletes it).
 * bundle_remove: the manifest and grants file together (-ENOENT: no manifest), then the skill's
 * other files (best effort, see remove_skill_extras in bundle.c). */
int bundle_install(const struct config *cfg, const char *id, const char *manifest, size_t manifest_len,
		   const char *grants, size_t grants_len);
int bundle_write_grants(const struct config *cfg, const char *id, const char *text, size_t len);
int bundle_remove(const struct config *cfg, const char *id);

/* Reads state_dir/grants/<id> into buf (PS_TEXT_MAX + 1 bytes) with the same safety checks as a
 * bundle. Returns its length or a negative errno (-ENOENT: no grants). */
ssize_t bundle_read_grants(const struct config *cfg, const char *id, char *buf);

/* True when manifest_dir/<id>.json exists as a regular file. */
bool bundle_has_manifest(const struct config *cfg, const char *id);

/* The built-in policy file location used when the config names none. */
#define BUNDLE_SYSTEM_POLICY "/etc/capbus/policy.json"
