#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The OpenVoiceOS manifests shipped in packaging/manifests/ovos (its README.md).

- Every shipped manifest passes `capbus manifest check`; hearing `speak`, injecting
  `recognizer_loop:utterance` and sending `mycroft.mic.*` are DANGEROUS where a service asks for
  them, ovos-core asks for dispatch, and the skill template asks for nothing dangerous to hear.
- policy.json is capbus's built-in level policy (manifests/levels.c), unchanged, plus
  "dispatcher": "ovos-core"; a real capbusd starts with it.
- The README's install commands, grants and all, install every service into that daemon, and
  each service with a dangerous permission is refused (exit 3) without its grants. The services
  are gateway-only: a native login as one of them fails like a wrong key.
- The same manifests with "transports": ["socket"] (their bus permissions unchanged) as native
  clients: the listener's utterance reaches ovos-core and the GUI; ovos-core dispatches an
  intent into a skill made from the template; the skill's speak reaches ovos-audio and the GUI;
  the GUI gets its gui.* traffic; audio's output events reach the listener; PHAL answers
  ovos-core's internet check. The template's skill cannot hear speak or utterances, inject an
  utterance, nor send into another skill's namespace."""
import json
import os
import re
import shlex
import socket
import time

from capbus_harness import SOURCE_DIR, Daemon, check, run_test

OVOS = os.path.join(SOURCE_DIR, "packaging", "manifests", "ovos")
SERVICES = ["ovos-core", "ovos-audio", "ovos-dinkum-listener", "ovos-gui", "ovos-PHAL"]
SKILL = "ovos-skill-hello-world.openvoiceos"
OTHER = "ovos-skill-weather.openvoiceos"


def shipped(name):
    with open(os.path.join(OVOS, name)) as f:
        return f.read()


def readme_installs(readme):
    """{file: [grants]} from the README's sh blocks, and the template's grants from its text."""
    cmds = {}
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line)
            if argv[:2] == ["capbus", "install"]:
                cmds[argv[2]] = [argv[i + 1] for i, a in enumerate(argv) if a == "--grant"]
    m = re.search(r"`capbus install ID\.json((?: --grant \S+)+)`", readme)
    check(m, "the README gives no install command for the skill template")
    template = m.group(1).split()[1::2]
    return cmds, template


def default_levels():
    """The compiled-in policy text of manifests/levels.c, as JSON."""
    with open(os.path.join(SOURCE_DIR, "manifests", "levels.c")) as f:
        src = f.read()
    body = re.search(r"default_policy\[\] =(.*?);\n", src, re.S).group(1)
    text = "".join(json.loads('"%s"' % s) for s in re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    return json.loads(text)


def sections(describe):
    """(send part, hear part) of a manifest description."""
    send, _, hear = describe.partition("It may hear:")
    return send, hear


def level(part, pattern):
    for line in part.splitlines():
        if line.strip().startswith("- ") and ("(%s) - " % pattern) in line:
            return line.rsplit(") - ", 1)[1]
    return None


def errors(msgs):
    return [m for m in msgs if m["type"] == "bus.error"]


def types_from(msgs, sender=None):
    return [m["type"] for m in msgs if m["type"] != "bus.error" and (sender is None or m["context"]["sender"] == sender)]


def collect(c, n, errors_too=False, timeout=5.0):
    """Messages until n that are not bus.error (or, errors_too, n bus.error) have arrived or the
    timeout passed, then whatever follows within 0.2 s: a loaded machine delays deliveries."""
    out, deadline = [], time.monotonic() + timeout
    while len(errors(out) if errors_too else types_from(out)) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            out.append(c.recv_message(left))
        except socket.timeout:
            break
    return out + c.drain(0.2)


def subscribe_all(c, patterns):
    for p in patterns:
        r = c.subscribe(p)
        check(r["type"] == "capbus.subscribe.reply", "%s could not subscribe to %r: %r" % (c.id, p, r))


def main():
    readme = shipped("README.md")
    installs, template_grants = readme_installs(readme)
    files = {s: s + ".json" for s in SERVICES}
    check(sorted(installs) == sorted(files.values()), "README install commands for %r" % sorted(installs))
    manifests = {s: json.loads(shipped(f)) for s, f in files.items()}
    template = json.loads(shipped("skill-template.json"))
    for s, m in manifests.items():
        check(m["id"] == s and m.get("transports") == ["gateway"] and "exec" not in m,
              "%s: not a gateway-only external client: %r" % (s, {k: m.get(k) for k in ("id", "transports", "exec")}))
        for d in ("send", "receive"):
            check("*" not in m["bus"][d], "%s asks for %s *" % (s, d))
    check(manifests["ovos-core"]["bus"].get("dispatch") is True, "ovos-core does not ask for dispatch")

    policy = json.loads(shipped("policy.json"))
    check(policy.pop("dispatcher", None) == "ovos-core", "policy.json does not name ovos-core as dispatcher")
    check(policy == default_levels(), "policy.json's levels differ from manifests/levels.c's built-in ones")

    with Daemon(start=False) as d:
        d.config["policy_file"] = os.path.join(OVOS, "policy.json")
        d.write_config()
        d.start()

        # -- capbus manifest check: every file, and what it marks DANGEROUS ----------------------
        words = {}
        for name in sorted(os.listdir(OVOS)):
            if name.endswith(".json") and name != "policy.json":
                cp = d.cli("manifest", "check", os.path.join(OVOS, name))
                check(cp.returncode == 0, "manifest check %s: %d %s" % (name, cp.returncode, cp.stderr))
                words[name[:-5]] = sections(cp.stdout)
        check(sorted(words) == sorted(SERVICES + ["skill-template"]), "shipped manifests: %r" % sorted(words))
        dangerous = [("ovos-audio", 1, "speak"), ("ovos-audio", 0, "mycroft.mic.listen"),
                     ("ovos-gui", 1, "speak"), ("ovos-gui", 1, "recognizer_loop:utterance"),
                     ("ovos-core", 1, "recognizer_loop:utterance"),
                     ("ovos-dinkum-listener", 0, "recognizer_loop:utterance"),
                     ("skill-template", 0, "mycroft.skills.is_ready")]
        for ident, part, pattern in dangerous:
            lv = level(words[ident][part], pattern)
            check(lv and lv.startswith("DANGEROUS"), "%s %s %s: %r" % (ident, ("sends", "hears")[part], pattern, lv))
        check(level(words["skill-template"][0], "speak") == "normal", "the template's speak is not normal")
        check("DANGEROUS" not in words["skill-template"][1], "the template hears something dangerous:\n%s" %
              words["skill-template"][1])
        check("DANGEROUS" not in "".join(words["ovos-PHAL"]), "ovos-PHAL asks for something dangerous")
        check("Dispatch: send into and hear every other identity's namespace - SYSTEM" in words["ovos-core"][1],
              "ovos-core's description has no Dispatch line")

        # -- install: refused without the grants, installed with the README's ------------------
        for s in SERVICES:
            path = os.path.join(OVOS, files[s])
            if installs[files[s]]:
                cp = d.admin("install", path)
                check(cp.returncode == 3 and "--grant" in cp.stderr,
                      "%s without grants: exit %d %r" % (s, cp.returncode, cp.stderr))
                short = [g for g in installs[files[s]][1:] for g in ("--grant", g)]
                cp = d.admin("install", path, *short)
                check(cp.returncode == 3 and installs[files[s]][0] in cp.stderr,
                      "%s without --grant %s: exit %d %r" % (s, installs[files[s]][0], cp.returncode, cp.stderr))
            cp = d.admin("install", path, *[g for g in installs[files[s]] for g in ("--grant", g)])
            check(cp.returncode == 0, "install %s: exit %d %r" % (s, cp.returncode, cp.stderr))
            check("May be reached through the WebSocket gateway" in cp.stdout, "%s: %s" % (s, cp.stdout))
        # The template as shipped installs too (its placeholder program never starts); then it goes.
        path = os.path.join(OVOS, "skill-template.json")
        cp = d.admin("install", path)
        check(cp.returncode == 3, "the template without its grant: exit %d %r" % (cp.returncode, cp.stderr))
        cp = d.admin("install", path, *[g for g in template_grants for g in ("--grant", g)])
        check(cp.returncode == 0 and "Runs a program in a sandbox" in cp.stdout and "Network: none" in cp.stdout,
              "install skill-template: exit %d %r %r" % (cp.returncode, cp.stdout, cp.stderr))
        cp = d.admin("remove", "skill-template")
        check(cp.returncode == 0, "remove skill-template: %r" % cp.stderr)
        # Gateway-only: no native login, however the key was come by.
        k = d.keygen("ovos-core")
        cp = d.cli("send", "ovos.utterance.handled", "{}", key=k)
        check(cp.returncode == 2 and "authentication failed" in cp.stderr,
              "native login as gateway-only ovos-core: exit %d %r" % (cp.returncode, cp.stderr))

        # -- the same bus permissions as native clients ----------------------------------------
        native = os.path.join(d.dir, "native")
        os.makedirs(native)

        def install(m, grants):
            path = os.path.join(native, m["id"] + ".json")
            with open(path, "w") as f:
                json.dump(m, f)
            cp = d.admin("install", path, *[g for g in grants for g in ("--grant", g)])
            check(cp.returncode == 0, "install %s: exit %d %r" % (m["id"], cp.returncode, cp.stderr))
            return cp.stdout

        for s in SERVICES:
            install(dict(manifests[s], transports=["socket"]), installs[files[s]])
        for ident in (SKILL, OTHER):
            m = {k: v for k, v in template.items() if k not in ("exec", "sandbox")}
            install(dict(m, id=ident), template_grants)

        core, audio, lis, gui, phal, skill, other = (d.client(i) for i in SERVICES + [SKILL, OTHER])
        subscribe_all(core, ["recognizer_loop:utterance", "ovos.PHAL.internet_check.response",
                             "mycroft.skills.is_ready", SKILL + ".*"])
        subscribe_all(audio, ["speak", "mycroft.audio.speech.stop"])
        subscribe_all(lis, ["recognizer_loop:audio_output_start", "mycroft.mic.listen"])
        subscribe_all(gui, ["speak", "recognizer_loop:utterance", "gui.page.show", "gui.value.set",
                            "mycroft.skill.handler.start", "mycroft.skill.handler.complete", "ovos.utterance.handled"])
        subscribe_all(phal, ["ovos.PHAL.internet_check"])
        subscribe_all(skill, ["{0}:*".format(SKILL), SKILL + ".*", "mycroft.stop", "mycroft.skills.is_ready.response"])
        subscribe_all(other, [OTHER + ":*", OTHER + ".*"])

        # The skill starts: ovos-skill-launcher asks whether the skill manager is ready.
        skill.send("mycroft.skills.is_ready", {}, {"source": "workshop", "destination": "skills"})
        got = collect(core, 1)
        check(types_from(got, SKILL) == ["mycroft.skills.is_ready"], "core got %r" % got)
        core.send("mycroft.skills.is_ready.response", {"status": True})
        check(types_from(collect(skill, 1), "ovos-core") == ["mycroft.skills.is_ready.response"], "no readiness answer")

        # listener -> utterance -> ovos-core (and the GUI shows it)
        lis.send("recognizer_loop:utterance", {"utterances": ["hello world"], "lang": "en-US"})
        for who, c in (("ovos-core", core), ("ovos-gui", gui)):
            got = collect(c, 1)
            check(types_from(got, "ovos-dinkum-listener") == ["recognizer_loop:utterance"], "%s got %r" % (who, got))
        check(not errors(lis.drain(0.2)), "the listener's utterance was refused")

        # ovos-core dispatches the intent into the skill's namespace
        core.send(SKILL + ".activate", {})
        core.send(SKILL + ":HelloWorldIntent", {"utterance": "hello world"})
        got = collect(skill, 2)
        check(types_from(got, "ovos-core") == [SKILL + ".activate", SKILL + ":HelloWorldIntent"], "skill got %r" % got)
        check(not errors(core.drain(0.2)), "ovos-core's dispatch was refused")
        check(not types_from(other.drain(0.2)), "another skill heard the dispatch")

        # the skill handles it: handler.start, a GUI page, speak, handler.complete, handled
        skill.send("mycroft.skill.handler.start", {"name": "HelloWorldSkill.handle_hello_world"})
        skill.send("gui.page.show", {"page_names": ["hello.qml"], "__from": SKILL})
        skill.send("gui.value.set", {"__from": SKILL, "text": "Hello world"})
        skill.send("speak", {"utterance": "Hello world", "lang": "en-US"})
        skill.send("mycroft.skill.handler.complete", {"name": "HelloWorldSkill.handle_hello_world"})
        skill.send(SKILL + ".stop.response", {"result": False})
        skill.send("ovos.utterance.handled", {})
        check(not errors(collect(skill, 1)), "the skill was refused")
        got = collect(audio, 1)
        check(types_from(got, SKILL) == ["speak"], "ovos-audio got %r" % got)
        got = collect(gui, 6)
        check(types_from(got, SKILL) == ["mycroft.skill.handler.start", "gui.page.show", "gui.value.set", "speak",
                                         "mycroft.skill.handler.complete", "ovos.utterance.handled"], "ovos-gui got %r" % got)
        got = collect(core, 1)
        check(types_from(got, SKILL) == [SKILL + ".stop.response"], "ovos-core heard %r in the skill's namespace" % got)

        # ovos-audio speaks it: output events to the listener; expect_response opens the mic
        audio.send("recognizer_loop:audio_output_start", {})
        audio.send("mycroft.mic.listen", {})
        got = collect(lis, 2)
        check(types_from(got, "ovos-audio") == ["recognizer_loop:audio_output_start", "mycroft.mic.listen"],
              "the listener got %r" % got)
        check(not errors(audio.drain(0.2)), "ovos-audio was refused")

        # ovos-core asks PHAL about the internet; PHAL answers
        core.send("ovos.PHAL.internet_check", {})
        check(types_from(collect(phal, 1), "ovos-core") == ["ovos.PHAL.internet_check"], "PHAL missed the check")
        phal.send("ovos.PHAL.internet_check.response", {"internet_connected": True, "network_connected": True})
        check(types_from(collect(core, 1), "ovos-PHAL") == ["ovos.PHAL.internet_check.response"], "no PHAL answer")

        # -- refusals: what a skill from the template may not do -------------------------------
        for p in ("speak", "recognizer_loop:utterance", "recognizer_loop:*", OTHER + ":*"):
            r = skill.subscribe(p)
            check(r["type"] == "bus.error" and r["data"]["code"] == "denied", "the skill subscribed to %r: %r" % (p, r))
        skill.send("recognizer_loop:utterance", {"utterances": ["buy everything"]})
        skill.send(OTHER + ":WeatherIntent", {"utterance": "forged"})
        skill.send("mycroft.mic.listen", {})
        e = errors(collect(skill, 3, errors_too=True))
        check(len(e) == 3 and all(x["data"]["code"] == "denied" for x in e), "the skill's forgeries: %r" % e)
        check(not types_from(core.drain(0.3) + gui.drain(0.1), SKILL), "the skill's utterance got through")
        check(not types_from(other.drain(0.3)) and not types_from(lis.drain(0.1)), "the skill's forgeries got through")
        # ovos-PHAL, not the dispatcher, cannot dispatch into a skill either.
        phal.send(SKILL + ":HelloWorldIntent", {})
        check(errors(collect(phal, 1, errors_too=True)) and not types_from(skill.drain(0.3)), "ovos-PHAL dispatched into the skill")
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
