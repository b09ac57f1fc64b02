#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A kernel without the unix-connect hook, simulated ("guard.simulate_missing_hook": true makes
the loader's probe report it missing):
- kernel_guard "required" refuses to start: non-zero exit, one log line that says why, and the
  bus name is not left bound;
- kernel_guard "auto" starts, warns loudly (level=warning event=guard_unavailable with the
  fallback spelled out), reports active=false in `capbus guard`, and still checks every peer
  itself: a client in a forbidden cgroup reaches the socket (no kernel guard) but is closed
  without a greeting (event=peer_denied, counters), while the allowed cgroup authenticates."""
import socket
import subprocess

from capbus_harness import (GuardDaemon, Subtree, capbusd_path, check, gclient, manifest, require_guard_env,
                            run_test, wait_event)


def main():
    require_guard_env()
    with Subtree("fallback", ("allowed", "allowed/child", "allowed-evil", "forbidden")) as sub:
        # required: refuses.
        with GuardDaemon(sub, start=False, kernel_guard="required", guard={"simulate_missing_hook": True}) as d:
            cp = subprocess.run([capbusd_path(), "--config", d.config_path], capture_output=True, text=True,
                                timeout=30, stdin=subprocess.DEVNULL)
            out = cp.stdout + cp.stderr
            check(cp.returncode != 0, "capbusd started with kernel_guard=required and no hook:\n%s" % out)
            why = [l for l in out.splitlines() if 'kernel_guard is \\"required\\"' in l or
                   'kernel_guard is "required"' in l]
            check(len(why) == 1, "want one line saying why, got %d:\n%s" % (len(why), out))
            check("hook" in why[0] and "level=error" in why[0], "unclear reason: %s" % why[0])
            check("event=ready" not in out, "it said ready:\n%s" % out)
            errors = [l for l in out.splitlines() if "level=error" in l]
            print("error lines at refusal: %d\n%s" % (len(errors), "\n".join(errors)))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.bind("\0" + d.socket[1:])
            except OSError as e:
                check(False, "the bus name is still bound after the refusal: %s" % e)
            finally:
                s.close()

        # auto: starts without the guard, warns, and the peer check holds the line.
        with GuardDaemon(sub, {"fb": manifest("fb", ["guard.*"])}, kernel_guard="auto",
                         guard={"simulate_missing_hook": True}) as d:
            ev = wait_event(d, "guard_unavailable")
            check(ev["_line"].find("level=warning") >= 0 and "fallback" in ev, "not a loud warning: %s" % ev["_line"])
            check(not d.events("guard_attached"), "guard_attached logged although the hook is 'missing'")
            info = d.guard_info()
            check(info["mode"] == "auto" and info["active"] is False and info["peer_check"] is True,
                  "capbus guard: %r" % info)
            stats0 = d.stats()
            r = gclient(d.socket, sub.dir("forbidden"), comm="gfallback")
            check(r["errno"] == 0, "without the kernel guard the connect itself should succeed: %r" % r)
            check(not r["hello"] and r["closed"], "forbidden client not closed without a greeting: %r" % r)
            wait_event(d, "peer_denied", lambda e: e.get("pid") == str(r["pid"]))
            check(d.stats()["peer_denied"] == stats0["peer_denied"] + 1, "stats peer_denied: %r" % d.stats())
            info = d.guard_info()
            check(info["counters"]["peer_denied"] == 1 and info["counters"]["denied"] == 0,
                  "capbus guard counters: %r" % info["counters"])
            check(not d.events("guard_denied"), "guard_denied without a guard?")
            key = d.keygen("fb")
            for where in ("allowed", "allowed/child"):
                r = gclient(d.socket, sub.dir(where))
                check(r["errno"] == 0 and r["hello"], "%s under auto fallback: %r" % (where, r))
                cp = d.cli("send", "guard.fb", "{}", key=key, cgroup=sub.dir(where))
                check(cp.returncode == 0, "capbus send from %s: %d %s" % (where, cp.returncode, cp.stderr))
            r = gclient(d.socket, sub.dir("allowed-evil"))
            check(r["errno"] == 0 and not r["hello"] and r["closed"],
                  "allowed-evil (a name that starts like the allowed one) under the fallback: %r" % r)
            cp = d.cli("send", "guard.fb", "{}", key=key, cgroup=sub.dir("forbidden"))
            check(cp.returncode != 0, "capbus send from the forbidden cgroup succeeded under the fallback")


if __name__ == "__main__":
    run_test(main)
