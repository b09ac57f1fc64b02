#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbus soak test: steady well-behaved traffic while hostile clients attack the daemon.

    soak.py [--duration SECONDS] [--quick] [--valgrind] [--rate N] [--publishers N] [--subscribers N]

A real capbusd (from $CAPBUS_BUILD_DIR) serves, for the whole run:
  * well-behaved clients (tests/soak/soak-client, C, libcapbus): publishers send sequence-numbered
    messages at a paced rate, subscribers check every delivery: each publisher's messages arrive
    exactly once and in order (no gap, no duplicate, no reordering), nothing else arrives;
  * hostile clients (threads here, raw protocol): wrong keys and unknown ids, garbage, oversized,
    empty and truncated frames, tampered, replayed and skipped MACs, malformed messages,
    forbidden subscriptions and sends (admin commands included), message-rate and byte-rate
    floods, slow consumers that never read, connections idling past the handshake deadline,
    connect/disconnect churn. Each attack checks the refusal it gets back (error frame, refused
    handshake, closed connection) and records which daemon counter it must move.

Pass criteria (each failure names what broke):
  * every message between well-behaved clients delivered exactly once and in order;
  * the daemon (parent and router) never exits, the router is never restarted, its log has no
    sanitizer report, and (--valgrind) valgrind reports 0 errors and no leak for both processes
    (valgrind cannot run seccomp filters: that run preloads soak-noseccomp.so into the daemon);
  * RSS (parent + router) and open descriptors flat after warm-up: the median of the samples in
    the last third of the run against the median of the first third after warm-up, within
    RSS_SLACK_KB and FD_SLACK; once every client is gone, descriptors back to the idle count;
  * every hostile action refused and counted: each `capbus stats` counter moved by at least what
    the hostile clients provoked, and by exactly that for refusals nothing else can cause.

Exit status: 0 pass, 1 fail, 77 skip (no build).
"""
import argparse
import collections
import json
import os
import random
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from capbus_harness import (BUILD_DIR, Closed, Daemon, RawClient, TestFailure, bad_auth_frame,  # noqa: E402
                            capbusd_path, capbusd_router_path, check, manifest, protocol, run_test, skip)

# -- tunables ---------------------------------------------------------------------------------

MAX_FRAME = 65536
HS_MSG_MAX = 333  # the largest handshake message a client may send (lib/handshake.h HS_CLIENT_MSG_MAX)
# Small, so that a reader that stalls is cut within a couple of seconds, yet large enough that a
# well-behaved subscriber descheduled for a second or two on a loaded machine is not.
MAX_QUEUE = 1024 * 1024
MAX_QUEUE_VALGRIND = 16 * 1024  # the same at valgrind's slower pace
HANDSHAKE_TIMEOUT_MS = 1000
FLOOD_RATE = 20                 # msg_rate of the flooding identity
# RSS: the router's heap legitimately breathes with what is in flight at the sampling instant
# (a slow consumer's queue up to MAX_QUEUE, read buffers of up to MAX_FRAME for each half-sent
# frame, output queues of the subscribers): well under 1 MiB, plus allocator fragmentation. A leak
# of even 16 bytes per delivered message grows by more than 2 MiB within a minute at the default
# rate, and one of 100 bytes per hostile connection does so within minutes.
RSS_SLACK_KB = 2048
# fds: one per open connection. Hostile connections come and go (at most one per attack thread
# at a time, of which two idle for a second), so the instantaneous count wobbles by a few; a leak
# of one descriptor per hostile connection exceeds 8 within seconds.
FD_SLACK = 8

PUB_PREFIX = "soak-pub"
SUB_PREFIX = "soak-sub"
HOSTILE = "soak-hostile"
FLOODER = "soak-flooder"
SLOW = "soak-slow"
DATA_TYPE = "soak.data.seq"

# Refusals that only the hostile clients can cause: the counter must move by exactly what they did.
EXACT = ("auth_failed", "malformed", "too_large", "bad_mac", "denied_send", "denied_subscribe",
         "slow_consumers")
# Counters with only a lower bound: floods (the daemon's token buckets decide how many pass) and
# handshake timeouts (a stalled hostile thread may add one).
AT_LEAST = ("rate_limited", "quota", "handshake_timeouts")


def log(msg):
    sys.stdout.write("[%7.1fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stdout.flush()


T0 = time.monotonic()


def soak_client_path():
    return os.path.join(BUILD_DIR, "tests", "soak", "soak-client")


def is_asan_build():
    try:
        with open(capbusd_path(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# -- hostile clients --------------------------------------------------------------------------

class Violation(Exception):
    """A hostile action was not refused the way the protocol says."""


class Stalled(Exception):
    """The daemon took longer than its handshake timeout to get to a connection that had not
    finished its handshake, so it closed it as timed out: the outcome says nothing about the
    attack. Happens only on an overloaded machine; counted and reported, not a failure.
    counter names what the attack would have moved, which may or may not have happened."""

    def __init__(self, what, counter=None):
        super().__init__(what)
        self.counter = counter


class Attacks:
    """Hostile actions. Each returns {counter: n} it must have moved (exact), and records
    lower bounds in self.at_least for floods."""

    def __init__(self, d, keys, args):
        self.d = d
        self.keys = keys
        self.args = args
        self.lock = threading.Lock()
        self.expect = collections.Counter()      # counter -> exact number provoked
        self.at_least = collections.Counter()    # counter -> lower bound
        self.maybe = collections.Counter()       # counter -> interrupted actions that may have counted
        self.actions = collections.Counter()     # action name -> times done
        self.violations = []
        self.errors_seen = collections.Counter() # error code -> error frames received
        self.connect_failures = 0
        self.stalled = collections.Counter()     # action -> outcomes blurred by a stalled daemon
        self.stop = threading.Event()
        self.timeout = 30.0 if args.valgrind else 10.0
        self.hs_timeout = args.handshake_timeout_ms / 1000

    # helpers ---------------------------------------------------------------------------------

    def connect(self, **kw):
        t0 = time.monotonic()
        c = RawClient(self.d.socket, timeout=self.timeout, **kw)
        c.t0 = t0
        return c

    def late(self, c):
        """Whether the handshake deadline of c has passed (the daemon may have timed it out)."""
        return time.monotonic() - c.t0 >= self.hs_timeout - 0.01

    def handshake(self, c, what, counter=None):
        """c.handshake(), telling a daemon that was too busy to finish it in time (Stalled)."""
        try:
            return c.handshake()
        except (ConnectionResetError, BrokenPipeError, Closed):
            if self.late(c):
                c.close()
                raise Stalled(what, counter)
            raise

    def raw(self):
        return self.connect(ident=HOSTILE, key=bytes(32))

    def authed(self, ident=HOSTILE, what="handshake"):
        c = self.connect(key_file=self.keys[ident])
        try:
            self.handshake(c, what)
        except BaseException:
            c.close()
            raise
        return c

    def expect_closed(self, c, what, quiet=True, pre=None):
        """The daemon must close c; with quiet, without sending anything first. pre: the counter
        an attack before the end of the handshake moves (Stalled if the deadline passed too)."""
        deadline = time.monotonic() + self.timeout
        got = b""
        try:
            while time.monotonic() < deadline:
                c.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = c.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
            else:
                raise Violation("%s: connection still open after %.0fs" % (what, self.timeout))
        except socket.timeout:
            raise Violation("%s: connection still open after %.0fs" % (what, self.timeout))
        except (ConnectionResetError, BrokenPipeError):
            pass
        if pre and self.late(c):
            raise Stalled(what, pre)
        if quiet and got:
            raise Violation("%s: the daemon sent %d unexpected bytes before closing: %r" % (what, len(got), got[:60]))

    def send_quietly(self, c, data):
        """Sends what the daemon may refuse to read (it may already have closed)."""
        try:
            c.send_raw(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def until_ping(self, c, what):
        """Pings and returns every message that arrived before the reply."""
        n = c.next_request
        c.next_request += 1
        c.send("capbus.ping", {"request": n})
        out = []
        while True:
            m = c.recv_message()
            if m["type"] == "capbus.ping.reply" and m["data"].get("request") == n:
                return out
            if m["type"] == "bus.error" and m["data"].get("request") == n:
                raise Violation("%s: ping refused: %r" % (what, m["data"]))
            out.append(m)

    def ping_through(self, c, code, what, start):
        """Pings until one is answered; refusals with `code` are expected (a flood is being paid
        for) and a silent drop once the error budget is spent. Returns (pings sent, messages)."""
        pings, msgs = 0, []
        while True:
            pings += 1
            try:
                m = c.request("capbus.ping", timeout=0.5 * (3 if self.args.valgrind else 1))
            except socket.timeout:
                m = None
            if m is not None:
                if m["type"] == "capbus.ping.reply":
                    break
                if m["data"].get("code") != code:
                    raise Violation("%s: ping refused with %r" % (what, m["data"]))
                msgs.append(m)
            if time.monotonic() - start > 3 * self.timeout:
                raise Violation("%s: never got a ping through" % what)
            time.sleep(0.06)
        msgs += c.pending
        c.pending = []
        return pings, msgs

    def expect_errors(self, msgs, code, n, what):
        errors = [m for m in msgs if m["type"] == "bus.error"]
        others = [m for m in msgs if m["type"] != "bus.error"]
        if others:
            raise Violation("%s: unexpected messages: %r" % (what, others[:3]))
        codes = collections.Counter(e["data"].get("code") for e in errors)
        with self.lock:
            self.errors_seen.update(codes)
        if codes != collections.Counter({code: n}):
            raise Violation("%s: want %d error frames %r, got %r" % (what, n, code, dict(codes)))

    # attacks ---------------------------------------------------------------------------------

    def wrong_key(self):
        c = self.connect(ident=random.choice([HOSTILE, PUB_PREFIX + "0"]), key=os.urandom(32))
        with c:
            try:
                self.handshake(c, "wrong_key", "auth_failed")
            except protocol.AuthError:
                pass
            else:
                raise Violation("wrong_key: the daemon accepted a wrong key")
            self.expect_closed(c, "wrong_key")
        return {"auth_failed": 1}

    def unknown_id(self):
        c = self.connect(ident="nobody-%08x" % random.getrandbits(32), key=os.urandom(32))
        with c:
            try:
                self.handshake(c, "unknown_id", "auth_failed")
            except protocol.AuthError:
                pass
            else:
                raise Violation("unknown_id: the daemon accepted an unknown identity")
            self.expect_closed(c, "unknown_id")
        return {"auth_failed": 1}

    def garbage_handshake(self):
        with self.raw() as c:
            c.hello()
            n = random.randint(1, 137)
            body = os.urandom(n)
            if body.startswith(protocol.MAGIC):
                body = b"X" + body[1:]
            c.send_raw(protocol.header(n) + body)
            self.expect_closed(c, "garbage_handshake", pre="malformed")
        return {"malformed": 1}

    def garbage_raw(self):
        """Random bytes, before or after the handshake. What the daemon must do follows from the
        first four bytes, read as a frame length: 0 is an empty frame, above the limit too large,
        a whole frame fails its MAC (or, in the handshake, is not an AUTH); less than a frame
        waits for more, and we hang up."""
        authed = random.random() < 0.5
        data = bytearray(os.urandom(random.randint(1, 400)))
        if len(data) >= 4 and random.random() < 0.5:
            # Plausible lengths too, not just the huge ones random bytes mostly give.
            data[:4] = protocol.header(random.choice([0, 1, 17, 90, 137, 138, 300, HS_MSG_MAX, HS_MSG_MAX + 1, MAX_FRAME, MAX_FRAME + 1]))
        data = bytes(data)
        limit, tag = (MAX_FRAME, 16) if authed else (HS_MSG_MAX, 0)
        length = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else None
        if length is None:
            outcome = None
        elif length == 0:
            outcome = "malformed"
        elif length > limit:
            outcome = "too_large"
        elif 4 + length + tag <= len(data):
            outcome = "bad_mac" if authed else "malformed"
            if not authed and data[4:12] == protocol.MAGIC:
                return {}  # 2^-64: not garbage
        else:
            outcome = None
        c = self.authed(what="garbage_raw") if authed else self.raw()
        with c:
            if not authed:
                c.hello()
            self.send_quietly(c, data)
            if outcome is None:
                return {}
            if authed and outcome in ("malformed", "too_large"):
                m = c.recv_message()
                if m["type"] != "bus.error" or m["data"].get("code") != outcome:
                    raise Violation("garbage_raw: length %d after the handshake: want a %s error, got %r"
                                    % (length, outcome, m))
                with self.lock:
                    self.errors_seen[outcome] += 1
            self.expect_closed(c, "garbage_raw (%s, length %d)" % ("session" if authed else "handshake", length),
                               pre=None if authed else outcome)
        return {outcome: 1}

    def oversized_handshake(self):
        with self.raw() as c:
            c.hello()
            n = random.choice([HS_MSG_MAX + 1, 4096, MAX_FRAME + 1, 0xFFFFFFFF, random.randint(HS_MSG_MAX + 1, 0xFFFFFFFF)])
            self.send_quietly(c, protocol.header(n) + os.urandom(random.randint(0, 200)))
            self.expect_closed(c, "oversized_handshake", pre="too_large")
        return {"too_large": 1}

    def empty_handshake(self):
        with self.raw() as c:
            c.hello()
            c.send_raw(protocol.header(0) + os.urandom(8))
            self.expect_closed(c, "empty_handshake", pre="malformed")
        return {"malformed": 1}

    def oversized(self):
        with self.authed() as c:
            n = random.choice([MAX_FRAME + 1, 1 << 20, 16 << 20, 0xFFFFFFFF, random.randint(MAX_FRAME + 1, 0xFFFFFFFF)])
            self.send_quietly(c, protocol.header(n) + os.urandom(random.randint(0, 512)))
            m = c.recv_message()
            if m["type"] != "bus.error" or m["data"].get("code") != "too_large":
                raise Violation("oversized: want a too_large error, got %r" % m)
            with self.lock:
                self.errors_seen["too_large"] += 1
            self.expect_closed(c, "oversized")
        return {"too_large": 1}

    def empty_frame(self):
        with self.authed() as c:
            c.send_raw(protocol.header(0) + bytes(16))
            m = c.recv_message()
            if m["type"] != "bus.error" or m["data"].get("code") != "malformed":
                raise Violation("empty_frame: want a malformed error, got %r" % m)
            with self.lock:
                self.errors_seen["malformed"] += 1
            self.expect_closed(c, "empty_frame")
        return {"malformed": 1}

    def bad_mac(self):
        with self.authed() as c:
            body = json.dumps({"type": "hostile.x", "data": {"n": random.getrandbits(30)}}).encode()
            how = random.choice(["tag", "body", "header", "replay", "skip", "unsigned"])
            quiet = True
            if how in ("tag", "body", "header"):
                frame = bytearray(c.seal(body))
                pos = {"tag": len(frame) - 1 - random.randrange(16), "body": 4 + random.randrange(len(body)),
                       "header": 3}[how]
                if how == "header":
                    # A different length that still frames: the tag covers the header.
                    frame = bytearray(protocol.header(len(body) - 1)) + frame[4:-1]
                else:
                    frame[pos] ^= 1 << random.randrange(8)
                c.send_raw(bytes(frame))
            elif how == "replay":
                first = c.seal(json.dumps({"type": "capbus.ping", "data": {"request": 1}}).encode())
                c.send_raw(first)
                c.send_raw(first)
                quiet = False  # the ping is answered first
            elif how == "skip":
                c.seal(body)
                c.send_raw(c.seal(body))
            else:
                c.send_raw(protocol.header(len(body)) + body + bytes(16))
            self.expect_closed(c, "bad_mac/" + how, quiet=quiet)
        return {"bad_mac": 1}

    MALFORMED_BODIES = [
        b"not json at all",
        b"{",
        b"[1,2,3]",
        b"\x00\x01\x02\x03",
        b'{"type":"hostile.x","data":{}} trailing',
        b'{"type":"hostile.x","data":[]}',
        b'{"data":{}}',
        b'{"type":"bad\ttype","data":{}}',
        b'{"type":"hostile.*","data":{}}',
        b'{"type":"hostile.x","extra":1}',
        b'{"type":"hostile.x","data":{"s":"\xff\xfe"}}',
        b'{"type":"hostile.x","type":"hostile.y"}',
        b'{"type":"hostile.x","context":{"a":1,"a":2}}',
        b'{"type":"hostile.x","data":{"s":"a\x01b"}}',
        b'{"type":"hostile.x","data":{"n":01}}',
        b'{"type":"hostile.x","data":{"s":"\\u0000"}}',
        b'{"type":"hostile.x","data":' + b'{"a":' * 40 + b'1' + b'}' * 40 + b'}',
        b'{"type":"' + b"a" * 300 + b'"}',
    ]

    def malformed(self):
        with self.authed() as c:
            bodies = random.sample(self.MALFORMED_BODIES, 5)
            for b in bodies:
                c.send_body(b)
            self.expect_errors(self.until_ping(c, "malformed"), "malformed", len(bodies), "malformed %r" % bodies)
        return {"malformed": len(bodies)}

    FORBIDDEN_PATTERNS = ["soak.data.*", "*", "soak.*", DATA_TYPE, "recognizer_loop:utterance", "capbus.*",
                          "soak:*"]

    def forbidden_subscribe(self):
        with self.authed() as c:
            pats = random.sample(self.FORBIDDEN_PATTERNS, 3)
            for p in pats:
                m = c.subscribe(p)
                if m["type"] != "bus.error" or m["data"].get("code") != "denied":
                    raise Violation("forbidden_subscribe %s: want denied, got %r" % (p, m))
                with self.lock:
                    self.errors_seen["denied"] += 1
            if c.pending:
                raise Violation("forbidden_subscribe: unexpected messages: %r" % c.pending[:3])
        return {"denied_subscribe": len(pats)}

    def forbidden_send(self):
        with self.authed() as c:
            sends = random.sample([
                ("send", DATA_TYPE, {"seq": "0"}, None),
                ("send", DATA_TYPE, {"seq": "1"}, {"sender": PUB_PREFIX + "0"}),
                ("send", "speak", {"utterance": "hello"}, None),
                ("send", "soak.other", {}, None),
                ("send", "recognizer_loop:utterance", {"utterances": ["x"]}, None),
                ("request", "capbus.keygen", {"id": PUB_PREFIX + "0"}, None),
                ("request", "capbus.stats", {}, None),
                ("request", "capbus.grant", {"id": HOSTILE, "pattern": "*"}, None),
                ("request", "capbus.remove", {"id": PUB_PREFIX + "0"}, None),
                ("request", "capbus.skills", {}, None),
            ], 4)
            for kind, mtype, data, ctx in sends:
                if kind == "request":
                    data = dict(data, request=c.next_request)
                    c.next_request += 1
                c.send(mtype, data, ctx)
            self.expect_errors(self.until_ping(c, "forbidden_send"), "denied", len(sends),
                               "forbidden_send %r" % [s[1] for s in sends])
        return {"denied_send": len(sends)}

    def flood(self):
        """More messages than FLOOD_RATE allows: the excess is refused and counted."""
        start = time.monotonic()
        c = self.authed(FLOODER)
        with c:
            n = random.randint(60, 200)
            for i in range(n):
                c.send("hostile.flood", {"i": i})
            pings, got = self.ping_through(c, "rate_limited", "flood", start)
            frames = n + pings
            elapsed = time.monotonic() - start
            # The bucket holds FLOOD_RATE tokens at the handshake and refills FLOOD_RATE per second.
            refused = frames - (int(FLOOD_RATE * (elapsed + 1)) + 1)
            codes = collections.Counter(m["data"].get("code") for m in got if m["type"] == "bus.error")
            with self.lock:
                self.errors_seen.update(codes)
            if set(codes) - {"rate_limited"} or (refused > 0 and not codes):
                raise Violation("flood: %d frames in %.2fs, want rate_limited errors, got %r"
                                % (frames, elapsed, dict(codes)))
            if sum(codes.values()) > 50 * (elapsed + 1) + 1:
                raise Violation("flood: %d error frames in %.2fs: the error budget is not enforced"
                                % (sum(codes.values()), elapsed))
        with self.lock:
            self.at_least["rate_limited"] += max(0, refused)
        return {}

    def byte_flood(self):
        """More bytes than the daemon's byte_rate allows: refused as quota and counted."""
        start = time.monotonic()
        with self.authed() as c:
            size = 60000
            n = random.randint(30, 50)
            pad = "b" * size
            frame_len = None
            for i in range(n):
                f = c.send("hostile.bulk", {"i": i, "pad": pad})
                frame_len = len(f)
            _, msgs = self.ping_through(c, "quota", "byte_flood", start)
            elapsed = time.monotonic() - start
            # The byte bucket holds byte_rate at the handshake and refills byte_rate per second.
            refused = n - (int(self.args.byte_rate * (elapsed + 1) / frame_len) + 1)
            codes = collections.Counter(m["data"].get("code") for m in msgs if m["type"] == "bus.error")
            with self.lock:
                self.errors_seen.update(codes)
            if set(codes) - {"quota"} or (refused > 0 and not codes):
                raise Violation("byte_flood: %d frames of %d bytes in %.2fs, want quota errors, got %r"
                                % (n, frame_len, elapsed, dict(codes)))
        with self.lock:
            self.at_least["quota"] += max(0, refused)
        return {}

    def slow_consumer(self):
        """Subscribes to the busy type and never reads: the daemon must cut it, nobody else."""
        c = self.connect(key_file=self.keys[SLOW])
        with c:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.handshake(c, "slow_consumer")
            m = c.subscribe("soak.data.*")
            if m["type"] != "capbus.subscribe.reply":
                raise Violation("slow_consumer: subscribe refused: %r" % m)
            p = select.poll()
            p.register(c.sock, select.POLLHUP | select.POLLRDHUP | select.POLLERR)
            deadline = time.monotonic() + (120 if self.args.valgrind else 30)
            while not any(ev & (select.POLLHUP | select.POLLRDHUP | select.POLLERR) for _, ev in p.poll(200)):
                if time.monotonic() > deadline:
                    raise Violation("slow_consumer: never disconnected (max_queue %d)" % self.args.max_queue)
                if self.stop.is_set():
                    # Traffic is ending: without messages to queue nothing will cut it. It may
                    # have been cut meanwhile, so the counter may or may not count it.
                    with self.lock:
                        self.actions["slow_consumer_unfinished"] += 1
                        self.maybe["slow_consumers"] += 1
                    return None
        return {"slow_consumers": 1}

    def idle(self):
        """Connects and never completes the handshake: closed at handshake_timeout_ms."""
        how = random.choice(["silent", "hello", "half"])
        c = self.raw()
        with c:
            t0 = time.monotonic()
            if how != "silent":
                hello = c.hello()
                if how == "half":
                    c.send_raw(bad_auth_frame(hello, HOSTILE)[:random.randint(1, 60)])
            self.expect_closed(c, "idle/" + how, quiet=how != "silent")
            took = time.monotonic() - t0
            if took < self.args.handshake_timeout_ms / 1000 - 0.05:
                raise Violation("idle/%s: closed after %.2fs, before the handshake timeout" % (how, took))
        return {"handshake_timeouts": 1}

    def truncated(self):
        """Half a frame, then gone: nothing to count, nothing may leak."""
        how = random.choice(["auth", "frame", "tag", "header"])
        if how == "auth":
            with self.raw() as c:
                hello = c.hello()
                c.send_raw(bad_auth_frame(hello, HOSTILE)[:random.randint(1, 60)])
        else:
            with self.authed() as c:
                frame = c.seal(json.dumps({"type": "hostile.x", "data": {"pad": "t" * random.randint(0, 30000)}}).encode())
                cut = {"frame": random.randint(5, len(frame) - 17), "tag": len(frame) - random.randint(1, 15),
                       "header": random.randint(1, 3)}[how]
                c.send_raw(frame[:cut])
        return {}

    def churn(self):
        """Connect and disconnect in every state."""
        how = random.choice(["connect", "hello", "auth", "subscribe"])
        if how == "connect":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.d.socket)
            s.close()
        elif how == "hello":
            with self.raw() as c:
                c.hello()
        elif how == "auth":
            with self.authed():
                pass
        else:
            with self.authed() as c:
                m = c.subscribe(random.choice(["hostile.quiet.*", "hostile.quiet.x"]))
                if m["type"] != "capbus.subscribe.reply":
                    raise Violation("churn: allowed subscription refused: %r" % m)
        return {}

    # scheduling ------------------------------------------------------------------------------

    GROUPS = {
        "auth": ["wrong_key", "unknown_id"],
        "frames": ["garbage_handshake", "garbage_raw", "oversized_handshake", "empty_handshake", "oversized",
                   "empty_frame"],
        "macs": ["bad_mac"],
        "policy": ["malformed", "forbidden_subscribe", "forbidden_send"],
        "floods": ["flood", "byte_flood"],
        "slow": ["slow_consumer"],
        "idle1": ["idle"],
        "idle2": ["idle"],
        "churn": ["churn", "truncated"],
    }

    def run_group(self, name, actions, pause):
        rnd = random.Random(hash(name) ^ int(time.time()))
        while not self.stop.is_set():
            action = rnd.choice(actions)
            try:
                counts = getattr(self, action)()
            except Violation as e:
                with self.lock:
                    self.violations.append(str(e))
                counts = None
            except Stalled as e:
                with self.lock:
                    self.stalled[action] += 1
                    if e.counter:
                        self.maybe[e.counter] += 1
                counts = None
            except (ConnectionRefusedError, FileNotFoundError, BlockingIOError) as e:
                with self.lock:
                    self.connect_failures += 1
                counts = None
                if self.connect_failures > 100:
                    with self.lock:
                        self.violations.append("%s: cannot connect (%s)" % (action, e))
            except (socket.timeout, Closed, ConnectionResetError, BrokenPipeError, protocol.ProtocolError,
                    protocol.AuthError, OSError) as e:
                with self.lock:
                    self.violations.append("%s: %s: %s" % (action, type(e).__name__, e))
                counts = None
            except Exception:
                with self.lock:
                    self.violations.append("%s: %s" % (action, traceback.format_exc()))
                counts = None
            if counts is not None:
                with self.lock:
                    self.actions[action] += 1
                    self.expect.update(counts)
            if len(self.violations) > 50:
                return
            self.stop.wait(pause * rnd.uniform(0.5, 1.5))

    def start(self, pause):
        self.threads = []
        for name, actions in self.GROUPS.items():
            t = threading.Thread(target=self.run_group, args=(name, actions, pause), name="hostile-" + name,
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self, timeout):
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        check(not stuck, "hostile threads did not finish within %.0fs: %s" % (timeout, stuck))


# -- the run ------------------------------------------------------------------------------------

def manifests(args):
    ms = {}
    for i in range(args.publishers):
        ms[PUB_PREFIX + str(i)] = manifest(PUB_PREFIX + str(i), [DATA_TYPE], [], limits={"msg_rate": 100000})
    for i in range(args.subscribers):
        ms[SUB_PREFIX + str(i)] = manifest(SUB_PREFIX + str(i), [], ["soak.data.*"])
    ms[HOSTILE] = manifest(HOSTILE, ["hostile.*"], ["hostile.*"], limits={"msg_rate": 100000})
    ms[FLOODER] = manifest(FLOODER, ["hostile.*"], [], limits={"msg_rate": FLOOD_RATE})
    ms[SLOW] = manifest(SLOW, [], ["soak.data.*"])
    return ms


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class Sampler:
    def __init__(self, d):
        self.d = d
        self.samples = []  # (t, rss_kb, fds)
        self.router = d.router_pid()

    def sample(self, t):
        check(self.d.alive(), "capbusd exited (%r) during the soak:\n%s" % (self.d.proc.poll(), self.d.log()[-4000:]))
        router = self.d.router_pid()
        check(router == self.router, "the router was replaced (pid %r, was %r): it died during the soak:\n%s"
              % (router, self.router, self.d.log()[-4000:]))
        try:
            rss, fds = self.d.rss_kb(), self.d.fd_count()
        except (FileNotFoundError, ProcessLookupError, KeyError):
            check(False, "capbusd or its router vanished during the soak:\n%s" % self.d.log()[-4000:])
        self.samples.append((t, rss, fds))
        return rss, fds


def start_clients(d, args, keys):
    client = soak_client_path()
    subs, pubs = [], []
    sub_timeout = args.duration + (240 if args.valgrind else 60)
    for i in range(args.subscribers):
        p = subprocess.Popen([client, "sub", "--socket", d.socket, "--key", keys[SUB_PREFIX + str(i)],
                              "--publishers", str(args.publishers), "--timeout", str(sub_timeout)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        subs.append(p)
    for p in subs:
        line = p.stdout.readline()
        check(line.strip() == "ready", "subscriber %d did not start: %r %s" % (subs.index(p), line, p.stderr.read()
                                                                            if p.poll() is not None else ""))
    for i in range(args.publishers):
        p = subprocess.Popen([client, "pub", "--socket", d.socket, "--key", keys[PUB_PREFIX + str(i)],
                              "--rate", str(args.rate), "--duration", str(args.duration), "--pad", "160",
                              "--sync-every", str(max(100, int(args.rate)))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pubs.append(p)
    return subs, pubs


def collect(procs, timeout, what):
    out = []
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.terminate()
            try:
                stdout, stderr = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                stdout, stderr = p.communicate()
        lines = [l for l in stdout.splitlines() if l.startswith("{")]
        check(lines, "%s %d printed no summary (exit %r): %s" % (what, procs.index(p), p.returncode, stderr.strip()))
        r = json.loads(lines[-1])
        r["exit"] = p.returncode
        r["stderr"] = stderr.strip()
        out.append(r)
    return out


def stop_procs(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def noseccomp_path():
    return os.path.join(BUILD_DIR, "tests", "soak", "soak-noseccomp.so")


def valgrind_router(logdir):
    """The router program for the valgrind run: capbusd executes the router with an empty
    environment, so the preload that stands in for seccomp is set by this wrapper (valgrind's
    --trace-children follows the exec into capbusd-router)."""
    path = os.path.join(logdir, "capbusd-router")
    with open(path, "w") as f:
        f.write('#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' % (noseccomp_path(), capbusd_router_path()))
    os.chmod(path, 0o755)
    return path


def valgrind_argv(logdir):
    # valgrind cannot run seccomp filters: the router would fail closed (see soak-noseccomp.c).
    return ["env", "LD_PRELOAD=" + noseccomp_path(), "valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=99", "--trace-children=yes",
            "--child-silent-after-fork=no", "--num-callers=30",
            "--suppressions=" + os.path.join(HERE, "valgrind.supp"), "--log-file=%s/valgrind.%%p.log" % logdir]


def check_valgrind(logdir, pids):
    logs = sorted(n for n in os.listdir(logdir) if n.startswith("valgrind.") and n.endswith(".log"))
    found = {}
    problems = []
    for name in logs:
        with open(os.path.join(logdir, name), errors="replace") as f:
            text = f.read()
        pid = int(name.split(".")[1])
        summary = [l for l in text.splitlines() if "ERROR SUMMARY:" in l]
        found[pid] = summary[-1].split("==", 2)[-1].strip() if summary else "(no summary)"
        if not summary or "ERROR SUMMARY: 0 errors" not in summary[-1]:
            problems.append("valgrind log of pid %d:\n%s" % (pid, text[-6000:]))
    log("valgrind: %s" % ", ".join("pid %d: %s" % kv for kv in sorted(found.items())))
    for pid in pids:
        check(pid in found, "no valgrind log for pid %d (have %s)" % (pid, sorted(found)))
    check(not problems, "valgrind found errors:\n" + "\n".join(problems))


def main(args):
    if not os.access(soak_client_path(), os.X_OK):
        skip("%s not built (ninja -C $CAPBUS_BUILD_DIR tests/soak/soak-client)" % soak_client_path())
    if args.valgrind and not shutil.which("valgrind"):
        skip("valgrind is not installed")
    if args.valgrind and not os.path.exists(noseccomp_path()):
        skip("%s not built" % noseccomp_path())
    asan = is_asan_build()
    if args.valgrind and asan:
        skip("valgrind cannot run a sanitizer build; the ASan build's soak-quick is its memory check")
    random.seed()
    vg_dir = tempfile.mkdtemp(prefix="capbus-soak-vg.") if args.valgrind else None
    config = {"max_frame": MAX_FRAME, "max_queue": args.max_queue, "byte_rate": args.byte_rate,
              "handshake_timeout_ms": args.handshake_timeout_ms, "max_pending": 256, "log_level": "info"}
    procs = []
    attacks = None
    try:
        with Daemon(manifests(args), start=False, **config) as d:
            d.start(timeout=120 if args.valgrind else 10, wrapper=valgrind_argv(vg_dir) if args.valgrind else None,
                    router=valgrind_router(vg_dir) if args.valgrind else None)
            pids = d.pids()
            log("capbusd pid %d, router pid %d, socket %s%s%s" % (pids[0], pids[1], d.socket,
                                                                 " (ASan build)" if asan else "",
                                                                 " (under valgrind, router seccomp filter not installed)"
                                                                 if args.valgrind else ""))
            keys = {ident: d.keygen(ident) for ident in manifests(args)}
            base = d.stats()
            sampler = Sampler(d)
            time.sleep(0.5)  # the stats connection is closed
            idle_rss, idle_fds = sampler.sample(0)
            log("idle: rss %d KiB, %d fds" % (idle_rss, idle_fds))

            subs, pubs = start_clients(d, args, keys)
            procs = subs + pubs
            attacks = Attacks(d, keys, args)
            t_start = time.monotonic()
            attacks.start(args.pause)
            log("%d publishers x %.0f msg/s -> %d subscribers; hostile threads: %s; %.0fs"
                % (args.publishers, args.rate, args.subscribers, ", ".join(attacks.GROUPS), args.duration))

            next_stats = t_start + args.stats_every
            while True:
                now = time.monotonic()
                t = now - t_start
                if t >= args.duration:
                    break
                rss, fds = sampler.sample(t)
                for i, p in enumerate(procs):
                    if p.poll() is not None and p.returncode != 0:
                        check(False, "%s exited early with %d: %s" % ("subscriber %d" % i if i < len(subs) else
                                                                     "publisher %d" % (i - len(subs)),
                                                                     p.returncode, p.stderr.read().strip()))
                if now >= next_stats:
                    st = d.stats()
                    log("t=%4.0fs rss %6d KiB fds %3d | conns %3d messages %9d delivered %9d | hostile %5d actions, "
                        "%d violations" % (t, rss, fds, st["connections"], st["messages"] - base["messages"],
                                           st["delivered"] - base["delivered"], sum(attacks.actions.values()),
                                           len(attacks.violations)))
                    next_stats += args.stats_every
                time.sleep(min(args.sample_every, max(0.05, args.duration - t)))

            attacks.finish(60 if args.valgrind else 30)
            pub_res = collect(pubs, 60, "publisher")
            sub_res = collect(subs, 120 if args.valgrind else 60, "subscriber")
            procs = []
            elapsed = time.monotonic() - t_start

            # Everyone is gone: the daemon must be back to its idle descriptor count.
            final = final_stats(d)
            deadline = time.monotonic() + 5
            while d.fd_count() > idle_fds and time.monotonic() < deadline:
                time.sleep(0.1)
            end_rss, end_fds = sampler.sample(elapsed)

            report(args, d, base, final, attacks, pub_res, sub_res, sampler, idle_rss, idle_fds,
                   end_rss, end_fds, elapsed, asan)

            if args.valgrind:
                rc = d.stop(timeout=180)
                check(rc != 99, "capbusd exited with valgrind's error code 99")
                check_valgrind(vg_dir, pids)
    finally:
        if attacks:
            attacks.stop.set()
        stop_procs(procs)
        if vg_dir:
            shutil.rmtree(vg_dir, ignore_errors=True)


def final_stats(d):
    """Stats once the connections of all clients are closed (within 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        st = d.stats()
        if st["connections"] <= 1 or time.monotonic() > deadline:
            return st
        time.sleep(0.2)


def report(args, d, base, final, attacks, pub_res, sub_res, sampler, idle_rss, idle_fds, end_rss, end_fds,
           elapsed, asan):
    failures = []

    # 1. Well-behaved traffic: exactly once, in order.
    sent = sum(p["sent"] for p in pub_res)
    log("publishers: %s" % "; ".join("%s sent %d at %.0f/s%s" % (p["id"], p["sent"], p["rate"],
                                                                 "" if p["ok"] else " FAILED: " + p["note"])
                                      for p in pub_res))
    for p in pub_res:
        if not p["ok"] or p["exit"] != 0:
            failures.append("publisher %s was refused or cut off: %s %s" % (p["id"], p["note"], p["stderr"]))
    by_pub = {p["id"]: p["sent"] for p in pub_res}
    received = 0
    for s in sub_res:
        received += s["received"]
        log("%s: received %d (%.0f/s), latency mean %d us p50 <%d us p99 <%d us max %d us; gaps %d missing %d "
            "dups %d reorders %d unexpected %d errors %d" % (
                s["id"], s["received"], s["rate"], s["lat_mean_us"], s["lat_p50_us"], s["lat_p99_us"],
                s["lat_max_us"], s["gaps"], s["missing"], s["dups"], s["reorders"], s["unexpected"], s["errors"]))
        if not s["ok"] or s["exit"] != 0:
            if 'reason=slow_consumer id="%s"' % s["id"] in d.log():
                s["fatal"] += " (the daemon cut it as a slow consumer: was the machine too loaded to read " \
                              "%.0f messages/s?)" % (args.rate * args.publishers)
            failures.append("subscriber %s: gaps=%d missing=%d dups=%d reorders=%d unexpected=%d after_end=%d "
                            "errors=%d ended=%d/%d %s; first anomalies: %s"
                            % (s["id"], s["gaps"], s["missing"], s["dups"], s["reorders"], s["unexpected"],
                               s["after_end"], s["errors"], s["ended"], args.publishers, s["fatal"], s["notes"]))
        for pid, n in by_pub.items():
            got = s["publishers"].get(pid, {}).get("received", 0)
            if got != n:
                failures.append("subscriber %s got %d of the %d messages %s sent" % (s["id"], got, n, pid))
    span = max(p["elapsed"] for p in pub_res) or elapsed
    log("well-behaved: %d messages sent, %d deliveries checked (%.0f sent/s, %.0f deliveries/s over %.0fs)"
        % (sent, received, sent / span, received / span, span))
    if sent == 0:
        failures.append("the publishers sent nothing")

    # 2. Hostile actions refused and counted.
    delta = {k: final.get(k, 0) - base.get(k, 0) for k in final if k != "request"}
    log("hostile actions: %s" % ", ".join("%s %d" % kv for kv in sorted(attacks.actions.items())))
    log("error frames seen by hostile clients: %s" % dict(attacks.errors_seen))
    log("counters (delta): %s" % ", ".join("%s %d" % (k, delta[k]) for k in sorted(delta)))
    if attacks.stalled:
        log("attacks whose outcome a stalled daemon blurred (handshake deadline passed first): %s"
            % dict(attacks.stalled))
    if attacks.connect_failures:
        log("hostile connections refused by the kernel backlog: %d" % attacks.connect_failures)
    for v in attacks.violations[:20]:
        failures.append("hostile action not refused as documented: %s" % v)
    for name in EXACT:
        want = attacks.expect[name]
        if delta.get(name, 0) < want:
            failures.append("counter %s rose by %d, but hostile clients provoked %d: refusals not counted"
                            % (name, delta.get(name, 0), want))
        elif delta.get(name, 0) > want + attacks.maybe[name]:
            failures.append("counter %s rose by %d, hostile clients provoked only %d: unexplained refusals"
                            % (name, delta.get(name, 0), want))
    for name in AT_LEAST:
        want = attacks.expect[name] + attacks.at_least[name]
        if delta.get(name, 0) < want:
            failures.append("counter %s rose by %d, but hostile clients provoked at least %d"
                            % (name, delta.get(name, 0), want))
    for name in EXACT + AT_LEAST:
        if attacks.expect[name] + attacks.at_least[name] == 0 and not (name == "slow_consumers" and args.duration < 5):
            failures.append("no hostile action exercised %s" % name)
    if delta.get("messages", 0) < sent:
        failures.append("the daemon routed %d messages, publishers sent %d" % (delta.get("messages", 0), sent))

    # 3. Resources flat after warm-up.
    samples = [(t, r, f) for t, r, f in sampler.samples if t > 0]
    warm = args.warmup
    span = args.duration - warm
    early = [s for s in samples if warm <= s[0] < warm + span / 3]
    late = [s for s in samples if args.duration - span / 3 <= s[0] <= args.duration]
    rss_e, rss_l = median([s[1] for s in early]), median([s[1] for s in late])
    fd_e, fd_l = median([s[2] for s in early]), median([s[2] for s in late])
    rss_all = [s[1] for s in samples]
    fd_all = [s[2] for s in samples]
    log("rss KiB: idle %d, min %d, max %d; median %.0f after warm-up (%d samples) vs %.0f in the last third "
        "(%d samples): %+.0f KiB" % (idle_rss, min(rss_all), max(rss_all), rss_e, len(early), rss_l, len(late),
                                     rss_l - rss_e))
    log("fds: idle %d, min %d, max %d; median %.0f after warm-up vs %.0f in the last third: %+.0f; after all "
        "clients left: %d" % (idle_fds, min(fd_all), max(fd_all), fd_e, fd_l, fd_l - fd_e, end_fds))
    step = max(1, len(samples) // 12)
    log("samples (t s: rss KiB / fds): %s" % ", ".join("%.0f: %d/%d" % s for s in samples[::step]))
    if not early or not late:
        failures.append("too few resource samples (%d early, %d late)" % (len(early), len(late)))
    if args.valgrind or asan:
        log("rss not judged under %s (its own allocator and shadow memory dominate)"
            % ("valgrind" if args.valgrind else "ASan"))
    elif rss_l - rss_e > RSS_SLACK_KB:
        failures.append("RSS grew from a median of %.0f KiB after warm-up to %.0f KiB in the last third "
                        "(+%.0f KiB > %d KiB allowed): memory leak?" % (rss_e, rss_l, rss_l - rss_e, RSS_SLACK_KB))
    if fd_l - fd_e > FD_SLACK:
        failures.append("open fds grew from a median of %.0f after warm-up to %.0f in the last third (> +%d): "
                        "descriptor leak?" % (fd_e, fd_l, FD_SLACK))
    if end_fds > idle_fds:
        failures.append("%d fds open after every client left, %d when idle: descriptor leak" % (end_fds, idle_fds))
    if final["connections"] > 1:
        failures.append("the daemon still counts %d connections after every client left" % final["connections"])
    if not d.alive():
        failures.append("capbusd exited:\n%s" % d.log()[-4000:])

    check(not failures, "%d problem(s):\n  - %s" % (len(failures), "\n  - ".join(failures)))
    log("all checks passed")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=None, help="seconds of traffic (default 600, --quick 60)")
    ap.add_argument("--quick", action="store_true", help="a 60 s run for CI")
    ap.add_argument("--valgrind", action="store_true", help="run the daemon under valgrind (memcheck)")
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--subscribers", type=int, default=4)
    ap.add_argument("--rate", type=float, default=None, help="messages/s per publisher (default 500; 25 under valgrind)")
    ap.add_argument("--pause", type=float, default=None, help="seconds between two actions of a hostile thread")
    args = ap.parse_args(argv)
    if args.duration is None:
        args.duration = 20 if args.valgrind else 60 if args.quick else 600
    if args.rate is None:
        args.rate = 25 if args.valgrind else 500
    if args.pause is None:
        args.pause = 0.25 if args.valgrind else 0.03
    args.handshake_timeout_ms = 2000 if args.valgrind else HANDSHAKE_TIMEOUT_MS
    args.max_queue = MAX_QUEUE_VALGRIND if args.valgrind else MAX_QUEUE
    # Enough for the publishers (about 300 bytes a message) with room to spare; the byte flood
    # sends 60 KB frames in bursts several times larger.
    args.byte_rate = max(1 << 20, int(args.rate * 300 * 4))
    args.warmup = min(60.0, args.duration * 0.25)
    args.sample_every = 0.5 if args.duration <= 120 else 2.0
    args.stats_every = 10.0 if args.duration <= 120 else 30.0
    check(args.publishers >= 1 and args.subscribers >= 1 and args.duration >= 5, "bad arguments")
    return args


if __name__ == "__main__":
    ARGS = parse_args(sys.argv[1:])
    run_test(lambda: main(ARGS))
