#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Calls are bound to their caller, as D-Bus method returns are: the receivers see the router's
call id, never the caller's; a reply counts only from a connection the request reached, only
once, and only the caller gets it (marked context.bound_call); a client cannot write
bound_call itself; the router answers the caller itself on timeout and when nobody can answer;
and one identity's pending calls are limited. A reply the router cannot pass on (too large once
bound, or its caller may no longer receive it) is never silent, and a too-large call is refused
too_large, not no_responder."""
import socket

from capbus_harness import Daemon, check, manifest, run_test


def until(client, pred, timeout=3.0, what="a message"):
    """The first message matching pred (others are dropped), or fail."""
    try:
        while True:
            m = client.recv_message(timeout)
            if pred(m):
                return m
    except socket.timeout:
        raise AssertionError("timed out waiting for %s" % what) from None


def quiet(client, what, timeout=0.4):
    got = client.drain(timeout)
    check(got == [], "%s received %r" % (what, got[:3]))


def bound(m, call_id):
    return m.get("context", {}).get("bound_call") == call_id


HARD = 16 * 1024 * 1024


def sized(head, tail, n):
    """A body of exactly n bytes: head, x padding (inside a JSON string), tail."""
    return head + b"x" * (n - len(head) - len(tail)) + tail


def too_large_once_bound():
    """At max_frame 16 MiB, a reply under max_frame whose bound copy (the caller's 64-character
    call_id back, bound_call, sender) passes 16 MiB: refused to the replier, the call still pending;
    and a call whose stamped copy passes 16 MiB: refused too_large, bound, the connection kept."""
    mans = {"alice": manifest("alice", ["big.*"], ["big.ask.response"]),
            "bob": manifest("bob", ["big.*"], ["big.ask"])}
    with Daemon(mans, max_frame=HARD, byte_rate=1 << 30) as d:
        alice, bob = d.client("alice", timeout=60), d.client("bob", timeout=60)
        check(bob.subscribe("big.ask")["type"] == "capbus.subscribe.reply", "subscribe failed")
        cid = "C" * 64
        alice.send("big.ask", {}, {"call_id": cid, "call_timeout_ms": 60000})
        req = until(bob, lambda m: m["type"] == "big.ask", what="the request")
        rid = req["context"]["call_id"].encode()
        for n in (HARD - 100, HARD - 10):
            bob.send_body(sized(b'{"type":"big.ask.response","data":{"blob":"', b'"},"context":{"call_id":"' + rid + b'"}}', n))
            err = until(bob, lambda m: m["type"] == "bus.error", timeout=30, what="the too-large reply's refusal")
            check(err["data"]["code"] == "too_large", "a reply too large once bound answered with %r" % err["data"])
        quiet(alice, "the caller (too-large replies)")
        # The call was not consumed: a valid reply still reaches the caller.
        bob.send("big.ask.response", {"ok": 1}, req["context"])
        r = until(alice, lambda m: m["type"] == "big.ask.response", what="the reply after a too-large one")
        check(bound(r, cid) and r["data"] == {"ok": 1}, "reply %r" % r)

        # A call whose copy (the router's id and sender) passes 16 MiB: too_large, bound to the call.
        alice.send_body(sized(b'{"type":"big.ask","data":{"blob":"', b'"},"context":{"call_id":"c2"}}', HARD))
        err = until(alice, lambda m: m["type"] == "bus.error", timeout=30, what="the too-large call's refusal")
        check(err["data"]["code"] == "too_large" and bound(err, "c2"), "a too-large call answered with %r" % err)
        alice.ping(30)
        quiet(bob, "the receiver (too-large call)")
        check(d.stats()["too_large"] >= 3, "too_large not counted: %r" % d.stats())
        check(d.alive(), "daemon died")


def caller_lost_reply_type():
    """The caller's manifest stops allowing the reply type while the call is pending (reload): the
    reply is refused denied to the replier, and the caller gets a bound denied answer."""
    mans = {"asker": manifest("asker", ["q.*"], ["q.ask.response"]),
            "answerer": manifest("answerer", ["q.*"], ["q.*"]),
            "other": manifest("other", ["q.*"], [])}
    with Daemon(mans) as d:
        asker, answerer, other = d.client("asker"), d.client("answerer"), d.client("other")
        check(answerer.subscribe("q.ask")["type"] == "capbus.subscribe.reply", "subscribe failed")
        asker.send("q.ask", {}, {"call_id": "r1", "call_timeout_ms": 60000})
        req = until(answerer, lambda m: m["type"] == "q.ask", what="the request")
        d.write_manifest("asker", manifest("asker", ["q.*"], []))
        check(d.admin("reload").returncode == 0, "reload failed")
        answerer.send("q.ask.response", {"ok": 1}, req["context"])
        err = until(answerer, lambda m: m["type"] == "bus.error", what="the replier's refusal")
        check(err["data"]["code"] == "denied", "a reply the caller may not receive answered %r" % err["data"])
        err = until(asker, lambda m: m["type"] in ("bus.error", "q.ask.response"), what="the caller's answer")
        check(err["type"] == "bus.error" and err["data"]["code"] == "denied" and bound(err, "r1") and
              err["context"]["sender"] == "capbus", "the caller was told %r" % err)
        answerer.send("q.ask.response", {"ok": 2}, req["context"])
        err = until(answerer, lambda m: m["type"] == "bus.error", what="the second reply's refusal")
        check(err["data"]["code"] == "call_finished", "a second reply answered %r" % err["data"])
        quiet(asker, "the caller (second reply)")

        # call_ids that begin with "capbus:" are the router's: a well-formed router id it does not
        # know makes an ordinary message without the call_id; anything else of that form is invalid.
        other.send("q.ask", {"n": 1}, {"call_id": "capbus:0000000000000001"})
        m = until(answerer, lambda m: m["type"] == "q.ask", what="the message with an unknown router id")
        check("call_id" not in m["context"] and m["data"] == {"n": 1}, "routed as %r" % m)
        for bad in ("capbus:0000000000000000", "capbus:000000000000000F", "capbus:1", "capbus:"):
            other.send("q.ask", {"n": 2}, {"call_id": bad})
            err = until(other, lambda m: m["type"] == "bus.error", what="the refusal of %s" % bad)
            check(err["data"]["code"] == "invalid", "call_id %r answered %r" % (bad, err["data"]))
        other.ping()
        quiet(answerer, "the receiver (router-looking call_ids)")
        check(d.alive(), "daemon died")


def main():
    too_large_once_bound()
    caller_lost_reply_type()
    with Daemon({"asker": manifest("asker", ["calc.*", "plain.*"], ["calc.add.response", "calc.slow.response",
                                                                    "calc.gone.response", "calc.none.response"]),
                 "calc": manifest("calc", ["calc.*", "plain.*"], ["calc.*", "plain.*"]),
                 "forger": manifest("forger", ["calc.*"], ["calc.none"]),
                 "watcher": manifest("watcher", [], ["calc.*"]),
                 "greedy": manifest("greedy", ["calc.*"], ["calc.slow.response"])}) as d:
        asker, calc, forger, watcher = (d.client(i) for i in ("asker", "calc", "forger", "watcher"))
        for c, p in ((calc, "calc.add"), (calc, "calc.slow"), (calc, "calc.gone"), (watcher, "calc.add.response"),
                     (calc, "plain.*")):
            check(c.subscribe(p)["type"] == "capbus.subscribe.reply", "subscribe %s failed" % p)

        # 1. The request reaches calc with the router's id, not the caller's.
        asker.send("calc.add", {"a": 2, "b": 3}, {"call_id": "a1", "session": "s1"})
        req = until(calc, lambda m: m["type"] == "calc.add", what="the request")
        rid = req["context"].get("call_id")
        check(isinstance(rid, str) and rid != "a1" and rid.startswith("capbus:"),
              "the caller's call_id reached the receiver: %r" % req["context"])
        check(req["context"].get("session") == "s1" and req["context"]["sender"] == "asker", "context %r" % req["context"])

        # 2. A forged reply from an identity the request never reached: refused, not delivered.
        forger.send("calc.add.response", {"sum": 666}, {"call_id": rid})
        err = until(forger, lambda m: m["type"] == "bus.error", what="the forger's refusal")
        check(err["data"]["code"] == "denied", "forged reply refused with %r" % err["data"])
        # The caller's own id is no key either: it makes a new call (of calc.add.response), not a reply.
        forger.send("calc.add.response", {"sum": 667}, {"call_id": "a1"})
        # 3. An unbound reply (no call_id) is an ordinary message: never bound, never to the caller.
        forger.send("calc.add.response", {"sum": 668})
        # and bound_call written by a client is removed.
        forger.send("calc.add.response", {"sum": 669}, {"bound_call": "a1"})
        forger.ping()
        quiet(asker, "the caller (forged or unbound replies)")
        seen = watcher.drain(0.3)
        check(all("bound_call" not in m["context"] for m in seen), "a client wrote bound_call: %r" % seen)
        check(all(m["data"]["sum"] != 666 for m in seen), "a refused forgery was delivered: %r" % seen)

        # 4. The real reply: to the caller alone, bound, with the caller's own call_id back.
        calc.send("calc.add.response", {"sum": 5}, dict(req["context"], sender="x"))
        r = until(asker, lambda m: m["type"] == "calc.add.response", what="the reply")
        check(bound(r, "a1") and r["context"]["call_id"] == "a1" and r["context"]["sender"] == "calc",
              "reply not bound: %r" % r["context"])
        check(r["data"] == {"sum": 5} and r["context"].get("session") == "s1", "reply %r" % r)
        quiet(watcher, "another subscriber of the reply type")

        # 5. A second reply: refused, and nobody gets it.
        calc.send("calc.add.response", {"sum": 55}, {"call_id": rid})
        err = until(calc, lambda m: m["type"] == "bus.error", what="the second reply's refusal")
        check(err["data"]["code"] == "call_finished", "second reply refused with %r" % err["data"])
        quiet(asker, "the caller (second reply)")
        quiet(watcher, "a subscriber (second reply)")

        # A context copied onto another type is not a reply: routed as usual, without the id.
        asker.send("calc.add", {"a": 1, "b": 1}, {"call_id": "a1b"})
        req = until(calc, lambda m: m["type"] == "calc.add", what="the request")
        calc.send("plain.note", {"n": 1}, req["context"])
        note = until(calc, lambda m: m["type"] == "plain.note", what="the forwarded note")
        check("call_id" not in note["context"], "a router call id travelled on: %r" % note["context"])
        calc.send("calc.add.response", {"sum": 2}, req["context"])
        r = until(asker, lambda m: m["type"] == "calc.add.response", what="the reply after a forward")
        check(bound(r, "a1b"), "reply %r" % r)

        # 6. Nobody answers: the router does, at the deadline, bound to the call.
        asker.send("calc.slow", {}, {"call_id": "a2", "call_timeout_ms": 300})
        until(calc, lambda m: m["type"] == "calc.slow", what="the slow request")
        err = until(asker, lambda m: m["type"] == "bus.error", timeout=3, what="the router's timeout answer")
        check(err["data"]["code"] == "timeout" and bound(err, "a2") and err["context"]["sender"] == "capbus",
              "timeout answered with %r" % err)

        # 7. Nobody can receive it: answered at once.
        asker.send("calc.none", {}, {"call_id": "a3"})
        err = until(asker, lambda m: m["type"] == "bus.error", what="the no_responder answer")
        check(err["data"]["code"] == "no_responder" and bound(err, "a3"), "answered with %r" % err)

        # 8. The only receiver goes away before answering: answered then.
        gone = d.client("calc")
        check(gone.subscribe("calc.gone")["type"] == "capbus.subscribe.reply", "subscribe failed")
        calc.close()
        calc = None
        asker.send("calc.gone", {}, {"call_id": "a4"})
        until(gone, lambda m: m["type"] == "calc.gone", what="the request")
        gone.close()
        err = until(asker, lambda m: m["type"] == "bus.error", what="the answer after the receiver left")
        check(err["data"]["code"] == "no_responder" and bound(err, "a4"), "answered with %r" % err)

        # The same rules on the parser's slow path (escaped context keys, more than 16 members):
        # an escaped bound_call is still removed, and a call still gets the router's id.
        forger.send_body(b'{"type":"calc.add.response","data":{"sum":670},"context":{"bound\\u005fcall":"a5"}}')
        m = until(watcher, lambda m: m["type"] == "calc.add.response" and m["data"]["sum"] == 670,
                  what="the escaped bound_call message")
        check("bound_call" not in m["context"], "an escaped bound_call survived: %r" % m["context"])
        slowpoke = d.client("calc")
        check(slowpoke.subscribe("calc.slow")["type"] == "capbus.subscribe.reply", "subscribe failed")
        wide = {"k%d" % i: i for i in range(20)}
        asker.send("calc.slow", {}, dict(wide, call_id="a5", call_timeout_ms=60000))
        req = until(slowpoke, lambda m: m["type"] == "calc.slow", what="the wide request")
        check(req["context"]["call_id"].startswith("capbus:") and req["context"]["k19"] == 19,
              "wide request context %r" % req["context"])
        slowpoke.send("calc.slow.response", {"ok": 1}, dict(req["context"], **{"k%d" % i: i for i in range(20, 40)}))
        r = until(asker, lambda m: m["type"] == "calc.slow.response", what="the wide reply")
        check(bound(r, "a5") and r["context"]["call_id"] == "a5", "wide reply %r" % r["context"])

        # 9. A quota on pending calls per identity.
        greedy = d.client("greedy")
        for i in range(65):
            greedy.send("calc.slow", {}, {"call_id": "g%d" % i, "call_timeout_ms": 60000})
        greedy.ping()
        errs = [m for m in greedy.drain(0.3) if m["type"] == "bus.error"]
        check(len(errs) == 1 and errs[0]["data"]["code"] == "quota" and bound(errs[0], "g64"),
              "65 pending calls: %r" % errs)
        st = d.stats()
        check(st["calls"] >= 70 and st["call_replies"] == 3 and st["call_timeouts"] == 1 and
              st["call_no_responder"] == 2 and st["call_refused"] >= 3, "counters %r" % st)
        check("call_refused" in d.log(), "no call_refused line in the log")
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
