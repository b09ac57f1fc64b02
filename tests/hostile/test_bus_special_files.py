#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Special files planted under the names the daemon reads never hang or fool it.

A FIFO, a unix socket, a device node, a directory, a symlink to /dev/zero and a sparse file far
beyond the bound, each as a manifest, as a grants file, as the level policy, as a key file and as
the config: the daemon starts (or, for its own key and config files, refuses to start at once),
logs each refusal naming the file, keeps serving the other identities, and does the same on every
reload. Before lib/regfile.c a FIFO in the manifest directory hung the privileged parent in
open(2) at start and at each SIGHUP.
"""
import json
import os
import signal
import socket
import subprocess
import time

from capbus_harness import (Daemon, capbus_path, capbusd_path, check, is_root, manifest, run_test, skip,
                            wait_for)

DANGEROUS = "recognizer_loop:utterance"
KINDS = ("fifo", "sock", "dev", "dir", "zero", "huge")


def plant(path, kind, keep):
    """Create a special file of the given kind at path; keep holds objects to keep alive."""
    if kind == "fifo":
        os.mkfifo(path, 0o644)
    elif kind == "sock":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)
        os.chmod(path, 0o644)
        keep.append(s)
    elif kind == "dev":
        os.mknod(path, 0o644 | 0o020000, os.makedev(1, 5))  # a second /dev/zero
    elif kind == "dir":
        os.mkdir(path, 0o755)
    elif kind == "zero":
        os.symlink("/dev/zero", path)
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(1 << 40)  # sparse: 1 TiB that takes no space
        os.chmod(path, 0o644)


def wait_exit(proc, what, timeout=10.0):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("%s hung (killed after %.0fs)" % (what, timeout))


def events(log, name):
    return [l for l in log.splitlines() if "event=%s " % name in l or l.endswith("event=%s" % name)]


def check_serving(d):
    """alice reaches bob, and each g_<kind> identity works with only its normal permissions."""
    bob = d.client("bob")
    check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob cannot subscribe")
    alice = d.client("alice")
    alice.send("greet.hi", {"n": 1})
    m = bob.recv_message(5)
    check(m["type"] == "greet.hi" and m["context"]["sender"] == "alice", "bob got %r" % m)
    for k in KINDS:
        c = d.client("g_" + k)
        check(c.subscribe("g_%s.*" % k)["type"] == "capbus.subscribe.reply", "g_%s lost its normal permission" % k)
        r = c.subscribe(DANGEROUS)
        check(r["type"] == "bus.error" and r["data"]["code"] == "denied",
              "a %s as grants file granted %s: %r" % (k, DANGEROUS, r))
        c.close()
    alice.close()
    bob.close()


def main():
    if not is_root():
        skip("needs root to create a device node")
    keep = []
    ids = {"alice": manifest("alice", ["greet.*"], []), "bob": manifest("bob", [], ["greet.*"])}
    for k in KINDS:
        ids["g_" + k] = manifest("g_" + k, [], [DANGEROUS, "g_%s.*" % k])
    with Daemon(ids, start=False) as d:
        for k in KINDS:
            plant(os.path.join(d.manifest_dir, "m_%s.json" % k), k, keep)
        grants = os.path.join(d.state_dir, "grants")
        os.makedirs(grants, mode=0o700)
        for k in KINDS:
            plant(os.path.join(grants, "g_" + k), k, keep)
        policy = os.path.join(d.dir, "policy.json")
        plant(policy, "fifo", keep)
        d.config["policy_file"] = policy
        d.write_config()

        # Start: each planted manifest and grants file is refused by name; the rest is served.
        d.start(timeout=15)
        log = d.log()
        skipped = " ".join(events(log, "manifest_skipped"))
        for k in KINDS:
            check("m_%s.json" % k in skipped, "no manifest_skipped line for the %s: %s" % (k, skipped))
        unreadable = " ".join(events(log, "grants_unreadable"))
        for k in KINDS:
            check("grants/g_%s" % k in unreadable, "no grants_unreadable line for the %s: %s" % (k, unreadable))
        check(any("not a regular file" in l for l in events(log, "manifest_skipped")), "the reason is not given")
        check(any("larger than the maximum" in l for l in events(log, "manifest_skipped")), "huge file not named")
        check(events(log, "policy_unreadable"), "the FIFO as policy file was not reported")
        check_serving(d)

        # Reload: the same, and a FIFO planted while running changes nothing either.
        plant(os.path.join(d.manifest_dir, "late.json"), "fifo", keep)
        mark = len(d.log())
        d.signal(signal.SIGHUP)
        d.wait_log("event=policy_loaded generation=2", 10, start=mark)
        later = d.log()[mark:]
        check("late.json" in " ".join(events(later, "manifest_skipped")), "late FIFO not reported on reload")
        names = {os.path.basename(l.split('path="')[1].split('"')[0]) for l in events(later, "manifest_skipped")}
        check(names == {"m_%s.json" % k for k in KINDS} | {"late.json"}, "reload skipped %r" % names)
        check_serving(d)
        check(d.alive(), "daemon died")

        # The CLI: a manifest the user names that is a FIFO or a device is refused, not read.
        for k in ("fifo", "dev", "zero", "huge"):
            p = os.path.join(d.dir, "cli_%s.json" % k)
            plant(p, k, keep)
            t0 = time.monotonic()
            cp = d.cli("manifest", "check", p, timeout=10)
            check(cp.returncode == 1 and "not a regular file" in cp.stderr,
                  "manifest check on a %s: %d %r" % (k, cp.returncode, cp.stderr))
            cp = d.admin("install", p, timeout=10)
            check(cp.returncode == 1, "install of a %s: %d %r" % (k, cp.returncode, cp.stderr))
            check(time.monotonic() - t0 < 8, "the CLI took too long on a %s" % k)
        fifo_key = os.path.join(d.dir, "fifo.key")
        plant(fifo_key, "fifo", keep)
        cp = d.cli("send", "greet.hi", key=fifo_key, timeout=10)
        check(cp.returncode == 2 and "key file" in cp.stderr, "--key FIFO: %d %r" % (cp.returncode, cp.stderr))

    # Its own key files and config: refused at start with the file named, never a hang.
    for name in ("master.key", "admin.key"):
        for k in ("fifo", "dev", "zero", "dir"):
            with Daemon(start=False) as d:
                os.makedirs(d.state_dir, mode=0o700)
                plant(os.path.join(d.state_dir, name), k, keep)
                with open(d.log_path, "ab") as logf:
                    p = subprocess.Popen([capbusd_path(), "--config", d.config_path], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf)
                    rc = wait_exit(p, "capbusd with a %s as %s" % (k, name))
                log = d.log()
                check(rc != 0 and "event=startup_failed" in log and name in log,
                      "capbusd with a %s as %s: rc %d, log %s" % (k, name, rc, log[-500:]))
    with Daemon(start=False) as d:
        os.unlink(d.config_path)
        plant(d.config_path, "fifo", keep)
        p = subprocess.Popen([capbusd_path(), "--config", d.config_path], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rc = wait_exit(p, "capbusd with a FIFO as config")
        err = p.stderr.read()
        check(rc == 1 and "regular file" in err, "capbusd --config FIFO: rc %d %r" % (rc, err))
    for s in keep:
        if isinstance(s, socket.socket):
            s.close()


if __name__ == "__main__":
    run_test(main)
