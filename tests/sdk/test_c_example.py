#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/c/hello_skill (libcapbus) answers an SDK client, both as an external client with a
key file and over an inherited connection ($CAPBUS_FD, $CAPBUS_KEY_FD); SIGTERM stops it."""
import json
import os
import select
import signal
import socket
import subprocess
import time

from capbus_harness import BUILD_DIR, SOURCE_DIR, Daemon, check, manifest, run_test, skip

from capbus import Bus, Message

HELLO = os.path.join(BUILD_DIR, "examples", "hello_skill")


def start(args, env_extra=None, pass_fds=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPBUS_")}
    env.update(env_extra or {})
    proc = subprocess.Popen([HELLO] + args, env=env, pass_fds=pass_fds, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    seen = ""
    while time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.2)[0]:
            line = proc.stderr.readline()
            seen += line
            if "ready as org.example.hello" in line:
                return proc
            if not line:
                break
        elif proc.poll() is not None:
            break
    stop(proc)
    raise AssertionError("hello_skill did not become ready:\n%s" % seen)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    err = proc.stderr.read()
    proc.stderr.close()
    return rc, err


def ask(bus, name):
    m = bus.wait_for_response(Message("intent.hello.greet", {"name": name}, {"session": "s"}), "speak", 10)
    check(m is not None, "no answer from hello_skill for %r" % name)
    check(m.sender == "org.example.hello" and m.context.get("session") == "s", "reply %r" % m)
    return m.data.get("utterance")


def main():
    if not os.access(HELLO, os.X_OK):
        skip("examples/hello_skill is not built (add subdir('examples') to meson.build)")
    with open(os.path.join(SOURCE_DIR, "examples", "c", "org.example.hello.json")) as f:
        hello_manifest = json.load(f)
    with Daemon({"org.example.hello": hello_manifest,
                 "asker": manifest("asker", ["intent.hello.*"], ["speak"])}) as d:
        key = d.keygen("org.example.hello")
        asker_key = d.keygen("asker")
        cp = d.admin("grant", "asker", "speak")
        check(cp.returncode == 0, "capbus grant asker speak: %s" % cp.stderr)
        with Bus(d.socket, asker_key) as bus:
            proc = start(["--socket", d.socket, "--key", key])
            try:
                check(ask(bus, "Ada") == "Hello, Ada!", "external hello_skill answered wrongly")
                check(ask(bus, "") == "Hello, there!", "empty name not handled")
            finally:
                rc, err = stop(proc)
            check(rc == 0, "hello_skill exited %d after SIGTERM: %s" % (rc, err))
            check("greeting requested by asker" in err, "hello_skill did not see the sender: %s" % err)

            # Inherited: a connected socket and a 0600 key file descriptor.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(d.socket)
            kf = os.open(key, os.O_RDONLY)
            try:
                proc = start([], {"CAPBUS_FD": str(sock.fileno()), "CAPBUS_KEY_FD": str(kf)},
                             (sock.fileno(), kf))
            finally:
                sock.close()
                os.close(kf)
            try:
                check(ask(bus, "Grace") == "Hello, Grace!", "inherited hello_skill answered wrongly")
            finally:
                rc, err = stop(proc)
            check(rc == 0, "inherited hello_skill exited %d after SIGTERM: %s" % (rc, err))
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
