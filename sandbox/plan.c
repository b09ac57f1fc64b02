// SPDX-License-Identifier: MIT
/* plan.c - validate a sandbox spec and prepare everything the child will need.
 *
 * Parent side. Every decision and every allocation happens here: ids checked against the
 * reserved range, argv/envp copied, paths resolved into the mount list, the seccomp program
 * compiled (or copied from one precompiled by sandbox_filter_new), the Landlock ABI probed, the
 * cgroups created with their limits. */
#include <fcntl.h>
#include <stdio.h>

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

struct sandbox_filter {
	bool python, network, permissive;
	struct filter_prog prog;
};

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

int sandbox_filter_new(const char *profile, bool network, bool permissive, struct sandbox_filter **ret)
{
	struct sandbox_filter *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	if ((r = profile_is_python(profile, &f->python)) < 0 ||
	    (r = filter_compile(profile, network, permissive, &f->prog)) < 0) {
		free(f);
		return r;
	}
	f->network = network;
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
 * profile, network and mode, never a different one. */
static int plan_filter(const struct sandbox_spec *spec, struct filter_prog *prog)
{
	const struct sandbox_filter *f = spec->filter;
	bool python;
	int r;

	if (!f)
		return filter_compile(spec->seccomp_profile, spec->network, spec->seccomp_permissive, prog);
	if ((r = profile_is_python(spec->seccomp_profile, &python)) < 0)
		return r;
	if (f->python != python || f->network != spec->network || f->permissive != spec->seccomp_permissive)
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
	p->uid = spec->uid;
	p->gid = spec->gid;
	p->network = spec->network;
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
	/* cwd: the skill dir, resolved the same way as its bind mount target. */
	p->cwd = spec->skill_dir ? realpath(spec->skill_dir, NULL) : strdup("/");
	if (!p->hostname || !p->cwd)
		return p->cwd ? -ENOMEM : negative_errno();
	STARTUP_TRACE("plan: copied");
	if ((r = mount_plan_build(spec, &p->mounts)) < 0)
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

void sandbox_plan_free(struct sandbox_plan *p)
{
	if (!p)
		return;
	if (p->status_fd >= 0)
		close(p->status_fd);
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
