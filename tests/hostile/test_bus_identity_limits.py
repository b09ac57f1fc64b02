#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Per-identity caps: one identity cannot take the bus's connections or the router's memory.

1. max_identity_connections: the fifth connection of an identity capped at four completes the
   handshake, gets a `quota` error and is closed; its four others and other identities keep
   working, and a slot freed by a hang-up is usable again.
2. Subscriptions by count: per connection (max_subscriptions) and over all connections of the
   identity (max_identity_subscriptions), exactly; unsubscribing or hanging up gives them back.
3. Subscriptions by bytes: long patterns hit max_subscription_bytes and
   max_identity_subscription_bytes before the count limits.
4. With the defaults, 40 connections of one identity subscribing 1,024 long patterns each get
   4,096 subscriptions in all, and the router's RSS (/proc/<router>/status) stays bounded.
Every refusal is counted (refused_identity_connections, refused_subscriptions) and logged.
"""
import time

from capbus_harness import Daemon, Closed, check, manifest, proc_status, run_test, wait_for

FAST = {"msg_rate": 100000}


def subscribe_many(c, patterns):
    """Sends every subscription, then counts the accepted ones and collects the refusals."""
    for i, p in enumerate(patterns):
        c.send("capbus.subscribe", {"pattern": p, "request": 1000000 + i})
    c.ping(timeout=30)
    answers = c.drain(0.2)
    ok = sum(1 for m in answers if m["type"] == "capbus.subscribe.reply")
    refused = [m for m in answers if m["type"] == "bus.error"]
    return ok, refused


def identity_connections():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"]), "bob": manifest("bob", ["greet.*"], [])},
                max_identity_connections=4) as d:
        alices = [d.client("alice") for _ in range(4)]
        for a in alices:
            a.ping()
        extra = d.client("alice")  # the handshake itself completes: the refusal is authenticated
        m = extra.recv_message(5)
        check(m["type"] == "bus.error" and m["data"]["code"] == "quota"
              and "max_identity_connections" in m["data"]["message"], "fifth connection answered %r" % m)
        try:
            extra.ping(timeout=5)
            check(False, "the fifth connection of alice still works")
        except (Closed, OSError):
            pass
        for a in alices:
            a.ping()
        d.client("bob").ping()
        st = d.stats()
        check(st["refused_identity_connections"] == 1, "refused_identity_connections %r, want 1"
              % st["refused_identity_connections"])
        check("event=connection_refused reason=identity_connections id=\"alice\"" in d.log(),
              "no connection_refused reason=identity_connections line")
        alices.pop().close()

        def again():
            try:
                c = d.client("alice")
                c.ping(timeout=2)
                return c
            except (Closed, OSError):
                return None
        again()  # (a refused attempt is fine: the router may not have read the hang-up yet)
        wait_for(again, 5, interval=0.05, what="a new alice connection after one went away")


def subscription_counts():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"], limits=FAST)}, byte_rate=1 << 30,
                max_subscriptions=1000, max_identity_subscriptions=2500) as d:
        conns = [d.client("alice") for _ in range(4)]
        got = []
        for n, c in enumerate(conns):
            if n == 2:
                time.sleep(1.1)  # a fresh second of the log's rate limit for the identity's refusals
            ok, refused = subscribe_many(c, ["greet.c%d.p%d.*" % (n, i) for i in range(1200)])
            got.append(ok)
            check(all(m["data"]["code"] == "quota" for m in refused), "refusals other than quota: %r" % refused[:2])
            if n == 0:
                check(refused and "max_subscriptions" in refused[0]["data"]["message"],
                      "the per-connection limit did not say its name: %r" % refused[:1])
            if n == 3:
                check(refused and "max_identity_subscriptions" in refused[0]["data"]["message"],
                      "the identity limit did not say its name: %r" % refused[:1])
        check(got == [1000, 1000, 500, 0], "accepted per connection %r, want [1000, 1000, 500, 0]" % got)
        # Unsubscribing gives one back to the identity.
        r = conns[0].request("capbus.unsubscribe", {"pattern": "greet.c0.p0.*"})
        check(r["type"] == "capbus.unsubscribe.reply", "unsubscribe answered %r" % r)
        check(conns[3].subscribe("greet.back")["type"] == "capbus.subscribe.reply", "the freed slot is not usable")
        check(conns[3].subscribe("greet.back2")["type"] == "bus.error", "one more than the identity's limit taken")
        # Hanging up gives back all of that connection's.
        conns[1].close()
        wait_for(lambda: d.stats()["connections"] == 4, what="the closed connection to go")
        ok, _ = subscribe_many(conns[3], ["greet.d.p%d" % i for i in range(1200)])
        check(ok == 999, "after a hang-up freed 1000, %d more were accepted (want 999: one is greet.back)" % ok)
        st = d.stats()
        check(st["refused_subscriptions"] == 200 + 200 + 700 + 1200 + 1 + 201,
              "refused_subscriptions %d" % st["refused_subscriptions"])
        log = d.log()
        check("event=subscription_refused reason=connection_limit" in log, "no connection_limit log line")
        check("event=subscription_refused reason=identity_limit" in log, "no identity_limit log line")
        check(log.count("event=subscription_refused") <= 100, "subscription_refused is not rate-limited")


def subscription_bytes():
    # A 200-byte pattern is accounted as 200 + 256 bytes: 20 fit in 10,000 bytes, 50 in 25,000.
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"], limits=FAST)}, byte_rate=1 << 30,
                max_subscription_bytes=10000, max_identity_subscription_bytes=25000) as d:
        long_ = lambda n, i: "greet.%s.*" % (("c%d.p%d." % (n, i)).ljust(192, "x"))  # noqa: E731
        check(len(long_(0, 0)) == 200, "pattern length %d" % len(long_(0, 0)))
        conns = [d.client("alice") for _ in range(3)]
        got = [subscribe_many(c, [long_(n, i) for i in range(100)])[0] for n, c in enumerate(conns)]
        check(got == [21, 21, 12], "accepted per connection %r, want [21, 21, 12]" % got)
        # Short patterns still fit where long ones do not.
        ok, _ = subscribe_many(conns[2], ["greet.s%d" % i for i in range(10)])
        check(ok == 1, "%d short patterns accepted in the identity's last 376 bytes, want 1" % ok)


def subscription_memory():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"], limits=FAST)}, byte_rate=1 << 30) as d:
        d.client("alice").ping()
        router = d.router_pid()
        rss = lambda: int(proc_status(router)["VmRSS"].split()[0])  # noqa: E731
        base = rss()
        conns, total = [], 0
        for n in range(40):
            c = d.client("alice")
            conns.append(c)
            ok, refused = subscribe_many(c, ["greet.%d.%s.*" % (n, ("%d" % i).rjust(180, "p")) for i in range(1024)])
            total += ok
        grown = rss() - base
        check(total == 4096, "one identity holds %d subscriptions over 40 connections, want 4096" % total)
        # 4,096 subscriptions of ~200 bytes take a few MB; the 40,960 asked for would take tens.
        # A sanitizer build keeps freed memory in quarantine: its RSS says nothing about this.
        if "router_seccomp_skipped" not in d.log():
            check(grown <= 12288, "router RSS grew by %d kB for one identity's subscriptions" % grown)
        check(d.stats()["refused_subscriptions"] == 40 * 1024 - 4096, "refused_subscriptions miscounted")
        print("router RSS %d -> %d kB for 4096 subscriptions (40960 asked for)" % (base, base + grown))


def main():
    identity_connections()
    subscription_counts()
    subscription_bytes()
    subscription_memory()


if __name__ == "__main__":
    run_test(main)
