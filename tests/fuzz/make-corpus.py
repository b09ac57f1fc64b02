#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the protocol and configuration fuzz targets.

Usage: tests/fuzz/make-corpus.py [OUTPUT_DIR]   (default: tests/fuzz next to this script)

Writes OUTPUT_DIR/corpus/<target>/ (seeds) and OUTPUT_DIR/regressions/<target>/ (inputs that
once broke a target's checks).

Deterministic: the handshake seeds use the fixed key, server nonce and client nonce of
tests/fuzz/fuzz-common.h, so that they carry valid proofs the fuzzers can mutate.
"""
import hashlib
import hmac
import os
import struct
import sys

MAGIC = b"CAPBUS\x00\x02"  # protocol version 2
ALICE_KEY = bytes(range(32))
SERVER_NONCE = bytes(0xA0 + i for i in range(32))
CLIENT_NONCE = bytes([0xC1] * 32)  # the constant random source of the fuzz targets


def proof(key, label, ns, nc, ident):
    msg = label + ns + nc + bytes([len(ident)]) + ident
    return hmac.new(key, msg, hashlib.sha256).digest()


def frame(body, tag=b""):
    return struct.pack(">I", len(body)) + body + tag


def auth(ident, key, nc=CLIENT_NONCE, ns=SERVER_NONCE):
    return MAGIC + nc + proof(key, b"capbus-v1 client", ns, nc, ident) + bytes([len(ident)]) + ident


SUBJECT_KEY = bytes(0x40 + i for i in range(32))


def dauth(via, flags, subject, peer, key=ALICE_KEY, gateway=b"gateway", inner_key=None):
    """An AUTH_D body (docs/protocol.md "Delegated sessions") against the fixed server nonce."""
    tail = bytes([via, flags, len(gateway)]) + gateway + bytes([len(subject)]) + subject + bytes([len(peer)]) + peer
    if via == 3:
        inner_nc = bytes([0x5A] * 32)
        tail += inner_nc + proof(inner_key, b"capbus-ws-v1 client", SERVER_NONCE, inner_nc, subject)
    p = hmac.new(key, b"capbus-v2 delegate client" + SERVER_NONCE + CLIENT_NONCE + tail, hashlib.sha256).digest()
    return b"CAPBUS\x01\x02" + CLIENT_NONCE + p + tail


def seeds():
    msg = b'{"type":"speak","data":{"utterance":"It is sunny"},"context":{"sender":"org.example.weather"}}'
    hello = MAGIC + SERVER_NONCE

    # fuzz-frame: flags byte (low nibble: max_body choice, 0x10: tagged), then the stream.
    yield "frame", "hello-untagged", bytes([0x04]) + frame(hello)
    yield "frame", "two-tagged", bytes([0x14]) + frame(msg, bytes(16)) + frame(b"{}", bytes(range(16)))
    yield "frame", "partial-tail", bytes([0x14]) + frame(msg, bytes(16)) + b"\x00\x00\x01"
    yield "frame", "empty-frame", bytes([0x03]) + frame(b"a") + b"\x00\x00\x00\x00"
    yield "frame", "too-large", bytes([0x02]) + frame(b"x" * 17)
    yield "frame", "hard-limit", bytes([0x15]) + struct.pack(">I", 16 * 1024 * 1024 + 1)

    # fuzz-handshake-server: AUTH bodies against the fixed nonce; the daemon knows alice.
    yield "handshake-server", "alice-valid", auth(b"alice", ALICE_KEY)
    yield "handshake-server", "alice-wrong-key", auth(b"alice", bytes(32))
    yield "handshake-server", "unknown-id", auth(b"org.example.weather", ALICE_KEY)
    yield "handshake-server", "longest-id", auth(b"z" * 64, ALICE_KEY)
    yield "handshake-server", "bad-id-length", auth(b"alice", ALICE_KEY)[:-1]
    yield "handshake-server", "bad-magic", b"CAPBUS\x00\x03" + auth(b"alice", ALICE_KEY)[8:]
    yield "handshake-server", "version-1", b"CAPBUS\x00\x01" + auth(b"alice", ALICE_KEY)[8:]

    # fuzz-handshake-client: HELLO length byte, HELLO, RESULT.
    ok = MAGIC + b"\x00" + proof(ALICE_KEY, b"capbus-v1 server", SERVER_NONCE, CLIENT_NONCE, b"alice")
    forged = MAGIC + b"\x00" + proof(bytes(32), b"capbus-v1 server", SERVER_NONCE, CLIENT_NONCE, b"alice")
    yield "handshake-client", "accepted", bytes([len(hello)]) + hello + ok
    yield "handshake-client", "refused", bytes([len(hello)]) + hello + MAGIC + b"\x01"
    yield "handshake-client", "forged-proof", bytes([len(hello)]) + hello + forged
    yield "handshake-client", "short-hello", bytes([39]) + hello[:39] + ok
    hello_v1 = b"CAPBUS\x00\x01" + SERVER_NONCE
    yield "handshake-client", "version-1-hello", bytes([len(hello_v1)]) + hello_v1 + ok

    # fuzz-delegate-auth: AUTH_D bodies against the fixed nonce; the gateway's key is ALICE_KEY,
    # the only delegable subject "alice" (key SUBJECT_KEY).
    yield "delegate-auth", "token-alice", dauth(2, 0, b"alice", b"203.0.113.7:51234")
    yield "delegate-auth", "local-sub", dauth(1, 1, b"alice", b"cg:181931")
    yield "delegate-auth", "challenge-alice", dauth(3, 1, b"alice", b"[::1]:443", inner_key=SUBJECT_KEY)
    yield "delegate-auth", "challenge-wrong", dauth(3, 0, b"alice", b"", inner_key=bytes(32))
    yield "delegate-auth", "not-delegable", dauth(2, 0, b"carol", b"x")
    yield "delegate-auth", "wrong-gateway-key", dauth(2, 0, b"alice", b"x", key=bytes(32))
    yield "delegate-auth", "other-delegator", dauth(2, 0, b"alice", b"x", gateway=b"alice")
    yield "delegate-auth", "longest", dauth(3, 1, b"a" * 64, b"~" * 64, inner_key=SUBJECT_KEY)
    yield "delegate-auth", "truncated", dauth(2, 0, b"alice", b"peer")[:-1]

    # fuzz-envelope: max_depth byte, then a message body.
    envelopes = {
        "speak": msg,
        "minimal": b'{"type":"capbus.ping","data":{"request":1}}',
        "nested": b'{"type":"a.b:c","data":{"x":[1,2.5e3,-0,true,false,null,{"y":[[["\\u00e9\\ud83d\\ude00"]]]}]}}',
        "escapes": b'{"type":"t","data":{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001"},"context":{"sender":"x","k":{}}}',
        "utf8": '{"type":"weather.today","data":{"city":"Zürich €😀"}}'.encode(),
        "duplicate-context": b'{"type":"t","context":{"sender":"a","sender":"b"}}',
        "trailing": b'{"type":"t"} {}',
        "subscribe": b'{"type": "capbus.subscribe", "data": {"pattern": "weather.*", "request": 2}}\n',
        # The router's tree-free path: context members around a client-written sender ...
        "context-members": b'{ "context" : {"a":[1,{"b":null}], "sender":"me", "c":"d"}, "type":"x.y", "data":{} }',
        # ... and what it leaves to the tree: escaped keys, many context members.
        "escaped-keys": b'{"typ\\u0065":"a","context":{"s\\u0065nder":1}}',
        "many-context": b'{"type":"t","context":{' + b",".join(b'"k%d":%d' % (i, i) for i in range(20)) + b"}}",
        # Values no double holds, on the tree path: the router copies them as written.
        "verbatim-values": b'{"t\\u0079pe":"n.v","data":{"a":1e999,"b":9007199254740993},'
                           b'"context":{"k\\u0065y":-0.0,"n":1E400,"s\\u0065nder":"x"}}',
        # What the scanner refuses although a lenient parser might not.
        "lone-surrogate": b'{"type":"t","data":{"s":"\\ud800"}}',
        "long-number": b'{"type":"t","data":{"n":' + b"1" * 70 + b"}}",
    }
    for name, body in envelopes.items():
        yield "envelope", name, bytes([31]) + body

    # fuzz-config: configuration files.
    yield "config", "empty-object", b"{}\n"
    yield "config", "all-keys", (
        b'{\n  "socket": "@capbus",\n  "state_dir": "/var/lib/capbus",\n  "manifest_dir": "/etc/capbus/manifests",\n'
        b'  "policy_file": "/etc/capbus/policy.json",\n  "user": "capbus",\n  "kernel_guard": "auto",\n'
        b'  "log_level": "info",\n  "max_frame": 65536,\n  "max_depth": 32,\n  "handshake_timeout_ms": 5000,\n'
        b'  "max_connections": 4096,\n  "max_pending": 256,\n  "max_queue": 8388608,\n'
        b'  "byte_rate": 67108864,\n  "socket_mode": 432\n}\n')
    yield "config", "limits", (
        b'{"max_pending": 64, "max_pending_per_uid": 16, "max_pending_per_peer": 8,\n'
        b' "max_connections": 100, "max_identity_connections": 100, "max_subscriptions": 10,\n'
        b' "max_subscription_bytes": 4096, "max_identity_subscriptions": 10,\n'
        b' "max_identity_subscription_bytes": 4096, "max_partial_bytes": 1048576,\n'
        b' "max_identity_partial_bytes": 262144}\n')
    yield "config", "unknown-key", b'{"sockett": "/run/capbus/bus.sock"}'
    yield "config", "duplicate", b'{"max_frame": 1024, "max_frame": 2048}'
    yield "config", "ranges", b'{"max_depth": 129, "byte_rate": 1e300, "socket_mode": 384.5}'
    yield "config", "guard", (
        b'{"kernel_guard": "required",\n "guard": {"scope": "/capbus.slice", "allow_cgroups": ["/user.slice", "/"],\n'
        b'  "allow_uids": [0, 1000, 4294967294], "simulate_missing_hook": false}}\n')

    # fuzz-subindex: 4-byte operations (op, pattern number LE16, shape + 5 * subscriber).
    def op(kind, k, shape, sub):
        return bytes([kind, k & 0xFF, k >> 8, shape + 5 * sub])
    yield "subindex", "every-shape", b"".join(op(0, 7, v, s) for v in range(5) for s in range(4))
    yield "subindex", "grow-then-remove", (b"".join(op(0, k, k % 4, 0) for k in range(200)) +
                                           b"".join(op(1, k, k % 4, 0) for k in range(0, 200, 3)))
    yield "subindex", "churn", b"".join(op(3, k, 0, 1) for k in range(300)) + op(0, 5, 4, 2) + op(2, 5, 0, 0)

    # fuzz-keyfile: key files.
    secret = ALICE_KEY.hex().encode()
    yield "keyfile", "client", b"# capbus key: keep private (mode 0600)\nid alice\nsecret " + secret + b"\n"
    yield "keyfile", "master", b"# capbus key: keep private (mode 0600)\nsecret " + secret + b"\n"
    yield "keyfile", "reordered", b"secret " + secret.upper() + b"\n\n# comment\nid org.example.weather"
    yield "keyfile", "duplicate-id", b"id a\nid b\nsecret " + secret + b"\n"
    yield "keyfile", "short-secret", b"id alice\nsecret " + secret[:62] + b"\n"


def regressions():
    """Inputs that once broke a target's checks; run-fuzzers.sh replays them on every run."""
    # Escaped NULs were accepted and cut strings short: another type or key than the text says.
    yield "envelope", "escaped-nul-type", bytes([31]) + b'{"type":"speak\\u0000.evil"}'
    yield "envelope", "escaped-nul-key", bytes([31]) + b'{"type\\u0000x":"speak"}'
    yield "envelope", "escaped-nul-context", bytes([31]) + b'{"type":"a","context":{"sender\\u0000":"admin"}}'
    # Types with empty segments were accepted although docs/protocol.md forbids them.
    yield "envelope", "empty-segment", bytes([31]) + b'{"type":"a..b"}'
    # The configuration parser stopped at a NUL byte and cut values at an escaped NUL.
    yield "config", "nul-then-text", b'{}\x00{"user": "root"}'
    yield "config", "escaped-nul-user", b'{"user": "capbus\\u0000root"}'


def write(out, items):
    for target, name, data in items:
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else here
    write(os.path.join(out, "corpus"), seeds())
    write(os.path.join(out, "regressions"), regressions())


if __name__ == "__main__":
    main()
