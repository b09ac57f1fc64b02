#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""1000 bad login attempts in a row (wrong proofs, unknown ids, garbage) leave the daemon up,
serving, with flat memory and descriptors, and a rate-limited log."""
import os
import socket
import struct

from capbus_harness import Daemon, bad_auth_frame, check, manifest, protocol, run_test, wait_for


def attempt(d, i):
    """One bad attempt; returns True if the daemon answered a proper refusal."""
    s = d.raw_socket(5)
    try:
        kind = i % 8
        if kind in (5, 6, 7):
            junk = {5: os.urandom(64 + i % 200),
                    6: struct.pack(">I", 0xFFFFFFF0) + b"x" * 16,
                    7: b"GET / HTTP/1.1\r\nHost: bus\r\n\r\n"}[kind]
            s.sendall(junk)
            return False
        hdr = s.recv(4, socket.MSG_WAITALL)
        (n,) = struct.unpack(">I", hdr)
        hello = s.recv(n, socket.MSG_WAITALL)
        if kind in (0, 1):
            frame = bad_auth_frame(hello, "alice")              # right id, wrong key
        elif kind in (2, 3):
            frame = bad_auth_frame(hello, "nobody%d" % i)       # unknown identity
        elif kind == 4:
            frame = bad_auth_frame(hello, "admin")              # the admin, guessed
        s.sendall(frame)
        hdr = s.recv(4, socket.MSG_WAITALL)
        if len(hdr) < 4:
            return False
        body = s.recv(struct.unpack(">I", hdr)[0], socket.MSG_WAITALL)
        return body == protocol.MAGIC + bytes([protocol.STATUS_AUTH_FAILED])
    except (ConnectionResetError, BrokenPipeError):
        return False
    finally:
        s.close()


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}) as d:
        alice = d.client("alice")
        check(alice.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        for i in range(200):  # warm-up: allocator pools, log buffers
            attempt(d, i)
        with d.client("alice") as extra:
            extra.ping()
        # Settled: alice plus the admin connection that asks for the stats.
        wait_for(lambda: d.stats()["connections"] == 2, what="warm-up connections to close")
        base_fds = d.fd_count()
        base_rss = d.rss_kb()
        base_failed = d.stats()["auth_failed"]
        refused = sum(attempt(d, i) for i in range(1000))
        check(d.alive(), "daemon died under bad logins")
        check(refused == 625, "%d of 625 bad proofs got a proper refusal frame" % refused)
        st = wait_for(lambda: (lambda s: s if s["connections"] == 2 else None)(d.stats()), 5,
                      what="bad connections to be closed")
        check(st["auth_failed"] == base_failed + 625, "auth_failed grew by %d, want 625" % (st["auth_failed"] - base_failed))
        fds = d.fd_count()
        rss = d.rss_kb()
        sanitizer = "router_seccomp_skipped" in d.log()
        slack = 65536 if sanitizer else 1024
        check(fds <= base_fds, "descriptors grew from %d to %d" % (base_fds, fds))
        check(rss <= base_rss + slack, "RSS grew from %d kB to %d kB" % (base_rss, rss))
        # The connected client and new clients are unaffected.
        alice.send("greet.still", {})
        check(alice.recv_message(5)["type"] == "greet.still", "connected client broken")
        d.client("alice").ping()
        lines = d.log().count("event=auth_failed")
        check(lines < 300, "%d auth_failed log lines for 625 failures: peer-triggered logs are not rate-limited" % lines)
        print("rss %d -> %d kB, fds %d -> %d, auth_failed log lines %d" % (base_rss, rss, base_fds, fds, lines))


if __name__ == "__main__":
    run_test(main)
