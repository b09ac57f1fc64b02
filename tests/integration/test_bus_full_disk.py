#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""install, grant, revoke and remove on a full file system: all of the change or none of it.

The daemon's manifest and state directories live on a small tmpfs (mounted in a private mount
namespace: the test re-executes itself under `unshare -m`). The tmpfs is filled so that each
write of an operation fails in turn: no page left (the first file cannot be written), one page
left (the first file fits, the second does not), no inode left, one inode left. Each time the CLI
must report the failure, the files must be exactly the old ones (no temporary file left either),
and the daemon must behave exactly as before: now, after a reload and after a restart. remove on
a full disk needs no space and must succeed; it is made to fail half-way with a read-only grants
directory instead. Before filetxn.c, install wrote the manifest and then failed on the grants, and
the identity existed without its grant from the next reload on.
"""
import os
import signal
import subprocess
import sys

from capbus_harness import Daemon, check, is_root, manifest, read_key_file, run_test, skip

UTTERANCE = "recognizer_loop:utterance"
SPEAK = "speak"
BEGIN = "recognizer_loop:record_begin"
PAGE = 4096


def reexec_in_mount_namespace():
    if os.environ.get("CAPBUS_TEST_PRIVATE_MNTNS") == "1":
        return
    if not is_root():
        skip("needs root to mount a tmpfs")
    env = dict(os.environ, CAPBUS_TEST_PRIVATE_MNTNS="1")
    try:
        rc = subprocess.call(["unshare", "-m", "--propagation", "private", sys.executable, os.path.abspath(__file__)],
                             env=env)
    except FileNotFoundError:
        skip("unshare(1) is not installed")
    sys.exit(rc)


def mount_tmpfs(path, opts):
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "capbus-test", path], check=True)


class Filler:
    """Takes space or inodes of the tmpfs so that exactly what is asked for stays free."""

    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root, "fill")
        os.mkdir(self.dir)
        self.n = 0

    def release(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))

    def _new(self):
        self.n += 1
        return os.path.join(self.dir, "f%d" % self.n)

    def leave(self, pages=None, inodes=None):
        self.release()
        if pages is not None:
            st = os.statvfs(self.root)
            take = st.f_bavail * st.f_frsize // PAGE - pages
            with open(self._new(), "wb") as f:
                f.write(b"\0" * (take * PAGE))
            st = os.statvfs(self.root)
            check(st.f_bavail * st.f_frsize // PAGE == pages, "could not leave %d pages free" % pages)
        if inodes is not None:
            while os.statvfs(self.root).f_favail > inodes:
                open(self._new(), "wb").close()
            check(os.statvfs(self.root).f_favail == inodes, "could not leave %d inodes free" % inodes)


def snapshot(d):
    """Every file under the manifest and state directories: path -> (mode, bytes)."""
    out = {}
    for top in (d.manifest_dir, d.state_dir):
        for dirpath, dirnames, filenames in os.walk(top):
            for name in filenames + [n for n in dirnames if os.path.islink(os.path.join(dirpath, n))]:
                p = os.path.join(dirpath, name)
                with open(p, "rb") as f:
                    out[p] = (os.lstat(p).st_mode, f.read())
    return out


def authenticates(d, ident):
    try:
        d.client(ident).close()
        return True
    except Exception:
        return False


def behaves_as_before(d, eve_conn=None):
    """eve: authenticated, UTTERANCE and BEGIN granted, SPEAK not; mallory: no identity."""
    eve = d.client("eve")
    r = eve.subscribe(UTTERANCE)
    check(r["type"] == "capbus.subscribe.reply", "eve lost her %s grant: %r" % (UTTERANCE, r))
    r = eve.subscribe(BEGIN)
    check(r["type"] == "capbus.subscribe.reply", "eve lost her %s grant: %r" % (BEGIN, r))
    r = eve.subscribe(SPEAK)
    check(r["type"] == "bus.error" and r["data"]["code"] == "denied", "eve gained %s: %r" % (SPEAK, r))
    r = eve.subscribe("extra.*")
    check(r["type"] == "bus.error" and r["data"]["code"] == "denied", "eve's manifest changed: %r" % r)
    eve.close()
    check(not authenticates(d, "mallory"), "mallory authenticates: a half-installed identity")
    if eve_conn:
        # A live subscription survives: no revocation was applied.
        admin = d.client("admin", key_path=d.admin_key)
        admin.send(UTTERANCE, {"utterance": "still"})
        admin.ping()
        m = eve_conn.recv_message(5)
        check(m["type"] == UTTERANCE and m["data"]["utterance"] == "still", "eve's live subscription: %r" % m)
        admin.close()


def expect_failure(d, before, what, *args):
    cp = d.admin(*args)
    check(cp.returncode == 1, "%s on a full disk: exit %d, %r" % (what, cp.returncode, cp.stderr))
    check("nothing was changed" in cp.stderr and ("No space" in cp.stderr or "Read-only" in cp.stderr),
          "%s: the CLI does not say what happened: %r" % (what, cp.stderr))
    after = snapshot(d)
    check(after == before, "%s left the files changed:\n  before %s\n  after  %s" % (what, sorted(before), sorted(after)))


def main():
    reexec_in_mount_namespace()
    with Daemon(start=False) as d:
        fs = os.path.join(d.dir, "fs")
        os.mkdir(fs)
        mount_tmpfs(fs, "size=256k,nr_inodes=64,mode=0755")
        try:
            run(d, fs)
        finally:
            d.stop()
            subprocess.run(["umount", "-R", fs])


def run(d, fs):
    d.state_dir = os.path.join(fs, "state")
    d.manifest_dir = os.path.join(fs, "manifests")
    os.mkdir(d.manifest_dir, 0o755)
    d.config.update(state_dir=d.state_dir, manifest_dir=d.manifest_dir)
    d.write_config()
    fill = Filler(fs)
    d.start()

    eve_path = os.path.join(d.dir, "eve.json")
    with open(eve_path, "w") as f:
        f.write(json_text(manifest("eve", [], [UTTERANCE, SPEAK, BEGIN, "eve.*"])))
    eve2_path = os.path.join(d.dir, "eve2.json")
    with open(eve2_path, "w") as f:
        f.write(json_text(manifest("eve", [], [UTTERANCE, SPEAK, BEGIN, "eve.*", "extra.*"])))
    mallory_path = os.path.join(d.dir, "mallory.json")
    with open(mallory_path, "w") as f:
        f.write(json_text(manifest("mallory", [], [UTTERANCE, "mallory.*"])))
    cp = d.admin("install", eve_path, "--grant", UTTERANCE, "--grant", SPEAK, "--grant", BEGIN)
    check(cp.returncode == 0, "install eve: %d %r" % (cp.returncode, cp.stderr))
    cp = d.admin("revoke", "eve", SPEAK)
    check(cp.returncode == 0, "revoke %s: %d %r" % (SPEAK, cp.returncode, cp.stderr))
    d.keygen("eve")
    write_derived_key(d, "mallory")
    eve_conn = d.client("eve")
    check(eve_conn.subscribe(UTTERANCE)["type"] == "capbus.subscribe.reply", "eve cannot subscribe")
    behaves_as_before(d, eve_conn)
    before = snapshot(d)
    check(any(p.endswith("/grants/eve") for p in before), "no grants file for eve: %s" % sorted(before))

    # Each level makes another write of the operation fail: the first file, or the second.
    levels = [("no page free", dict(pages=0)), ("one page free", dict(pages=1)),
              ("no inode free", dict(inodes=0)), ("one inode free", dict(inodes=1))]
    ops = [("install of a new identity", ("install", mallory_path, "--grant", UTTERANCE)),
           ("install over an existing one", ("install", eve2_path, "--grant", UTTERANCE, "--grant", SPEAK, "--grant", BEGIN)),
           ("grant", ("grant", "eve", SPEAK)),
           ("revoke", ("revoke", "eve", UTTERANCE))]  # BEGIN stays: the file is rewritten
    for level, how in levels:
        for what, args in ops:
            if what in ("grant", "revoke") and (how.get("pages") == 1 or how.get("inodes") == 1):
                continue  # one file only: "one free" lets it through
            fill.leave(**how)
            expect_failure(d, before, "%s (%s)" % (what, level), *args)
            behaves_as_before(d, eve_conn)
            fill.release()
            # A reload reads the disk: what it finds must be the old state too.
            mark = len(d.log())
            d.signal(signal.SIGHUP)
            d.wait_log("event=policy_loaded", 10, start=mark)
            behaves_as_before(d)
            eve_conn.close()
            eve_conn = d.client("eve")
            check(eve_conn.subscribe(UTTERANCE)["type"] == "capbus.subscribe.reply", "eve cannot subscribe")

    # remove: moving files aside needs no space, so a full disk does not stop it; a read-only
    # grants directory makes its second step fail, and the first must be undone.
    grants = os.path.join(d.state_dir, "grants")
    subprocess.run(["mount", "--bind", grants, grants], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", grants], check=True)
    expect_failure(d, before, "remove with a read-only grants directory", "remove", "eve")
    behaves_as_before(d, eve_conn)
    subprocess.run(["umount", grants], check=True)

    d.stop()
    d.start()
    behaves_as_before(d)
    check(snapshot(d) == before, "a restart changed the files")

    fill.leave(pages=0, inodes=0)
    cp = d.admin("remove", "eve")
    check(cp.returncode == 0, "remove on a full disk: %d %r" % (cp.returncode, cp.stderr))
    check(not authenticates(d, "eve"), "eve still authenticates after remove")
    left = sorted(p for p in snapshot(d) if "/fill/" not in p and ("eve" in os.path.basename(p)))
    check(left == [], "remove left %s" % left)
    fill.release()
    d.stop()
    d.start()
    check(not authenticates(d, "eve"), "eve authenticates after remove and restart")
    # The derived key of mallory is right: with space, the same install works and she is in.
    cp = d.admin("install", mallory_path, "--grant", UTTERANCE)
    check(cp.returncode == 0, "install mallory with space: %d %r" % (cp.returncode, cp.stderr))
    check(authenticates(d, "mallory"), "mallory's key is not the one the daemon derives")


def write_derived_key(d, ident):
    """The key the daemon would derive for ident (keys.c: BLAKE2b keyed with the master key over
    the label, its NUL, and the id), for an identity keygen refuses because it is not installed."""
    import hashlib
    _, master = read_key_file(os.path.join(d.state_dir, "master.key"))
    key = hashlib.blake2b(b"capbus-v1 client key\0" + ident.encode(), key=master, digest_size=32).digest()
    path = os.path.join(d.keys_dir, ident + ".key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, ("id %s\nsecret %s\n" % (ident, key.hex())).encode())
    os.close(fd)


def json_text(m):
    import json
    return json.dumps(m, indent=2)


if __name__ == "__main__":
    run_test(main)
