// SPDX-License-Identifier: MIT
/* cmd-run.c - capbus run: one skill in its sandbox, in the foreground, attached to the bus.
 *
 * For skill authors: the same sandbox capbusd builds (launch.c), with the skill's directory
 * defaulting to the manifest's own, its output on this terminal, and its exit reason printed.
 * Without --state, /state is a fresh image of limits.state bytes, as under capbusd, deleted
 * afterwards; --state DIR binds the author's own directory as it is, without a size limit.
 * A run killed with SIGKILL cannot clean up: the next run removes what it left (its image's
 * mount and directory, its cgroups), recognised by the dead pid in their names. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>


#include "cli.h"
#include "guard.h"
#include "launch.h"
#include "manifest.h"
#include "pidfd-util.h"
#include "sandbox.h"
#include "stateimg.h"
#include "util.h"

#define RUN_PREFIX "capbus-run-" /* of its /tmp directory and of its cgroup leaves */
#define RUN_OWNER "owner"        /* in its /tmp directory: the run's pid */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* A run that is gone: no process has its pid. A pid reused since leaves its leftovers to a later
 * run, the safe way round. */
static bool run_dead(const char *digits)
{
	uint64_t pid;

	return parse_u64(digits, INT32_MAX, &pid) == 0 && pid > 0 && (pid_t)pid != getpid() &&
	       kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* "capbus-run-PID-ID": a cgroup leaf of a run that is gone. */
static bool leaf_stale(const char *name, void *userdata)
{
	const char *p = name + strlen(RUN_PREFIX);
	size_t n = strspn(p, "0123456789");
	char digits[16];

	(void)userdata;
	if (n == 0 || n >= sizeof(digits) || p[n] != '-')
		return false;
	memcpy(digits, p, n);
	digits[n] = '\0';
	return run_dead(digits);
}

/* /tmp/capbus-run-XXXXXX of a run that is gone: a directory of root's holding the run's pid. Its
 * image is unmounted and the directory removed. Returns true if it was. */
static bool reclaim_dir(int tmp, const char *name)
{
	_cleanup_free_ char *dir = NULL, *state = NULL, *image = NULL;
	char digits[16];
	struct stat st;

	_cleanup_close_ int fd = openat(tmp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != 0)
		return false;
	_cleanup_close_ int owner = openat(fd, RUN_OWNER, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = owner < 0 ? -1 : read(owner, digits, sizeof(digits) - 1);
	if (n <= 0)
		return false; /* not a run's, or one that has only just begun */
	digits[n] = '\0';
	digits[strcspn(digits, "\n")] = '\0';
	if (!run_dead(digits))
		return false;
	if (asprintf(&dir, "/tmp/%s", name) < 0 || asprintf(&state, "%s/state", dir) < 0 ||
	    asprintf(&image, "%s/state.img", dir) < 0 || stateimg_remove(image, state) < 0)
		return false;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

/* What runs killed before they could clean up left behind: their /state images (mounted, on
 * loop devices) and their cgroup leaves beneath ours, with whatever still runs there. */
static void reclaim_dead_runs(void)
{
	unsigned dirs = 0, leaves = 0;
	DIR *d = opendir("/tmp");
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, RUN_PREFIX, strlen(RUN_PREFIX)) == 0 && reclaim_dir(dirfd(d), de->d_name))
			dirs++;
	if (d)
		closedir(d);
	int r = sandbox_cgroup_reclaim_stale(RUN_PREFIX, leaf_stale, NULL, &leaves);
	if (dirs || leaves)
		fprintf(stderr, "capbus: run: removed what earlier runs killed before they could clean up left: "
			"%u /state image(s), %u cgroup(s)\n", dirs, leaves);
	if (r < 0)
		fprintf(stderr, "capbus: run: warning: cannot remove a cgroup of an earlier run: %s\n", strerror(-r));
}

static int run_skill(struct sandbox_plan *plan)
{
	sigset_t mask;
	pid_t pid;
	int pidfd;

	int r = sandbox_spawn(plan, &pid, &pidfd);
	if (r < 0) {
		const char *step = sandbox_plan_failed_step(plan);
		fprintf(stderr, "capbus: run: the sandbox failed at %s: %s\n", step ? step : "setup", strerror(-r));
		return 127;
	}
	/* Ctrl-C asks the skill to stop, as capbusd does. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	for (;;) {
		struct pollfd fds[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		if (fds[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				(void)pidfd_signal(pidfd, SIGTERM);
		}
	}
	struct sandbox_exit ex;
	r = sandbox_wait(plan, pidfd, &ex);
	close(pidfd);
	if (r < 0) {
		fprintf(stderr, "capbus: run: lost the skill: %s\n", strerror(-r));
		return 1;
	}
	int code = sandbox_exit_code(&ex);
	if (ex.reason != SANDBOX_EXIT_CODE || ex.status != 0)
		fprintf(stderr, "capbus: run: the skill ended: %s %d (exit status %d)\n", sandbox_exit_reason_name(ex.reason),
			ex.status, code);
	return code;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	const char *path = NULL, *dir = NULL, *state = NULL;
	_cleanup_free_ char *text = NULL, *err = NULL, *cgroup = NULL, *tmp_state = NULL, *tmp_image = NULL;
	char real[PATH_MAX], tmp_dir[] = "/tmp/capbus-run-XXXXXX";
	struct manifest *m = NULL;
	uint8_t key[32];

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (streq(argv[i], "--state") && i + 1 < argc)
			state = argv[++i];
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path) {
		fprintf(stderr, "capbus: usage: run MANIFEST [--dir SKILL_DIR] [--state STATE_DIR]\n");
		return EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "capbus: run: building a sandbox needs root (its own uid, namespaces, cgroups)\n");
		return EXIT_USAGE;
	}
	if (!realpath(path, real) || cli_read_text(real, &text) < 0)
		return EXIT_USAGE;
	if (manifest_parse(text, strlen(text), path, &m, &err) != 0) {
		fprintf(stderr, "%s\n", err ? err : "capbus: out of memory");
		return EXIT_USAGE;
	}
	if (!m->exec) {
		fprintf(stderr, "capbus: run: %s has no \"exec\": an external client runs on its own\n", path);
		manifest_free(m);
		return EXIT_USAGE;
	}
	int rc = cli_fetch_key(cli, "run", m->id, key);
	if (rc != EXIT_OK) {
		manifest_free(m);
		return rc;
	}
	uid_t uid = launch_default_uid(m->id, 0);
	reclaim_dead_runs();
	if (!state) {
		/* Root's directory holding the image and its mount point; the skill's uid may only pass.
		 * Our pid in it says whose it is, for a run after us if we are killed. */
		bool made = mkdtemp(tmp_dir) != NULL;
		int e = !made ? negative_errno() : 0;
		if (e == 0) {
			char owner[sizeof(tmp_dir) + sizeof(RUN_OWNER)], pid[16];
			int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
			snprintf(owner, sizeof(owner), "%s/" RUN_OWNER, tmp_dir);
			_cleanup_close_ int ofd = open(owner, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (ofd < 0 || write(ofd, pid, (size_t)n) != n)
				e = ofd < 0 ? negative_errno() : -EIO;
		}
		if (e == 0 && chmod(tmp_dir, 0711) < 0)
			e = negative_errno();
		if (e == 0 && (asprintf(&tmp_state, "%s/state", tmp_dir) < 0 || asprintf(&tmp_image, "%s/state.img", tmp_dir) < 0))
			e = -ENOMEM;
		if (e == 0 && (mkdir(tmp_state, 0700) < 0 || chown(tmp_state, uid, uid) < 0))
			e = negative_errno();
		if (e == 0)
			e = stateimg_mount(tmp_image, tmp_state, m->limits.state, uid, NULL);
		if (e != 0) {
			fprintf(stderr, "capbus: run: cannot make /state (an image of limits.state bytes): %s\n",
				strerror(e < 0 ? -e : EIO));
			if (tmp_state && tmp_image)
				stateimg_remove(tmp_image, tmp_state);
			if (made)
				nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
			manifest_free(m);
			return EXIT_USAGE;
		}
	}
	int bus_fd = capbus_dial(cli->socket ? cli->socket : getenv("CAPBUS_SOCKET") ? getenv("CAPBUS_SOCKET") : CAPBUS_DEFAULT_SOCKET);
	int key_fd = bus_fd < 0 ? -1 : launch_key_memfd(m->id, key);
	sodium_memzero(key, sizeof(key));
	struct sandbox_plan *plan = NULL;
	struct egress *egress = NULL;
	int r = bus_fd < 0 ? bus_fd : key_fd < 0 ? key_fd : 0;
	if (r == 0 && asprintf(&cgroup, "capbus-run-%d-%s", (int)getpid(), m->id) < 0)
		r = -ENOMEM;
	if (r == 0) {
		struct launch_params lp = {
			.manifest = m, .skill_dir = dir ? dir : dirname(real), .state_dir = state ? state : tmp_state,
			.uid = uid, .cgroup_name = cgroup, .bus_fd = bus_fd, .key_fd = key_fd,
		};
		r = launch_plan(&lp, &plan);
	}
	if (r == 0) {
		int e = launch_egress(plan, &m->sandbox, &egress);
		/* Without the guard nothing would hold a networked skill to its allow-list. */
		const char *why = guard_built() ? strerror(-e) : "the kernel guard is missing: capbus was built without it (-Dbpf=disabled)";
		if (e < 0 && m->sandbox.network) {
			fprintf(stderr, "capbus: run: cannot attach the network allow-list (%s): refusing to run a networked skill unguarded\n",
				why);
			r = e;
		} else if (e < 0) {
			fprintf(stderr, "capbus: run: warning: no egress guard (%s); the skill still has no network\n", why);
		}
	}
	if (r == 0) {
		rc = run_skill(plan);
		/* The plan holds fd numbers; the skill has its copies. */
	} else {
		fprintf(stderr, "capbus: run: cannot prepare the sandbox: %s\n", strerror(-r));
		rc = bus_fd < 0 ? EXIT_CONNECT : EXIT_USAGE;
	}
	if (bus_fd >= 0)
		close(bus_fd);
	if (key_fd >= 0)
		close(key_fd);
	egress_free(egress);
	sandbox_plan_free(plan);
	if (!state) {
		int e = stateimg_remove(tmp_image, tmp_state);
		if (e < 0)
			fprintf(stderr, "capbus: run: warning: cannot unmount %s: %s\n", tmp_state, strerror(-e));
		else
			nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	manifest_free(m);
	return rc;
}
