#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What a supervised gateway cannot use is said at start-up. A filesystem bus socket (here in a
directory of its own under /run) is invisible in the gateway's sandbox and root's (mode 0660): capbusd
warns (gateway_socket_unreachable, with a hint to use an abstract socket), and indeed a
websocket-client's session fails with gateway_bus_unreachable. gateway.user, which a supervised
gateway cannot use (it runs as its sandbox uid), gets gateway_user_ignored. With an abstract
socket and no user, neither warning appears and a message goes through."""
import os
import shutil
import subprocess
import tempfile
import time

from capbus_harness import Daemon, abstract_name, capbus_path, check, require_skills_env, run_test
from gateway_harness import recv_until, send
from gwtest import delegable, events, free_port, wait_events

import websocket  # Debian python3-websocket: run under /usr/bin/python3


def connect(url, cert, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return websocket.create_connection(url, timeout=5, sslopt={"ca_certs": cert})
        except (OSError, websocket.WebSocketException) as e:
            check(time.monotonic() < deadline, "cannot connect to %s: %r" % (url, e))
            time.sleep(0.1)


def gateway_config(d, port, **extra):
    cert, key = os.path.join(d.dir, "gw.crt"), os.path.join(d.dir, "gw.key")
    p = subprocess.run([capbus_path(), "gateway-cert", "--cert", cert, "--key", key, "--name", "127.0.0.1"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "gateway-cert: %s" % p.stderr)
    g = {"listen": ["127.0.0.1:%d" % port], "plain_loopback": False, "tls": {"cert": cert, "key": key}}
    g.update(extra)
    d.config["gateway"] = g
    d.write_config()
    os.chmod(d.dir, 0o755)
    return cert


def session(d, port, cert):
    """A token client's greeting and one message to a native subscriber; or the failure."""
    tok = d.admin("token", "phone").stdout.strip()
    ear = d.client("ear")
    ear.subscribe("greet.*")
    c = connect("wss://127.0.0.1:%d/core?token=%s" % (port, tok), cert)
    try:
        first, _ = recv_until(c, lambda m: True)
    except (OSError, websocket.WebSocketException) as e:
        return "no session: %r" % e
    check(first["type"] == "connected", "first message %r, want the greeting (session open)" % first)
    send(c, "greet.speak", {"utterance": "hello"})
    m = ear.recv_message(timeout=10)
    check(m["type"] == "greet.speak" and m["context"]["sender"] == "phone", "ear got %r" % m)
    c.close()
    ear.close()
    return None


def main():
    require_skills_env()
    ms = {"phone": delegable("phone"), "ear": delegable("ear", send=("other.*",))}
    sockdir = tempfile.mkdtemp(prefix="capbus-gwsock.", dir="/run")
    try:
        port = free_port()
        with Daemon(ms, start=False, socket=os.path.join(sockdir, "bus.sock")) as d:
            cert = gateway_config(d, port, user="nobody")
            d.start()
            try:
                ev = wait_events(d, "gateway_socket_unreachable")[0]
                check(ev.get("socket") == os.path.join(sockdir, "bus.sock") and "abstract" in ev.get("hint", ""),
                      "gateway_socket_unreachable: %r" % ev)
                ev = wait_events(d, "gateway_user_ignored")[0]
                check(ev.get("user") == "nobody" and ev.get("hint"), "gateway_user_ignored: %r" % ev)
                why = session(d, port, cert)
                check(why, "a session through a filesystem socket worked: the warning is wrong")
                wait_events(d, "gateway_output")
                check("gateway_bus_unreachable" in d.log(), "no gateway_bus_unreachable:\n%s" % d.log()[-3000:])
            except BaseException:
                print("---- capbusd log ----\n%s" % d.log()[-8000:])
                raise
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)

    port = free_port()
    with Daemon(ms, start=False, socket=abstract_name()) as d:
        cert = gateway_config(d, port)
        d.start()
        try:
            why = session(d, port, cert)
            check(why is None, why)
            check(not events(d.log(), "gateway_socket_unreachable") and not events(d.log(), "gateway_user_ignored"),
                  "a warning for a usable configuration:\n%s" % d.log()[-3000:])
        except BaseException:
            print("---- capbusd log ----\n%s" % d.log()[-8000:])
            raise


if __name__ == "__main__":
    run_test(main)
