#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gateway.max_buffered bounds every byte the gateway holds for messages, over all connections
(docs/gateway.md "Limits"): unfinished fragmented messages, messages queued toward the bus, and
messages queued toward clients that do not read.

- Connections holding unfinished fragmented messages: a source past its share (a quarter of
  max_buffered, at least 3 x max_message) is closed with 1011 (at=receive_source), so one source
  cannot shut out the others; the connection that would pass max_buffered is closed with 1011
  (at=receive); the others finish their messages, which arrive whole.
- A client that never reads while large messages are sent to it: closed with 1011 when its
  queue would pass max_buffered (at=deliver), not the gateway.
- The gateway stays up and serves a new connection afterwards, with its held bytes back to 0."""
import json
import re
import socket
import time

import websocket
from capbus_harness import check, manifest, run_test, wait_for
from gateway_harness import GatewayDaemon, recv_until, send

BOTH = ["socket", "gateway"]
MIB = 1 << 20


def close_code(c, timeout=10):
    c.settimeout(timeout)
    while True:
        op, data = c.recv_data(control_frame=True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else None


def held(d):
    vals = re.findall(r"event=gateway_stats .* held=(\d+)", d.gw_log())
    return int(vals[-1]) if vals else None


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def deaf_sessions():
    """Many sessions of one source that never read while 1 MiB messages come to them: the
    gateway's peak memory grows by about max_buffered (8 MiB here), not by what lws or the bus
    buffers hold besides; they are closed at their source's share (3 MiB), and a reading client
    of another source keeps getting every message."""
    ms = {"phone": manifest("phone", ["big.*"], ["big.*"], transports=BOTH, limits={"msg_rate": 1000}),
          "src": manifest("src", ["big.*"], [])}
    budget = 8 * MIB
    with GatewayDaemon(ms, gateway={"max_message": MIB, "max_buffered": budget, "max_per_source": 64},
                       max_frame=2 * MIB) as d:
        tok = d.token("phone")
        deaf = []
        for _ in range(24):
            c = d.ws("token=" + tok)
            recv_until(c, lambda m: m["type"] == "connected")
            send(c, "capbus.subscribe", {"pattern": "big.*"})
            deaf.append(c)
        time.sleep(0.5)
        pid = d.gw_proc.pid
        base = vm(pid, "VmHWM")
        src = d.client("src")
        for i in range(12):
            src.send("big.flood", {"i": i, "pad": "q" * (MIB - 200)})
            time.sleep(0.05)
        time.sleep(2)
        peak = vm(pid, "VmHWM")
        print("# gateway peak RSS: %.1f MiB before, %.1f MiB after (budget %.0f MiB)" %
              (base / MIB, peak / MIB, budget / MIB))
        check(d.gw_proc.poll() is None, "the gateway died")
        check("at=deliver_source" in d.gw_log(), "no deaf session was closed at its source's share:\n%s" %
              d.gw_log()[-2000:])
        # a reading client of another source is not the one that goes
        sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sk.bind(("127.0.0.2", 0))
        sk.connect(("127.0.0.1", d.port))
        reader = d.ws("token=" + tok, socket=sk)
        recv_until(reader, lambda m: m["type"] == "connected")
        got = []
        for i in range(6):   # one at a time, as a reader that keeps up receives them
            src.send("big.flood", {"i": 100 + i, "pad": "r" * (MIB - 200)})
            got.append(recv_until(reader, lambda m: m["type"] == "big.flood", timeout=10)[0]["data"]["i"])
        check(got == list(range(100, 106)), "the reading client of another source got %r" % got)
        reader.close()
        check(peak - base < 4 * budget, "the gateway's memory grew by %.1f MiB for a %.0f MiB budget" %
              ((peak - base) / MIB, budget / MIB))
        for c in deaf:
            try:
                c.close(timeout=0.2)
            except Exception:
                pass


def main():
    ms = {"phone": manifest("phone", ["big.*"], ["big.*"], transports=BOTH,
                            limits={"msg_rate": 1000}),
          # sends only: its messages do not come back to it
          "holder": manifest("holder", ["big.*"], [], transports=BOTH, limits={"msg_rate": 1000}),
          "ear": manifest("ear", [], ["big.*"])}
    with GatewayDaemon(ms, gateway={"max_message": 300 * 1024, "max_buffered": 2 * MIB, "max_per_source": 64}, max_frame=MIB) as d:
        tok = d.token("holder")
        phone_tok = d.token("phone")
        ear = d.client("ear")
        check(ear.subscribe("big.*")["type"] == "capbus.subscribe.reply", "ear subscribe")
        def from_addr(addr):
            """A session whose TCP connection comes from addr (each loopback address is a source)."""
            sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sk.bind((addr, 0))
            sk.connect(("127.0.0.1", d.port))
            c = d.ws("token=" + tok, socket=sk)
            recv_until(c, lambda m: m["type"] == "connected")
            return c

        def hold(c, n, fill="x"):
            """An unfinished message of n bytes; False when the gateway closed while it was sent."""
            try:
                c.send_frame(websocket.ABNF.create_frame(head + fill * n, websocket.ABNF.OPCODE_TEXT, fin=0))
                return True
            except OSError:
                return False

        def refused(c):
            """Close 1011, or a reset when the close came while the client was still sending."""
            try:
                return close_code(c) == 1011
            except (OSError, websocket.WebSocketConnectionClosedException):
                return True

        head = '{"type":"big.one","data":{"pad":"'
        K = 250 * 1024
        # max_message 300 KiB, max_buffered 2 MiB: a source's share is 900 KiB (3 x max_message,
        # above a quarter of the budget). One source holds three unfinished 250 KiB messages;
        # its fourth passes its share and is closed
        h = [from_addr("127.0.0.1") for _ in range(4)]
        for c in h[:3]:
            check(hold(c, K), "a message within the source's share was refused")
        time.sleep(0.3)
        hold(h[3], K, "b")
        d.wait_gw_log("at=receive_source")
        check(refused(h[3]), "a source past its share: not closed with 1011")
        # other sources go on until the whole budget: four more fit (1750 KiB + 250 KiB), the
        # next one is closed
        others = [from_addr("127.0.0.%d" % i) for i in range(2, 7)]
        for c in others:
            check(hold(c, K, "c"), "another source's message was refused")
            time.sleep(0.1)
        last = from_addr("127.0.0.7")
        hold(last, K, "y")
        d.wait_gw_log("at=receive ")
        check(refused(last), "the connection past max_buffered: not closed with 1011")
        third = last
        conns = h[:3] + others
        # two holders finish their messages: both arrive whole
        for c in (h[0], others[0]):
            c.send_frame(websocket.ABNF.create_frame('"}}', websocket.ABNF.OPCODE_CONT, fin=1))
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            m = ear.recv_message(5)
            if m["type"] == "big.one":
                got.append(len(m["data"]["pad"]))
        check(got == [K] * 2, "finished messages: %r" % got)

        # a client that does not read: 300 KiB messages to it pile up until max_buffered
        deaf = d.ws("token=" + phone_tok)
        recv_until(deaf, lambda m: m["type"] == "connected")
        start = len(d.gw_log())
        sender = d.client("phone")
        # (the kernel's socket buffers toward the deaf client take several MiB first)
        for i in range(250):
            sender.send("big.flood", {"i": i, "pad": "z" * (300 * 1024)})
            if "at=deliver" in d.gw_log()[start:]:
                break
            time.sleep(0.01)
        d.wait_gw_log("at=deliver", timeout=10, start=start)
        check(d.gw_proc.poll() is None, "the gateway died")

        # afterwards: a new connection works, and nothing stays held once everyone is gone
        for c in conns + [third, deaf]:
            try:
                c.close(timeout=1)
            except Exception:
                pass
        fresh = d.ws("token=" + phone_tok)
        recv_until(fresh, lambda m: m["type"] == "connected")
        send(fresh, "big.small", {"x": 1})
        recv_until(fresh, lambda m: m["type"] == "big.small", timeout=10)
        fresh.close()
        time.sleep(1.0)   # closed conns are freed (a draining one within its 5 s at most)
        wait_for(lambda: "event=gateway_session_closed" in d.gw_log(), 10, what="sessions closed")
        time.sleep(5.5)
        d.stop_gateway()
        check(held(d) == 0, "bytes still held with no connection: %r" % held(d))


if __name__ == "__main__":
    run_test(lambda: (main(), deaf_sessions()))
