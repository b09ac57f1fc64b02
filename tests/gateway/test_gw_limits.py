#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The gateway's limits, against real clients:
- a message above gateway.max_message is answered with close 1009 (and counted in the log);
- with max_frame 16 MiB a 10 MiB message (what Mycroft clients may send) passes whole;
- max_per_source: the connection after the limit is closed before any HTTP answer, and
  connections that closed without a request do not count;
- a TCP connection that sends no request is closed after the handshake timeout;
- the subject's manifest msg_rate applies per session: rate_limited errors, session kept."""
import json
import socket
import time

import websocket
from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, recv_until, send

BOTH = ["socket", "gateway"]


def main():
    ms = {"phone": manifest("phone", ["greet.*"], ["greet.*"], transports=BOTH),
          "slow": manifest("slow", ["greet.*"], [], transports=BOTH, limits={"msg_rate": 5}),
          "bob": manifest("bob", ["other.*"], ["greet.*"])}
    with GatewayDaemon(ms, gateway={"max_message": 4096, "max_per_source": 3}, handshake_timeout_ms=1000) as d:
        tok = d.token("phone")
        c = d.ws("token=" + tok)
        recv_until(c, lambda m: m["type"] == "connected")
        send(c, "greet.small", {"x": "a" * 3000})
        recv_until(c, lambda m: m["type"] == "greet.small")
        send(c, "greet.big", {"x": "a" * 5000})
        op, data = c.recv_data(control_frame=True)
        check(op == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 1009,
              "oversized: opcode %d %r" % (op, data[:2]))
        d.wait_gw_log("event=gateway_message_too_big")

        # connections closed before sending anything give their per-source slot back
        for _ in range(6):
            socket.create_connection(("127.0.0.1", d.port), timeout=5).close()
        time.sleep(0.5)
        # three live connections from 127.0.0.1, the fourth is refused at accept
        live = [d.ws("token=" + tok) for _ in range(3)]
        for x in live:
            recv_until(x, lambda m: m["type"] == "connected")
        try:
            d.ws("token=" + tok)
            raise AssertionError("a fourth connection from one source was accepted")
        except websocket.WebSocketBadStatusException as e:
            raise AssertionError("refused with HTTP %d, want a closed connection" % e.status_code)
        except (ConnectionError, websocket.WebSocketConnectionClosedException, OSError):
            pass
        d.wait_gw_log("reason=max_per_source")
        for x in live:
            x.close()
        time.sleep(0.3)

        # no request at all: closed after the handshake timeout (1 s)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        t0 = time.monotonic()
        check(s.recv(1) == b"", "an idle connection got bytes")
        took = time.monotonic() - t0
        check(took < 5, "idle connection kept %.1fs" % took)
        s.close()

        # the router's per-session msg_rate applies to the delegated session
        r = d.ws("token=" + d.token("slow"))
        recv_until(r, lambda m: m["type"] == "connected")
        for i in range(30):
            send(r, "greet.flood", {"i": i})
        err, _ = recv_until(r, lambda m: m["type"] == "bus.error" and m["data"]["code"] == "rate_limited")
        time.sleep(1.2)
        send(r, "greet.ping")  # still open: a permitted send gets no error, the socket stays
        r.settimeout(1)
        try:
            while True:
                m = json.loads(r.recv())
                check(not (m["type"] == "bus.error" and m["data"].get("type") == "greet.ping"), "after pause: %r" % m)
        except websocket.WebSocketTimeoutException:
            pass
        r.close()

    # 10 MiB through with max_frame 16 MiB
    with GatewayDaemon(ms, max_frame=16 * 1024 * 1024) as d:
        bob = d.client("bob")
        bob.subscribe("greet.*")
        c = d.ws("token=" + d.token("phone"))
        recv_until(c, lambda m: m["type"] == "connected")
        big = "b" * (10 * 1024 * 1024)
        send(c, "greet.huge", {"x": big})
        m = bob.recv_message(timeout=30)
        check(m["type"] == "greet.huge" and len(m["data"]["x"]) == len(big), "10 MiB message: %r" % m["type"])
        c.close()
        bob.close()


run_test(main)
