#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The gateway side of the challenge method and of token revocation, through real processes:
- ?auth=challenge: capbus.challenge carries the daemon's nonce; a right answer under the
  identity's key opens the session and capbus.authenticated carries the inner server proof
  (checked here); a wrong key gets bus.error then close 1008 (the router refused, status 3);
- a token session is closed with 1008 once its token leaves the store."""
import hashlib
import hmac
import json
import os

from capbus_harness import check, manifest, read_key_file, run_test
from gateway_harness import GatewayDaemon, recv_until, send


def proof(key, label, ns, nc, ident):
    idb = ident.encode()
    return hmac.new(key, label.encode() + ns + nc + bytes([len(idb)]) + idb, hashlib.sha256).digest()


def main():
    ms = {"alice": manifest("alice", ["greet.*"], ["greet.*"], transports=["socket", "gateway"])}
    with GatewayDaemon(ms) as d:
        _, key = read_key_file(d.keygen("alice"))
        for good in (True, False):
            c = d.ws("auth=challenge")
            m = json.loads(c.recv())
            check(m["type"] == "capbus.challenge", "got %r" % m)
            ns, nc = bytes.fromhex(m["data"]["nonce"]), os.urandom(32)
            k = key if good else os.urandom(32)
            answer = {"id": "alice", "cnonce": nc.hex(), "proof": proof(k, "capbus-ws-v1 client", ns, nc, "alice").hex()}
            c.send(json.dumps({"type": "capbus.auth", "data": answer, "context": {}}))
            if good:
                m = json.loads(c.recv())
                sp = proof(key, "capbus-ws-v1 server", ns, nc, "alice").hex()
                check(m["type"] == "capbus.authenticated" and m["data"]["server_proof"] == sp, "auth %r" % m)
                recv_until(c, lambda m: m["type"] == "connected")
                send(c, "greet.x")
                recv_until(c, lambda m: m["type"] == "greet.x")
            else:
                m = json.loads(c.recv())
                check(m["type"] == "bus.error", "bad: %r" % m)
                op, data = c.recv_data(control_frame=True)
                check(op == 8 and int.from_bytes(data[:2], "big") == 1008, "close %r" % data)
            c.close()
        # revocation: token session closed 1008 once its line leaves the store
        tok = d.token("alice")
        c = d.ws("token=" + tok)
        recv_until(c, lambda m: m["type"] == "connected")
        with open(d.tokens_path, "w") as f:
            f.write("")
        c.settimeout(5)
        op, data = c.recv_data(control_frame=True)
        check(op == 8 and int.from_bytes(data[:2], "big") == 1008, "revoked: %r %r" % (op, data))


run_test(main)
