#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plain ws:// only on loopback and only with "plain_loopback": true:
- plain_loopback true: ws:// to 127.0.0.1 works and gateway_plain_loopback is logged; another
  loopback address (127.0.0.2, inside 127/8) counts as loopback too;
- plain_loopback false with TLS: the loopback listener speaks TLS only, so a ws:// client fails
  and a wss:// one works;
- a non-loopback address without "tls" is refused at start (exit 1, message names
  gateway.listen[0]), and so is a loopback one when plain_loopback is false and there is no tls;
- each listener is bound to exactly its address: 127.0.0.1:P is not the wildcard (a client sent
  to another address of the host must be refused at connect), and 127.0.0.1:P with [::1]:P on
  the same port both listen."""
import os

import websocket
from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, free_port, recv_until

BOTH = ["socket", "gateway"]
MS = {"phone": manifest("phone", ["greet.*"], ["greet.*"], transports=BOTH)}


def listening(pid):
    """(address, port) of the TCP sockets in LISTEN state that process pid holds, from /proc."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for name, width in (("tcp", 8), ("tcp6", 32)):
        with open("/proc/%d/net/%s" % (pid, name)) as f:
            for line in f.read().splitlines()[1:]:
                w = line.split()
                if w[3] != "0A" or w[9] not in inodes:  # 0A: LISTEN
                    continue
                addr, port = w[1].split(":")
                out.append((name, addr, int(port, 16)))
    return out


def main():
    # Bound exactly: IPv4 literal on an IPv4 socket (not the dual-stack wildcard), and IPv6 on its own.
    port = free_port()
    with GatewayDaemon(MS, gateway={"listen": None}, start=False) as d:
        d.gw_config["gateway"]["listen"] = ["127.0.0.1:%d" % port, "[::1]:%d" % port]
        d.write_gw_config()
        d.start_gateway()
        socks = listening(d.gw_proc.pid)
        check(("tcp", "0100007F", port) in socks, "127.0.0.1:%d not listened on exactly: %r" % (port, socks))
        check(("tcp6", "00000000000000000000000001000000", port) in socks, "[::1]:%d not listened on: %r" % (port, socks))
        wild = [s for s in socks if s[1].strip("0") == ""]
        check(not wild, "a wildcard listener: %r" % wild)
        tok = d.token("phone")
        c = d.ws("token=" + tok, host="127.0.0.1", port=port)
        recv_until(c, lambda m: m["type"] == "connected")
        c.close()

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
