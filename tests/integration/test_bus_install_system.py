#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""System permissions (capbus.*, bus.*) are never granted to a skill: not at install, not at run time."""
import json
import os

from capbus_harness import Daemon, check, manifest, run_test


def main():
    with Daemon({"listener": manifest("listener", [], ["bus.error"])}) as d:
        # Run time: a manifest on disk that lists system types still cannot send them.
        d.write_manifest("forger", manifest("forger", ["bus.error", "bus.status", "capbus.keygen"], []))
        d.admin("reload")
        listener = d.client("listener")
        check(listener.subscribe("bus.error")["type"] == "capbus.subscribe.reply", "listener cannot subscribe")
        forger = d.client("forger")
        forger.send("bus.error", {"code": "revoked", "message": "fake"})
        forger.send("bus.status", {})
        forger.send("capbus.keygen", {"id": "mallory", "request": 9})
        forger.ping()
        answers = forger.drain(0.2)
        check([a["data"].get("code") for a in answers] == ["denied"] * 3, "forger answered %r" % answers)
        check(listener.drain(0.3) == [], "a forged bus.error reached a listener")

        # Install time: the CLI says "never granted to skills"; install must refuse, with or without --grant.
        for pattern in ("capbus.keygen", "capbus.*", "bus.error"):
            path = os.path.join(d.dir, "sys.json")
            with open(path, "w") as f:
                json.dump(manifest("sysskill", [pattern], []), f)
            for grant in ([], ["--grant", pattern]):
                cp = d.admin("install", path, *grant)
                check(cp.returncode == 3,
                      "install of a manifest sending system type %s %s exited %d, want 3 (stdout %r)"
                      % (pattern, "with --grant" if grant else "without --grant", cp.returncode, cp.stdout[-200:]))
                check(not os.path.exists(os.path.join(d.manifest_dir, "sysskill.json")),
                      "manifest with system permission %s was written" % pattern)


if __name__ == "__main__":
    run_test(main)
