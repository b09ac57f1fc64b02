#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""/state is limited by the kernel (limits.state), as skills launched by capbusd.

- fill: a skill writes far beyond limits.state and gets ENOSPC (or EDQUOT) inside; the host disk
  holds no more for it than the image (limits.state bytes); its mountinfo shows "/" as the root
  of /state, not a host path; `capbus skills` (text and --json) shows the usage; a smaller
  limits.state than what is stored is refused and the image kept.
- persistence: what a skill wrote survives its restart and a restart of the daemon; a stopped
  daemon leaves no mount and no loop device behind, a killed one leaves its mount for the next;
  removing the manifest deletes the image.
- a skill removed while the daemon was down (after a SIGKILL left its mount): the next daemon
  unmounts its image at start and keeps the file; a stopping daemon unmounts every image mounted
  under its state directory, also one it never knew of.
- a state directory of an earlier version is moved to <state_dir>/state-legacy/ID, not shown.
- a daemon killed between a spare's adoption (the bind, at the start) and its rename (after the
  start): the next daemon finishes the rename, the skill keeps that file system and what is on
  it, and the image is never mounted as a spare again.
- a host disk too small for the image: the skill is not started, nothing is left half made.
- `capbus run` (no --state): the same limit on a fresh image, removed with the run; what a run
  killed with SIGKILL left (its image's mount, loop device and directory, its cgroups) is removed
  by the next run.
- bad limits.state values are reported as FILE:LINE:COL, by `capbus manifest check` and the daemon.

Loop devices are a kernel feature: without /dev/loop-control the test skips, but fails under CI."""
import json
import os
import signal
import subprocess
import tempfile
import time

from capbus_harness import (SkillBus, TestFailure, check, cgroup_procs, remove_cgroups, run_test, skill_cgroups,
                            skill_manifest, skip, wait_for)

MIB = 1 << 20


def require_loop():
    if not os.path.exists("/dev/loop-control"):
        if os.environ.get("CI") == "true":
            raise TestFailure("/dev/loop-control is missing: /state cannot be limited on this machine")
        skip("no loop devices (/dev/loop-control)")


def mounts_under(path, prefix=False):
    """Mount points at or below path (or any whose path starts with it, with prefix), from our mountinfo."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4]
            if mnt == path or mnt.startswith(path if prefix else path.rstrip("/") + "/"):
                out.append(mnt)
    return out


def loops_backed_by(path):
    """Loop devices whose backing file is below path."""
    out = []
    for dev in os.listdir("/sys/block"):
        try:
            with open("/sys/block/%s/loop/backing_file" % dev) as f:
                if f.read().strip().startswith(path):
                    out.append(dev)
        except OSError:
            pass
    return out


def unmount_all(path):
    """Leaves nothing mounted below path, whatever the daemon did (a test that failed half-way)."""
    for mnt in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mnt], check=False)


def disk_use(path, skip=()):
    """Bytes of the host file system allocated below path (not descending into other mounts)."""
    dev = os.lstat(path).st_dev
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(root, d)).st_dev == dev]
        for name in files + dirs:
            if os.path.join(root, name) not in skip:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def spare(sb, slot=0):
    """A spare image of the daemon and its mount point (slot 0 or 1: it keeps two)."""
    n = str(slot) if slot else ""
    return (os.path.join(sb.d.state_dir, "state-images", ".spare%s.img" % n),
            os.path.join(sb.d.state_dir, "state-spare" + n))


def spares(sb):
    return [spare(sb, i) for i in (0, 1)]


def being_made(path, timeout=20):
    """The inode of path (a spare image under its temporary name) once it exists. Polled often:
    it exists only while the helper reserves, formats and syncs it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return os.stat(path).st_ino
        except FileNotFoundError:
            time.sleep(0.002)
    raise TestFailure("no spare was being made (%s) within %d s" % (path, timeout))


def paths(sb, ident):
    state = sb.d.state_dir
    return os.path.join(state, "skills", ident), os.path.join(state, "state-images", ident + ".img")


def fill():
    limit = 16 * MIB
    with SkillBus() as sb:
        try:
            sb.add_skill("st.fill", ["fill-state", "200"],
                         {"memory": "32M", "pids": 16, "nofile": 64, "state": "16M"})
            free_before = os.statvfs(sb.d.dir).f_bavail * os.statvfs(sb.d.dir).f_frsize
            sb.reload()
            rep = sb.wait_reports(["st.fill"], timeout=60)["st.fill"]["result"]
            print("# fill: %r" % rep)
            # The daemon makes two spare images for the next new skills, one after the other: their
            # own reservations, not this one's.
            spare_img, spare_mnt = spare(sb)
            wait_for(lambda: all(os.path.ismount(m) for _, m in spares(sb)), 40, what="the two spare images")
            spare_bytes = sum(os.stat(i).st_blocks * 512 for i, _ in spares(sb))
            check(not rep["ok"] and rep["errno"] in ("ENOSPC", "EDQUOT"),
                  "writing 200 MiB into a 16 MiB /state must fail with ENOSPC or EDQUOT: %r" % rep)
            check(8 * MIB <= rep["written"] <= limit, "written before ENOSPC: %r" % rep)
            check(rep["root"] == "/", "/state's mountinfo root shows a host path: %r" % rep)
            check(0 < rep["total"] <= limit, "statvfs(/state) inside: %r" % rep)
            st = os.statvfs(sb.d.dir)
            fell = free_before - st.f_bavail * st.f_frsize - spare_bytes
            used = disk_use(sb.d.dir, skip=tuple(i for i, _ in spares(sb)))
            print("# host: free space fell by %.1f MiB, the daemon's directory holds %.1f MiB" % (fell / MIB, used / MIB))
            # The assertion is on what the daemon's directory holds; the host-wide free space is
            # shown only, as anything else on the machine moves it too (writeback of other files).
            check(used <= limit + 2 * MIB, "the daemon's directory holds %d bytes for a 16 MiB limit" % used)
            _, image = paths(sb, "st.fill")
            check(os.stat(image).st_size == limit, "the image is not limits.state bytes: %d" % os.stat(image).st_size)

            # Usage in `capbus skills`: the supervisor looks once a second.
            s = sb.wait_skill("st.fill", lambda s: (s.get("state_used") or 0) >= 8 * MIB, what="/state usage")
            print("# skills --json: %r" % s)
            check(s["state_limit"] == limit and 0 < s["state_size"] <= limit and s["state_used"] <= s["state_size"],
                  "usage fields: %r" % s)
            cp = sb.d.admin("skills")
            line = next((l for l in cp.stdout.splitlines() if l.startswith("st.fill ")), "")
            print("# skills: %s" % line)
            check("/16M" in line, "`capbus skills` shows no /state usage: %r\n%s" % (line, cp.stdout))

            # The next new skill of the default size gets the spare: the same file, renamed.
            ino = os.stat(spare_img).st_ino
            sb.add_skill("st.next", ["fill-state", "100"])
            sb.reload()
            rep = sb.wait_reports(["st.next"], timeout=60)["st.next"]["result"]
            print("# next: %r" % rep)
            _, next_img = paths(sb, "st.next")
            check(os.stat(next_img).st_ino == ino, "the new skill did not get the spare image")
            check(not rep["ok"] and rep["errno"] == "ENOSPC" and 48 * MIB <= rep["written"] <= 64 * MIB and
                  rep["root"] == "/", "a skill on the spare image: %r" % rep)
            wait_for(lambda: os.path.ismount(spare_mnt) and os.stat(spare_img).st_ino != ino, 20, what="a new spare")

            # A new skill that comes while the next spare is still being made (its image under the
            # temporary name, begun after st.third and st.third2 took the two ready ones) waits for
            # it instead of making an image of its own beside it.
            wait_for(lambda: all(os.path.ismount(m) for _, m in spares(sb)), 40, what="the two spare images")
            escape = sb.install_escape("st.fourth")
            sb.add_skill("st.third", ["fill-state", "1"])
            sb.add_skill("st.third2", ["fill-state", "1"])
            sb.reload()
            ino2 = being_made(spare_img + ".new")
            sb.d.write_manifest("st.fourth", skill_manifest("st.fourth", [escape, "fill-state", "1"]))
            sb.reload()
            rep = sb.wait_reports(["st.third", "st.third2", "st.fourth"], timeout=60)["st.fourth"]["result"]
            _, fourth_img = paths(sb, "st.fourth")
            check(os.stat(fourth_img).st_ino == ino2, "a skill installed while the spare was being made did not get it")
            check(rep["root"] == "/", "a skill on the waited-for spare: %r" % rep)

            # A smaller limit than what is stored: refused, the image kept as it was.
            rewrite(sb, "st.fill", ["fill-state", "1"], "8M")
            sb.reload()
            s = sb.wait_skill("st.fill", lambda s: "File too large" in (s["last_exit"] or ""), what="a refused shrink")
            print("# shrink below the data: %r" % s)
            check(s["state_limit"] == 8 * MIB and s["state_used"] is None, "after a refused shrink: %r" % s)
            check(os.stat(image).st_size == limit, "the image changed size: %d" % os.stat(image).st_size)
            check("event=skill_state_shrink_failed" in sb.log_about("st.fill"), sb.log_about("st.fill"))
            sb.pump(0.3)
            check(len(sb.reports.get("st.fill", [])) == 1, "the skill ran on: %r" % sb.reports.get("st.fill"))
        finally:
            sb.d.stop()
            unmount_all(sb.d.dir)


def rewrite(sb, ident, args, state):
    """A new manifest for an installed skill: only the manifest, as its program may still run."""
    escape = os.path.join(sb.skills_dir, ident, "escape")
    sb.d.write_manifest(ident, skill_manifest(ident, [escape] + args,
                                              {"memory": "32M", "pids": 16, "nofile": 64, "state": state}))


def rerun(sb, mark, state="12M"):
    """Starts st.mark again (its manifest changed) writing mark; returns its report."""
    sb.reports.clear()
    rewrite(sb, "st.mark", ["state-mark", mark], state)
    sb.reload()
    return sb.wait_reports(["st.mark"])["st.mark"]["result"]


def persistence():
    with SkillBus() as sb:
        try:
            sb.add_skill("st.mark", ["state-mark", "one"], {"memory": "32M", "pids": 16, "nofile": 64, "state": "8M"})
            sb.reload()
            rep = sb.wait_reports(["st.mark"])["st.mark"]["result"]
            check(rep["ok"] and rep["before"] == "", "first run: %r" % rep)
            mnt, image = paths(sb, "st.mark")
            check(os.path.ismount(mnt), "the image is not mounted at %s after the run" % mnt)

            # A restart of the skill (its manifest changed) keeps /state.
            rep = rerun(sb, "two", "8M")
            check(rep["ok"] and rep["before"] == "one", "after a skill restart: %r" % rep)

            # A bigger limit grows the image and keeps the data.
            rep = rerun(sb, "three", "12M")
            check(rep["ok"] and rep["before"] == "two", "after growing limits.state: %r" % rep)
            check(os.stat(image).st_size == 12 * MIB, "image after growing: %d bytes" % os.stat(image).st_size)
            s = sb.wait_skill("st.mark", lambda s: s["state_limit"] == 12 * MIB and (s["state_size"] or 0) > 8 * MIB)
            print("# grown: %r" % s)

            # A daemon that stops leaves no mount and no loop device; the next one mounts it again.
            sb.d.stop()
            check(not mounts_under(sb.d.dir), "mounts left by a stopped daemon: %r" % mounts_under(sb.d.dir))
            # The kernel clears an autoclear loop device from a work queue, a moment after its last user.
            wait_for(lambda: not loops_backed_by(sb.d.dir), 5, what="no loop device left by a stopped daemon")
            check(os.path.exists(image), "the image went with the daemon")
            sb.d.start()
            sb.connect_observer()
            # The restarted daemon ran the skill before the observer could subscribe: run it again.
            rep = rerun(sb, "four")
            check(rep["ok"] and rep["before"] == "three", "after a daemon restart: %r" % rep)

            # A daemon killed outright leaves its mount; the next one finds it and uses it.
            sb.d.signal(signal.SIGKILL)
            sb.d.proc.wait(10)
            sb.d.stop()
            check(os.path.ismount(mnt), "SIGKILL: the mount should have stayed")
            sb.d.start()
            sb.connect_observer()
            rep = rerun(sb, "five")
            check(rep["ok"] and rep["before"] == "four", "after the daemon was killed: %r" % rep)
            check(len([m for m in mounts_under(sb.d.dir) if m == mnt]) == 1, "mounted twice: %r" % mounts_under(sb.d.dir))

            # Removing the skill deletes its image, its mount and its loop device.
            sb.remove_manifest("st.mark")
            sb.reload()
            sb.d.wait_log("event=skill_state_removed", timeout=10)
            check(not os.path.exists(image), "the image is still there after removal")
            check(not os.path.ismount(mnt) and not os.path.exists(mnt), "mount point after removal: %s" % mnt)
            # The file system is torn down by a helper in the background; the spare stays.
            kept = lambda: [l for i, _ in spares(sb) for l in loops_backed_by(i)]
            wait_for(lambda: not [l for l in loops_backed_by(sb.d.dir) if l not in kept()], 10,
                     what="the removed image's loop device to go")
        finally:
            sb.d.stop()
            unmount_all(sb.d.dir)


def orphan():
    """A skill removed while the daemon was down keeps no mount through the next start and stop."""
    limits = {"memory": "32M", "pids": 16, "nofile": 64, "state": "4M"}
    with SkillBus() as sb:
        try:
            for i in ("st.keep", "st.orphan"):
                sb.add_skill(i, ["state-mark", "x"], limits)
            sb.reload()
            sb.wait_reports(["st.keep", "st.orphan"])
            mnt, image = paths(sb, "st.orphan")
            keep_mnt, _ = paths(sb, "st.keep")
            sb.d.signal(signal.SIGKILL)
            sb.d.proc.wait(10)
            sb.d.stop()
            check(os.path.ismount(mnt) and os.path.ismount(keep_mnt), "SIGKILL: the mounts should have stayed")
            sb.remove_manifest("st.orphan")
            log_start = len(sb.d.log())
            sb.d.start()
            sb.connect_observer()
            # The daemon looks once, at its first reading of the manifests, before anything else.
            sb.skills()
            check(not os.path.ismount(mnt), "the image of a skill without a manifest is still mounted at %s" % mnt)
            # The log reaches its file a moment after the unmount.
            sb.d.wait_log('event=skill_state_orphan_unmounted id="st.orphan"', start=log_start)
            check(os.path.exists(image), "the image of a skill without a manifest was deleted")
            check(os.path.ismount(keep_mnt), "a skill with a manifest lost its mount")
            check("orphan_unmounted id=\"st.keep\"" not in sb.d.log()[log_start:], sb.d.log()[log_start:])
            print("# start: st.orphan unmounted, its image kept")

            # A mount the daemon never made (its image, by hand) goes with the daemon's stop too.
            subprocess.run(["mount", "-o", "loop,nosuid,nodev,noexec", image, mnt], check=True)
            check(os.path.ismount(mnt), "could not mount %s by hand" % image)
            log_start = len(sb.d.log())
            sb.d.stop()
            check('event=skill_state_orphan_unmounted id="st.orphan"' in sb.d.log()[log_start:], sb.d.log()[log_start:])
            check(not mounts_under(sb.d.dir), "mounts left by a stopped daemon: %r" % mounts_under(sb.d.dir))
            wait_for(lambda: not loops_backed_by(sb.d.dir), 5, what="no loop device left by a stopped daemon")
            check(os.path.exists(image), "the image went with the daemon")
            print("# stop: no mount and no loop device left")
        finally:
            sb.d.stop()
            unmount_all(sb.d.dir)


def host_full():
    """The daemon's state directory on a 24 MiB file system, a skill asking for 32 MiB."""
    small = tempfile.mkdtemp(prefix="capbus-test-small.")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0711", "tmpfs", small], check=True)
    try:
        state = os.path.join(small, "state")
        sb = SkillBus(state_dir=state)
        sb.d.state_dir = state
        with sb:
            sb.add_skill("st.big", ["state-mark", "x"], {"memory": "32M", "pids": 16, "nofile": 64, "state": "32M"})
            sb.reload()
            s = sb.wait_skill("st.big", lambda s: "state" in (s["last_exit"] or ""), what="a failed state step")
            print("# host full: %r" % s)
            check(s["state"] in ("restarting", "failed") and "No space left" in s["last_exit"], "%r" % s)
            check(s["state_used"] is None and s["state_limit"] == 32 * MIB, "usage of a missing image: %r" % s)
            sb.pump(0.5)
            check("st.big" not in sb.reports, "the skill ran without its /state: %r" % sb.reports.get("st.big"))
            images = os.path.join(state, "state-images")
            check(os.listdir(images) == [], "half-made images: %r" % os.listdir(images))
            check(not os.path.ismount(os.path.join(state, "skills", "st.big")), "a mount was left")
            wait_for(lambda: not loops_backed_by(small), 5, what="no loop device left")
            check("step=\"state\"" in sb.log_about("st.big"), sb.log_about("st.big"))
    finally:
        unmount_all(small)
        os.rmdir(small)


def legacy():
    """A state directory of an earlier version (files, no image) moves aside once."""
    with SkillBus() as sb:
        try:
            old = os.path.join(sb.d.state_dir, "skills", "st.legacy")
            os.makedirs(old)
            os.chmod(os.path.dirname(old), 0o711)
            with open(os.path.join(old, "mark"), "w") as f:
                f.write("old")
            os.chown(old, 200123, 200123)
            sb.add_skill("st.legacy", ["state-mark", "new"], {"memory": "32M", "pids": 16, "nofile": 64, "state": "4M"})
            sb.reload()
            rep = sb.wait_reports(["st.legacy"])["st.legacy"]["result"]
            check(rep["ok"] and rep["before"] == "", "a legacy directory leaked into the image: %r" % rep)
            moved = os.path.join(sb.d.state_dir, "state-legacy", "st.legacy", "mark")
            check(open(moved).read() == "old", "legacy state not kept at %s" % moved)
            check(os.stat(os.path.dirname(os.path.dirname(moved))).st_mode & 0o777 == 0o700, "state-legacy mode")
            check("event=skill_state_legacy" in sb.log_about("st.legacy"), sb.log_about("st.legacy"))
            check(sb.skill("st.legacy") is not None and os.stat(old).st_uid == 200123, "uid not kept")
        finally:
            sb.d.stop()
            unmount_all(sb.d.dir)


def adoption_recovery():
    """What a kill between stateimg_adopt() and stateimg_adopt_finish() leaves: a spare's file
    system bound at a new skill's mount point, still under the spare's name, and mounted in its
    slot too. The next daemon renames it to the skill's image and clears the slot."""
    limits = {"memory": "32M", "pids": 16, "nofile": 64}  # the default limits.state: spares fit
    with SkillBus() as sb:
        try:
            sb.add_skill("st.first", ["state-mark", "x"], limits)
            sb.reload()
            sb.wait_reports(["st.first"])
            spare_img, spare_mnt = spare(sb)
            wait_for(lambda: os.path.exists(spare_img) and os.path.ismount(spare_mnt), 60, what="a spare image")
            sb.d.signal(signal.SIGKILL)
            sb.d.proc.wait(10)
            sb.d.stop()
            mnt, image = paths(sb, "st.adopted")
            os.makedirs(mnt)
            subprocess.run(["mount", "--bind", spare_mnt, mnt], check=True)
            uid = 200321
            os.chown(mnt, uid, uid)
            os.chmod(mnt, 0o700)
            with open(os.path.join(mnt, "mark"), "w") as f:
                f.write("crash")
            os.chown(os.path.join(mnt, "mark"), uid, uid)
            dev = os.stat(mnt).st_dev
            check(not os.path.exists(image), "set-up: %s exists" % image)
            sb.add_skill("st.adopted", ["state-mark", "after"], limits)
            log_start = len(sb.d.log())
            sb.d.start()
            sb.connect_observer()
            # It runs at the daemon's first reading of the manifests, before the observer is there:
            # its mark on the file system it was given tells that it ran.
            def mark():
                try:
                    with open(os.path.join(mnt, "mark")) as f:
                        return f.read()
                except OSError:
                    return None
            try:
                wait_for(lambda: mark() == "after", 20, what="st.adopted to write its /state")
            except TestFailure as e:
                raise TestFailure("%s: %r\n%s\n%r" % (e, mark(), sb.log_about("st.adopted"), sb.skill("st.adopted")))
            sb.wait_skill("st.adopted", lambda s: s["state"] == "stopped", what="st.adopted to exit")
            log = sb.d.log()[log_start:]
            check('event=skill_state_adoption_finished id="st.adopted"' in log and
                  'skill_state_adoption_finished id="st.adopted" image="%s" error=-' % image in log, log)
            check(os.path.exists(image) and os.stat(image).st_size == 64 * MIB, "no image %s" % image)
            check(os.stat(mnt).st_dev == dev, "st.adopted got another file system than the one adopted")
            check(loops_backed_by(image), "the mount of st.adopted is not backed by %s" % image)
            # The slot holds no mount of the skill's file system (a new spare, or nothing).
            check(not os.path.ismount(spare_mnt) or os.stat(spare_mnt).st_dev != dev,
                  "the skill's file system is still mounted as the spare")
            # Its report reached the observer only if it subscribed in time; it read "crash" then.
            sb.pump(0.5)
            for r in sb.reports.get("st.adopted", []):
                check(r["result"]["before"] == "crash", "the first run after the recovery: %r" % r)
            sb.reports.clear()
            rewrite(sb, "st.adopted", ["state-mark", "again"], "64M")
            sb.reload()
            rep = sb.wait_reports(["st.adopted"])["st.adopted"]["result"]
            check(rep["ok"] and rep["before"] == "after", "after the recovery: %r\n%s\n%r" % (
                rep, sb.log_about("st.adopted"), mounts_under(sb.d.dir)))
            print("# killed mid-adoption: the rename finished at the next start, /state kept")
        finally:
            sb.d.stop()
            unmount_all(sb.d.dir)


def foreground_run():
    """`capbus run` without --state: /state is a fresh image of limits.state bytes, gone afterwards."""
    with SkillBus() as sb:
        try:
            path = sb.add_skill("st.run", ["fill-state", "64"], {"memory": "32M", "pids": 16, "nofile": 64, "state": "8M"})
            sb.reload()
            sb.wait_reports(["st.run"])  # the daemon's own launch; the run below is a second one
            manifest = os.path.join(sb.d.manifest_dir, "st.run.json")
            # A run killed with SIGKILL leaves its image mounted and its cgroups (its sandbox dies
            # with it); the next run removes them.
            hold = sb.add_skill("st.runhold", ["hold"], {"memory": "32M", "pids": 16, "nofile": 64, "state": "4M"})
            sb.reload()
            sb.wait_reports(["st.runhold"])
            before = set(os.listdir("/tmp"))
            killed = sb.d.cli_popen("run", os.path.join(sb.d.manifest_dir, "st.runhold.json"), "--dir",
                                    os.path.dirname(hold), key=sb.d.admin_key)
            mine = "capbus-run-%d-" % killed.pid

            def run_leaves():
                return [c for c in skill_cgroups("st.runhold") if os.path.basename(c).startswith(mine)]
            wait_for(lambda: run_leaves() and any(cgroup_procs(c) for c in run_leaves()), 30, what="the run's skill")
            killed.kill()
            killed.wait(10)
            left_dirs = [n for n in set(os.listdir("/tmp")) - before if n.startswith("capbus-run-")]
            left_leaves = run_leaves()
            left_mounts = mounts_under("/tmp/capbus-run-", True)
            print("# SIGKILLed run left %r, mounts %r, cgroups %r" % (left_dirs, left_mounts, left_leaves))
            check(left_dirs and left_mounts and left_leaves, "the killed run left nothing to reclaim")
            wait_for(lambda: not any(cgroup_procs(c) for c in run_leaves()), 5, what="the killed run's skill to end")

            before = set(os.listdir("/tmp")) - set(left_dirs)
            cp = sb.d.admin("run", manifest, "--dir", os.path.dirname(path), timeout=60)
            lines = [l for l in cp.stdout.splitlines() if l.startswith('{"attack"')]
            print("# capbus run: rc %d %r" % (cp.returncode, lines))
            check(lines, "capbus run printed no result: %r %r" % (cp.stdout, cp.stderr))
            rep = json.loads(lines[-1])
            check(not rep["ok"] and rep["errno"] in ("ENOSPC", "EDQUOT") and rep["written"] <= 8 * MIB and
                  rep["root"] == "/", "capbus run's /state: %r" % rep)
            left = [n for n in set(os.listdir("/tmp")) - before if n.startswith("capbus-run-")]
            check(not left, "capbus run left %r in /tmp" % left)
            check(not mounts_under("/tmp/capbus-run-", True), "capbus run left mounts %r" % mounts_under("/tmp/capbus-run-", True))
            wait_for(lambda: not loops_backed_by("/tmp/capbus-run-"), 5, what="no loop device left by capbus run")
            check(not [d for d in left_dirs if os.path.exists(os.path.join("/tmp", d))],
                  "the killed run's directory is still there: %r" % left_dirs)
            check(not run_leaves(), "the killed run's cgroups are still there: %r" % run_leaves())
            check("removed what earlier runs killed before they could clean up left: 1 /state image(s)" in cp.stderr,
                  "capbus run said: %r" % cp.stderr)
        finally:
            leaves = [c for c in skill_cgroups("st.runhold") if os.path.basename(c).startswith("capbus-run-")]
            if leaves:
                remove_cgroups(leaves)
            sb.d.stop()
            unmount_all(sb.d.dir)


def bad_values():
    with SkillBus() as sb:
        for value, why in (('"3M"', "below 4M"), ('"65G"', "above 64G"), ('"4100K"', "not whole MiB"), ('"64m"', "unit")):
            text = ('{\n  "manifest_version": 1,\n  "id": "st.bad",\n  "exec": ["/bin/true"],\n'
                    '  "limits": {"state": %s}\n}\n' % value)
            path = sb.d.write_manifest("st.bad", text)
            cp = sb.d.cli("manifest", "check", path)
            want = "%s:5:23: limits.state must be" % path
            check(cp.returncode != 0 and want in cp.stderr + cp.stdout,
                  "limits.state %s (%s): %r %r" % (value, why, cp.stdout, cp.stderr))
        start = len(sb.d.log())
        sb.reload()
        sb.d.wait_log("st.bad.json:5:23: limits.state must be", start=start)


if __name__ == "__main__":
    require_loop()
    run_test(lambda: (bad_values(), fill(), persistence(), orphan(), adoption_recovery(), legacy(), host_full(),
                      foreground_run()))
