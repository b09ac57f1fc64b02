#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real OVOS skill ids and message types go through a real daemon (docs/protocol.md "Messages",
"Patterns"; manifests/README.md).

- ids of [A-Za-z0-9._-] as OVOS spells them install, get keys, log in and are stamped as sender
  exactly (case included); "Alice" and "alice" are two identities with two keys.
- types OVOS emits (Adapt intent names with spaces, padatious "*.intent" names, ids with capitals
  inside types, non-ASCII, '"' and '\\') are sent, matched by exact and prefix patterns and
  delivered byte-exact, whether written raw or with \\u escapes.
- what stays refused: types with a control character (raw or escaped), an invisible character,
  a '*'; patterns with a '*' anywhere but after a final separator; ids with a space, ':' or
  a leading separator.

The ids and types are those of ovos-core (ovos_core/intent_services: "{skill_id}:{intent}",
"{skill_id}.activate", "{skill_id}.converse.request", "ovos.skills.fallback.{skill_id}.request"),
ovos-workshop (OVOSSkill intent and event names) and skills published by OpenVoiceOS."""
import json
import time

from capbus_harness import Daemon, check, manifest, run_test, start_with_policy

IDS = [
    "ovos-skill-personal.OpenVoiceOS",
    "ovos-skill-hello-world.openvoiceos",
    "skill-ovos-fallback-unknown.openvoiceos",
    "ovos-skill-date-time.OpenVoiceOS",
    "mycroft-joke.mycroftai",
    "Alice",
    "alice",
    "A",
    "9",
]

CORE = "ovos-core"


def types_for(sid):
    return [
        sid + ":WhoMadeYou.intent",          # padatious
        sid + ":What Can You Do",            # an Adapt intent whose name has spaces
        sid + ".activate",
        sid + ".converse.request",
        sid + ".stop",
        "ovos.skills.fallback." + sid + ".request",
        "ovos.common_play.play",
    ]


def odd_types(sid):
    return [sid + ":Caf\u00e9 \u00fcber", sid + ":say \"hi\" \\ now", sid + ":\u5929\u6c17", sid + ":a..b.", sid + ":/x"]


def main():
    manifests = {}
    sends = []
    for s in IDS:
        sends += types_for(s) + odd_types(s)
    # ovos-core dispatches into the skills' namespaces (docs/protocol.md "Namespaces")
    manifests[CORE] = manifest(CORE, sorted(set(sends)), [])
    manifests[CORE]["bus"]["dispatch"] = True
    for s in IDS:
        manifests[s] = manifest(s, [], [s + ":*", s + ".*", "ovos.skills.fallback." + s + ".*", "ovos.common_play.play"])
    with Daemon(manifests, start=False) as d:
        start_with_policy(d, {"dispatcher": CORE})
        # manifest check and keys for every id as written
        for s in IDS:
            cp = d.cli("manifest", "check", d.write_manifest(s, manifests[s]))
            check(cp.returncode == 0, "manifest check %s: %s %s" % (s, cp.stdout, cp.stderr))
        core = d.client(CORE)
        skills = {s: d.client(s) for s in IDS}
        keys = {}
        for s in IDS:
            with open(d.keys_dir + "/" + s + ".key") as f:
                keys[s] = f.read()
        check(keys["Alice"] != keys["alice"], "Alice and alice share a key")
        for s, c in skills.items():
            for p in (s + ":*", s + ".*", "ovos.skills.fallback." + s + ".*", "ovos.common_play.play"):
                r = c.subscribe(p)
                check(r["type"] == "capbus.subscribe.reply", "%s subscribe %r: %r" % (s, p, r))

        # Every type reaches exactly its own skill (prefix patterns), stamped with ovos-core.
        for s in IDS:
            for t in types_for(s) + odd_types(s):
                if t == "ovos.common_play.play":
                    continue
                core.send(t, {"for": s})
                # also with raw UTF-8 (no \u escapes): the scan path rather than the tree
                core.send_body(json.dumps({"type": t, "data": {"for": s, "raw": True}}, ensure_ascii=False).encode())
        for s, c in skills.items():
            got = c.drain(0.5)
            want = [t for t in types_for(s) + odd_types(s) if t != "ovos.common_play.play"]
            seen = [m["type"] for m in got]
            check(seen == [t for t in want for _ in (0, 1)], "%s received %r, wanted each of %r twice" % (s, seen, want))
            for m in got:
                check(m["context"]["sender"] == CORE and m["data"]["for"] == s, "%s got %r" % (s, m))
        # A message for all: every skill hears it once.
        core.send("ovos.common_play.play", {})
        for s, c in skills.items():
            got = c.drain(0.3)
            check([m["type"] for m in got] == ["ovos.common_play.play"], "%s: %r" % (s, got))

        # A C client (capbus listen) receives types with '"' and '\\' and stays connected.
        lst = d.cli_popen("listen", "Alice:*", "--count", "3", "--timeout", "15", key=d.keys_dir + "/Alice.key")
        odd = [t for t in odd_types("Alice") if '"' in t or "\\" in t] + ["Alice:Caf\u00e9 \u00fcber"]
        deadline = time.monotonic() + 10
        while lst.poll() is None and time.monotonic() < deadline:
            for t in odd:
                core.send(t, {"c": 1})
            time.sleep(0.2)
        out, err = lst.communicate(timeout=15)
        got = [json.loads(l)["type"] for l in out.splitlines() if l.strip()]
        check(lst.returncode == 0 and sorted(set(got)) == sorted(odd), "capbus listen: rc %s %r %s" % (lst.returncode, got, err))
        skills["Alice"].drain(0.3)

        # The CLI sends such a type too (an Adapt intent with a space, quotes in it).
        t = "Alice:say \"hi\" \\ now"
        cp = d.cli("send", t, '{"cli": 1}', key=d.keys_dir + "/" + CORE + ".key")
        check(cp.returncode == 0, "capbus send %r: %s" % (t, cp.stderr))
        got = skills["Alice"].drain(0.5)
        check([(m["type"], m["data"]) for m in got] == [(t, {"cli": 1})], "Alice got %r" % got)
        check(not skills["alice"].drain(0.2), "alice heard Alice's message")

        d2 = skills["Alice"]
        r = skills["alice"].subscribe("Alice:*")
        check(r["type"] == "bus.error", "alice may not receive Alice's types: %r" % r)

        # Refused: types with controls, invisible characters or '*'.
        for bad in ("a\tb", "a\u0085b", "a\u200bb", "a\u202eb", "a\ufeff", "x.*", "a*b", "a\u2028"):
            core.send(bad, {})
            e = core.drain(0.3)
            check(len(e) == 1 and e[0]["type"] == "bus.error" and e[0]["data"]["code"] == "malformed",
                  "type %r: %r" % (bad, e))
        for pat in ("Alice*", "*.Alice", "a.*.b", "a\tb.*", ".*", "a.\u200b*"):
            r = d2.subscribe(pat)
            check(r["type"] == "bus.error", "pattern %r accepted: %r" % (pat, r))
        # Refused ids: space, ':', leading separator, too long.
        for bad in ("Al ice", "a:b", ".alice", "-x", "x" * 65):
            cp = d.cli("manifest", "check", d.write_manifest("bad", {"manifest_version": 1, "id": bad}))
            check(cp.returncode != 0 and "id must be 1 to 64 characters of [A-Za-z0-9._-]" in cp.stderr + cp.stdout,
                  "id %r: %s %s" % (bad, cp.stdout, cp.stderr))
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
