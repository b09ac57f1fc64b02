#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pending-handshake slots are shared by kernel peer identity: a flood from one uid cannot lock
another uid out.

The flooders run as other uids (forked children that setuid, so root is needed) and connect to an
abstract socket, where file modes do not stand in the way; the legitimate client is root.
1. One uid holds 2,000 idle connects: it gets at most max_pending_per_peer greetings, and ten
   handshakes of another uid all succeed meanwhile.
2. The same uid reconnects in a loop, always holding about 2,000 connections and hanging up the
   oldest as it makes a new one: ten handshakes of another uid all succeed.
3. Eight uids together fill a small max_pending: another uid still gets in, by taking the oldest
   slot of the largest holder (evicted_pending).
Every refusal is counted (refused_pending, refused_connections) and logged, rate-limited.
"""
import collections
import os
import resource
import select
import socket
import time

from capbus_harness import Daemon, abstract_name, check, is_root, manifest, run_test, skip, socket_address, wait_for

import capbus  # the SDK; capbus_harness put it on the path

FLOOD = 2000
HELLO_FRAME = 4 + 40  # length prefix + HELLO body
PARENT_ENDS = []  # the test's ends of every flooder's pipes: a later child must not keep them open


def flooder(address, uid, count, loop_seconds=0.0):
    """Forks a child that, as uid, connects `count` times and either holds the connections (reports
    how many were greeted, then waits to be told to go) or, with loop_seconds, keeps reconnecting
    with `count` connections open at a time. Returns (pid, report_fd, stop_fd)."""
    report_r, report_w = os.pipe()
    stop_r, stop_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(report_w)
        os.close(stop_r)
        PARENT_ENDS.extend((report_r, stop_w))
        return pid, report_r, stop_w
    status = 1
    try:
        os.close(report_r)
        os.close(stop_w)
        for fd in PARENT_ENDS:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (count + 64, count + 64))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        addr = socket_address(address)
        if loop_seconds:
            # A rolling window: always about `count` connections open, the oldest hung up as each
            # new one is made, so slots are freed and retaken all the time.
            end = time.monotonic() + loop_seconds
            window = collections.deque()
            made = 0
            while time.monotonic() < end:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(2)
                try:
                    s.connect(addr)
                    made += 1
                except OSError:
                    pass
                window.append(s)
                if len(window) > count:
                    window.popleft().close()
            os.write(report_w, b"%d\n" % made)
        else:
            socks = []
            for _ in range(count):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(2)
                try:
                    s.connect(addr)
                    socks.append(s)
                except OSError:
                    s.close()
            # Greeted connections hold a slot; the router closed the others without a word.
            time.sleep(1.0)
            greeted = 0
            for s in socks:
                s.setblocking(False)
                try:
                    greeted += len(s.recv(HELLO_FRAME, socket.MSG_PEEK)) == HELLO_FRAME
                except OSError:
                    pass
            os.write(report_w, b"%d %d\n" % (greeted, len(socks)))
            select.select([stop_r], [], [])  # hold them until told to go
        status = 0
    except BaseException as e:  # noqa: BLE001 - the child reports and leaves, never returns into the test
        try:
            os.write(2, ("flooder uid %d: %r\n" % (uid, e)).encode())
        except OSError:
            pass
    os._exit(status)


def report(fd, timeout):
    """What a flooder reports: its connects (loop), or how many of its connects were greeted and how
    many connected at all (a connect can fail while the kernel's accept queue is full)."""
    r, _, _ = select.select([fd], [], [], timeout)
    check(r, "flooder did not report within %.0fs" % timeout)
    line = os.read(fd, 64).decode().strip()
    check(line, "flooder died before it reported")
    values = [int(x) for x in line.split()]
    return values[0] if len(values) == 1 else tuple(values)


def stop(children):
    for pid, report_fd, stop_fd in children:
        os.close(stop_fd)
        os.close(report_fd)
        PARENT_ENDS.remove(stop_fd)
        PARENT_ENDS.remove(report_fd)
        os.waitpid(pid, 0)


def legit_handshakes(d, key, n=10):
    """n logins of another uid (root) with the Python SDK, one after another, each confirmed by a
    ping; how many worked, and the failures. The SDK connects as real clients do (a blocking
    connect() waits while the kernel's accept queue is full, which a flood can make it for a
    moment); the handshake and the ping are bounded by its timeout."""
    ok, errors = 0, []
    for _ in range(n):
        try:
            with capbus.Bus(socket=d.socket, key=key, timeout=5) as bus:
                bus.sync(timeout=5)
            ok += 1
        except Exception as e:  # noqa: BLE001 - a refused login shows as any of several errors
            errors.append(repr(e))
    return ok, errors


def idle_flood():
    name = abstract_name()
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, socket=name,
                handshake_timeout_ms=60000) as d:
        key = d.keygen("alice")
        children = [flooder(name, 65534, FLOOD)]
        try:
            greeted, connected = report(children[0][1], 120)
            # Defaults: max_pending 256, max_pending_per_uid 64, max_pending_per_peer 32; the
            # flooder is one peer (one uid, one cgroup).
            check(greeted <= 32, "one peer holds %d pending handshakes; its share is 32" % greeted)
            check(greeted > 0, "the flooder got no slot at all")
            ok, errors = legit_handshakes(d, key)
            check(ok == 10, "another uid logged in %d of 10 times while one uid held %d idle connects: %s"
                  % (ok, FLOOD, errors[:3]))
            st = d.stats()
            check(st["refused_pending"] >= connected - greeted,
                  "refused_pending %d, want at least %d" % (st["refused_pending"], connected - greeted))
            check(st["refused_connections"] >= st["refused_pending"], "refused_connections does not include them")
        finally:
            stop(children)
        log = d.log()
        check(any("event=connection_refused reason=pending_peer" in l and "uid=65534" in l for l in log.splitlines()),
              "no connection_refused reason=pending_peer line for uid 65534")
        check(log.count("event=connection_refused") <= 40, "%d connection_refused lines: not rate-limited"
              % log.count("event=connection_refused"))
        print("idle flood: flooder connected %d times of %d, greeted %d; another uid 10/10" % (connected, FLOOD, greeted))


def reconnect_loop():
    name = abstract_name()
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, socket=name,
                handshake_timeout_ms=60000) as d:
        key = d.keygen("alice")
        children = [flooder(name, 65534, FLOOD, loop_seconds=8)]
        try:
            time.sleep(0.5)  # the loop is under way
            t0 = time.monotonic()
            ok, errors = legit_handshakes(d, key)
            took = time.monotonic() - t0
            check(took < 7.5, "the logins took %.1fs: not all of them ran during the loop" % took)
            check(ok == 10, "another uid logged in %d of 10 times while one uid reconnected in a loop: %s"
                  % (ok, errors[:3]))
            made = report(children[0][1], 30)
            check(made > FLOOD, "the flooder did not loop")
        finally:
            stop(children)
        check(d.stats()["refused_pending"] > 0, "the loop was never refused: it did not exceed its share")
        print("reconnect loop: %d connects, %d held at a time; another uid 10/10 in %.1fs" % (made, FLOOD, took))


def many_uids():
    name = abstract_name()
    # max_pending 32: max_pending_per_uid 8, max_pending_per_peer 4; eight uids fill it.
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, socket=name, max_pending=32,
                max_pending_per_uid=8, max_pending_per_peer=4, handshake_timeout_ms=60000) as d:
        key = d.keygen("alice")
        children = [flooder(name, 60001 + i, 50) for i in range(8)]
        try:
            held = sum(report(ch[1], 60)[0] for ch in children)
            check(held <= 32, "%d pending handshakes held, max_pending is 32" % held)
            wait_for(lambda: d.stats()["refused_pending"] > 0, what="the flood to reach the limit")
            ok, errors = legit_handshakes(d, key)
            check(ok == 10, "another uid logged in %d of 10 times while eight uids filled max_pending: %s"
                  % (ok, errors[:3]))
            st = d.stats()
        finally:
            stop(children)
        # The stats client and the first login needed a slot: taken from a full table.
        check(st["evicted_pending"] >= 1, "no pending handshake was evicted: %r" % st)
        check("event=pending_evicted" in d.log(), "no pending_evicted log line")
        print("eight uids held %d; another uid 10/10, %d evicted" % (held, st["evicted_pending"]))


def main():
    if not is_root():
        skip("needs root to run the flooders as other uids")
    idle_flood()
    reconnect_loop()
    many_uids()


if __name__ == "__main__":
    run_test(main)
