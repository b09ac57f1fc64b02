#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`capbus run` in a build without the kernel guard (meson -Dbpf=disabled): a manifest with a
network allow-list is refused before anything runs, and the message says the guard is missing
(nothing else would hold the skill to its list). Against a build with the guard it exits 77
(tests/guard/test_guard_egress.py covers that case). Needs root (`capbus run` builds a sandbox):
without it, 77, or a failure when CI=true."""
import os
import subprocess

from capbus_harness import Daemon, TestFailure, capbusd_path, check, require_build, run_test, skip


def main():
    require_build()
    cp = subprocess.run([capbusd_path(), "--version"], capture_output=True, text=True, timeout=10)
    if "kernel guard: built" in cp.stdout.splitlines():
        skip("this build has the kernel guard: this test is for -Dbpf=disabled builds")
    check("kernel guard: not built" in cp.stdout.splitlines(), "capbusd --version: %r" % cp.stdout)
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            raise TestFailure("needs root (capbus run builds a sandbox), and CI=true")
        skip("needs root (capbus run builds a sandbox)")

    manifest = {"manifest_version": 1, "id": "netskill", "version": "1.0.0",
                "exec": ["/bin/true"],
                "bus": {"send": [], "receive": []},
                "sandbox": {"network": ["tcp:127.0.0.1:443"], "syscalls": "default"},
                "limits": {"memory": "32M", "pids": 4}}
    with Daemon({"netskill": manifest}, kernel_guard="auto") as d:
        path = os.path.join(d.manifest_dir, "netskill.json")
        cp = d.admin("run", path, timeout=60)
        out = cp.stdout + cp.stderr
        check(cp.returncode == 1, "capbus run of a networked skill without a guard exited %d (want 1):\n%s"
              % (cp.returncode, out))
        check("kernel guard is missing" in cp.stderr and "-Dbpf=disabled" in cp.stderr and
              "network allow-list" in cp.stderr, "unclear refusal:\n%s" % out)

if __name__ == "__main__":
    run_test(main)
