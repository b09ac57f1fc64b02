#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A WebSocket client hears only what its manifest lets it receive, and may send only what it
may send: the router enforces the subject's manifest on the delegated session. A native sender
emits an allowed and a forbidden type; the client gets only the allowed one; its own send of a
forbidden type is answered with bus.error denied and the session stays."""
from capbus_harness import check, manifest, run_test
from gateway_harness import GatewayDaemon, recv_until, send

BOTH = ["socket", "gateway"]


def main():
    ms = {"phone": manifest("phone", ["greet.*"], ["news.*"], transports=BOTH),
          "bob": manifest("bob", ["news.*", "secret.*"], ["greet.*"])}
    with GatewayDaemon(ms) as d:
        c = d.ws("token=" + d.token("phone"))
        recv_until(c, lambda m: m["type"] == "connected")
        bob = d.client("bob")
        bob.subscribe("greet.*")
        bob.send("secret.plan", {"n": 1})
        bob.send("news.today", {"n": 2})
        got, skipped = recv_until(c, lambda m: m["type"].startswith("news."))
        check(got["type"] == "news.today" and got["context"]["sender"] == "bob", "got %r" % got)
        check(not any(m["type"].startswith("secret.") for m in skipped), "a forbidden type arrived: %r" % skipped)
        send(c, "secret.leak", {"x": 1})
        err, _ = recv_until(c, lambda m: m["type"] == "bus.error")
        check(err["data"]["code"] == "denied", "sending outside the manifest: %r" % err)
        # still open: an allowed message goes through afterwards, and no forbidden one came
        send(c, "greet.hi")
        msg = bob.recv_message(timeout=5)
        check(msg["type"] == "greet.hi" and msg["context"]["sender"] == "phone", "bob got %r" % msg)
        bob.send("secret.plan2", {"n": 3})
        bob.send("news.later", {"n": 4})
        got, skipped = recv_until(c, lambda m: m["type"] == "news.later")
        check(not any(m["type"].startswith("secret.") for m in skipped), "a forbidden type arrived: %r" % skipped)
        c.close()
        bob.close()


run_test(main)
