#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The SDK's pure parts: Message helpers, type and pattern rules, message bodies, frame reading,
frame tags."""
import json
import os
import struct

from capbus_harness import check, run_test

from capbus import Message, ProtocolError, errors, mac, protocol


def test_message_helpers():
    m = Message("intent.weather.today", {"location": "Oslo"},
                {"sender": "org.example.asker", "call_id": "abc", "session": {"id": 7},
                 "source": "a", "destination": "b"})
    check(m.sender == "org.example.asker" and m.msg_type == m.type, "sender/msg_type: %r" % m)

    r = m.response({"ok": True})
    check(r.type == "intent.weather.today.response" and r.data == {"ok": True}, "response: %r" % r)
    check("sender" not in r.context, "a reply must not carry the old sender: %r" % r.context)
    check(r.context["call_id"] == "abc" and r.context["session"] == {"id": 7}, "context not copied: %r" % r.context)
    check(r.context["source"] == "b" and r.context["destination"] == "a", "source/destination not swapped")
    r.context["session"]["id"] = 8
    check(m.context["session"]["id"] == 7, "reply shares context objects with the request")

    r = m.reply("speak", {"utterance": "x"}, {"extra": 1})
    check(r.type == "speak" and r.context["extra"] == 1 and r.context["call_id"] == "abc", "reply: %r" % r)
    f = m.forward("intent.weather.week")
    check(f.context["source"] == "a" and "sender" not in f.context and f.data == {}, "forward: %r" % f)

    text = Message("a.b", {"t": "h\u00e9llo \u2603"}, {"k": [1, 2]}).serialize()
    check(json.loads(text) == {"type": "a.b", "data": {"t": "h\u00e9llo \u2603"}, "context": {"k": [1, 2]}},
          "serialize: %s" % text)
    check(Message.deserialize(text) == Message("a.b", {"t": "h\u00e9llo \u2603"}, {"k": [1, 2]}), "round trip")
    check(Message("x").data == {} and Message("x").context == {} and Message("x").sender is None, "defaults")


def test_types_and_patterns():
    for t in ("speak", "a.b", "recognizer_loop:utterance", "A-b_c.d:e", "x" * 255, ".a", "a.", "a..b", "a b",
              "caf\u00e9", "\u00e9" * 127, "skill-x.Author:What Can You Do", 'a"b\\'):
        check(protocol.type_is_valid(t), "type %r should be valid" % t)
    for t in ("", "a.*", "*", "a*b", "x" * 256, "\u00e9" * 128, "a\n", "a\x7f", "a\x85", "a\u200b", "a\u202e",
              "a\ud800", None, 3):
        check(not protocol.type_is_valid(t), "type %r should be invalid" % (t,))
    for p in ("*", "a.*", "a:*", "a.b.*", "speak"):
        check(protocol.pattern_is_valid(p), "pattern %r should be valid" % p)
    for p in ("", "a*", ".*", "a.b*", "**", "*.a", "a.*.b", "a\t.*"):
        check(not protocol.pattern_is_valid(p), "pattern %r should be invalid" % p)
    cases = [("*", "x", True), ("a.*", "a.b", True), ("a.*", "a.b.c", True), ("a.*", "a", False),
             ("a.*", "ab.c", False), ("a:*", "a:b", True), ("a:*", "a.b", False), ("a.b", "a.b", True),
             ("a.b", "a.bc", False)]
    for pattern, mtype, want in cases:
        check(protocol.pattern_matches(pattern, mtype) == want, "%s ~ %s should be %s" % (pattern, mtype, want))


def test_bodies():
    body = protocol.encode_message("a.b", {"n": 1})
    check(json.loads(body) == {"type": "a.b", "data": {"n": 1}}, "encode: %r" % body)
    for bad in (("a*b", {}), ("a.b", {"x": float("nan")}), ("a.b", {"s": "\ud800"})):
        try:
            protocol.encode_message(*bad)
        except ValueError:
            continue
        raise AssertionError("encode_message%r should fail" % (bad,))
    try:
        protocol.encode_message("a.b", ["not", "a", "dict"])
        raise AssertionError("a list as data was accepted")
    except TypeError:
        pass

    t, d, c = protocol.decode_message(b'{"type":"a.b","data":{"k":{"x":1,"x":2}},"context":{"sender":"z"}}')
    check((t, c["sender"]) == ("a.b", "z"), "decode")
    for bad in (b'{"type":"a.b","type":"c.d"}', b'{"type":"a.b","context":{"sender":"a","sender":"b"}}',
                b'{"type":"a.b","extra":1}', b'{"type":"a*b"}', b'{"type":"a\\u0001b"}', b'{"type":"a.b","data":[]}', b'[1]',
                b'{"type":"a.b"} x', b'\xff', b'{"type":"a.b","data":{"n":NaN}}'):
        try:
            protocol.decode_message(bad)
        except ProtocolError:
            continue
        raise AssertionError("decode_message(%r) should fail" % bad)


def test_frames():
    r = protocol.FrameReader(max_frame=100)
    frame = struct.pack(">I", 3) + b"abc" + b"T" * protocol.TAG_LEN
    for byte in frame[:-1]:
        r.feed(bytes([byte]))
        check(r.next_frame(True) is None, "frame returned before it was complete")
    r.feed(frame[-1:] + struct.pack(">I", 2) + b"hi")
    check(r.next_frame(True) == (frame[:4], b"abc", b"T" * 16), "tagged frame")
    check(r.next_frame(False) == (struct.pack(">I", 2), b"hi", b""), "untagged frame")
    check(r.buffered() == 0, "bytes left over")
    for hdr in (struct.pack(">I", 0), struct.pack(">I", 101)):
        r = protocol.FrameReader(max_frame=100)
        r.feed(hdr)
        try:
            r.next_frame(True)
            raise AssertionError("length %r accepted" % hdr)
        except ProtocolError:
            pass
    check(protocol.socket_address("@capbus") == "\0capbus" and protocol.socket_address("/a/b") == "/a/b",
          "socket_address")


def read_vectors():
    """(key, seq, body_len, tag) of tests/vectors/frame-tags.txt, written by Python's hmac."""
    path = os.path.join(os.environ["CAPBUS_SOURCE_DIR"], "tests", "vectors", "frame-tags.txt")
    vectors = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            key, seq, length, tag = line.split()
            vectors.append((bytes.fromhex(key), int(seq), int(length), bytes.fromhex(tag)))
    return vectors


def test_mac():
    # The same vectors tests/unit/test-mac.c checks lib/mac.c against.
    vectors = read_vectors()
    check(len(vectors) == 52, "%d vectors" % len(vectors))
    lengths, seqs = set(), set()
    for key, seq, length, want in vectors:
        body = bytes((7 * i + length) & 0xFF for i in range(length))
        hdr = struct.pack(">I", length)
        check(mac.frame_tag(key, seq, hdr, body) == want, "tag of seq %d, %d bytes" % (seq, length))
        rx = protocol.MacState(key)
        rx.seq = seq ^ 1
        check(not rx.verify(hdr, body, want) and rx.seq == seq ^ 1, "seq %d accepted as %d" % (seq, seq ^ 1))
        rx.seq = seq
        bad = bytes([want[0] ^ 0x80]) + want[1:]
        check(not rx.verify(hdr, body, bad), "flipped tag bit accepted")
        if length:
            check(not rx.verify(hdr, body[:-1] + bytes([body[-1] ^ 1]), want), "flipped body bit accepted")
        check(rx.seq == seq and rx.verify(hdr, body, want) and rx.seq == seq + 1, "vector does not verify")
        lengths.add(length)
        seqs.add(seq)
    check({0, 300, 65536} <= lengths and seqs == {0, 1, 2**32, 2**64 - 1}, "vector coverage")
    # A session signs consecutive frames with consecutive sequence numbers.
    tx_key, rx_key = os.urandom(32), os.urandom(32)
    s = protocol.Session("alice", tx_key, rx_key)
    body = b'{"type":"x"}'
    for seq in range(3):
        frame = s.seal(body)
        check(frame[-protocol.TAG_LEN:] == mac.frame_tag(tx_key, seq, frame[:4], body), "seal at seq %d" % seq)
    # No other backend remains: no ctypes, no pure-Python ciphers.
    check(not hasattr(mac, "backend") and not hasattr(mac, "chacha20_block"), "old tag code still present")


def test_version():
    check(protocol.MAGIC == b"CAPBUS\x00\x02", "magic %r" % protocol.MAGIC)
    hs = protocol.ClientHandshake("alice", bytes(32))
    for version in (0, 1, 3):
        hello = b"CAPBUS\x00" + bytes([version]) + bytes(protocol.NONCE_LEN)
        try:
            hs.auth(hello)
            raise AssertionError("version %d accepted" % version)
        except errors.VersionError as e:
            check(("version %d" % version) in str(e), "message: %s" % e)
            check(isinstance(e, ProtocolError), "a VersionError is a ProtocolError")
    check(len(hs.auth(protocol.MAGIC + bytes(protocol.NONCE_LEN))) == 73 + 5, "a version-2 hello is answered")


def test_errors():
    e = errors.BusError.from_data({"code": "denied", "message": "no", "type": "x.y", "request": 4})
    check(isinstance(e, errors.DeniedError) and e.code == "denied" and e.type == "x.y" and e.request == 4,
          "denied: %r" % e)
    e = errors.BusError.from_data({"code": "rate_limited"})
    check(type(e) is errors.BusError and e.code == "rate_limited" and e.message == "", "rate_limited: %r" % e)
    check(issubclass(errors.TimeoutError, TimeoutError) and issubclass(errors.ClosedError, ConnectionError),
          "errors are also the built-in kinds")
    check(protocol.AuthError is errors.AuthError and protocol.ProtocolError is errors.ProtocolError,
          "protocol and errors disagree on the exception classes")


def main():
    test_message_helpers()
    test_types_and_patterns()
    test_bodies()
    test_frames()
    test_mac()
    test_version()
    test_errors()


if __name__ == "__main__":
    run_test(main)
