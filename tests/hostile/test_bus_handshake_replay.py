#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Recorded or tampered handshakes do not authenticate: the daemon nonce differs per connection."""
import os
import struct

from capbus_harness import Closed, Daemon, bad_auth_frame, RawClient, check, manifest, protocol, read_key_file, run_test

REFUSED = protocol.MAGIC + bytes([protocol.STATUS_AUTH_FAILED])


def refused(c):
    """The daemon's answer to whatever AUTH was sent on c: True for a refusal or a close."""
    try:
        _, body, _ = c.recv_frame(tagged=False, timeout=5)
    except Closed:
        return True
    return body == REFUSED


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}) as d:
        d.keygen("alice")
        ident, key = read_key_file(os.path.join(d.keys_dir, "alice.key"))
        good = d.client("alice")
        recorded = good.auth_frame
        hellos = set()

        # 1. Replay a recorded AUTH on a fresh connection.
        for _ in range(3):
            c = RawClient(d.socket, ident, key)
            hellos.add(c.hello())
            c.send_raw(recorded)
            check(refused(c), "a replayed AUTH was accepted")
            check(c.wait_closed(3), "connection kept open after a refused AUTH")
        check(len(hellos) == 3, "daemon nonces repeat across connections")

        # 2. Tamper with a correct AUTH: every field matters.
        c0 = RawClient(d.socket, ident, key)
        hello = c0.hello()
        c0.close()
        for field, offset in (("magic", 4 + 2), ("client nonce", 4 + 8 + 3), ("proof", 4 + 40 + 5),
                              ("id", 4 + 73 + 1)):
            c = RawClient(d.socket, ident, key)
            hs = protocol.ClientHandshake(ident, key)
            auth = hs.auth(c.hello())
            frame = bytearray(protocol.header(len(auth)) + auth)
            frame[offset] ^= 0x01
            c.send_raw(bytes(frame))
            check(refused(c), "AUTH with a flipped bit in the %s was accepted" % field)
        # id_len that disagrees with the frame, truncated and extended AUTH frames.
        for mutate in (lambda a: a[:-1], lambda a: a + b"x", lambda a: a[:72] + bytes([a[72] + 1]) + a[73:],
                       lambda a: a[:72] + bytes([a[72] - 1]) + a[73:], lambda a: a[:72] + b"\x00",
                       lambda a: a[:72] + bytes([65]) + b"a" * 65, lambda a: a[:72] + bytes([5]) + b"ALICE"):
            c = RawClient(d.socket, ident, key)
            auth = mutate(protocol.ClientHandshake(ident, key).auth(c.hello()))
            c.send_raw(protocol.header(len(auth)) + auth)
            check(refused(c), "a malformed AUTH was accepted")

        # 3. A proof computed for a different daemon nonce (the previous connection's).
        c = RawClient(d.socket, ident, key)
        stale = protocol.ClientHandshake(ident, key).auth(hello)
        c.hello()
        c.send_raw(protocol.header(len(stale)) + stale)
        check(refused(c), "an AUTH bound to an old nonce was accepted")

        # 4. Reflection: send the daemon's own HELLO back as AUTH; a second AUTH after a refusal.
        c = RawClient(d.socket, ident, key)
        h = c.hello()
        c.send_raw(struct.pack(">I", len(h)) + h)
        check(refused(c), "a reflected HELLO was accepted")
        c = RawClient(d.socket, ident, key)
        h = c.hello()
        c.send_raw(bad_auth_frame(h, ident))
        check(refused(c), "a wrong proof was accepted")
        auth = protocol.ClientHandshake(ident, key).auth(h)  # now the right proof for this nonce
        try:
            c.send_raw(protocol.header(len(auth)) + auth)
            check(refused(c), "a second AUTH after a refusal was accepted")
        except (BrokenPipeError, ConnectionResetError):
            pass
        check(c.wait_closed(3), "a second AUTH after a refusal was considered")

        check(d.alive(), "daemon died")
        good.ping()
        d.client("alice").ping()


if __name__ == "__main__":
    run_test(main)
