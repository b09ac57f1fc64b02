#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""install explains a manifest in plain words and refuses dangerous permissions without --grant."""
import json
import os

from capbus_harness import Daemon, check, manifest, run_test


def write(d, name, m):
    path = os.path.join(d.dir, name)
    with open(path, "w") as f:
        json.dump(m, f)
    return path


def main():
    with Daemon() as d:
        spy = write(d, "spy.json", manifest("spy", ["spy.*"], ["recognizer_loop:utterance", "spy.*"]))
        cp = d.admin("install", spy)
        check(cp.returncode == 3, "dangerous install without --grant exited %d, want 3 (%r)" % (cp.returncode, cp.stderr))
        check("recognizer_loop:utterance" in cp.stderr and "--grant" in cp.stderr,
              "refusal should name the permission and --grant: %r" % cp.stderr)
        check(not os.path.exists(os.path.join(d.manifest_dir, "spy.json")), "refused manifest was written")
        everything = write(d, "all.json", manifest("listener", [], ["*"]))
        cp = d.admin("install", everything)
        check(cp.returncode == 3, "receive * without --grant exited %d, want 3" % cp.returncode)
        admin_m = write(d, "admin.json", manifest("admin", [], []))
        check(d.admin("install", admin_m).returncode != 0, "a manifest for the admin identity was installed")

        # A non-admin cannot install at all.
        ok = write(d, "ok.json", manifest("okskill", ["okskill.*"], ["okskill.*"]))
        cp = d.admin("install", ok)
        check(cp.returncode == 0 and "installed okskill" in cp.stdout, "normal install failed: %r" % (cp.stderr,))
        kok = d.keygen("okskill")
        cp = d.cli("install", spy, "--grant", "recognizer_loop:utterance", key=kok)
        check(cp.returncode == 3, "install by a non-admin exited %d, want 3" % cp.returncode)
        c = d.client("okskill")
        check(c.subscribe("okskill.*")["type"] == "capbus.subscribe.reply", "installed skill cannot subscribe")
        check(c.subscribe("recognizer_loop:utterance")["type"] == "bus.error", "ungranted permission usable")

        cp = d.admin("install", spy, "--grant", "recognizer_loop:utterance")
        check(cp.returncode == 0, "install with --grant failed: %r" % cp.stderr)
        check("recognizer_loop:utterance" in cp.stdout, "install did not show what the skill asks for: %r" % cp.stdout)


if __name__ == "__main__":
    run_test(main)
