#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Frame reassembly: byte-by-byte and coalesced writes work; the max_frame boundary is exact."""
import json

from capbus_harness import Daemon, RawClient, check, manifest, protocol, read_key_file, run_test

MAX_FRAME = 1024


def body_of_len(n, i=0):
    head = b'{"type":"greet.s","data":{"i":%d,"p":"' % i
    tail = b'"}}'
    return head + b"a" * (n - len(head) - len(tail)) + tail


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], [], limits={"msg_rate": 100000}),
                 "bob": manifest("bob", [], ["greet.*"])}, max_frame=MAX_FRAME) as d:
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        d.keygen("alice")
        ident, key = read_key_file(d.keys_dir + "/alice.key")

        # Handshake and frames delivered one byte per write.
        c = RawClient(d.socket, ident, key)
        hs = protocol.ClientHandshake(ident, key)
        auth = hs.auth(c.hello())
        for b in protocol.header(len(auth)) + auth:
            c.send_raw(bytes([b]))
        _, result, _ = c.recv_frame(tagged=False)
        c.session = hs.finish(result)
        for i in range(3):
            for b in c.seal({"type": "greet.drip", "data": {"i": i}}):
                c.send_raw(bytes([b]))
        c.ping()
        got = [m["data"]["i"] for m in bob.drain(0.2)]
        check(got == [0, 1, 2], "byte-by-byte frames delivered as %r" % got)

        # 500 frames in one write, then a ping in the same write.
        c = d.client("alice")
        blob = b"".join(c.seal({"type": "greet.burst", "data": {"i": i}}) for i in range(500))
        c.send_raw(blob + c.seal({"type": "capbus.ping", "data": {"request": 1}}))
        check(c.recv_message(10)["type"] == "capbus.ping.reply", "coalesced frames: no ping reply")
        got = [m["data"]["i"] for m in bob.drain(0.3)]
        check(got == list(range(500)), "coalesced frames: %d delivered, in order: %s" % (len(got), got == sorted(got)))

        # Exactly max_frame is accepted; one more byte is too large.
        c = d.client("alice")
        c.send_body(body_of_len(MAX_FRAME, 1))
        c.ping()
        m = bob.recv_message(5)
        check(m["data"]["i"] == 1, "a max_frame-sized body was not delivered: %r" % m["type"])
        c.send_body(body_of_len(MAX_FRAME + 1, 2))
        e = c.recv_message(5)
        check(e["data"].get("code") == "too_large", "max_frame + 1 answered %r" % e)
        check(c.wait_closed(3), "connection kept after too_large")
        check(bob.drain(0.2) == [], "an oversized frame was delivered")
        # A frame that would only be too large after the daemon adds context.sender still arrives intact.
        c = d.client("alice")
        b = body_of_len(MAX_FRAME, 3)
        c.send_body(b)
        c.ping()
        m = bob.recv_message(5)
        check(m["data"]["p"] == json.loads(b)["data"]["p"], "stamped max-size message altered")


if __name__ == "__main__":
    run_test(main)
