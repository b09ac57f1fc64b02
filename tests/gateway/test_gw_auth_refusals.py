#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Refusals at the upgrade and the lock-out, through the running gateway:
- a wrong route is 404; no credential 401; a wrong token 401 with WWW-Authenticate Basic;
- a token for an identity whose manifest does not accept the gateway: upgrade, then close 1008
  and gateway_delegation_refused (the router refused the delegation);
- five failures from one source (127.0.0.3) lock it out: its TCP connections are then closed at
  once, with gateway_auth_failed / gateway_lockout log lines, while a good client from
  127.0.0.1 keeps working; after the lock (1 s) the source may try again."""
import socket
import time

import websocket
from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, recv_until, send, ws_status

BOTH = ["socket", "gateway"]


def from_source(d, src, query):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5, source_address=(src, 0))
    return websocket.create_connection(d.url(query), socket=s, timeout=5)


def main():
    ms = {"phone": manifest("phone", ["greet.*"], ["greet.*"], transports=BOTH),
          "native": manifest("native", ["greet.*"], ["greet.*"])}
    with GatewayDaemon(ms) as d:
        good = d.token("phone")
        bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        check(ws_status(lambda: d.ws("token=" + good, path="/other")) == 404, "wrong route not 404")
        check(ws_status(lambda: d.ws()) == 401, "no credential not 401")
        try:
            d.ws("token=" + bad)
            raise AssertionError("a wrong token was accepted")
        except websocket.WebSocketBadStatusException as e:
            check(e.status_code == 401, "wrong token: status %d" % e.status_code)
            hdrs = {k.lower(): v for k, v in (e.resp_headers or {}).items()}
            check(hdrs.get("www-authenticate") == 'Basic realm="capbus"', "headers %r" % hdrs)

        # not delegable: the router refuses, the gateway closes with 1008
        c = d.ws("token=" + d.token("native"))
        c.settimeout(5)
        op, data = c.recv_data(control_frame=True)
        check(op == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 1008,
              "not delegable: got opcode %d %r" % (op, data))
        d.wait_gw_log("event=gateway_delegation_refused id=\"native\" method=token status=2")

        ok = d.ws("token=" + good)
        recv_until(ok, lambda m: m["type"] == "connected")
        start = d.gw_log_size()
        for i in range(5):
            try:
                from_source(d, "127.0.0.3", "token=" + bad)
                raise AssertionError("a wrong token was accepted")
            except websocket.WebSocketBadStatusException as e:
                check(e.status_code == 401, "attempt %d: status %d" % (i, e.status_code))
        d.wait_gw_log("event=gateway_lockout source=127.0.0.3 failures=5 seconds=1", start=start)
        check(d.gw_log()[start:].count("event=gateway_auth_failed") >= 5, "failures not logged")
        # locked: even the good token from that source is cut off before any HTTP
        try:
            from_source(d, "127.0.0.3", "token=" + good)
            raise AssertionError("a locked-out source was served")
        except websocket.WebSocketBadStatusException as e:
            raise AssertionError("a locked-out source got an HTTP answer %d" % e.status_code)
        except (ConnectionError, websocket.WebSocketConnectionClosedException, OSError):
            pass
        d.wait_gw_log("reason=locked source=127.0.0.3", start=start)
        # the good client from another source keeps working throughout
        send(ok, "greet.still")
        recv_until(ok, lambda m: m["type"] == "greet.still")
        ok2 = d.ws("token=" + good)
        recv_until(ok2, lambda m: m["type"] == "connected")
        ok2.close()
        time.sleep(1.3)  # base_s 1: the lock has ended
        c = from_source(d, "127.0.0.3", "token=" + good)
        recv_until(c, lambda m: m["type"] == "connected")
        c.close()
        ok.close()


run_test(main)
