#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A client that hears its own messages sends a burst and closes without reading: every message
it wrote before closing is still routed, though the router's writes to it fail. Repeated with
frames of several sizes; the bursts far exceed one read of the router's, and stay within
max_queue (a reader over it is a slow consumer, docs/protocol.md)."""
import socket
import threading
import time

from capbus_harness import Daemon, check, manifest, run_test

N = 400


def main():
    with Daemon({"talker": manifest("talker", ["t.*"], ["t.*"]), "ear": manifest("ear", [], ["t.*"])}) as d:
        ear = d.client("ear")
        check(ear.subscribe("t.*")["type"] == "capbus.subscribe.reply", "ear subscribe")
        heard = []

        def listen():
            while True:
                try:
                    m = ear.recv_message(30)
                except (socket.timeout, OSError, Exception):
                    return
                if m.get("type") == "t.m":
                    heard.append((m["data"]["r"], m["data"]["n"]))

        threading.Thread(target=listen, daemon=True).start()
        for rnd, size in enumerate((10, 2000, 10000)):
            talker = d.client("talker")
            check(talker.subscribe("t.*")["type"] == "capbus.subscribe.reply", "talker subscribe")
            pad = "x" * size
            frames = b"".join(talker.seal({"type": "t.m", "data": {"r": rnd, "n": i, "pad": pad}}) for i in range(N))
            talker.sock.setblocking(True)
            try:
                talker.sock.sendall(frames)
            except OSError as e:
                raise AssertionError("the router closed the talker mid-burst (%s):\n%s" % (e, d.log()[-1500:]))
            talker.sock.close()   # never reads its echoes: the router's writes to it fail
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len([h for h in heard if h[0] == rnd]) < N:
                time.sleep(0.05)
            got = [n for r, n in heard if r == rnd]
            check(got == list(range(N)), "round %d (%d-byte pad): %d of %d arrived, in order: %s\n%s" %
                  (rnd, size, len(got), N, got == sorted(got), d.log()[-1000:]))
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
