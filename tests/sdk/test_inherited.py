#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The connection a sandboxed skill inherits: Bus() with no key takes the connected socket from
$CAPBUS_FD and the key text from $CAPBUS_KEY_FD (a pipe or a 0600 file). Also the
$CAPBUS_SOCKET/$CAPBUS_KEY defaults, with an abstract socket name."""
import json
import os
import socket
import subprocess
import sys

from capbus_harness import SOURCE_DIR, Daemon, check, manifest, run_test, run_until

from capbus import Bus, protocol

CHILD = r'''
import json, os, sys
from capbus import Bus, CapbusError
try:
    with Bus() as bus:
        fds = [int(os.environ[n]) for n in ("CAPBUS_FD", "CAPBUS_KEY_FD") if n in os.environ]
        bus.send("greet.hello", {"via": sys.argv[1]})
        bus.sync()
        print(json.dumps({"id": bus.id, "inheritable": [os.get_inheritable(fd) for fd in fds]}))
except CapbusError as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
'''


def child(d, label, env_extra, pass_fds=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPBUS_") or k.endswith("_DIR")}
    env["PYTHONPATH"] = os.path.join(SOURCE_DIR, "sdk", "python")
    env.update(env_extra)
    cp = subprocess.run([sys.executable, "-c", CHILD, label], env=env, pass_fds=pass_fds,
                        capture_output=True, text=True, timeout=30)
    check(cp.returncode == 0, "child %s exited %d: %s" % (label, cp.returncode, cp.stderr))
    return json.loads(cp.stdout.strip().splitlines()[-1])


def connected(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(protocol.socket_address(path))
    return s


def heard(bus, got, label):
    run_until(bus, lambda: any(m.data.get("via") == label for m in got), what="greet.hello via " + label)
    m = [m for m in got if m.data.get("via") == label][0]
    check(m.sender == "alice", "%s: sender %r" % (label, m.sender))


def main():
    name = "@capbus-sdk-test-%d" % os.getpid()
    d = Daemon({"alice": manifest("alice", ["greet.*"], []), "bob": manifest("bob", [], ["greet.*"])},
               start=False, socket=name)
    d.socket = name  # the CLI and our clients use the abstract name too
    with d:
        d.start()
        key_alice = d.keygen("alice")
        with open(key_alice) as f:
            key_text = f.read()
        with Bus(name, d.keygen("bob")) as bob:
            got = []
            bob.on("greet.*", got.append)

            # A pipe carries the key; the socket was connected by the parent.
            sock = connected(name)
            r, w = os.pipe()
            os.write(w, key_text.encode())
            os.close(w)
            out = child(d, "pipe", {"CAPBUS_FD": str(sock.fileno()), "CAPBUS_KEY_FD": str(r)},
                        (sock.fileno(), r))
            check(out.get("id") == "alice" and out["inheritable"] == [False, False], "pipe child: %r" % out)
            heard(bob, got, "pipe")
            sock.close()
            os.close(r)

            # A 0600 file, already read to its end by somebody: read again from the start.
            sock = connected(name)
            kf = os.open(key_alice, os.O_RDONLY)
            os.read(kf, 4096)
            out = child(d, "file", {"CAPBUS_FD": str(sock.fileno()), "CAPBUS_KEY_FD": str(kf)},
                        (sock.fileno(), kf))
            check(out.get("id") == "alice", "file child: %r" % out)
            heard(bob, got, "file")
            os.close(kf)

            # A key file others may read is refused here too.
            os.chmod(key_alice, 0o644)
            kf = os.open(key_alice, os.O_RDONLY)
            out = child(d, "open", {"CAPBUS_FD": str(sock.fileno()), "CAPBUS_KEY_FD": str(kf)},
                        (sock.fileno(), kf))
            check(out.get("error") == "KeyFileError", "0644 inherited key: %r" % out)
            os.close(kf)
            os.chmod(key_alice, 0o600)
            sock.close()

            # Descriptors that are not open, or no environment at all: a clear KeyFileError.
            out = child(d, "closed", {"CAPBUS_FD": "1000", "CAPBUS_KEY_FD": "1001"})
            check(out.get("error") == "KeyFileError" and "CAPBUS_FD" in out["message"], "bad fds: %r" % out)
            out = child(d, "none", {})
            check(out.get("error") == "KeyFileError", "no connection at all: %r" % out)

            # The defaults an external client takes from the environment (abstract socket).
            out = child(d, "env", {"CAPBUS_SOCKET": name, "CAPBUS_KEY": key_alice})
            check(out.get("id") == "alice", "env child: %r" % out)
            heard(bob, got, "env")
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
