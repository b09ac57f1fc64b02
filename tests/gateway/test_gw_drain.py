#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Nothing a client sent is lost when it closes: a WebSocket client sends several MB as fast as it
can and closes at once; a native subscriber receives every message, in order.

The router is stopped (SIGSTOP) while the client sends, so the gateway must queue (its bus
out-queue fills to GW_QUEUE_HIGH, then it stops reading the client and the rest waits in the
kernel's TCP buffers), and continued after the client has closed (or after 3 s if the client's
sends block first). Three ways to close: a close frame followed at once by the end of the TCP
stream, and the end of the TCP stream (FIN) with no close frame: every message arrives; a reset
(RST): lws closes a paused connection on the reset without reading what the kernel still holds,
so only the messages the gateway had accepted (the session's in= count) arrive, and every one of
them does. Each time the gateway ends the session (gateway_session_closed) once the queue is
written; at the end no connection is left (gateway_stats connections=0).

With the router kept stopped, the drain deadline (GW_DRAIN_S, 5 s) frees a draining conn
(gateway_drain_dropped), and a gateway stopped while a conn drains exits cleanly."""
import os
import signal
import socket
import struct
import threading
import time

from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, recv_until, send
from gwtest import events

BOTH = ["socket", "gateway"]
N = 150           # messages per run
PAD = 30000       # bytes of padding per message: about 4.5 MB per run, above the 1 MiB bus queue


def sender(c, run, mode, done, n=N):
    try:
        for i in range(n):
            send(c, "greet.bulk", {"run": run, "seq": i, "pad": "x" * PAD})
        if mode == "close_frame":
            c.send_close()  # and gone at once, without waiting for the gateway's reply
            c.sock.shutdown(socket.SHUT_WR)
        elif mode == "fin":  # no close frame: the TCP stream just ends
            c.sock.shutdown(socket.SHUT_WR)
        else:  # "rst": no close frame, and the connection is reset, once the gateway has had
            # time to fill its bus queue (it reads until GW_QUEUE_HIGH, then pauses)
            time.sleep(1.5)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.sock.close()
        done["ok"] = True
    except Exception as e:  # reported by the main thread
        done["error"] = repr(e)


def collect(ear, run, n, timeout=30.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        try:
            m = ear.recv_message(timeout=max(0.1, deadline - time.monotonic()))
        except socket.timeout:
            break
        if m.get("type") == "greet.bulk" and m["data"].get("run") == run:
            got.append(m["data"]["seq"])
    return got


def session_closed(d, n):
    """The n-th gateway_session_closed line of "phone" (waits for it)."""
    deadline = time.monotonic() + 15
    while True:
        got = [e for e in events(d.gw_log(), "gateway_session_closed") if e.get("id") == "phone"]
        if len(got) >= n:
            return got[n - 1]
        check(time.monotonic() < deadline, "session %d never closed:\n%s" % (n, d.gw_log()[-4000:]))
        time.sleep(0.05)


def one_run(d, ear, tok, n, mode):
    run = "%s-%d" % (mode, n)
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
    # the conn ends (and is freed) once its queue is written; in= counts the messages the
    # gateway accepted from the client
    accepted = int(session_closed(d, n)["in"])
    want = N if mode != "rst" else accepted
    check(accepted == want and want > 0, "%s: the gateway accepted %d messages" % (mode, accepted))
    got = collect(ear, run, want)
    check(got == list(range(want)),
          "%s: the subscriber got %d of %d messages (first missing: %r)" %
          (mode, len(got), want, next((i for i in range(want) if i not in got), None)))


def stalled_run(d, tok, n_sent, then):
    """The router stays stopped after a client with queued messages reset its connection: the
    drain deadline frees the conn ("deadline"), or the gateway stops while it drains ("exit");
    either way nothing leaks (LeakSanitizer in sanitizer builds) and nothing is used after free."""
    c = d.ws("token=" + tok, timeout=30)
    recv_until(c, lambda m: True)
    router = d.router_pid()
    mark = d.gw_log_size()
    done = {}
    os.kill(router, signal.SIGSTOP)
    try:
        t = threading.Thread(target=sender, args=(c, then, "rst", done), kwargs={"n": n_sent}, daemon=True)
        t.start()
        t.join(10.0)
        check(done.get("ok"), "the client could not send and reset (%s): %r" % (then, done))
        d.wait_gw_log("event=gateway_draining", timeout=10, start=mark)
        if then == "deadline":
            t0 = time.monotonic()
            d.wait_gw_log("event=gateway_drain_dropped", timeout=15, start=mark)
            waited = time.monotonic() - t0
            check(3.5 < waited < 8.0, "the drain deadline (5 s) took %.1f s" % waited)
            d.wait_gw_log("event=gateway_session_closed", timeout=5, start=mark)
        else:
            rc = d.stop_gateway(signal.SIGTERM)
            check(rc == 0, "the gateway exited with %r while a conn drained" % rc)
    finally:
        os.kill(router, signal.SIGCONT)


def main():
    ms = {"phone": manifest("phone", ["greet.*"], [], transports=BOTH),
          "ear": manifest("ear", [], ["greet.*"])}
    with GatewayDaemon(ms) as d:
        tok = d.token("phone")
        ear = d.client("ear", timeout=30)
        r = ear.subscribe("greet.*")
        check(r["type"] != "bus.error", "subscribe: %r" % r)
        for n, mode in enumerate(("close_frame", "fin", "rst"), 1):
            one_run(d, ear, tok, n, mode)
        log = d.gw_log()
        check("event=gateway_drain_dropped" not in log, "a drain dropped messages:\n%s" % log[-4000:])
        stalled_run(d, tok, 60, "deadline")
        d.stop_gateway(signal.SIGTERM)
        stats = events(d.gw_log(), "gateway_stats")
        check(stats and stats[-1]["connections"] == "0", "connections left at exit: %r" % stats[-1:])
        check(int(stats[-1]["drained"]) >= 1 and stats[-1]["drain_dropped"] == "1", "counters: %r" % stats[-1])
        d.start_gateway()
        stalled_run(d, tok, 60, "exit")
        ear.close()


run_test(main)
