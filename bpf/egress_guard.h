/* SPDX-License-Identifier: MIT */
/* egress_guard.h - layout shared by egress_guard.bpf.c and its loader egress.c.
 *
 * Crosses the kernel boundary: fixed-width fields, explicit padding, no pointers. */
#pragma once

#define EGRESS_MAX_RULES 64

#define EGRESS_PROTO_TCP 1
#define EGRESS_PROTO_UDP 2
#define EGRESS_PROTO_LISTEN 3 /* a TCP port that may be bound; address always wild */
#define EGRESS_PROTO_SOCKET 4 /* only allows creating UDP sockets; never looked up */

#define EGRESS_WILD_ADDR 0x1
#define EGRESS_WILD_PORT 0x2

/* Bits of the allow_create rodata word: which inet sockets may be created at all. */
#define EGRESS_CREATE_TCP4 0x1
#define EGRESS_CREATE_UDP4 0x2
#define EGRESS_CREATE_TCP6 0x4
#define EGRESS_CREATE_UDP6 0x8

/* Key of the rule hash map. A wildcard part is zero in the key and flagged in `wild`, so a
 * lookup tries at most four keys: exact, any address, any port, both. */
struct egress_key {
	__u8 family;     /* 4 or 6 */
	__u8 proto;      /* EGRESS_PROTO_* */
	__u8 wild;       /* EGRESS_WILD_* */
	__u8 pad;
	__u16 port;      /* network byte order */
	__u16 pad2;
	__u32 addr[4];   /* network byte order; IPv4 in addr[0] */
};

enum {
	EGRESS_STAT_DENIED_CREATE,
	EGRESS_STAT_DENIED_CONNECT,
	EGRESS_STAT_DENIED_SENDMSG,
	EGRESS_STAT_DENIED_UNIX,
	EGRESS_STAT_DENIED_BIND,
	EGRESS_STAT_MAX,
};
