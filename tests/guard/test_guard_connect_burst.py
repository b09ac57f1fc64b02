#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""With the guard on, every accepted connection is checked by the privileged parent (the peer
check). A burst of connects that close at once (2000 in a row, no waiting for the greeting) must
not wedge the daemon: the burst completes, `capbus stats` still answers, every check is counted,
and SIGTERM still stops the daemon. Two bursts: from the allowed cgroup to the abstract socket,
and from a forbidden cgroup through a symlink to a path socket (the kernel's path check is
slipped, so only the peer check stands between that client and the daemon)."""
import os
import time

from capbus_harness import (GuardDaemon, Subtree, check, gclient, gclient_result, require_guard_env, run_test,
                            wait_for)

BURST = 2000


def burst(d, address, cgdir, what):
    t0 = time.monotonic()
    p = gclient(address, cgdir, loop=BURST, no_wait=True, comm="gburst", background=True)
    try:
        res = gclient_result(p, timeout=30)
    except Exception:
        p.kill()
        p.wait()
        wchan = {}
        for pid in d.pids():
            try:
                with open("/proc/%d/wchan" % pid) as f:
                    wchan[pid] = f.read()
            except OSError:
                pass
        check(False, "%s: %d connects did not complete in 30s: the daemon stopped accepting (parent %d and router "
              "%d wait in %r)" % (what, BURST, d.pid, d.router_pid() or 0, wchan))
    check(res["ok"] == BURST, "%s: %r" % (what, res))
    cp = d.admin("stats", timeout=15)
    check(cp.returncode == 0, "%s: capbus stats after the burst: %d %s" % (what, cp.returncode, cp.stderr))
    print("%s: %d connects in %.1fs" % (what, BURST, time.monotonic() - t0))


def main():
    require_guard_env()
    with Subtree("burst") as sub:
        with GuardDaemon(sub) as d:
            burst(d, d.socket, sub.dir("allowed"), "allowed, abstract socket")
            check(d.stats()["peer_denied"] == 0, "peer_denied: %r" % d.stats())
        with GuardDaemon(sub, path_socket=True) as d:
            link = os.path.join(d.dir, "alias.sock")
            os.symlink(d.socket, link)
            burst(d, link, sub.dir("forbidden"), "forbidden, symlink to the path socket")
            # A connection whose process has already exited when the daemon gets to it cannot be
            # checked: it is closed unserved and counted as peer_gone, not as a denial. One beyond
            # the peer's share of pending handshakes (max_pending_per_peer: the burst is one uid in
            # one cgroup, and its connections wait for their check) is closed before it is checked
            # and counted as refused_pending.
            def counted():
                st = d.stats()
                return st["peer_denied"] + st["peer_gone"] + st["refused_pending"] == BURST
            wait_for(counted, 10, interval=0.2,
                     what="peer_denied + peer_gone + refused_pending to count all %d refused connections" % BURST)
            check(d.guard_info()["counters"]["peer_denied"] == d.stats()["peer_denied"],
                  "capbus guard and capbus stats disagree on peer_denied")


if __name__ == "__main__":
    run_test(main)
