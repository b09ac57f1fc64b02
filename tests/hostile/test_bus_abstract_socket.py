#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Abstract sockets (@name): the bus works there, a second daemon refuses, and a process that squats
the name first makes capbusd refuse to start while clients refuse to talk to the squatter."""
import os
import socket
import struct
import subprocess
import threading

from capbus_harness import Daemon, capbus_path, capbusd_path, check, manifest, protocol, run_test


def squat(name):
    """Bind the abstract name and play a daemon that does not know any key."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name[1:])
    s.listen(4)
    s.settimeout(15)
    seen = []

    def serve():
        try:
            conn, _ = s.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            hello = protocol.MAGIC + os.urandom(32)
            conn.sendall(struct.pack(">I", len(hello)) + hello)
            data = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) >= 4 and len(data) >= 4 + struct.unpack(">I", data[:4])[0] and len(seen) == 0:
                        seen.append(data)
                        ok = protocol.MAGIC + b"\x00" + os.urandom(32)
                        conn.sendall(struct.pack(">I", len(ok)) + ok)
            except OSError:
                pass
            seen.append(data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return s, t, seen


def main():
    name = "@capbus-test-%d-%s" % (os.getpid(), os.urandom(4).hex())
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, socket=name) as d:
        alice = d.client("alice")
        check(alice.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        key = d.keygen("alice")
        check(d.cli("send", "greet.abs", "{}", key=key).returncode == 0, "CLI send over the abstract socket failed")
        check(alice.recv_message(5)["type"] == "greet.abs", "message lost on the abstract socket")
        cp = subprocess.run([capbusd_path(), "--config", d.config_path], capture_output=True, text=True, timeout=20)
        check(cp.returncode != 0 and "already serving" in cp.stderr, "second daemon on %s: %r" % (name, cp.stderr))
        alice.ping()

    with Daemon({"alice": manifest("alice", ["greet.*"], [])}) as real:
        with open(real.keygen("alice")) as f:
            key_text = f.read()
    squat_name = "@capbus-squat-%d-%s" % (os.getpid(), os.urandom(4).hex())
    s, t, seen = squat(squat_name)
    try:
        with Daemon({"alice": manifest("alice", ["greet.*"], [])}, socket=squat_name, start=False) as d:
            cp = subprocess.run([capbusd_path(), "--config", d.config_path], capture_output=True, text=True, timeout=20)
            check(cp.returncode != 0, "capbusd started on a squatted abstract name")
            check("already serving" in cp.stderr or "in use" in cp.stderr, "unclear refusal: %r" % cp.stderr)
            key = os.path.join(d.keys_dir, "alice.key")
            with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(key_text)
            cp = subprocess.run([capbus_path(), "--socket", squat_name, "--key", key, "send", "greet.secret",
                                 '{"s": "SQUATTED-SECRET"}'], capture_output=True, text=True, timeout=30)
            check(cp.returncode == 2, "client against the squatter exited %d, want 2 (%r)" % (cp.returncode, cp.stderr))
    finally:
        s.close()
        t.join(5)
    data = seen[-1] if seen else b""
    print("squatter saw %d bytes; client said: %s" % (len(data), cp.stderr.strip()))
    check(b"SQUATTED-SECRET" not in data, "the client sent its message to the squatter")
    check(len(data) == 4 + struct.unpack(">I", data[:4])[0], "the client sent frames after an unproven RESULT")


if __name__ == "__main__":
    run_test(main)
