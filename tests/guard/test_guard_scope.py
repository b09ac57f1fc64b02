#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""guard.scope narrower than the clients: the kernel checks only sockets created beneath the
scope, so a process outside it reaches the socket, and the daemon's own peer check must refuse
it (event=peer_denied, closed without a greeting); inside the scope the kernel refuses
(EPERM). A cgroup whose name merely starts with an allowed one's ("allowed-evil") is not
allowed by either check."""
import errno

from capbus_harness import GuardDaemon, Subtree, check, gclient, require_guard_env, run_test, wait_event

CHILDREN = ("inside", "inside/allowed", "inside/forbidden", "inside/allowed-evil", "outside", "outside/allowed")


def main():
    require_guard_env()
    with Subtree("scope", CHILDREN) as sub, \
            GuardDaemon(sub, guard={"scope": sub.rel("inside"), "allow_cgroups": [sub.rel("inside/allowed")]}) as d:
        d.admin_cgroup = sub.dir("inside/allowed")
        check(d.guard_info()["scope"] == sub.dir("inside"), "scope: %r" % d.guard_info())
        r = gclient(d.socket, sub.dir("inside/allowed"))
        check(r["errno"] == 0 and r["hello"], "inside/allowed: %r" % r)
        for where in ("inside/forbidden", "inside/allowed-evil"):
            r = gclient(d.socket, sub.dir(where))
            check(r["errno"] == errno.EPERM, "%s: %r, want EPERM" % (where, r))
        for where in ("outside", "outside/allowed"):
            r = gclient(d.socket, sub.dir(where), comm="goutside")
            check(r["errno"] == 0, "%s is outside the scope: the kernel should not refuse it: %r" % (where, r))
            check(not r["hello"] and r["closed"], "%s: not refused by the peer check: %r" % (where, r))
            wait_event(d, "peer_denied", lambda e: e.get("pid") == str(r["pid"]))


if __name__ == "__main__":
    run_test(main)
