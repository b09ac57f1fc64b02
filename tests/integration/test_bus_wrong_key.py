#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A wrong key or an unknown identity exits 2 with a message; the daemon keeps serving others."""
import os

from capbus_harness import Daemon, check, manifest, run_test


def write_key(path, ident, secret):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# capbus key: keep private (mode 0600)\nid %s\nsecret %s\n" % (ident, secret.hex()))
    return path


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], []),
                 "bob": manifest("bob", [], ["greet.*"])}) as d:
        ka = d.keygen("alice")
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        forged = write_key(os.path.join(d.keys_dir, "forged.key"), "alice", os.urandom(32))
        unknown = write_key(os.path.join(d.keys_dir, "unknown.key"), "nobody", os.urandom(32))
        admin_forged = write_key(os.path.join(d.keys_dir, "admin-forged.key"), "admin", os.urandom(32))
        before = d.stats()["auth_failed"]
        for k in (forged, unknown, admin_forged):
            cp = d.cli("send", "greet.hello", "{}", key=k)
            check(cp.returncode == 2, "%s: exit %d, want 2 (%r)" % (os.path.basename(k), cp.returncode, cp.stderr))
            check("authentication failed" in cp.stderr and cp.stderr.count("\n") == 1,
                  "stderr should say authentication failed in one line: %r" % cp.stderr)
        # A key for the right id from another daemon's master is just as wrong.
        with Daemon({"alice": manifest("alice", ["greet.*"], [])}) as other:
            other_key = other.keygen("alice", os.path.join(d.keys_dir, "other.key"))
        cp = d.cli("send", "greet.hello", "{}", key=other_key)
        check(cp.returncode == 2, "key from another daemon: exit %d, want 2" % cp.returncode)
        check(d.alive(), "daemon died after bad logins")
        check(d.stats()["auth_failed"] == before + 4, "auth_failed did not count 4 failures")
        check("event=auth_failed" in d.log(), "no auth_failed log line")
        # Everyone else is unaffected: the connected listener and new clients.
        cp = d.cli("send", "greet.after", '{"ok": 1}', key=ka)
        check(cp.returncode == 0, "good client refused after bad logins: %r" % cp.stderr)
        m = bob.recv_message(5)
        check(m["type"] == "greet.after" and m["context"]["sender"] == "alice", "bob got %r" % m)
        bob.ping()


if __name__ == "__main__":
    run_test(main)
