#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`capbus guard` (admin) shows the mode, whether the guard is active, its scope and socket, the
allow-list as configured, and denial counters that follow what happened; a client that is not
admin cannot read it."""
import errno

from capbus_harness import (GuardDaemon, Subtree, check, gclient, manifest, require_guard_env, run_test,
                            wait_event)


def main():
    require_guard_env()
    with Subtree("status") as sub, \
            GuardDaemon(sub, {"plain": manifest("plain", ["guard.*"])},
                        guard={"allow_uids": [4242, 4243]}) as d:
        info = d.guard_info()
        check(info["mode"] == "required", "mode %r" % info["mode"])
        check(info["active"] is True, "active %r" % info["active"])
        check(info["peer_check"] is True, "peer_check %r" % info["peer_check"])
        check(info["socket"] == d.socket, "socket %r, want %r" % (info["socket"], d.socket))
        check(info["scope"] == sub.dir(), "scope %r, want %r" % (info["scope"], sub.dir()))
        check(info["allow_uids"] == [4242, 4243], "allow_uids %r" % info["allow_uids"])
        check(info["allow_cgroups"] == [sub.rel("allowed")], "allow_cgroups %r" % info["allow_cgroups"])
        c0 = info["counters"]
        for k in ("denied", "allowed_cgroup", "allowed_uid", "events_dropped", "peer_denied"):
            check(isinstance(c0.get(k), (int, float)), "counter %s missing: %r" % (k, c0))
        check(c0["denied"] == 0 and c0["peer_denied"] == 0, "counters before any denial: %r" % c0)

        for i in range(3):
            r = gclient(d.socket, sub.dir("forbidden"), comm="gcount%d" % i)
            check(r["errno"] == errno.EPERM, "forbidden connect %d: %r" % (i, r))
        r = gclient(d.socket, sub.dir("forbidden"), uid=4242, comm="gbyuid")
        check(r["errno"] == 0 and r["hello"], "uid 4242 from the forbidden cgroup: %r" % r)
        wait_event(d, "guard_denied", lambda e: e.get("comm") == "gcount2")
        c1 = d.guard_info()["counters"]
        check(c1["denied"] - c0["denied"] == 3, "denied moved by %d, want 3: %r" % (c1["denied"] - c0["denied"], c1))
        check(c1["allowed_uid"] - c0["allowed_uid"] == 1, "allowed_uid: %r -> %r" % (c0, c1))
        # Admin commands run in the allowed cgroup: each is one more allowed_cgroup connect.
        check(c1["allowed_cgroup"] > c0["allowed_cgroup"], "allowed_cgroup did not move: %r -> %r" % (c0, c1))
        check(c1["events_dropped"] == 0, "events dropped: %r" % c1)

        # Not for ordinary clients.
        key = d.keygen("plain")
        cp = d.cli("guard", key=key)
        check(cp.returncode != 0, "capbus guard as a plain client exited 0: %s" % cp.stdout)


if __name__ == "__main__":
    run_test(main)
