#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Filesystem bus socket: the eBPF program sees the address before the kernel resolves it, so
its path check refuses the literal path but can be slipped with an alias (a symlink to the
socket, /proc/self/root/..., a doubled slash). Those connects reach the socket, and the daemon's
own peer check (SO_PEERCRED + SO_PEERPIDFD) must refuse them: event=peer_denied with the
client's pid, the peer_denied counters in `capbus stats` and `capbus guard`, and no greeting
(the connection is closed), also for clients that close before the verdict. From the allowed
cgroup the same aliases are greeted."""
import errno
import os

from capbus_harness import (GuardDaemon, Subtree, check, gclient, gclient_result, require_guard_env, run_test,
                            wait_event, wait_for)


def main():
    require_guard_env()
    with Subtree("alias") as sub, GuardDaemon(sub, path_socket=True) as d:
        check(d.socket.startswith("/"), "not a path socket: %r" % d.socket)
        link = os.path.join(d.dir, "alias.sock")
        os.symlink(d.socket, link)
        aliases = {"symlink": link,
                   "/proc/self/root": "/proc/self/root" + d.socket,
                   "double slash": "/" + d.socket}

        # The literal path is refused in the kernel.
        r = gclient(d.socket, sub.dir("forbidden"), comm="gliteral")
        check(r["errno"] == errno.EPERM, "literal path from the forbidden cgroup: %r" % r)
        wait_event(d, "guard_denied", lambda e: e.get("pid") == str(r["pid"]))

        stats0 = d.stats()
        n = 0
        for what, addr in aliases.items():
            mark = len(d.log())
            r = gclient(addr, sub.dir("forbidden"), comm="galias%d" % n)
            check(r["errno"] == 0, "%s from the forbidden cgroup: connect failed with %r; the test assumes the "
                  "path check can be slipped this way" % (what, r))
            check(not r["hello"] and r["closed"], "%s from the forbidden cgroup was not closed without a greeting: %r"
                  % (what, r))
            ev = wait_event(d, "peer_denied", lambda e: e.get("pid") == str(r["pid"]), start=mark)
            check(ev.get("uid") == "0", "peer_denied line: %s" % ev["_line"])
            n += 1
        stats1 = d.stats()
        check(stats1["peer_denied"] - stats0["peer_denied"] == n,
              "capbus stats peer_denied moved from %r to %r, want +%d" % (stats0["peer_denied"],
                                                                         stats1["peer_denied"], n))
        check(d.guard_info()["counters"]["peer_denied"] == n, "capbus guard: %r" % d.guard_info()["counters"])

        # Clients that close at once, before the verdict: still refused, and counted alike by
        # `capbus stats` and `capbus guard`. One peer holds at most its share of the pending
        # handshakes (max_pending_per_peer, capbusd(8)), so part of a fast burst may be refused at
        # accept instead, before any peer check (refused_pending): every connect is one or the other.
        p = gclient(link, sub.dir("forbidden"), loop=50, no_wait=True, background=True)
        check(gclient_result(p)["ok"] == 50, "50 quick alias connects")

        def settled():
            s = d.stats()
            denied = s["peer_denied"] - stats0["peer_denied"]
            return s if denied + s["refused_pending"] - stats0["refused_pending"] == n + 50 else None
        stats2 = wait_for(settled, 5, interval=0.1, what="50 quick connects to be refused (peer_denied + refused_pending)")
        denied = stats2["peer_denied"] - stats0["peer_denied"]
        check(denied > n, "no quick connect reached the peer check: %r" % stats2)
        check(d.guard_info()["counters"]["peer_denied"] == denied,
              "capbus guard says %d peer refusals, capbus stats %d: refusals of clients that closed before the "
              "verdict are not counted alike" % (d.guard_info()["counters"]["peer_denied"], denied))

        # The same aliases from the allowed cgroup are greeted (so the refusals above are the check's).
        for what, addr in aliases.items():
            r = gclient(addr, sub.dir("allowed"), comm="gallowalias")
            check(r["errno"] == 0 and r["hello"], "%s from the allowed cgroup: %r" % (what, r))


if __name__ == "__main__":
    run_test(main)
