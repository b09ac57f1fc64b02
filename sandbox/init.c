// SPDX-License-Identifier: MIT
/* init.c - capbus-init: pid 1 of a sandbox, a program of its own with no libc.
 *
 * Trust: runs inside the sandbox, as confined as the skill (same uid, seccomp filter, Landlock
 * domain); the skill can read its /proc entries, so it carries nothing of the host: the launcher
 * execs it from a sealed memfd (sandbox/initimage.c embeds this binary) with argv
 * {"capbus-init", PROGRAM-PID}, an empty environment, the status pipe as fd 3 and the program's
 * gate as fd 6, which it closes first: the program waits for that EOF, so it never sees /proc/1
 * before this exec is complete (a close-on-exec gate opens inside execve, while /proc/1/cmdline
 * is still empty).
 * It is what the launcher's clone used to do in place after forking the program: forward
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH and SIGCONT to the program
 * (the kernel drops signals to a namespace's init that has no handler, so the supervisor's
 * SIGTERM would vanish if the program were pid 1), reap orphans, and when the program ends
 * write its raw wait status (an int) to fd 3 and exit (a signal death cannot be mirrored: pid 1
 * cannot kill itself). Every signal arrives blocked (the launcher blocked them all before
 * forking the program; the mask and pending signals survive execve), so none is missed.
 * Freestanding: no libc, no allocation, no relocations, a few system calls. */
#include <asm/unistd.h>
#include <linux/signal.h>
#include <linux/wait.h>

#define STATUS_FD 3
#define GATE_FD 6

#if defined(__x86_64__)
static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The kernel starts us with argc at the stack pointer; keep the ABI's 16-byte alignment. */
__asm__(".text\n.global _start\n_start:\n"
	"xor %rbp, %rbp\nmov %rsp, %rdi\nand $-16, %rsp\ncall init_main\nhlt\n");
#elif defined(__aarch64__)
static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
	return x0;
}

__asm__(".text\n.global _start\n_start:\nmov x0, sp\nmov x29, #0\nmov x30, #0\nbl init_main\nbrk #0\n");
#else
#error "capbus-init: no system call glue for this architecture"
#endif

/* si_signo is the first int of a siginfo; the rest is not needed. */
struct init_siginfo {
	int si_signo;
	int pad[31];
};

static __attribute__((noreturn)) void sys_exit(int code)
{
	for (;;)
		sys6(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

static int parse_pid(const char *s)
{
	long v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 0x3fffffff)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v > 0 ? (int)v : -1;
}

static int forwarded(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1 ||
	       sig == SIGUSR2 || sig == SIGWINCH || sig == SIGCONT;
}

/* Reap every child that has ended; when the program is among them, report and exit. */
static void reap(int program)
{
	for (;;) {
		int st = 0;
		long w = sys6(__NR_wait4, -1, (long)&st, WNOHANG, 0, 0, 0);

		if (w <= 0)
			return;
		if (w == program) {
			(void)sys6(__NR_write, STATUS_FD, (long)&st, sizeof(st), 0, 0, 0);
			/* WIFEXITED: the low 7 bits are 0; then the code is bits 8..15. */
			sys_exit((st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f));
		}
	}
}

/* Entered from _start with the initial stack: argc, argv[], NULL, envp[]. */
__attribute__((noreturn, used)) void init_main(long *sp);
__attribute__((noreturn, used)) void init_main(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	unsigned long all = ~0UL;
	int program = argc == 2 ? parse_pid(argv[1]) : -1;

	(void)sys6(__NR_close, GATE_FD, 0, 0, 0, 0, 0);
	if (program < 0)
		sys_exit(127);
	/* Block everything (again: the launcher did, but a direct exec by someone else may not). */
	(void)sys6(__NR_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, sizeof(all), 0, 0);
	/* The program may have ended before we ran: its SIGCHLD is pending then, but look anyway. */
	reap(program);
	for (;;) {
		struct init_siginfo si;
		long sig = sys6(__NR_rt_sigtimedwait, (long)&all, (long)&si, 0, sizeof(all), 0, 0);

		if (sig == SIGCHLD)
			reap(program);
		else if (sig > 0 && forwarded((int)sig))
			(void)sys6(__NR_kill, program, sig, 0, 0, 0, 0);
	}
}
