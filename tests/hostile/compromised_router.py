#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A compromised router, for test_bus_compromised_router.py: run by `capbusd --router PATH` in place
of the real one (fd 3 = the listening socket, fd 4 = the SOCK_SEQPACKET privsep channel).

It speaks the privsep packets of busd/common/privsep.h directly and tries to make the privileged
parent act without the admin's authority: forged tags, a reused nonce, a nonce the parent never
issued, no tag, a replay. To prove the channel works it also sends correctly signed requests,
with tags computed from the admin key file named in the plan. Every PS_REPLY status goes to the
plan's "out" file as JSON; then it keeps draining the channel until the parent stops it.

Plan: a JSON file named by $CAPBUS_FAKE_ROUTER_PLAN with "admin_key", "out" and "manifest".
"""
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.environ.get("CAPBUS_SOURCE_DIR", ""), "sdk", "python"))
from capbus import protocol  # noqa: E402

# enum ps_type (busd/common/privsep.h)
PS_REPLY, PS_ADMIN_NONCE, PS_NONCE, PS_ADMIN = 10, 20, 21, 22
OPS = {"keygen": 1, "install": 2, "remove": 3, "grant": 4, "revoke": 5}
ID_LEN = 65
HEADER = struct.Struct("=II")                         # struct ps_header
REQUEST = struct.Struct("=Q%ds7x" % ID_LEN)            # struct ps_request (80 bytes)
NONCE = struct.Struct("=Q32s")                        # struct ps_nonce
ADMIN = struct.Struct("=QIIII32s32s%ds7x" % ID_LEN)     # struct ps_admin (160 bytes)
REPLY = struct.Struct("=Qi%ds32s3x" % ID_LEN)           # struct ps_reply (112 bytes)
assert REQUEST.size == 80 and ADMIN.size == 160 and REPLY.size == 112


class Channel:
    def __init__(self, fd):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=fd)
        self.serial = 1000

    def send(self, mtype, payload):
        self.sock.send(HEADER.pack(mtype, len(payload)) + payload)

    def wait(self, mtype, serial):
        """The next packet of this type for this serial; bundles and the rest are skipped."""
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                raise SystemExit("the parent closed the channel")
            t, n = HEADER.unpack_from(data)
            payload = data[HEADER.size:]
            if len(payload) != n:
                raise SystemExit("bad packet from the parent")
            if t == mtype and struct.unpack_from("=Q", payload)[0] == serial:
                return payload

    def nonce(self):
        self.serial += 1
        self.send(PS_ADMIN_NONCE, REQUEST.pack(self.serial, b"admin"))
        return NONCE.unpack(self.wait(PS_NONCE, self.serial))[1]

    def admin_packet(self, op, ident, arg, body, nonce, tag):
        self.serial += 1
        a, b = arg.encode(), body.encode()
        fixed = ADMIN.pack(self.serial, OPS[op], len(a), len(b), 0, nonce, tag, ident.encode())
        return self.serial, fixed + a + b

    def admin(self, packet):
        """Sends a PS_ADMIN packet (serial, bytes); returns (status, key) of its PS_REPLY."""
        serial, payload = packet
        self.send(PS_ADMIN, payload)
        _, status, _, key = REPLY.unpack(self.wait(PS_REPLY, serial))
        return status, key


def main():
    with open(os.environ["CAPBUS_FAKE_ROUTER_PLAN"]) as f:
        plan = json.load(f)
    with open(plan["admin_key"]) as f:
        authority = protocol.parse_key_authority(f.read())
    body = plan["manifest"]
    ch = Channel(4)
    results = []

    def attempt(step, op, ident, arg="", body_text="", nonce=None, tag=None, sign=False):
        nonce = ch.nonce() if nonce is None else nonce
        if sign:
            tag = protocol.admin_authority(authority, nonce, op, ident, arg, body_text)
        packet = ch.admin_packet(op, ident, arg, body_text, nonce, tag)
        status, key = ch.admin(packet)
        results.append({"step": step, "status": status, "key": key.hex()})
        return packet, nonce

    _, n1 = attempt("forged", "install", "evil1", "x.*", body.replace("@ID@", "evil1"), tag=os.urandom(32))
    attempt("reused_nonce", "install", "evil2", "", body.replace("@ID@", "evil2"), nonce=n1, sign=True)
    attempt("unknown_nonce", "install", "evil3", "", body.replace("@ID@", "evil3"), nonce=os.urandom(32), sign=True)
    attempt("no_tag", "install", "evil4", "", body.replace("@ID@", "evil4"), tag=bytes(32))
    attempt("forged_keygen", "keygen", "alice", tag=os.urandom(32))
    # Bytes no admin can sign: a NUL inside the granted patterns and inside the manifest.
    attempt("nul_in_arg", "install", "evil5", "x.*\0y", body.replace("@ID@", "evil5"), tag=os.urandom(32))
    attempt("nul_in_body", "install", "evil6", "x.*", body.replace("@ID@", "evil6") + "\0" + "x" * 64, tag=os.urandom(32))
    good, _ = attempt("valid", "install", "good", "x.*", body.replace("@ID@", "good"), sign=True)
    attempt("valid_remove", "remove", "good", sign=True)
    status, key = ch.admin(good)
    results.append({"step": "replay", "status": status, "key": key.hex()})
    attempt("valid_keygen", "keygen", "alice", sign=True)

    tmp = plan["out"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f)
    os.rename(tmp, plan["out"])
    # Stay alive like a router would until the parent stops us.
    try:
        while ch.sock.recv(1 << 20):
            pass
    except OSError:
        pass


if __name__ == "__main__":
    main()
