#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Key files: keygen writes 0600; the CLI refuses keys readable or writable by others, or not regular files."""
import os
import shutil
import stat
import subprocess

from capbus_harness import Daemon, TestFailure, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], [])}) as d:
        check(stat.S_IMODE(os.stat(d.admin_key).st_mode) == 0o600, "admin.key is not 0600")
        master = os.path.join(d.state_dir, "master.key")
        if os.path.exists(master):
            check(stat.S_IMODE(os.stat(master).st_mode) == 0o600, "master.key is not 0600")
        check(stat.S_IMODE(os.stat(d.state_dir).st_mode) & 0o077 == 0, "state dir open to others")
        old = os.umask(0)  # keygen must not depend on the caller's umask
        try:
            ka = d.keygen("alice")
        finally:
            os.umask(old)
        check(stat.S_IMODE(os.stat(ka).st_mode) == 0o600, "keygen output mode %o" % os.stat(ka).st_mode)
        check(d.cli("send", "greet.a", "{}", key=ka).returncode == 0, "fresh key refused")
        # keygen does not overwrite through a symlink planted at --out.
        target = os.path.join(d.dir, "victim")
        with open(target, "w") as f:
            f.write("precious\n")
        link = os.path.join(d.keys_dir, "planted.key")
        os.symlink(target, link)
        d.admin("keygen", "alice", "--out", link)
        with open(target) as f:
            check(f.read() == "precious\n", "keygen wrote through a symlink")

        for mode in (0o644, 0o640, 0o604, 0o620, 0o602):
            bad = os.path.join(d.keys_dir, "bad-%o.key" % mode)
            shutil.copyfile(ka, bad)
            os.chmod(bad, mode)
            cp = d.cli("send", "greet.a", "{}", key=bad)
            check(cp.returncode == 2, "key with mode %o: exit %d, want 2" % (mode, cp.returncode))
            check(cp.stderr.count("\n") == 1 and "key" in cp.stderr, "mode %o: unclear message %r" % (mode, cp.stderr))
        for name, make in (("dir.key", lambda p: os.mkdir(p, 0o700)),
                           ("link.key", lambda p: os.symlink(ka, p))):
            p = os.path.join(d.keys_dir, name)
            make(p)
            cp = d.cli("send", "greet.a", "{}", key=p, timeout=10)
            if name == "link.key":
                continue  # a symlink to a good private key may be followed; it must not hang or crash
            check(cp.returncode == 2, "%s: exit %d, want 2 (%r)" % (name, cp.returncode, cp.stderr))
        for text in ("", "id alice\n", "id alice\nsecret zz\n", "id ALICE\nsecret %s\n" % ("00" * 32),
                     "secret %s\nsecret %s\n" % ("00" * 32, "11" * 32), "id alice\nsecret %s\nextra\n" % ("00" * 32)):
            p = os.path.join(d.keys_dir, "malformed.key")
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, text.encode())
            os.close(fd)
            cp = d.cli("send", "greet.a", "{}", key=p)
            check(cp.returncode == 2, "malformed key %r: exit %d, want 2" % (text, cp.returncode))
        cp = d.cli("send", "greet.a", "{}", key=os.path.join(d.keys_dir, "absent.key"))
        check(cp.returncode == 2, "missing key file: exit %d" % cp.returncode)
        # A FIFO is not a regular file: refused at once, not read (which would block forever).
        fifo = os.path.join(d.keys_dir, "fifo.key")
        os.mkfifo(fifo, 0o600)
        try:
            cp = d.cli("send", "greet.a", "{}", key=fifo, timeout=5)
        except subprocess.TimeoutExpired:
            raise TestFailure("capbus --key FIFO hangs instead of refusing a key that is not a regular file")
        check(cp.returncode == 2, "FIFO key: exit %d, want 2" % cp.returncode)


if __name__ == "__main__":
    run_test(main)
