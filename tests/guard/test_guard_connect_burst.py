#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""With the guard on, every accepted connection is checked by the privileged parent (the peer
check). A burst of connects from an allowed client that closes each at once (2000 in a row, no
waiting for the greeting) must not wedge the daemon: the burst completes, `capbus stats` still
answers, and SIGTERM still stops the daemon."""
import time

from guardlib import GuardDaemon, Subtree, check, gclient, gclient_result, require_guard_env, run_test_guard

BURST = 2000


def main():
    require_guard_env()
    with Subtree("burst") as sub, GuardDaemon(sub) as d:
        t0 = time.monotonic()
        p = gclient(d.socket, sub.dir("allowed"), loop=BURST, no_wait=True, comm="gburst", background=True)
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
            check(False, "%d connects did not complete in 30s: the daemon stopped accepting (parent %d and router "
                  "%d wait in %r)" % (BURST, d.pid, d.router_pid() or 0, wchan))
        check(res["ok"] == BURST, "burst: %r" % res)
        cp = d.admin("stats", timeout=15)
        check(cp.returncode == 0, "capbus stats after the burst: %d %s" % (cp.returncode, cp.stderr))
        print("%d connects in %.1fs" % (BURST, time.monotonic() - t0))


if __name__ == "__main__":
    run_test_guard(main)
