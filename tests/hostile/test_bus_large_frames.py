#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Large frames: delivered whole, or refused with an error that reaches the sender.

- Limits that contradict each other (byte_rate below one max_frame message) stop capbusd at
  start-up with FILE:LINE:COL pointing at the value.
- max_frame at 16 MiB with the default max_queue (8 MiB): a 9 MiB message reaches all three idle
  subscribers intact; none of them is cut off as a slow consumer, and its sender hears nothing.
- Bodies near 16 MiB: the delivered copy carries context.sender (29 more bytes for "alice"
  here). A body whose stamped copy fits is delivered, byte for byte; one byte more and its sender
  gets bus.error too_large (connection kept), before the answer to the ping it sends next. Both
  routing paths are covered (plain keys, and an escaped top-level key).
- A frame above max_frame is answered too_large and the connection is closed.
"""
import json
import re
import select
import subprocess
import time

from capbus_harness import Daemon, capbusd_path, check, manifest, protocol, run_test

from capbus import Bus

MIB = 1 << 20
HARD = 16 * MIB
STAMP = len(',"context":{"sender":"alice"}')  # what delivery adds to a body without context


def inconsistent_limits():
    d = Daemon(start=False)
    try:
        lines = ["{"] + ['  %s: %s,' % (json.dumps(k), json.dumps(v)) for k, v in d.config.items()]
        lines += ['  "max_frame": 65536,', '  "byte_rate": 1024', "}"]
        with open(d.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        want_line, want_col = len(lines) - 1, len('  "byte_rate": ') + 1
        try:
            cp = subprocess.run([capbusd_path(), "--config", d.config_path], capture_output=True, text=True,
                                timeout=10, env=d._env())
        except subprocess.TimeoutExpired:
            check(False, "capbusd started with byte_rate below max_frame")
        check(cp.returncode == 1, "capbusd exited %d with inconsistent limits" % cp.returncode)
        err = cp.stderr.strip().splitlines()
        check(len(err) == 1, "want one line on stderr, got %r" % cp.stderr)
        m = re.fullmatch(r"capbusd: (.*):(\d+):(\d+): (.*)", err[0])
        check(m is not None, "not a FILE:LINE:COL message: %r" % err[0])
        check(m.group(1) == d.config_path and (int(m.group(2)), int(m.group(3))) == (want_line, want_col),
              "the error points at %s:%s:%s, want %s:%d:%d" % (m.group(1), m.group(2), m.group(3), d.config_path,
                                                             want_line, want_col))
        check('"byte_rate" (1024) must be at least max_frame + 20 (65556)' in m.group(4),
              "the error does not say what is wrong: %r" % m.group(4))
    finally:
        d.cleanup()


def body_of_length(n, escaped_key=False):
    """A message body of exactly n bytes: {"type":"big.edge","data":{"blob":"xxx"}}."""
    head = b'{"t\\u0079pe":"big.edge","data":{"blob":"' if escaped_key else b'{"type":"big.edge","data":{"blob":"'
    tail = b'"}}'
    return head + b"x" * (n - len(head) - len(tail)) + tail


def nine_mib_and_edges():
    readers = ("bob", "carol", "dave")
    mans = {"alice": manifest("alice", ["big.*"], []), "erin": manifest("erin", [], ["big.*"]),
            "fred": manifest("fred", [], ["big.*"])}
    mans.update({r: manifest(r, [], ["big.*"]) for r in readers})
    # max_queue stays at its 8 MiB default: below the message size on purpose.
    with Daemon(mans, max_frame=HARD, byte_rate=1 << 30) as d:
        subs = {r: d.client(r, timeout=60) for r in readers}
        for r, c in subs.items():
            check(c.subscribe("big.*")["type"] == "capbus.subscribe.reply", "%s could not subscribe" % r)
        alice = d.client("alice", timeout=60)
        # The reference clients receive it too: the Python SDK, and libcapbus through the CLI.
        erin = Bus(d.socket, d.keygen("erin"))
        heard = []
        erin.on("big.*", heard.append)
        listener = d.cli_popen("listen", "big.*", "--timeout", "60", key=d.keygen("fred"))
        try:
            while True:  # until the listener has subscribed: it prints a first message
                alice.send("big.ready", {})
                ready, _, _ = select.select([listener.stdout], [], [], 0.2)
                if ready:
                    line = listener.stdout.readline()
                    check(line.startswith('{"type":"big.ready"'), "capbus listen printed %r; stderr: %s"
                          % (line[:200], line or listener.stderr.read()))
                    break
                if listener.poll() is not None:
                    check(False, "capbus listen exited: %s" % listener.stderr.read())
            for c in list(subs.values()) + [alice]:
                c.drain(0.2)
            erin.run(0.2)
            heard.clear()

            blob = "9" * (9 * MIB)
            alice.send("big.nine", {"blob": blob})
            alice.ping(60)
            check(alice.pending == [], "the 9 MiB sender was told %r" % [m.get("data") for m in alice.pending][:1])
            for r, c in subs.items():
                m = c.recv_message(60)
                check(m["type"] == "big.nine" and m["data"]["blob"] == blob and m["context"]["sender"] == "alice",
                      "%s did not receive the 9 MiB message intact" % r)
            deadline = time.monotonic() + 60
            while not heard and time.monotonic() < deadline:
                erin.run(1)
            check(len(heard) == 1 and heard[0].data["blob"] == blob, "the SDK did not receive the 9 MiB message")
            while True:
                line = listener.stdout.readline()
                if line == "":
                    check(False, "capbus listen ended without the 9 MiB message: %s" % listener.stderr.read())
                m = json.loads(line)
                if m["type"] == "big.nine":
                    break
            check(m["data"]["blob"] == blob, "capbus listen printed the 9 MiB message changed")
        finally:
            listener.kill()
            listener.wait()
            erin.close()
        st = d.stats()
        check(st["slow_consumers"] == 0, "%d idle subscribers were cut off as slow consumers" % st["slow_consumers"])
        for c in subs.values():
            c.ping(10)

        bob = subs["bob"]
        for r in ("carol", "dave"):  # they do not read from here on: no backlog for them
            check(subs[r].request("capbus.unsubscribe", {"pattern": "big.*"})["type"] == "capbus.unsubscribe.reply",
                  "%s could not unsubscribe" % r)
        for escaped in (False, True):
            # The delivered copy is the body plus STAMP bytes (minus 5 for an unescaped "\u0079").
            fits = HARD - STAMP + (5 if escaped else 0)
            for n in (fits - 1000, fits, fits + 1, HARD):
                body = body_of_length(n, escaped)
                alice.send_body(body)
                alice.ping(60)
                told = [m for m in alice.pending if m["type"] == "bus.error"]
                alice.pending = []
                if n <= fits:
                    check(told == [], "a %d-byte body (escaped key: %s) was refused: %r" % (n, escaped, told))
                    hdr, got, tag = bob.recv_frame(60)
                    bob.session.open(hdr, got, tag)
                    check(len(got) == n + STAMP - (5 if escaped else 0) and len(got) <= HARD,
                          "bob got %d bytes for a %d-byte body" % (len(got), n))
                    check(json.loads(got)["data"]["blob"] == json.loads(body)["data"]["blob"],
                          "the %d-byte body changed on the way" % n)
                else:
                    check(len(told) == 1 and told[0]["data"]["code"] == "too_large"
                          and told[0]["data"].get("type") == "big.edge",
                          "a %d-byte body whose stamped copy is above 16 MiB (escaped key: %s): sender was told %r"
                          % (n, escaped, [t["data"] for t in told]))
        check(bob.drain(0.5) == [], "bob received a message whose stamped copy was too large")
        check(d.stats()["too_large"] == 4, "too_large refusals were not counted")
        check("event=too_large" in d.log(), "too_large refusals were not logged")

        # Above max_frame itself: refused and closed, as before.
        alice.send_raw(protocol.header(HARD + 1))
        m = alice.recv_message(10)
        check(m["type"] == "bus.error" and m["data"]["code"] == "too_large", "oversized frame answered %r" % m)
        check(alice.wait_closed(5), "the connection stayed open after an oversized frame")
        for c in subs.values():
            c.ping(10)
        check(d.alive(), "daemon died")


def main():
    inconsistent_limits()
    nine_mib_and_edges()


if __name__ == "__main__":
    run_test(main)
