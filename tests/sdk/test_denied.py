#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Refusals reach the SDK as exceptions: a denied send on sync(), a subscription beyond the
manifest from on(), a forbidden call from wait_for_response(); the connection stays usable."""
from capbus_harness import Daemon, check, manifest, run_test, run_until

from capbus import Bus, BusError, DeniedError, Message


def expect_denied(fn, what):
    try:
        fn()
    except DeniedError as e:
        check(e.code == "denied" and isinstance(e, BusError), "%s: wrong error %r" % (what, e))
        return e
    raise AssertionError("%s was not refused" % what)


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["reply.*", "news.sport"]),
                 "bob": manifest("bob", ["greet.*", "reply.*", "news.*"], ["greet.*"]),
                 "carol": manifest("carol", [], ["speak"])}) as d:
        with Bus(d.socket, d.keygen("alice")) as bus, Bus(d.socket, d.keygen("bob")) as bob:
            # A denied send: emit() returns, sync() raises, the type is named.
            bus.send("weather.secret", {"x": 1})
            e = expect_denied(bus.sync, "send weather.secret")
            check(e.type == "weather.secret", "the refusal names %r" % e.type)
            bus.sync()  # raised once, then cleared
            heard = []
            bob.on("greet.*", heard.append)
            bus.send("greet.ok")
            bus.sync()
            run_until(bob, lambda: heard, what="greet.ok after a refusal")
            check(heard[0].sender == "alice", "sender %r" % heard[0].sender)

            # Subscriptions beyond the manifest: exact, prefix, everything.
            for pattern in ("speak", "news.*", "*", "greet.*"):
                expect_denied(lambda: bus.on(pattern, print), "subscribe %s" % pattern)
            got = []
            bus.on("news.sport", got.append)  # within the manifest
            bob.send("news.weather", {"n": 1})  # alice did not subscribe: never delivered
            bob.send("news.sport", {"n": 2})
            bob.sync()
            run_until(bus, lambda: got, what="news.sport")
            check([m.data for m in got] == [{"n": 2}], "alice got %r" % [m.data for m in got])

            # wait_for_response: the reply type must be receivable, the request sendable.
            expect_denied(lambda: bus.wait_for_response(Message("greet.q"), "speak", timeout=2),
                          "call with a reply outside the manifest")
            expect_denied(lambda: bus.wait_for_response(Message("weather.q"), "reply.x", timeout=2),
                          "call with a request outside the manifest")

            # Refusals handed to on_error from run() are not raised again by sync().
            seen = []
            bus.on_error(seen.append)
            bus.send("weather.again")
            run_until(bus, lambda: seen, what="the refusal in on_error")
            check(isinstance(seen[0], DeniedError) and seen[0].type == "weather.again", "on_error got %r" % seen)
            bus.sync()

            # A revoked grant drops the subscription: BusError "revoked" naming it, then on()
            # asks again and is refused.
            with Bus(d.socket, d.keygen("carol")) as carol:
                check(d.admin("grant", "carol", "speak").returncode == 0, "grant carol speak")
                carol.on("speak", print)
                check(d.admin("revoke", "carol", "speak").returncode == 0, "revoke carol speak")
                try:
                    carol.sync()
                    raise AssertionError("no refusal after the revoke")
                except BusError as e:
                    check(e.code == "revoked" and e.type == "speak", "after revoke: %r" % e)
                expect_denied(lambda: carol.on("speak", print), "subscribe after revoke")

            # Invalid input never reaches the daemon.
            for bad in ("a*b", "", "*", "a\tb", "a\u200bb"):
                try:
                    bus.send(bad)
                    raise AssertionError("send(%r) was accepted" % bad)
                except ValueError:
                    pass
            bus.sync()
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
