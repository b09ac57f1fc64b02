#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The guard goes away with the daemon: links are not pinned. After SIGKILL of the daemon (its
router ends with it), nothing is left attached to the scope (bpftool, when installed and able to
show the unix-connect attach type) and a connect from the forbidden cgroup to the same abstract
name reaches a plain listener the test starts there."""
import errno
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from capbus_harness import GuardDaemon, Subtree, check, gclient, require_guard_env, run_test, wait_for


def bpf_fds(pid):
    out = []
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if "bpf" in target:
                out.append(target)
    except FileNotFoundError:
        pass
    return out


def attached(scope):
    """Program ids bpftool lists on scope (None without bpftool)."""
    tool = shutil.which("bpftool")
    if not tool:
        return None
    cp = subprocess.run([tool, "cgroup", "list", scope], capture_output=True, text=True, timeout=10)
    return [l for l in cp.stdout.splitlines()[1:] if l.strip()] if cp.returncode == 0 else None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def main():
    require_guard_env()
    with Subtree("sigkill") as sub, GuardDaemon(sub) as d:
        forbidden = sub.dir("forbidden")
        check(gclient(d.socket, forbidden)["errno"] == errno.EPERM, "forbidden before the kill")
        parent, router = d.pid, d.router_pid()
        check(bpf_fds(parent), "the daemon holds no BPF object while the guard is active?")
        before = attached(sub.dir())
        problems = []

        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        t0 = time.monotonic()
        try:
            wait_for(lambda: not alive(router), 5, what="the router to end after its parent was killed")
        except AssertionError:
            problems.append("the router (pid %d) is still running 5s after the parent was SIGKILLed" % router)
            os.kill(router, signal.SIGKILL)
            wait_for(lambda: not alive(router), 5, what="the router to end")
        gone_after = time.monotonic() - t0

        after = attached(sub.dir())
        if not before:
            print("bpftool does not list the unix-connect program here (before the kill: %r): not used" % before)
        elif after:
            problems.append("bpftool still lists programs on the scope: %r (before: %r)" % (after, before))

        # A plain listener on the same abstract name: the forbidden cgroup now reaches it.
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wait_for(lambda: _try_bind(lsock, "\0" + d.socket[1:]), 5, what="the abstract name to be free")
        lsock.listen(8)

        def serve():
            c, _ = lsock.accept()
            c.sendall(b"plain-listener")
            c.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        r = gclient(d.socket, forbidden, comm="gafterkill")
        lsock.close()
        if r["errno"] != 0 or not r["hello"]:
            problems.append("forbidden connect to a plain listener after the kill: %r (the guard is still attached)"
                            % r)
        check(not problems, "; ".join(problems))
        print("router gone %.2fs after the parent" % gone_after)


def _try_bind(s, addr):
    try:
        s.bind(addr)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    run_test(main)
