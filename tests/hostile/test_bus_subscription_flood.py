#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Subscriptions and bus requests are bounded: a client cannot grow the router without limit."""
from capbus_harness import Daemon, check, manifest, run_test, wait_for


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"], limits={"msg_rate": 100000})},
                byte_rate=1 << 30) as d:
        warm = d.client("alice")
        for i in range(1100):
            warm.send("capbus.subscribe", {"pattern": "greet.w%d" % i, "request": i})
        warm.ping(timeout=20)
        warm.close()
        wait_for(lambda: d.stats()["connections"] == 1, what="warm-up client to go")
        base_rss = d.rss_kb()
        for round_ in range(3):
            c = d.client("alice")
            n = 3000
            for i in range(n):
                c.send("capbus.subscribe", {"pattern": "greet.p%d.*" % i, "request": i})
            c.ping(timeout=20)
            answers = c.drain(0.2)
            ok = sum(1 for m in answers if m["type"] == "capbus.subscribe.reply")
            quota = [m for m in answers if m["type"] == "bus.error" and m["data"]["code"] == "quota"]
            check(ok <= 1024, "%d subscriptions accepted on one connection" % ok)
            check(quota, "no quota error for too many subscriptions")
            # Still works; unsubscribe frees a slot.
            r = c.request("capbus.unsubscribe", {"pattern": "greet.p0.*"})
            check(r["type"] == "capbus.unsubscribe.reply", "unsubscribe answered %r" % r)
            check(c.subscribe("greet.again")["type"] == "capbus.subscribe.reply", "freed slot not reusable")
            c.close()
            wait_for(lambda: d.stats()["connections"] == 1, what="client %d to go" % round_)
        rss = d.rss_kb()
        slack = 65536 if "router_seccomp_skipped" in d.log() else 2048
        check(rss <= base_rss + slack, "RSS grew from %d to %d kB over subscribe floods" % (base_rss, rss))
        # Unknown bus requests are refused, not accumulated.
        c = d.client("alice")
        r = c.request("capbus.nosuch", {})
        check(r["type"] == "bus.error", "unknown bus request answered %r" % r)
        print("rss %d -> %d kB" % (base_rss, rss))


if __name__ == "__main__":
    run_test(main)
