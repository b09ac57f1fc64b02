/* SPDX-License-Identifier: MIT */
/* initimage.h - the capbus-init binary (sandbox/init.c), embedded in the sandbox library.
 *
 * Internal to sandbox/. The definition is generated at build time (embed-init.py), so every
 * program linking the library (capbusd, capbus run, capbus-sandbox, the tests) carries the init
 * it runs inside each sandbox: nothing is looked up on the host, nothing of the host's paths
 * reaches the sandbox. */
#pragma once

#include <stddef.h>

extern const unsigned char sandbox_init_image[];
extern const size_t sandbox_init_image_len;
