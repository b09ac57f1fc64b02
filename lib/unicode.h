/* SPDX-License-Identifier: MIT */
/* unicode.h - which code points a reader cannot see: one list for the log escaper and for the
 * rule on message types. Pure functions, no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* True for a character that ends a line for some readers, or reorders or hides text without
 * being seen itself (Unicode format characters, variation selectors, fillers). C0/C1 controls
 * are not included: callers handle those bytes themselves. */
bool unicode_is_invisible(uint32_t cp);
