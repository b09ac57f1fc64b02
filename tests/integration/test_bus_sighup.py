#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SIGHUP re-reads manifests from disk: a new permission works without a restart."""
import signal

from capbus_harness import Daemon, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], []),
                 "bob": manifest("bob", [], ["greet.*"])}) as d:
        bob = d.client("bob")
        check(bob.subscribe("news.*")["type"] == "bus.error", "subscribe beyond manifest accepted")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        alice = d.client("alice")
        alice.send("news.today", {})
        check(alice.recv_message(5)["data"]["code"] == "denied", "send beyond manifest accepted")

        d.write_manifest("alice", manifest("alice", ["greet.*", "news.*"], []))
        d.write_manifest("bob", manifest("bob", [], ["news.*"]))
        mark = len(d.log())
        d.signal(signal.SIGHUP)
        d.wait_log("event=policy_loaded generation=2", 5, start=mark)
        # bob's greet.* subscription is no longer allowed: dropped and reported.
        e = bob.recv_message(5)
        check(e["type"] == "bus.error" and e["data"]["code"] == "revoked" and e["data"]["type"] == "greet.*",
              "bob was not told his greet.* subscription was dropped: %r" % e)
        check(bob.subscribe("news.*")["type"] == "capbus.subscribe.reply", "new receive permission not in force")
        alice.send("news.today", {"n": 1})
        alice.send("greet.hi", {})
        alice.ping()
        check([m["type"] for m in alice.drain(0.2)] == [], "alice's sends were refused after reload")
        got = bob.drain(0.3)
        check([m["type"] for m in got] == ["news.today"], "bob received %r" % got)
        # A broken manifest on reload is reported and does not take the bus down.
        d.write_manifest("bob", "{ not json")
        d.signal(signal.SIGHUP)
        d.wait_log("manifest_invalid", 5, start=mark)
        check(d.alive(), "daemon died on a broken manifest")
        d.client("alice").ping()


if __name__ == "__main__":
    run_test(main)
