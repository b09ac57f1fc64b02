#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An OpenVoiceOS-style skill written against capbus.ovos exactly as against ovos-bus-client,
through a real daemon, with a "core" that is a capbus.ovos client too.

The skill's intent handler asks a question and waits inside itself for the answer another
handler receives (OVOS's get_response), makes a call with wait_for_response (the bound reply,
not a forged one of the same type), waits for one of a list of reply types, and answers with
reply()/forward(). Also: listeners registered before the connection, on/once/remove/
remove_all_listeners, wait_for_message, collect_responses with on_collect answers, the "message"
catch-all, the "open", "close", "reconnecting" and "error" events, a daemon restart (the client
reconnects and subscribes again), refusals that OVOS code does not expect (logged, no
exception), and MessageBusClient() with no arguments on an inherited connection."""
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time

from capbus_harness import SOURCE_DIR, Daemon, check, manifest, run_test

from capbus import DeniedError, protocol
from capbus.ovos import Message, MessageBusClient

SKILL = "hello-skill.openvoiceos"
CORE = "ovos-core"

CHILD = r'''
import json
from capbus.ovos import MessageBusClient, Message
bus = MessageBusClient()
t = bus.run_in_thread()
assert bus.connected_event.wait(5), "no connection"
r = bus.wait_for_response(Message("core.time"), timeout=5)
print(json.dumps({"time": r.data.get("time") if r else None, "sender": r.context.get("sender") if r else None}))
bus.close()
t.join(5)
'''


def wait(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        check(time.monotonic() < deadline, "timed out waiting for " + what)
        time.sleep(0.02)


def start_core(d):
    core = MessageBusClient(socket=d.socket, key=d.keygen(CORE))
    spoken = []

    def speak(m):
        spoken.append(m)
        if m.data.get("expect_response"):  # the user answers the question
            core.emit(Message("recognizer_loop:utterance", {"utterances": ["Ada"]}, {"session": m.context.get("session")}))

    def time_of_day(m):
        # A forged, unbound reply of the reply type first: the caller must not take it.
        core.emit(Message("core.time.response", {"time": "forged"}))
        core.emit(m.response({"time": "noon"}))

    def fast(m):
        core.emit(m.success({"skill": "fast"}))

    def slow(m):
        time.sleep(0.6)  # past collect_responses' min_timeout: it waits for acknowledged handlers
        core.emit(m.success({"skill": "slow"}))

    core.on("speak", speak)
    core.on("core.time", time_of_day)
    core.on("core.choose", lambda m: core.emit(m.reply("core.choose.no", {"why": "because"})))
    core.on_collect("core.skills.query", fast, timeout=2)
    core.on_collect("core.skills.query", slow, timeout=3)
    thread = core.run_in_thread()
    check(core.connected_event.wait(5), "core did not connect")
    return core, thread, spoken


def main():
    logging.basicConfig(level=logging.ERROR)
    core_m = manifest(CORE, ["intent.*", "recognizer_loop:utterance", "core.*", "hello.*"],
                      ["speak", "core.*", "mycroft.skill.*", "hello.*"])
    skill_m = manifest(SKILL, ["speak", "core.*", "mycroft.skill.*", "hello.*"],
                       ["intent.hello", "recognizer_loop:utterance", "core.*", "hello.*"])
    with Daemon({CORE: core_m, SKILL: skill_m}) as d:
        # Hearing speak and injecting or hearing utterances are dangerous: granted by the admin.
        for ident, perm in ((CORE, "speak"), (CORE, "recognizer_loop:utterance"), (SKILL, "recognizer_loop:utterance")):
            cp = d.admin("grant", ident, perm)
            check(cp.returncode == 0, "capbus grant %s %s: %s" % (ident, perm, cp.stderr))
        core, core_thread, spoken = start_core(d)

        # ---- the skill, as it would be written for ovos-bus-client --------------------------
        skill = MessageBusClient(socket=d.socket, key=d.keygen(SKILL))
        events, everything, stray, errors, done = [], [], [], [], []
        pending = {}
        skill.on("open", lambda: events.append("open"))
        skill.on("close", lambda: events.append("close"))
        skill.on("reconnecting", lambda: events.append("reconnecting"))
        skill.on("error", errors.append)
        skill.on("message", everything.append)
        skill.on("core.time.response", stray.append)   # sees only what is not bound to a call

        def get_response(message, question):
            answered = threading.Event()
            pending["event"] = answered
            skill.emit(message.reply("speak", {"utterance": question, "expect_response": True}))
            answered.wait(5)
            return pending.get("answer")

        def handle_utterance(message):
            pending["answer"] = message.data["utterances"][0]
            if "event" in pending:
                pending["event"].set()

        def handle_hello(message):
            skill.emit(message.forward("mycroft.skill.handler.start"))
            name = get_response(message, "What is your name?")
            now = skill.wait_for_response(message.forward("core.time"), timeout=5)
            choice = skill.wait_for_response(Message("core.choose"), ["core.choose.yes", "core.choose.no"], 5)
            skill.emit(message.reply("speak", {"utterance": "Hello %s, it is %s (%s)" % (
                name, now.data["time"] if now else None, choice.msg_type if choice else None)}))
            skill.emit(message.forward("mycroft.skill.handler.complete"))
            done.append(threading.current_thread())

        skill.on("intent.hello", handle_hello)           # before the connection exists
        skill.on("recognizer_loop:utterance", handle_utterance)
        skill.retry = 0.2
        skill_thread = skill.run_in_thread()
        check(skill.connected_event.wait(5), "skill did not connect")
        wait(lambda: "open" in events, "the open event")

        # ---- an utterance: intent -> get_response -> call -> reply ----------------------------
        core.emit(Message("intent.hello", {"utterance": "say hello"},
                          {"source": "audio", "destination": "skills", "session": {"session_id": "s1"}}))
        wait(lambda: done, "the intent handler to finish")
        wait(lambda: len(spoken) >= 2, "the skill's answer")
        question, answer = spoken[0], spoken[-1]
        check(question.data["utterance"] == "What is your name?" and question.sender == SKILL, "question %r" % question)
        check(answer.data["utterance"] == "Hello Ada, it is noon (core.choose.no)", "answer %r" % answer)
        check(answer.context.get("destination") == "audio" and answer.context.get("source") == "skills"
              and answer.context.get("session") == {"session_id": "s1"}, "reply context %r" % answer.context)
        check(done[0] is not threading.main_thread(), "the handler ran on the main thread")
        wait(lambda: stray, "the forged core.time.response")
        check(len(stray) == 1 and stray[0].data == {"time": "forged"}, "unbound replies seen: %r" % stray)

        # The "message" catch-all got every message the skill received, as serialized text.
        check(all(isinstance(t, str) for t in everything), "catch-all got non-text: %r" % everything[:3])
        types = [json.loads(t)["type"] for t in everything]
        for t in ("intent.hello", "recognizer_loop:utterance", "core.time.response", "core.choose.no"):
            check(t in types, "catch-all missed %s: %r" % (t, types))
        bound = [json.loads(t) for t in everything if json.loads(t)["context"].get("bound_call")]
        check(len(bound) == 1 and bound[0]["data"] == {"time": "noon"}, "bound replies in the catch-all: %r" % bound)

        # ---- wait_for_message, once, remove, remove_all_listeners ----------------------------
        ticks, once_ticks = [], []
        skill.on("core.tick", ticks.append)
        skill.once("core.tick", once_ticks.append)
        threading.Timer(0.3, lambda: core.emit(Message("core.tick", {"n": 1}))).start()
        m = skill.wait_for_message("core.tick", timeout=5)
        check(isinstance(m, Message) and m.data == {"n": 1} and m.context.get("sender") == CORE, "wait_for_message %r" % m)
        core.emit(Message("core.tick", {"n": 2}))
        wait(lambda: len(ticks) == 2, "two ticks")
        check(len(once_ticks) == 1 and once_ticks[0].data == {"n": 1}, "once(): %r" % once_ticks)
        check(skill.wait_for_message("core.never", timeout=0.3) is None, "wait_for_message without a message")
        skill.remove("core.tick", ticks.append)
        seen = len(everything)
        core.emit(Message("core.tick", {"n": 3}))
        skill.on("hello.mark", ticks.append)
        core.emit(Message("hello.mark"))
        wait(lambda: len(ticks) == 3, "hello.mark")
        check(not any(json.loads(t)["type"] == "core.tick" for t in everything[seen:]),
              "core.tick still delivered after remove()")
        skill.remove_all_listeners("hello.mark")
        try:
            skill.remove_all_listeners(None)
            raise AssertionError("remove_all_listeners(None) accepted")
        except ValueError:
            pass

        # ---- collect_responses -------------------------------------------------------------
        t0 = time.monotonic()
        answers = skill.collect_responses(Message("core.skills.query"), min_timeout=0.3, max_timeout=5)
        took = time.monotonic() - t0
        check(sorted(a.data["skill"] for a in answers) == ["fast", "slow"], "collected %r" % answers)
        check(all(a.data["succeeded"] and a.context.get("sender") == CORE for a in answers), "answers %r" % answers)
        check(0.5 < took < 3, "collect_responses took %.2fs" % took)
        answers = skill.collect_responses(Message("core.nobody"), min_timeout=0.2, max_timeout=2)
        check(answers == [], "answers from nobody: %r" % answers)

        # ---- what the manifest refuses: logged, no exception, as OVOS code expects -------------
        skill.on("mycroft.mic.listen", ticks.append)   # may not receive it
        check(skill.wait_for_response(Message("secret.op"), timeout=2) is None, "a refused call answered")
        skill.emit(Message("secret.op"))
        wait(lambda: any(isinstance(e, DeniedError) and e.type == "secret.op" for e in errors), "the error event")

        # ---- the daemon restarts: close, reconnecting, open, subscriptions made again ----------
        d.stop()
        wait(lambda: "close" in events, "the close event")
        check(not skill.connected_event.is_set(), "still connected")
        d.start()
        wait(lambda: events.count("open") == 2, "the reconnection", timeout=20)
        check("reconnecting" in events[events.index("close"):], "no reconnecting event: %r" % events)
        check(core.connected_event.wait(15), "core did not reconnect")
        wait(lambda: core._bus is not None and not core._bus.closed, "core's new connection")
        spoken.clear()
        done.clear()
        core.emit(Message("intent.hello", {}, {"source": "audio", "destination": "skills"}))
        wait(lambda: done and len(spoken) >= 2, "the intent after the restart", timeout=15)
        check(spoken[-1].data["utterance"] == "Hello Ada, it is noon (core.choose.no)", "answer %r" % spoken[-1])

        # ---- MessageBusClient() with no arguments: the inherited connection ---------------------
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(protocol.socket_address(d.socket))
        r, w = os.pipe()
        with open(d.keygen(SKILL, os.path.join(d.keys_dir, "child.key"))) as f:
            os.write(w, f.read().encode())
        os.close(w)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPBUS_") or k.endswith("_DIR")}
        env.update(PYTHONPATH=os.path.join(SOURCE_DIR, "sdk", "python"), CAPBUS_FD=str(sock.fileno()),
                   CAPBUS_KEY_FD=str(r))
        cp = subprocess.run([sys.executable, "-c", CHILD], env=env, pass_fds=(sock.fileno(), r),
                            capture_output=True, text=True, timeout=30)
        sock.close()
        os.close(r)
        check(cp.returncode == 0, "inherited child exited %d: %s" % (cp.returncode, cp.stderr))
        out = json.loads(cp.stdout.strip().splitlines()[-1])
        check(out == {"time": "noon", "sender": CORE}, "inherited child: %r" % out)

        # ---- close ---------------------------------------------------------------------------
        closes = events.count("close")
        skill.close()
        skill_thread.join(5)
        check(not skill_thread.is_alive(), "run_forever() did not return after close()")
        wait(lambda: events.count("close") == closes + 1, "the close event after close()")
        core.close()
        core_thread.join(5)
        check(not core_thread.is_alive(), "core's run_forever() did not return")
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
