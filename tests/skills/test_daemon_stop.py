#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stopping capbusd leaves no skill behind, and a restarted daemon starts its skills again.

SIGTERM: the daemon stops every skill; their processes and cgroups are gone when it has exited.
SIGKILL: the daemon cannot clean up, but every skill process still dies with it (the sandbox
dies with its launcher); cgroup leaves it left behind are reclaimed by the next daemon, which
starts the skill again in fresh leaves of the same names. It reclaims every leaf of its own
prefix, not only those of the skills it runs: a skill removed while it was down, and a leaf that
still holds a process, are gone (the process killed) before it starts anything.

While it runs: empty leaves of a new skill's name (left by an earlier plan whose cleanup failed)
do not stop that skill's start: its plan meets them, removes them and makes fresh ones.

One skill has an id of 64 characters, the longest a manifest allows: its cgroup names (the
daemon's prefix and the id, 80 characters) are made, removed and reclaimed like the others."""
import os
import signal
import subprocess
import time

from capbus_harness import (SkillBus, TestFailure, cgroup_procs, check, children_of, pid_alive, remove_cgroups, run_test,
                            skill_cgroups, wait_for)

LONG = "d.long-" + "0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghij"  # 64 characters
IDS = ["d.hold", "d.hold2", LONG]


def running(sb, log_from=None, ids=None):
    """{id: (init pid, [its children])} once every skill runs and has reported, or, for a daemon
    restarted at log offset log_from, has authenticated to it: a restarted daemon starts its
    skills before the observer can subscribe again, and a bus keeps no message for a late
    subscriber, so their one report may come too early to be seen."""
    ids = ids or IDS
    sb.reports.clear()
    out = {}
    for i in ids:
        s = sb.wait_skill(i, lambda s: s["state"] == "running" and s["pid"])
        out[i] = (s["pid"], children_of(s["pid"]))
        check(out[i][1], "%s: the sandbox init %d has no child" % (i, s["pid"]))
    if log_from is None:
        sb.wait_reports(ids)
    else:
        for i in ids:
            line = 'event=authenticated id="%s" pid=%d ' % (i, out[i][0])
            wait_for(lambda: line in sb.d.log()[log_from:], 30, what="%s to authenticate to the restarted daemon" % i)
    for i in ids:
        cgs = skill_cgroups(i)
        check(len(cgs) >= 2 and all(out[i][0] in cgroup_procs(c) for c in cgs),
              "%s: cgroups %s, init %d" % (i, cgs, out[i][0]))
    return out


def all_pids(procs):
    return [p for init, kids in procs.values() for p in [init] + kids]


def restart(sb):
    sb.d.start()
    sb.connect_observer()


def ppid(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(next(l for l in f if l.startswith("PPid:")).split()[1])
    except (OSError, StopIteration):
        return None


def main():
    check(len(LONG) == 64, "the long id has %d characters" % len(LONG))
    failures = []
    try:
        with SkillBus() as sb:
            for i in IDS:
                sb.add_skill(i, ["hold"])
            sb.reload()
            procs = running(sb)
            cg_names = {i: skill_cgroups(i) for i in IDS}
            print("# running: %s" % procs)

            # -- SIGTERM -------------------------------------------------------------------
            rc = sb.d.stop()
            check(rc == 0, "capbusd exited with %r on SIGTERM" % rc)
            wait_for(lambda: not any(pid_alive(p) for p in all_pids(procs)), 5,
                     what="every skill process to end with the daemon")
            left = [c for i in IDS for c in skill_cgroups(i)]
            check(not left, "cgroups left after SIGTERM: %s" % left)
            print("# SIGTERM: processes and cgroups gone")

            log_start = len(sb.d.log())
            restart(sb)
            procs2 = running(sb, log_start)
            check(not set(all_pids(procs)) & set(all_pids(procs2)), "same pids after a restart?")
            print("# restarted: %s" % procs2)

            # -- SIGKILL -------------------------------------------------------------------
            router = sb.d.router_pid()
            sb.d.proc.send_signal(signal.SIGKILL)
            sb.d.proc.wait(10)
            sb.d.stop()
            try:
                wait_for(lambda: not any(pid_alive(p) for p in all_pids(procs2)), 5,
                         what="every skill process to end with the SIGKILLed daemon")
            except TestFailure:
                alive = [p for p in all_pids(procs2) if pid_alive(p)]
                failures.append("skill processes %s (sandbox inits and programs of %s) survived capbusd's SIGKILL, "
                                "reparented to pid %s" % (alive, procs2, [ppid(p) for p in alive]))
                # Go on with what a restarted daemon does once they are gone.
                for p in alive:
                    os.kill(p, signal.SIGKILL)
                wait_for(lambda: not any(pid_alive(p) for p in alive), 5, what="the survivors to end")
            if router:
                wait_for(lambda: not pid_alive(router), 5, what="the router to end with the SIGKILLed daemon")
            leftover = {i: skill_cgroups(i) for i in IDS}
            for i, cgs in leftover.items():
                for c in cgs:
                    check(not cgroup_procs(c), "%s: %s still holds %s" % (i, c, cgroup_procs(c)))
            print("# after SIGKILL: cgroups left behind (empty): %s" % leftover)

            # While the daemon is down: one skill is removed, and a leaf of this daemon's prefix
            # for a skill that no longer exists still holds a process (in every hierarchy).
            sb.remove_manifest("d.hold2")
            # Reparented to pid 1 at once (as an orphan of a skill would be), so nothing here
            # holds it as an unreaped zombie.
            stray_pid = int(subprocess.run(["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"], stdout=subprocess.PIPE,
                                           check=True).stdout)
            gone = []
            for c in cg_names["d.hold"]:
                leaf = c[:-len("d.hold")] + "d.gone"
                os.mkdir(leaf)
                gone.append(leaf)
                with open(os.path.join(leaf, "cgroup.procs"), "w") as f:
                    f.write(str(stray_pid))
            check(all(stray_pid in cgroup_procs(c) for c in gone), "stray process not in %s" % gone)
            print("# while down: d.hold2 removed, stray pid %d in %s" % (stray_pid, gone))

            log_start = len(sb.d.log())
            restart(sb)
            procs3 = running(sb, log_start, ["d.hold", LONG])
            try:
                wait_for(lambda: not pid_alive(stray_pid), 5, what="the stray process to be killed")
            except TestFailure:
                failures.append("the restarted daemon left pid %d running in %s" % (stray_pid, gone))
            left = [c for c in gone + skill_cgroups("d.hold2") if os.path.exists(c)]
            check(not left, "leaves of this daemon's prefix left after the restart: %s\n%s"
                  % (left, sb.d.log()[log_start:][-3000:]))
            check("event=skill_cgroups_reclaimed" in sb.d.log()[log_start:],
                  "no skill_cgroups_reclaimed event:\n%s" % sb.d.log()[log_start:][-3000:])
            for i in ["d.hold", LONG]:
                now = skill_cgroups(i)
                check(now == cg_names[i], "%s: cgroups after the restart %s, before %s" % (i, now, cg_names[i]))
                check(all(procs3[i][0] in cgroup_procs(c) for c in now), "%s: not in its fresh leaves" % i)
            new_log = sb.d.log()[log_start:]
            check("skill_cgroup_leftover" not in new_log and "skill_start_failed" not in new_log,
                  "the restarted daemon could not reclaim the leftovers:\n%s" % new_log[-4000:])
            states = sb.skills()
            for i in ["d.hold", LONG]:
                check(states[i]["restarts"] == 0, "%s after the restart: %r" % (i, states[i]))
            print("# restarted after SIGKILL: %s, leftovers reclaimed" % procs3)

            # While it runs: empty leaves of a new skill's name (what an earlier plan of this
            # daemon leaves when its cleanup fails). Its plan meets them (EEXIST), removes them
            # and makes its own; nothing is looked for before a start that meets none.
            late = []
            for c in cg_names["d.hold"]:
                leaf = c[:-len("d.hold")] + "d.late"
                os.mkdir(leaf)
                late.append(leaf)
            log_start = len(sb.d.log())
            sb.add_skill("d.late", ["hold"])
            sb.reload()
            s = sb.wait_skill("d.late", lambda s: s["state"] == "running" and s["pid"], what="d.late to run")
            check(sorted(skill_cgroups("d.late")) == sorted(late) and
                  all(s["pid"] in cgroup_procs(c) for c in late), "d.late: cgroups %s, init %d, made by hand %s"
                  % (skill_cgroups("d.late"), s["pid"], late))
            new_log = sb.d.log()[log_start:]
            check("skill_start_failed" not in new_log and "skill_cgroup_leftover" not in new_log,
                  "a leftover leaf of a new skill's name stopped its start:\n%s" % new_log[-3000:])
            print("# leftover leaves of d.late's name: reclaimed at its start, %d runs in fresh ones" % s["pid"])
            sb.d.stop()
            wait_for(lambda: not any(pid_alive(p) for p in all_pids(procs3)), 5, what="the last skills to end")
            check(not failures, "; ".join(failures))
    finally:
        for i in IDS + ["d.gone", "d.late"]:
            left = skill_cgroups(i)
            if left:
                remove_cgroups(left)


if __name__ == "__main__":
    run_test(main)
