/* SPDX-License-Identifier: MIT */
/* keys.h - the daemon's master key and the client keys derived from it (parent only).
 *
 * Only the master key is stored (state_dir/master.key, 0600). A client key is
 * K_id = BLAKE2b-256(key = master, "capbus-v1 client key" | id), so issuing a key needs no
 * storage and a key from another daemon (another master) never authenticates here. */
#pragma once

#include <stdint.h>

#include "handshake.h"

/* Loads state_dir/master.key, creating it on first start. *master is sodium_malloc'd and locked;
 * free with keys_free_master(). Returns 0, a negative errno, or a positive KEYFILE_* code. */
int keys_load_master(int state_dir_fd, const char *state_dir, uint8_t **master);
void keys_free_master(uint8_t *master);

void keys_derive(const uint8_t *master, const char *id, uint8_t key[CAPBUS_KEY_LEN]);

/* The admin authority key A = BLAKE2b-256(key = master, "capbus-v1 admin authority" NUL): signs
 * admin requests (lib/authority.h). It is in admin.key and in the parent, never in the router. */
void keys_derive_authority(const uint8_t *master, uint8_t key[CAPBUS_KEY_LEN]);

/* Writes state_dir/admin.key (id admin, its client key, the authority key) unless it exists; adds
 * the authority line to an existing admin.key without one (atomic rewrite, same secret); leaves
 * one that has it untouched. Returns 0, a negative errno or a KEYFILE_* code. */
int keys_write_admin(const uint8_t *master, const char *state_dir);
