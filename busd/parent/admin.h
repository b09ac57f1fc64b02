/* SPDX-License-Identifier: MIT */
/* admin.h - admin operations in the privileged parent, each carrying the admin's authority.
 *
 * Trust level: the requests come from the router, which may be compromised. Nothing is written,
 * installed, granted, revoked, removed or issued unless the request carries a tag under the
 * authority key (which the router never holds) over its exact bytes and a nonce this module
 * issued, has not seen used, and issued less than PS_NONCE_TTL_MS ago. Only after that check is
 * any text from the router parsed (the manifest of an install, the granted patterns). */
#pragma once

#include <stdint.h>

#include "common/config.h"
#include "common/privsep.h"

struct admin;

struct admin_ops {
	/* Policy changed on disk: send a bundle to the router and sync the skills. */
	int (*reload)(void *userdata);
	void *userdata;
};

/* Positive return of admin_handle(): the message type is not an admin message. */
#define ADMIN_NOT_MINE 1

/* master stays owned by the caller and must outlive the admin. Returns 0 or -ENOMEM. */
int admin_new(const struct config *cfg, const uint8_t *master, const struct admin_ops *ops, struct admin **out);
void admin_free(struct admin *a);

/* Handles PS_ADMIN_NONCE and PS_ADMIN, already checked by the privsep decoder (direction, exact
 * fixed size, text within PS_TEXT_MAX, NUL-terminated id), answering on router_fd. Returns 0 when
 * handled (a refusal is handled too: -EPERM in the PS_REPLY), ADMIN_NOT_MINE, -EBADMSG for what
 * the table cannot express (arg_len + body_len not the text's length, non-zero padding, unknown
 * operation; fatal to the channel), or a negative errno of the send. */
int admin_handle(struct admin *a, int router_fd, const struct ps_msg *msg);

/* Requests refused for want of authority since start. */
uint64_t admin_refused(const struct admin *a);
