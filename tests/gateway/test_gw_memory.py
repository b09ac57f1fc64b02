#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gateway.max_buffered bounds every byte the gateway holds for messages, over all connections
(docs/gateway.md "Limits"): unfinished fragmented messages, messages queued toward the bus, and
messages queued toward clients that do not read.

- Connections holding unfinished fragmented messages: the one that would pass max_buffered is
  closed with 1011 and counted (gateway_memory_full at=receive); the others finish their
  messages, which arrive whole.
- A client that never reads while large messages are sent to it: closed with 1011 when its
  queue would pass max_buffered (at=deliver), not the gateway.
- The gateway stays up and serves a new connection afterwards, with its held bytes back to 0."""
import json
import re
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
    """Many sessions that never read while 1 MiB messages come to them: the gateway's peak memory
    grows by about max_buffered (4 MiB here), not by what lws or the bus buffers hold besides."""
    ms = {"phone": manifest("phone", ["big.*"], ["big.*"], transports=BOTH, limits={"msg_rate": 1000}),
          "src": manifest("src", ["big.*"], [])}
    budget = 4 * MIB
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
        check("at=deliver" in d.gw_log(), "no connection was closed at the budget:\n%s" % d.gw_log()[-2000:])
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
          "ear": manifest("ear", [], ["big.*"])}
    with GatewayDaemon(ms, gateway={"max_message": 600 * 1024, "max_buffered": 1 * MIB}, max_frame=MIB) as d:
        tok = d.token("phone")
        ear = d.client("ear")
        check(ear.subscribe("big.*")["type"] == "capbus.subscribe.reply", "ear subscribe")
        conns = []
        for _ in range(2):
            c = d.ws("token=" + tok)
            recv_until(c, lambda m: m["type"] == "connected")
            conns.append(c)
        head = '{"type":"big.one","data":{"pad":"'
        # two unfinished 450 KiB messages: 900 KiB held
        for c in conns:
            c.send_frame(websocket.ABNF.create_frame(head + "x" * (450 * 1024), websocket.ABNF.OPCODE_TEXT, fin=0))
        time.sleep(0.5)
        third = d.ws("token=" + tok)
        recv_until(third, lambda m: m["type"] == "connected")
        third.send_frame(websocket.ABNF.create_frame(head + "y" * (200 * 1024), websocket.ABNF.OPCODE_TEXT, fin=0))
        code = close_code(third)
        check(code == 1011, "the connection past max_buffered: close %r, want 1011" % code)
        d.wait_gw_log("event=gateway_memory_full")
        check("at=receive" in d.gw_log(), d.gw_log()[-2000:])
        # the first two finish their messages: both arrive whole
        for c in conns:
            c.send_frame(websocket.ABNF.create_frame('"}}', websocket.ABNF.OPCODE_CONT, fin=1))
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            m = ear.recv_message(5)
            if m["type"] == "big.one":
                got.append(len(m["data"]["pad"]))
        check(got == [450 * 1024] * 2, "finished messages: %r" % got)

        # a client that does not read: 300 KiB messages to it pile up until max_buffered
        deaf = conns[0]
        send(deaf, "capbus.subscribe", {"pattern": "big.*"})
        time.sleep(0.3)
        sender = d.client("phone")
        start = len(d.gw_log())
        for i in range(40):
            sender.send("big.flood", {"i": i, "pad": "z" * (300 * 1024)})
            if "at=deliver" in d.gw_log()[start:]:
                break
            time.sleep(0.02)
        d.wait_gw_log("at=deliver", timeout=10, start=start)
        check(d.gw_proc.poll() is None, "the gateway died")

        # afterwards: a new connection works, and nothing stays held once everyone is gone
        for c in conns + [third]:
            try:
                c.close(timeout=1)
            except Exception:
                pass
        fresh = d.ws("token=" + tok)
        recv_until(fresh, lambda m: m["type"] == "connected")
        send(fresh, "big.small", {"x": 1})
        recv_until(fresh, lambda m: m["type"] == "big.small" or m["type"] == "big.flood", timeout=10)
        fresh.close()
        time.sleep(1.0)   # closed conns are freed (a draining one within its 5 s at most)
        wait_for(lambda: "event=gateway_session_closed" in d.gw_log(), 10, what="sessions closed")
        time.sleep(5.5)
        d.stop_gateway()
        check(held(d) == 0, "bytes still held with no connection: %r" % held(d))


if __name__ == "__main__":
    run_test(lambda: (main(), deaf_sessions()))
