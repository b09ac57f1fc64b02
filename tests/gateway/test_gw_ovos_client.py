#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An unmodified ovos-bus-client-style client: a websocket.WebSocketApp built exactly as
MessageBusClient builds it (url f"ws://{host}:{port}{route}" with route "/core?token=...", no
headers, sends ovos.session.sync on open, reconnects only from on_error). It exchanges messages
with a native client; when the daemon's router is killed the gateway drops the WebSocket
without a close frame, so on_error fires, and the client's own retry gets a new session."""
import json
import os
import signal
import threading
import time

import websocket
from capbus_harness import check, manifest, run_test, wait_for
from gateway_harness import GatewayDaemon

BOTH = ["socket", "gateway"]


class MiniBusClient:
    """The connection logic of ovos_bus_client.MessageBusClient, without the rest of OVOS."""

    def __init__(self, host, port, route):
        self.url = f"ws://{host}:{port}{route}"
        self.received, self.errors, self.closes, self.opens = [], [], [], 0
        self.stop = False
        self.thread = threading.Thread(target=self.run_forever, daemon=True)

    def on_open(self, ws):
        self.opens += 1
        ws.send(json.dumps({"type": "ovos.session.sync", "data": {}, "context": {"session": {"session_id": "default"}}}))

    def on_message(self, ws, text):
        self.received.append(json.loads(text))

    def on_error(self, ws, err):
        self.errors.append(err)

    def on_close(self, ws, code, reason):
        self.closes.append(code)

    def run_forever(self):
        while not self.stop:
            self.ws = websocket.WebSocketApp(self.url, on_open=self.on_open, on_message=self.on_message,
                                             on_error=self.on_error, on_close=self.on_close)
            self.ws.run_forever()
            if self.stop:
                return
            time.sleep(0.5)  # MessageBusClient retries from on_error after a pause

    def emit(self, mtype, data):
        self.ws.send(json.dumps({"type": mtype, "data": data, "context": {"session": {"session_id": "default"}}}))


def main():
    ms = {"ovos-core": manifest("ovos-core", ["ovos.*", "speak", "greet.*"], ["greet.*", "ovos.*"], transports=BOTH),
          "bob": manifest("bob", ["greet.*"], ["ovos.*", "greet.*"])}
    with GatewayDaemon(ms) as d:
        tok = d.token("ovos-core")
        bob = d.client("bob")
        bob.subscribe("ovos.*")
        c = MiniBusClient("127.0.0.1", d.port, "/core?token=" + tok)
        c.thread.start()
        try:
            m = bob.recv_message(timeout=10)
            check(m["type"] == "ovos.session.sync" and m["context"]["sender"] == "ovos-core", "bob got %r" % m)
            bob.send("greet.hello", {"to": "ovos"})
            wait_for(lambda: any(x["type"] == "greet.hello" for x in c.received), 5, what="greet.hello at the client")
            got = next(x for x in c.received if x["type"] == "greet.hello")
            check(got["context"]["sender"] == "bob", "sender %r" % got["context"])
            # router killed: the parent restarts it; the WebSocket ends without a close frame
            d.router_killed = True
            os.kill(d.router_pid(), signal.SIGKILL)
            wait_for(lambda: c.errors, 10, what="on_error after the router died")
            check(all(code is None for code in c.closes), "a close frame was sent: %r" % c.closes)
            wait_for(lambda: c.opens >= 2, 20, what="the client's reconnect")
            bob.close()
            bob = d.client("bob")
            bob.subscribe("ovos.*")
            c.emit("ovos.after", {"n": 1})
            m = bob.recv_message(timeout=10)
            while m["type"] == "ovos.session.sync":  # the reconnect's own on_open message
                m = bob.recv_message(timeout=10)
            check(m["type"] == "ovos.after" and m["context"]["sender"] == "ovos-core", "after reconnect: %r" % m)
        finally:
            c.stop = True
            try:
                c.ws.close()
            except Exception:
                pass
            c.thread.join(5)
        d.wait_gw_log("event=gateway_session_closed id=\"ovos-core\"")


run_test(main)
