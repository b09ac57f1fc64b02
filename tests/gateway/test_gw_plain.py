#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plain ws:// only on loopback and only with "plain_loopback": true:
- plain_loopback true: ws:// to 127.0.0.1 works and gateway_plain_loopback is logged; another
  loopback address (127.0.0.2, inside 127/8) counts as loopback too;
- plain_loopback false with TLS: the loopback listener speaks TLS only, so a ws:// client fails
  and a wss:// one works;
- a non-loopback address without "tls" is refused at start (exit 1, message names
  gateway.listen[0]), and so is a loopback one when plain_loopback is false and there is no tls."""
import websocket
from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, free_port, recv_until

BOTH = ["socket", "gateway"]
MS = {"phone": manifest("phone", ["greet.*"], ["greet.*"], transports=BOTH)}


def main():
    p2 = free_port("127.0.0.2")
    with GatewayDaemon(MS, gateway={"listen": None}, start=False) as d:
        d.gw_config["gateway"]["listen"] = ["127.0.0.1:%d" % d.port, "127.0.0.2:%d" % p2]
        d.write_gw_config()
        d.start_gateway()
        d.wait_gw_log("event=gateway_plain_loopback listen=127.0.0.1:%d" % d.port)
        tok = d.token("phone")
        for host, port in (("127.0.0.1", d.port), ("127.0.0.2", p2)):
            c = d.ws("token=" + tok, host=host, port=port)
            recv_until(c, lambda m: m["type"] == "connected")
            c.close()

    with GatewayDaemon(MS, tls=True) as d:
        check("gateway_plain_loopback" not in d.gw_log(), "plain logged for a TLS listener")
        tok = d.token("phone")
        try:
            websocket.create_connection(d.url("token=" + tok, scheme="ws"), timeout=5)
            raise AssertionError("ws:// accepted with plain_loopback false")
        except (websocket.WebSocketException, ConnectionError, OSError):
            pass
        c = d.ws("token=" + tok)
        recv_until(c, lambda m: m["type"] == "connected")
        c.close()

        g = d.gw_config["gateway"]
        d.stop_gateway()
        g["listen"] = ["192.0.2.1:%d" % free_port()]
        del g["tls"]
        d.write_gw_config()
        start = d.gw_log_size()
        rc = d.start_gateway(expect_exit=True)
        check(rc == 1, "non-loopback plain listener: exit %r" % rc)
        check("gateway.listen[0]" in d.gw_log()[start:], "no message naming gateway.listen[0]: %s" % d.gw_log()[start:])
        g["listen"] = ["127.0.0.1:%d" % d.port]
        g["plain_loopback"] = False
        d.write_gw_config()
        start = d.gw_log_size()
        rc = d.start_gateway(expect_exit=True)
        check(rc == 1 and "gateway.listen[0]" in d.gw_log()[start:], "loopback, no tls, plain_loopback false: exit %r" % rc)


run_test(main)
