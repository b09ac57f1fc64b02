#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Two clients exchange permitted messages through the CLI; each sees the other's true id."""
import json
import time

from capbus_harness import Daemon, check, manifest, run_test, wait_for


def send_until_heard(d, listener, key, mtype, data):
    """Send through the CLI until the listener (--count 1) has printed it; every send must exit 0."""
    deadline = time.monotonic() + 10
    while listener.poll() is None and time.monotonic() < deadline:
        cp = d.cli("send", mtype, json.dumps(data), key=key)
        check(cp.returncode == 0, "permitted send %s exited %d: %s" % (mtype, cp.returncode, cp.stderr))
        try:
            listener.wait(0.05)
        except Exception:
            pass
    out, err = listener.communicate(timeout=10)
    check(listener.returncode == 0, "listener exited %d: %s" % (listener.returncode, err))
    lines = out.strip().splitlines()
    check(len(lines) == 1, "expected one line from listen --count 1, got %r" % out)
    return json.loads(lines[0])


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["reply.*"]),
                 "bob": manifest("bob", ["reply.*"], ["greet.*"])}) as d:
        ka, kb = d.keygen("alice"), d.keygen("bob")
        bob = d.cli_popen("listen", "greet.*", "--count", "1", "--timeout", "15", key=kb)
        m = send_until_heard(d, bob, ka, "greet.hello", {"n": 1})
        check(m["type"] == "greet.hello" and m["data"] == {"n": 1}, "bob got %r" % m)
        check(m["context"]["sender"] == "alice", "sender is %r, not alice" % m["context"].get("sender"))

        alice = d.cli_popen("listen", "reply.*", "--count", "1", "--timeout", "15", key=ka)
        m = send_until_heard(d, alice, kb, "reply.hi", {"text": "h\u00e9llo"})
        check(m["type"] == "reply.hi" and m["data"] == {"text": "h\u00e9llo"}, "alice got %r" % m)
        check(m["context"]["sender"] == "bob", "sender is %r, not bob" % m["context"].get("sender"))

        # call: bob answers alice's request through raw clients; the CLI prints the reply.
        responder = d.client("bob")
        check(responder.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
        caller = d.cli_popen("call", "greet.question", '{"q": 42}', "--reply", "reply.answer", "--timeout", "10",
                             key=ka)
        q = responder.recv_message(10)
        check(q["type"] == "greet.question" and q["context"]["sender"] == "alice", "responder got %r" % q)
        # The reply carries the request's context.call_id (the daemon's id for the call): calls are
        # bound by the daemon, and a reply without it is no reply to the call.
        responder.send("reply.answer", {"a": 42}, {"call_id": q["context"]["call_id"]})
        out, err = caller.communicate(timeout=15)
        check(caller.returncode == 0, "call exited %d: %s" % (caller.returncode, err))
        r = json.loads(out.strip().splitlines()[-1])
        check(r["type"] == "reply.answer" and r["data"] == {"a": 42} and r["context"]["sender"] == "bob",
              "call reply %r" % r)
        check(r["context"].get("bound_call") == r["context"].get("call_id"), "reply not bound: %r" % r)
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
