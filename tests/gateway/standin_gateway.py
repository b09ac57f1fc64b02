#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""standin_gateway.py - a stand-in for capbus-gateway under `capbusd --gateway PATH` (tests only).

Runs where the real gateway runs (capbusd's sandbox, fds 3 and 4 = configuration and the
gateway's key file) and does the parts the daemon-side tests look at: it reports who it is,
opens a delegated session for the subject named by gateway.local["/standin"] (AUTH_D through
the harness's client), listens on every gateway.listen address and accepts TCP connections,
and prints one line per event to stderr (capbusd logs it as gateway_output)."""
import json
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness_wire import DelegatedClient, DelegationRefused  # noqa: E402


def say(*words):
    print("standin", *words, file=sys.stderr, flush=True)


def main():
    if sys.argv[1:] != ["--supervised"]:
        say("bad_argv", repr(sys.argv[1:]))
        return 2
    os.lseek(3, 0, os.SEEK_SET)
    os.lseek(4, 0, os.SEEK_SET)
    with os.fdopen(3, "rb") as f:
        cfg = json.loads(f.read())
    with os.fdopen(4, "rb") as f:
        key_text = f.read().decode()
    fields = dict(line.split(" ", 1) for line in key_text.splitlines() if line and not line.startswith("#"))
    key = bytes.fromhex(fields["secret"])
    if "standin:exit" in cfg["gateway"].get("origins", []):
        say("exiting", "as asked")
        return 3
    status = open("/proc/self/status").read()
    info = {k: v.strip() for k, v in (line.split(":", 1) for line in status.splitlines())}
    say("started", "uid=%s" % info["Uid"].split()[0], "nonewprivs=%s" % info["NoNewPrivs"],
        "seccomp=%s" % info["Seccomp"], "capeff=%s" % info["CapEff"], "keyid=%s" % fields["id"],
        "etc_capbus=%s" % os.path.exists("/etc/capbus"),
        "cgroupfs=%s" % os.path.exists("/cgroup/cgroup.controllers"))
    subject = cfg["gateway"].get("local", {}).get("/standin")
    if subject:
        try:
            c = DelegatedClient(cfg["socket"], key, subject)
            c.handshake()
            say("delegated", "ok", subject)
            c.close()
        except DelegationRefused as e:
            say("delegated", "refused", "status=%d" % e.status)
        except Exception as e:  # the test reads the line
            say("delegated", "error", repr(e).replace(" ", "_"))
    listeners = []
    for spec in cfg["gateway"]["listen"]:
        host, port = spec.rsplit(":", 1)
        family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host.strip("[]"), int(port)))
        s.listen(16)
        listeners.append(s)
    say("listening", " ".join(cfg["gateway"]["listen"]))
    while True:
        ready, _, _ = select.select(listeners, [], [], 60)
        for s in ready:
            conn, addr = s.accept()
            say("accepted", addr[0])
            conn.close()


if __name__ == "__main__":
    sys.exit(main())
