#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbusd launches examples/python/weather_skill.py in its sandbox from the manifest
org.example.weather.sandboxed.json; the skill finds its connection through $CAPBUS_FD and
$CAPBUS_KEY_FD and answers an SDK client. Needs root (skip otherwise; a failure with CI=true)."""
import json
import os
import time

from capbus_harness import (SOURCE_DIR, Daemon, check, install_python_skill, manifest, run_test, skill_state, skip,
                            wait_for)

from capbus import Bus, Message

EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")
SKILL = "org.example.weather"


def main():
    if os.geteuid() != 0:
        skip("needs root to launch sandboxed skills")
    with open(os.path.join(EXAMPLES, "org.example.weather.sandboxed.json")) as f:
        sandboxed = json.load(f)
    d = Daemon({SKILL: sandboxed, "asker": manifest("asker", ["intent.weather.*"], ["speak"])}, start=False)
    with d:
        os.chmod(d.dir, 0o755)  # the skill's uid must reach its directories (run/ stays 0700)
        d.config["skills_dir"] = os.path.join(d.dir, "skills")
        d.write_config()
        install_python_skill(d.config["skills_dir"], SKILL, {"weather_skill.py": open(os.path.join(EXAMPLES, "weather_skill.py")).read()})
        d.start()
        state = wait_for(lambda: (skill_state(d, SKILL) or {}).get("state") in ("running", "failed") and skill_state(d, SKILL),
                         15, interval=0.1, what="the weather skill to start")
        check(state["state"] == "running", "the skill is %r:\n%s" % (state, d.log()[-4000:]))
        key = d.keygen("asker")
        cp = d.admin("grant", "asker", "speak")
        check(cp.returncode == 0, "capbus grant asker speak: %s" % cp.stderr)
        with Bus(d.socket, key) as bus:
            # The skill hears only what is sent after it subscribed: ask until it is listening.
            # Until then the daemon answers at once that nobody could receive the call
            # (no_responder: None), so pause between attempts instead of flooding the bus.
            deadline = time.monotonic() + 20
            reply = None
            while reply is None and time.monotonic() < deadline:
                reply = bus.wait_for_response(Message("intent.weather.today", {"location": "Lima"}), "speak", 1)
                if reply is None:
                    time.sleep(0.1)
            check(reply is not None, "the sandboxed skill never answered:\n%s" % d.log()[-4000:])
            check(reply.sender == SKILL, "sender %r" % reply.sender)
            check(reply.data["utterance"].startswith("Today in Lima: "), "utterance %r" % reply.data)
        state = skill_state(d, SKILL)
        check(state["state"] == "running" and state["restarts"] == 0, "skill state afterwards: %r" % state)


if __name__ == "__main__":
    run_test(main)
