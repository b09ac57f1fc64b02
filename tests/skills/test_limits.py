#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Resource attacks and the terminal, as skills launched by capbusd.

- fork bomb: held by the manifest's limits.pids; the skill reports EAGAIN and how many forks it got.
- memory bomb: OOM-killed in its memory cgroup; `capbus skills --json` shows last_exit "oom", and
  for each exit the supervisor's own record (exited_ms, backoff_ms, next_start_ms, and the next
  run's started_ms, CLOCK_MONOTONIC ms): delays of 500 ms, 1 s, 2 s, 4 s, then failed.
- TIOCSTI: the daemon's stdout and stderr are a pseudo-terminal; the skill's fds 1 and 2 are pipes
  the daemon reads, so it holds no terminal: TIOCSTI fails (ENOTTY), nothing arrives on the
  terminal's input side, and the skills' output does not reach the terminal raw."""
import os
import termios
import threading
import time
import tty

from capbus_harness import SkillBus, check, run_test, wait_for


def fork_and_memory():
    with SkillBus() as sb:
        sb.add_skill("l.fork-bomb", ["fork-bomb"], {"memory": "64M", "pids": 16, "nofile": 64})
        sb.add_skill("l.memory-bomb", ["memory-bomb"], {"memory": "32M", "pids": 8, "nofile": 64})
        sb.reload()
        rep = sb.wait_reports(["l.fork-bomb"])["l.fork-bomb"]["result"]
        print("# fork bomb: %r" % rep)
        check(rep["errno"] == "EAGAIN" and 1 <= rep["forked"] < 16,
              "the fork bomb must end with EAGAIN below limits.pids 16: %r" % rep)
        s = sb.wait_skill("l.fork-bomb", lambda s: s["state"] == "stopped")
        check(s["last_exit"] == "exit 0", "fork bomb afterwards: %r" % s)

        # Memory bomb: the supervisor reports what it decided at each exit (when it reaped it,
        # the delay it chose, the start it planned) on its own clock; the test checks those
        # numbers, not times it observes from outside.
        states = set()

        def failed():
            s = sb.skill("l.memory-bomb")
            states.add(s["state"])
            if s["state"] == "restarting":
                check(s["next_start_ms"] is not None and s["exits"] and s["next_start_ms"] == s["exits"][-1]["next_start_ms"]
                      and s["backoff_ms"] == s["exits"][-1]["backoff_ms"], "restarting without its plan: %r" % s)
            return s["state"] == "failed" and s
        s = wait_for(failed, 90, interval=0.05, what="the memory bomb to be marked failed")
        exits = s["exits"]
        print("# memory bomb: %r, states seen %s" % ({k: s[k] for k in ("state", "restarts", "last_exit")}, sorted(states)))
        for e in exits:
            print("#   started %d exited %d (%s) backoff %s next start %s" % (
                e["started_ms"], e["exited_ms"], e["reason"], e["backoff_ms"], e["next_start_ms"]))
        check(s["clock"] == "monotonic_ms", "clock: %r" % s.get("clock"))
        check(s["last_exit"] == "oom" and s["restarts"] == 4 and len(exits) == 5,
              "memory bomb: %r\n%s" % (s, sb.log_about("l.memory-bomb")))
        check(all(e["reason"] == "oom" for e in exits), "memory bomb killed for other reasons: %r" % exits)
        check("restarting" in states, "the state 'restarting' was never seen: %s" % sorted(states))
        # 500 ms, then 1 s, 2 s, 4 s between an exit and the next start; the fifth exit is final.
        for i, (e, nxt) in enumerate(zip(exits, exits[1:])):
            check(e["started_ms"] <= e["exited_ms"], "exit %d before its start: %r" % (i + 1, e))
            check(e["backoff_ms"] == 500 * 2 ** i, "exit %d: backoff %r, not %d ms: no backoff" % (i + 1, e["backoff_ms"], 500 * 2 ** i))
            check(e["next_start_ms"] == e["exited_ms"] + e["backoff_ms"], "exit %d: planned start %r" % (i + 1, e))
            check(nxt["started_ms"] >= e["next_start_ms"], "start %d came before its planned time: %r then %r" % (i + 2, e, nxt))
        check(exits[-1]["backoff_ms"] is None and exits[-1]["next_start_ms"] is None and s["next_start_ms"] is None,
              "a failed skill with a planned start: %r" % s)
        exits = [l for l in sb.log_about("l.memory-bomb").splitlines() if "event=skill_exited" in l]
        check(exits and all('reason="oom"' in l for l in exits), "logged exits: %r" % exits)
        sb.pump(0.2)
        check("l.memory-bomb" not in sb.reports, "the memory bomb reported: %r" % sb.reports.get("l.memory-bomb"))


def tiocsti():
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    out = []
    done = threading.Event()

    def drain():  # what the skills print on the terminal; keeps it from filling up
        while not done.is_set():
            try:
                out.append(os.read(master, 4096))
            except BlockingIOError:
                time.sleep(0.02)
            except OSError:
                return

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        sb = SkillBus()
        sb.wrapper = ["/bin/sh", "-c", 'p=$1; shift; exec "$@" >"$p"', "sh", os.ttyname(slave)]
        with sb:
            sb.add_skill("t.tiocsti", ["tiocsti", "1"])
            sb.add_skill("t.tiocsti-highbits", ["tiocsti-highbits", "1"])
            sb.add_skill("t.devtty", ["tiocsti-devtty"])
            sb.reload()
            reps = sb.wait_reports(["t.tiocsti", "t.tiocsti-highbits", "t.devtty"])
            for k, v in reps.items():
                print("# %s: %r" % (k, v["result"]))
            r = reps["t.tiocsti"]["result"]
            check(r["isatty"] is False, "the skill's fd 1 is the daemon's terminal: %r" % r)
            check(r["ok"] is False and r["errno"] in ("EPERM", "ENOTTY"), "TIOCSTI: %r" % r)
            r = reps["t.tiocsti-highbits"]["result"]
            check(r["ok"] is False and r["errno"] in ("EPERM", "ENOTTY"), "TIOCSTI with high bits: %r" % r)
            r = reps["t.devtty"]["result"]
            check(r["ok"] is False and r["errno"] in ("ENOENT", "ENXIO"), "open /dev/tty: %r" % r)
            time.sleep(0.2)
            os.set_blocking(slave, False)
            try:
                injected = os.read(slave, 4096)
            except BlockingIOError:
                injected = b""
            check(injected == b"", "input was injected into the terminal: %r" % injected)
            check(not any(b"tiocsti" in c for c in out), "a skill wrote to the daemon's terminal: %r" % out)
            check("skill t.tiocsti[stdout]: " in sb.d.log(), "the skill's output is not in the daemon's log")
    finally:
        done.set()
        t.join(2)
        os.close(master)
        os.close(slave)


def main():
    fork_and_memory()
    tiocsti()


if __name__ == "__main__":
    run_test(main)
