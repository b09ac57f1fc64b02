/* SPDX-License-Identifier: MIT */
/* guard.c - loader of the bus-socket guard (connect_guard.bpf.c).
 *
 * Privileged daemon side. Order: open skeleton -> set rodata (the guarded name) -> load ->
 * attach to the scope cgroup as a bpf_link -> ring buffer. One cleanup path (guard_free) that
 * accepts a half-built object. The link is never pinned, so the kernel drops the program when
 * this process exits. */
#include <fcntl.h>
#include <limits.h>
#include <linux/types.h>
#include <stdarg.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroupfs.h"
#include "guard.h"
#include "guard-internal.h"
#include "connect_guard.h"
#include "connect_guard.skel.h"
#include "util.h"

struct guard {
	struct connect_guard_bpf *skel;
	struct bpf_link *link;
	struct ring_buffer *rb;
	/* Set only for the duration of guard_events_consume(). */
	void (*cb)(const struct guard_event *ev, void *userdata);
	void *userdata;
	int consumed;
};

int guard_parse_name(const char *name, char path[GUARD_PATH_MAX], uint32_t *len, bool *abstract)
{
	size_t l;

	if (!name)
		return -EINVAL;
	l = strlen(name);
	if (name[0] == '@') {
		/* sun_path = NUL + name; the address length is the whole story. */
		if (l < 2 || l > GUARD_PATH_MAX)
			return -EINVAL;
		memset(path, 0, GUARD_PATH_MAX);
		memcpy(path + 1, name + 1, l - 1);
		*len = (uint32_t)l;
		*abstract = true;
		return 0;
	}
	if (name[0] == '/') {
		if (l > GUARD_PATH_MAX)
			return -EINVAL;
		memset(path, 0, GUARD_PATH_MAX);
		memcpy(path, name, l);
		*len = (uint32_t)l;
		*abstract = false;
		return 0;
	}
	return -EINVAL;
}

/* libbpf 1.1 does not know the unix hook section names: set type and attach type by hand.
 * Newer libbpf already did the same from the section name; setting it again is harmless. */
int guard_prepare_unix_prog(struct bpf_program *prog, int attach_type)
{
	int r;

	r = bpf_program__set_type(prog, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
	if (r < 0)
		return r;
	return bpf_program__set_expected_attach_type(prog, (enum bpf_attach_type)attach_type);
}

/* The verifier says EINVAL for an attach type it does not know and libbpf says ESRCH or
 * ENOENT for a kfunc or BTF it cannot find: all mean "this kernel cannot do it". */
int guard_map_load_error(int r)
{
	if (r == -EINVAL || r == -ESRCH || r == -ENOENT || r == -ENOTSUP || r == -EOPNOTSUPP)
		return -EOPNOTSUPP;
	return r;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

bool guard_built(void)
{
	return true;
}

int guard_probe(unsigned flags)
{
	struct connect_guard_bpf *skel;
	libbpf_print_fn_t old;
	int r;

	if (flags & ~GUARD_PROBE_FORCE_UNSUPPORTED)
		return -EINVAL;
	if (flags & GUARD_PROBE_FORCE_UNSUPPORTED)
		return -EOPNOTSUPP;

	old = libbpf_set_print(silent_print);
	skel = connect_guard_bpf__open();
	if (!skel) {
		r = negative_errno();
		goto out;
	}
	r = guard_prepare_unix_prog(skel->progs.capbus_guard_connect, GUARD_ATTACH_UNIX_CONNECT);
	if (r < 0)
		goto out;
	skel->rodata->guard_name_len = 2;
	skel->rodata->guard_abstract = 1;
	r = connect_guard_bpf__load(skel);
	if (r < 0)
		r = guard_map_load_error(r);
out:
	connect_guard_bpf__destroy(skel);
	libbpf_set_print(old);
	return r;
}

static int open_scope(const char *scope)
{
	char root[PATH_MAX];
	struct statfs sfs = {};
	int fd, r;

	if (!scope) {
		r = cgroup_v2_mount(root, sizeof(root));
		if (r < 0)
			return r;
		scope = root;
	}
	fd = open(scope, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstatfs(fd, &sfs) < 0)
		r = negative_errno();
	else if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		r = -EINVAL; /* a v1 hierarchy or not a cgroup at all */
	else
		return fd;
	close(fd);
	return r;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct guard *g = ctx;
	const struct guard_event_bpf *e = data;
	struct guard_event ev = {};
	size_t tl;

	/* The record layout is ours; anything else is a bug, not input to tolerate. */
	if (size != sizeof(*e))
		return -EPROTO;
	ev.cgroup_id = e->cgroup_id;
	ev.pid = e->pid;
	ev.tid = e->tid;
	ev.uid = e->uid;
	ev.gid = e->gid;
	memcpy(ev.comm, e->comm, sizeof(e->comm));
	ev.comm[sizeof(e->comm)] = 0;
	tl = e->target_len <= GUARD_PATH_MAX ? e->target_len : GUARD_PATH_MAX;
	if (tl > 0 && e->target[0] == 0) {
		/* Abstract: '@' stands for the leading NUL. */
		ev.target[0] = '@';
		memcpy(ev.target + 1, e->target + 1, tl - 1);
		ev.target_len = tl;
	} else {
		size_t pl = strnlen(e->target, tl);

		memcpy(ev.target, e->target, pl);
		ev.target_len = pl;
	}
	ev.target[ev.target_len] = 0;
	g->consumed++;
	if (g->cb)
		g->cb(&ev, g->userdata);
	return 0;
}

int guard_open(struct guard **out, const char *socket_name, const char *scope_cgroup_path)
{
	_cleanup_(guard_freep) struct guard *g = NULL;
	_cleanup_close_ int cgfd = -1;
	char path[GUARD_PATH_MAX];
	uint32_t len;
	bool abstract;
	int r;

	if (!out)
		return -EINVAL;
	r = guard_parse_name(socket_name, path, &len, &abstract);
	if (r < 0)
		return r;
	cgfd = open_scope(scope_cgroup_path);
	if (cgfd < 0)
		return cgfd;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->skel = connect_guard_bpf__open();
	if (!g->skel)
		return negative_errno();
	r = guard_prepare_unix_prog(g->skel->progs.capbus_guard_connect, GUARD_ATTACH_UNIX_CONNECT);
	if (r < 0)
		return r;
	memcpy((char *)g->skel->rodata->guard_name, path, sizeof(path));
	g->skel->rodata->guard_name_len = len;
	g->skel->rodata->guard_abstract = abstract;

	r = connect_guard_bpf__load(g->skel);
	if (r < 0)
		return guard_map_load_error(r);

	g->link = bpf_program__attach_cgroup(g->skel->progs.capbus_guard_connect, cgfd);
	if (!g->link)
		return negative_errno();

	g->rb = ring_buffer__new(bpf_map__fd(g->skel->maps.events), on_event, g, NULL);
	if (!g->rb)
		return negative_errno();

	*out = TAKE_PTR(g);
	return 0;
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	ring_buffer__free(g->rb);
	bpf_link__destroy(g->link);
	connect_guard_bpf__destroy(g->skel);
	free(g);
}

static int map_set(struct bpf_map *map, const void *key, size_t ksize)
{
	uint8_t one = 1;

	return bpf_map__update_elem(map, key, ksize, &one, sizeof(one), BPF_ANY);
}

int guard_allow_cgroup(struct guard *g, uint64_t cgroup_id)
{
	if (!g || cgroup_id == 0)
		return -EINVAL;
	return map_set(g->skel->maps.allowed_cgroups, &cgroup_id, sizeof(cgroup_id));
}

int guard_disallow_cgroup(struct guard *g, uint64_t cgroup_id)
{
	if (!g)
		return -EINVAL;
	return bpf_map__delete_elem(g->skel->maps.allowed_cgroups, &cgroup_id, sizeof(cgroup_id), 0);
}

int guard_allow_uid(struct guard *g, uint32_t uid)
{
	if (!g || uid == (uint32_t)-1)
		return -EINVAL;
	return map_set(g->skel->maps.allowed_uids, &uid, sizeof(uid));
}

int guard_disallow_uid(struct guard *g, uint32_t uid)
{
	if (!g)
		return -EINVAL;
	return bpf_map__delete_elem(g->skel->maps.allowed_uids, &uid, sizeof(uid), 0);
}

/* Delete every key: always restart from the first key, since the map changes under us. */
static int map_clear(struct bpf_map *map, size_t ksize, unsigned max_entries)
{
	uint64_t key;

	for (unsigned i = 0; i <= max_entries; i++) {
		int r = bpf_map__get_next_key(map, NULL, &key, ksize);

		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		r = bpf_map__delete_elem(map, &key, ksize, 0);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return -EBUSY; /* entries keep appearing: another writer */
}

int guard_clear(struct guard *g)
{
	int r;

	if (!g)
		return -EINVAL;
	r = map_clear(g->skel->maps.allowed_cgroups, sizeof(uint64_t), GUARD_MAX_CGROUPS);
	if (r < 0)
		return r;
	return map_clear(g->skel->maps.allowed_uids, sizeof(uint32_t), GUARD_MAX_UIDS);
}

int guard_events_fd(const struct guard *g)
{
	if (!g)
		return -EINVAL;
	return bpf_map__fd(g->skel->maps.events);
}

int guard_events_consume(struct guard *g, void (*cb)(const struct guard_event *ev, void *userdata),
			 void *userdata)
{
	int r;

	if (!g)
		return -EINVAL;
	g->cb = cb;
	g->userdata = userdata;
	g->consumed = 0;
	r = ring_buffer__consume(g->rb);
	g->cb = NULL;
	g->userdata = NULL;
	if (r < 0)
		return r;
	return g->consumed;
}

int guard_read_percpu_stats(const struct bpf_map *map, uint64_t *out, unsigned nstats)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ uint64_t *vals = NULL;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EIO;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < nstats; k++) {
		int r = bpf_map__lookup_elem(map, &k, sizeof(k), vals, (size_t)ncpu * sizeof(*vals), 0);

		if (r < 0)
			return r;
		out[k] = 0;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	return 0;
}

int guard_get_stats(const struct guard *g, struct guard_stats *out)
{
	uint64_t v[GUARD_STAT_MAX];
	struct guard_stats st = {};
	int r;

	if (!g || !out)
		return -EINVAL;
	r = guard_read_percpu_stats(g->skel->maps.stats, v, GUARD_STAT_MAX);
	if (r < 0)
		return r;
	st.denied = v[GUARD_STAT_DENIED];
	st.allowed_cgroup = v[GUARD_STAT_ALLOWED_CGROUP];
	st.allowed_uid = v[GUARD_STAT_ALLOWED_UID];
	st.events_dropped = v[GUARD_STAT_EVENTS_DROPPED];
	r = guard_prog_run_stats(g->skel->progs.capbus_guard_connect, &st.prog_runs, &st.prog_run_ns);
	if (r < 0)
		return r;
	*out = st;
	return 0;
}

int guard_prog_run_stats(const struct bpf_program *prog, uint64_t *runs, uint64_t *ns)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int r;

	r = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
	if (r < 0)
		return r;
	*runs = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}

int guard_enable_run_stats(void)
{
	return bpf_enable_stats(BPF_STATS_RUN_TIME);
}
