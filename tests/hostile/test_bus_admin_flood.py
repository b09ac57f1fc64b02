#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A burst of admin requests that involve the privileged parent (reload, keygen) is answered in full
and never wedges the parent/router channel; the bus keeps serving everyone."""
import socket
import time

from capbus_harness import Daemon, check, manifest, run_test


def blocked_in_sendmsg(d):
    """Daemon processes currently sleeping in sendmsg (x86-64 syscall 46), for the failure message."""
    out = []
    for pid in d.pids():
        try:
            with open("/proc/%d/syscall" % pid) as f:
                nr = f.read().split()[0]
            with open("/proc/%d/wchan" % pid) as f:
                wchan = f.read()
        except OSError:
            continue
        if nr == "46":
            out.append("%d (%s)" % (pid, wchan))
    return out


def burst(d, admin, mtype, n, data_fn):
    sent = 0
    try:
        for i in range(n):
            admin.send(mtype, dict(data_fn(i), request=10000 + i))
            sent += 1
        answered = set()
        deadline = time.monotonic() + 30
        while len(answered) < n and time.monotonic() < deadline:
            m = admin.recv_message(max(0.1, deadline - time.monotonic()))
            r = m.get("data", {}).get("request")
            if isinstance(r, int) and r >= 10000:
                answered.add(r)
    except (socket.timeout, TimeoutError):
        time.sleep(0.5)
        stuck = blocked_in_sendmsg(d)
        check(False, "%s burst: the daemon stopped reading after %d of %d requests%s" % (
            mtype, sent, n, "; blocked in sendmsg: " + ", ".join(stuck) if stuck else ""))
    check(len(answered) == n, "%s burst: %d of %d requests answered" % (mtype, len(answered), n))


def main():
    manifests = {"m%d" % i: manifest("m%d" % i, ["x.*"], ["x.*"]) for i in range(50)}
    with Daemon(manifests) as d:
        admin = d.client("admin", key_path=d.admin_key, timeout=5)
        burst(d, admin, "capbus.reload", 1000, lambda i: {})
        burst(d, admin, "capbus.keygen", 3000, lambda i: {"id": "m%d" % (i % 50)})
        check(d.alive(), "daemon died")
        c = d.client("m1")
        c.ping(timeout=5)


if __name__ == "__main__":
    run_test(main)
