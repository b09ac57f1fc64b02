#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Many half-open connections hit max_pending: extra ones are refused, authenticated clients keep flowing,
and logins work again as soon as the attackers are gone."""
from capbus_harness import Daemon, check, manifest, run_test, wait_for

PENDING = 16


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, max_pending=PENDING,
                handshake_timeout_ms=60000) as d:
        alice = d.client("alice")
        check(alice.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        attackers = [d.raw_socket(5) for _ in range(PENDING * 3)]
        # Accepted ones get a HELLO; the rest are closed without one.
        got_hello = 0
        for s in attackers:
            try:
                if len(s.recv(44)) == 44:
                    got_hello += 1
            except OSError:
                pass
        check(got_hello <= PENDING, "%d half-open connections were accepted, max_pending is %d" % (got_hello, PENDING))
        alice.send("greet.during", {})
        check(alice.recv_message(5)["type"] == "greet.during", "authenticated client starved by half-open ones")
        for s in attackers:
            s.close()
        # The router frees the slots as it reads the attackers' hang-ups: until then a login may
        # still be refused, so retry for a while.
        def login():
            try:
                return d.client("alice").ping()
            except Exception:
                return False
        wait_for(login, 5, interval=0.05, what="a new login after the attackers left")
        check(d.stats()["refused_connections"] >= PENDING, "refused_connections did not count the excess")
        lines = d.log().count("event=connection_refused")
        check(lines <= 20, "%d connection_refused log lines: not rate-limited" % lines)


if __name__ == "__main__":
    run_test(main)
