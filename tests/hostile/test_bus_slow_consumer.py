#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A subscriber that never reads is cut off at max_queue; a reader keeps receiving everything in order."""
import socket

from capbus_harness import Daemon, check, manifest, run_test

N = 3000
BATCH = 25


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], [], limits={"msg_rate": 100000}),
                 "bob": manifest("bob", [], ["greet.*"]), "slow": manifest("slow", [], ["greet.*"])},
                max_queue=65536, byte_rate=1 << 30) as d:
        slow = d.client("slow")
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        check(slow.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        alice = d.client("alice")
        received = []
        pad = "p" * 1000
        for start in range(0, N, BATCH):
            for i in range(start, start + BATCH):
                alice.send("greet.n", {"i": i, "pad": pad})
            while len(received) < start + BATCH:
                m = bob.recv_message(10)
                received.append(m["data"]["i"])
        check(received == list(range(N)), "bob's stream is incomplete or out of order")
        check(slow.wait_closed(5), "the slow consumer was not disconnected")
        st = d.stats()
        check(st["slow_consumers"] == 1, "slow_consumers=%d, want 1" % st["slow_consumers"])
        check("reason=slow_consumer" in d.log() and 'id="slow"' in d.log(), "slow consumer not reported in the log")
        errors = alice.drain(0.1)
        check(errors == [], "the sender was penalised for the slow reader: %r" % errors[:3])
        alice.ping()
        bob.ping()
        check(d.stats()["connections"] == 3, "the slow consumer's connection is still counted")
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
