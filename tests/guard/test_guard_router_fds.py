#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Only the privileged parent holds the guard: its program, its link and its maps (the
allow-lists among them) must not be open in the unprivileged router, which faces every client.
A writable map fd there lets a compromised router hand the allow-list to a local process
(SCM_RIGHTS), and the link there keeps the guard attached as long as the router lives. The
skills' egress objects likewise stay in the parent."""
import os

from capbus_harness import GuardDaemon, Subtree, check, require_guard_env, run_test


def bpf_fds(pid):
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if "bpf" in target:
            out[int(fd)] = target
    return out


def main():
    require_guard_env()
    with Subtree("fds") as sub, GuardDaemon(sub) as d:
        parent, router = d.pid, d.router_pid()
        check(bpf_fds(parent), "the parent holds no BPF object while the guard is active?")
        leaked = bpf_fds(router)
        check(not leaked, "the unprivileged router (pid %d) holds the guard's BPF objects: %s" %
              (router, ", ".join("fd %d %s" % kv for kv in sorted(leaked.items()))))


if __name__ == "__main__":
    run_test(main)
