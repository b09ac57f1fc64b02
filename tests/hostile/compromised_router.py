#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A compromised router, for test_bus_compromised_router.py: run by `capbusd --router PATH` in place
of capbusd-router (fd 3 = the listening socket, fd 4 = the SOCK_SEQPACKET privsep channel).

It speaks the privsep packets of busd/common/privsep.h directly, as a router would: it takes
PS_ROUTER_CONFIG (always the parent's first message) and answers PS_ROUTER_READY. Then it tries
to make the privileged parent act without the admin's authority: forged tags, a reused nonce, a
nonce the parent never issued, no tag, a replay. Each of these packets is well-formed (the
parent's decoder takes it), so what refuses it is the authority check. To prove the channel
works it also sends correctly signed requests, with tags computed from the admin key file named
in the plan. Every PS_REPLY status goes to the plan's "out" file as JSON; then it keeps draining
the channel until the parent stops it.

The parent gives the router no environment but the sanitizers' settings, so the test runs this
program through a small wrapper: argv[1] is the plan, a JSON file with "admin_key", "out",
"manifest", "source_dir", "marker" and "real_router".
"""
import json
import os
import socket
import struct
import sys

with open(sys.argv[1]) as plan_file:
    PLAN = json.load(plan_file)
if os.path.exists(PLAN["marker"]):
    os.execv(PLAN["real_router"], ["capbusd-router"])
sys.path.insert(0, os.path.join(PLAN["source_dir"], "sdk", "python"))
from capbus import protocol  # noqa: E402

# enum ps_type (busd/common/privsep.h)
PS_REPLY, PS_ROUTER_CONFIG, PS_ROUTER_READY, PS_ADMIN_NONCE, PS_NONCE, PS_ADMIN = 10, 18, 19, 20, 21, 22
OPS = {"keygen": 1, "install": 2, "remove": 3, "grant": 4, "revoke": 5}
ID_LEN = 65
HEADER = struct.Struct("=II")                         # struct ps_header
REQUEST = struct.Struct("=Q%ds7x" % ID_LEN)            # struct ps_request (80 bytes)
NONCE = struct.Struct("=Q32s")                        # struct ps_nonce
ADMIN = struct.Struct("=QIIII32s32s%ds7x" % ID_LEN)     # struct ps_admin (160 bytes)
REPLY = struct.Struct("=Qi%ds32s3x" % ID_LEN)           # struct ps_reply (112 bytes)
ROUTER_CONFIG_SIZE = 96                                # struct ps_router_config
assert REQUEST.size == 80 and ADMIN.size == 160 and REPLY.size == 112


class Channel:
    def __init__(self, fd):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=fd)
        self.serial = 1000

    def send(self, mtype, payload):
        self.sock.send(HEADER.pack(mtype, len(payload)) + payload)

    def start(self):
        """The parent's first message is the configuration; a router answers that it is ready."""
        data = self.sock.recv(1 << 20)
        t, n = HEADER.unpack_from(data)
        if t != PS_ROUTER_CONFIG or n != ROUTER_CONFIG_SIZE or len(data) != HEADER.size + n:
            raise SystemExit("the parent's first packet is not its configuration")
        self.send(PS_ROUTER_READY, b"")

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


def read_authority(path):
    with open(path) as f:
        return protocol.parse_key_authority(f.read())


def main():
    plan = PLAN
    body = plan["manifest"]
    ch = Channel(4)
    ch.start()
    results = []
    authority = []

    def attempt(step, op, ident, arg="", body_text="", nonce=None, tag=None, sign=False):
        nonce = ch.nonce() if nonce is None else nonce
        if sign:
            # Read only now: the parent writes admin.key after starting us, and answers a nonce
            # only once it is serving (the first attempt asked for one).
            if not authority:
                authority.append(read_authority(plan["admin_key"]))
            tag = protocol.admin_authority(authority[0], nonce, op, ident, arg, body_text)
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

    # Well-formed for the table (fixed size, text within bounds, terminated id), but the lengths
    # claim 5 bytes of arg where 2 bytes of text follow.
    open(plan["marker"], "w").close()
    ch.serial += 1
    bad = ADMIN.pack(ch.serial, OPS["install"], 5, 0, 0, ch.nonce(), bytes(32), b"evil7") + b"ab"
    ch.send(PS_ADMIN, bad)
    # Stay alive like a router would until the parent stops us.
    try:
        while ch.sock.recv(1 << 20):
            pass
    except OSError:
        pass

if __name__ == "__main__":
    main()
