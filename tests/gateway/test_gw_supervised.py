#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End to end: capbusd with a "gateway" object starts the real capbus-gateway (the one built next
to it) sandboxed: a sandbox uid, its own cgroup leaf, no capabilities. It serves a TLS listener on
loopback whose certificate `capbus gateway-cert` made (passed to it as a memfd, so its path is
invisible inside). A websocket-client sends with a token from `capbus token`; a native
`capbus listen` receives it with the token's identity as sender. Killed, the gateway is restarted and the client reconnects; stopping the daemon
stops it and removes its cgroup."""
import json
import os
import signal
import ssl
import subprocess
import sys
import time

from capbus_harness import (Daemon, abstract_name, capbus_path, check, pid_alive, proc_status,
                            require_skills_env, run_test, skill_cgroups)
from gateway_harness import recv_until, send
from gwtest import delegable, events, free_port, wait_events

import websocket  # Debian python3-websocket: run under /usr/bin/python3

UID_MIN, UID_MAX = 200000, 265535


def gateway_pid(started):
    """The gateway process: the sandbox init's only child (pid namespace)."""
    init = int(started["pid"])
    for _ in range(200):
        try:
            kids = open("/proc/%d/task/%d/children" % (init, init)).read().split()
        except OSError:
            kids = []
        for k in kids:
            try:
                if "capbus-gateway" in open("/proc/%s/cmdline" % k).read():
                    return int(k)
            except OSError:
                pass
        try:
            if "capbus-gateway" in open("/proc/%d/cmdline" % init).read():
                return init
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("no capbus-gateway process under %d" % init)


def started(d, n=1, timeout=20.0):
    """capbusd's gateway_started events (not the gateway's own line of the same name, which
    capbusd relays as gateway_output)."""
    deadline = time.monotonic() + timeout
    while True:
        got = [e for e in events(d.log(), "gateway_started") if "cgroup_id" in e]
        if len(got) >= n:
            return got
        check(time.monotonic() < deadline, "no %d x gateway_started in time" % n)
        time.sleep(0.05)


def connect(url, cert, timeout=15.0):
    """Connects, retrying while the (re)started gateway is not listening yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            kw = {"sslopt": {"ca_certs": cert}} if url.startswith("wss:") else {}
            return websocket.create_connection(url, timeout=5, **kw)
        except (ConnectionRefusedError, ConnectionResetError, websocket.WebSocketException, ssl.SSLError, OSError):
            check(time.monotonic() < deadline, "cannot connect to %s: %r" % (url, sys.exc_info()[1]))
            time.sleep(0.1)


def roundtrip(d, url, cert, tok, text):
    listener = d.cli_popen("listen", "greet.*", "--count", "1", "--timeout", "20", key=d.keygen("ear"))
    time.sleep(0.5)  # the listener subscribes
    c = connect(url + "?token=" + tok, cert)
    first, _ = recv_until(c, lambda m: True)
    check(first["type"] == "connected", "first message %r, want the greeting" % first)
    send(c, "greet.speak", {"utterance": text}, {"sender": "admin"})
    out, err = listener.communicate(timeout=20)
    check(listener.returncode == 0, "capbus listen: rc %d %s" % (listener.returncode, err))
    msg = json.loads(out.strip().splitlines()[-1])
    check(msg["type"] == "greet.speak" and msg["data"]["utterance"] == text, "listen got %r" % msg)
    check(msg["context"]["sender"] == "phone", "sender %r, want the token's identity" % msg["context"].get("sender"))
    return c


def main():
    require_skills_env()
    # TLS on loopback (plain_loopback off), so the test needs no address beyond loopback; plain
    # ws:// on loopback is the standalone tests' (test_gw_plain.py).
    addr = "127.0.0.1"
    plain, tls = None, free_port(addr)
    ms = {"phone": delegable("phone"), "ear": delegable("ear", send=("other.*",))}
    with Daemon(ms, start=False, socket=abstract_name()) as d:
        cert, key = os.path.join(d.dir, "gw.crt"), os.path.join(d.dir, "gw.key")
        p = subprocess.run([capbus_path(), "gateway-cert", "--cert", cert, "--key", key, "--name", addr],
                           capture_output=True, text=True, timeout=30)
        check(p.returncode == 0, "gateway-cert: %s" % p.stderr)
        d.config["gateway"] = {"listen": ["%s:%d" % (addr, tls)], "plain_loopback": False,
                               "tls": {"cert": cert, "key": key}}
        d.write_config()
        os.chmod(d.dir, 0o755)
        d.start()
        try:
            scenario(d, addr, plain, tls, cert)
        except BaseException:
            print("---- capbusd log ----\n%s" % "\n".join(l for l in d.log().splitlines() if "reason=locked" not in l)[-8000:])
            raise
    return 0


def scenario(d, addr, plain, tls, cert):
    if True:
        first = started(d)[0]
        check("capbus-gateway" in first["program"], "capbusd started %r, not the real gateway" % first["program"])
        tok = d.admin("token", "phone").stdout.strip()
        check(tok.startswith("cbt1_"), "capbus token: %r" % tok)
        c = roundtrip(d, "wss://%s:%d/core" % (addr, tls), cert, tok, "hello over wss")
        c.close()
        # Sandboxed: a sandbox uid, its own cgroup leaf, no capabilities, its own seccomp filter.
        gpid = gateway_pid(first)
        st = proc_status(gpid)
        uid = int(st["Uid"].split()[0])
        check(UID_MIN <= uid <= UID_MAX, "gateway uid %d is not a sandbox uid" % uid)
        check(int(st["CapEff"], 16) == 0, "gateway kept capabilities: %r" % st)
        check(st.get("NoNewPrivs") == "1" and st.get("Seccomp") == "2", "gateway not confined: %r" % st)
        cg = open("/proc/%d/cgroup" % gpid).read()
        check(first["cgroup"] in cg, "gateway not in its leaf %s: %r" % (first["cgroup"], cg))
        check("gateway_started" in d.log() and "supervised=true" in d.log(), "the gateway did not log as supervised")
        # Killed: restarted; the client reconnects and is heard again.
        c = connect("wss://%s:%d/core?token=%s" % (addr, tls, tok), cert)
        first_msg, _ = recv_until(c, lambda m: True)
        check(first_msg["type"] == "connected", "first message %r, want the greeting" % first_msg)
        os.kill(gpid, signal.SIGKILL)
        wait_events(d, "gateway_exited")
        second = started(d, 2)[1]
        check(second["cgroup_id"] != first["cgroup_id"], "restart reused the leaf")
        try:
            c.recv()
            closed = False
        except (websocket.WebSocketException, OSError):
            closed = True
        check(closed, "the old connection survived the gateway")
        c = roundtrip(d, "wss://%s:%d/core" % (addr, tls), cert, tok, "hello after the restart")
        c.close()
        third_pid = gateway_pid(second)
        rc = d.stop()
        check(rc == 0, "capbusd exited %r" % rc)
        check(not pid_alive(third_pid), "the gateway outlived capbusd")
        # this daemon's gateway leaves (other daemons on the machine have their own prefix)
        mine = {e["cgroup"] for e in events(d.log(), "gateway_started") if "cgroup" in e}
        left = [l for l in skill_cgroups("gateway") if os.path.basename(l) in mine]
        check(mine and not left, "the gateway's cgroups outlived capbusd: %r" % left)
        check(events(d.log(), "gateway_stopped"), "no gateway_stopped logged")


if __name__ == "__main__":
    run_test(main)
