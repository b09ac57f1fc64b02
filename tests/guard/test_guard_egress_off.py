#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A skill's sandbox.network allow-list is never dropped silently. With kernel_guard "auto" and
no unix-connect hook (simulated) the egress guard, which needs no such hook, still confines the
skill to its rule. With kernel_guard "off" the daemon attaches no egress guard: then the skill
must not reach an unlisted destination without a trace: acceptable outcomes are a refusal, the
skill not being started, or a warning naming the skill in the log."""
import errno
import os
import shutil

from capbus_harness import BUILD_DIR, GuardDaemon, Subtree, check, require_guard_env, run_test, skip
from test_guard_egress import Listener, collect, skill_manifest

ID = "org.test.netrule"


def run(sub, mode, l1, l2):
    guard = {"simulate_missing_hook": True} if mode == "auto" else {}
    d = GuardDaemon(sub, start=False, kernel_guard=mode, guard=guard)
    with d:
        os.chmod(d.dir, 0o755)
        sd = os.path.join(d.dir, "skills", ID)
        os.makedirs(sd)
        exe = os.path.join(sd, "netprobe")
        shutil.copy(os.path.join(BUILD_DIR, "tests", "guard", "netprobe"), exe)
        for p in (os.path.dirname(sd), sd, exe):
            os.chmod(p, 0o755)
        d.config["skills_dir"] = os.path.dirname(sd)
        if mode == "off":  # no guard at all: admin from anywhere by uid
            d.config["guard"] = dict(d.config["guard"], allow_uids=[0])
        d.write_config()
        # The rule names the host's loopback, which the skill reaches at the gateway of its own
        # namespace (slirp4netns maps 10.0.2.2 to 127.0.0.1).
        ok, other = "tcp4:10.0.2.2:%d" % l1.port, "tcp4:10.0.2.2:%d" % l2.port
        d.write_manifest(ID, skill_manifest(ID, exe, [ok, other], ["tcp:127.0.0.1:%d" % l1.port]))
        d.start()
        seen = collect(d, {(ID, ok), (ID, other)})
        r_ok, r_other = seen[(ID, ok)], seen[(ID, other)]
        print("%s: %s -> %s %s; %s -> %s %s" % (mode, ok, r_ok["step"], r_ok["errname"], other, r_other["step"],
                                                  r_other["errname"]))
        check(r_ok["errno"] == 0, "%s: the listed destination: %r" % (mode, r_ok))
        if mode == "auto":
            check(r_other["errno"] == errno.EPERM, "auto without the hook: unlisted destination %r" % r_other)
            return
        warned = [l for l in d.log().splitlines() if "level=warning" in l and ID in l and "egress" in l]
        check(r_other["errno"] == errno.EPERM or warned,
              "kernel_guard=off: the skill reached a destination its manifest does not list (%s) and nothing "
              "was logged about its network rules not being enforced" % other)


def main():
    require_guard_env()
    if not os.access("/usr/bin/slirp4netns", os.X_OK):  # the networked skill's way out
        skip("slirp4netns is not installed (scripts/install-deps)")
    l1, l2 = Listener("127.0.0.1"), Listener("127.0.0.1")
    try:
        for mode in ("auto", "off"):
            with Subtree("egoff-" + mode) as sub:
                run(sub, mode, l1, l2)
    finally:
        l1.close()
        l2.close()


if __name__ == "__main__":
    run_test(main)
