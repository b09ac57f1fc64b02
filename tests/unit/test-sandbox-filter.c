// SPDX-License-Identifier: MIT
/* test-sandbox-filter.c - the compiled seccomp programs, run on synthetic system calls.
 *
 * Links only the filter module. A small classic-BPF interpreter evaluates the exported program
 * on seccomp_data we build by hand, so the policy (foreign architectures, x32, argument rules)
 * is checked without root and without trusting a live kernel to have said no for the right
 * reason. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "check.h"
#include "filter.h"

/* Classic BPF as the kernel runs it for seccomp: A, X, 16 scratch words, absolute loads from
 * seccomp_data. Returns the filter's return value, or 0 (kill) for a malformed program. */
static uint32_t run(const struct filter_prog *p, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	const unsigned char *data = (const unsigned char *)d;

	for (unsigned pc = 0; pc < p->len; pc++) {
		const struct sock_filter *f = &p->insns[pc];
		uint32_t src = BPF_SRC(f->code) == BPF_X ? x : (uint32_t)f->k;

		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			if (BPF_MODE(f->code) == BPF_ABS && BPF_SIZE(f->code) == BPF_W && f->k + 4 <= sizeof(*d))
				memcpy(&a, data + f->k, 4);
			else if (BPF_MODE(f->code) == BPF_MEM && f->k < BPF_MEMWORDS)
				a = mem[f->k];
			else if (BPF_MODE(f->code) == BPF_IMM)
				a = f->k;
			else
				return 0;
			break;
		case BPF_LDX:
			if (BPF_MODE(f->code) == BPF_MEM && f->k < BPF_MEMWORDS)
				x = mem[f->k];
			else if (BPF_MODE(f->code) == BPF_IMM)
				x = f->k;
			else
				return 0;
			break;
		case BPF_ST:
			if (f->k >= BPF_MEMWORDS)
				return 0;
			mem[f->k] = a;
			break;
		case BPF_STX:
			if (f->k >= BPF_MEMWORDS)
				return 0;
			mem[f->k] = x;
			break;
		case BPF_ALU:
			switch (BPF_OP(f->code)) {
			case BPF_AND: a &= src; break;
			case BPF_OR: a |= src; break;
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_RSH: a >>= src; break;
			case BPF_LSH: a <<= src; break;
			default: return 0;
			}
			break;
		case BPF_JMP: {
			int t;
			switch (BPF_OP(f->code)) {
			case BPF_JA: pc += f->k; continue;
			case BPF_JEQ: t = a == src; break;
			case BPF_JGT: t = a > src; break;
			case BPF_JGE: t = a >= src; break;
			case BPF_JSET: t = (a & src) != 0; break;
			default: return 0;
			}
			pc += t ? f->jt : f->jf;
			break;
		}
		case BPF_RET:
			return BPF_RVAL(f->code) == BPF_A ? a : (uint32_t)f->k;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		default:
			return 0;
		}
	}
	return 0; /* fell off the end */
}

static uint32_t call(const struct filter_prog *p, uint32_t arch, int nr, uint64_t a0, uint64_t a1)
{
	struct seccomp_data d = { .nr = nr, .arch = arch, .args = { a0, a1 } };
	return run(p, &d);
}

#define X86_64 AUDIT_ARCH_X86_64
#define KILL SECCOMP_RET_KILL_PROCESS
#define ALLOW SECCOMP_RET_ALLOW
#define ERR(e) (SECCOMP_RET_ERRNO | (uint32_t)(e))

int main(void)
{
	struct filter_prog def = { 0 }, net = { 0 }, py = { 0 }, log = { 0 }, bad = { 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK_MSG(filter_compile("default", false, false, false, &def) == 0 && def.len > 0, "default profile compiles");
	CHECK_MSG(filter_compile("default", true, false, false, &net) == 0, "default profile with network compiles");
	CHECK_MSG(filter_compile("python", false, false, false, &py) == 0, "python profile compiles");
	CHECK_MSG(filter_compile("default", false, false, true, &log) == 0, "permissive profile compiles");
	CHECK_MSG(filter_compile("nonsense", false, false, false, &bad) == -EINVAL, "unknown profile: -EINVAL");
	if (!def.len || !net.len || !py.len || !log.len)
		return 1;

	CHECK_MSG(call(&def, X86_64, SYS_read, 0, 0) == ALLOW, "read allowed");
	CHECK_MSG(call(&def, X86_64, SYS_execve, 0, 0) == ALLOW, "execve allowed");
	static const int killed[] = { SYS_ptrace, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_bpf,
				      SYS_perf_event_open, SYS_io_uring_setup, SYS_io_uring_enter,
				      SYS_keyctl, SYS_add_key, SYS_request_key, SYS_unshare, SYS_setns,
				      SYS_open_by_handle_at, SYS_kexec_load, SYS_init_module,
				      SYS_finit_module, SYS_delete_module, SYS_userfaultfd, SYS_setuid,
				      SYS_setgroups, SYS_chroot, SYS_fsopen, SYS_move_mount, SYS_open_tree };
	int all_killed = 1;
	for (size_t i = 0; i < sizeof(killed) / sizeof(killed[0]); i++)
		if (call(&def, X86_64, killed[i], 0, 0) != KILL) {
			printf("# syscall %d not killed\n", killed[i]);
			all_killed = 0;
		}
	CHECK_MSG(all_killed, "ptrace, mount family, bpf, perf, io_uring, keys, unshare/setns, handles, kexec, modules, userfaultfd, setuid/setgroups, chroot: killed");
	/* The gateway's profile: default plus stacking its own filter; skills cannot. */
	{
		struct filter_prog gw = { 0 };
		CHECK_MSG(filter_compile("gateway", true, true, false, &gw) == 0 && gw.len > 0, "gateway profile compiles");
		CHECK_MSG(call(&def, X86_64, SYS_seccomp, 1, 0) == KILL, "default: seccomp(2) killed");
		CHECK_MSG(call(&gw, X86_64, SYS_seccomp, 1, 0) == ALLOW, "gateway: seccomp(2) allowed");
		CHECK_MSG(call(&def, X86_64, SYS_prctl, PR_SET_DUMPABLE, 0) == ERR(EPERM), "default: PR_SET_DUMPABLE EPERM");
		CHECK_MSG(call(&gw, X86_64, SYS_prctl, PR_SET_DUMPABLE, 0) == ALLOW, "gateway: PR_SET_DUMPABLE allowed");
		CHECK_MSG(call(&gw, X86_64, SYS_ptrace, 0, 0) == KILL, "gateway: ptrace still killed");
		filter_prog_done(&gw);
	}
	CHECK_MSG(call(&def, X86_64, 0x40000000 | SYS_getpid, 0, 0) == KILL, "x32 getpid: killed");
	CHECK_MSG(call(&def, AUDIT_ARCH_I386, 20 /* i386 getpid */, 0, 0) == KILL, "i386 (int 0x80) getpid: killed");
	CHECK_MSG(call(&def, AUDIT_ARCH_AARCH64, 172, 0, 0) == KILL, "a foreign architecture: killed");
	CHECK_MSG(call(&def, X86_64, 1000, 0, 0) == KILL, "an unknown syscall number: killed");

	CHECK_MSG(call(&def, X86_64, SYS_clone, SIGCHLD, 0) == ALLOW, "clone for fork: allowed");
	CHECK_MSG(call(&def, X86_64, SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, 0) == ALLOW,
	      "clone for a thread: allowed");
	CHECK_MSG(call(&def, X86_64, SYS_clone, CLONE_NEWUSER | SIGCHLD, 0) == KILL, "clone(CLONE_NEWUSER): killed");
	CHECK_MSG(call(&def, X86_64, SYS_clone, CLONE_NEWNET, 0) == KILL, "clone(CLONE_NEWNET): killed");
	CHECK_MSG(call(&def, X86_64, SYS_clone3, 0, 0) == ERR(ENOSYS), "clone3: ENOSYS");

	CHECK_MSG(call(&def, X86_64, SYS_ioctl, 3, TIOCSTI) == ERR(EPERM), "ioctl TIOCSTI: EPERM");
	CHECK_MSG(call(&def, X86_64, SYS_ioctl, 3, 0xffffffff00000000ULL | TIOCSTI) == ERR(EPERM), "ioctl TIOCSTI with high bits: EPERM");
	CHECK_MSG(call(&def, X86_64, SYS_ioctl, 3, TIOCLINUX) == ERR(EPERM), "ioctl TIOCLINUX: EPERM");
	CHECK_MSG(call(&def, X86_64, SYS_ioctl, 3, TIOCSETD) == ERR(EPERM), "ioctl TIOCSETD: EPERM");
	CHECK_MSG(call(&def, X86_64, SYS_ioctl, 3, TCGETS) == ALLOW, "ioctl TCGETS (isatty): allowed");

	CHECK_MSG(call(&def, X86_64, SYS_socket, AF_UNIX, 0) == ALLOW, "AF_UNIX socket: allowed");
	CHECK_MSG(call(&def, X86_64, SYS_socket, AF_INET, 0) == ERR(EAFNOSUPPORT), "AF_INET without network: EAFNOSUPPORT");
	CHECK_MSG(call(&def, X86_64, SYS_socket, 0x100000000ULL | AF_UNIX, 0) == ALLOW, "high bits on the family are ignored like the kernel does");
	CHECK_MSG(call(&def, X86_64, SYS_socket, AF_NETLINK, 0) == ERR(EAFNOSUPPORT), "AF_NETLINK without network: EAFNOSUPPORT");
	CHECK_MSG(call(&net, X86_64, SYS_socket, AF_INET6, 0) == ALLOW, "AF_INET6 with network: allowed");
	CHECK_MSG(call(&net, X86_64, SYS_socket, AF_PACKET, 0) == ERR(EAFNOSUPPORT), "AF_PACKET even with network: EAFNOSUPPORT");
	CHECK_MSG(call(&def, X86_64, SYS_socketpair, AF_INET, 0) == ERR(EAFNOSUPPORT), "socketpair AF_INET: EAFNOSUPPORT");
	CHECK_MSG(call(&def, X86_64, SYS_memfd_create, 0, 0) == ERR(EACCES) &&
			  call(&def, X86_64, SYS_memfd_create, 0, 0x8 /* MFD_NOEXEC_SEAL */) == ERR(EACCES) &&
			  call(&net, X86_64, SYS_memfd_create, 0, 0x10 /* MFD_EXEC */) == ERR(EACCES),
		  "memfd_create with any flags: EACCES");

	CHECK_MSG(call(&def, X86_64, SYS_personality, 0xffffffff, 0) == ALLOW, "personality query: allowed");
	CHECK_MSG(call(&def, X86_64, SYS_personality, 0x0040000, 0) == ERR(EPERM), "personality(ADDR_NO_RANDOMIZE): EPERM");
	CHECK_MSG(call(&def, X86_64, SYS_prctl, PR_SET_NAME, 0) == ALLOW, "prctl(PR_SET_NAME): allowed");
	CHECK_MSG(call(&def, X86_64, SYS_prctl, PR_SET_MM, 0) == ERR(EPERM), "prctl(PR_SET_MM): EPERM");

	CHECK_MSG(call(&def, X86_64, SYS_sched_setaffinity, 0, 0) == KILL && call(&py, X86_64, SYS_sched_setaffinity, 0, 0) == ALLOW,
	      "the python profile adds sched_setaffinity");
	CHECK_MSG(call(&log, X86_64, SYS_ptrace, 0, 0) == SECCOMP_RET_LOG, "permissive mode logs instead of killing");
	CHECK_MSG(call(&log, AUDIT_ARCH_I386, 20, 0, 0) == KILL, "permissive mode still kills foreign architectures");

	filter_prog_done(&def);
	filter_prog_done(&net);
	filter_prog_done(&py);
	filter_prog_done(&log);
	return check_finish("test-sandbox-filter");
}
