#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Half-sent frames do not hold router memory: a deadline for the rest, and caps on the bytes held.

- Deadline: once an authenticated client has started a frame, the rest must arrive within
  handshake_timeout_ms. A client that stops after part of a frame, and one that drips a byte at a
  time, are both closed at that deadline (`disconnect reason=frame_timeout`, counted in
  frame_timeouts) while another client keeps being served; a frame sent in two halves inside
  the deadline is delivered.
- Caps: the router buffers a declared frame only while the bytes it holds for incomplete frames
  stay within max_identity_partial_bytes (that identity's connections) and max_partial_bytes (all
  connections). A connection that would pass either is closed (`disconnect reason=partial_limit`,
  counted in refused_partial); closing the holders gives the bytes back, both to the caps and
  to the kernel (the router's resident memory falls again).
"""
import struct
import time

from capbus_harness import Daemon, check, manifest, proc_status, run_test

MIB = 1 << 20
TIMEOUT_MS = 600
SLACK_S = 1.2  # deadlines are checked on a 200 ms tick; generous for loaded CI machines


def partial(c, body_len, sent=100):
    """Starts a frame declaring body_len bytes and sends only `sent` of them (never completed,
    so nothing is sealed and the session's sequence is untouched)."""
    c.send_raw(struct.pack(">I", body_len) + b"x" * sent)


def deadline():
    mans = {"alice": manifest("alice", ["chat.*"], ["chat.*"]), "bob": manifest("bob", ["chat.*"], ["chat.*"])}
    with Daemon(mans, handshake_timeout_ms=TIMEOUT_MS, max_frame=MIB, byte_rate=1 << 30) as d:
        before = d.stats()["frame_timeouts"]
        bob = d.client("bob")
        check(bob.subscribe("chat.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        stuck, drip = d.client("alice", timeout=10), d.client("alice", timeout=10)
        t0 = time.monotonic()
        partial(stuck, MIB)
        partial(drip, 4096, sent=1)
        closed, sent = {}, 1
        socks = {"stuck": stuck.sock, "drip": drip.sock}
        for s in socks.values():
            s.setblocking(False)
        while len(closed) < 2 and time.monotonic() < t0 + TIMEOUT_MS / 1000 + SLACK_S + 1:
            if "drip" not in closed and sent < 4000:
                try:
                    drip.sock.send(b"x")
                    sent += 1
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
            bob.ping(timeout=5)  # served all along
            time.sleep(0.05)
        print("closed after: %r" % closed)
        for name in socks:
            check(name in closed, "%s still open %.1fs after starting a frame" % (name, time.monotonic() - t0))
            check(TIMEOUT_MS / 1000 - 0.1 <= closed[name] <= TIMEOUT_MS / 1000 + SLACK_S,
                  "%s closed after %.2fs, want about %.1fs" % (name, closed[name], TIMEOUT_MS / 1000))
        check(d.stats()["frame_timeouts"] == before + 2, "frame_timeouts did not count 2")
        check(d.log().count("disconnect reason=frame_timeout") == 2, "want two frame_timeout disconnects logged")
        # A frame completed within the deadline is delivered, and so is the one after it.
        alice = d.client("alice")
        frame = alice.seal({"type": "chat.split", "data": {"x": "y" * 1000}})
        alice.send_raw(frame[:500])
        time.sleep(TIMEOUT_MS / 1000 / 3)
        alice.send_raw(frame[500:])
        check(bob.recv_message(5)["type"] == "chat.split", "a frame sent in two halves was not delivered")
        time.sleep(TIMEOUT_MS / 1000 + 0.4)
        alice.ping()


def caps():
    ids = ("alice", "bob", "carol")
    mans = {i: manifest(i, ["chat.*"], ["chat.*"]) for i in ids}
    # One held frame grows its buffer to MIB + 24 (header and tag): two fit one identity's
    # 3 MiB, four fit the whole 4.5 MiB, a fifth does not.
    with Daemon(mans, handshake_timeout_ms=60000, max_frame=MIB, byte_rate=1 << 30,
                max_identity_partial_bytes=3 * MIB, max_partial_bytes=9 * MIB // 2) as d:
        before = d.stats()["refused_partial"]
        watcher = d.client("carol")

        def hold(ident, sent=100):
            c = d.client(ident, timeout=10)
            partial(c, MIB, sent)
            return c

        def router_rss_kb():
            return int(proc_status(d.router_pid())["VmRSS"].split()[0])

        def held(c, what):
            check(not c.wait_closed(0.5), "%s was closed while within the caps" % what)

        rss0 = router_rss_kb()
        # All but the last KiB of each body: the router really holds these bytes.
        a1, a2 = hold("alice", MIB - 1024), hold("alice", MIB - 1024)
        held(a1, "alice's first partial frame")
        held(a2, "alice's second partial frame")
        a3 = hold("alice")
        check(a3.wait_closed(5), "alice's third partial frame passed max_identity_partial_bytes")
        b1, b2 = hold("bob", MIB - 1024), hold("bob", MIB - 1024)
        held(b1, "bob's first partial frame")
        held(b2, "bob's second partial frame")
        c1 = hold("carol")
        check(c1.wait_closed(5), "a fifth partial frame passed max_partial_bytes")
        watcher.ping()
        check(d.stats()["refused_partial"] == before + 2, "refused_partial did not count 2")
        check(d.log().count("disconnect reason=partial_limit") == 2, "want two partial_limit disconnects logged")
        # Closing the holders gives their bytes back: the same frames fit again.
        rss_held = router_rss_kb()
        for c in (a1, a2, b1, b2):
            c.close()
        time.sleep(0.3)
        # A second round: allocator heuristics that adapt after the first big free (glibc raises
        # its mmap threshold) must not make the memory of later rounds stick.
        for c in [hold(i, MIB - 1024) for i in ("alice", "alice", "bob", "bob")]:
            check(not c.wait_closed(0.3), "a partial frame of the second round was refused")
            c.close()
        time.sleep(0.5)
        rss_after = router_rss_kb()
        print("router VmRSS: %d kB idle, %d kB holding 4 partial frames, %d kB after they closed"
              % (rss0, rss_held, rss_after))
        check(rss_held - rss0 >= 3 * 1024, "the partial frames were not held (%d -> %d kB)" % (rss0, rss_held))
        # AddressSanitizer's allocator keeps freed memory in quarantine on purpose, so a
        # sanitized router's resident size says nothing here.
        with open("/proc/%d/maps" % d.router_pid()) as f:
            asan = "libasan" in f.read()
        if not asan:
            check(rss_after <= rss0 + 1024, "the router kept %d kB after the holders closed" % (rss_after - rss0))
        again = [hold("alice"), hold("alice"), hold("carol")]
        for c in again:
            held(c, "a partial frame after the holders closed")
        watcher.ping()


def main():
    deadline()
    caps()


if __name__ == "__main__":
    run_test(main)
