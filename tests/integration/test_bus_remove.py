#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbus remove ID closes that identity's live connections and refuses new ones."""
from capbus_harness import Daemon, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"]),
                 "bob": manifest("bob", ["greet.*"], ["greet.*"])}) as d:
        ka = d.keygen("alice")
        alice = d.client("alice")
        check(alice.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        cp = d.admin("remove", "alice")
        check(cp.returncode == 0, "remove failed (%d): %s" % (cp.returncode, cp.stderr))
        e = alice.recv_message(5)
        check(e["type"] == "bus.error" and e["data"]["code"] == "revoked", "alice was told %r" % e)
        check(alice.wait_closed(3), "removed identity's connection stays open")
        cp = d.cli("send", "greet.x", "{}", key=ka)
        check(cp.returncode == 2, "removed identity could still log in (exit %d)" % cp.returncode)
        bob.send("greet.ok", {})
        check(bob.recv_message(5)["type"] == "greet.ok", "bob stopped working")
        check(d.admin("remove", "alice").returncode != 0, "removing an unknown id succeeded")
        check(d.admin("remove", "admin").returncode != 0, "the admin identity was removed")
        d.client("admin", key_path=d.admin_key).ping()


if __name__ == "__main__":
    run_test(main)
