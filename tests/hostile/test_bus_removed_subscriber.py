#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A subscriber that stopped reading outlives its identity or its permission without harm.

Every way a connection can lose its identity or a subscription while messages keep flowing:
removal (capbus remove), a reload after its manifest file was deleted, a revoked grant, a slow
consumer cut off, and a removal racing a sender in the same event-loop pass. In each case the
stalled connection must leave the subscription index at once: the router keeps running (no
router_died, same pid), the other subscribers keep receiving everything in order, the stalled
connection receives nothing it is no longer allowed to, and it is closed within the daemon's
closing deadline even though it never reads.
"""
import json
import os
import socket
import threading
import time

from capbus_harness import Daemon, check, manifest, run_test, wait_for

DANGEROUS = "recognizer_loop:utterance"
PAD = "p" * 1000
FILL = 600  # ~600 KB queued to the stalled reader: more than the socket buffers hold


def stalled(d, ident, pattern):
    """A client of ident subscribed to pattern that then stops reading (tiny receive buffer)."""
    c = d.client(ident)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    check(c.subscribe(pattern)["type"] == "capbus.subscribe.reply", "%s could not subscribe" % ident)
    return c


def pump(sender, reader, mtype, start, n):
    """sender sends n messages; reader must receive exactly them, in order."""
    for i in range(start, start + n):
        sender.send(mtype, {"i": i, "pad": PAD})
        if i % 50 == 49 or i == start + n - 1:
            while True:
                m = reader.recv_message(10)
                check(m["type"] == mtype, "reader got %r" % m["type"])
                if m["data"]["i"] == i:
                    break


def fill(d, alice, bob, mtype):
    """Queues FILL messages to the stalled reader (and delivers them to bob)."""
    pump(alice, bob, mtype, 0, FILL)


def check_router_alive(d, router_pid, what):
    check(d.alive(), "capbusd died after %s" % what)
    check(d.router_pid() == router_pid, "the router was restarted after %s" % what)
    check("event=router_died" not in d.log(), "router_died after %s" % what)


def wait_conns(d, n, what):
    wait_for(lambda: d.stats()["connections"] == n, 10, what="%s: %d connections" % (what, n))


def base(**overrides):
    opts = dict(max_queue=8 << 20, byte_rate=1 << 30)
    opts.update(overrides)
    return Daemon({"alice": manifest("alice", ["greet.*"], [], limits={"msg_rate": 100000}),
                   "bob": manifest("bob", [], ["greet.*"], limits={"msg_rate": 100000}),
                   "victim": manifest("victim", [], ["greet.*"])}, **opts)


def lost_identity(how):
    """The stalled subscriber's identity disappears (remove, or reload without its manifest)."""
    with base() as d:
        router = d.router_pid()
        victim = stalled(d, "victim", "greet.*")
        alice, bob = d.client("alice"), d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        fill(d, alice, bob, "greet.fill")
        if how == "remove":
            cp = d.admin("remove", "victim")
            check(cp.returncode == 0, "remove failed (%d): %s" % (cp.returncode, cp.stderr))
        else:
            os.unlink(os.path.join(d.manifest_dir, "victim.json"))
            cp = d.admin("reload")
            check(cp.returncode == 0, "reload failed (%d): %s" % (cp.returncode, cp.stderr))
        # The next matching message is the one that used to crash the router.
        pump(alice, bob, "greet.after", 0, 200)
        check_router_alive(d, router, how)
        alice.ping()
        # Never reading, the removed connection is still closed: within the closing deadline
        # (handshake_timeout_ms) after its last frame was queued.
        wait_conns(d, 3, "the removed, stalled connection was not closed")  # alice, bob, stats' admin
        check("reason=close_timeout" in d.log() and 'id="victim"' in d.log(),
              "the forced close of the stalled connection was not logged")
        # What it had been sent before removal may still be in its socket; nothing after.
        got = []
        try:
            while True:
                got.append(victim.recv_message(1))
        except (socket.timeout, Exception):
            pass
        check(not any(m["type"] == "greet.after" for m in got),
              "the removed identity received messages sent after its removal")
        check_router_alive(d, router, how)


def revoked_subscription():
    """A granted dangerous subscription is revoked while its stalled holder's queue is full."""
    with base() as d:
        router = d.router_pid()
        for ident in ("eve", "ear"):
            path = os.path.join(d.dir, ident + ".json")
            with open(path, "w") as f:
                json.dump(manifest(ident, [], [DANGEROUS]), f)
            cp = d.admin("install", path, "--grant", DANGEROUS)
            check(cp.returncode == 0, "install --grant failed (%d): %s" % (cp.returncode, cp.stderr))
        eve = stalled(d, "eve", DANGEROUS)
        # Sending a dangerous type needs a grant too: the admin identity sends.
        alice, bob = d.client("admin", key_path=d.admin_key), d.client("ear")
        check(bob.subscribe(DANGEROUS)["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        pump(alice, bob, DANGEROUS, 0, FILL)
        cp = d.admin("revoke", "eve", DANGEROUS)
        check(cp.returncode == 0, "revoke failed (%d): %s" % (cp.returncode, cp.stderr))
        pump(alice, bob, DANGEROUS, FILL, 200)
        check_router_alive(d, router, "revoke")
        # eve is still connected (only a subscription went); she now reads everything queued.
        seen_revoked, after = False, []
        while True:
            try:
                m = eve.recv_message(2)
            except socket.timeout:
                break
            if m["type"] == "bus.error":
                check(m["data"]["code"] == "revoked", "eve was told %r" % m)
                seen_revoked = True
            elif seen_revoked:
                after.append(m["data"]["i"])
        check(seen_revoked, "eve was not told about the revoked subscription")
        check(after == [], "eve received %d messages after the revoke" % len(after))
        eve.ping()
        check_router_alive(d, router, "revoke")


def slow_consumer_then_remove():
    """Cut off as a slow consumer and removed in the same burst: neither path trips the other."""
    with base(max_queue=256 << 10) as d:
        router = d.router_pid()
        victim = stalled(d, "victim", "greet.*")  # noqa: F841 (kept open, never read)
        alice, bob = d.client("alice"), d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        fill(d, alice, bob, "greet.fill")
        check(d.admin("remove", "victim").returncode == 0, "remove failed")
        pump(alice, bob, "greet.after", 0, 200)
        wait_conns(d, 3, "the slow consumer was not closed")
        st = d.stats()
        check(st["slow_consumers"] == 1, "the slow consumer was not counted: %r" % st)
        check_router_alive(d, router, "slow consumer + remove")


def remove_during_flow():
    """Removals while a sender floods: some removals land in the same loop pass as a send."""
    with base() as d:
        router = d.router_pid()
        alice, bob = d.client("alice"), d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        stop, flooded = threading.Event(), threading.Event()
        sent = [0]

        def flood():
            while not stop.is_set():
                alice.send("greet.flow", {"i": sent[0]})
                sent[0] += 1

        received = [0]

        def read():
            # Until the flood is over and every message it sent has arrived.
            while not flooded.is_set() or received[0] < sent[0]:
                try:
                    m = bob.recv_message(5)
                except socket.timeout:
                    return
                check(m["data"]["i"] == received[0], "bob lost or reordered messages")
                received[0] += 1

        victims = []  # kept open, never read
        for rnd in range(5):
            d.write_manifest("victim", manifest("victim", [], ["greet.*"]))
            check(d.admin("reload").returncode == 0, "reload failed")
            victims.append(stalled(d, "victim", "greet.*"))
            stop.clear()
            flooded.clear()
            t = threading.Thread(target=flood)
            r = threading.Thread(target=read)
            t.start()
            r.start()
            time.sleep(0.2)
            check(d.admin("remove", "victim").returncode == 0, "remove failed in round %d" % rnd)
            time.sleep(0.2)
            stop.set()
            t.join()
            flooded.set()
            r.join(30)
            check(received[0] == sent[0], "bob received %d of %d in round %d; alice was told %r"
                  % (received[0], sent[0], rnd, alice.drain(0.5)[:3]))
            check_router_alive(d, router, "remove during a flood (round %d)" % rnd)
        alice.ping()


def main():
    lost_identity("remove")
    lost_identity("reload")
    revoked_subscription()
    slow_consumer_then_remove()
    remove_during_flow()


if __name__ == "__main__":
    run_test(main)
