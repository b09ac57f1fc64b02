// SPDX-License-Identifier: MIT
/* diag.c - loopback peer cgroup by sock_diag, cgroup id -> identity (see gw-diag.h).
 *
 * Trust level: runs in the gateway before any byte of the connection is read. The netlink
 * answer is the kernel's; it is still checked field by field (sequence, tuple echo, lengths)
 * because a stale answer to an earlier, timed-out request must never be taken for this one. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "gw-diag.h"
#include "util.h"

struct gw_map_entry {
	char path[256];
	char id[HS_ID_MAX + 1];
	uint64_t cgroup_id; /* 0: the directory does not exist (now) */
};

struct gw_diag {
	int nl;
	uint32_t seq;
	char mount[PATH_MAX];
	struct gw_map_entry map[GW_LOCAL_MAX];
	size_t n;
	uint64_t last_resolve_ms;
};

/* An absolute cgroup path without "." or ".." components, empty components or trailing "/"
 * (except "/" itself). */
static bool path_ok(const char *p)
{
	size_t len = strnlen(p, 256);

	if (len == 0 || len >= 256 || p[0] != '/')
		return false;
	if (len == 1)
		return true;
	if (p[len - 1] == '/')
		return false;
	for (const char *c = p; *c;) {
		const char *next = strchr(c + 1, '/');
		size_t clen = next ? (size_t)(next - c - 1) : strlen(c + 1);
		if (clen == 0 || (clen == 1 && c[1] == '.') || (clen == 2 && c[1] == '.' && c[2] == '.'))
			return false;
		c = next ? next : c + 1 + clen;
	}
	return true;
}

static int check_map(const char *mount, const struct gw_local *map, size_t n)
{
	if (n > GW_LOCAL_MAX || (n && !map))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!path_ok(map[i].path) || strlen(mount) + strlen(map[i].path) >= PATH_MAX ||
		    !hs_id_is_valid(map[i].id, strnlen(map[i].id, sizeof(map[i].id))))
			return -EINVAL;
	}
	return 0;
}

/* A cgroup v2 directory's id is its inode number (kernfs node id). */
static void resolve(struct gw_diag *d)
{
	char full[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < d->n; i++) {
		snprintf(full, sizeof(full), "%s%s", d->mount, streq(d->map[i].path, "/") ? "" : d->map[i].path);
		d->map[i].cgroup_id = stat(full, &st) == 0 && S_ISDIR(st.st_mode) ? (uint64_t)st.st_ino : 0;
	}
}

int gw_diag_reload_map(struct gw_diag *d, const struct gw_local *map, size_t n)
{
	int r = check_map(d->mount, map, n);

	if (r < 0)
		return r;
	memset(d->map, 0, sizeof(d->map));
	for (size_t i = 0; i < n; i++) {
		memcpy(d->map[i].path, map[i].path, strlen(map[i].path) + 1);
		memcpy(d->map[i].id, map[i].id, strlen(map[i].id) + 1);
	}
	d->n = n;
	resolve(d);
	return 0;
}

int gw_diag_open(struct gw_diag **out, const char *cgroup2_mount, const struct gw_local *map, size_t n)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200 * 1000 };
	struct gw_diag *d;
	size_t mlen = cgroup2_mount ? strlen(cgroup2_mount) : 0;
	int r;

	if (mlen == 0 || cgroup2_mount[0] != '/' || mlen >= PATH_MAX)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memcpy(d->mount, cgroup2_mount, mlen + 1);
	while (mlen > 1 && d->mount[mlen - 1] == '/')
		d->mount[--mlen] = '\0';
	d->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (d->nl < 0) {
		r = negative_errno();
		free(d);
		return r;
	}
	if (setsockopt(d->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = negative_errno();
		gw_diag_free(d);
		return r;
	}
	r = gw_diag_reload_map(d, map, n);
	if (r < 0) {
		gw_diag_free(d);
		return r;
	}
	*out = d;
	return 0;
}

void gw_diag_free(struct gw_diag *d)
{
	if (!d)
		return;
	if (d->nl >= 0)
		close(d->nl);
	free(d);
}

const char *gw_diag_identity(struct gw_diag *d, uint64_t cgroup_id, uint64_t now_ms)
{
	if (cgroup_id == 0)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < d->n; i++)
			if (d->map[i].cgroup_id == cgroup_id)
				return d->map[i].id;
		/* A miss may be a service restarted into a new cgroup: look at the paths again,
		 * paced so that unmapped peers cannot make every accept stat 64 paths. */
		if (pass > 0 || (d->last_resolve_ms && now_ms - d->last_resolve_ms < GW_DIAG_RESOLVE_MS))
			break;
		d->last_resolve_ms = now_ms ? now_ms : 1;
		resolve(d);
	}
	return NULL;
}

/* The 4-tuple of a TCP loopback connection as the peer's socket sees it, v4-mapped folded. */
struct tuple {
	int family;
	uint8_t peer[16], local[16];
	uint16_t peer_port, local_port; /* network order */
};

static int addr_of(const struct sockaddr_storage *ss, int *family, uint8_t a[16], uint16_t *port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		*family = AF_INET;
		memcpy(a, &in->sin_addr, 4);
		*port = in->sin_port;
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		*port = in6->sin6_port;
		if (memcmp(in6->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
			*family = AF_INET;
			memcpy(a, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(a, in6->sin6_addr.s6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int tuple_of(int fd, struct tuple *t)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer), olen;
	int type = 0, proto = 0, lfam, pfam;

	olen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) < 0)
		return negative_errno();
	olen = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &olen) < 0)
		return negative_errno();
	if (type != SOCK_STREAM || proto != IPPROTO_TCP)
		return -EAFNOSUPPORT;
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		return negative_errno();
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return errno == ENOTCONN ? -ENOENT : negative_errno();
	if (!gw_addr_is_loopback((struct sockaddr *)&local) || !gw_addr_is_loopback((struct sockaddr *)&peer))
		return -EAFNOSUPPORT;
	if (addr_of(&local, &lfam, t->local, &t->local_port) < 0 || addr_of(&peer, &pfam, t->peer, &t->peer_port) < 0 ||
	    lfam != pfam)
		return -EAFNOSUPPORT;
	t->family = pfam;
	return 0;
}

/* Parses one reply message for our request. 1: not ours (other seq), 0 with the attribution, or
 * -errno. */
static int parse_reply(const struct nlmsghdr *h, uint32_t seq, const struct tuple *t, uint64_t *cgroup_id,
		       uint32_t *uid)
{
	const struct inet_diag_msg *m;
	size_t alen = t->family == AF_INET ? 4 : 16;

	if (h->nlmsg_seq != seq)
		return 1;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
			return -EBADMSG;
		return e->error < 0 ? (e->error == -ENOENT ? -ENOENT : e->error) : -ENOENT;
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	m = NLMSG_DATA(h);
	/* The socket reported must be the peer's end of exactly our connection. */
	if (m->idiag_family != t->family || m->id.idiag_sport != t->peer_port || m->id.idiag_dport != t->local_port ||
	    memcmp(m->id.idiag_src, t->peer, alen) != 0 || memcmp(m->id.idiag_dst, t->local, alen) != 0)
		return -ENOENT;
	if (m->idiag_state != TCP_ESTABLISHED)
		return -ENOENT;

	size_t off = NLMSG_LENGTH(sizeof(*m));
	uint64_t id = 0;
	while (off + sizeof(struct rtattr) <= h->nlmsg_len) {
		const struct rtattr *a = (const struct rtattr *)((const uint8_t *)h + off);
		if (a->rta_len < sizeof(*a) || off + a->rta_len > h->nlmsg_len)
			return -EBADMSG;
		if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) == sizeof(uint64_t))
			memcpy(&id, RTA_DATA(a), sizeof(id));
		off += RTA_ALIGN(a->rta_len);
	}
	if (id == 0)
		return -ENOENT;
	*cgroup_id = id;
	*uid = m->idiag_uid;
	return 0;
}

int gw_diag_peer_cgroup(struct gw_diag *d, int accepted_fd, uint64_t *cgroup_id, uint32_t *uid)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	uint8_t buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct tuple t;
	struct tcp_info ti;
	socklen_t tlen = sizeof(ti);
	uint64_t id = 0;
	uint32_t u = 0;
	int r;

	r = tuple_of(accepted_fd, &t);
	if (r < 0)
		return r;

	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST; /* one socket by its tuple, not a dump */
	req.h.nlmsg_seq = ++d->seq;
	req.r.sdiag_family = (uint8_t)t.family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_sport = t.peer_port;
	req.r.id.idiag_dport = t.local_port;
	memcpy(req.r.id.idiag_src, t.peer, sizeof(req.r.id.idiag_src));
	memcpy(req.r.id.idiag_dst, t.local, sizeof(req.r.id.idiag_dst));
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	if (sendto(d->nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();

	/* Our answer comes next, after at most a few late answers to requests that timed out. */
	r = 1;
	for (int tries = 0; r == 1 && tries < 16; tries++) {
		ssize_t n = recv(d->nl, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : negative_errno();
		int len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; r == 1 && NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
			r = parse_reply(h, req.h.nlmsg_seq, &t, &id, &u);
	}
	if (r == 1)
		return -ETIMEDOUT;
	if (r < 0)
		return r;

	/* Our end must still be ESTABLISHED after the answer: a socket never returns to that
	 * state, so it was established during the lookup too, and then no other socket could hold
	 * the peer's end of this tuple (see gw-diag.h). */
	if (getsockopt(accepted_fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) < 0)
		return negative_errno();
	if (ti.tcpi_state != TCP_ESTABLISHED)
		return -ENOENT;
	*cgroup_id = id;
	*uid = u;
	return 0;
}
