#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The SDK and the C CLI exchange messages both ways; the daemon's sender stamp is visible."""
import json
import time

from capbus_harness import Daemon, check, manifest, run_test, run_until

from capbus import Bus


def sdk_to_cli(d, bus, key_bob):
    """alice (SDK) sends until bob's `capbus listen --count 1` has printed one message."""
    listener = d.cli_popen("listen", "greet.*", "--count", "1", "--timeout", "20", key=key_bob)
    deadline = time.monotonic() + 15
    n = 0
    while listener.poll() is None and time.monotonic() < deadline:
        n += 1
        # A forged sender in the context must be replaced by the daemon; the rest travels on.
        bus.send("greet.hello", {"n": n, "text": "gr\u00fc\u00df dich"}, {"sender": "bob", "trace": "t-1"})
        bus.sync()
        try:
            listener.wait(0.05)
        except Exception:
            pass
    out, err = listener.communicate(timeout=10)
    check(listener.returncode == 0, "capbus listen exited %d: %s" % (listener.returncode, err))
    lines = out.strip().splitlines()
    check(len(lines) == 1, "expected one line from listen --count 1, got %r" % out)
    m = json.loads(lines[0])
    check(m["type"] == "greet.hello" and m["data"]["text"] == "gr\u00fc\u00df dich", "bob heard %r" % m)
    check(m["context"]["sender"] == "alice", "sender is %r, not alice" % m["context"].get("sender"))
    check(m["context"].get("trace") == "t-1", "context did not travel: %r" % m["context"])


def cli_to_sdk(d, bus, key_bob):
    """bob (CLI) sends; alice (SDK) has subscribed first, so one send is enough."""
    got = []
    bus.on("reply.*", got.append)
    cp = d.cli("send", "reply.hi", '{"text": "h\u00e9llo", "list": [1, 2.5, null]}', key=key_bob)
    check(cp.returncode == 0, "capbus send exited %d: %s" % (cp.returncode, cp.stderr))
    run_until(bus, lambda: got, what="reply.hi from the CLI")
    m = got[0]
    check(m.type == "reply.hi" and m.data == {"text": "h\u00e9llo", "list": [1, 2.5, None]}, "alice got %r" % m)
    check(m.sender == "bob", "sender is %r, not bob" % m.sender)

    # Another pattern's handler is not called for it, and removing the handler unsubscribes.
    bus.remove("reply.*", got.append)
    cp = d.cli("send", "reply.again", key=key_bob)
    check(cp.returncode == 0, "capbus send exited %d: %s" % (cp.returncode, cp.stderr))
    bus.sync()
    check(bus.run(0.3) == 0 and len(got) == 1, "a message arrived after remove(): %r" % got)


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["reply.*"]),
                 "bob": manifest("bob", ["reply.*"], ["greet.*"])}) as d:
        key_alice, key_bob = d.keygen("alice"), d.keygen("bob")
        with Bus(d.socket, key_alice) as bus:
            check(bus.id == "alice", "bus.id is %r" % bus.id)
            sdk_to_cli(d, bus, key_bob)
            cli_to_sdk(d, bus, key_bob)
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
