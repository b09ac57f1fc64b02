#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A burst of admin requests that involve the privileged parent (reload, nonce, keygen) is answered in
full and never wedges the parent/router channel; the bus keeps serving everyone."""
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
    """Sends n requests back to back, then reads until each has an answer; returns the answers."""
    sent = 0
    answers = {}
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
                answers[r] = m
    except (socket.timeout, TimeoutError):
        time.sleep(0.5)
        stuck = blocked_in_sendmsg(d)
        check(False, "%s burst: the daemon stopped reading after %d of %d requests%s" % (
            mtype, sent, n, "; blocked in sendmsg: " + ", ".join(stuck) if stuck else ""))
    check(len(answered) == n, "%s burst: %d of %d requests answered" % (mtype, len(answered), n))
    return [answers[10000 + i] for i in range(n)]


def main():
    manifests = {"m%d" % i: manifest("m%d" % i, ["x.*"], ["x.*"]) for i in range(50)}
    with Daemon(manifests) as d:
        admin = d.client("admin", key_path=d.admin_key, timeout=5)
        burst(d, admin, "capbus.reload", 1000, lambda i: {})
        # Nonces come from the parent, one round trip each.
        nonces = burst(d, admin, "capbus.nonce", 1000, lambda i: {})
        # Past ROUTER_MAX_PENDING_OPS in flight the router answers "quota"; every nonce given is new.
        given = [m["data"]["nonce"] for m in nonces if m["type"] == "capbus.nonce.reply"]
        check(given and len(set(given)) == len(given), "a nonce was issued twice (%d given)" % len(given))
        # Unsigned keygens reach the parent too, which refuses every one of them.
        refused = burst(d, admin, "capbus.keygen", 3000, lambda i: {"id": "m%d" % (i % 50)})
        codes = {m["data"].get("code") for m in refused}
        check(codes <= {"denied", "quota"} and "denied" in codes, "unsigned keygen burst answered %r" % codes)
        # Signed ones, as fast as nonces can be had: 60 nonces first, then 60 keygens back to back.
        key = d.admin_authority
        fresh = [bytes.fromhex(m["data"]["nonce"]) for m in burst(d, admin, "capbus.nonce", 60, lambda i: {})]
        issued = burst(d, admin, "capbus.keygen", 60,
                       lambda i: admin.signed("capbus.keygen", {"id": "m%d" % (i % 50)}, key, fresh[i]))
        check(all(m["type"] == "capbus.keygen.reply" and len(m["data"].get("secret", "")) == 64 for m in issued),
              "signed keygen burst answered %r" % [m for m in issued if m["type"] != "capbus.keygen.reply"][:3])
        check(d.alive(), "daemon died")
        c = d.client("m1")
        c.ping(timeout=5)


if __name__ == "__main__":
    run_test(main)
