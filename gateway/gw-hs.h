/* SPDX-License-Identifier: MIT */
/* gw-hs.h - the delegated-handshake names the gateway needs, until lib/handshake.h has them.
 *
 * The values are those of the agreed interface (gateway design §1.5). Each block is skipped as
 * soon as lib/handshake.h defines the same names, so this header empties itself when the
 * delegation API lands and can then be deleted. Header-only; no trust level of its own. */
#pragma once

#include "handshake.h"

#ifndef HS_PEER_MAX
#define HS_PEER_MAX 64
enum hs_via { HS_VIA_LOCAL = 1, HS_VIA_TOKEN = 2, HS_VIA_CHALLENGE = 3 };
#endif
