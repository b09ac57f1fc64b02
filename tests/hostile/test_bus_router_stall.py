#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A router that stops reading its channel cannot hold the privileged parent.

The router is the process that parses client bytes, so it is the one an attacker may take over.
This one (capbusd --router, once) takes its configuration, says it is ready, then floods the
parent with nonce requests and never reads an answer, so the parent's sends back to it fill the
channel. The parent must not wait for it: a send that finds no room within the channel's send
timeout (5 s) fails, the parent logs why, kills the router and starts a fresh one (the real
capbusd-router this time), and keeps serving: a client pings through the new router, a SIGHUP
reload is taken, and SIGTERM stops the daemon cleanly."""
import os
import signal
import stat
import sys

from capbus_harness import Daemon, capbusd_router_path, check, is_root, manifest, run_test, skip, wait_for

PS_ROUTER_READY = 19
PS_ADMIN_NONCE = 20
REQUEST_SIZE = 80  # struct ps_request: serial + id

STALLED_ROUTER = """#!%(python)s
# Plays a compromised router once; run again (restarted), it becomes the real router.
import os, socket, struct, time
if os.path.exists(%(marker)r):
    os.execv(%(real)r, ["capbusd-router"])
open(%(marker)r, "w").close()
s = socket.socket(fileno=4)
s.recv(1 << 17)                              # router_config
s.send(struct.pack("<II", %(ready)d, 0))     # router_ready
s.setblocking(False)
serial = 0
deadline = time.monotonic() + 60
while time.monotonic() < deadline:           # never read: keep the parent's answers coming
    serial += 1
    try:
        s.send(struct.pack("<II", %(nonce)d, %(size)d) + struct.pack("<Q", serial) + b"admin".ljust(%(size)d - 8, b"\\0"))
    except BlockingIOError:
        time.sleep(0.01)
"""


def main():
    if not is_root():
        skip("needs root (the router drops to its own uid)")
    d = Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, start=False)
    try:
        script = os.path.join(d.dir, "stalled-router")
        with open(script, "w") as f:
            f.write(STALLED_ROUTER % {"python": sys.executable, "marker": os.path.join(d.dir, "stalled-router-ran"),
                                      "real": os.path.realpath(capbusd_router_path()), "ready": PS_ROUTER_READY,
                                      "nonce": PS_ADMIN_NONCE, "size": REQUEST_SIZE})
        os.chmod(script, stat.S_IRWXU)
        d.start(router=script)
        log = d.wait_log("event=router_channel", timeout=30)
        line = next(l for l in log.splitlines() if "event=router_channel" in l)
        check("send timed out: the router does not read" in line, "the parent's reason: %s" % line)
        d.wait_log("event=router_died signal=9", timeout=10)
        wait_for(lambda: d.log().count("event=router_ready") >= 2, 30, what="the restarted router to be ready")
        router = d.router_pid()
        check(os.readlink("/proc/%d/exe" % router) == os.path.realpath(capbusd_router_path()),
              "the restarted router is not capbusd-router")
        d.client("alice").ping()
        # The parent is not stuck anywhere: it takes a reload and then stops on SIGTERM.
        mark = len(d.log())
        d.signal(signal.SIGHUP)
        wait_for(lambda: "event=policy_loaded generation=2" in d.log()[mark:], 10, what="the reload to reach the router")
        d.client("alice").ping()
        check(d.stop() == 0, "capbusd did not stop cleanly after dropping a stalled router")
        deaths = [f for f in d.sanitizer_findings if "the router died" in f]
        check(len(deaths) == 1, "router deaths: %r" % deaths)
        d.sanitizer_findings = [f for f in d.sanitizer_findings if f not in deaths]
        check(not d.sanitizer_findings, "findings: %r" % d.sanitizer_findings)
        print("# stalled router dropped: %s" % line.strip())
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_test(main)
