#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Two daemons on different abstract sockets, both guarding the same scope with different
allow-lists, do not interfere: each cgroup gets exactly what each daemon's own list says, each
denial is logged and counted by the daemon whose name was refused only, and when one daemon is
killed the other's guard stays in force while the dead one's name is simply unbound."""
import errno
import signal

from capbus_harness import GuardDaemon, Subtree, check, gclient, require_guard_env, run_test, wait_event, wait_for

CGROUPS = ("onlyA", "onlyB", "both", "neither")


def main():
    require_guard_env()
    with Subtree("two", CGROUPS) as sub, \
            GuardDaemon(sub, guard={"allow_cgroups": [sub.rel("onlyA"), sub.rel("both")]}) as a, \
            GuardDaemon(sub, guard={"allow_cgroups": [sub.rel("onlyB"), sub.rel("both")]}) as b:
        a.admin_cgroup = b.admin_cgroup = sub.dir("both")
        check(a.socket != b.socket, "same socket name")
        expect = {a: {"onlyA", "both"}, b: {"onlyB", "both"}}
        names = {a: "A", b: "B"}
        refused = {a: [], b: []}
        for d in (a, b):
            for cg in CGROUPS:
                r = gclient(d.socket, sub.dir(cg), comm="g%s%s" % (names[d], cg[:6]))
                if cg in expect[d]:
                    check(r["errno"] == 0 and r["hello"], "%s -> daemon %s: %r" % (cg, names[d], r))
                else:
                    check(r["errno"] == errno.EPERM, "%s -> daemon %s: %r, want EPERM" % (cg, names[d], r))
                    refused[d].append(r["pid"])
        for d, other in ((a, b), (b, a)):
            for pid in refused[d]:
                wait_event(d, "guard_denied", lambda e: e.get("pid") == str(pid))
                check(not [e for e in other.events("guard_denied") if e.get("pid") == str(pid)],
                      "daemon %s logged a denial (pid %d) that was daemon %s's" % (names[other], pid, names[d]))
            c = d.guard_info()["counters"]
            check(c["denied"] == len(refused[d]), "daemon %s denied %r, want %d" % (names[d], c, len(refused[d])))
            check(c["peer_denied"] == 0, "daemon %s peer check refused someone: %r" % (names[d], c))

        # Kill A: B's guard is untouched; A's name has no listener and no guard any more.
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        wait_for(lambda: gclient(a.socket, sub.dir("neither"))["errno"] == errno.ECONNREFUSED, 5,
                 interval=0.1, what="daemon A's name to be unbound and unguarded")
        check(gclient(b.socket, sub.dir("onlyA"))["errno"] == errno.EPERM, "B's guard after A was killed (onlyA)")
        check(gclient(b.socket, sub.dir("neither"))["errno"] == errno.EPERM, "B's guard after A was killed (neither)")
        r = gclient(b.socket, sub.dir("onlyB"))
        check(r["errno"] == 0 and r["hello"], "onlyB -> B after A was killed: %r" % r)


if __name__ == "__main__":
    run_test(main)
