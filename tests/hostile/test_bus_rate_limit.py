#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""limits.msg_rate and the daemon's byte_rate bound what a flooding client gets through."""
import time

from capbus_harness import Daemon, check, manifest, run_test

RATE = 50
BYTE_RATE = 8192  # max_frame must stay below it (capbusd refuses the config otherwise)


def flood(d, sender, receiver, n, data):
    start = time.monotonic()
    for i in range(n):
        sender.send("greet.f", dict(data, i=i))
    # Bus requests are charged too, and error frames are capped: retry the ping until tokens are back.
    deadline = start + 20
    while True:
        try:
            if sender.request("capbus.ping", timeout=0.5)["type"] == "capbus.ping.reply":
                break
        except TimeoutError:
            pass
        check(time.monotonic() < deadline, "the flooder never got a ping through")
    elapsed = time.monotonic() - start
    got = [m for m in receiver.drain(0.3) if m["type"] == "greet.f"]
    errors = [m for m in sender.drain(0.1) if m["type"] == "bus.error"]
    return got, errors, elapsed


def main():
    limits = {"msg_rate": RATE}
    with Daemon({"alice": manifest("alice", ["greet.*"], [], limits=limits),
                 "carol": manifest("carol", ["greet.*"], [], limits={"msg_rate": 100000}),
                 "bob": manifest("bob", [], ["greet.*"])}, byte_rate=BYTE_RATE, max_frame=4096) as d:
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        alice = d.client("alice")
        got, errors, elapsed = flood(d, alice, bob, 1000, {})
        bound = RATE * elapsed + RATE
        print("msg_rate: %d of 1000 delivered in %.2fs (bound %.0f), %d errors" % (len(got), elapsed, bound, len(errors)))
        check(len(got) <= bound, "%d messages got through in %.2fs, more than %.0f" % (len(got), elapsed, bound))
        check(len(got) >= RATE, "the one-second burst was not honoured (%d delivered)" % len(got))
        check(any(e["data"]["code"] == "rate_limited" for e in errors), "no rate_limited error reached the flooder")
        check(len(errors) <= 50 * (elapsed + 1) + 1, "%d error frames: the error budget is not enforced" % len(errors))
        check([m["data"]["i"] for m in got] == sorted(m["data"]["i"] for m in got), "delivery out of order")
        check(d.stats()["rate_limited"] >= 1000 - len(got), "rate_limited counter too low")
        # Per-connection byte quota: 1 KiB bodies against 8 KiB/s.
        carol = d.client("carol")
        got, errors, elapsed = flood(d, carol, bob, 200, {"pad": "x" * 1000})
        nbytes = sum(len(m["data"]["pad"]) for m in got)
        bound = BYTE_RATE * elapsed + BYTE_RATE
        print("byte_rate: %d bytes delivered in %.2fs (bound %.0f)" % (nbytes, elapsed, bound))
        check(nbytes <= bound, "%d bytes got through in %.2fs, more than %.0f" % (nbytes, elapsed, bound))
        check(any(e["data"]["code"] == "quota" for e in errors), "no quota error reached the flooder")
        # Rate limits are per identity: another client is unaffected.
        bob2 = d.client("bob")
        bob2.ping()
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
