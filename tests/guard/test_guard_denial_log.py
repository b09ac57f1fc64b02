#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""event=guard_denied names the cgroup (path) the connect was refused in. The kernel reports the
caller's cgroup id in the event; the path in the log must be that cgroup's even when the daemon
reads the event late (it is stopped here while the refusals happen), after the refused process
has exited or moved to another cgroup."""
import errno
import os
import signal
import subprocess
import sys

from capbus_harness import GuardDaemon, Subtree, check, enter_cgroup, gclient, require_guard_env, run_test, \
    wait_event


def main():
    require_guard_env()
    with Subtree("denlog") as sub, GuardDaemon(sub) as d:
        forbidden = sub.dir("forbidden")
        fid = str(os.stat(forbidden).st_ino)
        # Prompt case: the daemon is running.
        r = gclient(d.socket, forbidden, comm="gprompt")
        check(r["errno"] == errno.EPERM, "forbidden connect: %r" % r)
        ev = wait_event(d, "guard_denied", lambda e: e.get("pid") == str(r["pid"]))
        check(ev.get("cgroup") == sub.rel("forbidden") and ev.get("cgroup_id") == fid, "prompt: %s" % ev["_line"])

        # The daemon is busy (stopped) while a process is refused and exits, and another is
        # refused and then moves to the allowed cgroup (it stays alive until the log is read).
        d.proc.send_signal(signal.SIGSTOP)
        try:
            gone = gclient(d.socket, forbidden, comm="ggone")
            check(gone["errno"] == errno.EPERM, "forbidden connect while the daemon is stopped: %r" % gone)
            mover = subprocess.Popen(
                [sys.executable, "-c", "import socket, sys, time, os\n"
                 "s = socket.socket(socket.AF_UNIX)\n"
                 "try:\n    s.connect('\\0' + sys.argv[1])\nexcept OSError as e:\n    print(e.errno, flush=True)\n"
                 "open(os.path.join(sys.argv[2], 'cgroup.procs'), 'w').write(str(os.getpid()))\n"
                 "print('moved', flush=True)\ntime.sleep(30)\n",
                 d.socket[1:], sub.dir("allowed")],
                stdout=subprocess.PIPE, text=True, preexec_fn=enter_cgroup(forbidden))
            check(mover.stdout.readline().strip() == str(errno.EPERM), "mover was not refused")
            check(mover.stdout.readline().strip() == "moved", "mover did not move")
        finally:
            d.proc.send_signal(signal.SIGCONT)
        try:
            problems = []
            for pid, what in ((gone["pid"], "exited"), (mover.pid, "moved to allowed/")):
                ev = wait_event(d, "guard_denied", lambda e: e.get("pid") == str(pid))
                check(ev.get("cgroup_id") == fid, "cgroup_id in the event: %s" % ev["_line"])
                if ev.get("cgroup") != sub.rel("forbidden"):
                    problems.append("refused process %s: logged cgroup=%r, want %r (cgroup_id=%s is right)" %
                                    (what, ev.get("cgroup"), sub.rel("forbidden"), ev.get("cgroup_id")))
            check(not problems, "; ".join(problems))
        finally:
            mover.kill()
            mover.wait()


if __name__ == "__main__":
    run_test(main)
