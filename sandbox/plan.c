// SPDX-License-Identifier: MIT
/* plan.c - validate a sandbox spec and prepare everything the child will need.
 *
 * Parent side. Every decision and every allocation happens here: ids checked against the
 * reserved range, argv/envp copied, paths resolved into the mount list, the seccomp program
 * compiled (or copied from one precompiled by sandbox_filter_new), the Landlock ABI probed, the
 * cgroups created with their limits. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>

#include "initimage.h"
#include "kernel.h"
#include "landlock.h"
#include "plan.h"
#include "sandbox.h"
#include "trace.h"
#include "util.h"

static bool id_ok(unsigned id)
{
	return id >= SANDBOX_ID_BASE && id - SANDBOX_ID_BASE < SANDBOX_ID_COUNT;
}

static bool fd_ok(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

static int check_spec(const struct sandbox_spec *s)
{
	if (!s->argv || !s->argv[0] || !*s->argv[0] || !id_ok(s->uid) || !id_ok(s->gid) || !s->cgroup_name)
		return -EINVAL;
	if (s->n_keep_fds > PLAN_MAX_KEEP_FDS || (s->n_keep_fds && !s->keep_fds))
		return -EINVAL;
	for (size_t i = 0; i < s->n_keep_fds; i++)
		if (!fd_ok(s->keep_fds[i]))
			return -EBADF;
	if ((s->stdout_fd > 0 && !fd_ok(s->stdout_fd)) || (s->stderr_fd > 0 && !fd_ok(s->stderr_fd)))
		return -EBADF;
	if (s->stdout_fd < SANDBOX_FD_NULL || s->stderr_fd < SANDBOX_FD_NULL)
		return -EINVAL;
	if (s->hostname && (strlen(s->hostname) == 0 || strlen(s->hostname) > 64))
		return -EINVAL;
	if (s->host_network && (s->network || s->n_listen_ports))
		return -EINVAL;
	if (s->cgroup_view && (!s->host_network || s->cgroup_view[0] != '/'))
		return -EINVAL;
	if (s->n_listen_ports > NETSTACK_MAX_LISTEN || (s->n_listen_ports && (!s->listen_ports || !s->network)))
		return -EINVAL;
	for (size_t i = 0; i < s->n_listen_ports; i++)
		if (s->listen_ports[i] == 0)
			return -EINVAL;
	return 0;
}

/* A bare name is looked up in the sandbox's own /usr, never in the caller's PATH. */
static int exec_paths(struct sandbox_plan *p, const char *arg0)
{
	static const char *const dirs[PLAN_MAX_EXEC_PATHS] = { "/usr/local/bin", "/usr/bin", "/usr/sbin" };

	if (strchr(arg0, '/')) {
		if (arg0[0] != '/')
			return -EINVAL; /* relative to what? cwd differs inside */
		p->exec_paths[0] = strdup(arg0);
		return p->exec_paths[0] ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < PLAN_MAX_EXEC_PATHS; i++)
		if (asprintf(&p->exec_paths[i], "%s/%s", dirs[i], arg0) < 0) {
			p->exec_paths[i] = NULL;
			return -ENOMEM;
		}
	return 0;
}

/* The skill dir is at SANDBOX_SKILL_PATH inside: an argument naming it (or a path beneath it) by
 * its host path, resolved or as given, is rewritten, argv[0] and the exec candidates included,
 * so manifests keep working and the program's command line shows no host path. */
static int skill_paths_inside(struct sandbox_plan *p, const char *skill_dir)
{
	_cleanup_free_ char *real = realpath(skill_dir, NULL);
	const char *forms[2] = { skill_dir, real };

	if (!real)
		return negative_errno();
	for (char **arg = p->argv; *arg; arg++)
		for (size_t f = 0; f < ARRAY_SIZE(forms); f++) {
			size_t n = strlen(forms[f]);
			char *inside;

			while (n > 1 && forms[f][n - 1] == '/')
				n--;
			if (strncmp(*arg, forms[f], n) != 0 || ((*arg)[n] != '\0' && (*arg)[n] != '/'))
				continue;
			if (asprintf(&inside, "%s%s", SANDBOX_SKILL_PATH, *arg + n) < 0)
				return -ENOMEM;
			if (arg == p->argv && p->exec_paths[0] && streq(p->exec_paths[0], *arg)) {
				free(p->exec_paths[0]);
				p->exec_paths[0] = strdup(inside);
				if (!p->exec_paths[0]) {
					free(inside);
					return -ENOMEM;
				}
			}
			free(*arg);
			*arg = inside;
			break;
		}
	return 0;
}

/* The sandbox's init as an executable memfd, sealed against any change: the child execs it by
 * fd (execveat AT_EMPTY_PATH) after pivot_root, so no host path is needed inside and
 * /proc/1/exe names only "/memfd:capbus-init". MFD_EXEC says "executable" on kernels from 6.3
 * (a host with vm.memfd_noexec = 1 would seal it non-executable otherwise); older ones do not
 * know the flag and make every memfd executable. */
static int init_memfd(int *ret)
{
	_cleanup_close_ int fd = memfd_create("capbus-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | SB_MFD_EXEC);
	const unsigned char *b = sandbox_init_image;
	size_t left = sandbox_init_image_len;

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("capbus-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return negative_errno();
	while (left > 0) {
		ssize_t n = write(fd, b, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? negative_errno() : -EIO;
		b += n;
		left -= (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return negative_errno();
	*ret = TAKE_FD(fd);
	return 0;
}

struct sandbox_filter {
	bool python, network, listen, permissive;
	struct filter_prog prog;
};

/* Precompiled programs exist for the skills' profiles only; "gateway" is compiled per plan. */
static int profile_is_python(const char *profile, bool *python)
{
	if (!profile || streq(profile, "default"))
		*python = false;
	else if (streq(profile, "python"))
		*python = true;
	else
		return -EINVAL;
	return 0;
}

int sandbox_filter_new(const char *profile, bool network, bool listen, bool permissive, struct sandbox_filter **ret)
{
	struct sandbox_filter *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	if ((r = profile_is_python(profile, &f->python)) < 0 ||
	    (r = filter_compile(profile, network, listen, permissive, &f->prog)) < 0) {
		free(f);
		return r;
	}
	f->network = network;
	f->listen = listen;
	f->permissive = permissive;
	*ret = f;
	return 0;
}

void sandbox_filter_free(struct sandbox_filter *f)
{
	if (!f)
		return;
	filter_prog_done(&f->prog);
	free(f);
}

/* The spec's program: a copy of the precompiled one when it was compiled for exactly this
 * profile, network, inbound-port setting and mode, never a different one. */
static int plan_filter(const struct sandbox_spec *spec, struct filter_prog *prog)
{
	const struct sandbox_filter *f = spec->filter;
	bool python;
	int r;

	if (!f)
		return filter_compile(spec->seccomp_profile, spec->network || spec->host_network,
				      spec->n_listen_ports > 0 || spec->host_network, spec->seccomp_permissive, prog);
	if ((r = profile_is_python(spec->seccomp_profile, &python)) < 0)
		return r;
	if (f->python != python || f->network != (spec->network || spec->host_network) ||
	    f->listen != (spec->n_listen_ports > 0 || spec->host_network) ||
	    f->permissive != spec->seccomp_permissive)
		return -EINVAL;
	return filter_prog_copy(&f->prog, prog);
}

int sandbox_plan_new(const struct sandbox_spec *spec, struct sandbox_plan **ret)
{
	_cleanup_sandbox_plan_ struct sandbox_plan *p = NULL;
	static const char *const empty[] = { NULL };
	struct cg_limits lim = {
		.memory_max = spec->memory_max,
		.pids_max = spec->pids_max,
		.cpu_percent = spec->cpu_percent,
	};
	int r;

	if ((r = check_spec(spec)) < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->status_fd = -1;
	p->stack = (struct netstack)NETSTACK_INIT;
	p->init_fd = -1;
	p->uid = spec->uid;
	p->gid = spec->gid;
	p->network = spec->network;
	p->host_network = spec->host_network;
	p->net.host_loopback = spec->host_loopback;
	p->net.n_listen = spec->n_listen_ports;
	for (size_t i = 0; i < spec->n_listen_ports; i++)
		p->net.listen[i] = spec->listen_ports[i];
	/* Refused here, with a clear error, rather than at each start. */
	if (spec->network && (r = netstack_available()) < 0)
		return r;
	p->nofile = spec->nofile ? spec->nofile : 1024;
	p->nproc = spec->nproc ? spec->nproc : spec->pids_max;
	p->n_keep_fds = spec->n_keep_fds;
	for (size_t i = 0; i < spec->n_keep_fds; i++)
		p->keep_fds[i] = spec->keep_fds[i];
	p->stdout_fd = spec->stdout_fd;
	p->stderr_fd = spec->stderr_fd;

	if ((r = strv_copy(spec->argv, &p->argv)) < 0 ||
	    (r = strv_copy(spec->envp ? spec->envp : empty, &p->envp)) < 0 ||
	    (r = exec_paths(p, spec->argv[0])) < 0)
		return r;
	p->hostname = strdup(spec->hostname ? spec->hostname : "capbus");
	p->cwd = strdup(spec->skill_dir ? SANDBOX_SKILL_PATH : "/");
	if (!p->hostname || !p->cwd)
		return -ENOMEM;
	if (spec->skill_dir && (r = skill_paths_inside(p, spec->skill_dir)) < 0)
		return r;
	STARTUP_TRACE("plan: copied");
	if ((r = mount_plan_build(spec, &p->mounts)) < 0 || (r = init_memfd(&p->init_fd)) < 0)
		return r;
	STARTUP_TRACE("plan: mounts planned");
	if ((r = plan_filter(spec, &p->filter)) < 0)
		return r;
	STARTUP_TRACE("plan: filter compiled");
	p->landlock_abi = landlock_abi();
	STARTUP_TRACE("plan: landlock probed");
	if ((r = cg_set_create(spec->cgroup_name, spec->cgroup_up, &lim, &p->cg)) < 0)
		return r;
	STARTUP_TRACE("plan: cgroups made");
	*ret = TAKE_PTR(p);
	return 0;
}

int sandbox_cgroup_reclaim(const char *cgroup_name)
{
	return cg_reclaim(cgroup_name);
}

int sandbox_cgroup_reclaim_prefix(const char *prefix, unsigned *ret_count)
{
	return cg_reclaim_prefix(prefix, ret_count);
}

int sandbox_cgroup_reclaim_stale(const char *prefix, bool (*stale)(const char *name, void *userdata), void *userdata,
				 unsigned *ret_count)
{
	return cg_reclaim_prefix_if(prefix, stale, userdata, ret_count);
}

void sandbox_plan_free(struct sandbox_plan *p)
{
	if (!p)
		return;
	if (p->status_fd >= 0)
		close(p->status_fd);
	netstack_stop(&p->stack); /* before the cgroups go: it lives in them */
	if (p->init_fd >= 0)
		close(p->init_fd);
	cg_warm_reap(p->warm_pid); /* before its stack goes */
	cg_set_free(p->cg);
	mount_plan_done(&p->mounts);
	filter_prog_done(&p->filter);
	strv_free(p->argv);
	strv_free(p->envp);
	for (size_t i = 0; i < PLAN_MAX_EXEC_PATHS; i++)
		free(p->exec_paths[i]);
	free(p->cwd);
	free(p->hostname);
	free(p);
}

const char *sandbox_plan_failed_step(const struct sandbox_plan *p)
{
	return p->failed_step;
}

int sandbox_plan_landlock_abi(const struct sandbox_plan *p)
{
	return p->landlock_abi;
}

const char *sandbox_plan_cgroup_layout(const struct sandbox_plan *p)
{
	return cg_set_hybrid(p->cg) ? "hybrid" : "v2";
}

const char *sandbox_plan_cgroup_path(const struct sandbox_plan *p, const char *controller)
{
	if (!controller)
		return cg_set_path(p->cg, -1);
	if (streq(controller, "memory"))
		return cg_set_path(p->cg, CG_MEMORY);
	if (streq(controller, "pids"))
		return cg_set_path(p->cg, CG_PIDS);
	if (streq(controller, "cpu"))
		return cg_set_path(p->cg, CG_CPU);
	return NULL;
}
