#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""guard.allow_cgroups / guard.allow_uids are re-read on SIGHUP: removing an entry refuses the
next connect from it (EPERM), adding it back admits it again, and `capbus guard` shows the new
list. A reload that fails (invalid guard section) keeps the list in force. An allowed client
that keeps connecting while the daemon reloads is never refused: a reload must not open a
window in which the allow-list is empty."""
import errno
import os
import signal
import time

from guardlib import (GuardDaemon, Subtree, check, gclient, gclient_result, require_guard_env, run_test_guard,
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
            GuardDaemon(sub, guard={"allow_cgroups": [sub.rel("allowed"), sub.rel("forbidden")],
                                    "allow_uids": [UID]}) as d:
        forbidden, other = sub.dir("forbidden"), sub.dir("other")
        check(gclient(d.socket, forbidden)["errno"] == 0, "forbidden/ is on the list at start")
        check(gclient(d.socket, other, uid=UID)["errno"] == 0, "uid %d is on the list at start" % UID)
        check(gclient(d.socket, other)["errno"] == errno.EPERM, "other/ as root is not on the list")

        # Remove the cgroup: the very next connect is refused.
        d.set_guard(allow_cgroups=[sub.rel("allowed")])
        reload(d, [sub.rel("allowed")], [UID])
        r = gclient(d.socket, forbidden, comm="gremoved")
        check(r["errno"] == errno.EPERM, "connect from a cgroup removed on reload: %r" % r)
        wait_event(d, "guard_denied", lambda e: e.get("pid") == str(r["pid"]))
        check(gclient(d.socket, other, uid=UID)["errno"] == 0, "uid %d still listed" % UID)

        # Remove the uid.
        d.set_guard(allow_uids=[])
        reload(d, [sub.rel("allowed")], [])
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
        p = gclient(d.socket, sub.dir("allowed"), loop=3000, comm="greloadloop", background=True)
        time.sleep(0.05)
        n = 0
        while p.poll() is None and n < 100:
            d.signal(signal.SIGHUP)
            n += 1
            time.sleep(0.02)
        res = gclient_result(p)
        check(n >= 5, "only %d reloads happened while the client was connecting" % n)
        check(not res["errors"], "an allowed client was refused %r times in %d connects during %d reloads "
              "(the allow-list is emptied and refilled on reload)" % (res["errors"], res["ok"] + sum(
                  res["errors"].values()), n))


if __name__ == "__main__":
    run_test_guard(main)
