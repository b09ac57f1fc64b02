#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A compromised router against the real privileged parent (capbusd --router PATH): forged tags, a
reused nonce, a nonce the parent never issued, no tag and a replay are all refused with -EPERM,
write no file, issue no key, and are logged; correctly signed requests over the same channel work.
A PS_ADMIN whose lengths disagree with its text is malformed: the parent kills the router and
starts a new one."""
import errno
import json
import os
import stat
import subprocess
import sys

from capbus_harness import (SOURCE_DIR, Daemon, capbusd_path, capbusd_router_path, check, manifest, require_build,
                            run_test, skip, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
# What a compromised router would like installed: network and more of the file system.
WIDE = json.dumps(manifest("@ID@", ["x.*"], ["x.*"],
                           sandbox={"network": ["tcp:443"], "filesystem": {"read": ["/etc"], "write": ["$STATE"]}}))
EPERM = -errno.EPERM


def has_router_option():
    out = subprocess.run([capbusd_path(), "--help"], capture_output=True, text=True).stdout
    return "--router" in out


def main():
    require_build()
    if not has_router_option():
        skip("capbusd has no --router option")
    with Daemon({"alice": manifest("alice", ["greet.*"], [])}, start=False) as d:
        plan = os.path.join(d.dir, "plan.json")
        out = os.path.join(d.dir, "results.json")
        # The parent writes admin.key at start; the fake router reads it when it needs it.
        with open(plan, "w") as f:
            json.dump({"admin_key": d.admin_key, "out": out, "manifest": WIDE, "source_dir": SOURCE_DIR,
                       "marker": os.path.join(d.dir, "fake-router-ran"),
                       "real_router": os.path.realpath(capbusd_router_path())}, f)
        # The router gets no environment from the parent: the plan goes on its command line.
        wrapper = os.path.join(d.dir, "compromised-router")
        with open(wrapper, "w") as f:
            f.write("#!%s\nimport os\nos.execv(%r, [%r, %r, %r])\n" % (
                sys.executable, sys.executable, sys.executable, os.path.join(HERE, "compromised_router.py"), plan))
        os.chmod(wrapper, stat.S_IRWXU)
        d.start(router=wrapper)
        wait_for(lambda: os.path.exists(out), timeout=30, what="the fake router's results")
        with open(out) as f:
            results = {r["step"]: r for r in json.load(f)}

        refused = ("forged", "reused_nonce", "unknown_nonce", "no_tag", "forged_keygen", "nul_in_arg", "nul_in_body",
                   "replay")
        for step in refused:
            check(results[step]["status"] == EPERM, "%s: status %d, want -EPERM" % (step, results[step]["status"]))
            check(results[step]["key"] == "00" * 32, "%s: the reply carries a key" % step)
        for step in ("valid", "valid_remove", "valid_keygen"):
            check(results[step]["status"] == 0, "%s: status %d, want 0 (the channel works)" % (step, results[step]["status"]))
        check(results["valid_keygen"]["key"] != "00" * 32, "the signed keygen returned no key")

        # Nothing written for the refused ones; the valid install was removed, and its replay
        # did not bring it back.
        for ident in ("evil1", "evil2", "evil3", "evil4", "evil5", "evil6", "good"):
            check(not os.path.exists(os.path.join(d.manifest_dir, ident + ".json")), "%s.json was written" % ident)
            check(not os.path.exists(os.path.join(d.state_dir, "grants", ident)), "grants of %s were written" % ident)
        log = d.log()
        check('event=admin_done op=install id="good"' in log, "the signed install is not in the log")
        lines = [l for l in log.splitlines() if "event=admin_authority_refused" in l]
        check(len(lines) == len(refused), "%d refusal lines, want %d:\n%s" % (len(lines), len(refused), "\n".join(lines)))
        for ident, reason in (("evil1", "bad_tag"), ("evil2", "unknown_nonce"), ("evil3", "unknown_nonce"),
                              ("evil4", "no_authority"), ("alice", "bad_tag"), ("evil5", "bad_tag"),
                              ("evil6", "bad_tag"),
                              ("good", "unknown_nonce")):
            check(any('id="%s"' % ident in l and "reason=" + reason in l for l in lines),
                  "no refusal of %s with reason=%s:\n%s" % (ident, reason, "\n".join(lines)))
        check(d.alive(), "the parent died")

        # The malformed PS_ADMIN last: logged, the router killed, a new one serving.
        log = d.wait_log("event=router_died signal=9", timeout=10)
        line = next((l for l in log.splitlines() if "event=privsep_malformed" in l), "")
        for field in ("type=22", "name=admin", "reason=bad_fields"):
            check(field in line, "privsep_malformed line lacks %s: %r" % (field, line))
        check("evil7" not in log.split("event=privsep_malformed")[1].split("\n", 1)[1],
              "the malformed request was acted on")
        wait_for(lambda: d.log().count("event=router_ready") >= 2, what="the restarted router ready")
        check(not os.path.exists(os.path.join(d.manifest_dir, "evil7.json")), "evil7.json was written")
        d.client("alice").ping()
        check(d.stop() == 0, "capbusd did not stop cleanly")
        # The one death was the point of this test; any other is still a finding.
        deaths = [f for f in d.sanitizer_findings if "the router died" in f]
        check(len(deaths) == 1, "router deaths: %r" % deaths)
        d.sanitizer_findings = [f for f in d.sanitizer_findings if f not in deaths]


if __name__ == "__main__":
    run_test(main)
