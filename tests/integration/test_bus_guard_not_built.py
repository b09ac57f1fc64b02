#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A capbusd built without the kernel guard (meson -Dbpf=disabled), told what it cannot have:
- `capbusd --version` says "kernel guard: not built" (how this test knows the build; against a
  build with the guard it exits 77: there the guard tests cover these modes);
- kernel_guard "required" refuses to start: exit 1, exactly one level=error line that names the
  missing guard and the build option, no event=ready, and the socket path is not left behind;
- kernel_guard "auto" starts, warns (level=warning event=guard_unavailable, with the fallback and
  the reason), `capbus guard` reports it inactive, and a client still sends.
Needs no root: the refusal comes before anything privileged."""
import json
import os
import subprocess

from capbus_harness import Daemon, capbusd_path, check, require_build, run_test, skip


def guard_built():
    cp = subprocess.run([capbusd_path(), "--version"], capture_output=True, text=True, timeout=10)
    check(cp.returncode == 0, "capbusd --version failed (%d): %s" % (cp.returncode, cp.stderr))
    lines = cp.stdout.splitlines()
    check(len(lines) == 2 and lines[0].startswith("capbusd ") and lines[1].startswith("kernel guard: "),
          "capbusd --version: %r" % cp.stdout)
    check(lines[1] in ("kernel guard: built", "kernel guard: not built"), "capbusd --version: %r" % lines[1])
    return lines[1] == "kernel guard: built"


def main():
    require_build()
    if guard_built():
        skip("this capbusd has the kernel guard: this test is for -Dbpf=disabled builds")

    # required: refuses, says why once.
    with Daemon(start=False, kernel_guard="required") as d:
        cp = subprocess.run([capbusd_path(), "--config", d.config_path], capture_output=True, text=True,
                            timeout=30, stdin=subprocess.DEVNULL)
        out = cp.stdout + cp.stderr
        check(cp.returncode == 1, "capbusd with kernel_guard=required and no guard exited %d:\n%s" % (cp.returncode, out))
        errors = [l for l in out.splitlines() if "level=error" in l]
        check(len(errors) == 1, "want one error line, got %d:\n%s" % (len(errors), out))
        check("event=startup_failed" in errors[0] and 'kernel_guard is \\"required\\"' in errors[0] and
              "built without the kernel guard" in errors[0] and "-Dbpf=disabled" in errors[0],
              "unclear reason: %s" % errors[0])
        check("event=ready" not in out, "it said ready:\n%s" % out)
        check(not os.path.exists(d.socket), "the socket %s was left behind" % d.socket)

    # auto: starts, warns loudly, runs without the guard.
    with Daemon({"alice": {"manifest_version": 1, "id": "alice", "bus": {"send": ["greet.*"], "receive": ["greet.*"]}}},
                kernel_guard="auto", guard={"allow_uids": [os.getuid()]}) as d:
        warn = [l for l in d.log().splitlines() if "event=guard_unavailable" in l]
        check(len(warn) == 1 and "level=warning" in warn[0] and "fallback=" in warn[0] and
              "built without the kernel guard" in warn[0], "no clear warning:\n%s" % d.log())
        check("event=guard_attached" not in d.log(), "guard_attached in a build without the guard")
        cp = d.admin("guard")
        check(cp.returncode == 0, "capbus guard: %d %s" % (cp.returncode, cp.stderr))
        info = json.loads(cp.stdout)
        check(info["mode"] == "auto" and info["active"] is False and info["peer_check"] is True,
              "capbus guard: %r" % info)
        # The peer check stands in for the guard: our uid is on the allow-list, so we get through.
        key = d.keygen("alice")
        cp = d.cli("send", "greet.hello", '{"n": 1}', key=key)
        check(cp.returncode == 0, "capbus send under the fallback: %d %s" % (cp.returncode, cp.stderr))

if __name__ == "__main__":
    run_test(main)
