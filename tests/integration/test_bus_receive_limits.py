#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A client cannot subscribe beyond its manifest and never receives a type it may not."""
from capbus_harness import Daemon, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", [], ["greet.hello"]),
                 "bob": manifest("bob", ["greet.*", "other"], ["greet.*"])}) as d:
        ka = d.keygen("alice")
        cp = d.cli("listen", "secret.*", "--count", "1", "--timeout", "2", key=ka)
        check(cp.returncode == 3, "listen beyond manifest exited %d, want 3 (%r)" % (cp.returncode, cp.stderr))
        cp = d.cli("listen", "*", "--count", "1", "--timeout", "2", key=ka)
        check(cp.returncode == 3, "listen * exited %d, want 3 (%r)" % (cp.returncode, cp.stderr))

        alice = d.client("alice")
        for p in ("*", "greet.*", "greet.hello.*", "other", "capbus.*", "bus.*"):
            r = alice.subscribe(p)
            check(r["type"] == "bus.error" and r["data"]["code"] in ("denied", "invalid"),
                  "subscribe %r answered %r" % (p, r))
        for p in ("greet.", "gr*", "**", "", "greet.*.x"):
            r = alice.subscribe(p)
            check(r["type"] == "bus.error", "invalid pattern %r accepted: %r" % (p, r))
        check(alice.subscribe("greet.hello")["type"] == "capbus.subscribe.reply", "allowed subscribe refused")

        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        for t in ("greet.secret", "greet.hello.more", "greet.hellox", "other", "greet.hello"):
            bob.send(t, {"t": t})
        bob.ping()
        got = [m["type"] for m in alice.drain(0.3)]
        check(got == ["greet.hello"], "alice received %r, want only greet.hello" % got)
        got = [m["type"] for m in bob.drain(0.3)]
        check(got == ["greet.secret", "greet.hello.more", "greet.hellox", "greet.hello"],
              "bob (subscribed to his own types) received %r" % got)
        check(d.stats()["denied_subscribe"] >= 3, "denied_subscribe counter did not move")


if __name__ == "__main__":
    run_test(main)
