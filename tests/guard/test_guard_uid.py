#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A uid on guard.allow_uids connects from a forbidden cgroup and authenticates with its own key
(capbus send exits 0); another uid, and root (not on the list here), are refused there."""
import errno
import os
import shutil
import tempfile

from capbus_harness import (GuardDaemon, Subtree, check, gclient, manifest, require_guard_env, run_test,
                            wait_event)

LISTED = 4242
UNLISTED = 4243


def main():
    require_guard_env()
    keydir = tempfile.mkdtemp(prefix="capbus-guard-keys.")
    try:
        os.chmod(keydir, 0o755)
        with Subtree("uid") as sub, \
                GuardDaemon(sub, {"byuid": manifest("byuid", ["guard.*"])}, guard={"allow_uids": [LISTED]}) as d:
            forbidden = sub.dir("forbidden")
            r = gclient(d.socket, forbidden, uid=LISTED, comm="glisted")
            check(r["errno"] == 0 and r["hello"], "uid %d from the forbidden cgroup: %r" % (LISTED, r))
            r = gclient(d.socket, forbidden, uid=UNLISTED, comm="gunlisted")
            check(r["errno"] == errno.EPERM, "uid %d from the forbidden cgroup: %r" % (UNLISTED, r))
            ev = wait_event(d, "guard_denied", lambda e: e.get("pid") == str(r["pid"]))
            check(ev.get("uid") == str(UNLISTED) and ev.get("comm") == "gunlisted", "denial: %s" % ev["_line"])
            r = gclient(d.socket, forbidden, comm="groot")
            check(r["errno"] == errno.EPERM, "root (not listed) from the forbidden cgroup: %r" % r)

            # Authenticated, with a key file only that uid can read.
            key = d.keygen("byuid", os.path.join(keydir, "byuid.key"))
            os.chown(key, LISTED, LISTED)
            os.chmod(key, 0o600)
            cp = d.cli("send", "guard.byuid", "{}", key=key, cgroup=forbidden, uid=LISTED)
            check(cp.returncode == 0, "capbus send as uid %d from the forbidden cgroup exited %d: %s" %
                  (LISTED, cp.returncode, cp.stderr))
            c = d.guard_info()["counters"]
            check(c["allowed_uid"] >= 2, "allowed_uid counter: %r" % c)
            check(c["peer_denied"] == 0, "the peer check refused the listed uid: %r" % c)
    finally:
        shutil.rmtree(keydir, ignore_errors=True)


if __name__ == "__main__":
    run_test(main)
