/* SPDX-License-Identifier: MIT */
/* gwconfig.h - the `gateway` object of capbusd's configuration, as the gateway and capbusd see it.
 *
 * gw_config_parse (gwconfig.c) reads the daemon's configuration text: written by the
 * administrator, trusted in intent but checked strictly, since capbusd must refuse a bad one at
 * start-up with a one-line message. The address helpers (gwnet.c) are pure and also judge peer
 * addresses, which are untrusted. Library code: no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw-hs.h"

#define GW_LISTEN_MAX 8
#define GW_LOCAL_MAX 64
#define GW_NETS_MAX 512
#define GW_ORIGINS_MAX 16
enum { GW_CONFIG_INVALID = 1 };
struct gw_lockout_params { uint32_t threshold, base_s, max_s, forget_s; };
struct gw_listen { char addr[46]; uint16_t port; int family; bool loopback, tls; };
struct gw_net { int family; uint8_t addr[16]; unsigned prefix; };
struct gw_local { char path[256]; char id[HS_ID_MAX + 1]; };
struct gw_config {
	struct gw_listen listen[GW_LISTEN_MAX]; size_t n_listen;
	char route[129];
	bool has_tls; char tls_cert[256], tls_key[256];
	bool plain_loopback, supervise, greeting;
	struct gw_net allow_from[GW_NETS_MAX]; size_t n_allow_from;
	struct gw_local local[GW_LOCAL_MAX]; size_t n_local;
	char origins[GW_ORIGINS_MAX][256]; size_t n_origins;
	char user[64];
	uint32_t max_connections, max_per_source, max_message;
	uint32_t max_buffered;   /* bytes held for clients' messages (partial, or queued to the bus), all conns */
	struct gw_lockout_params lockout; uint32_t lockout_capacity;
	/* from the daemon's top level */
	char socket[110], state_dir[256];
	uint32_t max_frame, handshake_timeout_ms;
	uint64_t max_partial_bytes, max_queue;
};
/* The whole capbusd config text. 0; -ENOENT: no "gateway" object; GW_CONFIG_INVALID with a
 * one-line "gateway.listen[1]: ..." in err; -ENOMEM. Library code: no logging. */
int gw_config_parse(const char *text, size_t len, struct gw_config *out, char *err, size_t errlen);

/* (gwconfig.c) For capbusd's own reader (busd/common/config.c), so its errors read
 * "FILE:LINE:COL: gateway...": the built-in values of every member (and of the daemon's top-level
 * ones), the object obj of doc read into c (0, JSON_DOC_INVALID with doc->error set, -ENOMEM;
 * check_files: the TLS files must be readable now), and, once c's max_frame is the daemon's,
 * max_message checked against it (0 means max_frame). */
struct json_doc;
struct json_node;
void gw_config_defaults(struct gw_config *c);
int gw_config_from_doc(struct json_doc *doc, const struct json_node *obj, struct gw_config *c, bool check_files);
int gw_config_check_frame(struct json_doc *doc, const struct json_node *obj, struct gw_config *c);

/* (gwnet.c) A CIDR "ADDR/PREFIX" (IPv4 dotted quad or IPv6, prefix in decimal, no leading zero)
 * with every host bit zero, as bpf/ingress.c's ingress_net_parse wants. A bare address is a
 * host (/32, /128). 0 or -EINVAL; *out untouched on failure. */
int gw_net_parse(const char *s, struct gw_net *out);
/* Whether sa (AF_INET, or AF_INET6 with a v4-mapped address folded to IPv4) lies in one of nets.
 * Other families never match. */
bool gw_net_match(const struct gw_net *nets, size_t n, const struct sockaddr *sa);
bool gw_addr_is_loopback(const struct sockaddr *sa);      /* 127/8, ::1, ::ffff:127/104 */
