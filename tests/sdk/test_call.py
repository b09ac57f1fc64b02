#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""wait_for_response between two SDK clients: default reply type, replies bound to the call by the
daemon (an unbound message of the reply type is never taken for the reply), timeouts answered by
the daemon, and messages that arrive during the wait are dispatched afterwards."""
from capbus_harness import Daemon, Running, check, manifest, run_test, run_until

from capbus import Bus, Message, TimeoutError


def main():
    with Daemon({"asker": manifest("asker", ["calc.*"], ["calc.add.response", "calc.slow.response", "news.*"]),
                 "adder": manifest("adder", ["calc.*", "news.*"], ["calc.*"])}) as d:
        with Bus(d.socket, d.keygen("asker")) as asker, Bus(d.socket, d.keygen("adder")) as calc:
            def add(m):
                if m.data.get("decoy"):
                    # An unbound message of the reply type first (no call_id: what a forged or
                    # stray reply is): the daemon routes it to subscribers, the call ignores it.
                    # (With the calls bound by the daemon, a reply carrying another call_id is no
                    # longer a reply at all but a call of its own, so it is no decoy.)
                    calc.send("calc.add.response", {"sum": -1}, {"session": m.context.get("session")})
                calc.send("news.flash", {"during": True})  # arrives while the asker waits
                calc.emit(m.response({"sum": m.data["a"] + m.data["b"]}))

            def slow(m):
                pass  # never answers

            calc.on("calc.add", add)
            calc.on("calc.slow", slow)
            news, first, stray = [], [], []
            asker.on("news.*", news.append)
            asker.on("calc.add.response", stray.append)  # sees only what is not bound to a call
            asker.once("news.flash", first.append)

            with Running(calc):
                r = asker.wait_for_response(Message("calc.add", {"a": 2, "b": 3}, {"session": "s1"}))
                check(r is not None, "no reply")
                check(r.type == "calc.add.response" and r.data == {"sum": 5}, "reply %r" % r)
                check(r.sender == "adder" and r.context.get("session") == "s1", "reply context %r" % r.context)
                check(len(r.context.get("call_id", "")) == 16, "no call_id in %r" % r.context)
                check(r.context.get("bound_call") == r.context["call_id"], "reply not bound: %r" % r.context)

                r = asker.wait_for_response(Message("calc.add", {"a": 1, "b": 1, "decoy": True}), timeout=5)
                check(r is not None and r.data == {"sum": 2}, "the decoy was taken: %r" % r)

                # An explicit reply type, and call() with the same contract.
                r = asker.call(Message("calc.add", {"a": 20, "b": 22}), "calc.add.response", timeout=5)
                check(r.data == {"sum": 42}, "call() reply %r" % r)

                calc.sync()  # from this thread while another one is in calc.run_forever()

                check(asker.wait_for_response(Message("calc.slow"), timeout=0.5) is None,
                      "a reply to calc.slow appeared")
                try:
                    asker.call(Message("calc.slow"), timeout=0.3)
                    raise AssertionError("call() did not time out")
                except TimeoutError:
                    pass

            # news.flash arrived during the waits: each reached the handlers once, and once()
            # took the first of them.
            run_until(asker, lambda: len(news) >= 3, what="the news.flash messages")
            check(all(m.type == "news.flash" and m.sender == "adder" for m in news), "news %r" % news)
            check(len(first) == 1 and any(first[0] is m for m in news), "once() handler called %d times" % len(first))
            run_until(asker, lambda: len(stray) >= 1, what="the unbound calc.add.response")
            check(len(stray) == 1 and stray[0].data == {"sum": -1} and "bound_call" not in stray[0].context,
                  "unbound replies seen by the handler: %r" % stray)
            check(asker.run(0.3) == 0, "more messages than expected")
            asker.sync()
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
