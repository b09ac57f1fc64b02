#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/python/weather_skill.py, run as an external client with its own manifest, answers a
`capbus call` and an SDK wait_for_response, and stops cleanly on SIGTERM."""
import json
import os
import select
import signal
import subprocess
import sys
import time

from capbus_harness import SOURCE_DIR, Daemon, check, manifest, run_test

from capbus import Bus, Message

EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")


def wait_ready(proc, timeout=15.0):
    """Reads the skill's stderr until it says it is ready (it subscribed before saying so)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        if not select.select([proc.stderr], [], [], 0.2)[0]:
            if proc.poll() is not None:
                break
            continue
        line = proc.stderr.readline()
        seen += line
        if "ready as org.example.weather" in line:
            return
        if not line:
            break
    raise AssertionError("the weather skill did not become ready:\n%s" % seen)


def main():
    with open(os.path.join(EXAMPLES, "org.example.weather.json")) as f:
        weather_manifest = json.load(f)
    check("exec" not in weather_manifest, "the external-client manifest must have no exec")
    with open(os.path.join(EXAMPLES, "org.example.weather.sandboxed.json")) as f:
        sandboxed = json.load(f)
    check(sandboxed["exec"] == ["/usr/bin/python3", "-m", "weather_skill"], "sandboxed exec %r" % sandboxed["exec"])

    with Daemon({"org.example.weather": weather_manifest,
                 "asker": manifest("asker", ["intent.weather.*"], ["speak"])}) as d:
        for path in ("org.example.weather.json", "org.example.weather.sandboxed.json"):
            cp = d.cli("manifest", "check", os.path.join(EXAMPLES, path))
            check(cp.returncode == 0, "capbus manifest check %s: %s" % (path, cp.stderr))
        key = d.keygen("org.example.weather")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPBUS_") or k.endswith("_DIR")}
        env["PYTHONPATH"] = os.path.join(SOURCE_DIR, "sdk", "python")
        skill = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "weather_skill.py"),
                                  "--socket", d.socket, "--key", key],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_ready(skill)
            asker_key = d.keygen("asker")
            cp = d.admin("grant", "asker", "speak")  # hearing what the assistant says is dangerous
            check(cp.returncode == 0, "capbus grant asker speak: %s" % cp.stderr)
            cp = d.cli("call", "intent.weather.today", '{"location": "Paris"}', "--reply", "speak",
                       "--timeout", "10", key=asker_key)
            check(cp.returncode == 0, "capbus call exited %d: %s" % (cp.returncode, cp.stderr))
            r = json.loads(cp.stdout.strip().splitlines()[-1])
            check(r["type"] == "speak" and r["context"]["sender"] == "org.example.weather", "call reply %r" % r)
            check(r["data"]["utterance"].startswith("Today in Paris: "), "utterance %r" % r["data"])

            with Bus(d.socket, asker_key) as bus:
                m = bus.wait_for_response(Message("intent.weather.today", {"location": "Oslo"}), "speak", 10)
                check(m is not None and m.sender == "org.example.weather", "SDK reply %r" % m)
                check(m.data["utterance"].startswith("Today in Oslo: "), "utterance %r" % m.data)
                m = bus.wait_for_response(Message("intent.weather.today", {"location": 7}), "speak", 10)
                check(m is not None and "your area" in m.data["utterance"], "bad location handled: %r" % m)
        finally:
            if skill.poll() is None:
                skill.send_signal(signal.SIGTERM)
            try:
                rc = skill.wait(10)
            except subprocess.TimeoutExpired:
                skill.kill()
                rc = skill.wait()
            err = skill.stderr.read()
            skill.stderr.close()
        check(rc == 0, "the weather skill exited %d after SIGTERM: %s" % (rc, err))
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
