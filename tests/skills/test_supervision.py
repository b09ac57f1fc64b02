#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbusd supervising skills: crashes restarted with backoff and marked failed, a clean exit
left stopped, a running skill's process confined (NoNewPrivs, seccomp, its own uid), a changed
manifest restarting it and a removed one stopping it (process and cgroups gone)."""
import json
import time

from capbus_harness import (SkillBus, cgroup_procs, check, children_of, pid_alive, proc_status, remove_cgroups, run_test,
                            skill_cgroups, skill_manifest, wait_for)

UID_MIN, UID_MAX = 200000, 265535


def watch(sb, idents, until, timeout=40.0):
    """Poll `capbus skills` until until(states) is true; returns ({id: set of states seen},
    {id: [restarts values in order]}, last states)."""
    seen = {i: set() for i in idents}
    restarts = {i: [] for i in idents}
    deadline = time.monotonic() + timeout
    while True:
        states = sb.skills()
        for i in idents:
            s = states.get(i)
            if s:
                seen[i].add(s["state"])
                if not restarts[i] or restarts[i][-1] != s["restarts"]:
                    restarts[i].append(s["restarts"])
        if until(states):
            return seen, restarts, states
        check(time.monotonic() < deadline, "timed out; skills: %s\n%s" % (
            json.dumps({i: states.get(i) for i in idents}), sb.d.log()[-6000:]))
        time.sleep(0.03)


def confined(pid, what):
    st = proc_status(pid)
    uids = [int(x) for x in st["Uid"].split()]
    gids = [int(x) for x in st["Gid"].split()]
    check(st["NoNewPrivs"] == "1", "%s (pid %d): NoNewPrivs %s" % (what, pid, st["NoNewPrivs"]))
    check(st["Seccomp"] == "2", "%s (pid %d): Seccomp %s" % (what, pid, st["Seccomp"]))
    check(all(UID_MIN <= u <= UID_MAX for u in uids) and len(set(uids)) == 1,
          "%s (pid %d): uids %s outside %d..%d" % (what, pid, uids, UID_MIN, UID_MAX))
    check(all(UID_MIN <= g <= UID_MAX for g in gids), "%s (pid %d): gids %s" % (what, pid, gids))
    check(st["CapEff"] == "0000000000000000" and st["CapPrm"] == "0000000000000000",
          "%s (pid %d): CapEff %s CapPrm %s" % (what, pid, st["CapEff"], st["CapPrm"]))
    return uids[0]


def crashes(sb):
    sb.add_skill("s.exit1", ["exit", "1", "300"])
    sb.add_skill("s.segv", ["segv", "300"])
    sb.add_skill("s.exit0", ["exit", "0", "200"])
    sb.reload()
    ids = ["s.exit1", "s.segv", "s.exit0"]
    seen, restarts, states = watch(sb, ids, lambda st: all(st.get(i, {}).get("state") in ("failed", "stopped")
                                                          and (i == "s.exit0" or st[i]["state"] == "failed")
                                                          for i in ids))
    print("# seen %s, restarts %s" % ({k: sorted(v) for k, v in seen.items()}, restarts))
    for ident, last in (("s.exit1", "exit 1"), ("s.segv", "signal 11")):
        s = states[ident]
        check(s["state"] == "failed" and s["last_exit"] == last and s["restarts"] == 4,
              "%s: %r\n%s" % (ident, s, sb.log_about(ident)))
        check({"running", "restarting", "failed"} <= seen[ident], "%s: states seen %s" % (ident, seen[ident]))
        check(restarts[ident] == sorted(restarts[ident]) and restarts[ident][-1] == 4 and len(restarts[ident]) >= 3,
              "%s: restarts went %s" % (ident, restarts[ident]))
        starts = [l for l in sb.log_about(ident).splitlines() if "event=skill_started" in l]
        check(len(starts) == 5, "%s: %d starts logged" % (ident, len(starts)))
        # Every restart was prepared during its backoff (plan, cgroups, fds made before it was
        # due), so the restart itself only spawned.
        events = [l for l in sb.log_about(ident).splitlines()
                  if "event=skill_started" in l or "event=skill_restart_prepared" in l]
        kinds = ["prepared" if "skill_restart_prepared" in l else "started" for l in events]
        check(kinds == ["started"] + ["prepared", "started"] * 4 and
              all('result="ok"' in l or "result=ok" in l for l in events if "skill_restart_prepared" in l),
              "%s: restarts not prepared ahead: %s" % (ident, kinds))
        ahead = [l.split("prepared_ahead=")[1].split()[0] if "prepared_ahead=" in l else "?" for l in starts]
        check(ahead == ["no"] + ["yes"] * 4, "%s: starts used a plan made ahead: %s" % (ident, ahead))
    s = states["s.exit0"]
    check(s["state"] == "stopped" and s["restarts"] == 0 and s["last_exit"] == "exit 0", "s.exit0: %r" % s)
    check("restarting" not in seen["s.exit0"], "s.exit0 was restarting: %s" % seen["s.exit0"])
    time.sleep(1.5)  # longer than the first backoff
    s = sb.skill("s.exit0")
    check(s["state"] == "stopped" and s["restarts"] == 0, "s.exit0 later: %r" % s)
    starts = [l for l in sb.log_about("s.exit0").splitlines() if "event=skill_started" in l]
    check(len(starts) == 1, "s.exit0 started %d times" % len(starts))


def running_reload_remove(sb):
    ident = "s.hold"
    path = sb.add_skill(ident, ["hold"])
    sb.reload()
    rep = sb.wait_reports([ident])[ident]
    check(rep["result"]["attack"] == "hold", "report %r" % rep)
    s = sb.wait_skill(ident, lambda s: s["state"] == "running" and s["pid"])
    pid = s["pid"]
    check(pid_alive(pid), "pid %d of the running skill is not a live process" % pid)
    uid = confined(pid, "the skill's sandbox init")
    kids = children_of(pid)
    check(len(kids) == 1, "the sandbox init %d has children %s" % (pid, kids))
    check(confined(kids[0], "the skill program") == uid, "init and program under different uids")
    cgs = skill_cgroups(ident)
    check(cgs, "no cgroup named capbus-*-%s beneath the test's cgroups" % ident)
    for cg in cgs:
        check(pid in cgroup_procs(cg), "pid %d not in %s" % (pid, cg))
    check(any("/unified/" in c for c in cgs) and any("/memory/" in c for c in cgs) and any("/pids/" in c for c in cgs),
          "the skill's cgroups: %s" % cgs)
    print("# running: %r uid %d cgroups %s" % (s, uid, cgs))

    # A changed manifest restarts it.
    sb.reports.pop(ident, None)
    m = skill_manifest(ident, [path, "hold", "changed"])
    sb.d.write_manifest(ident, m)
    sb.reload()
    s2 = sb.wait_skill(ident, lambda s: s["state"] == "running" and s["pid"] and s["pid"] != pid,
                       what="the skill restarted after its manifest changed")
    sb.wait_reports([ident])
    wait_for(lambda: not pid_alive(pid) and not pid_alive(kids[0]), 5, what="the old skill processes to end")
    check(s2["restarts"] == 0, "a manifest change is not a crash: %r" % s2)
    print("# after the manifest changed: %r" % s2)

    # A removed manifest stops it: process and cgroups gone.
    pid2, kids2 = s2["pid"], children_of(s2["pid"])
    sb.remove_manifest(ident)
    sb.reload()
    wait_for(lambda: not pid_alive(pid2) and not any(pid_alive(k) for k in kids2), 10,
             what="the removed skill's processes to end")
    wait_for(lambda: not skill_cgroups(ident), 10, what="the removed skill's cgroups to go")
    s3 = sb.skill(ident)
    check(s3 is None or s3["state"] not in ("running", "restarting"), "removed skill listed as %r" % s3)
    print("# removed: listed as %r" % s3)


def main():
    ids = ["s.exit1", "s.segv", "s.exit0", "s.hold"]
    try:
        with SkillBus() as sb:
            crashes(sb)
            running_reload_remove(sb)
    finally:
        for i in ids:
            left = skill_cgroups(i)
            if left:
                remove_cgroups(left)


if __name__ == "__main__":
    run_test(main)
