#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The guard decides on the task that calls connect(), not on the socket: a socket created in
the allowed cgroup and connected from a process in a forbidden one is refused with EPERM,
whether the process moved itself, inherited the socket across fork, or received it with
SCM_RIGHTS; the reverse (created forbidden, connected allowed) is admitted."""
import errno
import os

from capbus_harness import GuardDaemon, Subtree, check, gclient, require_guard_env, run_test, wait_event


def main():
    require_guard_env()
    with Subtree("passed") as sub, GuardDaemon(sub) as d:
        allowed, forbidden = sub.dir("allowed"), sub.dir("forbidden")
        cases = [("moved itself", dict(move_to=forbidden)),
                 ("inherited across fork", dict(fork_move=forbidden)),
                 ("received with SCM_RIGHTS", dict(scm_to=forbidden))]
        for i, (what, kw) in enumerate(cases):
            r = gclient(d.socket, allowed, comm="gpassed%d" % i, **kw)
            check(r["errno"] == errno.EPERM, "socket created allowed, %s, connect from forbidden: %r" % (what, r))
            ev = wait_event(d, "guard_denied", lambda e: e.get("pid") == str(r["pid"]))
            check(ev.get("cgroup_id") == str(os.stat(forbidden).st_ino),
                  "denial logged for cgroup id %r, want the forbidden cgroup's: %s" %
                  (ev.get("cgroup_id"), ev["_line"]))
        r = gclient(d.socket, forbidden, comm="greverse", move_to=allowed)
        check(r["errno"] == 0 and r["hello"], "socket created forbidden, connect from allowed: %r" % r)
        check(not d.events("peer_denied"), "peer check refused someone:\n%s" % d.log())


if __name__ == "__main__":
    run_test(main)
