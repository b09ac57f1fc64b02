#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Resource attacks and the terminal, as skills launched by capbusd.

- fork bomb: held by the manifest's limits.pids; the skill reports EAGAIN and how many forks it got.
- memory bomb: OOM-killed in its memory cgroup; `capbus skills` shows last_exit "oom", the skill is
  restarted with growing delays (restarts grows) and marked failed after repeated kills.
- TIOCSTI: the daemon's stdout is a pseudo-terminal the skill inherits as fd 1; pushing input into
  it fails (EPERM) and nothing arrives on the terminal's input side."""
import os
import termios
import threading
import time
import tty

from capbus_harness import SkillBus, check, run_test


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

        # Memory bomb: watch the restarts counter grow, with the time of each crash.
        seen, crashes, states = 0, [], set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s = sb.skill("l.memory-bomb")
            states.add(s["state"])
            if s["restarts"] > seen:
                crashes += [time.monotonic()] * (s["restarts"] - seen)
                seen = s["restarts"]
                check(s["last_exit"] == "oom", "memory bomb killed for %r, not oom:\n%s" % (s, sb.log_about("l.memory-bomb")))
            if s["state"] == "failed":
                break
            time.sleep(0.02)
        print("# memory bomb: %r, states seen %s, crash gaps %s" % (
            s, sorted(states), ["%.2fs" % (b - a) for a, b in zip(crashes, crashes[1:])]))
        check(s["state"] == "failed" and s["last_exit"] == "oom" and s["restarts"] >= 3,
              "memory bomb: %r\n%s" % (s, sb.log_about("l.memory-bomb")))
        check("restarting" in states, "the state 'restarting' was never seen: %s" % sorted(states))
        gaps = [b - a for a, b in zip(crashes, crashes[1:])]
        # 500 ms, then 1 s, 2 s ... between a crash and the next start (plus the time to fill 32M).
        for i, g in enumerate(gaps[:3]):
            check(g >= 0.5 * (2 ** i) * 0.7, "crash %d came %.2fs after the previous one: no backoff (%r)" % (
                i + 2, g, gaps))
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
            check(r["isatty"] is True, "the skill's fd 1 is not the terminal: %r" % r)
            check(r["ok"] is False and r["errno"] == "EPERM", "TIOCSTI: %r" % r)
            r = reps["t.tiocsti-highbits"]["result"]
            check(r["ok"] is False and r["errno"] == "EPERM", "TIOCSTI with high bits: %r" % r)
            r = reps["t.devtty"]["result"]
            check(r["ok"] is False and r["errno"] in ("ENOENT", "ENXIO"), "open /dev/tty: %r" % r)
            time.sleep(0.2)
            os.set_blocking(slave, False)
            try:
                injected = os.read(slave, 4096)
            except BlockingIOError:
                injected = b""
            check(injected == b"", "input was injected into the terminal: %r" % injected)
            check(any(b"tiocsti" in c for c in out), "the skills' output did not reach the terminal")
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
