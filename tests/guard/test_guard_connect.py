#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Abstract bus socket with kernel_guard "required": a process in a cgroup that is not allowed
gets EPERM from connect() and the daemon logs event=guard_denied with its pid, uid, cgroup and
comm; a process in the allowed cgroup, and one in a child of it, connects and authenticates
(capbus send exits 0)."""
import errno
import os

from capbus_harness import GuardDaemon, manifest, Subtree, check, gclient, require_guard_env, run_test, wait_event


def main():
    require_guard_env()
    with Subtree("connect") as sub, GuardDaemon(sub, {"guarded": manifest("guarded", ["guard.*"])}) as d:
        check(d.events("guard_attached"), "no event=guard_attached in the log:\n%s" % d.log())
        key = d.keygen("guarded")  # admin runs in the allowed cgroup

        # Forbidden cgroup: EPERM before the daemon sees anything, logged with pid and comm.
        mark = len(d.log())
        r = gclient(d.socket, sub.dir("forbidden"), comm="gdenied-probe")
        check(r["errno"] == errno.EPERM, "forbidden connect: errno %s (%s), want EPERM" %
              (r["errno"], os.strerror(r["errno"]) if r["errno"] else "connected"))
        ev = wait_event(d, "guard_denied", lambda e: e.get("pid") == str(r["pid"]), start=mark)
        check(ev.get("comm") == "gdenied-probe", "guard_denied comm %r, want 'gdenied-probe': %s" %
              (ev.get("comm"), ev["_line"]))
        check(ev.get("uid") == "0", "guard_denied uid: %s" % ev["_line"])
        check(ev.get("cgroup_id") == str(os.stat(sub.dir("forbidden")).st_ino),
              "guard_denied cgroup_id %r, want the forbidden cgroup's %d: %s" %
              (ev.get("cgroup_id"), os.stat(sub.dir("forbidden")).st_ino, ev["_line"]))
        check(ev.get("target") == d.socket, "guard_denied target %r, want %r" % (ev.get("target"), d.socket))
        check(not d.events("peer_denied", mark), "a refused connect still reached the daemon's peer check")

        # The CLI from the forbidden cgroup cannot connect either (exit 2: cannot connect).
        cp = d.cli("send", "guard.test", "{}", key=key, cgroup=sub.dir("forbidden"))
        check(cp.returncode == 2, "capbus send from the forbidden cgroup exited %d: %s" % (cp.returncode, cp.stderr))

        # Allowed cgroup and a child of it: connected, greeted, authenticated.
        for where in ("allowed", "allowed/child"):
            r = gclient(d.socket, sub.dir(where), comm="gallowed")
            check(r["errno"] == 0 and r["hello"], "connect from %s: %r" % (where, r))
            cp = d.cli("send", "guard.test", '{"from": "%s"}' % where, key=key, cgroup=sub.dir(where))
            check(cp.returncode == 0, "capbus send from %s exited %d: %s" % (where, cp.returncode, cp.stderr))
        info = d.guard_info()
        check(info["counters"]["denied"] >= 2, "guard counters: %r" % info["counters"])
        check(info["counters"]["allowed_cgroup"] >= 4, "guard counters: %r" % info["counters"])
        check(info["counters"]["allowed_uid"] == 0, "nobody is allowed by uid here: %r" % info["counters"])
        check(info["counters"]["peer_denied"] == 0, "peer check refused an allowed client: %r" % info["counters"])


if __name__ == "__main__":
    run_test(main)
