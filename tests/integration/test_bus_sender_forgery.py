#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""context.sender is stamped by the daemon: a client cannot claim to be someone else."""
import json

from capbus_harness import Daemon, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], []),
                 "bob": manifest("bob", [], ["greet.*"])}) as d:
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        alice = d.client("alice")
        for i, ctx in enumerate([{"sender": "admin"}, {"sender": "bob", "session": "x"}, {"sender": 7},
                                 {"sender": None}, {"sender": {"id": "admin"}}, {}]):
            alice.send("greet.f%d" % i, {"i": i}, ctx)
        alice.send_body(b'{"type":"greet.nocontext","data":{}}')
        # A duplicate sender key must not let a second value win somewhere down the line.
        alice.send_body(b'{"type":"greet.dup","data":{},"context":{"sender":"admin","sender":"admin"}}')
        alice.ping()
        got = bob.drain(0.3)
        types = [m["type"] for m in got]
        check(types == ["greet.f%d" % i for i in range(6)] + ["greet.nocontext"], "bob received %r" % types)
        for m in got:
            check(m["context"].get("sender") == "alice", "forged sender delivered: %s" % json.dumps(m))
        check(got[1]["context"].get("session") == "x", "other context keys should pass unchanged: %r" % got[1])
        errors = [m for m in alice.drain(0.2) if m["type"] == "bus.error"]
        check(any(e["data"]["code"] == "malformed" for e in errors),
              "duplicate context.sender was not refused as malformed: %r" % errors)


if __name__ == "__main__":
    run_test(main)
