#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every bus request gets an answer (its reply, or a bus.error carrying its request number), even from a
client that has used up its rate limit and its error-frame budget: otherwise a client waiting on a
ping can never tell whether its earlier sends were processed."""
import socket

from capbus_harness import Daemon, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], [], limits={"msg_rate": 50})}) as d:
        for flood in (0, 49, 50, 120, 500):
            c = d.client("alice")
            for i in range(flood):
                c.send("greet.f", {"i": i})
            c.send("capbus.ping", {"request": 4242})
            answer = None
            try:
                while answer is None:
                    m = c.recv_message(2)
                    if m["data"].get("request") == 4242:
                        answer = m
            except socket.timeout:
                pass
            check(answer is not None,
                  "after %d messages over the rate limit, a capbus.ping got neither its reply nor a bus.error "
                  "(the refusal was dropped by the 50 error frames per second budget)" % max(0, flood - 50))
            check(answer["type"] in ("capbus.ping.reply", "bus.error"), "ping answered with %r" % answer)
            c.close()


if __name__ == "__main__":
    run_test(main)
