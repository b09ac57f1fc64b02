#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""guard.allow_cgroups / guard.allow_uids are re-read on SIGHUP: a listed cgroup created after the
start is admitted after the next reload; removing an entry refuses the
next connect from it (EPERM), adding it back admits it again, and `capbus guard` shows the new
list. A reload that fails (invalid guard section) keeps the list in force. An allowed client
that keeps connecting while the daemon reloads is never refused: a reload must not open a
window in which the allow-list is empty."""
import errno
import os
import signal
import time

from capbus_harness import (GuardDaemon, Subtree, check, gclient, gclient_result, require_guard_env, run_test,
                            wait_event, wait_for)

UID = 4242


def reload(d, expect_cgroups=None, expect_uids=None):
    mark = len(d.log())
    d.signal(signal.SIGHUP)
    wait_event(d, "reload", start=mark)
    if expect_cgroups is not None:
        wait_for(lambda: d.guard_info()["allow_cgroups"] == expect_cgroups and
                 d.guard_info()["allow_uids"] == expect_uids, 5, what="the new allow-list in capbus guard")
    return mark


def main():
    require_guard_env()
    with Subtree("reload", ("allowed", "forbidden", "other")) as sub, \
            GuardDaemon(sub, guard={"allow_cgroups": [sub.rel("allowed"), sub.rel("forbidden"), sub.rel("later")],
                                    "allow_uids": [UID]}) as d:
        forbidden, other = sub.dir("forbidden"), sub.dir("other")
        check(gclient(d.socket, forbidden)["errno"] == 0, "forbidden/ is on the list at start")
        check(gclient(d.socket, other, uid=UID)["errno"] == 0, "uid %d is on the list at start" % UID)
        check(gclient(d.socket, other)["errno"] == errno.EPERM, "other/ as root is not on the list")

        # A listed cgroup that did not exist at start is warned about, and admitted after a reload
        # once it exists.
        ev = wait_event(d, "guard_cgroup_missing")
        check(ev.get("cgroup") == sub.rel("later"), "guard_cgroup_missing: %s" % ev["_line"])
        os.mkdir(sub.dir("later"))
        check(gclient(d.socket, sub.dir("later"))["errno"] == errno.EPERM, "later/ before the reload")
        reload(d)
        wait_for(lambda: gclient(d.socket, sub.dir("later"))["errno"] == 0, 5, interval=0.1,
                 what="later/ to be admitted after the reload")

        # Remove the cgroup: the very next connect is refused.
        d.set_guard(allow_cgroups=[sub.rel("allowed"), sub.rel("later")])
        reload(d, [sub.rel("allowed"), sub.rel("later")], [UID])
        r = gclient(d.socket, forbidden, comm="gremoved")
        check(r["errno"] == errno.EPERM, "connect from a cgroup removed on reload: %r" % r)
        wait_event(d, "guard_denied", lambda e: e.get("pid") == str(r["pid"]))
        check(gclient(d.socket, other, uid=UID)["errno"] == 0, "uid %d still listed" % UID)

        # Remove the uid.
        d.set_guard(allow_uids=[])
        reload(d, [sub.rel("allowed"), sub.rel("later")], [])
        r = gclient(d.socket, other, uid=UID)
        check(r["errno"] == errno.EPERM, "connect from a uid removed on reload: %r" % r)

        # Add both back.
        d.set_guard(allow_cgroups=[sub.rel("allowed"), sub.rel("forbidden")], allow_uids=[UID])
        reload(d, [sub.rel("allowed"), sub.rel("forbidden")], [UID])
        check(gclient(d.socket, forbidden)["errno"] == 0, "forbidden/ added back")
        check(gclient(d.socket, other, uid=UID)["errno"] == 0, "uid %d added back" % UID)

        # A broken guard section is refused and the list in force stays.
        good = dict(d.config["guard"])
        d.config["guard"] = dict(good, allow_uids="all")
        d.write_config()
        mark = reload(d)
        wait_event(d, "guard_reload_failed", start=mark)
        time.sleep(0.2)
        check(gclient(d.socket, forbidden)["errno"] == 0, "forbidden/ after a failed reload")
        info = d.guard_info()
        check(info["allow_uids"] == [UID] and info["allow_cgroups"] == good["allow_cgroups"],
              "after a failed reload: %r" % info)
        d.config["guard"] = good
        d.write_config()

        # Reloads while an allowed client keeps connecting: none of its connects may be refused.
        clients = [gclient(d.socket, sub.dir("allowed"), loop=10 ** 6, seconds=4, comm="greload%d" % i,
                           background=True) for i in range(2)]
        time.sleep(0.1)
        n = 0
        while any(p.poll() is None for p in clients):
            d.signal(signal.SIGHUP)
            n += 1
            time.sleep(0.005)
        results = [gclient_result(p) for p in clients]
        refused = sum(sum(r["errors"].values()) for r in results)
        total = refused + sum(r["ok"] for r in results)
        check(n >= 20, "only %d reloads happened while the clients were connecting" % n)
        check(refused == 0, "allowed clients were refused %d times in %d connects during %d reloads (%r): the "
              "kernel allow-list is emptied and refilled on reload" % (refused, total, n,
                                                                        [r["errors"] for r in results]))

if __name__ == "__main__":
    run_test(main)
