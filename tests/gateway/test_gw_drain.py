#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Nothing a client sent is lost when it closes: a WebSocket client sends several MB as fast as it
can and closes at once; a native subscriber receives every message, in order.

The router is stopped (SIGSTOP) while the client sends, so the gateway must queue (its bus
out-queue fills to GW_QUEUE_HIGH, then it stops reading the client and the rest waits in the
kernel's TCP buffers), and continued after the client has closed (or after 3 s if the client's
sends block first). Two ways to close: a close frame followed at once by the end of the TCP
stream, and the end of the TCP stream (FIN) with no close frame. Each time the gateway ends the
session (gateway_session_closed) once the queue is written; at the end no connection is left
(gateway_stats connections=0)."""
import json
import os
import signal
import socket
import threading
import time

from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, recv_until, send

BOTH = ["socket", "gateway"]
N = 150           # messages per run
PAD = 30000       # bytes of padding per message: about 4.5 MB per run, above the 1 MiB bus queue


def sender(c, run, mode, done):
    try:
        for i in range(N):
            send(c, "greet.bulk", {"run": run, "seq": i, "pad": "x" * PAD})
        if mode == "close_frame":
            c.send_close()  # and gone at once, without waiting for the gateway's reply
            c.sock.shutdown(socket.SHUT_WR)
            c.sock.close()
        else:  # no close frame: the TCP stream just ends
            c.sock.shutdown(socket.SHUT_WR)
            c.sock.close()
        done["ok"] = True
    except Exception as e:  # reported by the main thread
        done["error"] = repr(e)


def collect(ear, run, timeout=30.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < N and time.monotonic() < deadline:
        try:
            m = ear.recv_message(timeout=max(0.1, deadline - time.monotonic()))
        except socket.timeout:
            break
        if m.get("type") == "greet.bulk" and m["data"].get("run") == run:
            got.append(m["data"]["seq"])
    return got


def one_run(d, ear, tok, run, mode):
    c = d.ws("token=" + tok, timeout=30)
    first, _ = recv_until(c, lambda m: True)
    check(first["type"] == "connected", "first message %r, want the greeting" % first)
    router = d.router_pid()
    check(router, "no router process")
    done = {}
    t = threading.Thread(target=sender, args=(c, run, mode, done), daemon=True)
    os.kill(router, signal.SIGSTOP)
    try:
        t.start()
        t.join(3.0)
    finally:
        os.kill(router, signal.SIGCONT)
    t.join(30.0)
    check(done.get("ok"), "the client could not send and close (%s): %r" % (mode, done))
    got = collect(ear, run)
    check(got == list(range(N)),
          "%s: the subscriber got %d of %d messages (first missing: %r)" %
          (mode, len(got), N, next((i for i in range(N) if i not in got), None)))


def main():
    ms = {"phone": manifest("phone", ["greet.*"], [], transports=BOTH),
          "ear": manifest("ear", [], ["greet.*"])}
    with GatewayDaemon(ms) as d:
        tok = d.token("phone")
        ear = d.client("ear", timeout=30)
        r = ear.subscribe("greet.*")
        check(r["type"] != "bus.error", "subscribe: %r" % r)
        for n, mode in enumerate(("close_frame", "fin"), 1):
            one_run(d, ear, tok, "%s-%d" % (mode, n), mode)
            # the conn ends (and is freed) once its queue is written
            deadline = time.monotonic() + 10
            while d.gw_log().count('event=gateway_session_closed id="phone"') < n:
                check(time.monotonic() < deadline, "%s: the session never closed:\n%s" % (mode, d.gw_log()[-4000:]))
                time.sleep(0.05)
        log = d.gw_log()
        check("event=gateway_drain_dropped" not in log, "a drain dropped messages:\n%s" % log[-4000:])
        print("gateway_draining lines: %d" % log.count("event=gateway_draining"))
        d.stop_gateway(signal.SIGTERM)
        stats = [line for line in d.gw_log().splitlines() if "event=gateway_stats" in line]
        check(stats and " connections=0 " in stats[-1], "connections left at exit: %r" % stats[-1:])
        ear.close()


run_test(main)
