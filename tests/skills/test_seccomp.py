#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attacks the seccomp filter kills, each as a skill launched by capbusd.

A killed skill cannot report: the test asserts that `capbus skills --json` shows last_exit
"seccomp" for each one, that it is restarted with backoff and then marked failed (the attack
repeats at every start), that the daemon logged the kills, and that no report ever arrived from
any of them. A control skill running the same program with a harmless attack does report, so
the bus path works."""
import signal
import subprocess

from capbus_harness import SkillBus, check, escape_path, run_test

# attack -> the system call the filter refuses
KILLED = {
    "ptrace": "ptrace(PTRACE_TRACEME)",
    "mount": "mount(tmpfs)",
    "pivot-root": "pivot_root",
    "unshare-user": "unshare(CLONE_NEWUSER)",
    "clone-newuser": "clone(CLONE_NEWUSER)",
    "setns": "setns",
    "bpf": "bpf(BPF_MAP_CREATE)",
    "perf": "perf_event_open",
    "io-uring": "io_uring_setup",
    "keyctl": "keyctl",
    "add-key": "add_key",
    "open-by-handle": "open_by_handle_at",
    "userfaultfd": "userfaultfd",
    "kexec": "kexec_file_load",
    "init-module": "finit_module",
    "chroot": "chroot",
    "setuid-root": "setuid(0)",
    "x32": "x32 ABI getpid",
    "int80": "i386 int 0x80 getpid",
}


def kernel_has_int80():
    """Whether this kernel runs i386 system calls at all. Without IA32 emulation (a kernel built
    without it, or ia32_emulation=0) `int 0x80` faults with SIGSEGV before any seccomp filter
    is consulted: tried outside the sandbox first."""
    cp = subprocess.run([escape_path(), "int80"], capture_output=True, text=True, timeout=10)
    return cp.returncode != -signal.SIGSEGV


def main():
    # On a kernel without i386 system calls the attack faults instead: it still never reports.
    expected = {attack: "seccomp" for attack in KILLED}
    if not kernel_has_int80():
        print("# this kernel has no i386 system call entry: int 0x80 faults (SIGSEGV) before seccomp")
        expected["int80"] = "signal %d" % signal.SIGSEGV
    with SkillBus() as sb:
        idents = {}
        for attack in KILLED:
            ident = "k." + attack
            idents[ident] = attack
            sb.add_skill(ident, [attack])
        sb.add_skill("k.control", ["whoami"])
        sb.reload()
        control = sb.wait_reports(["k.control"], timeout=30)["k.control"]
        check(control["result"]["uid"] == 1000, "control skill: %r" % control)
        # Five kills within the crash window: failed. Every kill is classified as seccomp.
        for ident, attack in idents.items():
            s = sb.wait_skill(ident, lambda s: s["state"] == "failed", timeout=60,
                              what="%s (%s) to be marked failed" % (ident, KILLED[attack]))
            check(s["last_exit"] == expected[attack] and s["restarts"] == 4 and s["pid"] in (0, None),
                  "%s (%s): %r\n%s" % (ident, KILLED[attack], s, sb.log_about(ident)))
            exits = [l for l in sb.log_about(ident).splitlines() if "event=skill_exited" in l]
            # (A start that fails in the sandbox set-up also counts as a crash: see test_hostile.py.)
            check(len(exits) >= 1 and all('reason="%s"' % expected[attack] in l for l in exits),
                  "%s: the daemon logged %r" % (ident, exits))
            print("# %s: %s killed (%s), %d starts, %r" % (ident, KILLED[attack], expected[attack], len(exits), s))
        sb.pump(0.5)
        stray = {k: v for k, v in sb.reports.items() if k != "k.control"}
        check(not stray, "killed skills reported: %r" % stray)


if __name__ == "__main__":
    run_test(main)
