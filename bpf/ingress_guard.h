/* SPDX-License-Identifier: MIT */
/* ingress_guard.h - layout shared by ingress_guard.bpf.c and its loader ingress.c.
 *
 * Crosses the kernel boundary: fixed-width fields, explicit padding, no pointers. */
#pragma once

#define INGRESS_MAX_NETS 256

/* LPM trie keys: prefix length in bits, then the address in network byte order. */
struct ingress_key4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct ingress_key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

enum {
	INGRESS_STAT_DROPPED,       /* packets to the port from a source not on the list */
	INGRESS_STAT_UNPARSED,      /* packets to the port whose source could not be read */
	INGRESS_STAT_MAX,
};
