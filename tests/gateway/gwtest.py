# SPDX-License-Identifier: MIT
"""Shared by the daemon-side gateway tests: a directory holding the stand-in gateway and what it
imports (copied into the sandbox by capbusd, as a development program's directory is), a
manifest that accepts the gateway transport, free ports and log helpers."""
import os
import re
import shutil
import socket
import tempfile
import time

from capbus_harness import SOURCE_DIR, check, manifest

HERE = os.path.dirname(os.path.abspath(__file__))
BOTH = ["socket", "gateway"]


def standin_dir():
    d = tempfile.mkdtemp(prefix="capbus-gw-standin.")
    os.chmod(d, 0o755)
    shutil.copy(os.path.join(HERE, "standin_gateway.py"), d)
    for f in ("harness_wire.py", "harness_base.py"):
        shutil.copy(os.path.join(SOURCE_DIR, "tests", "lib", f), d)
    shutil.copytree(os.path.join(SOURCE_DIR, "sdk", "python", "capbus"), os.path.join(d, "capbus"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    return d, os.path.join(d, "standin_gateway.py")


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def delegable(ident, send=("greet.*",), receive=("greet.*",)):
    return manifest(ident, list(send), list(receive), transports=BOTH)


def events(log, name):
    """[dict of key=value] for every line with event=name."""
    out = []
    for line in log.splitlines():
        if "event=%s " % name in line or line.endswith("event=%s" % name):
            out.append(dict((k, v.strip('"')) for k, v in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line)))
    return out


def wait_events(d, name, n=1, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        got = events(d.log(), name)
        if len(got) >= n:
            return got
        check(time.monotonic() < deadline, "no %d x %s in time:\n%s" % (n, name, d.log()[-6000:]))
        time.sleep(0.05)
