#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Namespaces (docs/protocol.md "Namespaces", manifests/README.md "{id}" and "bus.dispatch").

- "{id}:*" and "{id}.*" in a manifest are the identity's own namespace, without spelling the id.
- A type that begins with another identity's id and '.' or ':' is that identity's: no manifest
  pattern alone lets anyone else send it, hear it (delivery, subscription) or bind a call reply
  to it; `capbus grant` of a matching pattern does, and `capbus revoke` ends it again.
- The dispatcher the system policy names, whose manifest says "bus": {"dispatch": true}, sends
  into and hears every namespace without patterns; an identity with "dispatch" that the policy
  does not name gets nothing from it, nor does the named one without "dispatch".
- Types outside every namespace are unaffected, and the longest id wins (a.b owns "a.b.x",
  not a)."""

from capbus_harness import Daemon, check, manifest, run_test, start_with_policy

CORE, CORE2 = "ovos-core", "fake-core"
A = "ovos-skill-alpha.OpenVoiceOS"
B = "ovos-skill-beta.OpenVoiceOS"
SHORT = "ovos-skill-alpha"       # a shorter id that prefixes A's


def errors(msgs):
    return [m for m in msgs if m["type"] == "bus.error"]


def main():
    manifests = {
        CORE: {"manifest_version": 1, "id": CORE, "bus": {"send": ["ovos.utterance.handled"], "receive": [],
                                                          "dispatch": True}},
        CORE2: {"manifest_version": 1, "id": CORE2, "bus": {"send": [], "receive": [], "dispatch": True}},
        A: manifest(A, ["{id}.*", "{id}:*", "ovos.utterance.handled"], ["ovos.utterance.handled"]),
        # B asks, in its manifest, for A's namespace: installable, but not in effect without a grant
        B: manifest(B, ["{id}.*", A + ":*", A + ".*"], [A + ":*", A + ".*", "ovos.*"]),
        SHORT: manifest(SHORT, ["{id}.*"], ["{id}.*"]),
        # a service named like the types it serves, without "namespace": others use them freely
        "calc": manifest("calc", ["calc.*"], ["calc.add"]),
        "calc-user": manifest("calc-user", ["calc.add"], ["calc.add.response"]),
    }
    for i in (A, B, SHORT):
        manifests[i]["bus"]["namespace"] = True   # "{id}:*" and "{id}.*" received, and owned
    with Daemon(manifests, start=False) as d:
        start_with_policy(d, {"dispatcher": CORE})
        cp = d.cli("manifest", "check", d.write_manifest(CORE, manifests[CORE]))
        check(cp.returncode == 0 and "Dispatch" in cp.stdout, "describe of the dispatcher: %s" % cp.stdout)

        core, core2, a, b, short = (d.client(i) for i in (CORE, CORE2, A, B, SHORT))
        for c, p in ((a, A + ":*"), (a, A + ".*"), (short, SHORT + ".*"), (b, "ovos.*")):
            r = c.subscribe(p)
            check(r["type"] == "capbus.subscribe.reply", "subscribe %r: %r" % (p, r))

        # The dispatcher dispatches into A's namespace without any pattern for it.
        core.send(A + ":HelloIntent", {"utterance": "hi"})
        core.send(A + ".converse.request", {})
        got = a.drain(0.4)
        check([m["type"] for m in got] == [A + ":HelloIntent", A + ".converse.request"] and
              all(m["context"]["sender"] == CORE for m in got), "A got %r" % got)
        check(not errors(core.drain(0.2)), "the dispatcher was refused")
        # The longest id owns the type: A's type never reaches the identity whose id prefixes it.
        check(not short.drain(0.2), "a shorter id heard A's namespace")

        # A answers in its own namespace; the dispatcher hears it with a subscription into it.
        r = core.subscribe(A + ".*")
        check(r["type"] == "capbus.subscribe.reply", "the dispatcher could not subscribe into A's namespace: %r" % r)
        a.send(A + ".converse.response", {"ok": True})
        got = core.drain(0.4)
        check([m["type"] for m in got] == [A + ".converse.response"], "the dispatcher heard %r" % got)
        a.drain(0.2)  # A hears its own answer too (it subscribed to its namespace)

        # B: its manifest names A's namespace, but without a grant nothing gets through.
        r = b.subscribe(A + ":*")
        check(r["type"] == "bus.error" and r["data"]["code"] == "denied", "B subscribed into A's namespace: %r" % r)
        b.send(A + ":HelloIntent", {"forged": True})
        e = errors(b.drain(0.3))
        check(len(e) == 1 and e[0]["data"]["code"] == "denied" and "namespace" in e[0]["data"]["message"],
              "B sending into A's namespace: %r" % e)
        x = a.drain(0.3)
        check(not x, "A heard B's forged intent: %r" % x)
        b.send(A + ".converse.response", {"forged": True})   # answering A's converse as A
        check(errors(b.drain(0.3)) and not core.drain(0.3), "B answered in A's namespace")
        # B's broad "ovos.*" subscription still gets what is in no namespace.
        a.send("ovos.utterance.handled", {})
        got = b.drain(0.3)
        check([m["type"] for m in got] == ["ovos.utterance.handled"], "B: %r" % got)
        # A call whose reply type is in A's namespace: B may not call with it.
        b.send(B + ".q", {}, {"call_id": "q1", "reply_type": A + ".answer", "call_timeout_ms": 1000})
        e = errors(b.drain(0.3))
        check(e and e[0]["data"]["code"] == "denied", "B bound a reply in A's namespace: %r" % e)

        # A grant opens exactly what it names.
        cp = d.admin("grant", B, A + ":*")
        check(cp.returncode == 0, "grant: %s" % cp.stderr)
        b.send(A + ":HelloIntent", {"granted": True})
        check(not errors(b.drain(0.3)), "B refused after the grant")
        got = a.drain(0.4)
        check([(m["type"], m["context"]["sender"]) for m in got] == [(A + ":HelloIntent", B)], "A got %r" % got)
        b.send(A + ".converse.response", {})
        check(errors(b.drain(0.3)), "the grant of A:* opened A.* too")
        cp = d.admin("revoke", B, A + ":*")
        check(cp.returncode == 0, "revoke: %s" % cp.stderr)
        b.send(A + ":HelloIntent", {})
        check(errors(b.drain(0.3)) and not a.drain(0.3), "B still sends into A's namespace after the revoke")

        # "dispatch" without the system policy naming it: nothing.
        core2.send(A + ":HelloIntent", {})
        e = errors(core2.drain(0.3))
        check(e and e[0]["data"]["code"] == "denied", "an unnamed dispatcher dispatched: %r" % e)
        check(not a.drain(0.3), "A heard the unnamed dispatcher")
        # calc declared no namespace: a client of it sends calc.add freely, and calc hears it.
        calc, user = d.client("calc"), d.client("calc-user")
        check(calc.subscribe("calc.add")["type"] == "capbus.subscribe.reply", "calc subscribe")
        user.send("calc.add", {"a": 1})
        check(not errors(user.drain(0.3)), "calc.add refused")
        got = calc.drain(0.3)
        check([(m["type"], m["context"]["sender"]) for m in got] == [("calc.add", "calc-user")], "calc got %r" % got)
        check(d.alive(), "daemon died")

    # The policy names an identity whose manifest does not ask for dispatch: nothing either.
    manifests[CORE]["bus"]["dispatch"] = False
    with Daemon(manifests, start=False) as d:
        start_with_policy(d, {"dispatcher": CORE})
        core, a = d.client(CORE), d.client(A)
        a.subscribe(A + ":*")
        core.send(A + ":HelloIntent", {})
        check(errors(core.drain(0.3)) and not a.drain(0.3), "dispatch without \"dispatch\": true in the manifest")


if __name__ == "__main__":
    run_test(main)
