#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbusd launches an OpenVoiceOS-style skill written against capbus.ovos in its sandbox:
MessageBusClient() with no arguments takes the inherited connection, listeners registered before
the connection are subscribed when it opens, and the intent handler waits inside itself for an
answer another handler receives (OVOS's get_response) before it replies; the caller's
wait_for_response gets the reply bound to its call. Needs root (skip otherwise; a failure with
CI=true)."""
import os
import threading
import time

from capbus_harness import (SOURCE_DIR, Daemon, check, install_python_skill, manifest, run_test, skill_state, skip,
                            wait_for)

from capbus import Bus, Message

SKILL = "hello-skill.openvoiceos"

SKILL_SOURCE = r'''
import threading
from capbus.ovos import MessageBusClient, Message

bus = MessageBusClient()
answers = {}


def get_response(message, question):
    event = threading.Event()
    answers["event"] = event
    bus.emit(message.reply("hello.question", {"utterance": question}))
    event.wait(10)
    return answers.get("text")


def on_answer(message):
    answers["text"] = message.data.get("utterance")
    answers["event"].set()


def on_hello(message):
    name = get_response(message, "What is your name?")
    bus.emit(message.response({"greeting": "Hello %s" % name, "threads": threading.active_count()}))


bus.on("intent.hello", on_hello)
bus.on("hello.answer", on_answer)
bus.run_forever()
'''

SKILL_MANIFEST = {
    "manifest_version": 1,
    "id": SKILL,
    "version": "1.0.0",
    "exec": ["/usr/bin/python3", "-m", "hello_skill"],
    "bus": {"send": ["hello.*", "intent.hello.response"], "receive": ["intent.hello", "hello.answer"]},
    "sandbox": {"network": "none", "filesystem": {"read": [], "write": ["$STATE"]}, "syscalls": "python"},
    "limits": {"memory": "128M", "pids": 16, "cpu": "25%", "nofile": 32, "msg_rate": 50},
}


def main():
    if os.geteuid() != 0:
        skip("needs root to launch sandboxed skills")
    d = Daemon({SKILL: SKILL_MANIFEST,
                "asker": manifest("asker", ["intent.hello", "hello.answer"], ["hello.question", "intent.hello.response"])},
               start=False)
    with d:
        os.chmod(d.dir, 0o755)  # the skill's uid must reach its directories (run/ stays 0700)
        d.config["skills_dir"] = os.path.join(d.dir, "skills")
        d.write_config()
        install_python_skill(d.config["skills_dir"], SKILL, {"hello_skill.py": SKILL_SOURCE})
        d.start()
        state = wait_for(lambda: (skill_state(d, SKILL) or {}).get("state") in ("running", "failed") and skill_state(d, SKILL),
                         15, interval=0.1, what="the skill to start")
        check(state["state"] == "running", "the skill is %r:\n%s" % (state, d.log()[-4000:]))
        with Bus(d.socket, d.keygen("asker")) as bus:
            questions = []

            def answer(m):
                questions.append(m)
                bus.emit(Message("hello.answer", {"utterance": "Ada"}))
            bus.on("hello.question", answer)
            # The skill hears only what is sent after it subscribed: ask until it is listening.
            deadline = time.monotonic() + 20
            reply = None
            while reply is None and time.monotonic() < deadline:
                reply = bus.wait_for_response(Message("intent.hello", {}, {"source": "audio", "destination": "skills"}),
                                              timeout=5)
                if reply is None:
                    time.sleep(0.1)
            check(reply is not None, "the sandboxed skill never answered:\n%s" % d.log()[-4000:])
            check(reply.sender == SKILL and reply.data["greeting"] == "Hello Ada", "reply %r" % reply)
            check(reply.context.get("destination") == "audio", "reply context %r" % reply.context)
            check(questions and questions[0].sender == SKILL
                  and questions[0].context.get("source") == "skills", "question %r" % questions)
            check(threading.current_thread() is threading.main_thread(), "test ran off the main thread")
        state = skill_state(d, SKILL)
        check(state["state"] == "running" and state["restarts"] == 0, "skill state afterwards: %r" % state)


if __name__ == "__main__":
    run_test(main)
