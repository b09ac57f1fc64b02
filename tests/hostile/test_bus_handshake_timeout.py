#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A connection that does not finish the handshake within handshake_timeout_ms is closed; others are served."""
import time

from capbus_harness import Daemon, bad_auth_frame, check, manifest, run_test

TIMEOUT_MS = 300
SLACK_S = 1.2  # the router checks deadlines on a 200 ms tick; generous for loaded CI machines


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, handshake_timeout_ms=TIMEOUT_MS) as d:
        before = d.stats()["handshake_timeouts"]
        alice = d.client("alice")
        check(alice.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        # 1. Connect and say nothing. 2. Half an AUTH. 3. Slowloris: one byte every 50 ms.
        silent = d.raw_socket(10)
        t0 = time.monotonic()
        half = d.raw_socket(10)
        hello = half.recv(44)
        half.sendall(bad_auth_frame(hello[4:], "alice")[:30])
        drip = d.raw_socket(10)
        frame = bad_auth_frame(drip.recv(44)[4:], "alice")
        closed = {}
        socks = {"silent": silent, "half": half, "drip": drip}
        for s in socks.values():
            s.setblocking(False)
        deadline = t0 + TIMEOUT_MS / 1000 + SLACK_S + 1
        i = 0
        while len(closed) < 3 and time.monotonic() < deadline:
            if "drip" not in closed and i < len(frame) - 1:
                try:
                    drip.send(frame[i:i + 1])
                    i += 1
                except OSError:
                    pass
            for name, s in socks.items():
                if name in closed:
                    continue
                try:
                    if s.recv(4096) == b"":
                        closed[name] = time.monotonic() - t0
                except BlockingIOError:
                    pass
                except OSError:
                    closed[name] = time.monotonic() - t0
            time.sleep(0.05)
        print("closed after: %r" % closed)
        for name in socks:
            check(name in closed, "%s connection still open after %.1fs" % (name, time.monotonic() - t0))
            check(TIMEOUT_MS / 1000 - 0.05 <= closed[name] <= TIMEOUT_MS / 1000 + SLACK_S,
                  "%s closed after %.2fs, want about %.1fs" % (name, closed[name], TIMEOUT_MS / 1000))
        check(d.stats()["handshake_timeouts"] == before + 3, "handshake_timeouts did not count 3")
        # Authenticated connections are not subject to the handshake deadline.
        alice.send("greet.alive", {})
        check(alice.recv_message(5)["type"] == "greet.alive", "authenticated client was affected")
        d.client("alice").ping()


if __name__ == "__main__":
    run_test(main)
