#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Skills with OVOS ids (capitals inside, two ids that differ only in case) run sandboxed by a
real capbusd: each gets its own outer uid, /state image and cgroup leaves named after its id,
reports as itself, and `capbus logs` and `capbus skills` name it as written."""
import json
import os

from capbus_harness import SkillBus, check, run_test, skill_cgroups, wait_for

UPPER = "ovos-skill-Hello.OpenVoiceOS"
LOWER = "ovos-skill-hello.OpenVoiceOS"


def main():
    limits = {"memory": "32M", "pids": 16, "nofile": 64, "state": "4M"}
    with SkillBus() as sb:
        try:
            sb.add_skill(UPPER, ["state-mark", "upper"], limits)
            sb.add_skill(LOWER, ["hold"], limits)
            sb.reload()
            reps = sb.wait_reports([UPPER, LOWER], timeout=60)
            print("# reports: %r" % reps)
            check(reps[UPPER]["result"]["ok"], "the skill with capitals in its id: %r" % reps[UPPER])
            state = sb.d.state_dir
            images = {i: os.path.join(state, "state-images", i + ".img") for i in (UPPER, LOWER)}
            check(all(os.path.exists(p) for p in images.values()), "state images %r" % os.listdir(os.path.join(state, "state-images")))
            check(os.stat(images[UPPER]).st_ino != os.stat(images[LOWER]).st_ino, "one image for two ids")
            uids = {i: os.stat(os.path.join(state, "skills", i)).st_uid for i in (UPPER, LOWER)}
            check(uids[UPPER] != uids[LOWER] and min(uids.values()) >= 200000, "outer uids %r" % uids)
            wait_for(lambda: skill_cgroups(LOWER), 10, what="the running skill's cgroup leaf")
            check(all(os.path.basename(c).endswith("-" + LOWER) for c in skill_cgroups(LOWER)), "%r" % skill_cgroups(LOWER))
            cp = sb.d.admin("skills", "--json")
            ids = {s["id"]: s for s in json.loads(cp.stdout)}
            check(UPPER in ids and LOWER in ids and ids[LOWER]["state"] == "running", "skills --json: %r" % ids)
            cp = sb.d.admin("logs", UPPER)
            check(cp.returncode == 0, "capbus logs %s: %d %s" % (UPPER, cp.returncode, cp.stderr))
        finally:
            sb.d.stop()
            for line in open("/proc/self/mountinfo"):
                mnt = line.split()[4]
                if mnt.startswith(sb.d.dir + "/"):
                    os.system("umount -l '%s'" % mnt)


if __name__ == "__main__":
    run_test(main)
