#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""No routing path changes a value: a message is delivered as written, or refused with an error.

The router has two paths: the common one splices the message from its bytes; messages with an
escaped top-level key or type, escaped context keys or more than 16 context members go through a
full parse first. Both must deliver numbers that a double cannot hold (1e999, 1E400,
9007199254740993, -0.0, 1.50) and escaped keys exactly as written: the receiver sees
{"type":T,"data":<as written>,"context":{<members as written, without sender>,"sender":ID}},
byte for byte. What cannot be carried unchanged (a number longer than 63 characters, \\u0000) is
refused with bus.error malformed and a message that says why.
"""
from capbus_harness import Daemon, check, manifest, run_test

BIG = "9007199254740993"  # 2^53 + 1: no double holds it
CASES = [
    # (what, sent, delivered)
    ("plain keys (spliced path)",
     '{"type":"num.a","data":{"big":1e999,"n":%s,"f":1.50,"z":-0.0},"context":{"n":%s}}' % (BIG, BIG),
     '{"type":"num.a","data":{"big":1e999,"n":%s,"f":1.50,"z":-0.0},"context":{"n":%s,"sender":"alice"}}' % (BIG, BIG)),
    ("escaped top-level key",
     '{"t\\u0079pe":"num.b","data":{"big":1e999,"n":%s},"context":{"n":%s,"x":1E400}}' % (BIG, BIG),
     '{"type":"num.b","data":{"big":1e999,"n":%s},"context":{"n":%s,"x":1E400,"sender":"alice"}}' % (BIG, BIG)),
    ("escaped data and context keys at the top level, no context",
     '{"d\\u0061ta":{"n":%s},"type":"num.c"}' % BIG,
     '{"type":"num.c","data":{"n":%s},"context":{"sender":"alice"}}' % BIG),
    ("escaped context keys and a forged, escaped sender",
     '{"type":"num.d","data":{"k":[1e999]},"context":{"s\\u0065ssion":{"id":%s},"s\\u0065nder":"forged","x":1e999}}'
     % BIG,
     '{"type":"num.d","data":{"k":[1e999]},"context":{"s\\u0065ssion":{"id":%s},"x":1e999,"sender":"alice"}}' % BIG),
    ("escaped type value",
     '{"type":"num.\\u0065","data":{"n":%s}}' % BIG,
     '{"type":"num.e","data":{"n":%s},"context":{"sender":"alice"}}' % BIG),
    ("whitespace and an escaped key: data keeps its bytes",
     '{ "t\\u0079pe" : "num.f" , "data" : { "a" : 1e999 , "b" : "\\u00e9" } , "context" : { "n" : %s } }' % BIG,
     '{"type":"num.f","data":{ "a" : 1e999 , "b" : "\\u00e9" },"context":{"n":%s,"sender":"alice"}}' % BIG),
    ("more than 16 context members",
     '{"type":"num.g","data":{},"context":{%s,"sender":"forged"}}' % ",".join('"k%d":%s' % (i, BIG) for i in range(20)),
     '{"type":"num.g","data":{},"context":{%s,"sender":"alice"}}' % ",".join('"k%d":%s' % (i, BIG) for i in range(20))),
]
REFUSED = [
    ("a 64-character number", '{"type":"num.x","data":{"n":%s}}' % ("1" * 64),
     "a number longer than 63 characters"),
    ("an escaped NUL", '{"t\\u0079pe":"num.y","data":{"s":"a\\u0000b"}}', "\\u0000 in a string"),
]


def main():
    with Daemon({"alice": manifest("alice", ["num.*"], []), "bob": manifest("bob", [], ["num.*"])}) as d:
        bob = d.client("bob")
        check(bob.subscribe("num.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        alice = d.client("alice")
        for what, sent, want in CASES:
            alice.send_body(sent.encode())
            alice.ping()
            check(alice.pending == [], "%s: the sender was told %r" % (what, alice.pending))
            hdr, body, tag = bob.recv_frame()
            bob.session.open(hdr, body, tag)
            check(body == want.encode(), "%s: delivered\n  %s\nwant\n  %s" % (what, body.decode(), want))
        for what, sent, why in REFUSED:
            alice.send_body(sent.encode())
            alice.ping()
            errors = [m for m in alice.pending if m["type"] == "bus.error"]
            alice.pending = []
            check(len(errors) == 1 and errors[0]["data"]["code"] == "malformed" and why in errors[0]["data"]["message"],
                  "%s: the sender was told %r" % (what, [e["data"] for e in errors]))
        check(bob.drain(0.3) == [], "a refused message was delivered")
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
