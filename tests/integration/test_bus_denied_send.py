#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A send outside the manifest exits 3, is counted, and reaches no permitted listener."""
from capbus_harness import Daemon, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], []),
                 "carol": manifest("carol", [], ["secret.*", "greet.*"]),
                 "dave": manifest("dave", ["secret.ok"], [])}) as d:
        ka = d.keygen("alice")
        carol = d.client("carol")
        for p in ("secret.*", "greet.*"):
            check(carol.subscribe(p)["type"] == "capbus.subscribe.reply", "carol could not subscribe to " + p)
        before = d.stats()["denied_send"]

        cp = d.cli("send", "secret.plan", '{"x": 1}', key=ka)
        check(cp.returncode == 3, "denied send exited %d, want 3 (stderr %r)" % (cp.returncode, cp.stderr))
        check("denied" in cp.stderr and cp.stderr.count("\n") == 1, "stderr should be one line: %r" % cp.stderr)

        # The same denial on the wire: a bus.error naming the type, the connection kept.
        alice = d.client("alice")
        alice.send("secret.raw", {"x": 2})
        e = alice.recv_message(5)
        check(e["type"] == "bus.error" and e["data"]["code"] == "denied" and e["data"].get("type") == "secret.raw",
              "raw denied send answered %r" % e)
        alice.ping()
        alice.send("capbus.keygen", {"id": "mallory", "request": 7})
        e = alice.recv_message(5)
        check(e["type"] == "bus.error" and e["data"]["code"] == "denied", "non-admin keygen answered %r" % e)

        # A permitted message sent afterwards arrives; nothing denied came before it.
        dave = d.client("dave")
        dave.send("secret.ok", {"fine": True})
        dave.ping()
        m = carol.recv_message(5)
        check(m["type"] == "secret.ok" and m["context"]["sender"] == "dave",
              "carol's first message is %r, want dave's secret.ok" % m)
        rest = carol.drain(0.3)
        check(rest == [], "carol received more: %r" % rest)
        after = d.stats()["denied_send"]
        check(after >= before + 3, "denied_send went %d -> %d, want +3" % (before, after))
        check("event=denied_send" in d.log(), "no denied_send log line")


if __name__ == "__main__":
    run_test(main)
