// SPDX-License-Identifier: MIT
/* launch-gateway.c - the sandbox plan of capbus-gateway (root only, in capbusd's parent).
 *
 * The gateway faces the network, so it gets the skills' sandbox (user, mount, pid, ipc, uts and
 * cgroup namespaces, an empty tmpfs root with /usr, seccomp, Landlock, no capabilities) with
 * one difference: it stays in the host's network namespace, because it listens on host
 * addresses, asks sock_diag about host sockets and connects to the bus socket (an abstract one
 * is per network namespace). Its own cgroup leaf carries the ingress allow-list. */
#include "launch.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sandbox.h"
#include "util.h"

static bool is_dir(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int launch_gateway_plan(const struct launch_gateway_params *gp, struct sandbox_plan **out)
{
	static const char *const envp[] = { "CAPBUS_GATEWAY_FDS=3", "LANG=C.UTF-8", "PATH=/usr/bin:/bin",
#if defined(__SANITIZE_ADDRESS__)
		/* A sanitizer build's gateway: LeakSanitizer stops the world with ptrace at exit,
		 * which the sandbox does not allow, and the gateway would never end. */
		"ASAN_OPTIONS=detect_leaks=0:abort_on_error=1",
#endif
		NULL };
	const char *argv[] = { gp->exec, "--supervised", NULL };
	const char *read_paths[4] = { 0 };
	size_t n = 0;
	_cleanup_free_ char *dir_copy = NULL;

	if (!gp->exec || gp->exec[0] != '/' || gp->n_fds < 2 || gp->n_fds > 4)
		return -EINVAL;
	for (size_t i = 0; i < 2; i++)
		if (gp->read_paths[i] && is_dir(gp->read_paths[i]))
			read_paths[n++] = gp->read_paths[i];
	/* A program outside /usr (capbusd --gateway, development and tests) is not visible inside:
	 * its directory is copied in, as a skill's is, and the program run from there. */
	bool outside_usr = strncmp(gp->exec, "/usr/", 5) != 0;
	const char *base = strrchr(gp->exec, '/');
	bool is_gateway = streq(base + 1, "capbus-gateway");
	if (outside_usr && !(dir_copy = strdup(gp->exec)))
		return -ENOMEM;
	struct sandbox_spec spec = {
		.argv = argv,
		.envp = envp,
		.uid = gp->uid,
		.gid = gp->uid,
		.skill_dir = outside_usr ? dirname(dir_copy) : NULL,
		.read_paths = read_paths,
		.host_network = true,
		.cgroup_view = gp->cgroup_v2,
		/* capbus-gateway stacks its own filter once its listeners exist (gateway/confine.c); a
		 * development stand-in outside /usr may be a Python script. */
		.seccomp_profile = is_gateway ? "gateway" : outside_usr ? "python" : "default",
		.memory_max = 256u << 20,
		.pids_max = 4,
		.nofile = 2 * (uint64_t)gp->max_connections + 64,
		.keep_fds = gp->fds,
		.n_keep_fds = gp->n_fds,
		.stdout_fd = gp->stderr_fd,
		.stderr_fd = gp->stderr_fd,
		.cgroup_name = gp->cgroup_name,
		.hostname = "capbus-gateway",
	};
	return sandbox_plan_new(&spec, out);
}
