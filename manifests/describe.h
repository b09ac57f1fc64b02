/* SPDX-License-Identifier: MIT */
/* describe.h - a manifest in plain words, for "capbus manifest check" and "capbus install".
 *
 * Pure: no I/O. Every string taken from the manifest is escaped, so the text is safe to print
 * on a terminal. */
#pragma once

#include "levels.h"
#include "manifest.h"

/* Multi-line text (ending in '\n'): identity, whether it runs a program or is an external
 * client, what it may send and hear (each with its protection level and what a grant would
 * allow), network, files, system calls and limits. Returns a malloc'd string, or NULL on
 * allocation failure. */
char *manifest_describe(const struct manifest *m, const struct level_policy *lp);

/* The plain-words meaning of one permission ("hear everything you say"). Returns a malloc'd
 * string, or NULL on allocation failure. */
char *permission_explain(enum perm_dir dir, const char *pattern);
