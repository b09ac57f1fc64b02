#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""TLS from the configured certificate and key (a self-signed pair made by openssl here): a wss
client that trusts that certificate connects with a token and exchanges messages; one that does
not trust it fails the TLS handshake; Basic authentication over TLS works too."""
import base64
import ssl

import websocket
from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, recv_until, send

BOTH = ["socket", "gateway"]


def main():
    ms = {"phone": manifest("phone", ["greet.*"], ["greet.*"], transports=BOTH)}
    with GatewayDaemon(ms, tls=True) as d:
        tok = d.token("phone")
        c = d.ws("token=" + tok)
        recv_until(c, lambda m: m["type"] == "connected")
        send(c, "greet.tls")
        m, _ = recv_until(c, lambda m: m["type"] == "greet.tls")
        check(m["context"]["sender"] == "phone", "sender %r" % m["context"])
        c.close()
        try:
            websocket.create_connection(d.url("token=" + tok), timeout=5, sslopt={"cert_reqs": ssl.CERT_REQUIRED})
            raise AssertionError("an untrusted certificate was accepted by the client")
        except (ssl.SSLError, websocket.WebSocketException, OSError):
            pass
        basic = base64.b64encode(("phone:" + tok).encode()).decode()
        c = d.ws(header=["Authorization: Basic " + basic])
        recv_until(c, lambda m: m["type"] == "connected")
        c.close()
        d.wait_gw_log("event=gateway_session_open id=\"phone\"")


run_test(main)
