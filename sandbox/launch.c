// SPDX-License-Identifier: MIT
/* launch.c - turn a manifest into a sandbox plan, a key memfd and egress rules (root only). */
#include "launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "guard.h"
#include "manifest.h"
#include "netstack.h"
#include "sandbox.h"
#include "util.h"

static const uint8_t loopback4[4] = { 127, 0, 0, 1 };

/* A rule naming 127.0.0.1 means the host's loopback, which the stack reaches from the gateway
 * address inside (slirp4netns maps 10.0.2.2 to it). Nothing else turns that mapping on: "any
 * host" is the network, not the host's local services. */
static bool names_host_loopback(const struct net_rule *nr)
{
	return nr->family == AF_INET && memcmp(nr->addr, loopback4, 4) == 0;
}

static bool wants_host_loopback(const struct manifest_sandbox *sb)
{
	for (size_t i = 0; sb->network && i < sb->n_net_rules; i++)
		if (names_host_loopback(&sb->net_rules[i]))
			return true;
	return false;
}

int launch_plan(const struct launch_params *lp, struct sandbox_plan **out)
{
	const struct manifest *m = lp->manifest;
	const int keep_fds[2] = { lp->bus_fd, lp->key_fd };
	struct stat st;
	static const char *const envp[] = {
		"CAPBUS_FD=3", "CAPBUS_KEY_FD=4", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/state",
		"LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH=/usr/lib/python3/dist-packages", NULL,
	};
	bool have_dir = lp->skill_dir && stat(lp->skill_dir, &st) == 0 && S_ISDIR(st.st_mode);
	struct sandbox_spec spec = {
		.argv = (const char *const *)m->exec,
		.envp = envp,
		.uid = lp->uid,
		.gid = lp->uid,
		.skill_dir = have_dir ? lp->skill_dir : NULL,
		.read_paths = (const char *const *)m->sandbox.fs_read,
		.state_dir = lp->state_dir,
		.network = m->sandbox.network,
		.host_loopback = wants_host_loopback(&m->sandbox),
		.listen_ports = m->sandbox.listen,
		.n_listen_ports = m->sandbox.n_listen,
		.seccomp_profile = m->sandbox.syscalls,
		.filter = lp->filter,
		.memory_max = m->limits.memory,
		.pids_max = m->limits.pids,
		.cpu_percent = m->limits.cpu_percent,
		.nofile = m->limits.nofile,
		.keep_fds = keep_fds,
		.n_keep_fds = 2,
		.stdout_fd = lp->stdout_fd,
		.stderr_fd = lp->stderr_fd,
		.cgroup_name = lp->cgroup_name,
	};
	return sandbox_plan_new(&spec, out);
}

int launch_filter(const struct manifest *m, struct sandbox_filter **out)
{
	return sandbox_filter_new(m->sandbox.syscalls, m->sandbox.network, m->sandbox.n_listen > 0, false, out);
}

int launch_key_memfd(const char *id, const uint8_t key[CAPBUS_KEY_LEN])
{
	char hex[2 * CAPBUS_KEY_LEN + 1];
	char text[256];

	int fd = memfd_create("capbus-key", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return negative_errno();
	sodium_bin2hex(hex, sizeof(hex), key, CAPBUS_KEY_LEN);
	int len = snprintf(text, sizeof(text), "# capbus key\nid %s\nsecret %s\n", id, hex);
	int r = 0;
	if (len < 0 || (size_t)len >= sizeof(text) || write(fd, text, (size_t)len) != len || fchmod(fd, 0400) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		r = len < 0 || (size_t)len >= sizeof(text) ? -EINVAL : negative_errno();
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(text, sizeof(text));
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void rule_from_manifest(const struct net_rule *nr, int family, struct egress_rule *out)
{
	memset(out, 0, sizeof(*out));
	out->proto = nr->proto == NET_PROTO_TCP ? EGRESS_TCP : EGRESS_UDP;
	out->family = family;
	out->port = nr->port;
	out->any_addr = nr->family == AF_UNSPEC;
	if (nr->family == AF_INET)
		memcpy(&out->addr.v4, nr->addr, 4);
	else if (nr->family == AF_INET6)
		memcpy(&out->addr.v6, nr->addr, 16);
}

int launch_egress(const struct sandbox_plan *plan, const struct manifest_sandbox *sb, struct egress **out)
{
	struct egress_rule rules[4 * MANIFEST_MAX_NET_RULES + 2 * MANIFEST_MAX_LISTEN + 1];
	size_t n = 0;
	const char *leaf = sandbox_plan_cgroup_path(plan, NULL);

	if (!leaf)
		return -ENOENT;
	_cleanup_close_ int fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	/* A rule for any host covers both address families. */
	for (size_t i = 0; sb->network && i < sb->n_net_rules; i++) {
		const struct net_rule *nr = &sb->net_rules[i];
		if (nr->family == AF_UNSPEC || nr->family == AF_INET)
			rule_from_manifest(nr, 4, &rules[n++]);
		if (nr->family == AF_UNSPEC || nr->family == AF_INET6)
			rule_from_manifest(nr, 6, &rules[n++]);
		/* The skill's own connect goes to the gateway; the stack's, judged too, to 127.0.0.1. */
		if (names_host_loopback(nr)) {
			rule_from_manifest(nr, 4, &rules[n]);
			inet_pton(AF_INET, NETSTACK_GATEWAY_ADDR, &rules[n++].addr.v4);
		}
		/* A resolver the skill may use is reached through the stack's forwarder, whose own
		 * query to the host's resolver is judged by the rule itself. */
		if (nr->port == 53) {
			rule_from_manifest(nr, 4, &rules[n]);
			rules[n].any_addr = false;
			inet_pton(AF_INET, NETSTACK_DNS_ADDR, &rules[n++].addr.v4);
		}
	}
	/* slirp4netns configures the namespace through an AF_INET datagram socket (ioctls only). A
	 * UDP socket alone reaches nothing: sendto and connect are still judged by the rules. */
	if (sb->network)
		rules[n++] = (struct egress_rule){ .proto = EGRESS_UDP_SOCKET, .family = 4, .any_addr = true };
	/* An inbound port: the skill binds it in its namespace (either family), the stack on the
	 * host's 127.0.0.1. */
	for (size_t i = 0; sb->network && i < sb->n_listen; i++)
		for (int family = 4; family <= 6; family += 2)
			rules[n++] = (struct egress_rule){
				.proto = EGRESS_TCP_LISTEN, .family = family, .any_addr = true, .port = sb->listen[i],
			};
	return egress_attach(out, fd, rules, n);
}

uid_t launch_default_uid(const char *id, uint32_t attempt)
{
	uint8_t h[4];
	crypto_generichash(h, sizeof(h), (const uint8_t *)id, strlen(id), NULL, 0);
	uint32_t slot = ((uint32_t)h[0] << 8 | h[1]) + attempt;
	return SANDBOX_ID_BASE + slot % SANDBOX_ID_COUNT;
}
