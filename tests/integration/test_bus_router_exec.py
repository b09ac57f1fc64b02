#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The router is its own program, and the privsep channel is strict in both directions.

1. The real daemon: the router process runs capbusd-router (not a fork of capbusd), as a
   non-root uid, with argv and environment holding nothing, and none of the parent's descriptors
   (only /dev/null, the log, the listening socket, its channel, and what it opened itself).
2. capbusd --router with a router that sends one malformed packet: the parent logs
   privsep_malformed, kills it, and the restarted (real) router serves clients.
3. capbusd-router started by hand refuses to run; started with the right descriptors it exits on
   a malformed configuration and on a malformed message after it.
"""
import os
import socket
import stat
import struct
import subprocess
import sys

from capbus_harness import (BUILD_DIR, Daemon, capbusd_router_path, check, is_root, manifest, proc_status,
                            run_test, skip, wait_for)

PS_HEADER = struct.Struct("<II")
PS_ROUTER_CONFIG, PS_ROUTER_READY, PS_ADMIN_NONCE = 18, 19, 20
# struct ps_router_config: log_level, uid, gid, max_frame, max_depth, handshake_timeout_ms,
# max_connections, max_pending (uint32), max_queue, byte_rate (uint64), max_pending_per_uid,
# max_pending_per_peer, max_identity_connections, max_subscriptions, max_identity_subscriptions,
# max_subscription_bytes (uint32), max_identity_subscription_bytes, max_partial_bytes,
# max_identity_partial_bytes (uint64).
ROUTER_CONFIG = struct.Struct("<8IQQ6IQQQ")
SANITIZER_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def fd_targets(pid):
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except FileNotFoundError:
            pass
    return out


def check_separate_program():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}) as d:
        d.client("alice").ping()
        router = d.router_pid()
        check(router and router != d.pid, "no router child process")
        exe = os.readlink("/proc/%d/exe" % router)
        want = os.path.realpath(capbusd_router_path())
        check(exe == want, "router runs %r, want %r (a separate executable)" % (exe, want))
        check(os.path.basename(os.readlink("/proc/%d/exe" % d.pid)) == "capbusd", "parent is not capbusd")
        check("event=router_started pid=%d program=" % router in d.log(), "no router_started line for %d" % router)

        st = proc_status(router)
        uids = [int(x) for x in st["Uid"].split()]
        check(all(u != 0 for u in uids), "router uids %r include root" % uids)

        with open("/proc/%d/cmdline" % router, "rb") as f:
            argv = f.read().split(b"\0")[:-1]
        check(argv == [b"capbusd-router"], "router argv %r, want only its name" % argv)
        with open("/proc/%d/environ" % router, "rb") as f:
            env = [e for e in f.read().split(b"\0") if e]
        extra = [e for e in env if e.split(b"=", 1)[0].decode() not in SANITIZER_ENV]
        check(not extra, "router environment holds %r" % extra)

        parent = fd_targets(d.pid)
        mine = fd_targets(router)
        check(mine.get(0) == "/dev/null", "router stdin is %r, want /dev/null" % mine.get(0))
        for fd in (1, 2):
            check(mine.get(fd) == parent.get(fd), "router fd %d is %r, the parent's %r" % (fd, mine.get(fd), parent.get(fd)))
        check(mine.get(3, "").startswith("socket:") and mine[3] in parent.values(),
              "router fd 3 %r is not the parent's listening socket" % mine.get(3))
        check(mine.get(4, "").startswith("socket:") and mine[4] not in parent.values(),
              "router fd 4 %r is not its own end of the channel" % mine.get(4))
        own = ("anon_inode:[eventpoll]", "anon_inode:[timerfd]")
        for fd, target in mine.items():
            if fd <= 4:
                continue
            check(target not in parent.values(), "router fd %d shares %r with the parent" % (fd, target))
            check(target in own or target.startswith("socket:"), "router fd %d is %r" % (fd, target))


BAD_ROUTER = """#!%(python)s
# Plays a compromised router once: takes its configuration, sends router_ready with 4 stray
# bytes, and waits to be killed. Run again (restarted), it becomes the real router.
import os, socket, struct, time
if os.path.exists(%(marker)r):
    os.execv(%(real)r, ["capbusd-router"])
open(%(marker)r, "w").close()
s = socket.socket(fileno=4)
s.recv(1 << 17)
s.send(%(packet)s)
time.sleep(60)
"""

# What the compromised router sends first: router_ready with 4 stray bytes (the table refuses
# it), or a well-formed nonce request before router_ready (the order refuses it).
BAD_READY = 'struct.pack("<II", %d, 4) + b"\\0" * 4' % PS_ROUTER_READY
EARLY_REQUEST = 'struct.pack("<II", %d, 80) + b"\\0" * 80' % PS_ADMIN_NONCE


def check_malformed_from_router(packet=BAD_READY, fields=("type=19", "name=router_ready", "size=4", "reason=bad_size")):
    d = Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, start=False)
    try:
        script = os.path.join(d.dir, "bad-router")
        with open(script, "w") as f:
            f.write(BAD_ROUTER % {"python": sys.executable, "marker": os.path.join(d.dir, "bad-router-ran"),
                                  "real": os.path.realpath(capbusd_router_path()), "packet": packet})
        os.chmod(script, stat.S_IRWXU)
        d.start(router=script)
        log = d.wait_log("event=privsep_malformed")
        line = next(l for l in log.splitlines() if "event=privsep_malformed" in l)
        for field in fields:
            check(field in line, "privsep_malformed line lacks %s: %s" % (field, line))
        d.wait_log("event=router_died signal=9")
        # Restarted: the real router takes over and serves.
        wait_for(lambda: d.log().count("event=router_ready") >= 1, what="restarted router ready")
        router = d.router_pid()
        check(os.readlink("/proc/%d/exe" % router) == os.path.realpath(capbusd_router_path()),
              "the restarted router is not capbusd-router")
        d.client("alice").ping()
        check(d.alive(), "capbusd exited after a malformed message from its router")
        check(d.stop() == 0, "capbusd did not stop cleanly")
        # The one death was the point of this test; any other is still a finding.
        deaths = [f for f in d.sanitizer_findings if "the router died" in f]
        check(len(deaths) == 1, "router deaths: %r" % deaths)
        d.sanitizer_findings = [f for f in d.sanitizer_findings if f not in deaths]
        check(not d.sanitizer_findings, "findings: %r" % d.sanitizer_findings)
    finally:
        d.cleanup()


def run_router(packets):
    """capbusd-router with a real listening socket on fd 3 and a channel on fd 4; sends packets,
    then closes the channel. Returns (exit code, stderr)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0capbus-test-router-%d" % os.getpid())
    listener.listen(4)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def fds():
        # Via high numbers: either socket may already sit on 3 or 4.
        high = [os.dup2(listener.fileno(), 100), os.dup2(theirs.fileno(), 101)]
        os.dup2(high[0], 3)
        os.dup2(high[1], 4)
        os.closerange(5, 1 << 16)

    proc = subprocess.Popen([capbusd_router_path()], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            close_fds=False, preexec_fn=fds, env={})
    theirs.close()
    listener.close()
    for p in packets:
        try:
            ours.send(p)
        except OSError:
            break
    try:
        _, err = proc.communicate(timeout=10)
    finally:
        ours.close()
    return proc.returncode, err.decode("utf-8", "replace")


def packet(ptype, payload):
    return PS_HEADER.pack(ptype, len(payload)) + payload


def check_router_refuses():
    # By hand, without the descriptors: a clear refusal.
    r = subprocess.run([capbusd_router_path()], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "started by capbusd" in r.stderr, "capbusd-router by hand: %d %r" % (r.returncode, r.stderr))

    nobody = 65534
    config = ROUTER_CONFIG.pack(1, nobody, nobody, 65536, 32, 5000, 64, 16, 1 << 20, 1 << 20,
                                4, 2, 16, 1024, 4096, 1 << 19, 1 << 21, 1 << 26, 1 << 24)
    # A configuration one byte short: refused before anything else.
    rc, err = run_router([packet(PS_ROUTER_CONFIG, config[:-1])])
    check(rc == 1 and "event=privsep_malformed type=18 name=router_config size=95 reason=bad_size" in err,
          "short configuration: exit %d, %r" % (rc, err))
    # Something else first.
    rc, err = run_router([packet(1, b"")])
    check(rc == 1 and "reason=expected_router_config" in err, "no configuration first: exit %d, %r" % (rc, err))
    # A configuration that would leave the router root.
    rc, err = run_router([packet(PS_ROUTER_CONFIG, ROUTER_CONFIG.pack(1, 0, 0, 65536, 32, 5000, 64, 16, 1, 1,
                                                                        4, 2, 16, 1024, 4096, 1 << 19, 1 << 21, 1 << 26, 1 << 24))])
    check(rc == 1 and "reason=bad_value" in err, "root configuration: exit %d, %r" % (rc, err))
    # No room for partial frames at all.
    rc, err = run_router([packet(PS_ROUTER_CONFIG, config[:-8] + b"\0" * 8)])
    check(rc == 1 and "reason=bad_value" in err, "max_identity_partial_bytes 0: exit %d, %r" % (rc, err))
    # A good configuration, then a message the router may only send, never receive.
    rc, err = run_router([packet(PS_ROUTER_CONFIG, config), packet(PS_ADMIN_NONCE, b"\0" * 80)])
    check("event=privsep_malformed" in err and "reason=wrong_direction" in err and rc == 1,
          "admin_nonce sent to the router: exit %d, %r" % (rc, err))
    check("event=parent_gone" not in err, "the router waited for EOF instead of stopping: %r" % err)


def main():
    if not is_root():
        # Reading another uid's /proc entries and dropping to nobody need root.
        skip("needs root")
    check(BUILD_DIR and os.access(capbusd_router_path(), os.X_OK), "capbusd-router not built")
    check_separate_program()
    check_malformed_from_router()
    check_malformed_from_router(EARLY_REQUEST, ("type=20", "name=admin_nonce", "size=80", "reason=out_of_order"))
    check_router_refuses()


if __name__ == "__main__":
    run_test(main)
