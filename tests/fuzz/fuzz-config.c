// SPDX-License-Identifier: MIT
/* fuzz-config.c - libFuzzer target: the capbusd configuration parser.
 *
 * config_load() reads a path, so each input is written to a memfd and loaded through
 * /proc/self/fd/N. Checks: the outcome is success or a CONFIG_INVALID whose message names the
 * file; an accepted configuration satisfies every documented range. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/config.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

static void check_config(const struct config *c)
{
	if (!c->socket || !c->state_dir || !c->manifest_dir || !c->user)
		abort();
	size_t sl = strlen(c->socket);
	if (c->socket[0] == '@' ? sl < 2 || sl > 107 : c->socket[0] != '/' || sl > 107)
		abort();
	if (c->state_dir[0] != '/' || c->manifest_dir[0] != '/' || (c->policy_file && c->policy_file[0] != '/') ||
	    !c->user[0])
		abort();
	if (c->max_frame < 256 || c->max_frame > 16 * 1024 * 1024 || c->max_depth < 2 || c->max_depth > 128 ||
	    c->handshake_timeout_ms < 50 || c->handshake_timeout_ms > 600000 || c->max_connections < 1 ||
	    c->max_connections > 1000000 || c->max_pending < 1 || c->max_pending > 100000 || c->max_queue < 4096 ||
	    c->max_queue > UINT64_C(1) << 34 || c->byte_rate < 1024 || c->byte_rate > UINT64_C(1) << 40)
		abort();
	/* Every share within what it is a share of, whether set or derived. */
	if (c->max_pending_per_peer < 1 || c->max_pending_per_peer > c->max_pending_per_uid ||
	    c->max_pending_per_uid > c->max_pending || c->max_identity_connections < 1 ||
	    c->max_identity_connections > c->max_connections || c->max_subscriptions < 1 ||
	    c->max_subscriptions > c->max_identity_subscriptions || c->max_subscription_bytes < 1024 ||
	    c->max_subscription_bytes > c->max_identity_subscription_bytes)
		abort();
	/* The partial-frame caps: the identity's within the whole, and room for one max_frame frame. */
	if (c->max_identity_partial_bytes > c->max_partial_bytes ||
	    c->max_identity_partial_bytes < (uint64_t)c->max_frame + 20 || c->max_partial_bytes > UINT64_C(1) << 40)
		abort();
	if (c->socket_mode != 0600 && c->socket_mode != 0660)
		abort();
	if (c->kernel_guard > KERNEL_GUARD_REQUIRED || c->log_level > LOG_LEVEL_ERROR)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *error = NULL;

	if (memfd < 0) {
		memfd = memfd_create("capbus-fuzz-config", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) < 0 || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();

	int r = config_load(path, &cfg, &error);
	if (r == 0) {
		/* A NUL byte, raw or escaped, would cut the text or a value short: never accepted. */
		if (error || memchr(data, '\0', size) || fuzz_has_escaped_nul(data, size))
			abort();
		check_config(&cfg);
	} else if (r == CONFIG_INVALID) {
		if (!error || strncmp(error, path, strlen(path)) != 0 || error[strlen(path)] != ':')
			abort();
	} else {
		abort(); /* no allocation failures here */
	}
	free(error);
	config_free(&cfg);
	return 0;
}
