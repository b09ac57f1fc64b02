// SPDX-License-Identifier: MIT
/* test-sandbox-cli.c - capbus-sandbox's command line: exit codes and one-line errors.
 *
 * argv[1] is capbus-sandbox, argv[2] the hostile helper. Exit codes under test: the program's
 * own, 128 + signal, 127 when the sandbox cannot be set up, 1 for usage errors. Needs root;
 * skips (77) otherwise unless CI=true. */
#include <spawn.h>
#include <sys/stat.h>

#include "sandbox-harness.h"

extern char **environ;


/* Run the CLI with args, capture stderr; returns the exit code or -1. */
static int cli(char *const args[], char *err, size_t errsize)
{
	posix_spawn_file_actions_t fa;
	int p[2], status;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, args[0], &fa, NULL, args, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while ((n = read(p[0], err + used, errsize - 1 - used)) > 0)
		used += (size_t)n;
	err[used] = '\0';
	close(p[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int main(int argc, char **argv)
{
	char err[4096], *bin, *escape, *dir, state[] = "/var/tmp/capbus-cli-state-XXXXXX";
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_require_root();
	if (argc < 3)
		check_skip("usage: test-sandbox-cli CAPBUS-SANDBOX ESCAPE");
	bin = realpath(argv[1], NULL);
	escape = realpath(argv[2], NULL);
	if (!bin || !escape)
		check_skip("binaries missing");
	dir = harness_dir_of(escape);

	{
		char *a[] = { bin, "--help", NULL };
		CHECK_MSG(cli(a, err, sizeof(err)) == 0, "--help exits 0");
	}
	{
		char *a[] = { bin, NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 1 && lines(err) == 1, "no program: exit 1, one line");
	}
	{
		char *a[] = { bin, "--no-such-option", "--", "/bin/true", NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 1 && lines(err) == 1 && strstr(err, "--no-such-option"), "unknown option: exit 1, one line naming it");
	}
	{
		char *a[] = { bin, "--uid", "0", "--", "/bin/true", NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 1 && lines(err) == 1, "uid 0: exit 1, one line");
	}
	{
		char *a[] = { bin, "--memory", "12Q", "--", "/bin/true", NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 1 && lines(err) == 1, "bad --memory: exit 1, one line");
	}
	{
		char *a[] = { bin, "--ro", "/nonexistent/capbus", "--", "/bin/true", NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 1 && lines(err) == 1, "missing --ro path: exit 1, one line");
	}
	{
		char *a[] = { bin, "--", "/bin/sh", "-c", "exit 42", NULL };
		CHECK_MSG(cli(a, err, sizeof(err)) == 42, "the program's exit code is passed through");
	}
	{
		char *a[] = { bin, "--", "/nonexistent/program", NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 127 && lines(err) == 1 && strstr(err, "exec"), "a program that cannot run: 127, the step named");
	}
	{
		char *a[] = { bin, "--skill-dir", dir, "--", escape, "ptrace", NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 128 + SIGSYS && strstr(err, "reason=seccomp"), "seccomp kill: 128+SIGSYS and reason=seccomp");
	}
	{
		char *a[] = { bin, "--skill-dir", dir, "--memory", "48M", "--", escape, "memory-bomb", NULL };
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 128 + SIGKILL && strstr(err, "reason=oom"), "OOM kill: 128+SIGKILL and reason=oom");
	}
	if (mkdtemp(state) && chown(state, 200777, 200777) == 0) {
		char path[PATH_MAX];
		struct stat st;
		char *a[] = { bin, "--uid", "200777", "--state", state, "--", "/bin/sh", "-c", "echo x > $STATE/f && test $HOME = /state", NULL };
		snprintf(path, sizeof(path), "%s/f", state);
		rc = cli(a, err, sizeof(err));
		CHECK_MSG(rc == 0 && stat(path, &st) == 0 && st.st_uid == 200777, "--state is writable at $STATE by --uid");
		unlink(path);
		rmdir(state);
	}
	free(bin);
	free(escape);
	free(dir);
	return check_finish("test-sandbox-cli");
}
