#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tampered, replayed, dropped, reordered or untagged frames close the connection and count as bad_mac;
nothing from them is delivered and other clients keep flowing."""
import json

from capbus_harness import Closed, Daemon, check, manifest, run_test


def body(n):
    return json.dumps({"type": "greet.t", "data": {"n": n}}).encode()


def attack_flip_body(c):
    f = bytearray(c.seal(body(1)))
    f[4 + 10] ^= 0x01
    c.send_raw(bytes(f))


def attack_flip_tag(c):
    f = bytearray(c.seal(body(1)))
    f[-1] ^= 0x80
    c.send_raw(bytes(f))


def attack_flip_length(c):
    # Same body, header says one byte less: the last body byte becomes part of the "tag".
    f = bytearray(c.seal(body(1)))
    f[3] -= 1
    c.send_raw(bytes(f[:-1]))


def attack_replay(c):
    f = c.send_body(body(1))
    c.ping()
    c.send_raw(f)


def attack_drop(c):
    c.seal(body(1))              # signed with seq 0, never sent
    c.send_raw(c.seal(body(2)))  # seq 1 where the daemon expects 0


def attack_reorder(c):
    a, b = c.seal(body(1)), c.seal(body(2))
    c.send_raw(b + a)


def attack_strip_tag(c):
    f = c.seal(body(1))
    c.send_raw(f[:-16] + c.seal(body(2)))


def attack_zero_tag(c):
    f = c.seal(body(1))
    c.send_raw(f[:-16] + b"\x00" * 16)


def attack_other_direction_key(c):
    # A frame MAC'd with the daemon->client key (as if reflecting the daemon's own frames).
    from capbus_harness import protocol
    hdr = protocol.header(len(body(1)))
    c.send_raw(hdr + body(1) + protocol.MacState(c.session.rx.key)._tag(hdr, body(1)))


def attack_other_session(c, other):
    # A valid frame of another connection of the same identity.
    c.send_raw(other.seal(body(1)))


ATTACKS = [attack_flip_body, attack_flip_tag, attack_flip_length, attack_replay, attack_drop, attack_reorder,
           attack_strip_tag, attack_zero_tag, attack_other_direction_key]


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], []), "bob": manifest("bob", [], ["greet.*"])}) as d:
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        before = d.stats()["bad_mac"]
        n = 0
        for attack in ATTACKS + [attack_other_session]:
            c = d.client("alice")
            if attack is attack_other_session:
                other = d.client("alice")
                attack(c, other)
            else:
                attack(c)
            n += 1
            check(c.wait_closed(3), "%s: connection not closed" % attack.__name__)
            got = bob.drain(0.1)
            legit = [m for m in got if m["data"]["n"] == 1 and attack is attack_replay]
            check(len(got) == len(legit) and len(legit) <= 1,
                  "%s: tampered frame delivered: %r" % (attack.__name__, got))
            st = d.stats()
            check(st["bad_mac"] == before + n, "%s: bad_mac is %d, want %d" % (attack.__name__, st["bad_mac"], before + n))
        check("reason=bad_mac" in d.log(), "no bad_mac disconnect in the log")
        # A client must not accept a tampered frame from the daemon either: the Python session refuses it.
        c = d.client("alice")
        c.send_body(b'{"type":"capbus.ping","data":{"request":1}}')
        hdr, b, tag = c.recv_frame()
        try:
            c.session.open(hdr, b[:-1] + b"x", tag)
            check(False, "a tampered daemon frame verified")
        except Exception:
            pass
        # The daemon and other clients are fine.
        a = d.client("alice")
        a.send("greet.ok", {"n": 99})
        m = bob.recv_message(5)
        check(m["data"]["n"] == 99, "bob got %r" % m)
        try:
            bob.ping()
        except Closed:
            check(False, "bob was disconnected")


if __name__ == "__main__":
    run_test(main)
