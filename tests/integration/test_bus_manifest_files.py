#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Manifests on disk are trusted only when nobody else could have written them, and only for their own id."""
import os
import signal

from capbus_harness import Daemon, check, manifest, run_test


def can_login(d, ident):
    return d.admin("keygen", ident, "--out", os.path.join(d.keys_dir, ident + ".key")).returncode == 0 and \
        d.cli("send", "x.y", "{}", key=os.path.join(d.keys_dir, ident + ".key")).returncode in (0, 3)


def main():
    with Daemon({"good": manifest("good", ["x.*"], [])}) as d:
        # World-writable manifest: anyone could have granted themselves anything.
        p = d.write_manifest("loose", manifest("loose", ["x.*"], []))
        os.chmod(p, 0o666)
        # A symlink pointing at a manifest elsewhere.
        target = os.path.join(d.dir, "elsewhere.json")
        with open(target, "w") as f:
            f.write('{"manifest_version": 1, "id": "linked", "bus": {"send": ["x.*"], "receive": []}}')
        os.symlink(target, os.path.join(d.manifest_dir, "linked.json"))
        # A file whose name and id disagree, and one that claims the admin identity.
        d.write_manifest("renamed", manifest("other", ["x.*"], []))
        d.write_manifest("admin", manifest("admin", ["x.*"], ["*"]))
        mark = len(d.log())
        d.signal(signal.SIGHUP)
        d.wait_log("event=policy_loaded generation=2", 5, start=mark)
        check(can_login(d, "good"), "a properly installed identity cannot log in")
        for ident in ("loose", "linked", "renamed", "other"):
            check(not can_login(d, ident), "identity %r from an untrusted or mismatched manifest file is live" % ident)
        admin = d.client("admin", key_path=d.admin_key)
        admin.ping()
        log = d.log()[mark:]
        check("loose" in log, "the world-writable manifest was ignored silently (no log line)")
        # A manifest dir writable by others is not trusted at all.
        os.chmod(d.manifest_dir, 0o777)
        mark = len(d.log())
        d.signal(signal.SIGHUP)
        d.wait_log("manifest_dir_unusable", 5, start=mark)
        check(not can_login(d, "good"), "identities loaded from a world-writable manifest dir")
        os.chmod(d.manifest_dir, 0o755)
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
