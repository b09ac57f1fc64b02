#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Local services identified by the kernel, no secret: gateway.local maps a cgroup (created here
beneath this test's own v2 cgroup) to an identity. A process in that cgroup connects to
ws://127.0.0.1:P/core with no credential and sends as that identity; a process in an unmapped
sibling cgroup gets 401; a mapped process whose page claims another Origin gets 401.
Needs root and a writable cgroup v2 hierarchy (exit 77, or a failure when CI=true)."""
import json
import subprocess
import time

from capbus_harness import Subtree, check, is_root, manifest, run_test, skip, v2_mount
from gateway_harness import GatewayDaemon

BOTH = ["socket", "gateway"]

CLIENT = r"""
import json, os, sys, websocket
with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
kw = {"origin": sys.argv[3]} if len(sys.argv) > 3 else {}
try:
    c = websocket.create_connection(sys.argv[2], timeout=5, **kw)
except websocket.WebSocketBadStatusException as e:
    print(json.dumps({"status": e.status_code})); sys.exit(0)
first = json.loads(c.recv())
c.send(json.dumps({"type": "greet.local", "data": {}, "context": {}}))
print(json.dumps({"status": 101, "first": first})); c.close()
"""


def client(cgdir, url, origin=None):
    argv = ["/usr/bin/python3", "-c", CLIENT, cgdir, url] + ([origin] if origin else [])
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    check(cp.returncode == 0, "client failed: %s" % cp.stderr)
    return json.loads(cp.stdout)


def main():
    if not is_root():
        skip("needs root for cgroups")
    try:
        sub = Subtree("gwlocal", children=("mapped", "unmapped"))
    except OSError as e:
        skip("cannot create cgroups beneath our own: %s" % e)
    try:
        ms = {"ovos-audio": manifest("ovos-audio", ["greet.*"], [], transports=BOTH),
              "bob": manifest("bob", ["other.*"], ["greet.*"])}
        with GatewayDaemon(ms, gateway={"local": {sub.rel("mapped"): "ovos-audio"}}, start=False) as d:
            d.start_gateway(extra_args=["--cgroup-root", v2_mount()])
            bob = d.client("bob")
            bob.subscribe("greet.*")
            r = client(sub.dir("mapped"), d.url())
            check(r["status"] == 101 and r["first"]["type"] == "connected", "mapped cgroup: %r" % r)
            m = bob.recv_message(timeout=10)
            check(m["type"] == "greet.local" and m["context"]["sender"] == "ovos-audio", "bob got %r" % m)
            d.wait_gw_log("event=gateway_session_open id=\"ovos-audio\" method=local source=\"cg:")
            r = client(sub.dir("unmapped"), d.url())
            check(r["status"] == 401, "unmapped cgroup: %r" % r)
            d.wait_gw_log("reason=unmapped_cgroup")
            r = client(sub.dir("mapped"), d.url(), origin="http://evil.example")
            check(r["status"] == 401, "mapped cgroup, foreign Origin: %r" % r)
            # this test process is in no mapped cgroup either
            import websocket
            try:
                websocket.create_connection(d.url(), timeout=5).close()
                raise AssertionError("the test's own process got a local identity")
            except websocket.WebSocketBadStatusException as e:
                check(e.status_code == 401, "own process: %d" % e.status_code)
            bob.close()
    finally:
        time.sleep(0.2)
        sub.cleanup()


run_test(main)
