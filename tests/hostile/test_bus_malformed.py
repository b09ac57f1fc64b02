#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile message bodies get a bus.error (or a close for oversized and empty frames), are never
delivered, and cost nobody else anything; the daemon stays up."""
import json
import struct

from capbus_harness import Closed, Daemon, check, manifest, protocol, run_test

MAX_FRAME = 4096

DEEP = 10000
MALFORMED = {
    "non-utf8": b'{"type":"greet.a","data":{"s":"\xff\xfe"}}',
    "overlong-utf8": b'{"type":"greet.a","data":{"s":"\xc0\xaf"}}',
    "utf8-surrogate": b'{"type":"greet.a","data":{"s":"\xed\xa0\x80"}}',
    "truncated-utf8": b'{"type":"greet.a","data":{"s":"\xe2\x82"}}',
    "invalid-json": b'{"type":',
    "not-json": b"hello there",
    "array": b'[{"type":"greet.a"}]',
    "string": b'"greet.a"',
    "null": b"null",
    "duplicate-type": b'{"type":"greet.a","type":"greet.b","data":{}}',
    "duplicate-data": b'{"type":"greet.a","data":{},"data":{"x":1}}',
    "trailing-bytes": b'{"type":"greet.a","data":{}} x',
    "trailing-object": b'{"type":"greet.a","data":{}}{"type":"greet.b"}',
    "trailing-nul": b'{"type":"greet.a","data":{}}\x00',
    "nul-in-type": b'{"type":"greet.a\x00b","data":{}}',
    "escaped-nul-in-type": b'{"type":"greet.a\\u0000b","data":{}}',
    "raw-newline-in-string": b'{"type":"greet.a","data":{"s":"a\nb"}}',
    "lone-surrogate-escape": b'{"type":"greet.a","data":{"s":"\\ud800"}}',
    "deep-object": b'{"type":"greet.a","data":' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}",
    "deep-array": b'{"type":"greet.a","data":{"a":' + b"[" * DEEP + b"]" * DEEP + b"}}",
    "deep-unclosed": b'{"type":"greet.a","data":' + b"[" * DEEP,
    "depth-33": b'{"type":"greet.a","data":' + b'{"a":' * 32 + b"1" + b"}" * 32 + b"}",
    "extra-key": b'{"type":"greet.a","data":{},"evil":1}',
    "type-number": b'{"type":7,"data":{}}',
    "type-missing": b'{"data":{}}',
    "type-empty": b'{"type":"","data":{}}',
    "type-tab": b'{"type":"greet.\ta","data":{}}',
    "type-escaped-control": b'{"type":"greet.\\u0001a","data":{}}',
    "type-c1": b'{"type":"greet.\xc2\x9ba","data":{}}',
    "type-zero-width": b'{"type":"greet.\xe2\x80\x8ba","data":{}}',
    "type-escaped-bidi": b'{"type":"greet.\\u202ea","data":{}}',
    "type-star": b'{"type":"greet.*","data":{}}',
    "type-star-inside": b'{"type":"greet.a*b","data":{}}',
    "type-too-long": b'{"type":"greet.' + b"a" * 260 + b'","data":{}}',
    "data-array": b'{"type":"greet.a","data":[]}',
    "context-string": b'{"type":"greet.a","data":{},"context":"x"}',
    "bad-number": b'{"type":"greet.a","data":{"n":01}}',
    "plus-number": b'{"type":"greet.a","data":{"n":+1}}',
    "hex-number": b'{"type":"greet.a","data":{"n":0x10}}',
    "nan": b'{"type":"greet.a","data":{"n":NaN}}',
    "comment": b'{"type":"greet.a", /* hi */ "data":{}}',
    "number-64-chars": b'{"type":"greet.a","data":{"n":' + b"1" * 64 + b"}}",
    "high-surrogate-then-letter": b'{"type":"greet.a","data":{"s":"\\ud800\\u0041"}}',
    "bad-escape": b'{"type":"greet.a","data":{"s":"\\x41"}}',
    "trailing-comma": b'{"type":"greet.a","data":{"a":1,}}',
    "unterminated-string": b'{"type":"greet.a","data":{"s":"abc}}',
    "duplicate-context-key": b'{"type":"greet.a","data":{},"context":{"k":1,"k":2}}',
    "context-array": b'{"type":"greet.a","data":{},"context":[]}',
}


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], []), "bob": manifest("bob", [], ["greet.*"])},
                max_frame=MAX_FRAME) as d:
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        before = d.stats()
        problems = []
        for name, payload in MALFORMED.items():
            if len(payload) > MAX_FRAME:
                continue
            c = d.client("alice")
            c.send_body(payload)
            c.send("capbus.ping", {"request": 1})
            try:
                e = c.recv_message(5)
            except Closed:
                problems.append("%s: connection closed; a malformed message should only cost an error" % name)
                continue
            if e["type"] != "bus.error" or e["data"].get("code") != "malformed":
                leaked = bob.drain(0.2)
                problems.append("%s: answered %s instead of bus.error malformed%s" % (
                    name, e["type"], "; bob received %s" % [json.dumps(m) for m in leaked] if leaked else ""))
                continue
            if c.recv_message(5)["type"] != "capbus.ping.reply":
                problems.append("%s: connection unusable after the error" % name)
            c.close()
        check(not bob.drain(0.2), "a malformed message reached bob")
        # An escaped NUL inside data: refused, or delivered intact, but never silently truncated.
        c = d.client("alice")
        c.send_body(b'{"type":"greet.nul","data":{"s":"v\\u0000w","k\\u0000x":1}}')
        c.ping()
        got = bob.drain(0.2)
        if got and got[0]["data"] != {"s": "v\u0000w", "k\u0000x": 1}:
            problems.append("escaped-nul-in-data: delivered altered as %s" % json.dumps(got[0]["data"]))
        # Bodies above max_frame: too_large, then closed (they are too big to be parsed at all).
        big = {k: v for k, v in MALFORMED.items() if len(v) > MAX_FRAME}
        big["oversized-valid"] = b'{"type":"greet.a","data":{"s":"' + b"a" * MAX_FRAME + b'"}}'
        for name, payload in big.items():
            c = d.client("alice")
            c.send_body(payload)
            e = c.recv_message(5)
            check(e["type"] == "bus.error" and e["data"].get("code") == "too_large", "%s: answered %r" % (name, e))
            check(c.wait_closed(3), "%s: connection kept after too_large" % name)
        # A header that declares 4 GiB: refused without waiting for (or allocating) the body.
        c = d.client("alice")
        c.send_raw(struct.pack(">I", 0xFFFFFFFF) + b"{")
        e = c.recv_message(5)
        check(e["data"].get("code") == "too_large", "4 GiB header answered %r" % e)
        check(c.wait_closed(3), "connection kept after a 4 GiB header")
        # An empty frame closes the connection.
        c = d.client("alice")
        c.send_raw(c.session.seal(b""))
        check(c.wait_closed(3), "connection kept after an empty frame")
        # Disconnect in the middle of a frame, during and after the handshake.
        for stage in ("handshake", "ready"):
            for cut in (2, 4, 50):
                if stage == "ready":
                    c = d.client("alice")
                    frame = c.seal(b'{"type":"greet.cut","data":{"pad":"' + b"x" * 100 + b'"}}')
                else:
                    from capbus_harness import RawClient, bad_auth_frame
                    c = RawClient(d.socket, "alice", b"\x00" * 32)
                    frame = bad_auth_frame(c.hello(), "alice")
                c.send_raw(frame[:cut])
                c.close()
        # Nothing reached bob; the daemon serves as before.
        check(d.alive(), "daemon died")
        a = d.client("alice")
        a.send("greet.ok", {"n": 1})
        a.ping()
        got = bob.drain(0.3)
        check([m["type"] for m in got] == ["greet.ok"], "bob received %r" % [m["type"] for m in got])
        check(not problems, "accepted or mishandled input:\n  " + "\n  ".join(problems))
        after = d.stats()
        n_bad = len([k for k, v in MALFORMED.items() if len(v) <= MAX_FRAME])
        check(after["malformed"] >= before["malformed"] + n_bad, "malformed counter moved by %d, want >= %d"
              % (after["malformed"] - before["malformed"], n_bad))
        check(after["too_large"] >= before["too_large"] + len(big) + 1, "too_large counter did not move enough")


if __name__ == "__main__":
    run_test(main)
